/* THE route table and the dispatch pipeline: match -> authenticate -> role -> CSRF ->
 * content type -> JSON body -> handler. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/rmtime.h"
#include "server/api/api.h"
#include "server/api/api_update.h"
#include "server/app.h"
#include "server/engine/people.h"
#include "server/http/http.h"
#include "server/store/store.h"

#define PUB ROUTE_PUBLIC
#define JSON ROUTE_JSON_BODY

static const struct route routes[] = {
	{ "GET", "/healthz", ROLE_PUBLIC, PUB, api_health },
	{ "GET", "/api/bootstrap/status", ROLE_PUBLIC, PUB, api_bootstrap_status },
	{ "POST", "/api/bootstrap", ROLE_PUBLIC, PUB | JSON, api_bootstrap },
	{ "POST", "/api/auth/login", ROLE_PUBLIC, PUB | JSON, api_login },
	{ "POST", "/api/auth/logout", ROLE_VIEWER, 0, api_logout },
	{ "GET", "/api/me", ROLE_VIEWER, 0, api_me },
	{ "GET", "/api/auth/config", ROLE_PUBLIC, PUB, api_auth_config },
	{ "GET", "/api/auth/oidc/login", ROLE_PUBLIC, PUB, api_oidc_login },
	{ "GET", "/api/auth/oidc/callback", ROLE_PUBLIC, PUB, api_oidc_callback },
	{ "POST", "/api/enrollment-tokens", ROLE_OPERATOR, JSON, api_enroll_token_create },
	{ "GET", "/api/enrollment-tokens/{token}", ROLE_OPERATOR, 0, api_enroll_token_get },
	{ "POST", "/api/agents/enroll", ROLE_PUBLIC, PUB | JSON, api_agent_enroll },
	/* C6 enrollment-token recovery (the secret is stored hashed: regenerate mints a new one) */
	{ "GET", "/api/enrollment-tokens", ROLE_OPERATOR, 0, api_enroll_tokens_list },
	{ "POST", "/api/enrollment-tokens/{id}/regenerate", ROLE_OPERATOR, 0,
	  api_enroll_token_regenerate },
	{ "DELETE", "/api/enrollment-tokens/{id}", ROLE_OPERATOR, 0, api_enroll_token_revoke },
	/* C6 announce-and-approve: agents announce and poll (key-signed) without credentials;
	 * operators see the queue, only admins decide */
	{ "POST", "/api/agents/announce", ROLE_PUBLIC, PUB | JSON, api_agent_announce },
	{ "POST", "/api/agents/announce/{id}", ROLE_PUBLIC, PUB | JSON, api_agent_announce_poll },
	{ "GET", "/api/pending-hosts", ROLE_OPERATOR, 0, api_pending_list },
	{ "POST", "/api/pending-hosts/{id}/accept", ROLE_ADMIN, JSON, api_pending_accept },
	{ "POST", "/api/pending-hosts/{id}/reject", ROLE_ADMIN, 0, api_pending_reject },
	{ "GET", "/api/hosts", ROLE_VIEWER, 0, api_hosts_list },
	{ "GET", "/api/hosts/{id}", ROLE_VIEWER, 0, api_host_get },
	{ "PATCH", "/api/hosts/{id}", ROLE_OPERATOR, JSON, api_host_patch },
	{ "DELETE", "/api/hosts/{id}", ROLE_ADMIN, 0, api_host_delete },
	{ "GET", "/api/deleted-hosts", ROLE_VIEWER, 0, api_hosts_deleted },
	{ "GET", "/api/hosts/{id}/repo-credentials", ROLE_ADMIN, 0, api_repo_creds_get },
	{ "PUT", "/api/hosts/{id}/repo-credentials", ROLE_ADMIN, JSON, api_repo_creds_put },
	{ "POST", "/api/hosts/{id}/repo-credentials/rotate", ROLE_ADMIN, 0, api_repo_rotate },
	{ "GET", "/api/hosts/{id}/snapshots", ROLE_VIEWER, 0, api_host_snapshots },
	{ "GET", "/api/hosts/{id}/snapshots/diff", ROLE_VIEWER, 0, api_snapshot_diff },
	{ "GET", "/api/hosts/{id}/snapshots/{snap}/tree", ROLE_VIEWER, 0, api_snapshot_tree },
	{ "GET", "/api/hosts/{id}/snapshots/{snap}/download", ROLE_OPERATOR, 0,
	  api_snapshot_download },
	{ "POST", "/api/hosts/{id}/jobs", ROLE_OPERATOR, JSON, api_job_create },
	{ "GET", "/api/jobs", ROLE_VIEWER, 0, api_jobs_list },
	{ "GET", "/api/jobs/{id}", ROLE_VIEWER, 0, api_job_get },
	{ "POST", "/api/jobs/{id}/cancel", ROLE_OPERATOR, 0, api_job_cancel },
	{ "GET", "/api/jobs/{id}/logs", ROLE_VIEWER, 0, api_job_logs },
	{ "GET", "/api/jobs/{id}/log.txt", ROLE_VIEWER, 0, api_job_log_txt },
	{ "GET", "/api/jobs/{id}/log.ndjson", ROLE_VIEWER, 0, api_job_log_ndjson },
	{ "GET", "/api/fleet/summary", ROLE_VIEWER, 0, api_fleet_summary },
	{ "GET", "/api/hosts/{id}/groups", ROLE_VIEWER, 0, api_groups_list },
	{ "POST", "/api/hosts/{id}/groups", ROLE_OPERATOR, JSON, api_group_create },
	{ "GET", "/api/hosts/{id}/groups/{gid}", ROLE_VIEWER, 0, api_group_get },
	{ "PUT", "/api/hosts/{id}/groups/{gid}", ROLE_OPERATOR, JSON, api_group_update },
	{ "DELETE", "/api/hosts/{id}/groups/{gid}", ROLE_OPERATOR, 0, api_group_delete },
	{ "POST", "/api/hosts/{id}/groups/{gid}/run", ROLE_OPERATOR, JSON, api_group_run },
	{ "POST", "/api/hosts/{id}/groups/{gid}/retention-preview", ROLE_OPERATOR, JSON,
	  api_retention_preview },
	{ "GET", "/api/hosts/{id}/schedules", ROLE_VIEWER, 0, api_schedules_list },
	{ "POST", "/api/hosts/{id}/schedules", ROLE_OPERATOR, JSON, api_schedule_create },
	{ "GET", "/api/hosts/{id}/schedules/{sid}", ROLE_VIEWER, 0, api_schedule_get },
	{ "PUT", "/api/hosts/{id}/schedules/{sid}", ROLE_OPERATOR, JSON, api_schedule_update },
	{ "DELETE", "/api/hosts/{id}/schedules/{sid}", ROLE_OPERATOR, 0, api_schedule_delete },
	{ "POST", "/api/cron/preview", ROLE_VIEWER, JSON, api_cron_preview },
	{ "GET", "/api/hosts/{id}/repo", ROLE_VIEWER, 0, api_host_repo },
	{ "GET", "/api/hosts/{id}/repo/history", ROLE_VIEWER, 0, api_host_repo_history },
	{ "GET", "/api/repo/fleet-history", ROLE_VIEWER, 0, api_fleet_repo_history },
	{ "GET", "/api/hosts/{id}/settings", ROLE_VIEWER, 0, api_settings_get },
	{ "PUT", "/api/hosts/{id}/settings", ROLE_OPERATOR, JSON, api_settings_put },
	{ "GET", "/api/hosts/{id}/maintenance", ROLE_VIEWER, 0, api_maintenance_get },
	{ "PUT", "/api/hosts/{id}/maintenance", ROLE_OPERATOR, JSON, api_maintenance_put },
	{ "PUT", "/api/hosts/{id}/admin-credentials", ROLE_ADMIN, JSON, api_admin_creds_put },
	{ "DELETE", "/api/hosts/{id}/admin-credentials", ROLE_ADMIN, 0, api_admin_creds_delete },
	{ "GET", "/api/hosts/{id}/locks", ROLE_VIEWER, 0, api_locks_get },
	/* C3: in-place and cross-host restores additionally need admin (checked in the handler) */
	{ "POST", "/api/hosts/{id}/restores", ROLE_OPERATOR, JSON, api_restore_create },
	{ "GET", "/api/hosts/{id}/drill", ROLE_VIEWER, 0, api_drill_get },
	{ "PUT", "/api/hosts/{id}/drill", ROLE_OPERATOR, JSON, api_drill_put },
	{ "POST", "/api/hosts/{id}/drill/run", ROLE_OPERATOR, 0, api_drill_run },
	{ "GET", "/api/audit", ROLE_ADMIN, 0, api_audit_list },
	/* C5 people and access */
	{ "POST", "/api/setup/check", ROLE_PUBLIC, PUB | JSON, api_setup_check },
	{ "POST", "/api/setup", ROLE_PUBLIC, PUB | JSON, api_setup },
	{ "GET", "/api/users", ROLE_ADMIN, 0, api_users_list },
	{ "POST", "/api/users", ROLE_ADMIN, JSON, api_user_create },
	{ "GET", "/api/users/{id}", ROLE_ADMIN, 0, api_user_get },
	{ "PATCH", "/api/users/{id}", ROLE_ADMIN, JSON, api_user_update },
	{ "DELETE", "/api/users/{id}", ROLE_ADMIN, 0, api_user_delete },
	{ "POST", "/api/users/{id}/setup-link", ROLE_ADMIN, 0, api_user_setup_link },
	{ "POST", "/api/users/{id}/logout", ROLE_ADMIN, 0, api_user_logout },
	{ "GET", "/api/account/sessions", ROLE_VIEWER, 0, api_account_sessions },
	{ "DELETE", "/api/account/sessions", ROLE_VIEWER, 0, api_account_sessions_end },
	{ "DELETE", "/api/account/sessions/{sid}", ROLE_VIEWER, 0, api_account_session_end },
	{ "POST", "/api/account/password", ROLE_VIEWER, JSON, api_account_password },
	{ "GET", "/api/tokens", ROLE_VIEWER, 0, api_tokens_list },
	{ "POST", "/api/tokens", ROLE_VIEWER, JSON, api_token_create },
	{ "DELETE", "/api/tokens/{id}", ROLE_VIEWER, 0, api_token_delete },
	{ "GET", "/api/audit.csv", ROLE_ADMIN, 0, api_audit_csv },
	{ "GET", "/api/alerts", ROLE_VIEWER, 0, api_alerts_list },
	{ "POST", "/api/alerts/{id}/ack", ROLE_OPERATOR, 0, api_alert_ack },
	{ "POST", "/api/alerts/{id}/resolve", ROLE_OPERATOR, 0, api_alert_resolve },
	{ "GET", "/api/alert-rules", ROLE_ADMIN, 0, api_alert_rules_get },
	{ "PUT", "/api/alert-rules", ROLE_ADMIN, JSON, api_alert_rules_put },
	{ "GET", "/api/channels", ROLE_ADMIN, 0, api_channels_list },
	{ "POST", "/api/channels", ROLE_ADMIN, JSON, api_channel_create },
	{ "GET", "/api/channels/{id}", ROLE_ADMIN, 0, api_channel_get },
	{ "PUT", "/api/channels/{id}", ROLE_ADMIN, JSON, api_channel_update },
	{ "DELETE", "/api/channels/{id}", ROLE_ADMIN, 0, api_channel_delete },
	{ "POST", "/api/channels/{id}/test", ROLE_ADMIN, 0, api_channel_test },
	{ "GET", "/api/channels/{id}/deliveries", ROLE_ADMIN, 0, api_channel_deliveries },
	{ "GET", "/install/install.sh", ROLE_PUBLIC, PUB, api_install_sh },
	{ "GET", "/agent/binary", ROLE_PUBLIC, PUB, api_agent_binary },
	{ "GET", "/agent/deb", ROLE_PUBLIC, PUB, api_agent_deb },
	/* C6 agent updates (api/update.c) */
	{ "GET", "/agent/manifest", ROLE_PUBLIC, PUB, api_agent_manifest },
	{ "POST", "/api/hosts/{id}/update", ROLE_ADMIN, 0, api_host_update },
	{ "GET", "/api/fleet/update", ROLE_VIEWER, 0, api_fleet_update_get },
	{ "POST", "/api/fleet/update", ROLE_ADMIN, JSON, api_fleet_update_start },
	{ "POST", "/api/fleet/update/{run}/cancel", ROLE_ADMIN, 0, api_fleet_update_cancel },
	/* no session: api_metrics checks RM_METRICS_TOKEN / RM_METRICS_TRUSTED_CIDR itself */
	{ "GET", "/metrics", ROLE_PUBLIC, PUB, api_metrics },
};
#define N_ROUTES (sizeof routes / sizeof routes[0])

