/* Route roles, CSRF, session cookies. */
#include "server/api/auth.h"

#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/err.h"
#include "server/app.h"
#include "server/config.h"
#include "server/http/http.h"

int auth_role_from_name(const char *name)
{
	return session_role_from_name(name);
}

const char *auth_role_name(int role)
{
	return session_role_name(role);
}

int auth_effective_role(const struct route *rt)
{
	if (rt->min_role < ROLE_PUBLIC || rt->min_role > ROLE_ADMIN)
		return ROLE_ADMIN;
	if (rt->min_role == ROLE_PUBLIC && !(rt->flags & ROUTE_PUBLIC))
		return ROLE_ADMIN;
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
	if (min_role <= ROLE_PUBLIC)
		return AUTH_ALLOW;
	if (!info || !info->authenticated)
		return AUTH_UNAUTHENTICATED;
	if (info->role < min_role)
		return AUTH_FORBIDDEN;
	if (info->via_cookie && method && is_mutation(method)) {
		if (!csrf_header || !info->csrf[0] || !rm_str_ct_eq(csrf_header, info->csrf))
			return AUTH_CSRF;
	}
	return AUTH_ALLOW;
}

void auth_set_cookie(struct http_req *r, struct app *app, const char *token)
{
	char *v =
	    rm_xasprintf("%s=%s; Path=/; HttpOnly; SameSite=Lax%s; Max-Age=%lld", AUTH_COOKIE,
	                 token, app->cfg->cookie_secure ? "; Secure" : "", app->cfg->session_ttl_s);
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
