/* Repository health: the growth forecast's math, the size history (insert, raw size from
 * snapshots and backup jobs, thinning), per-backup points, the fleet total, and snapshot
 * sizes taken from the backup job on restic versions without a snapshot summary. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/rmtime.h"
#include "server/engine/forecast.h"
#include "server/store/store.h"
#include "tap.h"

#define DAY (24LL * 3600 * 1000)
#define GIB (1024LL * 1024 * 1024)

static char tmpdir[256];
static char dbpath[300];
static int dbn;

static struct store *fresh(void)
{
	snprintf(dbpath, sizeof(dbpath), "%s/t%d.db", tmpdir, ++dbn);
	struct store *s = NULL;
	int rc = store_open(dbpath, &s);
	if (rc)
		printf("# store_open failed: %s\n", rm_strerror(rc));
	return s;
}

static void mk_host(struct store *s, const char *name, char id[27])
{
	json_t *tags = json_array(), *paths = json_pack("[s]", "/etc");
	char bearer[64];
	snprintf(bearer, sizeof bearer, "b-%s", name);
	if (store_host_create(s, name, tags, paths, bearer, id))
		printf("# host create failed\n");
	json_decref(tags);
	json_decref(paths);
}

/* Raw SQL through a second connection (test-only poking). */
static void raw(const char *sql)
{
	sqlite3 *db;
	sqlite3_open(dbpath, &db);
	sqlite3_busy_timeout(db, 5000);
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		printf("# raw sql failed: %s\n", err);
		sqlite3_free(err);
	}
	sqlite3_close(db);
}

static int near(double a, double b, double eps)
{
	return fabs(a - b) <= eps;
}

TEST(milestones)
{
	EQ_INT(forecast_next_milestone(0), 1024);
	EQ_INT(forecast_next_milestone(1023), 1024);
	EQ_INT(forecast_next_milestone(1024), 10 * 1024);
	EQ_INT(forecast_next_milestone(150 * 1024), 1024 * 1024);
	EQ_INT(forecast_next_milestone(3 * GIB), 10 * GIB);
	EQ_INT(forecast_next_milestone(99 * GIB), 100 * GIB);
	EQ_INT(forecast_next_milestone(100 * GIB), 1024 * GIB);
}

TEST(forecast_math)
{
	struct forecast f;
	int64_t t[40];
	double v[40];
	/* no data, 2 points, 3 points within an hour: no forecast, and it says why */
	forecast_compute(t, v, 0, 0, &f);
	OK(!f.ok);
	EQ_STR(f.why, "too_few_points");
	for (int i = 0; i < 3; i++) {
		t[i] = 1000000 + i * 600000LL;
		v[i] = 1e9 + i * 1e6;
	}
	forecast_compute(t, v, 2, 0, &f);
	EQ_STR(f.why, "too_few_points");
	forecast_compute(t, v, 3, 0, &f);
	OK(!f.ok);
	EQ_STR(f.why, "too_short");

	/* exact line: +1.2 GiB/day from 3 GiB over 10 days -> slope exact, 10 GiB milestone */
	for (int i = 0; i <= 10; i++) {
		t[i] = 5 * DAY + i * DAY;
		v[i] = 3.0 * GIB + i * 1.2 * GIB;
	}
	forecast_compute(t, v, 11, 0, &f);
	OK(f.ok);
	OK(near(f.bytes_per_day, 1.2 * GIB, 1));
	EQ_INT(f.last_bytes, 15 * GIB);
	EQ_INT(f.target_bytes, 100 * GIB);
	EQ_STR(f.target_kind, "milestone");
	OK(near(f.days_to_target, 85.0 / 1.2, 1e-6));
	/* a quota wins; already over quota = 0 days */
	forecast_compute(t, v, 11, 500 * GIB, &f);
	EQ_STR(f.target_kind, "quota");
	OK(near(f.days_to_target, 485.0 / 1.2, 1e-6));
	forecast_compute(t, v, 11, 10 * GIB, &f);
	OK(f.days_to_target == 0);

	/* noisy points: least squares, not first/last */
	static const double noise[] = { 0, 2, -2, 1, -1, 0 };
	for (int i = 0; i < 6; i++) {
		t[i] = i * DAY;
		v[i] = 1000 + 100.0 * i + noise[i];
	}
	forecast_compute(t, v, 6, 0, &f);
	OK(f.ok);
	/* sum x*noise = 2 - 4 + 3 - 4 = -3, sxx-centered = 17.5 -> slope 100 - 3/17.5 */
	OK(near(f.bytes_per_day, 100.0 - 3.0 / 17.5, 1e-9));

	/* shrinking (after a prune): slope < 0, no date */
	for (int i = 0; i < 4; i++) {
		t[i] = i * DAY;
		v[i] = 5000 - 100.0 * i;
	}
	forecast_compute(t, v, 4, 0, &f);
	OK(f.ok && f.bytes_per_day < 0 && f.days_to_target < 0);
	json_t *j = forecast_json(&f);
	OK(json_is_null(json_object_get(j, "days_to_target")));
	OK(json_is_true(json_object_get(j, "ok")));
	json_decref(j);

	/* only the last 30 days count: an old outlier 40 days back is ignored */
	t[0] = 0;
	v[0] = 1e15;
	for (int i = 1; i < 6; i++) {
		t[i] = 40 * DAY + i * DAY;
		v[i] = 1000 + 10.0 * i;
	}
	forecast_compute(t, v, 6, 0, &f);
	OK(f.ok);
	EQ_INT(f.points, 5);
	OK(near(f.bytes_per_day, 10, 1e-9));
}

