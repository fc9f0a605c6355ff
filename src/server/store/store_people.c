/* C5 people: user administration, setup links, session listing, personal API tokens. */
#include <sqlite3.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/rmtime.h"
#include "common/ulid.h"
#include "server/store/store.h"
#include "server/store/store_int.h"

static int valid_role(const char *role)
{
	return role && (strcmp(role, "admin") == 0 || strcmp(role, "operator") == 0 ||
	                strcmp(role, "viewer") == 0);
}

/* One USER_COLS row. "source": "oidc" for users created by single sign-on (they carry
 * the provider's subject), else "local". */
static json_t *user_json(sqlite3_stmt *st)
{
	json_t *u = json_object();
	json_object_set_new(u, "id", store_col_str(st, 0));
	json_object_set_new(u, "username", store_col_str(st, 1));
	json_object_set_new(u, "role", store_col_str(st, 2));
	json_object_set_new(u, "disabled", json_boolean(sqlite3_column_int(st, 3)));
	json_object_set_new(u, "source", json_string(sqlite3_column_int(st, 9) ? "oidc" : "local"));
	json_object_set_new(u, "setup_pending", json_boolean(sqlite3_column_int(st, 4)));
	json_object_set_new(u, "created_at", store_col_time(st, 5));
	json_object_set_new(u, "updated_at", store_col_time(st, 6));
	json_object_set_new(u, "sessions", store_col_int(st, 7));
	json_object_set_new(u, "tokens", store_col_int(st, 8));
	return u;
}

json_t *store_users_list(struct store *s)
{
	sqlite3_stmt *st = store_stmt(s, SQL_USERS_LIST);
	if (!st)
		return NULL;
	json_t *arr = json_array();
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(arr, user_json(st));
	int rc = store_map_rc(s, src, "users list");
	store_stmt_done(st);
	if (rc) {
		json_decref(arr);
		return NULL;
	}
	return json_pack("{s:o}", "users", arr);
}

json_t *store_user_json(struct store *s, const char *id)
{
	sqlite3_stmt *st = store_stmt(s, SQL_USER_ROW);
	if (!st || !id)
		return NULL;
	store_bind_text(st, 1, id);
	json_t *u = NULL;
	if (store_step_row(s, st, "user row") == RM_OK)
		u = user_json(st);
	store_stmt_done(st);
	return u;
}

/* UPDATE/DELETE by id: NOTFOUND when no row changed. */
static int exec_changed(struct store *s, sqlite3_stmt *st, const char *what)
{
	int rc = store_exec_stmt(s, st, what);
	if (!rc && sqlite3_changes(s->db) == 0)
		rc = RM_ERR_NOTFOUND;
	return rc;
}

static int user_set(struct store *s, enum store_sql q, const char *id, const char *text, int num,
                    const char *what)
{
	sqlite3_stmt *st = store_stmt(s, q);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, id);
	if (text)
		store_bind_text(st, 2, text);
	else
		sqlite3_bind_int(st, 2, num);
	sqlite3_bind_int64(st, 3, rm_now_ms());
	return exec_changed(s, st, what);
}

int store_user_set_role(struct store *s, const char *id, const char *role)
{
	if (!valid_role(role))
		return RM_ERR_INVAL;
	return user_set(s, SQL_USER_SET_ROLE, id, role, 0, "user role");
}

int store_user_set_disabled(struct store *s, const char *id, int disabled)
{
	return user_set(s, SQL_USER_SET_DISABLED, id, NULL, disabled ? 1 : 0, "user disable");
}

int store_user_set_password(struct store *s, const char *id, const char *pw_hash)
{
	if (!pw_hash || strlen(pw_hash) >= sizeof(((struct store_user *)0)->pw_hash))
		return RM_ERR_INVAL;
	return user_set(s, SQL_USER_SET_PASSWORD, id, pw_hash, 0, "user password");
}

int store_user_delete(struct store *s, const char *id)
{
	sqlite3_stmt *st = store_stmt(s, SQL_USER_DELETE);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, id);
	return exec_changed(s, st, "user delete");
}

int store_admins_enabled_except(struct store *s, const char *id, long long *out)
{
	sqlite3_stmt *st = store_stmt(s, SQL_ADMINS_OTHER);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, id ? id : "");
	int rc = store_step_row(s, st, "admin count");
	if (!rc)
		*out = sqlite3_column_int64(st, 0);
	store_stmt_done(st);
	return rc;
}

