/* Hosts, their credentials, their snapshot projection and the fleet summary. */
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/rmtime.h"
#include "common/ulid.h"
#include "server/store/store_int.h"

int store_host_create(struct store *s, const char *hostname, const json_t *tags,
                      const json_t *initial_paths, const char *bearer_hash,
                      char id_out[RM_ULID_BUF])
{
	if (!hostname || !hostname[0] || !bearer_hash || !bearer_hash[0])
		return RM_ERR_INVAL;
	char id[RM_ULID_LEN + 1];
	rm_ulid_new(id);
	sqlite3_stmt *st = store_stmt(s, SQL_HOST_INSERT);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, hostname);
	store_bind_json(st, 3, tags, "[]");
	store_bind_json(st, 4, initial_paths, "[]");
	store_bind_text(st, 5, bearer_hash);
	sqlite3_bind_int64(st, 6, rm_now_ms());
	int rc = store_exec_stmt(s, st, "host create");
	if (!rc)
		memcpy(id_out, id, sizeof(id));
	return rc;
}

/* store_int.h: a one-column text lookup keyed by one text parameter. */
int store_lookup_text(struct store *s, enum store_sql id, const char *key, char *out, size_t outsz,
                      const char *what)
{
	if (!key)
		return RM_ERR_NOTFOUND;
	sqlite3_stmt *st = store_stmt(s, id);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, key);
	int rc = store_step_row(s, st, what);
	if (!rc && out && rm_strlcpy(out, store_col_text(st, 0), outsz))
		rc = RM_ERR_DB; /* longer than the caller's buffer: not what the column holds */
	store_stmt_done(st);
	return rc;
}

int store_host_by_bearer(struct store *s, const char *bearer_hash, char id_out[RM_ULID_BUF])
{
	return store_lookup_text(s, SQL_HOST_BY_BEARER, bearer_hash, id_out, 27, "host by bearer");
}

int store_host_exists(struct store *s, const char *host_id)
{
	return store_lookup_text(s, SQL_HOST_EXISTS, host_id, NULL, 0, "host exists");
}

/* Steps an UPDATE and maps "no row changed" to NOTFOUND. */
static int update_one(struct store *s, sqlite3_stmt *st, const char *what)
{
	int rc = store_exec_stmt(s, st, what);
	if (!rc && sqlite3_changes(s->db) == 0)
		rc = RM_ERR_NOTFOUND;
	return rc;
}

int store_host_hello(struct store *s, const char *host_id, const char *hostname, const char *os,
                     const char *arch, const char *agent_version, const char *restic_version,
                     int64_t now_ms)
{
	if (!host_id)
		return RM_ERR_INVAL;
	sqlite3_stmt *st = store_stmt(s, SQL_HOST_HELLO);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, host_id);
	store_bind_text(st, 2, hostname);
	store_bind_text(st, 3, os);
	store_bind_text(st, 4, arch);
	store_bind_text(st, 5, agent_version);
	store_bind_text(st, 6, restic_version);
	sqlite3_bind_int64(st, 7, now_ms);
	return update_one(s, st, "host hello");
}

int store_host_seen(struct store *s, const char *host_id, int64_t now_ms)
{
	sqlite3_stmt *st = store_stmt(s, SQL_HOST_SEEN);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, host_id);
	sqlite3_bind_int64(st, 2, now_ms);
	return update_one(s, st, "host seen");
}

int store_host_set_status(struct store *s, const char *host_id, const char *status, int64_t now_ms)
{
	sqlite3_stmt *st;
	if (status && strcmp(status, "online") == 0) {
		st = store_stmt(s, SQL_HOST_SET_ONLINE);
		if (!st)
			return RM_ERR_DB;
		sqlite3_bind_int64(st, 2, now_ms);
	} else if (status && strcmp(status, "offline") == 0) {
		/* last_seen_at keeps the time of the last message: the "agent lost" timer runs
		 * from there. */
		st = store_stmt(s, SQL_HOST_SET_OFFLINE);
		if (!st)
			return RM_ERR_DB;
	} else {
		return RM_ERR_INVAL;
	}
	store_bind_text(st, 1, host_id);
	return update_one(s, st, "host set status");
}

/* Steps an UPDATE ... RETURNING id, appending each id to out_ids (may be NULL). */
static int collect_ids(struct store *s, sqlite3_stmt *st, json_t *out_ids, const char *what)
{
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW)
		if (out_ids)
			json_array_append_new(out_ids, json_string(store_col_text(st, 0)));
	int rc = store_map_rc(s, src, what);
	store_stmt_done(st);
	return rc;
}

