#ifndef RM_AGENT_WS_CLIENT_H
#define RM_AGENT_WS_CLIENT_H
/* The agent core: the WebSocket client to the server (libwebsockets on the agent's libuv
 * loop), the message handler, the runner's event sink (outbox + send) and the reconnect
 * / heartbeat timers. Loop thread only.
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
	const char *restic_path;   /* resolved absolute path, or NULL when restic is missing */
	int offline;               /* 1: no lws context, no runner (tests / fuzzing) */
	size_t outbox_max;         /* 0 = default (64 MiB) */
	unsigned heartbeat_s;      /* 0 = 30 */
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

/* --- helpers shared with enroll / main ----------------------------------------- */
/* "amd64" / "arm64" / uname machine. Static string. */
const char *agent_arch(void);
/* gethostname into buf. */
void agent_hostname(char *buf, size_t len);
/* PATH lookup of an executable; malloc'd absolute path or NULL. */
char *agent_find_in_path(const char *name);
/* Runs `<restic> version` with uv_spawn; cb gets "0.14.0" (or "" on failure) on the
 * loop. RM_OK or RM_ERR_CHILD (cb not called). */
typedef void (*agent_probe_cb)(void *ud, const char *version);
int agent_probe_restic(uv_loop_t *loop, const char *restic, agent_probe_cb cb, void *ud);
/* 1 if SHA-256 of the certificate's DER equals pin_hex (64 hex chars, any case). */
struct x509_st;
int agent_cert_pin_ok(struct x509_st *cert, const char *pin_hex);
/* Parses http(s)://host[:port][/base] (also ws/wss). RM_OK or RM_ERR_INVAL. */
struct agent_url {
	int tls;
	int port;
	char host[256];  /* without brackets for IPv6 */
	char base[1024]; /* path prefix without trailing slash ("" for none) */
};
int agent_url_parse(const char *url, struct agent_url *out);

#endif
