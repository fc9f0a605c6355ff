/* Store core: connection, statement cache, transactions, and the small tables (settings,
 * users, sessions, audit log, enrollment tokens). Hosts live in store_hosts.c, jobs and
 * logs in store_jobs.c, the schema in migrations.c. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/rmtime.h"
#include "common/ulid.h"
#include "server/store/store_int.h"

#define STORE_SQL_TEXT(name, sql) sql,
static const char *const sql_text[SQL__COUNT] = { STORE_SQL(STORE_SQL_TEXT) };
#undef STORE_SQL_TEXT
#define STORE_SQL_NAME(name, sql) #name,
static const char *const sql_name[SQL__COUNT] = { STORE_SQL(STORE_SQL_NAME) };

const char *store_sql_text(enum store_sql id)
{
	return sql_text[id];
}
#undef STORE_SQL_NAME

/* ------------------------------------------------------------------ helpers */

sqlite3_stmt *store_stmt(struct store *s, enum store_sql id)
{
	sqlite3_stmt *st = s->stmts[id];
	if (!st) {
		int rc = sqlite3_prepare_v3(s->db, sql_text[id], -1, SQLITE_PREPARE_PERSISTENT, &st,
		                            NULL);
		if (rc != SQLITE_OK) {
			RM_ERROR("preparing statement failed", "stmt", sql_name[id], "err",
			         sqlite3_errmsg(s->db));
			sqlite3_finalize(st);
			return NULL;
		}
		s->stmts[id] = st;
		return st;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

void store_stmt_done(sqlite3_stmt *st)
{
	if (!st)
		return;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

int store_map_rc(struct store *s, int rc, const char *what)
{
	switch (rc) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW: return RM_OK;
	default: break;
	}
	int ext = sqlite3_extended_errcode(s->db);
	switch (ext) {
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY: return RM_ERR_CONFLICT;
	case SQLITE_CONSTRAINT_FOREIGNKEY: return RM_ERR_NOTFOUND;
	case SQLITE_CONSTRAINT_CHECK:
	case SQLITE_CONSTRAINT_NOTNULL: return RM_ERR_INVAL;
	default: break;
	}
	RM_ERROR("database error", "op", what, "err", sqlite3_errmsg(s->db));
	return RM_ERR_DB;
}

int store_exec_stmt(struct store *s, sqlite3_stmt *st, const char *what)
{
	int rc = store_map_rc(s, sqlite3_step(st), what);
	store_stmt_done(st);
	return rc;
}

int store_step_row(struct store *s, sqlite3_stmt *st, const char *what)
{
	int src = sqlite3_step(st);
	if (src == SQLITE_ROW)
		return RM_OK;
	if (src == SQLITE_DONE)
		return RM_ERR_NOTFOUND;
	return store_map_rc(s, src, what);
}

void store_bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

void store_bind_json(sqlite3_stmt *st, int i, const json_t *v, const char *def_text)
{
	if (!v) {
		store_bind_text(st, i, def_text);
		return;
	}
	char *txt = rmj_dumps(v);
	sqlite3_bind_text(st, i, txt, -1, SQLITE_TRANSIENT);
	free(txt);
}

const char *store_col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? (const char *)t : "";
}

/* Copy of s[0..len) with every byte that is not part of valid UTF-8 (or is NUL) replaced
 * by '?': jansson refuses invalid UTF-8 and the DB may hold anything. */
static json_t *sanitized_string(const unsigned char *s, size_t len)
{
	char *c = rm_xmalloc(len + 1);
	size_t i = 0;
	while (i < len) {
		unsigned char b = s[i];
		size_t n = b < 0x80             ? 1
		           : (b & 0xE0) == 0xC0 ? 2
		           : (b & 0xF0) == 0xE0 ? 3
		           : (b & 0xF8) == 0xF0 ? 4
		                                : 0;
		int ok = n > 0 && i + n <= len && b != 0 && b != 0xC0 && b != 0xC1 && b < 0xF5;
		for (size_t k = 1; ok && k < n; k++)
			if ((s[i + k] & 0xC0) != 0x80)
				ok = 0;
		if (ok && n == 3 &&
		    ((b == 0xE0 && s[i + 1] < 0xA0) || (b == 0xED && s[i + 1] >= 0xA0)))
			ok = 0;
		if (ok && n == 4 &&
		    ((b == 0xF0 && s[i + 1] < 0x90) || (b == 0xF4 && s[i + 1] >= 0x90)))
			ok = 0;
		if (!ok) {
			c[i++] = '?';
			continue;
		}
		memcpy(c + i, s + i, n);
		i += n;
	}
	json_t *v = json_stringn(c, len);
	free(c);
	return v ? v : json_string("");
}

json_t *store_col_str(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return json_null();
	const unsigned char *t = sqlite3_column_text(st, i);
	size_t len = (size_t)sqlite3_column_bytes(st, i);
	if (!t)
		return json_string("");
	json_t *v = json_stringn((const char *)t, len);
	return v ? v : sanitized_string(t, len);
}

json_t *store_col_int(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return json_null();
	return json_integer(sqlite3_column_int64(st, i));
}

json_t *store_col_time(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return json_null();
	char buf[RM_TIME_STRLEN];
	rm_time_fmt(sqlite3_column_int64(st, i), buf);
	return json_string(buf);
}

json_t *store_col_json(sqlite3_stmt *st, int i, json_t *def)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return def;
	const char *txt = (const char *)sqlite3_column_text(st, i);
	int len = sqlite3_column_bytes(st, i);
	json_t *v = txt ? json_loadb(txt, (size_t)len, JSON_DECODE_ANY, NULL) : NULL;
	if (!v)
		return def;
	json_decref(def);
	return v;
}

