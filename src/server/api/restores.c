/* C3 restores and restore drills (docs/api.md):
 *   POST /api/hosts/{id}/restores        a restore job (operator: new directory; admin:
 *                                        in place, or from another host's repository)
 *   GET|PUT /api/hosts/{id}/drill        drill cadence + "last proven restorable"
 *   POST /api/hosts/{id}/drill/run       a drill now */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "server/api/api.h"
#include "server/app.h"
#include "server/engine/creds.h"
#include "server/engine/drill.h"
#include "server/http/http.h"
#include "server/store/store.h"

#define MAX_MAP 100

/* The full id of snapshot id (full or short) in host_id's list, or NULL. Caller frees. */
static char *snapshot_full_id(struct app *app, const char *host_id, const char *id)
{
	json_t *o = store_snapshots_list(app->store, host_id);
	char *full = NULL;
	size_t i;
	json_t *s;
	json_array_foreach (json_object_get(o, "snapshots"), i, s) {
		const char *fid = rmj_str(s, "id"), *sid = rmj_str(s, "short_id");
		if ((fid && !strcmp(fid, id)) || (sid && !strcmp(sid, id))) {
			full = rm_xstrdup(fid);
			break;
		}
	}
	json_decref(o);
	return full;
}

/* A path as the agent accepts it: one-element api_paths_problem. */
static const char *path_problem(const char *p)
{
	json_t *a = json_pack("[s]", p ? p : "");
	const char *why = api_paths_problem(a, 0);
	json_decref(a);
	return why;
}

static const char *map_problem(const json_t *map)
{
	if (!map || json_is_null(map))
		return NULL;
	if (!json_is_array(map) || json_array_size(map) > MAX_MAP)
		return "path_map must be an array of at most 100 {from, to} objects";
	size_t i;
	json_t *m;
	json_array_foreach (map, i, m) {
		if (!json_is_object(m) || path_problem(rmj_str(m, "from")) ||
		    path_problem(rmj_str(m, "to")))
			return "path_map entries need absolute 'from' and 'to' paths without '..'";
	}
	return NULL;
}

struct restore_req {
	const char *snap, *mode, *target, *confirm, *source;
	const json_t *paths, *map;
};

/* 1 = answered (bad input). Nothing has changed yet. */
static int restore_validate(struct http_req *r, const json_t *b, const json_t *host,
                            struct restore_req *q)
{
	char err[160];
	const json_t *t = json_object_get(b, "target");
	if (t && !json_is_object(t)) {
		api_respond_invalid(r, "field 'target' must be an object");
		return 1;
	}
	if (rmj_get_str(b, "snapshot_id", 1, 64, &q->snap, err, sizeof err) ||
	    rmj_get_str(b, "source_host_id", 0, 64, &q->source, err, sizeof err) ||
	    rmj_get_str(t, "mode", 0, 16, &q->mode, err, sizeof err) ||
	    rmj_get_str(t, "path", 0, 4096, &q->target, err, sizeof err) ||
	    rmj_get_str(t, "confirm_hostname", 0, 255, &q->confirm, err, sizeof err)) {
		api_respond_invalid(r, err);
		return 1;
	}
	q->paths = json_object_get(b, "paths");
	q->map = json_object_get(b, "path_map");
	if (!q->mode)
		q->mode = "new";
	const char *why = api_paths_problem(q->paths, 0);
	if (why) {
		api_respond_field(r, 422, "invalid_paths", "paths", why);
		return 1;
	}
	if (strcmp(q->mode, "new") && strcmp(q->mode, "in_place")) {
		api_respond_field(r, 422, "invalid_field", "target.mode",
		                  "target.mode must be \"new\" or \"in_place\"");
		return 1;
	}
	if (q->target && q->target[0] &&
	    ((why = path_problem(q->target)) || !strcmp(q->target, "/"))) {
		api_respond_field(r, 422, "invalid_target", "target.path",
		                  "target.path must be an absolute path without '..'");
		return 1;
	}
	if ((why = map_problem(q->map))) {
		api_respond_field(r, 422, "invalid_field", "path_map", why);
		return 1;
	}
	int in_place = !strcmp(q->mode, "in_place");
	if ((in_place || (q->source && q->source[0])) && !api_is_admin(r)) {
		http_respond_error(r, 403, "forbidden",
		                   "in-place and cross-host restores require role admin");
		return 1;
	}
	const char *hn = rmj_str(host, "hostname");
	if (in_place && (!q->confirm || !hn || strcmp(q->confirm, hn) != 0)) {
		api_respond_field(r, 422, "confirm_hostname", "target.confirm_hostname",
		                  "an in-place restore needs the host's name typed in "
		                  "target.confirm_hostname");
		return 1;
	}
	return 0;
}

/* The source host's everyday repository credential, for this one job's command.run only
 * (never stored in the job row; wiped after sending). NULL after answering. */
