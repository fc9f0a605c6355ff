#ifndef RM_SERVER_STORE_STORE_INT_H
#define RM_SERVER_STORE_STORE_INT_H
/* Private to src/server/store: the connection struct, the statement table and the small
 * helpers the store_*.c files share. Nothing outside the store includes this. */
#include <sqlite3.h>
#include <stdint.h>

#include "server/store/store.h"

/* Every statement the store runs, in one table (name, SQL). Statements are prepared on
 * first use (SQLITE_PREPARE_PERSISTENT) and cached until store_close. User data only ever
 * reaches SQLite through bindings. */
#define HOST_COLS                                                                     \
	"h.id, h.hostname, h.tags, h.os, h.arch, h.agent_version, h.restic_version, " \
	"h.status, h.last_seen_at, h.repo_status, h.repo_error, h.repo_size_bytes, "  \
	"h.snapshot_count, h.initial_paths, h.created_at, h.last_backup_job_id, "     \
	"h.last_backup_status, h.last_backup_finished_at, h.running_job_id, "         \
	"h.running_job_kind, h.running_job_status, h.reported_hostname, "             \
	"h.schedule_version, h.schedule_acked_version, h.timezone, h.settings, "      \
	"h.next_run_at, h.utc_offset_s, h.agent_uid, " DRILL_COLS ", h.deleted_at, "  \
	"hu.state, hu.target_version, hu.error, hu.updated_at "                       \
	"FROM hosts h LEFT JOIN agent_updates hu ON hu.host_id = h.id "

/* restore drills (C3): derived from the drill jobs, served by jobs_host_kind_finished */
#define DRILL_COLS                                                                            \
	"(SELECT max(d.finished_at) FROM jobs d WHERE d.host_id = h.id AND d.kind = 'drill' " \
	"AND d.status = 'succeeded'), "                                                       \
	"(SELECT d.status || ' ' || d.finished_at FROM jobs d WHERE d.host_id = h.id "        \
	"AND d.kind = 'drill' AND d.finished_at IS NOT NULL "                                 \
	"ORDER BY d.finished_at DESC LIMIT 1), "                                              \
	"(SELECT max(d.created_at) FROM jobs d WHERE d.host_id = h.id AND d.kind = 'drill') "

/* pending announcements (store_announce.c) */
#define PENDING_COLS                                                                         \
	"id, pubkey, fingerprint, hostname, os, arch, agent_version, restic_version, "       \
	"address, state, nonce, announced_at, expires_at, decided_at, decided_by, host_id, " \
	"polls, last_poll_at, delivered_at FROM pending_hosts "

/* users as the API shows them (store_people.c user_json) */
#define USER_COLS                                                                  \
	"u.id, u.username, u.role, u.disabled, u.pw_hash = '', u.created_at, "     \
	"u.updated_at, (SELECT count(*) FROM sessions s WHERE s.user_id = u.id), " \
	"(SELECT count(*) FROM api_tokens t WHERE t.user_id = u.id), "             \
	"u.oidc_sub IS NOT NULL FROM users u "

#define JOB_COLS                                                                         \
	"j.id, j.host_id, h.hostname, j.kind, j.status, j.args, j.exit_code, j.error, "  \
	"j.stats, j.created_at, j.started_at, j.finished_at, j.created_by, j.log_lines " \
	"FROM jobs j JOIN hosts h ON h.id = j.host_id "

/* The stats of the backup job that created snapshot row `s` (restic 0.14's summary names
 * the short id, 0.17+ the full one); uses the jobs_backup_snapshot expression index. */
#define SNAP_JOB_STATS                                                                   \
	"(SELECT j.stats FROM jobs j WHERE j.host_id = s.host_id AND j.kind = 'backup' " \
	"AND json_valid(j.stats) "                                                       \
	"AND json_extract(j.stats, '$.snapshot_id') IN (s.snapshot_id, s.short_id) "     \
	"ORDER BY j.finished_at DESC LIMIT 1)"
/* The sum of host ?1's snapshot sizes (their own or their backup job's); NULL if none is
 * known. */
#define REPO_RAW_SUM                                                      \
	"(SELECT sum(coalesce(s.size_bytes, json_extract(" SNAP_JOB_STATS \
	", '$.total_bytes_processed'))) FROM snapshots s WHERE s.host_id = ?1)"

/* C6 agent updates: one row per host (its latest update), one per rolling run */
#define UPDATE_COLS                                                                \
	"host_id, update_id, run_id, state, from_version, target_version, error, " \
	"started_at, updated_at FROM agent_updates "
#define UPDATE_RUN_COLS                                                               \
	"id, state, target_version, hosts, current_host_id, halted_host_id, reason, " \
	"cancel_requested, created_by, created_at, finished_at FROM update_runs "

