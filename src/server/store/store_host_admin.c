/* C6 host administration: rename, tags, delete (keeping or dropping the history), and the
 * repository password rotation row. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "server/store/store_int.h"

/* Binds host_id to ?1 of statement id and steps it once. */
static int exec_host(struct store *s, enum store_sql id, const char *host_id, const char *what)
{
	sqlite3_stmt *st = store_stmt(s, id);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, host_id);
	return store_exec_stmt(s, st, what);
}

static int exec_changed(struct store *s, sqlite3_stmt *st, const char *what)
{
	int rc = store_exec_stmt(s, st, what);
	if (!rc && sqlite3_changes(s->db) == 0)
		rc = RM_ERR_NOTFOUND;
	return rc;
}

int store_host_edit(struct store *s, const char *host_id, const char *hostname, const json_t *tags)
{
	if (!host_id)
		return RM_ERR_INVAL;
	int rc = store_begin(s);
	if (!rc && hostname) {
		sqlite3_stmt *st = store_stmt(s, SQL_HOST_RENAME);
		rc = st ? RM_OK : RM_ERR_DB;
		if (!rc) {
			store_bind_text(st, 1, host_id);
			store_bind_text(st, 2, hostname);
			rc = exec_changed(s, st, "host rename");
		}
	}
	if (!rc && tags) {
		sqlite3_stmt *st = store_stmt(s, SQL_HOST_TAGS_SET);
		rc = st ? RM_OK : RM_ERR_DB;
		if (!rc) {
			store_bind_text(st, 1, host_id);
			store_bind_json(st, 2, tags, "[]");
			rc = exec_changed(s, st, "host tags");
		}
	}
	if (!rc && !hostname && !tags)
		rc = store_host_exists(s, host_id);
	if (rc) {
		store_rollback(s);
		return rc;
	}
	return store_commit(s);
}

static int cancel_jobs(struct store *s, const char *host_id, int64_t now_ms, json_t *ids)
{
	sqlite3_stmt *st = store_stmt(s, SQL_HOST_JOBS_CANCEL);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, host_id);
	store_bind_text(st, 2, "the host was deleted");
	sqlite3_bind_int64(st, 3, now_ms);
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW)
		if (ids)
			json_array_append_new(ids, json_string(store_col_text(st, 0)));
	int rc = store_map_rc(s, src, "host jobs cancel");
	store_stmt_done(st);
	return rc;
}

static int delete_keep(struct store *s, const char *host_id, const char *actor, int64_t now_ms)
{
	sqlite3_stmt *st = store_stmt(s, SQL_HOST_MARK_DELETED);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, host_id);
	sqlite3_bind_int64(st, 2, now_ms);
	int rc = exec_changed(s, st, "host mark deleted");
	static const enum store_sql gone[] = { SQL_HOST_SCHEDULES_DELETE, SQL_HOST_GROUPS_DELETE,
		                               SQL_HOST_CREDS_DELETE, SQL_HOST_ROTATION_DELETE };
	for (size_t i = 0; !rc && i < sizeof gone / sizeof gone[0]; i++)
		rc = exec_host(s, gone[i], host_id, "host delete (keep history)");
	if (!rc) {
		st = store_stmt(s, SQL_HOST_ALERTS_RESOLVE);
		rc = st ? RM_OK : RM_ERR_DB;
		if (!rc) {
			store_bind_text(st, 1, host_id);
			store_bind_text(st, 2, actor ? actor : "system");
			sqlite3_bind_int64(st, 3, now_ms);
			rc = store_exec_stmt(s, st, "host alerts resolve");
		}
	}
	return rc;
}

