/* OIDC verifier: JWKS parsing, RS256/ES256 signatures with keys generated here, tampered
 * tokens (signature, payload, alg none/HS256, unknown kid), ID token claim checks (iss,
 * aud/azp, exp, iat, nonce, sub), the group -> role map and SSO usernames. */
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "server/engine/jwt.h"
#include "server/engine/oidc.h"
#include "server/engine/session.h"
#include "tap.h"

static EVP_PKEY *rsa, *ec, *rsa_small;

static char *b64u(const unsigned char *b, size_t n)
{
	size_t len = sodium_base64_encoded_len(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *o = malloc(len);
	sodium_bin2base64(o, len, b, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return o;
}

static char *bn_b64u(EVP_PKEY *k, const char *param, int pad)
{
	BIGNUM *bn = NULL;
	EVP_PKEY_get_bn_param(k, param, &bn);
	unsigned char buf[1024];
	int n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
	BN_free(bn);
	return b64u(buf, (size_t)n);
}

/* {"kty":..,"kid":..,...} for a public key */
static json_t *jwk_of(EVP_PKEY *k, const char *kid)
{
	if (EVP_PKEY_is_a(k, "RSA")) {
		char *n = bn_b64u(k, OSSL_PKEY_PARAM_RSA_N, 0),
		     *e = bn_b64u(k, OSSL_PKEY_PARAM_RSA_E, 0);
		json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s}", "kty", "RSA", "kid", kid, "use",
		                      "sig", "n", n, "e", e);
		free(n);
		free(e);
		return j;
	}
	char *x = bn_b64u(k, OSSL_PKEY_PARAM_EC_PUB_X, 32),
	     *y = bn_b64u(k, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
	json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s}", "kty", "EC", "kid", kid, "crv", "P-256", "x",
	                      x, "y", y);
	free(x);
	free(y);
	return j;
}

static struct jwk_set *keyset(void)
{
	json_t *doc = json_pack("{s:[o,o,{s:s,s:s},{s:s,s:s,s:s}]}", "keys", jwk_of(rsa, "r1"),
	                        jwk_of(ec, "e1"), "kty", "oct", "k", "c2VjcmV0", "kty", "RSA",
	                        "use", "enc", "n", "AQAB");
	char *s = json_dumps(doc, 0);
	struct jwk_set *ks = NULL;
	char err[200];
	EQ_INT(jwks_parse(s, strlen(s), &ks, err, sizeof err), RM_OK);
	free(s);
	json_decref(doc);
	return ks;
}

/* Signs header.claims with k (NULL: empty signature). */
static char *sign(EVP_PKEY *k, const char *alg, const char *kid, json_t *claims_take)
{
	json_t *h = json_pack("{s:s}", "alg", alg);
	if (kid)
		json_object_set_new(h, "kid", json_string(kid));
	char *hs = json_dumps(h, JSON_COMPACT), *cs = json_dumps(claims_take, JSON_COMPACT);
	char *h64 = b64u((unsigned char *)hs, strlen(hs)),
	     *c64 = b64u((unsigned char *)cs, strlen(cs));
	size_t inl = strlen(h64) + 1 + strlen(c64);
	char *input = malloc(inl + 1);
	snprintf(input, inl + 1, "%s.%s", h64, c64);
	unsigned char sig[1024];
	size_t sl = sizeof sig;
	if (k) {
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k);
		EVP_DigestSign(md, sig, &sl, (unsigned char *)input, inl);
		EVP_MD_CTX_free(md);
		if (EVP_PKEY_is_a(k, "EC")) { /* DER -> r||s */
			const unsigned char *p = sig;
			ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)sl);
			BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32);
			BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32);
			ECDSA_SIG_free(es);
			sl = 64;
		}
	} else {
		sl = 0;
	}
	char *s64 = b64u(sig, sl);
	size_t tl = inl + 2 + strlen(s64);
	char *tok = malloc(tl);
	snprintf(tok, tl, "%s.%s", input, s64);
	free(hs);
	free(cs);
	free(h64);
	free(c64);
	free(input);
	free(s64);
	json_decref(h);
	json_decref(claims_take);
	return tok;
}

#define NOW 1800000000LL
static json_t *claims(void)
{
	return json_pack("{s:s,s:s,s:s,s:I,s:I,s:s}", "iss", "https://idp.test", "sub", "u-1",
	                 "aud", "rm", "exp", (json_int_t)(NOW + 300), "iat", (json_int_t)(NOW - 5),
	                 "nonce", "n0");
}

static int verify(const char *tok, const struct jwk_set *ks)
{
	struct jwt t;
	char err[200];
	if (jwt_decode(tok, &t, err, sizeof err))
		return -100;
	int rc = jwt_verify(&t, ks);
	jwt_cleanup(&t);
	return rc;
}

