/* C6 agent updates: per-host latest attempt, rolling fleet update runs. */
#include "server/store/store_update.h"

#include <sqlite3.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "server/store/store_int.h"

int store_update_put(struct store *s, const char *host_id, const char *update_id,
                     const char *run_id, const char *state, const char *from_version,
                     const char *target_version, const char *error, int64_t now_ms)
{
	sqlite3_stmt *st = store_stmt(s, SQL_UPDATE_PUT);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, host_id);
	store_bind_text(st, 2, update_id);
	store_bind_text(st, 3, run_id);
	store_bind_text(st, 4, state);
	store_bind_text(st, 5, from_version);
	store_bind_text(st, 6, target_version);
	store_bind_text(st, 7, error);
	sqlite3_bind_int64(st, 8, now_ms);
	return store_exec_stmt(s, st, "update put");
}

int store_update_set_state(struct store *s, const char *host_id, const char *update_id,
                           const char *state, const char *error, int64_t now_ms)
{
	sqlite3_stmt *st = store_stmt(s, SQL_UPDATE_SET_STATE);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, host_id);
	store_bind_text(st, 2, update_id);
	store_bind_text(st, 3, state);
	store_bind_text(st, 4, error);
	sqlite3_bind_int64(st, 5, now_ms);
	int rc = store_exec_stmt(s, st, "update set state");
	if (!rc && sqlite3_changes(s->db) == 0)
		rc = RM_ERR_NOTFOUND;
	return rc;
}

static json_t *update_row(sqlite3_stmt *st)
{
	json_t *o = json_object();
	json_object_set_new(o, "host_id", store_col_str(st, 0));
	json_object_set_new(o, "update_id", store_col_str(st, 1));
	json_object_set_new(o, "run_id", store_col_str(st, 2));
	json_object_set_new(o, "state", store_col_str(st, 3));
	json_object_set_new(o, "from_version", store_col_str(st, 4));
	json_object_set_new(o, "target_version", store_col_str(st, 5));
	json_object_set_new(o, "error", store_col_str(st, 6));
	json_object_set_new(o, "started_at", store_col_int(st, 7));
	json_object_set_new(o, "at", store_col_int(st, 8));
	return o;
}

json_t *store_update_get(struct store *s, const char *host_id)
{
	sqlite3_stmt *st = store_stmt(s, SQL_UPDATE_GET);
	if (!st)
		return NULL;
	store_bind_text(st, 1, host_id);
	json_t *o = NULL;
	if (store_step_row(s, st, "update get") == RM_OK)
		o = update_row(st);
	store_stmt_done(st);
	return o;
}

json_t *store_updates_by_host(struct store *s)
{
	sqlite3_stmt *st = store_stmt(s, SQL_UPDATES_ALL);
	if (!st)
		return NULL;
	json_t *rows = store_collect_rows(s, st, update_row, "updates all");
	if (!rows)
		return NULL;
	json_t *out = json_object();
	size_t i;
	json_t *r;
	json_array_foreach (rows, i, r) {
		json_t *u =
		    json_pack("{s:O,s:O,s:O,s:O}", "state", json_object_get(r, "state"),
		              "target_version", json_object_get(r, "target_version"), "error",
		              json_object_get(r, "error"), "at", json_object_get(r, "at"));
		json_object_set_new(out, rmj_str(r, "host_id"), u);
	}
	json_decref(rows);
	return out;
}

void store_update_overlay(struct store *s, json_t *host, const json_t *by_host)
{
	const char *id = rmj_str(host, "id");
	json_t *u = NULL;
	if (by_host) {
		u = json_object_get(by_host, id ? id : "");
		json_incref(u);
	} else if (id) {
		json_t *row = store_update_get(s, id);
		if (row)
			u = json_pack("{s:O,s:O,s:O,s:O}", "state", json_object_get(row, "state"),
			              "target_version", json_object_get(row, "target_version"),
			              "error", json_object_get(row, "error"), "at",
			              json_object_get(row, "at"));
		json_decref(row);
	}
	json_object_set_new(host, "update", u ? u : json_null());
}

