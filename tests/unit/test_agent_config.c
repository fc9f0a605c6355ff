/* Agent config file (table-driven YAML subset) and secrets.enc round trip. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/config.h"
#include "agent/host.h"
#include "agent/secrets.h"
#include "common/crypto.h"
#include "common/err.h"
#include "common/json.h"
#include "tap.h"

static char tmpl[] = "/tmp/rm-agentcfg-test-XXXXXX";
static char *base;
static const char *KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

static int parse(const char *text, struct agent_config *c, char *err)
{
	return agent_config_parse(text, strlen(text), c, err, 256);
}

TEST(parse_valid)
{
	struct agent_config c = { 0 };
	char err[256] = "";
	const char *t =
	    "# comment\n---\n"
	    "server: https://rm.example.com:8443\n"
	    "host_id: '01HOST'\n"
	    "bearer: \"b\\\"q\\\\x\"   # trailing comment\n"
	    "tls_pin: AABBCCDDEEFF00112233445566778899AABBCCDDEEFF00112233445566778899\n"
	    "secrets_key: 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"
	    "restic_path: \"\"\n"
	    "future_key: whatever\n";
	EQ_INT(parse(t, &c, err), RM_OK);
	EQ_STR(c.server_url, "https://rm.example.com:8443");
	EQ_STR(c.host_id, "01HOST");
	EQ_STR(c.bearer, "b\"q\\x");
	EQ_STR(c.tls_pin, "aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899");
	OK(c.restic_path == NULL);
	uint8_t k[RM_KEY_BYTES];
	EQ_INT(agent_config_secrets_key(&c, k), RM_OK);
	EQ_INT(k[1], 0x11);
	agent_config_cleanup(&c);
}

TEST(parse_errors)
{
	struct agent_config c = { 0 };
	char err[256];
	EQ_INT(parse("server: http://x\nhost_id: h\nbearer: b\n", &c, err), RM_ERR_INVAL);
	OK(strstr(err, "secrets_key") != NULL);
	EQ_INT(parse("server: ftp://x\nhost_id: h\nbearer: b\nsecrets_key: 00\n", &c, err),
	       RM_ERR_INVAL);
	OK(strstr(err, "server") != NULL);
	EQ_INT(parse("server: http://x\nhost_id: h\nbearer: b\nsecrets_key: zz\n", &c, err),
	       RM_ERR_INVAL);
	EQ_INT(parse("just a line\n", &c, err), RM_ERR_INVAL);
	OK(strstr(err, "line 1") != NULL);
	EQ_INT(parse("host_id: \"unterminated\n", &c, err), RM_ERR_INVAL);
	EQ_INT(parse("host_id: a\nhost_id: b\n", &c, err), RM_ERR_INVAL);
	OK(strstr(err, "duplicate") != NULL);
	EQ_INT(parse("log_level: loud\n", &c, err), RM_ERR_INVAL);
}

TEST(save_load_roundtrip)
{
	struct agent_config c = { 0 }, d = { 0 };
	c.server_url = rm_xstrdup("http://127.0.0.1:8080");
	c.host_id = rm_xstrdup("01H");
	c.bearer = rm_xstrdup("tok\"en\\with#stuff: x");
	c.secrets_key = rm_xstrdup(KEY);
	c.restic_path = rm_xstrdup("/usr/bin/restic");
	char *path = rm_xasprintf("%s/etc/sub/agent.yaml", base);
	EQ_INT(agent_config_save(path, &c), RM_OK);
	struct stat st;
	OK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	char err[256] = "";
	EQ_INT(agent_config_load(path, &d, err, sizeof err), RM_OK);
	EQ_STR(d.bearer, c.bearer);
	EQ_STR(d.server_url, c.server_url);
	EQ_STR(d.restic_path, c.restic_path);
	OK(d.tls_pin == NULL);
	agent_config_cleanup(&c);
	agent_config_cleanup(&d);
	char *missing = rm_xasprintf("%s/nope.yaml", base);
	EQ_INT(agent_config_load(missing, &d, err, sizeof err), RM_ERR_NOTFOUND);
	free(missing);
	free(path);
}

static int count_prefix(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (!strncmp(de->d_name, prefix, strlen(prefix)))
			n++;
	if (d)
		closedir(d);
	return n;
}

TEST(secrets_roundtrip)
{
	uint8_t key[RM_KEY_BYTES];
	rm_hex_decode(KEY, key, sizeof key);
	char *dir = rm_xasprintf("%s/state1", base);
	mkdir(dir, 0700);
	struct secrets *s = NULL;
	EQ_INT(secrets_open(dir, key, &s), RM_OK);
	struct secrets_slot sl;
	EQ_INT(secrets_get(s, "repo", &sl), RM_ERR_NOTFOUND);
	json_t *p = json_pack("{s:s,s:s,s:s}", "repo_url", "rest:http://u:pw@h:8000/r",
	                      "repo_username", "u", "repo_password", "hunter2-pass");
	EQ_INT(secrets_update(s, NULL, p), RM_OK);
	json_decref(p);
	/* partial update keeps other fields */
	p = json_pack("{s:s}", "repo_password", "new-pass-123");
	EQ_INT(secrets_update(s, "repo", p), RM_OK);
	json_decref(p);
	p = json_pack("{s:s}", "repo_url", "/x");
	EQ_INT(secrets_update(s, "bogus", p), RM_ERR_INVAL);
	json_decref(p);
	secrets_free(s);

	char *file = rm_xasprintf("%s/secrets.enc", dir);
	struct stat st;
	OK(stat(file, &st) == 0 && (st.st_mode & 0777) == 0600);
	char *raw = NULL;
	size_t rawlen = 0;
	EQ_INT(rm_read_file(file, 1 << 20, &raw, &rawlen), RM_OK);
	OK(raw && !strstr(raw, "new-pass-123") && !strstr(raw, "rest:"));
	free(raw);

	EQ_INT(secrets_open(dir, key, &s), RM_OK);
	EQ_INT(secrets_get(s, "repo", &sl), RM_OK);
	EQ_STR(sl.repo_url, "rest:http://u:pw@h:8000/r");
	EQ_STR(sl.repo_username, "u");
	EQ_STR(sl.repo_password, "new-pass-123");
	EQ_INT(secrets_is_corrupt(s), 0);
	secrets_free(s);
	free(file);
	free(dir);
}

