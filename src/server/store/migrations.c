/* Embedded forward-only schema migrations. Migration N (1-based) is migrations[N - 1];
 * each runs in its own transaction together with its schema_version row. Never edit a
 * released migration: append a new one. */
#include <stdio.h>

#include "common/err.h"
#include "common/log.h"
#include "common/rmtime.h"
#include "server/store/store_int.h"

/* Recomputes hosts.last_backup_* / running_job_* for the host of the changed job row. */
#define JOBS_PROJECTION_TRIGGER(name, when, row)                                               \
	"CREATE TRIGGER " name " " when " ON jobs BEGIN "                                      \
	"UPDATE hosts SET "                                                                    \
	"(last_backup_job_id, last_backup_status, last_backup_finished_at) = "                 \
	"(SELECT j.id, j.status, j.finished_at FROM jobs j WHERE j.host_id = " row ".host_id " \
	"AND j.kind = 'backup' AND j.finished_at IS NOT NULL "                                 \
	"ORDER BY j.finished_at DESC, j.id DESC LIMIT 1), "                                    \
	"(running_job_id, running_job_kind, running_job_status) = "                            \
	"(SELECT j.id, j.kind, j.status FROM jobs j WHERE j.host_id = " row ".host_id "        \
	"AND j.status IN ('queued','running') ORDER BY j.created_at DESC, j.id DESC LIMIT 1) " \
	"WHERE id = " row ".host_id; END;"

