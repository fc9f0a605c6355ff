/* The pool side of OIDC sign-in: discovery, code exchange, ID token checks (JWKS cached,
 * refetched on an unknown kid), userinfo merge and role mapping. Blocking; never on the
 * loop. Secrets (client secret, code, tokens) never reach err/detail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/rmtime.h"
#include "server/engine/oidc_http.h"
#include "server/engine/oidc_int.h"

#define DISC_TTL_MS (60 * 60 * 1000)
#define JWKS_REFETCH_MIN_MS (10 * 1000)
#define CLOCK_SKEW_S 120
#define ID_TOKEN_MAX_AGE_S (15 * 60)

/* GET url -> parsed JSON object (status 200 only). */
static int get_json(const char *url, const char *bearer, json_t **out, char *err, size_t errlen)
{
	struct oidc_http_req q = { .url = url, .bearer = bearer };
	struct oidc_http_resp resp;
	int rc = oidc_http(&q, &resp, err, errlen);
	if (rc)
		return rc;
	if (resp.status != 200) {
		rmj_seterr(err, errlen, "HTTP %ld from %s", resp.status, url);
		rc = RM_ERR_PROTO;
	} else if (rmj_parse_object(resp.body, resp.len, OIDC_HTTP_MAX_BODY, out, err, errlen)) {
		rc = RM_ERR_PROTO;
	}
	oidc_http_resp_free(&resp);
	return rc;
}

static int copy_url(char *dst, const json_t *doc, const char *name, int required)
{
	const char *v = rmj_str(doc, name);
	if (!v || !v[0]) {
		dst[0] = 0;
		return required ? RM_ERR_PROTO : RM_OK;
	}
	if ((strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0) ||
	    rm_strlcpy(dst, v, OIDC_URL_MAX))
		return RM_ERR_PROTO;
	return RM_OK;
}

static int fetch_discovery(struct oidc *o, struct oidc_disc *d, char *err, size_t errlen)
{
	char *url = rm_xasprintf("%s/.well-known/openid-configuration", o->issuer);
	json_t *doc = NULL;
	int rc = get_json(url, NULL, &doc, err, errlen);
	free(url);
	if (rc)
		return rc;
	const char *iss = rmj_str(doc, "issuer");
	if (!iss || strcmp(iss, o->issuer) != 0) {
		rmj_seterr(err, errlen, "discovery: issuer \"%s\" is not the configured one",
		           iss ? iss : "");
		rc = RM_ERR_PROTO;
	} else if (copy_url(d->authorization_endpoint, doc, "authorization_endpoint", 1) ||
	           copy_url(d->token_endpoint, doc, "token_endpoint", 1) ||
	           copy_url(d->jwks_uri, doc, "jwks_uri", 1) ||
	           copy_url(d->userinfo_endpoint, doc, "userinfo_endpoint", 0) ||
	           copy_url(d->end_session_endpoint, doc, "end_session_endpoint", 0)) {
		rmj_seterr(err, errlen, "discovery: missing or bad endpoint URL");
		rc = RM_ERR_PROTO;
	}
	json_decref(doc);
	return rc;
}

int oidc_disc_cached(struct oidc *o, struct oidc_disc *d)
{
	pthread_mutex_lock(&o->mu);
	int fresh = o->have_disc && rm_now_ms() - o->disc_ms < DISC_TTL_MS;
	if (fresh)
		*d = o->disc;
	pthread_mutex_unlock(&o->mu);
	return fresh;
}

int oidc_flow_discovery(struct oidc *o, struct oidc_disc *d, char *err, size_t errlen)
{
	int64_t now = rm_now_ms();
	pthread_mutex_lock(&o->mu);
	int fresh = o->have_disc && now - o->disc_ms < DISC_TTL_MS;
	if (o->have_disc)
		*d = o->disc;
	int had = o->have_disc;
	pthread_mutex_unlock(&o->mu);
	if (fresh)
		return RM_OK;
	struct oidc_disc nd;
	memset(&nd, 0, sizeof nd);
	int rc = fetch_discovery(o, &nd, err, errlen);
	if (rc)
		return had ? RM_OK : rc; /* keep using a stale document over none */
	pthread_mutex_lock(&o->mu);
	o->disc = nd;
	o->disc_ms = now;
	o->have_disc = 1;
	pthread_mutex_unlock(&o->mu);
	*d = nd;
	return RM_OK;
}

