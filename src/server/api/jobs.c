/* Jobs: dispatch (run now), cancel, read, logs and log downloads. */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/ulid.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/rmtime.h"
#include "server/api/api.h"
#include "server/app.h"
#include "server/http/http.h"
#include "server/engine/care.h"
#include "server/engine/notify.h"
#include "server/engine/presence.h"
#include "server/store/store.h"

#define MAX_PATHS 100
#define MAX_PATH_LEN 4096
#define LOG_PAGE 500 /* lines per pull (~2-3 ms of work): one page per stream per loop turn */

const char *api_paths_problem(const json_t *paths, int allow_empty)
{
	if (!json_is_array(paths))
		return "paths must be an array of strings";
	size_t n = json_array_size(paths);
	if (n == 0 && !allow_empty)
		return "at least one path is required";
	if (n > MAX_PATHS)
		return "at most 100 paths";
	size_t i;
	json_t *v;
	json_array_foreach (paths, i, v) {
		if (!json_is_string(v))
			return "paths must be strings";
		const char *p = json_string_value(v);
		size_t len = json_string_length(v);
		if (len == 0 || len > MAX_PATH_LEN)
			return "each path must be 1-4096 bytes";
		if (strlen(p) != len)
			return "paths must not contain NUL";
		if (p[0] != '/')
			return "paths must be absolute";
		if (strchr(p, '\n') || strchr(p, '\r'))
			return "paths must not contain newlines";
		/* ".." as a whole segment */
		const char *s = p;
		while (*s) {
			while (*s == '/')
				s++;
			const char *e = strchr(s, '/');
			size_t sl = e ? (size_t)(e - s) : strlen(s);
			if (sl == 2 && s[0] == '.' && s[1] == '.')
				return "paths must not contain '..'";
			s += sl;
		}
	}
	return NULL;
}

static int is_terminal(const char *status)
{
	return status && (strcmp(status, "succeeded") == 0 || strcmp(status, "failed") == 0 ||
	                  strcmp(status, "cancelled") == 0);
}

void api_job_dispatch(struct http_req *r, struct app *app, const char *host_id, const char *kind,
                      const json_t *args, const json_t *wire_extra, const char *audit_action,
                      int queue_if_offline)
{
	api_job_dispatch_ex(r, app, host_id, kind, args, wire_extra, audit_action, queue_if_offline,
	                    NULL);
}

void api_job_dispatch_ex(struct http_req *r, struct app *app, const char *host_id, const char *kind,
                         const json_t *args, const json_t *wire_extra, const char *audit_action,
                         int queue_if_offline, const json_t *resp_extra)
{
	int offline = !presence_is_connected(app->presence, host_id);
	if (offline && !queue_if_offline) {
		http_respond_error(r, 409, "host_offline", "host is not connected");
		return;
	}
	int active = 0;
	int rc = store_job_active_of_kind(app->store, host_id, kind, &active);
	if (rc) {
		api_respond_store_error(r, "job active", rc);
		return;
	}
	if (active) {
		http_respond_error(r, 409, "job_running", "a %s job is already queued or running",
		                   kind);
		return;
	}
	char job_id[RM_ULID_BUF];
	/* the job row and its audit row commit together (before the command goes out) */
	rc = store_tx_begin(app->store);
	if (!rc) {
		rc = store_job_create(app->store, host_id, kind, args, api_actor(r), job_id);
		if (!rc && offline)
			rc = store_job_set_awaiting(app->store, job_id, 1);
		if (!rc) {
			json_t *d = json_pack("{s:s,s:s,s:b}", "host_id", host_id, "kind", kind,
			                      "queued", offline);
			if (rmj_str(args, "group"))
				json_object_set(d, "group", json_object_get(args, "group"));
			if (strcmp(kind, "restore") == 0) /* audited with its paths and target */
				json_object_set_new(d, "args", json_deep_copy(args));
			rc = api_audit(app, api_actor(r), audit_action, job_id, d);
		}
		rc = store_tx_end(app->store, rc);
	}
	if (rc) {
		api_respond_store_error(r, "job create", rc);
		return;
	}
	notify_job_changed(app->notify, job_id);
	notify_host_changed(app->notify, host_id);
	if (offline) {
		RM_INFO("job queued until the host connects", "job_id", job_id, "host_id", host_id);
		http_respond_json(r, 202, json_pack("{s:s,s:b}", "job_id", job_id, "queued", 1));
		return;
	}
	json_t *wire = json_deep_copy(args);
	if (wire_extra)
		json_object_update(wire, (json_t *)wire_extra);
	rc = presence_send_command(app->presence, host_id, job_id, kind, wire);
	rmj_wipe(wire);
	json_decref(wire);
	if (rc) {
		store_job_finish(app->store, job_id, "failed", -1, "dispatch to agent failed", NULL,
		                 rm_now_ms());
		notify_job_changed(app->notify, job_id);
		notify_host_changed(app->notify, host_id);
		http_respond_error(r, 409, "host_offline", "could not reach the agent");
		return;
	}
	RM_INFO("job dispatched", "job_id", job_id, "host_id", host_id, "kind", kind);
	json_t *resp = json_pack("{s:s,s:b}", "job_id", job_id, "queued", 0);
	if (resp_extra)
		json_object_update_missing(resp, (json_t *)resp_extra);
	http_respond_json(r, 202, resp);
}

