/* scheduler/spec (validation, args, encrypted storage) and scheduler (fire, catch-up at
 * most once, no catch-up for new schedules, retries with backoff) with an injected "now"
 * and a stub submit. Runs in TZ=UTC so that cron windows are plain arithmetic. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/scheduler/scheduler.h"
#include "agent/scheduler/spec.h"
#include "common/crypto.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/ulid.h"
#include "tap.h"
#include "test_fs.h"

#define T0 1767225600LL /* 2026-01-01 00:00:00 UTC */
#define MINUTE 60
#define HOUR 3600

static char tmp[64];
static uint8_t key[RM_KEY_BYTES];
static json_t *submitted; /* [{"id","args","extra"}] */
static int submit_rc;

static int stub_submit(void *ud, const char *job_id, const json_t *args, const json_t *extra)
{
	(void)ud;
	json_array_append_new(
	    submitted, json_pack("{s:s,s:O,s:O}", "id", job_id, "args", args, "extra", extra));
	return submit_rc;
}

static const char *P(const char *suffix)
{
	static char b[4][256];
	static int n;
	char *o = b[n++ % 4];
	snprintf(o, 256, "%s/%s", tmp, suffix);
	return o;
}

/* A spec: schedule s1 (cron, both groups), s2 disabled; group g1 with hooks, excludes,
 * retry policy; g2 with the host defaults. */
static json_t *spec_json(long long version, const char *cron, int retry_max)
{
	return json_pack("{s:I, s:[{s:s,s:s,s:[s,s]}, {s:s,s:s,s:b,s:[s]}],"
	                 " s:[{s:s,s:s,s:[s],s:[s],s:b,s:i,s:i,s:i,s:s,s:s}, {s:s,s:s,s:[s]}],"
	                 " s:{s:s,s:i,s:i,s:i}}",
	                 "version", (json_int_t)version, "schedules", "id", "s1", "cron", cron,
	                 "group_ids", "G1", "G2", "id", "s2", "cron", "* * * * *", "enabled", 0,
	                 "group_ids", "G2", "groups", "id", "G1", "name", "etc", "includes", "/etc",
	                 "excludes", "*.tmp", "exclude_caches", 1, "retry_max", retry_max,
	                 "retry_backoff_s", 100, "limit_upload_kib", 70, "pre_hook",
	                 "echo secret-hook-token", "post_hook", "echo done", "id", "G2", "name",
	                 "home", "includes", "/home", "settings", "hook_shell", "/bin/bash",
	                 "hook_timeout_s", 60, "limit_upload_kib", 10, "limit_download_kib", 20);
}

static struct scheduler *new_sched(void)
{
	struct scheduler_opts o = { .state_dir = P("state"), .key = key, .submit = stub_submit };
	struct scheduler *s = NULL;
	OK(scheduler_new(&o, &s) == RM_OK);
	return s;
}

static const char *sub_str(size_t i, const char *obj, const char *k)
{
	return json_string_value(
	    json_object_get(json_object_get(json_array_get(submitted, i), obj), k));
}

static long long sub_int(size_t i, const char *obj, const char *k)
{
	return json_integer_value(
	    json_object_get(json_object_get(json_array_get(submitted, i), obj), k));
}

TEST(spec_valid_and_args)
{
	json_t *j = spec_json(3, "*/5 * * * *", 2);
	struct spec *s = NULL;
	char err[256] = "";
	EQ_INT(spec_parse(j, &s, err, sizeof err), RM_OK);
	EQ_INT(s->version, 3);
	EQ_INT(s->nschedules, 2);
	EQ_INT(s->schedules[0].ngroups, 2);
	OK(!s->schedules[1].enabled);
	const struct spec_group *g1 = spec_group_find(s, "G1"), *g2 = spec_group_find(s, "G2");
	EQ_INT(g1->retry_max, 2);
	EQ_INT(g2->retry_max, SPEC_RETRY_MAX_DEFAULT);
	EQ_INT(g2->retry_backoff_s, SPEC_RETRY_BACKOFF_DEFAULT);
	json_t *a = spec_backup_args(s, g1);
	char *txt = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
	EQ_STR(txt, "{\"exclude_caches\":true,\"excludes\":[\"*.tmp\"],\"group\":\"etc\","
	            "\"hook_shell\":\"/bin/bash\",\"hook_timeout_s\":60,\"limit_download_kib\":20,"
	            "\"limit_upload_kib\":70,\"paths\":[\"/etc\"],\"post_hook\":\"echo done\","
	            "\"pre_hook\":\"echo secret-hook-token\",\"tags\":[\"etc\"]}");
	free(txt);
	json_decref(a);
	a = spec_backup_args(s, g2); /* host defaults */
	EQ_INT(rmj_int(a, "limit_upload_kib", 0), 10);
	json_decref(a);
	spec_free(s);
	json_decref(j);
}

