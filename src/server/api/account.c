/* Self service (every signed-in user): own sessions, password change, personal API
 * tokens. Creating a token or changing the password needs a browser session: an API
 * token cannot mint tokens or take over its account. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/rmtime.h"
#include "server/api/api.h"
#include "server/app.h"
#include "server/engine/notify.h"
#include "server/engine/people.h"
#include "server/http/http.h"
#include "server/store/store.h"

static int needs_session(struct http_req *r)
{
	if (!api_ctx(r)->auth.via_token)
		return 0;
	http_respond_error(r, 403, "session_required",
	                   "this needs a signed-in browser session, not an API token");
	return 1;
}

/* ---- sessions ---- */

void api_account_sessions(struct http_req *r, void *appv)
{
	struct app *app = appv;
	struct api_ctx *c = api_ctx(r);
	json_t *o =
	    store_user_sessions(app->store, c->auth.user_id, c->auth.token_hash, rm_now_ms());
	if (!o) {
		api_respond_store_error(r, "sessions", RM_ERR_DB);
		return;
	}
	http_respond_json(r, 200, o);
}

void api_account_sessions_end(struct http_req *r, void *appv)
{
	struct app *app = appv;
	struct api_ctx *c = api_ctx(r);
	int rc = store_tx_begin(app->store);
	if (!rc) {
		rc = store_user_sessions_end(app->store, c->auth.user_id,
		                             c->auth.token_hash[0] ? c->auth.token_hash : NULL);
		if (!rc)
			rc = api_audit(app, c->auth.username, "account.sessions_end",
			               c->auth.username, NULL);
		rc = store_tx_end(app->store, rc);
	}
	if (rc) {
		api_respond_store_error(r, "sessions end", rc);
		return;
	}
	http_respond_json(r, 204, NULL);
}

void api_account_session_end(struct http_req *r, void *appv)
{
	struct app *app = appv;
	struct api_ctx *c = api_ctx(r);
	const char *sid = http_req_param(r, "sid");
	int rc = store_tx_begin(app->store);
	if (!rc) {
		rc = store_session_delete_id(app->store, c->auth.user_id, sid);
		if (!rc)
			rc = api_audit(app, c->auth.username, "account.session_end",
			               c->auth.username, json_pack("{s:s}", "session", sid));
		rc = store_tx_end(app->store, rc);
	}
	if (rc == RM_ERR_NOTFOUND) {
		http_respond_error(r, 404, "not_found", "no such session");
		return;
	}
	if (rc) {
		api_respond_store_error(r, "session end", rc);
		return;
	}
	http_respond_json(r, 204, NULL);
}

/* ---- password change ---- */

struct pwc_ud {
	char user_id[RM_ULID_BUF];
	char username[65];
	char keep_hash[65];
	char ip[64];
	char *new_pw;
};

static void pwc_free(struct pwc_ud *ud)
{
	if (ud->new_pw) {
		sodium_memzero(ud->new_pw, strlen(ud->new_pw));
		free(ud->new_pw);
	}
	free(ud);
}

static void pwc_hashed(struct http_req *r, struct app *app, int rc, const char *hash, void *udv)
{
	struct pwc_ud *ud = udv;
	if (!r)
		goto out;
	if (rc) {
		http_respond_error(r, 503, "unavailable", "password hashing failed");
		goto out;
	}
	rc = store_tx_begin(app->store);
	if (!rc) {
		rc = store_user_set_password(app->store, ud->user_id, hash);
		if (!rc) /* other sessions may belong to whoever knew the old password */
			rc = store_user_sessions_end(app->store, ud->user_id, ud->keep_hash);
		if (!rc)
			rc = api_audit(app, ud->username, "account.password", ud->username,
			               json_pack("{s:s}", "ip", ud->ip));
		rc = store_tx_end(app->store, rc);
	}
	if (rc) {
		api_respond_store_error(r, "password change", rc);
	} else {
		notify_user_changed(app->notify, ud->user_id);
		http_respond_json(r, 204, NULL);
	}
out:
	pwc_free(ud);
}

static void pwc_verified(struct http_req *r, struct app *app, int rc, const char *hash, void *udv)
{
	(void)hash;
	struct pwc_ud *ud = udv;
	api_guard_end(app, ud->username, ud->ip, rc == RM_ERR_AUTH, "password_change");
	if (!r) {
		pwc_free(ud);
		return;
	}
	if (rc == RM_ERR_AUTH) {
		api_respond_field(r, 400, "bad_credentials", "current_password",
		                  "the current password is not right");
		pwc_free(ud);
		return;
	}
	if (rc) {
		http_respond_error(r, 503, "unavailable", "try again");
		pwc_free(ud);
		return;
	}
	api_pw_run(app, r, ud->new_pw, NULL, pwc_hashed, ud);
}

