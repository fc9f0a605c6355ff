#ifndef RM_SERVER_WS_BROWSER_AUTH_H
#define RM_SERVER_WS_BROWSER_AUTH_H
/* Authentication of browser WebSocket handshakes (/api/events, /api/jobs/{id}/stream):
 * the Origin must name the Host (cross-site WebSocket hijacking) and the session cookie
 * must resolve (engine/session.h) to at least min_role. Loop thread only. */
#include "server/engine/session.h"

struct app;
struct ws_conn;

/* RM_OK with out filled, RM_ERR_AUTH (no/unknown session), RM_ERR_FORBIDDEN (origin or
 * role). */
int browser_auth(struct ws_conn *c, struct app *app, int min_role, struct auth_info *out);

#endif
