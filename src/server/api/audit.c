/* GET /api/audit (admin): filters actor, action, target (substring), from/to (RFC 3339,
 * [from, to)), sort (ts|actor|action|target), order (asc|desc, default desc), limit
 * (1..1000, default 100), offset -> {"entries":[...],"total":N}.
 * GET /api/audit.csv: the same filters, every matching row, streamed as CSV. */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "common/rmtime.h"
#include "server/api/api.h"
#include "server/app.h"
#include "server/http/http.h"
#include "server/store/store.h"

#define CSV_PAGE 500

static const char *opt_str(struct http_req *r, const char *name)
{
	const char *v = http_req_query(r, name);
	return v && v[0] && strlen(v) <= 256 ? v : NULL;
}

/* Fills f from the query; 0, or answers 400 and returns -1. */
static int parse_filter(struct http_req *r, struct store_audit_filter *f, int paged)
{
	memset(f, 0, sizeof *f);
	f->actor = opt_str(r, "actor");
	f->action = opt_str(r, "action");
	f->target = opt_str(r, "target");
	const char *names[2] = { "from", "to" };
	int64_t *outs[2] = { &f->from_ms, &f->to_ms };
	for (int i = 0; i < 2; i++) {
		const char *v = opt_str(r, names[i]);
		if (v && rm_time_parse(v, outs[i])) {
			api_respond_field(r, 400, "invalid_field", names[i],
			                  "must be an RFC 3339 time, e.g. 2026-01-31T00:00:00Z");
			return -1;
		}
	}
	f->sort = opt_str(r, "sort");
	if (f->sort && strcmp(f->sort, "ts") != 0 && strcmp(f->sort, "actor") != 0 &&
	    strcmp(f->sort, "action") != 0 && strcmp(f->sort, "target") != 0) {
		api_respond_field(r, 400, "invalid_field", "sort",
		                  "sort must be ts, actor, action or target");
		return -1;
	}
	const char *order = opt_str(r, "order");
	if (order && strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0) {
		api_respond_field(r, 400, "invalid_field", "order", "order must be asc or desc");
		return -1;
	}
	f->desc = !order || strcmp(order, "desc") == 0;
	long long limit = 100, offset = 0;
	const char *ls = http_req_query(r, "limit"), *os = http_req_query(r, "offset");
	if (paged && ls && (rm_parse_i64(ls, &limit) || limit < 1 || limit > 1000)) {
		api_respond_invalid(r, "query 'limit' must be an integer in [1, 1000]");
		return -1;
	}
	if (paged && os && (rm_parse_i64(os, &offset) || offset < 0 || offset > 100000000)) {
		api_respond_invalid(r, "query 'offset' must be a non-negative integer");
		return -1;
	}
	f->limit = (int)limit;
	f->offset = (int)offset;
	return 0;
}

void api_audit_list(struct http_req *r, void *appv)
{
	struct app *app = appv;
	struct store_audit_filter f;
	if (parse_filter(r, &f, 1))
		return;
	json_t *o = store_audit_query(app->store, &f);
	if (!o) {
		api_respond_store_error(r, "audit list", RM_ERR_DB);
		return;
	}
	http_respond_json(r, 200, o);
}

/* ---- CSV ---- */

struct csv_stream {
	struct app *app;
	struct store_audit_filter f;
	char *strs[5]; /* owned copies of the filter strings */
	int done;
	int started; /* header line written */
};

static void csv_field(struct rm_buf *b, const char *s, int last)
{
	s = s ? s : "";
	/* a leading = + - @ would be a formula in a spreadsheet: quote and prefix ' */
	int formula = s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@';
	rm_buf_append_str(b, "\"");
	if (formula)
		rm_buf_append_str(b, "'");
	for (const char *p = s; *p; p++) {
		if (*p == '"')
			rm_buf_append_str(b, "\"\"");
		else
			rm_buf_append(b, p, 1);
	}
	rm_buf_append_str(b, last ? "\"\r\n" : "\",");
}

static void csv_pull(struct http_req *r, void *ctx)
{
	struct csv_stream *cs = ctx;
	if (cs->done) {
		http_stream_end(r);
		return;
	}
	json_t *o = store_audit_query(cs->app->store, &cs->f);
	int failed = !o;
	json_t *entries = json_object_get(o, "entries");
	struct rm_buf b = { 0 };
	if (!cs->started) {
		cs->started = 1;
		rm_buf_append_str(&b, "time,actor,action,target,detail\r\n");
	}
	size_t i;
	json_t *e;
	json_array_foreach (entries, i, e) {
		csv_field(&b, rmj_str(e, "ts"), 0);
		csv_field(&b, rmj_str(e, "actor"), 0);
		csv_field(&b, rmj_str(e, "action"), 0);
		csv_field(&b, rmj_str(e, "target"), 0);
		json_t *d = json_object_get(e, "detail");
		char *dt = d && !json_is_null(d) ? rmj_dumps(d) : NULL;
		csv_field(&b, dt, 1);
		free(dt);
	}
	size_t n = json_array_size(entries);
	json_decref(o);
	cs->f.offset += (int)n;
	if (n < CSV_PAGE || failed)
		cs->done = 1;
	size_t len = b.len;
	if (len)
		http_stream_write_take(r, rm_buf_take(&b), len);
	else
		rm_buf_cleanup(&b);
	if (cs->done)
		http_stream_end(r);
}

static void csv_free(void *p)
{
	struct csv_stream *cs = p;
	for (int i = 0; i < 5; i++)
		free(cs->strs[i]);
	free(cs);
}

void api_audit_csv(struct http_req *r, void *appv)
{
	struct csv_stream *cs = rm_xcalloc(1, sizeof *cs);
	cs->app = appv;
	if (parse_filter(r, &cs->f, 0)) {
		free(cs);
		return;
	}
	const char **fs[5] = { &cs->f.actor, &cs->f.action, &cs->f.target, &cs->f.sort, NULL };
	for (int i = 0; fs[i]; i++) {
		cs->strs[i] = rm_xstrdup(*fs[i]);
		*fs[i] = cs->strs[i];
	}
	cs->f.limit = CSV_PAGE;
	cs->f.offset = 0;
	http_resp_header(r, "content-disposition", "attachment; filename=\"audit.csv\"");
	http_resp_header(r, "cache-control", "no-store");
	http_respond_stream(r, 200, "text/csv; charset=utf-8", -1, csv_pull, cs, csv_free);
}
