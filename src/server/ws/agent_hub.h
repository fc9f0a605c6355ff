#ifndef RM_SERVER_WS_AGENT_HUB_H
#define RM_SERVER_WS_AGENT_HUB_H
/* The agent socket: /ws/agent, subprotocol rm-agent.v1, Authorization: Bearer <bearer>
 * (docs/internals/messages.md). One connection per host (a new one replaces the old:
 * close 4002 "replaced"). Agent job events are queued and persisted in ONE transaction per
 * loop turn (uv_check), then acknowledged (exactly what was committed) and fanned out to
 * the job and event hubs. Heartbeats are acknowledged at once; last_seen is kept in memory
 * and written to the store (batched once per second) at most every 30 s per host (or
 * offline_after / 3 if shorter), and when the agent disconnects. Loop thread only. */
#include <jansson.h>
#include <stdint.h>

#include "common/proto.h"

struct app;
struct agent_hub;
struct ws_endpoint;

struct agent_hub *agent_hub_new(struct app *app);
/* Flushes queued events and heartbeat times, stops (closes) its handles. Call before
 * http_server_stop. Messages arriving afterwards are ignored. */
void agent_hub_stop(struct agent_hub *h);
void agent_hub_free(struct agent_hub *h); /* after the loop ran out; NULL ok */
const struct ws_endpoint *agent_hub_endpoint(void);

/* Sends a server->agent message to a connected host (after its hello). Takes payload.
 * RM_OK, RM_ERR_NOTFOUND (not connected), RM_ERR_TOOBIG / RM_ERR_IO (socket). */
int agent_hub_send(struct agent_hub *h, const char *host_id, enum rm_msg_type type,
                   json_t *payload_take);
/* command.run {job_id, kind, args} (args borrowed, may be NULL). */
int agent_hub_send_command(struct agent_hub *h, const char *host_id, const char *job_id,
                           const char *kind, const json_t *args);
int agent_hub_is_connected(struct agent_hub *h, const char *host_id); /* 1 / 0 */
size_t agent_hub_connected_count(const struct agent_hub *h);
/* In-memory time (ms, wall clock) of the last hello/heartbeat of a connected host, 0 when
 * it is not connected. Newer than the stored last_seen_at by up to the persist interval. */
int64_t agent_hub_last_seen(const struct agent_hub *h, const char *host_id);
/* Replaces a host projection's (store_host_get) "last_seen_at" by the in-memory time when
 * that is newer. */
void agent_hub_overlay_last_seen(const struct agent_hub *h, json_t *host);
/* Sweeper: the store marked this host offline (silent too long). */
void agent_hub_note_offline(struct agent_hub *h, const char *host_id);
/* Closes a host's socket (e.g. host deleted). */
void agent_hub_disconnect(struct agent_hub *h, const char *host_id, int code,
                          const char *reason);

#endif
