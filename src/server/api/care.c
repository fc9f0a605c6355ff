/* C2 repository care API: maintenance jobs (forget/prune/check/unlock through
 * POST /api/hosts/{id}/jobs), cadences, the admin credential slot, the lock list. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/rmtime.h"
#include "server/api/api.h"
#include "server/app.h"
#include "server/engine/care.h"
#include "server/engine/care_run.h"
#include "server/engine/policy.h"
#include "server/http/http.h"
#include "server/store/store.h"

void api_job_create_care(struct http_req *r, struct app *app, const char *host_id, const char *kind,
                         const json_t *b)
{
	json_t *args = NULL;
	char err[160];
	const char *group = NULL, *sub = NULL, *why = NULL;
	if (!strcmp(kind, "forget")) {
		if (rmj_get_str(b, "group", 0, 64, &group, err, sizeof err) ||
		    (group && !proto_group_name_ok(group))) {
			api_respond_field(r, 422, "invalid_field", "group",
			                  "group must be a group name");
			return;
		}
		int rc = care_forget_args(app, host_id, group, &args, &why);
		if (rc == RM_ERR_NOTFOUND) {
			api_respond_field(r, 422, "unknown_group", "group", why);
			return;
		}
		if (rc == RM_ERR_INVAL) {
			api_respond_field(r, 422, "no_retention", "group", why);
			return;
		}
		if (rc) {
			api_respond_store_error(r, "groups", rc);
			return;
		}
		if (group)
			json_object_set_new(args, "group", json_string(group));
	} else if (!strcmp(kind, "check")) {
		if (rmj_get_str(b, "read_data_subset", 0, 24, &sub, err, sizeof err) ||
		    (sub && !proto_read_data_subset_ok(sub))) {
			api_respond_field(r, 422, "invalid_field", "read_data_subset",
			                  "read_data_subset must be N% (0 < N <= 100) or n/m");
			return;
		}
		args = sub ? json_pack("{s:s}", "read_data_subset", sub) : json_object();
	} else {
		args = json_object();
	}
	json_t *extra = care_wire_extra(app, host_id, kind);
	api_job_dispatch(r, app, host_id, kind, args, extra, "job.dispatch",
	                 json_is_true(json_object_get(b, "queue_if_offline")));
	rmj_wipe(extra);
	json_decref(extra);
	json_decref(args);
}

void api_maintenance_get(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *host = api_host_or_404(r, app);
	if (!host)
		return;
	http_respond_json(r, 200, care_maintenance_view(app, host));
	json_decref(host);
}

void api_maintenance_put(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *host = api_host_or_404(r, app);
	if (!host)
		return;
	const char *host_id = rmj_str(host, "id");
	json_t *stored = store_host_maintenance(app->store, host_id), *merged = NULL;
	const char *why = stored ? care_maintenance_merge(stored, api_body(r), &merged) : NULL;
	if (!stored) {
		api_respond_store_error(r, "maintenance", RM_ERR_DB);
		goto out;
	}
	if (why) {
		http_respond_error(r, 422, "invalid_field", "%s", why);
		goto out;
	}
	int rc = store_tx_begin(app->store);
	if (!rc) {
		rc = store_host_maintenance_set(app->store, host_id, merged);
		if (!rc)
			rc = api_audit(app, api_actor(r), "host.maintenance", host_id,
			               json_deep_copy(api_body(r)));
		rc = store_tx_end(app->store, rc);
	}
	if (rc) {
		api_respond_store_error(r, "maintenance", rc);
		goto out;
	}
	policy_changed(app, host_id); /* the agent's cadences go with schedule.set */
	http_respond_json(r, 200, care_maintenance_view(app, host));
out:
	json_decref(merged);
	json_decref(stored);
	json_decref(host);
}

