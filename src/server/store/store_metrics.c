/* Read-only projections for the Prometheus exposition (api/metrics.c). */
#include "common/err.h"
#include "common/log.h"
#include "server/store/store_int.h"

/* Must match the sum(d <= ...) columns of METRICS_JOB_DURATIONS (ms there). */
const double store_metrics_buckets_s[STORE_METRICS_NBUCKETS] = { 1,    10,   60,   300,   900,
	                                                         1800, 3600, 7200, 21600, 86400 };

static const char *opt_text(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? NULL
	                                                 : (const char *)sqlite3_column_text(st, i);
}

int store_metrics_hosts(struct store *s, void (*cb)(void *ud, const struct store_metrics_host *h),
                        void *ud)
{
	sqlite3_stmt *st = store_stmt(s, SQL_METRICS_HOSTS);
	if (!st)
		return RM_ERR_DB;
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_metrics_host h = {
			.id = store_col_text(st, 0),
			.hostname = store_col_text(st, 1),
			.status = store_col_text(st, 2),
			.last_backup_status = opt_text(st, 3),
			.last_backup_finished_ms = sqlite3_column_int64(st, 4),
			.repo_size_bytes = sqlite3_column_type(st, 5) == SQLITE_NULL
			                       ? -1
			                       : sqlite3_column_int64(st, 5),
			.snapshot_count = sqlite3_column_int64(st, 6),
			.os = opt_text(st, 7),
			.arch = opt_text(st, 8),
			.agent_version = opt_text(st, 9),
		};
		cb(ud, &h);
	}
	int rc = store_map_rc(s, src, "metrics hosts");
	store_stmt_done(st);
	return rc;
}

/* Steps st (METRICS_JOB_DURATIONS) to the end, calling cb per row; the sqlite rc. */
static int durations_rows(sqlite3_stmt *st,
                          void (*cb)(void *ud, const struct store_metrics_durations *d), void *ud)
{
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_metrics_durations d = {
			.kind = store_col_text(st, 0),
			.status = store_col_text(st, 1),
			.count = sqlite3_column_int64(st, 2),
			.sum_s = (double)sqlite3_column_int64(st, 3) / 1000.0,
		};
		for (int i = 0; i < STORE_METRICS_NBUCKETS; i++)
			d.le[i] = sqlite3_column_int64(st, 4 + i);
		cb(ud, &d);
	}
	return src;
}

int store_metrics_job_durations(struct store *s,
                                void (*cb)(void *ud, const struct store_metrics_durations *d),
                                void *ud)
{
	sqlite3_stmt *st = store_stmt(s, SQL_METRICS_JOB_DURATIONS);
	if (!st)
		return RM_ERR_DB;
	int rc = store_map_rc(s, durations_rows(st, cb, ud), "metrics job durations");
	store_stmt_done(st);
	return rc;
}

int store_metrics_job_durations_ro(struct store *s,
                                   void (*cb)(void *ud, const struct store_metrics_durations *d),
                                   void *ud)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int src = sqlite3_open_v2(s->path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (src == SQLITE_OK) {
		sqlite3_busy_timeout(db, 5000);
		src = sqlite3_prepare_v2(db, store_sql_text(SQL_METRICS_JOB_DURATIONS), -1, &st,
		                         NULL);
	}
	if (src == SQLITE_OK)
		src = durations_rows(st, cb, ud);
	int rc = RM_OK;
	if (src != SQLITE_DONE) {
		RM_ERROR("metrics job durations (read connection)", "err",
		         db ? sqlite3_errmsg(db) : sqlite3_errstr(src));
		rc = RM_ERR_DB;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}
