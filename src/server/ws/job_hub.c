/* Browser job streams (rm-stream.v1). Per subscriber: BACKFILL (stored lines, paged as the
 * socket drains; live events ignored because they are already in the store) then LIVE
 * (committed lines and progress as they are fanned out). */
#include "server/ws/job_hub.h"

#include <stdlib.h>
#include <string.h>

#include "common/ulid.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "server/app.h"
#include "server/engine/notify.h"
#include "server/http/http.h"
#include "server/store/store.h"
#include "server/ws/browser_auth.h"

#define STREAM_QUEUE_MAX (1024u * 1024) /* drop-and-resync threshold (docs/api.md) */
#define BACKFILL_PAGE 500
#define BACKFILL_HIGH_WATER (256u * 1024) /* stop paging while this much is queued */

struct job_sub {
	struct job_sub *next;
	struct ws_conn *ws;
	struct job_topic *topic;
	long long cursor; /* highest seq sent */
	int live;
	int done; /* ended / dropped: send nothing more */
	char user_id[RM_ULID_BUF];
};

struct job_topic {
	struct job_topic *next;
	char job_id[RM_ULID_BUF];
	struct job_sub *subs;
};

struct job_hub {
	struct app *app;
	struct job_topic *topics;
	size_t nsubs;
};

static int is_terminal(const char *status)
{
	return status && (strcmp(status, "succeeded") == 0 || strcmp(status, "failed") == 0 ||
	                  strcmp(status, "cancelled") == 0);
}

static struct job_topic *topic_find(struct job_hub *h, const char *job_id)
{
	if (!h || !job_id)
		return NULL;
	for (struct job_topic *t = h->topics; t; t = t->next)
		if (strcmp(t->job_id, job_id) == 0)
			return t;
	return NULL;
}

static void sub_drop(struct job_sub *s)
{
	if (s->done)
		return;
	s->done = 1;
	RM_INFO("job stream subscriber fell behind: resync", "job_id", s->topic->job_id);
	ws_discard_queue(s->ws);
	ws_close(s->ws, 4008, "resync");
}

/* Sends text; on overflow drops the subscriber. 0 on success. */
static int sub_send(struct job_sub *s, const char *text)
{
	if (s->done)
		return -1;
	int rc = ws_send(s->ws, text, strlen(text));
	if (rc == RM_ERR_TOOBIG) {
		sub_drop(s);
		return -1;
	}
	if (rc) {
		s->done = 1;
		return -1;
	}
	return 0;
}

static int sub_send_json(struct job_sub *s, json_t *msg_take)
{
	char *t = rmj_dumps(msg_take);
	json_decref(msg_take);
	int rc = sub_send(s, t);
	free(t);
	return rc;
}

static void sub_end(struct job_sub *s, json_t *job)
{
	if (s->done)
		return;
	if (job && sub_send_json(s, json_pack("{s:s,s:O}", "type", "job", "job", job)))
		return;
	if (sub_send_json(s, json_pack("{s:s}", "type", "end")))
		return;
	s->done = 1;
	ws_close(s->ws, 1000, "end");
}

/* Pages stored lines until caught up (then LIVE) or the queue is high. */
static void sub_pump(struct job_hub *h, struct job_sub *s)
{
	struct store *st = h->app->store;
	while (!s->done && !s->live) {
		if (ws_queued_bytes(s->ws) > BACKFILL_HIGH_WATER)
			return; /* on_drain resumes */
		json_t *lines = store_log_list(st, s->topic->job_id, s->cursor, BACKFILL_PAGE);
		if (!lines) {
			s->done = 1;
			ws_close(s->ws, 1011, "storage error");
			return;
		}
		size_t n = json_array_size(lines);
		if (n) {
			s->cursor = rmj_int(json_array_get(lines, n - 1), "seq", s->cursor);
			if (sub_send_json(s, json_pack("{s:s,s:o}", "type", "log", "lines", lines)))
				return;
		} else {
			json_decref(lines);
		}
		if (n < BACKFILL_PAGE) {
			s->live = 1;
			json_t *job = store_job_get(st, s->topic->job_id);
			if (job && is_terminal(rmj_str(job, "status")))
				sub_end(s, job);
			json_decref(job);
		}
	}
}

void job_hub_publish_lines(struct job_hub *h, const char *job_id, const json_t *lines)
{
	struct job_topic *t = topic_find(h, job_id);
	if (!t || !json_is_array(lines))
		return;
	for (struct job_sub *s = t->subs; s; s = s->next) {
		if (s->done || !s->live)
			continue;
		json_t *out = json_array();
		size_t i;
		json_t *l;
		long long max = s->cursor;
		json_array_foreach (lines, i, l) {
			long long seq = rmj_int(l, "seq", -1);
			if (seq <= s->cursor)
				continue;
			json_array_append(out, l);
			if (seq > max)
				max = seq;
		}
		if (json_array_size(out) == 0) {
			json_decref(out);
			continue;
		}
		s->cursor = max;
		sub_send_json(s, json_pack("{s:s,s:o}", "type", "log", "lines", out));
	}
}

void job_hub_publish_progress(struct job_hub *h, const char *job_id, const json_t *progress)
{
	struct job_topic *t = topic_find(h, job_id);
	if (!t)
		return;
	char *text = NULL;
	for (struct job_sub *s = t->subs; s; s = s->next) {
		if (s->done || !s->live)
			continue;
		if (!text) {
			json_t *m =
			    json_pack("{s:s,s:O}", "type", "progress", "progress", progress);
			text = rmj_dumps(m);
			json_decref(m);
		}
		sub_send(s, text);
	}
	free(text);
}

/* engine/notify subscriber (jobs): the row changed (state, stats): re-read and send; ends
 * the streams when terminal. */
