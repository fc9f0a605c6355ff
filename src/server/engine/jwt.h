#ifndef RM_SERVER_ENGINE_JWT_H
#define RM_SERVER_ENGINE_JWT_H
/* JSON Web Tokens for OIDC sign-in: the provider's key set (JWKS, RSA and P-256 keys),
 * compact JWS decoding, RS256/ES256 signature checks (OpenSSL EVP) and the ID token claim
 * checks (iss, aud/azp, exp, iat, nonce). Pure functions of their inputs: any thread. */
#include <jansson.h>
#include <stddef.h>

struct jwk_set;

/* Parses a JWKS document ({"keys":[...]}). Keys that are not RSA (RS256) or EC P-256
 * (ES256) signing keys are skipped; at most 32 are kept. RM_OK (even with 0 usable keys)
 * or RM_ERR_INVAL with a message. */
int jwks_parse(const char *text, size_t len, struct jwk_set **out, char *err, size_t errlen);
void jwks_free(struct jwk_set *ks); /* NULL ok */
size_t jwks_count(const struct jwk_set *ks);

#define JWT_MAX_LEN 16384

struct jwt {
	json_t *header;
	json_t *claims;
	char alg[16];
	char kid[128];
	unsigned char *sig;
	size_t sig_len;
	size_t signed_len; /* bytes of the token that were signed (header.payload) */
	const char *token; /* borrowed: the input */
};

/* Splits and decodes a compact JWS (three base64url parts, JSON header and payload).
 * No signature check. RM_OK or RM_ERR_INVAL (message in err). */
int jwt_decode(const char *token, struct jwt *out, char *err, size_t errlen);
void jwt_cleanup(struct jwt *t);

/* Checks the signature with the key named by kid (or, without kid, every key of the
 * algorithm's type). Only RS256 and ES256 are accepted ("none", HS*, others refused).
 * RM_OK, RM_ERR_NOTFOUND (no key with that kid: refetch the JWKS), RM_ERR_CRYPTO (bad
 * signature), RM_ERR_INVAL (algorithm refused / key type mismatch). */
int jwt_verify(const struct jwt *t, const struct jwk_set *keys);

struct jwt_expect {
	const char *issuer;
	const char *audience; /* our client_id */
	const char *nonce;    /* NULL: not checked */
	long long now_s;
	long long skew_s;    /* allowed clock skew for exp / iat / nbf */
	long long max_age_s; /* iat older than this is refused (0: not checked) */
};
/* Checks the ID token claims; NULL when fine, else a reason code: "bad_issuer",
 * "bad_audience", "bad_azp", "expired", "not_yet_valid", "bad_iat", "bad_nonce",
 * "missing_sub". */
const char *jwt_check_claims(const json_t *claims, const struct jwt_expect *e);

/* base64url (no padding) decode into a malloc'd buffer. RM_OK / RM_ERR_INVAL. */
int jwt_b64url_decode(const char *in, size_t inlen, unsigned char **out, size_t *outlen);

#endif
