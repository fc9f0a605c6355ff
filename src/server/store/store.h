#ifndef RM_SERVER_STORE_STORE_H
#define RM_SERVER_STORE_STORE_H
/* The only module with SQL. SQLite (WAL, foreign_keys=ON, busy_timeout 5000 ms), prepared
 * statements only (cached per statement), embedded forward-only migrations recorded in
 * table schema_version. All functions run on the loop thread and return enum rm_err.
 * Times are int64 ms since epoch in the DB and RFC 3339 strings in the JSON they return.
 * IDs are ULIDs. JSON-returning functions return a NEW reference the caller owns; their
 * shapes are the API's (docs/api.md) so handlers can pass them through. */
#include "common/ulid.h"
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct store;

int store_open(const char *path, struct store **out); /* creates + migrates */
void store_close(struct store *s);                    /* NULL ok */
int store_schema_version(struct store *s);            /* highest applied migration */
/* Explicit transactions for batching (nested calls are counted; only the outermost
 * commits). store_rollback aborts the outermost: every open level is rolled back and the
 * remaining levels' store_commit return RM_ERR_DB until the count is back to 0 (each
 * store_begin still needs its commit or rollback). store_* writes that touch several rows
 * (log append, snapshots replace) use a savepoint inside a caller's transaction, so their
 * own failure never aborts the caller's batch. */
int store_begin(struct store *s);
int store_commit(struct store *s);
void store_rollback(struct store *s);
/* Atomic section, e.g. a mutation and its audit row: BEGIN IMMEDIATE when no transaction
 * is open, else a SAVEPOINT, so a failure inside a caller's batch rolls back only this
 * section. store_tx_end commits (rc == RM_OK) or rolls back and returns rc (or the commit
 * error). Usage: rc = store_tx_begin(s); if (!rc) { rc = a(); if (!rc) rc = b();
 * rc = store_tx_end(s, rc); } */
int store_tx_begin(struct store *s);
int store_tx_end(struct store *s, int rc);

/* ---- settings (key/value) ---- */
int store_setting_get(struct store *s, const char *key, char **out); /* NOTFOUND if absent */
int store_setting_set(struct store *s, const char *key, const char *value);
int store_setting_delete(struct store *s, const char *key); /* NOTFOUND if absent */

/* ---- users ---- */
struct store_user {
	char id[RM_ULID_BUF];
	char username[65];
	char role[16]; /* "admin" | "operator" | "viewer" */
	char pw_hash[128];
	int disabled;
};
int store_user_count(struct store *s, long long *out);
/* CONFLICT if the username exists. */
int store_user_create(struct store *s, const char *username, const char *pw_hash, const char *role,
                      char id_out[RM_ULID_BUF]);
int store_user_by_name(struct store *s, const char *username, struct store_user *out);
int store_user_by_id(struct store *s, const char *id, struct store_user *out);
/* ---- single sign-on users (store_oidc.c) ---- */
int store_user_by_oidc_sub(struct store *s, const char *sub, struct store_user *out);
/* Creates an SSO user named base, or base-2, base-3 ... (the first free name); no usable
 * password. CONFLICT if sub already has a user. name_out gets the chosen name. */
int store_user_create_oidc(struct store *s, const char *base, const char *role, const char *sub,
                           char id_out[RM_ULID_BUF], char name_out[65]);
/* Role of an SSO user (kept in step with the provider's groups at each sign-in). */
int store_user_oidc_set_role(struct store *s, const char *id, const char *role);
/* 1 if the user signs in through SSO, 0 if not (or unknown). */
int store_user_is_oidc(struct store *s, const char *id);

/* ---- sessions (token stored as SHA-256 hex) ---- */
struct store_session {
	char user_id[RM_ULID_BUF];
	char username[65];
	char role[16];
	char csrf_token[64];
	int64_t expires_ms;
};
int store_session_create(struct store *s, const char *token_hash, const char *user_id,
                         const char *csrf_token, int64_t expires_ms);
/* NOTFOUND if missing, expired (now_ms >= expires) or the user is disabled. */
int store_session_get(struct store *s, const char *token_hash, int64_t now_ms,
                      struct store_session *out);
int store_session_delete(struct store *s, const char *token_hash); /* RM_OK if absent */
int store_session_purge_expired(struct store *s, int64_t now_ms);

/* ---- people (C5, store_people.c) ----
 * user row = {"id","username","role","disabled","source":"local","setup_pending",
 * "created_at","updated_at","sessions":N,"tokens":N}; setup_pending: no password yet. */
json_t *store_users_list(struct store *s);                /* {"users":[...]}, NULL on error */
json_t *store_user_json(struct store *s, const char *id); /* NULL if unknown or error */
/* NOTFOUND if the user is unknown; INVAL for a bad role. */
int store_user_set_role(struct store *s, const char *id, const char *role);
int store_user_set_disabled(struct store *s, const char *id, int disabled);
int store_user_set_password(struct store *s, const char *id, const char *pw_hash);
int store_user_delete(struct store *s, const char *id); /* cascades sessions, tokens, links */
/* Enabled admins other than id. */
int store_admins_enabled_except(struct store *s, const char *id, long long *out);
/* Ends the user's sessions, all but keep_hash (NULL: all). */
int store_user_sessions_end(struct store *s, const char *user_id, const char *keep_hash);
/* {"sessions":[{"id","created_at","expires_at","ip","user_agent","current"}]} unexpired,
 * newest first; current: the one whose token hash is current_hash. NULL on error. */
