#ifndef RM_SERVER_HTTP_ROUTER_H
#define RM_SERVER_HTTP_ROUTER_H
/* Method + path-pattern matching. Patterns are literal segments and {name} parameters,
 * e.g. "/api/hosts/{id}/jobs". A parameter matches one non-empty segment. Literal
 * segments win over parameters when both could match. */
#include <stddef.h>

struct http_req;
typedef void (*route_handler)(struct http_req *r, void *app);

struct route {
	const char *method; /* "GET", "POST", "DELETE", ... */
	const char *pattern;
	int min_role;   /* see api/auth.h: ROLE_PUBLIC, ROLE_VIEWER, ... */
	unsigned flags; /* api-defined (e.g. ROUTE_JSON_BODY, ROUTE_AGENT_AUTH) */
	route_handler handler;
};

enum router_result { ROUTER_MATCH = 0, ROUTER_NOT_FOUND, ROUTER_METHOD_NOT_ALLOWED };

/* Finds the route for method+path in table[0..n). On ROUTER_MATCH *out is set and the
 * parameters are stored on r with http_req_set_param (r may be NULL in tests: then
 * params go to the optional params callback). */
enum router_result router_match(const struct route *table, size_t n, const char *method,
                                const char *path, struct http_req *r, const struct route **out);
/* Test/helper form: fills up to max (name,value) pairs, values malloc'd (caller frees). */
enum router_result router_match_params(const struct route *table, size_t n, const char *method,
                                       const char *path, const struct route **out, char *names[],
                                       char *values[], size_t max, size_t *nparams);
#endif
