/* C4 alerts in the store: rule overrides, alert rows (dedupe by the partial unique index
 * alerts_active), and the read-only queries the rule engine evaluates. */
#include <sqlite3.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/rmtime.h"
#include "common/ulid.h"
#include "server/store/store.h"
#include "server/store/store_int.h"

json_t *store_alert_rules_get(struct store *s)
{
	sqlite3_stmt *st = store_stmt(s, SQL_RULES_GET);
	if (!st)
		return NULL;
	json_t *o = json_object();
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW)
		json_object_set_new(o, store_col_text(st, 0),
		                    json_pack("{s:b,s:o}", "enabled", sqlite3_column_int(st, 1),
		                              "params", store_col_json(st, 2, json_object())));
	int rc = store_map_rc(s, src, "alert rules");
	store_stmt_done(st);
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int store_alert_rule_put(struct store *s, const char *rule, int enabled, const json_t *params)
{
	sqlite3_stmt *st = store_stmt(s, SQL_RULE_PUT);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, rule);
	sqlite3_bind_int(st, 2, enabled ? 1 : 0);
	store_bind_json(st, 3, params, "{}");
	sqlite3_bind_int64(st, 4, rm_now_ms());
	return store_exec_stmt(s, st, "alert rule put");
}

static json_t *alert_row(sqlite3_stmt *st)
{
	json_t *a = json_object();
	json_object_set_new(a, "id", store_col_str(st, 0));
	json_object_set_new(a, "rule", store_col_str(st, 1));
	json_object_set_new(a, "severity", store_col_str(st, 2));
	json_object_set_new(a, "host_id", store_col_str(st, 3));
	json_object_set_new(a, "hostname", store_col_str(st, 4));
	json_object_set_new(a, "group", store_col_str(st, 5));
	json_object_set_new(a, "state", store_col_str(st, 6));
	json_object_set_new(a, "title", store_col_str(st, 7));
	json_object_set_new(a, "message", store_col_str(st, 8));
	json_object_set_new(a, "job_id", store_col_str(st, 9));
	json_object_set_new(a, "count", store_col_int(st, 10));
	json_object_set_new(a, "first_at", store_col_time(st, 11));
	json_object_set_new(a, "last_at", store_col_time(st, 12));
	json_object_set_new(a, "first_ms", store_col_int(st, 11));
	json_object_set_new(a, "last_ms", store_col_int(st, 12));
	json_object_set_new(a, "acked_by", store_col_str(st, 13));
	json_object_set_new(a, "acked_at", store_col_time(st, 14));
	json_object_set_new(a, "resolved_by", store_col_str(st, 15));
	json_object_set_new(a, "resolved_at", store_col_time(st, 16));
	json_object_set_new(a, "resolution", store_col_str(st, 17));
	return a;
}

int store_alert_find_active(struct store *s, const char *rule, const char *host_id, const char *grp,
                            json_t **out)
{
	sqlite3_stmt *st = store_stmt(s, SQL_ALERT_ACTIVE);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, rule);
	store_bind_text(st, 2, host_id);
	store_bind_text(st, 3, grp ? grp : "");
	int rc = store_step_row(s, st, "alert active");
	if (!rc)
		*out = alert_row(st);
	store_stmt_done(st);
	return rc;
}

int store_alert_job_seen(struct store *s, const char *rule, const char *job_id, int *seen)
{
	sqlite3_stmt *st = store_stmt(s, SQL_ALERT_JOB_SEEN);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, rule);
	store_bind_text(st, 2, job_id);
	int rc = store_step_row(s, st, "alert job seen");
	store_stmt_done(st);
	*seen = rc == RM_OK;
	return rc == RM_ERR_NOTFOUND ? RM_OK : rc;
}

int store_alert_insert(struct store *s, const struct store_alert_new *a, char id_out[RM_ULID_BUF])
{
	char id[RM_ULID_BUF];
	rm_ulid_new(id);
	sqlite3_stmt *st = store_stmt(s, SQL_ALERT_INSERT);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, a->rule);
	store_bind_text(st, 3, a->severity);
	store_bind_text(st, 4, a->host_id);
	store_bind_text(st, 5, a->grp ? a->grp : "");
	store_bind_text(st, 6, a->title);
	store_bind_text(st, 7, a->message);
	store_bind_text(st, 8, a->job_id);
	sqlite3_bind_int64(st, 9, a->at_ms);
	int rc = store_exec_stmt(s, st, "alert insert");
	if (!rc)
		memcpy(id_out, id, sizeof id);
	return rc;
}

int store_alert_bump(struct store *s, const char *id, const char *job_id, const char *message,
                     int64_t at_ms)
{
	sqlite3_stmt *st = store_stmt(s, SQL_ALERT_BUMP);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, id);
	sqlite3_bind_int64(st, 2, at_ms);
	store_bind_text(st, 3, job_id);
	store_bind_text(st, 4, message);
	return store_exec_stmt(s, st, "alert bump");
}

/* After an UPDATE ... WHERE id AND state: 0 changes = NOTFOUND or CONFLICT. */
static int changed_or_why(struct store *s, int rc, const char *id)
{
	if (rc || sqlite3_changes(s->db) > 0)
		return rc;
	json_t *a = store_alert_get(s, id);
	rc = a ? RM_ERR_CONFLICT : RM_ERR_NOTFOUND;
	json_decref(a);
	return rc;
}