/* payload with one change (a JSON path set to a value) must be refused naming it */
static void expect_invalid(const char *what, json_t *j, const char *needle)
{
	struct spec *s = NULL;
	char err[256] = "";
	int rc = spec_parse(j, &s, err, sizeof err);
	if (rc != RM_ERR_INVAL || !strstr(err, needle))
		printf("#   %s: rc=%d err=\"%s\", expected \"%s\"\n", what, rc, err, needle);
	OK(rc == RM_ERR_INVAL && strstr(err, needle));
	OK(s == NULL);
	json_decref(j);
}

static json_t *group0(json_t *j)
{
	return json_array_get(json_object_get(j, "groups"), 0);
}

TEST(spec_invalid)
{
	json_t *j;
	expect_invalid("bad cron", spec_json(1, "61 * * * *", 1), "schedules[0].cron: minute");
	expect_invalid("version 0", spec_json(0, "* * * * *", 1), "version");
	j = spec_json(1, "* * * * *", 1);
	json_array_set_new(json_object_get(group0(j), "includes"), 0, json_string("etc"));
	expect_invalid("relative include", j, "groups[0].includes[0]: must be an absolute path");
	j = spec_json(1, "* * * * *", 1);
	json_array_set_new(json_object_get(group0(j), "includes"), 0, json_string("/etc\n/root"));
	expect_invalid("newline", j, "groups[0].includes[0]: must not contain");
	j = spec_json(1, "* * * * *", 1);
	json_object_set_new(group0(j), "name", json_string("Etc"));
	expect_invalid("name", j, "groups[0].name");
	j = spec_json(1, "* * * * *", 1);
	json_object_set_new(group0(j), "name", json_string("home"));
	expect_invalid("dup name", j, "duplicate group name");
	j = spec_json(1, "* * * * *", 1);
	json_array_append_new(
	    json_object_get(json_array_get(json_object_get(j, "schedules"), 0), "group_ids"),
	    json_string("G9"));
	expect_invalid("unknown group", j, "unknown group 'G9'");
	j = spec_json(1, "* * * * *", 1);
	json_object_set_new(json_array_get(json_object_get(j, "schedules"), 1), "id",
	                    json_string("s1"));
	expect_invalid("dup schedule", j, "duplicate schedule id");
	j = spec_json(1, "* * * * *", 1);
	json_object_set_new(json_object_get(j, "settings"), "hook_shell", json_string("bash"));
	expect_invalid("hook shell", j, "settings.hook_shell");
	j = spec_json(1, "* * * * *", -1);
	expect_invalid("retry_max", j, "groups[0].retry_max: -1 is out of range");
	j = spec_json(1, "* * * * *", 1);
	json_object_set_new(group0(j), "pre_hook", json_stringn("a\0b", 3));
	expect_invalid("NUL hook", j, "groups[0].pre_hook");
	j = spec_json(1, "* * * * *", 1);
	char *big = malloc(70000);
	memset(big, 'x', 69999);
	big[69999] = 0;
	json_object_set_new(group0(j), "post_hook", json_string(big));
	free(big);
	expect_invalid("big hook", j, "post_hook");
}

