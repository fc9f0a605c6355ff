/* libsodium wrappers: AEAD, Argon2id, SHA-256, tokens, KDF, key files, atomic files. */
#include "common/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"

#define B64V sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES

_Static_assert(RM_PWHASH_MAX >= crypto_pwhash_STRBYTES, "RM_PWHASH_MAX too small");
_Static_assert(RM_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key size");
_Static_assert(RM_KEY_BYTES == crypto_kdf_KEYBYTES, "kdf key size");

int rm_crypto_init(void)
{
	return sodium_init() < 0 ? RM_ERR_CRYPTO : RM_OK;
}

static char *b64_encode(const uint8_t *bin, size_t n)
{
	size_t len = sodium_base64_encoded_len(n, B64V);
	char *out = rm_xmalloc(len);
	sodium_bin2base64(out, len, bin, n, B64V);
	return out;
}

int rm_aead_seal(const uint8_t key[RM_KEY_BYTES], const void *pt, size_t ptlen, const char *ad,
                 char **out_b64)
{
	if (!key || (!pt && ptlen) || !out_b64 || ptlen > (size_t)INT_MAX)
		return RM_ERR_INVAL;
	if (rm_crypto_init())
		return RM_ERR_CRYPTO;
	size_t n = NONCE_BYTES + ptlen + TAG_BYTES;
	uint8_t *buf = rm_xmalloc(n);
	randombytes_buf(buf, NONCE_BYTES);
	unsigned long long clen = 0;
	crypto_aead_xchacha20poly1305_ietf_encrypt(buf + NONCE_BYTES, &clen, pt, ptlen,
	                                           (const uint8_t *)(ad ? ad : ""),
	                                           ad ? strlen(ad) : 0, NULL, buf, key);
	*out_b64 = b64_encode(buf, NONCE_BYTES + (size_t)clen);
	sodium_memzero(buf, n);
	free(buf);
	return RM_OK;
}

int rm_aead_open(const uint8_t key[RM_KEY_BYTES], const char *b64, const char *ad, char **out_pt,
                 size_t *out_len)
{
	if (!key || !b64 || !out_pt)
		return RM_ERR_INVAL;
	if (rm_crypto_init())
		return RM_ERR_CRYPTO;
	int rc = RM_ERR_CRYPTO;
	size_t b64len = strlen(b64);
	size_t cap = b64len / 4 * 3 + 3;
	uint8_t *bin = rm_xmalloc(cap);
	uint8_t *pt = NULL;
	size_t binlen = 0;
	const char *end = NULL;
	if (sodium_base642bin(bin, cap, b64, b64len, NULL, &binlen, &end, B64V) != 0 ||
	    end != b64 + b64len)
		goto out;
	if (binlen < NONCE_BYTES + TAG_BYTES)
		goto out;
	pt = rm_xmalloc(binlen - NONCE_BYTES - TAG_BYTES + 1);
	unsigned long long ptlen = 0;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
	        pt, &ptlen, NULL, bin + NONCE_BYTES, binlen - NONCE_BYTES,
	        (const uint8_t *)(ad ? ad : ""), ad ? strlen(ad) : 0, bin, key) != 0)
		goto out;
	pt[ptlen] = 0;
	*out_pt = (char *)pt;
	if (out_len)
		*out_len = (size_t)ptlen;
	pt = NULL;
	rc = RM_OK;
out:
	free(pt);
	free(bin);
	return rc;
}

#ifdef RM_TEST_BUILD
/* -1 = not decided yet (environment read at first use) */
static _Atomic int pwhash_cheap = -1;

void rm_pwhash_set_cheap(int cheap)
{
	atomic_store(&pwhash_cheap, cheap ? 1 : 0);
}

static int is_cheap(void)
{
	int c = atomic_load(&pwhash_cheap);
	if (c < 0) {
		const char *e = getenv("RM_ARGON2_CHEAP");
		c = (e && strcmp(e, "1") == 0) ? 1 : 0;
		int expected = -1;
		atomic_compare_exchange_strong(&pwhash_cheap, &expected, c);
		c = atomic_load(&pwhash_cheap);
	}
	return c;
}
#else
/* release builds: always the full cost, whatever the environment says (crypto.h) */
void rm_pwhash_set_cheap(int cheap)
{
	(void)cheap;
}

