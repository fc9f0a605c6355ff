/* C2 policies: spec push, acks, hooks at rest, next runs, defaults, jobs first seen. */
#include "server/engine/policy.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cron.h"
#include "common/crypto.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/rmtime.h"
#include "common/ulid.h"
#include "server/app.h"
#include "server/engine/care.h"
#include "server/engine/notify.h"
#include "server/engine/presence.h"
#include "server/store/store.h"

#define HOOK_SHELL_DEFAULT "/bin/sh"
#define HOOK_TIMEOUT_DEFAULT 900

/* ------------------------------------------------------------------ hooks at rest */
static char *hooks_ad(const char *host_id)
{
	return rm_xasprintf("source_group_hooks:%s", host_id);
}

int policy_hooks_seal(struct app *app, const char *host_id, const json_t *hooks, char **ct_out)
{
	const char *pre = rmj_str(hooks, "pre"), *post = rmj_str(hooks, "post");
	*ct_out = NULL;
	if ((!pre || !pre[0]) && (!post || !post[0]))
		return RM_OK;
	json_t *h = json_pack("{s:s,s:s}", "pre", pre ? pre : "", "post", post ? post : "");
	char *pt = rmj_dumps(h);
	json_decref(h);
	char *ad = hooks_ad(host_id);
	int rc = rm_aead_seal(app->key, pt, strlen(pt), ad, ct_out);
	sodium_memzero(pt, strlen(pt));
	free(pt);
	free(ad);
	return rc;
}

json_t *policy_group_hooks(struct app *app, const json_t *row)
{
	const char *ct = rmj_str(row, "hooks_ct");
	if (!ct || !ct[0])
		return json_object();
	char *ad = hooks_ad(rmj_str(row, "host_id"));
	char *pt = NULL;
	size_t len = 0;
	int rc = rm_aead_open(app->key, ct, ad, &pt, &len);
	free(ad);
	if (rc) {
		RM_ERROR("cannot decrypt a group's hooks", "group_id", rmj_str(row, "id"), "err",
		         rm_strerror(rc));
		return NULL;
	}
	json_t *h = json_loadb(pt, len, 0, NULL);
	sodium_memzero(pt, len);
	free(pt);
	return json_is_object(h) ? h : (json_decref(h), json_object());
}

static int hook_set(const json_t *hooks, const char *k)
{
	const char *v = rmj_str(hooks, k);
	return v && v[0];
}

json_t *policy_group_api(struct app *app, const json_t *row, int with_hooks)
{
	json_t *g = json_deep_copy(json_object_get(row, "spec"));
	if (!json_is_object(g)) {
		json_decref(g);
		g = json_object();
	}
	const char *keys[] = { "id", "host_id", "name", "created_at", "updated_at" };
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		json_object_set(g, keys[i], json_object_get(row, keys[i]));
	json_t *hooks = policy_group_hooks(app, row);
	json_object_set_new(g, "pre_hook_set", json_boolean(hooks && hook_set(hooks, "pre")));
	json_object_set_new(g, "post_hook_set", json_boolean(hooks && hook_set(hooks, "post")));
	if (with_hooks && hooks) {
		json_object_set_new(
		    g, "pre_hook", json_string(rmj_str(hooks, "pre") ? rmj_str(hooks, "pre") : ""));
		json_object_set_new(
		    g, "post_hook",
		    json_string(rmj_str(hooks, "post") ? rmj_str(hooks, "post") : ""));
	}
	rmj_wipe(hooks);
	json_decref(hooks);
	return g;
}

json_t *policy_settings_effective(const json_t *stored)
{
	json_t *s = json_object();
	const char *shell = rmj_str(stored, "hook_shell");
	const char *mode = rmj_str(stored, "mode");
	json_t *up = json_object_get(stored, "limit_upload_kib");
	json_t *down = json_object_get(stored, "limit_download_kib");
	json_object_set_new(s, "limit_upload_kib",
	                    json_is_integer(up) ? json_copy(up) : json_null());
	json_object_set_new(s, "limit_download_kib",
	                    json_is_integer(down) ? json_copy(down) : json_null());
	json_object_set_new(s, "hook_shell",
	                    json_string(shell && shell[0] ? shell : HOOK_SHELL_DEFAULT));
	json_object_set_new(s, "hook_timeout_s",
	                    json_integer(rmj_int(stored, "hook_timeout_s", HOOK_TIMEOUT_DEFAULT)));
	json_object_set_new(s, "mode", json_string(mode ? mode : "always_on"));
	return s;
}

