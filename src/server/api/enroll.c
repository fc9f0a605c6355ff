/* Enrollment tokens (operator) and the agent's token -> bearer exchange (public). */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/ulid.h"
#include "common/crypto.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/rmtime.h"
#include "server/api/api.h"
#include "server/api/api_update.h"
#include "server/api/enroll_int.h"
#include "server/app.h"
#include "server/config.h"
#include "server/http/http.h"
#include "server/engine/notify.h"
#include "server/engine/policy.h"
#include "server/store/store.h"

#define ENROLL_TTL_MS (3600LL * 1000)

int api_has_ctl(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

int api_repo_user_ok(const char *u)
{
	for (const char *c = u; *c; c++) {
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '.' || *c == '-' || *c == '_' || *c == '@'))
			return 0;
	}
	return 1;
}

void api_enroll_add_commands(json_t *o, struct app *app, const char *token)
{
	const char *base = app->cfg->base_url;
	char *install = rm_xasprintf("curl -fsSL %s/install/install.sh | sudo bash -s -- "
	                             "--server %s --token %s",
	                             base, base, token);
	char *enroll =
	    rm_xasprintf("restic-manager-agent enroll --server %s --token %s", base, token);
	json_object_set_new(o, "install_command", json_string(install));
	json_object_set_new(o, "enroll_command", json_string(enroll));
	free(install);
	free(enroll);
}

void api_enroll_add_generated(json_t *o, const json_t *creds)
{
	if (!json_is_true(json_object_get(creds, "generated")))
		return;
	const char *pw = rmj_str(creds, "repo_password");
	const char *user = rmj_str(creds, "repo_username");
	if (!pw)
		return;
	json_object_set_new(o, "generated_password", json_string(pw));
	if (user && user[0]) {
		char *snip =
		    rm_xasprintf("htpasswd -B -i /etc/rest-server/.htpasswd %s <<< '%s'", user, pw);
		json_object_set_new(o, "htpasswd_snippet", json_string(snip));
		free(snip);
	}
}

/* AEAD-seals the credentials JSON, bound to the token's hash. */
static int seal_creds(struct app *app, const char *hash, const json_t *creds, char **ct)
{
	char *pt = rmj_dumps(creds);
	int rc = api_enroll_seal(app, hash, pt, strlen(pt), ct);
	sodium_memzero(pt, strlen(pt));
	free(pt);
	return rc;
}

int api_enroll_seal(struct app *app, const char *hash, const char *pt, size_t len, char **ct)
{
	char *ad = rm_xasprintf("enroll:%s", hash);
	int rc = rm_aead_seal(app->key, pt, len, ad, ct);
	free(ad);
	return rc;
}

int api_enroll_open(struct app *app, const char *hash, const char *ct, char **pt, size_t *len)
{
	char *ad = rm_xasprintf("enroll:%s", hash);
	int rc = rm_aead_open(app->key, ct ? ct : "", ad, pt, len);
	free(ad);
	return rc;
}

json_t *api_enroll_answer(struct app *app, const char *host_id, const char *bearer)
{
	json_t *o = json_pack("{s:s,s:s}", "host_id", host_id, "bearer", bearer);
	api_update_enroll_answer(app, o); /* C6: the release key the agent pins */
	return o;
}

int api_enroll_host_insert(struct app *app, const struct api_new_host *h,
                           char host_id_out[RM_ULID_BUF])
{
	char host_id[RM_ULID_BUF];
	int rc =
	    store_host_create(app->store, h->hostname, h->tags, h->paths, h->bearer_hash, host_id);
	/* C2: a "default" group from the initial paths, backed up daily at night */
	if (!rc && json_array_size(h->paths) > 0)
		rc = policy_defaults_new_host(app->store, host_id, h->paths);
	if (!rc) {
		char *ct = NULL;
		char *had = rm_xasprintf("host_credentials:%s:repo", host_id);
		rc = rm_aead_seal(app->key, h->creds_pt, h->creds_len, had, &ct);
		free(had);
		if (!rc)
			rc = store_cred_put(app->store, host_id, "repo", ct);
		free(ct);
	}
	if (!rc)
		memcpy(host_id_out, host_id, RM_ULID_BUF);
	return rc;
}

