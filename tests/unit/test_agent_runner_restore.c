/* Runner tests of the restore and drill kinds: a fake restic 0.16 (JSON restore progress,
 * --no-ownership in its help) for the argv and progress rules, the REAL restic 0.14 against
 * a temp repository for restores with a path map and for drills (pass, then fail after the
 * repository's packs are overwritten). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/runner/runner.h"
#include "common/crypto.h"
#include "common/err.h"
#include "common/log.h"
#include "common/proto.h"
#include "tap.h"
#include "test_fs.h"

#define PASSWORD "runner-restore-pw-19c2"

#include "runner_events.h"

static char tmp[64];
static char restic[256];

static char *P(const char *suffix)
{
	static char bufs[8][512];
	static int n;
	char *b = bufs[n++ % 8];
	snprintf(b, 512, "%s/%s", tmp, suffix);
	return b;
}

static void put(const char *path, const char *text, int mode)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	chmod(path, (mode_t)mode);
}

static char *slurp_file(const char *path)
{
	char *d = NULL;
	size_t n = 0;
	return rm_read_file(path, 1 << 20, &d, &n) ? NULL : d;
}

static struct runner *new_runner(const char *state, const char *rpath)
{
	struct runner_opts o = { .loop = &loop,
		                 .restic_path = rpath,
		                 .state_dir = state,
		                 .hostname = "test-host",
		                 .emit = on_emit,
		                 .cancel_grace_ms = 2000 };
	struct runner *r = NULL;
	OK(runner_new(&o, &r) == RM_OK);
	return r;
}

static void free_runner(struct runner *r)
{
	runner_free(r);
	uv_run(&loop, UV_RUN_DEFAULT);
}

static const char *status_of(const json_t *f)
{
	return f ? json_string_value(json_object_get(f, "status")) : "(none)";
}

static const json_t *last_progress(const char *job_id)
{
	const json_t *last = NULL;
	size_t i;
	json_t *e;
	json_array_foreach (events, i, e)
		if (event_is(e, job_id, RM_MSG_JOB_PROGRESS))
			last = json_object_get(e, "p");
	return last;
}

/* restic 0.16 stand-in: JSON status + summary, writes one file under --target. */
static const char *FAKE = "#!/bin/sh\n"
                          "[ \"$1\" = version ] && { echo 'restic 0.16.4 compiled'; exit 0; }\n"
                          "T=''; while [ $# -gt 0 ]; do [ \"$1\" = --target ] && T=\"$2\"; shift; "
                          "done\n"
                          "mkdir -p \"$T/srv\" && printf abc > \"$T/srv/f1\"\n"
                          "echo '{\"message_type\":\"status\",\"seconds_elapsed\":1,"
                          "\"percent_done\":0.5,\"total_files\":2,\"files_restored\":1,"
                          "\"total_bytes\":6,\"bytes_restored\":3}'\n"
                          "echo '{\"message_type\":\"summary\",\"seconds_elapsed\":1,"
                          "\"total_files\":2,\"files_restored\":2,\"total_bytes\":6,"
                          "\"bytes_restored\":6}'\n";

TEST(restore_json_progress_and_flags)
{
	put(P("fake-restic"), FAKE, 0755);
	struct runner *r = new_runner(P("state-fake"), P("fake-restic"));
	runner_set_features(r, "0.16.4", "      --no-ownership   do not restore ownership\n");
	struct runner_creds c = { P("repo-none"), NULL, PASSWORD };
	json_t *a = json_pack("{s:s,s:s,s:[s],s:s}", "snapshot_id", "0123abcd", "target",
	                      P("out-fake"), "includes", "/srv", "mode", "new");
	EQ_INT(runner_submit(r, "j-r16", "restore", a, &c), RM_OK);
	const json_t *f = wait_finished("j-r16", 10000);
	EQ_STR(status_of(f), "succeeded");
	const json_t *st = json_object_get(f, "stats");
	EQ_INT(json_integer_value(json_object_get(st, "files_restored")), 2); /* restic's */
	EQ_INT(json_integer_value(json_object_get(st, "bytes_restored")), 6);
	EQ_STR(json_string_value(json_object_get(st, "target")), P("out-fake"));
	const json_t *pr = last_progress("j-r16");
	OK(pr != NULL);
	OK(json_integer_value(json_object_get(pr, "files_done")) >= 1);
	OK(log_contains("j-r16", "--no-ownership"));
	OK(log_contains("j-r16", "--include /srv"));
	json_decref(a);

	/* in place: ownership is restored (no --no-ownership); target "/" is not created */
	a = json_pack("{s:s,s:s,s:[s],s:s}", "snapshot_id", "0123abcd", "target", P("inplace"),
	              "includes", "/srv", "mode", "in_place");
	EQ_INT(runner_submit(r, "j-r16b", "restore", a, &c), RM_OK);
	f = wait_finished("j-r16b", 10000);
	EQ_STR(status_of(f), "succeeded");
	OK(!log_contains("j-r16b", "--no-ownership"));
	json_decref(a);

	/* bad args are refused at submit */
	a = json_pack("{s:s,s:s}", "snapshot_id", "--help", "target", "/x");
	EQ_INT(runner_submit(r, "j-bad", "restore", a, &c), RM_ERR_INVAL);
	json_decref(a);
	a = json_pack("{s:s,s:[{s:s,s:s}]}", "snapshot_id", "0123abcd", "path_map", "from", "rel",
	              "to", "/x");
	EQ_INT(runner_submit(r, "j-bad2", "restore", a, &c), RM_ERR_INVAL);
	json_decref(a);
	free_runner(r);
}

