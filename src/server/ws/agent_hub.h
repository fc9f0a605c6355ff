#ifndef RM_SERVER_WS_AGENT_HUB_H
#define RM_SERVER_WS_AGENT_HUB_H
/* The agent socket: /ws/agent, subprotocol rm-agent.v1, Authorization: Bearer <bearer>
 * (docs/internals/messages.md). One connection per host (a new one replaces the old:
 * close 4002 "replaced"). Agent job events are queued and persisted in ONE transaction per
 * loop turn (uv_check), then acknowledged (exactly what was committed) and fanned out to
 * live job streams (job_hub) and announced through engine/notify. Heartbeats are acknowledged at once; last_seen is kept in memory
 * and written to the store (batched once per second) at most every 30 s per host (or
 * offline_after / 3 if shorter), and when the agent disconnects. The hub is the provider
 * of engine/presence (sending to an agent, last seen, disconnect): others reach agents
 * there. What an agent reports is redacted of that host's secrets (engine/host_secrets)
 * before it is stored or fanned out; repository policy on hello is engine/repo_policy's.
 * Changes are announced through engine/notify. Loop thread only. */
#include <stddef.h>

struct app;
struct agent_hub;
struct ws_endpoint;

struct agent_hub *agent_hub_new(struct app *app);
/* Flushes queued events and heartbeat times, stops (closes) its handles. Call before
 * http_server_stop. Messages arriving afterwards are ignored. */
void agent_hub_stop(struct agent_hub *h);
void agent_hub_free(struct agent_hub *h); /* after the loop ran out; NULL ok */
const struct ws_endpoint *agent_hub_endpoint(void);

size_t agent_hub_connected_count(const struct agent_hub *h);

#endif
