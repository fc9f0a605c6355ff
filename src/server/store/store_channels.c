/* C4 delivery channels, the delivery log, and the audit log's filtered queries. */
#include <sqlite3.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/rmtime.h"
#include "common/ulid.h"
#include "server/store/store.h"
#include "server/store/store_int.h"

static void bind_channel(sqlite3_stmt *st, const struct store_channel *c)
{
	store_bind_text(st, 1, c->id);
	store_bind_text(st, 2, c->name);
	sqlite3_bind_int64(st, 9, rm_now_ms());
}

int store_channel_insert(struct store *s, const struct store_channel *c)
{
	sqlite3_stmt *st = store_stmt(s, SQL_CHANNEL_INSERT);
	if (!st)
		return RM_ERR_DB;
	bind_channel(st, c);
	store_bind_text(st, 3, c->kind);
	sqlite3_bind_int(st, 4, c->enabled ? 1 : 0);
	store_bind_json(st, 5, c->config, "{}");
	store_bind_text(st, 6, c->secret_ct);
	store_bind_text(st, 7, c->min_severity);
	store_bind_json(st, 8, c->host_tags, "[]");
	return store_exec_stmt(s, st, "channel insert");
}

int store_channel_update(struct store *s, const struct store_channel *c)
{
	sqlite3_stmt *st = store_stmt(s, SQL_CHANNEL_UPDATE);
	if (!st)
		return RM_ERR_DB;
	bind_channel(st, c);
	sqlite3_bind_int(st, 3, c->enabled ? 1 : 0);
	store_bind_json(st, 4, c->config, "{}");
	store_bind_text(st, 5, c->secret_ct);
	sqlite3_bind_int(st, 6, c->set_secret ? 1 : 0);
	store_bind_text(st, 7, c->min_severity);
	store_bind_json(st, 8, c->host_tags, "[]");
	int rc = store_exec_stmt(s, st, "channel update");
	if (!rc && sqlite3_changes(s->db) == 0)
		rc = RM_ERR_NOTFOUND;
	return rc;
}

int store_channel_delete(struct store *s, const char *id)
{
	sqlite3_stmt *st = store_stmt(s, SQL_CHANNEL_DELETE);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, id);
	int rc = store_exec_stmt(s, st, "channel delete");
	if (!rc && sqlite3_changes(s->db) == 0)
		rc = RM_ERR_NOTFOUND;
	return rc;
}

static json_t *channel_row(sqlite3_stmt *st)
{
	json_t *c = json_object();
	json_object_set_new(c, "id", store_col_str(st, 0));
	json_object_set_new(c, "name", store_col_str(st, 1));
	json_object_set_new(c, "kind", store_col_str(st, 2));
	json_object_set_new(c, "enabled", json_boolean(sqlite3_column_int(st, 3)));
	json_object_set_new(c, "config", store_col_json(st, 4, json_object()));
	json_object_set_new(c, "secret_ct", store_col_str(st, 5));
	json_object_set_new(c, "min_severity", store_col_str(st, 6));
	json_object_set_new(c, "host_tags", store_col_json(st, 7, json_array()));
	json_object_set_new(c, "created_at", store_col_time(st, 8));
	json_object_set_new(c, "updated_at", store_col_time(st, 9));
	return c;
}

json_t *store_channel_get(struct store *s, const char *id)
{
	sqlite3_stmt *st = store_stmt(s, SQL_CHANNEL_GET);
	if (!st)
		return NULL;
	store_bind_text(st, 1, id);
	json_t *c = NULL;
	if (store_step_row(s, st, "channel get") == RM_OK)
		c = channel_row(st);
	store_stmt_done(st);
	return c;
}

json_t *store_channels_list(struct store *s)
{
	sqlite3_stmt *st = store_stmt(s, SQL_CHANNELS_LIST);
	if (!st)
		return NULL;
	return store_collect_rows(s, st, channel_row, "channels list");
}

int store_delivery_insert(struct store *s, const char *channel_id, const char *alert_id,
                          const char *event, const char *status, const json_t *payload,
                          int64_t next_ms, char id_out[RM_ULID_BUF])
{
	char id[RM_ULID_BUF];
	rm_ulid_new(id);
	sqlite3_stmt *st = store_stmt(s, SQL_DELIVERY_INSERT);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, channel_id);
	store_bind_text(st, 3, alert_id);
	store_bind_text(st, 4, event);
	store_bind_text(st, 5, status);
	store_bind_json(st, 6, payload, "{}");
	sqlite3_bind_int64(st, 7, next_ms);
	sqlite3_bind_int64(st, 8, rm_now_ms());
	int rc = store_exec_stmt(s, st, "delivery insert");
	if (!rc && id_out)
		memcpy(id_out, id, sizeof id);
	return rc;
}

static json_t *delivery_row(sqlite3_stmt *st)
{
	json_t *d = json_object();
	json_object_set_new(d, "id", store_col_str(st, 0));
	json_object_set_new(d, "channel_id", store_col_str(st, 1));
	json_object_set_new(d, "alert_id", store_col_str(st, 2));
	json_object_set_new(d, "event", store_col_str(st, 3));
	json_object_set_new(d, "status", store_col_str(st, 4));
	json_object_set_new(d, "attempts", store_col_int(st, 5));
	json_object_set_new(d, "last_error", store_col_str(st, 6));
	json_object_set_new(d, "payload", store_col_json(st, 7, json_object()));
	json_object_set_new(d, "next_at", store_col_time(st, 8));
	json_object_set_new(d, "created_at", store_col_time(st, 9));
	json_object_set_new(d, "updated_at", store_col_time(st, 10));
	json_object_set_new(d, "created_ms", store_col_int(st, 9));
	return d;
}