TEST(store_and_reload)
{
	struct scheduler *s = new_sched();
	EQ_INT(scheduler_version(s), 0);
	char err[256] = "";
	json_t *j = spec_json(4, "0 * * * *", 1);
	EQ_INT(scheduler_apply(s, j, T0, err, sizeof err), RM_OK);
	json_decref(j);
	EQ_INT(scheduler_version(s), 4);
	struct stat st;
	OK(stat(P("state/schedule.enc"), &st) == 0 && (st.st_mode & 0777) == 0600);
	char *text = NULL;
	size_t len = 0;
	OK(rm_read_file(P("state/schedule.enc"), 1 << 20, &text, &len) == RM_OK);
	OK(text && !strstr(text, "secret-hook-token") && !strstr(text, "/etc"));
	free(text);
	/* a bad spec keeps the last good one */
	j = spec_json(5, "0 25 * * *", 1);
	EQ_INT(scheduler_apply(s, j, T0, err, sizeof err), RM_ERR_INVAL);
	OK(strstr(err, "hour") != NULL);
	json_decref(j);
	EQ_INT(scheduler_version(s), 4);
	scheduler_free(s);
	s = new_sched(); /* reloaded from disk */
	EQ_INT(scheduler_version(s), 4);
	scheduler_free(s);

	/* corrupt: moved aside, never overwritten; the agent runs without a spec */
	FILE *f = fopen(P("state/schedule.enc"), "w");
	fputs("garbage\n", f);
	fclose(f);
	s = new_sched();
	EQ_INT(scheduler_version(s), 0);
	OK(stat(P("state/schedule.enc"), &st) != 0);
	int aside = 0;
	DIR *d = opendir(P("state"));
	for (struct dirent *e; d && (e = readdir(d));)
		if (!strncmp(e->d_name, "schedule.enc.corrupt-", 21))
			aside = 1;
	if (d)
		closedir(d);
	OK(aside);
	scheduler_free(s);
}

TEST(fire_and_catch_up)
{
	struct scheduler *s = new_sched();
	char err[256] = "";
	json_t *j = spec_json(6, "*/5 * * * *", 1);
	json_array_clear(submitted);
	/* applied at 00:02: the 00:00 window is before the schedule existed: no catch-up */
	EQ_INT(scheduler_apply(s, j, T0 + 2 * MINUTE, err, sizeof err), RM_OK);
	json_decref(j);
	scheduler_tick(s, T0 + 2 * MINUTE + 30);
	scheduler_tick(s, T0 + 4 * MINUTE + 59);
	EQ_INT(json_array_size(submitted), 0);
	scheduler_tick(s, T0 + 5 * MINUTE + 1); /* the 00:05 window: one job per group */
	EQ_INT(json_array_size(submitted), 2);
	EQ_STR(sub_str(0, "extra", "origin"), "schedule");
	EQ_STR(sub_str(0, "extra", "schedule_id"), "s1");
	EQ_STR(sub_str(0, "extra", "group_id"), "G1");
	EQ_STR(sub_str(0, "extra", "group"), "etc");
	EQ_INT(sub_int(0, "extra", "attempt"), 1);
	EQ_STR(sub_str(1, "extra", "group"), "home");
	OK(rm_ulid_valid(json_string_value(json_object_get(json_array_get(submitted, 0), "id"))));
	json_t *shown =
	    json_object_get(json_object_get(json_array_get(submitted, 0), "extra"), "args");
	char *txt = json_dumps(shown, JSON_COMPACT | JSON_SORT_KEYS);
	EQ_STR(txt, "{\"excludes\":[\"*.tmp\"],\"paths\":[\"/etc\"],\"tags\":[\"etc\"]}");
	free(txt);
	EQ_INT(scheduler_last_fired(s, "s1"), T0 + 5 * MINUTE + 1);
	EQ_INT(scheduler_last_fired(s, "s2"), 0); /* disabled: not tracked, never fires */
	scheduler_tick(s, T0 + 5 * MINUTE + 30);  /* same window: nothing */
	EQ_INT(json_array_size(submitted), 2);

	/* down for three hours: ONE catch-up, recorded before it runs */
	scheduler_free(s);
	s = new_sched();
	EQ_INT(scheduler_last_fired(s, "s1"), T0 + 5 * MINUTE + 1);
	scheduler_tick(s, T0 + 3 * HOUR + 7 * MINUTE);
	EQ_INT(json_array_size(submitted), 4);
	EQ_STR(sub_str(2, "extra", "origin"), "catch_up");
	scheduler_free(s);
	/* a crash right after: the restarted agent does not catch up again */
	s = new_sched();
	scheduler_tick(s, T0 + 3 * HOUR + 7 * MINUTE + 20);
	EQ_INT(json_array_size(submitted), 4);
	/* a timer that fires late after a suspend: one catch-up, then back to normal */
	scheduler_tick(s, T0 + 9 * HOUR + 2 * MINUTE);
	EQ_INT(json_array_size(submitted), 6);
	EQ_STR(sub_str(4, "extra", "origin"), "catch_up");
	scheduler_tick(s, T0 + 9 * HOUR + 5 * MINUTE);
	EQ_INT(json_array_size(submitted), 8);
	EQ_STR(sub_str(6, "extra", "origin"), "schedule");
	/* none of those finished: two per group pending, the next window is skipped */
	scheduler_tick(s, T0 + 9 * HOUR + 10 * MINUTE);
	EQ_INT(json_array_size(submitted), 8);
	for (size_t i = 4; i < 8; i++)
		scheduler_job_finished(
		    s, json_string_value(json_object_get(json_array_get(submitted, i), "id")),
		    "succeeded", T0 + 9 * HOUR + 11 * MINUTE);
	scheduler_tick(s, T0 + 9 * HOUR + 15 * MINUTE);
	EQ_INT(json_array_size(submitted), 10);
	/* a job the runner refuses is not counted as pending */
	submit_rc = RM_ERR_INVAL;
	scheduler_tick(s, T0 + 9 * HOUR + 20 * MINUTE);
	EQ_INT(json_array_size(submitted), 12);
	scheduler_tick(s, T0 + 9 * HOUR + 25 * MINUTE);
	EQ_INT(json_array_size(submitted), 14);
	submit_rc = RM_OK;
	scheduler_free(s);
}