int store_hosts_mark_stale_offline(struct store *s, int64_t before_ms, json_t *out_ids)
{
	sqlite3_stmt *st = store_stmt(s, SQL_HOSTS_STALE);
	if (!st)
		return RM_ERR_DB;
	sqlite3_bind_int64(st, 1, before_ms);
	return collect_ids(s, st, out_ids, "hosts stale offline");
}

int store_host_set_repo_status(struct store *s, const char *host_id, const char *repo_status,
                               const char *error)
{
	if (!repo_status ||
	    (strcmp(repo_status, "unknown") != 0 && strcmp(repo_status, "ready") != 0 &&
	     strcmp(repo_status, "init_failed") != 0))
		return RM_ERR_INVAL;
	sqlite3_stmt *st = store_stmt(s, SQL_HOST_SET_REPO_STATUS);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, host_id);
	store_bind_text(st, 2, repo_status);
	store_bind_text(st, 3, error);
	return update_one(s, st, "host set repo status");
}

int store_host_repo_status(struct store *s, const char *host_id, char out[16])
{
	return store_lookup_text(s, SQL_HOST_REPO_STATUS, host_id, out, 16, "host repo status");
}

int store_host_set_repo_stats(struct store *s, const char *host_id, long long size_bytes,
                              long long snapshot_count)
{
	sqlite3_stmt *st = store_stmt(s, SQL_HOST_SET_REPO_STATS);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, host_id);
	if (size_bytes < 0)
		sqlite3_bind_null(st, 2);
	else
		sqlite3_bind_int64(st, 2, size_bytes);
	sqlite3_bind_int64(st, 3, snapshot_count < 0 ? 0 : snapshot_count);
	return update_one(s, st, "host set repo stats");
}

/* One row of HOST_COLS -> the dashboard projection (store_int.h). */
json_t *store_host_row(sqlite3_stmt *st)
{
	json_t *h = json_object();
	json_object_set_new(h, "id", store_col_str(st, 0));
	json_object_set_new(h, "hostname", store_col_str(st, 1));
	json_object_set_new(h, "tags", store_col_json(st, 2, json_array()));
	json_object_set_new(h, "os", store_col_str(st, 3));
	json_object_set_new(h, "arch", store_col_str(st, 4));
	json_object_set_new(h, "agent_version", store_col_str(st, 5));
	json_object_set_new(h, "restic_version", store_col_str(st, 6));
	json_object_set_new(h, "status", store_col_str(st, 7));
	json_object_set_new(h, "last_seen_at", store_col_time(st, 8));
	json_object_set_new(h, "repo_status", store_col_str(st, 9));
	json_object_set_new(h, "repo_error", store_col_str(st, 10));
	json_object_set_new(h, "repo_size_bytes", store_col_int(st, 11));
	json_object_set_new(h, "snapshot_count", json_integer(sqlite3_column_int64(st, 12)));
	json_object_set_new(h, "initial_paths", store_col_json(st, 13, json_array()));
	json_object_set_new(h, "created_at", store_col_time(st, 14));
	if (sqlite3_column_type(st, 15) != SQLITE_NULL)
		json_object_set_new(h, "last_backup",
		                    json_pack("{s:o,s:o,s:o}", "job_id", store_col_str(st, 15),
		                              "status", store_col_str(st, 16), "finished_at",
		                              store_col_time(st, 17)));
	else
		json_object_set_new(h, "last_backup", json_null());
	if (sqlite3_column_type(st, 18) != SQLITE_NULL)
		json_object_set_new(h, "running_job",
		                    json_pack("{s:o,s:o,s:o}", "id", store_col_str(st, 18), "kind",
		                              store_col_str(st, 19), "status",
		                              store_col_str(st, 20)));
	else
		json_object_set_new(h, "running_job", json_null());
	json_object_set_new(h, "reported_hostname", store_col_str(st, 21));
	/* C2 */
	long long ver = sqlite3_column_int64(st, 22), acked = sqlite3_column_int64(st, 23);
	json_object_set_new(h, "schedule_version", json_integer(ver));
	json_object_set_new(h, "schedule_acked_version", json_integer(acked));
	json_object_set_new(h, "schedule_in_sync", json_boolean(acked >= ver));
	json_object_set_new(h, "timezone", store_col_str(st, 24));
	json_object_set_new(h, "settings", store_col_json(st, 25, json_object()));
	json_object_set_new(h, "next_run", store_col_time(st, 26));
	json_object_set_new(h, "utc_offset_s", store_col_int(st, 27));
	/* C3: the agent's uid (null = not reported) and "last proven restorable" */
	json_object_set_new(h, "agent_uid", store_col_int(st, 28));
	json_object_set_new(h, "last_drill_ok_at", store_col_time(st, 29));
	const char *ld = (const char *)sqlite3_column_text(st, 30);
	long long ld_ms = 0;
	char ld_status[16] = "";
	if (ld && sscanf(ld, "%15s %lld", ld_status, &ld_ms) == 2) {
		char ts[RM_TIME_STRLEN];
		rm_time_fmt(ld_ms, ts);
		json_object_set_new(h, "last_drill",
		                    json_pack("{s:s,s:s}", "status", ld_status, "finished_at", ts));
	} else
		json_object_set_new(h, "last_drill", json_null());
	json_object_set_new(h, "last_drill_created_at", store_col_time(st, 31));
	/* C6: the operator's name is the name; the agent's own is shown beside it */
	const char *name = store_col_text(st, 1), *rep = (const char *)sqlite3_column_text(st, 21);
	json_object_set_new(h, "hostname_mismatch", json_boolean(rep && strcmp(rep, name) != 0));
	const char *mode = rmj_str(json_object_get(h, "settings"), "mode");
	json_object_set_new(
	    h, "mode",
	    json_string(mode && !strcmp(mode, "intermittent") ? "intermittent" : "always_on"));
	json_object_set_new(h, "deleted_at", store_col_time(st, 32));
	/* C6 agent update (agent_updates, one row per host): in the row so that the per-host
	 * text cache of GET /api/hosts (store_hosts_text.c) sees it change */
	if (sqlite3_column_type(st, 33) != SQLITE_NULL)
		json_object_set_new(h, "update",
		                    json_pack("{s:o,s:o,s:o,s:o}", "state", store_col_str(st, 33),
		                              "target_version", store_col_str(st, 34), "error",
		                              store_col_str(st, 35), "at", store_col_int(st, 36)));
	else
		json_object_set_new(h, "update", json_null());
	return h;
}