json_t *store_deliveries_due(struct store *s, int64_t now_ms, int limit, const json_t *skip)
{
	sqlite3_stmt *st = store_stmt(s, SQL_DELIVERIES_DUE);
	if (!st)
		return NULL;
	sqlite3_bind_int64(st, 1, now_ms);
	sqlite3_bind_int(st, 2, limit);
	store_bind_json(st, 3, skip, "[]");
	return store_collect_rows(s, st, delivery_row, "deliveries due");
}

int store_delivery_set(struct store *s, const char *id, const char *status, int attempts,
                       const char *last_error, int64_t next_ms)
{
	sqlite3_stmt *st = store_stmt(s, SQL_DELIVERY_SET);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, status);
	sqlite3_bind_int(st, 3, attempts);
	store_bind_text(st, 4, last_error);
	if (next_ms >= 0)
		sqlite3_bind_int64(st, 5, next_ms);
	sqlite3_bind_int64(st, 6, rm_now_ms());
	return store_exec_stmt(s, st, "delivery set");
}

int store_deliveries_reset_sending(struct store *s, int64_t now_ms)
{
	sqlite3_stmt *st = store_stmt(s, SQL_DELIVERIES_RESET);
	if (!st)
		return RM_ERR_DB;
	sqlite3_bind_int64(st, 1, now_ms);
	return store_exec_stmt(s, st, "deliveries reset");
}

json_t *store_deliveries_list(struct store *s, const char *channel_id, int limit)
{
	sqlite3_stmt *st = store_stmt(s, SQL_DELIVERIES_LIST);
	if (!st)
		return NULL;
	store_bind_text(st, 1, channel_id);
	sqlite3_bind_int(st, 2, limit < 1 ? 1 : limit > 1000 ? 1000 : limit);
	return store_collect_rows(s, st, delivery_row, "deliveries list");
}

int store_deliveries_recent(struct store *s, const char *channel_id, int64_t since_ms,
                            long long *out)
{
	sqlite3_stmt *st = store_stmt(s, SQL_DELIVERIES_RECENT);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, channel_id);
	sqlite3_bind_int64(st, 2, since_ms);
	int rc = store_step_row(s, st, "deliveries recent");
	if (!rc)
		*out = sqlite3_column_int64(st, 0);
	store_stmt_done(st);
	return rc;
}

json_t *store_deliveries_held(struct store *s, const char *channel_id)
{
	sqlite3_stmt *st = store_stmt(s, SQL_DELIVERIES_HELD);
	if (!st)
		return NULL;
	store_bind_text(st, 1, channel_id);
	return store_collect_rows(s, st, delivery_row, "deliveries held");
}

static json_t *held_row(sqlite3_stmt *st)
{
	return json_pack("{s:o,s:o}", "channel_id", store_col_str(st, 0), "oldest_ms",
	                 store_col_int(st, 1));
}

json_t *store_deliveries_held_channels(struct store *s)
{
	sqlite3_stmt *st = store_stmt(s, SQL_DELIVERIES_HELD_CHANNELS);
	if (!st)
		return NULL;
	return store_collect_rows(s, st, held_row, "held channels");
}

int store_deliveries_mark_digested(struct store *s, const char *channel_id, int64_t now_ms)
{
	sqlite3_stmt *st = store_stmt(s, SQL_DELIVERIES_DIGESTED);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, channel_id);
	sqlite3_bind_int64(st, 2, now_ms);
	return store_exec_stmt(s, st, "deliveries digested");
}

static void bind_audit_filter(sqlite3_stmt *st, const struct store_audit_filter *f)
{
	store_bind_text(st, 1, f->actor);
	store_bind_text(st, 2, f->action);
	store_bind_text(st, 3, f->target);
	if (f->from_ms > 0)
		sqlite3_bind_int64(st, 4, f->from_ms);
	if (f->to_ms > 0)
		sqlite3_bind_int64(st, 5, f->to_ms);
}

static json_t *audit_row(sqlite3_stmt *st)
{
	json_t *e = json_object();
	json_object_set_new(e, "id", store_col_str(st, 0));
	json_object_set_new(e, "ts", store_col_time(st, 1));
	json_object_set_new(e, "actor", store_col_str(st, 2));
	json_object_set_new(e, "action", store_col_str(st, 3));
	json_object_set_new(e, "target", store_col_str(st, 4));
	json_object_set_new(e, "detail", store_col_json(st, 5, json_null()));
	return e;
}

json_t *store_audit_query(struct store *s, const struct store_audit_filter *f)
{
	sqlite3_stmt *st = store_stmt(s, SQL_AUDIT_COUNT);
	if (!st)
		return NULL;
	bind_audit_filter(st, f);
	long long total = 0;
	int rc = store_step_row(s, st, "audit count");
	if (!rc)
		total = sqlite3_column_int64(st, 0);
	store_stmt_done(st);
	if (rc)
		return NULL;
	st = store_stmt(s, SQL_AUDIT_QUERY);
	if (!st)
		return NULL;
	bind_audit_filter(st, f);
	store_bind_text(st, 6, f->sort ? f->sort : "ts");
	sqlite3_bind_int(st, 7, f->desc ? 1 : 0);
	sqlite3_bind_int(st, 8, f->limit < 1 ? 1 : f->limit > 1000 ? 1000 : f->limit);
	sqlite3_bind_int(st, 9, f->offset < 0 ? 0 : f->offset);
	json_t *entries = store_collect_rows(s, st, audit_row, "audit query");
	if (!entries)
		return NULL;
	return json_pack("{s:o,s:I}", "entries", entries, "total", (json_int_t)total);
}