json_t *store_user_sessions(struct store *s, const char *user_id, const char *current_hash,
                            int64_t now_ms);
int store_session_delete_id(struct store *s, const char *user_id, const char *sid); /* NOTFOUND */
int store_session_note_client(struct store *s, const char *token_hash, const char *ip,
                              const char *user_agent);
/* Setup links: put replaces the user's previous link. peek: the user of an unexpired
 * link of an enabled user (NOTFOUND otherwise); consume deletes it atomically (NOTFOUND
 * if it was already used or expired). */
int store_setup_token_put(struct store *s, const char *user_id, const char *token_hash,
                          int64_t expires_ms);
int store_setup_token_peek(struct store *s, const char *token_hash, int64_t now_ms,
                           char user_id_out[RM_ULID_BUF], int64_t *expires_ms);
int store_setup_token_consume(struct store *s, const char *token_hash, int64_t now_ms,
                              char user_id_out[RM_ULID_BUF]);
int store_setup_tokens_purge(struct store *s, int64_t now_ms);
/* Personal API tokens. role NULL: the user's role. */
int store_token_create(struct store *s, const char *user_id, const char *name,
                       const char *token_hash, const char *role, int64_t expires_ms,
                       char id_out[RM_ULID_BUF]);
/* {"tokens":[{"id","name","role"|null,"created_at","expires_at","last_used_at"|null}]} */
json_t *store_tokens_list(struct store *s, const char *user_id);
int store_token_delete(struct store *s, const char *user_id, const char *id); /* NOTFOUND */
int store_user_tokens_delete(struct store *s, const char *user_id);
struct store_token_auth {
	char id[RM_ULID_BUF];
	char user_id[RM_ULID_BUF];
	char username[65];
	char user_role[16];
	char token_role[16]; /* "" = the user's role */
	int64_t last_used_ms;
};
/* NOTFOUND if unknown, expired, or the user is disabled. */
int store_token_lookup(struct store *s, const char *token_hash, int64_t now_ms,
                       struct store_token_auth *out);
int store_token_touch(struct store *s, const char *id, int64_t now_ms);

/* ---- audit log ----
 * actor: username or "agent:<host_id>" or "system"; detail may be NULL (borrowed). */
int store_audit(struct store *s, const char *actor, const char *action, const char *target,
                const json_t *detail);
/* {"entries":[{"id","ts","actor","action","target","detail"}]} newest first;
 * action filter NULL = all; limit clamped to 1..1000. */
json_t *store_audit_list(struct store *s, int limit, const char *action);

/* ---- enrollment tokens ----
 * creds_ct: AEAD ciphertext (base64) of the repo credential JSON, additional data
 * "enroll:<token_hash>". tags / initial_paths: JSON arrays (borrowed). */
int store_enroll_create(struct store *s, const char *token_hash, const char *hostname,
                        const json_t *tags, const json_t *initial_paths, const char *creds_ct,
                        int64_t expires_ms, const char *created_by);
struct store_enroll {
	char token_hash[65];
	char hostname[256];
	char *tags_json;          /* malloc'd JSON array text */
	char *initial_paths_json; /* malloc'd JSON array text */
	char *creds_ct;           /* malloc'd */
	int64_t expires_ms;
	int64_t used_ms;           /* 0 = unused */
	char host_id[RM_ULID_BUF]; /* set once used */
};
void store_enroll_cleanup(struct store_enroll *e);
/* NOTFOUND if unknown. */
int store_enroll_get(struct store *s, const char *token_hash, struct store_enroll *out);
/* Atomically marks the token used by host_id. CONFLICT if already used, EXPIRED if
 * expired, NOTFOUND if unknown. */
int store_enroll_consume(struct store *s, const char *token_hash, const char *host_id,
                         int64_t now_ms);

/* ---- C6: enrollment-token recovery (store_announce.c) ----
 * Tokens have a public id (store_enroll_create gives each one; never the secret, which is
 * only stored hashed). */
/* The id of the token row with token_hash (id_out: RM_ULID_BUF); NOTFOUND if unknown. */
int store_enroll_id(struct store *s, const char *token_hash, char id_out[RM_ULID_BUF]);
/* {"tokens":[{"id","hostname","tags","created_at","expires_at","created_by"}]}: unused and
 * unexpired at now_ms, newest first. NULL on a store error. */
json_t *store_enroll_list(struct store *s, int64_t now_ms);
/* The hash of unused token `id` into hash_out[65]; NOTFOUND if unknown. */
int store_enroll_hash_by_id(struct store *s, const char *id, char hash_out[65]);
/* Gives unused token `id` a new secret (its hash), the credentials re-sealed for it and a
 * new expiry. NOTFOUND if no unused token has that id. */
