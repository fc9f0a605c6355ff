#ifndef RM_SERVER_API_API_H
#define RM_SERVER_API_API_H
/* The HTTP API: dispatch (routes.c owns THE route table) and one handler per route, one
 * file per resource. Handlers run on the loop thread; they respond before returning or
 * defer (http_req_defer) and respond from a uv_after_work callback. */
#include <jansson.h>
#include <stddef.h>

#include "server/api/auth.h"
#include "server/http/router.h"

struct http_req;
struct app;

void api_dispatch(struct http_req *r, void *app);
int api_is_api_path(const char *path);
/* THE route table (static storage). */
const struct route *api_routes(size_t *n);

/* helpers (routes.c) */
struct api_ctx *api_ctx(struct http_req *r); /* never NULL inside a handler */
json_t *api_body(struct http_req *r);        /* borrowed; NULL if not a JSON route */
const char *api_actor(struct http_req *r);   /* username or "anonymous" */
/* Writes an audit row (detail_take may be NULL) and returns the store's rc (failures are
 * also logged). Call it inside the store_tx_begin/store_tx_end of the mutation it
 * records, so that both commit or neither does. */
int api_audit(struct app *app, const char *actor, const char *action, const char *target,
              json_t *detail_take);
/* 503 {"code":"unavailable"} for store errors, after logging rc. */
void api_respond_store_error(struct http_req *r, const char *what, int rc);
/* 400 invalid_field with the rmj error text. */
void api_respond_invalid(struct http_req *r, const char *msg);

/* health.c */
void api_health(struct http_req *r, void *app);
/* bootstrap.c */
void api_bootstrap_status(struct http_req *r, void *app);
void api_bootstrap(struct http_req *r, void *app);
/* Mints the bootstrap token when no user exists; prints it to stderr. */
int api_bootstrap_prepare(struct app *app);
/* auth_api.c */
void api_login(struct http_req *r, void *app);
void api_logout(struct http_req *r, void *app);
void api_me(struct http_req *r, void *app);
/* Shared by login/bootstrap: creates a session and answers {"user":{...},"csrf_token"} +
 * cookie. With audit_action non-NULL the audit row (actor username, target username,
 * detail_take) is written in the session's transaction. */
void api_respond_session(struct http_req *r, struct app *app, int status, const char *user_id,
                         const char *username, const char *role, const char *audit_action,
                         json_t *detail_take);
/* Argon2id off the loop: hashes password (verify_hash NULL) or verifies it against
 * verify_hash ("" = verify against a dummy hash, always RM_ERR_AUTH, same cost) in the
 * thread pool, then calls done on the loop with rc (RM_OK / RM_ERR_AUTH / RM_ERR_CRYPTO)
 * and the new hash. The request is deferred. done gets r == NULL when the client went away
 * or the server is shutting down (then it must only free ud). */
typedef void (*api_pw_done)(struct http_req *r, struct app *app, int rc, const char *hash,
                            void *ud);
void api_pw_run(struct app *app, struct http_req *r, const char *password, const char *verify_hash,
                api_pw_done done, void *ud);
/* guard.c: backoff after failed credential checks (engine/throttle.h). */
/* Answers 429 throttled + Retry-After and returns 1 while username (may be NULL) or the
 * client address is locked; else 0. */
int api_guard_refuse(struct http_req *r, struct app *app, const char *username);
/* Around one credential check: begin before it, end after it (failed 1/0) with what
 * ("login", "setup", ...) for the audit row of a lockout. ip is copied by the caller
 * (the request may be gone when the check ends). */
void api_guard_begin(struct app *app, const char *username, const char *ip);
void api_guard_end(struct app *app, const char *username, const char *ip, int failed,
                   const char *what);
/* A failed synchronous check (bad token) by the request's address. */
void api_guard_failed(struct app *app, struct http_req *r, const char *what);
/* users.c (C5, admin) */
void api_users_list(struct http_req *r, void *app);
void api_user_create(struct http_req *r, void *app);
void api_user_get(struct http_req *r, void *app);
void api_user_update(struct http_req *r, void *app);
void api_user_delete(struct http_req *r, void *app);
void api_user_setup_link(struct http_req *r, void *app);
void api_user_logout(struct http_req *r, void *app);
/* account.c (C5, self service) */
void api_account_sessions(struct http_req *r, void *app);
void api_account_sessions_end(struct http_req *r, void *app);
void api_account_session_end(struct http_req *r, void *app);
void api_account_password(struct http_req *r, void *app);
void api_tokens_list(struct http_req *r, void *app);
void api_token_create(struct http_req *r, void *app);
void api_token_delete(struct http_req *r, void *app);
/* setup.c (C5, public): one-time setup links */
void api_setup_check(struct http_req *r, void *app);
void api_setup(struct http_req *r, void *app);
/* oidc_api.c: single sign-on */
void api_auth_config(struct http_req *r, void *app);
void api_oidc_login(struct http_req *r, void *app);
void api_oidc_callback(struct http_req *r, void *app);
/* Logout's answer: 200 {"redirect_url"} (the provider's end_session_endpoint) for an SSO
 * user when the provider advertised one, else 204. */
