/* POST /api/auth/login, POST /api/auth/logout, GET /api/me, and the Argon2id worker. */
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/crypto.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "server/api/api.h"
#include "server/app.h"
#include "server/config.h"
#include "server/http/http.h"
#include "server/store/store.h"

/* ---- Argon2id in the thread pool ---- */

struct pw_work {
	uv_work_t w;
	struct app *app;
	struct http_req *r;
	char *password;
	char verify[RM_PWHASH_MAX];
	int do_verify;
	char hash[RM_PWHASH_MAX];
	int rc;
	api_pw_done done;
	void *ud;
};

static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy_hash[RM_PWHASH_MAX];

static void make_dummy(void)
{
	if (rm_pwhash("restic-manager dummy password", dummy_hash))
		dummy_hash[0] = 0;
}

static void pw_work_cb(uv_work_t *w)
{
	struct pw_work *pw = w->data;
	if (!pw->do_verify) {
		pw->rc = rm_pwhash(pw->password, pw->hash);
		return;
	}
	if (pw->verify[0]) {
		pw->rc = rm_pwhash_verify(pw->verify, pw->password);
		return;
	}
	/* unknown user: spend the same time, then fail */
	pthread_once(&dummy_once, make_dummy);
	if (dummy_hash[0])
		(void)rm_pwhash_verify(dummy_hash, pw->password);
	pw->rc = RM_ERR_AUTH;
}

static void pw_after_cb(uv_work_t *w, int status)
{
	struct pw_work *pw = w->data;
	struct http_req *r = pw->r;
	if (status == UV_ECANCELED)
		pw->rc = RM_ERR_AGAIN;
	if (pw->app->shutting_down || !http_req_alive(r)) {
		/* a deferred request is ours until answered: the answer frees it */
		http_respond_error(r, 503, "unavailable", "client went away or shutting down");
		r = NULL;
	}
	pw->done(r, pw->app, pw->rc, pw->hash, pw->ud);
	sodium_memzero(pw->password, strlen(pw->password));
	free(pw->password);
	free(pw);
}

void api_pw_run(struct app *app, struct http_req *r, const char *password, const char *verify_hash,
                api_pw_done done, void *ud)
{
	struct pw_work *pw = rm_xcalloc(1, sizeof *pw);
	pw->w.data = pw;
	pw->app = app;
	pw->r = r;
	pw->password = rm_xstrdup(password);
	pw->do_verify = verify_hash != NULL;
	if (verify_hash)
		rm_strlcpy(pw->verify, verify_hash, sizeof pw->verify);
	pw->done = done;
	pw->ud = ud;
	http_req_defer(r);
	int rc = uv_queue_work(app->loop, &pw->w, pw_work_cb, pw_after_cb);
	if (rc) {
		pw->rc = RM_ERR_AGAIN;
		pw->done(r, app, RM_ERR_AGAIN, "", ud);
		free(pw->password);
		free(pw);
	}
}

/* ---- session response ---- */

void api_respond_session(struct http_req *r, struct app *app, int status, const char *user_id,
                         const char *username, const char *role, const char *audit_action,
                         json_t *detail_take)
{
	char *token = NULL;
	char csrf[64];
	int rc = store_tx_begin(app->store);
	if (!rc) {
		rc = session_create(app->store, user_id, app->cfg->session_ttl_s, &token, csrf);
		if (!rc) {
			char h[65];
			rm_sha256_hex(token, strlen(token), h);
			rc = store_session_note_client(app->store, h, http_req_remote_ip(r),
			                               http_req_header(r, "user-agent"));
		}
		if (!rc && audit_action)
			rc = api_audit(app, username, audit_action, username,
			               json_incref(detail_take));
		rc = store_tx_end(app->store, rc);
	}
	json_decref(detail_take);
	if (rc) {
		free(token);
		api_respond_store_error(r, "session create", rc);
		return;
	}
	auth_set_cookie(r, app, token);
	free(token);
	json_t *body = json_pack("{s:{s:s,s:s,s:s},s:s}", "user", "id", user_id, "username",
	                         username, "role", role, "csrf_token", csrf);
	http_respond_json(r, status, body);
}