void api_account_password(struct http_req *r, void *appv)
{
	struct app *app = appv;
	struct api_ctx *c = api_ctx(r);
	if (needs_session(r))
		return;
	json_t *b = api_body(r);
	const char *cur = NULL, *npw = NULL;
	char err[160];
	if (rmj_get_str(b, "current_password", 1, 1024, &cur, err, sizeof err) ||
	    rmj_get_str(b, "new_password", 1, 1024, &npw, err, sizeof err)) {
		api_respond_invalid(r, err);
		return;
	}
	const char *problem = people_password_problem(c->auth.username, npw);
	if (!problem && strcmp(cur, npw) == 0)
		problem = "the new password must differ from the current one";
	if (problem) {
		api_respond_field(r, 400, "weak_password", "new_password", problem);
		return;
	}
	if (api_guard_refuse(r, app, c->auth.username))
		return;
	struct store_user u;
	int rc = store_user_by_id(app->store, c->auth.user_id, &u);
	if (rc) {
		api_respond_store_error(r, "user get", rc);
		return;
	}
	struct pwc_ud *ud = rm_xcalloc(1, sizeof *ud);
	rm_strlcpy(ud->user_id, u.id, sizeof ud->user_id);
	rm_strlcpy(ud->username, u.username, sizeof ud->username);
	rm_strlcpy(ud->keep_hash, c->auth.token_hash, sizeof ud->keep_hash);
	rm_strlcpy(ud->ip, http_req_remote_ip(r) ? http_req_remote_ip(r) : "", sizeof ud->ip);
	ud->new_pw = rm_xstrdup(npw);
	api_guard_begin(app, ud->username, ud->ip);
	api_pw_run(app, r, cur, u.pw_hash, pwc_verified, ud);
	sodium_memzero(&u, sizeof u);
}

/* ---- personal API tokens ---- */

void api_tokens_list(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *o = store_tokens_list(app->store, api_ctx(r)->auth.user_id);
	if (!o) {
		api_respond_store_error(r, "tokens", RM_ERR_DB);
		return;
	}
	http_respond_json(r, 200, o);
}

void api_token_create(struct http_req *r, void *appv)
{
	struct app *app = appv;
	struct api_ctx *c = api_ctx(r);
	if (needs_session(r))
		return;
	json_t *b = api_body(r);
	const char *name = NULL, *role = NULL;
	long long days = PEOPLE_TOKEN_DAYS_DEFAULT;
	char err[160];
	if (rmj_get_str(b, "name", 1, 64, &name, err, sizeof err) ||
	    rmj_get_int(b, "expires_in_days", 0, 1, PEOPLE_TOKEN_DAYS_MAX, &days, err,
	                sizeof err) ||
	    (json_is_string(json_object_get(b, "role")) &&
	     rmj_get_str(b, "role", 0, 16, &role, err, sizeof err))) {
		api_respond_invalid(r, err);
		return;
	}
	int want = role ? auth_role_from_name(role) : c->auth.role;
	if (want < 0 || want > c->auth.role) {
		api_respond_field(r, 400, "invalid_field", "role",
		                  "role must be viewer, operator or admin and not above your own");
		return;
	}
	char hash[65], id[RM_ULID_BUF], ts[RM_TIME_STRLEN];
	char *token = people_new_api_token(hash);
	int64_t exp = rm_now_ms() + days * 86400LL * 1000;
	rm_time_fmt(exp, ts);
	int rc = store_tx_begin(app->store);
	if (!rc) {
		rc = store_token_create(app->store, c->auth.user_id, name, hash, role, exp, id);
		if (!rc)
			rc = api_audit(app, c->auth.username, "token.create", c->auth.username,
			               json_pack("{s:s,s:s,s:s?,s:s}", "id", id, "name", name,
			                         "role", role, "expires_at", ts));
		rc = store_tx_end(app->store, rc);
	}
	if (rc) {
		sodium_memzero(token, strlen(token));
		free(token);
		api_respond_store_error(r, "token create", rc);
		return;
	}
	http_respond_json(r, 201,
	                  json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", id, "name", name, "token", token,
	                            "role", role ? role : auth_role_name(c->auth.role),
	                            "expires_at", ts));
	sodium_memzero(token, strlen(token));
	free(token);
}

void api_token_delete(struct http_req *r, void *appv)
{
	struct app *app = appv;
	struct api_ctx *c = api_ctx(r);
	const char *id = http_req_param(r, "id");
	int rc = store_tx_begin(app->store);
	if (!rc) {
		rc = store_token_delete(app->store, c->auth.user_id, id);
		if (!rc)
			rc = api_audit(app, c->auth.username, "token.revoke", c->auth.username,
			               json_pack("{s:s}", "id", id));
		rc = store_tx_end(app->store, rc);
	}
	if (rc == RM_ERR_NOTFOUND) {
		http_respond_error(r, 404, "not_found", "no such token");
		return;
	}
	if (rc) {
		api_respond_store_error(r, "token revoke", rc);
		return;
	}
	http_respond_json(r, 204, NULL);
}
