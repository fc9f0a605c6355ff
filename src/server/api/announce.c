/* C6 announce-and-approve enrollment: the agent's public announce + poll routes and the
 * operator's pending-hosts routes. Policy (idempotence, cap, expiry, poll proof, rate) is
 * in engine/announce.c; hosts are created by the same code as token enrollment
 * (enroll_int.h). */
#include <sodium.h>
#include <stdio.h>
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
#include "server/config.h"
#include "server/engine/announce.h"
#include "server/http/http.h"
#include "server/store/store.h"

static void set_time(json_t *o, const char *k, int64_t ms)
{
	char t[RM_TIME_STRLEN];
	rm_time_fmt(ms, t);
	json_object_set_new(o, k, json_string(t));
}

/* What the agent sees of its row (never another row's data). */
static json_t *agent_view(const struct store_pending *p, const char *nonce)
{
	json_t *o =
	    json_pack("{s:s,s:s,s:s,s:s,s:i}", "id", p->id, "state", p->state, "fingerprint",
	              p->fingerprint, "nonce", nonce, "poll_after_s", ANNOUNCE_POLL_AFTER_S);
	set_time(o, "expires_at", p->expires_ms);
	return o;
}

static void retry_after(struct http_req *r, int64_t ms)
{
	char ra[24];
	snprintf(ra, sizeof ra, "%lld", (long long)((ms + 999) / 1000));
	http_resp_header(r, "retry-after", ra);
}

/* 1 (responded 429) when the client address has announced too often. */
static int rate_limited(struct http_req *r, struct app *app)
{
	int64_t wait = announce_limiter_take(app->announce, http_req_remote_ip(r),
	                                     (int)app->cfg->announce_rate, rm_mono_ms());
	if (!wait)
		return 0;
	retry_after(r, wait);
	http_respond_error(r, 429, "announce_rate_limited",
	                   "too many announcements from this address; retry later");
	return 1;
}

/* Reads the announce body into req; responds 400 and returns -1 on a problem. */
static int announce_fields(struct http_req *r, struct announce_req *q)
{
	json_t *b = api_body(r);
	char err[160];
	if (rmj_get_str(b, "pubkey", 1, 64, &q->pubkey, err, sizeof err) ||
	    rmj_get_str(b, "hostname", 1, 253, &q->hostname, err, sizeof err) ||
	    rmj_get_str(b, "os", 0, 32, &q->os, err, sizeof err) ||
	    rmj_get_str(b, "arch", 0, 32, &q->arch, err, sizeof err) ||
	    rmj_get_str(b, "agent_version", 0, 32, &q->agent_version, err, sizeof err) ||
	    rmj_get_str(b, "restic_version", 0, 32, &q->restic_version, err, sizeof err)) {
		api_respond_invalid(r, err);
		return -1;
	}
	const char *bad = api_hostname_problem(q->hostname);
	if (bad) {
		api_respond_invalid(r, bad);
		return -1;
	}
	return 0;
}

void api_agent_announce(struct http_req *r, void *appv)
{
	struct app *app = appv;
	struct announce_req q = { 0 };
	if (rate_limited(r, app) || announce_fields(r, &q))
		return;
	q.address = http_req_remote_ip(r);
	struct store_pending p;
	int created = 0;
	int rc = store_tx_begin(app->store);
	if (!rc) {
		rc = announce_register(app, &q, &p, &created);
		if (!rc && created)
			rc = api_audit(app, "anonymous", "pending_host.announce", p.id,
			               json_pack("{s:s,s:s,s:s}", "hostname", p.hostname,
			                         "fingerprint", p.fingerprint, "address",
			                         p.address));
		rc = store_tx_end(app->store, rc);
	}
	switch (rc) {
	case RM_OK: break;
	case RM_ERR_INVAL:
		http_respond_error(r, 400, "invalid_field",
		                   "field 'pubkey' must be a base64 Ed25519 public key");
		return;
	case RM_ERR_FORBIDDEN:
		http_respond_error(r, 403, "announce_rejected",
		                   "an administrator rejected this host's key");
		return;
	case RM_ERR_AGAIN:
		retry_after(r, 60000);
		http_respond_error(r, 503, "too_many_pending",
		                   "too many hosts are waiting for approval; retry later");
		return;
	default: api_respond_store_error(r, "announce", rc); return;
	}
	if (created)
		RM_INFO("host announced", "pending_id", p.id, "hostname", p.hostname, "fingerprint",
		        p.fingerprint, "ip", q.address);
	http_respond_json(r, created ? 201 : 200, agent_view(&p, p.nonce));
}