/* Migration 1: the C1 schema. One statement per string (C caps literal length). */
static const char *const m1[] = {
	"CREATE TABLE users ("
	"  id TEXT PRIMARY KEY,"
	"  username TEXT NOT NULL UNIQUE,"
	"  role TEXT NOT NULL CHECK (role IN ('admin','operator','viewer')),"
	"  pw_hash TEXT NOT NULL,"
	"  disabled INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL"
	");",
	"CREATE TABLE sessions ("
	"  token_hash TEXT PRIMARY KEY,"
	"  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  csrf_token TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL"
	");",
	"CREATE INDEX sessions_user ON sessions(user_id);",
	"CREATE INDEX sessions_expires ON sessions(expires_at);",
	"CREATE TABLE audit_log ("
	"  id TEXT PRIMARY KEY,"
	"  ts INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  target TEXT,"
	"  detail TEXT"
	");",
	"CREATE INDEX audit_log_ts ON audit_log(ts);",
	"CREATE INDEX audit_log_action_ts ON audit_log(action, ts);",
	"CREATE TABLE settings ("
	"  key TEXT PRIMARY KEY,"
	"  value TEXT NOT NULL,"
	"  updated_at INTEGER NOT NULL"
	");",
	"CREATE TABLE hosts ("
	"  id TEXT PRIMARY KEY,"
	"  hostname TEXT NOT NULL,"
	"  tags TEXT NOT NULL DEFAULT '[]',"
	"  initial_paths TEXT NOT NULL DEFAULT '[]',"
	"  os TEXT NOT NULL DEFAULT '',"
	"  arch TEXT NOT NULL DEFAULT '',"
	"  agent_version TEXT NOT NULL DEFAULT '',"
	"  restic_version TEXT NOT NULL DEFAULT '',"
	"  status TEXT NOT NULL DEFAULT 'never'"
	"    CHECK (status IN ('never','online','offline')),"
	"  last_seen_at INTEGER,"
	"  repo_status TEXT NOT NULL DEFAULT 'unknown'"
	"    CHECK (repo_status IN ('unknown','ready','init_failed')),"
	"  repo_error TEXT,"
	"  repo_size_bytes INTEGER,"
	"  snapshot_count INTEGER NOT NULL DEFAULT 0,"
	"  snapshots_refreshed_at INTEGER,"
	"  bearer_hash TEXT NOT NULL UNIQUE,"
	"  created_at INTEGER NOT NULL,"
	"  enrolled_at INTEGER,"
	/* dashboard projection of the host's jobs, kept by the jobs_* triggers below so
	 * listing 1,000+ hosts is one table scan */
	"  last_backup_job_id TEXT,"
	"  last_backup_status TEXT,"
	"  last_backup_finished_at INTEGER,"
	"  running_job_id TEXT,"
	"  running_job_kind TEXT,"
	"  running_job_status TEXT"
	");",
	"CREATE INDEX hosts_hostname ON hosts(hostname);",
	"CREATE INDEX hosts_status_seen ON hosts(status, last_seen_at);",
	"CREATE TABLE enrollment_tokens ("
	"  token_hash TEXT PRIMARY KEY,"
	"  hostname TEXT NOT NULL,"
	"  tags TEXT NOT NULL DEFAULT '[]',"
	"  initial_paths TEXT NOT NULL DEFAULT '[]',"
	"  creds_ct TEXT NOT NULL,"
	"  expires_at INTEGER NOT NULL,"
	"  used_at INTEGER,"
	"  host_id TEXT REFERENCES hosts(id) ON DELETE SET NULL,"
	"  created_by TEXT,"
	"  created_at INTEGER NOT NULL"
	");",
	"CREATE INDEX enrollment_tokens_host ON enrollment_tokens(host_id);",
	"CREATE TABLE host_credentials ("
	"  host_id TEXT NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,"
	"  slot TEXT NOT NULL CHECK (slot IN ('repo','admin')),"
	"  ciphertext TEXT NOT NULL,"
	"  updated_at INTEGER NOT NULL,"
	"  PRIMARY KEY (host_id, slot)"
	") WITHOUT ROWID;",
	"CREATE TABLE jobs ("
	"  id TEXT PRIMARY KEY,"
	"  host_id TEXT NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,"
	"  kind TEXT NOT NULL,"
	"  status TEXT NOT NULL"
	"    CHECK (status IN ('queued','running','succeeded','failed','cancelled')),"
	"  args TEXT NOT NULL DEFAULT '{}',"
	"  stats TEXT,"
	"  exit_code INTEGER,"
	"  error TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  started_at INTEGER,"
	"  finished_at INTEGER,"
	"  created_by TEXT,"
	"  log_lines INTEGER NOT NULL DEFAULT 0"
	");",
	"CREATE INDEX jobs_host_created ON jobs(host_id, created_at);",
	"CREATE INDEX jobs_created ON jobs(created_at);",
	"CREATE INDEX jobs_finished ON jobs(finished_at);",
	"CREATE INDEX jobs_host_kind_finished ON jobs(host_id, kind, finished_at);",
	"CREATE INDEX jobs_active ON jobs(host_id, created_at)"
	"  WHERE status IN ('queued','running');",
	/* last_backup = newest finished backup; running_job = newest queued/running job */
	JOBS_PROJECTION_TRIGGER("jobs_ai", "AFTER INSERT", "NEW"),
	JOBS_PROJECTION_TRIGGER("jobs_au", "AFTER UPDATE OF status, finished_at, kind", "NEW"),
	JOBS_PROJECTION_TRIGGER("jobs_ad", "AFTER DELETE", "OLD"),
	"CREATE TABLE job_logs ("
	"  job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
	"  seq INTEGER NOT NULL,"
	"  ts INTEGER NOT NULL,"
	"  stream TEXT NOT NULL,"
	"  payload TEXT NOT NULL,"
	"  PRIMARY KEY (job_id, seq)"
	") WITHOUT ROWID;",
	"CREATE TABLE snapshots ("
	"  host_id TEXT NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,"
	"  snapshot_id TEXT NOT NULL,"
	"  short_id TEXT NOT NULL,"
	"  time INTEGER NOT NULL,"
	"  hostname TEXT,"
	"  paths TEXT NOT NULL DEFAULT '[]',"
	"  tags TEXT NOT NULL DEFAULT '[]',"
	"  size_bytes INTEGER,"
	"  file_count INTEGER,"
	"  PRIMARY KEY (host_id, snapshot_id)"
	") WITHOUT ROWID;",
	"CREATE INDEX snapshots_host_time ON snapshots(host_id, time);",
	NULL,
};

/* Migration 2: the hostname an agent reports in hello is kept apart from the name the
 * operator gave the host (hosts.hostname), so that an agent cannot rename itself. */
static const char *const m2[] = {
	"ALTER TABLE hosts ADD COLUMN reported_hostname TEXT;",
	NULL,
};

