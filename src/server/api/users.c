/* /api/users (admin): add (with a one-time setup link), list, change role, disable /
 * enable (ends the user's sessions and API tokens at once), force logout, delete. The
 * last enabled admin can be neither disabled, demoted nor deleted. Every change is
 * audited in the transaction that makes it. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/rmtime.h"
#include "server/api/api.h"
#include "server/app.h"
#include "server/config.h"
#include "server/engine/notify.h"
#include "server/engine/people.h"
#include "server/http/http.h"
#include "server/store/store.h"

/* The user of route param {id}, or 0 after answering 404 / 503. */
static int user_or_404(struct http_req *r, struct app *app, struct store_user *u)
{
	int rc = store_user_by_id(app->store, http_req_param(r, "id"), u);
	if (rc == RM_ERR_NOTFOUND) {
		http_respond_error(r, 404, "not_found", "no such user");
		return 0;
	}
	if (rc) {
		api_respond_store_error(r, "user get", rc);
		return 0;
	}
	return 1;
}

/* 1 (after answering 409) when u is the last enabled admin; 0 when it is not; -1 after a
 * storage error answer. */
static int last_admin(struct http_req *r, struct app *app, const struct store_user *u)
{
	if (strcmp(u->role, "admin") != 0 || u->disabled)
		return 0;
	long long others = 0;
	int rc = store_admins_enabled_except(app->store, u->id, &others);
	if (rc) {
		api_respond_store_error(r, "admin count", rc);
		return -1;
	}
	if (others > 0)
		return 0;
	http_respond_error(r, 409, "last_admin",
	                   "%s is the last enabled admin: add or enable another admin first",
	                   u->username);
	return 1;
}

/* A new setup link for user_id (replacing any earlier one), inside the caller's
 * transaction: adds setup_url, setup_token and setup_expires_at to out. */
static int issue_setup_link(struct app *app, const char *user_id, json_t *out)
{
	char hash[65];
	char *token = people_new_setup_token(hash);
	int64_t exp = rm_now_ms() + PEOPLE_SETUP_TTL_MS;
	int rc = store_setup_token_put(app->store, user_id, hash, exp);
	if (!rc) {
		char ts[RM_TIME_STRLEN];
		rm_time_fmt(exp, ts);
		char *url = rm_xasprintf("%s/setup#token=%s", app->cfg->base_url, token);
		json_object_set_new(out, "setup_url", json_string(url));
		json_object_set_new(out, "setup_token", json_string(token));
		json_object_set_new(out, "setup_expires_at", json_string(ts));
		free(url);
	}
	free(token);
	return rc;
}

void api_users_list(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *o = store_users_list(app->store);
	if (!o) {
		api_respond_store_error(r, "users list", RM_ERR_DB);
		return;
	}
	http_respond_json(r, 200, o);
}

void api_user_get(struct http_req *r, void *appv)
{
	struct app *app = appv;
	struct store_user u;
	if (!user_or_404(r, app, &u))
		return;
	json_t *o = store_user_json(app->store, u.id);
	if (!o) {
		api_respond_store_error(r, "user get", RM_ERR_DB);
		return;
	}
	http_respond_json(r, 200, json_pack("{s:o}", "user", o));
}

void api_user_create(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *b = api_body(r);
	const char *username = NULL, *role = NULL;
	char err[160];
	if (rmj_get_str(b, "username", 1, 64, &username, err, sizeof err) ||
	    rmj_get_str(b, "role", 1, 16, &role, err, sizeof err)) {
		api_respond_invalid(r, err);
		return;
	}
	if (!people_username_ok(username)) {
		api_respond_field(r, 400, "invalid_field", "username",
		                  "username must be 1-64 of [a-z0-9._-]");
		return;
	}
	if (auth_role_from_name(role) < 0) {
		api_respond_field(r, 400, "invalid_field", "role",
		                  "role must be admin, operator or viewer");
		return;
	}
	char id[RM_ULID_BUF];
	json_t *out = json_object();
	int rc = store_tx_begin(app->store);
	if (!rc) {
		rc = store_user_create(app->store, username, "", role, id);
		if (!rc)
			rc = issue_setup_link(app, id, out);
		if (!rc)
			rc = api_audit(app, api_actor(r), "user.create", username,
			               json_pack("{s:s,s:s}", "id", id, "role", role));
		rc = store_tx_end(app->store, rc);
	}
	if (rc == RM_ERR_CONFLICT) {
		json_decref(out);
		api_respond_field(r, 409, "username_taken", "username", "username already exists");
		return;
	}
	if (rc) {
		json_decref(out);
		api_respond_store_error(r, "user create", rc);
		return;
	}
	json_object_set_new(out, "user", store_user_json(app->store, id));
	http_respond_json(r, 201, out);
}

