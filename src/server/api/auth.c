/* Roles, sessions, CSRF. */
#include "server/api/auth.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/crypto.h"
#include "common/err.h"
#include "common/log.h"
#include "common/rmtime.h"
#include "server/app.h"
#include "server/config.h"
#include "server/http/http.h"
#include "server/store/store.h"

static const char *const role_names[] = {"public", "viewer", "operator", "admin"};

int auth_role_from_name(const char *name)
{
	if (!name) return -1;
	for (int i = ROLE_VIEWER; i <= ROLE_ADMIN; i++)
		if (strcmp(role_names[i], name) == 0) return i;
	return -1;
}

const char *auth_role_name(int role)
{
	if (role < ROLE_PUBLIC || role > ROLE_ADMIN) return "public";
	return role_names[role];
}

int auth_effective_role(const struct route *rt)
{
	if (rt->min_role < ROLE_PUBLIC || rt->min_role > ROLE_ADMIN) return ROLE_ADMIN;
	if (rt->min_role == ROLE_PUBLIC && !(rt->flags & ROUTE_PUBLIC)) return ROLE_ADMIN;
	return rt->min_role;
}

static int is_mutation(const char *m)
{
	return strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0 ||
	       strcmp(m, "DELETE") == 0;
}

enum auth_verdict auth_check(const struct auth_info *info, int min_role, const char *method,
                             const char *csrf_header)
{
	if (min_role <= ROLE_PUBLIC) return AUTH_ALLOW;
	if (!info || !info->authenticated) return AUTH_UNAUTHENTICATED;
	if (info->role < min_role) return AUTH_FORBIDDEN;
	if (info->via_cookie && method && is_mutation(method)) {
		if (!csrf_header || !info->csrf[0] || !rm_str_ct_eq(csrf_header, info->csrf))
			return AUTH_CSRF;
	}
	return AUTH_ALLOW;
}

int auth_session_lookup(struct app *app, const char *token, struct auth_info *out)
{
	if (!token || !token[0] || strlen(token) > 256) return RM_ERR_AUTH;
	char hash[65];
	rm_sha256_hex(token, strlen(token), hash);
	struct store_session s;
	int rc = store_session_get(app->store, hash, rm_now_ms(), &s);
	if (rc == RM_ERR_NOTFOUND) return RM_ERR_AUTH;
	if (rc) return rc;
	int role = auth_role_from_name(s.role);
	if (role < 0) return RM_ERR_AUTH;
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

int auth_session_create(struct app *app, const char *user_id, char **token_out,
                        char csrf_out[64])
{
	char *token = rm_random_token(32);
	char *csrf = rm_random_token(24);
	char hash[65];
	rm_sha256_hex(token, strlen(token), hash);
	int64_t exp = rm_now_ms() + app->cfg->session_ttl_s * 1000;
	int rc = store_session_create(app->store, hash, user_id, csrf, exp);
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

void auth_set_cookie(struct http_req *r, struct app *app, const char *token)
{
	char *v = rm_xasprintf("%s=%s; Path=/; HttpOnly; SameSite=Lax%s; Max-Age=%lld",
	                       AUTH_COOKIE, token, app->cfg->cookie_secure ? "; Secure" : "",
	                       app->cfg->session_ttl_s);
	http_resp_header(r, "set-cookie", v);
	free(v);
}

void auth_clear_cookie(struct http_req *r, struct app *app)
{
	char *v = rm_xasprintf("%s=; Path=/; HttpOnly; SameSite=Lax%s; Max-Age=0", AUTH_COOKIE,
	                       app->cfg->cookie_secure ? "; Secure" : "");
	http_resp_header(r, "set-cookie", v);
	free(v);
}

/* Origin "scheme://host[:port]" must name the Host header's authority (cross-site
 * WebSocket hijacking). */
static int origin_ok(const char *origin, const char *host)
{
	if (!origin) return 1; /* non-browser clients */
	if (!host) return 0;
	const char *p = strstr(origin, "://");
	if (!p) return 0;
	p += 3;
	return strcasecmp(p, host) == 0;
}

int auth_ws(struct ws_conn *c, struct app *app, int min_role, struct auth_info *out)
{
	if (!origin_ok(ws_conn_header(c, "origin"), ws_conn_header(c, "host")))
		return RM_ERR_FORBIDDEN;
	struct auth_info info;
	int rc = auth_session_lookup(app, ws_conn_cookie(c, AUTH_COOKIE), &info);
	if (rc) return RM_ERR_AUTH;
	if (info.role < min_role) return RM_ERR_FORBIDDEN;
	*out = info;
	return RM_OK;
}
