/* C4 alerts: evaluation of finished jobs (failure rules, backup_anomaly), raise with
 * dedupe, auto-resolve, ack/resolve by hand, the engine's lifecycle. The time-based rules
 * are in alerts_tick.c, deliveries in alerts_deliver.c. */
#include "server/engine/alerts.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/rmtime.h"
#include "server/app.h"
#include "server/config.h"
#include "server/engine/alerts_int.h"
#include "server/engine/channels_io.h"
#include "server/engine/notify.h"
#include "server/store/store.h"

#define CATCH_UP_MS (60 * 60 * 1000) /* jobs re-evaluated at start */

struct raise_in {
	const char *rule, *host_id, *grp, *job_id, *title, *message;
	const char *severity;
	int64_t at_ms; /* when it happened (the job's finish); 0 = now */
};

/* The job's finished_at in ms (now when absent). */
static int64_t finished_ms(const json_t *job)
{
	int64_t t = 0;
	const char *s = rmj_str(job, "finished_at");
	if (!s || rm_time_parse(s, &t))
		t = rm_now_ms();
	return t;
}

/* Raises (rule, host, group) once: a job already counted is ignored; an active alert is
 * bumped for a new job (time-based rules leave it as it is); else a new alert row and its
 * deliveries. */
static void raise_alert(struct app *app, const struct raise_in *in)
{
	struct store *st = app->store;
	int seen = 0;
	if (in->job_id && (store_alert_job_seen(st, in->rule, in->job_id, &seen) || seen))
		return;
	json_t *active = NULL;
	int rc = store_alert_find_active(st, in->rule, in->host_id, in->grp, &active);
	if (rc == RM_OK) {
		if (in->job_id)
			store_alert_bump(st, rmj_str(active, "id"), in->job_id, in->message,
			                 in->at_ms ? in->at_ms : rm_now_ms());
		json_decref(active);
		notify_alerts_changed(app->notify);
		return;
	}
	if (rc != RM_ERR_NOTFOUND)
		return;
	struct store_alert_new n = { .rule = in->rule,
		                     .severity = in->severity,
		                     .host_id = in->host_id,
		                     .grp = in->grp ? in->grp : "",
		                     .title = in->title,
		                     .message = in->message,
		                     .job_id = in->job_id,
		                     .at_ms = in->at_ms ? in->at_ms : rm_now_ms() };
	char id[RM_ULID_BUF];
	if (store_alert_insert(st, &n, id))
		return;
	RM_INFO("alert raised", "alert_id", id, "rule", in->rule, "host_id",
	        in->host_id ? in->host_id : "");
	json_t *a = store_alert_get(st, id);
	if (a)
		alerts_enqueue(app, a, "raised");
	json_decref(a);
	notify_alerts_changed(app->notify);
}

/* Resolves the active alert of (rule, host, group), if any, with a resolution message --
 * unless it was last seen after not_before_ms (a success older than the failure that
 * raised it, e.g. replayed late, clears nothing). */
static void clear_alert(struct app *app, const char *rule, const char *host_id, const char *grp,
                        const char *resolution, int64_t not_before_ms)
{
	json_t *active = NULL;
	if (store_alert_find_active(app->store, rule, host_id, grp, &active))
		return;
	const char *id = rmj_str(active, "id");
	if (rmj_int(active, "last_ms", 0) <= not_before_ms &&
	    store_alert_resolve(app->store, id, "system", resolution, rm_now_ms()) == RM_OK) {
		RM_INFO("alert resolved", "alert_id", id, "rule", rule);
		json_t *a = store_alert_get(app->store, id);
		if (a)
			alerts_enqueue(app, a, "resolved");
		json_decref(a);
		notify_alerts_changed(app->notify);
	}
	json_decref(active);
}

void alerts_clear(struct app *app, const char *rule, const char *host_id, const char *grp,
                  const char *resolution)
{
	clear_alert(app, rule, host_id, grp, resolution, INT64_MAX);
}

