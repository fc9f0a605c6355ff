#ifndef RM_SERVER_APP_H
#define RM_SERVER_APP_H
/* The server's one context object, created in main.c and passed (as void *app) to every
 * handler and WebSocket callback. */
#include <stdint.h>
#include <uv.h>

#include "common/crypto.h"

struct server_config;
struct store;
struct http_server;
struct agent_hub;
struct job_hub;
struct event_hub;
struct api_cache;
struct notify;
struct presence;
struct rpc;
struct dl_list;
struct throttle;
struct oidc;
struct alerts;
struct update_engine;
struct rotation;
struct announce_limiter;

struct app {
	uv_loop_t *loop;
	struct server_config *cfg;
	struct store *store;
	uint8_t key[RM_KEY_BYTES]; /* master secret (secret.key) */
	struct http_server *http;
	struct agent_hub *agents;  /* ws/agent_hub.c */
	struct job_hub *jobs;      /* ws/job_hub.c: browser job streams */
	struct event_hub *events;  /* ws/event_hub.c: browser dashboard events */
	struct notify *notify;     /* engine/notify.c: host/job changed -> subscribers */
	struct presence *presence; /* engine/presence.c: connected agents (the agent hub) */
	struct rpc *rpc;           /* engine/rpc.c: requests answered by agents */
	struct dl_list *downloads; /* engine/download.c: snapshot downloads (lazy) */
	struct throttle *throttle; /* engine/throttle.c: backoff after failed credentials */
	struct alerts *alerts;     /* engine/alerts.c: C4 rules, alerts, deliveries */
	struct rotation *rotation; /* engine/rotation.c: C6 repository password rotation */
	int shutting_down;
	struct api_cache *api_cache; /* api/hosts.c; api_cache_free */
	struct oidc *oidc;           /* engine/oidc.c; NULL when single sign-on is off */
	/* engine/announce.c: C6 announcements per client address */
	struct announce_limiter *announce;
	struct update_engine *update; /* engine/update.c: C6 agent updates */
};

#endif
