/* Unit tests: Ed25519 keys for announce-and-approve (common/sign.c): the fingerprint
 * rendering shared by agent, server and UI, and signature verification. The expected
 * values were computed independently with node's crypto (Ed25519 from the same seed). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/err.h"
#include "common/sign.h"
#include "tap.h"

#define PK_B64 "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="
#define FP "SHA256:Vkdap1RjR0wChd9dvyvKtz2mUTWIOem3dIGy6rEHcIw"
#define SIG_B64                                                    \
	"yJl6ezM0XOa+AoB1/V3PAzB0oEXCfKW1rh6sRkTaj5iGIAJdzT4QsY2U" \
	"B+jpu4X/PbiPpXsm9UuaQ/bvOzy7DQ=="

static void seed_keys(uint8_t pk[RM_SIGN_PK_BYTES], uint8_t sk[RM_SIGN_SK_BYTES])
{
	uint8_t seed[RM_SIGN_SEED_BYTES];
	for (int i = 0; i < RM_SIGN_SEED_BYTES; i++)
		seed[i] = (uint8_t)i;
	rm_sign_keypair(seed, pk, sk);
}

TEST(fingerprint_rendering)
{
	uint8_t pk[RM_SIGN_PK_BYTES], sk[RM_SIGN_SK_BYTES], back[RM_SIGN_PK_BYTES];
	char b64[RM_SIGN_PK_B64_LEN + 1], fp[RM_SIGN_FP_LEN];
	seed_keys(pk, sk);
	rm_sign_pk_b64(pk, b64);
	EQ_STR(b64, PK_B64);
	rm_sign_fingerprint(pk, fp);
	EQ_STR(fp, FP);
	EQ_INT((int)strlen(fp), RM_SIGN_FP_LEN - 1);
	EQ_INT(rm_sign_pk_decode(PK_B64, back), RM_OK);
	OK(memcmp(back, pk, sizeof pk) == 0);
	/* only canonical, padded, exact-length standard base64 */
	EQ_INT(rm_sign_pk_decode("A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg", back),
	       RM_ERR_INVAL);
	EQ_INT(rm_sign_pk_decode("A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=", back),
	       RM_ERR_INVAL);
	EQ_INT(rm_sign_pk_decode("A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbh=", back),
	       RM_ERR_INVAL);
	EQ_INT(rm_sign_pk_decode("AAAA", back), RM_ERR_INVAL);
	EQ_INT(rm_sign_pk_decode("", back), RM_ERR_INVAL);
	EQ_INT(rm_sign_pk_decode(NULL, back), RM_ERR_INVAL);
}

TEST(signatures)
{
	uint8_t pk[RM_SIGN_PK_BYTES], sk[RM_SIGN_SK_BYTES];
	seed_keys(pk, sk);
	char *msg = rm_sign_poll_message("01ABC", "nonce1");
	EQ_STR(msg, "restic-manager announce poll v1\n01ABC\nnonce1");
	char *sig = rm_sign_detached_b64(sk, msg, strlen(msg));
	EQ_STR(sig, SIG_B64); /* Ed25519 is deterministic */
	EQ_INT(rm_sign_verify_b64(PK_B64, msg, strlen(msg), sig), RM_OK);
	/* another message, key or signature */
	EQ_INT(rm_sign_verify_b64(PK_B64, msg, strlen(msg) - 1, sig), RM_ERR_AUTH);
	uint8_t pk2[RM_SIGN_PK_BYTES], sk2[RM_SIGN_SK_BYTES], seed2[RM_SIGN_SEED_BYTES] = { 9 };
	char pk2b[RM_SIGN_PK_B64_LEN + 1];
	rm_sign_keypair(seed2, pk2, sk2);
	rm_sign_pk_b64(pk2, pk2b);
	EQ_INT(rm_sign_verify_b64(pk2b, msg, strlen(msg), sig), RM_ERR_AUTH);
	char *sig2 = rm_sign_detached_b64(sk2, msg, strlen(msg));
	EQ_INT(rm_sign_verify_b64(PK_B64, msg, strlen(msg), sig2), RM_ERR_AUTH);
	sig[10] = sig[10] == 'A' ? 'B' : 'A';
	EQ_INT(rm_sign_verify_b64(PK_B64, msg, strlen(msg), sig), RM_ERR_AUTH);
	/* malformed inputs */
	EQ_INT(rm_sign_verify_b64(PK_B64, msg, strlen(msg), "not base64"), RM_ERR_INVAL);
	EQ_INT(rm_sign_verify_b64(PK_B64, msg, strlen(msg), ""), RM_ERR_INVAL);
	EQ_INT(rm_sign_verify_b64(PK_B64, msg, strlen(msg), NULL), RM_ERR_INVAL);
	EQ_INT(rm_sign_verify_b64("AAAA", msg, strlen(msg), sig2), RM_ERR_INVAL);
	/* the fields of the poll message cannot be shifted into each other */
	char *m2 = rm_sign_poll_message("01ABC\nnonce1", "");
	OK(strcmp(m2, msg) != 0);
	free(m2);
	free(sig);
	free(sig2);
	free(msg);
}

int main(void)
{
	if (rm_crypto_init())
		return 1;
	RUN(fingerprint_rendering);
	RUN(signatures);
	return tap_done();
}
