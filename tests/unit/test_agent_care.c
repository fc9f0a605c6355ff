/* Unit tests for the repository-care parts of the agent: forget/prune/check/lock parsers
 * against captured restic 0.14 output and hand-written 0.17 shapes, the care argv rows,
 * and the lock judge. */
#include <stdlib.h>
#include <string.h>

#include "agent/restic/argv.h"
#include "agent/restic/keys.h"
#include "agent/restic/parse_care.h"
#include "agent/runner/runner_int.h"
#include "common/crypto.h"
#include "common/err.h"
#include "common/json.h"
#include "common/rmtime.h"
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
		d = rm_xstrdup("");
		n = 0;
	}
	*len = n;
	return d;
}

static char *joined(const char *kind, const char *args_json)
{
	json_t *args = args_json ? json_loads(args_json, 0, NULL) : NULL;
	char **argv = NULL;
	char err[160] = "";
	int rc = restic_argv_build("/usr/bin/restic", kind, args, "web1", &argv, err, sizeof err);
	json_decref(args);
	if (rc)
		return rm_xasprintf("ERR %s", err);
	char *s = restic_argv_format(argv);
	restic_argv_free(argv);
	return s;
}

TEST(argv_care)
{
	char *s = joined("forget", "{\"group\":\"www\",\"retention\":{\"keep_last\":2,"
	                           "\"keep_daily\":7,\"keep_within\":\"1y2m\"}}");
	EQ_STR(s, "/usr/bin/restic forget --json --group-by host,tags --host web1 --tag www "
	          "--keep-last 2 --keep-daily 7 --keep-within 1y2m");
	free(s);
	s = joined("forget",
	           "{\"group\":\"www\",\"retention\":{\"keep_last\":1},\"dry_run\":true}");
	EQ_STR(s, "/usr/bin/restic forget --json --group-by host,tags --host web1 --tag www "
	          "--dry-run --keep-last 1");
	free(s);
	s = joined("forget", "{\"group\":\"www\",\"retention\":{}}");
	OK(strncmp(s, "ERR", 3) == 0); /* a policy that keeps nothing is refused */
	free(s);
	s = joined("forget", "{\"group\":\"-rf\",\"retention\":{\"keep_last\":1}}");
	OK(strncmp(s, "ERR", 3) == 0);
	free(s);
	s = joined("forget", "{\"group\":\"a\",\"retention\":{\"keep_within\":\"7 days\"}}");
	OK(strncmp(s, "ERR", 3) == 0);
	free(s);
	s = joined("check", "{\"read_data_subset\":\"5%\"}");
	EQ_STR(s, "/usr/bin/restic check --read-data-subset 5%");
	free(s);
	s = joined("check", NULL);
	EQ_STR(s, "/usr/bin/restic check");
	free(s);
	s = joined("prune", NULL);
	EQ_STR(s, "/usr/bin/restic prune");
	free(s);
	s = joined("list-locks", NULL);
	EQ_STR(s, "/usr/bin/restic list locks --no-lock");
	free(s);
	s = joined("cat-lock",
	           "{\"id\":\"49e3a57c0000000000000000000000000000000000000000000000000000ffff\"}");
	EQ_STR(s, "/usr/bin/restic cat lock "
	          "49e3a57c0000000000000000000000000000000000000000000000000000ffff --no-lock");
	free(s);
	s = joined("cat-lock", "{\"id\":\"../../etc\"}");
	OK(strncmp(s, "ERR", 3) == 0);
	free(s);
	s = joined("unlock-all", NULL);
	EQ_STR(s, "/usr/bin/restic unlock --remove-all");
	free(s);
	const char *good[] = { "5%", "100%", "0.5%", "1/5", "5/5" };
	const char *bad[] = {
		"0%", "101%", "%", "5", "0/5", "6/5", "1/0", "a/b", "1/2/3", "-1%", ""
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		OK(restic_subset_ok(good[i]));
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		OK(!restic_subset_ok(bad[i]));
}

/* C6 password rotation: key rows and `key list` (0.14 JSON and text, captured) */
TEST(keys)
{
	char *s = joined("key-list", NULL);
	EQ_STR(s, "/usr/bin/restic key list --json");
	free(s);
	s = joined("key-add", "{\"file\":\"/var/lib/rm/keypw-01J\"}");
	EQ_STR(s, "/usr/bin/restic key add --new-password-file /var/lib/rm/keypw-01J");
	free(s);
	s = joined("key-add", "{\"file\":\"rel/path\"}");
	OK(strncmp(s, "ERR", 3) == 0);
	free(s);
	s = joined("key-remove", "{\"key_id\":\"cd67645d\"}");
	EQ_STR(s, "/usr/bin/restic key remove cd67645d");
	free(s);
	const char *bad_ids[] = { "{\"key_id\":\"--help\"}", "{\"key_id\":\"abc\"}",
		                  "{\"key_id\":\"CD67645D\"}", "{}" };
	for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
		s = joined("key-remove", bad_ids[i]);
		OK(strncmp(s, "ERR", 3) == 0);
		free(s);
	}
	char id[RESTIC_KEY_ID_MAX + 1] = "";
	size_t n = 0;
	char *d = slurp("0.14-key-list.json", &n);
	EQ_INT(restic_parse_key_current(d, n, id), RM_OK);
	EQ_STR(id, "cd67645d");
	free(d);
	d = slurp("0.14-key-list.txt", &n);
	id[0] = '\0';
	EQ_INT(restic_parse_key_current(d, n, id), RM_OK);
	EQ_STR(id, "cd67645d");
	free(d);
	/* no current key, malformed, a current key with a bad id */
	const char *bad[] = { "[]",
		              "[{\"current\":false,\"id\":\"cd67645d\"}]",
		              "[{",
		              "[{\"current\":true,\"id\":\"../x\"}]",
		              "",
		              "*zz  root",
		              "{\"current\":true,\"id\":\"cd67645d\"}" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		rm_strlcpy(id, "keep", sizeof id);
		EQ_INT(restic_parse_key_current(bad[i], strlen(bad[i]), id), RM_ERR_PROTO);
		EQ_STR(id, "keep");
	}
	/* 0.17+ full-length ids */
	const char *full =
	    "[{\"current\":true,\"id\":\"3a047437e5d52024ceff58fc92646abe0861befa8f656f475c2324e481e20b17\"}]";
	EQ_INT(restic_parse_key_current(full, strlen(full), id), RM_OK);
	EQ_INT((int)strlen(id), 64);
}