void alerts_raise(struct app *app, const char *rule, const char *severity, const char *host_id,
                  const char *grp, const char *title, const char *message)
{
	struct raise_in in = { .rule = rule,
		               .severity = severity,
		               .host_id = host_id,
		               .grp = grp,
		               .title = title,
		               .message = message };
	raise_alert(app, &in);
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

/* Median of key over the stats objects (the ones that have it); -1 when fewer than min. */
static double median_of(const json_t *stats, const char *key, const char *key2, int min)
{
	size_t n = json_array_size(stats), k = 0;
	long long *v = rm_xcalloc(n ? n : 1, sizeof *v);
	size_t i;
	json_t *s;
	json_array_foreach (stats, i, s) {
		if (!json_is_integer(json_object_get(s, key)))
			continue;
		v[k++] = rmj_int(s, key, 0) + (key2 ? rmj_int(s, key2, 0) : 0);
	}
	double m = -1;
	if ((int)k >= min) {
		qsort(v, k, sizeof *v, cmp_ll);
		m = k % 2 ? (double)v[k / 2] : ((double)v[k / 2 - 1] + (double)v[k / 2]) / 2;
	}
	free(v);
	return m;
}

static void eval_anomaly(struct app *app, const json_t *job, const char *grp)
{
	struct rule_cfg c;
	if (alerts_rule_cfg(app, "backup_anomaly", &c) || !c.enabled)
		return;
	const json_t *stats = json_object_get(job, "stats");
	if (!json_is_object(stats) || !json_is_integer(json_object_get(stats, "data_added")))
		return;
	const char *host_id = rmj_str(job, "host_id");
	json_t *hist = store_backup_stats_recent(app->store, host_id, grp, rmj_str(job, "id"),
	                                         (int)c.p[P_ANO_WINDOW]);
	if (!hist)
		return;
	int min = (int)c.p[P_ANO_MIN_SAMPLES];
	double mdata = median_of(hist, "data_added", NULL, min);
	double mfiles = median_of(hist, "files_new", "files_changed", min);
	json_decref(hist);
	long long data = rmj_int(stats, "data_added", 0);
	long long files = rmj_int(stats, "files_new", 0) + rmj_int(stats, "files_changed", 0);
	double f = c.p[P_ANO_FACTOR];
	int by_data = mdata >= 0 && (double)data >= c.p[P_ANO_MIN_BYTES] &&
	              (double)data >= f * (mdata > 1 ? mdata : 1);
	int by_files = mfiles >= 0 && (double)files >= c.p[P_ANO_MIN_FILES] &&
	               (double)files >= f * (mfiles > 1 ? mfiles : 1);
	if (!by_data && !by_files)
		return;
	const char *host = rmj_str(job, "hostname");
	char *title = rm_xasprintf("Backup anomaly: %s%s%s", host, grp[0] ? " / " : "", grp);
	char *msg = by_data
	                ? rm_xasprintf("A backup of group \"%s\" on %s added %lld bytes, "
	                               "%.0fx the median of its recent backups (%.0f bytes).",
	                               grp, host, data, data / (mdata > 1 ? mdata : 1), mdata)
	                : rm_xasprintf("A backup of group \"%s\" on %s changed %lld files, "
	                               "%.0fx the median of its recent backups (%.0f).",
	                               grp, host, files, files / (mfiles > 1 ? mfiles : 1), mfiles);
	struct raise_in in = { .rule = "backup_anomaly",
		               .severity = c.severity,
		               .host_id = host_id,
		               .grp = grp,
		               .job_id = rmj_str(job, "id"),
		               .title = title,
		               .message = msg,
		               .at_ms = finished_ms(job) };
	raise_alert(app, &in);
	free(title);
	free(msg);
}

static void eval_failed(struct app *app, const json_t *job, const char *rule, const char *grp)
{
	struct rule_cfg c;
	if (alerts_rule_cfg(app, rule, &c) || !c.enabled)
		return;
	const char *host = rmj_str(job, "hostname");
	const char *kind = rmj_str(job, "kind");
	const char *error = rmj_str(job, "error");
	json_t *ec = json_object_get(job, "exit_code");
	char code[32] = "";
	if (json_is_integer(ec))
		snprintf(code, sizeof code, " (exit code %lld)", (long long)json_integer_value(ec));
	char *title = rm_xasprintf("%s failed: %s%s%s", kind, host, grp[0] ? " / " : "", grp);
	title[0] = (char)(title[0] >= 'a' && title[0] <= 'z' ? title[0] - 32 : title[0]);
	char *msg = rm_xasprintf("The %s%s%s%s on host %s failed%s: %s", kind,
	                         grp[0] ? " of group \"" : "", grp, grp[0] ? "\"" : "", host, code,
	                         error && error[0] ? error : "no error message");
	struct raise_in in = { .rule = rule,
		               .severity = c.severity,
		               .host_id = rmj_str(job, "host_id"),
		               .grp = grp,
		               .job_id = rmj_str(job, "id"),
		               .title = title,
		               .message = msg,
		               .at_ms = finished_ms(job) };
	raise_alert(app, &in);
	free(title);
	free(msg);
}

void alerts_eval_job(struct app *app, const char *job_id)
{
	json_t *job = store_job_get(app->store, job_id);
	if (!job)
		return;
	const char *status = rmj_str(job, "status");
	const char *kind = rmj_str(job, "kind");
	const char *grp = rmj_str(json_object_get(job, "args"), "group");
	grp = grp ? grp : "";
	const char *rule = alerts_rule_for_kind(kind);
	if (status && strcmp(status, "failed") == 0 && rule) {
		eval_failed(app, job, rule, grp);
	} else if (status && strcmp(status, "succeeded") == 0) {
		int64_t fin = finished_ms(job);
		if (rule) {
			char *why = rm_xasprintf("the next %s succeeded (job %s)", kind, job_id);
			clear_alert(app, rule, rmj_str(job, "host_id"), grp, why, fin);
			free(why);
		}
		if (kind && strcmp(kind, "backup") == 0) {
			clear_alert(app, "no_recent_backup", rmj_str(job, "host_id"), "",
			            "a backup succeeded", fin);
			eval_anomaly(app, job, grp);
		}
	}
	json_decref(job);
}

void alerts_update_outcome(struct app *app, const char *host_id, const char *hostname,
                           const char *state, const char *error)
{
	struct rule_cfg c;
	if (!strcmp(state, "succeeded")) {
		alerts_clear(app, "update_failed", host_id, "", "the next agent update succeeded");
	} else if (!alerts_rule_cfg(app, "update_failed", &c) && c.enabled) {
		int rb = !strcmp(state, "rolled_back");
		char *title = rm_xasprintf("Agent update %s: %s", rb ? "rolled back" : "failed",
		                           hostname ? hostname : host_id);
		char *msg = rm_xasprintf("The agent update on host %s %s: %s",
		                         hostname ? hostname : host_id,
		                         rb ? "was rolled back" : "failed", error ? error : "?");
		alerts_raise(app, "update_failed", c.severity, host_id, "", title, msg);
		free(title);
		free(msg);
	}
	alerts_kick(app);
}

int alerts_ack(struct app *app, const char *id, const char *by)
{
	return store_alert_ack(app->store, id, by, rm_now_ms());
}

int alerts_resolve(struct app *app, const char *id, const char *by)
{
	char *why = rm_xasprintf("resolved by %s", by);
	int rc = store_alert_resolve(app->store, id, by, why, rm_now_ms());
	free(why);
	if (rc == RM_OK) {
		json_t *a = store_alert_get(app->store, id);
		if (a)
			alerts_enqueue(app, a, "resolved");
		json_decref(a);
	}
	return rc;
}

void alerts_after_change(struct app *app)
{
	notify_alerts_changed(app->notify);
	alerts_kick(app);
}

/* ---- lifecycle ---- */

static void kick_cb(uv_timer_t *t)
{
	struct alerts *a = t->data;
	json_t *jobs = a->dirty_jobs;
	a->dirty_jobs = json_object();
	const char *id;
	json_t *v;
	/* one transaction: an alert and its deliveries commit together */
	int rc = json_object_size(jobs) ? store_tx_begin(a->app->store) : RM_ERR_NOTFOUND;
	json_object_foreach (jobs, id, v)
		alerts_eval_job(a->app, id);
	if (rc == RM_OK)
		store_tx_end(a->app->store, RM_OK);
	json_decref(jobs);
	alerts_deliver_scan(a);
}

void alerts_kick(struct app *app)
{
	struct alerts *a = app->alerts;
	if (!a || a->stopped)
		return;
	uv_timer_start(&a->kick, kick_cb, 0, 0);
}

static void on_job(void *ud, enum notify_kind kind, const char *id)
{
	struct alerts *a = ud;
	if (a->stopped || kind != NOTIFY_JOB)
		return;
	json_object_set_new(a->dirty_jobs, id, json_true());
	uv_timer_start(&a->kick, kick_cb, 0, 0);
}

static void tick_cb(uv_timer_t *t)
{
	struct alerts *a = t->data;
	alerts_tick(a->app);
}

struct alerts *alerts_start(struct app *app)
{
	struct alerts *a = rm_xcalloc(1, sizeof *a);
	a->app = app;
	a->io = cio_new(app->loop);
	a->dirty_jobs = json_object();
	a->inflight = json_object();
	uv_timer_init(app->loop, &a->tick);
	uv_timer_init(app->loop, &a->kick);
	uv_timer_init(app->loop, &a->retry);
	a->tick.data = a;
	a->kick.data = a;
	a->retry.data = a;
	uint64_t iv = (uint64_t)app->cfg->sweep_interval_ms;
	uv_timer_start(&a->tick, tick_cb, iv, iv);
	notify_subscribe(app->notify, NOTIFY_JOB, on_job, a);
	/* transfers cut short by a restart go out again; jobs that finished while the last
	 * run was stopping (or just before a crash) are evaluated now -- in finish order, and
	 * evaluation is idempotent */
	store_deliveries_reset_sending(app->store, rm_now_ms());
	json_t *recent = store_jobs_finished_since(app->store, rm_now_ms() - CATCH_UP_MS, 20000);
	size_t i;
	json_t *v;
	json_array_foreach (recent, i, v)
		json_object_set_new(a->dirty_jobs, json_string_value(v), json_true());
	json_decref(recent);
	app->alerts = a;
	uv_timer_start(&a->kick, kick_cb, 0, 0);
	return a;
}

void alerts_stop(struct alerts *a)
{
	if (!a || a->stopped)
		return;
	kick_cb(&a->kick); /* what the last loop turns finished (deliveries go out next start) */
	a->stopped = 1;
	notify_unsubscribe(a->app->notify, on_job, a);
	cio_stop(a->io);
	a->io = NULL;
	uv_timer_stop(&a->tick);
	uv_timer_stop(&a->kick);
	uv_timer_stop(&a->retry);
	uv_close((uv_handle_t *)&a->tick, NULL);
	uv_close((uv_handle_t *)&a->kick, NULL);
	uv_close((uv_handle_t *)&a->retry, NULL);
}

void alerts_free(struct alerts *a)
{
	if (!a)
		return;
	json_decref(a->dirty_jobs);
	json_decref(a->inflight);
	free(a);
}