int store_user_sessions_end(struct store *s, const char *user_id, const char *keep_hash)
{
	sqlite3_stmt *st = store_stmt(s, SQL_USER_SESSIONS_END);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, user_id);
	store_bind_text(st, 2, keep_hash);
	return store_exec_stmt(s, st, "sessions end");
}

json_t *store_user_sessions(struct store *s, const char *user_id, const char *current_hash,
                            int64_t now_ms)
{
	sqlite3_stmt *st = store_stmt(s, SQL_USER_SESSIONS_LIST);
	if (!st)
		return NULL;
	store_bind_text(st, 1, user_id);
	store_bind_text(st, 2, current_hash ? current_hash : "");
	sqlite3_bind_int64(st, 3, now_ms);
	json_t *arr = json_array();
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *e = json_object();
		json_object_set_new(e, "id", store_col_str(st, 0));
		json_object_set_new(e, "created_at", store_col_time(st, 1));
		json_object_set_new(e, "expires_at", store_col_time(st, 2));
		json_object_set_new(e, "ip", store_col_str(st, 3));
		json_object_set_new(e, "user_agent", store_col_str(st, 4));
		json_object_set_new(e, "current", json_boolean(sqlite3_column_int(st, 5)));
		json_array_append_new(arr, e);
	}
	int rc = store_map_rc(s, src, "sessions list");
	store_stmt_done(st);
	if (rc) {
		json_decref(arr);
		return NULL;
	}
	return json_pack("{s:o}", "sessions", arr);
}

int store_session_delete_id(struct store *s, const char *user_id, const char *sid)
{
	sqlite3_stmt *st = store_stmt(s, SQL_SESSION_DEL_ID);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, user_id);
	store_bind_text(st, 2, sid);
	return exec_changed(s, st, "session delete");
}

int store_session_note_client(struct store *s, const char *token_hash, const char *ip,
                              const char *user_agent)
{
	sqlite3_stmt *st = store_stmt(s, SQL_SESSION_NOTE_CLIENT);
	if (!st)
		return RM_ERR_DB;
	char ua[256] = "";
	if (user_agent)
		rm_strlcpy(ua, user_agent, sizeof ua);
	store_bind_text(st, 1, token_hash);
	store_bind_text(st, 2, ip);
	store_bind_text(st, 3, user_agent ? ua : NULL);
	return store_exec_stmt(s, st, "session client");
}

/* ---------------------------------------------------------------- setup links */

int store_setup_token_put(struct store *s, const char *user_id, const char *token_hash,
                          int64_t expires_ms)
{
	sqlite3_stmt *st = store_stmt(s, SQL_SETUP_CLEAR);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, user_id);
	int rc = store_exec_stmt(s, st, "setup clear");
	if (rc)
		return rc;
	st = store_stmt(s, SQL_SETUP_INSERT);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, token_hash);
	store_bind_text(st, 2, user_id);
	sqlite3_bind_int64(st, 3, rm_now_ms());
	sqlite3_bind_int64(st, 4, expires_ms);
	return store_exec_stmt(s, st, "setup insert");
}

int store_setup_token_peek(struct store *s, const char *token_hash, int64_t now_ms,
                           char user_id_out[RM_ULID_BUF], int64_t *expires_ms)
{
	sqlite3_stmt *st = store_stmt(s, SQL_SETUP_PEEK);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, token_hash);
	sqlite3_bind_int64(st, 2, now_ms);
	int rc = store_step_row(s, st, "setup peek");
	if (!rc) {
		rm_strlcpy(user_id_out, store_col_text(st, 0), RM_ULID_BUF);
		if (expires_ms)
			*expires_ms = sqlite3_column_int64(st, 1);
	}
	store_stmt_done(st);
	return rc;
}

int store_setup_token_consume(struct store *s, const char *token_hash, int64_t now_ms,
                              char user_id_out[RM_ULID_BUF])
{
	sqlite3_stmt *st = store_stmt(s, SQL_SETUP_CONSUME);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, token_hash);
	sqlite3_bind_int64(st, 2, now_ms);
	int rc = store_step_row(s, st, "setup consume");
	if (!rc)
		rm_strlcpy(user_id_out, store_col_text(st, 0), RM_ULID_BUF);
	if (!rc) /* finish the statement so the DELETE is complete */
		rc = store_map_rc(s, sqlite3_step(st), "setup consume");
	store_stmt_done(st);
	return rc;
}

