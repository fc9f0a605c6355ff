/* C2 source groups: CRUD, validation, run-now per group (docs/api.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ulid.h"
#include "common/err.h"
#include "common/json.h"
#include "common/proto.h"
#include "common/log.h"
#include "server/api/api.h"
#include "server/app.h"
#include "server/engine/policy.h"
#include "server/http/http.h"
#include "server/store/store.h"

#define HOOK_MAX 65536
#define EXCLUDES_MAX 1000
#define BW_MAX 10000000LL

void api_respond_field(struct http_req *r, int status, const char *code, const char *field,
                       const char *msg)
{
	http_respond_json(r, status,
	                  json_pack("{s:s,s:s,s:s}", "error", msg, "code", code, "field", field));
}

int api_is_admin(struct http_req *r)
{
	return api_ctx(r)->auth.role >= ROLE_ADMIN;
}

/* The host of {id}, or NULL after answering 404. */
json_t *api_host_or_404(struct http_req *r, struct app *app)
{
	json_t *host = store_host_get(app->store, http_req_param(r, "id"));
	if (host && !json_is_null(json_object_get(host, "deleted_at"))) {
		/* deleted with its history kept: the history reads on, nothing else */
		json_decref(host);
		host = NULL;
	}
	if (!host)
		http_respond_error(r, 404, "not_found", "unknown host");
	return host;
}

/* restic durations: 1y2m3d4h (at least one unit) */
static int duration_ok(const char *s)
{
	int units = 0;
	if (strlen(s) > 32)
		return 0;
	while (*s) {
		int digits = 0;
		while (*s >= '0' && *s <= '9') {
			s++;
			digits++;
		}
		if (!digits || !*s || !strchr("ymwdh", *s))
			return 0;
		s++;
		units++;
	}
	return units > 0;
}

static const char *const keep_keys[] = { "keep_last",   "keep_hourly",  "keep_daily",
	                                 "keep_weekly", "keep_monthly", "keep_yearly" };

const char *api_check_retention(const json_t *in, json_t **out, const char **field)
{
	static char msg[160];
	if (!json_is_object(in)) {
		*field = "retention";
		return "retention must be an object";
	}
	json_t *ret = json_object();
	for (size_t i = 0; i < sizeof keep_keys / sizeof keep_keys[0]; i++) {
		long long v = 0;
		if (rmj_get_int(in, keep_keys[i], 0, 0, 10000, &v, msg, sizeof msg)) {
			json_decref(ret);
			*field = keep_keys[i];
			return msg;
		}
		if (v > 0)
			json_object_set_new(ret, keep_keys[i], json_integer(v));
	}
	const char *within = NULL;
	if (rmj_get_str(in, "keep_within", 0, 32, &within, msg, sizeof msg) ||
	    (within && within[0] && !duration_ok(within))) {
		json_decref(ret);
		*field = "keep_within";
		return "keep_within must be a restic duration such as 7d or 1y2m";
	}
	if (within && within[0])
		json_object_set_new(ret, "keep_within", json_string(within));
	*out = ret;
	return NULL;
}

static const char *check_excludes(const json_t *v)
{
	size_t i;
	json_t *e;
	if (!json_is_array(v))
		return "excludes must be an array of strings";
	if (json_array_size(v) > EXCLUDES_MAX)
		return "at most 1,000 excludes";
	json_array_foreach (v, i, e) {
		const char *s = json_string_value(e);
		if (!s || !s[0] || json_string_length(e) > 4096 ||
		    strlen(s) != json_string_length(e) || strchr(s, '\n') || strchr(s, '\r'))
			return "excludes must be non-empty strings without newlines, at most 4096 bytes";
	}
	return NULL;
}

/* Sets spec[key] from the input (int in [lo, hi], or null when nullable). */
static const char *take_int(const json_t *in, json_t *spec, const char *key, long long lo,
                            long long hi, int nullable)
{
	static char msg[160];
	json_t *v = json_object_get(in, key);
	if (!v)
		return NULL;
	if (json_is_null(v)) {
		if (!nullable) {
			snprintf(msg, sizeof msg, "field '%s' must be an integer", key);
			return msg;
		}
		json_object_set_new(spec, key, json_null());
		return NULL;
	}
	long long x;
	if (rmj_get_int(in, key, 1, lo, hi, &x, msg, sizeof msg))
		return msg;
	json_object_set_new(spec, key, json_integer(x));
	return NULL;
}

