/* C2 schedules, the cron preview and host settings (docs/api.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ulid.h"
#include "common/cron.h"
#include "common/err.h"
#include "common/json.h"
#include "common/rmtime.h"
#include "server/api/api.h"
#include "server/app.h"
#include "server/engine/policy.h"
#include "server/http/http.h"
#include "server/store/store.h"

static void respond_cron_error(struct http_req *r, int field, const char *err)
{
	json_t *o = json_pack("{s:s,s:s,s:s}", "error", err, "code", "invalid_cron", "field",
	                      cron_field_name(field));
	http_respond_json(r, 422, o);
}

/* {"schedules", "timezone", ... } for host (all of them, or the one sid). */
static json_t *schedules_of(struct app *app, const json_t *host, const char *sid)
{
	json_t *list = store_schedules_list(app->store, rmj_str(host, "id"), sid);
	if (list)
		policy_schedules_decorate(app, host, list);
	return list;
}

void api_schedules_list(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *host = api_host_or_404(r, app);
	if (!host)
		return;
	json_t *list = schedules_of(app, host, NULL);
	if (!list) {
		api_respond_store_error(r, "schedules list", RM_ERR_DB);
	} else {
		json_t *o =
		    json_pack("{s:o,s:O,s:O,s:O,s:O,s:O}", "schedules", list, "timezone",
		              json_object_get(host, "timezone"), "utc_offset_s",
		              json_object_get(host, "utc_offset_s"), "schedule_version",
		              json_object_get(host, "schedule_version"), "schedule_acked_version",
		              json_object_get(host, "schedule_acked_version"), "in_sync",
		              json_object_get(host, "schedule_in_sync"));
		http_respond_json(r, 200, o);
	}
	json_decref(host);
}

static void respond_schedule(struct http_req *r, struct app *app, int status, const json_t *host,
                             const char *sid)
{
	json_t *list = schedules_of(app, host, sid);
	if (!list || json_array_size(list) != 1) {
		if (list)
			http_respond_error(r, 404, "not_found", "unknown schedule");
		else
			api_respond_store_error(r, "schedule get", RM_ERR_DB);
	} else {
		http_respond_json(r, status, json_incref(json_array_get(list, 0)));
	}
	json_decref(list);
}

/* Validates cron/enabled/group_ids (group ids must be the host's). 0 ok, else answered. */
static int check_schedule(struct http_req *r, struct app *app, const json_t *in, int creating,
                          const json_t *old, const char **cron, int *enabled,
                          const json_t **group_ids)
{
	char err[160];
	int field;
	struct cron c;
	*cron = old ? rmj_str(old, "cron") : NULL;
	*enabled = old ? json_is_true(json_object_get(old, "enabled")) : 1;
	*group_ids = old ? json_object_get(old, "group_ids") : NULL;
	if (rmj_get_str(in, "cron", creating, 256, cron, err, sizeof err)) {
		respond_cron_error(r, -1, err);
		return -1;
	}
	if (cron_parse(*cron, &c, &field, err, sizeof err)) {
		respond_cron_error(r, field, err);
		return -1;
	}
	if (rmj_get_bool(in, "enabled", 0, enabled, err, sizeof err)) {
		api_respond_field(r, 422, "invalid_field", "enabled", err);
		return -1;
	}
	const json_t *ids = NULL;
	if (rmj_get_str_array(in, "group_ids", 0, 100, 64, &ids, err, sizeof err)) {
		api_respond_field(r, 422, "invalid_field", "group_ids", err);
		return -1;
	}
	if (ids)
		*group_ids = ids;
	size_t i;
	json_t *v;
	json_array_foreach (*group_ids, i, v) {
		json_t *g =
		    store_group_get(app->store, http_req_param(r, "id"), json_string_value(v));
		if (!g) {
			api_respond_field(r, 422, "invalid_field", "group_ids",
			                  "unknown group for this host");
			return -1;
		}
		json_decref(g);
	}
	return 0;
}

static void schedule_save(struct http_req *r, struct app *app, const json_t *old)
{
	json_t *host = api_host_or_404(r, app);
	if (!host)
		return;
	char host_id[RM_ULID_BUF];
	rm_strlcpy(host_id, rmj_str(host, "id"), sizeof host_id);
	const char *cron;
	int enabled;
	const json_t *group_ids;
	json_t *empty = json_array();
	if (check_schedule(r, app, api_body(r), old == NULL, old, &cron, &enabled, &group_ids))
		goto out;
	char sid[RM_ULID_BUF];
	if (old)
		rm_strlcpy(sid, rmj_str(old, "id"), sizeof sid);
	int rc = store_tx_begin(app->store);
	if (!rc) {
		const json_t *ids = group_ids ? group_ids : empty;
		rc = old ? store_schedule_update(app->store, host_id, sid, cron, enabled, ids)
		         : store_schedule_insert(app->store, host_id, cron, enabled, ids, sid);
		if (!rc)
			rc = api_audit(app, api_actor(r),
			               old ? "schedule.update" : "schedule.create", sid,
			               json_pack("{s:s,s:s,s:b}", "host_id", host_id, "cron", cron,
			                         "enabled", enabled));
		rc = store_tx_end(app->store, rc);
	}
	if (rc) {
		api_respond_store_error(r, "schedule save", rc);
		goto out;
	}
	policy_changed(app, host_id);
	json_decref(host);
	host = store_host_get(app->store, host_id); /* new version */
	respond_schedule(r, app, old ? 200 : 201, host, sid);
out:
	json_decref(empty);
	json_decref(host);
}

void api_schedule_create(struct http_req *r, void *appv)
{
	schedule_save(r, appv, NULL);
}

