/* GET /api/hosts/{id}/snapshots/{snap}/download?path=[&format=tar.gz|zip]: restic dump on
 * the agent, streamed through (docs/internals/protocol.md, "Snapshot browsing and
 * downloads"). The agent sends at most its window ahead of what the HTTP client took: the
 * chunks that arrive wait here until the response pulls (less than ~128 KiB queued towards
 * the client), and only then are they acknowledged. A file is sent as itself with its size;
 * a directory as tar (gzip'd here, level 1) or as restic's zip. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/ulid.h"
#include "server/api/api.h"
#include "server/api/browse_int.h"
#include "server/app.h"
#include "server/engine/download.h"
#include "server/engine/rpc.h"
#include "server/http/http.h"

#define OPEN_TIMEOUT_MS 120000 /* may index the snapshot first */
#define WINDOW (4 * 1024 * 1024)

struct dlreq {
	struct http_req *r;
	struct app *app;
	struct dl *dl;
	char host_id[RM_ULID_BUF], stream_id[RM_ULID_BUF];
	char *filename, *path, *snap;
	int gzip, streaming, pull_waiting, ended;
	const char *ctype;
	long long length;
	z_stream z;
	int z_init;
	unsigned char *out; /* received, not yet handed to the response */
	size_t out_len, out_cap;
	uint64_t raw_pending, raw_consumed;
};

static void dlreq_free(void *p)
{
	struct dlreq *d = p;
	if (d->dl)
		dl_close(d->dl); /* stream.cancel unless it ended */
	if (d->z_init)
		deflateEnd(&d->z);
	free(d->out);
	free(d->filename);
	free(d->path);
	free(d->snap);
	free(d);
}

static void out_append(struct dlreq *d, const void *p, size_t n)
{
	if (!n)
		return;
	if (d->out_len + n > d->out_cap) {
		d->out_cap = (d->out_len + n) * 2;
		d->out = rm_xrealloc(d->out, d->out_cap);
	}
	memcpy(d->out + d->out_len, p, n);
	d->out_len += n;
}

static void deflate_into(struct dlreq *d, const unsigned char *p, size_t n, int flush)
{
	unsigned char buf[64 * 1024];
	d->z.next_in = (unsigned char *)p;
	d->z.avail_in = (uInt)n;
	do {
		d->z.next_out = buf;
		d->z.avail_out = sizeof buf;
		deflate(&d->z, flush);
		out_append(d, buf, sizeof buf - d->z.avail_out);
	} while (d->z.avail_out == 0 || (flush == Z_FINISH && d->z.avail_in));
}

/* Called when the response owes a pull: hands what is pending to the response,
 * acknowledges it to the agent and ends when the agent did; with nothing to write it keeps
 * the pull owed (pull_waiting) for the next chunk. */
static void flush(struct dlreq *d)
{
	struct http_req *r = d->r;
	if (d->ended && d->gzip) {
		deflate_into(d, NULL, 0, Z_FINISH);
		d->gzip = 0;
	}
	/* a pull is owed something: only a write or the end settles it (gzip may have
	 * produced nothing from this chunk yet) */
	d->pull_waiting = !d->out_len && !d->ended;
	if (d->out_len) {
		http_stream_write_take(r, d->out, d->out_len);
		d->out = NULL;
		d->out_len = d->out_cap = 0;
	}
	if (d->raw_pending && !d->ended) {
		d->raw_consumed += d->raw_pending;
		d->raw_pending = 0;
		dl_ack(d->dl, d->raw_consumed);
	}
	if (d->ended)
		http_stream_end(r);
}

static void pull(struct http_req *r, void *ctx)
{
	struct dlreq *d = ctx;
	(void)r;
	flush(d); /* writes, ends, or acknowledges what gzip swallowed and waits */
}

static void start_response(struct dlreq *d)
{
	char cd[300];
	snprintf(cd, sizeof cd, "attachment; filename=\"%s\"", d->filename);
	http_resp_header(d->r, "content-disposition", cd);
	http_resp_header(d->r, "x-content-type-options", "nosniff");
	d->streaming = 1;
	http_respond_stream(d->r, 200, d->ctype, d->length, pull, d, dlreq_free);
}

static void on_data(void *ctx, const unsigned char *p, size_t n)
{
	struct dlreq *d = ctx;
	if (d->gzip)
		deflate_into(d, p, n, Z_NO_FLUSH);
	else
		out_append(d, p, n);
	d->raw_pending += n;
	if (!d->streaming)
		start_response(d); /* may free d when the client is gone */
	else if (d->pull_waiting)
		flush(d);
}

