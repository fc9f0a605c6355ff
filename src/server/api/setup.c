/* One-time setup links (public): POST /api/setup/check tells whose link it is, POST
 * /api/setup sets the password and signs the user in. The link's secret travels in the
 * URL fragment (/setup#token=...), so it never reaches a server log; the API takes it in
 * the body. Wrong tokens count against the client address (guard.c). */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/rmtime.h"
#include "server/api/api.h"
#include "server/app.h"
#include "server/engine/notify.h"
#include "server/engine/people.h"
#include "server/http/http.h"
#include "server/store/store.h"

/* The user of the body's setup token, or 0 after answering (400 / 401 / 429 / 503). */
static int setup_user(struct http_req *r, struct app *app, char hash[65], struct store_user *u,
                      int64_t *expires)
{
	const char *token = NULL;
	char err[160];
	if (rmj_get_str(api_body(r), "token", 1, 256, &token, err, sizeof err)) {
		api_respond_invalid(r, err);
		return 0;
	}
	if (api_guard_refuse(r, app, NULL))
		return 0;
	rm_sha256_hex(token, strlen(token), hash);
	char uid[RM_ULID_BUF];
	int rc = store_setup_token_peek(app->store, hash, rm_now_ms(), uid, expires);
	if (!rc)
		rc = store_user_by_id(app->store, uid, u);
	if (rc == RM_ERR_NOTFOUND) {
		RM_WARN("setup with an unknown or expired link", "ip", http_req_remote_ip(r));
		api_guard_failed(app, r, "setup");
		http_respond_error(r, 401, "bad_token",
		                   "this setup link is invalid, used or expired");
		return 0;
	}
	if (rc) {
		api_respond_store_error(r, "setup link", rc);
		return 0;
	}
	return 1;
}

void api_setup_check(struct http_req *r, void *appv)
{
	struct app *app = appv;
	char hash[65];
	struct store_user u;
	int64_t exp = 0;
	if (!setup_user(r, app, hash, &u, &exp))
		return;
	char ts[RM_TIME_STRLEN];
	rm_time_fmt(exp, ts);
	http_respond_json(
	    r, 200,
	    json_pack("{s:s,s:s,s:s}", "username", u.username, "role", u.role, "expires_at", ts));
	sodium_memzero(&u, sizeof u);
}

struct setup_ud {
	char hash[65];
	char user_id[RM_ULID_BUF];
	char username[65];
	char role[16];
	char ip[64];
};

static void setup_done(struct http_req *r, struct app *app, int rc, const char *pw_hash, void *udv)
{
	struct setup_ud *ud = udv;
	if (!r)
		goto out;
	if (rc) {
		http_respond_error(r, 503, "unavailable", "password hashing failed");
		goto out;
	}
	char uid[RM_ULID_BUF] = "";
	rc = store_tx_begin(app->store);
	if (!rc) {
		/* single use: the link is consumed in the transaction that sets the password */
		rc = store_setup_token_consume(app->store, ud->hash, rm_now_ms(), uid);
		if (!rc && strcmp(uid, ud->user_id) != 0)
			rc = RM_ERR_NOTFOUND;
		if (!rc)
			rc = store_user_set_password(app->store, ud->user_id, pw_hash);
		if (!rc) /* a reset: whoever was signed in as this user is not any more */
			rc = store_user_sessions_end(app->store, ud->user_id, NULL);
		if (!rc)
			rc = api_audit(app, ud->username, "user.setup", ud->username,
			               json_pack("{s:s,s:s}", "id", ud->user_id, "ip", ud->ip));
		rc = store_tx_end(app->store, rc);
	}
	if (rc == RM_ERR_NOTFOUND) {
		http_respond_error(r, 401, "bad_token",
		                   "this setup link is invalid, used or expired");
		goto out;
	}
	if (rc) {
		api_respond_store_error(r, "setup", rc);
		goto out;
	}
	notify_user_changed(app->notify, ud->user_id);
	RM_INFO("password set through a setup link", "user", ud->username, "ip", ud->ip);
	api_respond_session(r, app, 200, ud->user_id, ud->username, ud->role, NULL, NULL);
out:
	free(ud);
}

void api_setup(struct http_req *r, void *appv)
{
	struct app *app = appv;
	const char *password = NULL;
	char err[160];
	if (rmj_get_str(api_body(r), "password", 1, 1024, &password, err, sizeof err)) {
		api_respond_invalid(r, err);
		return;
	}
	struct setup_ud *ud = rm_xcalloc(1, sizeof *ud);
	struct store_user u;
	if (!setup_user(r, app, ud->hash, &u, NULL)) {
		free(ud);
		return;
	}
	const char *problem = people_password_problem(u.username, password);
	if (problem) {
		free(ud);
		api_respond_field(r, 400, "weak_password", "password", problem);
		return;
	}
	rm_strlcpy(ud->user_id, u.id, sizeof ud->user_id);
	rm_strlcpy(ud->username, u.username, sizeof ud->username);
	rm_strlcpy(ud->role, u.role, sizeof ud->role);
	rm_strlcpy(ud->ip, http_req_remote_ip(r) ? http_req_remote_ip(r) : "", sizeof ud->ip);
	sodium_memzero(&u, sizeof u);
	api_pw_run(app, r, password, NULL, setup_done, ud);
}