/* Migration 3: C2 policies. Source groups (the non-secret spec as JSON text, the hooks
 * AEAD-encrypted), schedules N:M groups, and per-host policy state: the schedule.set
 * version and what the agent acknowledged, its time zone, host settings, and the next
 * scheduled run (kept by engine/policy for the dashboard). Jobs the agent started on its
 * own remember their schedule. */
static const char *const m3[] = {
	"CREATE TABLE source_groups ("
	"  id TEXT PRIMARY KEY,"
	"  host_id TEXT NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  spec TEXT NOT NULL DEFAULT '{}',"
	"  hooks_ct TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL,"
	"  UNIQUE (host_id, name)"
	");",
	"CREATE TABLE schedules ("
	"  id TEXT PRIMARY KEY,"
	"  host_id TEXT NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,"
	"  cron TEXT NOT NULL,"
	"  enabled INTEGER NOT NULL DEFAULT 1,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL"
	");",
	"CREATE INDEX schedules_host ON schedules(host_id);",
	"CREATE TABLE schedule_groups ("
	"  schedule_id TEXT NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,"
	"  group_id TEXT NOT NULL REFERENCES source_groups(id) ON DELETE CASCADE,"
	"  PRIMARY KEY (schedule_id, group_id)"
	");",
	"CREATE INDEX schedule_groups_group ON schedule_groups(group_id);",
	"ALTER TABLE hosts ADD COLUMN schedule_version INTEGER NOT NULL DEFAULT 0;",
	"ALTER TABLE hosts ADD COLUMN schedule_acked_version INTEGER NOT NULL DEFAULT 0;",
	"ALTER TABLE hosts ADD COLUMN timezone TEXT;",
	"ALTER TABLE hosts ADD COLUMN utc_offset_s INTEGER;",
	"ALTER TABLE hosts ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';",
	"ALTER TABLE hosts ADD COLUMN next_run_at INTEGER;",
	"ALTER TABLE jobs ADD COLUMN schedule_id TEXT;",
	/* run-now for an offline host: queued until its agent connects (24 h at most) */
	"ALTER TABLE jobs ADD COLUMN awaiting_host INTEGER NOT NULL DEFAULT 0;",
	"CREATE INDEX jobs_schedule ON jobs(schedule_id, created_at);",
	NULL,
};

/* Migration 4: C5 people and access. Sessions get a public id (the token hash never
 * leaves the server) and the client that opened them; one-time setup links and personal
 * API tokens are stored as SHA-256 hex of the secret. A user created by an admin has an
 * empty pw_hash until the setup link is used. */
static const char *const m4[] = {
	"ALTER TABLE sessions ADD COLUMN id TEXT;",
	"ALTER TABLE sessions ADD COLUMN ip TEXT;",
	"ALTER TABLE sessions ADD COLUMN user_agent TEXT;",
	"UPDATE sessions SET id = lower(hex(randomblob(16))) WHERE id IS NULL;",
	"CREATE UNIQUE INDEX sessions_id ON sessions(id);",
	"CREATE TABLE user_setup_tokens ("
	"  token_hash TEXT PRIMARY KEY,"
	"  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  created_at INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL"
	");",
	"CREATE INDEX user_setup_tokens_user ON user_setup_tokens(user_id);",
	"CREATE TABLE api_tokens ("
	"  id TEXT PRIMARY KEY,"
	"  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  token_hash TEXT NOT NULL UNIQUE,"
	"  role TEXT CHECK (role IS NULL OR role IN ('admin','operator','viewer')),"
	"  created_at INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL,"
	"  last_used_at INTEGER"
	");",
	"CREATE INDEX api_tokens_user ON api_tokens(user_id);",
	NULL,
};

/* Migration 5: C2 repository health. One row per stats.report (thinned as it ages, see
 * store_repo.c); raw_bytes = the sum of the snapshots' own sizes when the point was taken.
 * Backup jobs are found by the snapshot their summary names (restic 0.14 reports the
 * short id, 0.17+ the full one) so that snapshots show size and file count on every
 * version. */
