/* Unit tests: signed agent release manifests (common/manifest.c) — parse, format, sign,
 * verify, and the refusals the agent relies on before it touches its binary. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/err.h"
#include "common/manifest.h"
#include "tap.h"

#define SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define GOOD                                                                                \
	"restic-manager-agent-manifest 1\nversion 0.2.0\nos linux\narch amd64\nsize 1234\n" \
	"sha256 " SHA "\n"

static int parse(const char *t)
{
	struct rm_manifest m;
	char err[160];
	return rm_manifest_parse(t, strlen(t), &m, err, sizeof err);
}

TEST(parse_good_and_round_trip)
{
	struct rm_manifest m;
	char err[160] = "";
	EQ_INT(rm_manifest_parse(GOOD, strlen(GOOD), &m, err, sizeof err), RM_OK);
	EQ_STR(m.version, "0.2.0");
	EQ_STR(m.os, "linux");
	EQ_STR(m.arch, "amd64");
	OK(m.size == 1234);
	EQ_STR(m.sha256, SHA);
	char *t = rm_manifest_format(&m);
	EQ_STR(t, GOOD);
	free(t);
	/* keys in another order are fine */
	EQ_INT(parse("restic-manager-agent-manifest 1\nsha256 " SHA "\nsize 1\narch arm64\n"
	             "os linux\nversion 1.0.0-rc1+g1234\n"),
	       RM_OK);
}

TEST(parse_refusals)
{
	static const char *const bad[] = {
		"",
		"restic-manager-agent-manifest 2\nversion 1\n",
		"restic-manager-agent-manifest 1\n", /* keys missing */
		"restic-manager-agent-manifest 1\nversion 0.2.0\nos linux\narch amd64\nsize 1234\n"
		"sha256 " SHA,          /* no final newline */
		GOOD "version 0.3.0\n", /* duplicate */
		GOOD "extra 1\n",       /* unknown key */
		"restic-manager-agent-manifest 1\nversion 0.2.0\nos linux\narch amd64\nsize 0\n"
		"sha256 " SHA "\n",
		"restic-manager-agent-manifest 1\nversion 0.2.0\nos linux\narch amd64\nsize -5\n"
		"sha256 " SHA "\n",
		"restic-manager-agent-manifest 1\nversion 0.2.0\nos linux\narch amd64\n"
		"size 999999999999\nsha256 " SHA "\n", /* > 256 MiB */
		"restic-manager-agent-manifest 1\nversion 0.2.0\nos linux\narch amd64\nsize 12\n"
		"sha256 E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\n",
		"restic-manager-agent-manifest 1\nversion 0.2.0\nos linux\narch ../x\nsize 12\n"
		"sha256 " SHA "\n",
		"restic-manager-agent-manifest 1\nversion 0 2\nos linux\narch amd64\nsize 12\n"
		"sha256 " SHA "\n",
		"restic-manager-agent-manifest 1\r\nversion 0.2.0\n",
		"restic-manager-agent-manifest 1\nversion 0.2.0\r\nos linux\narch amd64\nsize 12\n"
		"sha256 " SHA "\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (parse(bad[i]) != RM_ERR_INVAL)
			printf("# accepted bad manifest %zu\n", i);
		EQ_INT(parse(bad[i]), RM_ERR_INVAL);
	}
	/* an embedded NUL */
	char nul[] = GOOD;
	nul[40] = 0;
	struct rm_manifest m;
	EQ_INT(rm_manifest_parse(nul, sizeof nul - 1, &m, NULL, 0), RM_ERR_INVAL);
}

TEST(sign_verify)
{
	uint8_t pk[RM_RELEASE_PK_BYTES], sk[RM_RELEASE_SK_BYTES], pk2[RM_RELEASE_PK_BYTES],
	    sk2[RM_RELEASE_SK_BYTES];
	crypto_sign_keypair(pk, sk);
	crypto_sign_keypair(pk2, sk2);
	char *pkb = rm_release_b64_encode(pk, sizeof pk);
	char *pkb2 = rm_release_b64_encode(pk2, sizeof pk2);
	char *sig = rm_manifest_sign(GOOD, strlen(GOOD), sk);
	EQ_INT(rm_manifest_verify(GOOD, strlen(GOOD), sig, pkb), RM_OK);
	/* another key, a changed byte (a replay for another version or arch) */
	EQ_INT(rm_manifest_verify(GOOD, strlen(GOOD), sig, pkb2), RM_ERR_AUTH);
	char other[] = GOOD;
	other[strlen("restic-manager-agent-manifest 1\nversion 0.")] = '3';
	EQ_INT(rm_manifest_verify(other, strlen(other), sig, pkb), RM_ERR_AUTH);
	char arm[] = GOOD;
	memcpy(strstr(arm, "amd64"), "arm64", 5);
	EQ_INT(rm_manifest_verify(arm, strlen(arm), sig, pkb), RM_ERR_AUTH);
	EQ_INT(rm_manifest_verify(GOOD, strlen(GOOD) - 1, sig, pkb), RM_ERR_AUTH);
	/* malformed key / signature */
	EQ_INT(rm_manifest_verify(GOOD, strlen(GOOD), "not base64!", pkb), RM_ERR_INVAL);
	EQ_INT(rm_manifest_verify(GOOD, strlen(GOOD), sig, "AAAA"), RM_ERR_INVAL);
	EQ_INT(rm_manifest_verify(GOOD, strlen(GOOD), NULL, pkb), RM_ERR_INVAL);
	char *sig2 = rm_manifest_sign(GOOD, strlen(GOOD), sk2);
	EQ_INT(rm_manifest_verify(GOOD, strlen(GOOD), sig2, pkb), RM_ERR_AUTH);
	free(sig);
	free(sig2);
	free(pkb);
	free(pkb2);
}

TEST(pubkey_file)
{
	char dir[] = "/tmp/rm-test-manifest-XXXXXX";
	OK(mkdtemp(dir) != NULL);
	char *p = rm_xasprintf("%s/k.pub", dir);
	uint8_t pk[RM_RELEASE_PK_BYTES], sk[RM_RELEASE_SK_BYTES];
	crypto_sign_keypair(pk, sk);
	char *b = rm_release_b64_encode(pk, sizeof pk);
	char *line = rm_xasprintf("  %s\n", b);
	EQ_INT(rm_write_file_atomic(p, line, strlen(line), 0644), RM_OK);
	char *got = NULL;
	EQ_INT(rm_release_pubkey_load(p, &got), RM_OK);
	EQ_STR(got, b);
	free(got);
	EQ_INT(rm_write_file_atomic(p, "garbage\n", 8, 0644), RM_OK);
	EQ_INT(rm_release_pubkey_load(p, &got), RM_ERR_INVAL);
	unlink(p);
	EQ_INT(rm_release_pubkey_load(p, &got), RM_ERR_NOTFOUND);
	rmdir(dir);
	free(p);
	free(b);
	free(line);
}

int main(void)
{
	if (rm_crypto_init() != RM_OK)
		return 1;
	RUN(parse_good_and_round_trip);
	RUN(parse_refusals);
	RUN(sign_verify);
	RUN(pubkey_file);
	return tap_done();
}
