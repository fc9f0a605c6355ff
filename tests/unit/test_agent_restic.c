/* Unit tests for src/agent/restic: argv/env builders, line splitter, output parsers
 * against captured restic 0.14 output and hand-written 0.17/0.18 shapes. */
#include <stdlib.h>
#include <string.h>

#include "agent/restic/argv.h"
#include "agent/restic/lines.h"
#include "agent/restic/parse.h"
#include "common/crypto.h"
#include "common/err.h"
#include "common/log.h"
#include "tap.h"

#define DATA "tests/data/restic/"

static char *slurp(const char *name, size_t *len)
{
	char *path = rm_xasprintf(DATA "%s", name);
	char *d = NULL;
	size_t n = 0;
	int rc = rm_read_file(path, 64 * 1024 * 1024, &d, &n);
	free(path);
	if (rc) {
		printf("# cannot read %s\n", name);
		return rm_xstrdup("");
	}
	if (len)
		*len = n;
	return d;
}

static size_t env_count(char **env)
{
	size_t n = 0;
	while (env[n])
		n++;
	return n;
}

static const char *env_get(char **env, const char *key)
{
	size_t kl = strlen(key);
	for (size_t i = 0; env[i]; i++)
		if (strncmp(env[i], key, kl) == 0 && env[i][kl] == '=')
			return env[i] + kl + 1;
	return NULL;
}

static int argv_eq(char **argv, const char *const *want)
{
	size_t i = 0;
	for (; want[i]; i++)
		if (!argv[i] || strcmp(argv[i], want[i]) != 0) {
			printf("#   argv[%zu] = %s, want %s\n", i, argv[i] ? argv[i] : "(null)",
			       want[i]);
			return 0;
		}
	return argv[i] == NULL;
}

TEST(argv_kinds)
{
	char **a = NULL;
	char err[128];
	OK(restic_argv_build("/usr/bin/restic", "init", NULL, NULL, &a, err, sizeof(err)) == RM_OK);
	OK(argv_eq(a, (const char *const[]){ "/usr/bin/restic", "init", NULL }));
	restic_argv_free(a);
	OK(restic_argv_build("restic", "snapshots", NULL, "h", &a, err, sizeof(err)) == RM_OK);
	OK(argv_eq(a, (const char *const[]){ "restic", "snapshots", "--json", NULL }));
	restic_argv_free(a);
	OK(restic_argv_build("restic", "stats", NULL, NULL, &a, err, sizeof(err)) == RM_OK);
	OK(argv_eq(
	    a, (const char *const[]){ "restic", "stats", "--json", "--mode", "raw-data", NULL }));
	restic_argv_free(a);
	OK(restic_argv_build("restic", "unlock", NULL, NULL, &a, err, sizeof(err)) == RM_OK);
	OK(argv_eq(a, (const char *const[]){ "restic", "unlock", NULL }));
	restic_argv_free(a);
	OK(restic_argv_build("restic", "version", NULL, NULL, &a, err, sizeof(err)) == RM_OK);
	OK(argv_eq(a, (const char *const[]){ "restic", "version", NULL }));
	restic_argv_free(a);
	a = NULL;
	EQ_INT(restic_argv_build("restic", "rm -rf", NULL, NULL, &a, err, sizeof(err)),
	       RM_ERR_INVAL);
	OK(a == NULL);
}

