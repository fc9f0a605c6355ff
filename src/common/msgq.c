/* Bounded FIFO of byte messages with per-message headroom (see msgq.h). */
#include "common/msgq.h"

#include <string.h>
#include <stdlib.h>

#include "common/err.h"

struct msgq_item {
	struct msgq_item *next;
	size_t len;
	unsigned flags;
	unsigned char data[]; /* headroom spare bytes, the message, a NUL */
};

void msgq_init(struct msgq *q, size_t max_bytes, size_t headroom)
{
	memset(q, 0, sizeof *q);
	q->max_bytes = max_bytes;
	q->headroom = headroom;
}

void msgq_clear(struct msgq *q)
{
	struct msgq_item *m = q->head;
	while (m) {
		struct msgq_item *n = m->next;
		free(m);
		m = n;
	}
	q->head = q->tail = NULL;
	q->bytes = 0;
	q->count = 0;
}

void msgq_cleanup(struct msgq *q)
{
	msgq_clear(q);
}

int msgq_push(struct msgq *q, const void *data, size_t len, size_t limit)
{
	return msgq_push_flags(q, data, len, limit, 0);
}

unsigned msgq_peek_flags(const struct msgq *q)
{
	return q->head ? q->head->flags : 0;
}

int msgq_push_flags(struct msgq *q, const void *data, size_t len, size_t limit, unsigned flags)
{
	size_t cap = limit ? limit : q->max_bytes;
	if (q->max_bytes && q->max_bytes < cap)
		cap = q->max_bytes;
	if (cap && (len > cap || q->bytes > cap - len))
		return RM_ERR_TOOBIG;
	struct msgq_item *m = rm_xmalloc(sizeof *m + q->headroom + len + 1);
	m->next = NULL;
	m->len = len;
	m->flags = flags;
	if (len)
		memcpy(m->data + q->headroom, data, len);
	m->data[q->headroom + len] = 0;
	if (q->tail)
		q->tail->next = m;
	else
		q->head = m;
	q->tail = m;
	q->bytes += len;
	q->count++;
	return RM_OK;
}

unsigned char *msgq_peek(const struct msgq *q, size_t *len)
{
	if (!q->head)
		return NULL;
	*len = q->head->len;
	return q->head->data + q->headroom;
}

void msgq_pop(struct msgq *q)
{
	struct msgq_item *m = q->head;
	if (!m)
		return;
	q->head = m->next;
	if (!q->head)
		q->tail = NULL;
	q->bytes -= m->len;
	q->count--;
	free(m);
}

size_t msgq_bytes(const struct msgq *q)
{
	return q->bytes;
}

size_t msgq_count(const struct msgq *q)
{
	return q->count;
}
