#ifndef RM_COMMON_BUF_H
#define RM_COMMON_BUF_H
/* Growable byte buffer with a size cap. data is always NUL-terminated (data[len] == 0)
 * once anything was appended; data may be NULL while empty. */
#include <stddef.h>

struct rm_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max; /* 0 = unlimited; otherwise appends beyond max fail with RM_ERR_TOOBIG */
};

void rm_buf_init(struct rm_buf *b, size_t max);
void rm_buf_cleanup(struct rm_buf *b); /* frees data, keeps max */
void rm_buf_reset(struct rm_buf *b);   /* len = 0, keeps memory */
/* RM_OK or RM_ERR_TOOBIG (buffer unchanged on error). */
int rm_buf_append(struct rm_buf *b, const void *p, size_t n);
int rm_buf_append_str(struct rm_buf *b, const char *s);
int rm_buf_appendf(struct rm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drops the first n bytes (n > len drops everything). */
void rm_buf_consume(struct rm_buf *b, size_t n);
/* Returns the data (NUL-terminated, never NULL: "" if empty), caller frees; buffer is
 * left empty. */
char *rm_buf_take(struct rm_buf *b);

#endif
