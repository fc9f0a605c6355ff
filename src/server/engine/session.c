/* Roles and session lookup/creation. */
#include "server/engine/session.h"

#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/err.h"
#include "common/rmtime.h"
#include "server/store/store.h"

#define TOKEN_MAX 256

static const char *const role_names[] = { "public", "viewer", "operator", "admin" };

int session_role_from_name(const char *name)
{
	if (!name)
		return -1;
	for (int i = ROLE_VIEWER; i <= ROLE_ADMIN; i++)
		if (strcmp(role_names[i], name) == 0)
			return i;
	return -1;
}

const char *session_role_name(int role)
{
	if (role < ROLE_PUBLIC || role > ROLE_ADMIN)
		return "public";
	return role_names[role];
}

int session_lookup(struct store *st, const char *token, int64_t now_ms, struct auth_info *out)
{
	if (!token || !token[0] || strlen(token) > TOKEN_MAX)
		return RM_ERR_AUTH;
	char hash[65];
	rm_sha256_hex(token, strlen(token), hash);
	struct store_session s;
	int rc = store_session_get(st, hash, now_ms, &s);
	if (rc == RM_ERR_NOTFOUND)
		return RM_ERR_AUTH;
	if (rc)
		return rc;
	int role = session_role_from_name(s.role);
	if (role < 0)
		return RM_ERR_AUTH;
	memset(out, 0, sizeof *out);
	out->authenticated = 1;
	out->role = role;
	out->via_cookie = 1;
	rm_strlcpy(out->user_id, s.user_id, sizeof out->user_id);
	rm_strlcpy(out->username, s.username, sizeof out->username);
	rm_strlcpy(out->csrf, s.csrf_token, sizeof out->csrf);
	rm_strlcpy(out->token_hash, hash, sizeof out->token_hash);
	return RM_OK;
}

int session_lookup_token(struct store *st, const char *token, int64_t now_ms, struct auth_info *out)
{
	if (!token || !token[0] || strlen(token) > TOKEN_MAX)
		return RM_ERR_AUTH;
	char hash[65];
	rm_sha256_hex(token, strlen(token), hash);
	struct store_token_auth a;
	int rc = store_token_lookup(st, hash, now_ms, &a);
	if (rc == RM_ERR_NOTFOUND)
		return RM_ERR_AUTH;
	if (rc)
		return rc;
	int role = session_role_from_name(a.user_role);
	if (role < 0)
		return RM_ERR_AUTH;
	int trole = a.token_role[0] ? session_role_from_name(a.token_role) : role;
	if (trole < 0)
		return RM_ERR_AUTH;
	if (now_ms - a.last_used_ms >= 60 * 1000)
		(void)store_token_touch(st, a.id, now_ms); /* best effort: never fails a request */
	memset(out, 0, sizeof *out);
	out->authenticated = 1;
	out->role = trole < role ? trole : role;
	out->via_token = 1;
	rm_strlcpy(out->user_id, a.user_id, sizeof out->user_id);
	rm_strlcpy(out->username, a.username, sizeof out->username);
	rm_strlcpy(out->token_id, a.id, sizeof out->token_id);
	return RM_OK;
}

int session_create(struct store *st, const char *user_id, long long ttl_s, char **token_out,
                   char csrf_out[64])
{
	char *token = rm_random_token(32);
	char *csrf = rm_random_token(24);
	char hash[65];
	rm_sha256_hex(token, strlen(token), hash);
	int rc = store_session_create(st, hash, user_id, csrf, rm_now_ms() + ttl_s * 1000);
	if (rc) {
		free(token);
		free(csrf);
		return rc;
	}
	rm_strlcpy(csrf_out, csrf, 64);
	free(csrf);
	*token_out = token;
	return RM_OK;
}
