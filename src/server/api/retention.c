/* Retention preview: POST /api/hosts/{id}/groups/{gid}/retention-preview {"retention":{..}}
 * (optional: the group's stored retention). The agent runs `restic forget --dry-run
 * --json` with the proposed policy (RPC forget.preview) and the answer lists, for the
 * current snapshots of the group, what would be kept (and why) and what removed. Nothing
 * changes anywhere. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "server/api/api.h"
#include "server/app.h"
#include "server/engine/rpc.h"
#include "server/http/http.h"
#include "server/store/store.h"

/* above the agent's own 90 s limit on the restic child, so that its error comes first */
#define PREVIEW_TIMEOUT_MS 100000

struct preview_req {
	struct http_req *r;
	json_t *echo; /* {"group","retention"} for the answer */
};

static void preview_done(void *ctx, enum rpc_status st, const json_t *res)
{
	struct preview_req *p = ctx;
	struct http_req *r = p->r;
	/* a deferred request stays ours until answered, also when its client went away */
	if (st == RPC_OK) {
		json_t *o = json_deep_copy(p->echo);
		static const char *const keys[] = { "keep", "remove" };
		for (size_t i = 0; i < 2; i++) {
			json_t *v = json_object_get(res, keys[i]);
			json_object_set_new(o, keys[i],
			                    json_is_array(v) ? json_deep_copy(v) : json_array());
		}
		json_object_set_new(o, "truncated",
		                    json_boolean(json_is_true(json_object_get(res, "truncated"))));
		http_respond_json(r, 200, o);
	} else if (st == RPC_REMOTE_ERROR) {
		const json_t *e = json_object_get(res, "error");
		const char *code = rmj_str(e, "code");
		http_respond_error(
		    r, code && !strcmp(code, "busy") ? 429 : 502, "preview_failed", "%s",
		    rmj_str(e, "message") ? rmj_str(e, "message") : "the agent could not preview");
	} else if (st == RPC_TIMEOUT) {
		http_respond_error(r, 504, "timeout", "the agent did not answer in time");
	} else {
		http_respond_error(r, 409, "host_offline", "the agent disconnected");
	}
	json_decref(p->echo);
	free(p);
}

/* 1 if the validated retention has any keep rule. */
static int has_rule(const json_t *ret)
{
	return json_object_size(ret) > 0;
}

void api_retention_preview(struct http_req *r, void *appv)
{
	struct app *app = appv;
	const json_t *in = api_body(r);
	json_t *host = api_host_or_404(r, app);
	if (!host)
		return;
	const char *host_id = rmj_str(host, "id");
	json_t *g = store_group_get(app->store, host_id, http_req_param(r, "gid"));
	json_t *ret = NULL;
	if (!g) {
		http_respond_error(r, 404, "not_found", "unknown group");
		goto out;
	}
	const json_t *proposed = json_object_get(in, "retention");
	if (!proposed)
		proposed = json_object_get(json_object_get(g, "spec"), "retention");
	const char *field = NULL;
	const char *why = api_check_retention(proposed, &ret, &field);
	if (why) {
		api_respond_field(r, 422, "invalid_field", field, why);
		goto out;
	}
	if (!has_rule(ret)) {
		api_respond_field(r, 422, "invalid_field", "retention",
		                  "no keep rule: forget would keep every snapshot");
		goto out;
	}
	const char *name = rmj_str(g, "name");
	struct preview_req *p = rm_xcalloc(1, sizeof *p);
	p->r = r;
	p->echo = json_pack("{s:s,s:O}", "group", name, "retention", ret);
	json_t *payload = json_pack("{s:s,s:O}", "group", name, "retention", ret);
	if (!rpc_start(app, host_id, RM_MSG_FORGET_PREVIEW, payload, PREVIEW_TIMEOUT_MS,
	               preview_done, p)) {
		json_decref(p->echo);
		free(p);
		http_respond_error(r, 409, "host_offline", "host is not connected");
		goto out;
	}
	http_req_defer(r);
out:
	json_decref(ret);
	json_decref(g);
	json_decref(host);
}
