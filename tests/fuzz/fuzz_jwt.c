/* Fuzz target: what an identity provider (or whoever sits in its place) sends the OIDC
 * relying party: a JWKS document and an ID token. Input: JWKS JSON, a newline, the compact
 * JWT. Both are parsed; when both parse, the signature and the claims are checked too.
 * Replay outcome: accepted when the JWKS and the token decode (corpus/jwt/valid/),
 * refused otherwise (corpus/jwt/invalid/). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "server/engine/jwt.h"
#include "fuzz_outcome.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	char *nl = memchr(text, '\n', size);
	const char *tok = "";
	size_t jl = size;
	if (nl) {
		*nl = 0;
		jl = (size_t)(nl - text);
		tok = nl + 1;
	}
	char err[200];
	struct jwk_set *ks = NULL;
	int ok_keys = jwks_parse(text, jl, &ks, err, sizeof err) == RM_OK;
	struct jwt t;
	int ok_tok = jwt_decode(tok, &t, err, sizeof err) == RM_OK;
	if (ok_tok) {
		(void)jwt_verify(&t, ks);
		struct jwt_expect e = { .issuer = "https://idp.test",
			                .audience = "rm",
			                .nonce = "n0",
			                .now_s = 1800000000,
			                .skew_s = 120,
			                .max_age_s = 900 };
		(void)jwt_check_claims(t.claims, &e);
		jwt_cleanup(&t);
	}
	jwks_free(ks);
	free(text);
	fuzz_report(ok_keys && ok_tok);
	return 0;
}