/* ------------------------------------------------------------------ open / close */

static int exec_simple(struct store *s, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		RM_ERROR("database statement failed", "sql", sql, "err",
		         msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return RM_ERR_DB;
	}
	return RM_OK;
}

static int journal_cb(void *ud, int ncol, char **vals, char **names)
{
	(void)names;
	int *wal = ud;
	if (ncol > 0 && vals[0] && strcmp(vals[0], "wal") == 0)
		*wal = 1;
	return 0;
}

int store_open(const char *path, struct store **out)
{
	if (!path || !out)
		return RM_ERR_INVAL;
	struct store *s = rm_xcalloc(1, sizeof(*s));
	int rc = RM_OK;
	s->path = rm_xstrdup(path);
	/* One connection used from the loop thread only (see store.h). */
	int src = sqlite3_open_v2(
	    path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (src != SQLITE_OK) {
		RM_ERROR("cannot open database", "path", path, "err",
		         s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(src));
		rc = RM_ERR_DB;
		goto out;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, 5000);
	int wal = 0;
	char *msg = NULL;
	if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL", journal_cb, &wal, &msg) != SQLITE_OK) {
		RM_ERROR("cannot set journal mode", "path", path, "err", msg ? msg : "?");
		sqlite3_free(msg);
		rc = RM_ERR_DB;
		goto out;
	}
	if (!wal)
		RM_WARN("database is not in WAL mode", "path", path);
	rc = exec_simple(s, "PRAGMA foreign_keys=ON");
	if (!rc)
		rc = exec_simple(s, "PRAGMA synchronous=NORMAL");
	if (!rc)
		rc = store_migrate(s);
out:
	if (rc) {
		store_close(s);
		return rc;
	}
	*out = s;
	return RM_OK;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	for (int i = 0; i < SQL__COUNT; i++)
		sqlite3_finalize(s->stmts[i]);
	if (s->db) {
		if (!sqlite3_get_autocommit(s->db))
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		if (sqlite3_close(s->db) != SQLITE_OK)
			RM_ERROR("closing database failed", "err", sqlite3_errmsg(s->db));
	}
	free(s->path);
	free(s);
}

