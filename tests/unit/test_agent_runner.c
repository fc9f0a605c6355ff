/* Runner tests with the REAL restic binary against temp local repositories. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/runner/runner.h"
#include "common/crypto.h"
#include "common/err.h"
#include "common/log.h"
#include "common/proto.h"
#include "tap.h"
#include "test_fs.h"

#define PASSWORD "runner-test-pw-7f3a"

#include "runner_events.h"

static char tmp[64];
static char restic[256];
static int have_restic;

/* seq of job.started, log lines and job.finished must be 1..N contiguous, in order. */
static int check_seq(const char *job_id)
{
	long long want = 1;
	size_t i, k;
	json_t *e, *l;
	json_array_foreach (events, i, e) {
		const json_t *p = json_object_get(e, "p");
		int t = (int)json_integer_value(json_object_get(e, "type"));
		const char *id = json_string_value(json_object_get(p, "job_id"));
		if (!id || strcmp(id, job_id) != 0)
			continue;
		if (t == RM_MSG_JOB_STARTED || t == RM_MSG_JOB_FINISHED) {
			if (json_integer_value(json_object_get(p, "seq")) != want)
				return 0;
			want++;
		} else if (t == RM_MSG_LOG_STREAM) {
			const json_t *lines = json_object_get(p, "lines");
			if (json_array_size(lines) == 0 || json_array_size(lines) > 200)
				return 0;
			json_array_foreach (lines, k, l) {
				if (json_integer_value(json_object_get(l, "seq")) != want)
					return 0;
				if (!json_is_string(json_object_get(l, "ts")))
					return 0;
				want++;
			}
		}
	}
	return want > 2;
}

static int first_type_index(const char *job_id, int type)
{
	size_t i;
	json_t *e;
	json_array_foreach (events, i, e)
		if (event_is(e, job_id, type))
			return (int)i;
	return -1;
}

static void free_runner(struct runner *r)
{
	runner_free(r);
	uv_run(&loop, UV_RUN_DEFAULT);
}

static struct runner *new_runner(const char *state, const char *rpath)
{
	struct runner_opts o = {
		.loop = &loop,
		.restic_path = rpath,
		.state_dir = state,
		.hostname = "test-host",
		.emit = on_emit,
		.cancel_grace_ms = 2000,
	};
	struct runner *r = NULL;
	OK(runner_new(&o, &r) == RM_OK);
	return r;
}

static void write_file(const char *path, size_t n, int random)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	char buf[65536];
	for (size_t off = 0; off < n; off += sizeof(buf)) {
		size_t k = n - off < sizeof(buf) ? n - off : sizeof(buf);
		if (random)
			rm_random_bytes(buf, k);
		else
			memset(buf, 'a', k);
		if (write(fd, buf, k) != (ssize_t)k)
			break;
	}
	close(fd);
}

static char *P(const char *suffix)
{
	static char bufs[8][512];
	static int n;
	char *b = bufs[n++ % 8];
	snprintf(b, 512, "%s/%s", tmp, suffix);
	return b;
}

static void creds(struct runner_creds *c, const char *repo, const char *pw)
{
	c->repo_url = repo;
	c->repo_username = NULL;
	c->repo_password = pw;
}

static void dump_failure(const char *job_id)
{
	char *s = json_dumps(events, JSON_COMPACT);
	printf("# events for %s: %.3000s\n", job_id, s);
	free(s);
}

