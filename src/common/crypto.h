#ifndef RM_COMMON_CRYPTO_H
#define RM_COMMON_CRYPTO_H
/* libsodium wrappers. Call rm_crypto_init() once at start (RM_OK or RM_ERR_CRYPTO). */
#include <stddef.h>
#include <stdint.h>

#define RM_KEY_BYTES 32
#define RM_PWHASH_MAX 128 /* >= crypto_pwhash_STRBYTES */

int rm_crypto_init(void);

/* XChaCha20-Poly1305-IETF with additional data `ad` (a NUL-terminated string binding the
 * ciphertext to its row/slot, e.g. "host_credentials:<host_id>:repo").
 * Output: malloc'd base64url (no padding) of nonce(24) || ciphertext+tag. */
int rm_aead_seal(const uint8_t key[RM_KEY_BYTES], const void *pt, size_t ptlen, const char *ad,
                 char **out_b64);
/* Inverse. *out_pt is malloc'd and NUL-terminated (extra byte not counted in *out_len).
 * Wrong key, wrong ad, truncated or tampered input -> RM_ERR_CRYPTO. */
int rm_aead_open(const uint8_t key[RM_KEY_BYTES], const char *b64, const char *ad, char **out_pt,
                 size_t *out_len);

/* Argon2id. Parameters are stored inside the hash string. Default: INTERACTIVE limits.
 * Cheap mode (opslimit MIN, memlimit MIN) exists only in test builds (compiled with
 * -DRM_TEST_BUILD: the ASan/UBSan build that unit and e2e tests run): there it is enabled
 * by the environment variable RM_ARGON2_CHEAP=1 at first use or by rm_pwhash_set_cheap(1).
 * In release builds both are ignored, so an environment cannot weaken stored hashes. */
void rm_pwhash_set_cheap(int cheap);
int rm_pwhash(const char *password, char out[RM_PWHASH_MAX]);
/* RM_OK on match, RM_ERR_AUTH on mismatch or malformed hash. */
int rm_pwhash_verify(const char *hash, const char *password);

/* SHA-256 of data, lowercase hex (64 chars + NUL). */
void rm_sha256_hex(const void *data, size_t len, char out[65]);
/* nbytes random bytes as base64url without padding, malloc'd. */
char *rm_random_token(size_t nbytes);
void rm_random_bytes(void *buf, size_t n);
/* Constant-time string equality (1 equal, 0 not). */
int rm_str_ct_eq(const char *a, const char *b);

/* Derive a 32-byte subkey from a master key for a named purpose (crypto_kdf, context is
 * the first 8 chars of purpose, id from a hash of the rest). */
void rm_kdf(const uint8_t master[RM_KEY_BYTES], const char *purpose, uint8_t out[RM_KEY_BYTES]);

/* Key file: 32 random bytes stored as 64 hex chars + newline, mode 0600.
 * rm_keyfile_load: RM_ERR_NOTFOUND if absent, RM_ERR_INVAL if malformed.
 * rm_keyfile_create: O_EXCL — RM_ERR_CONFLICT if the file exists (never overwrites). */
int rm_keyfile_load(const char *path, uint8_t key[RM_KEY_BYTES]);
int rm_keyfile_create(const char *path, uint8_t key[RM_KEY_BYTES]);

/* Value of one hex digit (either case), -1 if c is not one. */
int rm_hex_value(int c);
/* Hex helpers. rm_hex_decode: RM_ERR_INVAL on odd length / bad chars / wrong size. */
void rm_hex_encode(const uint8_t *in, size_t n, char *out /* 2n+1 */);
int rm_hex_decode(const char *hex, uint8_t *out, size_t outlen);

/* Writes all len bytes to fd (retries short writes and EINTR). RM_OK or RM_ERR_IO. */
int rm_write_all(int fd, const void *data, size_t len);
/* Atomic file write: tmp in the same dir + fsync + rename + fsync(dir), given mode. */
int rm_write_file_atomic(const char *path, const void *data, size_t len, int mode);
/* Reads a whole file (at most max bytes, else RM_ERR_TOOBIG), NUL-terminated, malloc'd. */
int rm_read_file(const char *path, size_t max, char **out, size_t *out_len);

#endif
