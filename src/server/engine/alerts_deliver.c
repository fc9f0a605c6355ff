/* C4 deliveries: one row per (alert event, matching channel), sent through
 * engine/channels_io, retried with backoff (alert_retry_base_ms x 4^(attempt-1)) up to
 * alert_max_attempts, then failed. When a channel got more than DIGEST_MAX "raised"
 * deliveries within DIGEST_WINDOW, further ones are held and go out as one digest once
 * the window since the first held one has passed. At most MAX_INFLIGHT_CHANNEL transfers
 * per channel run at once, so a receiver that hangs cannot take the slots of others. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/rmtime.h"
#include "server/app.h"
#include "server/config.h"
#include "server/engine/alerts_int.h"
#include "server/engine/channels.h"
#include "server/engine/channels_io.h"
#include "server/store/store.h"

#define MAX_INFLIGHT 64
#define MAX_INFLIGHT_CHANNEL 4 /* a hung receiver holds at most this many transfers */
#define DIGEST_MAX 10
#define DIGEST_WINDOW_MS (5 * 60 * 1000)
#define SCAN_BATCH 64

static char *link_for(struct app *app, const json_t *alert)
{
	const char *job = rmj_str(alert, "job_id");
	const char *host = rmj_str(alert, "host_id");
	if (job)
		return rm_xasprintf("%s/jobs/%s", app->cfg->base_url, job);
	if (host)
		return rm_xasprintf("%s/hosts/%s", app->cfg->base_url, host);
	return rm_xasprintf("%s/alerts", app->cfg->base_url);
}

json_t *alerts_payload(struct app *app, const json_t *alert, const char *event)
{
	int resolved = strcmp(event, "resolved") == 0;
	char *link = link_for(app, alert);
	const char *host = rmj_str(alert, "hostname");
	const char *grp = rmj_str(alert, "group");
	char *title = rm_xasprintf("%s%s", resolved ? "Resolved: " : "", rmj_str(alert, "title"));
	char *text = rm_xasprintf(
	    "%s%s%s\n\nWhat: %s\nWhere: host %s%s%s%s\nSince: %s (%lld occurrence%s)\n%s%s%s"
	    "Link: %s\n",
	    resolved ? "RESOLVED: " : "", rmj_str(alert, "title"), "", rmj_str(alert, "message"),
	    host ? host : "(none)", grp && grp[0] ? ", group \"" : "", grp && grp[0] ? grp : "",
	    grp && grp[0] ? "\"" : "", rmj_str(alert, "first_at"), rmj_int(alert, "count", 1),
	    rmj_int(alert, "count", 1) == 1 ? "" : "s", resolved ? "Resolution: " : "",
	    resolved && rmj_str(alert, "resolution") ? rmj_str(alert, "resolution") : "",
	    resolved ? "\n" : "", link);
	json_t *a = json_deep_copy(alert);
	json_object_del(a, "first_ms");
	json_object_del(a, "last_ms");
	json_t *p =
	    json_pack("{s:s,s:s,s:s,s:s,s:s,s:o}", "event", event, "title", title, "text", text,
	              "severity", rmj_str(alert, "severity"), "link", link, "alert", a);
	free(link);
	free(title);
	free(text);
	return p;
}

void alerts_enqueue(struct app *app, const json_t *alert, const char *event)
{
	json_t *chans = store_channels_list(app->store);
	if (!chans || json_array_size(chans) == 0) {
		json_decref(chans);
		return;
	}
	const char *hid = rmj_str(alert, "host_id");
	json_t *host = hid ? store_host_get(app->store, hid) : NULL;
	json_t *tags = host ? json_object_get(host, "tags") : NULL;
	json_t *payload = alerts_payload(app, alert, event);
	int64_t now = rm_now_ms();
	size_t i;
	json_t *c;
	json_array_foreach (chans, i, c) {
		if (!channel_wants(c, rmj_str(alert, "severity"), tags))
			continue;
		const char *cid = rmj_str(c, "id");
		long long recent = 0;
		const char *status = "pending";
		if (strcmp(event, "raised") == 0 &&
		    store_deliveries_recent(app->store, cid, now - DIGEST_WINDOW_MS, &recent) ==
		        RM_OK &&
		    recent >= DIGEST_MAX)
			status = "held";
		store_delivery_insert(app->store, cid, rmj_str(alert, "id"), event, status, payload,
		                      now, NULL);
	}
	json_decref(payload);
	json_decref(host);
	json_decref(chans);
	alerts_kick(app);
}