TEST(submit_validation)
{
	struct runner *r = new_runner(P("state"), restic);
	struct runner_creds c;
	creds(&c, P("repo"), PASSWORD);
	json_t *args = json_pack("{s:[s]}", "paths", "/x");
	EQ_INT(runner_submit(r, "j-bad", "forget-all", args, &c), RM_ERR_INVAL);
	EQ_INT(runner_submit(r, "../etc", "init", NULL, &c), RM_ERR_INVAL);
	EQ_INT(runner_submit(r, "j-nopath", "backup", NULL, &c), RM_ERR_INVAL);
	EQ_INT(runner_submit(r, "j-nocreds", "snapshots", NULL, NULL), RM_OK);
	EQ_INT(runner_submit(r, "j-nocreds", "snapshots", NULL, NULL), RM_ERR_CONFLICT);
	EQ_INT(runner_active_count(r), 1);
	const json_t *f = wait_finished("j-nocreds", 5000);
	OK(f != NULL);
	EQ_STR(json_string_value(json_object_get(f, "status")), "failed");
	EQ_STR(json_string_value(json_object_get(f, "error")), "no repository configured");
	OK(check_seq("j-nocreds"));
	EQ_INT(runner_active_count(r), 0);
	json_decref(args);
	free_runner(r);

	/* restic missing: NULL path and a path that does not exist */
	r = new_runner(P("state"), NULL);
	EQ_INT(runner_submit(r, "j-norestic", "init", NULL, &c), RM_ERR_NOTFOUND);
	f = wait_finished("j-norestic", 5000);
	OK(f != NULL);
	EQ_STR(json_string_value(json_object_get(f, "error")), "restic not found");
	free_runner(r);
	r = new_runner(P("state"), "/nonexistent/bin/restic");
	EQ_INT(runner_submit(r, "j-enoent", "init", NULL, &c), RM_OK);
	f = wait_finished("j-enoent", 5000);
	OK(f != NULL);
	EQ_STR(json_string_value(json_object_get(f, "status")), "failed");
	EQ_STR(json_string_value(json_object_get(f, "error")), "restic not found");
	EQ_INT(json_integer_value(json_object_get(f, "exit_code")), 127);
	free_runner(r);
}

