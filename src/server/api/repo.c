/* Repository health and trends: GET /api/hosts/{id}/repo, .../repo/history and the fleet
 * total (GET /api/repo/fleet-history). Store projections plus the engine's forecast. */
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "common/err.h"
#include "common/json.h"
#include "common/rmtime.h"
#include "server/api/api.h"
#include "server/app.h"
#include "server/engine/forecast.h"
#include "server/http/http.h"
#include "server/store/store.h"

#define DAY_MS (24LL * 3600 * 1000)
#define DAYS_DEFAULT 30
#define DAYS_MAX 3650

/* ?days=N (1..3650, default 30); 0 and a 400 already sent on bad input. */
static int days_param(struct http_req *r)
{
	const char *s = http_req_query(r, "days");
	if (!s || !s[0])
		return DAYS_DEFAULT;
	char *end = NULL;
	long v = strtol(s, &end, 10);
	if (*end || v < 1 || v > DAYS_MAX) {
		http_respond_error(r, 400, "invalid_field", "days must be 1..%d", DAYS_MAX);
		return 0;
	}
	return (int)v;
}

/* The forecast over points [{"t","size_bytes","snapshot_count"?}] (oldest first). Reports
 * of an empty repository (snapshot_count 0: right after init) are left out: the first
 * upload is a step, not the trend. */
static json_t *forecast_of(const json_t *points, long long quota)
{
	size_t n = json_array_size(points), k = 0;
	int64_t *t = rm_xcalloc(n ? n : 1, sizeof *t);
	double *v = rm_xcalloc(n ? n : 1, sizeof *v);
	for (size_t i = 0; i < n; i++) {
		const json_t *p = json_array_get(points, i);
		long long size = rmj_int(p, "size_bytes", -1);
		if (size < 0 || rmj_int(p, "snapshot_count", 1) == 0)
			continue;
		t[k] = rmj_int(p, "t", 0);
		v[k++] = (double)size;
	}
	struct forecast f;
	forecast_compute(t, v, k, quota, &f);
	free(t);
	free(v);
	return forecast_json(&f);
}

static long long host_quota(const json_t *host)
{
	return rmj_int(json_object_get(host, "settings"), "repo_quota_bytes", 0);
}

/* {"job_id","status","finished_at","error", + the named stats fields} or null. */
static json_t *last_job(struct app *app, const char *host_id, const char *kind,
                        const char *const *fields)
{
	json_t *j = store_repo_last_job(app->store, host_id, kind);
	if (!j || json_is_null(j))
		return j;
	json_t *stats = json_object_get(j, "stats");
	for (size_t i = 0; fields[i]; i++) {
		json_t *v = json_object_get(stats, fields[i]);
		json_object_set(j, fields[i], v ? v : json_null());
	}
	return j;
}

static json_t *ratio(long long num, long long den)
{
	return num >= 0 && den > 0 ? json_real((double)num / (double)den) : json_null();
}

/* Health numbers from the newest history point (else the host row's projection). */
static void health_numbers(json_t *o, const json_t *host, const json_t *latest)
{
	int have = json_is_object(latest);
	long long size =
	    have ? rmj_int(latest, "size_bytes", -1) : rmj_int(host, "repo_size_bytes", -1);
	long long raw = have ? rmj_int(latest, "raw_bytes", -1) : -1;
	long long unc = have ? rmj_int(latest, "uncompressed_bytes", -1) : -1;
	json_object_set_new(o, "time",
	                    have ? json_deep_copy(json_object_get(latest, "time")) : json_null());
	json_object_set_new(o, "size_bytes", size < 0 ? json_null() : json_integer(size));
	json_object_set_new(o, "raw_bytes", raw < 0 ? json_null() : json_integer(raw));
	json_object_set_new(o, "uncompressed_bytes", unc < 0 ? json_null() : json_integer(unc));
	json_object_set_new(o, "snapshot_count", json_integer(rmj_int(host, "snapshot_count", 0)));
	/* stored bytes per byte of snapshot data: 0.25 = deduplication keeps a quarter */
	json_object_set_new(o, "dedup_ratio", ratio(size, raw));
	json_t *cr = have ? json_object_get(latest, "compression_ratio") : NULL;
	if (json_is_number(cr))
		json_object_set(o, "compression_ratio", cr);
	else
		json_object_set_new(o, "compression_ratio", json_null());
}

void api_host_repo(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *host = api_host_or_404(r, app);
	if (!host)
		return;
	const char *id = rmj_str(host, "id");
	static const char *const check_f[] = { "ok", "errors", "read_data_subset", NULL };
	static const char *const prune_f[] = { "freed_bytes", NULL };
	static const char *const forget_f[] = { "kept", "removed", NULL };
	json_t *latest = store_repo_latest(app->store, id);
	json_t *chk = last_job(app, id, "check", check_f);
	json_t *prn = last_job(app, id, "prune", prune_f);
	json_t *fgt = last_job(app, id, "forget", forget_f);
	json_t *hist = store_repo_history(app->store, id, rm_now_ms() - FORECAST_WINDOW_MS);
	if (!latest || !chk || !prn || !fgt || !hist) {
		api_respond_store_error(r, "repo health", RM_ERR_DB);
		goto out;
	}
	json_t *o = json_object();
	json_object_set_new(o, "host_id", json_string(id));
	health_numbers(o, host, latest);
	json_object_set(o, "last_check", chk);
	json_object_set(o, "last_prune", prn);
	json_object_set(o, "last_forget", fgt);
	/* the latest lock list the agent read (care-ops: unlock jobs, locked-job retries) */
	json_t *lk = store_host_locks(app->store, id);
	json_t *la = lk ? json_object_get(lk, "locks") : NULL;
	json_object_set(o, "locks", json_is_array(la) ? la : json_null());
	json_decref(lk);
	long long quota = host_quota(host);
	json_object_set_new(o, "quota_bytes", quota > 0 ? json_integer(quota) : json_null());
	json_object_set_new(o, "forecast", forecast_of(hist, quota));
	http_respond_json(r, 200, o);
out:
	json_decref(latest);
	json_decref(chk);
	json_decref(prn);
	json_decref(fgt);
	json_decref(hist);
	json_decref(host);
}