static void fail(struct oidc_result *res, int rc, const char *reason, const char *detail)
{
	res->rc = rc ? rc : RM_ERR_AUTH;
	res->reason = reason;
	rm_strlcpy(res->detail, detail ? detail : "", sizeof res->detail);
}

/* POST the code to the token endpoint -> the token response object. */
static json_t *exchange_code(struct oidc *o, const struct oidc_disc *d,
                             const struct oidc_pending *p, const char *code,
                             struct oidc_result *res)
{
	char *ec = oidc_http_escape(code), *er = oidc_http_escape(o->redirect_url);
	char *ev = oidc_http_escape(p->verifier), *ei = oidc_http_escape(o->client_id);
	char *form = rm_xasprintf("grant_type=authorization_code&code=%s&redirect_uri=%s"
	                          "&code_verifier=%s&client_id=%s",
	                          ec, er, ev, ei);
	char *es = o->client_secret[0] ? oidc_http_escape(o->client_secret) : NULL;
	struct oidc_http_req q = { .url = d->token_endpoint, .form = form };
	if (es) {
		q.basic_user = ei;
		q.basic_pass = es;
	}
	struct oidc_http_resp resp;
	char err[200] = "";
	json_t *tok = NULL;
	int rc = oidc_http(&q, &resp, err, sizeof err);
	if (rc) {
		fail(res, RM_ERR_IO, "provider_unreachable", err);
	} else if (resp.status != 200 || rmj_parse_object(resp.body, resp.len, OIDC_HTTP_MAX_BODY,
	                                                  &tok, err, sizeof err)) {
		json_t *e = NULL;
		const char *code_s = NULL;
		if (!rmj_parse_object(resp.body, resp.len, 65536, &e, err, sizeof err))
			code_s = rmj_str(e, "error");
		char detail[200];
		snprintf(detail, sizeof detail, "token endpoint: HTTP %ld %.64s", resp.status,
		         code_s ? code_s : "");
		fail(res, RM_ERR_AUTH, "token_exchange_failed", detail);
		json_decref(e);
		tok = NULL;
	}
	oidc_http_resp_free(&resp);
	free(ec);
	free(er);
	free(ev);
	free(ei);
	if (es) {
		memset(es, 0, strlen(es));
		free(es);
	}
	memset(form, 0, strlen(form));
	free(form);
	return tok;
}

static int refetch_jwks(struct oidc *o, const struct oidc_disc *d, char *err, size_t errlen)
{
	struct oidc_http_req q = { .url = d->jwks_uri };
	struct oidc_http_resp resp;
	int rc = oidc_http(&q, &resp, err, errlen);
	if (rc)
		return rc;
	struct jwk_set *ks = NULL;
	if (resp.status != 200) {
		rmj_seterr(err, errlen, "jwks: HTTP %ld", resp.status);
		rc = RM_ERR_PROTO;
	} else {
		rc = jwks_parse(resp.body, resp.len, &ks, err, errlen);
	}
	oidc_http_resp_free(&resp);
	if (rc)
		return rc;
	pthread_mutex_lock(&o->mu);
	jwks_free(o->jwks);
	o->jwks = ks;
	o->jwks_ms = rm_now_ms();
	pthread_mutex_unlock(&o->mu);
	return RM_OK;
}

/* Signature with the cached keys; an unknown kid refetches the JWKS (rate-limited). */
static int verify_sig(struct oidc *o, const struct oidc_disc *d, const struct jwt *t,
                      struct oidc_result *res)
{
	pthread_mutex_lock(&o->mu);
	int rc = o->jwks ? jwt_verify(t, o->jwks) : RM_ERR_NOTFOUND;
	int may_fetch = !o->jwks || rm_now_ms() - o->jwks_ms >= JWKS_REFETCH_MIN_MS;
	pthread_mutex_unlock(&o->mu);
	if (rc == RM_ERR_NOTFOUND && may_fetch) {
		char err[200] = "";
		if (refetch_jwks(o, d, err, sizeof err)) {
			fail(res, RM_ERR_IO, "jwks_unavailable", err);
			return -1;
		}
		pthread_mutex_lock(&o->mu);
		rc = jwt_verify(t, o->jwks);
		pthread_mutex_unlock(&o->mu);
	}
	if (rc == RM_OK)
		return 0;
	fail(res, RM_ERR_AUTH,
	     rc == RM_ERR_INVAL      ? "bad_algorithm"
	     : rc == RM_ERR_NOTFOUND ? "unknown_key"
	                             : "bad_signature",
	     t->alg);
	return -1;
}

