/* JWKS parsing, compact JWS decoding, RS256/ES256 verification, ID token claim checks. */
#include "server/engine/jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/err.h"
#include "common/json.h"

#define JWKS_MAX_KEYS 32
#define JWKS_MAX_LEN (256 * 1024)

enum jwk_kind { JWK_RSA = 1, JWK_EC = 2 };

struct jwk {
	char kid[128];
	enum jwk_kind kind;
	EVP_PKEY *pkey;
};

struct jwk_set {
	size_t n;
	struct jwk k[JWKS_MAX_KEYS];
};

int jwt_b64url_decode(const char *in, size_t inlen, unsigned char **out, size_t *outlen)
{
	size_t cap = inlen / 4 * 3 + 3;
	unsigned char *buf = malloc(cap ? cap : 1);
	if (!buf)
		return RM_ERR_NOMEM;
	size_t n = 0;
	const char *end = NULL;
	if (sodium_base642bin(buf, cap, in, inlen, NULL, &n, &end,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    end != in + inlen) {
		free(buf);
		return RM_ERR_INVAL;
	}
	*out = buf;
	*outlen = n;
	return RM_OK;
}

/* A base64url member of a JWK decoded; NULL if absent/bad or not within [min, max]. */
static unsigned char *jwk_bytes(const json_t *k, const char *name, size_t min, size_t max,
                                size_t *len)
{
	const char *s = rmj_str(k, name);
	unsigned char *b = NULL;
	if (!s || jwt_b64url_decode(s, strlen(s), &b, len))
		return NULL;
	if (*len < min || *len > max) {
		free(b);
		return NULL;
	}
	return b;
}

static EVP_PKEY *pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
	EVP_PKEY *pkey = NULL;
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pkey;
}

static EVP_PKEY *rsa_key(const json_t *k)
{
	size_t nl = 0, el = 0;
	unsigned char *nb = jwk_bytes(k, "n", 256, 1024, &nl); /* 2048..8192 bits */
	unsigned char *eb = jwk_bytes(k, "e", 1, 8, &el);
	EVP_PKEY *pkey = NULL;
	if (nb && eb && nb[0] != 0) {
		BIGNUM *n = BN_bin2bn(nb, (int)nl, NULL), *e = BN_bin2bn(eb, (int)el, NULL);
		OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
		if (n && e && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
		    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
			pkey = pkey_fromdata("RSA", bld);
		OSSL_PARAM_BLD_free(bld);
		BN_free(n);
		BN_free(e);
	}
	free(nb);
	free(eb);
	return pkey;
}

static EVP_PKEY *ec_key(const json_t *k)
{
	const char *crv = rmj_str(k, "crv");
	if (!crv || strcmp(crv, "P-256") != 0)
		return NULL;
	size_t xl = 0, yl = 0;
	unsigned char *x = jwk_bytes(k, "x", 32, 32, &xl);
	unsigned char *y = jwk_bytes(k, "y", 32, 32, &yl);
	EVP_PKEY *pkey = NULL;
	if (x && y) {
		unsigned char pub[65];
		pub[0] = 4;
		memcpy(pub + 1, x, 32);
		memcpy(pub + 33, y, 32);
		OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
		if (bld &&
		    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1",
		                                    0) &&
		    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub))
			pkey = pkey_fromdata("EC", bld);
		OSSL_PARAM_BLD_free(bld);
	}
	free(x);
	free(y);
	return pkey;
}

/* One JWKS entry -> ks (skipped silently when not a usable signing key). */
static void jwks_add(struct jwk_set *ks, const json_t *k)
{
	const char *kty = rmj_str(k, "kty"), *use = rmj_str(k, "use"), *alg = rmj_str(k, "alg");
	const char *kid = rmj_str(k, "kid");
	if (!json_is_object(k) || !kty || ks->n >= JWKS_MAX_KEYS)
		return;
	if (use && strcmp(use, "sig") != 0)
		return;
	if (kid && strlen(kid) >= sizeof ks->k[0].kid)
		return;
	struct jwk *j = &ks->k[ks->n];
	if (strcmp(kty, "RSA") == 0 && (!alg || strcmp(alg, "RS256") == 0)) {
		j->kind = JWK_RSA;
		j->pkey = rsa_key(k);
	} else if (strcmp(kty, "EC") == 0 && (!alg || strcmp(alg, "ES256") == 0)) {
		j->kind = JWK_EC;
		j->pkey = ec_key(k);
	}
	if (!j->pkey)
		return;
	rm_strlcpy(j->kid, kid ? kid : "", sizeof j->kid);
	ks->n++;
}

