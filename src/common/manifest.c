/* Signed agent release manifests: parse, format, sign, verify (see manifest.h). */
#include "common/manifest.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/err.h"
#include "common/json.h"

#define MAGIC "restic-manager-agent-manifest 1"
#define B64V sodium_base64_VARIANT_ORIGINAL

_Static_assert(RM_RELEASE_PK_BYTES == crypto_sign_PUBLICKEYBYTES, "pk size");
_Static_assert(RM_RELEASE_SK_BYTES == crypto_sign_SECRETKEYBYTES, "sk size");
_Static_assert(RM_RELEASE_SIG_BYTES == crypto_sign_BYTES, "sig size");

/* version: 1..64 of [0-9A-Za-z.+~_-]; os/arch: 1..16 of [a-z0-9_] */
static int token_ok(const char *v, size_t n, size_t max, int lower_only)
{
	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
		if (!lower_only)
			ok = ok || (c >= 'A' && c <= 'Z') || c == '.' || c == '+' || c == '~' ||
			     c == '-';
		if (!ok)
			return 0;
	}
	return 1;
}

static int hex_lower_ok(const char *v, size_t n)
{
	if (n != 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f')))
			return 0;
	return 1;
}

/* One line "key value": fills the matching field; bit in *seen. */
static int parse_line(const char *l, size_t n, struct rm_manifest *m, unsigned *seen, char *err,
                      size_t errlen)
{
	const char *sp = memchr(l, ' ', n);
	if (!sp) {
		rmj_seterr(err, errlen, "manifest line without a value");
		return RM_ERR_INVAL;
	}
	size_t kl = (size_t)(sp - l);
	const char *v = sp + 1;
	size_t vl = n - kl - 1;
	static const char *const keys[] = { "version", "os", "arch", "size", "sha256" };
	int k = -1;
	for (int i = 0; i < 5; i++)
		if (strlen(keys[i]) == kl && !memcmp(keys[i], l, kl))
			k = i;
	if (k < 0 || (*seen & (1u << k))) {
		rmj_seterr(err, errlen, k < 0 ? "unknown manifest key" : "duplicate manifest key");
		return RM_ERR_INVAL;
	}
	*seen |= 1u << k;
	int ok = 0;
	char num[24];
	long long sz = 0;
	switch (k) {
	case 0: ok = token_ok(v, vl, 64, 0); break;
	case 1: ok = token_ok(v, vl, 16, 1); break;
	case 2: ok = token_ok(v, vl, 16, 1); break;
	case 3:
		ok = vl > 0 && vl < sizeof num && v[0] != '-' && v[0] != '+';
		if (ok) {
			memcpy(num, v, vl);
			num[vl] = 0;
			ok = !rm_parse_i64(num, &sz) && sz > 0 &&
			     (unsigned long long)sz <= RM_MANIFEST_SIZE_MAX;
		}
		break;
	default: ok = hex_lower_ok(v, vl); break;
	}
	if (!ok) {
		rmj_seterr(err, errlen, "invalid manifest value for %s", keys[k]);
		return RM_ERR_INVAL;
	}
	char *dst = k == 0 ? m->version : k == 1 ? m->os : k == 2 ? m->arch : m->sha256;
	if (k == 3)
		m->size = (unsigned long long)sz;
	else {
		memcpy(dst, v, vl);
		dst[vl] = 0;
	}
	return RM_OK;
}

int rm_manifest_parse(const char *text, size_t len, struct rm_manifest *out, char *err,
                      size_t errlen)
{
	struct rm_manifest m;
	memset(&m, 0, sizeof m);
	if (!text || len > RM_MANIFEST_MAX) {
		rmj_seterr(err, errlen, "manifest too large");
		return RM_ERR_INVAL;
	}
	size_t ml = strlen(MAGIC);
	if (len < ml + 1 || memcmp(text, MAGIC, ml) != 0 || text[ml] != '\n') {
		rmj_seterr(err, errlen, "not a restic-manager agent manifest (version 1)");
		return RM_ERR_INVAL;
	}
	unsigned seen = 0;
	size_t pos = ml + 1;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		if (!nl) {
			rmj_seterr(err, errlen, "manifest does not end with a newline");
			return RM_ERR_INVAL;
		}
		size_t n = (size_t)(nl - (text + pos));
		if (memchr(text + pos, 0, n) || memchr(text + pos, '\r', n)) {
			rmj_seterr(err, errlen, "control character in manifest");
			return RM_ERR_INVAL;
		}
		int rc = parse_line(text + pos, n, &m, &seen, err, errlen);
		if (rc)
			return rc;
		pos += n + 1;
	}
	if (seen != 0x1f) {
		rmj_seterr(err, errlen, "manifest lacks a key (version, os, arch, size, sha256)");
		return RM_ERR_INVAL;
	}
	*out = m;
	return RM_OK;
}

