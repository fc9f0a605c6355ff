/* Retention previews on the agent (runner/preview.c) with fake restic scripts: the argv
 * restic gets, the answer parsed from restic's JSON, restic's error scrubbed of the
 * credentials, the bound on concurrent previews, bad arguments, and runner_free while a
 * preview runs. (The real restic 0.14 path is covered end to end in
 * tests/e2e/repo_health.test.mjs.) */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/runner/runner.h"
#include "common/crypto.h"
#include "common/err.h"
#include "common/log.h"
#include "tap.h"
#include "test_fs.h"

#include "runner_events.h"

static char tmp[64];

struct answer {
	int called, rc;
	char tag[80];
	json_t *res;
	char *error;
};

static void done_cb(void *ud, const char *tag, int rc, json_t *res, const char *error)
{
	struct answer *a = ud;
	a->called++;
	a->rc = rc;
	rm_strlcpy(a->tag, tag, sizeof a->tag);
	a->res = res;
	a->error = error ? rm_xstrdup(error) : NULL;
}

static void answer_reset(struct answer *a)
{
	json_decref(a->res);
	free(a->error);
	memset(a, 0, sizeof *a);
}

static char *script(const char *name, const char *body)
{
	char *path = rm_xasprintf("%s/%s", tmp, name);
	char *sh = rm_xasprintf("#!/bin/sh\n%s", body);
	OK(rm_write_file_atomic(path, sh, strlen(sh), 0700) == RM_OK);
	free(sh);
	return path;
}

static struct runner *new_runner(const char *rpath)
{
	struct runner_opts o = {
		.loop = &loop,
		.restic_path = rpath,
		.state_dir = tmp,
		.hostname = "test-host",
		.emit = on_emit,
	};
	struct runner *r = NULL;
	OK(runner_new(&o, &r) == RM_OK);
	return r;
}

static void wait_called(struct answer *a, int n, unsigned ms)
{
	uint64_t start = uv_now(&loop);
	while (a->called < n && uv_now(&loop) - start < ms) {
		uv_run(&loop, UV_RUN_ONCE);
		uv_update_time(&loop);
	}
}

static const struct runner_creds creds = { .repo_url = "/tmp/some-repo",
	                                   .repo_password = "preview-pw-91c3" };

TEST(argv_and_answer)
{
	char cwd[PATH_MAX];
	OK(getcwd(cwd, sizeof cwd) != NULL);
	char *body = rm_xasprintf(
	    "echo \"$@\" > %s/argv\ncat %s/tests/data/restic/0.14-forget-dry-run.json\n", tmp, cwd);
	char *fake = script("fake-ok", body);
	free(body);
	struct runner *r = new_runner(fake);
	json_t *args = json_pack("{s:s,s:{s:i,s:i,s:s}}", "group", "docs", "retention", "keep_last",
	                         2, "keep_monthly", 0, "keep_within", "7d");
	struct answer a = { 0 };
	char err[256] = "";
	EQ_INT(runner_forget_preview(r, args, &creds, "req-1", done_cb, &a, err, sizeof err),
	       RM_OK);
	wait_called(&a, 1, 10000);
	EQ_INT(a.called, 1);
	EQ_INT(a.rc, RM_OK);
	EQ_STR(a.tag, "req-1");
	EQ_INT(json_array_size(json_object_get(a.res, "keep")), 1);
	EQ_INT(json_array_size(json_object_get(a.res, "remove")), 2);
	char *argv = NULL;
	size_t n = 0;
	char *ap = rm_xasprintf("%s/argv", tmp);
	OK(rm_read_file(ap, 4096, &argv, &n) == RM_OK);
	EQ_STR(argv,
	       "forget --no-lock --dry-run --json --tag docs --group-by host,tags --keep-last 2 "
	       "--keep-within 7d\n");
	free(argv);
	free(ap);
	answer_reset(&a);
	/* no events: a preview is not a job */
	EQ_INT(json_array_size(events), 0);
	json_decref(args);
	runner_free(r);
	uv_run(&loop, UV_RUN_DEFAULT);
	free(fake);
}

