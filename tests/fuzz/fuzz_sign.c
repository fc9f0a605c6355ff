/* Fuzz target: the announce routes' key and signature fields (common/sign.c) as an
 * unauthenticated client sends them. Input: "<pubkey>\n<signature>\n<message>". A key
 * that decodes must re-encode to the same text (only canonical base64 is accepted); a
 * signature check answers OK, AUTH or INVAL, never anything else, and OK only for a
 * message actually signed by that key. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/err.h"
#include "common/sign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	char buf[512];
	if (!init) {
		if (rm_crypto_init())
			abort();
		init = 1;
	}
	if (size >= sizeof buf)
		size = sizeof buf - 1;
	memcpy(buf, data, size);
	buf[size] = 0;
	char *pk = buf, *sig = strchr(pk, '\n'), *msg = NULL;
	if (sig) {
		*sig++ = 0;
		msg = strchr(sig, '\n');
		if (msg)
			*msg++ = 0;
	}
	uint8_t raw[RM_SIGN_PK_BYTES];
	if (rm_sign_pk_decode(pk, raw) == RM_OK) {
		char back[RM_SIGN_PK_B64_LEN + 1], fp[RM_SIGN_FP_LEN];
		rm_sign_pk_b64(raw, back);
		if (strcmp(back, pk))
			abort();
		rm_sign_fingerprint(raw, fp);
		if (strncmp(fp, "SHA256:", 7) || strlen(fp) != RM_SIGN_FP_LEN - 1)
			abort();
	}
	if (!sig)
		return 0;
	const char *m = msg ? msg : "";
	int rc = rm_sign_verify_b64(pk, m, strlen(m), sig);
	if (rc != RM_OK && rc != RM_ERR_AUTH && rc != RM_ERR_INVAL)
		abort();
	if (rc == RM_OK && rm_sign_verify_b64(pk, "x", 1, sig) == RM_OK && strcmp(m, "x"))
		abort(); /* one signature valid for two messages */
	return 0;
}
