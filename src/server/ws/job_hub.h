#ifndef RM_SERVER_WS_JOB_HUB_H
#define RM_SERVER_WS_JOB_HUB_H
/* Browser job streams: /api/jobs/{id}/stream?after_seq=N, subprotocol rm-stream.v1,
 * session-cookie auth (viewer). Sends {"type":"job"} first, then the stored log lines with
 * seq > after_seq (paged, paced by the socket draining), then live lines/progress/job
 * changes; after the terminal state {"type":"end"} and close 1000. A subscriber whose
 * outgoing queue exceeds 1 MiB is dropped with close 4008 "resync" (docs/api.md).
 * Job row changes arrive through engine/notify (subscribed in job_hub_new). Loop thread
 * only. All publish functions accept h == NULL. */
#include <jansson.h>

struct app;
struct job_hub;
struct ws_endpoint;

#define JOB_HUB_SUBPROTOCOL "rm-stream.v1"

struct job_hub *job_hub_new(struct app *app);
void job_hub_free(struct job_hub *h); /* after the http server stopped; NULL ok */
/* The endpoint description for http_server_opts (static storage). */
const struct ws_endpoint *job_hub_endpoint(void);

/* Lines just committed: array of {"seq","ts","stream","payload"} (borrowed). */
void job_hub_publish_lines(struct job_hub *h, const char *job_id, const json_t *lines);
/* Ephemeral progress object (borrowed): forwarded as {"type":"progress","progress":..}. */
void job_hub_publish_progress(struct job_hub *h, const char *job_id, const json_t *progress);
size_t job_hub_subscribers(const struct job_hub *h);

#endif
