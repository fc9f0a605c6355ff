/* Fuzz target: the HTTP request path the server runs on raw bytes from any client —
 * request head parsing, message framing (Content-Length / Transfer-Encoding), target
 * splitting and percent-decoding, query and cookie parsing, the static-path and
 * Accept-Encoding / If-None-Match checks — and the WebSocket frame parser on the bytes
 * that follow the head. Invariants are asserted (abort = finding), not just "no crash". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/http/parse.h"
#include "server/http/wsframe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void free_pair(void *ud, char *name, char *value)
{
	size_t *n = ud;

	if (!name[0])
		abort(); /* empty names are skipped by the parser */
	(*n)++;
	free(name);
	free(value);
}

static void cookie_cb(void *ud, const char *n, size_t nl, const char *v, size_t vl)
{
	(void)ud;
	if (nl == 0 || memchr(n, ';', nl) || memchr(v, ';', vl))
		abort();
}

static void frames(const unsigned char *b, size_t n)
{
	unsigned char buf[4096];

	while (n) {
		struct ws_frame f;
		int code = 0, rc = ws_frame_parse(b, n, &f, &code);

		if (rc <= 0) {
			if (rc < 0 && code != 1002)
				abort();
			return;
		}
		if (f.hdr_len < 6 || f.hdr_len > 14)
			abort();
		if (n - f.hdr_len < f.len)
			return;
		if (f.len <= sizeof(buf)) {
			memcpy(buf, b + f.hdr_len, (size_t)f.len);
			ws_unmask(buf, (size_t)f.len, f.mask, 0);
			(void)ws_utf8_valid(buf, (size_t)f.len);
		}
		b += f.hdr_len + f.len;
		n -= f.hdr_len + (size_t)f.len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct http_head h;
	struct http_framing fr;
	int status = 0, rc = http_parse_head(buf, size, &h, &status);
	char *path = NULL;
	const char *q;
	size_t ql, pairs = 0, vl;
	const char *v;

	if (rc < 0) {
		if (status != 400 && status != 431 && status != 501 && status != 505)
			abort();
		return 0;
	}
	if (rc == 0)
		return 0;
	if (h.head_len == 0 || h.head_len > size || h.nhdr > HTTP_MAX_HEADERS || !h.method[0])
		abort();
	rc = http_head_framing(&h, &fr);
	if (rc && rc != 400 && rc != 411 && rc != 417)
		abort();
	if (!rc && fr.content_length < 0)
		abort();
	if (http_split_target(h.target, h.target_len, &path, &q, &ql) == 0) {
		if (!http_path_ok(path) || strlen(path) > HTTP_MAX_PATH)
			abort();
		(void)http_static_path_safe(path);
		http_parse_query(q, ql, 64, free_pair, &pairs);
		if (pairs > 64)
			abort();
		free(path);
	}
	v = http_head_get(&h, "cookie", &vl);
	if (v) {
		char *c = strndup(v, vl);

		http_parse_cookies(c, cookie_cb, NULL);
		free(c);
	}
	v = http_head_get(&h, "accept-encoding", &vl);
	if (v) {
		char *c = strndup(v, vl);

		(void)http_accepts_gzip(c);
		(void)http_etag_matches(c, "\"0123456789abcdef\"");
		free(c);
	}
	frames((const unsigned char *)data + h.head_len, size - h.head_len);
	return 0;
}
