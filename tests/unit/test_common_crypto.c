/* Unit tests: crypto (AEAD, Argon2id, SHA-256, tokens, KDF, key files, atomic files). */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/err.h"
#include "tap.h"

static char tmpdir[] = "/tmp/rm-test-crypto-XXXXXX";

/* Caller frees. */
static char *path_in_tmp(const char *name)
{
	return rm_xasprintf("%s/%s", tmpdir, name);
}

TEST(aead_round_trip)
{
	uint8_t key[RM_KEY_BYTES], key2[RM_KEY_BYTES];
	rm_random_bytes(key, sizeof(key));
	memcpy(key2, key, sizeof(key));
	key2[0] ^= 1;
	const char *pt = "repo password: correct horse battery staple";
	char *ct = NULL;
	EQ_INT(rm_aead_seal(key, pt, strlen(pt), "host_credentials:H1:repo", &ct), RM_OK);
	OK(ct != NULL && strstr(ct, "correct") == NULL);
	OK(strchr(ct, '=') == NULL && strchr(ct, '+') == NULL && strchr(ct, '/') == NULL);

	char *out = NULL;
	size_t len = 0;
	EQ_INT(rm_aead_open(key, ct, "host_credentials:H1:repo", &out, &len), RM_OK);
	EQ_STR(out, pt);
	EQ_INT(len, strlen(pt));
	free(out);

	/* same plaintext twice -> different ciphertexts (random nonce) */
	char *ct2 = NULL;
	EQ_INT(rm_aead_seal(key, pt, strlen(pt), "host_credentials:H1:repo", &ct2), RM_OK);
	OK(strcmp(ct, ct2) != 0);
	free(ct2);

	out = (char *)"untouched";
	EQ_INT(rm_aead_open(key2, ct, "host_credentials:H1:repo", &out, &len), RM_ERR_CRYPTO);
	EQ_STR(out, "untouched");
	EQ_INT(rm_aead_open(key, ct, "host_credentials:H2:repo", &out, &len), RM_ERR_CRYPTO);
	EQ_INT(rm_aead_open(key, ct, "host_credentials:H1:admin", &out, &len), RM_ERR_CRYPTO);
	EQ_INT(rm_aead_open(key, ct, NULL, &out, &len), RM_ERR_CRYPTO);

	/* tamper every position class: nonce, body, tag */
	size_t n = strlen(ct);
	size_t pos[] = { 0, 5, n / 2, n - 3, n - 1 };
	for (size_t i = 0; i < sizeof(pos) / sizeof(pos[0]); i++) {
		char *t = strdup(ct);
		t[pos[i]] = t[pos[i]] == 'A' ? 'B' : 'A';
		EQ_INT(rm_aead_open(key, t, "host_credentials:H1:repo", &out, &len), RM_ERR_CRYPTO);
		free(t);
	}
	/* truncated / garbage */
	char *t = strdup(ct);
	t[n - 4] = 0;
	EQ_INT(rm_aead_open(key, t, "host_credentials:H1:repo", &out, &len), RM_ERR_CRYPTO);
	free(t);
	EQ_INT(rm_aead_open(key, "", "x", &out, &len), RM_ERR_CRYPTO);
	EQ_INT(rm_aead_open(key, "!!!not base64!!!", "x", &out, &len), RM_ERR_CRYPTO);
	EQ_INT(rm_aead_open(key, "AAAA", "x", &out, &len), RM_ERR_CRYPTO);
	free(ct);

	/* empty plaintext works */
	EQ_INT(rm_aead_seal(key, "", 0, "ad", &ct), RM_OK);
	EQ_INT(rm_aead_open(key, ct, "ad", &out, &len), RM_OK);
	EQ_INT(len, 0);
	EQ_STR(out, "");
	free(out);
	free(ct);
}