static json_t *source_creds(struct http_req *r, struct app *app, const char *source)
{
	json_t *c = NULL;
	int rc = creds_get(app->store, app->key, source, "repo", &c);
	if (rc == RM_ERR_NOTFOUND) {
		http_respond_error(r, 409, "no_credentials",
		                   "the source host has no repository credentials");
		return NULL;
	}
	if (rc) {
		api_respond_store_error(r, "source credentials", rc);
		return NULL;
	}
	json_t *w = json_pack("{s:{s:O,s:O?,s:O}}", "source_repo", "repo_url",
	                      json_object_get(c, "repo_url"), "repo_username",
	                      json_object_get(c, "repo_username"), "repo_password",
	                      json_object_get(c, "repo_password"));
	creds_free(c);
	return w;
}

void api_restore_create(struct http_req *r, void *appv)
{
	struct app *app = appv;
	const json_t *b = api_body(r);
	struct restore_req q = { 0 };
	json_t *host = api_host_or_404(r, app), *src = NULL, *wire = NULL, *args = NULL;
	char *full = NULL;
	if (!host || restore_validate(r, b, host, &q))
		goto out;
	const char *host_id = rmj_str(host, "id");
	const char *snap_host = host_id;
	if (q.source && q.source[0]) {
		if (!(src = store_host_get(app->store, q.source))) {
			http_respond_error(r, 404, "not_found", "unknown source host");
			goto out;
		}
		snap_host = q.source;
	}
	if (!(full = snapshot_full_id(app, snap_host, q.snap))) {
		http_respond_error(r, 404, "not_found", "unknown snapshot");
		goto out;
	}
	if (src && !(wire = source_creds(r, app, q.source)))
		goto out;
	int in_place = !strcmp(q.mode, "in_place");
	args = json_pack("{s:s,s:O,s:s}", "snapshot_id", full, "includes", q.paths, "mode", q.mode);
	if (in_place)
		json_object_set_new(args, "target", json_string("/"));
	else if (q.target && q.target[0])
		json_object_set_new(args, "target", json_string(q.target));
	if (json_array_size(q.map))
		json_object_set(args, "path_map", (json_t *)q.map);
	if (src)
		json_object_set_new(args, "source_host_id", json_string(q.source));
	/* an agent that is not root restores neither ownership nor what it cannot write */
	json_t *uid = json_object_get(host, "agent_uid");
	json_t *extra = json_is_integer(uid) && json_integer_value(uid) != 0
	                    ? json_pack("{s:s}", "warning",
	                                "the target agent does not run as root: file ownership "
	                                "is not restored and paths it cannot write are skipped")
	                    : NULL;
	api_job_dispatch_ex(r, app, host_id, "restore", args, wire, "restore.create", 0, extra);
	json_decref(extra);
out:
	if (wire)
		rmj_wipe(wire);
	json_decref(wire);
	json_decref(args);
	json_decref(src);
	json_decref(host);
	free(full);
}

/* ------------------------------------------------------------------ drills */

static json_t *drill_view(const json_t *host)
{
	json_t *o = drill_settings_effective(json_object_get(host, "settings"));
	static const char *const keys[] = { "last_drill_ok_at", "last_drill" };
	for (size_t i = 0; i < 2; i++) {
		json_t *v = json_object_get(host, keys[i]);
		json_object_set(o, keys[i], v ? v : json_null());
	}
	return o;
}

void api_drill_get(struct http_req *r, void *appv)
{
	json_t *host = api_host_or_404(r, appv);
	if (!host)
		return;
	http_respond_json(r, 200, drill_view(host));
	json_decref(host);
}

void api_drill_put(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *host = api_host_or_404(r, app);
	if (!host)
		return;
	json_t *s = json_deep_copy(json_object_get(host, "settings"));
	if (!json_is_object(s)) {
		json_decref(s);
		s = json_object();
	}
	char err[160];
	const char *field = NULL;
	if (drill_settings_merge(s, api_body(r), &field, err, sizeof err)) {
		api_respond_field(r, 422, "invalid_field", field, err);
		goto out;
	}
	const char *host_id = rmj_str(host, "id");
	int rc = store_tx_begin(app->store);
	if (!rc) {
		rc = store_host_settings_set(app->store, host_id, s);
		if (!rc)
			rc = api_audit(app, api_actor(r), "host.drill", host_id,
			               json_deep_copy(json_object_get(s, "drill")));
		rc = store_tx_end(app->store, rc);
	}
	if (rc) {
		api_respond_store_error(r, "drill settings", rc);
		goto out;
	}
	json_object_set(host, "settings", s);
	http_respond_json(r, 200, drill_view(host));
out:
	json_decref(s);
	json_decref(host);
}

void api_drill_run(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *host = api_host_or_404(r, app);
	if (!host)
		return;
	char job_id[RM_ULID_BUF];
	int rc = drill_dispatch(app, rmj_str(host, "id"), api_actor(r), job_id);
	if (rc == RM_ERR_NOTFOUND)
		http_respond_error(r, 409, "host_offline", "host is not connected");
	else if (rc == RM_ERR_CONFLICT)
		http_respond_error(r, 409, "job_running",
		                   "a drill job is already queued or running");
	else if (rc)
		api_respond_store_error(r, "drill dispatch", rc);
	else
		http_respond_json(r, 202, json_pack("{s:s,s:b}", "job_id", job_id, "queued", 0));
	json_decref(host);
}