static void add_point(struct store *s, const char *h, int64_t ts, long long size, long long n)
{
	struct store_repo_point p = { .size_bytes = size,
		                      .uncompressed_bytes = -1,
		                      .snapshot_count = n };
	if (store_repo_history_add(s, h, ts, &p))
		printf("# history add failed\n");
}

/* A finished backup job whose restic summary names snapshot short id `snap`. */
static void backup_job(struct store *s, const char *h, const char *snap, long long bytes,
                       long long files, int64_t finished)
{
	char id[27];
	json_t *args = json_object();
	store_job_create(s, h, "backup", args, "test", id);
	json_decref(args);
	store_job_set_running(s, id, finished - 5000);
	json_t *st =
	    json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:f}", "snapshot_id", snap, "total_bytes_processed",
	              (json_int_t)bytes, "total_files_processed", (json_int_t)files, "data_added",
	              (json_int_t)(bytes / 2), "files_new", (json_int_t)files, "files_changed",
	              (json_int_t)1, "total_duration", 4.5);
	if (store_job_finish(s, id, "succeeded", 0, NULL, st, finished))
		printf("# job finish failed\n");
	json_decref(st);
}

TEST(snapshot_sizes_from_jobs)
{
	struct store *s = fresh();
	char h[27];
	mk_host(s, "alpha", h);
	int64_t now = rm_now_ms();
	/* 0.14: snapshots without a summary; the backup jobs' summaries name short ids */
	json_t *snaps =
	    json_pack("[{s:s,s:s,s:s},{s:s,s:s,s:s},{s:s,s:s,s:s,s:I,s:I}]", "id", "aaaa1111ffff",
	              "short_id", "aaaa1111", "time", "2026-01-01T00:00:00Z", "id", "bbbb2222ffff",
	              "short_id", "bbbb2222", "time", "2026-01-02T00:00:00Z", "id", "cccc3333ffff",
	              "short_id", "cccc3333", "time", "2026-01-03T00:00:00Z", "size_bytes",
	              (json_int_t)777, "file_count", (json_int_t)7);
	EQ_INT(store_snapshots_replace(s, h, snaps, now), RM_OK);
	json_decref(snaps);
	backup_job(s, h, "aaaa1111", 1000, 10, now - 2000);
	backup_job(s, h, "bbbb2222ffff", 2000, 20, now - 1000); /* 0.17+: full id */
	backup_job(s, h, "cccc3333", 9999, 99, now - 500);      /* own summary wins */
	/* a backup row with malformed stats (never written by the server) breaks nothing */
	char sql[256];
	snprintf(sql, sizeof sql,
	         "INSERT INTO jobs (id, host_id, kind, status, stats, created_at, finished_at) "
	         "VALUES ('01JBAD', '%s', 'backup', 'failed', 'not json', 1, 2)",
	         h);
	raw(sql);
	json_t *l = store_snapshots_list(s, h);
	json_t *arr = json_object_get(l, "snapshots");
	EQ_INT(json_array_size(arr), 3);
	json_t *c = json_array_get(arr, 0), *b = json_array_get(arr, 1),
	       *a = json_array_get(arr, 2);
	EQ_INT(json_integer_value(json_object_get(a, "size_bytes")), 1000);
	EQ_INT(json_integer_value(json_object_get(a, "file_count")), 10);
	EQ_STR(json_string_value(json_object_get(a, "size_source")), "job");
	EQ_INT(json_integer_value(json_object_get(b, "size_bytes")), 2000);
	EQ_INT(json_integer_value(json_object_get(c, "size_bytes")), 777);
	EQ_STR(json_string_value(json_object_get(c, "size_source")), "snapshot");
	json_decref(l);

	/* raw size of a history point = the sum of those sizes */
	add_point(s, h, now, 500, 3);
	json_t *lt = store_repo_latest(s, h);
	EQ_INT(json_integer_value(json_object_get(lt, "raw_bytes")), 3777);
	EQ_INT(json_integer_value(json_object_get(lt, "size_bytes")), 500);
	json_decref(lt);
	/* a new snapshot whose backup finishes after the report: refreshed afterwards */
	snaps = json_pack("[{s:s,s:s,s:s}]", "id", "dddd4444ffff", "short_id", "dddd4444", "time",
	                  "2026-01-04T00:00:00Z");
	EQ_INT(store_snapshots_replace(s, h, snaps, now), RM_OK);
	json_decref(snaps);
	add_point(s, h, now + 1, 600, 1);
	lt = store_repo_latest(s, h);
	OK(json_is_null(json_object_get(lt, "raw_bytes")));
	json_decref(lt);
	backup_job(s, h, "dddd4444", 4444, 44, now + 2);
	EQ_INT(store_repo_raw_refresh(s, h), RM_OK);
	lt = store_repo_latest(s, h);
	EQ_INT(json_integer_value(json_object_get(lt, "raw_bytes")), 4444);
	json_decref(lt);

	/* per-backup points, oldest first */
	json_t *bk = store_repo_backup_points(s, h, 0);
	EQ_INT(json_array_size(bk), 4);
	json_t *b0 = json_array_get(bk, 0);
	EQ_INT(json_integer_value(json_object_get(b0, "data_added")), 500);
	OK(near(json_real_value(json_object_get(b0, "duration_s")), 4.5, 1e-9));
	EQ_INT(json_integer_value(json_object_get(b0, "files_changed")), 1);
	json_decref(bk);
	json_t *lj = store_repo_last_job(s, h, "check");
	OK(json_is_null(lj));
	json_decref(lj);
	lj = store_repo_last_job(s, h, "backup");
	EQ_STR(json_string_value(json_object_get(json_object_get(lj, "stats"), "snapshot_id")),
	       "dddd4444");
	json_decref(lj);
	store_close(s);
}