void api_job_create(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *b = api_body(r);
	const char *host_id = http_req_param(r, "id");
	const char *kind = NULL;
	char err[160];
	if (rmj_get_str(b, "kind", 1, 16, &kind, err, sizeof err)) {
		api_respond_invalid(r, err);
		return;
	}
	if (strcmp(kind, "backup") != 0 && strcmp(kind, "init") != 0 && !care_kind(kind)) {
		api_respond_invalid(r, "field 'kind' must be one of backup, init, forget, prune, "
		                       "check, unlock");
		return;
	}
	json_t *host = api_host_or_404(r, app);
	if (!host)
		return;
	if (care_kind(kind)) {
		api_job_create_care(r, app, host_id, kind, b);
		json_decref(host);
		return;
	}
	json_t *args = json_object();
	if (strcmp(kind, "backup") == 0) {
		json_t *paths = json_object_get(b, "paths");
		if (!paths || json_is_null(paths))
			paths = json_object_get(host, "initial_paths");
		const char *why = api_paths_problem(paths, 0);
		if (why) {
			http_respond_error(r, 422, "invalid_paths", "%s", why);
			goto out;
		}
		json_object_set(args, "paths", paths);
	} else {
		json_object_set_new(args, "paths", json_array());
	}
	api_job_dispatch(r, app, host_id, kind, args, NULL, "job.dispatch",
	                 json_is_true(json_object_get(b, "queue_if_offline")));
out:
	json_decref(args);
	json_decref(host);
}

void api_jobs_list(struct http_req *r, void *appv)
{
	struct app *app = appv;
	long long limit = 50;
	const char *ls = http_req_query(r, "limit");
	if (ls && (rm_parse_i64(ls, &limit) || limit < 1 || limit > 500)) {
		api_respond_invalid(r, "query 'limit' must be an integer in [1, 500]");
		return;
	}
	const char *host_id = http_req_query(r, "host_id");
	if (host_id && !host_id[0])
		host_id = NULL;
	json_t *o = store_jobs_list(app->store, host_id, (int)limit);
	if (!o) {
		api_respond_store_error(r, "jobs list", RM_ERR_DB);
		return;
	}
	http_respond_json(r, 200, o);
}

void api_job_get(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *o = store_job_get(app->store, http_req_param(r, "id"));
	if (!o) {
		http_respond_error(r, 404, "not_found", "unknown job");
		return;
	}
	http_respond_json(r, 200, o);
}