TEST(argv_backup)
{
	char **a = NULL;
	char err[128] = "";
	json_t *args = json_pack("{s:[s,s], s:[s,s], s:[s], s:i}", "paths", "/etc", "-rf /", "tags",
	                         "daily", "web app", "excludes", "*.tmp", "limit_upload", 100);
	OK(restic_argv_build("restic", "backup", args, "host-1", &a, err, sizeof(err)) == RM_OK);
	OK(argv_eq(a,
	           (const char *const[]){ "restic", "backup", "--json", "--host", "host-1", "--tag",
	                                  "daily", "--tag", "web app", "--exclude", "*.tmp",
	                                  "--limit-upload", "100", "--", "/etc", "-rf /", NULL }));
	char *s = restic_argv_format(a);
	EQ_STR(s, "restic backup --json --host host-1 --tag daily --tag \"web app\" --exclude "
	          "*.tmp --limit-upload 100 -- /etc \"-rf /\"");
	free(s);
	restic_argv_free(a);
	json_decref(args);

	/* C2 group options: flags and KiB/s limits (C2 names win over the legacy ones) */
	args = json_pack("{s:[s], s:b, s:b, s:i, s:i, s:i, s:s}", "paths", "/srv", "exclude_caches",
	                 1, "one_file_system", 1, "limit_upload_kib", 50, "limit_upload", 999,
	                 "limit_download_kib", 0, "pre_hook", "echo x");
	OK(restic_argv_build("restic", "backup", args, NULL, &a, err, sizeof(err)) == RM_OK);
	OK(argv_eq(a, (const char *const[]){ "restic", "backup", "--json", "--exclude-caches",
	                                     "--one-file-system", "--limit-upload", "50", "--",
	                                     "/srv", NULL }));
	restic_argv_free(a);
	json_decref(args);

	/* bad args */
	const char *bad[] = {
		"{\"paths\":[\"/x\"],\"exclude_caches\":1}",
		"{\"paths\":[\"/x\"],\"limit_download_kib\":-5}",
		"{}",
		"{\"paths\":[]}",
		"{\"paths\":\"/etc\"}",
		"{\"paths\":[1]}",
		"{\"paths\":[\"\"]}",
		"{\"paths\":[\"/x\"],\"tags\":[{}]}",
		"{\"paths\":[\"/x\"],\"limit_upload\":-1}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *b = json_loads(bad[i], 0, NULL);
		a = NULL;
		EQ_INT(restic_argv_build("restic", "backup", b, NULL, &a, err, sizeof(err)),
		       RM_ERR_INVAL);
		OK(a == NULL);
		json_decref(b);
	}
	EQ_INT(restic_argv_build("restic", "backup", NULL, NULL, &a, err, sizeof(err)),
	       RM_ERR_INVAL);
}

TEST(env_clean)
{
	setenv("RESTIC_PASSWORD", "parent-pw", 1);
	setenv("RESTIC_REPOSITORY", "/parent/repo", 1);
	setenv("AWS_ACCESS_KEY_ID", "AKIAPARENT", 1);
	setenv("B2_ACCOUNT_KEY", "b2parent", 1);
	char **env = NULL;
	struct restic_env_in in = { .repo_url = "/srv/repo",
		                    .repo_password = "s3cret pw",
		                    .state_dir = "/var/lib/rm",
		                    .tmpdir = NULL };
	OK(restic_env_build(&in, &env) == RM_OK);
	EQ_INT(env_count(env), 6);
	EQ_STR(env_get(env, "RESTIC_REPOSITORY"), "/srv/repo");
	EQ_STR(env_get(env, "RESTIC_PASSWORD"), "s3cret pw");
	EQ_STR(env_get(env, "RESTIC_CACHE_DIR"), "/var/lib/rm/cache");
	EQ_STR(env_get(env, "HOME"), "/var/lib/rm");
	EQ_STR(env_get(env, "PATH"), RESTIC_SAFE_PATH);
	EQ_STR(env_get(env, "LANG"), "C");
	OK(env_get(env, "AWS_ACCESS_KEY_ID") == NULL);
	OK(env_get(env, "B2_ACCOUNT_KEY") == NULL);
	for (size_t i = 0; env[i]; i++)
		OK(strstr(env[i], "parent") == NULL);
	restic_env_free(env);

	in.tmpdir = "/tmp/x";
	OK(restic_env_build(&in, &env) == RM_OK);
	EQ_INT(env_count(env), 7);
	EQ_STR(env_get(env, "TMPDIR"), "/tmp/x");
	restic_env_free(env);

	struct restic_env_in bad = { .repo_url = "", .repo_password = "x", .state_dir = "/s" };
	env = NULL;
	EQ_INT(restic_env_build(&bad, &env), RM_ERR_INVAL);
	OK(env == NULL);
	unsetenv("RESTIC_PASSWORD");
	unsetenv("RESTIC_REPOSITORY");
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("B2_ACCOUNT_KEY");
}