TEST(signatures)
{
	struct jwk_set *ks = keyset();
	EQ_INT((int)jwks_count(ks), 2); /* oct and enc keys skipped */
	char *t = sign(rsa, "RS256", "r1", claims());
	EQ_INT(verify(t, ks), RM_OK);
	/* tampered signature */
	size_t n = strlen(t);
	t[n - 5] = t[n - 5] == 'A' ? 'B' : 'A';
	EQ_INT(verify(t, ks), RM_ERR_CRYPTO);
	free(t);
	t = sign(ec, "ES256", "e1", claims());
	EQ_INT(verify(t, ks), RM_OK);
	/* tampered payload: swap the claims part for another one */
	char *other = sign(ec, "ES256", "e1", json_pack("{s:s}", "sub", "admin"));
	char *d1 = strchr(t, '.'), *d2 = strchr(d1 + 1, '.');
	char *o1 = strchr(other, '.'), *o2 = strchr(o1 + 1, '.');
	char forged[4096];
	snprintf(forged, sizeof forged, "%.*s%.*s%s", (int)(d1 - t), t, (int)(o2 - o1), o1, d2);
	EQ_INT(verify(forged, ks), RM_ERR_CRYPTO);
	free(other);
	free(t);
	/* no kid: every key of the type is tried */
	t = sign(rsa, "RS256", NULL, claims());
	EQ_INT(verify(t, ks), RM_OK);
	free(t);
	/* unknown kid: refetch signal; a key of another provider fails */
	t = sign(rsa, "RS256", "r2", claims());
	EQ_INT(verify(t, ks), RM_ERR_NOTFOUND);
	free(t);
	EVP_PKEY *rogue = EVP_RSA_gen(2048);
	t = sign(rogue, "RS256", "r1", claims());
	EQ_INT(verify(t, ks), RM_ERR_CRYPTO);
	free(t);
	EVP_PKEY_free(rogue);
	/* algorithm confusion: none, HS256, RS256 header over an EC key */
	t = sign(NULL, "none", NULL, claims());
	EQ_INT(verify(t, ks), RM_ERR_INVAL);
	free(t);
	t = sign(rsa, "HS256", "r1", claims());
	EQ_INT(verify(t, ks), RM_ERR_INVAL);
	free(t);
	t = sign(ec, "RS256", "e1", claims());
	EQ_INT(verify(t, ks), RM_ERR_NOTFOUND);
	free(t);
	t = sign(NULL, "ES256", "e1", claims());
	EQ_INT(verify(t, ks), RM_ERR_CRYPTO);
	free(t);
	jwks_free(ks);
}

