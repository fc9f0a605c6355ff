/* C4 channels (admin): /api/channels CRUD, POST /api/channels/{id}/test (sends a real
 * message and answers with the result), GET /api/channels/{id}/deliveries. Secrets are
 * write-only: answers carry "has_secret". */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/ulid.h"
#include "server/api/api.h"
#include "server/app.h"
#include "server/engine/alerts.h"
#include "server/engine/channels.h"
#include "server/engine/channels_io.h"
#include "server/http/http.h"
#include "server/store/store.h"

void api_channels_list(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *rows = store_channels_list(app->store);
	if (!rows) {
		api_respond_store_error(r, "channels list", RM_ERR_DB);
		return;
	}
	json_t *out = json_array();
	size_t i;
	json_t *c;
	json_array_foreach (rows, i, c)
		json_array_append_new(out, channel_public(c));
	json_decref(rows);
	http_respond_json(r, 200, json_pack("{s:o}", "channels", out));
}

static json_t *channel_or_404(struct http_req *r, struct app *app)
{
	json_t *c = store_channel_get(app->store, http_req_param(r, "id"));
	if (!c)
		http_respond_error(r, 404, "not_found", "no such channel");
	return c;
}

void api_channel_get(struct http_req *r, void *appv)
{
	json_t *c = channel_or_404(r, appv);
	if (!c)
		return;
	http_respond_json(r, 200, channel_public(c));
	json_decref(c);
}

static void wipe_free(char *s)
{
	if (s) {
		memset(s, 0, strlen(s));
		free(s);
	}
}

/* Validates, seals the secret, writes row + audit in one transaction, answers. */
static void save(struct http_req *r, struct app *app, const json_t *existing)
{
	json_t *v = NULL;
	char *secret = NULL;
	int set_secret = 0;
	const char *field = "body";
	char err[240] = "";
	if (channel_validate(api_body(r), existing, &v, &secret, &set_secret, &field, err,
	                     sizeof err)) {
		api_respond_field(r, 400, "invalid_field", field, err);
		return;
	}
	char id[RM_ULID_BUF];
	if (existing)
		snprintf(id, sizeof id, "%s", rmj_str(existing, "id"));
	else
		rm_ulid_new(id);
	char *ct = NULL;
	int rc = secret ? channel_seal_secret(app->key, id, secret, &ct) : RM_OK;
	wipe_free(secret);
	struct store_channel c = {
		.id = id,
		.name = rmj_str(v, "name"),
		.kind = rmj_str(v, "kind"),
		.min_severity = rmj_str(v, "min_severity"),
		.enabled = json_is_true(json_object_get(v, "enabled")),
		.config = json_object_get(v, "config"),
		.host_tags = json_object_get(v, "host_tags"),
		.secret_ct = ct,
		.set_secret = existing ? set_secret : 1,
	};
	if (!rc)
		rc = store_tx_begin(app->store);
	if (!rc) {
		rc = existing ? store_channel_update(app->store, &c)
		              : store_channel_insert(app->store, &c);
		if (!rc)
			rc = api_audit(app, api_actor(r),
			               existing ? "channel.update" : "channel.create", id,
			               json_pack("{s:s,s:s,s:b}", "name", c.name, "kind", c.kind,
			                         "secret_changed", set_secret));
		rc = store_tx_end(app->store, rc);
	}
	free(ct);
	json_decref(v);
	if (rc == RM_ERR_CONFLICT) {
		api_respond_field(r, 409, "conflict", "name", "a channel with this name exists");
		return;
	}
	if (rc) {
		api_respond_store_error(r, "channel save", rc);
		return;
	}
	json_t *row = store_channel_get(app->store, id);
	http_respond_json(r, existing ? 200 : 201, row ? channel_public(row) : json_object());
	json_decref(row);
}

void api_channel_create(struct http_req *r, void *app)
{
	save(r, app, NULL);
}

void api_channel_update(struct http_req *r, void *app)
{
	json_t *c = channel_or_404(r, app);
	if (!c)
		return;
	save(r, app, c);
	json_decref(c);
}

void api_channel_delete(struct http_req *r, void *appv)
{
	struct app *app = appv;
	const char *id = http_req_param(r, "id");
	int rc = store_tx_begin(app->store);
	if (!rc) {
		rc = store_channel_delete(app->store, id);
		if (!rc)
			rc = api_audit(app, api_actor(r), "channel.delete", id, NULL);
		rc = store_tx_end(app->store, rc);
	}
	if (rc == RM_ERR_NOTFOUND) {
		http_respond_error(r, 404, "not_found", "no such channel");
		return;
	}
	if (rc) {
		api_respond_store_error(r, "channel delete", rc);
		return;
	}
	http_respond_raw(r, 204, NULL, NULL, 0);
}

static void test_done(void *ud, const struct cio_result *res, const char *delivery_id)
{
	struct http_req *r = ud;
	http_respond_json(r, 200,
	                  json_pack("{s:b,s:I,s:s,s:I,s:s}", "ok", res->ok, "status",
	                            (json_int_t)res->status, "error", res->err ? res->err : "",
	                            "elapsed_ms", (json_int_t)res->elapsed_ms, "delivery_id",
	                            delivery_id));
}

void api_channel_test(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *c = channel_or_404(r, app);
	if (!c)
		return;
	json_decref(c);
	const char *id = http_req_param(r, "id");
	int rc = api_audit(app, api_actor(r), "channel.test", id, NULL);
	if (!rc) {
		http_req_defer(r);
		rc = alerts_channel_test(app, id, test_done, r);
	}
	if (rc == RM_ERR_NOTFOUND)
		http_respond_error(r, 404, "not_found", "no such channel");
	else if (rc == RM_ERR_CRYPTO)
		http_respond_error(r, 500, "crypto", "cannot decrypt the channel secret");
	else if (rc)
		api_respond_store_error(r, "channel test", rc);
}

void api_channel_deliveries(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *c = channel_or_404(r, app);
	if (!c)
		return;
	json_decref(c);
	long long limit = 100;
	const char *ls = http_req_query(r, "limit");
	if (ls && (rm_parse_i64(ls, &limit) || limit < 1 || limit > 1000)) {
		api_respond_field(r, 400, "invalid_field", "limit",
		                  "limit must be an integer in [1, 1000]");
		return;
	}
	json_t *list = store_deliveries_list(app->store, http_req_param(r, "id"), (int)limit);
	if (!list) {
		api_respond_store_error(r, "deliveries", RM_ERR_DB);
		return;
	}
	size_t i;
	json_t *d;
	json_array_foreach (list, i, d)
		json_object_del(d, "created_ms");
	http_respond_json(r, 200, json_pack("{s:o}", "deliveries", list));
}
