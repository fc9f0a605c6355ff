/* Single sign-on routes: GET /api/auth/config, GET /api/auth/oidc/login (redirect to the
 * provider), GET /api/auth/oidc/callback (code exchange in engine/oidc; then the user is
 * found by sub or created just in time, and gets the normal session cookie). Any failure
 * is an HTML error page with a reason code and an audit line, never a session. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/crypto.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/rmtime.h"
#include "server/api/api.h"
#include "server/app.h"
#include "server/config.h"
#include "server/engine/oidc.h"
#include "server/engine/oidc_http.h"
#include "server/http/http.h"
#include "server/store/store.h"

void api_auth_config(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *b = json_pack("{s:b,s:s?,s:b}", "sso", app->oidc != NULL, "sso_label",
	                      app->oidc ? oidc_button_label(app->oidc) : NULL, "local_login",
	                      app->cfg->local_login != 0);
	http_respond_json(r, 200, b);
}

static void html_escape(struct rm_buf *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<': rm_buf_append_str(b, "&lt;"); break;
		case '>': rm_buf_append_str(b, "&gt;"); break;
		case '&': rm_buf_append_str(b, "&amp;"); break;
		case '"': rm_buf_append_str(b, "&quot;"); break;
		case '\'': rm_buf_append_str(b, "&#39;"); break;
		default: rm_buf_append(b, s, 1);
		}
	}
}

static const char *reason_text(const char *reason)
{
	static const struct {
		const char *code, *text;
	} t[] = {
		{ "bad_state",
		  "The sign-in request was not started here, was already used, or expired." },
		{ "no_mapped_group",
		  "Your account is in no group that has access to restic-manager." },
		{ "user_disabled", "Your restic-manager account is disabled." },
		{ "provider_error", "The identity provider refused the sign-in." },
		{ "provider_unreachable", "The identity provider could not be reached." },
		{ "unavailable", "The server is busy; try again." },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (strcmp(t[i].code, reason) == 0)
			return t[i].text;
	return "The identity provider's answer did not pass the checks.";
}

static int reason_status(const char *reason)
{
	if (strcmp(reason, "no_mapped_group") == 0 || strcmp(reason, "user_disabled") == 0)
		return 403;
	if (strcmp(reason, "provider_unreachable") == 0 ||
	    strcmp(reason, "jwks_unavailable") == 0 || strcmp(reason, "userinfo_failed") == 0)
		return 502;
	if (strcmp(reason, "unavailable") == 0)
		return 503;
	return 400;
}

/* The error page: reason code (escaped), a sentence, a way back. */
static void respond_fail_page(struct http_req *r, const char *reason)
{
	struct rm_buf b;
	rm_buf_init(&b, 0);
	rm_buf_append_str(&b, "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
	                      "<title>Sign-in failed · restic-manager</title></head><body>"
	                      "<main><h1>Sign-in failed</h1><p data-testid=\"sso-error-text\">");
	html_escape(&b, reason_text(reason));
	rm_buf_append_str(&b, "</p><p>Reason code: <code data-testid=\"sso-error-code\">");
	html_escape(&b, reason);
	rm_buf_append_str(&b, "</code></p><p><a href=\"/login\">Back to sign in</a></p></main>"
	                      "</body></html>\n");
	size_t len = b.len;
	http_resp_header(r, "content-security-policy", "default-src 'none'");
	http_resp_header(r, "cache-control", "no-store");
	http_respond_take(r, reason_status(reason), "text/html; charset=utf-8", rm_buf_take(&b),
	                  len);
}

static void audit_fail(struct app *app, const char *ip, const char *reason, const char *detail,
                       const char *sub)
{
	RM_WARN("sso sign-in refused", "reason", reason, "detail", detail, "ip", ip);
	(void)api_audit(app, "anonymous", "login.failed", sub && sub[0] ? sub : NULL,
	                json_pack("{s:s,s:s,s:s,s:s}", "method", "oidc", "reason", reason, "detail",
	                          detail ? detail : "", "ip", ip));
}

