/* C2 repository care: the admin credential slot's removal, maintenance cadences, the
 * latest lock list per host, the last maintenance job of a kind, lock peers. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/rmtime.h"
#include "server/store/store.h"
#include "server/store/store_int.h"

int store_cred_delete(struct store *s, const char *host_id, const char *slot)
{
	sqlite3_stmt *st = store_stmt(s, SQL_CRED_DEL);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, host_id);
	store_bind_text(st, 2, slot);
	int rc = store_exec_stmt(s, st, "credential delete");
	if (!rc && sqlite3_changes(s->db) == 0)
		rc = RM_ERR_NOTFOUND;
	return rc;
}

json_t *store_host_maintenance(struct store *s, const char *host_id)
{
	sqlite3_stmt *st = store_stmt(s, SQL_HOST_MAINT_GET);
	if (!st)
		return NULL;
	store_bind_text(st, 1, host_id);
	json_t *o = NULL;
	if (store_step_row(s, st, "host maintenance") == RM_OK)
		o = store_col_json(st, 0, json_object());
	store_stmt_done(st);
	if (o && !json_is_object(o)) {
		json_decref(o);
		o = json_object();
	}
	return o;
}

int store_host_maintenance_set(struct store *s, const char *host_id, const json_t *m)
{
	sqlite3_stmt *st = store_stmt(s, SQL_HOST_MAINT_SET);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, host_id);
	store_bind_json(st, 2, m, "{}");
	int rc = store_exec_stmt(s, st, "host maintenance set");
	if (!rc && sqlite3_changes(s->db) == 0)
		rc = RM_ERR_NOTFOUND;
	return rc;
}

int store_host_locks_set(struct store *s, const char *host_id, const json_t *locks, int64_t at_ms)
{
	sqlite3_stmt *st = store_stmt(s, SQL_HOST_LOCKS_SET);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, host_id);
	store_bind_json(st, 2, locks, "[]");
	sqlite3_bind_int64(st, 3, at_ms);
	return store_exec_stmt(s, st, "host locks set");
}

json_t *store_host_locks(struct store *s, const char *host_id)
{
	sqlite3_stmt *st = store_stmt(s, SQL_HOST_LOCKS_GET);
	if (!st)
		return NULL;
	store_bind_text(st, 1, host_id);
	json_t *o = NULL;
	if (store_step_row(s, st, "host locks") == RM_OK)
		o = json_pack("{s:o,s:o}", "locks", store_col_json(st, 0, json_null()),
		              "reported_at", store_col_time(st, 1));
	store_stmt_done(st);
	return o;
}

json_t *store_job_last_of_kind(struct store *s, const char *host_id, const char *kind)
{
	sqlite3_stmt *st = store_stmt(s, SQL_JOB_LAST_KIND);
	if (!st)
		return NULL;
	store_bind_text(st, 1, host_id);
	store_bind_text(st, 2, kind);
	json_t *o = json_null();
	if (store_step_row(s, st, "last job of kind") == RM_OK)
		o = json_pack("{s:o,s:o,s:o,s:o,s:o,s:I}", "job_id", store_col_str(st, 0), "status",
		              store_col_str(st, 1), "finished_at", store_col_time(st, 2), "stats",
		              store_col_json(st, 3, json_null()), "created_at",
		              store_col_time(st, 4), "created_ms",
		              (json_int_t)sqlite3_column_int64(st, 4));
	store_stmt_done(st);
	return o;
}

json_t *store_hosts_with_cred(struct store *s, const char *slot)
{
	sqlite3_stmt *st = store_stmt(s, SQL_HOSTS_WITH_CRED);
	if (!st)
		return NULL;
	store_bind_text(st, 1, slot);
	json_t *a = json_array();
	while (store_step_row(s, st, "hosts with credential") == RM_OK)
		json_array_append_new(a, store_col_str(st, 0));
	store_stmt_done(st);
	return a;
}

json_t *store_lock_peers(struct store *s, const char *host_id)
{
	sqlite3_stmt *st = store_stmt(s, SQL_HOSTS_ONLINE_PEERS);
	if (!st)
		return NULL;
	store_bind_text(st, 1, host_id);
	json_t *o = json_object();
	while (store_step_row(s, st, "lock peers") == RM_OK) {
		const char *h = store_col_text(st, 0);
		if (h && *h && strlen(h) < 256)
			json_object_set_new(
			    o, h, json_string(sqlite3_column_int(st, 1) ? "busy" : "idle"));
	}
	store_stmt_done(st);
	return o;
}
