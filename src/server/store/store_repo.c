/* Repository health: the size history written on every stats.report (thinned as it
 * ages), the newest maintenance job of a kind, per-backup points and the fleet total. */
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/rmtime.h"
#include "server/store/store_int.h"

#define HOUR_MS (3600LL * 1000)
#define DAY_MS (24 * HOUR_MS)
/* Thinning: every point of the last 2 days, then the newest point per hour up to 30 days,
 * then the newest per day: a host reporting every 5 minutes keeps ~1,300 rows for a year. */
static const struct {
	int64_t older_than_ms, bucket_ms;
} thin_rules[] = {
	{ 2 * DAY_MS, HOUR_MS },
	{ 30 * DAY_MS, DAY_MS },
};
#define BACKUP_POINTS_MAX 5000

static void bind_opt_i64(sqlite3_stmt *st, int i, long long v)
{
	if (v < 0)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_int64(st, i, v);
}

static int thin(struct store *s, const char *host_id, int64_t now_ms)
{
	int rc = RM_OK;
	for (size_t i = 0; !rc && i < sizeof thin_rules / sizeof thin_rules[0]; i++) {
		sqlite3_stmt *st = store_stmt(s, SQL_REPO_HIST_THIN);
		if (!st)
			return RM_ERR_DB;
		store_bind_text(st, 1, host_id);
		sqlite3_bind_int64(st, 2, now_ms - thin_rules[i].older_than_ms);
		sqlite3_bind_int64(st, 3, thin_rules[i].bucket_ms);
		rc = store_exec_stmt(s, st, "repo history thin");
	}
	return rc;
}

/* The host's newest point time, -1 when it has none (or on error: then it thins). */
static int64_t last_ts(struct store *s, const char *host_id)
{
	sqlite3_stmt *st = store_stmt(s, SQL_REPO_HIST_LAST);
	if (!st)
		return -1;
	store_bind_text(st, 1, host_id);
	int64_t t = -1;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		t = sqlite3_column_int64(st, 0);
	store_stmt_done(st);
	return t;
}

int store_repo_history_add(struct store *s, const char *host_id, int64_t ts_ms,
                           const struct store_repo_point *p)
{
	if (!host_id || !p || p->size_bytes < 0)
		return RM_ERR_INVAL;
	int rc = store_tx_begin(s);
	if (rc)
		return rc;
	/* thinning scans the host's older rows (~0.5 ms): once per hour of reports is enough,
	 * the rows crossing a rule's age limit in between are at most an hour's worth */
	int64_t prev = last_ts(s, host_id);
	int thin_now = prev < 0 || prev / HOUR_MS != ts_ms / HOUR_MS;
	sqlite3_stmt *st = store_stmt(s, SQL_REPO_HIST_INSERT);
	if (!st)
		return store_tx_end(s, RM_ERR_DB);
	store_bind_text(st, 1, host_id);
	sqlite3_bind_int64(st, 2, ts_ms);
	sqlite3_bind_int64(st, 3, p->size_bytes);
	bind_opt_i64(st, 4, p->uncompressed_bytes);
	if (p->compression_ratio > 0)
		sqlite3_bind_double(st, 5, p->compression_ratio);
	else
		sqlite3_bind_null(st, 5);
	sqlite3_bind_int64(st, 6, p->snapshot_count < 0 ? 0 : p->snapshot_count);
	rc = store_exec_stmt(s, st, "repo history insert");
	if (!rc && thin_now)
		rc = thin(s, host_id, ts_ms);
	return store_tx_end(s, rc);
}

int store_repo_raw_refresh(struct store *s, const char *host_id)
{
	sqlite3_stmt *st = store_stmt(s, SQL_REPO_HIST_RAW_REFRESH);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, host_id);
	return store_exec_stmt(s, st, "repo raw refresh");
}

json_t *store_repo_latest(struct store *s, const char *host_id)
{
	sqlite3_stmt *st = store_stmt(s, SQL_REPO_LATEST);
	if (!st)
		return NULL;
	store_bind_text(st, 1, host_id);
	json_t *o = NULL;
	int rc = store_step_row(s, st, "repo latest");
	if (rc == RM_OK) {
		o = json_object();
		json_object_set_new(o, "time", store_col_time(st, 0));
		json_object_set_new(o, "size_bytes", store_col_int(st, 1));
		json_object_set_new(o, "raw_bytes", store_col_int(st, 2));
		json_object_set_new(o, "uncompressed_bytes", store_col_int(st, 3));
		json_object_set_new(o, "compression_ratio",
		                    sqlite3_column_type(st, 4) == SQLITE_NULL
		                        ? json_null()
		                        : json_real(sqlite3_column_double(st, 4)));
		json_object_set_new(o, "snapshot_count", store_col_int(st, 5));
	} else if (rc == RM_ERR_NOTFOUND) {
		o = json_null();
	}
	store_stmt_done(st);
	return o;
}

json_t *store_repo_last_job(struct store *s, const char *host_id, const char *kind)
{
	sqlite3_stmt *st = store_stmt(s, SQL_REPO_LAST_JOB);
	if (!st)
		return NULL;
	store_bind_text(st, 1, host_id);
	store_bind_text(st, 2, kind);
	json_t *o = NULL;
	int rc = store_step_row(s, st, "repo last job");
	if (rc == RM_OK)
		o = json_pack("{s:o,s:o,s:o,s:o,s:o}", "job_id", store_col_str(st, 0), "status",
		              store_col_str(st, 1), "finished_at", store_col_time(st, 2), "stats",
		              store_col_json(st, 3, json_object()), "error", store_col_str(st, 4));
	else if (rc == RM_ERR_NOTFOUND)
		o = json_null();
	store_stmt_done(st);
	return o;
}

