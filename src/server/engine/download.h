#ifndef RM_SERVER_ENGINE_DOWNLOAD_H
#define RM_SERVER_ENGINE_DOWNLOAD_H
/* Downloads from a snapshot, on the server side of the stream protocol
 * (docs/internals/protocol.md, "Snapshot browsing and downloads"): the agent's stream.data
 * chunks (decoded) and stream.end go to the sink of the registered stream; the sink's owner
 * acknowledges what it consumed (stream.ack, the agent's credit window) and closes the
 * stream when done or when its client went away (stream.cancel when not ended).
 * Loop thread only. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/proto.h"

struct app;
struct dl;

#define DL_MAX_STREAMS 64 /* server-wide */

struct dl_sink {
	void (*data)(void *ctx, const unsigned char *p, size_t n);
	/* once: code NULL = complete; "agent_lost" when the agent disconnected */
	void (*end)(void *ctx, const char *code, const char *msg);
};

/* Registers stream_id of host_id. NULL when DL_MAX_STREAMS are open. */
struct dl *dl_open(struct app *app, const char *host_id, const char *stream_id,
                   const struct dl_sink *sink, void *ctx);
/* bytes: total raw bytes consumed so far. */
void dl_ack(struct dl *d, uint64_t bytes);
/* Unregisters (no more callbacks); tells the agent to stop unless the stream ended. */
void dl_close(struct dl *d);
size_t dl_count(struct app *app);

/* From the agent hub: stream.data / stream.end of host_id. Unknown streams are ignored
 * (late chunks after a cancel); a chunk that is not base64 ends the stream. */
void dl_deliver(struct app *app, const char *host_id, enum rm_msg_type type, const json_t *payload);
/* From the agent hub: a binary data frame of host_id (proto_stream_frame_parse). */
void dl_deliver_frame(struct app *app, const char *host_id, const unsigned char *frame, size_t len);
/* From the agent hub: the connection closed. */
void dl_host_gone(struct app *app, const char *host_id);
void dl_free_all(struct app *app); /* at exit */

#endif