/* The accepted agent collects its bearer (minted now: only its hash is stored). */
static void deliver(struct http_req *r, struct app *app, struct store_pending *p,
                    const char *old_nonce, const char *nonce)
{
	char *bearer = rm_random_token(32);
	char bhash[65];
	rm_sha256_hex(bearer, strlen(bearer), bhash);
	int64_t now = rm_now_ms();
	int rc = store_tx_begin(app->store);
	if (!rc) {
		rc = store_host_bearer_set(app->store, p->host_id, bhash);
		if (!rc)
			rc = store_pending_polled(app->store, p->id, old_nonce, nonce, now, now);
		if (!rc) {
			char actor[40];
			snprintf(actor, sizeof actor, "agent:%s", p->host_id);
			rc = api_audit(app, actor, "host.enroll", p->host_id,
			               json_pack("{s:s,s:s,s:s,s:s,s:s}", "via", "announce",
			                         "reported_hostname", p->hostname, "fingerprint",
			                         p->fingerprint, "os", p->os, "arch", p->arch));
		}
		rc = store_tx_end(app->store, rc);
	}
	if (rc == RM_ERR_CONFLICT) {
		http_respond_error(r, 401, "bad_signature", "stale nonce; announce again");
	} else if (rc == RM_ERR_NOTFOUND) {
		http_respond_error(r, 404, "not_found", "the accepted host no longer exists");
	} else if (rc) {
		api_respond_store_error(r, "announce deliver", rc);
	} else {
		RM_INFO("announced host collected its bearer", "host_id", p->host_id, "ip",
		        http_req_remote_ip(r));
		json_t *o = api_enroll_answer(app, p->host_id, bearer);
		json_object_set_new(o, "state", json_string("accepted"));
		json_object_set_new(o, "nonce", json_string(nonce));
		http_respond_json(r, 200, o);
	}
	sodium_memzero(bearer, strlen(bearer));
	free(bearer);
}

/* Answers a poll that proved the key, by the row's state. */
static void poll_answer(struct http_req *r, struct app *app, struct store_pending *p,
                        const char *old_nonce, const char *nonce)
{
	if (!strcmp(p->state, "accepted")) {
		deliver(r, app, p, old_nonce, nonce);
		return;
	}
	int rc = store_pending_polled(app->store, p->id, old_nonce, nonce, rm_now_ms(), 0);
	if (rc == RM_ERR_CONFLICT) {
		http_respond_error(r, 401, "bad_signature", "stale nonce; announce again");
	} else if (rc) {
		api_respond_store_error(r, "announce poll", rc);
	} else if (!strcmp(p->state, "rejected")) {
		http_respond_error(r, 403, "announce_rejected",
		                   "an administrator rejected this host; it will not be enrolled");
	} else if (announce_expired(p, rm_now_ms())) {
		http_respond_error(r, 410, "announce_expired",
		                   "nobody accepted this host in time; announce again");
	} else {
		http_respond_json(r, 200, agent_view(p, nonce));
	}
}

void api_agent_announce_poll(struct http_req *r, void *appv)
{
	struct app *app = appv;
	const char *id = http_req_param(r, "id");
	json_t *b = api_body(r);
	const char *nonce = NULL, *sig = NULL;
	char err[160];
	if (api_guard_refuse(r, app, NULL))
		return;
	if (rmj_get_str(b, "nonce", 1, 63, &nonce, err, sizeof err) ||
	    rmj_get_str(b, "signature", 1, 128, &sig, err, sizeof err)) {
		api_respond_invalid(r, err);
		return;
	}
	struct store_pending p;
	char next[64], old[64];
	int rc = announce_poll_check(app, id, nonce, sig, &p, next);
	if (rc == RM_ERR_NOTFOUND) {
		http_respond_error(r, 404, "not_found",
		                   "unknown announcement (expired or removed)");
		return;
	}
	if (rc == RM_ERR_AUTH) {
		RM_WARN("announce poll with a bad signature or stale nonce", "pending_id", id, "ip",
		        http_req_remote_ip(r));
		api_guard_failed(app, r, "announce");
		http_respond_error(r, 401, "bad_signature",
		                   "signature does not prove the announced key (or stale nonce)");
		return;
	}
	if (rc) {
		api_respond_store_error(r, "announce poll", rc);
		return;
	}
	rm_strlcpy(old, nonce, sizeof old);
	poll_answer(r, app, &p, old, next);
}

/* ------------------------------------------------------------------ operator side */

void api_pending_list(struct http_req *r, void *appv)
{
	struct app *app = appv;
	const char *st = http_req_query(r, "state");
	int all = st && !strcmp(st, "all");
	json_t *o = store_pending_list(app->store, all, rm_now_ms());
	if (!o) {
		api_respond_store_error(r, "pending list", RM_ERR_DB);
		return;
	}
	http_respond_json(r, 200, o);
}

/* Loads pending row `id` that is still waiting; responds and returns -1 otherwise. */
static int load_undecided(struct http_req *r, struct app *app, struct store_pending *p)
{
	int rc = store_pending_by_id(app->store, http_req_param(r, "id"), p);
	if (rc == RM_ERR_NOTFOUND) {
		http_respond_error(r, 404, "not_found", "unknown pending host");
		return -1;
	}
	if (rc) {
		api_respond_store_error(r, "pending get", rc);
		return -1;
	}
	if (strcmp(p->state, "pending")) {
		http_respond_error(r, 409, "already_decided", "this host was already %s", p->state);
		return -1;
	}
	if (announce_expired(p, rm_now_ms())) {
		http_respond_error(r, 410, "announce_expired",
		                   "this announcement expired; the agent must announce again");
		return -1;
	}
	return 0;
}

