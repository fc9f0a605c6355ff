#ifndef RM_AGENT_WS_CLIENT_H
#define RM_AGENT_WS_CLIENT_H
/* The agent core: the WebSocket client to the server (libwebsockets on the agent's libuv
 * loop; client.c), the message handlers (handlers.c), the runner's event sink (outbox +
 * send) and the reconnect / heartbeat timers. Loop thread only.
 *
 * Lifecycle: agent_new -> agent_start (creates the lws context, probes restic, then
 * connects) -> ... -> agent_stop (graceful: runner_free, close the socket,
 * lws_context_destroy, close our handles) -> keep running the loop until it has no more
 * handles -> agent_free. agent_new never runs the loop; after a failed agent_start the
 * caller stops, drains and frees as after a normal run. */
#include <jansson.h>
#include <stddef.h>
#include <uv.h>

#include "agent/config.h"

struct agent;

struct agent_opts {
	uv_loop_t *loop;
	const struct agent_config *cfg; /* borrowed for the call; copied */
	const char *state_dir;
	const char *restic_path; /* resolved absolute path, or NULL when restic is missing */
	int offline;             /* 1: no lws context, no runner (tests / fuzzing) */
	size_t outbox_max;       /* 0 = default (64 MiB) */
	unsigned heartbeat_s;    /* 0 = 30 */
};

/* RM_OK, or RM_ERR_IO (state dir / outbox / runner unusable), RM_ERR_INVAL (bad server
 * URL). A corrupt secrets file is not an error (logged; the agent runs without
 * credentials). *out is set only on success; on failure everything is already freed. */
int agent_new(const struct agent_opts *opts, struct agent **out);
/* Creates the WebSocket context, probes `restic version` (async) and connects once the
 * probe is done. RM_OK (also offline: nothing to do) or RM_ERR_IO (no lws context). */
int agent_start(struct agent *a);
/* Graceful stop; safe to call twice. The loop must run until all handles are closed. */
void agent_stop(struct agent *a);
/* Frees what is left after the loop has drained (flushes the outbox). NULL ok. */
void agent_free(struct agent *a);

/* Handles one complete text frame from the server as if it had arrived on the socket.
 * Works without a connection (replies are then dropped). Never crashes on any input.
 * Returns the decode result (RM_OK, RM_ERR_UNKNOWN, RM_ERR_PROTO, RM_ERR_TOOBIG). */
int agent_handle_frame(struct agent *a, const char *buf, size_t len);

#endif
