/* Users who sign in through OIDC: looked up by the provider's subject, created just in
 * time with a unique username, their role kept in step with the provider's groups. */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/rmtime.h"
#include "common/ulid.h"
#include "server/store/store_int.h"

static int is_role(const char *r)
{
	return r &&
	       (strcmp(r, "admin") == 0 || strcmp(r, "operator") == 0 || strcmp(r, "viewer") == 0);
}

int store_user_by_oidc_sub(struct store *s, const char *sub, struct store_user *out)
{
	if (!sub || !sub[0])
		return RM_ERR_NOTFOUND;
	sqlite3_stmt *st = store_stmt(s, SQL_USER_BY_OIDC_SUB);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, sub);
	int rc = store_step_row(s, st, "user by oidc sub");
	if (!rc) {
		struct store_user u;
		memset(&u, 0, sizeof u);
		rm_strlcpy(u.id, store_col_text(st, 0), sizeof u.id);
		rm_strlcpy(u.username, store_col_text(st, 1), sizeof u.username);
		rm_strlcpy(u.role, store_col_text(st, 2), sizeof u.role);
		rm_strlcpy(u.pw_hash, store_col_text(st, 3), sizeof u.pw_hash);
		u.disabled = sqlite3_column_int(st, 4) != 0;
		*out = u;
	}
	store_stmt_done(st);
	return rc;
}

/* 1 taken, 0 free, <0 error */
static int name_taken(struct store *s, const char *name)
{
	sqlite3_stmt *st = store_stmt(s, SQL_USER_NAME_TAKEN);
	if (!st)
		return -1;
	store_bind_text(st, 1, name);
	int rc = store_step_row(s, st, "user name taken");
	store_stmt_done(st);
	return rc == RM_OK ? 1 : rc == RM_ERR_NOTFOUND ? 0 : -1;
}

int store_user_create_oidc(struct store *s, const char *base, const char *role, const char *sub,
                           char id_out[RM_ULID_BUF], char name_out[65])
{
	if (!base || !base[0] || strlen(base) > 56 || !sub || !sub[0] || !is_role(role))
		return RM_ERR_INVAL;
	char name[65];
	int t = 1;
	for (int i = 1; i <= 1000 && t; i++) {
		if (i == 1)
			snprintf(name, sizeof name, "%s", base);
		else
			snprintf(name, sizeof name, "%s-%d", base, i);
		t = name_taken(s, name);
		if (t < 0)
			return RM_ERR_DB;
	}
	if (t)
		return RM_ERR_CONFLICT;
	char id[RM_ULID_LEN + 1];
	rm_ulid_new(id);
	sqlite3_stmt *st = store_stmt(s, SQL_USER_INSERT_OIDC);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, name);
	store_bind_text(st, 3, role);
	store_bind_text(st, 4, sub);
	sqlite3_bind_int64(st, 5, rm_now_ms());
	int rc = store_exec_stmt(s, st, "user create oidc");
	if (!rc) {
		memcpy(id_out, id, sizeof id);
		memcpy(name_out, name, sizeof name);
	}
	return rc;
}

int store_user_oidc_set_role(struct store *s, const char *id, const char *role)
{
	if (!id || !is_role(role))
		return RM_ERR_INVAL;
	sqlite3_stmt *st = store_stmt(s, SQL_USER_OIDC_SET_ROLE);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, role);
	sqlite3_bind_int64(st, 3, rm_now_ms());
	return store_exec_stmt(s, st, "user oidc set role");
}

int store_user_is_oidc(struct store *s, const char *id)
{
	sqlite3_stmt *st = id ? store_stmt(s, SQL_USER_IS_OIDC) : NULL;
	if (!st)
		return 0;
	store_bind_text(st, 1, id);
	int rc = store_step_row(s, st, "user is oidc");
	store_stmt_done(st);
	return rc == RM_OK;
}
