/* C2 policies in the store: source groups, schedules (N:M groups), per-host policy state
 * (schedule.set version and ack, time zone, settings, next run) and jobs first seen from
 * the agent. Shapes are raw rows; api/ and engine/ turn them into API objects. */
#include <sqlite3.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/rmtime.h"
#include "common/ulid.h"
#include "server/store/store.h"
#include "server/store/store_int.h"

/* The shared row collector (store_int.h); it lives here, where it started. */
json_t *store_collect_rows(struct store *s, sqlite3_stmt *st, json_t *(*row)(sqlite3_stmt *),
                           const char *what)
{
	json_t *a = json_array();
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(a, row(st));
	int rc = store_map_rc(s, src, what);
	store_stmt_done(st);
	if (rc) {
		json_decref(a);
		return NULL;
	}
	return a;
}

static json_t *group_row(sqlite3_stmt *st)
{
	json_t *g = json_object();
	json_object_set_new(g, "id", store_col_str(st, 0));
	json_object_set_new(g, "host_id", store_col_str(st, 1));
	json_object_set_new(g, "name", store_col_str(st, 2));
	json_object_set_new(g, "spec", store_col_json(st, 3, json_object()));
	json_object_set_new(g, "hooks_ct", store_col_str(st, 4));
	json_object_set_new(g, "created_at", store_col_time(st, 5));
	json_object_set_new(g, "updated_at", store_col_time(st, 6));
	return g;
}

static json_t *first_col_str(sqlite3_stmt *st)
{
	return store_col_str(st, 0);
}

int store_group_insert(struct store *s, const char *host_id, const char *name, const json_t *spec,
                       const char *hooks_ct, char id_out[RM_ULID_LEN + 1])
{
	char id[RM_ULID_LEN + 1];
	rm_ulid_new(id);
	sqlite3_stmt *st = store_stmt(s, SQL_GROUP_INSERT);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, host_id);
	store_bind_text(st, 3, name);
	store_bind_json(st, 4, spec, "{}");
	store_bind_text(st, 5, hooks_ct);
	sqlite3_bind_int64(st, 6, rm_now_ms());
	int rc = store_exec_stmt(s, st, "group insert"); /* UNIQUE name -> CONFLICT */
	if (!rc)
		memcpy(id_out, id, sizeof id);
	return rc;
}

int store_group_update(struct store *s, const char *host_id, const char *gid, const char *name,
                       const json_t *spec, const char *hooks_ct)
{
	sqlite3_stmt *st = store_stmt(s, SQL_GROUP_UPDATE);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, gid);
	store_bind_text(st, 2, host_id);
	store_bind_text(st, 3, name);
	store_bind_json(st, 4, spec, "{}");
	store_bind_text(st, 5, hooks_ct);
	sqlite3_bind_int64(st, 6, rm_now_ms());
	int rc = store_exec_stmt(s, st, "group update");
	if (!rc && sqlite3_changes(s->db) == 0)
		rc = RM_ERR_NOTFOUND;
	return rc;
}

int store_group_delete(struct store *s, const char *host_id, const char *gid)
{
	sqlite3_stmt *st = store_stmt(s, SQL_GROUP_DELETE);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, gid);
	store_bind_text(st, 2, host_id);
	int rc = store_exec_stmt(s, st, "group delete");
	if (!rc && sqlite3_changes(s->db) == 0)
		rc = RM_ERR_NOTFOUND;
	return rc;
}

json_t *store_group_get(struct store *s, const char *host_id, const char *gid)
{
	sqlite3_stmt *st = store_stmt(s, SQL_GROUP_GET);
	if (!st)
		return NULL;
	store_bind_text(st, 1, gid);
	store_bind_text(st, 2, host_id);
	json_t *g = store_step_row(s, st, "group get") == RM_OK ? group_row(st) : NULL;
	store_stmt_done(st);
	return g;
}

json_t *store_groups_list(struct store *s, const char *host_id)
{
	sqlite3_stmt *st = store_stmt(s, SQL_GROUPS_LIST);
	if (!st)
		return NULL;
	store_bind_text(st, 1, host_id);
	return store_collect_rows(s, st, group_row, "groups list");
}

/* Replaces a schedule's groups; ids of other hosts' groups are silently not linked (the
 * api layer validates them first). */
static int sched_set_groups(struct store *s, const char *sid, const json_t *group_ids)
{
	sqlite3_stmt *st = store_stmt(s, SQL_SCHED_GROUPS_CLEAR);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, sid);
	int rc = store_exec_stmt(s, st, "schedule groups clear");
	size_t i;
	json_t *v;
	json_array_foreach (group_ids, i, v) {
		if (rc)
			break;
		st = store_stmt(s, SQL_SCHED_GROUP_ADD);
		if (!st)
			return RM_ERR_DB;
		store_bind_text(st, 1, sid);
		store_bind_text(st, 2, json_string_value(v));
		rc = store_exec_stmt(s, st, "schedule group add");
		if (rc == RM_ERR_CONFLICT)
			rc = RM_OK; /* listed twice */
	}
	return rc;
}