/* schedule.set "maintenance": the agent runs forget/check on its own cadence, one pending
 * at a time, with kind and schedule_id "maint:<kind>" for the job rows. */
TEST(maintenance_cadence)
{
	struct scheduler *s = new_sched();
	char err[256] = "";
	json_t *j = spec_json(9, "0 0 1 1 *", 0);
	json_object_set_new(j, "maintenance",
	                    json_pack("[{s:s,s:s,s:b,s:{s:[{s:s,s:{s:i}}]}},{s:s,s:s,s:b},"
	                              "{s:s,s:s,s:b,s:{s:s}}]",
	                              "kind", "forget", "cron", "0 3 * * *", "enabled", 1, "args",
	                              "groups", "group", "etc", "retention", "keep_last", 2, "kind",
	                              "prune", "cron", "0 4 * * 0", "enabled", 0, "kind", "check",
	                              "cron", "0 5 1 * *", "enabled", 1, "args", "read_data_subset",
	                              "5%"));
	json_array_clear(submitted);
	EQ_INT(scheduler_apply(s, j, T0 + MINUTE, err, sizeof err), RM_OK);
	scheduler_tick(s, T0 + 3 * HOUR + 5); /* forget at 03:00 */
	EQ_INT(json_array_size(submitted), 1);
	EQ_STR(sub_str(0, "extra", "kind"), "forget");
	EQ_STR(sub_str(0, "extra", "schedule_id"), "maint:forget");
	EQ_INT(json_array_size(json_object_get(
	           json_object_get(json_array_get(submitted, 0), "args"), "groups")),
	       1);
	scheduler_tick(s, T0 + 5 * HOUR + 5); /* check on the 1st at 05:00; prune disabled */
	EQ_INT(json_array_size(submitted), 2);
	EQ_STR(sub_str(1, "extra", "kind"), "check");
	EQ_STR(sub_str(1, "args", "read_data_subset"), "5%");
	/* the forget of the next day is skipped while the previous one is pending */
	scheduler_tick(s, T0 + 27 * HOUR + 5);
	EQ_INT(json_array_size(submitted), 2);
	scheduler_job_finished(
	    s, json_string_value(json_object_get(json_array_get(submitted, 0), "id")), "succeeded",
	    T0 + 27 * HOUR + 6);
	scheduler_tick(s, T0 + 51 * HOUR + 5);
	EQ_INT(json_array_size(submitted), 3);
	/* bad maintenance entries are refused with the spec */
	json_object_set_new(j, "version", json_integer(10));
	json_object_set_new(j, "maintenance",
	                    json_pack("[{s:s,s:s}]", "kind", "rm-rf", "cron", "* * * * *"));
	OK(scheduler_apply(s, j, T0 + 52 * HOUR, err, sizeof err) != RM_OK);
	OK(strstr(err, "maintenance[0].kind") != NULL);
	json_decref(j);
	scheduler_free(s);
}