/* ---- sending ---- */

struct send_ctx {
	struct alerts *a;
	char id[RM_ULID_BUF];
	char channel_id[RM_ULID_BUF];
	int attempts;
	int test;
	alerts_test_fn test_done;
	void *test_ud;
};

static void inflight_add(struct alerts *a, const char *cid, int d)
{
	long long n = json_integer_value(json_object_get(a->inflight, cid)) + d;
	if (n > 0)
		json_object_set_new(a->inflight, cid, json_integer(n));
	else
		json_object_del(a->inflight, cid);
}

static void retry_cb(uv_timer_t *t)
{
	struct alerts *a = t->data;
	alerts_deliver_scan(a);
}

/* Scans again in delay_ms unless a scan is due sooner. */
static void arm_retry(struct alerts *a, int64_t delay_ms)
{
	if (a->stopped)
		return;
	if (uv_is_active((uv_handle_t *)&a->retry) &&
	    uv_timer_get_due_in(&a->retry) <= (uint64_t)delay_ms)
		return;
	uv_timer_start(&a->retry, retry_cb, (uint64_t)delay_ms, 0);
}

static void send_done(void *ud, const struct cio_result *res)
{
	struct send_ctx *x = ud;
	struct alerts *a = x->a;
	struct app *app = a->app;
	inflight_add(a, x->channel_id, -1);
	if (!a->stopped) {
		if (res->ok) {
			store_delivery_set(app->store, x->id, "sent", x->attempts, NULL, -1);
		} else if (!x->test && x->attempts < app->cfg->alert_max_attempts) {
			int64_t delay = app->cfg->alert_retry_base_ms;
			for (int i = 1; i < x->attempts && delay < 3600000; i++)
				delay *= 4;
			store_delivery_set(app->store, x->id, "pending", x->attempts, res->err,
			                   rm_now_ms() + delay);
			arm_retry(a, delay);
		} else {
			store_delivery_set(app->store, x->id, "failed", x->attempts, res->err, -1);
		}
		if (!res->ok)
			RM_WARN("alert delivery failed", "delivery_id", x->id, "err", res->err);
	}
	if (x->test_done)
		x->test_done(x->test_ud, res, x->id);
	free(x);
	if (!a->stopped)
		alerts_kick(app);
}

/* Starts one delivery row: RM_OK, or an error after marking it failed. */
static int send_one(struct alerts *a, const json_t *d, int test, alerts_test_fn fn, void *ud)
{
	struct app *app = a->app;
	const char *id = rmj_str(d, "id");
	int attempts = (int)rmj_int(d, "attempts", 0) + 1;
	json_t *chan = store_channel_get(app->store, rmj_str(d, "channel_id"));
	char err[200] = "channel removed";
	struct cio_xfer *xf = NULL;
	int rc =
	    chan ? channel_build(app, chan, id, json_object_get(d, "payload"), &xf, err, sizeof err)
	         : RM_ERR_NOTFOUND;
	json_decref(chan);
	if (rc) {
		store_delivery_set(app->store, id, "failed", attempts, err, -1);
		return rc;
	}
	struct send_ctx *x = rm_xcalloc(1, sizeof *x);
	x->a = a;
	snprintf(x->id, sizeof x->id, "%s", id);
	snprintf(x->channel_id, sizeof x->channel_id, "%s", rmj_str(d, "channel_id"));
	x->attempts = attempts;
	x->test = test;
	x->test_done = fn;
	x->test_ud = ud;
	store_delivery_set(app->store, id, "sending", attempts, NULL, -1);
	rc = cio_start(a->io, xf, send_done, x);
	if (!rc)
		inflight_add(a, x->channel_id, 1);
	if (rc) {
		free(x);
		store_delivery_set(app->store, id, "failed", attempts, "cannot start the transfer",
		                   -1);
	}
	return rc;
}