static void on_end(void *ctx, const char *code, const char *msg)
{
	struct dlreq *d = ctx;
	d->ended = 1;
	if (!d->streaming) {
		if (!code && d->length > 0)
			code = "size_mismatch",
			msg = "restic dump gave no bytes for a non-empty file";
		if (code) {
			/* nothing sent yet: a clean error */
			dl_close(d->dl);
			d->dl = NULL;
			http_respond_error(d->r, 502, code, "%s", msg ? msg : "download failed");
			dlreq_free(d);
			return;
		}
		start_response(d);
		return;
	}
	/* a file whose bytes do not add up to the announced length must not look complete */
	if (!code && d->length >= 0 && d->raw_consumed + d->raw_pending != (uint64_t)d->length)
		code = "size_mismatch", msg = "restic dump gave another size than the index";
	if (code) {
		RM_WARN("download cut short", "host_id", d->host_id, "code", code, "message", msg);
		http_stream_abort(d->r); /* frees d */
		return;
	}
	if (d->pull_waiting)
		flush(d);
}

/* The attachment name: the last path component (or "snapshot-<id>"), bytes outside
 * [A-Za-z0-9._-] replaced by '_' so the header needs no quoting rules. */
static char *file_name(const char *path, const char *snap, const char *ext)
{
	const char *b = strrchr(path, '/');
	b = b && b[1] ? b + 1 : NULL;
	char *s = b ? rm_xasprintf("%.200s%s", b, ext) : rm_xasprintf("snapshot-%.8s%s", snap, ext);
	for (char *c = s; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '.' || *c == '-' || *c == '_'))
			*c = '_';
	return s;
}

static void on_open(void *ctx, enum rpc_status st, const json_t *res)
{
	struct dlreq *d = ctx;
	if (st != RPC_OK || json_is_object(json_object_get(res, "error"))) {
		api_respond_rpc_failure(d->r, st == RPC_OK ? RPC_REMOTE_ERROR : st, res);
		dlreq_free(d);
		return;
	}
	const char *type = rmj_str(res, "type");
	int is_dir = type && !strcmp(type, "dir");
	if (!is_dir) {
		d->gzip = 0;
		d->ctype = "application/octet-stream";
		d->length = rmj_int(res, "size", -1);
	}
	d->filename = file_name(d->path, d->snap, !is_dir ? "" : d->gzip ? ".tar.gz" : ".zip");
	static const struct dl_sink sink = { on_data, on_end };
	d->dl = dl_open(d->app, d->host_id, d->stream_id, &sink, d);
	if (!d->dl) {
		http_respond_error(d->r, 503, "busy", "too many downloads at once");
		dlreq_free(d);
	}
}

void api_snapshot_download(struct http_req *r, void *appv)
{
	struct app *app = appv;
	const char *host_id = http_req_param(r, "id");
	const char *path = http_req_query(r, "path");
	const char *fmt = http_req_query(r, "format");
	if (!path || !api_path_ok(path)) {
		http_respond_error(r, 400, "invalid_path",
		                   "path must be absolute, without '.', "
		                   "'..', empty components or control "
		                   "characters");
		return;
	}
	if (fmt && strcmp(fmt, "tar.gz") && strcmp(fmt, "zip")) {
		http_respond_error(r, 400, "invalid_field", "format must be tar.gz or zip");
		return;
	}
	int zip = fmt && !strcmp(fmt, "zip");
	char *snap = api_snapshot_resolve(r, app, host_id, http_req_param(r, "snap"));
	if (!snap)
		return;
	struct dlreq *d = rm_xcalloc(1, sizeof *d);
	d->r = r;
	d->app = app;
	rm_strlcpy(d->host_id, host_id, sizeof d->host_id);
	rm_ulid_new(d->stream_id);
	d->gzip = !zip;
	d->ctype = zip ? "application/zip" : "application/gzip";
	d->length = -1;
	d->path = rm_xstrdup(path);
	d->snap = snap;
	if (d->gzip) {
		d->z_init =
		    deflateInit2(&d->z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;
		d->gzip = d->z_init;
	}
	json_t *p = json_pack("{s:s,s:s,s:s,s:s,s:i}", "stream_id", d->stream_id, "snapshot_id",
	                      snap, "path", path, "format", zip ? "zip" : "tar", "window", WINDOW);
	api_audit(app, api_actor(r), "snapshot.download", host_id,
	          json_pack("{s:s,s:s,s:s}", "snapshot_id", snap, "path", path, "format",
	                    zip ? "zip" : "tar.gz"));
	if (!rpc_start(app, host_id, RM_MSG_STREAM_OPEN, p, OPEN_TIMEOUT_MS, on_open, d)) {
		dlreq_free(d);
		http_respond_error(r, 409, "host_offline", "host is not connected");
		return;
	}
	http_req_defer(r);
}
