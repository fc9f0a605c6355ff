/* Offline release signing: release-key / sign-agent subcommands (see release.h). */
#include "server/release.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/err.h"
#include "common/manifest.h"

/* Writes text to a new file (O_EXCL: a key is never overwritten) with mode. */
static int write_new(const char *path, const char *text, int mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		fprintf(stderr, "error: cannot create %s: %s\n", path, strerror(errno));
		return RM_ERR_IO;
	}
	int rc = rm_write_all(fd, text, strlen(text));
	if (!rc && fsync(fd))
		rc = RM_ERR_IO;
	if (close(fd))
		rc = RM_ERR_IO;
	if (rc)
		fprintf(stderr, "error: cannot write %s\n", path);
	return rc;
}

static int cmd_release_key(int argc, char **argv)
{
	if (argc != 4 || strcmp(argv[2], "--generate") != 0) {
		fprintf(stderr, "usage: %s release-key --generate DIR\n", argv[0]);
		return 2;
	}
	uint8_t pk[RM_RELEASE_PK_BYTES], sk[RM_RELEASE_SK_BYTES];
	crypto_sign_keypair(pk, sk);
	char *skb = rm_release_b64_encode(sk, sizeof sk);
	char *pkb = rm_release_b64_encode(pk, sizeof pk);
	sodium_memzero(sk, sizeof sk);
	char *skp = rm_xasprintf("%s/agent-release.key", argv[3]);
	char *pkp = rm_xasprintf("%s/agent-release.pub", argv[3]);
	char *skline = rm_xasprintf("%s\n", skb);
	char *pkline = rm_xasprintf("%s\n", pkb);
	int rc = write_new(skp, skline, 0600);
	if (!rc)
		rc = write_new(pkp, pkline, 0644);
	if (!rc)
		printf("release key written: %s (keep it offline)\npublic key: %s (%s)\n", skp, pkp,
		       pkb);
	sodium_memzero(skb, strlen(skb));
	sodium_memzero(skline, strlen(skline));
	free(skb);
	free(pkb);
	free(skp);
	free(pkp);
	free(skline);
	free(pkline);
	return rc ? 1 : 0;
}

static int load_sk(const char *path, uint8_t sk[RM_RELEASE_SK_BYTES])
{
	char *data = NULL;
	size_t len = 0;
	int rc = rm_read_file(path, 1024, &data, &len);
	if (rc)
		return rc;
	while (len && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' '))
		data[--len] = 0;
	rc = rm_release_b64_decode(data, sk, RM_RELEASE_SK_BYTES);
	sodium_memzero(data, len);
	free(data);
	return rc;
}

/* sha256 and size of a file, read in chunks. */
static int hash_file(const char *path, char hex[65], unsigned long long *size)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return RM_ERR_IO;
	crypto_hash_sha256_state st;
	crypto_hash_sha256_init(&st);
	unsigned char buf[65536];
	size_t n;
	*size = 0;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
		crypto_hash_sha256_update(&st, buf, n);
		*size += n;
	}
	int bad = ferror(f);
	fclose(f);
	if (bad)
		return RM_ERR_IO;
	unsigned char d[32];
	crypto_hash_sha256_final(&st, d);
	rm_hex_encode(d, sizeof d, hex);
	return RM_OK;
}

static int cmd_sign_agent(int argc, char **argv)
{
	const char *key = NULL, *version = NULL, *os = "linux", *arch = rm_release_native_arch(),
	           *bin = NULL;
	for (int i = 2; i < argc; i++) {
		const char **dst = !strcmp(argv[i], "--key")       ? &key
		                   : !strcmp(argv[i], "--version") ? &version
		                   : !strcmp(argv[i], "--os")      ? &os
		                   : !strcmp(argv[i], "--arch")    ? &arch
		                                                   : NULL;
		if (dst && i + 1 < argc)
			*dst = argv[++i];
		else if (!dst && argv[i][0] != '-' && !bin)
			bin = argv[i];
		else
			bin = NULL, i = argc;
	}
	if (!key || !version || !bin) {
		fprintf(stderr,
		        "usage: %s sign-agent --key FILE --version V [--os linux] [--arch A] "
		        "BINARY\n",
		        argv[0]);
		return 2;
	}
	struct rm_manifest m;
	memset(&m, 0, sizeof m);
	if (rm_strlcpy(m.version, version, sizeof m.version) || rm_strlcpy(m.os, os, sizeof m.os) ||
	    rm_strlcpy(m.arch, arch, sizeof m.arch) || hash_file(bin, m.sha256, &m.size)) {
		fprintf(stderr, "error: cannot read %s or bad arguments\n", bin);
		return 1;
	}
	char *text = rm_manifest_format(&m);
	char err[160];
	struct rm_manifest chk;
	if (rm_manifest_parse(text, strlen(text), &chk, err, sizeof err)) {
		fprintf(stderr, "error: %s\n", err);
		free(text);
		return 1;
	}
	uint8_t sk[RM_RELEASE_SK_BYTES];
	if (load_sk(key, sk)) {
		fprintf(stderr, "error: cannot read the release key %s\n", key);
		free(text);
		return 1;
	}
	char *sig = rm_manifest_sign(text, strlen(text), sk);
	sodium_memzero(sk, sizeof sk);
	char *mp = rm_xasprintf("%s.manifest", bin);
	char *sp = rm_xasprintf("%s.manifest.sig", bin);
	char *sigline = rm_xasprintf("%s\n", sig);
	int rc = rm_write_file_atomic(mp, text, strlen(text), 0644);
	if (!rc)
		rc = rm_write_file_atomic(sp, sigline, strlen(sigline), 0644);
	if (rc)
		fprintf(stderr, "error: cannot write %s / %s\n", mp, sp);
	else
		printf("signed %s: version %s %s/%s size %llu sha256 %s\n", bin, m.version, m.os,
		       m.arch, m.size, m.sha256);
	free(text);
	free(sig);
	free(mp);
	free(sp);
	free(sigline);
	return rc ? 1 : 0;
}

int release_tool_main(int argc, char **argv)
{
	if (argc < 2)
		return -1;
	if (!strcmp(argv[1], "release-key") || !strcmp(argv[1], "sign-agent")) {
		if (rm_crypto_init()) {
			fprintf(stderr, "error: cannot initialise libsodium\n");
			return 1;
		}
		return !strcmp(argv[1], "release-key") ? cmd_release_key(argc, argv)
		                                       : cmd_sign_agent(argc, argv);
	}
	return -1;
}
