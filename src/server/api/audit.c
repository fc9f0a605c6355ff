/* GET /api/audit?limit=&action= (admin). */
#include <string.h>

#include "common/err.h"
#include "server/api/api.h"
#include "server/app.h"
#include "server/http/http.h"
#include "server/store/store.h"

void api_audit_list(struct http_req *r, void *appv)
{
	struct app *app = appv;
	long long limit = 100;
	const char *ls = http_req_query(r, "limit");
	if (ls && (rm_parse_i64(ls, &limit) || limit < 1 || limit > 1000)) {
		api_respond_invalid(r, "query 'limit' must be an integer in [1, 1000]");
		return;
	}
	const char *action = http_req_query(r, "action");
	if (action && (!action[0] || strlen(action) > 64))
		action = NULL;
	json_t *o = store_audit_list(app->store, (int)limit, action);
	if (!o) {
		api_respond_store_error(r, "audit list", RM_ERR_DB);
		return;
	}
	http_respond_json(r, 200, o);
}
