/* Downloads: restic dump -> stream.data with a credit window (see dump.h). */
#include "agent/runner/dump.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/restic/index.h"
#include "agent/runner/child.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"

#define MAX_STREAMS 2 /* x WINDOW_MAX stays under browse_rpc.c STREAM_QUEUE_LIMIT */
#define WINDOW_DEFAULT (1024 * 1024)
#define WINDOW_MAX (4 * 1024 * 1024)

struct stream {
	struct stream *next;
	struct dumps *d;
	char id[65], snap[65];
	char *path, *request_id, *format;
	struct runner_creds creds; /* copies, wiped; only until restic starts */
	struct rchild *child;
	uint64_t sent, acked, window;
	int stat_pending, cancelled, failed;
};

struct dumps {
	uv_loop_t *loop;
	struct browse *b;
	char *state_dir, *restic_path;
	struct dump_io io;
	struct stream *streams;
	int n;
};

struct dumps *dumps_new(uv_loop_t *loop, struct browse *b, const char *state_dir,
                        const char *restic_path, const struct dump_io *io)
{
	struct dumps *d = rm_xcalloc(1, sizeof *d);
	d->loop = loop;
	d->b = b;
	d->state_dir = rm_xstrdup(state_dir);
	d->restic_path = rm_xstrdup(restic_path);
	d->io = *io;
	return d;
}