int store_alert_ack(struct store *s, const char *id, const char *by, int64_t at_ms)
{
	sqlite3_stmt *st = store_stmt(s, SQL_ALERT_ACK);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, by);
	sqlite3_bind_int64(st, 3, at_ms);
	return changed_or_why(s, store_exec_stmt(s, st, "alert ack"), id);
}

int store_alert_resolve(struct store *s, const char *id, const char *by, const char *resolution,
                        int64_t at_ms)
{
	sqlite3_stmt *st = store_stmt(s, SQL_ALERT_RESOLVE);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, by);
	sqlite3_bind_int64(st, 3, at_ms);
	store_bind_text(st, 4, resolution);
	return changed_or_why(s, store_exec_stmt(s, st, "alert resolve"), id);
}

json_t *store_alert_get(struct store *s, const char *id)
{
	sqlite3_stmt *st = store_stmt(s, SQL_ALERT_GET);
	if (!st)
		return NULL;
	store_bind_text(st, 1, id);
	json_t *a = NULL;
	if (store_step_row(s, st, "alert get") == RM_OK)
		a = alert_row(st);
	store_stmt_done(st);
	return a;
}

json_t *store_alerts_list(struct store *s, const char *state, const char *host_id, int limit)
{
	sqlite3_stmt *st = store_stmt(s, SQL_ALERTS_LIST);
	if (!st)
		return NULL;
	store_bind_text(st, 1, state);
	store_bind_text(st, 2, host_id);
	sqlite3_bind_int(st, 3, limit < 1 ? 1 : limit > 1000 ? 1000 : limit);
	return store_collect_rows(s, st, alert_row, "alerts list");
}

int store_alerts_count(struct store *s, const char *state, long long *out)
{
	sqlite3_stmt *st = store_stmt(s, SQL_ALERTS_COUNT);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, state);
	int rc = store_step_row(s, st, "alerts count");
	if (!rc)
		*out = sqlite3_column_int64(st, 0);
	store_stmt_done(st);
	return rc;
}

json_t *store_alerts_active_of_rule(struct store *s, const char *rule)
{
	sqlite3_stmt *st = store_stmt(s, SQL_ALERTS_ACTIVE_RULE);
	if (!st)
		return NULL;
	store_bind_text(st, 1, rule);
	return store_collect_rows(s, st, alert_row, "alerts of rule");
}

static json_t *silent_row(sqlite3_stmt *st)
{
	json_t *h = json_object();
	json_object_set_new(h, "id", store_col_str(st, 0));
	json_object_set_new(h, "hostname", store_col_str(st, 1));
	json_object_set_new(h, "last_seen_ms", store_col_int(st, 2));
	json_object_set_new(h, "settings", store_col_json(st, 3, json_object()));
	json_object_set_new(h, "tags", store_col_json(st, 4, json_array()));
	return h;
}

json_t *store_alert_hosts_silent(struct store *s, int64_t before_ms)
{
	sqlite3_stmt *st = store_stmt(s, SQL_ALERT_HOSTS_SILENT);
	if (!st)
		return NULL;
	sqlite3_bind_int64(st, 1, before_ms);
	return store_collect_rows(s, st, silent_row, "silent hosts");
}

static json_t *schedule_row(sqlite3_stmt *st)
{
	json_t *h = json_object();
	json_object_set_new(h, "host_id", store_col_str(st, 0));
	json_object_set_new(h, "hostname", store_col_str(st, 1));
	json_object_set_new(h, "settings", store_col_json(st, 2, json_object()));
	json_object_set_new(h, "cron", store_col_str(st, 3));
	json_object_set_new(h, "created_ms", store_col_int(st, 4));
	json_object_set_new(h, "last_success_ms", store_col_int(st, 5));
	json_object_set_new(h, "utc_offset_s", store_col_int(st, 6));
	json_object_set_new(h, "schedule_id", store_col_str(st, 7));
	return h;
}

json_t *store_alert_schedule_hosts(struct store *s)
{
	sqlite3_stmt *st = store_stmt(s, SQL_ALERT_SCHEDULE_HOSTS);
	if (!st)
		return NULL;
	return store_collect_rows(s, st, schedule_row, "schedule hosts");
}

static json_t *stats_row(sqlite3_stmt *st)
{
	return store_col_json(st, 0, json_object());
}

json_t *store_backup_stats_recent(struct store *s, const char *host_id, const char *grp,
                                  const char *exclude_job_id, int limit)
{
	sqlite3_stmt *st = store_stmt(s, SQL_BACKUP_STATS_RECENT);
	if (!st)
		return NULL;
	store_bind_text(st, 1, host_id);
	store_bind_text(st, 2, grp ? grp : "");
	store_bind_text(st, 3, exclude_job_id ? exclude_job_id : "");
	sqlite3_bind_int(st, 4, limit < 1 ? 1 : limit > 1000 ? 1000 : limit);
	return store_collect_rows(s, st, stats_row, "backup stats recent");
}

static json_t *id_row(sqlite3_stmt *st)
{
	return store_col_str(st, 0);
}

json_t *store_jobs_finished_since(struct store *s, int64_t since_ms, int limit)
{
	sqlite3_stmt *st = store_stmt(s, SQL_JOBS_FINISHED_SINCE);
	if (!st)
		return NULL;
	sqlite3_bind_int64(st, 1, since_ms);
	sqlite3_bind_int(st, 2, limit);
	return store_collect_rows(s, st, id_row, "jobs finished since");
}
