#ifndef RM_SERVER_HTTP_PARSE_H
#define RM_SERVER_HTTP_PARSE_H
/* Pure HTTP/1.1 request parsing: no I/O, no allocation except where a function says so.
 * The server feeds it the bytes it has buffered; everything here is unit-tested and fuzzed
 * (tests/fuzz/fuzz_http.c).
 *
 * Strictness is deliberate (request smuggling): CRLF line ends only, no obs-fold, no
 * whitespace before the colon, one Content-Length value, Transfer-Encoding refused. */
#include <stddef.h>

#define HTTP_MAX_HEAD 16384 /* request line + headers; more -> 431 */
#define HTTP_MAX_HEADERS 64 /* header lines; more -> 431 */
#define HTTP_MAX_PATH 4096

struct http_hdr {
	const char *name; /* borrowed from the parsed buffer, not NUL-terminated */
	size_t nlen;
	const char *val; /* trimmed of surrounding spaces/tabs */
	size_t vlen;
};

struct http_head {
	char method[8];     /* "GET" ... (only the methods the server knows) */
	const char *target; /* raw request-target, borrowed */
	size_t target_len;
	int minor; /* HTTP/1.<minor> */
	struct http_hdr hdr[HTTP_MAX_HEADERS];
	size_t nhdr;
	size_t head_len; /* bytes of the head including the blank line */
};

/* Parses the request head at the start of buf.
 * Returns 1 when complete (h filled, h->head_len set), 0 when more bytes are needed, or
 * -1 with *status set to the HTTP status to answer (400 malformed, 431 too large,
 * 501 unknown method, 505 version). Pointers in h borrow from buf. */
int http_parse_head(const char *buf, size_t len, struct http_head *h, int *status);

/* Header value by case-insensitive name (first occurrence), or NULL; *vlen set. */
const char *http_head_get(const struct http_head *h, const char *name, size_t *vlen);

struct http_framing {
	long long content_length; /* 0 when absent */
	int keep_alive;           /* connection persists after the response */
	int expect_continue;      /* "Expect: 100-continue" */
	int upgrade_websocket;    /* Upgrade: websocket + Connection: upgrade */
};
/* Message framing rules (RFC 9112 §6): Content-Length must be one non-negative decimal
 * (repeated identical values tolerated); Transfer-Encoding with Content-Length -> 400,
 * Transfer-Encoding alone -> 411 (chunked request bodies are not supported). Returns 0
 * or the status to answer. */
int http_head_framing(const struct http_head *h, struct http_framing *f);

/* Splits the request-target into a percent-decoded path (malloc'd, NUL-terminated) and a
 * pointer/length to the raw query (after '?', borrowed). Refuses (returns -1) targets
 * that are not origin-form, bad %-escapes, %00, control bytes, and paths over
 * HTTP_MAX_PATH. */
int http_split_target(const char *target, size_t len, char **path, const char **query,
                      size_t *qlen);

/* Query parsing: calls cb for each "name=value" pair of a raw query string, with both
 * percent-decoded ('+' is a space) into malloc'd strings owned by the callee (cb must
 * free them or keep them). Pairs with a bad escape or an embedded NUL are skipped. At
 * most max_pairs pairs. */
void http_parse_query(const char *q, size_t qlen, size_t max_pairs,
                      void (*cb)(void *ud, char *name, char *value), void *ud);

/* Cookie header: cb(name, nlen, value, vlen) per pair; quotes around values removed. */
void http_parse_cookies(const char *s,
                        void (*cb)(void *ud, const char *n, size_t nl, const char *v, size_t vl),
                        void *ud);

/* 1 when an Accept-Encoding value admits gzip (present and not q=0). */
int http_accepts_gzip(const char *ae);
/* 1 when an If-None-Match value matches etag (weak comparison, "*" matches). */
int http_etag_matches(const char *inm, const char *etag);
/* 1 if a decoded path is acceptable at all: absolute, no control bytes, not overlong. */
int http_path_ok(const char *p);
/* 1 if a decoded static path has no backslash, no '%', no "." or ".." segments. */
int http_static_path_safe(const char *p);

#endif
