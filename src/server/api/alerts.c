/* C4 alerts and rules: GET /api/alerts, POST /api/alerts/{id}/ack|resolve (operator),
 * GET/PUT /api/alert-rules (admin). */
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "server/api/api.h"
#include "server/app.h"
#include "server/engine/alerts.h"
#include "server/http/http.h"
#include "server/store/store.h"

static void strip_ms(json_t *a)
{
	json_object_del(a, "first_ms");
	json_object_del(a, "last_ms");
}

void api_alerts_list(struct http_req *r, void *appv)
{
	struct app *app = appv;
	const char *state = http_req_query(r, "state");
	if (state && state[0] && strcmp(state, "open") != 0 && strcmp(state, "acked") != 0 &&
	    strcmp(state, "resolved") != 0 && strcmp(state, "active") != 0 &&
	    strcmp(state, "all") != 0) {
		api_respond_field(r, 400, "invalid_field", "state",
		                  "state must be open, acked, resolved, active or all");
		return;
	}
	if (state && (!state[0] || strcmp(state, "all") == 0))
		state = NULL;
	long long limit = 200;
	const char *ls = http_req_query(r, "limit");
	if (ls && (rm_parse_i64(ls, &limit) || limit < 1 || limit > 1000)) {
		api_respond_field(r, 400, "invalid_field", "limit",
		                  "limit must be an integer in [1, 1000]");
		return;
	}
	const char *host = http_req_query(r, "host_id");
	if (host && (!host[0] || strlen(host) > 64))
		host = NULL;
	json_t *list = store_alerts_list(app->store, state, host, (int)limit);
	long long open = 0, acked = 0;
	if (!list || store_alerts_count(app->store, "open", &open) ||
	    store_alerts_count(app->store, "acked", &acked)) {
		json_decref(list);
		api_respond_store_error(r, "alerts list", RM_ERR_DB);
		return;
	}
	size_t i;
	json_t *a;
	json_array_foreach (list, i, a)
		strip_ms(a);
	http_respond_json(r, 200,
	                  json_pack("{s:o,s:I,s:I}", "alerts", list, "open", (json_int_t)open,
	                            "acked", (json_int_t)acked));
}

static void change(struct http_req *r, struct app *app, int resolve)
{
	const char *id = http_req_param(r, "id");
	const char *by = api_actor(r);
	int rc = store_tx_begin(app->store);
	if (!rc) {
		rc = resolve ? alerts_resolve(app, id, by) : alerts_ack(app, id, by);
		if (!rc)
			rc = api_audit(app, by, resolve ? "alert.resolve" : "alert.ack", id, NULL);
		rc = store_tx_end(app->store, rc);
	}
	if (rc == RM_ERR_NOTFOUND) {
		http_respond_error(r, 404, "not_found", "no such alert");
		return;
	}
	if (rc == RM_ERR_CONFLICT) {
		http_respond_error(r, 409, "conflict",
		                   resolve ? "the alert is already resolved"
		                           : "only an open alert can be acknowledged");
		return;
	}
	if (rc) {
		api_respond_store_error(r, "alert change", rc);
		return;
	}
	alerts_after_change(app);
	json_t *a = store_alert_get(app->store, id);
	if (a)
		strip_ms(a);
	http_respond_json(r, 200, a ? a : json_object());
}

void api_alert_ack(struct http_req *r, void *app)
{
	change(r, app, 0);
}

void api_alert_resolve(struct http_req *r, void *app)
{
	change(r, app, 1);
}

void api_alert_rules_get(struct http_req *r, void *appv)
{
	json_t *o = alerts_rules_get(appv);
	if (!o) {
		api_respond_store_error(r, "alert rules", RM_ERR_DB);
		return;
	}
	http_respond_json(r, 200, o);
}

void api_alert_rules_put(struct http_req *r, void *appv)
{
	struct app *app = appv;
	const char *field = "rules";
	char err[200] = "";
	int rc = store_tx_begin(app->store);
	if (!rc) {
		rc = alerts_rules_put(app, api_body(r), &field, err, sizeof err);
		if (!rc)
			rc = api_audit(app, api_actor(r), "alert_rules.update", NULL,
			               json_deep_copy(api_body(r)));
		rc = store_tx_end(app->store, rc);
	}
	if (rc == RM_ERR_INVAL) {
		api_respond_field(r, 400, "invalid_field", field, err);
		return;
	}
	if (rc) {
		api_respond_store_error(r, "alert rules", rc);
		return;
	}
	api_alert_rules_get(r, app);
}
