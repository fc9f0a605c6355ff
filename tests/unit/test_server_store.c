/* Store: migrations, every table's contract, JSON shapes, batching speed. Each test uses a
 * fresh DB in a temp dir. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/rmtime.h"
#include "server/store/store.h"
#include "tap.h"

static char tmpdir[256];
static char dbpath[300];
static int dbn;

/* Fresh DB path for each test. */
static struct store *fresh(void)
{
	snprintf(dbpath, sizeof(dbpath), "%s/t%d.db", tmpdir, ++dbn);
	struct store *s = NULL;
	int rc = store_open(dbpath, &s);
	if (rc)
		printf("# store_open failed: %s\n", rm_strerror(rc));
	return s;
}

/* Raw SQL through a second connection (test-only poking). */
static void raw(const char *sql)
{
	sqlite3 *db;
	sqlite3_open(dbpath, &db);
	sqlite3_busy_timeout(db, 5000);
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		printf("# raw sql failed: %s\n", err);
		sqlite3_free(err);
	}
	sqlite3_close(db);
}

static long long raw_int(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	long long v = -1;
	sqlite3_open(dbpath, &db);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 1 if obj has exactly the listed keys (NULL-terminated). */
static int has_exact_keys(const json_t *obj, const char *const *keys)
{
	size_t n = 0;
	for (; keys[n]; n++)
		if (!json_object_get(obj, keys[n])) {
			printf("#   missing key %s\n", keys[n]);
			return 0;
		}
	if (json_object_size(obj) != n) {
		printf("#   %zu keys, expected %zu\n", json_object_size(obj), n);
		return 0;
	}
	return 1;
}

static void mk_host(struct store *s, const char *name, const char *bearer, char id[27])
{
	json_t *tags = json_pack("[s]", "prod");
	json_t *paths = json_pack("[s,s]", "/etc", "/home");
	int rc = store_host_create(s, name, tags, paths, bearer, id);
	if (rc)
		printf("# host create failed: %s\n", rm_strerror(rc));
	json_decref(tags);
	json_decref(paths);
}

TEST(migrations)
{
	struct store *s = fresh();
	OK(s != NULL);
	int latest = store_schema_version(s);
	OK(latest >= 1);
	EQ_INT(raw_int("SELECT count(*) FROM schema_version"), latest);
	EQ_INT(raw_int("SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN "
	               "('users','sessions','audit_log','settings','enrollment_tokens','hosts',"
	               "'host_credentials','jobs','job_logs','snapshots')"),
	       10);
	store_close(s);
	/* WAL + reopen is a no-op */
	EQ_INT(raw_int("SELECT count(*) FROM pragma_journal_mode WHERE journal_mode='wal'"), 1);
	s = NULL;
	EQ_INT(store_open(dbpath, &s), RM_OK);
	EQ_INT(store_schema_version(s), latest);
	EQ_INT(raw_int("SELECT count(*) FROM schema_version"), latest);
	store_close(s);
	/* a DB from a newer binary is refused */
	char sql[128];
	snprintf(sql, sizeof(sql), "INSERT INTO schema_version VALUES (%d, 0)", latest + 1);
	raw(sql);
	s = NULL;
	EQ_INT(store_open(dbpath, &s), RM_ERR_DB);
	OK(s == NULL);
	store_close(NULL);
}

/* The host's name (the operator's) and what its agent reported (NULL: null). */
static void check_names(struct store *s, const char *id, const char *name, const char *reported)
{
	json_t *h = store_host_get(s, id);
	EQ_STR(json_string_value(json_object_get(h, "hostname")), name);
	if (reported)
		EQ_STR(json_string_value(json_object_get(h, "reported_hostname")), reported);
	else
		OK(json_is_null(json_object_get(h, "reported_hostname")));
	json_decref(h);
}

/* A database at schema version 1 (as released) migrates forward keeping its rows. */
TEST(migration_from_v1)
{
	struct store *s = fresh();
	char a[27];
	mk_host(s, "alpha", "ba", a);
	int latest = store_schema_version(s);
	OK(latest >= 2);
	store_close(s);
	/* back to the v1 shape: undo migration 11 (C6 announce, token ids), 10 (C6 host deletion, key rotation), 9 (C2 care), 8 (C4 alerts), 7 (C3 agent_uid),
	 * 6 (SSO users), 5 (repo health), 4 (C5 people), 3 (C2 policies) and 2 (reported_hostname) */
	/* and 12 (C6 agent updates) */
	raw("DROP INDEX update_runs_created; DROP TABLE update_runs; DROP TABLE agent_updates; "
	    "DROP TABLE pending_hosts; DROP INDEX enrollment_tokens_id; "
	    "ALTER TABLE enrollment_tokens DROP COLUMN id; "
	    "DROP TABLE host_key_rotations; ALTER TABLE hosts DROP COLUMN deleted_at; "
	    "ALTER TABLE hosts DROP COLUMN maintenance; ALTER TABLE hosts DROP COLUMN locks; "
	    "ALTER TABLE hosts DROP COLUMN locks_at; "
	    "DROP TABLE deliveries; DROP TABLE channels; DROP TABLE alerts; "
	    "DROP TABLE alert_rules; ALTER TABLE hosts DROP COLUMN agent_uid; "
	    "DROP INDEX users_oidc_sub; ALTER TABLE users DROP COLUMN oidc_sub; "
	    "DROP TABLE repo_history; DROP INDEX jobs_backup_snapshot; "
	    "DROP TABLE api_tokens; DROP TABLE user_setup_tokens; DROP INDEX sessions_id; "
	    "ALTER TABLE sessions DROP COLUMN id; ALTER TABLE sessions DROP COLUMN ip; "
	    "ALTER TABLE sessions DROP COLUMN user_agent; "
	    "DROP TABLE schedule_groups; DROP TABLE schedules; DROP TABLE source_groups; "
	    "DROP INDEX jobs_schedule; ALTER TABLE jobs DROP COLUMN schedule_id; "
	    "ALTER TABLE jobs DROP COLUMN awaiting_host; "
	    "ALTER TABLE hosts DROP COLUMN schedule_version; "
	    "ALTER TABLE hosts DROP COLUMN schedule_acked_version; "
	    "ALTER TABLE hosts DROP COLUMN timezone; ALTER TABLE hosts DROP COLUMN utc_offset_s; "
	    "ALTER TABLE hosts DROP COLUMN settings; ALTER TABLE hosts DROP COLUMN next_run_at; "
	    "ALTER TABLE hosts DROP COLUMN reported_hostname; "
	    "DELETE FROM schema_version WHERE version > 1;");
	EQ_INT(raw_int("SELECT count(*) FROM pragma_table_info('hosts') "
	               "WHERE name = 'reported_hostname'"),
	       0);
	/* a token of the v1 shape gets a public id (migration 10) */
	raw("INSERT INTO enrollment_tokens(token_hash, hostname, creds_ct, expires_at, "
	    "created_at) VALUES ('0123456789abcdef0123456789abcdef', 'old', 'CT', 1, 1)");
	s = NULL;
	EQ_INT(store_open(dbpath, &s), RM_OK);
	EQ_INT(store_schema_version(s), latest);
	EQ_INT(raw_int("SELECT count(*) FROM enrollment_tokens WHERE id = "
	               "'T0123456789ABCDEF012345678'"),
	       1);
	check_names(s, a, "alpha", NULL);
	EQ_INT(store_host_hello(s, a, "alpha.lan", "linux", "amd64", "1", "0.14", 1000), RM_OK);
	check_names(s, a, "alpha", "alpha.lan");
	store_close(s);
}

TEST(settings_and_tx)
{
	struct store *s = fresh();
	char *v = NULL;
	EQ_INT(store_setting_get(s, "k", &v), RM_ERR_NOTFOUND);
	EQ_INT(store_setting_set(s, "k", "one"), RM_OK);
	EQ_INT(store_setting_set(s, "k", "two"), RM_OK);
	EQ_INT(store_setting_get(s, "k", &v), RM_OK);
	EQ_STR(v, "two");
	free(v);
	EQ_INT(store_setting_delete(s, "k"), RM_OK);
	EQ_INT(store_setting_delete(s, "k"), RM_ERR_NOTFOUND);

	/* nested: only the outermost commits; rollback of the outermost undoes all */
	EQ_INT(store_begin(s), RM_OK);
	EQ_INT(store_begin(s), RM_OK);
	EQ_INT(store_setting_set(s, "a", "1"), RM_OK);
	EQ_INT(store_commit(s), RM_OK);
	store_rollback(s);
	EQ_INT(store_setting_get(s, "a", &v), RM_ERR_NOTFOUND);
	/* inner rollback aborts everything; the outer commit reports it */
	EQ_INT(store_begin(s), RM_OK);
	EQ_INT(store_setting_set(s, "b", "1"), RM_OK);
	EQ_INT(store_begin(s), RM_OK);
	store_rollback(s);
	EQ_INT(store_commit(s), RM_ERR_DB);
	EQ_INT(store_setting_get(s, "b", &v), RM_ERR_NOTFOUND);
	/* and the store is usable again */
	EQ_INT(store_begin(s), RM_OK);
	EQ_INT(store_setting_set(s, "c", "1"), RM_OK);
	EQ_INT(store_commit(s), RM_OK);
	EQ_INT(store_setting_get(s, "c", &v), RM_OK);
	free(v);
	EQ_INT(store_commit(s), RM_ERR_INVAL);
	store_rollback(s); /* no-op at depth 0 */
	store_close(s);
}

TEST(users_sessions)
{
	struct store *s = fresh();
	long long n = -1;
	EQ_INT(store_user_count(s, &n), RM_OK);
	EQ_INT(n, 0);
	char id[27], id2[27];
	EQ_INT(store_user_create(s, "alice", "$argon2id$x", "admin", id), RM_OK);
	EQ_INT(strlen(id), 26);
	EQ_INT(store_user_create(s, "alice", "$argon2id$y", "viewer", id2), RM_ERR_CONFLICT);
	EQ_INT(store_user_create(s, "bob", "$argon2id$y", "root", id2), RM_ERR_INVAL);
	EQ_INT(store_user_create(s, "bob", "$argon2id$y", "viewer", id2), RM_OK);
	EQ_INT(store_user_count(s, &n), RM_OK);
	EQ_INT(n, 2);
	struct store_user u;
	EQ_INT(store_user_by_name(s, "alice", &u), RM_OK);
	EQ_STR(u.id, id);
	EQ_STR(u.role, "admin");
	EQ_STR(u.pw_hash, "$argon2id$x");
	EQ_INT(u.disabled, 0);
	EQ_INT(store_user_by_id(s, id2, &u), RM_OK);
	EQ_STR(u.username, "bob");
	EQ_INT(store_user_by_name(s, "carol", &u), RM_ERR_NOTFOUND);

	int64_t now = 1800000000000LL;
	EQ_INT(store_session_create(s, "h1", id, "csrf1", now + 1000), RM_OK);
	EQ_INT(store_session_create(s, "h2", id2, "csrf2", now + 1000), RM_OK);
	EQ_INT(store_session_create(s, "h3", "nouser", "csrf3", now + 1000), RM_ERR_NOTFOUND);
	struct store_session se;
	EQ_INT(store_session_get(s, "h1", now, &se), RM_OK);
	EQ_STR(se.user_id, id);
	EQ_STR(se.username, "alice");
	EQ_STR(se.role, "admin");
	EQ_STR(se.csrf_token, "csrf1");
	EQ_INT(se.expires_ms, now + 1000);
	EQ_INT(store_session_get(s, "h1", now + 1000, &se), RM_ERR_NOTFOUND); /* expired */
	EQ_INT(store_session_get(s, "nope", now, &se), RM_ERR_NOTFOUND);
	/* disabled user */
	EQ_INT(store_session_get(s, "h2", now, &se), RM_OK);
	raw("UPDATE users SET disabled = 1 WHERE username = 'bob'");
	EQ_INT(store_session_get(s, "h2", now, &se), RM_ERR_NOTFOUND);
	EQ_INT(store_user_by_name(s, "bob", &u), RM_OK);
	EQ_INT(u.disabled, 1);
	EQ_INT(store_session_delete(s, "h2"), RM_OK);
	EQ_INT(store_session_purge_expired(s, now + 1000), RM_OK);
	EQ_INT(raw_int("SELECT count(*) FROM sessions"), 0);
	store_close(s);
}

/* C5: user administration, setup links, sessions by id, API tokens. */
TEST(people)
{
	struct store *s = fresh();
	char a[27], b[27], tid[27];
	EQ_INT(store_user_create(s, "root", "$argon2id$x", "admin", a), RM_OK);
	EQ_INT(store_user_create(s, "newbie", "", "viewer", b), RM_OK);
	json_t *l = store_users_list(s);
	json_t *users = json_object_get(l, "users");
	EQ_INT(json_array_size(users), 2);
	json_t *nb = json_array_get(users, 0);
	EQ_STR(json_string_value(json_object_get(nb, "username")), "newbie");
	OK(json_is_true(json_object_get(nb, "setup_pending")));
	EQ_STR(json_string_value(json_object_get(nb, "source")), "local");
	json_decref(l);
	long long n = -1;
	EQ_INT(store_admins_enabled_except(s, a, &n), RM_OK);
	EQ_INT(n, 0);
	EQ_INT(store_admins_enabled_except(s, b, &n), RM_OK);
	EQ_INT(n, 1);
	EQ_INT(store_user_set_role(s, b, "boss"), RM_ERR_INVAL);
	EQ_INT(store_user_set_role(s, "nope", "viewer"), RM_ERR_NOTFOUND);
	EQ_INT(store_user_set_role(s, b, "admin"), RM_OK);
	EQ_INT(store_admins_enabled_except(s, a, &n), RM_OK);
	EQ_INT(n, 1);
	EQ_INT(store_user_set_disabled(s, b, 1), RM_OK);
	EQ_INT(store_admins_enabled_except(s, a, &n), RM_OK);
	EQ_INT(n, 0);

	/* setup links: one per user, single use, expire */
	int64_t now = 1800000000000LL, exp = 0;
	char uid[27];
	EQ_INT(store_setup_token_put(s, b, "s1", now + 1000), RM_OK);
	EQ_INT(store_setup_token_peek(s, "s1", now, uid, &exp), RM_ERR_NOTFOUND); /* disabled */
	EQ_INT(store_user_set_disabled(s, b, 0), RM_OK);
	EQ_INT(store_setup_token_peek(s, "s1", now, uid, &exp), RM_OK);
	EQ_STR(uid, b);
	EQ_INT(exp, now + 1000);
	EQ_INT(store_setup_token_put(s, b, "s2", now + 1000), RM_OK); /* replaces s1 */
	EQ_INT(store_setup_token_peek(s, "s1", now, uid, NULL), RM_ERR_NOTFOUND);
	EQ_INT(store_setup_token_consume(s, "s2", now + 1000, uid), RM_ERR_NOTFOUND); /* expired */
	EQ_INT(store_setup_token_consume(s, "s2", now, uid), RM_OK);
	EQ_STR(uid, b);
	EQ_INT(store_setup_token_consume(s, "s2", now, uid), RM_ERR_NOTFOUND);
	EQ_INT(store_user_set_password(s, b, "$argon2id$new"), RM_OK);
	EQ_INT(store_setup_token_put(s, b, "s3", now - 1), RM_OK);
	EQ_INT(store_setup_tokens_purge(s, now), RM_OK);
	EQ_INT(raw_int("SELECT count(*) FROM user_setup_tokens"), 0);

	/* sessions by public id */
	int64_t t = rm_now_ms();
	EQ_INT(store_session_create(s, "ha", b, "c1", t + 60000), RM_OK);
	EQ_INT(store_session_create(s, "hb", b, "c2", t + 60000), RM_OK);
	EQ_INT(store_session_note_client(s, "ha", "10.1.2.3", "curl/8"), RM_OK);
	json_t *ss = store_user_sessions(s, b, "ha", t);
	json_t *arr = json_object_get(ss, "sessions");
	EQ_INT(json_array_size(arr), 2);
	const char *other = NULL;
	for (size_t i = 0; i < 2; i++) {
		json_t *e = json_array_get(arr, i);
		EQ_INT(strlen(json_string_value(json_object_get(e, "id"))), 32);
		OK(!json_object_get(e, "token_hash"));
		if (json_is_true(json_object_get(e, "current")))
			EQ_STR(json_string_value(json_object_get(e, "ip")), "10.1.2.3");
		else
			other = json_string_value(json_object_get(e, "id"));
	}
	OK(other != NULL);
	EQ_INT(store_session_delete_id(s, a, other), RM_ERR_NOTFOUND); /* not root's */
	EQ_INT(store_session_delete_id(s, b, other), RM_OK);
	json_decref(ss);
	EQ_INT(store_session_create(s, "hc", b, "c3", t + 60000), RM_OK);
	EQ_INT(store_user_sessions_end(s, b, "ha"), RM_OK);
	EQ_INT(raw_int("SELECT count(*) FROM sessions"), 1);
	EQ_INT(store_user_sessions_end(s, b, NULL), RM_OK);
	EQ_INT(raw_int("SELECT count(*) FROM sessions"), 0);

	/* tokens: delete cascades with the user */
	EQ_INT(store_token_create(s, b, "ci", "th", "superuser", t + 1000, tid), RM_ERR_INVAL);
	EQ_INT(store_token_create(s, b, "ci", "th", NULL, t + 1000, tid), RM_OK);
	EQ_INT(store_token_create(s, b, "ci2", "th", NULL, t + 1000, tid), RM_ERR_CONFLICT);
	EQ_INT(store_token_delete(s, a, tid), RM_ERR_NOTFOUND);
	EQ_INT(store_session_create(s, "hd", b, "c4", t + 60000), RM_OK);
	EQ_INT(store_user_delete(s, b), RM_OK);
	EQ_INT(store_user_delete(s, b), RM_ERR_NOTFOUND);
	EQ_INT(raw_int("SELECT count(*) FROM api_tokens"), 0);
	EQ_INT(raw_int("SELECT count(*) FROM sessions"), 0);
	OK(store_user_json(s, b) == NULL);
	store_close(s);
}

TEST(enrollment)
{
	struct store *s = fresh();
	int64_t now = rm_now_ms();
	json_t *tags = json_pack("[s]", "web");
	json_t *paths = json_pack("[s]", "/srv");
	EQ_INT(store_enroll_create(s, "tok1", "web1", tags, paths, "CT1", now + 3600000, "alice"),
	       RM_OK);
	EQ_INT(store_enroll_create(s, "tok2", "web2", NULL, NULL, "CT2", now - 1, "alice"), RM_OK);
	EQ_INT(store_enroll_create(s, "tok1", "web1", tags, paths, "CT1", now, "alice"),
	       RM_ERR_CONFLICT);
	struct store_enroll e;
	EQ_INT(store_enroll_get(s, "tok1", &e), RM_OK);
	EQ_STR(e.hostname, "web1");
	EQ_STR(e.tags_json, "[\"web\"]");
	EQ_STR(e.initial_paths_json, "[\"/srv\"]");
	EQ_STR(e.creds_ct, "CT1");
	EQ_INT(e.used_ms, 0);
	EQ_INT(e.expires_ms, now + 3600000);
	store_enroll_cleanup(&e);
	EQ_INT(store_enroll_get(s, "nope", &e), RM_ERR_NOTFOUND);

	char hid[27];
	mk_host(s, "web1", "bearer1", hid);
	EQ_INT(store_enroll_consume(s, "tok1", hid, now), RM_OK);
	EQ_INT(store_enroll_consume(s, "tok1", hid, now), RM_ERR_CONFLICT);
	EQ_INT(store_enroll_consume(s, "tok2", hid, now), RM_ERR_EXPIRED);
	EQ_INT(store_enroll_consume(s, "nope", hid, now), RM_ERR_NOTFOUND);
	EQ_INT(store_enroll_get(s, "tok1", &e), RM_OK);
	EQ_INT(e.used_ms, now);
	EQ_STR(e.host_id, hid);
	store_enroll_cleanup(&e);
	store_enroll_cleanup(&e); /* idempotent */
	json_decref(tags);
	json_decref(paths);
	store_close(s);
}

TEST(hosts)
{
	struct store *s = fresh();
	char a[27], b[27], x[27];
	mk_host(s, "alpha", "ba", a);
	mk_host(s, "beta", "bb", b);
	EQ_INT(store_host_create(s, "dup", NULL, NULL, "ba", x), RM_ERR_CONFLICT);
	EQ_INT(store_host_by_bearer(s, "bb", x), RM_OK);
	EQ_STR(x, b);
	EQ_INT(store_host_by_bearer(s, "zz", x), RM_ERR_NOTFOUND);
	EQ_INT(store_host_exists(s, a), RM_OK);
	EQ_INT(store_host_exists(s, "nope"), RM_ERR_NOTFOUND);

	json_t *h = store_host_get(s, a);
	OK(h != NULL);
	EQ_STR(json_string_value(json_object_get(h, "status")), "never");
	OK(json_is_null(json_object_get(h, "last_seen_at")));
	EQ_STR(json_string_value(json_object_get(h, "repo_status")), "unknown");
	OK(json_is_null(json_object_get(h, "repo_size_bytes")));
	EQ_INT(json_array_size(json_object_get(h, "initial_paths")), 2);
	json_decref(h);
	OK(store_host_get(s, "nope") == NULL);

	EQ_INT(store_host_hello(s, a, "alpha.example", "linux", "amd64", "1.0.0", "0.14.0", 1000),
	       RM_OK);
	EQ_INT(store_host_hello(s, b, NULL, "linux", "arm64", "1.0.0", "", 5000), RM_OK);
	EQ_INT(store_host_hello(s, "nope", "x", "linux", "amd64", "1", "1", 1), RM_ERR_NOTFOUND);
	h = store_host_get(s, a);
	/* the name is the operator's: hello only records what the agent reported */
	EQ_STR(json_string_value(json_object_get(h, "hostname")), "alpha");
	EQ_STR(json_string_value(json_object_get(h, "reported_hostname")), "alpha.example");
	EQ_STR(json_string_value(json_object_get(h, "status")), "online");
	EQ_STR(json_string_value(json_object_get(h, "os")), "linux");
	EQ_STR(json_string_value(json_object_get(h, "restic_version")), "0.14.0");
	EQ_STR(json_string_value(json_object_get(h, "last_seen_at")), "1970-01-01T00:00:01.000Z");
	json_decref(h);
	check_names(s, b, "beta", NULL);
	/* an agent reporting another host's name renames nothing */
	EQ_INT(store_host_hello(s, b, "alpha", "linux", "arm64", "1.0.0", "", 5000), RM_OK);
	check_names(s, b, "beta", "alpha");

	EQ_INT(store_host_seen(s, b, 9000), RM_OK);
	EQ_INT(store_host_seen(s, "nope", 9000), RM_ERR_NOTFOUND);
	json_t *ids = json_array();
	EQ_INT(store_hosts_mark_stale_offline(s, 8000, ids), RM_OK);
	EQ_INT(json_array_size(ids), 1);
	EQ_STR(json_string_value(json_array_get(ids, 0)), a);
	EQ_INT(store_hosts_mark_stale_offline(s, 8000, NULL), RM_OK); /* already offline */
	json_decref(ids);
	h = store_host_get(s, a);
	EQ_STR(json_string_value(json_object_get(h, "status")), "offline");
	json_decref(h);
	EQ_INT(store_host_set_status(s, a, "online", 10000), RM_OK);
	EQ_INT(store_host_set_status(s, a, "bogus", 10000), RM_ERR_INVAL);
	EQ_INT(store_host_set_status(s, b, "offline", 10000), RM_OK);
	h = store_host_get(s, b);
	EQ_STR(json_string_value(json_object_get(h, "status")), "offline");
	EQ_STR(json_string_value(json_object_get(h, "last_seen_at")), "1970-01-01T00:00:09.000Z");
	json_decref(h);

	char rs[16];
	EQ_INT(store_host_repo_status(s, a, rs), RM_OK);
	EQ_STR(rs, "unknown");
	EQ_INT(store_host_set_repo_status(s, a, "init_failed", "permission denied"), RM_OK);
	h = store_host_get(s, a);
	EQ_STR(json_string_value(json_object_get(h, "repo_error")), "permission denied");
	json_decref(h);
	EQ_INT(store_host_set_repo_status(s, a, "ready", NULL), RM_OK);
	EQ_INT(store_host_set_repo_status(s, a, "weird", NULL), RM_ERR_INVAL);
	EQ_INT(store_host_repo_status(s, a, rs), RM_OK);
	EQ_STR(rs, "ready");
	EQ_INT(store_host_set_repo_stats(s, a, 123456, 7), RM_OK);
	h = store_host_get(s, a);
	OK(json_is_null(json_object_get(h, "repo_error")));
	EQ_INT(json_integer_value(json_object_get(h, "repo_size_bytes")), 123456);
	EQ_INT(json_integer_value(json_object_get(h, "snapshot_count")), 7);
	json_decref(h);

	/* credentials */
	char *ct = NULL;
	EQ_INT(store_cred_get(s, a, "repo", &ct), RM_ERR_NOTFOUND);
	EQ_INT(store_cred_put(s, a, "repo", "CT-A"), RM_OK);
	EQ_INT(store_cred_put(s, a, "repo", "CT-B"), RM_OK);
	EQ_INT(store_cred_put(s, a, "other", "CT"), RM_ERR_INVAL);
	EQ_INT(store_cred_put(s, "nope", "repo", "CT"), RM_ERR_NOTFOUND);
	EQ_INT(store_cred_get(s, a, "repo", &ct), RM_OK);
	EQ_STR(ct, "CT-B");
	free(ct);
	store_close(s);
}

TEST(jobs_lifecycle)
{
	struct store *s = fresh();
	char h[27], j1[27], j2[27], j3[27], j4[27];
	mk_host(s, "alpha", "ba", h);
	EQ_INT(store_host_hello(s, h, "alpha", "linux", "amd64", "1", "0.14", 1000), RM_OK);
	json_t *args = json_pack("{s:[s]}", "paths", "/etc");
	EQ_INT(store_job_create(s, "nope", "backup", args, "alice", j1), RM_ERR_NOTFOUND);
	EQ_INT(store_job_create(s, h, "backup", args, "alice", j1), RM_OK);
	int active = -1;
	EQ_INT(store_job_active_of_kind(s, h, "backup", &active), RM_OK);
	EQ_INT(active, 1);
	EQ_INT(store_job_active_of_kind(s, h, "init", &active), RM_OK);
	EQ_INT(active, 0);

	json_t *j = store_job_get(s, j1);
	static const char *const job_keys[] = { "id",         "host_id",    "hostname",
		                                "kind",       "status",     "args",
		                                "exit_code",  "error",      "stats",
		                                "created_at", "started_at", "finished_at",
		                                "created_by", "log_lines",  NULL };
	OK(has_exact_keys(j, job_keys));
	EQ_STR(json_string_value(json_object_get(j, "status")), "queued");
	EQ_STR(json_string_value(json_object_get(j, "hostname")), "alpha");
	OK(json_equal(json_object_get(j, "args"), args));
	OK(json_is_null(json_object_get(j, "exit_code")));
	OK(json_is_null(json_object_get(j, "stats")));
	OK(json_is_null(json_object_get(j, "started_at")));
	json_decref(j);

	EQ_INT(store_job_set_running(s, j1, 2000), RM_OK);
	EQ_INT(store_job_set_running(s, j1, 2500), RM_OK); /* no-op */
	EQ_INT(store_job_set_running(s, "nope", 2500), RM_ERR_NOTFOUND);
	json_t *stats = json_pack("{s:i,s:s}", "files_new", 3, "snapshot_id", "abcd");
	EQ_INT(store_job_finish(s, j1, "succeeded", 0, NULL, stats, 3000), RM_OK);
	EQ_INT(store_job_set_running(s, j1, 3500), RM_ERR_CONFLICT);
	EQ_INT(store_job_finish(s, j1, "running", 0, NULL, NULL, 3000), RM_ERR_INVAL);
	EQ_INT(store_job_finish(s, "nope", "failed", 1, NULL, NULL, 3000), RM_ERR_NOTFOUND);
	j = store_job_get(s, j1);
	EQ_STR(json_string_value(json_object_get(j, "status")), "succeeded");
	EQ_INT(json_integer_value(json_object_get(j, "exit_code")), 0);
	OK(json_equal(json_object_get(j, "stats"), stats));
	EQ_STR(json_string_value(json_object_get(j, "started_at")), "1970-01-01T00:00:02.000Z");
	EQ_STR(json_string_value(json_object_get(j, "finished_at")), "1970-01-01T00:00:03.000Z");
	json_decref(j);
	char hid[27];
	EQ_INT(store_job_host(s, j1, hid), RM_OK);
	EQ_STR(hid, h);

	/* fail_unknown: j2 is kept (the agent still runs it), j3 failed */
	EQ_INT(store_job_create(s, h, "backup", args, "alice", j2), RM_OK);
	EQ_INT(store_job_create(s, h, "init", NULL, "system", j3), RM_OK);
	EQ_INT(store_job_set_running(s, j2, 4000), RM_OK);
	json_t *keep = json_pack("[s,s]", j2, "someone-else");
	json_t *failed = json_array();
	EQ_INT(store_jobs_fail_unknown(s, h, keep, "agent restarted", 5000, failed), RM_OK);
	EQ_INT(json_array_size(failed), 1);
	EQ_STR(json_string_value(json_array_get(failed, 0)), j3);
	j = store_job_get(s, j3);
	EQ_STR(json_string_value(json_object_get(j, "status")), "failed");
	EQ_STR(json_string_value(json_object_get(j, "error")), "agent restarted");
	OK(json_is_object(json_object_get(j, "args")));
	json_decref(j);
	json_decref(keep);
	json_decref(failed);

	/* fail_lost: host offline since 1000 */
	EQ_INT(store_host_set_status(s, h, "offline", 6000), RM_OK);
	failed = json_array();
	EQ_INT(store_jobs_fail_lost(s, 900, "agent lost", 7000, failed), RM_OK); /* not yet */
	EQ_INT(json_array_size(failed), 0);
	EQ_INT(store_jobs_fail_lost(s, 1001, "agent lost", 7000, failed), RM_OK);
	EQ_INT(json_array_size(failed), 1);
	EQ_STR(json_string_value(json_array_get(failed, 0)), j2);
	json_decref(failed);
	j = store_job_get(s, j2);
	EQ_STR(json_string_value(json_object_get(j, "status")), "failed");
	EQ_STR(json_string_value(json_object_get(j, "error")), "agent lost");
	json_decref(j);
	/* ... and the agent's late job.finished wins */
	EQ_INT(store_job_finish(s, j2, "succeeded", 3, NULL, stats, 8000), RM_OK);
	j = store_job_get(s, j2);
	EQ_STR(json_string_value(json_object_get(j, "status")), "succeeded");
	OK(json_is_null(json_object_get(j, "error")));
	EQ_INT(json_integer_value(json_object_get(j, "exit_code")), 3);
	json_decref(j);

	/* list: newest first, host filter, limit */
	EQ_INT(store_job_create(s, h, "backup", NULL, NULL, j4), RM_OK);
	json_t *l = store_jobs_list(s, NULL, 50);
	EQ_INT(json_array_size(json_object_get(l, "jobs")), 4);
	EQ_STR(
	    json_string_value(json_object_get(json_array_get(json_object_get(l, "jobs"), 0), "id")),
	    j4);
	OK(json_is_null(
	    json_object_get(json_array_get(json_object_get(l, "jobs"), 0), "created_by")));
	json_decref(l);
	l = store_jobs_list(s, h, 2);
	EQ_INT(json_array_size(json_object_get(l, "jobs")), 2);
	json_decref(l);
	l = store_jobs_list(s, "other", 0);
	EQ_INT(json_array_size(json_object_get(l, "jobs")), 0);
	json_decref(l);
	json_decref(args);
	json_decref(stats);
	store_close(s);
}

TEST(logs)
{
	struct store *s = fresh();
	char h[27], j[27];
	mk_host(s, "alpha", "ba", h);
	EQ_INT(store_job_create(s, h, "backup", NULL, "alice", j), RM_OK);
	struct store_log_line lines[20];
	char payload[20][32];
	for (int i = 0; i < 20; i++) {
		snprintf(payload[i], sizeof(payload[i]), "line %d", i + 1);
		lines[i] = (struct store_log_line){ .seq = i + 1,
			                            .ts_ms = 1000 + i,
			                            .stream = i % 2 ? "stderr" : "stdout",
			                            .payload = payload[i] };
	}
	size_t ins = 99;
	EQ_INT(store_log_append(s, j, lines, 10, &ins), RM_OK);
	EQ_INT(ins, 10);
	EQ_INT(store_log_append(s, j, lines + 4, 11, &ins), RM_OK); /* seq 5..15: 5 new */
	EQ_INT(ins, 5);
	EQ_INT(store_log_append(s, j, lines, 15, &ins), RM_OK);
	EQ_INT(ins, 0);
	EQ_INT(store_log_append(s, "nope", lines, 1, &ins), RM_ERR_NOTFOUND);
	struct store_log_line bad = { .seq = 50, .ts_ms = 1, .stream = "stdin", .payload = "x" };
	EQ_INT(store_log_append(s, j, &bad, 1, &ins), RM_ERR_INVAL);
	/* inside a caller's batch, a failing append does not abort the batch */
	EQ_INT(store_begin(s), RM_OK);
	EQ_INT(store_log_append(s, j, lines + 15, 1, NULL), RM_OK);
	EQ_INT(store_log_append(s, "nope", lines, 1, NULL), RM_ERR_NOTFOUND);
	EQ_INT(store_commit(s), RM_OK);

	json_t *jo = store_job_get(s, j);
	EQ_INT(json_integer_value(json_object_get(jo, "log_lines")), 16);
	json_decref(jo);
	json_t *l = store_log_list(s, j, 0, 1000);
	EQ_INT(json_array_size(l), 16);
	json_t *first = json_array_get(l, 0);
	static const char *const line_keys[] = { "seq", "ts", "stream", "payload", NULL };
	OK(has_exact_keys(first, line_keys));
	EQ_INT(json_integer_value(json_object_get(first, "seq")), 1);
	EQ_STR(json_string_value(json_object_get(first, "ts")), "1970-01-01T00:00:01.000Z");
	EQ_STR(json_string_value(json_object_get(first, "stream")), "stdout");
	EQ_STR(json_string_value(json_object_get(first, "payload")), "line 1");
	json_decref(l);
	l = store_log_list(s, j, 10, 3);
	EQ_INT(json_array_size(l), 3);
	EQ_INT(json_integer_value(json_object_get(json_array_get(l, 0), "seq")), 11);
	json_decref(l);

	/* invalid UTF-8 in the DB still yields valid JSON */
	raw("INSERT INTO job_logs VALUES ((SELECT id FROM jobs), 100, 0, 'stdout', "
	    "CAST(X'61FF62' AS TEXT))");
	l = store_log_list(s, j, 99, 10);
	EQ_STR(json_string_value(json_object_get(json_array_get(l, 0), "payload")), "a?b");
	json_decref(l);
	store_close(s);
}

TEST(log_rate)
{
	struct store *s = fresh();
	char h[27], j[27];
	mk_host(s, "alpha", "ba", h);
	EQ_INT(store_job_create(s, h, "backup", NULL, "alice", j), RM_OK);
	enum { TOTAL = 100000, BATCH = 1000 };
	static struct store_log_line lines[BATCH];
	const char *payload = "[0:01] 12.34%  1234 files 1.234 GiB, total 5678 files 9.876 GiB";
	double t0 = now_s();
	int rc = RM_OK;
	for (int b = 0; b < TOTAL / BATCH && !rc; b++) {
		for (int i = 0; i < BATCH; i++)
			lines[i] = (struct store_log_line){ .seq = (long long)b * BATCH + i + 1,
				                            .ts_ms = 1000 + b,
				                            .stream = "stdout",
				                            .payload = payload };
		rc = store_begin(s);
		size_t ins = 0;
		if (!rc)
			rc = store_log_append(s, j, lines, BATCH, &ins);
		if (!rc)
			rc = store_commit(s);
		if (!rc && ins != BATCH)
			rc = RM_ERR_DB;
	}
	double dt = now_s() - t0;
	EQ_INT(rc, RM_OK);
	printf("# log append: %d lines in %.3f s = %.0f lines/s\n", TOTAL, dt, TOTAL / dt);
	EQ_INT(raw_int("SELECT count(*) FROM job_logs"), TOTAL);
	store_close(s);
}

TEST(snapshots)
{
	struct store *s = fresh();
	char h[27];
	mk_host(s, "alpha", "ba", h);
	json_t *l = store_snapshots_list(s, h);
	EQ_INT(json_array_size(json_object_get(l, "snapshots")), 0);
	OK(json_is_null(json_object_get(l, "refreshed_at")));
	json_decref(l);

	json_t *snaps =
	    json_pack("[{s:s,s:s,s:s,s:s,s:[s],s:[s],s:I,s:I},"
	              " {s:s,s:s,s:s,s:s,s:[s],s:[]},"
	              " {s:s,s:s,s:s}]",
	              "id", "aaaa1111", "short_id", "aaaa", "time", "2026-01-01T10:00:00.5+01:00",
	              "hostname", "alpha", "paths", "/etc", "tags", "daily", "size_bytes",
	              (json_int_t)4096, "file_count", (json_int_t)12, "id", "bbbb2222", "short_id",
	              "bbbb", "time", "2026-01-02T00:00:00Z", "hostname", "alpha", "paths", "/home",
	              "tags", "id", "cccc3333", "short_id", "cccc", "time", "2025-12-31T00:00:00Z");
	EQ_INT(store_snapshots_replace(s, h, snaps, 5000), RM_OK);
	EQ_INT(store_snapshots_replace(s, "nope", snaps, 5000), RM_ERR_NOTFOUND);
	l = store_snapshots_list(s, h);
	json_t *arr = json_object_get(l, "snapshots");
	EQ_INT(json_array_size(arr), 3);
	EQ_STR(json_string_value(json_object_get(l, "refreshed_at")), "1970-01-01T00:00:05.000Z");
	json_t *s0 = json_array_get(arr, 0), *s1 = json_array_get(arr, 1);
	static const char *const snap_keys[] = { "id",         "short_id",   "time",
		                                 "hostname",   "paths",      "tags",
		                                 "size_bytes", "file_count", "size_source",
		                                 NULL };
	OK(has_exact_keys(s0, snap_keys));
	EQ_STR(json_string_value(json_object_get(s0, "id")), "bbbb2222"); /* newest first */
	OK(json_is_null(json_object_get(s0, "size_bytes")));
	EQ_STR(json_string_value(json_object_get(s1, "time")), "2026-01-01T09:00:00.500Z");
	EQ_INT(json_integer_value(json_object_get(s1, "size_bytes")), 4096);
	EQ_INT(json_integer_value(json_object_get(s1, "file_count")), 12);
	EQ_STR(json_string_value(json_object_get(s1, "size_source")), "snapshot");
	OK(json_is_null(json_object_get(s0, "size_source")));
	EQ_STR(json_string_value(json_array_get(json_object_get(s1, "tags"), 0)), "daily");
	json_decref(l);
	json_t *hj = store_host_get(s, h);
	EQ_INT(json_integer_value(json_object_get(hj, "snapshot_count")), 3);
	json_decref(hj);

	/* a smaller list removes the old rows */
	json_t *one = json_pack("[{s:s,s:s,s:s}]", "id", "dddd4444", "short_id", "dddd", "time",
	                        "2026-02-01T00:00:00Z");
	EQ_INT(store_snapshots_replace(s, h, one, 6000), RM_OK);
	l = store_snapshots_list(s, h);
	EQ_INT(json_array_size(json_object_get(l, "snapshots")), 1);
	EQ_STR(json_string_value(
	           json_object_get(json_array_get(json_object_get(l, "snapshots"), 0), "id")),
	       "dddd4444");
	json_decref(l);
	/* atomic: a replace inside a rolled-back batch leaves the old projection */
	EQ_INT(store_begin(s), RM_OK);
	EQ_INT(store_snapshots_replace(s, h, snaps, 7000), RM_OK);
	store_rollback(s);
	l = store_snapshots_list(s, h);
	EQ_INT(json_array_size(json_object_get(l, "snapshots")), 1);
	EQ_STR(json_string_value(json_object_get(l, "refreshed_at")), "1970-01-01T00:00:06.000Z");
	json_decref(l);
	json_decref(one);
	json_decref(snaps);
	store_close(s);
}

TEST(hosts_list_shape_and_summary)
{
	struct store *s = fresh();
	char a[27], b[27], j1[27], j2[27], j3[27], j4[27];
	mk_host(s, "zeta", "bz", a);
	mk_host(s, "alpha", "ba", b);
	int64_t now = rm_now_ms();
	EQ_INT(store_host_hello(s, a, NULL, "linux", "amd64", "1.0", "0.14", now), RM_OK);
	EQ_INT(store_job_create(s, a, "backup", NULL, "alice", j1), RM_OK);
	EQ_INT(store_job_finish(s, j1, "failed", 1, "boom", NULL, now - 2000), RM_OK);
	EQ_INT(store_job_create(s, a, "backup", NULL, "alice", j2), RM_OK);
	EQ_INT(store_job_finish(s, j2, "succeeded", 0, NULL, NULL, now - 1000), RM_OK);
	EQ_INT(store_job_create(s, a, "init", NULL, "system", j3), RM_OK);
	EQ_INT(store_job_finish(s, j3, "succeeded", 0, NULL, NULL, now), RM_OK); /* not a backup */
	EQ_INT(store_job_create(s, a, "backup", NULL, "alice", j4), RM_OK);
	EQ_INT(store_job_set_running(s, j4, now), RM_OK);
	EQ_INT(store_host_set_repo_stats(s, a, 1000, 4), RM_OK);
	EQ_INT(store_host_set_repo_stats(s, b, 500, 2), RM_OK);

	json_t *l = store_hosts_list(s);
	json_t *hosts = json_object_get(l, "hosts");
	EQ_INT(json_array_size(hosts), 2);
	json_t *h0 = json_array_get(hosts, 0), *h1 = json_array_get(hosts, 1);
	static const char *const host_keys[] = { "id",
		                                 "hostname",
		                                 "tags",
		                                 "os",
		                                 "arch",
		                                 "agent_version",
		                                 "restic_version",
		                                 "status",
		                                 "last_seen_at",
		                                 "repo_status",
		                                 "repo_error",
		                                 "repo_size_bytes",
		                                 "snapshot_count",
		                                 "initial_paths",
		                                 "created_at",
		                                 "last_backup",
		                                 "running_job",
		                                 "reported_hostname",
		                                 "schedule_version",
		                                 "schedule_acked_version",
		                                 "schedule_in_sync",
		                                 "timezone",
		                                 "settings",
		                                 "next_run",
		                                 "utc_offset_s",
		                                 "agent_uid",
		                                 "last_drill_ok_at",
		                                 "last_drill",
		                                 "last_drill_created_at",
		                                 "hostname_mismatch",
		                                 "mode",
		                                 "deleted_at",
		                                 NULL };
	OK(has_exact_keys(h0, host_keys));
	OK(json_is_null(json_object_get(h0, "last_drill_ok_at"))); /* C3: never drilled */
	OK(json_is_null(json_object_get(h0, "agent_uid")));        /* not reported */
	OK(json_is_null(json_object_get(h0, "last_drill")));
	OK(has_exact_keys(h1, host_keys));
	EQ_STR(json_string_value(json_object_get(h0, "hostname")), "alpha"); /* by hostname */
	OK(json_is_null(json_object_get(h0, "last_backup")));
	OK(json_is_null(json_object_get(h0, "running_job")));
	EQ_STR(json_string_value(json_object_get(h0, "status")), "never");
	EQ_STR(json_string_value(json_array_get(json_object_get(h0, "tags"), 0)), "prod");
	json_t *lb = json_object_get(h1, "last_backup");
	static const char *const lb_keys[] = { "job_id", "status", "finished_at", NULL };
	OK(has_exact_keys(lb, lb_keys));
	EQ_STR(json_string_value(json_object_get(lb, "job_id")), j2);
	EQ_STR(json_string_value(json_object_get(lb, "status")), "succeeded");
	json_t *rj = json_object_get(h1, "running_job");
	static const char *const rj_keys[] = { "id", "kind", "status", NULL };
	OK(has_exact_keys(rj, rj_keys));
	EQ_STR(json_string_value(json_object_get(rj, "id")), j4);
	EQ_STR(json_string_value(json_object_get(rj, "status")), "running");
	json_t *single = store_host_get(s, a);
	OK(json_equal(single, h1));
	json_decref(single);
	json_decref(l);
	/* the projection follows job transitions */
	EQ_INT(store_job_finish(s, j4, "failed", 1, "x", NULL, now + 1), RM_OK);
	single = store_host_get(s, a);
	OK(json_is_null(json_object_get(single, "running_job")));
	EQ_STR(json_string_value(json_object_get(json_object_get(single, "last_backup"), "job_id")),
	       j4);
	json_decref(single);
	EQ_INT(store_job_finish(s, j4, "succeeded", 0, NULL, NULL, now + 2), RM_OK); /* late */
	single = store_host_get(s, a);
	EQ_STR(json_string_value(json_object_get(json_object_get(single, "last_backup"), "status")),
	       "succeeded");
	json_decref(single);

	json_t *f = store_fleet_summary(s, now);
	static const char *const f_keys[] = { "hosts_total",        "hosts_online",
		                              "jobs_24h_succeeded", "jobs_24h_failed",
		                              "jobs_running",       "repo_bytes_total",
		                              "snapshots_total",    NULL };
	OK(has_exact_keys(f, f_keys));
	EQ_INT(json_integer_value(json_object_get(f, "hosts_total")), 2);
	EQ_INT(json_integer_value(json_object_get(f, "hosts_online")), 1);
	EQ_INT(json_integer_value(json_object_get(f, "jobs_24h_succeeded")), 3);
	EQ_INT(json_integer_value(json_object_get(f, "jobs_24h_failed")), 1);
	EQ_INT(json_integer_value(json_object_get(f, "jobs_running")), 0);
	EQ_INT(json_integer_value(json_object_get(f, "repo_bytes_total")), 1500);
	EQ_INT(json_integer_value(json_object_get(f, "snapshots_total")), 6);
	json_decref(f);
	f = store_fleet_summary(s, now + 25LL * 3600 * 1000);
	EQ_INT(json_integer_value(json_object_get(f, "jobs_24h_succeeded")), 0);
	json_decref(f);
	store_close(s);
}

/* C3: "last proven restorable" and the drill cadence candidates come from drill jobs */
TEST(drill_projection)
{
	struct store *s = fresh();
	char a[27], b[27], j1[RM_ULID_BUF], j2[RM_ULID_BUF], j3[RM_ULID_BUF];
	mk_host(s, "alpha", "ba", a);
	mk_host(s, "beta", "bb", b);
	EQ_INT(store_host_set_status(s, a, "online", 1000), RM_OK);
	json_t *c = store_drill_candidates(s);
	EQ_INT(json_array_size(c), 1); /* only online hosts */
	EQ_STR(json_string_value(json_object_get(json_array_get(c, 0), "id")), a);
	OK(json_integer_value(json_object_get(json_array_get(c, 0), "last_drill_created_ms")) > 0);
	json_decref(c);
	EQ_INT(store_job_create(s, a, "drill", NULL, "system:drill", j1), RM_OK);
	EQ_INT(store_job_finish(s, j1, "succeeded", 0, NULL, NULL, 5000), RM_OK);
	EQ_INT(store_job_create(s, a, "drill", NULL, "system:drill", j2), RM_OK);
	EQ_INT(store_job_finish(s, j2, "failed", 1, "mismatch", NULL, 9000), RM_OK);
	EQ_INT(store_job_create(s, a, "backup", NULL, "alice", j3), RM_OK);
	EQ_INT(store_job_finish(s, j3, "succeeded", 0, NULL, NULL, 12000), RM_OK);
	json_t *h = store_host_get(s, a);
	EQ_STR(json_string_value(json_object_get(h, "last_drill_ok_at")),
	       "1970-01-01T00:00:05.000Z");
	json_t *ld = json_object_get(h, "last_drill");
	EQ_STR(json_string_value(json_object_get(ld, "status")), "failed");
	EQ_STR(json_string_value(json_object_get(ld, "finished_at")), "1970-01-01T00:00:09.000Z");
	OK(json_is_string(json_object_get(h, "last_drill_created_at")));
	json_decref(h);
	h = store_host_get(s, b);
	OK(json_is_null(json_object_get(h, "last_drill_ok_at")));
	json_decref(h);
	EQ_INT(store_host_set_agent_uid(s, b, 1000), RM_OK);
	h = store_host_get(s, b);
	EQ_INT(json_integer_value(json_object_get(h, "agent_uid")), 1000);
	json_decref(h);
	EQ_INT(store_host_set_agent_uid(s, b, -1), RM_OK);
	h = store_host_get(s, b);
	OK(json_is_null(json_object_get(h, "agent_uid")));
	json_decref(h);
	store_close(s);
}

TEST(hosts_list_1000)
{
	struct store *s = fresh();
	EQ_INT(store_begin(s), RM_OK);
	for (int i = 0; i < 1000; i++) {
		char name[32], bearer[32], id[27], jid[27];
		snprintf(name, sizeof(name), "host-%04d", i);
		snprintf(bearer, sizeof(bearer), "bearer-%d", i);
		mk_host(s, name, bearer, id);
		store_host_hello(s, id, NULL, "linux", "amd64", "1.0", "0.14", 1000);
		for (int k = 0; k < 5; k++) {
			store_job_create(s, id, "backup", NULL, "alice", jid);
			store_job_finish(s, jid, k % 3 ? "succeeded" : "failed", 0, NULL, NULL,
			                 2000 + k);
		}
		store_job_create(s, id, "backup", NULL, "alice", jid);
	}
	EQ_INT(store_commit(s), RM_OK);
	double best = 1e9;
	for (int r = 0; r < 5; r++) {
		double t0 = now_s();
		json_t *l = store_hosts_list(s);
		double dt = now_s() - t0;
		if (dt < best)
			best = dt;
		EQ_INT(json_array_size(json_object_get(l, "hosts")), 1000);
		json_t *h = json_array_get(json_object_get(l, "hosts"), 0);
		OK(json_is_object(json_object_get(h, "last_backup")));
		OK(json_is_object(json_object_get(h, "running_job")));
		json_decref(l);
	}
	printf("# hosts_list: 1000 hosts x 6 jobs in %.2f ms (best of 5)\n", best * 1000);
	store_close(s);
}

/* C6: rename/tags keep the reported name apart; delete keeps or drops the history and
 * revokes the bearer; the rotation row round-trips. */
TEST(host_admin)
{
	struct store *s = fresh();
	char a[27], b[27], job[27], other[27];
	mk_host(s, "alpha", "bearer-a", a);
	mk_host(s, "beta", "bearer-b", b);
	EQ_INT(store_host_hello(s, a, "alpha", "linux", "amd64", "1", "0.14", 1000), RM_OK);
	json_t *h = store_host_get(s, a);
	OK(json_is_false(json_object_get(h, "hostname_mismatch")));
	EQ_STR(json_string_value(json_object_get(h, "mode")), "always_on");
	json_decref(h);
	json_t *tags = json_pack("[s,s]", "x", "y");
	EQ_INT(store_host_edit(s, a, "renamed", tags), RM_OK);
	json_decref(tags);
	EQ_INT(store_host_hello(s, a, "alpha", "linux", "amd64", "1", "0.14", 2000), RM_OK);
	h = store_host_get(s, a);
	EQ_STR(json_string_value(json_object_get(h, "hostname")), "renamed");
	EQ_STR(json_string_value(json_object_get(h, "reported_hostname")), "alpha");
	OK(json_is_true(json_object_get(h, "hostname_mismatch")));
	EQ_INT((int)json_array_size(json_object_get(h, "tags")), 2);
	json_decref(h);
	EQ_INT(store_host_edit(s, "nope", "x", NULL), RM_ERR_NOTFOUND);

	/* keep: row stays, bearer refused, left out of the list, active jobs cancelled */
	EQ_INT(store_job_create(s, a, "backup", NULL, "t", job), RM_OK);
	json_t *ids = json_array();
	EQ_INT(store_host_delete(s, a, 1, "admin", 5000, ids), RM_OK);
	EQ_INT((int)json_array_size(ids), 1);
	json_decref(ids);
	EQ_INT(store_host_by_bearer(s, "bearer-a", other), RM_ERR_NOTFOUND);
	h = store_host_get(s, a);
	OK(h && !json_is_null(json_object_get(h, "deleted_at")));
	json_decref(h);
	json_t *j = store_job_get(s, job);
	EQ_STR(json_string_value(json_object_get(j, "status")), "cancelled");
	json_decref(j);
	json_t *l = store_hosts_list(s);
	EQ_INT((int)json_array_size(json_object_get(l, "hosts")), 1);
	json_decref(l);
	EQ_INT(store_host_delete(s, a, 1, "admin", 6000, NULL), RM_ERR_NOTFOUND);
	/* delete: everything goes (a kept host can be purged later) */
	EQ_INT(store_host_delete(s, a, 0, "admin", 7000, NULL), RM_OK);
	OK(store_job_get(s, job) == NULL);
	OK(store_host_get(s, a) == NULL);

	struct store_rotation r = { .started_ms = 10, .updated_ms = 20 };
	rm_strlcpy(r.state, "pending", sizeof r.state);
	rm_strlcpy(r.job_id, "J1", sizeof r.job_id);
	r.new_ct = "ct-new";
	EQ_INT(store_rotation_put(s, b, &r), RM_OK);
	struct store_rotation g;
	EQ_INT(store_rotation_get(s, b, &g), RM_OK);
	EQ_STR(g.state, "pending");
	EQ_STR(g.new_ct, "ct-new");
	OK(g.old_ct == NULL && g.error == NULL);
	store_rotation_cleanup(&g);
	rm_strlcpy(r.state, "bogus", sizeof r.state);
	EQ_INT(store_rotation_put(s, b, &r), RM_ERR_INVAL);
	store_close(s);
}

TEST(audit)
{
	struct store *s = fresh();
	json_t *d = json_pack("{s:s}", "ip", "127.0.0.1");
	EQ_INT(store_audit(s, "alice", "login", "alice", d), RM_OK);
	EQ_INT(store_audit(s, "alice", "job.dispatch", "01JOB", NULL), RM_OK);
	EQ_INT(store_audit(s, "system", "login", NULL, NULL), RM_OK);
	EQ_INT(store_audit(s, NULL, "login", NULL, NULL), RM_ERR_INVAL);
	json_t *l = store_audit_list(s, 100, NULL);
	json_t *e = json_object_get(l, "entries");
	EQ_INT(json_array_size(e), 3);
	static const char *const keys[] = {
		"id", "ts", "actor", "action", "target", "detail", NULL
	};
	OK(has_exact_keys(json_array_get(e, 0), keys));
	EQ_STR(json_string_value(json_object_get(json_array_get(e, 0), "actor")), "system");
	OK(json_is_null(json_object_get(json_array_get(e, 0), "target")));
	OK(json_equal(json_object_get(json_array_get(e, 2), "detail"), d));
	json_decref(l);
	l = store_audit_list(s, 100, "login");
	EQ_INT(json_array_size(json_object_get(l, "entries")), 2);
	json_decref(l);
	l = store_audit_list(s, 0, NULL); /* clamped to 1 */
	EQ_INT(json_array_size(json_object_get(l, "entries")), 1);
	json_decref(l);
	l = store_audit_list(s, 10, "nothing");
	EQ_INT(json_array_size(json_object_get(l, "entries")), 0);
	json_decref(l);
	json_decref(d);
	store_close(s);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	rm_log_set_level(RM_LOG_ERROR);
	snprintf(tmpdir, sizeof(tmpdir), "%s/rm-store-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(migrations);
	RUN(migration_from_v1);
	RUN(people);
	RUN(settings_and_tx);
	RUN(users_sessions);
	RUN(enrollment);
	RUN(hosts);
	RUN(jobs_lifecycle);
	RUN(logs);
	RUN(log_rate);
	RUN(snapshots);
	RUN(hosts_list_shape_and_summary);
	RUN(drill_projection);
	RUN(hosts_list_1000);
	RUN(host_admin);
	RUN(audit);
	/* clean up the temp dir */
	for (int i = 1; i <= dbn; i++) {
		const char *sfx[] = { "", "-wal", "-shm" };
		for (int k = 0; k < 3; k++) {
			char p[320];
			snprintf(p, sizeof(p), "%s/t%d.db%s", tmpdir, i, sfx[k]);
			unlink(p);
		}
	}
	rmdir(tmpdir);
	return tap_done();
}