int store_schema_version(struct store *s)
{
	sqlite3_stmt *st = NULL;
	int v = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT coalesce(max(version), 0) FROM schema_version", -1,
	                       &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* ------------------------------------------------------------------ transactions */

int store_begin(struct store *s)
{
	if (s->depth == 0) {
		int rc = exec_simple(s, "BEGIN IMMEDIATE");
		if (rc)
			return rc;
		s->aborted = 0;
	} else if (s->aborted) {
		return RM_ERR_DB;
	}
	s->depth++;
	return RM_OK;
}

int store_commit(struct store *s)
{
	if (s->depth <= 0)
		return RM_ERR_INVAL;
	s->depth--;
	if (s->aborted) {
		if (s->depth == 0)
			s->aborted = 0;
		return RM_ERR_DB;
	}
	if (s->depth > 0)
		return RM_OK;
	int rc = exec_simple(s, "COMMIT");
	if (rc && !sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

void store_rollback(struct store *s)
{
	if (s->depth <= 0) {
		/* e.g. after a failed outermost commit; make sure nothing stays open */
		if (!sqlite3_get_autocommit(s->db))
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return;
	}
	if (!s->aborted && !sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	s->depth--;
	s->aborted = s->depth > 0;
}

int store_tx_begin(struct store *s)
{
	if (s->depth == 0)
		return store_begin(s);
	if (s->aborted)
		return RM_ERR_DB;
	int rc = exec_simple(s, "SAVEPOINT store_tx");
	if (rc)
		return rc;
	s->depth++;
	return RM_OK;
}

int store_tx_end(struct store *s, int rc)
{
	if (s->depth == 1) {
		if (rc) {
			store_rollback(s);
			return rc;
		}
		return store_commit(s);
	}
	s->depth--;
	if (rc) {
		sqlite3_exec(s->db, "ROLLBACK TO store_tx", NULL, NULL, NULL);
		sqlite3_exec(s->db, "RELEASE store_tx", NULL, NULL, NULL);
		return rc;
	}
	return exec_simple(s, "RELEASE store_tx");
}

/* ------------------------------------------------------------------ settings */

int store_setting_get(struct store *s, const char *key, char **out)
{
	sqlite3_stmt *st = store_stmt(s, SQL_SETTING_GET);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, key);
	int rc = store_step_row(s, st, "setting get");
	if (!rc)
		*out = rm_xstrdup(store_col_text(st, 0));
	store_stmt_done(st);
	return rc;
}

int store_setting_set(struct store *s, const char *key, const char *value)
{
	if (!key || !value)
		return RM_ERR_INVAL;
	sqlite3_stmt *st = store_stmt(s, SQL_SETTING_SET);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, key);
	store_bind_text(st, 2, value);
	sqlite3_bind_int64(st, 3, rm_now_ms());
	return store_exec_stmt(s, st, "setting set");
}

int store_setting_delete(struct store *s, const char *key)
{
	sqlite3_stmt *st = store_stmt(s, SQL_SETTING_DEL);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, key);
	int rc = store_exec_stmt(s, st, "setting delete");
	if (!rc && sqlite3_changes(s->db) == 0)
		rc = RM_ERR_NOTFOUND;
	return rc;
}

/* ------------------------------------------------------------------ users */

static int valid_role(const char *role)
{
	return role && (strcmp(role, "admin") == 0 || strcmp(role, "operator") == 0 ||
	                strcmp(role, "viewer") == 0);
}

int store_user_count(struct store *s, long long *out)
{
	sqlite3_stmt *st = store_stmt(s, SQL_USER_COUNT);
	if (!st)
		return RM_ERR_DB;
	int src = sqlite3_step(st);
	int rc = src == SQLITE_ROW ? RM_OK : store_map_rc(s, src, "user count");
	if (src == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	store_stmt_done(st);
	return rc;
}

int store_user_create(struct store *s, const char *username, const char *pw_hash, const char *role,
                      char id_out[RM_ULID_BUF])
{
	if (!username || !username[0] || strlen(username) > 64 || !pw_hash ||
	    strlen(pw_hash) >= sizeof(((struct store_user *)0)->pw_hash) || !valid_role(role))
		return RM_ERR_INVAL;
	char id[RM_ULID_LEN + 1];
	rm_ulid_new(id);
	sqlite3_stmt *st = store_stmt(s, SQL_USER_INSERT);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, username);
	store_bind_text(st, 3, role);
	store_bind_text(st, 4, pw_hash);
	sqlite3_bind_int64(st, 5, rm_now_ms());
	int rc = store_exec_stmt(s, st, "user create");
	if (!rc)
		memcpy(id_out, id, sizeof(id));
	return rc;
}

static int user_row(struct store *s, enum store_sql id, const char *key, struct store_user *out)
{
	if (!key)
		return RM_ERR_NOTFOUND;
	sqlite3_stmt *st = store_stmt(s, id);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, key);
	int rc = store_step_row(s, st, "user get");
	if (!rc) {
		struct store_user u;
		memset(&u, 0, sizeof(u));
		rm_strlcpy(u.id, store_col_text(st, 0), sizeof(u.id));
		rm_strlcpy(u.username, store_col_text(st, 1), sizeof(u.username));
		rm_strlcpy(u.role, store_col_text(st, 2), sizeof(u.role));
		rm_strlcpy(u.pw_hash, store_col_text(st, 3), sizeof(u.pw_hash));
		u.disabled = sqlite3_column_int(st, 4) != 0;
		*out = u;
	}
	store_stmt_done(st);
	return rc;
}