void api_oidc_logout_respond(struct http_req *r, struct app *app, const char *user_id);
/* enroll.c */
void api_enroll_token_create(struct http_req *r, void *app);
void api_enroll_token_get(struct http_req *r, void *app);
void api_agent_enroll(struct http_req *r, void *app);
/* enroll_tokens.c: C6 enrollment-token recovery */
void api_enroll_tokens_list(struct http_req *r, void *app);
void api_enroll_token_regenerate(struct http_req *r, void *app);
void api_enroll_token_revoke(struct http_req *r, void *app);
/* announce.c: C6 announce-and-approve enrollment */
void api_agent_announce(struct http_req *r, void *app);
void api_agent_announce_poll(struct http_req *r, void *app);
void api_pending_list(struct http_req *r, void *app);
void api_pending_accept(struct http_req *r, void *app);
void api_pending_reject(struct http_req *r, void *app);
/* hosts.c */
void api_hosts_list(struct http_req *r, void *app);
void api_host_get(struct http_req *r, void *app);
void api_host_snapshots(struct http_req *r, void *app);
void api_fleet_summary(struct http_req *r, void *app);
/* Frees the cached /api/hosts and /api/fleet/summary bodies (app->api_cache); at exit. */
void api_cache_free(struct app *app);
/* browse.c, download.c: snapshot browsing through the host's agent */
void api_snapshot_tree(struct http_req *r, void *app);
void api_snapshot_diff(struct http_req *r, void *app);
void api_snapshot_download(struct http_req *r, void *app);
/* jobs.c */
void api_job_create(struct http_req *r, void *app);
void api_jobs_list(struct http_req *r, void *app);
void api_job_get(struct http_req *r, void *app);
void api_job_cancel(struct http_req *r, void *app);
void api_job_logs(struct http_req *r, void *app);
void api_job_log_txt(struct http_req *r, void *app);
void api_job_log_ndjson(struct http_req *r, void *app);
/* Checks the host is online (else 409, or with queue_if_offline the job waits for the
 * agent's next hello, 24 h at most) and no job of kind is active, creates the job row
 * (args stored as given) with its audit row, sends command.run with args + wire_extra
 * (e.g. hooks, which never go into the row), answers 202 {"job_id","queued"} or the
 * error. */
void api_job_dispatch(struct http_req *r, struct app *app, const char *host_id, const char *kind,
                      const json_t *args, const json_t *wire_extra, const char *audit_action,
                      int queue_if_offline);
/* Same; resp_extra (borrowed, may be NULL) is merged into the 202 body (e.g. a warning). */
void api_job_dispatch_ex(struct http_req *r, struct app *app, const char *host_id, const char *kind,
                         const json_t *args, const json_t *wire_extra, const char *audit_action,
                         int queue_if_offline, const json_t *resp_extra);
/* care.c (C2 repository care) */
/* POST /api/hosts/{id}/jobs for forget (optional group), prune, check
 * (read_data_subset), unlock. */
void api_job_create_care(struct http_req *r, struct app *app, const char *host_id, const char *kind,
                         const json_t *body);
void api_maintenance_get(struct http_req *r, void *app);
void api_maintenance_put(struct http_req *r, void *app);
void api_admin_creds_put(struct http_req *r, void *app);
void api_admin_creds_delete(struct http_req *r, void *app);
void api_locks_get(struct http_req *r, void *app);
/* Validates backup paths (docs/api.md): NULL if fine, else a static message. */
const char *api_paths_problem(const json_t *paths, int allow_empty);
/* groups.c (C2) */
void api_groups_list(struct http_req *r, void *app);
void api_group_create(struct http_req *r, void *app);
void api_group_get(struct http_req *r, void *app);
void api_group_update(struct http_req *r, void *app);
void api_group_delete(struct http_req *r, void *app);
void api_group_run(struct http_req *r, void *app);
/* 4xx {"error","code","field"} */
void api_respond_field(struct http_req *r, int status, const char *code, const char *field,
                       const char *msg);
