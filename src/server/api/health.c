/* GET /healthz */
#include "server/api/api.h"
#include "server/http/http.h"

void api_health(struct http_req *r, void *app)
{
	(void)app;
	http_respond_json(r, 200, json_pack("{s:b,s:s}", "ok", 1, "version", RM_VERSION));
}