/* ------------------------------------------------------------------ time zones */
/* An IANA name this machine has tzdata for (no path tricks). */
static int tz_known(const char *tz)
{
	if (!tz || !tz[0] || strlen(tz) > 64 || strstr(tz, "..") || tz[0] == '/')
		return 0;
	for (const char *p = tz; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '/' || *p == '_' || *p == '-' || *p == '+'))
			return 0;
	char path[128];
	snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", tz);
	return access(path, R_OK) == 0;
}

/* Evaluates in the host's zone by switching TZ around the call: the server is one thread
 * on its loop and nothing else reads local time meanwhile. */
struct tz_guard {
	char *saved;
	int had;
};

static void tz_enter(struct tz_guard *g, const char *tz, int has_offset, long long off)
{
	const char *old = getenv("TZ");
	char posix[32];
	g->had = old != NULL;
	g->saved = old ? rm_xstrdup(old) : NULL;
	if (tz_known(tz)) {
		setenv("TZ", tz, 1);
	} else if (has_offset && off > -86400 && off < 86400) {
		/* POSIX offsets are west-positive: UTC+2 is "<+0200>-2" */
		long long a = off < 0 ? -off : off;
		snprintf(posix, sizeof posix, "<%c%02lld%02lld>%c%lld:%02lld", off < 0 ? '-' : '+',
		         a / 3600, a % 3600 / 60, off < 0 ? '+' : '-', a / 3600, a % 3600 / 60);
		setenv("TZ", posix, 1);
	} else {
		setenv("TZ", "UTC", 1);
	}
	tzset();
}

static void tz_leave(struct tz_guard *g)
{
	if (g->had)
		setenv("TZ", g->saved, 1);
	else
		unsetenv("TZ");
	free(g->saved);
	tzset();
}

int policy_next_runs(const char *cron, const char *tz, int has_offset, long long utc_offset_s,
                     int n, int64_t from_ms, json_t **out, int *field, char *err, size_t errlen)
{
	struct cron c;
	int rc = cron_parse(cron, &c, field, err, errlen);
	if (rc)
		return rc;
	struct tz_guard g;
	tz_enter(&g, tz, has_offset, utc_offset_s);
	json_t *a = json_array();
	int64_t t = from_ms / 1000;
	for (int i = 0; i < n; i++) {
		t = cron_next(&c, t);
		if (t < 0)
			break;
		char buf[RM_TIME_STRLEN];
		rm_time_fmt(t * 1000, buf);
		json_array_append_new(a, json_string(buf));
	}
	tz_leave(&g);
	*out = a;
	return RM_OK;
}

static int host_offset(const json_t *host, long long *off)
{
	json_t *v = json_object_get(host, "utc_offset_s");
	if (!json_is_integer(v))
		return 0;
	*off = json_integer_value(v);
	return 1;
}

void policy_schedules_decorate(struct app *app, const json_t *host, json_t *schedules)
{
	(void)app;
	long long off = 0;
	int has_off = host_offset(host, &off);
	size_t i;
	json_t *s;
	json_array_foreach (schedules, i, s) {
		json_t *runs = NULL;
		int field;
		char err[160];
		if (policy_next_runs(rmj_str(s, "cron"), rmj_str(host, "timezone"), has_off, off, 5,
		                     rm_now_ms(), &runs, &field, err, sizeof err))
			runs = json_array();
		json_object_set_new(s, "next_runs", runs);
	}
}

/* Earliest next run over the host's enabled schedules that back up something; -1 none. */
static int64_t host_next_run(struct app *app, const json_t *host)
{
	json_t *scheds = store_schedules_list(app->store, rmj_str(host, "id"), NULL);
	long long off = 0;
	int has_off = host_offset(host, &off);
	int64_t best = -1;
	size_t i;
	json_t *s;
	struct tz_guard g;
	tz_enter(&g, rmj_str(host, "timezone"), has_off, off);
	json_array_foreach (scheds, i, s) {
		struct cron c;
		int field;
		char err[128];
		if (!json_is_true(json_object_get(s, "enabled")) ||
		    json_array_size(json_object_get(s, "group_ids")) == 0 ||
		    cron_parse(rmj_str(s, "cron"), &c, &field, err, sizeof err))
			continue;
		int64_t t = cron_next(&c, rm_now_ms() / 1000);
		if (t >= 0 && (best < 0 || t < best))
			best = t;
	}
	tz_leave(&g);
	json_decref(scheds);
	return best < 0 ? -1 : best * 1000;
}