TEST(pwhash)
{
	rm_pwhash_set_cheap(1);
	char h[RM_PWHASH_MAX];
	EQ_INT(rm_pwhash("a long enough password", h), RM_OK);
	OK(strncmp(h, "$argon2id$", 10) == 0);
	EQ_INT(rm_pwhash_verify(h, "a long enough password"), RM_OK);
	EQ_INT(rm_pwhash_verify(h, "a long enough passwore"), RM_ERR_AUTH);
	EQ_INT(rm_pwhash_verify(h, ""), RM_ERR_AUTH);
	EQ_INT(rm_pwhash_verify("garbage", "x"), RM_ERR_AUTH);
	EQ_INT(rm_pwhash_verify("", "x"), RM_ERR_AUTH);
	EQ_INT(rm_pwhash_verify(NULL, "x"), RM_ERR_AUTH);
	char h2[RM_PWHASH_MAX];
	EQ_INT(rm_pwhash("a long enough password", h2), RM_OK);
	OK(strcmp(h, h2) != 0); /* salted */
	/* default parameters are stored in the hash and still verify */
	rm_pwhash_set_cheap(0);
	char h3[RM_PWHASH_MAX];
	EQ_INT(rm_pwhash("pw-interactive", h3), RM_OK);
	OK(strcmp(h3 + 10, h + 10) != 0);
	OK(strstr(h3, "m=65536") != NULL); /* INTERACTIVE memlimit = 64 MiB */
	rm_pwhash_set_cheap(1);
	EQ_INT(rm_pwhash_verify(h3, "pw-interactive"), RM_OK);
}