static const char *take_bool(const json_t *in, json_t *spec, const char *key)
{
	json_t *v = json_object_get(in, key);
	if (!v)
		return NULL;
	if (!json_is_boolean(v))
		return "must be true or false";
	json_object_set(spec, key, v);
	return NULL;
}

/* Merges the request into spec (old values kept for absent fields). NULL when valid. */
static const char *merge_spec(const json_t *in, json_t *spec, const char **field)
{
	const char *why;
	json_t *v;
	if ((v = json_object_get(in, "includes"))) {
		*field = "includes";
		if ((why = api_paths_problem(v, 0)))
			return why;
		json_object_set(spec, "includes", v);
	}
	if ((v = json_object_get(in, "excludes"))) {
		*field = "excludes";
		if ((why = check_excludes(v)))
			return why;
		json_object_set(spec, "excludes", v);
	}
	static const char *const bools[] = { "exclude_caches", "one_file_system" };
	for (size_t i = 0; i < 2; i++) {
		*field = bools[i];
		if ((why = take_bool(in, spec, bools[i])))
			return why;
	}
	if ((v = json_object_get(in, "retention"))) {
		json_t *ret = NULL;
		if ((why = api_check_retention(v, &ret, field)))
			return why;
		json_object_set_new(spec, "retention", ret);
	}
	static const struct {
		const char *key;
		long long lo, hi;
		int nullable;
	} ints[] = {
		{ "retry_max", 0, 10, 0 },
		{ "retry_backoff_s", 10, 86400, 0 },
		{ "limit_upload_kib", 0, BW_MAX, 1 },
		{ "limit_download_kib", 0, BW_MAX, 1 },
	};
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		*field = ints[i].key;
		if ((why =
		         take_int(in, spec, ints[i].key, ints[i].lo, ints[i].hi, ints[i].nullable)))
			return why;
	}
	return NULL;
}

static json_t *spec_defaults(void)
{
	return json_pack("{s:[],s:[],s:b,s:b,s:{},s:i,s:i,s:n,s:n}", "includes", "excludes",
	                 "exclude_caches", 0, "one_file_system", 0, "retention", "retry_max", 3,
	                 "retry_backoff_s", 300, "limit_upload_kib", "limit_download_kib");
}

/* Hooks in the request: 0 none given, 1 given (into *hooks, merged over old ones), -1
 * answered (403 / 422). */
static int take_hooks(struct http_req *r, struct app *app, const json_t *in, const json_t *old_row,
                      json_t **hooks)
{
	json_t *pre = json_object_get(in, "pre_hook"), *post = json_object_get(in, "post_hook");
	if (!pre && !post)
		return 0;
	if (!api_is_admin(r)) {
		http_respond_error(r, 403, "forbidden", "hooks can only be set by an admin");
		return -1;
	}
	const json_t *vals[2] = { pre, post };
	const char *names[2] = { "pre_hook", "post_hook" };
	for (int i = 0; i < 2; i++) {
		if (vals[i] && !json_is_null(vals[i]) &&
		    (!json_is_string(vals[i]) || json_string_length(vals[i]) > HOOK_MAX ||
		     strlen(json_string_value(vals[i])) != json_string_length(vals[i]))) {
			api_respond_field(r, 422, "invalid_field", names[i],
			                  "hooks must be text of at most 64 KiB");
			return -1;
		}
	}
	json_t *h = old_row ? policy_group_hooks(app, old_row) : json_object();
	if (!h)
		h = json_object();
	if (pre)
		json_object_set_new(h, "pre",
		                    json_string(json_is_string(pre) ? json_string_value(pre) : ""));
	if (post)
		json_object_set_new(
		    h, "post", json_string(json_is_string(post) ? json_string_value(post) : ""));
	*hooks = h;
	return 1;
}