json_t *store_repo_history(struct store *s, const char *host_id, int64_t since_ms)
{
	sqlite3_stmt *st = store_stmt(s, SQL_REPO_HIST_LIST);
	if (!st)
		return NULL;
	store_bind_text(st, 1, host_id);
	sqlite3_bind_int64(st, 2, since_ms);
	json_t *arr = json_array();
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(arr, json_pack("{s:I,s:o,s:o,s:o}", "t",
		                                     (json_int_t)sqlite3_column_int64(st, 0),
		                                     "size_bytes", store_col_int(st, 1),
		                                     "raw_bytes", store_col_int(st, 2),
		                                     "snapshot_count", store_col_int(st, 3)));
	int rc = store_map_rc(s, src, "repo history");
	store_stmt_done(st);
	if (rc) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}

/* One backup job's chart point from its stored stats (restic's summary). */
static json_t *backup_point(sqlite3_stmt *st)
{
	json_t *stats = store_col_json(st, 4, json_object());
	json_t *o = json_object();
	json_object_set_new(o, "job_id", store_col_str(st, 0));
	json_object_set_new(o, "status", store_col_str(st, 1));
	json_object_set_new(o, "t", json_integer(sqlite3_column_int64(st, 3)));
	json_t *d = json_object_get(stats, "total_duration");
	if (json_is_number(d))
		json_object_set_new(o, "duration_s", json_real(json_number_value(d)));
	else if (sqlite3_column_type(st, 2) != SQLITE_NULL)
		json_object_set_new(
		    o, "duration_s",
		    json_real((double)(sqlite3_column_int64(st, 3) - sqlite3_column_int64(st, 2)) /
		              1000.0));
	static const char *const keys[] = { "data_added", "files_new", "files_changed",
		                            "snapshot_id" };
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		json_t *v = json_object_get(stats, keys[i]);
		json_object_set(o, keys[i], v ? v : json_null());
	}
	json_decref(stats);
	return o;
}

json_t *store_repo_backup_points(struct store *s, const char *host_id, int64_t since_ms)
{
	sqlite3_stmt *st = store_stmt(s, SQL_REPO_BACKUPS);
	if (!st)
		return NULL;
	store_bind_text(st, 1, host_id);
	sqlite3_bind_int64(st, 2, since_ms);
	sqlite3_bind_int64(st, 3, BACKUP_POINTS_MAX);
	json_t *arr = json_array();
	int src;
	/* newest first from the index: the cap keeps the most recent backups */
	while ((src = sqlite3_step(st)) == SQLITE_ROW)
		json_array_insert_new(arr, 0, backup_point(st));
	int rc = store_map_rc(s, src, "repo backups");
	store_stmt_done(st);
	if (rc) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}

/* Bucket arrays of a fleet history: the change of the total at each bucket (diff), whether
 * any host reported in it (seen) and its last report time (t). */
struct fleet_acc {
	long long *diff;
	int64_t *t;
	char *seen;
	size_t nb;
};

/* Rows come ordered by host, then bucket (-1 = the newest size before the range): each
 * host's size holds from its bucket on until its next one, so the total changes there by
 * the difference to the host's previous size. */
static int fleet_rows(sqlite3_stmt *st, struct fleet_acc *a)
{
	char host[64] = "";
	long long prev = 0;
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(st, 0);
		long long b = sqlite3_column_int64(st, 1), size = sqlite3_column_int64(st, 2);
		if (!h || b >= (long long)a->nb)
			continue;
		if (strcmp(h, host) != 0) {
			rm_strlcpy(host, h, sizeof host);
			prev = 0;
		}
		a->diff[b < 0 ? 0 : b] += size - prev;
		prev = size;
		if (b >= 0) {
			a->seen[b] = 1;
			if (sqlite3_column_int64(st, 3) > a->t[b])
				a->t[b] = sqlite3_column_int64(st, 3);
		}
	}
	return src;
}

int store_reader_fleet_history(struct store_reader *rd, int64_t now_ms, int64_t since_ms,
                               int64_t bucket_ms, struct store_fleet_point **out, size_t *n)
{
	if (bucket_ms <= 0 || now_ms < since_ms)
		return RM_ERR_INVAL;
	if (!rd->fleet && sqlite3_prepare_v2(rd->db, store_sql_text(SQL_REPO_FLEET), -1, &rd->fleet,
	                                     NULL) != SQLITE_OK)
		return RM_ERR_DB;
	struct fleet_acc a = { .nb = (size_t)((now_ms - since_ms) / bucket_ms) + 1 };
	a.diff = rm_xcalloc(a.nb, sizeof *a.diff);
	a.t = rm_xcalloc(a.nb, sizeof *a.t);
	a.seen = rm_xcalloc(a.nb, 1);
	sqlite3_stmt *st = rd->fleet;
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, since_ms);
	sqlite3_bind_int64(st, 2, bucket_ms);
	int src = fleet_rows(st, &a);
	sqlite3_reset(st);
	struct store_fleet_point *pts = NULL;
	size_t k = 0;
	if (src == SQLITE_DONE) {
		pts = rm_xcalloc(a.nb, sizeof *pts);
		long long total = 0;
		for (size_t b = 0; b < a.nb; b++) {
			total += a.diff[b];
			if (a.seen[b])
				pts[k++] = (struct store_fleet_point){ a.t[b], total };
		}
	}
	free(a.diff);
	free(a.t);
	free(a.seen);
	if (src != SQLITE_DONE)
		return RM_ERR_DB;
	*out = pts;
	*n = k;
	return RM_OK;
}