#define STORE_SQL(X)                                                                              \
	/* settings */                                                                            \
	X(SETTING_GET, "SELECT value FROM settings WHERE key = ?1")                               \
	X(SETTING_SET, "INSERT INTO settings(key, value, updated_at) VALUES (?1, ?2, ?3) "        \
	               "ON CONFLICT(key) DO UPDATE SET value = excluded.value, "                  \
	               "updated_at = excluded.updated_at")                                        \
	X(SETTING_DEL, "DELETE FROM settings WHERE key = ?1")                                     \
	/* users */                                                                               \
	X(USER_COUNT, "SELECT count(*) FROM users")                                               \
	X(USER_INSERT, "INSERT INTO users(id, username, role, pw_hash, disabled, "                \
	               "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, 0, ?5, ?5)")              \
	X(USER_BY_NAME, "SELECT id, username, role, pw_hash, disabled FROM users "                \
	                "WHERE username = ?1")                                                    \
	X(USER_BY_ID, "SELECT id, username, role, pw_hash, disabled FROM users "                  \
	              "WHERE id = ?1")                                                            \
	/* sessions */                                                                            \
	X(SESSION_INSERT, "INSERT INTO sessions(token_hash, user_id, csrf_token, "                \
	                  "created_at, expires_at, id) VALUES (?1, ?2, ?3, ?4, ?5, "              \
	                  "lower(hex(randomblob(16))))")                                          \
	X(SESSION_GET, "SELECT s.user_id, u.username, u.role, s.csrf_token, s.expires_at "        \
	               "FROM sessions s JOIN users u ON u.id = s.user_id "                        \
	               "WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.disabled = 0")        \
	X(SESSION_DEL, "DELETE FROM sessions WHERE token_hash = ?1")                              \
	X(SESSION_PURGE, "DELETE FROM sessions WHERE expires_at <= ?1")                           \
	/* people (store_people.c) */                                                             \
	X(USERS_LIST, "SELECT " USER_COLS "ORDER BY u.username")                                  \
	X(USER_ROW, "SELECT " USER_COLS "WHERE u.id = ?1")                                        \
	X(USER_SET_ROLE, "UPDATE users SET role = ?2, updated_at = ?3 WHERE id = ?1")             \
	X(USER_SET_DISABLED, "UPDATE users SET disabled = ?2, updated_at = ?3 WHERE id = ?1")     \
	X(USER_SET_PASSWORD, "UPDATE users SET pw_hash = ?2, updated_at = ?3 WHERE id = ?1")      \
	X(USER_DELETE, "DELETE FROM users WHERE id = ?1")                                         \
	X(ADMINS_OTHER, "SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0 "       \
	                "AND id != ?1")                                                           \
	X(USER_SESSIONS_END, "DELETE FROM sessions WHERE user_id = ?1 "                           \
	                     "AND (?2 IS NULL OR token_hash != ?2)")                              \
	X(USER_SESSIONS_LIST, "SELECT id, created_at, expires_at, ip, user_agent, "               \
	                      "token_hash = ?2 FROM sessions WHERE user_id = ?1 "                 \
	                      "AND expires_at > ?3 ORDER BY created_at DESC, id")                 \
	X(SESSION_DEL_ID, "DELETE FROM sessions WHERE user_id = ?1 AND id = ?2")                  \
	X(SESSION_NOTE_CLIENT, "UPDATE sessions SET ip = ?2, user_agent = ?3 "                    \
	                       "WHERE token_hash = ?1")                                           \
	X(SETUP_CLEAR, "DELETE FROM user_setup_tokens WHERE user_id = ?1")                        \
	X(SETUP_INSERT, "INSERT INTO user_setup_tokens(token_hash, user_id, created_at, "         \
	                "expires_at) VALUES (?1, ?2, ?3, ?4)")                                    \
	X(SETUP_PEEK, "SELECT t.user_id, t.expires_at FROM user_setup_tokens t "                  \
	              "JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?1 "                 \
	              "AND t.expires_at > ?2 AND u.disabled = 0")                                 \
	X(SETUP_CONSUME, "DELETE FROM user_setup_tokens WHERE token_hash = ?1 "                   \
	                 "AND expires_at > ?2 RETURNING user_id")                                 \
	X(SETUP_PURGE, "DELETE FROM user_setup_tokens WHERE expires_at <= ?1")                    \
	X(TOKEN_INSERT, "INSERT INTO api_tokens(id, user_id, name, token_hash, role, "            \
	                "created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")            \
	X(TOKENS_LIST, "SELECT id, name, role, created_at, expires_at, last_used_at "             \
	               "FROM api_tokens WHERE user_id = ?1 ORDER BY created_at DESC, id DESC")    \
	X(TOKEN_DELETE, "DELETE FROM api_tokens WHERE id = ?1 AND user_id = ?2")                  \
	X(USER_TOKENS_DELETE, "DELETE FROM api_tokens WHERE user_id = ?1")                        \
	X(TOKEN_LOOKUP, "SELECT t.id, t.user_id, u.username, u.role, t.role, "                    \
	                "coalesce(t.last_used_at, 0) FROM api_tokens t "                          \
	                "JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?1 "               \
	                "AND t.expires_at > ?2 AND u.disabled = 0")                               \
	X(TOKEN_TOUCH, "UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1")                   \
	/* single sign-on users (store_oidc.c) */                                                 \
	X(USER_BY_OIDC_SUB, "SELECT id, username, role, pw_hash, disabled FROM users "            \
	                    "WHERE oidc_sub = ?1")                                                \
	X(USER_NAME_TAKEN, "SELECT 1 FROM users WHERE username = ?1")                             \
	X(USER_INSERT_OIDC, "INSERT INTO users(id, username, role, pw_hash, disabled, "           \
	                    "oidc_sub, created_at, updated_at) "                                  \
	                    "VALUES (?1, ?2, ?3, '!sso', 0, ?4, ?5, ?5)")                         \
	X(USER_OIDC_SET_ROLE, "UPDATE users SET role = ?2, updated_at = ?3 "                      \
	                      "WHERE id = ?1 AND oidc_sub IS NOT NULL")                           \
	X(USER_IS_OIDC, "SELECT 1 FROM users WHERE id = ?1 AND oidc_sub IS NOT NULL")             \
	/* audit */                                                                               \
	X(AUDIT_INSERT, "INSERT INTO audit_log(id, ts, actor, action, target, detail) "           \
	                "VALUES (?1, ?2, ?3, ?4, ?5, ?6)")                                        \
	X(AUDIT_LIST, "SELECT id, ts, actor, action, target, detail FROM audit_log "              \
	              "ORDER BY ts DESC, id DESC LIMIT ?1")                                       \
	X(AUDIT_LIST_ACTION, "SELECT id, ts, actor, action, target, detail FROM audit_log "       \
	                     "WHERE action = ?2 ORDER BY ts DESC, id DESC LIMIT ?1")              \
	/* enrollment tokens */                                                                   \
	X(ENROLL_INSERT, "INSERT INTO enrollment_tokens(token_hash, hostname, tags, "             \
	                 "initial_paths, creds_ct, expires_at, created_by, created_at, id) "      \
	                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")                           \
	X(ENROLL_GET, "SELECT token_hash, hostname, tags, initial_paths, creds_ct, "              \
	              "expires_at, used_at, host_id FROM enrollment_tokens "                      \
	              "WHERE token_hash = ?1")                                                    \
	X(ENROLL_CONSUME, "UPDATE enrollment_tokens SET used_at = ?3, host_id = ?2 "              \
	                  "WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?3")        \
	X(ENROLL_STATE, "SELECT used_at, expires_at FROM enrollment_tokens "                      \
	                "WHERE token_hash = ?1")                                                  \
	/* C6 token recovery, announce-and-approve (store_announce.c) */                          \
	X(ENROLL_ID, "SELECT id FROM enrollment_tokens WHERE token_hash = ?1")                    \
	X(ENROLL_LIST, "SELECT id, hostname, tags, created_at, expires_at, created_by "           \
	               "FROM enrollment_tokens WHERE used_at IS NULL AND expires_at > ?1 "        \
	               "ORDER BY created_at DESC, id")                                            \
	X(ENROLL_HASH_BY_ID, "SELECT token_hash FROM enrollment_tokens WHERE id = ?1")            \
	X(ENROLL_REKEY, "UPDATE enrollment_tokens SET token_hash = ?2, creds_ct = ?3, "           \
	                "expires_at = ?4 WHERE id = ?1 AND used_at IS NULL")                      \
	X(ENROLL_DELETE, "DELETE FROM enrollment_tokens WHERE id = ?1 AND used_at IS NULL")       \
	X(PENDING_INSERT, "INSERT INTO pending_hosts(id, pubkey, fingerprint, hostname, os, "     \
	                  "arch, agent_version, restic_version, address, nonce, "                 \
	                  "announced_at, expires_at) "                                            \
	                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)")           \
	X(PENDING_BY_KEY, "SELECT " PENDING_COLS "WHERE pubkey = ?1")                             \
	X(PENDING_BY_ID, "SELECT " PENDING_COLS "WHERE id = ?1")                                  \
	X(PENDING_COUNT, "SELECT count(*) FROM pending_hosts WHERE state = 'pending' "            \
	                 "AND expires_at > ?1")                                                   \
	X(PENDING_RENEW, "UPDATE pending_hosts SET state = 'pending', nonce = ?2, "               \
	                 "announced_at = ?3, expires_at = ?4, address = ?5, "                     \
	                 "decided_at = NULL, decided_by = NULL, host_id = NULL, polls = 0, "      \
	                 "last_poll_at = NULL, delivered_at = NULL WHERE id = ?1")                \
	X(PENDING_POLLED, "UPDATE pending_hosts SET nonce = ?2, polls = polls + 1, "              \
	                  "last_poll_at = ?3, delivered_at = coalesce(?4, delivered_at) "         \
	                  "WHERE id = ?1 AND nonce = ?5")                                         \
	X(PENDING_DECIDE, "UPDATE pending_hosts SET state = ?2, host_id = ?3, "                   \
	                  "decided_by = ?4, decided_at = ?5 WHERE id = ?1 "                       \
	                  "AND state = 'pending' AND expires_at > ?5")                            \
	X(PENDING_LIST, "SELECT " PENDING_COLS "WHERE (?1 OR (state = 'pending' "                 \
	                "AND expires_at > ?2)) ORDER BY announced_at DESC, id")                   \
	X(PENDING_PURGE, "DELETE FROM pending_hosts "                                             \
	                 "WHERE coalesce(decided_at, expires_at) <= ?1")                          \
	X(HOST_SET_BEARER,                                                                        \
	  "UPDATE hosts SET bearer_hash = ?2 WHERE id = ?1 AND deleted_at IS NULL")               \
	/* hosts */                                                                               \
	X(HOST_INSERT, "INSERT INTO hosts(id, hostname, tags, initial_paths, bearer_hash, "       \
	               "created_at, enrolled_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)")            \
	X(HOST_BY_BEARER, "SELECT id FROM hosts WHERE bearer_hash = ?1 AND deleted_at IS NULL")   \
	X(HOST_EXISTS, "SELECT 1 FROM hosts WHERE id = ?1")                                       \
	X(HOST_HELLO, "UPDATE hosts SET "                                                         \
	              "reported_hostname = coalesce(nullif(?2, ''), reported_hostname), "         \
	              "os = coalesce(?3, os), arch = coalesce(?4, arch), "                        \
	              "agent_version = coalesce(?5, agent_version), "                             \
	              "restic_version = coalesce(?6, restic_version), "                           \
	              "status = 'online', last_seen_at = ?7 WHERE id = ?1")                       \
	X(HOST_SET_AGENT_UID, "UPDATE hosts SET agent_uid = ?2 WHERE id = ?1")                    \
	X(HOST_SEEN, "UPDATE hosts SET last_seen_at = ?2 WHERE id = ?1")                          \
	X(HOST_SET_ONLINE, "UPDATE hosts SET status = 'online', last_seen_at = ?2 "               \
	                   "WHERE id = ?1")                                                       \
	X(HOST_SET_OFFLINE, "UPDATE hosts SET status = 'offline' WHERE id = ?1")                  \
	X(HOSTS_STALE, "UPDATE hosts SET status = 'offline' WHERE status = 'online' "             \
	               "AND last_seen_at < ?1 RETURNING id")                                      \
	X(HOST_SET_REPO_STATUS, "UPDATE hosts SET repo_status = ?2, repo_error = ?3 "             \
	                        "WHERE id = ?1")                                                  \
	X(HOST_REPO_STATUS, "SELECT repo_status FROM hosts WHERE id = ?1")                        \
	X(HOST_SET_REPO_STATS, "UPDATE hosts SET repo_size_bytes = ?2, "                          \
	                       "snapshot_count = ?3 WHERE id = ?1")                               \
	X(HOST_GET, "SELECT " HOST_COLS "WHERE h.id = ?1")                                        \
	X(HOSTS_LIST, "SELECT " HOST_COLS "WHERE h.deleted_at IS NULL ORDER BY h.hostname, h.id") \
	X(HOSTS_LIST_FIRST, "SELECT " HOST_COLS "WHERE h.deleted_at IS NULL "                     \
	                    "ORDER BY h.hostname COLLATE NOCASE, h.id LIMIT ?1")                  \
	X(HOSTS_COUNT, "SELECT count(*) FROM hosts WHERE deleted_at IS NULL")                     \
	X(DRILL_CANDIDATES, "SELECT h.id, h.settings, h.snapshot_count, "                         \
	                    "coalesce((SELECT max(d.created_at) FROM jobs d "                     \
	                    "WHERE d.host_id = h.id AND d.kind = 'drill'), h.created_at) "        \
	                    "FROM hosts h WHERE h.status = 'online'")                             \
	X(FLEET_SUMMARY,                                                                          \
	  "SELECT (SELECT count(*) FROM hosts WHERE deleted_at IS NULL), "                        \
	  "(SELECT count(*) FROM hosts WHERE status = 'online'), "                                \
	  "(SELECT count(*) FROM jobs WHERE finished_at >= ?1 AND status = 'succeeded'), "        \
	  "(SELECT count(*) FROM jobs WHERE finished_at >= ?1 AND status = 'failed'), "           \
	  "(SELECT count(*) FROM jobs WHERE status IN ('queued','running')), "                    \
	  "(SELECT coalesce(sum(repo_size_bytes), 0) FROM hosts WHERE deleted_at IS NULL), "      \
	  "(SELECT coalesce(sum(snapshot_count), 0) FROM hosts WHERE deleted_at IS NULL)")        \
	/* C6 host administration (store_host_admin.c) */                                         \
	X(HOST_RENAME, "UPDATE hosts SET hostname = ?2 WHERE id = ?1 AND deleted_at IS NULL")     \
	X(HOST_TAGS_SET, "UPDATE hosts SET tags = ?2 WHERE id = ?1 AND deleted_at IS NULL")       \
	X(HOST_MARK_DELETED, "UPDATE hosts SET deleted_at = ?2, status = 'offline', "             \
	                     "next_run_at = NULL, bearer_hash = 'deleted:' || id "                \
	                     "WHERE id = ?1 AND deleted_at IS NULL")                              \
	X(HOSTS_DELETED, "SELECT " HOST_COLS "WHERE h.deleted_at IS NOT NULL "                    \
	                 "ORDER BY h.deleted_at DESC, h.id LIMIT 1000")                           \
	X(HOST_DELETE, "DELETE FROM hosts WHERE id = ?1")                                         \
	X(HOST_JOBS_CANCEL, "UPDATE jobs SET status = 'cancelled', error = ?2, "                  \
	                    "finished_at = ?3, awaiting_host = 0 WHERE host_id = ?1 "             \
	                    "AND status IN ('queued','running') RETURNING id")                    \
	X(HOST_SCHEDULES_DELETE, "DELETE FROM schedules WHERE host_id = ?1")                      \
	X(HOST_GROUPS_DELETE, "DELETE FROM source_groups WHERE host_id = ?1")                     \
	X(HOST_CREDS_DELETE, "DELETE FROM host_credentials WHERE host_id = ?1")                   \
	X(HOST_ROTATION_DELETE, "DELETE FROM host_key_rotations WHERE host_id = ?1")              \
	X(HOST_ALERTS_RESOLVE, "UPDATE alerts SET state = 'resolved', resolved_by = ?2, "         \
	                       "resolved_at = ?3, resolution = 'host deleted' "                   \
	                       "WHERE host_id = ?1 AND state <> 'resolved'")                      \
	X(ROTATION_GET, "SELECT state, error, job_id, new_ct, old_ct, old_key_id, new_key_id, "   \
	                "started_by, started_at, updated_at FROM host_key_rotations "             \
	                "WHERE host_id = ?1")                                                     \
	X(ROTATION_PUT, "INSERT INTO host_key_rotations(host_id, state, error, job_id, new_ct, "  \
	                "old_ct, old_key_id, new_key_id, started_by, started_at, updated_at) "    \
	                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "                  \
	                "ON CONFLICT(host_id) DO UPDATE SET state = excluded.state, "             \
	                "error = excluded.error, job_id = excluded.job_id, "                      \
	                "new_ct = excluded.new_ct, old_ct = excluded.old_ct, "                    \
	                "old_key_id = excluded.old_key_id, new_key_id = excluded.new_key_id, "    \
	                "started_by = excluded.started_by, started_at = excluded.started_at, "    \
	                "updated_at = excluded.updated_at")                                       \
	/* host credentials */                                                                    \
	X(CRED_PUT, "INSERT INTO host_credentials(host_id, slot, ciphertext, updated_at) "        \
	            "VALUES (?1, ?2, ?3, ?4) ON CONFLICT(host_id, slot) DO UPDATE SET "           \
	            "ciphertext = excluded.ciphertext, updated_at = excluded.updated_at")         \
	X(CRED_GET, "SELECT ciphertext FROM host_credentials WHERE host_id = ?1 "                 \
	            "AND slot = ?2")                                                              \
	/* jobs */                                                                                \
	X(JOB_INSERT, "INSERT INTO jobs(id, host_id, kind, status, args, created_at, "            \
	              "created_by) VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?6)")                    \
	X(JOB_ACTIVE_KIND, "SELECT 1 FROM jobs WHERE host_id = ?1 AND kind = ?2 "                 \
	                   "AND status IN ('queued','running') LIMIT 1")                          \
	X(JOB_SET_RUNNING, "UPDATE jobs SET status = 'running', started_at = ?2 "                 \
	                   "WHERE id = ?1 AND status = 'queued'")                                 \
	X(JOB_STATUS, "SELECT status FROM jobs WHERE id = ?1")                                    \
	X(JOB_FINISH, "UPDATE jobs SET status = ?2, exit_code = ?3, error = ?4, "                 \
	              "stats = ?5, finished_at = ?6 WHERE id = ?1")                               \
	X(JOBS_FAIL_UNKNOWN, "UPDATE jobs SET status = 'failed', error = ?3, "                    \
	                     "finished_at = ?4 WHERE host_id = ?1 "                               \
	                     "AND status IN ('queued','running') AND awaiting_host = 0 "          \
	                     "AND id NOT IN (SELECT value FROM json_each(?2)) RETURNING id")      \
	X(JOBS_FAIL_LOST, "UPDATE jobs SET status = 'failed', error = ?2, finished_at = ?3 "      \
	                  "WHERE status IN ('queued','running') AND awaiting_host = 0 "           \
	                  "AND host_id IN "                                                       \
	                  "(SELECT id FROM hosts WHERE status = 'offline' "                       \
	                  "AND last_seen_at < ?1) RETURNING id")                                  \
	X(JOB_GET, "SELECT " JOB_COLS "WHERE j.id = ?1")                                          \
	X(JOB_HOST, "SELECT host_id FROM jobs WHERE id = ?1")                                     \
	X(JOBS_LIST, "SELECT " JOB_COLS "ORDER BY j.created_at DESC, j.id DESC LIMIT ?1")         \
	X(JOBS_LIST_HOST, "SELECT " JOB_COLS "WHERE j.host_id = ?2 "                              \
	                  "ORDER BY j.created_at DESC, j.id DESC LIMIT ?1")                       \
	X(JOB_LOG_COUNT_ADD, "UPDATE jobs SET log_lines = log_lines + ?2 WHERE id = ?1")          \
	/* job logs */                                                                            \
	X(LOG_INSERT, "INSERT OR IGNORE INTO job_logs(job_id, seq, ts, stream, payload) "         \
	              "VALUES (?1, ?2, ?3, ?4, ?5)")                                              \
	X(LOG_LIST, "SELECT seq, ts, stream, payload FROM job_logs WHERE job_id = ?1 "            \
	            "AND seq > ?2 ORDER BY seq LIMIT ?3")                                         \
	/* snapshots */                                                                           \
	X(SNAP_DELETE_HOST, "DELETE FROM snapshots WHERE host_id = ?1")                           \
	X(SNAP_INSERT, "INSERT OR REPLACE INTO snapshots(host_id, snapshot_id, short_id, "        \
	               "time, hostname, paths, tags, size_bytes, file_count) "                    \
	               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")                             \
	X(SNAP_REFRESHED, "UPDATE hosts SET snapshots_refreshed_at = ?2, snapshot_count = "       \
	                  "(SELECT count(*) FROM snapshots WHERE host_id = ?1) WHERE id = ?1")    \
	X(SNAP_LIST, "SELECT s.snapshot_id, s.short_id, s.time, s.hostname, s.paths, s.tags, "    \
	             "s.size_bytes, s.file_count, CASE WHEN s.size_bytes IS NULL OR "             \
	             "s.file_count IS NULL THEN " SNAP_JOB_STATS " END FROM snapshots s "         \
	             "WHERE s.host_id = ?1 ORDER BY s.time DESC, s.snapshot_id")                  \
	X(SNAP_REFRESHED_AT, "SELECT snapshots_refreshed_at FROM hosts WHERE id = ?1")            \
	/* C2 policies (store_policy.c) */                                                        \
	X(GROUP_INSERT, "INSERT INTO source_groups(id, host_id, name, spec, hooks_ct, "           \
	                "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)")            \
	X(GROUP_UPDATE, "UPDATE source_groups SET name = ?3, spec = ?4, hooks_ct = ?5, "          \
	                "updated_at = ?6 WHERE id = ?1 AND host_id = ?2")                         \
	X(GROUP_DELETE, "DELETE FROM source_groups WHERE id = ?1 AND host_id = ?2")               \
	X(GROUP_GET, "SELECT id, host_id, name, spec, hooks_ct, created_at, updated_at "          \
	             "FROM source_groups WHERE id = ?1 AND host_id = ?2")                         \
	X(GROUPS_LIST, "SELECT id, host_id, name, spec, hooks_ct, created_at, updated_at "        \
	               "FROM source_groups WHERE host_id = ?1 ORDER BY name")                     \
	X(SCHED_INSERT, "INSERT INTO schedules(id, host_id, cron, enabled, created_at, "          \
	                "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)")                            \
	X(SCHED_UPDATE, "UPDATE schedules SET cron = ?3, enabled = ?4, updated_at = ?5 "          \
	                "WHERE id = ?1 AND host_id = ?2")                                         \
	X(SCHED_DELETE, "DELETE FROM schedules WHERE id = ?1 AND host_id = ?2")                   \
	X(SCHED_GROUPS_CLEAR, "DELETE FROM schedule_groups WHERE schedule_id = ?1")               \
	X(SCHED_GROUP_ADD, "INSERT INTO schedule_groups(schedule_id, group_id) "                  \
	                   "SELECT ?1, g.id FROM source_groups g, schedules s "                   \
	                   "WHERE g.id = ?2 AND s.id = ?1 AND g.host_id = s.host_id")             \
	X(SCHEDS_LIST, "SELECT s.id, s.host_id, s.cron, s.enabled, s.created_at, "                \
	               "s.updated_at FROM schedules s WHERE s.host_id = ?1 "                      \
	               "AND (?2 IS NULL OR s.id = ?2) ORDER BY s.created_at, s.id")               \
	X(SCHED_GROUP_IDS, "SELECT group_id FROM schedule_groups WHERE schedule_id = ?1 "         \
	                   "ORDER BY group_id")                                                   \
	X(SCHED_LAST_RUN, "SELECT id, status, created_at FROM jobs WHERE schedule_id = ?1 "       \
	                  "ORDER BY created_at DESC, id DESC LIMIT 1")                            \
	X(HOST_POLICY_BUMP, "UPDATE hosts SET schedule_version = schedule_version + 1 "           \
	                    "WHERE id = ?1 RETURNING schedule_version")                           \
	X(HOST_POLICY_ACK, "UPDATE hosts SET schedule_acked_version = ?2 WHERE id = ?1 "          \
	                   "AND ?2 <= schedule_version")                                          \
	X(HOST_TZ_SET, "UPDATE hosts SET timezone = ?2, utc_offset_s = ?3 WHERE id = ?1")         \
	X(HOST_SETTINGS_SET, "UPDATE hosts SET settings = ?2 WHERE id = ?1")                      \
	X(HOST_NEXT_RUN_SET, "UPDATE hosts SET next_run_at = ?2 WHERE id = ?1")                   \
	X(HOSTS_NEXT_RUN_DUE, "SELECT id FROM hosts WHERE next_run_at IS NOT NULL "               \
	                      "AND next_run_at <= ?1 LIMIT 500")                                  \
	X(JOB_INSERT_SEEN, "INSERT INTO jobs(id, host_id, kind, status, args, created_at, "       \
	                   "started_at, created_by, schedule_id) "                                \
	                   "VALUES (?1, ?2, ?3, 'running', ?4, ?5, ?5, ?6, ?7) "                  \
	                   "ON CONFLICT(id) DO NOTHING")                                          \
	X(JOB_SET_AWAITING, "UPDATE jobs SET awaiting_host = ?2 WHERE id = ?1")                   \
	X(JOBS_AWAITING, "SELECT id, kind, args, created_at FROM jobs WHERE host_id = ?1 "        \
	                 "AND awaiting_host = 1 AND status = 'queued' "                           \
	                 "ORDER BY created_at, id")                                               \
	/* repository health (store_repo.c) */                                                    \
	X(REPO_HIST_INSERT, "INSERT OR REPLACE INTO repo_history(host_id, ts, size_bytes, "       \
	                    "raw_bytes, uncompressed_bytes, compression_ratio, snapshot_count) "  \
	                    "VALUES (?1, ?2, ?3, " REPO_RAW_SUM ", ?4, ?5, ?6)")                  \
	X(REPO_HIST_RAW_REFRESH, "UPDATE repo_history SET raw_bytes = " REPO_RAW_SUM " "          \
	                         "WHERE host_id = ?1 AND ts = "                                   \
	                         "(SELECT max(ts) FROM repo_history WHERE host_id = ?1)")         \
	X(REPO_HIST_LAST, "SELECT max(ts) FROM repo_history WHERE host_id = ?1")                  \
	X(REPO_HIST_THIN, "DELETE FROM repo_history WHERE host_id = ?1 AND ts < ?2 AND ts "       \
	                  "NOT IN (SELECT max(ts) FROM repo_history WHERE host_id = ?1 "          \
	                  "AND ts < ?2 GROUP BY ts / ?3)")                                        \
	X(REPO_HIST_LIST, "SELECT ts, size_bytes, raw_bytes, snapshot_count FROM repo_history "   \
	                  "WHERE host_id = ?1 AND ts >= ?2 ORDER BY ts")                          \
	X(REPO_LATEST, "SELECT ts, size_bytes, raw_bytes, uncompressed_bytes, "                   \
	               "compression_ratio, snapshot_count FROM repo_history "                     \
	               "WHERE host_id = ?1 ORDER BY ts DESC LIMIT 1")                             \
	X(REPO_LAST_JOB, "SELECT id, status, finished_at, stats, error FROM jobs "                \
	                 "WHERE host_id = ?1 AND kind = ?2 AND finished_at IS NOT NULL "          \
	                 "AND status IN ('succeeded','failed') "                                  \
	                 "ORDER BY finished_at DESC, id DESC LIMIT 1")                            \
	X(REPO_BACKUPS, "SELECT id, status, started_at, finished_at, stats FROM jobs "            \
	                "WHERE host_id = ?1 AND kind = 'backup' AND finished_at >= ?2 "           \
	                "AND json_valid(stats) ORDER BY finished_at DESC LIMIT ?3")               \
	/* each host's newest size before ?1 (bucket -1), then its newest per bucket of ?2 ms */  \
	X(REPO_FLEET, "SELECT host_id, b, size_bytes, t FROM ("                                   \
	              "SELECT host_id, -1 AS b, size_bytes, max(ts) AS t FROM repo_history "      \
	              "WHERE ts < ?1 GROUP BY host_id UNION ALL "                                 \
	              "SELECT host_id, (ts - ?1) / ?2 AS b, size_bytes, max(ts) AS t "            \
	              "FROM repo_history WHERE ts >= ?1 GROUP BY host_id, (ts - ?1) / ?2) "       \
	              "ORDER BY host_id, b")                                                      \
	X(JOBS_AWAITING_EXPIRE, "UPDATE jobs SET status = 'failed', awaiting_host = 0, "          \
	                        "error = ?2, finished_at = ?3 WHERE awaiting_host = 1 "           \
	                        "AND status = 'queued' AND created_at < ?1 "                      \
	                        "RETURNING id, host_id")                                          \
	/* C2 repository care (store_care.c) */                                                   \
	X(CRED_DEL, "DELETE FROM host_credentials WHERE host_id = ?1 AND slot = ?2")              \
	X(HOST_MAINT_GET, "SELECT maintenance FROM hosts WHERE id = ?1")                          \
	X(HOST_MAINT_SET, "UPDATE hosts SET maintenance = ?2 WHERE id = ?1")                      \
	X(HOST_LOCKS_SET, "UPDATE hosts SET locks = ?2, locks_at = ?3 WHERE id = ?1")             \
	X(HOST_LOCKS_GET, "SELECT locks, locks_at FROM hosts WHERE id = ?1")                      \
	X(JOB_LAST_KIND, "SELECT id, status, finished_at, stats, created_at FROM jobs "           \
	                 "WHERE host_id = ?1 AND kind = ?2 ORDER BY created_at DESC, id DESC "    \
	                 "LIMIT 1")                                                               \
	X(HOSTS_WITH_CRED, "SELECT host_id FROM host_credentials WHERE slot = ?1 "                \
	                   "ORDER BY host_id")                                                    \
	X(HOSTS_ONLINE_PEERS, "SELECT coalesce(reported_hostname, hostname), "                    \
	                      "running_job_id IS NOT NULL FROM hosts "                            \
	                      "WHERE status = 'online' AND id <> ?1 LIMIT 1000")                  \
	/* Prometheus exposition (store_metrics.c) */                                             \
	X(METRICS_HOSTS, "SELECT id, hostname, status, last_backup_status, "                      \
	                 "last_backup_finished_at, repo_size_bytes, snapshot_count, os, "         \
	                 "arch, agent_version FROM hosts WHERE deleted_at IS NULL ORDER BY id")   \
	X(METRICS_JOB_DURATIONS,                                                                  \
	  "SELECT kind, status, count(*), coalesce(sum(d), 0), sum(d <= 1000), "                  \
	  "sum(d <= 10000), sum(d <= 60000), sum(d <= 300000), sum(d <= 900000), "                \
	  "sum(d <= 1800000), sum(d <= 3600000), sum(d <= 7200000), sum(d <= 21600000), "         \
	  "sum(d <= 86400000) FROM (SELECT kind, status, "                                        \
	  "max(finished_at - started_at, 0) AS d FROM jobs "                                      \
	  "WHERE finished_at IS NOT NULL AND started_at IS NOT NULL) "                            \
	  "GROUP BY kind, status ORDER BY kind, status")                                          \
	STORE_SQL_C4(X)