int store_enroll_rekey(struct store *s, const char *id, const char *new_hash, const char *creds_ct,
                       int64_t expires_ms);
/* Deletes unused token `id` (revoke); NOTFOUND if none. */
int store_enroll_delete(struct store *s, const char *id);

/* ---- C6: pending announcements (store_announce.c) ---- */
struct store_pending {
	char id[RM_ULID_BUF];
	char pubkey[64];
	char fingerprint[64];
	char hostname[256];
	char os[64], arch[64], agent_version[64], restic_version[64];
	char address[64];
	char state[16]; /* pending | accepted | rejected */
	char nonce[64];
	int64_t announced_ms, expires_ms, decided_ms; /* decided 0 = not yet */
	char decided_by[256];
	char host_id[RM_ULID_BUF]; /* set when accepted */
	int64_t polls, last_poll_ms, delivered_ms;
};
/* A new pending row (p->id is filled in). CONFLICT if the key is already known. */
int store_pending_insert(struct store *s, struct store_pending *p);
/* NOTFOUND if unknown. */
int store_pending_by_key(struct store *s, const char *pubkey, struct store_pending *out);
int store_pending_by_id(struct store *s, const char *id, struct store_pending *out);
/* Rows still waiting for a decision at now_ms (for the cap). */
int store_pending_count(struct store *s, int64_t now_ms, int64_t *out);
/* Starts row `id` over as a new announcement (it had expired): pending again, new nonce,
 * times and address, decision and poll counters cleared. */
int store_pending_renew(struct store *s, const char *id, const char *nonce, const char *address,
                        int64_t now_ms, int64_t expires_ms);
/* Records a poll that proved the key: replaces nonce `old_nonce` by `new_nonce`, counts
 * it, and marks the row delivered when delivered_ms != 0. CONFLICT if the nonce changed
 * meanwhile (a replay or a parallel poll). */
int store_pending_polled(struct store *s, const char *id, const char *old_nonce,
                         const char *new_nonce, int64_t now_ms, int64_t delivered_ms);
/* pending -> state (accepted | rejected), by `by`, at now_ms, host_id for an accept (NULL
 * else). NOTFOUND when the row is not pending or has expired. */
int store_pending_decide(struct store *s, const char *id, const char *state, const char *host_id,
                         const char *by, int64_t now_ms);
/* {"pending":[...]}: rows awaiting a decision (all = every row still kept), newest first;
 * each {"id","fingerprint","hostname","os","arch","agent_version","restic_version",
 * "address","state","announced_at","expires_at","decided_at","decided_by","host_id",
 * "polls","last_poll_at"}. NULL on a store error. */
json_t *store_pending_list(struct store *s, int all, int64_t now_ms);
/* Deletes rows decided, or expired undecided, at or before cutoff_ms; *n = rows removed. */
int store_pending_purge(struct store *s, int64_t cutoff_ms, int *n);
/* Replaces a host's bearer hash (the bearer of an accepted announcement is minted when the
 * agent collects it). NOTFOUND if no such host. */
int store_host_bearer_set(struct store *s, const char *host_id, const char *bearer_hash);

/* ---- hosts ---- */
/* Creates a host row (status "never") with the bearer's SHA-256 hex. */
int store_host_create(struct store *s, const char *hostname, const json_t *tags,
                      const json_t *initial_paths, const char *bearer_hash,
                      char id_out[RM_ULID_BUF]);
/* NOTFOUND if no host has this bearer hash. */
int store_host_by_bearer(struct store *s, const char *bearer_hash, char id_out[RM_ULID_BUF]);
int store_host_exists(struct store *s, const char *host_id); /* RM_OK / NOTFOUND */
/* hello: sets versions, os, arch, reported_hostname (when hostname is non-empty), status
 * "online", last_seen_at. Never the host's name (hostname): that is the operator's. */
int store_host_hello(struct store *s, const char *host_id, const char *hostname, const char *os,
                     const char *arch, const char *agent_version, const char *restic_version,
                     int64_t now_ms);
int store_host_seen(struct store *s, const char *host_id, int64_t now_ms);
/* status: "online" | "offline" */
int store_host_set_status(struct store *s, const char *host_id, const char *status, int64_t now_ms);
/* Marks offline every online host with last_seen_at < before_ms; appends the ids
 * (malloc'd strings) to out_ids (a json array of strings, borrowed, may be NULL). */
int store_hosts_mark_stale_offline(struct store *s, int64_t before_ms, json_t *out_ids);
/* repo_status: "unknown" | "ready" | "init_failed"; error NULL clears. */
int store_host_set_repo_status(struct store *s, const char *host_id, const char *repo_status,
                               const char *error);
int store_host_repo_status(struct store *s, const char *host_id, char out[16]);
int store_host_set_repo_stats(struct store *s, const char *host_id, long long size_bytes,
                              long long snapshot_count);
/* Dashboard projection:
 * {"id","hostname","tags":[],"os","arch","agent_version","restic_version",
 *  "status":"online|offline|never","last_seen_at"|null,"repo_status","repo_error"|null,
 *  "repo_size_bytes"|null,"snapshot_count","initial_paths":[],"created_at",
 *  "last_backup":{"job_id","status","finished_at"}|null,
 *  "running_job":{"id","kind","status"}|null,
 *  "reported_hostname"|null (what the agent reported in hello; "hostname" is the name
 *  the operator gave the host)} */