int store_user_by_name(struct store *s, const char *username, struct store_user *out)
{
	return user_row(s, SQL_USER_BY_NAME, username, out);
}

int store_user_by_id(struct store *s, const char *id, struct store_user *out)
{
	return user_row(s, SQL_USER_BY_ID, id, out);
}

/* ------------------------------------------------------------------ sessions */

int store_session_create(struct store *s, const char *token_hash, const char *user_id,
                         const char *csrf_token, int64_t expires_ms)
{
	if (!token_hash || !user_id || !csrf_token ||
	    strlen(csrf_token) >= sizeof(((struct store_session *)0)->csrf_token))
		return RM_ERR_INVAL;
	sqlite3_stmt *st = store_stmt(s, SQL_SESSION_INSERT);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, token_hash);
	store_bind_text(st, 2, user_id);
	store_bind_text(st, 3, csrf_token);
	sqlite3_bind_int64(st, 4, rm_now_ms());
	sqlite3_bind_int64(st, 5, expires_ms);
	return store_exec_stmt(s, st, "session create");
}

int store_session_get(struct store *s, const char *token_hash, int64_t now_ms,
                      struct store_session *out)
{
	if (!token_hash)
		return RM_ERR_NOTFOUND;
	sqlite3_stmt *st = store_stmt(s, SQL_SESSION_GET);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, token_hash);
	sqlite3_bind_int64(st, 2, now_ms);
	int rc = store_step_row(s, st, "session get");
	if (!rc) {
		struct store_session se;
		memset(&se, 0, sizeof(se));
		rm_strlcpy(se.user_id, store_col_text(st, 0), sizeof(se.user_id));
		rm_strlcpy(se.username, store_col_text(st, 1), sizeof(se.username));
		rm_strlcpy(se.role, store_col_text(st, 2), sizeof(se.role));
		rm_strlcpy(se.csrf_token, store_col_text(st, 3), sizeof(se.csrf_token));
		se.expires_ms = sqlite3_column_int64(st, 4);
		*out = se;
	}
	store_stmt_done(st);
	return rc;
}

int store_session_delete(struct store *s, const char *token_hash)
{
	sqlite3_stmt *st = store_stmt(s, SQL_SESSION_DEL);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, token_hash);
	return store_exec_stmt(s, st, "session delete");
}

int store_session_purge_expired(struct store *s, int64_t now_ms)
{
	sqlite3_stmt *st = store_stmt(s, SQL_SESSION_PURGE);
	if (!st)
		return RM_ERR_DB;
	sqlite3_bind_int64(st, 1, now_ms);
	return store_exec_stmt(s, st, "session purge");
}

/* ------------------------------------------------------------------ audit */

int store_audit(struct store *s, const char *actor, const char *action, const char *target,
                const json_t *detail)
{
	if (!actor || !action)
		return RM_ERR_INVAL;
	char id[RM_ULID_LEN + 1];
	rm_ulid_new(id);
	sqlite3_stmt *st = store_stmt(s, SQL_AUDIT_INSERT);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, id);
	sqlite3_bind_int64(st, 2, rm_now_ms());
	store_bind_text(st, 3, actor);
	store_bind_text(st, 4, action);
	store_bind_text(st, 5, target);
	store_bind_json(st, 6, detail, NULL);
	return store_exec_stmt(s, st, "audit insert");
}

json_t *store_audit_list(struct store *s, int limit, const char *action)
{
	if (limit < 1)
		limit = 1;
	if (limit > 1000)
		limit = 1000;
	sqlite3_stmt *st = store_stmt(s, action ? SQL_AUDIT_LIST_ACTION : SQL_AUDIT_LIST);
	if (!st)
		return NULL;
	sqlite3_bind_int(st, 1, limit);
	if (action)
		store_bind_text(st, 2, action);
	json_t *entries = json_array();
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *e = json_object();
		json_object_set_new(e, "id", store_col_str(st, 0));
		json_object_set_new(e, "ts", store_col_time(st, 1));
		json_object_set_new(e, "actor", store_col_str(st, 2));
		json_object_set_new(e, "action", store_col_str(st, 3));
		json_object_set_new(e, "target", store_col_str(st, 4));
		json_object_set_new(e, "detail", store_col_json(st, 5, json_null()));
		json_array_append_new(entries, e);
	}
	int rc = store_map_rc(s, src, "audit list");
	store_stmt_done(st);
	if (rc) {
		json_decref(entries);
		return NULL;
	}
	return json_pack("{s:o}", "entries", entries);
}