#define ALERT_COLS                                                                      \
	"a.id, a.rule, a.severity, a.host_id, h.hostname, a.grp, a.state, a.title, "    \
	"a.message, a.job_id, a.count, a.first_at, a.last_at, a.acked_by, a.acked_at, " \
	"a.resolved_by, a.resolved_at, a.resolution FROM alerts a "                     \
	"LEFT JOIN hosts h ON h.id = a.host_id "
#define CHANNEL_COLS                                                            \
	"id, name, kind, enabled, config, secret_ct, min_severity, host_tags, " \
	"created_at, updated_at FROM channels "
#define DELIVERY_COLS                                                                   \
	"d.id, d.channel_id, d.alert_id, d.event, d.status, d.attempts, d.last_error, " \
	"d.payload, d.next_at, d.created_at, d.updated_at FROM deliveries d "
#define AUDIT_WHERE                                                                        \
	"FROM audit_log WHERE (?1 IS NULL OR actor = ?1) AND (?2 IS NULL OR action = ?2) " \
	"AND (?3 IS NULL OR instr(coalesce(target, ''), ?3) > 0) "                         \
	"AND (?4 IS NULL OR ts >= ?4) AND (?5 IS NULL OR ts < ?5) "
#define AUDIT_SORT_KEY                                                \
	"(CASE ?6 WHEN 'actor' THEN actor WHEN 'action' THEN action " \
	"WHEN 'target' THEN coalesce(target, '') ELSE ts END)"