/* A user's access changed: close their streams (they authenticate again). */
static void close_user(struct job_hub *h, const char *user_id)
{
	for (struct job_topic *t = h->topics; t; t = t->next) {
		for (struct job_sub *s = t->subs; s; s = s->next) {
			if (!s->done && strcmp(s->user_id, user_id) == 0) {
				s->done = 1;
				ws_close(s->ws, 4001, "session changed");
			}
		}
	}
}

static void on_job_changed(void *ud, enum notify_kind kind, const char *job_id)
{
	struct job_hub *h = ud;
	if (kind == NOTIFY_USER) {
		close_user(h, job_id);
		return;
	}
	struct job_topic *t = topic_find(h, job_id);
	if (!t)
		return;
	json_t *job = store_job_get(h->app->store, job_id);
	if (!job)
		return;
	int term = is_terminal(rmj_str(job, "status"));
	for (struct job_sub *s = t->subs; s; s = s->next) {
		if (s->done || !s->live)
			continue; /* backfill re-reads the state when done */
		if (term)
			sub_end(s, job);
		else
			sub_send_json(s, json_pack("{s:s,s:O}", "type", "job", "job", job));
	}
	json_decref(job);
}

size_t job_hub_subscribers(const struct job_hub *h)
{
	return h ? h->nsubs : 0;
}

/* "/api/jobs/{id}/stream" -> id */
static int parse_path(const char *path, char id[RM_ULID_BUF])
{
	const char *pre = "/api/jobs/";
	size_t pl = strlen(pre);
	if (!path || strncmp(path, pre, pl) != 0)
		return RM_ERR_NOTFOUND;
	const char *p = path + pl;
	const char *slash = strchr(p, '/');
	if (!slash || strcmp(slash, "/stream") != 0)
		return RM_ERR_NOTFOUND;
	size_t n = (size_t)(slash - p);
	if (n == 0 || n > 26)
		return RM_ERR_NOTFOUND;
	memcpy(id, p, n);
	id[n] = 0;
	return RM_OK;
}

static int on_open(struct ws_conn *ws, void *appv)
{
	struct app *app = appv;
	struct job_hub *h = app->jobs;
	if (!h || app->shutting_down)
		return RM_ERR_FORBIDDEN;
	char job_id[RM_ULID_BUF];
	if (parse_path(ws_conn_path(ws), job_id))
		return RM_ERR_NOTFOUND;
	struct auth_info info;
	int rc = browser_auth(ws, app, ROLE_VIEWER, &info);
	if (rc)
		return rc;
	long long after = 0;
	const char *as = ws_conn_query(ws, "after_seq");
	if (as && (rm_parse_i64(as, &after) || after < 0))
		after = 0;
	json_t *job = store_job_get(app->store, job_id);
	if (!job)
		return RM_ERR_NOTFOUND;
	struct job_topic *t = topic_find(h, job_id);
	if (!t) {
		t = rm_xcalloc(1, sizeof *t);
		rm_strlcpy(t->job_id, job_id, sizeof t->job_id);
		t->next = h->topics;
		h->topics = t;
	}
	struct job_sub *s = rm_xcalloc(1, sizeof *s);
	s->ws = ws;
	rm_strlcpy(s->user_id, info.user_id, sizeof s->user_id);
	s->topic = t;
	s->cursor = after;
	s->next = t->subs;
	t->subs = s;
	h->nsubs++;
	ws_conn_set_user(ws, s);
	sub_send_json(s, json_pack("{s:s,s:o}", "type", "job", "job", job));
	sub_pump(h, s);
	return RM_OK;
}

static void on_message(struct ws_conn *ws, void *app, const char *data, size_t len)
{
	(void)ws, (void)app, (void)data, (void)len; /* browsers only listen */
}

static void on_drain(struct ws_conn *ws, void *appv)
{
	struct app *app = appv;
	struct job_sub *s = ws_conn_user(ws);
	if (s && app->jobs && !s->live && !s->done)
		sub_pump(app->jobs, s);
}

static void on_close(struct ws_conn *ws, void *appv)
{
	struct app *app = appv;
	struct job_hub *h = app->jobs;
	struct job_sub *s = ws_conn_user(ws);
	if (!s || !h)
		return;
	struct job_topic *t = s->topic;
	struct job_sub **pp = &t->subs;
	while (*pp && *pp != s)
		pp = &(*pp)->next;
	if (*pp)
		*pp = s->next;
	free(s);
	h->nsubs--;
	if (!t->subs) {
		struct job_topic **tp = &h->topics;
		while (*tp && *tp != t)
			tp = &(*tp)->next;
		if (*tp)
			*tp = t->next;
		free(t);
	}
}

static const struct ws_endpoint endpoint = {
	.path = "/api/jobs/",
	.subprotocol = JOB_HUB_SUBPROTOCOL,
	.max_message = 4096,
	.max_queue = STREAM_QUEUE_MAX,
	.on_open = on_open,
	.on_message = on_message,
	.on_close = on_close,
	.on_drain = on_drain,
};

const struct ws_endpoint *job_hub_endpoint(void)
{
	return &endpoint;
}

struct job_hub *job_hub_new(struct app *app)
{
	struct job_hub *h = rm_xcalloc(1, sizeof *h);
	h->app = app;
	notify_subscribe(app->notify, NOTIFY_JOB | NOTIFY_USER, on_job_changed, h);
	return h;
}

void job_hub_free(struct job_hub *h)
{
	if (!h)
		return;
	notify_unsubscribe(h->app->notify, on_job_changed, h);
	while (h->topics) {
		struct job_topic *t = h->topics;
		h->topics = t->next;
		while (t->subs) {
			struct job_sub *s = t->subs;
			t->subs = s->next;
			free(s);
		}
		free(t);
	}
	free(h);
}