TEST(init_backup_snapshots)
{
	struct runner *r = new_runner(P("state"), restic);
	struct runner_creds c;
	creds(&c, P("repo"), PASSWORD);
	EQ_INT(runner_submit(r, "j-init", "init", NULL, &c), RM_OK);
	EQ_INT(runner_submit(r, "j-init2", "init", NULL, &c), RM_OK);
	json_t *ids = json_array();
	runner_active_ids(r, ids);
	EQ_INT(json_array_size(ids), 2);
	json_decref(ids);
	const json_t *f = wait_finished("j-init", 15000);
	OK(f && strcmp(json_string_value(json_object_get(f, "status")), "succeeded") == 0);
	OK(check_seq("j-init"));
	f = wait_finished("j-init2", 15000);
	OK(f != NULL);
	if (!f || strcmp(json_string_value(json_object_get(f, "status")), "succeeded") != 0)
		dump_failure("j-init2");
	EQ_STR(json_string_value(json_object_get(f, "status")), "succeeded");
	OK(log_contains("j-init2", "config file already exists"));
	OK(check_seq("j-init2"));

	/* backup */
	json_t *args = json_pack("{s:[s], s:[s]}", "paths", P("data"), "tags", "manual");
	EQ_INT(runner_submit(r, "j-backup", "backup", args, &c), RM_OK);
	json_decref(args);
	size_t before = json_array_size(events);
	f = wait_finished("j-backup", 20000);
	OK(f != NULL);
	if (!f)
		dump_failure("j-backup");
	EQ_STR(json_string_value(json_object_get(f, "status")), "succeeded");
	EQ_INT(json_integer_value(json_object_get(f, "exit_code")), 0);
	OK(json_is_false(json_object_get(f, "warnings")));
	const char *snap =
	    json_string_value(json_object_get(json_object_get(f, "stats"), "snapshot_id"));
	OK(snap != NULL && strlen(snap) >= 8);
	OK(check_seq("j-backup"));
	/* restic 0.14 prints one status line for a tiny backup: it must be emitted at once */
	OK(count_type("j-backup", RM_MSG_JOB_PROGRESS) >= 1);
	int i_start = first_type_index("j-backup", RM_MSG_JOB_STARTED);
	int i_prog = first_type_index("j-backup", RM_MSG_JOB_PROGRESS);
	int i_fin = first_type_index("j-backup", RM_MSG_JOB_FINISHED);
	OK(i_start >= (int)before && i_start < i_prog && i_prog < i_fin);
	/* snapshots.report and stats.report come before job.finished */
	int i_snap = -1, i_stats = -1;
	for (size_t i = before; i < json_array_size(events); i++) {
		int t = (int)json_integer_value(json_object_get(json_array_get(events, i), "type"));
		if (t == RM_MSG_SNAPSHOTS_REPORT)
			i_snap = (int)i;
		if (t == RM_MSG_STATS_REPORT)
			i_stats = (int)i;
	}
	OK(i_snap > i_start && i_snap < i_fin);
	OK(i_stats > i_snap && i_stats < i_fin);
	if (i_snap >= 0 && snap) {
		const json_t *arr = json_object_get(
		    json_object_get(json_array_get(events, (size_t)i_snap), "p"), "snapshots");
		int found = 0;
		size_t k;
		json_t *s;
		json_array_foreach (arr, k, s) {
			if (strncmp(json_string_value(json_object_get(s, "id")), snap,
			            strlen(snap)) == 0) {
				found = 1;
				EQ_STR(json_string_value(json_object_get(s, "hostname")),
				       "test-host");
				EQ_STR(json_string_value(
				           json_array_get(json_object_get(s, "tags"), 0)),
				       "manual");
			}
		}
		OK(found);
	}
	if (i_stats >= 0) {
		const json_t *st = json_object_get(json_array_get(events, (size_t)i_stats), "p");
		OK(json_integer_value(json_object_get(st, "total_size")) > 0);
		EQ_INT(json_integer_value(json_object_get(st, "snapshots_count")), 1);
	}
	/* markers are gone */
	char *m = rm_xasprintf("%s/jobs/j-backup.json", P("state"));
	OK(access(m, F_OK) != 0);
	free(m);

	/* exit 3: an unreadable file. Running as root makes 0000 files readable, so use
	 * /proc/self/mem (read fails with EIO for everyone). */
	args = json_pack("{s:[s,s]}", "paths", P("data"), "/proc/self/mem");
	EQ_INT(runner_submit(r, "j-warn", "backup", args, &c), RM_OK);
	json_decref(args);
	f = wait_finished("j-warn", 20000);
	OK(f != NULL);
	EQ_STR(json_string_value(json_object_get(f, "status")), "succeeded");
	EQ_INT(json_integer_value(json_object_get(f, "exit_code")), 3);
	OK(json_is_true(json_object_get(f, "warnings")));
	OK(log_contains("j-warn", "/proc/self/mem"));
	OK(check_seq("j-warn"));

	/* snapshots as a job of its own */
	EQ_INT(runner_submit(r, "j-snap", "snapshots", NULL, &c), RM_OK);
	f = wait_finished("j-snap", 10000);
	EQ_STR(json_string_value(json_object_get(f, "status")), "succeeded");
	OK(count_type("j-snap", RM_MSG_SNAPSHOTS_REPORT) >= 1);
	free_runner(r);
}

TEST(wrong_password)
{
	struct runner *r = new_runner(P("state"), restic);
	struct runner_creds c;
	creds(&c, P("repo"), "definitely-wrong-pw");
	json_t *args = json_pack("{s:[s]}", "paths", P("data"));
	int reports = count_type(NULL, RM_MSG_SNAPSHOTS_REPORT);
	EQ_INT(runner_submit(r, "j-wrongpw", "backup", args, &c), RM_OK);
	json_decref(args);
	const json_t *f = wait_finished("j-wrongpw", 15000);
	OK(f != NULL);
	EQ_STR(json_string_value(json_object_get(f, "status")), "failed");
	EQ_INT(json_integer_value(json_object_get(f, "exit_code")), 1);
	EQ_STR(json_string_value(json_object_get(f, "error")),
	       "Fatal: wrong password or no key found");
	EQ_INT(count_type(NULL, RM_MSG_SNAPSHOTS_REPORT), reports); /* no follow-ups */
	OK(check_seq("j-wrongpw"));
	/* no event ever carries a password */
	char *all = json_dumps(events, JSON_COMPACT);
	OK(strstr(all, "definitely-wrong-pw") == NULL);
	OK(strstr(all, PASSWORD) == NULL);
	free(all);
	free_runner(r);
}