json_t *store_host_get(struct store *s, const char *host_id); /* NULL if unknown */
json_t *store_hosts_list(struct store *s);                    /* {"hosts":[...]} by hostname */
/* GET /api/hosts at fleet scale: {"hosts":[...]} as compact JSON text, the projection of
 * store_hosts_list with each last_seen_at raised to seen(ud, id) when that is newer (the
 * agents' heartbeats live in memory). A host's JSON text is kept in c and reused while its
 * row and seen value are unchanged (a 64-bit hash of them), so a rebuild after one host
 * changed re-serialises that host, not 10,000. NULL on a database error. */
struct store_hosts_cache;
struct store_hosts_cache *store_hosts_cache_new(void);
void store_hosts_cache_free(struct store_hosts_cache *c);
typedef int64_t (*store_seen_fn)(void *ud, const char *host_id);
char *store_hosts_list_text(struct store *s, struct store_hosts_cache *c, store_seen_fn seen,
                            void *ud, size_t *len);
/* The first `limit` hosts by name (case-insensitive, then id) and the fleet's size:
 * {"hosts":[...],"total":N}. The dashboard's first screen of a large fleet. */
json_t *store_hosts_first(struct store *s, int limit);
/* Host projections also carry "last_drill_ok_at" (newest succeeded drill job, "last proven
 * restorable"), "last_drill" {status, finished_at} | null and "last_drill_created_at". */
/* C3: the agent's effective uid from its hello (< 0: unknown, stored as NULL). */
int store_host_set_agent_uid(struct store *s, const char *host_id, long long uid);
/* Online hosts for the drill cadence: [{id, settings, snapshot_count,
 * last_drill_created_ms (never drilled: the host's created_at, so that the first drill
 * comes one interval after enrollment)}]. NULL on a store error. */
json_t *store_drill_candidates(struct store *s);
/* {"hosts_total","hosts_online","jobs_24h_succeeded","jobs_24h_failed",
 *  "jobs_running","repo_bytes_total","snapshots_total"}; jobs_24h_* count jobs finished
 *  in (now - 24 h, now]; jobs_running counts queued + running jobs. */
json_t *store_fleet_summary(struct store *s, int64_t now_ms);

/* ---- C6 host administration (store_host_admin.c) ----
 * Host projections also carry "hostname_mismatch" (reported_hostname set and different
 * from hostname), "mode" ("always_on" | "intermittent", from settings.mode) and
 * "deleted_at" (null unless deleted with its history kept; such hosts are left out of
 * store_hosts_list, the fleet summary, metrics and the offline alert). */
/* Sets the operator's name and/or tags (NULL = unchanged). NOTFOUND: unknown or deleted. */
int store_host_edit(struct store *s, const char *host_id, const char *hostname, const json_t *tags);
/* Deletes a host. keep_history: the row stays (deleted_at, status offline, bearer revoked)
 * with its jobs, logs, snapshots and repository history; its schedules, groups,
 * credentials and rotation go and its open alerts are resolved. Otherwise the row and
 * everything that references it goes (jobs, logs, snapshots, schedules, groups, alerts,
 * credentials...). Either way its queued/running jobs are first cancelled; their ids are
 * appended to cancelled_ids (borrowed array, may be NULL). Run inside a transaction.
 * NOTFOUND: unknown or already deleted. */
int store_host_delete(struct store *s, const char *host_id, int keep_history, const char *actor,
                      int64_t now_ms, json_t *cancelled_ids);

/* Hosts deleted with their history kept, newest deletion first (≤ 1,000):
 * {"hosts":[host...]}; NULL on a store error. */
json_t *store_hosts_deleted(struct store *s);

/* A host's repository password rotation (one row per host, the latest). */
struct store_rotation {
	char state[16]; /* pending | added | switched | old_removed | failed */
	char *error;    /* NULL = none */
	char job_id[RM_ULID_BUF];
	char *new_ct, *old_ct; /* sealed like the repo slot; NULL = none */
	char old_key_id[72], new_key_id[72];
	char started_by[80];
	int64_t started_ms, updated_ms;
};
/* NOTFOUND when the host never rotated. Free with store_rotation_cleanup. */
int store_rotation_get(struct store *s, const char *host_id, struct store_rotation *out);
int store_rotation_put(struct store *s, const char *host_id, const struct store_rotation *r);
void store_rotation_cleanup(struct store_rotation *r);

/* ---- host credentials: slot "repo" | "admin"; ct is AEAD base64 with additional data
 * "host_credentials:<host_id>:<slot>" ---- */
int store_cred_put(struct store *s, const char *host_id, const char *slot, const char *ct);
int store_cred_get(struct store *s, const char *host_id, const char *slot, char **ct_out);

