#ifndef RM_COMMON_SIGN_H
#define RM_COMMON_SIGN_H
/* Ed25519 keys for announce-and-approve enrollment (libsodium; rm_crypto_init first).
 *
 * Public keys travel as standard base64 of the 32 raw bytes (44 characters), signatures as
 * standard base64 of the 64 raw bytes (88 characters). The fingerprint people compare is
 * "SHA256:" + unpadded standard base64 of SHA-256(raw public key) (like OpenSSH's, but over
 * the raw key, so it is not ssh-keygen's number): the agent prints it, the server lists
 * it, the UI shows the server's string; this one function renders it everywhere. */
#include <stddef.h>
#include <stdint.h>

#define RM_SIGN_PK_BYTES 32
#define RM_SIGN_SEED_BYTES 32
#define RM_SIGN_SK_BYTES 64
#define RM_SIGN_PK_B64_LEN 44  /* without NUL */
#define RM_SIGN_SIG_B64_LEN 88 /* without NUL */
#define RM_SIGN_FP_LEN 51      /* "SHA256:" + 43 + NUL */

/* The message an agent signs to prove it holds the key of pending announcement `id`
 * while polling with the server's current `nonce`. malloc'd. */
char *rm_sign_poll_message(const char *id, const char *nonce);

/* Key pair from a 32-byte seed (the agent stores the seed). */
void rm_sign_keypair(const uint8_t seed[RM_SIGN_SEED_BYTES], uint8_t pk[RM_SIGN_PK_BYTES],
                     uint8_t sk[RM_SIGN_SK_BYTES]);
/* Base64 of the public key into out (RM_SIGN_PK_B64_LEN + 1). */
void rm_sign_pk_b64(const uint8_t pk[RM_SIGN_PK_BYTES], char out[RM_SIGN_PK_B64_LEN + 1]);
/* Decodes a base64 public key: RM_OK, or RM_ERR_INVAL unless exactly 32 bytes of
 * canonical standard base64. */
int rm_sign_pk_decode(const char *b64, uint8_t pk[RM_SIGN_PK_BYTES]);
/* The fingerprint of a raw public key. */
void rm_sign_fingerprint(const uint8_t pk[RM_SIGN_PK_BYTES], char out[RM_SIGN_FP_LEN]);
/* Detached signature of msg as base64, malloc'd. */
char *rm_sign_detached_b64(const uint8_t sk[RM_SIGN_SK_BYTES], const void *msg, size_t len);
/* RM_OK when sig_b64 is a valid signature of msg by pk_b64; RM_ERR_INVAL for a malformed
 * key or signature, RM_ERR_AUTH for a wrong one. */
int rm_sign_verify_b64(const char *pk_b64, const void *msg, size_t len, const char *sig_b64);

#endif
