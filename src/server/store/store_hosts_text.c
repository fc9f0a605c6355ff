/* GET /api/hosts as text, with a per-host cache of serialised JSON (store.h,
 * store_hosts_list_text). With 10,000 hosts building the jansson tree and dumping it costs
 * ~0.4 s of the single event loop on an idle 2-core box; reading the rows and hashing
 * them costs a small part of that. Each host's text is made by store_host_row (the one
 * projection) + json_dumps, so this file never needs to know the host fields. */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "common/rmtime.h"
#include "server/store/store.h"
#include "server/store/store_int.h"

struct store_hosts_cache {
	json_t *map; /* host id -> [hash as integer, text] */
};

struct store_hosts_cache *store_hosts_cache_new(void)
{
	struct store_hosts_cache *c = rm_xcalloc(1, sizeof *c);
	c->map = json_object();
	return c;
}

void store_hosts_cache_free(struct store_hosts_cache *c)
{
	if (!c)
		return;
	json_decref(c->map);
	free(c);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* FNV-1a over every column (type and value) and the heartbeat value. */
static uint64_t row_hash(sqlite3_stmt *st, int64_t seen)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	int n = sqlite3_column_count(st);
	for (int i = 0; i < n; i++) {
		int t = sqlite3_column_type(st, i);
		unsigned char tb = (unsigned char)t;
		h = fnv(h, &tb, 1);
		if (t == SQLITE_INTEGER) {
			sqlite3_int64 v = sqlite3_column_int64(st, i);
			h = fnv(h, &v, sizeof v);
		} else if (t == SQLITE_FLOAT) {
			double v = sqlite3_column_double(st, i);
			h = fnv(h, &v, sizeof v);
		} else if (t != SQLITE_NULL) {
			const void *p = sqlite3_column_blob(st, i);
			int len = sqlite3_column_bytes(st, i);
			h = fnv(h, &len, sizeof len);
			if (p && len > 0)
				h = fnv(h, p, (size_t)len);
		}
	}
	return fnv(h, &seen, sizeof seen);
}

/* The host's text for the current row: from the cache when its hash matches, else made
 * anew. Returns a borrowed string owned by the entry put in next. */
static const char *host_text(sqlite3_stmt *st, json_t *old, json_t *next, store_seen_fn seen,
                             void *ud)
{
	const char *id = (const char *)sqlite3_column_text(st, 0);
	if (!id)
		id = "";
	int64_t live = seen ? seen(ud, id) : 0;
	json_int_t hash = (json_int_t)row_hash(st, live);
	json_t *e = json_object_get(old, id);
	if (!e || json_integer_value(json_array_get(e, 0)) != hash) {
		json_t *h = store_host_row(st);
		rmj_set_time_if_newer(h, "last_seen_at", live); /* as presence_overlay_last_seen */
		char *txt = rmj_dumps(h);
		json_decref(h);
		e = json_pack("[I,s]", hash, txt);
		free(txt);
		if (!e)
			return NULL;
	} else
		json_incref(e);
	json_object_set_new(next, id, e);
	return json_string_value(json_array_get(e, 1));
}

char *store_hosts_list_text(struct store *s, struct store_hosts_cache *c, store_seen_fn seen,
                            void *ud, size_t *len)
{
	sqlite3_stmt *st = store_stmt(s, SQL_HOSTS_LIST);
	if (!st)
		return NULL;
	json_t *next = json_object();
	struct rm_buf b;
	rm_buf_init(&b, 0);
	rm_buf_append_str(&b, "{\"hosts\":[");
	int src, first = 1;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		const char *txt = host_text(st, c->map, next, seen, ud);
		if (!txt)
			continue; /* not serialisable (never expected): left out, as jansson would */
		if (!first)
			rm_buf_append(&b, ",", 1);
		first = 0;
		rm_buf_append_str(&b, txt);
	}
	int rc = store_map_rc(s, src, "hosts list text");
	store_stmt_done(st);
	if (rc) {
		json_decref(next);
		rm_buf_cleanup(&b);
		return NULL;
	}
	rm_buf_append_str(&b, "]}");
	json_decref(c->map); /* hosts gone from the fleet leave the cache here */
	c->map = next;
	*len = b.len;
	return rm_buf_take(&b);
}