TEST(sha256_tokens_ct)
{
	char hex[65];
	rm_sha256_hex("abc", 3, hex);
	EQ_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	rm_sha256_hex("", 0, hex);
	EQ_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	char *t1 = rm_random_token(32), *t2 = rm_random_token(32);
	EQ_INT(strlen(t1), 43);
	OK(strcmp(t1, t2) != 0);
	for (const char *p = t1; *p; p++)
		OK((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		   (*p >= '0' && *p <= '9') || *p == '-' || *p == '_');
	EQ_INT(rm_str_ct_eq(t1, t1), 1);
	EQ_INT(rm_str_ct_eq(t1, t2), 0);
	EQ_INT(rm_str_ct_eq("abc", "abcd"), 0);
	EQ_INT(rm_str_ct_eq("", ""), 1);
	EQ_INT(rm_str_ct_eq(NULL, ""), 0);
	free(t1);
	free(t2);
}

TEST(hex_kdf)
{
	uint8_t in[4] = { 0x00, 0xab, 0x10, 0xff }, out[4];
	char hex[9];
	rm_hex_encode(in, 4, hex);
	EQ_STR(hex, "00ab10ff");
	EQ_INT(rm_hex_decode("00AB10ff", out, 4), RM_OK);
	OK(memcmp(in, out, 4) == 0);
	EQ_INT(rm_hex_decode("00ab10f", out, 4), RM_ERR_INVAL);
	EQ_INT(rm_hex_decode("00ab10fg", out, 4), RM_ERR_INVAL);
	EQ_INT(rm_hex_decode("00ab10ff00", out, 4), RM_ERR_INVAL);

	uint8_t master[RM_KEY_BYTES] = { 1, 2, 3 };
	uint8_t a[RM_KEY_BYTES], b[RM_KEY_BYTES], c[RM_KEY_BYTES], d[RM_KEY_BYTES];
	rm_kdf(master, "sessions-csrf", a);
	rm_kdf(master, "sessions-csrf", b);
	rm_kdf(master, "sessions-other", c);
	rm_kdf(master, "agent", d);
	OK(memcmp(a, b, sizeof(a)) == 0);
	OK(memcmp(a, c, sizeof(a)) != 0);
	OK(memcmp(a, d, sizeof(a)) != 0);
	OK(memcmp(a, master, sizeof(a)) != 0);
}

TEST(keyfile)
{
	char *p = path_in_tmp("secret.key");
	uint8_t k1[RM_KEY_BYTES], k2[RM_KEY_BYTES], k3[RM_KEY_BYTES];
	EQ_INT(rm_keyfile_load(p, k1), RM_ERR_NOTFOUND);
	EQ_INT(rm_keyfile_create(p, k1), RM_OK);
	struct stat st;
	EQ_INT(stat(p, &st), 0);
	EQ_INT(st.st_mode & 0777, 0600);
	EQ_INT(st.st_size, 65);
	EQ_INT(rm_keyfile_load(p, k2), RM_OK);
	OK(memcmp(k1, k2, sizeof(k1)) == 0);
	/* never overwritten */
	memset(k3, 0x5a, sizeof(k3));
	EQ_INT(rm_keyfile_create(p, k3), RM_ERR_CONFLICT);
	uint8_t x[RM_KEY_BYTES];
	memset(x, 0x5a, sizeof(x));
	OK(memcmp(k3, x, sizeof(x)) == 0); /* out untouched */
	EQ_INT(rm_keyfile_load(p, k3), RM_OK);
	OK(memcmp(k1, k3, sizeof(k1)) == 0);

	char *bad = path_in_tmp("bad.key");
	EQ_INT(rm_write_file_atomic(bad, "not hex\n", 8, 0600), RM_OK);
	EQ_INT(rm_keyfile_load(bad, k3), RM_ERR_INVAL);
	EQ_INT(rm_write_file_atomic(bad, "abcd\n", 5, 0600), RM_OK);
	EQ_INT(rm_keyfile_load(bad, k3), RM_ERR_INVAL);
	EQ_INT(unlink(bad), 0);
	EQ_INT(unlink(p), 0);
	free(bad);
	free(p);
}

TEST(atomic_write_read)
{
	char *p = path_in_tmp("config.yaml");
	EQ_INT(rm_write_file_atomic(p, "one\n", 4, 0600), RM_OK);
	char *data = NULL;
	size_t len = 0;
	EQ_INT(rm_read_file(p, 100, &data, &len), RM_OK);
	EQ_STR(data, "one\n");
	EQ_INT(len, 4);
	free(data);
	struct stat st;
	EQ_INT(stat(p, &st), 0);
	EQ_INT(st.st_mode & 0777, 0600);
	EQ_INT(rm_write_file_atomic(p, "second version", 14, 0640), RM_OK);
	EQ_INT(rm_read_file(p, 100, &data, &len), RM_OK);
	EQ_STR(data, "second version");
	free(data);
	EQ_INT(stat(p, &st), 0);
	EQ_INT(st.st_mode & 0777, 0640);
	data = (char *)"untouched";
	EQ_INT(rm_read_file(p, 5, &data, &len), RM_ERR_TOOBIG);
	EQ_STR(data, "untouched");
	char *nope = path_in_tmp("nope");
	EQ_INT(rm_read_file(nope, 5, &data, &len), RM_ERR_NOTFOUND);
	free(nope);
	/* a big file round-trips */
	size_t big = 100000;
	char *b = malloc(big);
	for (size_t i = 0; i < big; i++)
		b[i] = (char)('a' + i % 26);
	EQ_INT(rm_write_file_atomic(p, b, big, 0600), RM_OK);
	EQ_INT(rm_read_file(p, big, &data, &len), RM_OK);
	EQ_INT(len, big);
	OK(memcmp(data, b, big) == 0);
	free(data);
	EQ_INT(rm_read_file(p, big - 1, &data, &len), RM_ERR_TOOBIG);
	free(b);
	/* no temporary files left behind */
	int leftovers = 0;
	DIR *d = opendir(tmpdir);
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (strstr(de->d_name, ".tmp."))
			leftovers++;
	if (d)
		closedir(d);
	EQ_INT(leftovers, 0);
	EQ_INT(rm_write_file_atomic("/nonexistent-dir/x", "a", 1, 0600), RM_ERR_IO);
	EQ_INT(unlink(p), 0);
	free(p);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	if (rm_crypto_init() != RM_OK)
		return 1;
	RUN(aead_round_trip);
	RUN(pwhash);
	RUN(sha256_tokens_ct);
	RUN(hex_kdf);
	RUN(keyfile);
	RUN(atomic_write_read);
	if (rmdir(tmpdir) != 0)
		printf("# could not remove %s\n", tmpdir);
	return tap_done();
}