static const char *const m5[] = {
	"CREATE TABLE repo_history ("
	"  host_id TEXT NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,"
	"  ts INTEGER NOT NULL,"
	"  size_bytes INTEGER NOT NULL,"
	"  raw_bytes INTEGER,"
	"  uncompressed_bytes INTEGER,"
	"  compression_ratio REAL,"
	"  snapshot_count INTEGER NOT NULL,"
	"  PRIMARY KEY (host_id, ts)"
	") WITHOUT ROWID;",
	"CREATE INDEX repo_history_ts ON repo_history(ts);",
	/* json_valid: a row with malformed stats can neither fail this migration nor a query */
	"CREATE INDEX jobs_backup_snapshot ON jobs(host_id, json_extract(stats, '$.snapshot_id'))"
	"  WHERE kind = 'backup' AND json_valid(stats);",
	NULL,
};

/* Migration 6: single sign-on. Users created on first OIDC sign-in are keyed by the
 * provider's subject (never by email); NULL for local users. Their pw_hash is "!sso",
 * which no password verifies. */
static const char *const m6[] = {
	"ALTER TABLE users ADD COLUMN oidc_sub TEXT;",
	"CREATE UNIQUE INDEX users_oidc_sub ON users(oidc_sub) WHERE oidc_sub IS NOT NULL;",
	NULL,
};

/* Migration 7: C3 restores. The agent's effective uid from its hello (NULL = not reported):
 * a restore onto an agent that is not root cannot restore ownership, and the API says so. */
static const char *const m7[] = {
	"ALTER TABLE hosts ADD COLUMN agent_uid INTEGER;",
	NULL,
};

/* Migration 8: C4 alerts. Rule overrides (defaults live in engine/alerts_rules.c), alerts
 * (one active row per (rule, host, group): the partial unique index is the dedupe),
 * delivery channels (non-secret config as JSON, the secret AEAD-encrypted) and the
 * delivery log (one row per alert event per channel, retried with backoff). */
static const char *const m8[] = {
	"CREATE TABLE alert_rules ("
	"  rule TEXT PRIMARY KEY,"
	"  enabled INTEGER NOT NULL DEFAULT 1,"
	"  params TEXT NOT NULL DEFAULT '{}',"
	"  updated_at INTEGER NOT NULL"
	");",
	"CREATE TABLE alerts ("
	"  id TEXT PRIMARY KEY,"
	"  rule TEXT NOT NULL,"
	"  severity TEXT NOT NULL CHECK (severity IN ('info','warning','critical')),"
	"  host_id TEXT REFERENCES hosts(id) ON DELETE CASCADE,"
	"  grp TEXT NOT NULL DEFAULT '',"
	"  state TEXT NOT NULL CHECK (state IN ('open','acked','resolved')),"
	"  title TEXT NOT NULL,"
	"  message TEXT NOT NULL,"
	"  job_id TEXT,"
	"  count INTEGER NOT NULL DEFAULT 1,"
	"  first_at INTEGER NOT NULL,"
	"  last_at INTEGER NOT NULL,"
	"  acked_by TEXT,"
	"  acked_at INTEGER,"
	"  resolved_by TEXT,"
	"  resolved_at INTEGER,"
	"  resolution TEXT"
	");",
	"CREATE UNIQUE INDEX alerts_active ON alerts(rule, coalesce(host_id, ''), grp)"
	"  WHERE state <> 'resolved';",
	"CREATE INDEX alerts_state_last ON alerts(state, last_at);",
	"CREATE INDEX alerts_job ON alerts(job_id);",
	"CREATE TABLE channels ("
	"  id TEXT PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  kind TEXT NOT NULL CHECK (kind IN ('webhook','ntfy','smtp')),"
	"  enabled INTEGER NOT NULL DEFAULT 1,"
	"  config TEXT NOT NULL DEFAULT '{}',"
	"  secret_ct TEXT,"
	"  min_severity TEXT NOT NULL DEFAULT 'info'"
	"    CHECK (min_severity IN ('info','warning','critical')),"
	"  host_tags TEXT NOT NULL DEFAULT '[]',"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL"
	");",
	"CREATE TABLE deliveries ("
	"  id TEXT PRIMARY KEY,"
	"  channel_id TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,"
	"  alert_id TEXT REFERENCES alerts(id) ON DELETE SET NULL,"
	"  event TEXT NOT NULL CHECK (event IN ('raised','resolved','test','digest')),"
	"  status TEXT NOT NULL"
	"    CHECK (status IN ('pending','sending','sent','failed','held','digested')),"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  last_error TEXT,"
	"  payload TEXT NOT NULL,"
	"  next_at INTEGER,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL"
	");",
	"CREATE INDEX deliveries_channel ON deliveries(channel_id, created_at);",
	"CREATE INDEX deliveries_due ON deliveries(status, next_at);",
	NULL,
};