/* Decodes and checks the ID token; returns its claims (new reference) or NULL. */
static json_t *check_id_token(struct oidc *o, const struct oidc_disc *d, const char *id_token,
                              const struct oidc_pending *p, struct oidc_result *res)
{
	struct jwt t;
	char err[200] = "";
	if (!id_token || jwt_decode(id_token, &t, err, sizeof err)) {
		fail(res, RM_ERR_AUTH, "bad_id_token", id_token ? err : "no id_token");
		return NULL;
	}
	json_t *claims = NULL;
	if (!verify_sig(o, d, &t, res)) {
		struct jwt_expect e = {
			.issuer = o->issuer,
			.audience = o->client_id,
			.nonce = p->nonce,
			.now_s = rm_now_ms() / 1000,
			.skew_s = CLOCK_SKEW_S,
			.max_age_s = ID_TOKEN_MAX_AGE_S,
		};
		const char *why = jwt_check_claims(t.claims, &e);
		if (why)
			fail(res, RM_ERR_AUTH, why, "id token claims");
		else
			claims = json_incref(t.claims);
	}
	jwt_cleanup(&t);
	return claims;
}

/* Adds the userinfo claims the ID token lacks (same sub required). */
static int merge_userinfo(const struct oidc_disc *d, const char *access_token, json_t *claims,
                          struct oidc_result *res)
{
	if (!d->userinfo_endpoint[0] || !access_token)
		return 0;
	json_t *ui = NULL;
	char err[200] = "";
	if (get_json(d->userinfo_endpoint, access_token, &ui, err, sizeof err)) {
		fail(res, RM_ERR_IO, "userinfo_failed", err);
		return -1;
	}
	const char *s1 = rmj_str(ui, "sub"), *s2 = rmj_str(claims, "sub");
	if (!s1 || !s2 || strcmp(s1, s2) != 0) {
		json_decref(ui);
		fail(res, RM_ERR_AUTH, "userinfo_sub_mismatch", "userinfo sub differs");
		return -1;
	}
	const char *k;
	json_t *v;
	json_object_foreach (ui, k, v)
		if (!json_object_get(claims, k))
			json_object_set(claims, k, v);
	json_decref(ui);
	return 0;
}

void oidc_flow_finish(struct oidc *o, const struct oidc_pending *p, const char *code,
                      struct oidc_result *res)
{
	struct oidc_disc d;
	char err[200] = "";
	if (oidc_flow_discovery(o, &d, err, sizeof err)) {
		fail(res, RM_ERR_IO, "provider_unreachable", err);
		return;
	}
	json_t *tok = exchange_code(o, &d, p, code, res);
	if (!tok)
		return;
	json_t *claims = check_id_token(o, &d, rmj_str(tok, "id_token"), p, res);
	if (claims && !merge_userinfo(&d, rmj_str(tok, "access_token"), claims, res)) {
		int role = oidc_role_for_groups(&o->map, json_object_get(claims, o->groups_claim));
		rm_strlcpy(res->sub, rmj_str(claims, "sub"), sizeof res->sub);
		const char *email = rmj_str(claims, "email");
		rm_strlcpy(res->email, email ? email : "", sizeof res->email);
		oidc_username_base(claims, res->username);
		if (role < 0) {
			fail(res, RM_ERR_FORBIDDEN, "no_mapped_group",
			     "no group in the groups claim maps to a role");
		} else {
			res->role = role;
			res->rc = RM_OK;
			res->reason = NULL;
		}
	}
	rmj_wipe(tok);
	json_decref(tok);
	json_decref(claims);
}