TEST(env_rest_userinfo)
{
	char **env = NULL;
	struct restic_env_in in = { .repo_url = "rest:https://backup.example.com:8000/web1/",
		                    .repo_username = "web 1@x",
		                    .repo_password = "p@ss:w/rd%",
		                    .state_dir = "/s" };
	OK(restic_env_build(&in, &env) == RM_OK);
	EQ_STR(env_get(env, "RESTIC_REPOSITORY"),
	       "rest:https://web%201%40x:p%40ss%3Aw%2Frd%25@backup.example.com:8000/web1/");
	EQ_STR(env_get(env, "RESTIC_PASSWORD"), "p@ss:w/rd%");
	restic_env_free(env);

	/* existing userinfo is replaced */
	char *u = NULL;
	OK(restic_url_with_userinfo("rest:http://old:pw@h:8000/r", "new", "pw2", &u) == RM_OK);
	EQ_STR(u, "rest:http://new:pw2@h:8000/r");
	free(u);
	OK(restic_url_with_userinfo("rest:http://h", "u", "p", &u) == RM_OK);
	EQ_STR(u, "rest:http://u:p@h");
	free(u);
	u = NULL;
	EQ_INT(restic_url_with_userinfo("sftp:u@h:/x", "u", "p", &u), RM_ERR_INVAL);
	EQ_INT(restic_url_with_userinfo("rest:http:///path", "u", "p", &u), RM_ERR_INVAL);
	OK(u == NULL);

	/* username given but not a rest: URL -> URL unchanged */
	struct restic_env_in sftp = { .repo_url = "sftp:backup@h:/srv/r",
		                      .repo_username = "x",
		                      .repo_password = "p",
		                      .state_dir = "/s" };
	OK(restic_env_build(&sftp, &env) == RM_OK);
	EQ_STR(env_get(env, "RESTIC_REPOSITORY"), "sftp:backup@h:/srv/r");
	restic_env_free(env);

	char *e = restic_percent_encode("aZ09-._~ /?#[]@!$&'()*+,;=%");
	EQ_STR(e, "aZ09-._~%20%2F%3F%23%5B%5D%40%21%24%26%27%28%29%2A%2B%2C%3B%3D%25");
	free(e);
}

TEST(redaction)
{
	char *r = rm_redact_url("rest:https://web1:p%40ss@backup.example.com:8000/web1/");
	OK(strstr(r, "p%40ss") == NULL);
	OK(strstr(r, "backup.example.com") != NULL);
	free(r);
	r = rm_redact_url("/srv/restic-repo");
	EQ_STR(r, "/srv/restic-repo");
	free(r);
}

/* ---- line splitter */

struct collected {
	char *lines[16];
	size_t lens[16];
	int n;
};

static void collect_cb(void *ud, const char *line, size_t len)
{
	struct collected *c = ud;
	OK(strlen(line) == len);
	if (c->n < 16) {
		c->lens[c->n] = len;
		c->lines[c->n++] = rm_xstrndup(line, len);
	}
}

static void collected_free(struct collected *c)
{
	for (int i = 0; i < c->n; i++)
		free(c->lines[i]);
	c->n = 0;
}

TEST(lines_split)
{
	struct collected c = { 0 };
	struct restic_lines l;
	restic_lines_init(&l, collect_cb, &c);
	restic_lines_feed(&l, "ab", 2);
	restic_lines_feed(&l, "c\r\nde\n\nf", 8);
	EQ_INT(c.n, 3);
	EQ_STR(c.lines[0], "abc");
	EQ_STR(c.lines[1], "de");
	EQ_STR(c.lines[2], "");
	restic_lines_flush(&l);
	EQ_INT(c.n, 4);
	EQ_STR(c.lines[3], "f");
	collected_free(&c);

	/* NUL and invalid UTF-8 are replaced, valid multibyte kept */
	restic_lines_feed(&l, "a\0b\xff\xc3\xa9\xe2\x82\n", 10);
	EQ_INT(c.n, 1);
	EQ_STR(c.lines[0], "a?b?\xc3\xa9??");
	collected_free(&c);

	/* over-long line: truncated with a marker, the rest discarded */
	size_t big = RESTIC_LINE_MAX * 2 + 100;
	char *b = rm_xmalloc(big);
	memset(b, 'x', big);
	restic_lines_feed(&l, b, big);
	restic_lines_feed(&l, b, 1000);
	restic_lines_feed(&l, "\nnext\n", 6);
	EQ_INT(c.n, 2);
	EQ_INT(c.lens[0], RESTIC_LINE_MAX);
	OK(strstr(c.lines[0], RESTIC_LINE_TRUNC_MARK) != NULL);
	EQ_STR(c.lines[1], "next");
	collected_free(&c);

	/* a line of exactly the content cap is not truncated */
	size_t cap = RESTIC_LINE_MAX - strlen(RESTIC_LINE_TRUNC_MARK);
	restic_lines_feed(&l, b, cap);
	restic_lines_feed(&l, "\n", 1);
	EQ_INT(c.n, 1);
	EQ_INT(c.lens[0], cap);
	collected_free(&c);
	free(b);
	restic_lines_cleanup(&l);
}