const struct route *api_routes(size_t *n)
{
	*n = N_ROUTES;
	return routes;
}

int api_is_api_path(const char *path)
{
	return strncmp(path, "/api/", 5) == 0 || strcmp(path, "/api") == 0 ||
	       strcmp(path, "/healthz") == 0 || strcmp(path, "/metrics") == 0 ||
	       strncmp(path, "/install/", 9) == 0 || strncmp(path, "/agent/", 7) == 0;
}

static void ctx_free(void *p)
{
	struct api_ctx *c = p;
	if (!c)
		return;
	json_decref(c->body);
	free(c);
}

struct api_ctx *api_ctx(struct http_req *r)
{
	struct api_ctx *c = http_req_ctx(r);
	if (!c) {
		c = rm_xcalloc(1, sizeof *c);
		http_req_set_ctx(r, c, ctx_free);
	}
	return c;
}

json_t *api_body(struct http_req *r)
{
	return api_ctx(r)->body;
}

const char *api_actor(struct http_req *r)
{
	struct api_ctx *c = api_ctx(r);
	return c->auth.authenticated ? c->auth.username : "anonymous";
}

int api_audit(struct app *app, const char *actor, const char *action, const char *target,
              json_t *detail_take)
{
	int rc = store_audit(app->store, actor, action, target, detail_take);
	if (rc)
		RM_ERROR("audit write failed", "action", action, "err", rm_strerror(rc));
	json_decref(detail_take);
	return rc;
}

