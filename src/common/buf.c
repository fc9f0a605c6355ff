/* Capped growable buffer. */
#include "common/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

void rm_buf_init(struct rm_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void rm_buf_cleanup(struct rm_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void rm_buf_reset(struct rm_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = 0;
}

/* Makes room for n more bytes plus the terminating NUL. */
static int buf_reserve(struct rm_buf *b, size_t n)
{
	if (n > SIZE_MAX / 2 - b->len)
		return RM_ERR_TOOBIG;
	if (b->max && b->len + n > b->max)
		return RM_ERR_TOOBIG;
	size_t need = b->len + n + 1;
	if (need <= b->cap)
		return RM_OK;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	b->data = rm_xrealloc(b->data, cap);
	b->cap = cap;
	return RM_OK;
}

int rm_buf_append(struct rm_buf *b, const void *p, size_t n)
{
	int rc = buf_reserve(b, n);
	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
	return RM_OK;
}

int rm_buf_append_str(struct rm_buf *b, const char *s)
{
	return rm_buf_append(b, s, strlen(s));
}

int rm_buf_appendf(struct rm_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return RM_ERR_NOMEM;
	int rc = rm_buf_append(b, s, (size_t)n);
	free(s);
	return rc;
}

void rm_buf_consume(struct rm_buf *b, size_t n)
{
	if (n >= b->len) {
		rm_buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = 0;
}

char *rm_buf_take(struct rm_buf *b)
{
	char *p = b->data;
	if (!p)
		p = rm_xstrdup("");
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}