json_t *store_host_get(struct store *s, const char *host_id)
{
	if (!host_id)
		return NULL;
	sqlite3_stmt *st = store_stmt(s, SQL_HOST_GET);
	if (!st)
		return NULL;
	store_bind_text(st, 1, host_id);
	json_t *h = NULL;
	int src = sqlite3_step(st);
	if (src == SQLITE_ROW)
		h = store_host_row(st);
	else
		store_map_rc(s, src, "host get");
	store_stmt_done(st);
	return h;
}

json_t *store_hosts_list(struct store *s)
{
	sqlite3_stmt *st = store_stmt(s, SQL_HOSTS_LIST);
	if (!st)
		return NULL;
	json_t *hosts = json_array();
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(hosts, store_host_row(st));
	int rc = store_map_rc(s, src, "hosts list");
	store_stmt_done(st);
	if (rc) {
		json_decref(hosts);
		return NULL;
	}
	return json_pack("{s:o}", "hosts", hosts);
}

json_t *store_hosts_first(struct store *s, int limit)
{
	sqlite3_stmt *st = store_stmt(s, SQL_HOSTS_COUNT);
	if (!st)
		return NULL;
	int src = sqlite3_step(st);
	long long total = src == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	int rc = store_map_rc(s, src, "hosts count");
	store_stmt_done(st);
	if (rc || !(st = store_stmt(s, SQL_HOSTS_LIST_FIRST)))
		return NULL;
	sqlite3_bind_int(st, 1, limit);
	json_t *hosts = json_array();
	while ((src = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(hosts, store_host_row(st));
	rc = store_map_rc(s, src, "hosts first");
	store_stmt_done(st);
	if (rc) {
		json_decref(hosts);
		return NULL;
	}
	return json_pack("{s:o,s:I}", "hosts", hosts, "total", (json_int_t)total);
}

int store_host_set_agent_uid(struct store *s, const char *host_id, long long uid)
{
	sqlite3_stmt *st = store_stmt(s, SQL_HOST_SET_AGENT_UID);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, host_id);
	if (uid < 0)
		sqlite3_bind_null(st, 2);
	else
		sqlite3_bind_int64(st, 2, uid);
	return update_one(s, st, "host set agent uid");
}

json_t *store_drill_candidates(struct store *s)
{
	sqlite3_stmt *st = store_stmt(s, SQL_DRILL_CANDIDATES);
	if (!st)
		return NULL;
	json_t *out = json_array();
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(
		    out, json_pack("{s:o,s:o,s:I,s:I}", "id", store_col_str(st, 0), "settings",
		                   store_col_json(st, 1, json_object()), "snapshot_count",
		                   (json_int_t)sqlite3_column_int64(st, 2), "last_drill_created_ms",
		                   (json_int_t)sqlite3_column_int64(st, 3)));
	int rc = store_map_rc(s, src, "drill candidates");
	store_stmt_done(st);
	if (rc) {
		json_decref(out);
		return NULL;
	}
	return out;
}

json_t *store_fleet_summary(struct store *s, int64_t now_ms)
{
	sqlite3_stmt *st = store_stmt(s, SQL_FLEET_SUMMARY);
	if (!st)
		return NULL;
	sqlite3_bind_int64(st, 1, now_ms - 24LL * 3600 * 1000);
	json_t *o = NULL;
	int src = sqlite3_step(st);
	if (src == SQLITE_ROW) {
		o = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "hosts_total",
		              (json_int_t)sqlite3_column_int64(st, 0), "hosts_online",
		              (json_int_t)sqlite3_column_int64(st, 1), "jobs_24h_succeeded",
		              (json_int_t)sqlite3_column_int64(st, 2), "jobs_24h_failed",
		              (json_int_t)sqlite3_column_int64(st, 3), "jobs_running",
		              (json_int_t)sqlite3_column_int64(st, 4), "repo_bytes_total",
		              (json_int_t)sqlite3_column_int64(st, 5), "snapshots_total",
		              (json_int_t)sqlite3_column_int64(st, 6));
	} else {
		store_map_rc(s, src, "fleet summary");
	}
	store_stmt_done(st);
	return o;
}