void api_respond_store_error(struct http_req *r, const char *what, int rc)
{
	RM_ERROR("store error", "op", what, "err", rm_strerror(rc));
	http_respond_error(r, 503, "unavailable", "storage error (%s)", what);
}

void api_respond_invalid(struct http_req *r, const char *msg)
{
	http_respond_error(r, 400, "invalid_field", "%s", msg);
}

static int is_json_content_type(const char *ct)
{
	if (!ct)
		return 0;
	while (*ct == ' ')
		ct++;
	size_t n = strlen("application/json");
	if (strncasecmp(ct, "application/json", n) != 0)
		return 0;
	return ct[n] == 0 || ct[n] == ';' || ct[n] == ' ';
}

/* A personal API token travels only in the Authorization header: one in the query string
 * would end up in logs and browser history. */
static int token_in_query(struct http_req *r)
{
	if (http_req_query(r, "access_token") || http_req_query(r, "api_token"))
		return 1;
	return people_is_api_token(http_req_query(r, "token"));
}

/* Fills api_ctx(r)->auth from "Authorization: Bearer rmt_..." (an API token: no CSRF,
 * a bad one is 401 on a non-public route) or else from the session cookie. 0 after
 * answering. Other bearers (agents') are not ours to judge here. */
static int authenticate(struct http_req *r, struct app *app, int min_role)
{
	struct api_ctx *ctx = api_ctx(r);
	if (token_in_query(r)) {
		http_respond_error(r, 400, "token_in_query",
		                   "send API tokens in the Authorization header, never in the URL");
		return 0;
	}
	const char *authz = http_req_header(r, "authorization");
	const char *bearer = NULL;
	if (authz && strncasecmp(authz, "Bearer ", 7) == 0) {
		bearer = authz + 7;
		while (*bearer == ' ')
			bearer++;
		if (!people_is_api_token(bearer))
			bearer = NULL;
	}
	int rc = RM_OK;
	if (bearer) {
		rc = session_lookup_token(app->store, bearer, rm_now_ms(), &ctx->auth);
		if (rc == RM_ERR_AUTH && min_role > ROLE_PUBLIC) {
			http_respond_error(r, 401, "unauthenticated",
			                   "invalid, expired or revoked API token");
			return 0;
		}
	} else {
		const char *cookie = http_req_cookie(r, AUTH_COOKIE);
		if (cookie && cookie[0])
			rc = session_lookup(app->store, cookie, rm_now_ms(), &ctx->auth);
	}
	if (rc && rc != RM_ERR_AUTH) {
		api_respond_store_error(r, "session", rc);
		return 0;
	}
	return 1;
}