static void wipe_free(char *s)
{
	if (s) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

static void creds_clear(struct stream *s)
{
	wipe_free((char *)s->creds.repo_url);
	wipe_free((char *)s->creds.repo_username);
	wipe_free((char *)s->creds.repo_password);
	memset(&s->creds, 0, sizeof s->creds);
}

static void stream_free(struct stream *s)
{
	struct dumps *d = s->d;
	for (struct stream **pp = &d->streams; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			d->n--;
			break;
		}
	creds_clear(s);
	free(s->path);
	free(s->request_id);
	free(s->format);
	free(s);
}

static struct stream *find(struct dumps *d, const char *id)
{
	for (struct stream *s = d->streams; s; s = s->next)
		if (id && !strcmp(s->id, id))
			return s;
	return NULL;
}

static void on_data(void *ud, const char *buf, size_t n)
{
	struct stream *s = ud;
	if (s->failed)
		return;
	if (s->d->io.data(s->d->io.ud, s->id, buf, n)) {
		s->failed = 1; /* the connection's queue is full: this stream cannot go on */
		rchild_kill(s->child);
		return;
	}
	s->sent += n;
	if (s->sent - s->acked >= s->window)
		rchild_pause(s->child);
}

static void on_done(void *ud, int code, const char *err)
{
	struct stream *s = ud;
	struct dumps *d = s->d;
	char sent[24];
	snprintf(sent, sizeof sent, "%llu", (unsigned long long)s->sent);
	RM_INFO("download stream ended", "stream_id", s->id, "bytes", sent, "error",
	        s->cancelled ? "cancelled"
	        : code       ? (err ? err : "restic failed")
	                     : "");
	s->child = NULL;
	if (!s->cancelled) {
		if (s->failed)
			d->io.end(d->io.ud, s->id, s->sent, "overflow",
			          "the agent's send queue overflowed");
		else if (code)
			d->io.end(d->io.ud, s->id, s->sent, "restic_failed",
			          err ? err : "restic dump failed");
		else
			d->io.end(d->io.ud, s->id, s->sent, NULL, NULL);
	}
	stream_free(s);
}

static int start_dump(struct stream *s, unsigned type)
{
	const char *args[8];
	int i = 0;
	args[i++] = "dump";
	if (type == IDX_T_DIR && s->format && !strcmp(s->format, "zip")) {
		args[i++] = "--archive";
		args[i++] = "zip";
	}
	args[i++] = s->snap;
	args[i++] = s->path;
	args[i] = NULL;
	struct rchild_opts o = { .loop = s->d->loop,
		                 .restic_path = s->d->restic_path,
		                 .state_dir = s->d->state_dir,
		                 .creds = &s->creds,
		                 .args = args,
		                 .on_data = on_data,
		                 .on_done = on_done,
		                 .ud = s };
	int rc = rchild_start(&o, &s->child);
	creds_clear(s);
	return rc;
}

static void on_stat(void *ud, unsigned type, uint64_t size, const char *code, const char *msg)
{
	struct stream *s = ud;
	struct dumps *d = s->d;
	s->stat_pending = 0;
	if (s->cancelled) {
		stream_free(s);
		return;
	}
	if (!code && type != IDX_T_FILE && type != IDX_T_DIR)
		code = "unsupported", msg = "only files and directories can be downloaded";
	if (code) {
		d->io.open_result(d->io.ud, s->request_id, NULL, code, msg);
		stream_free(s);
		return;
	}
	d->io.open_result(d->io.ud, s->request_id,
	                  json_pack("{s:s,s:s,s:I}", "stream_id", s->id, "type",
	                            idx_type_name(type), "size",
	                            (json_int_t)(type == IDX_T_FILE ? size : 0)),
	                  NULL, NULL);
	if (start_dump(s, type)) {
		d->io.end(d->io.ud, s->id, 0, "restic_failed", "cannot start restic dump");
		stream_free(s);
	}
}

void dumps_open(struct dumps *d, const struct runner_creds *creds, const char *request_id,
                const json_t *payload)
{
	const char *id = rmj_str(payload, "stream_id"), *snap = rmj_str(payload, "snapshot_id");
	const char *path = rmj_str(payload, "path");
	long long win = rmj_int(payload, "window", WINDOW_DEFAULT);
	if (!id || !*id || find(d, id) || !browse_snap_id_ok(snap) || !idx_path_ok(path)) {
		d->io.open_result(d->io.ud, request_id, NULL, "invalid",
		                  "bad stream_id, snapshot_id or path");
		return;
	}
	if (d->n >= MAX_STREAMS || !creds) {
		d->io.open_result(d->io.ud, request_id, NULL, creds ? "busy" : "no_repository",
		                  creds ? "too many downloads at once on this agent"
		                        : "no repository configured on the agent");
		return;
	}
	struct stream *s = rm_xcalloc(1, sizeof *s);
	s->d = d;
	rm_strlcpy(s->id, id, sizeof s->id);
	rm_strlcpy(s->snap, snap, sizeof s->snap);
	s->path = rm_xstrdup(path);
	s->request_id = rm_xstrdup(request_id);
	s->format = rm_xstrdup(rmj_str(payload, "format"));
	s->window = win < 64 * 1024 || win > WINDOW_MAX ? WINDOW_DEFAULT : (uint64_t)win;
	s->creds.repo_url = rm_xstrdup(creds->repo_url);
	s->creds.repo_username = rm_xstrdup(creds->repo_username);
	s->creds.repo_password = rm_xstrdup(creds->repo_password);
	s->next = d->streams;
	d->streams = s;
	d->n++;
	s->stat_pending = 1;
	browse_stat(d->b, creds, snap, path, on_stat, s);
}

void dumps_ack(struct dumps *d, const char *stream_id, uint64_t bytes)
{
	struct stream *s = find(d, stream_id);
	if (!s || bytes > s->sent || bytes < s->acked)
		return;
	s->acked = bytes;
	if (s->child && s->sent - s->acked < s->window)
		rchild_resume(s->child);
}

static void cancel(struct stream *s)
{
	if (s->cancelled)
		return;
	s->cancelled = 1;
	if (s->child)
		rchild_kill(s->child); /* on_done frees it */
	                               /* a pending stat frees it when it answers */
}

void dumps_cancel(struct dumps *d, const char *stream_id)
{
	struct stream *s = find(d, stream_id);
	if (s)
		cancel(s);
}

void dumps_cancel_all(struct dumps *d)
{
	for (struct stream *s = d ? d->streams : NULL; s; s = s->next)
		cancel(s);
}

void dumps_free(struct dumps *d)
{
	if (!d)
		return;
	while (d->streams) {
		struct stream *s = d->streams;
		if (s->child)
			rchild_detach(s->child);
		stream_free(s);
	}
	free(d->state_dir);
	free(d->restic_path);
	free(d);
}