TEST(cancel)
{
	struct runner *r = new_runner(P("state"), restic);
	struct runner_creds c;
	creds(&c, P("repo"), PASSWORD);
	/* 4 MiB of random data at 1 KiB/s: runs for ages unless cancelled */
	json_t *args = json_pack("{s:[s], s:i}", "paths", P("slow"), "limit_upload", 1);
	EQ_INT(runner_submit(r, "j-slow", "backup", args, &c), RM_OK);
	EQ_INT(runner_submit(r, "j-queued", "backup", args, &c), RM_OK);
	json_decref(args);
	/* a queued job is cancelled at once */
	EQ_INT(runner_cancel(r, "j-queued"), RM_OK);
	const json_t *f = find_finished("j-queued");
	OK(f != NULL);
	EQ_STR(json_string_value(json_object_get(f, "status")), "cancelled");
	EQ_INT(json_integer_value(json_object_get(f, "exit_code")), 130);
	OK(check_seq("j-queued"));
	EQ_INT(runner_cancel(r, "j-unknown"), RM_ERR_NOTFOUND);

	uint64_t start = uv_now(&loop);
	while (count_type("j-slow", RM_MSG_JOB_PROGRESS) == 0 && uv_now(&loop) - start < 10000) {
		uv_run(&loop, UV_RUN_ONCE);
		uv_update_time(&loop);
	}
	OK(count_type("j-slow", RM_MSG_JOB_PROGRESS) > 0);
	/* let it run into the rate limiter for a moment */
	start = uv_now(&loop);
	while (uv_now(&loop) - start < 700) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(10000);
		uv_update_time(&loop);
	}
	/* job.progress is rate limited to 1 Hz (restic prints many status lines a second) */
	OK(count_type("j-slow", RM_MSG_JOB_PROGRESS) <= 2);
	char *m = rm_xasprintf("%s/jobs/j-slow.json", P("state"));
	OK(access(m, F_OK) == 0); /* marker while running */
	EQ_INT(runner_cancel(r, "j-slow"), RM_OK);
	f = wait_finished("j-slow", 10000);
	OK(f != NULL);
	EQ_STR(json_string_value(json_object_get(f, "status")), "cancelled");
	EQ_INT(json_integer_value(json_object_get(f, "exit_code")), 130);
	OK(check_seq("j-slow"));
	OK(access(m, F_OK) != 0);
	free(m);
	/* restic 0.14 leaves its lock on SIGTERM: the next job unlocks first */
	EQ_INT(runner_submit(r, "j-after-cancel", "snapshots", NULL, &c), RM_OK);
	f = wait_finished("j-after-cancel", 10000);
	EQ_STR(json_string_value(json_object_get(f, "status")), "succeeded");
	OK(log_contains("j-after-cancel", "unlock"));
	OK(log_contains("j-after-cancel", "stale repository locks removed"));
	free_runner(r);
}

static int cmdline_has(pid_t pid, const char *needle)
{
	char path[64], buf[256] = "";
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	return n > 0 && memmem(buf, (size_t)n, needle, strlen(needle)) != NULL;
}