/* {repo_url, repo_username?, repo_password}: the admin slot, sealed like the repo slot. */
void api_admin_creds_put(struct http_req *r, void *appv)
{
	struct app *app = appv;
	const json_t *b = api_body(r);
	json_t *host = api_host_or_404(r, app);
	if (!host)
		return;
	const char *host_id = rmj_str(host, "id");
	const char *url = NULL, *user = NULL, *pw = NULL;
	char err[160];
	if (rmj_get_str(b, "repo_url", 1, 2048, &url, err, sizeof err) || !*url ||
	    strchr(url, '\n')) {
		api_respond_field(r, 422, "invalid_field", "repo_url", "repo_url is required");
		goto out;
	}
	if (rmj_get_str(b, "repo_username", 0, 256, &user, err, sizeof err)) {
		api_respond_field(r, 422, "invalid_field", "repo_username", err);
		goto out;
	}
	if (rmj_get_str(b, "repo_password", 1, 4096, &pw, err, sizeof err) || !*pw) {
		api_respond_field(r, 422, "invalid_field", "repo_password",
		                  "repo_password is required");
		goto out;
	}
	json_t *c = json_pack("{s:s,s:s,s:s}", "repo_url", url, "repo_username", user ? user : "",
	                      "repo_password", pw);
	char *pt = rmj_dumps(c);
	rmj_wipe(c);
	json_decref(c);
	char *ad = rm_xasprintf("host_credentials:%s:admin", host_id), *ct = NULL;
	int rc = rm_aead_seal(app->key, pt, strlen(pt), ad, &ct);
	sodium_memzero(pt, strlen(pt));
	free(pt);
	free(ad);
	if (!rc)
		rc = store_tx_begin(app->store);
	if (!rc) {
		rc = store_cred_put(app->store, host_id, "admin", ct);
		json_t *m = rc ? NULL : store_host_maintenance(app->store, host_id);
		if (m) { /* the server's cadences start now: no catch-up for the past */
			json_object_set_new(m, "since_ms", json_integer(rm_now_ms()));
			rc = store_host_maintenance_set(app->store, host_id, m);
			json_decref(m);
		}
		if (!rc) {
			char *red = rm_redact_url(url);
			rc = api_audit(app, api_actor(r), "host.admin_credentials.set", host_id,
			               json_pack("{s:s}", "repo_url", red ? red : ""));
			free(red);
		}
		rc = store_tx_end(app->store, rc);
	}
	free(ct);
	if (rc) {
		api_respond_store_error(r, "admin credentials", rc);
		goto out;
	}
	RM_INFO("admin credentials set", "host_id", host_id);
	policy_changed(app, host_id); /* forget/prune move from the agent to the server */
	http_respond_json(r, 200, json_pack("{s:b}", "admin_credentials_set", 1));
out:
	rmj_wipe(api_body(r));
	json_decref(host);
}

void api_admin_creds_delete(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *host = api_host_or_404(r, app);
	if (!host)
		return;
	const char *host_id = rmj_str(host, "id");
	int rc = store_tx_begin(app->store);
	if (!rc) {
		rc = store_cred_delete(app->store, host_id, "admin");
		if (!rc)
			rc = api_audit(app, api_actor(r), "host.admin_credentials.delete", host_id,
			               NULL);
		rc = store_tx_end(app->store, rc);
	}
	if (rc == RM_ERR_NOTFOUND) {
		http_respond_error(r, 404, "not_found", "no admin credentials set");
	} else if (rc) {
		api_respond_store_error(r, "admin credentials", rc);
	} else {
		policy_changed(app, host_id);
		http_respond_json(r, 200, json_pack("{s:b}", "admin_credentials_set", 0));
	}
	json_decref(host);
}

/* The latest lock list the agent reported, each with its age in seconds. */
void api_locks_get(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *host = api_host_or_404(r, app);
	if (!host)
		return;
	json_t *o = store_host_locks(app->store, rmj_str(host, "id"));
	json_decref(host);
	if (!o) {
		api_respond_store_error(r, "locks", RM_ERR_DB);
		return;
	}
	json_t *locks = json_object_get(o, "locks");
	size_t i;
	json_t *l;
	int64_t now = rm_now_ms(), t = 0;
	json_array_foreach (locks, i, l) {
		if (rm_time_parse(rmj_str(l, "time"), &t) == RM_OK)
			json_object_set_new(l, "age_s", json_integer((now - t) / 1000));
		json_object_set_new(
		    l, "owner",
		    json_sprintf("%s (pid %lld)", rmj_str(l, "hostname"), rmj_int(l, "pid", 0)));
	}
	if (!json_is_array(locks))
		json_object_set_new(o, "locks", json_array());
	http_respond_json(r, 200, o);
}
