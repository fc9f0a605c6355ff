#ifndef RM_SERVER_ENGINE_RPC_H
#define RM_SERVER_ENGINE_RPC_H
/* Agent RPC: one request envelope to a connected agent, answered by one `<type>.result`
 * envelope whose payload carries "request_id" (the request's envelope id). Used where the
 * browser waits for an answer only the agent has (tree.list, forget.preview, ...).
 *
 * Loop thread only. Results are ephemeral: a call whose agent disconnects ends RPC_LOST, one
 * that does not answer in time RPC_TIMEOUT. The agent hub hands every result envelope to
 * rpc_deliver() and every closed connection to rpc_host_gone(). */
#include <jansson.h>

#include "common/proto.h"

struct app;
struct rpc;
struct rpc_call;

enum rpc_status { RPC_OK = 0, RPC_REMOTE_ERROR, RPC_TIMEOUT, RPC_LOST /* agent disconnected */ };

/* result: the result envelope's payload (borrowed, valid only during the call) for RPC_OK and
 * RPC_REMOTE_ERROR (then result.error = {code, message}); NULL otherwise. */
typedef void (*rpc_done_fn)(void *ctx, enum rpc_status st, const json_t *result);

#define RPC_MAX_PENDING 4096 /* over it the oldest call ends RPC_TIMEOUT */

struct rpc *rpc_new(struct app *app);
/* Ends every pending call RPC_LOST (unless abandoned) and closes their timers; call before the
 * loop's last run. */
void rpc_stop(struct rpc *r);
void rpc_free(struct rpc *r); /* after the loop ran the close callbacks; NULL ok */

/* Sends an envelope of `type` (payload reference stolen) to the host's connected agent.
 * Returns NULL when the host is not connected (answer 409 host_offline at once); done is then
 * never called. Otherwise done is called exactly once, unless rpc_abandon() came first. */
struct rpc_call *rpc_start(struct app *app, const char *host_id, enum rm_msg_type type,
                           json_t *payload, unsigned timeout_ms, rpc_done_fn done, void *ctx);
/* The caller is gone (e.g. the HTTP client closed): done will not be called. NULL ok. */
void rpc_abandon(struct rpc_call *c);

/* From the agent hub: a result envelope's payload from host_id. Unknown or foreign
 * request ids are ignored (late answers after a timeout). */
void rpc_deliver(struct app *app, const char *host_id, const json_t *payload);
/* From the agent hub: host_id's connection closed; its calls end RPC_LOST. */
void rpc_host_gone(struct app *app, const char *host_id);
size_t rpc_pending_count(const struct rpc *r);

#endif