int store_updates_abandon(struct store *s, const char *reason, int64_t now_ms)
{
	sqlite3_stmt *st = store_stmt(s, SQL_UPDATES_ABANDON);
	if (!st)
		return RM_ERR_DB;
	sqlite3_bind_int64(st, 1, now_ms);
	store_bind_text(st, 2, reason);
	int rc = store_exec_stmt(s, st, "updates abandon");
	if (rc)
		return rc;
	st = store_stmt(s, SQL_UPDATE_RUNS_ABANDON);
	if (!st)
		return RM_ERR_DB;
	sqlite3_bind_int64(st, 1, now_ms);
	store_bind_text(st, 2, reason);
	return store_exec_stmt(s, st, "update runs abandon");
}

int store_update_run_insert(struct store *s, const char *id, const char *target_version,
                            const json_t *hosts, const char *created_by, int64_t now_ms)
{
	sqlite3_stmt *st = store_stmt(s, SQL_UPDATE_RUN_INSERT);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, target_version);
	store_bind_json(st, 3, hosts, "[]");
	store_bind_text(st, 4, created_by);
	sqlite3_bind_int64(st, 5, now_ms);
	return store_exec_stmt(s, st, "update run insert");
}

int store_update_run_save(struct store *s, const char *id, const char *state, const json_t *hosts,
                          const char *current_host_id, const char *halted_host_id,
                          const char *reason, int cancel_requested, int64_t finished_ms)
{
	sqlite3_stmt *st = store_stmt(s, SQL_UPDATE_RUN_SAVE);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, state);
	store_bind_json(st, 3, hosts, "[]");
	store_bind_text(st, 4, current_host_id);
	store_bind_text(st, 5, halted_host_id);
	store_bind_text(st, 6, reason);
	sqlite3_bind_int(st, 7, cancel_requested ? 1 : 0);
	if (finished_ms)
		sqlite3_bind_int64(st, 8, finished_ms);
	else
		sqlite3_bind_null(st, 8);
	int rc = store_exec_stmt(s, st, "update run save");
	if (!rc && sqlite3_changes(s->db) == 0)
		rc = RM_ERR_NOTFOUND;
	return rc;
}

static json_t *run_row(sqlite3_stmt *st)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", store_col_str(st, 0));
	json_object_set_new(o, "state", store_col_str(st, 1));
	json_object_set_new(o, "target_version", store_col_str(st, 2));
	json_object_set_new(o, "hosts", store_col_json(st, 3, json_array()));
	json_object_set_new(o, "current_host_id", store_col_str(st, 4));
	json_object_set_new(o, "halted_host_id", store_col_str(st, 5));
	json_object_set_new(o, "reason", store_col_str(st, 6));
	json_object_set_new(o, "cancel_requested", json_boolean(sqlite3_column_int(st, 7)));
	json_object_set_new(o, "created_by", store_col_str(st, 8));
	json_object_set_new(o, "created_at", store_col_time(st, 9));
	json_object_set_new(o, "finished_at", store_col_time(st, 10));
	return o;
}

json_t *store_update_run_get(struct store *s, const char *id)
{
	sqlite3_stmt *st = store_stmt(s, SQL_UPDATE_RUN_GET);
	if (!st)
		return NULL;
	store_bind_text(st, 1, id);
	json_t *o = NULL;
	if (store_step_row(s, st, "update run get") == RM_OK)
		o = run_row(st);
	store_stmt_done(st);
	return o;
}

json_t *store_update_runs_list(struct store *s, int limit)
{
	sqlite3_stmt *st = store_stmt(s, SQL_UPDATE_RUNS_LIST);
	if (!st)
		return NULL;
	sqlite3_bind_int(st, 1, limit);
	return store_collect_rows(s, st, run_row, "update runs list");
}
