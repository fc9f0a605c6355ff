/* C6 enrollment-token recovery: list the outstanding tokens, regenerate one (a new secret
 * and expiry; the old secret stops working: only hashes are stored, so the secret cannot
 * be shown again), revoke one. Operators, like token creation. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/rmtime.h"
#include "server/api/api.h"
#include "server/api/enroll_int.h"
#include "server/app.h"
#include "server/http/http.h"
#include "server/store/store.h"

#define ENROLL_TTL_MS (3600LL * 1000)

void api_enroll_tokens_list(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *o = store_enroll_list(app->store, rm_now_ms());
	if (!o) {
		api_respond_store_error(r, "enroll list", RM_ERR_DB);
		return;
	}
	http_respond_json(r, 200, o);
}

/* The unused token row of the path's {id}; responds 404 and returns -1 otherwise. */
static int load_token(struct http_req *r, struct app *app, char hash[65], struct store_enroll *e)
{
	memset(e, 0, sizeof *e);
	int rc = store_enroll_hash_by_id(app->store, http_req_param(r, "id"), hash);
	if (!rc)
		rc = store_enroll_get(app->store, hash, e);
	if (!rc && e->used_ms)
		rc = RM_ERR_NOTFOUND;
	if (rc == RM_ERR_NOTFOUND) {
		http_respond_error(r, 404, "not_found", "no unused enrollment token with this id");
		return -1;
	}
	if (rc) {
		api_respond_store_error(r, "enroll get", rc);
		return -1;
	}
	return 0;
}

void api_enroll_token_regenerate(struct http_req *r, void *appv)
{
	struct app *app = appv;
	const char *id = http_req_param(r, "id");
	char hash[65], nhash[65];
	struct store_enroll e;
	char *pt = NULL, *ct = NULL, *token = NULL;
	size_t ptlen = 0;
	json_t *creds = NULL;
	if (load_token(r, app, hash, &e))
		goto out;
	/* the credentials are sealed to the token's hash: re-seal them for the new one */
	int rc = api_enroll_open(app, hash, e.creds_ct, &pt, &ptlen);
	if (rc) {
		RM_ERROR("cannot decrypt enrollment credentials", "err", rm_strerror(rc));
		http_respond_error(r, 503, "unavailable", "cannot decrypt credentials");
		goto out;
	}
	token = rm_random_token(32);
	rm_sha256_hex(token, strlen(token), nhash);
	rc = api_enroll_seal(app, nhash, pt, ptlen, &ct);
	int64_t exp = rm_now_ms() + ENROLL_TTL_MS;
	if (!rc)
		rc = store_tx_begin(app->store);
	if (!rc) {
		rc = store_enroll_rekey(app->store, id, nhash, ct, exp);
		if (!rc)
			rc = api_audit(app, api_actor(r), "enrollment_token.regenerate", e.hostname,
			               json_pack("{s:s,s:s}", "id", id, "hostname", e.hostname));
		rc = store_tx_end(app->store, rc);
	}
	if (rc == RM_ERR_NOTFOUND) {
		http_respond_error(r, 404, "not_found", "no unused enrollment token with this id");
		goto out;
	}
	if (rc) {
		api_respond_store_error(r, "enroll regenerate", rc);
		goto out;
	}
	char exps[RM_TIME_STRLEN];
	rm_time_fmt(exp, exps);
	json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "id", id, "token", token, "expires_at", exps,
	                      "hostname", e.hostname);
	api_enroll_add_commands(o, app, token);
	if (rmj_parse_object(pt, ptlen, 65536, &creds, NULL, 0) == RM_OK)
		api_enroll_add_generated(o, creds);
	http_respond_json(r, 200, o);
out:
	if (pt) {
		sodium_memzero(pt, ptlen);
		free(pt);
	}
	rmj_wipe(creds);
	json_decref(creds);
	free(ct);
	free(token);
	store_enroll_cleanup(&e);
}

void api_enroll_token_revoke(struct http_req *r, void *appv)
{
	struct app *app = appv;
	const char *id = http_req_param(r, "id");
	char hash[65];
	struct store_enroll e;
	if (load_token(r, app, hash, &e))
		goto out;
	int rc = store_tx_begin(app->store);
	if (!rc) {
		rc = store_enroll_delete(app->store, id);
		if (!rc)
			rc = api_audit(app, api_actor(r), "enrollment_token.revoke", e.hostname,
			               json_pack("{s:s,s:s}", "id", id, "hostname", e.hostname));
		rc = store_tx_end(app->store, rc);
	}
	if (rc == RM_ERR_NOTFOUND)
		http_respond_error(r, 404, "not_found", "no unused enrollment token with this id");
	else if (rc)
		api_respond_store_error(r, "enroll revoke", rc);
	else
		http_respond_json(r, 204, NULL);
out:
	store_enroll_cleanup(&e);
}