static void state_cookie(struct http_req *r, struct app *app, const char *value, int max_age)
{
	char *v = rm_xasprintf("%s=%s; Path=/api/auth/oidc; HttpOnly; SameSite=Lax%s; Max-Age=%d",
	                       OIDC_STATE_COOKIE, value, app->cfg->cookie_secure ? "; Secure" : "",
	                       max_age);
	http_resp_header(r, "set-cookie", v);
	free(v);
}

static void redirect(struct http_req *r, const char *url)
{
	http_resp_header(r, "location", url);
	http_resp_header(r, "cache-control", "no-store");
	http_respond_raw(r, 302, "text/plain; charset=utf-8", "", 0);
}

/* Same-origin path to land on after sign-in ("/" when absent or not a plain path). */
static const char *safe_next(const char *n)
{
	if (!n || n[0] != '/' || n[1] == '/' || n[1] == '\\' || strlen(n) >= 256)
		return "/";
	for (const char *c = n; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == '\\')
			return "/";
	return n;
}

struct sso_ud {
	struct http_req *r;
	struct app *app;
	char ip[64];
	int64_t t0_ms;
};

static struct sso_ud *sso_ud_new(struct http_req *r, struct app *app)
{
	struct sso_ud *u = rm_xcalloc(1, sizeof *u);
	u->r = r;
	u->app = app;
	rm_strlcpy(u->ip, http_req_remote_ip(r) ? http_req_remote_ip(r) : "", sizeof u->ip);
	u->t0_ms = rm_now_ms();
	return u;
}

static void login_begun(void *udv, int rc, const char *url, const char *state)
{
	struct sso_ud *u = udv;
	if (u->app->shutting_down) {
		http_respond_error(u->r, 503, "unavailable", "shutting down");
	} else if (rc) {
		audit_fail(u->app, u->ip, "provider_unreachable", "discovery failed", NULL);
		respond_fail_page(u->r, "provider_unreachable");
	} else {
		state_cookie(u->r, u->app, state, (int)(OIDC_PENDING_TTL_MS / 1000));
		redirect(u->r, url);
	}
	free(u);
}

void api_oidc_login(struct http_req *r, void *appv)
{
	struct app *app = appv;
	if (!app->oidc) {
		http_respond_error(r, 404, "sso_disabled", "single sign-on is not configured");
		return;
	}
	struct sso_ud *u = sso_ud_new(r, app);
	http_req_defer(r);
	if (oidc_begin(app->oidc, app->loop, safe_next(http_req_query(r, "next")), login_begun,
	               u)) {
		free(u);
		http_respond_error(r, 503, "unavailable", "too many sign-ins in progress; retry");
	}
}

/* Finds or creates the user for sub, in step with the mapped role; in tx. */
static int sso_user(struct app *app, const struct oidc_result *res, struct store_user *u,
                    const char **reason)
{
	const char *role = auth_role_name(res->role);
	int rc = store_user_by_oidc_sub(app->store, res->sub, u);
	if (rc == RM_ERR_NOTFOUND) {
		char id[RM_ULID_BUF], name[65];
		rc = store_user_create_oidc(app->store, res->username, role, res->sub, id, name);
		if (rc)
			return rc;
		memset(u, 0, sizeof *u);
		rm_strlcpy(u->id, id, sizeof u->id);
		rm_strlcpy(u->username, name, sizeof u->username);
		rm_strlcpy(u->role, role, sizeof u->role);
		return api_audit(
		    app, name, "user.create", name,
		    json_pack("{s:s,s:s,s:s}", "method", "oidc", "role", role, "sub", res->sub));
	}
	if (rc)
		return rc;
	if (u->disabled) {
		*reason = "user_disabled";
		return RM_ERR_FORBIDDEN;
	}
	if (strcmp(u->role, role) != 0) {
		rc = store_user_oidc_set_role(app->store, u->id, role);
		if (!rc)
			rc = api_audit(app, u->username, "user.role", u->username,
			               json_pack("{s:s,s:s,s:s}", "method", "oidc", "from", u->role,
			                         "to", role));
		rm_strlcpy(u->role, role, sizeof u->role);
	}
	return rc;
}

