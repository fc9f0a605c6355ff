/* Restore drill cadence and dispatch (see drill.h). */
#include "server/engine/drill.h"

#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/rmtime.h"
#include "server/app.h"
#include "server/engine/notify.h"
#include "server/engine/presence.h"
#include "server/store/store.h"

json_t *drill_settings_effective(const json_t *host_settings)
{
	const json_t *d = json_object_get(host_settings, "drill");
	const json_t *en = json_object_get(d, "enabled");
	return json_pack("{s:b,s:I,s:I,s:I}", "enabled", en ? json_is_true(en) : 1, "interval_s",
	                 (json_int_t)rmj_int(d, "interval_s", DRILL_INTERVAL_DEFAULT_S),
	                 "sample_files",
	                 (json_int_t)rmj_int(d, "sample_files", DRILL_FILES_DEFAULT), "max_bytes",
	                 (json_int_t)rmj_int(d, "max_bytes", DRILL_BYTES_DEFAULT));
}

int drill_settings_merge(json_t *settings, const json_t *in, const char **field, char *err,
                         size_t errlen)
{
	static const struct {
		const char *key;
		long long min, max;
	} ints[] = {
		{ "interval_s", 5, 31536000 },
		{ "sample_files", 1, 1000 },
		{ "max_bytes", 1024, 64LL << 30 },
	};
	json_t *d = json_deep_copy(json_object_get(settings, "drill"));
	if (!json_is_object(d)) {
		json_decref(d);
		d = json_object();
	}
	int on = 0, rc = rmj_get_bool(in, "enabled", 0, &on, err, errlen);
	*field = "enabled";
	if (!rc && json_object_get(in, "enabled"))
		json_object_set_new(d, "enabled", json_boolean(on));
	for (size_t i = 0; !rc && i < sizeof ints / sizeof ints[0]; i++) {
		long long v = 0;
		*field = ints[i].key;
		rc = rmj_get_int(in, ints[i].key, 0, ints[i].min, ints[i].max, &v, err, errlen);
		if (!rc && json_object_get(in, ints[i].key))
			json_object_set_new(d, ints[i].key, json_integer(v));
	}
	if (rc) {
		json_decref(d);
		return RM_ERR_INVAL;
	}
	json_object_set_new(settings, "drill", d);
	return RM_OK;
}

int drill_dispatch(struct app *app, const char *host_id, const char *actor,
                   char job_id[RM_ULID_BUF])
{
	if (!presence_is_connected(app->presence, host_id))
		return RM_ERR_NOTFOUND;
	int active = 0;
	int rc = store_job_active_of_kind(app->store, host_id, "drill", &active);
	if (rc)
		return rc;
	if (active)
		return RM_ERR_CONFLICT;
	json_t *host = store_host_get(app->store, host_id);
	json_t *eff = drill_settings_effective(json_object_get(host, "settings"));
	json_t *args = json_pack("{s:O,s:O}", "sample_files", json_object_get(eff, "sample_files"),
	                         "max_bytes", json_object_get(eff, "max_bytes"));
	json_decref(eff);
	json_decref(host);
	rc = store_tx_begin(app->store);
	if (!rc) {
		rc = store_job_create(app->store, host_id, "drill", args, actor, job_id);
		json_t *detail = json_pack("{s:s,s:s}", "host_id", host_id, "kind", "drill");
		if (!rc)
			rc = store_audit(app->store, actor, "drill.dispatch", job_id, detail);
		json_decref(detail);
		rc = store_tx_end(app->store, rc);
	}
	if (!rc) {
		if (presence_send_command(app->presence, host_id, job_id, "drill", args))
			store_job_finish(app->store, job_id, "failed", -1,
			                 "dispatch to agent failed", NULL, rm_now_ms());
		notify_job_changed(app->notify, job_id);
		notify_host_changed(app->notify, host_id);
		RM_INFO("restore drill dispatched", "job_id", job_id, "host_id", host_id, "by",
		        actor);
	}
	json_decref(args);
	return rc;
}

void drill_sweep(struct app *app)
{
	json_t *hosts = store_drill_candidates(app->store);
	int64_t now = rm_now_ms();
	size_t i;
	json_t *h;
	json_array_foreach (hosts, i, h) {
		json_t *eff = drill_settings_effective(json_object_get(h, "settings"));
		long long last = rmj_int(h, "last_drill_created_ms", 0);
		int due = json_is_true(json_object_get(eff, "enabled")) &&
		          rmj_int(h, "snapshot_count", 0) > 0 &&
		          now - last >= rmj_int(eff, "interval_s", 0) * 1000;
		json_decref(eff);
		char job_id[RM_ULID_BUF];
		if (due)
			drill_dispatch(app, rmj_str(h, "id"), "system:drill", job_id);
	}
	json_decref(hosts);
}