/* Migration 9: C2 repository care: maintenance cadences per host, the latest lock list per
 * host. */
static const char *const m9[] = {
	"ALTER TABLE hosts ADD COLUMN maintenance TEXT NOT NULL DEFAULT '{}';",
	"ALTER TABLE hosts ADD COLUMN locks TEXT;",
	"ALTER TABLE hosts ADD COLUMN locks_at INTEGER;",
	/* the spec gained "maintenance": every agent gets it on its next hello */
	"UPDATE hosts SET schedule_version = schedule_version + 1 WHERE schedule_version > 0;",
	NULL,
};

/* Migration 10: C6 host administration. A deleted host whose history is kept stays as a
 * row with deleted_at set (its bearer replaced by a value no token hashes to); the
 * repository password rotation of a host: its state, the job running the current step,
 * the pending (new) and previous credentials (AEAD-sealed like host_credentials' repo
 * slot) and the restic key ids involved. */
static const char *const m10[] = {
	"ALTER TABLE hosts ADD COLUMN deleted_at INTEGER;",
	"CREATE TABLE host_key_rotations ("
	"  host_id TEXT PRIMARY KEY REFERENCES hosts(id) ON DELETE CASCADE,"
	"  state TEXT NOT NULL"
	"    CHECK (state IN ('pending','added','switched','old_removed','failed')),"
	"  error TEXT,"
	"  job_id TEXT,"
	"  new_ct TEXT,"
	"  old_ct TEXT,"
	"  old_key_id TEXT,"
	"  new_key_id TEXT,"
	"  started_by TEXT,"
	"  started_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL"
	") WITHOUT ROWID;",
	NULL,
};

/* Migration 11: C6 announce-and-approve enrollment (pending_hosts) and enrollment-token
 * recovery (a stable public id per token: the secret is only stored hashed). */
static const char *const m11[] = {
	"CREATE TABLE pending_hosts ("
	"  id TEXT PRIMARY KEY,"
	"  pubkey TEXT NOT NULL UNIQUE," /* base64 Ed25519 public key */
	"  fingerprint TEXT NOT NULL,"
	"  hostname TEXT NOT NULL,"
	"  os TEXT NOT NULL DEFAULT '',"
	"  arch TEXT NOT NULL DEFAULT '',"
	"  agent_version TEXT NOT NULL DEFAULT '',"
	"  restic_version TEXT NOT NULL DEFAULT '',"
	"  address TEXT NOT NULL DEFAULT '',"
	"  state TEXT NOT NULL DEFAULT 'pending'"
	"    CHECK (state IN ('pending','accepted','rejected')),"
	"  nonce TEXT NOT NULL,"
	"  announced_at INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL,"
	"  decided_at INTEGER,"
	"  decided_by TEXT,"
	"  host_id TEXT REFERENCES hosts(id) ON DELETE CASCADE,"
	"  polls INTEGER NOT NULL DEFAULT 0,"
	"  last_poll_at INTEGER,"
	"  delivered_at INTEGER"
	");",
	"CREATE INDEX pending_hosts_state ON pending_hosts(state, expires_at);",
	"ALTER TABLE enrollment_tokens ADD COLUMN id TEXT;",
	"UPDATE enrollment_tokens SET id = 'T' || upper(substr(token_hash, 1, 25));",
	"CREATE UNIQUE INDEX enrollment_tokens_id ON enrollment_tokens(id);",
	NULL,
};

/* Migration 12 (C6 agent updates): each host's latest agent update (the host JSON's
 * `update`), and rolling fleet update runs with their per-host progress (JSON list). */