/* ---- parsers against fixtures */

struct backup_scan {
	int status, summary, error, exit_error, other, text, bad;
	json_t *last_progress, *stats;
	char *last_error;
};

static void scan_line(void *ud, const char *line, size_t len)
{
	struct backup_scan *s = ud;
	json_t *o = NULL;
	switch (restic_parse_line(line, len, &o)) {
	case RESTIC_LINE_STATUS: {
		json_t *p = NULL;
		s->status++;
		if (restic_parse_status(o, &p) == RM_OK) {
			json_decref(s->last_progress);
			s->last_progress = p;
		} else {
			s->bad++;
		}
		break;
	}
	case RESTIC_LINE_SUMMARY:
		s->summary++;
		json_decref(s->stats);
		s->stats = NULL;
		if (restic_parse_summary(o, &s->stats))
			s->bad++;
		break;
	case RESTIC_LINE_ERROR:
	case RESTIC_LINE_EXIT_ERROR: {
		char *m = NULL;
		if (restic_parse_line(line, len, NULL) == RESTIC_LINE_ERROR)
			s->error++;
		else
			s->exit_error++;
		if (restic_parse_error(o, &m, NULL) == RM_OK) {
			free(s->last_error);
			s->last_error = m;
		} else {
			s->bad++;
		}
		break;
	}
	case RESTIC_LINE_OTHER: s->other++; break;
	case RESTIC_LINE_TEXT: s->text++; break;
	}
	json_decref(o);
}

static void scan_file(const char *name, struct backup_scan *s)
{
	size_t n = 0;
	char *d = slurp(name, &n);
	struct restic_lines l;
	restic_lines_init(&l, scan_line, s);
	restic_lines_feed(&l, d, n);
	restic_lines_flush(&l);
	restic_lines_cleanup(&l);
	free(d);
}

static void scan_free(struct backup_scan *s)
{
	json_decref(s->last_progress);
	json_decref(s->stats);
	free(s->last_error);
	memset(s, 0, sizeof(*s));
}

TEST(parse_backup_014)
{
	struct backup_scan s = { 0 };
	scan_file("0.14-backup-small.stdout", &s);
	EQ_INT(s.status, 1);
	EQ_INT(s.summary, 1);
	EQ_INT(s.bad, 0);
	OK(s.stats != NULL);
	EQ_STR(json_string_value(json_object_get(s.stats, "snapshot_id")), "1b3e45cd");
	EQ_INT(json_integer_value(json_object_get(s.stats, "files_new")), 3);
	EQ_INT(json_integer_value(json_object_get(s.stats, "total_bytes_processed")), 200008);
	EQ_INT(json_integer_value(json_object_get(s.stats, "data_added")), 202462);
	OK(json_object_get(s.stats, "total_duration") != NULL);
	OK(json_object_get(s.stats, "data_added_packed") == NULL);
	OK(json_object_get(s.stats, "message_type") == NULL);
	/* first status line: only total_files/total_bytes; no eta, no throughput */
	OK(json_object_get(s.last_progress, "eta_seconds") == NULL);
	OK(json_object_get(s.last_progress, "throughput_bps") == NULL);
	EQ_INT(json_integer_value(json_object_get(s.last_progress, "total_bytes")), 6);
	EQ_INT(json_integer_value(json_object_get(s.last_progress, "bytes_done")), 0);
	scan_free(&s);

	scan_file("0.14-backup-progress.stdout", &s);
	EQ_INT(s.status, 95);
	EQ_INT(s.summary, 1);
	EQ_INT(s.bad, 0);
	EQ_INT(s.text, 0);
	const json_t *p = s.last_progress;
	OK(json_real_value(json_object_get(p, "percent_done")) == 1.0);
	EQ_INT(json_integer_value(json_object_get(p, "files_done")), 1);
	EQ_INT(json_integer_value(json_object_get(p, "bytes_done")), 314572800);
	EQ_INT(json_integer_value(json_object_get(p, "throughput_bps")), 314572800 / 3);
	EQ_STR(json_string_value(json_object_get(p, "current_file")), "/tmp/rcap/big/f1");
	scan_free(&s);

	/* a status line with seconds_remaining gives an ETA */
	const char *l =
	    "{\"message_type\":\"status\",\"seconds_elapsed\":1,\"seconds_remaining\":3,"
	    "\"percent_done\":0.25,\"total_files\":1,\"total_bytes\":400,"
	    "\"bytes_done\":100,\"current_files\":[\"/a\"]}";
	json_t *o = NULL, *pr = NULL;
	EQ_INT(restic_parse_line(l, strlen(l), &o), RESTIC_LINE_STATUS);
	OK(restic_parse_status(o, &pr) == RM_OK);
	EQ_INT(json_integer_value(json_object_get(pr, "eta_seconds")), 3);
	EQ_INT(json_integer_value(json_object_get(pr, "throughput_bps")), 100);
	json_decref(pr);
	json_decref(o);

	/* exit 3: per-item error JSON on stderr + warning text */
	scan_file("0.14-backup-warning.stderr", &s);
	EQ_INT(s.error, 1);
	EQ_INT(s.text, 1);
	EQ_STR(s.last_error, "error during archival: read /proc/self/mem: Input/output error");
	scan_free(&s);
}