TEST(parse_forget)
{
	size_t n;
	char *d = slurp("0.14-forget.json", &n);
	json_t *o = NULL;
	EQ_INT(restic_parse_forget_counts(d, n, &o), RM_OK);
	EQ_INT(rmj_int(o, "kept", -1), 1);
	EQ_INT(rmj_int(o, "removed", -1), 1);
	EQ_INT(json_array_size(json_object_get(o, "removed_ids")), 1);
	json_decref(o);
	free(d);
	d = slurp("0.17-forget.json", &n);
	EQ_INT(restic_parse_forget_counts(d, n, &o), RM_OK);
	EQ_INT(rmj_int(o, "kept", -1), 1);
	EQ_INT(rmj_int(o, "removed", -1), 2);
	json_decref(o);
	free(d);
	EQ_INT(restic_parse_forget_counts("", 0, &o), RM_OK); /* nothing printed */
	EQ_INT(rmj_int(o, "removed", -1), 0);
	json_decref(o);
	o = NULL;
	EQ_INT(restic_parse_forget_counts("{\"a\":1}", 7, &o), RM_ERR_PROTO);
	EQ_INT(restic_parse_forget_counts("[{\"keep\":3}]", 12, &o), RM_ERR_PROTO);
	OK(o == NULL);
}

TEST(parse_prune)
{
	size_t n;
	char *d = slurp("0.14-prune.stdout", &n);
	json_t *o = NULL;
	EQ_INT(restic_parse_prune(d, n, &o), RM_OK);
	OK(rmj_int(o, "freed_bytes", -1) > 1400000 && rmj_int(o, "freed_bytes", -1) < 1600000);
	EQ_INT(rmj_int(o, "blobs_removed", -1), 7);
	EQ_INT(rmj_int(o, "unused_bytes_after", -1), 0);
	EQ_INT(rmj_int(o, "packs_removed", -1), 2);
	json_decref(o);
	free(d);
	d = slurp("0.14-prune-nothing.stdout", &n);
	EQ_INT(restic_parse_prune(d, n, &o), RM_OK);
	EQ_INT(rmj_int(o, "freed_bytes", -1), 0);
	json_decref(o);
	free(d);
	d = slurp("0.17-prune.stdout", &n);
	EQ_INT(restic_parse_prune(d, n, &o), RM_OK);
	EQ_INT(rmj_int(o, "freed_bytes", -1), 2684354560LL);
	EQ_INT(rmj_int(o, "unused_bytes_after", -1), 12582912);
	json_decref(o);
	free(d);
	o = NULL;
	EQ_INT(restic_parse_prune("done\n", 5, &o), RM_ERR_PROTO);
	OK(o == NULL);
	long long v = 0;
	EQ_INT(restic_parse_size("1.000 MiB", 9, &v), RM_OK);
	EQ_INT(v, 1048576);
	EQ_INT(restic_parse_size("0 B", 3, &v), RM_OK);
	EQ_INT(v, 0);
	EQ_INT(restic_parse_size("12 parsecs", 10, &v), RM_ERR_PROTO);
	EQ_INT(restic_parse_size("1e400 GiB", 9, &v), RM_ERR_PROTO);
}

