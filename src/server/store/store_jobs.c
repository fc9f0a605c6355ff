/* Jobs and their log lines. */
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/rmtime.h"
#include "common/ulid.h"
#include "server/store/store_int.h"

#define KIND_MAX 32

static int is_terminal(const char *status)
{
	return status && (strcmp(status, "succeeded") == 0 || strcmp(status, "failed") == 0 ||
	                  strcmp(status, "cancelled") == 0);
}

int store_job_create(struct store *s, const char *host_id, const char *kind, const json_t *args,
                     const char *created_by, char id_out[RM_ULID_BUF])
{
	if (!host_id || !kind || !kind[0] || strlen(kind) > KIND_MAX ||
	    (args && !json_is_object(args)))
		return RM_ERR_INVAL;
	char id[RM_ULID_LEN + 1];
	rm_ulid_new(id);
	sqlite3_stmt *st = store_stmt(s, SQL_JOB_INSERT);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, host_id);
	store_bind_text(st, 3, kind);
	store_bind_json(st, 4, args, "{}");
	sqlite3_bind_int64(st, 5, rm_now_ms());
	store_bind_text(st, 6, created_by);
	int rc = store_exec_stmt(s, st, "job create"); /* unknown host: FK -> NOTFOUND */
	if (!rc)
		memcpy(id_out, id, sizeof(id));
	return rc;
}

int store_job_active_of_kind(struct store *s, const char *host_id, const char *kind, int *out)
{
	sqlite3_stmt *st = store_stmt(s, SQL_JOB_ACTIVE_KIND);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, host_id);
	store_bind_text(st, 2, kind);
	int src = sqlite3_step(st);
	int rc = store_map_rc(s, src, "job active of kind");
	if (!rc)
		*out = src == SQLITE_ROW;
	store_stmt_done(st);
	return rc;
}

/* Current status of a job into out[16]; NOTFOUND if unknown. */
static int job_status(struct store *s, const char *job_id, char out[16])
{
	sqlite3_stmt *st = store_stmt(s, SQL_JOB_STATUS);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, job_id);
	int rc = store_step_row(s, st, "job status");
	if (!rc)
		rm_strlcpy(out, store_col_text(st, 0), 16);
	store_stmt_done(st);
	return rc;
}

int store_job_set_running(struct store *s, const char *job_id, int64_t started_ms)
{
	if (!job_id)
		return RM_ERR_INVAL;
	sqlite3_stmt *st = store_stmt(s, SQL_JOB_SET_RUNNING);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, job_id);
	sqlite3_bind_int64(st, 2, started_ms);
	int rc = store_exec_stmt(s, st, "job set running");
	if (rc || sqlite3_changes(s->db) == 1)
		return rc;
	char status[16];
	rc = job_status(s, job_id, status);
	if (rc)
		return rc;
	return strcmp(status, "running") == 0 ? RM_OK : RM_ERR_CONFLICT;
}

int store_job_finish(struct store *s, const char *job_id, const char *status, int exit_code,
                     const char *error, const json_t *stats, int64_t finished_ms)
{
	if (!job_id || !is_terminal(status))
		return RM_ERR_INVAL;
	sqlite3_stmt *st = store_stmt(s, SQL_JOB_FINISH);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, job_id);
	store_bind_text(st, 2, status);
	if (exit_code < 0)
		sqlite3_bind_null(st, 3);
	else
		sqlite3_bind_int(st, 3, exit_code);
	store_bind_text(st, 4, error);
	store_bind_json(st, 5, json_is_object(stats) ? stats : NULL, NULL);
	sqlite3_bind_int64(st, 6, finished_ms);
	int rc = store_exec_stmt(s, st, "job finish");
	if (!rc && sqlite3_changes(s->db) == 0)
		rc = RM_ERR_NOTFOUND;
	return rc;
}

int store_jobs_fail_unknown(struct store *s, const char *host_id, const json_t *keep_ids,
                            const char *error, int64_t now_ms, json_t *out_ids)
{
	if (!host_id)
		return RM_ERR_INVAL;
	sqlite3_stmt *st = store_stmt(s, SQL_JOBS_FAIL_UNKNOWN);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, host_id);
	/* the keep list travels as one bound JSON array, expanded by json_each() */
	store_bind_json(st, 2, json_is_array(keep_ids) ? keep_ids : NULL, "[]");
	store_bind_text(st, 3, error);
	sqlite3_bind_int64(st, 4, now_ms);
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW)
		if (out_ids)
			json_array_append_new(out_ids, json_string(store_col_text(st, 0)));
	int rc = store_map_rc(s, src, "jobs fail unknown");
	store_stmt_done(st);
	return rc;
}

int store_jobs_fail_lost(struct store *s, int64_t before_ms, const char *error, int64_t now_ms,
                         json_t *out_ids)
{
	sqlite3_stmt *st = store_stmt(s, SQL_JOBS_FAIL_LOST);
	if (!st)
		return RM_ERR_DB;
	sqlite3_bind_int64(st, 1, before_ms);
	store_bind_text(st, 2, error);
	sqlite3_bind_int64(st, 3, now_ms);
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW)
		if (out_ids)
			json_array_append_new(out_ids, json_string(store_col_text(st, 0)));
	int rc = store_map_rc(s, src, "jobs fail lost");
	store_stmt_done(st);
	return rc;
}

