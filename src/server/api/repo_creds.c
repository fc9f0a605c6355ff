/* C6 repository credentials after enrollment (admin):
 *   GET  /api/hosts/{id}/repo-credentials         what is set (URL redacted, never the
 *                                                 password) + the rotation state
 *   PUT  /api/hosts/{id}/repo-credentials         replace (push + probe/auto-init again)
 *   POST /api/hosts/{id}/repo-credentials/rotate  rotate the repository password in place
 * The policy lives in engine/rotation.c. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "server/api/api.h"
#include "server/app.h"
#include "server/engine/creds.h"
#include "server/engine/rotation.h"
#include "server/http/http.h"
#include "server/store/store.h"

#define PW_MIN_ROTATE 12

void api_repo_creds_get(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *host = api_host_or_404(r, app);
	if (!host)
		return;
	const char *host_id = rmj_str(host, "id");
	json_t *c = NULL;
	json_t *o = json_object();
	if (creds_get(app->store, app->key, host_id, "repo", &c) == RM_OK) {
		char *red = rm_redact_url(rmj_str(c, "repo_url"));
		json_object_set_new(o, "repo_url", json_string(red ? red : ""));
		json_object_set_new(
		    o, "repo_username",
		    json_string(rmj_str(c, "repo_username") ? rmj_str(c, "repo_username") : ""));
		json_object_set_new(o, "password_set", json_true());
		free(red);
	} else {
		json_object_set_new(o, "repo_url", json_null());
		json_object_set_new(o, "repo_username", json_null());
		json_object_set_new(o, "password_set", json_false());
	}
	creds_free(c);
	json_object_set_new(o, "repo_status", json_incref(json_object_get(host, "repo_status")));
	json_object_set_new(o, "repo_error", json_incref(json_object_get(host, "repo_error")));
	json_object_set_new(o, "rotation", rotation_view(app, host_id));
	http_respond_json(r, 200, o);
	json_decref(host);
}

/* The new credentials from the body; an absent password keeps the stored one. NULL after
 * answering 400. */
static json_t *creds_from_body(struct http_req *r, struct app *app, const char *host_id)
{
	const json_t *b = api_body(r);
	const char *url = NULL, *user = "", *pw = NULL, *field = "repo_url";
	char err[160];
	const char *why = NULL;
	if (rmj_get_str(b, "repo_url", 1, 2048, &url, err, sizeof err))
		why = err;
	else if (!url[0])
		why = "field 'repo_url' must not be empty";
	else if (api_has_ctl(url))
		why = "field 'repo_url' contains control characters";
	else if ((field = "repo_username",
	          rmj_get_str(b, "repo_username", 0, 256, &user, err, sizeof err)))
		why = err;
	else if (!api_repo_user_ok(user))
		why = "field 'repo_username' must be of [A-Za-z0-9._@-]";
	else if ((field = "repo_password",
	          rmj_get_str(b, "repo_password", 0, 1024, &pw, err, sizeof err)))
		why = err;
	else if (api_has_ctl(pw))
		why = "field 'repo_password' contains control characters";
	if (why) {
		api_respond_field(r, 400, "invalid_field", field, why);
		return NULL;
	}
	json_t *cur = NULL;
	if (!pw || !pw[0]) {
		if (creds_get(app->store, app->key, host_id, "repo", &cur) ||
		    !rmj_str(cur, "repo_password")) {
			creds_free(cur);
			api_respond_field(
			    r, 400, "invalid_field", "repo_password",
			    "field 'repo_password' is required: no password is stored");
			return NULL;
		}
		pw = rmj_str(cur, "repo_password");
	}
	json_t *c = json_pack("{s:s,s:s,s:s}", "repo_url", url, "repo_username", user ? user : "",
	                      "repo_password", pw);
	creds_free(cur);
	return c;
}

void api_repo_creds_put(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *host = api_host_or_404(r, app);
	if (!host)
		return;
	const char *host_id = rmj_str(host, "id");
	json_t *c = NULL;
	if (rotation_active(app, host_id)) {
		http_respond_error(r, 409, "rotation_running",
		                   "a password rotation is running on this host");
		goto out;
	}
	c = creds_from_body(r, app, host_id);
	if (!c)
		goto out;
	int rc = repo_creds_replace(app, host_id, c, api_actor(r));
	if (rc) {
		api_respond_store_error(r, "repo credentials", rc);
		goto out;
	}
	json_t *h = store_host_get(app->store, host_id);
	http_respond_json(r, 200,
	                  json_pack("{s:b,s:O,s:O}", "password_set", 1, "repo_status",
	                            json_object_get(h, "repo_status"), "repo_error",
	                            json_object_get(h, "repo_error")));
	json_decref(h);
out:
	creds_free(c);
	rmj_wipe(api_body(r));
	json_decref(host);
}

void api_repo_rotate(struct http_req *r, void *appv)
{
	struct app *app = appv;
	size_t len = 0;
	const char *body = http_req_body(r, &len);
	json_t *b = NULL;
	const char *pw = NULL;
	char err[160] = "";
	if (len && rmj_parse_object(body, len, 65536, &b, err, sizeof err)) {
		http_respond_error(r, 400, "bad_json", "invalid JSON body: %s", err);
		return;
	}
	if (b && (rmj_get_str(b, "new_password", 0, 1024, &pw, err, sizeof err) ||
	          (pw && (strlen(pw) < PW_MIN_ROTATE || api_has_ctl(pw))))) {
		api_respond_field(r, 400, "invalid_field", "new_password",
		                  "field 'new_password' must be 12-1024 characters without "
		                  "control characters");
		goto out;
	}
	json_t *host = api_host_or_404(r, app);
	if (!host)
		goto out;
	int status = 0;
	const char *code = NULL, *why = NULL;
	int rc = rotation_begin(app, rmj_str(host, "id"), pw, api_actor(r), &status, &code, &why);
	if (rc)
		http_respond_error(r, status, code, "%s", why ? why : "rotation refused");
	else
		http_respond_json(
		    r, 202,
		    json_pack("{s:o}", "rotation", rotation_view(app, rmj_str(host, "id"))));
	json_decref(host);
out:
	if (b) {
		rmj_wipe(b);
		json_decref(b);
	}
}
