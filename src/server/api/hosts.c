/* Hosts, snapshots and the fleet summary: store projections passed through. */
#include "common/err.h"
#include "common/rmtime.h"
#include "server/api/api.h"
#include "server/app.h"
#include "server/http/http.h"
#include "server/store/store.h"

void api_hosts_list(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *o = store_hosts_list(app->store);
	if (!o) {
		api_respond_store_error(r, "hosts list", RM_ERR_DB);
		return;
	}
	http_respond_json(r, 200, o);
}

void api_host_get(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *o = store_host_get(app->store, http_req_param(r, "id"));
	if (!o) {
		http_respond_error(r, 404, "not_found", "unknown host");
		return;
	}
	http_respond_json(r, 200, o);
}

void api_host_snapshots(struct http_req *r, void *appv)
{
	struct app *app = appv;
	const char *id = http_req_param(r, "id");
	int rc = store_host_exists(app->store, id);
	if (rc == RM_ERR_NOTFOUND) {
		http_respond_error(r, 404, "not_found", "unknown host");
		return;
	}
	if (rc) {
		api_respond_store_error(r, "host exists", rc);
		return;
	}
	json_t *o = store_snapshots_list(app->store, id);
	if (!o) {
		api_respond_store_error(r, "snapshots list", RM_ERR_DB);
		return;
	}
	http_respond_json(r, 200, o);
}

void api_fleet_summary(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *o = store_fleet_summary(app->store, rm_now_ms());
	if (!o) {
		api_respond_store_error(r, "fleet summary", RM_ERR_DB);
		return;
	}
	http_respond_json(r, 200, o);
}