int jwks_parse(const char *text, size_t len, struct jwk_set **out, char *err, size_t errlen)
{
	json_t *doc = NULL;
	if (rmj_parse_object(text, len, JWKS_MAX_LEN, &doc, err, errlen))
		return RM_ERR_INVAL;
	json_t *keys = json_object_get(doc, "keys");
	if (!json_is_array(keys)) {
		rmj_seterr(err, errlen, "jwks: \"keys\" must be an array");
		json_decref(doc);
		return RM_ERR_INVAL;
	}
	struct jwk_set *ks = rm_xcalloc(1, sizeof *ks);
	size_t i;
	json_t *k;
	json_array_foreach (keys, i, k)
		jwks_add(ks, k);
	json_decref(doc);
	*out = ks;
	return RM_OK;
}

void jwks_free(struct jwk_set *ks)
{
	if (!ks)
		return;
	for (size_t i = 0; i < ks->n; i++)
		EVP_PKEY_free(ks->k[i].pkey);
	free(ks);
}

size_t jwks_count(const struct jwk_set *ks)
{
	return ks ? ks->n : 0;
}

/* ---- compact JWS ---- */

static json_t *b64_json(const char *p, size_t n, char *err, size_t errlen, const char *what)
{
	unsigned char *b = NULL;
	size_t bl = 0;
	json_t *v = NULL;
	if (jwt_b64url_decode(p, n, &b, &bl)) {
		rmj_seterr(err, errlen, "jwt: %s is not base64url", what);
		return NULL;
	}
	if (rmj_parse_object((const char *)b, bl, JWT_MAX_LEN, &v, err, errlen))
		v = NULL;
	free(b);
	return v;
}

int jwt_decode(const char *token, struct jwt *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	size_t len = token ? strlen(token) : 0;
	const char *d1 = len ? memchr(token, '.', len) : NULL;
	const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
	if (!len || len > JWT_MAX_LEN || !d1 || !d2 || memchr(d2 + 1, '.', strlen(d2 + 1))) {
		rmj_seterr(err, errlen, "jwt: not a compact JWS");
		return RM_ERR_INVAL;
	}
	out->token = token;
	out->signed_len = (size_t)(d2 - token);
	out->header = b64_json(token, (size_t)(d1 - token), err, errlen, "header");
	if (out->header)
		out->claims = b64_json(d1 + 1, (size_t)(d2 - d1 - 1), err, errlen, "payload");
	if (!out->claims)
		goto bad;
	const char *alg = rmj_str(out->header, "alg"), *kid = rmj_str(out->header, "kid");
	if (!alg || rm_strlcpy(out->alg, alg, sizeof out->alg) ||
	    (kid && rm_strlcpy(out->kid, kid, sizeof out->kid))) {
		rmj_seterr(err, errlen, "jwt: bad alg or kid");
		goto bad;
	}
	if (json_object_get(out->header, "crit")) {
		rmj_seterr(err, errlen, "jwt: unsupported crit header");
		goto bad;
	}
	/* an empty signature ("alg":"none") decodes; jwt_verify refuses it */
	if (jwt_b64url_decode(d2 + 1, strlen(d2 + 1), &out->sig, &out->sig_len)) {
		rmj_seterr(err, errlen, "jwt: bad signature encoding");
		goto bad;
	}
	return RM_OK;
bad:
	jwt_cleanup(out);
	return RM_ERR_INVAL;
}

void jwt_cleanup(struct jwt *t)
{
	json_decref(t->header);
	json_decref(t->claims);
	free(t->sig);
	memset(t, 0, sizeof *t);
}

