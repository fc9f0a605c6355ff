/* msgq: FIFO order, byte cap, per-push limit, headroom, clear. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/msgq.h"
#include "tap.h"

TEST(fifo_and_headroom)
{
	struct msgq q;
	msgq_init(&q, 0, 16);
	size_t len = 1;
	OK(msgq_peek(&q, &len) == NULL);
	EQ_INT(msgq_push(&q, "one", 3, 0), RM_OK);
	EQ_INT(msgq_push(&q, "", 0, 0), RM_OK);
	EQ_INT(msgq_push(&q, "three", 5, 0), RM_OK);
	EQ_INT(msgq_count(&q), 3);
	EQ_INT(msgq_bytes(&q), 8);
	unsigned char *p = msgq_peek(&q, &len);
	EQ_INT(len, 3);
	EQ_STR((char *)p, "one");
	memset(p - 16, 0xAA, 16); /* the headroom is ours to write (ASan checks) */
	msgq_pop(&q);
	p = msgq_peek(&q, &len);
	EQ_INT(len, 0);
	EQ_STR((char *)p, "");
	msgq_pop(&q);
	EQ_STR((char *)msgq_peek(&q, &len), "three");
	msgq_pop(&q);
	OK(msgq_peek(&q, &len) == NULL);
	EQ_INT(msgq_bytes(&q), 0);
	msgq_pop(&q); /* empty: no-op */
	msgq_cleanup(&q);
}

TEST(caps)
{
	struct msgq q;
	msgq_init(&q, 10, 0);
	EQ_INT(msgq_push(&q, "12345678901", 11, 0), RM_ERR_TOOBIG);
	EQ_INT(msgq_push(&q, "123456", 6, 0), RM_OK);
	EQ_INT(msgq_push(&q, "12345", 5, 0), RM_ERR_TOOBIG); /* 11 > 10 */
	EQ_INT(msgq_push(&q, "123", 3, 8), RM_ERR_TOOBIG);   /* droppable: 9 > 8 */
	EQ_INT(msgq_push(&q, "12", 2, 8), RM_OK);
	EQ_INT(msgq_push(&q, "12", 2, 100), RM_OK); /* a limit above the cap is the cap */
	EQ_INT(msgq_push(&q, "1", 1, 100), RM_ERR_TOOBIG);
	EQ_INT(msgq_bytes(&q), 10);
	msgq_clear(&q);
	EQ_INT(msgq_count(&q), 0);
	EQ_INT(msgq_push(&q, "1234567890", 10, 0), RM_OK); /* usable after clear */
	msgq_cleanup(&q);
}

/* flags travel with their message (the agent's binary download frames) */
TEST(flags)
{
	struct msgq q;
	size_t len = 0;
	msgq_init(&q, 0, 4);
	EQ_INT(msgq_peek_flags(&q), 0);
	EQ_INT(msgq_push(&q, "text", 4, 0), RM_OK);
	EQ_INT(msgq_push_flags(&q, "\x01\x02", 2, 0, MSGQ_BINARY), RM_OK);
	EQ_INT(msgq_peek_flags(&q), 0);
	msgq_pop(&q);
	EQ_INT(msgq_peek_flags(&q), MSGQ_BINARY);
	OK(msgq_peek(&q, &len) != NULL);
	EQ_INT(len, 2);
	msgq_pop(&q);
	EQ_INT(msgq_peek_flags(&q), 0);
	msgq_cleanup(&q);
}

int main(void)
{
	RUN(fifo_and_headroom);
	RUN(caps);
	RUN(flags);
	return tap_done();
}