TEST(secrets_corrupt_not_overwritten)
{
	uint8_t key[RM_KEY_BYTES], other[RM_KEY_BYTES];
	rm_hex_decode(KEY, key, sizeof key);
	memset(other, 7, sizeof other);
	char *dir = rm_xasprintf("%s/state2", base);
	mkdir(dir, 0700);
	struct secrets *s = NULL;
	secrets_open(dir, key, &s);
	json_t *p = json_pack("{s:s,s:s}", "repo_url", "/srv/repo", "repo_password", "pw-original");
	EQ_INT(secrets_update(s, "repo", p), RM_OK);
	json_decref(p);
	secrets_free(s);
	char *file = rm_xasprintf("%s/secrets.enc", dir);
	char *before = NULL;
	size_t blen = 0;
	rm_read_file(file, 1 << 20, &before, &blen);

	/* wrong key: reported, store empty, file untouched */
	EQ_INT(secrets_open(dir, other, &s), RM_ERR_CRYPTO);
	OK(s != NULL);
	EQ_INT(secrets_is_corrupt(s), 1);
	struct secrets_slot sl;
	EQ_INT(secrets_get(s, "repo", &sl), RM_ERR_NOTFOUND);
	char *after = NULL;
	size_t alen = 0;
	rm_read_file(file, 1 << 20, &after, &alen);
	OK(after && blen == alen && !memcmp(before, after, blen));
	free(after);
	/* an update moves the unreadable file aside first */
	p = json_pack("{s:s,s:s}", "repo_url", "/srv/new", "repo_password", "pw-new-1");
	EQ_INT(secrets_update(s, "repo", p), RM_OK);
	json_decref(p);
	secrets_free(s);
	EQ_INT(count_prefix(dir, "secrets.enc.corrupt-"), 1);
	EQ_INT(secrets_open(dir, other, &s), RM_OK);
	EQ_INT(secrets_get(s, "repo", &sl), RM_OK);
	EQ_STR(sl.repo_url, "/srv/new");
	secrets_free(s);

	/* garbage file */
	EQ_INT(rm_write_file_atomic(file, "garbage!!", 9, 0600), RM_OK);
	EQ_INT(secrets_open(dir, key, &s), RM_ERR_CRYPTO);
	EQ_INT(secrets_is_corrupt(s), 1);
	secrets_free(s);
	free(before);
	free(file);
	free(dir);
}

TEST(host_timezone)
{
	char tz[65], *etc = rm_xasprintf("%s/timezone", base),
	             *lt = rm_xasprintf("%s/localtime", base);
	host_timezone_from(":Europe/Berlin", etc, lt, tz, sizeof tz);
	EQ_STR(tz, "Europe/Berlin");
	host_timezone_from("/usr/share/zoneinfo/America/New_York", etc, lt, tz, sizeof tz);
	EQ_STR(tz, "America/New_York");
	host_timezone_from("bad zone;rm", etc, lt, tz, sizeof tz);
	EQ_STR(tz, "");
	host_timezone_from(NULL, etc, lt, tz, sizeof tz); /* nothing there */
	EQ_STR(tz, "");
	OK(symlink("/usr/share/zoneinfo/Asia/Tokyo", lt) == 0);
	host_timezone_from(NULL, etc, lt, tz, sizeof tz);
	EQ_STR(tz, "Asia/Tokyo");
	EQ_INT(rm_write_file_atomic(etc, "Etc/UTC\n", 8, 0644), RM_OK);
	host_timezone_from("", etc, lt, tz, sizeof tz);
	EQ_STR(tz, "Etc/UTC");
	free(etc);
	free(lt);
}

int main(void)
{
	rm_crypto_init();
	base = mkdtemp(tmpl);
	if (!base)
		return 1;
	RUN(parse_valid);
	RUN(parse_errors);
	RUN(save_load_roundtrip);
	RUN(secrets_roundtrip);
	RUN(secrets_corrupt_not_overwritten);
	RUN(host_timezone);
	pid_t pid = fork();
	if (pid == 0) {
		execlp("rm", "rm", "-rf", base, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return tap_done();
}