/* ES256 signatures are r||s (2 x 32 bytes); EVP wants DER. */
static unsigned char *es256_der(const unsigned char *sig, size_t len, size_t *der_len)
{
	if (len != 64)
		return NULL;
	ECDSA_SIG *s = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, 32, NULL), *sv = BN_bin2bn(sig + 32, 32, NULL);
	unsigned char *der = NULL;
	if (s && r && sv && ECDSA_SIG_set0(s, r, sv)) {
		r = sv = NULL; /* owned by s */
		int n = i2d_ECDSA_SIG(s, &der);
		if (n > 0)
			*der_len = (size_t)n;
		else
			der = NULL;
	}
	BN_free(r);
	BN_free(sv);
	ECDSA_SIG_free(s);
	return der;
}

static int verify_with(EVP_PKEY *pkey, const unsigned char *sig, size_t sig_len, const char *data,
                       size_t len)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1 &&
	         EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)data, len) == 1;
	EVP_MD_CTX_free(md);
	return ok;
}

int jwt_verify(const struct jwt *t, const struct jwk_set *keys)
{
	enum jwk_kind kind;
	if (strcmp(t->alg, "RS256") == 0)
		kind = JWK_RSA;
	else if (strcmp(t->alg, "ES256") == 0)
		kind = JWK_EC;
	else
		return RM_ERR_INVAL;
	if (!t->sig_len)
		return RM_ERR_CRYPTO;
	const unsigned char *sig = t->sig;
	size_t sig_len = t->sig_len;
	unsigned char *der = NULL;
	if (kind == JWK_EC) {
		der = es256_der(t->sig, t->sig_len, &sig_len);
		if (!der)
			return RM_ERR_CRYPTO;
		sig = der;
	}
	int found = 0, ok = 0;
	for (size_t i = 0; keys && i < keys->n && !ok; i++) {
		const struct jwk *k = &keys->k[i];
		if (t->kid[0] && strcmp(k->kid, t->kid) != 0)
			continue;
		if (k->kind != kind)
			continue;
		found = 1;
		ok = verify_with(k->pkey, sig, sig_len, t->token, t->signed_len);
	}
	OPENSSL_free(der);
	if (ok)
		return RM_OK;
	return found ? RM_ERR_CRYPTO : RM_ERR_NOTFOUND;
}

/* ---- claims ---- */

static int num_claim(const json_t *c, const char *name, long long *out)
{
	json_t *v = json_object_get(c, name);
	if (!json_is_number(v))
		return 0;
	double d = json_number_value(v);
	if (d != d || d < 0 || d > 1e15)
		return 0;
	*out = (long long)d;
	return 1;
}

static const char *check_aud(const json_t *c, const char *client_id)
{
	json_t *aud = json_object_get(c, "aud");
	const char *azp = rmj_str(c, "azp");
	size_t n = 1;
	int match = 0;
	if (json_is_string(aud)) {
		match = strcmp(json_string_value(aud), client_id) == 0;
	} else if (json_is_array(aud)) {
		size_t i;
		json_t *a;
		n = json_array_size(aud);
		json_array_foreach (aud, i, a)
			if (json_is_string(a) && strcmp(json_string_value(a), client_id) == 0)
				match = 1;
	}
	if (!match)
		return "bad_audience";
	if ((n > 1 && !azp) || (azp && strcmp(azp, client_id) != 0))
		return "bad_azp";
	return NULL;
}

const char *jwt_check_claims(const json_t *c, const struct jwt_expect *e)
{
	const char *iss = rmj_str(c, "iss"), *sub = rmj_str(c, "sub");
	if (!iss || !e->issuer || strcmp(iss, e->issuer) != 0)
		return "bad_issuer";
	const char *why = check_aud(c, e->audience ? e->audience : "");
	if (why)
		return why;
	long long exp, iat, nbf;
	if (!num_claim(c, "exp", &exp) || e->now_s - e->skew_s >= exp)
		return "expired";
	if (num_claim(c, "nbf", &nbf) && e->now_s + e->skew_s < nbf)
		return "not_yet_valid";
	if (!num_claim(c, "iat", &iat) || iat > e->now_s + e->skew_s ||
	    (e->max_age_s > 0 && e->now_s - iat > e->max_age_s + e->skew_s))
		return "bad_iat";
	if (e->nonce) {
		const char *nonce = rmj_str(c, "nonce");
		if (!nonce || !rm_str_ct_eq(nonce, e->nonce))
			return "bad_nonce";
	}
	if (!sub || !sub[0] || strlen(sub) > 255)
		return "missing_sub";
	return NULL;
}