/* ------------------------------------------------------------------ enrollment tokens */

int store_enroll_create(struct store *s, const char *token_hash, const char *hostname,
                        const json_t *tags, const json_t *initial_paths, const char *creds_ct,
                        int64_t expires_ms, const char *created_by)
{
	if (!token_hash || strlen(token_hash) >= sizeof(((struct store_enroll *)0)->token_hash) ||
	    !hostname || strlen(hostname) >= sizeof(((struct store_enroll *)0)->hostname) ||
	    !creds_ct)
		return RM_ERR_INVAL;
	sqlite3_stmt *st = store_stmt(s, SQL_ENROLL_INSERT);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, token_hash);
	store_bind_text(st, 2, hostname);
	store_bind_json(st, 3, tags, "[]");
	store_bind_json(st, 4, initial_paths, "[]");
	store_bind_text(st, 5, creds_ct);
	sqlite3_bind_int64(st, 6, expires_ms);
	store_bind_text(st, 7, created_by);
	sqlite3_bind_int64(st, 8, rm_now_ms());
	char id[RM_ULID_LEN + 1]; /* the public handle (C6 token list): never the secret */
	rm_ulid_new(id);
	store_bind_text(st, 9, id);
	return store_exec_stmt(s, st, "enroll create");
}

void store_enroll_cleanup(struct store_enroll *e)
{
	if (!e)
		return;
	free(e->tags_json);
	free(e->initial_paths_json);
	free(e->creds_ct);
	e->tags_json = e->initial_paths_json = e->creds_ct = NULL;
}

int store_enroll_get(struct store *s, const char *token_hash, struct store_enroll *out)
{
	if (!token_hash)
		return RM_ERR_NOTFOUND;
	sqlite3_stmt *st = store_stmt(s, SQL_ENROLL_GET);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, token_hash);
	int rc = store_step_row(s, st, "enroll get");
	if (!rc) {
		struct store_enroll e;
		memset(&e, 0, sizeof(e));
		rm_strlcpy(e.token_hash, store_col_text(st, 0), sizeof(e.token_hash));
		rm_strlcpy(e.hostname, store_col_text(st, 1), sizeof(e.hostname));
		e.tags_json = rm_xstrdup(store_col_text(st, 2));
		e.initial_paths_json = rm_xstrdup(store_col_text(st, 3));
		e.creds_ct = rm_xstrdup(store_col_text(st, 4));
		e.expires_ms = sqlite3_column_int64(st, 5);
		e.used_ms = sqlite3_column_int64(st, 6); /* NULL reads as 0 = unused */
		rm_strlcpy(e.host_id, store_col_text(st, 7), sizeof(e.host_id));
		*out = e;
	}
	store_stmt_done(st);
	return rc;
}

int store_enroll_consume(struct store *s, const char *token_hash, const char *host_id,
                         int64_t now_ms)
{
	if (!token_hash || !host_id)
		return RM_ERR_INVAL;
	/* The conditional UPDATE is the atomic test-and-set; the follow-up SELECT only
	 * explains a miss. */
	sqlite3_stmt *st = store_stmt(s, SQL_ENROLL_CONSUME);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, token_hash);
	store_bind_text(st, 2, host_id);
	sqlite3_bind_int64(st, 3, now_ms);
	int rc = store_exec_stmt(s, st, "enroll consume");
	if (rc || sqlite3_changes(s->db) == 1)
		return rc;
	st = store_stmt(s, SQL_ENROLL_STATE);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, token_hash);
	rc = store_step_row(s, st, "enroll state");
	if (!rc)
		rc = sqlite3_column_type(st, 0) != SQLITE_NULL ? RM_ERR_CONFLICT : RM_ERR_EXPIRED;
	store_stmt_done(st);
	return rc;
}
