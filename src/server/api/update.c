/* C6 agent updates: per host, rolling over the fleet, the signed release manifest. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/manifest.h"
#include "common/json.h"
#include "common/log.h"
#include "server/api/api.h"
#include "server/api/api_update.h"
#include "server/app.h"
#include "server/engine/update.h"
#include "server/http/http.h"
#include "server/store/store.h"
#include "server/store/store_update.h"

void api_update_enroll_answer(struct app *app, json_t *answer)
{
	const char *pk = update_pubkey(app);
	if (pk)
		json_object_set_new(answer, "update_pubkey", json_string(pk));
}

static void respond_start_error(struct http_req *r, int rc, const char *why)
{
	int status = rc == RM_ERR_NOTFOUND ? 404 : rc == RM_ERR_DB ? 503 : 409;
	const char *code = rc == RM_ERR_NOTFOUND ? "not_found"
	                   : rc == RM_ERR_AGAIN  ? "host_offline"
	                   : rc == RM_ERR_INVAL  ? "update_unavailable"
	                   : rc == RM_ERR_DB     ? "unavailable"
	                                         : "conflict";
	http_respond_error(r, status, code, "%s", why[0] ? why : rm_strerror(rc));
}

void api_host_update(struct http_req *r, void *appv)
{
	struct app *app = appv;
	const char *id = http_req_param(r, "id");
	char why[300] = "";
	int rc = update_host_start(app, id, api_actor(r), NULL, why, sizeof why);
	if (rc) {
		respond_start_error(r, rc, why);
		return;
	}
	json_t *row = store_update_get(app->store, id);
	http_respond_json(r, 202, json_pack("{s:o}", "update", row ? row : json_null()));
}

/* {release: {version, os, arch} | null, runs: [...], active_run_id} */
void api_fleet_update_get(struct http_req *r, void *appv)
{
	struct app *app = appv;
	struct update_release rel = { 0 };
	char why[200] = "";
	json_t *release = json_null();
	if (!update_release_load(app, "linux", rm_release_native_arch(), &rel, why, sizeof why))
		release = json_pack("{s:s,s:s,s:s}", "version", rel.m.version, "os", rel.m.os,
		                    "arch", rel.m.arch);
	update_release_cleanup(&rel);
	json_t *runs = store_update_runs_list(app->store, 10);
	if (!runs) {
		json_decref(release);
		api_respond_store_error(r, "update runs", RM_ERR_DB);
		return;
	}
	json_t *o = json_pack("{s:o,s:s?,s:o}", "release", release, "release_problem",
	                      json_is_null(release) ? why : NULL, "runs", runs);
	http_respond_json(r, 200, o);
}

void api_fleet_update_start(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *b = api_body(r);
	const json_t *ids = json_object_get(b, "host_ids");
	const char *tag = NULL;
	char err[200];
	if (ids && !json_is_array(ids) && !json_is_null(ids)) {
		api_respond_invalid(r, "host_ids: must be an array of host ids");
		return;
	}
	size_t i;
	json_t *v;
	json_array_foreach (ids, i, v) {
		if (!json_is_string(v) || json_string_length(v) > 64) {
			api_respond_invalid(r, "host_ids: must be an array of host ids");
			return;
		}
	}
	if (rmj_get_str(b, "tag", 0, 64, &tag, err, sizeof err)) {
		api_respond_invalid(r, err);
		return;
	}
	char run_id[32], why[300] = "";
	int rc = update_run_start(app, json_is_array(ids) ? ids : NULL, tag, api_actor(r), run_id,
	                          why, sizeof why);
	if (rc) {
		respond_start_error(r, rc == RM_ERR_NOTFOUND ? RM_ERR_CONFLICT : rc, why);
		return;
	}
	json_t *run = store_update_run_get(app->store, run_id);
	http_respond_json(r, 202, json_pack("{s:o}", "run", run ? run : json_null()));
}

void api_fleet_update_cancel(struct http_req *r, void *appv)
{
	struct app *app = appv;
	const char *id = http_req_param(r, "run");
	if (update_run_cancel(app, id, api_actor(r))) {
		http_respond_error(r, 404, "not_found", "no running fleet update with this id");
		return;
	}
	json_t *run = store_update_run_get(app->store, id);
	http_respond_json(r, 200, json_pack("{s:o}", "run", run ? run : json_null()));
}

/* GET /agent/manifest?os=&arch=: the signed manifest of the binary /agent/binary serves
 * (public like the binary; the signature is what makes it trustworthy). */
void api_agent_manifest(struct http_req *r, void *appv)
{
	struct app *app = appv;
	const char *qos = http_req_query(r, "os"), *qarch = http_req_query(r, "arch");
	const char *os = qos ? api_pick_allowed(api_agent_oses, qos) : "linux";
	const char *arch =
	    qarch ? api_pick_allowed(api_agent_arches, qarch) : rm_release_native_arch();
	struct update_release rel = { 0 };
	char why[200] = "";
	if (!os || !arch || update_release_load(app, os, arch, &rel, why, sizeof why)) {
		http_respond_error(r, 404, "not_found", "%s", why[0] ? why : "no agent release");
		return;
	}
	http_resp_header(r, "cache-control", "no-store");
	http_respond_json(r, 200,
	                  json_pack("{s:s,s:s,s:s,s:s,s:I,s:s}", "version", rel.m.version,
	                            "manifest", rel.manifest, "signature", rel.signature, "path",
	                            rel.path, "size", (json_int_t)rel.m.size, "sha256",
	                            rel.m.sha256));
	update_release_cleanup(&rel);
}