TEST(parse_backup_017)
{
	struct backup_scan s = { 0 };
	scan_file("0.17-backup-summary.stdout", &s);
	EQ_INT(s.status, 1);
	EQ_INT(s.other, 1);
	EQ_INT(s.summary, 1);
	EQ_INT(s.bad, 0);
	EQ_INT(json_integer_value(json_object_get(s.stats, "data_added_packed")), 65432);
	EQ_STR(json_string_value(json_object_get(s.stats, "backup_start")),
	       "2024-07-02T10:11:12.123456789+02:00");
	OK(json_object_get(s.stats, "backup_end") != NULL);
	OK(json_object_get(s.stats, "dry_run") == NULL);
	EQ_INT(json_integer_value(json_object_get(s.last_progress, "eta_seconds")), 4);
	EQ_INT(json_integer_value(json_object_get(s.last_progress, "throughput_bps")), 500000);
	EQ_STR(json_string_value(json_object_get(s.last_progress, "current_file")), "/home/user/a");
	scan_free(&s);

	scan_file("0.17-backup-error.stderr", &s);
	EQ_INT(s.error, 1);
	EQ_INT(s.exit_error, 1);
	EQ_STR(s.last_error, "Warning: at least one source file could not be read");
	scan_free(&s);

	const char *l = "{\"message_type\":\"error\",\"error\":{\"message\":\"open /root/secret: "
	                "permission denied\"},\"during\":\"archival\",\"item\":\"/root/secret\"}";
	json_t *o = NULL;
	char *m = NULL;
	EQ_INT(restic_parse_line(l, strlen(l), &o), RESTIC_LINE_ERROR);
	OK(restic_parse_error(o, &m, NULL) == RM_OK);
	EQ_STR(m, "error during archival: open /root/secret: permission denied");
	free(m);
	json_decref(o);
	/* item not in the message gets prefixed */
	l = "{\"message_type\":\"error\",\"error\":{\"message\":\"boom\"},\"during\":\"scan\","
	    "\"item\":\"/x\"}";
	EQ_INT(restic_parse_line(l, strlen(l), &o), RESTIC_LINE_ERROR);
	OK(restic_parse_error(o, &m, NULL) == RM_OK);
	EQ_STR(m, "error during scan: /x: boom");
	free(m);
	json_decref(o);
}

TEST(parse_fatal)
{
	char *m = NULL;
	size_t n;
	char *d = slurp("0.14-wrong-password.stderr", &n);
	while (n && d[n - 1] == '\n')
		n--;
	OK(restic_parse_fatal_line(d, n, &m) == RM_OK);
	EQ_STR(m, "Fatal: wrong password or no key found");
	free(m);
	free(d);
	d = slurp("0.18-exit-error.stderr", &n);
	while (n && d[n - 1] == '\n')
		n--;
	OK(restic_parse_fatal_line(d, n, &m) == RM_OK);
	EQ_STR(m, "Fatal: wrong password or no key found");
	free(m);
	json_t *o = NULL;
	int code = -1;
	EQ_INT(restic_parse_line(d, n, &o), RESTIC_LINE_EXIT_ERROR);
	OK(restic_parse_error(o, &m, &code) == RM_OK);
	EQ_INT(code, 12);
	free(m);
	json_decref(o);
	free(d);
	m = NULL;
	EQ_INT(restic_parse_fatal_line("Is there a repository", 21, &m), RM_ERR_NOTFOUND);
	EQ_INT(restic_parse_fatal_line("{\"message_type\":\"status\"}", 25, &m), RM_ERR_NOTFOUND);
	OK(m == NULL);
}