/* ------------------------------------------------------------------ credentials */

static int valid_slot(const char *slot)
{
	return slot && (strcmp(slot, "repo") == 0 || strcmp(slot, "admin") == 0);
}

int store_cred_put(struct store *s, const char *host_id, const char *slot, const char *ct)
{
	if (!host_id || !valid_slot(slot) || !ct)
		return RM_ERR_INVAL;
	sqlite3_stmt *st = store_stmt(s, SQL_CRED_PUT);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, host_id);
	store_bind_text(st, 2, slot);
	store_bind_text(st, 3, ct);
	sqlite3_bind_int64(st, 4, rm_now_ms());
	return store_exec_stmt(s, st, "credential put");
}

int store_cred_get(struct store *s, const char *host_id, const char *slot, char **ct_out)
{
	if (!host_id || !valid_slot(slot))
		return RM_ERR_INVAL;
	sqlite3_stmt *st = store_stmt(s, SQL_CRED_GET);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, host_id);
	store_bind_text(st, 2, slot);
	int rc = store_step_row(s, st, "credential get");
	if (!rc)
		*ct_out = rm_xstrdup(store_col_text(st, 0));
	store_stmt_done(st);
	return rc;
}

/* ------------------------------------------------------------------ snapshots */

static void bind_opt_int(sqlite3_stmt *st, int i, const json_t *v)
{
	if (json_is_integer(v))
		sqlite3_bind_int64(st, i, json_integer_value(v));
	else if (json_is_real(v))
		sqlite3_bind_int64(st, i, (sqlite3_int64)json_real_value(v));
	else
		sqlite3_bind_null(st, i);
}

/* Inserts one reported snapshot; malformed entries are skipped (logged). */
static int snapshot_insert(struct store *s, const char *host_id, const json_t *snap)
{
	const char *id = rmj_str(snap, "id");
	const char *short_id = rmj_str(snap, "short_id");
	const char *time = rmj_str(snap, "time");
	int64_t t;
	if (!id || !id[0] || !time || rm_time_parse(time, &t) != RM_OK) {
		RM_WARN("skipping malformed snapshot", "host_id", host_id, "snapshot_id", id);
		return RM_OK;
	}
	sqlite3_stmt *st = store_stmt(s, SQL_SNAP_INSERT);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, host_id);
	store_bind_text(st, 2, id);
	store_bind_text(st, 3, short_id && short_id[0] ? short_id : id);
	sqlite3_bind_int64(st, 4, t);
	store_bind_text(st, 5, rmj_str(snap, "hostname"));
	const json_t *paths = json_object_get(snap, "paths");
	const json_t *tags = json_object_get(snap, "tags");
	store_bind_json(st, 6, json_is_array(paths) ? paths : NULL, "[]");
	store_bind_json(st, 7, json_is_array(tags) ? tags : NULL, "[]");
	bind_opt_int(st, 8, json_object_get(snap, "size_bytes"));
	bind_opt_int(st, 9, json_object_get(snap, "file_count"));
	return store_exec_stmt(s, st, "snapshot insert");
}