void api_job_cancel(struct http_req *r, void *appv)
{
	struct app *app = appv;
	const char *job_id = http_req_param(r, "id");
	json_t *job = store_job_get(app->store, job_id);
	if (!job) {
		http_respond_error(r, 404, "not_found", "unknown job");
		return;
	}
	const char *status = rmj_str(job, "status");
	const char *host_id = rmj_str(job, "host_id");
	if (is_terminal(status) || !host_id) {
		http_respond_error(r, 409, "not_running", "job is not running (%s)",
		                   status ? status : "?");
		json_decref(job);
		return;
	}
	int rc = presence_send(app->presence, host_id, RM_MSG_COMMAND_CANCEL,
	                       json_pack("{s:s}", "job_id", job_id));
	int recorded = rc == RM_ERR_NOTFOUND;
	rc = store_tx_begin(app->store);
	if (!rc) {
		/* the agent is away: nothing runs there that we could stop now; record the
		 * cancellation (a later job.finished from the agent still wins) together with
		 * the audit row */
		if (recorded)
			rc = store_job_finish(app->store, job_id, "cancelled", -1,
			                      "cancelled while the agent was offline", NULL,
			                      rm_now_ms());
		if (!rc)
			rc = api_audit(app, api_actor(r), "job.cancel", job_id,
			               json_pack("{s:s}", "host_id", host_id));
		rc = store_tx_end(app->store, rc);
	}
	if (rc) {
		api_respond_store_error(r, "job cancel", rc);
		json_decref(job);
		return;
	}
	if (recorded) {
		notify_job_changed(app->notify, job_id);
		notify_host_changed(app->notify, host_id);
	}
	RM_INFO("job cancel requested", "job_id", job_id, "host_id", host_id);
	http_respond_json(r, 202, json_pack("{s:s}", "job_id", job_id));
	json_decref(job);
}

/* 404 unless the job exists; 1 = handled (responded). */
static int job_missing(struct http_req *r, struct app *app, const char *job_id)
{
	char host[RM_ULID_BUF];
	int rc = store_job_host(app->store, job_id, host);
	if (rc == RM_ERR_NOTFOUND) {
		http_respond_error(r, 404, "not_found", "unknown job");
		return 1;
	}
	if (rc) {
		api_respond_store_error(r, "job host", rc);
		return 1;
	}
	return 0;
}

void api_job_logs(struct http_req *r, void *appv)
{
	struct app *app = appv;
	const char *job_id = http_req_param(r, "id");
	long long after = 0, limit = 1000;
	const char *as = http_req_query(r, "after_seq");
	const char *ls = http_req_query(r, "limit");
	if (as && (rm_parse_i64(as, &after) || after < 0)) {
		api_respond_invalid(r, "query 'after_seq' must be a non-negative integer");
		return;
	}
	if (ls && (rm_parse_i64(ls, &limit) || limit < 1 || limit > 10000)) {
		api_respond_invalid(r, "query 'limit' must be an integer in [1, 10000]");
		return;
	}
	if (job_missing(r, app, job_id))
		return;
	json_t *lines = store_log_list(app->store, job_id, after, (int)limit);
	if (!lines) {
		api_respond_store_error(r, "log list", RM_ERR_DB);
		return;
	}
	http_respond_json(r, 200, json_pack("{s:o}", "lines", lines));
}

/* Log downloads stream page by page as the client reads: never the whole log in memory,
 * and the pages are read and formatted on the thread pool through a read-only connection
 * of the download's own (a cold page cache means disk reads; they must not stall the loop).
 * One read at a time per download: the next pull comes after its page was written. */
struct log_dl {
	uv_work_t work;
	struct app *app;
	struct store_reader *rd;
	struct http_req *r; /* valid while the request lives (see log_dl_free) */
	char job_id[64];
	long long after;
	int ndjson;
	int busy;          /* a page read is on the thread pool */
	int dead;          /* the request ended meanwhile: free when the read returns */
	int n;             /* rows of the last page, -1 on a store error */
	struct rm_buf out; /* the page, formatted (thread pool -> loop) */
};

