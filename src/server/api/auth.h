#ifndef RM_SERVER_API_AUTH_H
#define RM_SERVER_API_AUTH_H
/* Route roles, session cookies, CSRF and the per-request api context (roles and the
 * session lookup itself live in engine/session.h, shared with ws/).
 * Everything runs on the loop thread. */
#include <jansson.h>
#include <stdint.h>

#include "server/engine/session.h"
#include "server/http/router.h"

struct app;
struct http_req;

/* route flags (struct route.flags) */
#define ROUTE_PUBLIC 0x1u    /* min_role ROLE_PUBLIC is intended (else fail-closed: admin) */
#define ROUTE_JSON_BODY 0x2u /* requires Content-Type application/json + a JSON object body */

/* Per-request context set by api_dispatch (http_req_ctx). */
struct api_ctx {
	struct auth_info auth;
	json_t *body; /* parsed JSON object for ROUTE_JSON_BODY routes, else NULL */
};

/* "admin" -> ROLE_ADMIN ...; -1 if unknown. */
int auth_role_from_name(const char *name);
const char *auth_role_name(int role); /* "public" for ROLE_PUBLIC / unknown */

/* The minimum role actually enforced for a route: a route with ROLE_PUBLIC that does not
 * carry ROUTE_PUBLIC (a forgotten role) is admin-only. Out-of-range roles -> admin. */
int auth_effective_role(const struct route *rt);

enum auth_verdict { AUTH_ALLOW = 0, AUTH_UNAUTHENTICATED, AUTH_FORBIDDEN, AUTH_CSRF };
/* Decides access: min_role vs info; cookie-authenticated POST/PUT/PATCH/DELETE on a
 * non-public route must carry csrf_header equal to the session's CSRF token. */
enum auth_verdict auth_check(const struct auth_info *info, int min_role, const char *method,
                             const char *csrf_header);

/* Set-Cookie for a new session / clearing it. */
void auth_set_cookie(struct http_req *r, struct app *app, const char *token);
void auth_clear_cookie(struct http_req *r, struct app *app);

#endif