/* ---- C2 repository care (store_care.c) ---- */
/* RM_ERR_NOTFOUND when the slot was not set. */
int store_cred_delete(struct store *s, const char *host_id, const char *slot);
/* The host's stored maintenance cadences (an object, {} by default); NULL: no such host
 * or a store error. */
json_t *store_host_maintenance(struct store *s, const char *host_id);
int store_host_maintenance_set(struct store *s, const char *host_id, const json_t *m);
/* The latest lock list an agent reported (stats.report "locks"). */
int store_host_locks_set(struct store *s, const char *host_id, const json_t *locks, int64_t at_ms);
/* {"locks": [...] | null, "reported_at": time | null}; NULL: no such host. */
json_t *store_host_locks(struct store *s, const char *host_id);
/* The newest job of kind on the host: {"job_id","status","finished_at","stats",
 * "created_at","created_ms"}, json null when none; NULL on a store error. */
json_t *store_job_last_of_kind(struct store *s, const char *host_id, const char *kind);
/* Ids of the hosts that have credential slot `slot`. */
json_t *store_hosts_with_cred(struct store *s, const char *slot);
/* The other online hosts as lock owners: {"<reported hostname>": "idle" | "busy"}
 * (busy: a job is queued or running there). */
json_t *store_lock_peers(struct store *s, const char *host_id);

/* ---- jobs ----
 * kind: "init" | "backup" | ... ; args: JSON object (borrowed), e.g. {"paths":[...]}.
 * status "queued" on create. */
int store_job_create(struct store *s, const char *host_id, const char *kind, const json_t *args,
                     const char *created_by, char id_out[RM_ULID_BUF]);
/* 1 in *out if host has a queued/running job of this kind. */
int store_job_active_of_kind(struct store *s, const char *host_id, const char *kind, int *out);
/* queued -> running (no-op if already running; CONFLICT if terminal). */
int store_job_set_running(struct store *s, const char *job_id, int64_t started_ms);
/* Sets the terminal state (status succeeded|failed|cancelled, else INVAL; exit_code < 0
 * is stored as null; NOTFOUND if unknown). Always applies (a late job.finished from the agent overrides
 * a server-side "agent lost"/"agent restarted" failure). stats borrowed, may be NULL. */
int store_job_finish(struct store *s, const char *job_id, const char *status, int exit_code,
                     const char *error, const json_t *stats, int64_t finished_ms);
/* Fails queued/running jobs of host_id whose id is not in keep_ids (json array of
 * strings, may be NULL) with error; appends affected ids to out_ids (may be NULL). */
int store_jobs_fail_unknown(struct store *s, const char *host_id, const json_t *keep_ids,
                            const char *error, int64_t now_ms, json_t *out_ids);
/* Fails queued/running jobs of hosts that are offline with last_seen_at < before_ms. */
int store_jobs_fail_lost(struct store *s, int64_t before_ms, const char *error, int64_t now_ms,
                         json_t *out_ids);
/* {"id","host_id","hostname","kind","status","args":{},"exit_code"|null,"error"|null,
 *  "stats":{}|null,"created_at","started_at"|null,"finished_at"|null,"created_by",
 *  "log_lines":N}   NULL if unknown. */
json_t *store_job_get(struct store *s, const char *job_id);
int store_job_host(struct store *s, const char *job_id, char host_id_out[RM_ULID_BUF]);
/* {"jobs":[...]} newest first; host_id NULL = all; limit clamped 1..500. */
json_t *store_jobs_list(struct store *s, const char *host_id, int limit);

/* ---- job logs ---- */
struct store_log_line {
	long long seq;
	int64_t ts_ms;
	const char *stream; /* "stdout" | "stderr" | "event" */
	const char *payload;
};
/* INSERT OR IGNORE by (job_id, seq): duplicates are skipped. NOTFOUND if the job is
 * unknown, INVAL if a line's stream is not stdout|stderr|event (nothing written then). *inserted (may be NULL)
 * receives how many were new. Call inside store_begin/commit for batching. */
int store_log_append(struct store *s, const char *job_id, const struct store_log_line *lines,
                     size_t n, size_t *inserted);
/* [{"seq","ts","stream","payload"}] with seq > after_seq, ascending, at most limit
 * (clamped 1..10000). A bare array (NULL on storage error). */
json_t *store_log_list(struct store *s, const char *job_id, long long after_seq, int limit);
/* The same rows without building JSON (log downloads): cb per row in seq order, strings
 * borrowed for the call only, ts in ms since the epoch. *last_seq is the last row's seq
 * (unchanged when none); returns the number of rows, or -1 on a storage error. */
struct store_log_row {
	long long seq;
	int64_t ts_ms;
	const char *stream;
	const char *payload;
	size_t payload_len;
};
int store_log_each(struct store *s, const char *job_id, long long after_seq, int limit,
                   void (*cb)(void *ud, const struct store_log_row *row), void *ud);

/* ---- snapshots ----
 * snapshots: array of {"id","short_id","time","hostname","paths","tags","size_bytes",
 * "file_count"} (borrowed). Replaces the host's projection atomically and records
 * refreshed_at. */
int store_snapshots_replace(struct store *s, const char *host_id, const json_t *snapshots,
                            int64_t now_ms);
