/* Pre/post hooks of backups (runner/hooks.c) with tiny shell scripts and the REAL restic
 * against a temp local repository. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/runner/runner.h"
#include "common/err.h"
#include "common/log.h"
#include "common/proto.h"
#include "tap.h"
#include "test_fs.h"

#include "runner_events.h"

#define PASSWORD "hooks-test-pw-51c2"

static char tmp[64];
static char restic[256];
static struct runner *run;
static struct runner_creds creds;

static char *P(const char *suffix)
{
	static char bufs[4][512];
	static int n;
	char *b = bufs[n++ % 4];
	snprintf(b, 512, "%s/%s", tmp, suffix);
	return b;
}

/* A backup of tmp/data with the given hook args (a JSON object text, merged). */
static const json_t *backup(const char *job_id, const char *hook_args, int timeout_ms)
{
	json_t *args =
	    json_pack("{s:[s], s:[s], s:s}", "paths", P("data"), "tags", "g1", "group", "g1");
	json_t *extra = json_loads(hook_args, 0, NULL);
	json_object_update(args, extra);
	json_decref(extra);
	int rc = runner_submit(run, job_id, "backup", args, &creds);
	json_decref(args);
	if (rc)
		return NULL;
	return wait_finished(job_id, timeout_ms);
}

static const char *fstr(const json_t *f, const char *k)
{
	return json_string_value(json_object_get(f, k));
}

/* The hook line with this prefix, as logged (stream must be "hook"). */
static const char *hook_line(const char *job_id, const char *prefix)
{
	size_t i, k;
	json_t *e, *l;
	json_array_foreach (events, i, e) {
		const json_t *p = json_object_get(e, "p");
		if (json_integer_value(json_object_get(e, "type")) != RM_MSG_LOG_STREAM)
			continue;
		if (strcmp(fstr(p, "job_id"), job_id) != 0)
			continue;
		json_array_foreach (json_object_get(p, "lines"), k, l) {
			const char *s = fstr(l, "payload");
			if (strncmp(s, prefix, strlen(prefix)) == 0 &&
			    strcmp(fstr(l, "stream"), "hook") == 0)
				return s;
		}
	}
	return NULL;
}

TEST(pre_hook_fails)
{
	const json_t *f = backup("h-pre-fail",
	                         "{\"pre_hook\":\"echo getting ready; echo oops >&2; exit 1\","
	                         "\"post_hook\":\"echo post ran $RM_JOB_STATUS\"}",
	                         10000);
	OK(f != NULL);
	EQ_STR(fstr(f, "status"), "failed");
	EQ_STR(fstr(f, "error"), "pre-hook exited 1");
	OK(hook_line("h-pre-fail", "pre-hook: getting ready") != NULL);
	OK(hook_line("h-pre-fail", "pre-hook: oops") != NULL);
	OK(!log_contains("h-pre-fail", "restic backup")); /* restic never ran */
	/* the post-hook still runs (it undoes what the pre-hook began), told the job failed */
	OK(hook_line("h-pre-fail", "post-hook: post ran failed") != NULL);
	EQ_STR(fstr(f, "error"), "pre-hook exited 1");
	OK(!log_contains("h-pre-fail", "echo oops")); /* the script is never logged */
}

TEST(env_and_status)
{
	setenv("RM_HOOK_TEST_LEAK", "leaked", 1);
	const json_t *f = backup(
	    "h-env",
	    "{\"pre_hook\":\"echo id=$RM_JOB_ID group=$RM_GROUP leak=${RM_HOOK_TEST_LEAK:-none}\","
	    "\"post_hook\":\"echo status=$RM_JOB_STATUS snap=$RM_SNAPSHOT_ID\"}",
	    30000);
	OK(f != NULL);
	EQ_STR(fstr(f, "status"), "succeeded");
	EQ_STR(hook_line("h-env", "pre-hook: id="), "pre-hook: id=h-env group=g1 leak=none");
	const char *snap =
	    json_string_value(json_object_get(json_object_get(f, "stats"), "snapshot_id"));
	OK(snap && strlen(snap) >= 8);
	char want[200];
	snprintf(want, sizeof want, "post-hook: status=succeeded snap=%s", snap ? snap : "");
	EQ_STR(hook_line("h-env", "post-hook: status="), want);
	unsetenv("RM_HOOK_TEST_LEAK");
}

TEST(post_hook_fails_keeps_snapshot)
{
	size_t before = json_array_size(events);
	const json_t *f = backup("h-post-fail", "{\"post_hook\":\"exit 2\"}", 30000);
	OK(f != NULL);
	EQ_STR(fstr(f, "status"), "failed");
	EQ_STR(fstr(f, "error"), "post-hook exited 2");
	EQ_INT(json_integer_value(json_object_get(f, "exit_code")), 0);
	OK(json_string_value(json_object_get(json_object_get(f, "stats"), "snapshot_id")) != NULL);
	int reported = 0;
	for (size_t i = before; i < json_array_size(events); i++)
		if (json_integer_value(json_object_get(json_array_get(events, i), "type")) ==
		    RM_MSG_SNAPSHOTS_REPORT)
			reported = 1;
	OK(reported);
}

