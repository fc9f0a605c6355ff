/* GET /metrics: the Prometheus text exposition (format 0.0.4). Opt-in: 404 unless
 * RM_METRICS_TOKEN and/or RM_METRICS_TRUSTED_CIDR is set. A request is let in when it
 * carries "Authorization: Bearer <token>" or comes from inside the CIDR list (the client
 * address after RM_TRUSTED_PROXY); otherwise 401 (a token would help) or 403.
 *
 * Everything is read from the store and presence at scrape time; the job duration
 * histogram counts every finished job still in the jobs table (not kept in memory), so
 * it survives restarts and only shrinks when job rows are deleted. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#include "common/buf.h"
#include "common/crypto.h"
#include "common/err.h"
#include "common/log.h"
#include "server/api/api.h"
#include "server/app.h"
#include "server/config.h"
#include "server/engine/presence.h"
#include "server/http/http.h"
#include "server/http/proxy.h"
#include "server/store/store.h"

#define METRICS_MAX_BYTES (256u * 1024 * 1024)

/* Per-host families, each collected in its own buffer during one pass over the hosts
 * (the exposition format wants a family's samples together). */
enum fam { F_INFO, F_ONLINE, F_LAST_TS, F_LAST_OK, F_REPO, F_SNAPS, F__COUNT };
static const struct {
	const char *name, *type, *help;
} fams[F__COUNT] = {
	[F_INFO] = { "rm_host_info", "gauge", "Host metadata (always 1)." },
	[F_ONLINE] = { "rm_host_online", "gauge", "1 when the host's agent is connected." },
	[F_LAST_TS] = { "rm_host_last_backup_timestamp_seconds", "gauge",
	                "When the host's last backup job finished (Unix time)." },
	[F_LAST_OK] = { "rm_host_last_backup_success", "gauge",
	                "1 when the host's last finished backup job succeeded, else 0." },
	[F_REPO] = { "rm_host_repo_size_bytes", "gauge",
	             "Repository size as last reported by the agent." },
	[F_SNAPS] = { "rm_host_snapshots", "gauge", "Snapshots in the host's repository." },
};

struct scrape {
	struct app *app;
	struct rm_buf fam[F__COUNT];
	struct rm_buf lbl; /* the current host's escaped label pairs */
	long long hosts, connected;
};

/* Appends s as a label value: backslash, double quote and newline escaped. */
static void put_label(struct rm_buf *b, const char *s)
{
	for (const char *p = s ? s : ""; *p;) {
		size_t run = strcspn(p, "\\\"\n");
		rm_buf_append(b, p, run);
		p += run;
		if (!*p)
			break;
		rm_buf_append_str(b, *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : "\\n");
		p++;
	}
}