static void refresh_next_run(struct app *app, const char *host_id)
{
	json_t *host = store_host_get(app->store, host_id);
	if (!host)
		return;
	int rc = store_host_next_run_set(app->store, host_id, host_next_run(app, host));
	if (rc)
		RM_WARN("next run update failed", "host_id", host_id, "err", rm_strerror(rc));
	json_decref(host);
}

void policy_refresh_due(struct app *app)
{
	json_t *due = store_hosts_next_run_due(app->store, rm_now_ms());
	size_t i;
	json_t *v;
	json_array_foreach (due, i, v) {
		refresh_next_run(app, json_string_value(v));
		notify_host_changed(app->notify, json_string_value(v));
	}
	json_decref(due);
}

/* ------------------------------------------------------------------ the spec */
static json_t *group_spec(struct app *app, const json_t *row)
{
	const json_t *sp = json_object_get(row, "spec");
	json_t *g = json_pack("{s:O,s:O}", "id", json_object_get(row, "id"), "name",
	                      json_object_get(row, "name"));
	const char *copy[] = { "includes",         "excludes",          "exclude_caches",
		               "one_file_system",  "retry_max",         "retry_backoff_s",
		               "limit_upload_kib", "limit_download_kib" };
	for (size_t i = 0; i < sizeof copy / sizeof copy[0]; i++) {
		json_t *v = json_object_get(sp, copy[i]);
		if (v && !json_is_null(v))
			json_object_set(g, copy[i], v);
	}
	if (!json_object_get(g, "includes"))
		json_object_set_new(g, "includes", json_array());
	json_t *hooks = policy_group_hooks(app, row);
	/* copies: the decrypted originals are wiped below */
	if (hook_set(hooks, "pre"))
		json_object_set_new(g, "pre_hook", json_string(rmj_str(hooks, "pre")));
	if (hook_set(hooks, "post"))
		json_object_set_new(g, "post_hook", json_string(rmj_str(hooks, "post")));
	rmj_wipe(hooks);
	json_decref(hooks);
	return g;
}

json_t *policy_spec(struct app *app, const char *host_id)
{
	json_t *host = store_host_get(app->store, host_id);
	json_t *groups = store_groups_list(app->store, host_id);
	json_t *scheds = store_schedules_list(app->store, host_id, NULL);
	json_t *spec = NULL;
	if (host && groups && scheds) {
		json_t *ga = json_array(), *sa = json_array();
		size_t i;
		json_t *v;
		json_array_foreach (groups, i, v)
			json_array_append_new(ga, group_spec(app, v));
		json_array_foreach (scheds, i, v)
			json_array_append_new(
			    sa, json_pack("{s:O,s:O,s:O,s:O}", "id", json_object_get(v, "id"),
			                  "cron", json_object_get(v, "cron"), "enabled",
			                  json_object_get(v, "enabled"), "group_ids",
			                  json_object_get(v, "group_ids")));
		json_t *settings = policy_settings_effective(json_object_get(host, "settings"));
		/* nulls mean "no cap": the wire omits them */
		if (json_is_null(json_object_get(settings, "limit_upload_kib")))
			json_object_del(settings, "limit_upload_kib");
		if (json_is_null(json_object_get(settings, "limit_download_kib")))
			json_object_del(settings, "limit_download_kib");
		spec = json_pack("{s:I,s:o,s:o,s:o,s:o}", "version",
		                 (json_int_t)rmj_int(host, "schedule_version", 0), "schedules", sa,
		                 "groups", ga, "settings", settings, "maintenance",
		                 care_spec_maintenance(app, host_id));
	}
	json_decref(host);
	json_decref(groups);
	json_decref(scheds);
	return spec;
}

static void push_spec(struct app *app, const char *host_id)
{
	if (!presence_is_connected(app->presence, host_id))
		return;
	json_t *spec = policy_spec(app, host_id);
	if (!spec)
		return;
	long long ver = rmj_int(spec, "version", 0);
	int rc = presence_send(app->presence, host_id, RM_MSG_SCHEDULE_SET, spec);
	char v[24];
	snprintf(v, sizeof v, "%lld", ver);
	if (rc)
		RM_WARN("sending schedule.set failed", "host_id", host_id, "version", v, "err",
		        rm_strerror(rc));
	else
		RM_DEBUG("schedule.set sent", "host_id", host_id, "version", v);
}

