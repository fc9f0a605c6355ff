/* Download streams (see download.h): a small list, one entry per open download. */
#include "server/engine/download.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/ulid.h"
#include "server/app.h"
#include "server/engine/presence.h"

struct dl {
	struct dl *next;
	struct app *app;
	char host_id[RM_ULID_BUF];
	char id[65];
	struct dl_sink sink;
	void *ctx;
	int ended;
	uint64_t received;
};

struct dl_list {
	struct dl *head;
	size_t n;
};

static struct dl_list *list(struct app *app)
{
	if (!app->downloads)
		app->downloads = rm_xcalloc(1, sizeof(struct dl_list));
	return app->downloads;
}

size_t dl_count(struct app *app)
{
	return app->downloads ? list(app)->n : 0;
}

struct dl *dl_open(struct app *app, const char *host_id, const char *stream_id,
                   const struct dl_sink *sink, void *ctx)
{
	struct dl_list *l = list(app);
	if (l->n >= DL_MAX_STREAMS)
		return NULL;
	struct dl *d = rm_xcalloc(1, sizeof *d);
	d->app = app;
	rm_strlcpy(d->host_id, host_id, sizeof d->host_id);
	rm_strlcpy(d->id, stream_id, sizeof d->id);
	d->sink = *sink;
	d->ctx = ctx;
	d->next = l->head;
	l->head = d;
	l->n++;
	return d;
}

static void unlink_dl(struct dl *d)
{
	struct dl_list *l = list(d->app);
	for (struct dl **pp = &l->head; *pp; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			l->n--;
			return;
		}
}

void dl_ack(struct dl *d, uint64_t bytes)
{
	if (d && !d->ended)
		presence_send(
		    d->app->presence, d->host_id, RM_MSG_STREAM_ACK,
		    json_pack("{s:s,s:I}", "stream_id", d->id, "bytes", (json_int_t)bytes));
}

void dl_close(struct dl *d)
{
	if (!d)
		return;
	if (!d->ended)
		presence_send(d->app->presence, d->host_id, RM_MSG_STREAM_CANCEL,
		              json_pack("{s:s}", "stream_id", d->id));
	unlink_dl(d);
	free(d);
}

static struct dl *find(struct app *app, const char *host_id, const char *id)
{
	for (struct dl *d = app->downloads ? list(app)->head : NULL; d; d = d->next)
		if (id && !strcmp(d->id, id) && !strcmp(d->host_id, host_id))
			return d;
	return NULL;
}

/* Ends d (the sink may close it from inside end()). */
static void end(struct dl *d, const char *code, const char *msg)
{
	d->ended = 1;
	d->sink.end(d->ctx, code, msg);
}

static void on_data(struct dl *d, const json_t *p)
{
	const char *b64 = rmj_str(p, "data");
	size_t len = b64 ? strlen(b64) : 0, out = 0;
	unsigned char *bin = rm_xmalloc(len / 4 * 3 + 3);
	if (!b64 || sodium_base642bin(bin, len / 4 * 3 + 3, b64, len, NULL, &out, NULL,
	                              sodium_base64_VARIANT_ORIGINAL)) {
		free(bin);
		RM_WARN("download chunk is not base64; stream ended", "host_id", d->host_id);
		presence_send(d->app->presence, d->host_id, RM_MSG_STREAM_CANCEL,
		              json_pack("{s:s}", "stream_id", d->id));
		end(d, "bad_chunk", "the agent sent a malformed chunk");
		return;
	}
	d->received += out;
	d->sink.data(d->ctx, bin, out);
	free(bin);
}

void dl_deliver(struct app *app, const char *host_id, enum rm_msg_type type, const json_t *payload)
{
	struct dl *d = find(app, host_id, rmj_str(payload, "stream_id"));
	if (!d || d->ended)
		return;
	if (type == RM_MSG_STREAM_DATA) {
		on_data(d, payload);
		return;
	}
	const json_t *err = json_object_get(payload, "error");
	if (json_is_object(err))
		end(d, rmj_str(err, "code") ? rmj_str(err, "code") : "agent_error",
		    rmj_str(err, "message") ? rmj_str(err, "message") : "download failed");
	else
		end(d, NULL, NULL);
}

void dl_deliver_frame(struct app *app, const char *host_id, const unsigned char *frame, size_t len)
{
	char id[RM_PROTO_ID_MAX + 1];
	const unsigned char *p;
	size_t n;
	if (proto_stream_frame_parse(frame, len, id, &p, &n)) {
		RM_WARN("malformed download frame from an agent ignored", "host_id", host_id);
		return;
	}
	struct dl *d = find(app, host_id, id);
	if (!d || d->ended)
		return;
	d->received += n;
	d->sink.data(d->ctx, p, n);
}

void dl_host_gone(struct app *app, const char *host_id)
{
	int again = 1;
	while (again) { /* end() may close entries: restart the walk after each */
		again = 0;
		for (struct dl *d = app->downloads ? list(app)->head : NULL; d; d = d->next)
			if (!d->ended && !strcmp(d->host_id, host_id)) {
				end(d, "agent_lost", "the agent disconnected");
				again = 1;
				break;
			}
	}
}

void dl_free_all(struct app *app)
{
	struct dl_list *l = app->downloads;
	if (!l)
		return;
	while (l->head) {
		struct dl *d = l->head;
		l->head = d->next;
		free(d);
	}
	free(l);
	app->downloads = NULL;
}
