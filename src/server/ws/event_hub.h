#ifndef RM_SERVER_WS_EVENT_HUB_H
#define RM_SERVER_WS_EVENT_HUB_H
/* Browser dashboard events: /api/events, subprotocol rm-events.v1, session-cookie auth
 * (viewer). Changes are marked dirty and flushed every 100 ms (coalesced: at most 10
 * messages per second per host/job): {"type":"host","host":{..}} and
 * {"type":"job","job":{..}}. Nothing is recorded while nobody listens. A subscriber whose
 * queue overflows is closed with 4008 "resync". Changes arrive through engine/notify
 * (subscribed in event_hub_new). Loop thread only. */
struct app;
struct event_hub;
struct ws_endpoint;

#define EVENT_HUB_SUBPROTOCOL "rm-events.v1"

struct event_hub *event_hub_new(struct app *app);
/* Stops the flush timer (closes its handle); call before http_server_stop. */
void event_hub_stop(struct event_hub *h);
void event_hub_free(struct event_hub *h); /* after the loop ran out; NULL ok */
const struct ws_endpoint *event_hub_endpoint(void);

#endif
