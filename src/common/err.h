#ifndef RM_COMMON_ERR_H
#define RM_COMMON_ERR_H
/* One error enum for both binaries (mosquitto/curl style): rc = f(); if (rc) goto out; */
#include <stddef.h>

enum rm_err {
	RM_OK = 0,
	RM_ERR_NOMEM,
	RM_ERR_INVAL, /* bad argument / bad input */
	RM_ERR_PROTO, /* malformed protocol data */
	RM_ERR_IO,
	RM_ERR_DB,
	RM_ERR_NOTFOUND,
	RM_ERR_AUTH, /* not authenticated / bad credentials */
	RM_ERR_FORBIDDEN,
	RM_ERR_CONFLICT,
	RM_ERR_AGAIN,
	RM_ERR_TOOBIG,
	RM_ERR_CHILD,  /* child process failed */
	RM_ERR_CRYPTO, /* decryption/verification failed */
	RM_ERR_EXPIRED,
	RM_ERR_UNKNOWN, /* unknown message type (not an error on the wire: ignored) */
	RM_ERR__COUNT
};

/* Static string, never NULL. */
const char *rm_strerror(int err);

/* Allocation failure aborts: these never return NULL. */
void *rm_xmalloc(size_t n);
void *rm_xcalloc(size_t n, size_t sz);
void *rm_xrealloc(void *p, size_t n);
char *rm_xstrdup(const char *s); /* NULL in -> NULL out */
char *rm_xstrndup(const char *s, size_t n);
char *rm_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Bounded copy that always NUL-terminates; returns RM_ERR_TOOBIG if truncated. */
int rm_strlcpy(char *dst, const char *src, size_t dstsz);
/* Strict integer parse of the whole string (no trailing junk), base 10. */
int rm_parse_i64(const char *s, long long *out);

#endif