int store_host_delete(struct store *s, const char *host_id, int keep_history, const char *actor,
                      int64_t now_ms, json_t *cancelled_ids)
{
	if (!host_id)
		return RM_ERR_INVAL;
	json_t *h = store_host_get(s, host_id);
	int deleted = h && !json_is_null(json_object_get(h, "deleted_at"));
	json_decref(h);
	if (!h)
		return RM_ERR_NOTFOUND;
	int rc = store_begin(s);
	if (!rc)
		rc = cancel_jobs(s, host_id, now_ms, cancelled_ids);
	if (!rc && keep_history) {
		rc = deleted ? RM_ERR_NOTFOUND : delete_keep(s, host_id, actor, now_ms);
	} else if (!rc) {
		/* ON DELETE CASCADE: jobs (and their logs), snapshots, repo history, groups,
		 * schedules, credentials, alerts, the rotation; enrollment tokens keep their row */
		sqlite3_stmt *st = store_stmt(s, SQL_HOST_DELETE);
		rc = st ? RM_OK : RM_ERR_DB;
		if (!rc) {
			store_bind_text(st, 1, host_id);
			rc = exec_changed(s, st, "host delete");
		}
	}
	if (rc) {
		store_rollback(s);
		return rc;
	}
	return store_commit(s);
}

json_t *store_hosts_deleted(struct store *s)
{
	/* the projection of store_hosts_list (store_hosts.c), through store_host_get per id
	 * would cost a query each: read the rows here */
	sqlite3_stmt *st = store_stmt(s, SQL_HOSTS_DELETED);
	if (!st)
		return NULL;
	json_t *ids = json_array();
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(ids, json_string(store_col_text(st, 0)));
	int rc = store_map_rc(s, src, "hosts deleted");
	store_stmt_done(st);
	json_t *hosts = json_array();
	size_t i;
	json_t *v;
	json_array_foreach (ids, i, v) {
		json_t *h = rc ? NULL : store_host_get(s, json_string_value(v));
		if (h)
			json_array_append_new(hosts, h);
	}
	json_decref(ids);
	if (rc) {
		json_decref(hosts);
		return NULL;
	}
	return json_pack("{s:o}", "hosts", hosts);
}

/* ------------------------------------------------------------------ rotation */

static char *col_dup(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? NULL : rm_xstrdup(store_col_text(st, i));
}

int store_rotation_get(struct store *s, const char *host_id, struct store_rotation *out)
{
	memset(out, 0, sizeof *out);
	sqlite3_stmt *st = store_stmt(s, SQL_ROTATION_GET);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, host_id);
	int rc = store_step_row(s, st, "rotation get");
	if (!rc) {
		rm_strlcpy(out->state, store_col_text(st, 0), sizeof out->state);
		out->error = col_dup(st, 1);
		rm_strlcpy(out->job_id, store_col_text(st, 2), sizeof out->job_id);
		out->new_ct = col_dup(st, 3);
		out->old_ct = col_dup(st, 4);
		rm_strlcpy(out->old_key_id, store_col_text(st, 5), sizeof out->old_key_id);
		rm_strlcpy(out->new_key_id, store_col_text(st, 6), sizeof out->new_key_id);
		rm_strlcpy(out->started_by, store_col_text(st, 7), sizeof out->started_by);
		out->started_ms = sqlite3_column_int64(st, 8);
		out->updated_ms = sqlite3_column_int64(st, 9);
	}
	store_stmt_done(st);
	return rc;
}

static void bind_opt(sqlite3_stmt *st, int i, const char *v)
{
	if (v && v[0])
		store_bind_text(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

int store_rotation_put(struct store *s, const char *host_id, const struct store_rotation *r)
{
	sqlite3_stmt *st = store_stmt(s, SQL_ROTATION_PUT);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, host_id);
	store_bind_text(st, 2, r->state);
	bind_opt(st, 3, r->error);
	bind_opt(st, 4, r->job_id);
	bind_opt(st, 5, r->new_ct);
	bind_opt(st, 6, r->old_ct);
	bind_opt(st, 7, r->old_key_id);
	bind_opt(st, 8, r->new_key_id);
	bind_opt(st, 9, r->started_by);
	sqlite3_bind_int64(st, 10, r->started_ms);
	sqlite3_bind_int64(st, 11, r->updated_ms);
	return store_exec_stmt(s, st, "rotation put");
}

void store_rotation_cleanup(struct store_rotation *r)
{
	if (!r)
		return;
	free(r->error);
	free(r->new_ct);
	free(r->old_ct);
	r->error = r->new_ct = r->old_ct = NULL;
}
