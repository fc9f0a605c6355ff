/* Hosts, snapshots and the fleet summary: store projections passed through.
 *
 * GET /api/hosts and GET /api/fleet/summary are what every dashboard polls; with 1,000
 * hosts the list costs ~20 ms to query and serialise. Their serialised bodies (and, on
 * demand, a gzip variant of the list) are cached for one generation — bumped by every
 * host/job change announced through engine/notify, and only then — and at most
 * CACHE_MAX_AGE_NS, so heartbeat-driven last_seen_at values are never older than that.
 * The content does not depend on the caller's role (viewer and up see the same list). */
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include <zlib.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/rmtime.h"
#include "server/api/api.h"
#include "server/app.h"
#include "server/http/http.h"
#include "server/engine/notify.h"
#include "server/engine/presence.h"
#include "server/store/store.h"
#include "server/store/store_update.h"

#define CACHE_MAX_AGE_NS (1000ULL * 1000 * 1000) /* 1 s */

struct cache_entry {
	uint64_t gen;
	uint64_t built_ns; /* uv_hrtime() before the store was read; body NULL = empty */
	char *body;
	size_t len;
	char *gz; /* gzip of body, made on first demand; NULL */
	size_t gz_len;
	int gz_tried;
};

struct api_cache {
	uint64_t gen; /* bumped by every host/job change (engine/notify) */
	struct cache_entry hosts, summary;
};

static void on_changed(void *ud, enum notify_kind kind, const char *id)
{
	struct api_cache *c = ud;
	(void)kind, (void)id;
	c->gen++;
}

static void entry_clear(struct cache_entry *e)
{
	free(e->body);
	free(e->gz);
	memset(e, 0, sizeof *e);
}

void api_cache_free(struct app *app)
{
	if (!app || !app->api_cache)
		return;
	entry_clear(&app->api_cache->hosts);
	entry_clear(&app->api_cache->summary);
	notify_unsubscribe(app->notify, on_changed, app->api_cache);
	free(app->api_cache);
	app->api_cache = NULL;
}

/* The valid entry, or NULL (then *now_ns is the time to stamp a rebuild with). */
static struct cache_entry *entry_get(struct app *app, int which, uint64_t *now_ns)
{
	if (!app->api_cache) {
		app->api_cache = rm_xcalloc(1, sizeof *app->api_cache);
		notify_subscribe(app->notify, NOTIFY_HOST | NOTIFY_JOB, on_changed, app->api_cache);
	}
	struct cache_entry *e = which ? &app->api_cache->summary : &app->api_cache->hosts;
	*now_ns = uv_hrtime();
	if (e->body && e->gen == app->api_cache->gen && *now_ns - e->built_ns < CACHE_MAX_AGE_NS)
		return e;
	return NULL;
}

static struct cache_entry *entry_set(struct app *app, int which, uint64_t built_ns,
                                     json_t *body_take)
{
	struct cache_entry *e = which ? &app->api_cache->summary : &app->api_cache->hosts;
	entry_clear(e);
	e->body = rmj_dumps(body_take);
	e->len = strlen(e->body);
	e->gen = app->api_cache->gen;
	e->built_ns = built_ns;
	json_decref(body_take);
	return e;
}

/* gzip (RFC 1952) of the body; leaves gz NULL when zlib fails. */
static void entry_gzip(struct cache_entry *e)
{
	if (e->gz_tried)
		return;
	e->gz_tried = 1;
	z_stream zs;
	memset(&zs, 0, sizeof zs);
	if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return;
	size_t cap = deflateBound(&zs, (uLong)e->len);
	char *out = rm_xmalloc(cap);
	zs.next_in = (Bytef *)e->body;
	zs.avail_in = (uInt)e->len;
	zs.next_out = (Bytef *)out;
	zs.avail_out = (uInt)cap;
	if (deflate(&zs, Z_FINISH) == Z_STREAM_END) {
		e->gz = out;
		e->gz_len = zs.total_out;
	} else {
		free(out);
		RM_WARN("gzip of a cached API body failed");
	}
	deflateEnd(&zs);
}