/* Insert or update (same parameters: id, host, cron, enabled, now) + the group links, in
 * one transaction. */
static int sched_write(struct store *s, enum store_sql sql, const char *id, const char *host_id,
                       const char *cron, int enabled, const json_t *group_ids)
{
	int rc = store_tx_begin(s);
	if (rc)
		return rc;
	sqlite3_stmt *st = store_stmt(s, sql);
	if (!st)
		return store_tx_end(s, RM_ERR_DB);
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, host_id);
	store_bind_text(st, 3, cron);
	sqlite3_bind_int(st, 4, enabled ? 1 : 0);
	sqlite3_bind_int64(st, 5, rm_now_ms());
	rc = store_exec_stmt(s, st, "schedule write");
	if (!rc && sqlite3_changes(s->db) == 0)
		rc = RM_ERR_NOTFOUND;
	if (!rc)
		rc = sched_set_groups(s, id, group_ids);
	return store_tx_end(s, rc);
}

int store_schedule_insert(struct store *s, const char *host_id, const char *cron, int enabled,
                          const json_t *group_ids, char id_out[RM_ULID_LEN + 1])
{
	char id[RM_ULID_LEN + 1];
	rm_ulid_new(id);
	int rc = sched_write(s, SQL_SCHED_INSERT, id, host_id, cron, enabled, group_ids);
	if (!rc)
		memcpy(id_out, id, sizeof id);
	return rc;
}

int store_schedule_update(struct store *s, const char *host_id, const char *sid, const char *cron,
                          int enabled, const json_t *group_ids)
{
	return sched_write(s, SQL_SCHED_UPDATE, sid, host_id, cron, enabled, group_ids);
}

int store_schedule_delete(struct store *s, const char *host_id, const char *sid)
{
	sqlite3_stmt *st = store_stmt(s, SQL_SCHED_DELETE);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, sid);
	store_bind_text(st, 2, host_id);
	int rc = store_exec_stmt(s, st, "schedule delete");
	if (!rc && sqlite3_changes(s->db) == 0)
		rc = RM_ERR_NOTFOUND;
	return rc;
}

/* group_ids and last_run of one schedule row (separate statements: portable SQL) */
static int sched_details(struct store *s, json_t *sch)
{
	const char *sid = rmj_str(sch, "id");
	sqlite3_stmt *st = store_stmt(s, SQL_SCHED_GROUP_IDS);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, sid);
	json_t *ids = json_array();
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(ids, store_col_str(st, 0));
	int rc = store_map_rc(s, src, "schedule groups");
	store_stmt_done(st);
	json_object_set_new(sch, "group_ids", ids);
	if (rc)
		return rc;
	st = store_stmt(s, SQL_SCHED_LAST_RUN);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, sid);
	rc = store_step_row(s, st, "schedule last run");
	if (rc == RM_OK)
		json_object_set_new(sch, "last_run",
		                    json_pack("{s:o,s:o,s:o}", "job_id", store_col_str(st, 0),
		                              "status", store_col_str(st, 1), "at",
		                              store_col_time(st, 2)));
	else
		json_object_set_new(sch, "last_run", json_null());
	store_stmt_done(st);
	return rc == RM_ERR_NOTFOUND ? RM_OK : rc;
}

json_t *store_schedules_list(struct store *s, const char *host_id, const char *sid)
{
	sqlite3_stmt *st = store_stmt(s, SQL_SCHEDS_LIST);
	if (!st)
		return NULL;
	store_bind_text(st, 1, host_id);
	store_bind_text(st, 2, sid);
	json_t *a = json_array();
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *r = json_object();
		json_object_set_new(r, "id", store_col_str(st, 0));
		json_object_set_new(r, "host_id", store_col_str(st, 1));
		json_object_set_new(r, "cron", store_col_str(st, 2));
		json_object_set_new(r, "enabled", json_boolean(sqlite3_column_int(st, 3)));
		json_object_set_new(r, "created_at", store_col_time(st, 4));
		json_object_set_new(r, "updated_at", store_col_time(st, 5));
		json_array_append_new(a, r);
	}
	int rc = store_map_rc(s, src, "schedules list");
	store_stmt_done(st);
	size_t i;
	json_t *r;
	json_array_foreach (a, i, r)
		if (!rc)
			rc = sched_details(s, r);
	if (rc) {
		json_decref(a);
		return NULL;
	}
	return a;
}