static char snap_id[80];

static int backup_real(struct runner *r, const struct runner_creds *c)
{
	json_t *a = json_pack("{s:[s]}", "paths", P("data"));
	EQ_INT(runner_submit(r, "j-init", "init", NULL, c), RM_OK);
	EQ_INT(runner_submit(r, "j-bk", "backup", a, c), RM_OK);
	json_decref(a);
	const json_t *f = wait_finished("j-bk", 30000);
	EQ_STR(status_of(f), "succeeded");
	const char *sid =
	    json_string_value(json_object_get(json_object_get(f, "stats"), "snapshot_id"));
	rm_strlcpy(snap_id, sid ? sid : "", sizeof snap_id);
	return sid != NULL;
}

TEST(restore_real_path_map_and_drill)
{
	if (!restic[0]) {
		printf("# SKIP no restic\n");
		return;
	}
	struct runner *r = new_runner(P("state"), restic);
	runner_set_features(r, "0.14.0", "      --verify   verify restored files content\n");
	struct runner_creds c = { P("repo"), NULL, PASSWORD };
	if (!backup_real(r, &c))
		return;
	/* path map: <data>/sub -> /moved, restored under a fresh target */
	json_t *a = json_pack("{s:s,s:s,s:[s],s:s,s:[{s:s,s:s}]}", "snapshot_id", snap_id, "target",
	                      P("out"), "includes", P("data/sub"), "mode", "new", "path_map",
	                      "from", P("data/sub"), "to", "/moved");
	EQ_INT(runner_submit(r, "j-map", "restore", a, &c), RM_OK);
	json_decref(a);
	const json_t *f = wait_finished("j-map", 30000);
	EQ_STR(status_of(f), "succeeded");
	char *got = slurp_file(P("out/moved/b.txt"));
	EQ_STR(got ? got : "(missing)", "bee\n");
	free(got);
	EQ_INT(json_integer_value(json_object_get(json_object_get(f, "stats"), "files_restored")),
	       1);
	DIR *d = opendir(P("out"));
	int entries = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		entries += e->d_name[0] != '.';
	if (d)
		closedir(d);
	EQ_INT(entries, 1); /* "moved" only: the staging dir is gone */

	/* drill: passes, scratch removed */
	a = json_pack("{s:i}", "sample_files", 5);
	EQ_INT(runner_submit(r, "j-drill", "drill", a, &c), RM_OK);
	f = wait_finished("j-drill", 30000);
	EQ_STR(status_of(f), "succeeded");
	const json_t *st = json_object_get(f, "stats");
	OK(json_is_true(json_object_get(st, "ok")));
	EQ_INT(json_integer_value(json_object_get(st, "files_checked")), 2);
	EQ_INT(json_integer_value(json_object_get(st, "mismatches")), 0);
	OK(log_contains("j-drill", "--verify"));
	struct stat sb;
	OK(stat(P("state/drill/j-drill"), &sb) != 0);

	/* every data pack overwritten: the drill fails, with stats */
	char cmd[600];
	snprintf(cmd, sizeof cmd,
	         "find %s/data -type f | while read f; do chmod 600 \"$f\"; "
	         "n=$(stat -c %%s \"$f\"); head -c $n /dev/zero > \"$f\"; done",
	         P("repo"));
	EQ_INT(system(cmd), 0);
	EQ_INT(runner_submit(r, "j-drill2", "drill", a, &c), RM_OK);
	json_decref(a);
	f = wait_finished("j-drill2", 30000);
	EQ_STR(status_of(f), "failed");
	OK(json_is_false(json_object_get(json_object_get(f, "stats"), "ok")));
	OK(json_is_string(json_object_get(f, "error")));
	free_runner(r);
}

int main(void)
{
	rm_log_set_level(RM_LOG_ERROR);
	test_find_restic(restic, sizeof restic);
	rm_strlcpy(tmp, "/tmp/rm-runner-restore.XXXXXX", sizeof(tmp));
	if (!mkdtemp(tmp))
		return 1;
	mkdir(P("data"), 0755);
	mkdir(P("data/sub"), 0755);
	put(P("data/a.txt"), "alpha\n", 0644);
	put(P("data/sub/b.txt"), "bee\n", 0644);
	uv_loop_init(&loop);
	events = json_array();
	RUN(restore_json_progress_and_flags);
	RUN(restore_real_path_map_and_drill);
	json_decref(events);
	OK(uv_loop_close(&loop) == 0);
	test_rm_rf(tmp);
	return tap_done();
}