/* Malformed entries (no id, unparsable time) are skipped; snapshot_count becomes the
 * number of stored snapshots (a later stats.report may refine it). NOTFOUND if the host
 * is unknown. */
/* {"snapshots":[...] newest first, "refreshed_at"|null}; each snapshot's size_bytes /
 * file_count come from its own summary (restic 0.17+) or else from the backup job that
 * created it ("size_source": "snapshot" | "job" | null). */
json_t *store_snapshots_list(struct store *s, const char *host_id);

/* ---- repository health (store_repo.c) ----
 * One history point per stats.report; -1 / 0 mean "restic did not say". raw_bytes is
 * computed here: the sum of the host's snapshot sizes (own summary or backup job). */
struct store_repo_point {
	long long size_bytes;         /* restic stats --mode raw-data total_size */
	long long uncompressed_bytes; /* total_uncompressed_size (0.15+, v2 repos) or -1 */
	double compression_ratio;     /* compression_ratio (0.15+) or 0 */
	long long snapshot_count;
};
/* Adds the point at ts_ms and, on the host's first report of an hour, thins its older
 * points (all of the last 2 days, the newest per hour up to 30 days, the newest per day
 * beyond). */
int store_repo_history_add(struct store *s, const char *host_id, int64_t ts_ms,
                           const struct store_repo_point *p);
/* Recomputes raw_bytes of the host's newest point (after a backup job's stats arrive). */
int store_repo_raw_refresh(struct store *s, const char *host_id);
/* Newest point {"time","size_bytes","raw_bytes"|null,"uncompressed_bytes"|null,
 * "compression_ratio"|null,"snapshot_count"}, json null when there is none; NULL on a
 * storage error. */
json_t *store_repo_latest(struct store *s, const char *host_id);
/* Newest finished (succeeded/failed) job of kind: {"job_id","status","finished_at",
 * "stats":{},"error"|null}, json null when none; NULL on a storage error. */
json_t *store_repo_last_job(struct store *s, const char *host_id, const char *kind);
/* Points since since_ms, oldest first: [{"t" (ms),"size_bytes","raw_bytes"|null,
 * "snapshot_count"}]; NULL on a storage error. */
json_t *store_repo_history(struct store *s, const char *host_id, int64_t since_ms);
/* Finished backups with stats since since_ms (at most the newest 5,000), oldest first:
 * [{"job_id","status","t" (finished, ms),"duration_s","data_added","files_new",
 * "files_changed","snapshot_id"}] (unknown values null). */
json_t *store_repo_backup_points(struct store *s, const char *host_id, int64_t since_ms);

/* ---- C2 policies (store_policy.c) ----
 * group row = {"id","host_id","name","spec":{...},"hooks_ct"|null,"created_at","updated_at"}
 * (spec: the non-secret fields as the API names them; hooks_ct: AEAD ciphertext of
 * {"pre","post"}, only engine/policy decrypts it). CONFLICT: name taken on the host. */
int store_group_insert(struct store *s, const char *host_id, const char *name, const json_t *spec,
                       const char *hooks_ct, char id_out[RM_ULID_BUF]);
int store_group_update(struct store *s, const char *host_id, const char *gid, const char *name,
                       const json_t *spec, const char *hooks_ct); /* NOTFOUND / CONFLICT */
int store_group_delete(struct store *s, const char *host_id, const char *gid);  /* NOTFOUND */
json_t *store_group_get(struct store *s, const char *host_id, const char *gid); /* NULL: none */
json_t *store_groups_list(struct store *s, const char *host_id); /* [row], NULL on error */
/* schedule = {"id","host_id","cron","enabled","group_ids":[],"last_run":{"job_id","status",
 * "at"}|null,"created_at","updated_at"}; group ids not of this host are not linked. */
int store_schedule_insert(struct store *s, const char *host_id, const char *cron, int enabled,
                          const json_t *group_ids, char id_out[RM_ULID_BUF]);
int store_schedule_update(struct store *s, const char *host_id, const char *sid, const char *cron,
                          int enabled, const json_t *group_ids);
int store_schedule_delete(struct store *s, const char *host_id, const char *sid);
/* sid NULL: all of the host's schedules; else at most that one. NULL on error. */
json_t *store_schedules_list(struct store *s, const char *host_id, const char *sid);
/* schedule_version + 1, returning the new version (NOTFOUND: no such host). */
int store_host_policy_bump(struct store *s, const char *host_id, long long *version_out);
/* The agent runs `version` (ignored when above the server's version). */
int store_host_policy_ack(struct store *s, const char *host_id, long long version);
int store_host_tz_set(struct store *s, const char *host_id, const char *tz,
                      const long long *utc_offset_s);
int store_host_settings_set(struct store *s, const char *host_id, const json_t *settings);
int store_host_next_run_set(struct store *s, const char *host_id, int64_t ms); /* <0: none */
/* ids of hosts whose next_run_at has passed (at most 500). */
json_t *store_hosts_next_run_due(struct store *s, int64_t now_ms);
/* A job the agent started on its own: inserted as running unless the id exists (RM_OK
 * either way: replays are harmless). */
