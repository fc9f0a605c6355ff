/* Repository policy: credentials push, auto-init, repo_status. */
#include "server/engine/repo_policy.h"

#include <string.h>

#include "common/ulid.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/rmtime.h"
#include "server/app.h"
#include "server/engine/creds.h"
#include "server/engine/host_secrets.h"
#include "server/engine/notify.h"
#include "server/engine/presence.h"
#include "server/store/store.h"

static const char *str_or_empty(const json_t *o, const char *key)
{
	const char *s = rmj_str(o, key);
	return s ? s : "";
}

/* config.update {slot:"repo", repo_url, repo_username, repo_password}. */
static void send_repo_config(struct app *app, const char *host_id, const json_t *creds)
{
	const char *pw = rmj_str(creds, "repo_password");
	if (pw)
		rm_log_add_secret(pw);
	json_t *p = json_pack("{s:s,s:s,s:s,s:s}", "slot", "repo", "repo_url",
	                      str_or_empty(creds, "repo_url"), "repo_username",
	                      str_or_empty(creds, "repo_username"), "repo_password", pw ? pw : "");
	int rc = presence_send(app->presence, host_id, RM_MSG_CONFIG_UPDATE, p);
	if (rc)
		RM_WARN("sending repository credentials failed", "host_id", host_id, "err",
		        rm_strerror(rc));
}

static void maybe_auto_init(struct app *app, const char *host_id)
{
	char repo_status[16];
	if (store_host_repo_status(app->store, host_id, repo_status))
		return;
	if (strcmp(repo_status, "unknown") != 0)
		return;
	int active = 0;
	if (store_job_active_of_kind(app->store, host_id, "init", &active) || active)
		return;
	char job_id[RM_ULID_BUF];
	json_t *args = json_object();
	int rc = store_job_create(app->store, host_id, "init", args, "system", job_id);
	if (!rc) {
		rc = presence_send_command(app->presence, host_id, job_id, "init", args);
		if (rc) {
			store_job_finish(app->store, job_id, "failed", -1,
			                 "dispatch to agent failed", NULL, rm_now_ms());
		}
		RM_INFO("repository init dispatched", "host_id", host_id, "job_id", job_id);
		notify_job_changed(app->notify, job_id);
	} else {
		RM_ERROR("creating init job failed", "host_id", host_id, "err", rm_strerror(rc));
	}
	json_decref(args);
}

void repo_policy_push(struct app *app, const char *host_id)
{
	json_t *creds = NULL;
	if (creds_get(app->store, app->key, host_id, "repo", &creds) == RM_OK)
		send_repo_config(app, host_id, creds);
	creds_free(creds);
	maybe_auto_init(app, host_id);
}

struct host_secrets *repo_policy_on_hello(struct app *app, const char *host_id)
{
	struct host_secrets *hs = host_secrets_new();
	json_t *creds = NULL;
	int rc = creds_get(app->store, app->key, host_id, "repo", &creds);
	if (!rc) {
		host_secrets_add_creds(hs, creds);
		send_repo_config(app, host_id, creds);
	} else if (rc != RM_ERR_NOTFOUND && rc != RM_ERR_CRYPTO) {
		RM_ERROR("reading host credentials failed", "host_id", host_id, "err",
		         rm_strerror(rc));
	}
	creds_free(creds);
	/* prune pushes the admin slot just in time: its output is redacted the same way */
	creds = NULL;
	if (creds_get(app->store, app->key, host_id, "admin", &creds) == RM_OK)
		host_secrets_add_creds(hs, creds);
	creds_free(creds);
	maybe_auto_init(app, host_id);
	return hs;
}

int repo_policy_job_finished(struct store *st, const char *host_id, const char *kind,
                             const char *status, const char *error)
{
	if (!kind || strcmp(kind, "init") != 0)
		return RM_OK;
	if (status && strcmp(status, "succeeded") == 0)
		return store_host_set_repo_status(st, host_id, "ready", NULL);
	return store_host_set_repo_status(st, host_id, "init_failed",
	                                  error && error[0] ? error : "repository init failed");
}