/* One row of JOB_COLS -> the API job object. */
static json_t *job_row(sqlite3_stmt *st)
{
	json_t *j = json_object();
	json_object_set_new(j, "id", store_col_str(st, 0));
	json_object_set_new(j, "host_id", store_col_str(st, 1));
	json_object_set_new(j, "hostname", store_col_str(st, 2));
	json_object_set_new(j, "kind", store_col_str(st, 3));
	json_object_set_new(j, "status", store_col_str(st, 4));
	json_object_set_new(j, "args", store_col_json(st, 5, json_object()));
	json_object_set_new(j, "exit_code", store_col_int(st, 6));
	json_object_set_new(j, "error", store_col_str(st, 7));
	json_object_set_new(j, "stats", store_col_json(st, 8, json_null()));
	json_object_set_new(j, "created_at", store_col_time(st, 9));
	json_object_set_new(j, "started_at", store_col_time(st, 10));
	json_object_set_new(j, "finished_at", store_col_time(st, 11));
	json_object_set_new(j, "created_by", store_col_str(st, 12));
	json_object_set_new(j, "log_lines", json_integer(sqlite3_column_int64(st, 13)));
	return j;
}

json_t *store_job_get(struct store *s, const char *job_id)
{
	if (!job_id)
		return NULL;
	sqlite3_stmt *st = store_stmt(s, SQL_JOB_GET);
	if (!st)
		return NULL;
	store_bind_text(st, 1, job_id);
	json_t *j = NULL;
	int src = sqlite3_step(st);
	if (src == SQLITE_ROW)
		j = job_row(st);
	else
		store_map_rc(s, src, "job get");
	store_stmt_done(st);
	return j;
}

int store_job_host(struct store *s, const char *job_id, char host_id_out[RM_ULID_BUF])
{
	if (!job_id)
		return RM_ERR_NOTFOUND;
	sqlite3_stmt *st = store_stmt(s, SQL_JOB_HOST);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, job_id);
	int rc = store_step_row(s, st, "job host");
	if (!rc)
		rm_strlcpy(host_id_out, store_col_text(st, 0), 27);
	store_stmt_done(st);
	return rc;
}

json_t *store_jobs_list(struct store *s, const char *host_id, int limit)
{
	if (limit < 1)
		limit = 1;
	if (limit > 500)
		limit = 500;
	sqlite3_stmt *st = store_stmt(s, host_id ? SQL_JOBS_LIST_HOST : SQL_JOBS_LIST);
	if (!st)
		return NULL;
	sqlite3_bind_int(st, 1, limit);
	if (host_id)
		store_bind_text(st, 2, host_id);
	json_t *jobs = json_array();
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(jobs, job_row(st));
	int rc = store_map_rc(s, src, "jobs list");
	store_stmt_done(st);
	if (rc) {
		json_decref(jobs);
		return NULL;
	}
	return json_pack("{s:o}", "jobs", jobs);
}

/* ------------------------------------------------------------------ job logs */

static int valid_stream(const char *stream)
{
	return stream && (strcmp(stream, "stdout") == 0 || strcmp(stream, "stderr") == 0 ||
	                  strcmp(stream, "event") == 0 || strcmp(stream, "hook") == 0);
}

int store_log_append(struct store *s, const char *job_id, const struct store_log_line *lines,
                     size_t n, size_t *inserted)
{
	if (!job_id || (n && !lines))
		return RM_ERR_INVAL;
	/* Validate everything first: INSERT OR IGNORE would silently drop bad rows. */
	for (size_t i = 0; i < n; i++)
		if (!valid_stream(lines[i].stream) || !lines[i].payload)
			return RM_ERR_INVAL;
	char status[16];
	int rc = job_status(s, job_id, status); /* NOTFOUND before any write */
	if (rc)
		return rc;
	if (n == 0) {
		if (inserted)
			*inserted = 0;
		return RM_OK;
	}
	rc = store_tx_begin(s);
	if (rc)
		return rc;
	size_t added = 0;
	sqlite3_stmt *st = store_stmt(s, SQL_LOG_INSERT);
	if (!st)
		rc = RM_ERR_DB;
	if (!rc) {
		/* job_id stays bound across rows; only the per-line columns are rebound */
		store_bind_text(st, 1, job_id);
		for (size_t i = 0; i < n && !rc; i++) {
			sqlite3_bind_int64(st, 2, lines[i].seq);
			sqlite3_bind_int64(st, 3, lines[i].ts_ms);
			sqlite3_bind_text(st, 4, lines[i].stream, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 5, lines[i].payload, -1, SQLITE_STATIC);
			int src = sqlite3_step(st);
			if (src == SQLITE_DONE)
				added += (size_t)sqlite3_changes(s->db);
			else
				rc = store_map_rc(s, src, "log append");
			sqlite3_reset(st);
		}
		store_stmt_done(st);
	}
	if (!rc && added) {
		st = store_stmt(s, SQL_JOB_LOG_COUNT_ADD);
		if (!st)
			rc = RM_ERR_DB;
		if (!rc) {
			store_bind_text(st, 1, job_id);
			sqlite3_bind_int64(st, 2, (sqlite3_int64)added);
			rc = store_exec_stmt(s, st, "job log count");
		}
	}
	rc = store_tx_end(s, rc);
	if (!rc && inserted)
		*inserted = added;
	return rc;
}