int store_job_insert_seen(struct store *s, const char *job_id, const char *host_id,
                          const char *kind, const json_t *args, int64_t started_ms,
                          const char *created_by, const char *schedule_id);

/* Run-now for an offline host ("run when it connects"): the job stays queued with
 * awaiting_host = 1, untouched by the "agent restarted/lost" rules, until the agent says
 * hello or it expires. */
int store_job_set_awaiting(struct store *s, const char *job_id, int awaiting);
/* [{"id","kind","args","created_ms"}] oldest first; NULL on error. */
json_t *store_jobs_awaiting(struct store *s, const char *host_id);
/* Fails awaiting jobs created before the cutoff: [{"id","host_id"}]; NULL on error. */
json_t *store_jobs_awaiting_expire(struct store *s, int64_t created_before_ms, const char *error,
                                   int64_t now_ms);

/* ---- C4 alerts (store_alerts.c) ----
 * alert row = {"id","rule","severity","host_id"|null,"hostname"|null,"group","state",
 * "title","message","job_id"|null,"count","first_at","last_at","acked_by"|null,
 * "acked_at"|null,"resolved_by"|null,"resolved_at"|null,"resolution"|null} (times RFC 3339;
 * "first_ms"/"last_ms" carry the same instants in ms for the engine). */
/* {"<rule>":{"enabled":bool,"params":{}}} of the rows stored (overrides); NULL on error. */
json_t *store_alert_rules_get(struct store *s);
int store_alert_rule_put(struct store *s, const char *rule, int enabled, const json_t *params);
/* The active (open or acked) alert of (rule, host, group) into *out (new ref); NOTFOUND. */
int store_alert_find_active(struct store *s, const char *rule, const char *host_id, const char *grp,
                            json_t **out);
/* 1 in *seen if an alert of rule was already raised or bumped by job_id. */
int store_alert_job_seen(struct store *s, const char *rule, const char *job_id, int *seen);
struct store_alert_new {
	const char *rule, *severity, *host_id /* may be NULL */, *grp, *title, *message;
	const char *job_id; /* may be NULL */
	int64_t at_ms;
};
/* CONFLICT if an active alert of (rule, host, group) exists. */
int store_alert_insert(struct store *s, const struct store_alert_new *a, char id_out[RM_ULID_BUF]);
/* Another occurrence: count + 1, last_at, job_id (when non-NULL), message. */
int store_alert_bump(struct store *s, const char *id, const char *job_id, const char *message,
                     int64_t at_ms);
/* open -> acked. NOTFOUND unknown, CONFLICT not open. */
int store_alert_ack(struct store *s, const char *id, const char *by, int64_t at_ms);
/* open|acked -> resolved. NOTFOUND unknown, CONFLICT already resolved. */
int store_alert_resolve(struct store *s, const char *id, const char *by, const char *resolution,
                        int64_t at_ms);
json_t *store_alert_get(struct store *s, const char *id); /* NULL if unknown */
/* state NULL = all, "open" | "acked" | "resolved" | "active" (open or acked); host_id NULL
 * = all; newest first; limit clamped 1..1000. An array; NULL on error. */
json_t *store_alerts_list(struct store *s, const char *state, const char *host_id, int limit);
int store_alerts_count(struct store *s, const char *state, long long *out);
json_t *store_alerts_active_of_rule(struct store *s, const char *rule); /* array; NULL: error */
/* Offline hosts silent since before before_ms: [{"id","hostname","last_seen_ms",
 * "settings":{},"tags":[]}]; NULL on error. */
json_t *store_alert_hosts_silent(struct store *s, int64_t before_ms);
/* One row per enabled schedule: [{"host_id","hostname","settings":{},"cron",
 * "created_ms","last_success_ms"|null,"utc_offset_s"|null,"schedule_id"}] by host, where
 * last_success_ms is the newest succeeded backup the schedule started or of one of its
 * groups; NULL on error. */
json_t *store_alert_schedule_hosts(struct store *s);
/* ids of jobs finished at or after since_ms, oldest first (at most limit); NULL: error. */
json_t *store_jobs_finished_since(struct store *s, int64_t since_ms, int limit);
/* stats objects of the host's last `limit` succeeded backups of group grp ("" = none)
 * other than exclude_job_id, newest first; NULL on error. */
json_t *store_backup_stats_recent(struct store *s, const char *host_id, const char *grp,
                                  const char *exclude_job_id, int limit);

/* ---- C4 channels and deliveries (store_channels.c) ----
 * channel row = {"id","name","kind","enabled","config":{},"secret_ct"|null,
 * "min_severity","host_tags":[],"created_at","updated_at"} (secret_ct: AEAD ciphertext,
 * only engine/channels decrypts it; never returned by the API). */