TEST(parse_init_exists)
{
	char *d = slurp("0.14-init-exists.stderr", NULL);
	OK(restic_output_is_already_initialized(d));
	free(d);
	d = slurp("0.18-init-exists.stderr", NULL);
	OK(restic_output_is_already_initialized(d));
	free(d);
	d = slurp("0.14-init.stdout", NULL);
	OK(!restic_output_is_already_initialized(d));
	free(d);
	d = slurp("0.14-wrong-password.stderr", NULL);
	OK(!restic_output_is_already_initialized(d));
	free(d);
	OK(!restic_output_is_already_initialized(NULL));
}

TEST(parse_snapshots)
{
	size_t n;
	json_t *a = NULL;
	char *d = slurp("0.14-snapshots.json", &n);
	OK(restic_parse_snapshots(d, n, 10000, &a) == RM_OK);
	free(d);
	EQ_INT(json_array_size(a), 5);
	json_t *s0 = json_array_get(a, 0), *s4 = json_array_get(a, 4);
	EQ_STR(json_string_value(json_object_get(s0, "id")),
	       "1b3e45cd9c47b5bd618c74c449588cf2fe192d863b21e51f179246eb0a9fb0a3");
	EQ_STR(json_string_value(json_object_get(s0, "short_id")), "1b3e45cd");
	EQ_STR(json_string_value(json_object_get(s0, "time")), "2026-11-24T14:41:49.717Z");
	EQ_STR(json_string_value(json_object_get(s0, "hostname")), "testhost");
	EQ_STR(json_string_value(json_array_get(json_object_get(s0, "paths"), 0)),
	       "/tmp/rcap/data");
	EQ_INT(json_array_size(json_object_get(s0, "tags")), 0);
	OK(json_object_get(s0, "size_bytes") == NULL);
	OK(json_object_get(s0, "file_count") == NULL);
	OK(json_object_get(s0, "tree") == NULL);
	EQ_INT(json_array_size(json_object_get(s4, "tags")), 2);
	EQ_STR(json_string_value(json_array_get(json_object_get(s4, "tags"), 1)), "web app");
	json_decref(a);

	d = slurp("0.17-snapshots.json", &n);
	OK(restic_parse_snapshots(d, n, 10000, &a) == RM_OK);
	EQ_INT(json_array_size(a), 2);
	s0 = json_array_get(a, 0);
	EQ_INT(json_integer_value(json_object_get(s0, "size_bytes")), 987654321);
	EQ_INT(json_integer_value(json_object_get(s0, "file_count")), 112);
	EQ_STR(json_string_value(json_object_get(s0, "time")), "2024-07-02T08:11:12.123Z");
	OK(json_object_get(json_array_get(a, 1), "size_bytes") == NULL);
	json_decref(a);
	/* max keeps the newest (last) entries */
	OK(restic_parse_snapshots(d, n, 1, &a) == RM_OK);
	EQ_INT(json_array_size(a), 1);
	EQ_STR(json_string_value(json_object_get(json_array_get(a, 0), "short_id")), "7a6b5c4d");
	json_decref(a);
	free(d);

	/* empty repo, garbage, wrong shapes */
	OK(restic_parse_snapshots("[]", 2, 0, &a) == RM_OK);
	EQ_INT(json_array_size(a), 0);
	json_decref(a);
	a = NULL;
	EQ_INT(restic_parse_snapshots("{}", 2, 0, &a), RM_ERR_PROTO);
	EQ_INT(restic_parse_snapshots("[{", 2, 0, &a), RM_ERR_PROTO);
	EQ_INT(restic_parse_snapshots(NULL, 0, 0, &a), RM_ERR_PROTO);
	OK(a == NULL);
	const char *odd = "[1,{\"id\":\"x\"},{\"id\":\"abc\",\"time\":\"t\",\"paths\":[1,\"/p\"],"
	                  "\"summary\":{\"total_bytes_processed\":\"x\"}}]";
	OK(restic_parse_snapshots(odd, strlen(odd), 0, &a) == RM_OK);
	EQ_INT(json_array_size(a), 1);
	EQ_STR(json_string_value(json_object_get(json_array_get(a, 0), "short_id")), "abc");
	EQ_INT(json_array_size(json_object_get(json_array_get(a, 0), "paths")), 1);
	json_decref(a);
}