/* C4 alerts, channels, deliveries, audit queries (store_alerts.c, store_channels.c) */
#define STORE_SQL_C4(X)                                                                         \
	X(RULES_GET, "SELECT rule, enabled, params FROM alert_rules ORDER BY rule")             \
	X(RULE_PUT, "INSERT INTO alert_rules(rule, enabled, params, updated_at) "               \
	            "VALUES (?1, ?2, ?3, ?4) ON CONFLICT(rule) DO UPDATE SET "                  \
	            "enabled = excluded.enabled, params = excluded.params, "                    \
	            "updated_at = excluded.updated_at")                                         \
	X(ALERT_ACTIVE, "SELECT " ALERT_COLS "WHERE a.rule = ?1 AND "                           \
	                "coalesce(a.host_id, '') = coalesce(?2, '') AND a.grp = ?3 "            \
	                "AND a.state <> 'resolved'")                                            \
	X(ALERT_JOB_SEEN, "SELECT 1 FROM alerts WHERE job_id = ?2 AND rule = ?1 LIMIT 1")       \
	X(ALERT_INSERT, "INSERT INTO alerts(id, rule, severity, host_id, grp, state, title, "   \
	                "message, job_id, count, first_at, last_at) "                           \
	                "VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?6, ?7, ?8, 1, ?9, ?9)")           \
	X(ALERT_BUMP, "UPDATE alerts SET count = count + 1, last_at = max(last_at, ?2), "       \
	              "job_id = coalesce(?3, job_id), message = ?4 WHERE id = ?1")              \
	X(ALERT_ACK, "UPDATE alerts SET state = 'acked', acked_by = ?2, acked_at = ?3 "         \
	             "WHERE id = ?1 AND state = 'open'")                                        \
	X(ALERT_RESOLVE, "UPDATE alerts SET state = 'resolved', resolved_by = ?2, "             \
	                 "resolved_at = ?3, resolution = ?4 "                                   \
	                 "WHERE id = ?1 AND state <> 'resolved'")                               \
	X(ALERT_GET, "SELECT " ALERT_COLS "WHERE a.id = ?1")                                    \
	X(ALERTS_LIST, "SELECT " ALERT_COLS "WHERE (?1 IS NULL OR a.state = ?1 OR "             \
	               "(?1 = 'active' AND a.state <> 'resolved')) "                            \
	               "AND (?2 IS NULL OR a.host_id = ?2) "                                    \
	               "ORDER BY a.last_at DESC, a.id DESC LIMIT ?3")                           \
	X(ALERTS_COUNT, "SELECT count(*) FROM alerts WHERE state = ?1")                         \
	X(ALERTS_ACTIVE_RULE, "SELECT " ALERT_COLS "WHERE a.rule = ?1 "                         \
	                      "AND a.state <> 'resolved'")                                      \
	X(ALERT_HOSTS_SILENT,                                                                   \
	  "SELECT id, hostname, last_seen_at, settings, tags FROM hosts "                       \
	  "WHERE status = 'offline' AND last_seen_at < ?1 AND deleted_at IS NULL")              \
	X(ALERT_SCHEDULE_HOSTS,                                                                 \
	  "SELECT h.id, h.hostname, h.settings, s.cron, s.created_at, "                         \
	  "(SELECT max(j.finished_at) FROM jobs j WHERE j.host_id = h.id "                      \
	  "AND j.kind = 'backup' AND j.status = 'succeeded' AND (j.schedule_id = s.id OR "      \
	  "json_extract(j.args, '$.group_id') IN (SELECT sg.group_id FROM schedule_groups sg "  \
	  "WHERE sg.schedule_id = s.id))), h.utc_offset_s, s.id "                               \
	  "FROM schedules s JOIN hosts h ON h.id = s.host_id "                                  \
	  "WHERE s.enabled = 1 ORDER BY h.id")                                                  \
	X(JOBS_FINISHED_SINCE, "SELECT id FROM jobs WHERE finished_at >= ?1 "                   \
	                       "ORDER BY finished_at, id LIMIT ?2")                             \
	X(BACKUP_STATS_RECENT, "SELECT stats FROM jobs WHERE host_id = ?1 AND kind = 'backup' " \
	                       "AND status = 'succeeded' AND id <> ?3 AND stats IS NOT NULL "   \
	                       "AND coalesce(json_extract(args, '$.group'), '') = ?2 "          \
	                       "ORDER BY finished_at DESC LIMIT ?4")                            \
	X(CHANNEL_INSERT, "INSERT INTO channels(id, name, kind, enabled, config, secret_ct, "   \
	                  "min_severity, host_tags, created_at, updated_at) "                   \
	                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)")                    \
	X(CHANNEL_UPDATE, "UPDATE channels SET name = ?2, enabled = ?3, config = ?4, "          \
	                  "secret_ct = CASE WHEN ?6 THEN ?5 ELSE secret_ct END, "               \
	                  "min_severity = ?7, host_tags = ?8, updated_at = ?9 WHERE id = ?1")   \
	X(CHANNEL_DELETE, "DELETE FROM channels WHERE id = ?1")                                 \
	X(CHANNEL_GET, "SELECT " CHANNEL_COLS "WHERE id = ?1")                                  \
	X(CHANNELS_LIST, "SELECT " CHANNEL_COLS "ORDER BY name")                                \
	X(DELIVERY_INSERT, "INSERT INTO deliveries(id, channel_id, alert_id, event, status, "   \
	                   "attempts, payload, next_at, created_at, updated_at) "               \
	                   "VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?7, ?8, ?8)")                    \
	X(DELIVERIES_DUE, "SELECT " DELIVERY_COLS "WHERE d.status = 'pending' "                 \
	                  "AND d.next_at <= ?1 AND d.channel_id NOT IN "                        \
	                  "(SELECT value FROM json_each(?3)) ORDER BY d.next_at LIMIT ?2")      \
	X(DELIVERY_SET, "UPDATE deliveries SET status = ?2, attempts = ?3, last_error = ?4, "   \
	                "next_at = ?5, updated_at = ?6 WHERE id = ?1")                          \
	X(DELIVERIES_RESET, "UPDATE deliveries SET status = 'pending', next_at = ?1 "           \
	                    "WHERE status = 'sending'")                                         \
	X(DELIVERIES_LIST, "SELECT " DELIVERY_COLS "WHERE d.channel_id = ?1 "                   \
	                   "ORDER BY d.created_at DESC, d.id DESC LIMIT ?2")                    \
	X(DELIVERIES_RECENT, "SELECT count(*) FROM deliveries WHERE channel_id = ?1 "           \
	                     "AND event = 'raised' AND created_at >= ?2")                       \
	X(DELIVERIES_HELD, "SELECT " DELIVERY_COLS "WHERE d.channel_id = ?1 "                   \
	                   "AND d.status = 'held' ORDER BY d.created_at")                       \
	X(DELIVERIES_HELD_CHANNELS, "SELECT channel_id, min(created_at) FROM deliveries "       \
	                            "WHERE status = 'held' GROUP BY channel_id")                \
	X(DELIVERIES_DIGESTED, "UPDATE deliveries SET status = 'digested', updated_at = ?2 "    \
	                       "WHERE channel_id = ?1 AND status = 'held'")                     \
	X(AUDIT_QUERY, "SELECT id, ts, actor, action, target, detail " AUDIT_WHERE              \
	               "ORDER BY CASE WHEN ?7 = 0 THEN " AUDIT_SORT_KEY " END ASC, "            \
	               "CASE WHEN ?7 = 1 THEN " AUDIT_SORT_KEY " END DESC, ts DESC, id DESC "   \
	               "LIMIT ?8 OFFSET ?9")                                                    \
	X(AUDIT_COUNT, "SELECT count(*) " AUDIT_WHERE)                                          \
	/* C6 agent updates (store_update.c) */                                                 \
	X(UPDATE_PUT, "INSERT INTO agent_updates(host_id, update_id, run_id, state, "           \
	              "from_version, target_version, error, started_at, updated_at) "           \
	              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) ON CONFLICT(host_id) DO "    \
	              "UPDATE SET update_id = ?2, run_id = ?3, state = ?4, from_version = ?5, " \
	              "target_version = ?6, error = ?7, started_at = ?8, updated_at = ?8")      \
	X(UPDATE_SET_STATE, "UPDATE agent_updates SET state = ?3, error = ?4, updated_at = ?5 " \
	                    "WHERE host_id = ?1 AND update_id = ?2")                            \
	X(UPDATE_GET, "SELECT " UPDATE_COLS "WHERE host_id = ?1")                               \
	X(UPDATES_ABANDON, "UPDATE agent_updates SET state = 'failed', error = ?2, "            \
	                   "updated_at = ?1 WHERE state IN ('pending','downloading',"           \
	                   "'verifying','restarting')")                                         \
	X(UPDATE_RUN_INSERT, "INSERT INTO update_runs(id, state, target_version, hosts, "       \
	                     "created_by, created_at) VALUES (?1, 'running', ?2, ?3, ?4, ?5)")  \
	X(UPDATE_RUN_SAVE, "UPDATE update_runs SET state = ?2, hosts = ?3, "                    \
	                   "current_host_id = ?4, halted_host_id = ?5, reason = ?6, "           \
	                   "cancel_requested = ?7, finished_at = ?8 WHERE id = ?1")             \
	X(UPDATE_RUN_GET, "SELECT " UPDATE_RUN_COLS "WHERE id = ?1")                            \
	X(UPDATE_RUNS_LIST, "SELECT " UPDATE_RUN_COLS "ORDER BY created_at DESC, id DESC "      \
	                    "LIMIT ?1")                                                         \
	X(UPDATE_RUNS_ABANDON, "UPDATE update_runs SET state = 'halted', reason = ?2, "         \
	                       "current_host_id = NULL, finished_at = ?1 "                      \
	                       "WHERE state = 'running'")