static void respond_entry(struct http_req *r, struct cache_entry *e, int gzip_ok)
{
	http_resp_header(r, "cache-control", "no-store");
	if (gzip_ok) {
		http_resp_header(r, "vary", "accept-encoding");
		if (http_req_accepts_gzip(r)) {
			entry_gzip(e);
			if (e->gz) {
				http_resp_header(r, "content-encoding", "gzip");
				http_respond_raw(r, 200, "application/json", e->gz, e->gz_len);
				return;
			}
		}
	}
	http_respond_raw(r, 200, "application/json", e->body, e->len);
}

/* GET /api/hosts?limit=N: the first N hosts by name and the fleet's size, uncached (a
 * cheap query); the dashboard paints its first screen of a large fleet from it while the
 * whole list is built. */
static void hosts_first(struct http_req *r, struct app *app, const char *ls)
{
	long long limit;
	if (rm_parse_i64(ls, &limit) || limit < 1 || limit > 1000) {
		api_respond_invalid(r, "query 'limit' must be an integer in [1, 1000]");
		return;
	}
	json_t *o = store_hosts_first(app->store, (int)limit);
	if (!o) {
		api_respond_store_error(r, "hosts first", RM_ERR_DB);
		return;
	}
	size_t i;
	json_t *h;
	json_t *upd = store_updates_by_host(app->store);
	if (!upd)
		upd = json_object();
	json_array_foreach (json_object_get(o, "hosts"), i, h) {
		presence_overlay_last_seen(app->presence, h);
		store_update_overlay(app->store, h, upd);
	}
	json_decref(upd);
	http_resp_header(r, "cache-control", "no-store");
	http_respond_json(r, 200, o);
}

void api_hosts_list(struct http_req *r, void *appv)
{
	struct app *app = appv;
	const char *ls = http_req_query(r, "limit");
	if (ls) {
		hosts_first(r, app, ls);
		return;
	}
	uint64_t now_ns;
	struct cache_entry *e = entry_get(app, 0, &now_ns);
	if (!e) {
		json_t *o = store_hosts_list(app->store);
		if (!o) {
			api_respond_store_error(r, "hosts list", RM_ERR_DB);
			return;
		}
		size_t i;
		json_t *h;
		json_t *upd = store_updates_by_host(app->store);
		if (!upd)
			upd = json_object();
		json_array_foreach (json_object_get(o, "hosts"), i, h) {
			presence_overlay_last_seen(app->presence, h);
			store_update_overlay(app->store, h, upd);
		}
		json_decref(upd);
		e = entry_set(app, 0, now_ns, o);
	}
	respond_entry(r, e, 1);
}

void api_host_get(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *o = store_host_get(app->store, http_req_param(r, "id"));
	if (!o) {
		http_respond_error(r, 404, "not_found", "unknown host");
		return;
	}
	presence_overlay_last_seen(app->presence, o);
	store_update_overlay(app->store, o, NULL);
	http_respond_json(r, 200, o);
}

void api_host_snapshots(struct http_req *r, void *appv)
{
	struct app *app = appv;
	const char *id = http_req_param(r, "id");
	int rc = store_host_exists(app->store, id);
	if (rc == RM_ERR_NOTFOUND) {
		http_respond_error(r, 404, "not_found", "unknown host");
		return;
	}
	if (rc) {
		api_respond_store_error(r, "host exists", rc);
		return;
	}
	json_t *o = store_snapshots_list(app->store, id);
	if (!o) {
		api_respond_store_error(r, "snapshots list", RM_ERR_DB);
		return;
	}
	http_respond_json(r, 200, o);
}

void api_fleet_summary(struct http_req *r, void *appv)
{
	struct app *app = appv;
	uint64_t now_ns;
	struct cache_entry *e = entry_get(app, 1, &now_ns);
	if (!e) {
		json_t *o = store_fleet_summary(app->store, rm_now_ms());
		if (!o) {
			api_respond_store_error(r, "fleet summary", RM_ERR_DB);
			return;
		}
		e = entry_set(app, 1, now_ns, o);
	}
	respond_entry(r, e, 0);
}