void api_enroll_host_created(struct app *app, const char *host_id, int has_paths)
{
	if (has_paths)
		policy_changed(app, host_id); /* version 1 */
	notify_host_changed(app->notify, host_id);
}

/* NULL when the repository text fields are acceptable, else the message. */
static const char *repo_fields_problem(const char *repo_url, const char *repo_user,
                                       const char *repo_pw)
{
	if (api_has_ctl(repo_url))
		return "field 'repo_url' contains control characters";
	if (!api_repo_user_ok(repo_user))
		return "field 'repo_username' must be of [A-Za-z0-9._@-]";
	if (repo_pw && api_has_ctl(repo_pw))
		return "field 'repo_password' contains control characters";
	return NULL;
}

const char *api_enroll_repo_creds(const json_t *obj, json_t **creds_out, char *err, size_t errlen)
{
	const char *repo_url = NULL, *repo_user = "", *repo_pw = NULL;
	if (rmj_get_str(obj, "repo_url", 1, 2048, &repo_url, err, errlen) ||
	    rmj_get_str(obj, "repo_username", 0, 256, &repo_user, err, errlen) ||
	    rmj_get_str(obj, "repo_password", 0, 1024, &repo_pw, err, errlen))
		return err;
	const char *bad = repo_fields_problem(repo_url, repo_user, repo_pw);
	if (bad)
		return bad;
	char *gen = NULL;
	if (!repo_pw || !repo_pw[0]) {
		gen = rm_random_token(24);
		repo_pw = gen;
	}
	rm_log_add_secret(repo_pw);
	*creds_out = json_pack("{s:s,s:s,s:s,s:b}", "repo_url", repo_url, "repo_username",
	                       repo_user, "repo_password", repo_pw, "generated", gen != NULL);
	free(gen);
	return NULL;
}

/* The fields every way of adding a host shares (enroll_int.h). */
int api_enroll_fields(struct http_req *r, const json_t *b, const char *def_hostname,
                      const char **hostname, const json_t **tags, const json_t **paths)
{
	char err[160];
	*hostname = def_hostname;
	if (rmj_get_str(b, "hostname", def_hostname ? 0 : 1, 253, hostname, err, sizeof err) ||
	    rmj_get_str_array(b, "tags", 0, 50, 64, tags, err, sizeof err) ||
	    rmj_get_str_array(b, "initial_paths", 0, 100, 4096, paths, err, sizeof err)) {
		api_respond_invalid(r, err);
		return -1;
	}
	if (!*hostname || !**hostname)
		*hostname = def_hostname;
	const char *bad = api_hostname_problem(*hostname ? *hostname : "");
	if (bad) {
		api_respond_invalid(r, bad);
		return -1;
	}
	const char *why = *paths ? api_paths_problem(*paths, 1) : NULL;
	if (why) {
		http_respond_error(r, 422, "invalid_paths", "initial_paths: %s", why);
		return -1;
	}
	return 0;
}

void api_enroll_token_create(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *b = api_body(r);
	const char *hostname = NULL;
	const json_t *tags = NULL, *paths = NULL;
	json_t *creds = NULL;
	char err[160];
	if (api_enroll_fields(r, b, NULL, &hostname, &tags, &paths))
		return;
	const char *bad = api_enroll_repo_creds(b, &creds, err, sizeof err);
	if (bad) {
		api_respond_invalid(r, bad);
		return;
	}
	json_t *empty_tags = json_array(), *empty_paths = json_array();
	if (!tags)
		tags = empty_tags;
	if (!paths)
		paths = empty_paths;

	char *token = rm_random_token(32);
	char hash[65], id[RM_ULID_BUF] = "";
	rm_sha256_hex(token, strlen(token), hash);
	char *ct = NULL;
	int rc = seal_creds(app, hash, creds, &ct);
	if (rc) {
		RM_ERROR("sealing enrollment credentials failed", "err", rm_strerror(rc));
		http_respond_error(r, 503, "unavailable", "encryption failed");
		goto out;
	}
	int64_t exp = rm_now_ms() + ENROLL_TTL_MS;
	rc = store_tx_begin(app->store);
	if (!rc) {
		rc = store_enroll_create(app->store, hash, hostname, tags, paths, ct, exp,
		                         api_actor(r));
		if (!rc)
			rc = store_enroll_id(app->store, hash, id);
		if (!rc)
			rc = api_audit(app, api_actor(r), "enrollment_token.create", hostname,
			               json_pack("{s:s,s:s,s:O}", "id", id, "hostname", hostname,
			                         "tags", tags));
		rc = store_tx_end(app->store, rc);
	}
	if (rc) {
		api_respond_store_error(r, "enroll create", rc);
		goto out;
	}
	char exps[RM_TIME_STRLEN];
	rm_time_fmt(exp, exps);
	json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "id", id, "token", token, "expires_at", exps,
	                      "hostname", hostname);
	api_enroll_add_commands(o, app, token);
	api_enroll_add_generated(o, creds);
	http_respond_json(r, 201, o);