static int is_cheap(void)
{
	return 0;
}
#endif

int rm_pwhash(const char *password, char out[RM_PWHASH_MAX])
{
	if (!password || !out)
		return RM_ERR_INVAL;
	if (rm_crypto_init())
		return RM_ERR_CRYPTO;
	int cheap = is_cheap();
	unsigned long long ops =
	    cheap ? crypto_pwhash_OPSLIMIT_MIN : crypto_pwhash_OPSLIMIT_INTERACTIVE;
	size_t mem = cheap ? crypto_pwhash_MEMLIMIT_MIN : crypto_pwhash_MEMLIMIT_INTERACTIVE;
	char tmp[crypto_pwhash_STRBYTES];
	if (crypto_pwhash_str_alg(tmp, password, strlen(password), ops, mem,
	                          crypto_pwhash_ALG_ARGON2ID13) != 0)
		return RM_ERR_NOMEM;
	memcpy(out, tmp, sizeof(tmp));
	return RM_OK;
}

int rm_pwhash_verify(const char *hash, const char *password)
{
	if (!hash || !password)
		return RM_ERR_AUTH;
	if (rm_crypto_init())
		return RM_ERR_CRYPTO;
	char tmp[crypto_pwhash_STRBYTES];
	if (rm_strlcpy(tmp, hash, sizeof(tmp)))
		return RM_ERR_AUTH;
	if (crypto_pwhash_str_verify(tmp, password, strlen(password)) != 0)
		return RM_ERR_AUTH;
	return RM_OK;
}

void rm_sha256_hex(const void *data, size_t len, char out[65])
{
	uint8_t h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, data, len);
	rm_hex_encode(h, sizeof(h), out);
}

void rm_random_bytes(void *buf, size_t n)
{
	if (sodium_init() < 0)
		abort(); /* no usable randomness: nothing safe to do */
	randombytes_buf(buf, n);
}

char *rm_random_token(size_t nbytes)
{
	uint8_t *b = rm_xmalloc(nbytes ? nbytes : 1);
	rm_random_bytes(b, nbytes);
	char *s = b64_encode(b, nbytes);
	sodium_memzero(b, nbytes);
	free(b);
	return s;
}

int rm_str_ct_eq(const char *a, const char *b)
{
	if (!a || !b)
		return 0;
	/* compare digests so neither content nor length leaks through timing */
	uint8_t ha[crypto_hash_sha256_BYTES], hb[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(ha, (const uint8_t *)a, strlen(a));
	crypto_hash_sha256(hb, (const uint8_t *)b, strlen(b));
	return sodium_memcmp(ha, hb, sizeof(ha)) == 0;
}

void rm_kdf(const uint8_t master[RM_KEY_BYTES], const char *purpose, uint8_t out[RM_KEY_BYTES])
{
	char ctx[crypto_kdf_CONTEXTBYTES];
	size_t pl = purpose ? strlen(purpose) : 0;
	for (size_t i = 0; i < sizeof(ctx); i++)
		ctx[i] = i < pl ? purpose[i] : '_';
	const char *rest = pl > sizeof(ctx) ? purpose + sizeof(ctx) : "";
	uint8_t h[8];
	crypto_generichash(h, sizeof(h), (const uint8_t *)rest, strlen(rest), NULL, 0);
	uint64_t id = 0;
	for (int i = 0; i < 8; i++)
		id = (id << 8) | h[i];
	crypto_kdf_derive_from_key(out, RM_KEY_BYTES, id, ctx, master);
}

void rm_hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[in[i] >> 4];
		out[2 * i + 1] = hx[in[i] & 15];
	}
	out[2 * n] = 0;
}

