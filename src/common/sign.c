/* Ed25519 signing for announce-and-approve (see sign.h). */
#include "common/sign.h"

#include <sodium.h>
#include <string.h>

#include "common/err.h"

#define POLL_CONTEXT "restic-manager announce poll v1"

char *rm_sign_poll_message(const char *id, const char *nonce)
{
	/* a context line keeps these signatures useless for anything else signed with the
	 * same key, and the newlines make the fields unambiguous (neither may hold one) */
	return rm_xasprintf("%s\n%s\n%s", POLL_CONTEXT, id ? id : "", nonce ? nonce : "");
}

void rm_sign_keypair(const uint8_t seed[RM_SIGN_SEED_BYTES], uint8_t pk[RM_SIGN_PK_BYTES],
                     uint8_t sk[RM_SIGN_SK_BYTES])
{
	crypto_sign_seed_keypair(pk, sk, seed);
}

void rm_sign_pk_b64(const uint8_t pk[RM_SIGN_PK_BYTES], char out[RM_SIGN_PK_B64_LEN + 1])
{
	sodium_bin2base64(out, RM_SIGN_PK_B64_LEN + 1, pk, RM_SIGN_PK_BYTES,
	                  sodium_base64_VARIANT_ORIGINAL);
}

/* Decodes exactly n bytes of canonical standard base64 (padding required). */
static int b64_exact(const char *b64, uint8_t *out, size_t n)
{
	size_t want = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL) - 1;
	size_t len = 0;
	if (!b64 || strlen(b64) != want)
		return RM_ERR_INVAL;
	if (sodium_base642bin(out, n, b64, want, NULL, &len, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    len != n)
		return RM_ERR_INVAL;
	/* canonical: re-encoding gives the same text (no stray low bits in the last char) */
	char back[RM_SIGN_SIG_B64_LEN + 1];
	if (want >= sizeof back)
		return RM_ERR_INVAL;
	sodium_bin2base64(back, sizeof back, out, n, sodium_base64_VARIANT_ORIGINAL);
	return strcmp(back, b64) ? RM_ERR_INVAL : RM_OK;
}

int rm_sign_pk_decode(const char *b64, uint8_t pk[RM_SIGN_PK_BYTES])
{
	return b64_exact(b64, pk, RM_SIGN_PK_BYTES);
}

void rm_sign_fingerprint(const uint8_t pk[RM_SIGN_PK_BYTES], char out[RM_SIGN_FP_LEN])
{
	uint8_t h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, pk, RM_SIGN_PK_BYTES);
	memcpy(out, "SHA256:", 7);
	sodium_bin2base64(out + 7, RM_SIGN_FP_LEN - 7, h, sizeof h,
	                  sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
}

char *rm_sign_detached_b64(const uint8_t sk[RM_SIGN_SK_BYTES], const void *msg, size_t len)
{
	uint8_t sig[crypto_sign_BYTES];
	crypto_sign_detached(sig, NULL, msg, len, sk);
	char *out = rm_xmalloc(RM_SIGN_SIG_B64_LEN + 1);
	sodium_bin2base64(out, RM_SIGN_SIG_B64_LEN + 1, sig, sizeof sig,
	                  sodium_base64_VARIANT_ORIGINAL);
	return out;
}

int rm_sign_verify_b64(const char *pk_b64, const void *msg, size_t len, const char *sig_b64)
{
	uint8_t pk[RM_SIGN_PK_BYTES], sig[crypto_sign_BYTES];
	if (rm_sign_pk_decode(pk_b64, pk) || b64_exact(sig_b64, sig, sizeof sig))
		return RM_ERR_INVAL;
	return crypto_sign_verify_detached(sig, msg, len, pk) == 0 ? RM_OK : RM_ERR_AUTH;
}