int store_snapshots_replace(struct store *s, const char *host_id, const json_t *snapshots,
                            int64_t now_ms)
{
	if (!host_id || !json_is_array(snapshots))
		return RM_ERR_INVAL;
	int rc = store_host_exists(s, host_id);
	if (rc)
		return rc;
	rc = store_tx_begin(s);
	if (rc)
		return rc;
	sqlite3_stmt *st = store_stmt(s, SQL_SNAP_DELETE_HOST);
	if (!st)
		rc = RM_ERR_DB;
	if (!rc) {
		store_bind_text(st, 1, host_id);
		rc = store_exec_stmt(s, st, "snapshots delete");
	}
	size_t i;
	const json_t *snap;
	json_array_foreach (snapshots, i, snap) {
		if (rc)
			break;
		rc = snapshot_insert(s, host_id, snap);
	}
	if (!rc) {
		/* snapshot_count follows the report (stats.report may refine it later) */
		st = store_stmt(s, SQL_SNAP_REFRESHED);
		if (!st)
			rc = RM_ERR_DB;
		if (!rc) {
			store_bind_text(st, 1, host_id);
			sqlite3_bind_int64(st, 2, now_ms);
			rc = store_exec_stmt(s, st, "snapshots refreshed");
		}
	}
	return store_tx_end(s, rc);
}

/* size_bytes / file_count from the snapshot's own summary (restic 0.17+), else from the
 * stats of the backup job that created it (column 8; every version); size_source says
 * which ("snapshot" | "job" | null when neither knows). */
static void snapshot_sizes(sqlite3_stmt *st, json_t *o)
{
	json_t *size = store_col_int(st, 6), *files = store_col_int(st, 7);
	const char *src = json_is_null(size) ? NULL : "snapshot";
	json_t *job = store_col_json(st, 8, json_null());
	json_t *js = json_object_get(job, "total_bytes_processed");
	json_t *jf = json_object_get(job, "total_files_processed");
	if (json_is_null(size) && json_is_integer(js)) {
		json_decref(size);
		size = json_incref(js);
		src = "job";
	}
	if (json_is_null(files) && json_is_integer(jf)) {
		json_decref(files);
		files = json_incref(jf);
	}
	json_decref(job);
	json_object_set_new(o, "size_bytes", size);
	json_object_set_new(o, "file_count", files);
	json_object_set_new(o, "size_source", rmj_str_or_null(src));
}

json_t *store_snapshots_list(struct store *s, const char *host_id)
{
	if (!host_id)
		return NULL;
	json_t *refreshed = NULL;
	sqlite3_stmt *st = store_stmt(s, SQL_SNAP_REFRESHED_AT);
	if (!st)
		return NULL;
	store_bind_text(st, 1, host_id);
	int src = sqlite3_step(st);
	if (src == SQLITE_ROW)
		refreshed = store_col_time(st, 0);
	else if (src != SQLITE_DONE)
		store_map_rc(s, src, "snapshots refreshed_at");
	store_stmt_done(st);
	if (src != SQLITE_ROW && src != SQLITE_DONE)
		return NULL;
	if (!refreshed)
		refreshed = json_null();

	st = store_stmt(s, SQL_SNAP_LIST);
	if (!st) {
		json_decref(refreshed);
		return NULL;
	}
	store_bind_text(st, 1, host_id);
	json_t *list = json_array();
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *o = json_object();
		json_object_set_new(o, "id", store_col_str(st, 0));
		json_object_set_new(o, "short_id", store_col_str(st, 1));
		json_object_set_new(o, "time", store_col_time(st, 2));
		json_object_set_new(o, "hostname", store_col_str(st, 3));
		json_object_set_new(o, "paths", store_col_json(st, 4, json_array()));
		json_object_set_new(o, "tags", store_col_json(st, 5, json_array()));
		snapshot_sizes(st, o);
		json_array_append_new(list, o);
	}
	int rc = store_map_rc(s, src, "snapshots list");
	store_stmt_done(st);
	if (rc) {
		json_decref(list);
		json_decref(refreshed);
		return NULL;
	}
	return json_pack("{s:o,s:o}", "snapshots", list, "refreshed_at", refreshed);
}
