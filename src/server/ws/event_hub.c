/* Browser dashboard events (rm-events.v1): dirty sets flushed every 100 ms. */
#include "server/ws/event_hub.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "server/app.h"
#include "server/engine/notify.h"
#include "server/engine/presence.h"
#include "server/http/http.h"
#include "server/store/store.h"
#include "server/store/store_update.h"
#include "server/ws/browser_auth.h"

#define EVENTS_QUEUE_MAX (1024u * 1024)
#define FLUSH_MS 100

struct ev_sub {
	struct ev_sub *next;
	struct ws_conn *ws;
	int done;
	char user_id[RM_ULID_BUF];
};

struct event_hub {
	struct app *app;
	uv_timer_t timer;
	int timer_armed;
	int stopped;
	struct ev_sub *subs;
	json_t *dirty_hosts; /* object used as a set */
	json_t *dirty_jobs;
	int alerts_dirty; /* the open-alert count may have changed */
};

static void broadcast(struct event_hub *h, const char *text)
{
	size_t len = strlen(text);
	for (struct ev_sub *s = h->subs; s; s = s->next) {
		if (s->done)
			continue;
		int rc = ws_send(s->ws, text, len);
		if (rc == RM_ERR_TOOBIG) {
			s->done = 1;
			ws_discard_queue(s->ws);
			ws_close(s->ws, 4008, "resync");
		} else if (rc) {
			s->done = 1;
		}
	}
}

static void flush(struct event_hub *h)
{
	struct store *st = h->app->store;
	const char *key;
	json_t *v;
	json_t *jobs = h->dirty_jobs, *hosts = h->dirty_hosts;
	h->dirty_jobs = json_object();
	h->dirty_hosts = json_object();
	if (h->subs) {
		json_object_foreach (jobs, key, v) {
			json_t *job = store_job_get(st, key);
			if (!job)
				continue;
			json_t *m = json_pack("{s:s,s:o}", "type", "job", "job", job);
			char *t = rmj_dumps(m);
			json_decref(m);
			broadcast(h, t);
			free(t);
		}
		json_object_foreach (hosts, key, v) {
			json_t *host = store_host_get(st, key);
			if (!host) { /* C6: deleted with its history */
				json_t *m =
				    json_pack("{s:s,s:s}", "type", "host_removed", "id", key);
				char *t = rmj_dumps(m);
				json_decref(m);
				broadcast(h, t);
				free(t);
				continue;
			}
			presence_overlay_last_seen(h->app->presence, host);
			json_t *m = json_pack("{s:s,s:o}", "type", "host", "host", host);
			char *t = rmj_dumps(m);
			json_decref(m);
			broadcast(h, t);
			free(t);
		}
	}
	json_decref(jobs);
	json_decref(hosts);
	if (h->alerts_dirty && h->subs) {
		long long open = 0, acked = 0;
		if (store_alerts_count(st, "open", &open) == RM_OK &&
		    store_alerts_count(st, "acked", &acked) == RM_OK) {
			json_t *m = json_pack("{s:s,s:I,s:I}", "type", "alerts", "open",
			                      (json_int_t)open, "acked", (json_int_t)acked);
			char *t = rmj_dumps(m);
			json_decref(m);
			broadcast(h, t);
			free(t);
		}
	}
	h->alerts_dirty = 0;
}

static void timer_cb(uv_timer_t *t)
{
	struct event_hub *h = t->data;
	h->timer_armed = 0;
	flush(h);
}

static void arm(struct event_hub *h)
{
	if (h->timer_armed || h->stopped)
		return;
	h->timer_armed = 1;
	uv_timer_start(&h->timer, timer_cb, FLUSH_MS, 0);
}

/* engine/notify subscriber: marks the row dirty (nothing recorded without subscribers). */
static void on_changed(void *ud, enum notify_kind kind, const char *id)
{
	struct event_hub *h = ud;
	if (!h->subs || h->stopped)
		return;
	if (kind == NOTIFY_USER) { /* re-authenticate that user's streams */
		for (struct ev_sub *s = h->subs; s; s = s->next) {
			if (!s->done && strcmp(s->user_id, id) == 0) {
				s->done = 1;
				ws_close(s->ws, 4001, "session changed");
			}
		}
		return;
	}
	if (kind == NOTIFY_ALERTS)
		h->alerts_dirty = 1;
	else
		json_object_set_new(kind == NOTIFY_HOST ? h->dirty_hosts : h->dirty_jobs, id,
		                    json_true());
	arm(h);
}

static int on_open(struct ws_conn *ws, void *appv)
{
	struct app *app = appv;
	struct event_hub *h = app->events;
	if (!h || h->stopped)
		return RM_ERR_FORBIDDEN;
	if (strcmp(ws_conn_path(ws), "/api/events") != 0)
		return RM_ERR_NOTFOUND;
	struct auth_info info;
	int rc = browser_auth(ws, app, ROLE_VIEWER, &info);
	if (rc)
		return rc;
	struct ev_sub *s = rm_xcalloc(1, sizeof *s);
	s->ws = ws;
	rm_strlcpy(s->user_id, info.user_id, sizeof s->user_id);
	s->next = h->subs;
	h->subs = s;
	ws_conn_set_user(ws, s);
	return RM_OK;
}

static void on_message(struct ws_conn *ws, void *app, const char *data, size_t len)
{
	(void)ws, (void)app, (void)data, (void)len;
}

static void on_close(struct ws_conn *ws, void *appv)
{
	struct app *app = appv;
	struct event_hub *h = app->events;
	struct ev_sub *s = ws_conn_user(ws);
	if (!s || !h)
		return;
	struct ev_sub **pp = &h->subs;
	while (*pp && *pp != s)
		pp = &(*pp)->next;
	if (*pp)
		*pp = s->next;
	free(s);
}

static const struct ws_endpoint endpoint = {
	.path = "/api/events",
	.subprotocol = EVENT_HUB_SUBPROTOCOL,
	.max_message = 4096,
	.max_queue = EVENTS_QUEUE_MAX,
	.on_open = on_open,
	.on_message = on_message,
	.on_close = on_close,
	.on_drain = NULL,
};

const struct ws_endpoint *event_hub_endpoint(void)
{
	return &endpoint;
}

struct event_hub *event_hub_new(struct app *app)
{
	struct event_hub *h = rm_xcalloc(1, sizeof *h);
	h->app = app;
	uv_timer_init(app->loop, &h->timer);
	h->timer.data = h;
	h->dirty_hosts = json_object();
	h->dirty_jobs = json_object();
	notify_subscribe(app->notify, NOTIFY_HOST | NOTIFY_JOB | NOTIFY_USER | NOTIFY_ALERTS,
	                 on_changed, h);
	return h;
}

void event_hub_stop(struct event_hub *h)
{
	if (!h || h->stopped)
		return;
	h->stopped = 1;
	uv_timer_stop(&h->timer);
	uv_close((uv_handle_t *)&h->timer, NULL);
}

void event_hub_free(struct event_hub *h)
{
	if (!h)
		return;
	notify_unsubscribe(h->app->notify, on_changed, h);
	while (h->subs) {
		struct ev_sub *s = h->subs;
		h->subs = s->next;
		free(s);
	}
	json_decref(h->dirty_hosts);
	json_decref(h->dirty_jobs);
	free(h);
}