TEST(history_thinning_and_fleet)
{
	struct store *s = fresh();
	char a[27], b[27];
	mk_host(s, "alpha", a);
	mk_host(s, "beta", b);
	int64_t now = rm_now_ms();
	now -= now % DAY; /* midnight: hour buckets line up with the loop below */
	/* alpha reports every 10 minutes for 40 days: 5,760 reports */
	int64_t start = now - 40 * DAY;
	EQ_INT(store_begin(s), RM_OK);
	for (int64_t t = start; t <= now; t += 600000)
		add_point(s, a, t, 1000 + (t - start) / 600000, 1);
	EQ_INT(store_commit(s), RM_OK);
	json_t *all = store_repo_history(s, a, 0);
	size_t n = json_array_size(all);
	/* 2 days at full rate (289) + 28 days hourly (672) + 10 days daily (~10) */
	printf("# %zu points kept of 5761\n", n);
	OK(n >= 960 && n <= 980);
	/* the newest point of each thinned bucket survives: last one is the newest report */
	EQ_INT(json_integer_value(json_object_get(json_array_get(all, n - 1), "size_bytes")),
	       1000 + 40 * 144);
	json_decref(all);
	json_t *recent = store_repo_history(s, a, now - DAY);
	EQ_INT(json_array_size(recent), 145);
	json_decref(recent);

	/* fleet: beta joins at 500 one day ago; daily buckets sum each host's newest size */
	add_point(s, b, now - DAY, 500, 1);
	struct store_reader *rd = NULL;
	EQ_INT(store_reader_open(s, &rd), RM_OK);
	struct store_fleet_point *f = NULL;
	size_t fn = 0;
	EQ_INT(store_reader_fleet_history(rd, now, now - 3 * DAY, DAY, &f, &fn), RM_OK);
	/* buckets [now-3d, now-2d), [now-2d, now-1d), [now-1d, now), [now]: all had reports */
	EQ_INT(fn, 4);
	EQ_INT(f[fn - 1].size_bytes, 1000 + 40 * 144 + 500);
	EQ_INT(f[fn - 1].t, now);
	/* beta counts from its report on; alpha's size before the range is carried in */
	EQ_INT(f[0].size_bytes, 1000 + 38 * 144 - 1);
	EQ_INT(f[1].size_bytes, 1000 + 39 * 144 - 1);
	EQ_INT(f[2].size_bytes, 1000 + 40 * 144 - 1 + 500);
	free(f);
	/* nothing in range, sizes from before: no points (no report in any bucket) */
	EQ_INT(store_reader_fleet_history(rd, now - 50 * DAY, now - 60 * DAY, DAY, &f, &fn), RM_OK);
	EQ_INT(fn, 0);
	free(f);
	EQ_INT(store_reader_fleet_history(rd, now, now + 1, DAY, &f, &fn), RM_ERR_INVAL);
	store_reader_close(rd);
	store_close(s);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	rm_log_set_level(RM_LOG_ERROR);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/rm-repo-test-XXXXXX");
	if (!mkdtemp(tmpdir))
		return 1;
	RUN(milestones);
	RUN(forecast_math);
	RUN(snapshot_sizes_from_jobs);
	RUN(history_thinning_and_fleet);
	for (int i = 1; i <= dbn; i++) {
		const char *sfx[] = { "", "-wal", "-shm" };
		for (int k = 0; k < 3; k++) {
			char p[320];
			snprintf(p, sizeof(p), "%s/t%d.db%s", tmpdir, i, sfx[k]);
			unlink(p);
		}
	}
	rmdir(tmpdir);
	return tap_done();
}