TEST(parse_stats)
{
	size_t n;
	json_t *o = NULL;
	char *d = slurp("0.14-stats-raw-data.json", &n);
	OK(restic_parse_stats(d, n, &o) == RM_OK);
	EQ_INT(json_integer_value(json_object_get(o, "total_size")), 204390);
	EQ_INT(json_integer_value(json_object_get(o, "total_file_count")), 0);
	EQ_INT(json_integer_value(json_object_get(o, "snapshots_count")), 4);
	OK(json_object_get(o, "total_blob_count") == NULL);
	json_decref(o);
	free(d);
	d = slurp("0.17-stats-raw-data.json", &n);
	OK(restic_parse_stats(d, n, &o) == RM_OK);
	EQ_INT(json_integer_value(json_object_get(o, "total_size")), 314801533);
	/* total_size, total_file_count, snapshots_count + the 0.15+ compression fields */
	EQ_INT(json_object_size(o), 6);
	EQ_INT(json_integer_value(json_object_get(o, "total_uncompressed_size")), 629603066);
	OK(json_real_value(json_object_get(o, "compression_ratio")) == 2.0);
	OK(json_real_value(json_object_get(o, "compression_space_saving")) == 50.0);
	json_decref(o);
	free(d);
	o = NULL;
	EQ_INT(restic_parse_stats("[]", 2, &o), RM_ERR_PROTO);
	EQ_INT(restic_parse_stats("{\"total_size\":\"1\"}", 18, &o), RM_ERR_PROTO);
	EQ_INT(restic_parse_stats("{\"total_size\":1,\"snapshots_count\":\"x\"}", 38, &o),
	       RM_ERR_PROTO);
	OK(o == NULL);
}

static void check_forget(const char *fixture, int has_size)
{
	size_t n;
	json_t *o = NULL;
	char *d = slurp(fixture, &n);
	OK(restic_parse_forget(d, n, &o) == RM_OK);
	free(d);
	json_t *keep = json_object_get(o, "keep"), *rm = json_object_get(o, "remove");
	EQ_INT(json_array_size(keep), 1);
	EQ_INT(json_array_size(rm), 2);
	json_t *k = json_array_get(keep, 0);
	EQ_STR(json_string_value(json_object_get(k, "short_id")), "530d7a77");
	json_t *why = json_object_get(k, "reasons");
	EQ_INT(json_array_size(why), 2);
	EQ_STR(json_string_value(json_array_get(why, 0)), "last snapshot");
	EQ_STR(json_string_value(json_array_get(why, 1)), "daily snapshot");
	json_t *r0 = json_array_get(rm, 0);
	EQ_STR(json_string_value(json_object_get(r0, "short_id")), "68b68919");
	EQ_INT(json_array_size(json_object_get(r0, "reasons")), 0);
	EQ_STR(json_string_value(json_object_get(r0, "time")), "2026-12-03T11:38:55.213Z");
	EQ_INT(json_object_get(r0, "size_bytes") != NULL, has_size);
	json_decref(o);
}

TEST(parse_forget)
{
	check_forget("0.14-forget-dry-run.json", 0);
	check_forget("0.17-forget-dry-run.json", 1);
	json_t *o = NULL;
	EQ_INT(restic_parse_forget("{}", 2, &o), RM_ERR_PROTO);
	EQ_INT(restic_parse_forget("[", 1, &o), RM_ERR_PROTO);
	OK(o == NULL);
	/* no groups (nothing matched the tag): empty lists; odd members skipped */
	OK(restic_parse_forget("[]", 2, &o) == RM_OK);
	EQ_INT(json_array_size(json_object_get(o, "keep")), 0);
	json_decref(o);
	const char *odd = "[1,{\"keep\":[{\"id\":\"ab\"},{\"id\":\"cd\",\"time\":\"t\"}],"
	                  "\"reasons\":[{\"snapshot\":{\"time\":\"t\"},\"matches\":[1,\"x\"]}]}]";
	OK(restic_parse_forget(odd, strlen(odd), &o) == RM_OK);
	EQ_INT(json_array_size(json_object_get(o, "keep")), 1);
	json_decref(o);
}