int rm_hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int rm_hex_decode(const char *hex, uint8_t *out, size_t outlen)
{
	if (!hex || strlen(hex) != outlen * 2)
		return RM_ERR_INVAL;
	for (size_t i = 0; i < outlen; i++) {
		int a = rm_hex_value(hex[2 * i]), b = rm_hex_value(hex[2 * i + 1]);
		if (a < 0 || b < 0)
			return RM_ERR_INVAL;
	}
	for (size_t i = 0; i < outlen; i++)
		out[i] = (uint8_t)(rm_hex_value(hex[2 * i]) << 4 | rm_hex_value(hex[2 * i + 1]));
	return RM_OK;
}

int rm_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return RM_ERR_IO;
		}
		p += n;
		len -= (size_t)n;
	}
	return RM_OK;
}

static int fsync_dir_of(const char *path)
{
	char *dir = rm_xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (!slash) {
		free(dir);
		dir = rm_xstrdup(".");
	} else if (slash == dir) {
		dir[1] = 0;
	} else {
		*slash = 0;
	}
	int rc = RM_OK;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0)
		rc = RM_ERR_IO;
	if (fd >= 0)
		close(fd);
	free(dir);
	return rc;
}

int rm_keyfile_create(const char *path, uint8_t key[RM_KEY_BYTES])
{
	if (!path || !key)
		return RM_ERR_INVAL;
	uint8_t k[RM_KEY_BYTES];
	char hex[2 * RM_KEY_BYTES + 2];
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return errno == EEXIST ? RM_ERR_CONFLICT : RM_ERR_IO;
	rm_random_bytes(k, sizeof(k));
	rm_hex_encode(k, sizeof(k), hex);
	hex[2 * RM_KEY_BYTES] = '\n';
	hex[2 * RM_KEY_BYTES + 1] = 0;
	int rc = rm_write_all(fd, hex, 2 * RM_KEY_BYTES + 1);
	if (!rc && fsync(fd) != 0)
		rc = RM_ERR_IO;
	if (close(fd) != 0 && !rc)
		rc = RM_ERR_IO;
	if (rc) {
		unlink(path);
		goto out;
	}
	fsync_dir_of(path);
	memcpy(key, k, sizeof(k));
out:
	sodium_memzero(k, sizeof(k));
	sodium_memzero(hex, sizeof(hex));
	return rc;
}

int rm_keyfile_load(const char *path, uint8_t key[RM_KEY_BYTES])
{
	char *data = NULL;
	size_t len = 0;
	int rc = rm_read_file(path, 1024, &data, &len);
	if (rc)
		return rc == RM_ERR_TOOBIG ? RM_ERR_INVAL : rc;
	while (len && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' '))
		data[--len] = 0;
	uint8_t k[RM_KEY_BYTES];
	rc = rm_hex_decode(data, k, sizeof(k));
	if (!rc)
		memcpy(key, k, sizeof(k));
	sodium_memzero(k, sizeof(k));
	sodium_memzero(data, len);
	free(data);
	return rc;
}

int rm_write_file_atomic(const char *path, const void *data, size_t len, int mode)
{
	if (!path || (!data && len))
		return RM_ERR_INVAL;
	char *tmp = rm_xasprintf("%s.tmp.XXXXXX", path);
	int rc = RM_ERR_IO;
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		free(tmp);
		return RM_ERR_IO;
	}
	if (fchmod(fd, (mode_t)mode) != 0)
		goto fail;
	if (rm_write_all(fd, data, len))
		goto fail;
	if (fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto fail;
	free(tmp);
	return fsync_dir_of(path);
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return rc;
}

int rm_read_file(const char *path, size_t max, char **out, size_t *out_len)
{
	if (!path || !out)
		return RM_ERR_INVAL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? RM_ERR_NOTFOUND : RM_ERR_IO;
	int rc = RM_OK;
	size_t cap = 4096, len = 0;
	char *buf = rm_xmalloc(cap + 1);
	for (;;) {
		if (len == cap) {
			if (cap > max)
				break;
			cap *= 2;
			buf = rm_xrealloc(buf, cap + 1);
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = RM_ERR_IO;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			rc = RM_ERR_TOOBIG;
			break;
		}
	}
	close(fd);
	if (rc) {
		free(buf);
		return rc;
	}
	buf[len] = 0;
	*out = buf;
	if (out_len)
		*out_len = len;
	return RM_OK;
}