int store_setup_tokens_purge(struct store *s, int64_t now_ms)
{
	sqlite3_stmt *st = store_stmt(s, SQL_SETUP_PURGE);
	if (!st)
		return RM_ERR_DB;
	sqlite3_bind_int64(st, 1, now_ms);
	return store_exec_stmt(s, st, "setup purge");
}

/* ---------------------------------------------------------------- API tokens */

int store_token_create(struct store *s, const char *user_id, const char *name,
                       const char *token_hash, const char *role, int64_t expires_ms,
                       char id_out[RM_ULID_BUF])
{
	if (!name || !token_hash || (role && !valid_role(role)))
		return RM_ERR_INVAL;
	char id[RM_ULID_BUF];
	rm_ulid_new(id);
	sqlite3_stmt *st = store_stmt(s, SQL_TOKEN_INSERT);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, user_id);
	store_bind_text(st, 3, name);
	store_bind_text(st, 4, token_hash);
	store_bind_text(st, 5, role);
	sqlite3_bind_int64(st, 6, rm_now_ms());
	sqlite3_bind_int64(st, 7, expires_ms);
	int rc = store_exec_stmt(s, st, "token create");
	if (!rc)
		memcpy(id_out, id, RM_ULID_BUF);
	return rc;
}

json_t *store_tokens_list(struct store *s, const char *user_id)
{
	sqlite3_stmt *st = store_stmt(s, SQL_TOKENS_LIST);
	if (!st)
		return NULL;
	store_bind_text(st, 1, user_id);
	json_t *arr = json_array();
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *e = json_object();
		json_object_set_new(e, "id", store_col_str(st, 0));
		json_object_set_new(e, "name", store_col_str(st, 1));
		json_object_set_new(e, "role", store_col_str(st, 2));
		json_object_set_new(e, "created_at", store_col_time(st, 3));
		json_object_set_new(e, "expires_at", store_col_time(st, 4));
		json_object_set_new(e, "last_used_at", store_col_time(st, 5));
		json_array_append_new(arr, e);
	}
	int rc = store_map_rc(s, src, "tokens list");
	store_stmt_done(st);
	if (rc) {
		json_decref(arr);
		return NULL;
	}
	return json_pack("{s:o}", "tokens", arr);
}

int store_token_delete(struct store *s, const char *user_id, const char *id)
{
	sqlite3_stmt *st = store_stmt(s, SQL_TOKEN_DELETE);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, user_id);
	return exec_changed(s, st, "token delete");
}

int store_user_tokens_delete(struct store *s, const char *user_id)
{
	sqlite3_stmt *st = store_stmt(s, SQL_USER_TOKENS_DELETE);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, user_id);
	return store_exec_stmt(s, st, "tokens delete");
}

int store_token_lookup(struct store *s, const char *token_hash, int64_t now_ms,
                       struct store_token_auth *out)
{
	sqlite3_stmt *st = store_stmt(s, SQL_TOKEN_LOOKUP);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, token_hash);
	sqlite3_bind_int64(st, 2, now_ms);
	int rc = store_step_row(s, st, "token lookup");
	if (!rc) {
		struct store_token_auth a;
		memset(&a, 0, sizeof a);
		rm_strlcpy(a.id, store_col_text(st, 0), sizeof a.id);
		rm_strlcpy(a.user_id, store_col_text(st, 1), sizeof a.user_id);
		rm_strlcpy(a.username, store_col_text(st, 2), sizeof a.username);
		rm_strlcpy(a.user_role, store_col_text(st, 3), sizeof a.user_role);
		rm_strlcpy(a.token_role, store_col_text(st, 4), sizeof a.token_role);
		a.last_used_ms = sqlite3_column_int64(st, 5);
		*out = a;
	}
	store_stmt_done(st);
	return rc;
}

int store_token_touch(struct store *s, const char *id, int64_t now_ms)
{
	sqlite3_stmt *st = store_stmt(s, SQL_TOKEN_TOUCH);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, id);
	sqlite3_bind_int64(st, 2, now_ms);
	return store_exec_stmt(s, st, "token touch");
}