TEST(post_hook_after_failed_backup)
{
	json_t *args = json_pack("{s:[s], s:s}", "paths", "/nonexistent/rm-hooks-test", "post_hook",
	                         "echo status=$RM_JOB_STATUS snap=${RM_SNAPSHOT_ID:-none}");
	EQ_INT(runner_submit(run, "h-failed", "backup", args, &creds), RM_OK);
	json_decref(args);
	const json_t *f = wait_finished("h-failed", 30000);
	OK(f != NULL);
	EQ_STR(fstr(f, "status"), "failed");
	EQ_STR(hook_line("h-failed", "post-hook: status="), "post-hook: status=failed snap=none");
}

TEST(timeout_kills)
{
	uint64_t t0 = uv_now(&loop);
	const json_t *f =
	    backup("h-timeout", "{\"pre_hook\":\"sleep 30\",\"hook_timeout_s\":1}", 15000);
	OK(f != NULL);
	EQ_STR(fstr(f, "error"), "pre-hook timed out after 1 s");
	OK(uv_now(&loop) - t0 < 5000);
	/* a script that ignores SIGTERM is killed after the grace period (1 s here) */
	t0 = uv_now(&loop);
	f = backup("h-stubborn",
	           "{\"pre_hook\":\"trap '' TERM; echo waiting; sleep 30 & wait\","
	           "\"hook_timeout_s\":1}",
	           15000);
	OK(f != NULL);
	EQ_STR(fstr(f, "error"), "pre-hook timed out after 1 s");
	OK(uv_now(&loop) - t0 < 8000);
	OK(hook_line("h-stubborn", "pre-hook: waiting") != NULL);
}

TEST(cancel_in_pre_hook)
{
	json_t *args = json_pack("{s:[s], s:s, s:s}", "paths", P("data"), "pre_hook",
	                         "echo started; sleep 30", "post_hook", "echo post ran");
	EQ_INT(runner_submit(run, "h-cancel", "backup", args, &creds), RM_OK);
	json_decref(args);
	uint64_t t0 = uv_now(&loop);
	while (!hook_line("h-cancel", "pre-hook: started") && uv_now(&loop) - t0 < 10000) {
		uv_run(&loop, UV_RUN_ONCE);
		uv_update_time(&loop);
	}
	EQ_INT(runner_cancel(run, "h-cancel"), RM_OK);
	const json_t *f = wait_finished("h-cancel", 10000);
	OK(f != NULL);
	EQ_STR(fstr(f, "status"), "cancelled");
	OK(!log_contains("h-cancel", "restic backup"));
	OK(hook_line("h-cancel", "post-hook:") == NULL);
}

TEST(bad_hook_args)
{
	json_t *args =
	    json_pack("{s:[s], s:s, s:s}", "paths", "/x", "pre_hook", "true", "hook_shell", "sh");
	EQ_INT(runner_submit(run, "h-bad", "backup", args, &creds), RM_ERR_INVAL);
	json_decref(args);
	args = json_pack("{s:[s], s:i}", "paths", "/x", "hook_timeout_s", -1);
	EQ_INT(runner_submit(run, "h-bad", "backup", args, &creds), RM_ERR_INVAL);
	json_decref(args);
}

int main(void)
{
	if (!test_find_restic(restic, sizeof restic)) {
		printf("1..0 # SKIP restic not installed\n");
		return 0;
	}
	rm_log_set_level(RM_LOG_ERROR);
	rm_strlcpy(tmp, "/tmp/rm-hooks-test.XXXXXX", sizeof(tmp));
	if (!mkdtemp(tmp))
		return 1;
	mkdir(P("data"), 0755);
	int fd = open(P("data/a.txt"), O_WRONLY | O_CREAT, 0644);
	if (fd < 0 || write(fd, "hello\n", 6) != 6)
		return 1;
	close(fd);
	uv_loop_init(&loop);
	events = json_array();
	struct runner_opts o = { .loop = &loop,
		                 .restic_path = restic,
		                 .state_dir = P("state"),
		                 .hostname = "hooks-host",
		                 .emit = on_emit,
		                 .cancel_grace_ms = 1000 };
	if (runner_new(&o, &run))
		return 1;
	creds.repo_url = P("repo");
	creds.repo_password = PASSWORD;
	if (runner_submit(run, "h-init", "init", NULL, &creds) || !wait_finished("h-init", 20000))
		return 1;

	RUN(pre_hook_fails);
	RUN(env_and_status);
	RUN(post_hook_fails_keeps_snapshot);
	RUN(post_hook_after_failed_backup);
	RUN(timeout_kills);
	RUN(cancel_in_pre_hook);
	RUN(bad_hook_args);

	runner_free(run);
	uv_run(&loop, UV_RUN_DEFAULT);
	json_decref(events);
	OK(uv_loop_close(&loop) == 0);
	test_rm_rf(tmp);
	return tap_done();
}