char *rm_manifest_format(const struct rm_manifest *m)
{
	return rm_xasprintf(MAGIC "\nversion %s\nos %s\narch %s\nsize %llu\nsha256 %s\n",
	                    m->version, m->os, m->arch, m->size, m->sha256);
}

int rm_release_b64_decode(const char *b64, uint8_t *out, size_t n)
{
	uint8_t buf[128];
	size_t got = 0;
	const char *end = NULL;
	if (!b64 || n > sizeof buf)
		return RM_ERR_INVAL;
	size_t l = strlen(b64);
	if (sodium_base642bin(buf, sizeof buf, b64, l, NULL, &got, &end, B64V) != 0 ||
	    end != b64 + l || got != n)
		return RM_ERR_INVAL;
	memcpy(out, buf, n);
	return RM_OK;
}

char *rm_release_b64_encode(const uint8_t *in, size_t n)
{
	size_t len = sodium_base64_encoded_len(n, B64V);
	char *out = rm_xmalloc(len);
	sodium_bin2base64(out, len, in, n, B64V);
	return out;
}

int rm_manifest_verify(const char *text, size_t len, const char *sig_b64, const char *pk_b64)
{
	uint8_t pk[RM_RELEASE_PK_BYTES], sig[RM_RELEASE_SIG_BYTES];
	if (!text || rm_release_b64_decode(pk_b64, pk, sizeof pk) ||
	    rm_release_b64_decode(sig_b64, sig, sizeof sig))
		return RM_ERR_INVAL;
	if (rm_crypto_init())
		return RM_ERR_CRYPTO;
	return crypto_sign_verify_detached(sig, (const unsigned char *)text, len, pk) ? RM_ERR_AUTH
	                                                                              : RM_OK;
}

char *rm_manifest_sign(const char *text, size_t len, const uint8_t sk[RM_RELEASE_SK_BYTES])
{
	uint8_t sig[RM_RELEASE_SIG_BYTES];
	crypto_sign_detached(sig, NULL, (const unsigned char *)text, len, sk);
	return rm_release_b64_encode(sig, sizeof sig);
}

int rm_release_pubkey_load(const char *path, char **out_b64)
{
	char *data = NULL;
	size_t len = 0;
	int rc = rm_read_file(path, 512, &data, &len);
	if (rc)
		return rc == RM_ERR_TOOBIG ? RM_ERR_INVAL : rc;
	size_t s = 0;
	while (s < len && (data[s] == ' ' || data[s] == '\t'))
		s++;
	size_t e = s;
	while (e < len && data[e] != '\n' && data[e] != '\r' && data[e] != ' ')
		e++;
	char *k = rm_xstrndup(data + s, e - s);
	free(data);
	uint8_t pk[RM_RELEASE_PK_BYTES];
	if (rm_release_b64_decode(k, pk, sizeof pk)) {
		free(k);
		return RM_ERR_INVAL;
	}
	*out_b64 = k;
	return RM_OK;
}

const char *rm_release_native_arch(void)
{
#if defined(__x86_64__)
	return "amd64";
#elif defined(__aarch64__)
	return "arm64";
#else
	return "unknown";
#endif
}
