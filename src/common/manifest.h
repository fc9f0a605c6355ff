#ifndef RM_COMMON_MANIFEST_H
#define RM_COMMON_MANIFEST_H
/* Signed agent release manifests (C6 agent updates; docs/internals/agent.md).
 *
 * A release is an agent binary plus a small text manifest describing it, signed offline
 * with the release key (Ed25519, libsodium):
 *
 *   restic-manager-agent-manifest 1
 *   version 0.2.0
 *   os linux
 *   arch amd64
 *   size 1234567
 *   sha256 <64 lowercase hex>
 *
 * The signature (BINARY.manifest.sig: base64 of the 64-byte detached signature) covers
 * the manifest's exact bytes, the first line included: it binds version, os/arch, size and
 * digest together, so a signature cannot be replayed for another file, version or
 * architecture. The manifest is verified BEFORE it is parsed. Pure functions, any thread. */
#include <stddef.h>
#include <stdint.h>

#define RM_MANIFEST_MAX 1024                /* bytes of manifest text */
#define RM_MANIFEST_SIZE_MAX (256ull << 20) /* an agent binary is never bigger */
#define RM_RELEASE_PK_BYTES 32
#define RM_RELEASE_SK_BYTES 64
#define RM_RELEASE_SIG_BYTES 64

struct rm_manifest {
	char version[65];
	char os[17];
	char arch[17];
	unsigned long long size;
	char sha256[65]; /* lowercase hex */
};

/* Parses manifest text (not NUL-terminated). RM_OK, or RM_ERR_INVAL with a reason in err
 * (unknown first line, missing/duplicate/unknown key, bad value, size 0 or too big).
 * *out is set only on success. */
int rm_manifest_parse(const char *text, size_t len, struct rm_manifest *out, char *err,
                      size_t errlen);
/* The canonical text of m (caller frees). */
char *rm_manifest_format(const struct rm_manifest *m);

/* base64 (standard, padded) of a public key / signature <-> bytes. decode: RM_OK or
 * RM_ERR_INVAL (not base64, wrong length). */
int rm_release_b64_decode(const char *b64, uint8_t *out, size_t n);
char *rm_release_b64_encode(const uint8_t *in, size_t n); /* caller frees */

/* RM_OK when sig_b64 is a valid signature of text by pk_b64; RM_ERR_INVAL for a malformed
 * key or signature, RM_ERR_AUTH for a signature that does not verify. */
int rm_manifest_verify(const char *text, size_t len, const char *sig_b64, const char *pk_b64);
/* Signs text with sk (64-byte libsodium secret key); returns the base64 signature. */
char *rm_manifest_sign(const char *text, size_t len, const uint8_t sk[RM_RELEASE_SK_BYTES]);

/* The key as written in a .pub file: base64 on the first line, whitespace trimmed. Reads
 * path (RM_ERR_NOTFOUND, RM_ERR_IO, RM_ERR_INVAL); *out_b64 caller frees. */
int rm_release_pubkey_load(const char *path, char **out_b64);
/* The architecture name releases use for the machine this was built for: "amd64",
 * "arm64" or "unknown". */
const char *rm_release_native_arch(void);

#endif
