/* Error strings and the allocation helpers that abort on OOM. */
#include "common/err.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const err_names[RM_ERR__COUNT] = {
	[RM_OK] = "ok",
	[RM_ERR_NOMEM] = "out of memory",
	[RM_ERR_INVAL] = "invalid argument",
	[RM_ERR_PROTO] = "protocol error",
	[RM_ERR_IO] = "i/o error",
	[RM_ERR_DB] = "database error",
	[RM_ERR_NOTFOUND] = "not found",
	[RM_ERR_AUTH] = "authentication failed",
	[RM_ERR_FORBIDDEN] = "forbidden",
	[RM_ERR_CONFLICT] = "conflict",
	[RM_ERR_AGAIN] = "try again",
	[RM_ERR_TOOBIG] = "too big",
	[RM_ERR_CHILD] = "child process failed",
	[RM_ERR_CRYPTO] = "cryptographic verification failed",
	[RM_ERR_EXPIRED] = "expired",
	[RM_ERR_UNKNOWN] = "unknown message type",
};

const char *rm_strerror(int err)
{
	if (err < 0 || err >= RM_ERR__COUNT || !err_names[err])
		return "unknown error";
	return err_names[err];
}

static void oom(size_t n)
{
	fprintf(stderr, "level=error msg=\"out of memory\" bytes=%zu\n", n);
	abort();
}

void *rm_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *rm_xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);
	if (!p)
		oom(n * sz);
	return p;
}

void *rm_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

char *rm_xstrdup(const char *s)
{
	if (!s)
		return NULL;
	return rm_xstrndup(s, strlen(s));
}

char *rm_xstrndup(const char *s, size_t n)
{
	if (!s)
		return NULL;
	size_t l = strnlen(s, n);
	char *p = rm_xmalloc(l + 1);
	memcpy(p, s, l);
	p[l] = 0;
	return p;
}

char *rm_xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *p = NULL;
	int n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom(0);
	return p;
}

int rm_strlcpy(char *dst, const char *src, size_t dstsz)
{
	if (!dst || dstsz == 0)
		return RM_ERR_TOOBIG;
	if (!src)
		src = "";
	size_t l = strlen(src);
	if (l >= dstsz) {
		memcpy(dst, src, dstsz - 1);
		dst[dstsz - 1] = 0;
		return RM_ERR_TOOBIG;
	}
	memcpy(dst, src, l + 1);
	return RM_OK;
}

int rm_parse_i64(const char *s, long long *out)
{
	if (!s || !*s)
		return RM_ERR_INVAL;
	/* strtoll accepts leading spaces; we do not */
	if (!((*s >= '0' && *s <= '9') || *s == '-' || *s == '+'))
		return RM_ERR_INVAL;
	char *end = NULL;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return RM_ERR_INVAL;
	*out = v;
	return RM_OK;
}
