#ifndef RM_SERVER_API_BROWSE_INT_H
#define RM_SERVER_API_BROWSE_INT_H
/* Shared by browse.c (tree, diff) and download.c. */
#include <jansson.h>

#include "server/engine/rpc.h"

struct http_req;
struct app;

/* 1 when p is a snapshot path the browser may send (absolute, no '.', '..', empty
 * components, control characters; <= 4096 bytes). */
int api_path_ok(const char *p);
/* The full id of snap among host_id's snapshots (id or unique prefix of >= 8); otherwise
 * answers 404 (unknown host / unknown_snapshot) or 503 and returns NULL. Caller frees. */
char *api_snapshot_resolve(struct http_req *r, struct app *app, const char *host_id,
                           const char *snap);
/* 504 agent_timeout, 409 host_offline (lost), or the agent's error code mapped to a status
 * (not_found 404, not_a_directory/unsupported 422, invalid/bad_cursor 400, busy 503, else
 * 502). */
void api_respond_rpc_failure(struct http_req *r, enum rpc_status st, const json_t *res);

#endif