struct store_channel {
	const char *id, *name, *kind, *min_severity;
	int enabled;
	const json_t *config, *host_tags;
	const char *secret_ct; /* NULL = none */
	int set_secret;        /* update: 1 = replace secret_ct (NULL clears), 0 = keep */
};
int store_channel_insert(struct store *s, const struct store_channel *c); /* CONFLICT: name */
int store_channel_update(struct store *s, const struct store_channel *c); /* NOTFOUND/CONFLICT */
int store_channel_delete(struct store *s, const char *id);                /* NOTFOUND */
json_t *store_channel_get(struct store *s, const char *id);               /* NULL: unknown */
json_t *store_channels_list(struct store *s);                             /* NULL: error */
/* delivery row = {"id","channel_id","alert_id"|null,"event","status","attempts",
 * "last_error"|null,"payload":{},"next_at"|null,"created_at","updated_at"} */
int store_delivery_insert(struct store *s, const char *channel_id, const char *alert_id,
                          const char *event, const char *status, const json_t *payload,
                          int64_t next_ms, char id_out[RM_ULID_BUF]);
/* pending rows due by now_ms, oldest first, of channels not in skip (array of ids, may be
 * NULL); NULL on error. */
json_t *store_deliveries_due(struct store *s, int64_t now_ms, int limit, const json_t *skip);
/* next_ms < 0: NULL. last_error NULL clears. */
int store_delivery_set(struct store *s, const char *id, const char *status, int attempts,
                       const char *last_error, int64_t next_ms);
int store_deliveries_reset_sending(struct store *s, int64_t now_ms); /* after a restart */
json_t *store_deliveries_list(struct store *s, const char *channel_id, int limit);
/* "raised" deliveries of the channel created since since_ms (the digest threshold). */
int store_deliveries_recent(struct store *s, const char *channel_id, int64_t since_ms,
                            long long *out);
json_t *store_deliveries_held(struct store *s, const char *channel_id);
/* [{"channel_id","oldest_ms"}] of channels holding deliveries for a digest. */
json_t *store_deliveries_held_channels(struct store *s);
int store_deliveries_mark_digested(struct store *s, const char *channel_id, int64_t now_ms);

/* ---- audit queries (store_channels.c) ----
 * NULL members do not filter; target matches as a substring; [from_ms, to_ms); sort
 * "ts" | "actor" | "action" | "target", desc 1 = descending. */
struct store_audit_filter {
	const char *actor, *action, *target;
	int64_t from_ms, to_ms; /* 0 = open */
	const char *sort;
	int desc;
	int limit, offset;
};
/* {"entries":[...],"total":N}; NULL on error. limit clamped 1..1000. */
json_t *store_audit_query(struct store *s, const struct store_audit_filter *f);

/* A read-only connection of its own, for work on the thread pool (one thread at a time;
 * WAL lets it read while the loop writes). Open and close on any thread. */
struct store_reader;
int store_reader_open(struct store *s, struct store_reader **out);
void store_reader_close(struct store_reader *rd); /* NULL ok */
/* Total repository size of all hosts over time, for the thread pool (no JSON): one point
 * per bucket_ms bucket of [since_ms, now_ms] in which a host reported, at the bucket's last
 * report, each host counted with its newest size so far (also from before since_ms).
 * *out (malloc'd, caller frees) and *n on RM_OK; RM_ERR_DB / RM_ERR_INVAL. */
struct store_fleet_point {
	int64_t t;
	long long size_bytes;
};
int store_reader_fleet_history(struct store_reader *rd, int64_t now_ms, int64_t since_ms,
                               int64_t bucket_ms, struct store_fleet_point **out, size_t *n);
/* store_log_each on the reader's connection (same rows, same callback). */
int store_reader_log_each(struct store_reader *rd, const char *job_id, long long after_seq,
                          int limit, void (*cb)(void *ud, const struct store_log_row *row),
                          void *ud);

/* ---- Prometheus exposition (store_metrics.c) ----
 * One row per host, by id; strings borrowed for the callback only (NULL when unset),
 * times in ms since the epoch (0 = none), repo_size_bytes < 0 = unknown. */
struct store_metrics_host {
	const char *id, *hostname, *status, *os, *arch, *agent_version;
	const char *last_backup_status; /* NULL: no finished backup yet */
	int64_t last_backup_finished_ms;
	long long repo_size_bytes, snapshot_count;
};
int store_metrics_hosts(struct store *s, void (*cb)(void *ud, const struct store_metrics_host *h),
                        void *ud);
/* Durations (finished - started) of every finished job still in the jobs table, grouped
 * by kind and status, counted into the cumulative buckets STORE_METRICS_BUCKETS (seconds;
 * le="+Inf" is count). */
#define STORE_METRICS_NBUCKETS 10
extern const double store_metrics_buckets_s[STORE_METRICS_NBUCKETS];
struct store_metrics_durations {
	const char *kind, *status;
	long long count;
	double sum_s;
	long long le[STORE_METRICS_NBUCKETS]; /* cumulative: jobs with duration <= bucket */
};
int store_metrics_job_durations(struct store *s,
                                void (*cb)(void *ud, const struct store_metrics_durations *d),
                                void *ud);
/* The same on a read-only connection of its own (opened and closed in the call): for the
 * thread pool, the scan is O(jobs in the table). Not for ":memory:" stores. */
int store_metrics_job_durations_ro(struct store *s,
                                   void (*cb)(void *ud, const struct store_metrics_durations *d),
                                   void *ud);

#endif