/* One row as a line: "ts [stream] payload" or the ndjson object (same shape as the API).
 * Thread pool. */
static void log_row_cb(void *ud, const struct store_log_row *row)
{
	struct log_dl *d = ud;
	char ts[RM_TIME_STRLEN];
	rm_time_fmt(row->ts_ms, ts);
	d->after = row->seq;
	if (d->ndjson) {
		json_t *o =
		    json_pack("{s:I,s:s,s:s,s:s%}", "seq", (json_int_t)row->seq, "ts", ts, "stream",
		              row->stream, "payload", row->payload, row->payload_len);
		char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
		if (s) {
			rm_buf_append_str(&d->out, s);
			rm_buf_append(&d->out, "\n", 1);
		}
		free(s);
		json_decref(o);
	} else {
		rm_buf_appendf(&d->out, "%s [%s] ", ts, row->stream);
		rm_buf_append(&d->out, row->payload, row->payload_len);
		rm_buf_append(&d->out, "\n", 1);
	}
}

static void log_dl_destroy(struct log_dl *d)
{
	store_reader_close(d->rd);
	rm_buf_cleanup(&d->out);
	free(d);
}

/* stream_free: the request ended (done, or the client went away) */
static void log_dl_free(void *p)
{
	struct log_dl *d = p;
	if (d->busy) {
		d->dead = 1; /* log_after frees it */
		return;
	}
	log_dl_destroy(d);
}

static void log_work(uv_work_t *w)
{
	struct log_dl *d = w->data;
	d->n = store_reader_log_each(d->rd, d->job_id, d->after, LOG_PAGE, log_row_cb, d);
}

static void log_after(uv_work_t *w, int status)
{
	struct log_dl *d = w->data;
	d->busy = 0;
	if (d->dead) {
		log_dl_destroy(d);
		return;
	}
	if (status || d->n < 0)
		RM_WARN("log download: read failed, response truncated", "job_id", d->job_id);
	size_t len = d->out.len;
	if (len)
		http_stream_write_take(d->r, rm_buf_take(&d->out), len);
	if (status || d->n < LOG_PAGE)
		http_stream_end(d->r);
}

static void log_pull(struct http_req *r, void *ctxv)
{
	struct log_dl *d = ctxv;
	d->r = r;
	d->busy = 1;
	d->work.data = d;
	if (uv_queue_work(d->app->loop, &d->work, log_work, log_after) == 0)
		return;
	d->busy = 0;
	http_stream_end(r);
}

static void log_download(struct http_req *r, struct app *app, int ndjson)
{
	const char *job_id = http_req_param(r, "id");
	if (job_missing(r, app, job_id))
		return;
	struct log_dl *d = rm_xcalloc(1, sizeof *d);
	d->app = app;
	rm_strlcpy(d->job_id, job_id, sizeof d->job_id);
	d->ndjson = ndjson;
	rm_buf_init(&d->out, 0);
	if (store_reader_open(app->store, &d->rd)) {
		log_dl_destroy(d);
		api_respond_store_error(r, "log reader", RM_ERR_DB);
		return;
	}
	char *disp =
	    rm_xasprintf("attachment; filename=\"job-%s.%s\"", job_id, ndjson ? "ndjson" : "log");
	http_resp_header(r, "content-disposition", disp);
	http_resp_header(r, "cache-control", "no-store");
	free(disp);
	http_respond_stream(r, 200, ndjson ? "application/x-ndjson" : "text/plain; charset=utf-8",
	                    -1, log_pull, d, log_dl_free);
}

void api_job_log_txt(struct http_req *r, void *app)
{
	log_download(r, app, 0);
}

void api_job_log_ndjson(struct http_req *r, void *app)
{
	log_download(r, app, 1);
}
