/* C6: enrollment-token recovery (list, re-key, revoke) and pending announcements
 * (announce-and-approve enrollment). */
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/ulid.h"
#include "server/store/store_int.h"

/* ------------------------------------------------------------------ enrollment tokens */

int store_enroll_id(struct store *s, const char *token_hash, char id_out[RM_ULID_BUF])
{
	return store_lookup_text(s, SQL_ENROLL_ID, token_hash, id_out, RM_ULID_BUF, "enroll id");
}

int store_enroll_hash_by_id(struct store *s, const char *id, char hash_out[65])
{
	return store_lookup_text(s, SQL_ENROLL_HASH_BY_ID, id, hash_out, 65, "enroll hash");
}

static json_t *token_row(sqlite3_stmt *st)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", store_col_str(st, 0));
	json_object_set_new(o, "hostname", store_col_str(st, 1));
	json_object_set_new(o, "tags", store_col_json(st, 2, json_array()));
	json_object_set_new(o, "created_at", store_col_time(st, 3));
	json_object_set_new(o, "expires_at", store_col_time(st, 4));
	json_object_set_new(o, "created_by", store_col_str(st, 5));
	return o;
}

json_t *store_enroll_list(struct store *s, int64_t now_ms)
{
	sqlite3_stmt *st = store_stmt(s, SQL_ENROLL_LIST);
	if (!st)
		return NULL;
	sqlite3_bind_int64(st, 1, now_ms);
	json_t *rows = store_collect_rows(s, st, token_row, "enroll list");
	return rows ? json_pack("{s:o}", "tokens", rows) : NULL;
}

/* RM_OK if the last write changed a row, else NOTFOUND. */
static int changed(struct store *s, int rc)
{
	if (!rc && sqlite3_changes(s->db) == 0)
		return RM_ERR_NOTFOUND;
	return rc;
}

int store_enroll_rekey(struct store *s, const char *id, const char *new_hash, const char *creds_ct,
                       int64_t expires_ms)
{
	if (!id || !new_hash || !creds_ct)
		return RM_ERR_INVAL;
	sqlite3_stmt *st = store_stmt(s, SQL_ENROLL_REKEY);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, new_hash);
	store_bind_text(st, 3, creds_ct);
	sqlite3_bind_int64(st, 4, expires_ms);
	return changed(s, store_exec_stmt(s, st, "enroll rekey"));
}

int store_enroll_delete(struct store *s, const char *id)
{
	if (!id)
		return RM_ERR_NOTFOUND;
	sqlite3_stmt *st = store_stmt(s, SQL_ENROLL_DELETE);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, id);
	return changed(s, store_exec_stmt(s, st, "enroll delete"));
}

/* ------------------------------------------------------------------ pending hosts */

static void copy_col(char *dst, size_t n, sqlite3_stmt *st, int i)
{
	rm_strlcpy(dst, store_col_text(st, i), n); /* columns are bounded by the API */
}

static void pending_read(sqlite3_stmt *st, struct store_pending *p)
{
	memset(p, 0, sizeof *p);
	copy_col(p->id, sizeof p->id, st, 0);
	copy_col(p->pubkey, sizeof p->pubkey, st, 1);
	copy_col(p->fingerprint, sizeof p->fingerprint, st, 2);
	copy_col(p->hostname, sizeof p->hostname, st, 3);
	copy_col(p->os, sizeof p->os, st, 4);
	copy_col(p->arch, sizeof p->arch, st, 5);
	copy_col(p->agent_version, sizeof p->agent_version, st, 6);
	copy_col(p->restic_version, sizeof p->restic_version, st, 7);
	copy_col(p->address, sizeof p->address, st, 8);
	copy_col(p->state, sizeof p->state, st, 9);
	copy_col(p->nonce, sizeof p->nonce, st, 10);
	p->announced_ms = sqlite3_column_int64(st, 11);
	p->expires_ms = sqlite3_column_int64(st, 12);
	p->decided_ms = sqlite3_column_int64(st, 13);
	copy_col(p->decided_by, sizeof p->decided_by, st, 14);
	copy_col(p->host_id, sizeof p->host_id, st, 15);
	p->polls = sqlite3_column_int64(st, 16);
	p->last_poll_ms = sqlite3_column_int64(st, 17);
	p->delivered_ms = sqlite3_column_int64(st, 18);
}

static int pending_get(struct store *s, enum store_sql id, const char *key,
                       struct store_pending *out)
{
	if (!key)
		return RM_ERR_NOTFOUND;
	sqlite3_stmt *st = store_stmt(s, id);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, key);
	int rc = store_step_row(s, st, "pending get");
	if (!rc)
		pending_read(st, out);
	store_stmt_done(st);
	return rc;
}

int store_pending_by_key(struct store *s, const char *pubkey, struct store_pending *out)
{
	return pending_get(s, SQL_PENDING_BY_KEY, pubkey, out);
}

int store_pending_by_id(struct store *s, const char *id, struct store_pending *out)
{
	return pending_get(s, SQL_PENDING_BY_ID, id, out);
}