int policy_changed(struct app *app, const char *host_id)
{
	long long ver = 0;
	int rc = store_host_policy_bump(app->store, host_id, &ver);
	if (rc)
		return rc;
	refresh_next_run(app, host_id);
	push_spec(app, host_id);
	notify_host_changed(app->notify, host_id);
	return RM_OK;
}

void policy_on_hello(struct app *app, const char *host_id, const json_t *hello)
{
	json_t *off = json_object_get(hello, "utc_offset_s");
	long long o = json_is_integer(off) ? json_integer_value(off) : 0;
	const char *tz = rmj_str(hello, "timezone");
	if (tz || json_is_integer(off)) {
		int rc =
		    store_host_tz_set(app->store, host_id, tz, json_is_integer(off) ? &o : NULL);
		if (rc)
			RM_WARN("recording the host's time zone failed", "host_id", host_id);
	}
	json_t *host = store_host_get(app->store, host_id);
	if (!host)
		return;
	long long server_ver = rmj_int(host, "schedule_version", 0);
	long long agent_ver = rmj_int(hello, "schedule_version", -1);
	if (agent_ver >= 0 && agent_ver != rmj_int(host, "schedule_acked_version", 0) &&
	    agent_ver <= server_ver)
		store_host_policy_ack(app->store, host_id, agent_ver);
	json_decref(host);
	refresh_next_run(app, host_id);
	if (server_ver > 0 && agent_ver != server_ver)
		push_spec(app, host_id);
}

void policy_on_ack(struct app *app, const char *host_id, const json_t *ack)
{
	long long v = rmj_int(ack, "version", -1);
	if (v < 0)
		return;
	int rc = store_host_policy_ack(app->store, host_id, v);
	if (rc) {
		RM_WARN("recording schedule.ack failed", "host_id", host_id, "err",
		        rm_strerror(rc));
		return;
	}
	notify_host_changed(app->notify, host_id);
}

/* ------------------------------------------------------------------ defaults, jobs seen */
int policy_defaults_new_host(struct store *st, const char *host_id, const json_t *initial_paths)
{
	char gid[RM_ULID_LEN + 1], sid[RM_ULID_LEN + 1], cron[32];
	json_t *includes =
	    json_is_array(initial_paths) ? json_deep_copy(initial_paths) : json_array();
	json_t *spec =
	    json_pack("{s:o,s:[],s:b,s:b,s:{s:i,s:i,s:i},s:i,s:i,s:n,s:n}", "includes", includes,
	              "excludes", "exclude_caches", 0, "one_file_system", 0, "retention",
	              "keep_daily", 7, "keep_weekly", 4, "keep_monthly", 12, "retry_max", 3,
	              "retry_backoff_s", 300, "limit_upload_kib", "limit_download_kib");
	/* spread 1,000 hosts over 01:00-04:59 instead of all at 02:00 */
	uint32_t m = randombytes_uniform(240);
	snprintf(cron, sizeof cron, "%u %u * * *", m % 60, 1 + m / 60);
	int rc = store_group_insert(st, host_id, "default", spec, NULL, gid);
	json_decref(spec);
	if (rc)
		return rc;
	json_t *ids = json_pack("[s]", gid);
	rc = store_schedule_insert(st, host_id, cron, 1, ids, sid);
	json_decref(ids);
	return rc;
}

int policy_job_seen(struct store *st, const char *host_id, const json_t *started)
{
	const char *origin = rmj_str(started, "origin");
	const char *job_id = rmj_str(started, "job_id");
	const char *kind = rmj_str(started, "kind");
	if (!origin || strcmp(origin, "run_now") == 0 || !job_id || !rm_ulid_valid(job_id) ||
	    !kind || (strcmp(kind, "backup") != 0 && !care_kind(kind)))
		return RM_ERR_INVAL;
	json_t *args = json_object();
	json_t *a = json_object_get(started, "args");
	if (json_is_object(a)) {
		const char *keep[] = { "paths", "tags", "excludes", "groups", "read_data_subset" };
		for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
			if (json_object_get(a, keep[i]))
				json_object_set(args, keep[i], json_object_get(a, keep[i]));
	}
	const char *copy[] = { "origin", "schedule_id", "group_id", "group", "attempt" };
	for (size_t i = 0; i < sizeof copy / sizeof copy[0]; i++)
		if (json_object_get(started, copy[i]))
			json_object_set(args, copy[i], json_object_get(started, copy[i]));
	int64_t at = rm_now_ms();
	const char *ts = rmj_str(started, "started_at");
	if (ts)
		rm_time_parse(ts, &at);
	int rc = store_job_insert_seen(st, job_id, host_id, kind, args, at, "schedule",
	                               rmj_str(started, "schedule_id"));
	json_decref(args);
	return rc;
}

