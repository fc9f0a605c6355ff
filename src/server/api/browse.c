/* Snapshot browsing: GET /api/hosts/{id}/snapshots/{snap}/tree and .../snapshots/diff,
 * answered by the host's agent over the tree.list / snapshot.diff RPCs (engine/rpc.h).
 * Downloads are in download.c. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "server/api/api.h"
#include "server/api/browse_int.h"
#include "server/app.h"
#include "server/engine/presence.h"
#include "server/engine/rpc.h"
#include "server/http/http.h"
#include "server/store/store.h"

#define TREE_TIMEOUT_MS 120000 /* the first expansion of a big snapshot indexes it */
#define DIFF_TIMEOUT_MS 300000

int api_path_ok(const char *p)
{
	size_t n = p ? strlen(p) : 0;
	if (!n || n > 4096 || p[0] != '/')
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return 0;
	for (const char *c = p + 1; *c;) {
		const char *e = strchr(c, '/');
		size_t l = e ? (size_t)(e - c) : strlen(c);
		if ((l == 0 && e) || (l == 1 && c[0] == '.') || (l == 2 && !memcmp(c, "..", 2)))
			return 0;
		c += l + (e ? 1 : 0);
	}
	return 1;
}

/* The full id of snap (an id, short id or unique prefix of >= 8) among host_id's snapshots;
 * answers 404 / 503 itself and returns NULL. */
char *api_snapshot_resolve(struct http_req *r, struct app *app, const char *host_id,
                           const char *snap)
{
	int rc = store_host_exists(app->store, host_id);
	if (rc) {
		if (rc == RM_ERR_NOTFOUND)
			http_respond_error(r, 404, "not_found", "unknown host");
		else
			api_respond_store_error(r, "host exists", rc);
		return NULL;
	}
	json_t *o = store_snapshots_list(app->store, host_id);
	if (!o) {
		api_respond_store_error(r, "snapshots list", RM_ERR_DB);
		return NULL;
	}
	const char *found = NULL;
	int n = 0;
	size_t i, sl = snap ? strlen(snap) : 0;
	json_t *s;
	json_array_foreach (json_object_get(o, "snapshots"), i, s) {
		const char *id = rmj_str(s, "id");
		if (!id || sl < 8 || strncmp(id, snap, sl))
			continue;
		found = id;
		if (++n > 1 || strlen(id) == sl)
			break;
	}
	char *full = n == 1 || (found && strlen(found) == sl) ? rm_xstrdup(found) : NULL;
	json_decref(o);
	if (!full)
		http_respond_error(r, 404, "unknown_snapshot", "no such snapshot on this host");
	return full;
}

/* The HTTP status of an agent's error code. */
static int status_of(const char *code)
{
	if (!code)
		return 502;
	if (!strcmp(code, "not_found"))
		return 404;
	if (!strcmp(code, "not_a_directory") || !strcmp(code, "unsupported"))
		return 422;
	if (!strcmp(code, "invalid") || !strcmp(code, "bad_cursor"))
		return 400;
	if (!strcmp(code, "busy"))
		return 503;
	return 502;
}

void api_respond_rpc_failure(struct http_req *r, enum rpc_status st, const json_t *res)
{
	if (st == RPC_TIMEOUT) {
		http_respond_error(r, 504, "agent_timeout", "the agent did not answer in time");
	} else if (st == RPC_LOST) {
		http_respond_error(r, 409, "host_offline", "the agent disconnected");
	} else {
		const json_t *e = json_object_get(res, "error");
		const char *code = rmj_str(e, "code");
		const char *msg = rmj_str(e, "message");
		http_respond_error(r, status_of(code), code ? code : "agent_error", "%s",
		                   msg ? msg : "the agent could not answer");
	}
}

/* ---------------------------------------------------------------- deferred RPC calls */

/* A deferred request is freed only by its response (a client that went away is noticed
 * then), so the request itself is the call's context. */
static void on_tree_done(void *ctx, enum rpc_status st, const json_t *res)
{
	struct http_req *r = ctx;
	if (st != RPC_OK || json_is_object(json_object_get(res, "error"))) {
		api_respond_rpc_failure(r, st == RPC_OK ? RPC_REMOTE_ERROR : st, res);
		return;
	}
	json_t *out = json_deep_copy(res);
	json_object_del(out, "request_id");
	if (!json_object_get(out, "next_cursor") && json_object_get(out, "entries"))
		json_object_set_new(out, "next_cursor", json_null());
	http_respond_json(r, 200, out);
}

static void start_call(struct http_req *r, struct app *app, const char *host_id,
                       enum rm_msg_type type, json_t *payload, unsigned timeout_ms)
{
	if (!rpc_start(app, host_id, type, payload, timeout_ms, on_tree_done, r)) {
		http_respond_error(r, 409, "host_offline", "host is not connected");
		return;
	}
	http_req_defer(r);
}

void api_snapshot_tree(struct http_req *r, void *appv)
{
	struct app *app = appv;
	const char *host_id = http_req_param(r, "id");
	const char *path = http_req_query(r, "path");
	const char *cursor = http_req_query(r, "cursor");
	const char *limit = http_req_query(r, "limit");
	long long lim = 1000;
	if (!api_path_ok(path)) { /* also when absent: a NUL in it drops the parameter */
		http_respond_error(r, 400, "invalid_path",
		                   "path must be absolute, without '.', '..', empty components "
		                   "or control characters");
		return;
	}
	if ((limit && (rm_parse_i64(limit, &lim) || lim < 1 || lim > 10000)) ||
	    (cursor && strlen(cursor) > 64)) {
		http_respond_error(r, 400, "invalid_field",
		                   "limit must be 1..10000; cursor as given");
		return;
	}
	char *snap = api_snapshot_resolve(r, app, host_id, http_req_param(r, "snap"));
	if (!snap)
		return;
	json_t *p =
	    json_pack("{s:s,s:s,s:I}", "snapshot_id", snap, "path", path, "limit", (json_int_t)lim);
	if (cursor && *cursor)
		json_object_set_new(p, "cursor", json_string(cursor));
	free(snap);
	start_call(r, app, host_id, RM_MSG_TREE_LIST, p, TREE_TIMEOUT_MS);
}

void api_snapshot_diff(struct http_req *r, void *appv)
{
	struct app *app = appv;
	const char *host_id = http_req_param(r, "id");
	const char *from = http_req_query(r, "from"), *to = http_req_query(r, "to");
	if (!from || !to) {
		http_respond_error(r, 400, "invalid_field", "from and to are required");
		return;
	}
	char *f = api_snapshot_resolve(r, app, host_id, from);
	if (!f)
		return;
	char *t = api_snapshot_resolve(r, app, host_id, to);
	if (!t) {
		free(f);
		return;
	}
	json_t *p = json_pack("{s:s,s:s}", "from", f, "to", t);
	free(f);
	free(t);
	start_call(r, app, host_id, RM_MSG_SNAPSHOT_DIFF, p, DIFF_TIMEOUT_MS);
}