/* Inside the transaction: the host, the decision, the audit row. */
static int accept_tx(struct http_req *r, struct app *app, const struct store_pending *p,
                     struct api_new_host *nh, char host_id[RM_ULID_BUF])
{
	int rc = api_enroll_host_insert(app, nh, host_id);
	if (!rc)
		rc = store_pending_decide(app->store, p->id, "accepted", host_id, api_actor(r),
		                          rm_now_ms());
	if (rc == RM_ERR_NOTFOUND)
		rc = RM_ERR_CONFLICT; /* decided or expired meanwhile */
	if (!rc)
		rc = api_audit(app, api_actor(r), "pending_host.accept", host_id,
		               json_pack("{s:s,s:s,s:s,s:s,s:O}", "pending_id", p->id, "hostname",
		                         nh->hostname, "reported_hostname", p->hostname,
		                         "fingerprint", p->fingerprint, "tags", nh->tags));
	return rc;
}

void api_pending_accept(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *b = api_body(r), *creds = NULL, *no_tags = json_array(), *no_paths = json_array();
	struct store_pending p;
	const char *hostname = NULL;
	const json_t *tags = NULL, *paths = NULL;
	char err[160], *pt = NULL, host_id[RM_ULID_BUF] = "";
	if (load_undecided(r, app, &p) ||
	    api_enroll_fields(r, b, p.hostname, &hostname, &tags, &paths))
		goto out;
	const json_t *repo = json_object_get(b, "repo");
	if (!json_is_object(repo)) {
		api_respond_invalid(r, "field 'repo' must be an object with repo_url, "
		                       "repo_username, repo_password");
		goto out;
	}
	const char *bad = api_enroll_repo_creds(repo, &creds, err, sizeof err);
	if (bad) {
		api_respond_invalid(r, bad);
		goto out;
	}
	/* the agent's bearer is minted when it collects it (deliver): until then the host's
	 * bearer hash is that of a secret nobody knows */
	char *unknowable = rm_random_token(32), bhash[65];
	rm_sha256_hex(unknowable, strlen(unknowable), bhash);
	sodium_memzero(unknowable, strlen(unknowable));
	free(unknowable);
	pt = rmj_dumps(creds);
	struct api_new_host nh = { .hostname = hostname,
		                   .tags = tags ? tags : no_tags,
		                   .paths = paths ? paths : no_paths,
		                   .bearer_hash = bhash,
		                   .creds_pt = pt,
		                   .creds_len = strlen(pt) };
	int rc = store_tx_begin(app->store);
	if (!rc) {
		rc = accept_tx(r, app, &p, &nh, host_id);
		rc = store_tx_end(app->store, rc);
	}
	if (rc == RM_ERR_CONFLICT) {
		http_respond_error(r, 409, "already_decided", "this host was decided meanwhile");
		goto out;
	}
	if (rc) {
		api_respond_store_error(r, "pending accept", rc);
		goto out;
	}
	RM_INFO("announced host accepted", "pending_id", p.id, "host_id", host_id, "hostname",
	        hostname, "by", api_actor(r));
	api_enroll_host_created(app, host_id, json_array_size(nh.paths) > 0);
	json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "id", p.id, "state", "accepted", "host_id",
	                      host_id, "hostname", hostname);
	api_enroll_add_generated(o, creds);
	http_respond_json(r, 201, o);
out:
	if (pt) {
		sodium_memzero(pt, strlen(pt));
		free(pt);
	}
	rmj_wipe(creds);
	json_decref(creds);
	json_decref(no_tags);
	json_decref(no_paths);
}

void api_pending_reject(struct http_req *r, void *appv)
{
	struct app *app = appv;
	struct store_pending p;
	if (load_undecided(r, app, &p))
		return;
	int rc = store_tx_begin(app->store);
	if (!rc) {
		rc = store_pending_decide(app->store, p.id, "rejected", NULL, api_actor(r),
		                          rm_now_ms());
		if (!rc)
			rc = api_audit(app, api_actor(r), "pending_host.reject", p.id,
			               json_pack("{s:s,s:s,s:s}", "hostname", p.hostname,
			                         "fingerprint", p.fingerprint, "address",
			                         p.address));
		rc = store_tx_end(app->store, rc);
	}
	if (rc == RM_ERR_NOTFOUND) {
		http_respond_error(r, 409, "already_decided", "this host was decided meanwhile");
		return;
	}
	if (rc) {
		api_respond_store_error(r, "pending reject", rc);
		return;
	}
	RM_INFO("announced host rejected", "pending_id", p.id, "hostname", p.hostname, "by",
	        api_actor(r));
	http_respond_json(r, 200, json_pack("{s:s,s:s}", "id", p.id, "state", "rejected"));
}
