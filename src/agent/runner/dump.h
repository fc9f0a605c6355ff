#ifndef RM_AGENT_RUNNER_DUMP_H
#define RM_AGENT_RUNNER_DUMP_H
/* Downloads from a snapshot: `restic dump` streamed to the server over the agent's
 * connection (docs/internals/protocol.md, "Snapshot browsing and downloads").
 * stream.open -> stream.open.result {type, size} -> binary data frames while the
 * bytes in flight (sent - acknowledged by stream.ack) stay under the window; restic's
 * stdout is not read while the window is full, so a slow browser pauses restic itself.
 * stream.end closes it; stream.cancel (or a lost connection) kills restic.
 * Loop thread only. */
#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#include "agent/runner/browse.h"
#include "agent/runner/runner.h"

struct dumps;

struct dump_io {
	/* stream.open.result: result_take ({stream_id,type,size}) or code + msg */
	void (*open_result)(void *ud, const char *request_id, json_t *result_take, const char *code,
	                    const char *msg);
	/* the bytes (a binary frame); non-zero: the connection cannot take them (the stream
	 * is aborted) */
	int (*data)(void *ud, const char *stream_id, const void *buf, size_t n);
	/* stream.end; code NULL = complete */
	void (*end)(void *ud, const char *stream_id, uint64_t bytes, const char *code,
	            const char *msg);
	void *ud;
};

struct dumps *dumps_new(uv_loop_t *loop, struct browse *b, const char *state_dir,
                        const char *restic_path, const struct dump_io *io);
void dumps_free(struct dumps *d);
void dumps_open(struct dumps *d, const struct runner_creds *creds, const char *request_id,
                const json_t *payload);
void dumps_ack(struct dumps *d, const char *stream_id, uint64_t bytes);
void dumps_cancel(struct dumps *d, const char *stream_id);
/* The connection is gone: every stream ends without a word. */
void dumps_cancel_all(struct dumps *d);

#endif
