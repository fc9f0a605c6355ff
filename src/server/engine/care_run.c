/* C2 repository care: server-side dispatch of maintenance jobs and the sweeper's cadence
 * check for hosts with an admin credential slot (see care.h). */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/rmtime.h"
#include "common/ulid.h"
#include "server/app.h"
#include "server/engine/care_run.h"
#include "server/engine/care.h"
#include "server/engine/notify.h"
#include "server/engine/policy.h"
#include "server/engine/presence.h"
#include "server/store/store.h"

#define N_CADENCE 3

static int host_tz(const json_t *host, long long *off)
{
	json_t *v = json_object_get(host, "utc_offset_s");
	*off = json_is_integer(v) ? json_integer_value(v) : 0;
	return json_is_integer(v);
}

/* The first run of cron after from_ms in the host's time zone; -1 when none / invalid. */
static int64_t next_after(const json_t *host, const char *cron, int64_t from_ms)
{
	long long off = 0;
	int has = host_tz(host, &off);
	json_t *runs = NULL;
	int field;
	char err[160];
	int64_t t = -1;
	if (policy_next_runs(cron, rmj_str(host, "timezone"), has, off, 1, from_ms, &runs, &field,
	                     err, sizeof err) == RM_OK &&
	    json_array_size(runs) == 1)
		rm_time_parse(json_string_value(json_array_get(runs, 0)), &t);
	json_decref(runs);
	return t;
}

json_t *care_maintenance_view(struct app *app, const json_t *host)
{
	const char *host_id = rmj_str(host, "id");
	json_t *stored = store_host_maintenance(app->store, host_id);
	json_t *m = care_maintenance_effective(stored);
	int admin = care_has_admin(app, host_id);
	for (size_t i = 0; i < N_CADENCE; i++) {
		json_t *c = json_object_get(m, care_cadence_kinds[i]);
		int64_t next = json_is_true(json_object_get(c, "enabled"))
		                   ? next_after(host, rmj_str(c, "cron"), rm_now_ms())
		                   : -1;
		char ts[RM_TIME_STRLEN];
		if (next >= 0)
			rm_time_fmt(next, ts);
		json_object_set_new(c, "next_run", next >= 0 ? json_string(ts) : json_null());
		json_t *last = store_job_last_of_kind(app->store, host_id, care_cadence_kinds[i]);
		if (json_is_object(last))
			json_object_del(last, "created_ms");
		json_object_set_new(c, "last_run", last ? last : json_null());
		json_object_set_new(c, "runs_on", json_string(admin && i < 2 ? "server" : "agent"));
	}
	json_object_set_new(m, "admin_credentials_set", json_boolean(admin));
	json_decref(stored);
	return m;
}

static const char *merge_one(const char *kind, const json_t *in, json_t *dst)
{
	static char msg[200];
	if (!json_is_object(in))
		return "each cadence must be an object";
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)in, k, v) {
		if (!strcmp(k, "enabled")) {
			if (!json_is_boolean(v))
				return "enabled must be a boolean";
		} else if (!strcmp(k, "cron")) {
			json_t *runs = NULL;
			int field;
			char err[160];
			if (!json_is_string(v) || json_string_length(v) > 128 ||
			    policy_next_runs(json_string_value(v), NULL, 0, 0, 1, rm_now_ms(),
			                     &runs, &field, err, sizeof err)) {
				snprintf(msg, sizeof msg, "%s.cron: %s", kind,
				         json_is_string(v) ? err : "must be a string");
				return msg;
			}
			json_decref(runs);
		} else if (!strcmp(k, "read_data_subset") && !strcmp(kind, "check")) {
			int ok = proto_read_data_subset_ok(json_string_value(v));
			if (!ok)
				return "check.read_data_subset must be N% (0 < N <= 100) or n/m";
		} else {
			snprintf(msg, sizeof msg, "%s: unknown field '%s'", kind, k);
			return msg;
		}
		json_object_set(dst, k, v);
	}
	return NULL;
}

const char *care_maintenance_merge(const json_t *stored, const json_t *in, json_t **merged)
{
	json_t *m = json_is_object(stored) ? json_deep_copy(stored) : json_object();
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)in, k, v) {
		size_t i = 0;
		while (i < N_CADENCE && strcmp(k, care_cadence_kinds[i]) != 0)
			i++;
		if (i == N_CADENCE) {
			json_decref(m);
			return "unknown maintenance kind (forget, prune, check)";
		}
		json_t *dst = json_object_get(m, k);
		if (!json_is_object(dst)) {
			dst = json_object();
			json_object_set_new(m, k, dst);
		}
		const char *why = merge_one(k, v, dst);
		if (why) {
			json_decref(m);
			return why;
		}
	}
	json_object_set_new(m, "since_ms", json_integer(rm_now_ms()));
	*merged = m;
	return NULL;
}