void alerts_deliver_scan(struct alerts *a)
{
	if (!a || a->stopped)
		return;
	int room = MAX_INFLIGHT - cio_active(a->io);
	if (room <= 0)
		return;
	json_t *full = json_array();
	const char *cid;
	json_t *n;
	json_object_foreach (a->inflight, cid, n)
		if (json_integer_value(n) >= MAX_INFLIGHT_CHANNEL)
			json_array_append_new(full, json_string(cid));
	json_t *due = store_deliveries_due(a->app->store, rm_now_ms(),
	                                   room < SCAN_BATCH ? room : SCAN_BATCH, full);
	json_decref(full);
	size_t i;
	json_t *d;
	json_array_foreach (due, i, d) {
		/* the batch may hold more rows of one channel than it has slots left */
		cid = rmj_str(d, "channel_id");
		if (json_integer_value(json_object_get(a->inflight, cid)) < MAX_INFLIGHT_CHANNEL)
			send_one(a, d, 0, NULL, NULL);
	}
	json_decref(due);
}

int alerts_channel_test(struct app *app, const char *channel_id, alerts_test_fn done, void *ud)
{
	struct alerts *a = app->alerts;
	if (!a || a->stopped)
		return RM_ERR_IO;
	json_t *chan = store_channel_get(app->store, channel_id);
	if (!chan)
		return RM_ERR_NOTFOUND;
	char title[200];
	snprintf(title, sizeof title, "Test message from restic-manager (channel %s)",
	         rmj_str(chan, "name"));
	char *text = rm_xasprintf("%s\n\nIf you can read this, the channel works.\nLink: %s/\n",
	                          title, app->cfg->base_url);
	char *link = rm_xasprintf("%s/", app->cfg->base_url);
	json_t *payload = json_pack("{s:s,s:s,s:s,s:s,s:s,s:n}", "event", "test", "title", title,
	                            "text", text, "severity", "info", "link", link, "alert");
	free(text);
	free(link);
	json_decref(chan);
	char id[RM_ULID_BUF];
	int rc = store_delivery_insert(app->store, channel_id, NULL, "test", "sending", payload,
	                               rm_now_ms(), id);
	if (!rc) {
		json_t *row = json_pack("{s:s,s:s,s:i,s:O}", "id", id, "channel_id", channel_id,
		                        "attempts", 0, "payload", payload);
		rc = send_one(a, row, 1, done, ud);
		json_decref(row);
	}
	json_decref(payload);
	return rc;
}

/* ---- digests ---- */

static void digest_channel(struct app *app, const char *cid)
{
	json_t *held = store_deliveries_held(app->store, cid);
	if (!held || json_array_size(held) == 0) {
		json_decref(held);
		return;
	}
	size_t n = json_array_size(held), i;
	json_t *d;
	char *title = rm_xasprintf("%zu more alerts (digest)", n);
	char *text = rm_xasprintf("%s\n", title);
	json_t *list = json_array();
	json_array_foreach (held, i, d) {
		const json_t *p = json_object_get(d, "payload");
		char *t2 =
		    rm_xasprintf("%s\n- %s\n  %s", text, rmj_str(p, "title"), rmj_str(p, "link"));
		free(text);
		text = t2;
		json_array_append(list, json_object_get(p, "alert"));
	}
	json_t *payload =
	    json_pack("{s:s,s:s,s:s,s:s,s:s,s:o}", "event", "digest", "title", title, "text", text,
	              "severity", "warning", "link", app->cfg->base_url, "alerts", list);
	if (store_tx_begin(app->store) == RM_OK) {
		int rc = store_delivery_insert(app->store, cid, NULL, "digest", "pending", payload,
		                               rm_now_ms(), NULL);
		if (!rc)
			rc = store_deliveries_mark_digested(app->store, cid, rm_now_ms());
		store_tx_end(app->store, rc);
	}
	json_decref(payload);
	free(title);
	free(text);
	json_decref(held);
}

void alerts_digest_flush(struct app *app)
{
	json_t *chans = store_deliveries_held_channels(app->store);
	int64_t now = rm_now_ms();
	size_t i;
	json_t *c;
	json_array_foreach (chans, i, c)
		if (now - rmj_int(c, "oldest_ms", now) >= DIGEST_WINDOW_MS)
			digest_channel(app, rmj_str(c, "channel_id"));
	json_decref(chans);
}