/* ---- login ---- */

struct login_ud {
	struct store_user u;
	int found;
	char ip[64];
	char key[65]; /* the username as typed: the throttle key */
};

static void login_done(struct http_req *r, struct app *app, int rc, const char *hash, void *udv)
{
	struct login_ud *ud = udv;
	int ok = rc == RM_OK && ud->found;
	/* a hashing failure (RM_ERR_AGAIN) is nobody's failed attempt */
	api_guard_end(app, ud->key, ud->ip, !ok && rc != RM_ERR_AGAIN, "login");
	if (r) {
		if (ok) {
			RM_INFO("user logged in", "user", ud->u.username, "ip", ud->ip);
			api_respond_session(r, app, 200, ud->u.id, ud->u.username, ud->u.role,
			                    "login", json_pack("{s:s}", "ip", ud->ip));
		} else if (rc == RM_ERR_AGAIN) {
			http_respond_error(r, 503, "unavailable", "try again");
		} else {
			RM_WARN("login failed", "ip", ud->ip);
			http_respond_error(r, 401, "bad_credentials",
			                   "invalid username or password");
		}
	}
	sodium_memzero(&ud->u, sizeof ud->u);
	free(ud);
}

void api_login(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *b = api_body(r);
	const char *username = NULL, *password = NULL;
	char err[160];
	if (!app->cfg->local_login) {
		http_respond_error(r, 403, "local_login_disabled",
		                   "password sign-in is turned off; use single sign-on");
		return;
	}
	if (rmj_get_str(b, "username", 1, 64, &username, err, sizeof err) ||
	    rmj_get_str(b, "password", 1, 1024, &password, err, sizeof err)) {
		api_respond_invalid(r, err);
		return;
	}
	if (api_guard_refuse(r, app, username))
		return;
	struct login_ud *ud = rm_xcalloc(1, sizeof *ud);
	rm_strlcpy(ud->ip, http_req_remote_ip(r) ? http_req_remote_ip(r) : "", sizeof ud->ip);
	rm_strlcpy(ud->key, username, sizeof ud->key);
	int rc = store_user_by_name(app->store, username, &ud->u);
	/* a user without a password (setup link not used yet) cannot sign in; like an
	 * unknown or disabled user it costs the same dummy hash */
	if (rc == RM_OK && !ud->u.disabled && ud->u.pw_hash[0]) {
		ud->found = 1;
	} else if (rc && rc != RM_ERR_NOTFOUND) {
		free(ud);
		api_respond_store_error(r, "user lookup", rc);
		return;
	}
	api_guard_begin(app, ud->key, ud->ip);
	api_pw_run(app, r, password, ud->found ? ud->u.pw_hash : "", login_done, ud);
}

void api_logout(struct http_req *r, void *appv)
{
	struct app *app = appv;
	struct api_ctx *c = api_ctx(r);
	int rc = store_tx_begin(app->store);
	if (!rc) {
		if (c->auth.token_hash[0])
			rc = store_session_delete(app->store, c->auth.token_hash);
		if (rc == RM_ERR_NOTFOUND)
			rc = RM_OK;
		if (!rc)
			rc = api_audit(app, c->auth.username, "logout", c->auth.username, NULL);
		rc = store_tx_end(app->store, rc);
	}
	if (rc) {
		api_respond_store_error(r, "logout", rc);
		return;
	}
	auth_clear_cookie(r, app);
	api_oidc_logout_respond(r, app, c->auth.user_id);
}

void api_me(struct http_req *r, void *appv)
{
	(void)appv;
	struct api_ctx *c = api_ctx(r);
	json_t *body = json_pack("{s:{s:s,s:s,s:s},s:s}", "user", "id", c->auth.user_id, "username",
	                         c->auth.username, "role", auth_role_name(c->auth.role),
	                         "csrf_token", c->auth.csrf);
	http_respond_json(r, 200, body);
}
