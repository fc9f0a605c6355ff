/* C4 time-based rules, evaluated every sweep interval: agent_offline (always-on hosts
 * silent for after_minutes) and no_recent_backup (a host with an enabled schedule and no
 * successful backup of one of its schedules for factor x that schedule's interval; intermittent hosts after
 * intermittent_days). Each resolves itself when its condition is gone. */
#include <stdlib.h>
#include <string.h>

#include "common/cron.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/rmtime.h"
#include "server/app.h"
#include "server/config.h"
#include "server/engine/alerts_int.h"
#include "server/store/store.h"

static int intermittent(const json_t *settings)
{
	const char *mode = rmj_str(settings, "mode");
	return mode && strcmp(mode, "intermittent") == 0;
}

static void fmt_duration(char *out, size_t n, int64_t s)
{
	if (s % 86400 == 0 && s >= 86400)
		snprintf(out, n, "%lld d", (long long)(s / 86400));
	else if (s % 3600 == 0 && s >= 3600)
		snprintf(out, n, "%lld h", (long long)(s / 3600));
	else if (s >= 60)
		snprintf(out, n, "%lld min", (long long)(s / 60));
	else
		snprintf(out, n, "%lld s", (long long)s);
}

static void tick_offline(struct app *app, int64_t now)
{
	struct rule_cfg c;
	if (alerts_rule_cfg(app, "agent_offline", &c))
		return;
	json_t *silent = NULL;
	if (c.enabled)
		silent = store_alert_hosts_silent(app->store,
		                                  now - (int64_t)(c.p[P_OFF_MINUTES] * 60000));
	size_t i;
	json_t *h;
	json_array_foreach (silent, i, h) {
		if (intermittent(json_object_get(h, "settings")))
			continue;
		const char *name = rmj_str(h, "hostname");
		char since[RM_TIME_STRLEN];
		rm_time_fmt(rmj_int(h, "last_seen_ms", 0), since);
		char *title = rm_xasprintf("Agent offline: %s", name);
		char *msg = rm_xasprintf("The agent on host %s has not been in contact since %s.",
		                         name, since);
		alerts_raise(app, "agent_offline", c.severity, rmj_str(h, "id"), "", title, msg);
		free(title);
		free(msg);
	}
	json_decref(silent);
	/* resolve: the host is back (or became intermittent, or is gone) */
	json_t *active = store_alerts_active_of_rule(app->store, "agent_offline");
	json_array_foreach (active, i, h) {
		const char *hid = rmj_str(h, "host_id");
		json_t *host = hid ? store_host_get(app->store, hid) : NULL;
		const char *why = NULL;
		if (!host)
			why = "the host was removed";
		else if (strcmp(rmj_str(host, "status") ? rmj_str(host, "status") : "", "online") ==
		         0)
			why = "the agent is back online";
		if (why)
			alerts_clear(app, "agent_offline", hid, "", why);
		json_decref(host);
	}
	json_decref(active);
}

/* Seconds between the schedule's next two runs (0 when the cron does not parse). */
static int64_t cron_interval(const char *expr, int64_t now_s)
{
	struct cron c;
	int field;
	char err[128];
	if (!expr || cron_parse(expr, &c, &field, err, sizeof err))
		return 0;
	int64_t t1 = cron_next(&c, now_s);
	int64_t t2 = t1 > 0 ? cron_next(&c, t1) : -1;
	return t2 > t1 ? t2 - t1 : 0;
}

/* One enabled schedule: late when its newest successful backup (or, without one, its
 * creation) is older than the rule's limit; raises for the host and records it in late. */
static void nrb_judge(struct app *app, const struct rule_cfg *c, const json_t *r, int64_t now,
                      json_t *late)
{
	const char *hid = rmj_str(r, "host_id");
	int64_t iv = cron_interval(rmj_str(r, "cron"), now / 1000);
	if (!hid || iv <= 0)
		return;
	int inter = intermittent(json_object_get(r, "settings"));
	json_t *ls = json_object_get(r, "last_success_ms");
	int64_t ref = json_is_integer(ls) ? json_integer_value(ls) : rmj_int(r, "created_ms", now);
	int64_t limit_ms = inter ? (int64_t)(c->p[P_NRB_INTERMITTENT_DAYS] * 86400000.0)
	                         : (int64_t)(c->p[P_NRB_FACTOR] * (double)iv * 1000.0);
	if (now - ref <= limit_ms || json_object_get(late, hid))
		return;
	json_object_set_new(late, hid, json_true());
	const char *name = rmj_str(r, "hostname");
	char since[RM_TIME_STRLEN], every[32], lim[32];
	rm_time_fmt(ref, since);
	fmt_duration(every, sizeof every, iv);
	fmt_duration(lim, sizeof lim, limit_ms / 1000);
	char *title = rm_xasprintf("No recent backup: %s", name);
	char *msg =
	    rm_xasprintf("Host %s has had no successful backup %s %s (schedule \"%s\" runs "
	                 "every %s; expected within %s).",
	                 name, json_is_integer(ls) ? "since" : "since its schedule began at", since,
	                 rmj_str(r, "cron"), every, lim);
	alerts_raise(app, "no_recent_backup", c->severity, hid, "", title, msg);
	free(title);
	free(msg);
}

static void tick_no_recent(struct app *app, int64_t now)
{
	struct rule_cfg c;
	if (alerts_rule_cfg(app, "no_recent_backup", &c))
		return;
	json_t *late = json_object();
	json_t *rows = c.enabled ? store_alert_schedule_hosts(app->store) : NULL;
	if (c.enabled && !rows) {
		json_decref(late);
		return; /* storage error: judge nothing, clear nothing */
	}
	size_t i;
	json_t *r;
	json_array_foreach (rows, i, r)
		nrb_judge(app, &c, r, now, late);
	json_decref(rows);
	json_t *active = store_alerts_active_of_rule(app->store, "no_recent_backup");
	json_array_foreach (active, i, r) {
		const char *hid = rmj_str(r, "host_id");
		if (!hid || !json_object_get(late, hid))
			alerts_clear(app, "no_recent_backup", hid, "",
			             "the host has a recent backup or no enabled schedule");
	}
	json_decref(active);
	json_decref(late);
}

void alerts_tick(struct app *app)
{
	struct alerts *a = app->alerts;
	if (!a || a->stopped)
		return;
	int64_t now = rm_now_ms();
	int rc = store_tx_begin(app->store); /* alerts and their deliveries commit together */
	tick_offline(app, now);
	/* one query per enabled schedule: every 10 sweeps (at most once a minute) */
	int64_t every = app->cfg->sweep_interval_ms * 10;
	if (every > 60000)
		every = 60000;
	if (now - a->last_nrb_ms >= every) {
		a->last_nrb_ms = now;
		tick_no_recent(app, now);
	}
	alerts_digest_flush(app);
	if (rc == RM_OK)
		store_tx_end(app->store, RM_OK);
	alerts_deliver_scan(a);
}
