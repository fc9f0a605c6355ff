#ifndef RM_SERVER_API_AUTH_H
#define RM_SERVER_API_AUTH_H
/* Roles, session-cookie authentication, CSRF and the per-request api context.
 * Everything runs on the loop thread. */
#include <jansson.h>
#include <stdint.h>

#include "server/http/router.h"

struct app;
struct http_req;

enum role { ROLE_PUBLIC = 0, ROLE_VIEWER = 1, ROLE_OPERATOR = 2, ROLE_ADMIN = 3 };

/* route flags (struct route.flags) */
#define ROUTE_PUBLIC 0x1u    /* min_role ROLE_PUBLIC is intended (else fail-closed: admin) */
#define ROUTE_JSON_BODY 0x2u /* requires Content-Type application/json + a JSON object body */

#define AUTH_COOKIE "rm_session"

struct auth_info {
	int authenticated;
	int role;               /* ROLE_* (ROLE_PUBLIC when unauthenticated) */
	int via_cookie;         /* 1: session cookie (mutations need CSRF) */
	char user_id[27];
	char username[65];
	char csrf[64];
	char token_hash[65];    /* session token hash (for logout) */
};

/* Per-request context set by api_dispatch (http_req_ctx). */
struct api_ctx {
	struct auth_info auth;
	json_t *body;           /* parsed JSON object for ROUTE_JSON_BODY routes, else NULL */
};

/* "admin" -> ROLE_ADMIN ...; -1 if unknown. */
int auth_role_from_name(const char *name);
const char *auth_role_name(int role);   /* "public" for ROLE_PUBLIC / unknown */

/* The minimum role actually enforced for a route: a route with ROLE_PUBLIC that does not
 * carry ROUTE_PUBLIC (a forgotten role) is admin-only. Out-of-range roles -> admin. */
int auth_effective_role(const struct route *rt);

enum auth_verdict { AUTH_ALLOW = 0, AUTH_UNAUTHENTICATED, AUTH_FORBIDDEN, AUTH_CSRF };
/* Decides access: min_role vs info; cookie-authenticated POST/PUT/PATCH/DELETE on a
 * non-public route must carry csrf_header equal to the session's CSRF token. */
enum auth_verdict auth_check(const struct auth_info *info, int min_role, const char *method,
                             const char *csrf_header);

/* Resolves a session token (cookie value) into info. RM_OK, RM_ERR_AUTH (unknown/expired),
 * RM_ERR_DB. info untouched on error. */
int auth_session_lookup(struct app *app, const char *token, struct auth_info *out);

/* Creates a session for a user: token (malloc'd, caller frees) and csrf_out. */
int auth_session_create(struct app *app, const char *user_id, char **token_out,
                        char csrf_out[64]);
/* Set-Cookie for a new session / clearing it. */
void auth_set_cookie(struct http_req *r, struct app *app, const char *token);
void auth_clear_cookie(struct http_req *r, struct app *app);

/* For WebSocket endpoints: authenticates a handshake from its cookie (and checks Origin
 * against Host). RM_OK with info filled, RM_ERR_AUTH, RM_ERR_FORBIDDEN. */
struct ws_conn;
int auth_ws(struct ws_conn *c, struct app *app, int min_role, struct auth_info *out);

#endif