void api_dispatch(struct http_req *r, void *appv)
{
	struct app *app = appv;
	const char *method = http_req_method(r);
	const char *path = http_req_path(r);
	const struct route *rt = NULL;
	int head = strcmp(method, "HEAD") == 0;
	enum router_result rr = router_match(routes, N_ROUTES, head ? "GET" : method, path, r, &rt);
	if (rr == ROUTER_NOT_FOUND) {
		http_respond_error(r, 404, "not_found", "no such endpoint");
		return;
	}
	if (rr == ROUTER_METHOD_NOT_ALLOWED) {
		http_respond_error(r, 405, "method_not_allowed", "method %s not allowed here",
		                   method);
		return;
	}
	if (app->shutting_down) {
		http_respond_error(r, 503, "unavailable", "server is shutting down");
		return;
	}
	int min_role = auth_effective_role(rt);
	if (!authenticate(r, app, min_role))
		return;
	struct api_ctx *ctx = api_ctx(r);
	switch (auth_check(&ctx->auth, min_role, method, http_req_header(r, "x-csrf-token"))) {
	case AUTH_ALLOW: break;
	case AUTH_UNAUTHENTICATED:
		http_respond_error(r, 401, "unauthenticated", "authentication required");
		return;
	case AUTH_FORBIDDEN:
		http_respond_error(r, 403, "forbidden", "requires role %s",
		                   auth_role_name(min_role));
		return;
	case AUTH_CSRF:
		http_respond_error(r, 403, "csrf", "missing or invalid X-CSRF-Token header");
		return;
	}
	if (rt->flags & ROUTE_JSON_BODY) {
		if (!is_json_content_type(http_req_header(r, "content-type"))) {
			http_respond_error(r, 415, "unsupported_media_type",
			                   "request body must be application/json");
			return;
		}
		size_t len = 0;
		const char *body = http_req_body(r, &len);
		char err[200] = "";
		int rc = rmj_parse_object(body, len, HTTP_MAX_BODY, &ctx->body, err, sizeof err);
		if (rc == RM_ERR_TOOBIG) {
			http_respond_error(r, 413, "too_large", "request body too large");
			return;
		}
		if (rc) {
			http_respond_error(r, 400, "bad_json", "invalid JSON body: %s",
			                   err[0] ? err : "parse error");
			return;
		}
	}
	rt->handler(r, app);
}