static void respond_group(struct http_req *r, struct app *app, int status, const char *host_id,
                          const char *gid)
{
	json_t *row = store_group_get(app->store, host_id, gid);
	if (!row) {
		api_respond_store_error(r, "group get", RM_ERR_DB);
		return;
	}
	json_t *g = policy_group_api(app, row, api_is_admin(r));
	json_decref(row);
	http_respond_json(r, status, g);
}

/* Create (old_row NULL) or update: validate, seal hooks, write + audit, push. */
static void group_save(struct http_req *r, struct app *app, const char *host_id,
                       const json_t *old_row)
{
	const json_t *in = api_body(r);
	const char *field = "name", *why = NULL, *name = old_row ? rmj_str(old_row, "name") : NULL;
	char err[160];
	json_t *spec = old_row ? json_deep_copy(json_object_get(old_row, "spec")) : spec_defaults();
	json_t *hooks = NULL;
	char *ct = NULL;
	if (rmj_get_str(in, "name", old_row == NULL, 63, &name, err, sizeof err) || !name ||
	    !proto_group_name_ok(name))
		why = "name must match [a-z0-9][a-z0-9_.-]{0,62}";
	if (!why && !old_row && !json_object_get(in, "includes")) {
		field = "includes";
		why = "at least one include path is required";
	}
	if (!why)
		why = merge_spec(in, spec, &field);
	if (why) {
		api_respond_field(r, 422, "invalid_field", field, why);
		goto out;
	}
	int hk = take_hooks(r, app, in, old_row, &hooks);
	if (hk < 0)
		goto out;
	int rc = RM_OK;
	if (hk > 0)
		rc = policy_hooks_seal(app, host_id, hooks, &ct);
	else if (old_row && rmj_str(old_row, "hooks_ct"))
		ct = rm_xstrdup(rmj_str(old_row, "hooks_ct"));
	char gid[RM_ULID_BUF];
	if (old_row)
		rm_strlcpy(gid, rmj_str(old_row, "id"), sizeof gid);
	if (!rc)
		rc = store_tx_begin(app->store);
	if (!rc) {
		rc = old_row ? store_group_update(app->store, host_id, gid, name, spec, ct)
		             : store_group_insert(app->store, host_id, name, spec, ct, gid);
		if (!rc)
			rc = api_audit(app, api_actor(r), old_row ? "group.update" : "group.create",
			               gid,
			               json_pack("{s:s,s:s,s:b}", "host_id", host_id, "name", name,
			                         "hooks_changed", hk > 0));
		rc = store_tx_end(app->store, rc);
	}
	if (rc == RM_ERR_CONFLICT) {
		api_respond_field(r, 409, "name_taken", "name",
		                  "the host already has a group of that name");
		goto out;
	}
	if (rc) {
		api_respond_store_error(r, "group save", rc);
		goto out;
	}
	policy_changed(app, host_id);
	respond_group(r, app, old_row ? 200 : 201, host_id, gid);
out:
	rmj_wipe(hooks);
	json_decref(hooks);
	free(ct);
	json_decref(spec);
}

void api_groups_list(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *host = api_host_or_404(r, app);
	if (!host)
		return;
	json_t *rows = store_groups_list(app->store, rmj_str(host, "id"));
	json_decref(host);
	if (!rows) {
		api_respond_store_error(r, "groups list", RM_ERR_DB);
		return;
	}
	json_t *out = json_array();
	size_t i;
	json_t *row;
	json_array_foreach (rows, i, row)
		json_array_append_new(out, policy_group_api(app, row, api_is_admin(r)));
	json_decref(rows);
	http_respond_json(r, 200, json_pack("{s:o}", "groups", out));
}

void api_group_create(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *host = api_host_or_404(r, app);
	if (!host)
		return;
	group_save(r, app, rmj_str(host, "id"), NULL);
	json_decref(host);
}

/* The group {gid} of host {id}, or NULL after answering 404. */
static json_t *group_or_404(struct http_req *r, struct app *app)
{
	json_t *row =
	    store_group_get(app->store, http_req_param(r, "id"), http_req_param(r, "gid"));
	if (!row)
		http_respond_error(r, 404, "not_found", "unknown group");
	return row;
}