/* Applies a role change and/or disable flag in one transaction with its audit rows;
 * disabling ends the user's sessions and API tokens. */
static int apply_update(struct http_req *r, struct app *app, const struct store_user *u,
                        const char *role, int disabled)
{
	int rc = store_tx_begin(app->store);
	if (rc)
		return rc;
	if (role && strcmp(role, u->role) != 0) {
		rc = store_user_set_role(app->store, u->id, role);
		if (!rc)
			rc = api_audit(
			    app, api_actor(r), "user.role", u->username,
			    json_pack("{s:s,s:s,s:s}", "id", u->id, "from", u->role, "to", role));
	}
	if (!rc && disabled >= 0 && disabled != u->disabled) {
		rc = store_user_set_disabled(app->store, u->id, disabled);
		if (!rc && disabled)
			rc = store_user_sessions_end(app->store, u->id, NULL);
		if (!rc && disabled)
			rc = store_user_tokens_delete(app->store, u->id);
		if (!rc)
			rc = api_audit(app, api_actor(r), disabled ? "user.disable" : "user.enable",
			               u->username, json_pack("{s:s}", "id", u->id));
	}
	return store_tx_end(app->store, rc);
}

void api_user_update(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *b = api_body(r);
	const char *role = NULL;
	int disabled = -1;
	char err[160];
	if (rmj_get_str(b, "role", 0, 16, &role, err, sizeof err) ||
	    (json_object_get(b, "disabled") &&
	     rmj_get_bool(b, "disabled", 1, &disabled, err, sizeof err))) {
		api_respond_invalid(r, err);
		return;
	}
	struct store_user u;
	if (!user_or_404(r, app, &u))
		return;
	if (!role && disabled < 0) {
		api_respond_invalid(r, "nothing to change: give 'role' and/or 'disabled'");
		return;
	}
	if (role && auth_role_from_name(role) < 0) {
		api_respond_field(r, 400, "invalid_field", "role",
		                  "role must be admin, operator or viewer");
		return;
	}
	int demote = role && strcmp(role, "admin") != 0;
	if ((demote || disabled == 1) && last_admin(r, app, &u))
		return;
	int rc = apply_update(r, app, &u, role, disabled);
	if (rc) {
		api_respond_store_error(r, "user update", rc);
		return;
	}
	notify_user_changed(app->notify, u.id);
	http_respond_json(r, 200, json_pack("{s:o}", "user", store_user_json(app->store, u.id)));
}

void api_user_delete(struct http_req *r, void *appv)
{
	struct app *app = appv;
	struct store_user u;
	if (!user_or_404(r, app, &u) || last_admin(r, app, &u))
		return;
	int rc = store_tx_begin(app->store);
	if (!rc) {
		rc = store_user_delete(app->store, u.id);
		if (!rc)
			rc = api_audit(app, api_actor(r), "user.delete", u.username,
			               json_pack("{s:s,s:s}", "id", u.id, "role", u.role));
		rc = store_tx_end(app->store, rc);
	}
	if (rc) {
		api_respond_store_error(r, "user delete", rc);
		return;
	}
	notify_user_changed(app->notify, u.id);
	http_respond_json(r, 204, NULL);
}

void api_user_setup_link(struct http_req *r, void *appv)
{
	struct app *app = appv;
	struct store_user u;
	if (!user_or_404(r, app, &u))
		return;
	if (store_user_is_oidc(app->store, u.id)) {
		http_respond_error(r, 409, "sso_user",
		                   "%s signs in through single sign-on and has no password",
		                   u.username);
		return;
	}
	json_t *out = json_object();
	int rc = store_tx_begin(app->store);
	if (!rc) {
		rc = issue_setup_link(app, u.id, out);
		if (!rc)
			rc = api_audit(app, api_actor(r), "user.setup_link", u.username,
			               json_pack("{s:s}", "id", u.id));
		rc = store_tx_end(app->store, rc);
	}
	if (rc) {
		json_decref(out);
		api_respond_store_error(r, "setup link", rc);
		return;
	}
	http_respond_json(r, 200, out);
}

void api_user_logout(struct http_req *r, void *appv)
{
	struct app *app = appv;
	struct store_user u;
	if (!user_or_404(r, app, &u))
		return;
	int rc = store_tx_begin(app->store);
	if (!rc) {
		rc = store_user_sessions_end(app->store, u.id, NULL);
		if (!rc)
			rc = api_audit(app, api_actor(r), "user.logout", u.username,
			               json_pack("{s:s}", "id", u.id));
		rc = store_tx_end(app->store, rc);
	}
	if (rc) {
		api_respond_store_error(r, "force logout", rc);
		return;
	}
	notify_user_changed(app->notify, u.id);
	http_respond_json(r, 204, NULL);
}