void api_host_repo_history(struct http_req *r, void *appv)
{
	struct app *app = appv;
	int days = days_param(r);
	if (!days)
		return;
	json_t *host = api_host_or_404(r, app);
	if (!host)
		return;
	const char *id = rmj_str(host, "id");
	int64_t now = rm_now_ms();
	int64_t since = now - (int64_t)days * DAY_MS;
	int64_t fsince = now - FORECAST_WINDOW_MS;
	json_t *pts = store_repo_history(app->store, id, since < fsince ? since : fsince);
	json_t *bk = store_repo_backup_points(app->store, id, since);
	if (!pts || !bk) {
		api_respond_store_error(r, "repo history", RM_ERR_DB);
		json_decref(pts);
		json_decref(bk);
		json_decref(host);
		return;
	}
	long long quota = host_quota(host);
	json_t *fc = forecast_of(pts, quota);
	/* the forecast looked at 30 days; answer only the asked-for ones */
	json_t *shown = json_array();
	size_t i;
	json_t *p;
	json_array_foreach (pts, i, p)
		if (rmj_int(p, "t", 0) >= since)
			json_array_append(shown, p);
	json_decref(pts);
	http_respond_json(r, 200,
	                  json_pack("{s:s,s:i,s:o,s:o,s:o,s:o}", "host_id", id, "days", days,
	                            "points", shown, "backups", bk, "forecast", fc, "quota_bytes",
	                            quota > 0 ? json_integer(quota) : json_null()));
	json_decref(host);
}

/* The fleet total scans every host's history (1,000 hosts x 30 days of hourly reports =
 * 720,000 rows, ~0.7 s): on the thread pool with a read-only connection. */
struct fleet_work {
	uv_work_t w;
	struct app *app;
	struct http_req *r;
	struct store_reader *rd;
	int64_t now, since, shown_since, bucket;
	int days, rc;
	struct store_fleet_point *pts;
	size_t n;
};

static void fleet_work_cb(uv_work_t *w)
{
	struct fleet_work *f = w->data;
	f->rc = store_reader_fleet_history(f->rd, f->now, f->since, f->bucket, &f->pts, &f->n);
}

static void fleet_after_cb(uv_work_t *w, int status)
{
	struct fleet_work *f = w->data;
	/* a deferred request stays ours until answered, also when its client went away */
	if (status || f->rc) {
		api_respond_store_error(f->r, "fleet history", status ? RM_ERR_AGAIN : f->rc);
	} else {
		json_t *all = json_array(), *shown = json_array();
		for (size_t i = 0; i < f->n; i++) {
			json_t *p = json_pack("{s:I,s:I}", "t", (json_int_t)f->pts[i].t,
			                      "size_bytes", (json_int_t)f->pts[i].size_bytes);
			if (f->pts[i].t >= f->shown_since)
				json_array_append(shown, p);
			json_array_append_new(all, p);
		}
		json_t *fc = forecast_of(all, 0);
		json_decref(all);
		http_respond_json(f->r, 200,
		                  json_pack("{s:i,s:I,s:o,s:o}", "days", f->days, "bucket_ms",
		                            (json_int_t)f->bucket, "points", shown, "forecast",
		                            fc));
	}
	store_reader_close(f->rd);
	free(f->pts);
	free(f);
}

void api_fleet_repo_history(struct http_req *r, void *appv)
{
	struct app *app = appv;
	int days = days_param(r);
	if (!days)
		return;
	struct fleet_work *f = rm_xcalloc(1, sizeof *f);
	f->w.data = f;
	f->app = app;
	f->r = r;
	f->days = days;
	f->now = rm_now_ms();
	f->shown_since = f->now - (int64_t)days * DAY_MS;
	/* the forecast looks at 30 days whatever is shown */
	int64_t fsince = f->now - FORECAST_WINDOW_MS;
	f->since = f->shown_since < fsince ? f->shown_since : fsince;
	/* hourly points for a week or less, daily beyond */
	f->bucket = days <= 7 ? 3600LL * 1000 : DAY_MS;
	if (store_reader_open(app->store, &f->rd)) {
		free(f);
		api_respond_store_error(r, "fleet history reader", RM_ERR_DB);
		return;
	}
	http_req_defer(r);
	if (uv_queue_work(app->loop, &f->w, fleet_work_cb, fleet_after_cb))
		fleet_after_cb(&f->w, UV_EAGAIN);
}