TEST(parse_locks)
{
	size_t n;
	char *d = slurp("0.14-list-locks.stdout", &n);
	json_t *ids = NULL;
	EQ_INT(restic_parse_lock_ids(d, n, 10, &ids), RM_OK);
	EQ_INT(json_array_size(ids), 1);
	json_decref(ids);
	free(d);
	EQ_INT(restic_parse_lock_ids("nope\nABC\n", 9, 10, &ids), RM_OK);
	EQ_INT(json_array_size(ids), 0);
	json_decref(ids);
	d = slurp("0.14-cat-lock.json", &n);
	json_t *l = NULL;
	EQ_INT(restic_parse_lock("abc", d, n, &l), RM_OK);
	EQ_STR(rmj_str(l, "hostname"), "vm");
	EQ_INT(rmj_int(l, "pid", 0), 20170);
	EQ_STR(rmj_str(l, "username"), "root");
	OK(json_is_false(json_object_get(l, "exclusive")));
	json_decref(l);
	free(d);
	l = NULL;
	EQ_INT(restic_parse_lock("x", "{\"hostname\":\"a\"}", 16, &l), RM_ERR_PROTO);
	OK(l == NULL);
	/* lock failure detection, 0.14 text and 0.17 */
	d = slurp("0.14-locked.stderr", &n);
	OK(restic_output_is_locked(d, n));
	free(d);
	d = slurp("0.17-locked.stderr", &n);
	OK(restic_output_is_locked(d, n));
	free(d);
	OK(!restic_output_is_locked("Fatal: wrong password", 21));
}

TEST(check_errors)
{
	OK(restic_check_error_line("Pack ID does not match, want 56, got e7", 39));
	OK(restic_check_error_line("error: load <data/1234>: invalid data", 37));
	OK(!restic_check_error_line("Fatal: repository contains errors", 33));
	OK(!restic_check_error_line("no errors were found", 20));
	OK(!restic_check_error_line("check snapshots, trees and blobs", 32));
	OK(restic_check_error_line("{\"message_type\":\"error\",\"message\":\"x\"}", 38));
	/* the captured 0.14 check of a corrupted pack: exactly one error line */
	size_t n;
	char *d = slurp("0.14-check-corrupt.out", &n);
	int errors = 0;
	for (char *p = d, *nl; p < d + n; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(d + n - p));
		if (!nl)
			nl = d + n;
		errors += restic_check_error_line(p, (size_t)(nl - p));
	}
	EQ_INT(errors, 1);
	free(d);
}

static int alive_pid;
static int fake_alive(long long pid)
{
	return pid == alive_pid;
}

static const char *judge(const char *host, long long pid, const char *time, const char *peers)
{
	static char out[64];
	json_t *l = json_pack("{s:s,s:s,s:I,s:s}", "id", "x", "hostname", host, "pid",
	                      (json_int_t)pid, "time", time);
	json_t *p = peers ? json_loads(peers, 0, NULL) : NULL;
	int64_t now = 0;
	rm_time_parse("2026-12-03T12:00:00Z", &now);
	runner_lock_judge(l, "me", p, fake_alive, now);
	snprintf(out, sizeof out, "%s%s",
	         json_is_true(json_object_get(l, "dead")) ? "dead" : "live",
	         json_is_true(json_object_get(l, "restic_stale")) ? "+stale" : "");
	json_decref(l);
	json_decref(p);
	return out;
}

TEST(lock_judge)
{
	alive_pid = 100;
	const char *fresh = "2026-12-03T11:59:00.123456789Z", *old = "2026-12-03T11:00:00Z";
	EQ_STR(judge("me", 101, fresh, NULL), "dead+stale"); /* same host, PID gone */
	EQ_STR(judge("me", 100, fresh, NULL), "live");       /* same host, runs */
	EQ_STR(judge("me", 100, old, NULL), "live+stale");   /* runs: never ours to remove */
	EQ_STR(judge("peer", 5, fresh, "{\"peer\":\"idle\"}"), "dead"); /* idle agent */
	EQ_STR(judge("peer", 5, old, "{\"peer\":\"busy\"}"), "live");   /* busy agent */
	EQ_STR(judge("peer", 5, fresh, NULL), "live");                  /* unknown, fresh */
	EQ_STR(judge("peer", 5, old, NULL), "dead+stale");              /* unknown, > 30 min */
	EQ_STR(judge("peer", 5, "garbage", NULL), "live");
}

int main(void)
{
	RUN(argv_care);
	RUN(keys);
	RUN(parse_forget);
	RUN(parse_prune);
	RUN(parse_locks);
	RUN(check_errors);
	RUN(lock_judge);
	return tap_done();
}