int store_host_policy_bump(struct store *s, const char *host_id, long long *version_out)
{
	sqlite3_stmt *st = store_stmt(s, SQL_HOST_POLICY_BUMP);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, host_id);
	int rc = store_step_row(s, st, "policy version bump");
	if (!rc)
		*version_out = sqlite3_column_int64(st, 0);
	store_stmt_done(st);
	return rc;
}

int store_host_policy_ack(struct store *s, const char *host_id, long long version)
{
	sqlite3_stmt *st = store_stmt(s, SQL_HOST_POLICY_ACK);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, host_id);
	sqlite3_bind_int64(st, 2, version);
	return store_exec_stmt(s, st, "policy ack");
}

int store_host_tz_set(struct store *s, const char *host_id, const char *tz, const long long *off)
{
	sqlite3_stmt *st = store_stmt(s, SQL_HOST_TZ_SET);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, host_id);
	store_bind_text(st, 2, tz && tz[0] ? tz : NULL);
	if (off)
		sqlite3_bind_int64(st, 3, *off);
	return store_exec_stmt(s, st, "host tz");
}

int store_host_settings_set(struct store *s, const char *host_id, const json_t *settings)
{
	sqlite3_stmt *st = store_stmt(s, SQL_HOST_SETTINGS_SET);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, host_id);
	store_bind_json(st, 2, settings, "{}");
	int rc = store_exec_stmt(s, st, "host settings");
	if (!rc && sqlite3_changes(s->db) == 0)
		rc = RM_ERR_NOTFOUND;
	return rc;
}

int store_host_next_run_set(struct store *s, const char *host_id, int64_t ms)
{
	sqlite3_stmt *st = store_stmt(s, SQL_HOST_NEXT_RUN_SET);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, host_id);
	if (ms >= 0)
		sqlite3_bind_int64(st, 2, ms);
	return store_exec_stmt(s, st, "host next run");
}

json_t *store_hosts_next_run_due(struct store *s, int64_t now_ms)
{
	sqlite3_stmt *st = store_stmt(s, SQL_HOSTS_NEXT_RUN_DUE);
	if (!st)
		return NULL;
	sqlite3_bind_int64(st, 1, now_ms);
	return store_collect_rows(s, st, first_col_str, "next run due");
}

int store_job_insert_seen(struct store *s, const char *job_id, const char *host_id,
                          const char *kind, const json_t *args, int64_t started_ms,
                          const char *created_by, const char *schedule_id)
{
	sqlite3_stmt *st = store_stmt(s, SQL_JOB_INSERT_SEEN);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, job_id);
	store_bind_text(st, 2, host_id);
	store_bind_text(st, 3, kind);
	store_bind_json(st, 4, args, "{}");
	sqlite3_bind_int64(st, 5, started_ms);
	store_bind_text(st, 6, created_by);
	store_bind_text(st, 7, schedule_id);
	return store_exec_stmt(s, st, "job insert seen");
}

int store_job_set_awaiting(struct store *s, const char *job_id, int awaiting)
{
	sqlite3_stmt *st = store_stmt(s, SQL_JOB_SET_AWAITING);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, job_id);
	sqlite3_bind_int(st, 2, awaiting ? 1 : 0);
	return store_exec_stmt(s, st, "job awaiting");
}

static json_t *awaiting_row(sqlite3_stmt *st)
{
	return json_pack("{s:o,s:o,s:o,s:I}", "id", store_col_str(st, 0), "kind",
	                 store_col_str(st, 1), "args", store_col_json(st, 2, json_object()),
	                 "created_ms", (json_int_t)sqlite3_column_int64(st, 3));
}

static json_t *expired_row(sqlite3_stmt *st)
{
	return json_pack("{s:o,s:o}", "id", store_col_str(st, 0), "host_id", store_col_str(st, 1));
}

json_t *store_jobs_awaiting(struct store *s, const char *host_id)
{
	sqlite3_stmt *st = store_stmt(s, SQL_JOBS_AWAITING);
	if (!st)
		return NULL;
	store_bind_text(st, 1, host_id);
	return store_collect_rows(s, st, awaiting_row, "jobs awaiting");
}

json_t *store_jobs_awaiting_expire(struct store *s, int64_t created_before_ms, const char *error,
                                   int64_t now_ms)
{
	sqlite3_stmt *st = store_stmt(s, SQL_JOBS_AWAITING_EXPIRE);
	if (!st)
		return NULL;
	sqlite3_bind_int64(st, 1, created_before_ms);
	store_bind_text(st, 2, error);
	sqlite3_bind_int64(st, 3, now_ms);
	return store_collect_rows(s, st, expired_row, "jobs awaiting expire");
}