TEST(leftover_marker)
{
	/* a fake "restic" (sleep with argv[0] = restic-fake) and an innocent sleep */
	pid_t fake = fork();
	if (fake == 0) {
		execl("/bin/sleep", "restic-fake", "30", (char *)NULL);
		_exit(127);
	}
	pid_t innocent = fork();
	if (innocent == 0) {
		execl("/bin/sleep", "sleep", "30", (char *)NULL);
		_exit(127);
	}
	/* wait until both children have exec'd (under load 100 ms was not always enough):
	 * before that, their cmdline is still ours */
	for (int i = 0;
	     i < 500 && !(cmdline_has(fake, "restic-fake") && cmdline_has(innocent, "sleep")); i++)
		usleep(10000);
	char *state = P("state2");
	mkdir(state, 0700);
	char *jobs = rm_xasprintf("%s/jobs", state);
	mkdir(jobs, 0700);
	char *m1 = rm_xasprintf("%s/01DEAD.json", jobs);
	char *m2 = rm_xasprintf("%s/01ALIVE.json", jobs);
	char *d1 = rm_xasprintf("{\"pid\":%d,\"kind\":\"backup\",\"started_at\":\"x\"}", (int)fake);
	char *d2 =
	    rm_xasprintf("{\"pid\":%d,\"kind\":\"backup\",\"started_at\":\"x\"}", (int)innocent);
	OK(rm_write_file_atomic(m1, d1, strlen(d1), 0600) == RM_OK);
	OK(rm_write_file_atomic(m2, d2, strlen(d2), 0600) == RM_OK);

	struct runner *r = new_runner(state, restic);
	int st = 0;
	OK(waitpid(fake, &st, 0) == fake);
	OK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	OK(waitpid(innocent, &st, WNOHANG) == 0); /* still alive */
	kill(innocent, SIGKILL);
	waitpid(innocent, &st, 0);
	OK(access(m1, F_OK) != 0);
	OK(access(m2, F_OK) != 0);

	struct runner_creds c;
	creds(&c, P("repo"), PASSWORD);
	EQ_INT(runner_submit(r, "j-recover", "snapshots", NULL, &c), RM_OK);
	const json_t *f = wait_finished("j-recover", 10000);
	OK(f != NULL);
	EQ_STR(json_string_value(json_object_get(f, "status")), "succeeded");
	OK(log_contains("j-recover", "restic unlock"));
	OK(check_seq("j-recover"));
	/* only once */
	EQ_INT(runner_submit(r, "j-recover2", "snapshots", NULL, &c), RM_OK);
	f = wait_finished("j-recover2", 10000);
	OK(f != NULL);
	OK(!log_contains("j-recover2", "restic unlock"));
	free_runner(r);
	free(jobs);
	free(m1);
	free(m2);
	free(d1);
	free(d2);
}

TEST(free_while_running)
{
	struct runner *r = new_runner(P("state3"), restic);
	struct runner_creds c;
	creds(&c, P("repo"), PASSWORD);
	json_t *args = json_pack("{s:[s], s:i}", "paths", P("slow"), "limit_upload", 1);
	EQ_INT(runner_submit(r, "j-free", "backup", args, &c), RM_OK);
	EQ_INT(runner_submit(r, "j-free2", "backup", args, &c), RM_OK);
	json_decref(args);
	uint64_t start = uv_now(&loop);
	while (count_type("j-free", RM_MSG_JOB_STARTED) == 0 && uv_now(&loop) - start < 5000) {
		uv_run(&loop, UV_RUN_ONCE);
		uv_update_time(&loop);
	}
	usleep(300000);
	free_runner(r); /* returns once the child is gone and handles are closed */
	OK(find_finished("j-free") == NULL);
	EQ_INT(count_type("j-free2", RM_MSG_JOB_STARTED), 0);
}

/* A fake restic that echoes its credentials the way a careless error message would. */
static char *write_echo_restic(void)
{
	char *path = rm_xasprintf("%s/echo-restic", tmp);
	const char *sh =
	    "#!/bin/sh\n"
	    "echo \"repository $RESTIC_REPOSITORY password $RESTIC_PASSWORD\"\n"
	    "echo \"{\\\"message_type\\\":\\\"status\\\",\\\"percent_done\\\":0.5,"
	    "\\\"current_files\\\":[\\\"/data/$RESTIC_PASSWORD.txt\\\"]}\"\n"
	    "echo \"Fatal: cannot open $RESTIC_REPOSITORY with $RESTIC_PASSWORD\" >&2\n"
	    "exit 1\n";
	OK(rm_write_file_atomic(path, sh, strlen(sh), 0700) == RM_OK);
	return path;
}

static int events_contain(const char *needle)
{
	char *all = json_dumps(events, JSON_COMPACT);
	int yes = strstr(all, needle) != NULL;
	free(all);
	return yes;
}