/* ------------------------------------------------------------------ run when it connects */
#define AWAIT_MAX_MS (24LL * 3600 * 1000)

json_t *policy_group_wire_extra(struct app *app, const json_t *group_row, const json_t *settings)
{
	json_t *wire = json_object();
	json_t *hooks = policy_group_hooks(app, group_row);
	if (hooks && (hook_set(hooks, "pre") || hook_set(hooks, "post"))) {
		const char *pre = rmj_str(hooks, "pre"), *post = rmj_str(hooks, "post");
		json_object_set_new(wire, "pre_hook", json_string(pre ? pre : ""));
		json_object_set_new(wire, "post_hook", json_string(post ? post : ""));
		json_object_set(wire, "hook_shell", json_object_get(settings, "hook_shell"));
		json_object_set(wire, "hook_timeout_s",
		                json_object_get(settings, "hook_timeout_s"));
	}
	rmj_wipe(hooks);
	json_decref(hooks);
	return wire;
}

static void fail_job(struct app *app, const char *job_id, const char *host_id, const char *why)
{
	int rc = store_job_finish(app->store, job_id, "failed", -1, why, NULL, rm_now_ms());
	if (rc)
		RM_WARN("failing a queued job failed", "job_id", job_id, "err", rm_strerror(rc));
	notify_job_changed(app->notify, job_id);
	notify_host_changed(app->notify, host_id);
}

void policy_dispatch_awaiting(struct app *app, const char *host_id)
{
	json_t *jobs = store_jobs_awaiting(app->store, host_id);
	json_t *host = jobs && json_array_size(jobs) ? store_host_get(app->store, host_id) : NULL;
	json_t *settings =
	    policy_settings_effective(host ? json_object_get(host, "settings") : NULL);
	size_t i;
	json_t *j;
	json_array_foreach (jobs, i, j) {
		const char *id = rmj_str(j, "id");
		if (rmj_int(j, "created_ms", 0) < rm_now_ms() - AWAIT_MAX_MS) {
			fail_job(app, id, host_id, "expired: the host did not connect within 24 h");
			continue;
		}
		json_t *wire = json_deep_copy(json_object_get(j, "args"));
		const char *gid = rmj_str(wire, "group_id");
		json_t *grow = gid ? store_group_get(app->store, host_id, gid) : NULL;
		if (grow) {
			json_t *extra = policy_group_wire_extra(app, grow, settings);
			json_object_update(wire,
			                   extra); /* shares the strings: wiped with wire below */
			json_decref(extra);
			json_decref(grow);
		}
		if (care_kind(rmj_str(j, "kind"))) {
			json_t *extra = care_wire_extra(app, host_id, rmj_str(j, "kind"));
			json_object_update(wire, extra); /* the admin slot: wiped with wire below */
			json_decref(extra);
		}
		int rc = store_job_set_awaiting(app->store, id, 0);
		if (!rc)
			rc = presence_send_command(app->presence, host_id, id, rmj_str(j, "kind"),
			                           wire);
		rmj_wipe(wire);
		json_decref(wire);
		if (rc) {
			fail_job(app, id, host_id, "dispatch to agent failed");
			continue;
		}
		RM_INFO("queued job sent to the agent that came back", "job_id", id, "host_id",
		        host_id);
	}
	json_decref(settings);
	json_decref(host);
	json_decref(jobs);
}

void policy_expire_awaiting(struct app *app)
{
	int64_t now = rm_now_ms();
	json_t *gone = store_jobs_awaiting_expire(
	    app->store, now - AWAIT_MAX_MS, "expired: the host did not connect within 24 h", now);
	size_t i;
	json_t *v;
	json_array_foreach (gone, i, v) {
		notify_job_changed(app->notify, rmj_str(v, "id"));
		notify_host_changed(app->notify, rmj_str(v, "host_id"));
	}
	json_decref(gone);
}
