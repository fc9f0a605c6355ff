/* First run: a one-time bootstrap token (hash in settings) creates the first admin. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ulid.h"
#include "common/crypto.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "server/api/api.h"
#include "server/app.h"
#include "server/config.h"
#include "server/engine/people.h"
#include "server/http/http.h"
#include "server/store/store.h"

#define BOOTSTRAP_SETTING "bootstrap_token_sha256"

int api_bootstrap_prepare(struct app *app)
{
	long long n = 0;
	int rc = store_user_count(app->store, &n);
	if (rc)
		return rc;
	if (n > 0) {
		store_setting_delete(app->store, BOOTSTRAP_SETTING);
		return RM_OK;
	}
	/* a fresh token on every start while no admin exists: only the latest one printed
	 * to this process's stderr works */
	char *token = rm_random_token(24);
	char hash[65];
	rm_sha256_hex(token, strlen(token), hash);
	rc = store_setting_set(app->store, BOOTSTRAP_SETTING, hash);
	if (rc) {
		free(token);
		return rc;
	}
	fprintf(stderr,
	        "level=info msg=\"no users yet: create the first admin\"\n"
	        "bootstrap token: %s\n"
	        "open %s/bootstrap to create the first admin\n",
	        token, app->cfg->base_url);
	fflush(stderr);
	free(token);
	return RM_OK;
}

void api_bootstrap_status(struct http_req *r, void *appv)
{
	struct app *app = appv;
	long long n = 0;
	int rc = store_user_count(app->store, &n);
	if (rc) {
		api_respond_store_error(r, "user count", rc);
		return;
	}
	http_respond_json(r, 200, json_pack("{s:b}", "needed", n == 0));
}

struct boot_ud {
	char username[65];
	char ip[64];
};

static void bootstrap_done(struct http_req *r, struct app *app, int rc, const char *hash, void *udv)
{
	struct boot_ud *ud = udv;
	if (!r)
		goto out;
	if (rc) {
		http_respond_error(r, 503, "unavailable", "password hashing failed");
		goto out;
	}
	/* re-check: another bootstrap may have won while we hashed */
	long long n = 0;
	rc = store_user_count(app->store, &n);
	if (rc) {
		api_respond_store_error(r, "user count", rc);
		goto out;
	}
	if (n > 0) {
		http_respond_error(r, 409, "bootstrap_closed", "bootstrap already done");
		goto out;
	}
	char id[RM_ULID_BUF];
	rc = store_begin(app->store);
	if (!rc)
		rc = store_user_create(app->store, ud->username, hash, "admin", id);
	if (!rc)
		rc = store_setting_delete(app->store, BOOTSTRAP_SETTING);
	if (rc == RM_ERR_NOTFOUND)
		rc = RM_OK;
	if (!rc) {
		rc = store_audit(app->store, ud->username, "bootstrap", ud->username, NULL);
	}
	if (!rc)
		rc = store_commit(app->store);
	if (rc) {
		store_rollback(app->store);
		if (rc == RM_ERR_CONFLICT)
			http_respond_error(r, 409, "bootstrap_closed", "bootstrap already done");
		else
			api_respond_store_error(r, "bootstrap", rc);
		goto out;
	}
	RM_INFO("first admin created", "user", ud->username, "ip", ud->ip);
	api_respond_session(r, app, 201, id, ud->username, "admin", NULL, NULL);
out:
	free(ud);
}

void api_bootstrap(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *b = api_body(r);
	long long n = 0;
	int rc = store_user_count(app->store, &n);
	if (rc) {
		api_respond_store_error(r, "user count", rc);
		return;
	}
	if (n > 0) {
		http_respond_error(r, 409, "bootstrap_closed", "bootstrap already done");
		return;
	}
	const char *token = NULL, *username = NULL, *password = NULL;
	char err[160];
	if (api_guard_refuse(r, app, NULL))
		return;
	if (rmj_get_str(b, "token", 1, 256, &token, err, sizeof err)) {
		http_respond_error(r, 401, "bad_token", "missing or invalid bootstrap token");
		return;
	}
	char *stored = NULL;
	rc = store_setting_get(app->store, BOOTSTRAP_SETTING, &stored);
	if (rc && rc != RM_ERR_NOTFOUND) {
		api_respond_store_error(r, "setting", rc);
		return;
	}
	char hash[65];
	rm_sha256_hex(token, strlen(token), hash);
	int ok = stored && rm_str_ct_eq(stored, hash);
	free(stored);
	if (!ok) {
		RM_WARN("bootstrap with a wrong token", "ip", http_req_remote_ip(r));
		api_guard_failed(app, r, "bootstrap");
		http_respond_error(r, 401, "bad_token", "missing or invalid bootstrap token");
		return;
	}
	if (rmj_get_str(b, "username", 1, 64, &username, err, sizeof err) ||
	    rmj_get_str(b, "password", 1, 1024, &password, err, sizeof err)) {
		api_respond_invalid(r, err);
		return;
	}
	if (!people_username_ok(username)) {
		api_respond_invalid(r, "field 'username' must be 1-64 of [a-z0-9._-]");
		return;
	}
	const char *problem = people_password_problem(username, password);
	if (problem) {
		api_respond_field(r, 400, "weak_password", "password", problem);
		return;
	}
	struct boot_ud *ud = rm_xcalloc(1, sizeof *ud);
	rm_strlcpy(ud->username, username, sizeof ud->username);
	rm_strlcpy(ud->ip, http_req_remote_ip(r) ? http_req_remote_ip(r) : "", sizeof ud->ip);
	api_pw_run(app, r, password, NULL, bootstrap_done, ud);
}