static const char *const m12[] = {
	"CREATE TABLE agent_updates ("
	"  host_id TEXT PRIMARY KEY REFERENCES hosts(id) ON DELETE CASCADE,"
	"  update_id TEXT NOT NULL,"
	"  run_id TEXT,"
	"  state TEXT NOT NULL CHECK (state IN ('pending','downloading','verifying',"
	"    'restarting','succeeded','failed','rolled_back')),"
	"  from_version TEXT,"
	"  target_version TEXT NOT NULL,"
	"  error TEXT,"
	"  started_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL"
	");",
	"CREATE TABLE update_runs ("
	"  id TEXT PRIMARY KEY,"
	"  state TEXT NOT NULL CHECK (state IN ('running','succeeded','halted','cancelled')),"
	"  target_version TEXT NOT NULL,"
	"  hosts TEXT NOT NULL DEFAULT '[]',"
	"  current_host_id TEXT,"
	"  halted_host_id TEXT,"
	"  reason TEXT,"
	"  cancel_requested INTEGER NOT NULL DEFAULT 0,"
	"  created_by TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  finished_at INTEGER"
	");",
	"CREATE INDEX update_runs_created ON update_runs(created_at);",
	NULL,
};

/* migrations[N - 1] = the statements of migration N. */
static const char *const *const migrations[] = {
	m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11, m12,
};

#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

int store_migrations_latest(void)
{
	return N_MIGRATIONS;
}

static int exec(struct store *s, const char *sql, const char *what)
{
	char *msg = NULL;
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		RM_ERROR("schema statement failed", "op", what, "err",
		         msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return RM_ERR_DB;
	}
	return RM_OK;
}

static int current_version(struct store *s, int *out)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, "SELECT coalesce(max(version), 0) FROM schema_version",
	                            -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		RM_ERROR("reading schema version failed", "err", sqlite3_errmsg(s->db));
		sqlite3_finalize(st);
		return RM_ERR_DB;
	}
	*out = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return RM_OK;
}

static int apply(struct store *s, int version)
{
	char what[32];
	snprintf(what, sizeof(what), "migration %d", version);
	int rc = exec(s, "BEGIN IMMEDIATE", what);
	if (rc)
		return rc;
	for (const char *const *stmt = migrations[version - 1]; *stmt && !rc; stmt++)
		rc = exec(s, *stmt, what);
	if (!rc) {
		sqlite3_stmt *st = NULL;
		int src = sqlite3_prepare_v2(s->db,
		                             "INSERT INTO schema_version(version, applied_at) "
		                             "VALUES (?1, ?2)",
		                             -1, &st, NULL);
		if (src == SQLITE_OK) {
			sqlite3_bind_int(st, 1, version);
			sqlite3_bind_int64(st, 2, rm_now_ms());
			src = sqlite3_step(st);
		}
		sqlite3_finalize(st);
		if (src != SQLITE_DONE) {
			RM_ERROR("recording schema version failed", "op", what, "err",
			         sqlite3_errmsg(s->db));
			rc = RM_ERR_DB;
		}
	}
	if (!rc)
		rc = exec(s, "COMMIT", what);
	if (rc) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	char v[16];
	snprintf(v, sizeof(v), "%d", version);
	RM_INFO("database migrated", "version", v);
	return RM_OK;
}

int store_migrate(struct store *s)
{
	int rc = exec(s,
	              "CREATE TABLE IF NOT EXISTS schema_version ("
	              "  version INTEGER PRIMARY KEY,"
	              "  applied_at INTEGER NOT NULL)",
	              "schema_version");
	if (rc)
		return rc;
	int have = 0;
	rc = current_version(s, &have);
	if (rc)
		return rc;
	if (have > N_MIGRATIONS) {
		char h[16], k[16];
		snprintf(h, sizeof(h), "%d", have);
		snprintf(k, sizeof(k), "%d", N_MIGRATIONS);
		RM_ERROR("database schema is newer than this server; upgrade restic-manager-server "
		         "or restore a matching backup",
		         "db_version", h, "supported_version", k);
		return RM_ERR_DB;
	}
	for (int v = have + 1; v <= N_MIGRATIONS; v++) {
		rc = apply(s, v);
		if (rc)
			return rc;
	}
	return RM_OK;
}