TEST(jwks_and_decode_bad_input)
{
	struct jwk_set *ks = NULL;
	char err[200];
	EQ_INT(jwks_parse("nope", 4, &ks, err, sizeof err), RM_ERR_INVAL);
	EQ_INT(jwks_parse("{\"keys\":{}}", 11, &ks, err, sizeof err), RM_ERR_INVAL);
	/* a 1024-bit RSA key and a P-384 key are not kept */
	json_t *doc = json_pack("{s:[o,{s:s,s:s,s:s,s:s}]}", "keys", jwk_of(rsa_small, "s"), "kty",
	                        "EC", "crv", "P-384", "x", "AAAA", "y", "AAAA");
	char *s = json_dumps(doc, 0);
	EQ_INT(jwks_parse(s, strlen(s), &ks, err, sizeof err), RM_OK);
	EQ_INT((int)jwks_count(ks), 0);
	jwks_free(ks);
	free(s);
	json_decref(doc);
	struct jwt t;
	const char *bad[] = { "",
		              "a.b",
		              "a.b.c.d",
		              "!!.e30.",
		              "e30.e30",
		              "W10.e30.",
		              "e30.W10.",
		              "eyJhbGciOjF9.e30.",
		              "eyJhbGciOiJSUzI1NiJ9.e30.!!" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		EQ_INT(jwt_decode(bad[i], &t, err, sizeof err), RM_ERR_INVAL);
	/* "crit" headers are refused */
	EQ_INT(jwt_decode("eyJhbGciOiJSUzI1NiIsImNyaXQiOlsieCJdfQ.e30.", &t, err, sizeof err),
	       RM_ERR_INVAL);
}

static const char *check(json_t *c_take, const char *nonce)
{
	struct jwt_expect e = { .issuer = "https://idp.test",
		                .audience = "rm",
		                .nonce = nonce,
		                .now_s = NOW,
		                .skew_s = 120,
		                .max_age_s = 900 };
	const char *why = jwt_check_claims(c_take, &e);
	json_decref(c_take);
	return why;
}

static json_t *with(const char *k, json_t *v)
{
	json_t *c = claims();
	if (v)
		json_object_set_new(c, k, v);
	else
		json_object_del(c, k);
	return c;
}

TEST(claims_checks)
{
	OK(check(claims(), "n0") == NULL);
	EQ_STR(check(with("iss", json_string("https://evil.test")), "n0"), "bad_issuer");
	EQ_STR(check(with("iss", NULL), "n0"), "bad_issuer");
	EQ_STR(check(with("aud", json_string("other")), "n0"), "bad_audience");
	EQ_STR(check(with("aud", json_pack("[s,s]", "other", "rm")), "n0"), "bad_azp");
	json_t *c = with("aud", json_pack("[s,s]", "other", "rm"));
	json_object_set_new(c, "azp", json_string("rm"));
	OK(check(c, "n0") == NULL);
	c = claims();
	json_object_set_new(c, "azp", json_string("other"));
	EQ_STR(check(c, "n0"), "bad_azp");
	EQ_STR(check(with("exp", json_integer(NOW - 200)), "n0"), "expired");
	EQ_STR(check(with("exp", NULL), "n0"), "expired");
	OK(check(with("exp", json_integer(NOW - 60)), "n0") == NULL); /* within the skew */
	EQ_STR(check(with("iat", json_integer(NOW + 600)), "n0"), "bad_iat");
	EQ_STR(check(with("iat", json_integer(NOW - 7200)), "n0"), "bad_iat");
	EQ_STR(check(with("nbf", json_integer(NOW + 600)), "n0"), "not_yet_valid");
	EQ_STR(check(claims(), "n1"), "bad_nonce");
	EQ_STR(check(with("nonce", NULL), "n0"), "bad_nonce");
	EQ_STR(check(with("sub", json_string("")), "n0"), "missing_sub");
}

TEST(role_map)
{
	struct oidc_role_map m;
	char err[200];
	EQ_INT(oidc_role_map_parse("ops-admins=admin, ops = operator,staff=viewer", "", &m, err,
	                           sizeof err),
	       RM_OK);
	EQ_INT(m.n, 3);
	json_t *g = json_pack("[s,s]", "staff", "ops-admins");
	EQ_INT(oidc_role_for_groups(&m, g), ROLE_ADMIN); /* the highest wins */
	json_decref(g);
	g = json_pack("[s,i]", "ops", 5);
	EQ_INT(oidc_role_for_groups(&m, g), ROLE_OPERATOR);
	json_decref(g);
	g = json_string("marketing staff");
	EQ_INT(oidc_role_for_groups(&m, g), ROLE_VIEWER);
	json_decref(g);
	g = json_pack("[s]", "marketing");
	EQ_INT(oidc_role_for_groups(&m, g), -1);
	EQ_INT(oidc_role_for_groups(&m, NULL), -1);
	EQ_INT(oidc_role_map_parse("ops=operator", "viewer", &m, err, sizeof err), RM_OK);
	EQ_INT(oidc_role_for_groups(&m, g), ROLE_VIEWER);
	json_decref(g);
	EQ_INT(oidc_role_map_parse("ops", "", &m, err, sizeof err), RM_ERR_INVAL);
	EQ_INT(oidc_role_map_parse("ops=root", "", &m, err, sizeof err), RM_ERR_INVAL);
	EQ_INT(oidc_role_map_parse("=admin", "", &m, err, sizeof err), RM_ERR_INVAL);
	EQ_INT(oidc_role_map_parse("", "root", &m, err, sizeof err), RM_ERR_INVAL);
}

TEST(usernames)
{
	char u[57];
	json_t *c = json_pack("{s:s,s:s}", "preferred_username", "Alice Smith!", "email", "x@y");
	oidc_username_base(c, u);
	EQ_STR(u, "alice-smith");
	json_decref(c);
	c = json_pack("{s:s}", "email", "Dave.Viewer+x@example.test");
	oidc_username_base(c, u);
	EQ_STR(u, "dave.viewer-x");
	json_decref(c);
	c = json_pack("{s:s}", "preferred_username", "\xc3\xa9\xc3\xa9");
	oidc_username_base(c, u);
	EQ_STR(u, "sso-user");
	json_decref(c);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	rsa = EVP_RSA_gen(2048);
	rsa_small = EVP_RSA_gen(1024);
	ec = EVP_EC_gen("P-256");
	RUN(signatures);
	RUN(jwks_and_decode_bad_input);
	RUN(claims_checks);
	RUN(role_map);
	RUN(usernames);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(rsa_small);
	EVP_PKEY_free(ec);
	return tap_done();
}