#define STORE_SQL_ENUM(name, sql) SQL_##name,
enum store_sql { STORE_SQL(STORE_SQL_ENUM) SQL__COUNT };
#undef STORE_SQL_ENUM

struct store {
	sqlite3 *db;
	char *path; /* for read-only connections on the thread pool (store_reader_open) */
	sqlite3_stmt *stmts[SQL__COUNT];
	int depth;   /* store_begin nesting (public + internal) */
	int aborted; /* the outermost transaction was rolled back; unwinding */
};

/* A read-only connection for the thread pool (store_reader_open); its statements are
 * prepared on first use from the same table. */
struct store_reader {
	sqlite3 *db;
	sqlite3_stmt *log_list;
	sqlite3_stmt *fleet;
};

/* The SQL text of a statement (for connections other than s->db). */
const char *store_sql_text(enum store_sql id);
/* Cached statement, reset and with cleared bindings; NULL (logged) if it cannot be
 * prepared. Call store_stmt_done after the last step so no read stays open. */
sqlite3_stmt *store_stmt(struct store *s, enum store_sql id);
void store_stmt_done(sqlite3_stmt *st);
/* Maps a sqlite3 result code to enum rm_err (OK/DONE/ROW -> RM_OK; UNIQUE/PK ->
 * CONFLICT; FOREIGNKEY -> NOTFOUND; CHECK/NOTNULL -> INVAL; others -> DB, logged with
 * `what`). */