int api_is_admin(struct http_req *r);
struct store;
/* DELETE of a host's {id} sub-resource: del + audit in one transaction, 404 when absent,
 * policy_changed, 204. */
void api_delete_audited(struct http_req *r, struct app *app,
                        int (*del)(struct store *, const char *, const char *), const char *id,
                        const char *action, const char *what);
/* The host of route param {id}, or NULL after answering 404. New reference. */
json_t *api_host_or_404(struct http_req *r, struct app *app);
/* repo.c (C2 repository health) */
void api_host_repo(struct http_req *r, void *app);
void api_host_repo_history(struct http_req *r, void *app);
void api_fleet_repo_history(struct http_req *r, void *app);
/* retention.c: forget --dry-run through the agent (RPC forget.preview) */
void api_retention_preview(struct http_req *r, void *app);
/* groups.c: validates a retention object (keep_* 0..10000, keep_within a restic
 * duration); NULL and *out (new, only the rules in use) or the message and *field. */
const char *api_check_retention(const json_t *in, json_t **out, const char **field);
/* schedules.c (C2) */
void api_schedules_list(struct http_req *r, void *app);
void api_schedule_create(struct http_req *r, void *app);
void api_schedule_get(struct http_req *r, void *app);
void api_schedule_update(struct http_req *r, void *app);
void api_schedule_delete(struct http_req *r, void *app);
void api_cron_preview(struct http_req *r, void *app);
void api_settings_get(struct http_req *r, void *app);
void api_settings_put(struct http_req *r, void *app);
/* restores.c (C3) */
void api_restore_create(struct http_req *r, void *app);
void api_drill_get(struct http_req *r, void *app);
void api_drill_put(struct http_req *r, void *app);
void api_drill_run(struct http_req *r, void *app);
/* audit.c */
void api_audit_list(struct http_req *r, void *app);
/* metrics.c: GET /metrics (its own auth: RM_METRICS_TOKEN / RM_METRICS_TRUSTED_CIDR) */
void api_metrics(struct http_req *r, void *app);
struct rm_buf;
/* The whole exposition appended to out (tests); RM_OK or a store error. */
int api_metrics_render(struct app *app, struct rm_buf *out);
void api_audit_csv(struct http_req *r, void *app);
/* alerts.c (C4) */
void api_alerts_list(struct http_req *r, void *app);
void api_alert_ack(struct http_req *r, void *app);
void api_alert_resolve(struct http_req *r, void *app);
void api_alert_rules_get(struct http_req *r, void *app);
void api_alert_rules_put(struct http_req *r, void *app);
/* channels.c (C4) */
void api_channels_list(struct http_req *r, void *app);
void api_channel_create(struct http_req *r, void *app);
void api_channel_get(struct http_req *r, void *app);
void api_channel_update(struct http_req *r, void *app);
void api_channel_delete(struct http_req *r, void *app);
void api_channel_test(struct http_req *r, void *app);
void api_channel_deliveries(struct http_req *r, void *app);
/* hosts_edit.c (C6): rename/tags/mode, delete */
void api_host_patch(struct http_req *r, void *app);
void api_host_delete(struct http_req *r, void *app);
void api_hosts_deleted(struct http_req *r, void *app); /* GET /api/deleted-hosts */
/* The enrollment rules for a host's name / tags: NULL if fine, else a static message. */
const char *api_hostname_problem(const char *hostname);
const char *api_tags_problem(const json_t *tags);
/* repo_creds.c (C6): repository credentials after enrollment, password rotation */
void api_repo_creds_get(struct http_req *r, void *app);
void api_repo_creds_put(struct http_req *r, void *app);
void api_repo_rotate(struct http_req *r, void *app);
/* install.c */
void api_install_sh(struct http_req *r, void *app);
void api_agent_binary(struct http_req *r, void *app);
void api_agent_deb(struct http_req *r, void *app);
/* Unmaps the cached agent binaries (at exit, after the loop ended). */
void api_agent_binary_cleanup(void);

/* install.c: the os/arch names agent binaries are served for (NULL-terminated), and the
 * entry of list equal to v (NULL when absent): nothing from a query reaches the filesystem
 * but these constants. */
extern const char *const api_agent_oses[];
extern const char *const api_agent_arches[];
const char *api_pick_allowed(const char *const *list, const char *v);

/* enroll.c: 1 when s (NULL: no) holds a control character; 1 when a rest-server username
 * u keeps to [A-Za-z0-9._@-] (it goes into the htpasswd shell snippet). Shared by
 * enrollment and PUT repo-credentials. */
int api_has_ctl(const char *s);
int api_repo_user_ok(const char *u);

#endif