static void put_family_header(struct rm_buf *b, const char *name, const char *type,
                              const char *help)
{
	rm_buf_appendf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{host_id="...",host="..."<extra>} value\n; lbl is the host's escaped label pairs. */
static void put_sample(struct rm_buf *b, const char *name, const struct rm_buf *lbl,
                       const char *value)
{
	rm_buf_append_str(b, name);
	rm_buf_append(b, lbl->data, lbl->len);
	rm_buf_append_str(b, value);
}

static void host_cb(void *ud, const struct store_metrics_host *h)
{
	struct scrape *sc = ud;
	int online = presence_is_connected(sc->app->presence, h->id);
	sc->hosts++;
	sc->connected += online;
	struct rm_buf *lbl = &sc->lbl;
	rm_buf_reset(lbl);
	rm_buf_append_str(lbl, "{host_id=\"");
	put_label(lbl, h->id);
	rm_buf_append_str(lbl, "\",host=\"");
	put_label(lbl, h->hostname);
	rm_buf_append_str(lbl, "\"");
	struct rm_buf *b = &sc->fam[F_INFO];
	put_sample(b, fams[F_INFO].name, lbl, ",os=\"");
	put_label(b, h->os);
	rm_buf_append_str(b, "\",arch=\"");
	put_label(b, h->arch);
	rm_buf_append_str(b, "\",agent_version=\"");
	put_label(b, h->agent_version);
	rm_buf_append_str(b, "\"} 1\n");
	put_sample(&sc->fam[F_ONLINE], fams[F_ONLINE].name, lbl, online ? "} 1\n" : "} 0\n");
	char v[48];
	if (h->last_backup_status && h->last_backup_finished_ms > 0) {
		snprintf(v, sizeof v, "} %lld.%03lld\n",
		         (long long)(h->last_backup_finished_ms / 1000),
		         (long long)(h->last_backup_finished_ms % 1000));
		put_sample(&sc->fam[F_LAST_TS], fams[F_LAST_TS].name, lbl, v);
		put_sample(&sc->fam[F_LAST_OK], fams[F_LAST_OK].name, lbl,
		           strcmp(h->last_backup_status, "succeeded") == 0 ? "} 1\n" : "} 0\n");
	}
	if (h->repo_size_bytes >= 0) {
		snprintf(v, sizeof v, "} %lld\n", h->repo_size_bytes);
		put_sample(&sc->fam[F_REPO], fams[F_REPO].name, lbl, v);
	}
	snprintf(v, sizeof v, "} %lld\n", h->snapshot_count);
	put_sample(&sc->fam[F_SNAPS], fams[F_SNAPS].name, lbl, v);
}

static void put_kind_status(struct rm_buf *b, const char *name, const char *suffix,
                            const struct store_metrics_durations *d)
{
	rm_buf_appendf(b, "%s%s{kind=\"", name, suffix);
	put_label(b, d->kind);
	rm_buf_append_str(b, "\",status=\"");
	put_label(b, d->status);
	rm_buf_append_str(b, "\"");
}

static void duration_cb(void *ud, const struct store_metrics_durations *d)
{
	struct rm_buf *b = ud;
	const char *n = "rm_job_duration_seconds";
	for (int i = 0; i < STORE_METRICS_NBUCKETS; i++) {
		put_kind_status(b, n, "_bucket", d);
		rm_buf_appendf(b, ",le=\"%g\"} %lld\n", store_metrics_buckets_s[i], d->le[i]);
	}
	put_kind_status(b, n, "_bucket", d);
	rm_buf_appendf(b, ",le=\"+Inf\"} %lld\n", d->count);
	put_kind_status(b, n, "_sum", d);
	rm_buf_appendf(b, "} %.3f\n", d->sum_s);
	put_kind_status(b, n, "_count", d);
	rm_buf_appendf(b, "} %lld\n", d->count);
}

/* Everything but the histogram's samples (which need a scan of the jobs table), ending
 * with the histogram's HELP/TYPE lines. Loop thread (presence). */
static int render_loop_part(struct app *app, struct rm_buf *out)
{
	struct scrape sc = { .app = app };
	for (int i = 0; i < F__COUNT; i++)
		rm_buf_init(&sc.fam[i], METRICS_MAX_BYTES);
	rm_buf_init(&sc.lbl, 0);
	int rc = store_metrics_hosts(app->store, host_cb, &sc);
	if (!rc) {
		put_family_header(out, "rm_build_info", "gauge", "Server build (always 1).");
		rm_buf_appendf(out, "rm_build_info{version=\"%s\",commit=\"%s\"} 1\n", RM_VERSION,
		               RM_COMMIT);
		put_family_header(out, "rm_hosts", "gauge", "Enrolled hosts.");
		rm_buf_appendf(out, "rm_hosts %lld\n", sc.hosts);
		put_family_header(out, "rm_agents_connected", "gauge",
		                  "Agents with an open WebSocket to this server.");
		rm_buf_appendf(out, "rm_agents_connected %lld\n", sc.connected);
		long long open_alerts = 0, acked_alerts = 0;
		if (store_alerts_count(app->store, "open", &open_alerts) == RM_OK &&
		    store_alerts_count(app->store, "acked", &acked_alerts) == RM_OK) {
			put_family_header(out, "rm_alerts_open", "gauge",
			                  "Alerts not resolved yet (acknowledged or not).");
			rm_buf_appendf(out, "rm_alerts_open %lld\n", open_alerts + acked_alerts);
			put_family_header(out, "rm_alerts_unacknowledged", "gauge",
			                  "Open alerts nobody has acknowledged.");
			rm_buf_appendf(out, "rm_alerts_unacknowledged %lld\n", open_alerts);
		}
		for (int i = 0; i < F__COUNT; i++) {
			put_family_header(out, fams[i].name, fams[i].type, fams[i].help);
			rm_buf_append(out, sc.fam[i].data ? sc.fam[i].data : "", sc.fam[i].len);
		}
		put_family_header(
		    out, "rm_job_duration_seconds", "histogram",
		    "Duration of finished jobs (start to finish) by kind and status.");
	}
	for (int i = 0; i < F__COUNT; i++)
		rm_buf_cleanup(&sc.fam[i]);
	rm_buf_cleanup(&sc.lbl);
	return rc;
}

int api_metrics_render(struct app *app, struct rm_buf *out)
{
	int rc = render_loop_part(app, out);
	return rc ? rc : store_metrics_job_durations(app->store, duration_cb, out);
}

/* A scrape whose histogram is computed on the thread pool: the jobs scan is O(rows)
 * (measured ~0.4 s CPU for 100,000 jobs) and must not stall agents and browsers. */
struct scrape_work {
	uv_work_t w;
	struct app *app;
	struct http_req *r;
	struct rm_buf out;
	int rc;
};

static void scrape_work_cb(uv_work_t *w)
{
	struct scrape_work *sw = w->data;
	sw->rc = store_metrics_job_durations_ro(sw->app->store, duration_cb, &sw->out);
}

static void scrape_after_cb(uv_work_t *w, int status)
{
	struct scrape_work *sw = w->data;
	if (status == UV_ECANCELED || sw->app->shutting_down || !http_req_alive(sw->r))
		http_respond_error(sw->r, 503, "unavailable", "client went away or shutting down");
	else if (sw->rc)
		api_respond_store_error(sw->r, "metrics", sw->rc);
	else {
		size_t len = sw->out.len;
		http_respond_take(sw->r, 200, "text/plain; version=0.0.4; charset=utf-8",
		                  rm_buf_take(&sw->out), len);
	}
	rm_buf_cleanup(&sw->out);
	free(sw);
}

static int bearer_ok(const char *token, const char *authz)
{
	if (!token[0] || !authz || strncasecmp(authz, "Bearer ", 7) != 0)
		return 0;
	return rm_str_ct_eq(authz + 7, token);
}

/* 1 when the client address is inside RM_METRICS_TRUSTED_CIDR; -1 if the list is bad. */
static int cidr_ok(const char *spec, const char *ip)
{
	if (!spec[0] || !ip)
		return 0;
	struct proxy_list *l = NULL;
	char err[160];
	if (proxy_list_parse(spec, &l, err, sizeof err) != RM_OK) {
		RM_ERROR("metrics_trusted_cidr is invalid", "err", err);
		return -1;
	}
	int in = proxy_list_contains(l, ip);
	proxy_list_free(l);
	return in;
}

void api_metrics(struct http_req *r, void *appv)
{
	struct app *app = appv;
	const char *token = app->cfg->metrics_token ? app->cfg->metrics_token : "";
	const char *cidr = app->cfg->metrics_trusted_cidr ? app->cfg->metrics_trusted_cidr : "";
	if (!token[0] && !cidr[0]) {
		http_respond_error(r, 404, "not_found", "metrics are disabled");
		return;
	}
	int in_cidr = cidr_ok(cidr, http_req_remote_ip(r));
	if (in_cidr < 0) {
		http_respond_error(r, 503, "unavailable", "metrics_trusted_cidr is invalid");
		return;
	}
	if (!in_cidr && !bearer_ok(token, http_req_header(r, "authorization"))) {
		if (token[0]) {
			http_resp_header(r, "www-authenticate", "Bearer realm=\"metrics\"");
			http_respond_error(r, 401, "unauthenticated",
			                   "metrics require a bearer token");
		} else {
			http_respond_error(r, 403, "forbidden",
			                   "address not allowed to read metrics");
		}
		return;
	}
	struct scrape_work *sw = rm_xcalloc(1, sizeof *sw);
	sw->w.data = sw;
	sw->app = app;
	sw->r = r;
	rm_buf_init(&sw->out, METRICS_MAX_BYTES);
	int rc = render_loop_part(app, &sw->out);
	if (rc) {
		rm_buf_cleanup(&sw->out);
		free(sw);
		api_respond_store_error(r, "metrics", rc);
		return;
	}
	http_req_defer(r);
	if (uv_queue_work(app->loop, &sw->w, scrape_work_cb, scrape_after_cb) != 0)
		scrape_after_cb(&sw->w, UV_ECANCELED);
}