json_t *store_log_list(struct store *s, const char *job_id, long long after_seq, int limit)
{
	if (!job_id)
		return NULL;
	if (limit < 1)
		limit = 1;
	if (limit > 10000)
		limit = 10000;
	sqlite3_stmt *st = store_stmt(s, SQL_LOG_LIST);
	if (!st)
		return NULL;
	store_bind_text(st, 1, job_id);
	sqlite3_bind_int64(st, 2, after_seq);
	sqlite3_bind_int(st, 3, limit);
	json_t *lines = json_array();
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *l = json_object();
		json_object_set_new(l, "seq", json_integer(sqlite3_column_int64(st, 0)));
		json_object_set_new(l, "ts", store_col_time(st, 1));
		json_object_set_new(l, "stream", store_col_str(st, 2));
		json_object_set_new(l, "payload", store_col_str(st, 3));
		json_array_append_new(lines, l);
	}
	int rc = store_map_rc(s, src, "log list");
	store_stmt_done(st);
	if (rc) {
		json_decref(lines);
		return NULL;
	}
	return lines;
}

/* Steps st (job_logs rows: seq, ts, stream, payload) through cb; the last step's result in
 * *src; the number of rows. */
static int log_rows(sqlite3_stmt *st, void (*cb)(void *ud, const struct store_log_row *row),
                    void *ud, int *src)
{
	int n = 0;
	while ((*src = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_log_row row = {
			.seq = sqlite3_column_int64(st, 0),
			.ts_ms = sqlite3_column_int64(st, 1),
			.stream = (const char *)sqlite3_column_text(st, 2),
			.payload = (const char *)sqlite3_column_text(st, 3),
		};
		row.payload_len = (size_t)sqlite3_column_bytes(st, 3);
		if (!row.stream)
			row.stream = "";
		if (!row.payload)
			row.payload = "";
		cb(ud, &row);
		n++;
	}
	return n;
}

int store_log_each(struct store *s, const char *job_id, long long after_seq, int limit,
                   void (*cb)(void *ud, const struct store_log_row *row), void *ud)
{
	if (!job_id)
		return -1;
	if (limit < 1)
		limit = 1;
	if (limit > 10000)
		limit = 10000;
	sqlite3_stmt *st = store_stmt(s, SQL_LOG_LIST);
	if (!st)
		return -1;
	store_bind_text(st, 1, job_id);
	sqlite3_bind_int64(st, 2, after_seq);
	sqlite3_bind_int(st, 3, limit);
	int src, n = log_rows(st, cb, ud, &src);
	int rc = store_map_rc(s, src, "log each");
	store_stmt_done(st);
	return rc ? -1 : n;
}

/* ---- read-only connections for the thread pool (struct in store_int.h) ---- */

int store_reader_open(struct store *s, struct store_reader **out)
{
	struct store_reader *rd = rm_xcalloc(1, sizeof *rd);
	int src =
	    sqlite3_open_v2(s->path, &rd->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (src != SQLITE_OK) {
		RM_ERROR("cannot open a read connection", "err",
		         rd->db ? sqlite3_errmsg(rd->db) : sqlite3_errstr(src));
		store_reader_close(rd);
		return RM_ERR_DB;
	}
	sqlite3_busy_timeout(rd->db, 5000);
	/* a sequential scan gains little from a page cache: keep each reader's small (the OS
	 * caches the file anyway), so concurrent downloads do not add 2 MiB each */
	sqlite3_exec(rd->db, "PRAGMA cache_size=-256", NULL, NULL, NULL);
	*out = rd;
	return RM_OK;
}

void store_reader_close(struct store_reader *rd)
{
	if (!rd)
		return;
	sqlite3_finalize(rd->log_list);
	sqlite3_finalize(rd->fleet);
	if (rd->db)
		sqlite3_close(rd->db);
	free(rd);
}

int store_reader_log_each(struct store_reader *rd, const char *job_id, long long after_seq,
                          int limit, void (*cb)(void *ud, const struct store_log_row *row),
                          void *ud)
{
	if (!rd->log_list && sqlite3_prepare_v2(rd->db, store_sql_text(SQL_LOG_LIST), -1,
	                                        &rd->log_list, NULL) != SQLITE_OK)
		return -1;
	sqlite3_stmt *st = rd->log_list;
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, job_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, after_seq);
	sqlite3_bind_int(st, 3, limit < 1 ? 1 : limit > 10000 ? 10000 : limit);
	int src, n = log_rows(st, cb, ud, &src);
	sqlite3_reset(st);
	return src == SQLITE_DONE ? n : -1;
}
