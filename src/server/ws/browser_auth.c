/* Browser WebSocket handshake authentication. */
#include "server/ws/browser_auth.h"

#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/rmtime.h"
#include "server/app.h"
#include "server/http/http.h"

/* Origin "scheme://host[:port]" must name the Host header's authority. */
static int origin_ok(const char *origin, const char *host)
{
	if (!origin)
		return 1; /* non-browser clients */
	if (!host)
		return 0;
	const char *p = strstr(origin, "://");
	if (!p)
		return 0;
	p += 3;
	return strcasecmp(p, host) == 0;
}

int browser_auth(struct ws_conn *c, struct app *app, int min_role, struct auth_info *out)
{
	if (!origin_ok(ws_conn_header(c, "origin"), ws_conn_header(c, "host")))
		return RM_ERR_FORBIDDEN;
	struct auth_info info;
	int rc = session_lookup(app->store, ws_conn_cookie(c, AUTH_COOKIE), rm_now_ms(), &info);
	if (rc)
		return RM_ERR_AUTH;
	if (info.role < min_role)
		return RM_ERR_FORBIDDEN;
	*out = info;
	return RM_OK;
}