static const char *last_id(void)
{
	return json_string_value(
	    json_object_get(json_array_get(submitted, json_array_size(submitted) - 1), "id"));
}

TEST(retry_backoff)
{
	struct scheduler *s = new_sched();
	char err[256] = "";
	json_t *j = spec_json(7, "0 0 * * *", 2); /* daily: no window gets in the way */
	json_array_clear(submitted);
	EQ_INT(scheduler_apply(s, j, T0 + 1, err, sizeof err), RM_OK);
	json_decref(j);
	int64_t t = T0 + 24 * HOUR + 5;
	scheduler_tick(s, t);
	EQ_INT(json_array_size(submitted), 2);
	char g1job[32], g2job[32];
	rm_strlcpy(g1job, json_string_value(json_object_get(json_array_get(submitted, 0), "id")),
	           sizeof g1job);
	rm_strlcpy(g2job, json_string_value(json_object_get(json_array_get(submitted, 1), "id")),
	           sizeof g2job);
	scheduler_job_finished(s, g2job, "succeeded", t + 10); /* no retry */
	scheduler_job_finished(s, "someone-elses-job", "failed", t + 10);
	scheduler_job_finished(s, g1job, "failed", t + 10); /* retry 1 after 100 s */
	scheduler_tick(s, t + 109);
	EQ_INT(json_array_size(submitted), 2);
	scheduler_tick(s, t + 110);
	EQ_INT(json_array_size(submitted), 3);
	EQ_STR(sub_str(2, "extra", "origin"), "retry");
	EQ_STR(sub_str(2, "extra", "group_id"), "G1");
	EQ_INT(sub_int(2, "extra", "attempt"), 2);
	scheduler_job_finished(s, last_id(), "failed", t + 120); /* retry 2 after 200 s */
	scheduler_tick(s, t + 319);
	EQ_INT(json_array_size(submitted), 3);
	scheduler_tick(s, t + 320);
	EQ_INT(json_array_size(submitted), 4);
	EQ_INT(sub_int(3, "extra", "attempt"), 3);
	scheduler_job_finished(s, last_id(), "failed", t + 330); /* retry_max 2: done */
	scheduler_tick(s, t + 5 * HOUR);
	EQ_INT(json_array_size(submitted), 4);
	/* cancelled jobs are not retried; retry_max 0 means none */
	scheduler_tick(s, t + 24 * HOUR);
	EQ_INT(json_array_size(submitted), 6);
	scheduler_job_finished(
	    s, json_string_value(json_object_get(json_array_get(submitted, 4), "id")), "cancelled",
	    t + 24 * HOUR + 5);
	scheduler_tick(s, t + 25 * HOUR);
	EQ_INT(json_array_size(submitted), 6);
	scheduler_free(s);
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	rm_crypto_init();
	rm_log_set_level(RM_LOG_ERROR);
	memset(key, 0x11, sizeof key);
	rm_strlcpy(tmp, "/tmp/rm-sched-test.XXXXXX", sizeof(tmp));
	if (!mkdtemp(tmp))
		return 1;
	mkdir(P("state"), 0700);
	submitted = json_array();

	RUN(spec_valid_and_args);
	RUN(spec_invalid);
	RUN(store_and_reload);
	RUN(fire_and_catch_up);
	RUN(retry_backoff);
	RUN(maintenance_cadence);

	json_decref(submitted);
	test_rm_rf(tmp);
	return tap_done();
}