out:
	rmj_wipe(creds);
	json_decref(creds);
	free(ct);
	free(token);
	json_decref(empty_tags);
	json_decref(empty_paths);
}

/* Hashes the raw token into hash and reads its row into e (zeroed first, so
 * store_enroll_cleanup is safe whatever the result). Returns store_enroll_get's rc. */
static int enroll_lookup(struct app *app, const char *token, char hash[65], struct store_enroll *e)
{
	rm_sha256_hex(token, strlen(token), hash);
	memset(e, 0, sizeof *e);
	return store_enroll_get(app->store, hash, e);
}

void api_enroll_token_get(struct http_req *r, void *appv)
{
	struct app *app = appv;
	const char *token = http_req_param(r, "token");
	if (!token || strlen(token) > 256) {
		http_respond_error(r, 404, "not_found", "unknown enrollment token");
		return;
	}
	char hash[65];
	struct store_enroll e;
	int rc = enroll_lookup(app, token, hash, &e);
	if (rc == RM_ERR_NOTFOUND) {
		http_respond_error(r, 404, "not_found", "unknown enrollment token");
		return;
	}
	if (rc) {
		api_respond_store_error(r, "enroll get", rc);
		return;
	}
	const char *status =
	    e.used_ms ? "used" : (rm_now_ms() >= e.expires_ms ? "expired" : "pending");
	char exps[RM_TIME_STRLEN];
	rm_time_fmt(e.expires_ms, exps);
	json_t *o = json_pack("{s:s,s:s,s:s}", "hostname", e.hostname, "status", status,
	                      "expires_at", exps);
	char id[RM_ULID_BUF];
	/* C6: the handle for regenerate/revoke (an unused token only) */
	if (!e.used_ms && store_enroll_id(app->store, hash, id) == RM_OK)
		json_object_set_new(o, "id", json_string(id));
	if (e.used_ms && e.host_id[0]) {
		json_object_set_new(o, "host_id", json_string(e.host_id));
		json_t *host = store_host_get(app->store, e.host_id);
		json_object_set_new(o, "host_status",
		                    rmj_str_or_null(host ? rmj_str(host, "status") : NULL));
		json_decref(host);
	} else {
		json_object_set_new(o, "host_id", json_null());
		json_object_set_new(o, "host_status", json_null());
	}
	api_enroll_add_commands(o, app, token);
	if (!e.used_ms && e.creds_ct) {
		/* whoever holds the token can enroll anyway: showing the generated password
		 * again while pending adds nothing to an attacker */
		char *ad = rm_xasprintf("enroll:%s", hash);
		char *pt = NULL;
		size_t ptlen = 0;
		if (rm_aead_open(app->key, e.creds_ct, ad, &pt, &ptlen) == RM_OK) {
			json_t *creds = NULL;
			if (rmj_parse_object(pt, ptlen, 65536, &creds, NULL, 0) == RM_OK) {
				api_enroll_add_generated(o, creds);
				json_decref(creds);
			}
			sodium_memzero(pt, ptlen);
			free(pt);
		}
		free(ad);
	}
	store_enroll_cleanup(&e);
	http_respond_json(r, 200, o);
}

/* Long: one linear request (validate -> look up -> decrypt -> one transaction -> answer);
 * the steps share a dozen locals that a split would only pass around. */