static json_t *schedule_or_404(struct http_req *r, struct app *app)
{
	json_t *list =
	    store_schedules_list(app->store, http_req_param(r, "id"), http_req_param(r, "sid"));
	json_t *s = json_array_size(list) == 1 ? json_incref(json_array_get(list, 0)) : NULL;
	json_decref(list);
	if (!s)
		http_respond_error(r, 404, "not_found", "unknown schedule");
	return s;
}

void api_schedule_get(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *host = api_host_or_404(r, app);
	if (!host)
		return;
	respond_schedule(r, app, 200, host, http_req_param(r, "sid"));
	json_decref(host);
}

void api_schedule_update(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *old = schedule_or_404(r, app);
	if (!old)
		return;
	schedule_save(r, app, old);
	json_decref(old);
}

void api_schedule_delete(struct http_req *r, void *appv)
{
	api_delete_audited(r, appv, store_schedule_delete, http_req_param(r, "sid"),
	                   "schedule.delete", "schedule");
}

void api_cron_preview(struct http_req *r, void *appv)
{
	(void)appv;
	const json_t *in = api_body(r);
	const char *cron = NULL, *tz = NULL;
	char err[160];
	int field = -1;
	if (rmj_get_str(in, "cron", 1, 256, &cron, err, sizeof err) ||
	    rmj_get_str(in, "timezone", 0, 64, &tz, err, sizeof err)) {
		respond_cron_error(r, -1, err);
		return;
	}
	json_t *runs = NULL;
	if (policy_next_runs(cron, tz, 0, 0, 5, rm_now_ms(), &runs, &field, err, sizeof err)) {
		respond_cron_error(r, field, err);
		return;
	}
	http_respond_json(r, 200, json_pack("{s:o}", "next_runs", runs));
}

/* What the API shows: the effective agent settings plus the server-only quota. */
static json_t *settings_view(const json_t *stored)
{
	json_t *v = policy_settings_effective(stored);
	json_t *q = json_object_get(stored, "repo_quota_bytes");
	json_object_set_new(v, "repo_quota_bytes", json_is_integer(q) ? json_copy(q) : json_null());
	return v;
}

void api_settings_get(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *host = api_host_or_404(r, app);
	if (!host)
		return;
	http_respond_json(r, 200, settings_view(json_object_get(host, "settings")));
	json_decref(host);
}

/* The numeric settings (null removes one): bandwidth limits, and the repository quota the
 * growth forecast aims at (GET /api/hosts/{id}/repo). Returns the bad field (err filled)
 * or NULL. */
static const char *numeric_settings(const json_t *in, json_t *s, char *err, size_t errlen)
{
	static const struct {
		const char *key;
		long long min, max;
	} nums[] = {
		{ "limit_upload_kib", 0, 10000000 },
		{ "limit_download_kib", 0, 10000000 },
		{ "repo_quota_bytes", 1, 1LL << 60 },
	};
	for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
		json_t *v = json_object_get(in, nums[i].key);
		long long x;
		if (!v)
			continue;
		if (json_is_null(v))
			json_object_del(s, nums[i].key);
		else if (rmj_get_int(in, nums[i].key, 1, nums[i].min, nums[i].max, &x, err, errlen))
			return nums[i].key;
		else
			json_object_set_new(s, nums[i].key, json_integer(x));
	}
	return NULL;
}

void api_settings_put(struct http_req *r, void *appv)
{
	struct app *app = appv;
	const json_t *in = api_body(r);
	json_t *host = api_host_or_404(r, app);
	if (!host)
		return;
	json_t *s = json_deep_copy(json_object_get(host, "settings"));
	if (!json_is_object(s)) {
		json_decref(s);
		s = json_object();
	}
	char err[160];
	const char *why = NULL, *field = NULL;
	field = numeric_settings(in, s, err, sizeof err);
	if (field)
		why = err;
	const char *mode = NULL, *shell = NULL;
	long long timeout = 0;
	if (!why &&
	    (rmj_get_str(in, "mode", 0, 16, &mode, err, sizeof err) ||
	     (mode && strcmp(mode, "always_on") != 0 && strcmp(mode, "intermittent") != 0))) {
		why = "mode must be always_on or intermittent";
		field = "mode";
	}
	if (mode)
		json_object_set_new(s, "mode", json_string(mode));
	int hooks = json_object_get(in, "hook_shell") || json_object_get(in, "hook_timeout_s");
	if (!why && hooks && !api_is_admin(r)) {
		http_respond_error(r, 403, "forbidden",
		                   "hook settings can only be changed by an admin");
		goto out;
	}
	if (!why && (rmj_get_str(in, "hook_shell", 0, 256, &shell, err, sizeof err) ||
	             (shell && shell[0] != '/'))) {
		why = "hook_shell must be an absolute path";
		field = "hook_shell";
	}
	if (shell)
		json_object_set_new(s, "hook_shell", json_string(shell));
	if (!why && rmj_get_int(in, "hook_timeout_s", 0, 1, 86400, &timeout, err, sizeof err)) {
		why = err;
		field = "hook_timeout_s";
	}
	if (timeout)
		json_object_set_new(s, "hook_timeout_s", json_integer(timeout));
	if (why) {
		api_respond_field(r, 422, "invalid_field", field, why);
		goto out;
	}
	const char *host_id = rmj_str(host, "id");
	int rc = store_tx_begin(app->store);
	if (!rc) {
		rc = store_host_settings_set(app->store, host_id, s);
		if (!rc)
			rc = api_audit(app, api_actor(r), "host.settings", host_id,
			               json_deep_copy(s));
		rc = store_tx_end(app->store, rc);
	}
	if (rc) {
		api_respond_store_error(r, "host settings", rc);
		goto out;
	}
	policy_changed(app, host_id);
	http_respond_json(r, 200, settings_view(s));
out:
	json_decref(s);
	json_decref(host);
}