TEST(failure_scrubbed_and_bad_output)
{
	char *fake = script("fake-fail", "echo 'progress' >&2\n"
	                                 "echo \"Fatal: cannot open $RESTIC_REPOSITORY: wrong "
	                                 "password $RESTIC_PASSWORD\" >&2\nexit 1\n");
	struct runner *r = new_runner(fake);
	json_t *args = json_pack("{s:s,s:{s:i}}", "group", "docs", "retention", "keep_last", 1);
	struct answer a = { 0 };
	char err[256] = "";
	EQ_INT(runner_forget_preview(r, args, &creds, "req-2", done_cb, &a, err, sizeof err),
	       RM_OK);
	wait_called(&a, 1, 10000);
	EQ_INT(a.called, 1);
	OK(a.rc != RM_OK);
	OK(a.res == NULL);
	EQ_STR(a.error, "Fatal: cannot open /tmp/some-repo: wrong password ***");
	answer_reset(&a);
	runner_free(r);
	uv_run(&loop, UV_RUN_DEFAULT);
	free(fake);

	fake = script("fake-garbage", "echo 'not json'\n");
	r = new_runner(fake);
	EQ_INT(runner_forget_preview(r, args, &creds, "req-3", done_cb, &a, err, sizeof err),
	       RM_OK);
	wait_called(&a, 1, 10000);
	EQ_INT(a.rc, RM_ERR_PROTO);
	EQ_STR(a.error, "cannot parse the output of restic forget --dry-run");
	answer_reset(&a);
	json_decref(args);
	runner_free(r);
	uv_run(&loop, UV_RUN_DEFAULT);
	free(fake);
}

TEST(bounds_and_bad_args)
{
	char *fake = script("fake-slow", "exec sleep 30\n");
	struct runner *r = new_runner(fake);
	json_t *args = json_pack("{s:s,s:{s:i}}", "group", "docs", "retention", "keep_daily", 3);
	struct answer a = { 0 };
	char err[256] = "";
	EQ_INT(runner_forget_preview(r, args, &creds, "s1", done_cb, &a, err, sizeof err), RM_OK);
	EQ_INT(runner_forget_preview(r, args, &creds, "s2", done_cb, &a, err, sizeof err), RM_OK);
	EQ_INT(runner_forget_preview(r, args, &creds, "s3", done_cb, &a, err, sizeof err),
	       RM_ERR_AGAIN);
	EQ_STR(err, "another retention preview is running");
	/* bad arguments never start restic and never call back */
	json_t *bad[] = {
		json_pack("{s:s,s:{}}", "group", "docs", "retention"), /* no rule */
		json_pack("{s:s,s:{s:i}}", "group", "Bad Tag", "retention", "keep_last",
		          1), /* tag */
		json_pack("{s:s,s:{s:s}}", "group", "docs", "retention", "keep_within", "7 d"),
		json_pack("{s:s,s:{s:i}}", "group", "docs", "retention", "keep_last", -1),
	};
	runner_free(r); /* kills the two sleeping previews; their answers are dropped */
	uv_run(&loop, UV_RUN_DEFAULT);
	EQ_INT(a.called, 0);
	r = new_runner(fake);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		EQ_INT(runner_forget_preview(r, bad[i], &creds, "b", done_cb, &a, err, sizeof err),
		       RM_ERR_INVAL);
		json_decref(bad[i]);
	}
	EQ_INT(runner_forget_preview(r, args, NULL, "b", done_cb, &a, err, sizeof err),
	       RM_ERR_INVAL);
	EQ_STR(err, "no repository configured");
	runner_free(r);
	uv_run(&loop, UV_RUN_DEFAULT);
	EQ_INT(a.called, 0);
	json_decref(args);
	free(fake);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	rm_log_set_level(RM_LOG_ERROR);
	rm_strlcpy(tmp, "/tmp/rm-preview-test.XXXXXX", sizeof(tmp));
	if (!mkdtemp(tmp))
		return 1;
	uv_loop_init(&loop);
	events = json_array();
	RUN(argv_and_answer);
	RUN(failure_scrubbed_and_bad_output);
	RUN(bounds_and_bad_args);
	json_decref(events);
	OK(uv_loop_close(&loop) == 0);
	test_rm_rf(tmp);
	return tap_done();
}
