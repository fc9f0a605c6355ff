#ifndef RM_SERVER_API_API_UPDATE_H
#define RM_SERVER_API_API_UPDATE_H
/* C6 agent updates over HTTP (update.c; engine/update.h does the work). */
#include <jansson.h>

struct http_req;
struct app;

void api_host_update(struct http_req *r, void *app);         /* POST /api/hosts/{id}/update */
void api_fleet_update_get(struct http_req *r, void *app);    /* GET /api/fleet/update */
void api_fleet_update_start(struct http_req *r, void *app);  /* POST /api/fleet/update */
void api_fleet_update_cancel(struct http_req *r, void *app); /* POST .../{run}/cancel */
void api_agent_manifest(struct http_req *r, void *app);      /* GET /agent/manifest */

/* Adds "update_pubkey" to an enrollment answer when updates are configured. */
void api_update_enroll_answer(struct app *app, json_t *answer);

#endif