/* Success: user + session + audit in one transaction, cookie, redirect to the UI. */
static void sso_sign_in(struct sso_ud *ud, const struct oidc_result *res)
{
	struct app *app = ud->app;
	struct store_user u;
	const char *reason = NULL;
	char *token = NULL, csrf[64];
	int rc = store_tx_begin(app->store);
	if (!rc) {
		rc = sso_user(app, res, &u, &reason);
		if (!rc)
			rc =
			    session_create(app->store, u.id, app->cfg->session_ttl_s, &token, csrf);
		if (!rc)
			rc = api_audit(app, u.username, "login", u.username,
			               json_pack("{s:s,s:s}", "method", "oidc", "ip", ud->ip));
		rc = store_tx_end(app->store, rc);
	}
	if (reason) {
		audit_fail(app, ud->ip, reason, "user is disabled", res->sub);
		respond_fail_page(ud->r, reason);
	} else if (rc) {
		free(token);
		api_respond_store_error(ud->r, "sso sign-in", rc);
		return;
	} else {
		char ms[24];
		snprintf(ms, sizeof ms, "%lld", (long long)(rm_now_ms() - ud->t0_ms));
		RM_INFO("user logged in", "user", u.username, "method", "oidc", "ip", ud->ip,
		        "callback_ms", ms);
		auth_set_cookie(ud->r, app, token);
		char *nx = oidc_http_escape(res->next);
		char *en = rm_xasprintf("/login?sso=1&next=%s", nx);
		redirect(ud->r, en);
		free(en);
		free(nx);
	}
	free(token);
}

static void callback_done(void *udv, const struct oidc_result *res)
{
	struct sso_ud *ud = udv;
	state_cookie(ud->r, ud->app, "", 0);
	if (ud->app->shutting_down) {
		http_respond_error(ud->r, 503, "unavailable", "shutting down");
	} else if (res->rc) {
		const char *reason = res->reason ? res->reason : "failed";
		audit_fail(ud->app, ud->ip, reason, res->detail, res->sub);
		respond_fail_page(ud->r, reason);
	} else {
		sso_sign_in(ud, res);
	}
	free(ud);
}

void api_oidc_callback(struct http_req *r, void *appv)
{
	struct app *app = appv;
	if (!app->oidc) {
		http_respond_error(r, 404, "sso_disabled", "single sign-on is not configured");
		return;
	}
	struct sso_ud *ud = sso_ud_new(r, app);
	const char *perr = http_req_query(r, "error");
	if (perr) {
		char detail[160];
		snprintf(detail, sizeof detail, "provider error: %.100s", perr);
		state_cookie(r, app, "", 0);
		audit_fail(app, ud->ip, "provider_error", detail, NULL);
		respond_fail_page(r, "provider_error");
		free(ud);
		return;
	}
	http_req_defer(r);
	if (oidc_finish(app->oidc, app->loop, http_req_query(r, "state"),
	                http_req_cookie(r, OIDC_STATE_COOKIE), http_req_query(r, "code"),
	                callback_done, ud)) {
		free(ud);
		respond_fail_page(r, "unavailable");
	}
}

void api_oidc_logout_respond(struct http_req *r, struct app *app, const char *user_id)
{
	char *url = app->oidc && store_user_is_oidc(app->store, user_id)
	                ? oidc_logout_url(app->oidc)
	                : NULL;
	if (!url) {
		http_respond_json(r, 204, NULL);
		return;
	}
	http_respond_json(r, 200, json_pack("{s:s}", "redirect_url", url));
	free(url);
}