int store_map_rc(struct store *s, int rc, const char *what);
/* Steps a write statement once, then store_stmt_done. */
int store_exec_stmt(struct store *s, sqlite3_stmt *st, const char *what);
/* Steps a single-row read once: RM_OK with st positioned on the row, RM_ERR_NOTFOUND
 * when there is none, else the mapped error (logged with `what`). The caller reads the
 * columns on RM_OK and calls store_stmt_done in every case. */
int store_step_row(struct store *s, sqlite3_stmt *st, const char *what);
/* store_hosts.c: the text of the one column of the row keyed by key (one text parameter)
 * into out[outsz] (out may be NULL: existence only). RM_ERR_NOTFOUND without a row or key;
 * RM_ERR_DB when the value does not fit. */
int store_lookup_text(struct store *s, enum store_sql id, const char *key, char *out, size_t outsz,
                      const char *what);
/* Steps a read to the end, one row(st) per row into a new array; NULL (logged with `what`)
 * on error. Ends the statement's use (store_stmt_done). */
json_t *store_collect_rows(struct store *s, sqlite3_stmt *st, json_t *(*row)(sqlite3_stmt *),
                           const char *what);

/* Bind helpers: NULL text binds SQL NULL. Text is bound SQLITE_STATIC: it must outlive
 * the statement's use (store_stmt_done). */
void store_bind_text(sqlite3_stmt *st, int i, const char *v);
/* Binds v's compact JSON (SQLITE_TRANSIENT), or def_text when v is NULL (def_text NULL
 * = SQL NULL). */
void store_bind_json(sqlite3_stmt *st, int i, const json_t *v, const char *def_text);

/* Column -> JSON helpers (new references). */
json_t *store_col_str(sqlite3_stmt *st, int i);  /* string | null */
json_t *store_col_int(sqlite3_stmt *st, int i);  /* integer | null */
json_t *store_col_time(sqlite3_stmt *st, int i); /* RFC 3339 string | null */
/* Parses a JSON text column; NULL or unparsable text yields def (stolen), else def is
 * released. */
json_t *store_col_json(sqlite3_stmt *st, int i, json_t *def);
/* Borrowed column text ("" for NULL). */
const char *store_col_text(sqlite3_stmt *st, int i);
/* store_hosts.c: one row of HOST_COLS as the host JSON the API shows. */
json_t *store_host_row(sqlite3_stmt *st);

/* migrations.c: brings the schema to the latest version; RM_ERR_DB if the file is newer
 * than this binary. */
int store_migrate(struct store *s);
int store_migrations_latest(void);

#endif