TEST(secrets_redacted)
{
	char *fake = write_echo_restic();
	struct runner *r = new_runner(P("state-echo"), fake);
	struct runner_creds c = { .repo_url = P("repo-echo"), .repo_password = "echo-pw-5e1d9" };
	json_t *args = json_pack("{s:[s]}", "paths", P("data"));
	EQ_INT(runner_submit(r, "j-echo", "backup", args, &c), RM_OK);
	const json_t *f = wait_finished("j-echo", 10000);
	OK(f != NULL);
	EQ_STR(json_string_value(json_object_get(f, "status")), "failed");
	char *want = rm_xasprintf("Fatal: cannot open %s with ***", P("repo-echo"));
	EQ_STR(json_string_value(json_object_get(f, "error")), want);
	free(want);
	OK(log_contains("j-echo", "password ***"));
	OK(events_contain("/data/***.txt")); /* job.progress current_file */
	OK(!events_contain("echo-pw-5e1d9"));

	/* rest-server user: restic sees user and password percent-encoded in the URL */
	struct runner_creds c2 = { .repo_url = "rest:http://127.0.0.1:1/r",
		                   .repo_username = "alice",
		                   .repo_password = "p@ss word!" };
	EQ_INT(runner_submit(r, "j-echo-rest", "init", NULL, &c2), RM_OK);
	f = wait_finished("j-echo-rest", 10000);
	OK(f != NULL);
	OK(log_contains("j-echo-rest", "repository *** password ***"));
	OK(!events_contain("p@ss word!"));
	OK(!events_contain("p%40ss%20word%21"));

	/* credentials written into the repository URL itself */
	struct runner_creds c3 = { .repo_url = "rest:http://bob:url%2Dsecret-77@127.0.0.1:1/r",
		                   .repo_password = "another-pw-888" };
	EQ_INT(runner_submit(r, "j-echo-url", "init", NULL, &c3), RM_OK);
	f = wait_finished("j-echo-url", 10000);
	OK(f != NULL);
	OK(log_contains("j-echo-url", "repository rest:http://bob:***@127.0.0.1:1/r password ***"));
	OK(!events_contain("url%2Dsecret-77"));
	OK(!events_contain("another-pw-888"));

	/* a password shorter than 4 characters is not redacted: it would mangle the text */
	struct runner_creds c4 = { .repo_url = P("repo-echo"), .repo_password = "pos" };
	EQ_INT(runner_submit(r, "j-echo-short", "init", NULL, &c4), RM_OK);
	f = wait_finished("j-echo-short", 10000);
	OK(f != NULL);
	OK(log_contains("j-echo-short", "repository "));
	json_decref(args);
	free_runner(r);
	free(fake);
}

static const char *fin_str(const json_t *f, const char *k)
{
	return json_string_value(json_object_get(f, k));
}

/* C6 rotation: key_add adds a key that the new password opens and reports both ids (the
 * password file is gone, no event carries the password); key_remove refuses while the
 * agent still uses the old password, and removes the old key once it uses the new one. */