int store_pending_insert(struct store *s, struct store_pending *p)
{
	sqlite3_stmt *st = store_stmt(s, SQL_PENDING_INSERT);
	if (!st)
		return RM_ERR_DB;
	rm_ulid_new(p->id);
	store_bind_text(st, 1, p->id);
	store_bind_text(st, 2, p->pubkey);
	store_bind_text(st, 3, p->fingerprint);
	store_bind_text(st, 4, p->hostname);
	store_bind_text(st, 5, p->os);
	store_bind_text(st, 6, p->arch);
	store_bind_text(st, 7, p->agent_version);
	store_bind_text(st, 8, p->restic_version);
	store_bind_text(st, 9, p->address);
	store_bind_text(st, 10, p->nonce);
	sqlite3_bind_int64(st, 11, p->announced_ms);
	sqlite3_bind_int64(st, 12, p->expires_ms);
	return store_exec_stmt(s, st, "pending insert");
}

int store_pending_count(struct store *s, int64_t now_ms, int64_t *out)
{
	sqlite3_stmt *st = store_stmt(s, SQL_PENDING_COUNT);
	if (!st)
		return RM_ERR_DB;
	sqlite3_bind_int64(st, 1, now_ms);
	int rc = store_step_row(s, st, "pending count");
	if (!rc)
		*out = sqlite3_column_int64(st, 0);
	store_stmt_done(st);
	return rc;
}

int store_pending_renew(struct store *s, const char *id, const char *nonce, const char *address,
                        int64_t now_ms, int64_t expires_ms)
{
	sqlite3_stmt *st = store_stmt(s, SQL_PENDING_RENEW);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, nonce);
	sqlite3_bind_int64(st, 3, now_ms);
	sqlite3_bind_int64(st, 4, expires_ms);
	store_bind_text(st, 5, address ? address : "");
	return changed(s, store_exec_stmt(s, st, "pending renew"));
}

int store_pending_polled(struct store *s, const char *id, const char *old_nonce,
                         const char *new_nonce, int64_t now_ms, int64_t delivered_ms)
{
	sqlite3_stmt *st = store_stmt(s, SQL_PENDING_POLLED);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, new_nonce);
	sqlite3_bind_int64(st, 3, now_ms);
	if (delivered_ms)
		sqlite3_bind_int64(st, 4, delivered_ms);
	store_bind_text(st, 5, old_nonce);
	int rc = changed(s, store_exec_stmt(s, st, "pending polled"));
	return rc == RM_ERR_NOTFOUND ? RM_ERR_CONFLICT : rc;
}

int store_pending_decide(struct store *s, const char *id, const char *state, const char *host_id,
                         const char *by, int64_t now_ms)
{
	sqlite3_stmt *st = store_stmt(s, SQL_PENDING_DECIDE);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, state);
	store_bind_text(st, 3, host_id);
	store_bind_text(st, 4, by);
	sqlite3_bind_int64(st, 5, now_ms);
	return changed(s, store_exec_stmt(s, st, "pending decide"));
}

static json_t *pending_row(sqlite3_stmt *st)
{
	static const struct {
		const char *name;
		int col;
		char kind; /* s string, t time, i integer */
	} cols[] = {
		{ "id", 0, 's' },
		{ "fingerprint", 2, 's' },
		{ "hostname", 3, 's' },
		{ "os", 4, 's' },
		{ "arch", 5, 's' },
		{ "agent_version", 6, 's' },
		{ "restic_version", 7, 's' },
		{ "address", 8, 's' },
		{ "state", 9, 's' },
		{ "announced_at", 11, 't' },
		{ "expires_at", 12, 't' },
		{ "decided_at", 13, 't' },
		{ "decided_by", 14, 's' },
		{ "host_id", 15, 's' },
		{ "polls", 16, 'i' },
		{ "last_poll_at", 17, 't' },
	};
	json_t *o = json_object();
	for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
		json_t *v = cols[i].kind == 's'   ? store_col_str(st, cols[i].col)
		            : cols[i].kind == 't' ? store_col_time(st, cols[i].col)
		                                  : store_col_int(st, cols[i].col);
		json_object_set_new(o, cols[i].name, v);
	}
	return o;
}

json_t *store_pending_list(struct store *s, int all, int64_t now_ms)
{
	sqlite3_stmt *st = store_stmt(s, SQL_PENDING_LIST);
	if (!st)
		return NULL;
	sqlite3_bind_int(st, 1, all ? 1 : 0);
	sqlite3_bind_int64(st, 2, now_ms);
	json_t *rows = store_collect_rows(s, st, pending_row, "pending list");
	return rows ? json_pack("{s:o}", "pending", rows) : NULL;
}

int store_pending_purge(struct store *s, int64_t cutoff_ms, int *n)
{
	sqlite3_stmt *st = store_stmt(s, SQL_PENDING_PURGE);
	if (!st)
		return RM_ERR_DB;
	sqlite3_bind_int64(st, 1, cutoff_ms);
	int rc = store_exec_stmt(s, st, "pending purge");
	if (!rc && n)
		*n = sqlite3_changes(s->db);
	return rc;
}

int store_host_bearer_set(struct store *s, const char *host_id, const char *bearer_hash)
{
	if (!host_id || !bearer_hash || !bearer_hash[0])
		return RM_ERR_INVAL;
	sqlite3_stmt *st = store_stmt(s, SQL_HOST_SET_BEARER);
	if (!st)
		return RM_ERR_DB;
	store_bind_text(st, 1, host_id);
	store_bind_text(st, 2, bearer_hash);
	return changed(s, store_exec_stmt(s, st, "host bearer"));
}