int care_dispatch(struct app *app, const char *host_id, const char *kind, const json_t *args,
                  const char *actor, char job_id[32])
{
	int active = 0;
	int rc = store_job_active_of_kind(app->store, host_id, kind, &active);
	if (rc)
		return rc;
	if (active)
		return RM_ERR_CONFLICT;
	int offline = !presence_is_connected(app->presence, host_id);
	rc = store_tx_begin(app->store);
	if (!rc) {
		rc = store_job_create(app->store, host_id, kind, args, actor, job_id);
		if (!rc && offline)
			rc = store_job_set_awaiting(app->store, job_id, 1);
		if (!rc) {
			json_t *d = json_pack("{s:s,s:s,s:b}", "host_id", host_id, "kind", kind,
			                      "queued", offline);
			rc = store_audit(app->store, actor, "job.dispatch", job_id, d);
			json_decref(d);
		}
		rc = store_tx_end(app->store, rc);
	}
	if (rc)
		return rc;
	notify_job_changed(app->notify, job_id);
	notify_host_changed(app->notify, host_id);
	if (offline)
		return RM_OK; /* policy_dispatch_awaiting sends it when the agent connects */
	json_t *wire = json_deep_copy(args);
	json_t *extra = care_wire_extra(app, host_id, kind);
	json_object_update(wire, extra); /* shares the strings: wiped with wire below */
	json_decref(extra);
	rc = presence_send_command(app->presence, host_id, job_id, kind, wire);
	rmj_wipe(wire);
	json_decref(wire);
	if (rc) {
		store_job_finish(app->store, job_id, "failed", -1, "dispatch to agent failed", NULL,
		                 rm_now_ms());
		notify_job_changed(app->notify, job_id);
		notify_host_changed(app->notify, host_id);
	}
	return RM_OK;
}

/* The first cadence time after base in the host's zone is due. */
static int due(const json_t *host, const json_t *cad, int64_t base, int64_t now)
{
	long long off = 0;
	json_t *o = json_object_get(host, "utc_offset_s");
	if (json_is_integer(o))
		off = json_integer_value(o);
	json_t *runs = NULL;
	int field;
	char err[160];
	int64_t t = -1;
	if (policy_next_runs(rmj_str(cad, "cron"), rmj_str(host, "timezone"), json_is_integer(o),
	                     off, 1, base, &runs, &field, err, sizeof err) == RM_OK)
		rm_time_parse(json_string_value(json_array_get(runs, 0)), &t);
	json_decref(runs);
	return t >= 0 && t <= now;
}

static void sweep_host(struct app *app, const char *host_id, int64_t now)
{
	json_t *host = store_host_get(app->store, host_id);
	json_t *stored = host ? store_host_maintenance(app->store, host_id) : NULL;
	if (!stored)
		goto out;
	if (!json_is_integer(json_object_get(stored, "since_ms"))) {
		/* cadences start from now: setting an admin slot must not fire a forget */
		json_object_set_new(stored, "since_ms", json_integer(now));
		store_host_maintenance_set(app->store, host_id, stored);
		goto out;
	}
	json_t *m = care_maintenance_effective(stored);
	static const char *const server_kinds[] = { "forget", "prune" };
	for (size_t i = 0; i < 2; i++) {
		const char *kind = server_kinds[i];
		json_t *cad = json_object_get(m, kind);
		if (!json_is_true(json_object_get(cad, "enabled")))
			continue;
		int64_t base = rmj_int(stored, "since_ms", now);
		json_t *last = store_job_last_of_kind(app->store, host_id, kind);
		if (json_is_object(last) && rmj_int(last, "created_ms", 0) > base)
			base = rmj_int(last, "created_ms", 0);
		json_decref(last);
		if (!due(host, cad, base, now))
			continue;
		json_t *args = NULL;
		const char *why = NULL;
		char job_id[32];
		int rc = !strcmp(kind, "forget") ? care_forget_args(app, host_id, NULL, &args, &why)
		                                 : (args = json_object(), RM_OK);
		if (!rc)
			rc = care_dispatch(app, host_id, kind, args, "system", job_id);
		json_decref(args);
		if (rc && rc != RM_ERR_CONFLICT)
			RM_WARN("maintenance dispatch failed", "host_id", host_id, "kind", kind,
			        "err", rm_strerror(rc));
		else if (!rc)
			RM_INFO("maintenance job dispatched by the server", "host_id", host_id,
			        "kind", kind, "job_id", job_id);
	}
	json_decref(m);
out:
	json_decref(stored);
	json_decref(host);
}

void care_sweep(struct app *app)
{
	json_t *ids = store_hosts_with_cred(app->store, "admin");
	int64_t now = rm_now_ms();
	size_t i;
	json_t *v;
	json_array_foreach (ids, i, v)
		sweep_host(app, json_string_value(v), now);
	json_decref(ids);
}