void api_group_get(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *row = group_or_404(r, app);
	if (!row)
		return;
	http_respond_json(r, 200, policy_group_api(app, row, api_is_admin(r)));
	json_decref(row);
}

void api_group_update(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *row = group_or_404(r, app);
	if (!row)
		return;
	group_save(r, app, rmj_str(row, "host_id"), row);
	json_decref(row);
}

void api_delete_audited(struct http_req *r, struct app *app,
                        int (*del)(struct store *, const char *, const char *), const char *id,
                        const char *action, const char *what)
{
	const char *host_id = http_req_param(r, "id");
	int rc = store_tx_begin(app->store);
	if (!rc) {
		rc = del(app->store, host_id, id);
		if (!rc)
			rc = api_audit(app, api_actor(r), action, id,
			               json_pack("{s:s}", "host_id", host_id));
		rc = store_tx_end(app->store, rc);
	}
	if (rc == RM_ERR_NOTFOUND) {
		http_respond_error(r, 404, "not_found", "unknown %s", what);
		return;
	}
	if (rc) {
		api_respond_store_error(r, action, rc);
		return;
	}
	policy_changed(app, host_id);
	http_respond_json(r, 204, NULL);
}

void api_group_delete(struct http_req *r, void *appv)
{
	api_delete_audited(r, appv, store_group_delete, http_req_param(r, "gid"), "group.delete",
	                   "group");
}

/* Bandwidth: run override > group > host default (NULL = no cap). */
static void set_limit(json_t *args, const char *key, const json_t *over, const json_t *spec,
                      const json_t *settings)
{
	const json_t *srcs[3] = { over, spec, settings };
	for (int i = 0; i < 3; i++) {
		json_t *v = json_object_get(srcs[i], key);
		if (json_is_integer(v)) {
			json_object_set(args, key, v);
			return;
		}
	}
}

void api_group_run(struct http_req *r, void *appv)
{
	struct app *app = appv;
	const json_t *in = api_body(r);
	json_t *row = group_or_404(r, app);
	if (!row)
		return;
	const char *host_id = rmj_str(row, "host_id");
	const json_t *spec = json_object_get(row, "spec");
	json_t *host = store_host_get(app->store, host_id);
	json_t *settings =
	    policy_settings_effective(host ? json_object_get(host, "settings") : NULL);
	json_t *over = json_object();
	const char *why = NULL, *field = NULL;
	char err[160];
	long long v;
	static const char *const bw[] = { "limit_upload_kib", "limit_download_kib" };
	for (int i = 0; i < 2 && !why; i++) {
		if (rmj_get_int(in, bw[i], 0, 0, BW_MAX, &v, err, sizeof err)) {
			why = err;
			field = bw[i];
		} else if (json_is_integer(json_object_get(in, bw[i]))) {
			json_object_set_new(over, bw[i], json_integer(v));
		}
	}
	if (why) {
		api_respond_field(r, 422, "invalid_field", field, why);
		goto out;
	}
	json_t *args =
	    json_pack("{s:O,s:[s],s:O,s:O,s:O,s:O,s:O}", "paths", json_object_get(spec, "includes"),
	              "tags", rmj_str(row, "name"), "excludes", json_object_get(spec, "excludes"),
	              "exclude_caches", json_object_get(spec, "exclude_caches"), "one_file_system",
	              json_object_get(spec, "one_file_system"), "group_id",
	              json_object_get(row, "id"), "group", json_object_get(row, "name"));
	for (int i = 0; i < 2; i++)
		set_limit(args, bw[i], over, spec, settings);
	/* hooks go to the agent with the command, never into the job row (viewers read it) */
	json_t *wire = policy_group_wire_extra(app, row, settings);
	api_job_dispatch(r, app, host_id, "backup", args, wire, "group.run",
	                 json_is_true(json_object_get(in, "queue_if_offline")));
	rmj_wipe(wire);
	json_decref(wire);
	json_decref(args);
out:
	json_decref(over);
	json_decref(settings);
	json_decref(host);
	json_decref(row);
}