TEST(key_rotation)
{
	struct runner *r = new_runner(P("state-keys"), restic);
	struct runner_creds c, c2;
	creds(&c, P("repo-keys"), "old-key-pw-1234");
	creds(&c2, P("repo-keys"), "new-key-pw-5678");
	EQ_INT(runner_submit(r, "k-init", "init", NULL, &c), RM_OK);
	const json_t *f = wait_finished("k-init", 20000);
	EQ_STR(fin_str(f, "status"), "succeeded");
	json_t *args = json_pack("{s:s}", "new_password", "new-key-pw-5678");
	EQ_INT(runner_submit(r, "k-add", "key_add", args, &c), RM_OK);
	json_decref(args);
	f = wait_finished("k-add", 30000);
	EQ_STR(fin_str(f, "status"), "succeeded");
	const json_t *st = json_object_get(f, "stats");
	char old[72] = "", nw[72] = "";
	rm_strlcpy(old, fin_str(st, "old_key_id") ? fin_str(st, "old_key_id") : "", sizeof old);
	rm_strlcpy(nw, fin_str(st, "new_key_id") ? fin_str(st, "new_key_id") : "", sizeof nw);
	OK(strlen(old) >= 8 && strlen(nw) >= 8 && strcmp(old, nw) != 0);
	char *pwfile = rm_xasprintf("%s/keypw-k-add", P("state-keys"));
	OK(access(pwfile, F_OK) != 0);
	free(pwfile);
	OK(!events_contain("new-key-pw-5678"));

	args = json_pack("{s:s,s:s}", "key_id", old, "expect_key_id", nw);
	EQ_INT(runner_submit(r, "k-rm1", "key_remove", args, &c), RM_OK);
	f = wait_finished("k-rm1", 30000);
	EQ_STR(fin_str(f, "status"), "failed");
	OK(json_is_false(json_object_get(json_object_get(f, "stats"), "confirmed")));
	EQ_INT(runner_submit(r, "k-rm2", "key_remove", args, &c2), RM_OK);
	json_decref(args);
	f = wait_finished("k-rm2", 30000);
	EQ_STR(fin_str(f, "status"), "succeeded");
	OK(json_is_true(json_object_get(json_object_get(f, "stats"), "confirmed")));
	EQ_INT(runner_submit(r, "k-old", "snapshots", NULL, &c), RM_OK);
	f = wait_finished("k-old", 20000);
	EQ_STR(fin_str(f, "status"), "failed"); /* the old password is retired */
	args = json_pack("{s:s}", "key_id", "--help");
	EQ_INT(runner_submit(r, "k-bad", "key_remove", args, &c2), RM_ERR_INVAL);
	json_decref(args);
	EQ_INT(runner_submit(r, "k-bad2", "key_add", NULL, &c2), RM_ERR_INVAL);
	free_runner(r);
}

/* restic 0.14 prints a Go stack trace after some errors: the job's error is the message. */
TEST(go_trace_not_the_error)
{
	char *path = rm_xasprintf("%s/trace-restic", tmp);
	const char *sh =
	    "#!/bin/sh\n"
	    "echo 'blob not removed, server response: 403 Forbidden (403)' >&2\n"
	    "echo 'github.com/restic/restic/internal/backend/rest.(*Backend).Remove' >&2\n"
	    "printf '\\tgithub.com/restic/restic/internal/backend/rest/rest.go:399\\n' >&2\n"
	    "echo 'main.deleteKey' >&2\n"
	    "echo 'runtime.goexit' >&2\n"
	    "printf '\\truntime/asm_amd64.s:1594\\n' >&2\n"
	    "exit 1\n";
	OK(rm_write_file_atomic(path, sh, strlen(sh), 0700) == RM_OK);
	struct runner *r = new_runner(P("state-trace"), path);
	struct runner_creds c = { .repo_url = P("repo-trace"), .repo_password = "trace-pw-1" };
	EQ_INT(runner_submit(r, "j-trace", "prune", NULL, &c), RM_OK);
	const json_t *f = wait_finished("j-trace", 10000);
	EQ_STR(fin_str(f, "error"), "blob not removed, server response: 403 Forbidden (403)");
	free_runner(r);
	free(path);
}

int main(void)
{
	have_restic = test_find_restic(restic, sizeof restic);
	if (!have_restic) {
		printf("1..0 # SKIP restic not installed\n");
		return 0;
	}
	rm_log_set_level(RM_LOG_ERROR);
	rm_strlcpy(tmp, "/tmp/rm-runner-test.XXXXXX", sizeof(tmp));
	if (!mkdtemp(tmp))
		return 1;
	mkdir(P("data"), 0755);
	mkdir(P("data/sub"), 0755);
	write_file(P("data/a.txt"), 1000, 0);
	write_file(P("data/sub/b.bin"), 300000, 1);
	mkdir(P("slow"), 0755);
	write_file(P("slow/big.bin"), 4 * 1024 * 1024, 1);
	uv_loop_init(&loop);
	events = json_array();

	RUN(submit_validation);
	RUN(init_backup_snapshots);
	RUN(wrong_password);
	RUN(cancel);
	RUN(leftover_marker);
	RUN(free_while_running);
	RUN(secrets_redacted);
	RUN(key_rotation);
	RUN(go_trace_not_the_error);

	json_decref(events);
	OK(uv_loop_close(&loop) == 0);
	test_rm_rf(tmp);
	return tap_done();
}