void api_agent_enroll(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *b = api_body(r);
	const char *token = NULL, *hostname = NULL, *os = NULL, *arch = NULL, *av = NULL,
	           *rv = NULL;
	char err[160];
	if (api_guard_refuse(r, app, NULL))
		return;
	if (rmj_get_str(b, "token", 1, 256, &token, err, sizeof err)) {
		http_respond_error(r, 401, "bad_token", "missing or invalid enrollment token");
		return;
	}
	if (rmj_get_str(b, "hostname", 0, 253, &hostname, err, sizeof err) ||
	    rmj_get_str(b, "os", 0, 64, &os, err, sizeof err) ||
	    rmj_get_str(b, "arch", 0, 64, &arch, err, sizeof err) ||
	    rmj_get_str(b, "agent_version", 0, 64, &av, err, sizeof err) ||
	    rmj_get_str(b, "restic_version", 0, 64, &rv, err, sizeof err)) {
		api_respond_invalid(r, err);
		return;
	}
	char hash[65];
	struct store_enroll e;
	int rc = enroll_lookup(app, token, hash, &e);
	if (rc == RM_ERR_NOTFOUND) {
		RM_WARN("agent enroll with an unknown token", "ip", http_req_remote_ip(r));
		api_guard_failed(app, r, "enroll");
		http_respond_error(r, 401, "bad_token", "missing or invalid enrollment token");
		return;
	}
	if (rc) {
		api_respond_store_error(r, "enroll get", rc);
		return;
	}
	char *pt = NULL, *bearer = NULL;
	size_t ptlen = 0;
	json_t *tags = NULL, *paths = NULL;
	char host_id[RM_ULID_BUF] = "";
	int64_t now = rm_now_ms();
	if (e.used_ms) {
		http_respond_error(r, 409, "token_used", "enrollment token already used");
		goto out;
	}
	if (now >= e.expires_ms) {
		http_respond_error(r, 410, "token_expired", "enrollment token expired");
		goto out;
	}
	rc = api_enroll_open(app, hash, e.creds_ct, &pt, &ptlen);
	if (rc) {
		RM_ERROR("cannot decrypt enrollment credentials", "err", rm_strerror(rc));
		http_respond_error(r, 503, "unavailable", "cannot decrypt credentials");
		goto out;
	}
	tags = json_loads(e.tags_json ? e.tags_json : "[]", 0, NULL);
	paths = json_loads(e.initial_paths_json ? e.initial_paths_json : "[]", 0, NULL);
	if (!tags)
		tags = json_array();
	if (!paths)
		paths = json_array();
	bearer = rm_random_token(32);
	char bhash[65];
	rm_sha256_hex(bearer, strlen(bearer), bhash);

	rc = store_begin(app->store);
	if (rc)
		goto dberr;
	struct api_new_host nh = { .hostname = e.hostname,
		                   .tags = tags,
		                   .paths = paths,
		                   .bearer_hash = bhash,
		                   .creds_pt = pt,
		                   .creds_len = ptlen };
	rc = api_enroll_host_insert(app, &nh, host_id);
	if (!rc)
		rc = store_enroll_consume(app->store, hash, host_id, now);
	if (!rc) {
		char actor[40];
		snprintf(actor, sizeof actor, "agent:%s", host_id);
		json_t *d = json_pack("{s:s,s:s?,s:s?,s:s?,s:s?,s:s?}", "hostname", e.hostname,
		                      "reported_hostname", hostname, "os", os, "arch", arch,
		                      "agent_version", av, "restic_version", rv);
		rc = store_audit(app->store, actor, "host.enroll", host_id, d);
		json_decref(d);
	}
	if (!rc)
		rc = store_commit(app->store);
	if (rc) {
		store_rollback(app->store);
		if (rc == RM_ERR_CONFLICT) {
			http_respond_error(r, 409, "token_used", "enrollment token already used");
		} else if (rc == RM_ERR_EXPIRED) {
			http_respond_error(r, 410, "token_expired", "enrollment token expired");
		} else {
dberr:
			api_respond_store_error(r, "enroll", rc);
		}
		goto out;
	}
	RM_INFO("host enrolled", "host_id", host_id, "hostname", e.hostname, "ip",
	        http_req_remote_ip(r));
	api_enroll_host_created(app, host_id, json_array_size(paths) > 0);
	http_respond_json(r, 201, api_enroll_answer(app, host_id, bearer));
out:
	if (pt) {
		sodium_memzero(pt, ptlen);
		free(pt);
	}
	free(bearer);
	json_decref(tags);
	json_decref(paths);
	store_enroll_cleanup(&e);
}