TEST(parse_version)
{
	size_t n;
	char *v = NULL;
	char *d = slurp("0.14-version.stdout", &n);
	OK(restic_parse_version(d, n, &v) == RM_OK);
	EQ_STR(v, "0.14.0");
	free(v);
	free(d);
	d = slurp("0.17-version.json", &n);
	OK(restic_parse_version(d, n, &v) == RM_OK);
	EQ_STR(v, "0.17.3");
	free(v);
	free(d);
	v = NULL;
	EQ_INT(restic_parse_version("rustic 1.0", 10, &v), RM_ERR_PROTO);
	EQ_INT(restic_parse_version("restic ", 7, &v), RM_ERR_PROTO);
	EQ_INT(restic_parse_version("restic x;rm", 11, &v), RM_ERR_PROTO);
	EQ_INT(restic_parse_version("{\"version\":1}", 13, &v), RM_ERR_PROTO);
	EQ_INT(restic_parse_version("", 0, &v), RM_ERR_PROTO);
	OK(v == NULL);
}

TEST(garbage_lines)
{
	const char *lines[] = {
		"",
		"{",
		"}",
		"{}",
		"[]",
		"null",
		"{\"message_type\":1}",
		"{\"message_type\":\"status\",\"percent_done\":\"x\"}",
		"{\"message_type\":\"status\",\"bytes_done\":-5,\"seconds_elapsed\":1e308}",
		"{\"message_type\":\"status\",\"total_bytes\":1e300,\"current_files\":[1]}",
		"{\"message_type\":\"summary\",\"files_new\":\"3\"}",
		"{\"message_type\":\"error\"}",
		"{\"message_type\":\"exit_error\",\"code\":\"x\"}",
		"{\"message_type\":\"status\",\"message_type\":\"summary\"}",
		"{\"message_type\":\"status\"}trailing",
		"Fatal",
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		json_t *o = NULL, *x = NULL;
		char *m = NULL;
		enum restic_line_type t = restic_parse_line(lines[i], strlen(lines[i]), &o);
		if (t == RESTIC_LINE_STATUS && restic_parse_status(o, &x) == RM_OK)
			json_decref(x);
		x = NULL;
		if (t == RESTIC_LINE_SUMMARY)
			EQ_INT(restic_parse_summary(o, &x), RM_ERR_PROTO);
		if (t == RESTIC_LINE_ERROR && restic_parse_error(o, &m, NULL) == RM_OK)
			free(m);
		m = NULL;
		if (t == RESTIC_LINE_EXIT_ERROR)
			EQ_INT(restic_parse_error(o, &m, NULL), RM_ERR_PROTO);
		OK(x == NULL);
		json_decref(o);
	}
	json_t *o = NULL, *x = NULL;
	const char *s = "{\"message_type\":\"status\",\"percent_done\":\"x\"}";
	EQ_INT(restic_parse_line(s, strlen(s), &o), RESTIC_LINE_STATUS);
	EQ_INT(restic_parse_status(o, &x), RM_ERR_PROTO);
	json_decref(o);
	s = "{\"message_type\":\"status\",\"bytes_done\":-5,\"seconds_elapsed\":1e308,"
	    "\"total_bytes\":1e300}";
	EQ_INT(restic_parse_line(s, strlen(s), &o), RESTIC_LINE_STATUS);
	OK(restic_parse_status(o, &x) == RM_OK);
	EQ_INT(json_integer_value(json_object_get(x, "bytes_done")), 0);
	EQ_INT(json_integer_value(json_object_get(x, "throughput_bps")), 0);
	OK(json_integer_value(json_object_get(x, "total_bytes")) > 0);
	json_decref(x);
	json_decref(o);
	s = "{\"message_type\":\"status\",\"message_type\":\"summary\"}";
	EQ_INT(restic_parse_line(s, strlen(s), NULL), RESTIC_LINE_TEXT);
}

int main(void)
{
	RUN(argv_kinds);
	RUN(argv_backup);
	RUN(env_clean);
	RUN(env_rest_userinfo);
	RUN(redaction);
	RUN(lines_split);
	RUN(parse_backup_014);
	RUN(parse_backup_017);
	RUN(parse_fatal);
	RUN(parse_init_exists);
	RUN(parse_snapshots);
	RUN(parse_stats);
	RUN(parse_forget);
	RUN(parse_version);
	RUN(garbage_lines);
	return tap_done();
}
