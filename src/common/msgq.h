#ifndef RM_COMMON_MSGQ_H
#define RM_COMMON_MSGQ_H
/* Bounded FIFO of byte messages for a transport's send path (the agent's WebSocket today,
 * the server's connections later). Each message is copied into one allocation with
 * `headroom` spare bytes in front (LWS_PRE for lws_write, which writes its frame header
 * there) and a NUL after it. The queue refuses a message that would take its payload
 * bytes over the cap instead of growing: the producer decides whether to drop or retry.
 * Not thread-safe; no I/O. */
#include <stddef.h>

struct msgq_item;

struct msgq {
	struct msgq_item *head, *tail;
	size_t bytes; /* payload bytes queued (headroom not counted) */
	size_t count;
	size_t max_bytes; /* cap on bytes; 0 = no cap */
	size_t headroom;
};

void msgq_init(struct msgq *q, size_t max_bytes, size_t headroom);
/* Frees every message; the queue stays usable (msgq_clear). */
void msgq_cleanup(struct msgq *q);
void msgq_clear(struct msgq *q);
/* Copies len bytes to the back. limit: a lower cap for this message only (0 = max_bytes),
 * so that droppable traffic can leave room for the rest. RM_OK or RM_ERR_TOOBIG (not
 * queued). */
int msgq_push(struct msgq *q, const void *data, size_t len, size_t limit);
/* Same, with flags kept with the message (e.g. MSGQ_BINARY for a transport's frame type). */
#define MSGQ_BINARY 1u
int msgq_push_flags(struct msgq *q, const void *data, size_t len, size_t limit, unsigned flags);
/* The front message's flags (0 when empty). */
unsigned msgq_peek_flags(const struct msgq *q);
/* The front message: its first byte (q->headroom writable bytes precede it, a NUL follows
 * it) and its length in *len. Borrowed until msgq_pop/msgq_clear. NULL when empty. */
unsigned char *msgq_peek(const struct msgq *q, size_t *len);
/* Drops the front message (no-op when empty). */
void msgq_pop(struct msgq *q);
size_t msgq_bytes(const struct msgq *q);
size_t msgq_count(const struct msgq *q);

#endif
