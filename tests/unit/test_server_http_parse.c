/* Pure HTTP request parsing and WebSocket framing (server/http/parse.c, wsframe.c). */
#include <stdlib.h>
#include <string.h>

#include "server/http/parse.h"
#include "server/http/wsframe.h"
#include "tap.h"

static int parse(const char *s, struct http_head *h, int *st)
{
	return http_parse_head(s, strlen(s), h, st);
}

TEST(head_basic)
{
	struct http_head h;
	int st = 0;
	size_t vl;
	const char *req = "GET /a/b?x=1 HTTP/1.1\r\nHost: x\r\nX-Csrf-Token:  abc \r\n\r\nBODY";

	EQ_INT(parse(req, &h, &st), 1);
	EQ_STR(h.method, "GET");
	EQ_INT(h.minor, 1);
	EQ_INT(h.nhdr, 2);
	EQ_INT(h.head_len, strlen(req) - 4);
	OK(h.target_len == 8 && memcmp(h.target, "/a/b?x=1", 8) == 0);
	OK(http_head_get(&h, "x-csrf-token", &vl) && vl == 3);
	/* incomplete: need more, at every cut */
	for (size_t n = 0; n < strlen(req) - 4; n++)
		OK(http_parse_head(req, n, &h, &st) == 0);
}

TEST(head_refusals)
{
	static const struct {
		const char *req;
		int status;
	} cases[] = {
		{ "BREW / HTTP/1.1\r\n\r\n", 501 },
		{ "GET / HTTP/2.0\r\n\r\n", 505 },
		{ "GET / HTTP/1.2\r\n\r\n", 505 },
		{ "GET / FTP/1.1\r\n\r\n", 400 },
		{ "GET /\r\n\r\n", 400 },
		{ "GET  / HTTP/1.1\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\nHost: x\n\n", 400 },
		{ "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\n: x\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nA: \x01\r\n\r\n", 400 },
		{ "GET /\x7f HTTP/1.1\r\n\r\n", 400 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_head h;
		int st = 0;

		EQ_INT(parse(cases[i].req, &h, &st), -1);
		EQ_INT(st, cases[i].status);
	}
	{
		/* too many headers / too big */
		char *big = malloc(HTTP_MAX_HEAD + 100);
		struct http_head h;
		int st = 0;

		strcpy(big, "GET / HTTP/1.1\r\n");
		for (int i = 0; i < HTTP_MAX_HEADERS + 1; i++)
			strcat(big, "A: b\r\n");
		strcat(big, "\r\n");
		EQ_INT(parse(big, &h, &st), -1);
		EQ_INT(st, 431);
		memset(big, 'a', HTTP_MAX_HEAD + 10);
		memcpy(big, "GET /", 5);
		EQ_INT(http_parse_head(big, HTTP_MAX_HEAD + 10, &h, &st), -1);
		EQ_INT(st, 431);
		free(big);
	}
}

static int framing(const char *req, struct http_framing *f)
{
	struct http_head h;
	int st = 0;

	if (parse(req, &h, &st) != 1)
		return -1;
	return http_head_framing(&h, f);
}

TEST(framing_rules)
{
	struct http_framing f;

	EQ_INT(framing("POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n", &f), 0);
	EQ_INT(f.content_length, 12);
	OK(f.keep_alive);
	EQ_INT(framing("POST / HTTP/1.1\r\nContent-Length: 12\r\nContent-Length: 12\r\n\r\n", &f),
	       0);
	EQ_INT(framing("POST / HTTP/1.1\r\nContent-Length: 12\r\nContent-Length: 13\r\n\r\n", &f),
	       400);
	EQ_INT(framing("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", &f), 400);
	EQ_INT(framing("POST / HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n", &f), 400);
	EQ_INT(framing("POST / HTTP/1.1\r\nContent-Length: 99999999999999999\r\n\r\n", &f), 400);
	EQ_INT(framing("POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n",
	               &f),
	       400);
	EQ_INT(framing("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &f), 411);
	EQ_INT(framing("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", &f),
	       0);
	OK(f.expect_continue);
	EQ_INT(framing("POST / HTTP/1.1\r\nExpect: other\r\n\r\n", &f), 417);
	EQ_INT(framing("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &f), 0);
	OK(!f.keep_alive);
	EQ_INT(framing("GET / HTTP/1.0\r\n\r\n", &f), 0);
	OK(!f.keep_alive);
	EQ_INT(framing("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &f), 0);
	OK(f.keep_alive);
	EQ_INT(
	    framing(
	        "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n",
	        &f),
	    0);
	OK(f.upgrade_websocket);
	EQ_INT(framing("GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", &f), 0);
	OK(!f.upgrade_websocket);
}

static void collect(void *ud, char *n, char *v)
{
	char *out = ud;

	strcat(out, n);
	strcat(out, "=");
	strcat(out, v);
	strcat(out, ";");
	free(n);
	free(v);
}

TEST(targets_and_queries)
{
	char *p = NULL;
	const char *q;
	size_t ql;
	char out[256] = "";
	static const char *const bad[] = { "",      "x",    "http://h/", "/a%00b",
		                           "/a%zz", "/a%4", "/a#f",      "/a%0a" };

	EQ_INT(http_split_target("/a%2Fb/c?x=1", 12, &p, &q, &ql), 0);
	EQ_STR(p, "/a/b/c");
	OK(ql == 3 && memcmp(q, "x=1", 3) == 0);
	free(p);
	EQ_INT(http_split_target("/", 1, &p, &q, &ql), 0);
	EQ_INT(ql, 0);
	free(p);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EQ_INT(http_split_target(bad[i], strlen(bad[i]), &p, &q, &ql), -1);
	http_parse_query("x=h%C3%A9llo+w&&y&=z&bad=%zz&k=v", 32, 64, collect, out);
	EQ_STR(out, "x=h\xc3\xa9llo w;y=;k=v;");
	out[0] = 0;
	http_parse_query("a=1&b=2&c=3", 11, 2, collect, out);
	EQ_STR(out, "a=1;b=2;");
}

TEST(small_checks)
{
	OK(http_accepts_gzip("gzip, deflate"));
	OK(http_accepts_gzip("br;q=1, GZIP;q=0.5"));
	OK(!http_accepts_gzip("gzip;q=0"));
	OK(!http_accepts_gzip("gzip;q=0.000, br"));
	OK(!http_accepts_gzip("br"));
	OK(!http_accepts_gzip(NULL));
	OK(http_etag_matches("W/\"zzz\", \"abc\"", "\"abc\""));
	OK(http_etag_matches("*", "\"abc\""));
	OK(!http_etag_matches("\"abcd\"", "\"abc\""));
	OK(http_static_path_safe("/assets/app.js"));
	OK(!http_static_path_safe("/assets/../x"));
	OK(!http_static_path_safe("/a/./b"));
	OK(!http_static_path_safe("/a\\b"));
	OK(!http_static_path_safe("/a%2e"));
	OK(http_path_ok("/x"));
	OK(!http_path_ok("x"));
	OK(!http_path_ok("/a\tb"));
}

TEST(ws_frames)
{
	struct ws_frame f;
	int code = 0;
	unsigned char hdr[WS_FRAME_HDR_MAX];
	char acc[29];
	const unsigned char masked_hello[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
		                               0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	unsigned char p[5];

	EQ_INT(ws_frame_parse(masked_hello, 1, &f, &code), 0);
	EQ_INT(ws_frame_parse(masked_hello, 5, &f, &code), 0);
	EQ_INT(ws_frame_parse(masked_hello, sizeof(masked_hello), &f, &code), 1);
	OK(f.fin && f.opcode == WS_OP_TEXT && f.len == 5 && f.hdr_len == 6);
	memcpy(p, masked_hello + 6, 5);
	ws_unmask(p, 5, f.mask, 0);
	OK(memcmp(p, "Hello", 5) == 0);
	/* unmasked client frame, reserved bits, unknown opcode, long/fragmented control */
	{
		const unsigned char unmasked[] = { 0x81, 0x05, 'H', 'e', 'l', 'l', 'o' };
		const unsigned char rsv[] = { 0xc1, 0x80, 0, 0, 0, 0 };
		const unsigned char op3[] = { 0x83, 0x80, 0, 0, 0, 0 };
		const unsigned char ping_frag[] = { 0x09, 0x80, 0, 0, 0, 0 };
		const unsigned char ping_long[] = { 0x89, 0xfe, 0, 200, 0, 0, 0, 0 };
		const unsigned char len63[] = { 0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0 };

		EQ_INT(ws_frame_parse(unmasked, sizeof(unmasked), &f, &code), -1);
		EQ_INT(code, 1002);
		EQ_INT(ws_frame_parse(rsv, sizeof(rsv), &f, &code), -1);
		EQ_INT(ws_frame_parse(op3, sizeof(op3), &f, &code), -1);
		EQ_INT(ws_frame_parse(ping_frag, sizeof(ping_frag), &f, &code), -1);
		EQ_INT(ws_frame_parse(ping_long, sizeof(ping_long), &f, &code), -1);
		EQ_INT(ws_frame_parse(len63, sizeof(len63), &f, &code), -1);
	}
	EQ_INT(ws_frame_header(hdr, WS_OP_TEXT, 5), 2);
	OK(hdr[0] == 0x81 && hdr[1] == 5);
	EQ_INT(ws_frame_header(hdr, WS_OP_TEXT, 300), 4);
	OK(hdr[1] == 126 && hdr[2] == 1 && hdr[3] == 44);
	EQ_INT(ws_frame_header(hdr, WS_OP_BINARY, 70000), 10);
	/* RFC 6455 §1.3 example */
	EQ_INT(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, acc), 0);
	EQ_STR(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	EQ_INT(ws_accept_key("short", 5, acc), -1);
	EQ_INT(ws_accept_key("dGhlIHNhbXBsZSBub25j!!==", 24, acc), -1);
	OK(ws_utf8_valid((const unsigned char *)"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15));
	OK(!ws_utf8_valid((const unsigned char *)"\xc3\x28", 2));
	OK(!ws_utf8_valid((const unsigned char *)"\xe0\x80\xaf", 3));     /* overlong */
	OK(!ws_utf8_valid((const unsigned char *)"\xed\xa0\x80", 3));     /* surrogate */
	OK(!ws_utf8_valid((const unsigned char *)"\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	OK(!ws_utf8_valid((const unsigned char *)"\xe2\x82", 2));         /* truncated */
}

/* the word-at-a-time unmask equals the byte loop at every alignment, offset and length */
TEST(unmask_words)
{
	static unsigned char a[100], b[100];
	const unsigned char mask[4] = { 0x37, 0xfa, 0x21, 0x3d };
	int bad = 0;
	for (size_t start = 0; start < 9; start++)
		for (size_t n = 0; n + start <= 90; n += 7)
			for (uint64_t off = 0; off < 4; off++) {
				for (size_t i = 0; i < sizeof a; i++)
					a[i] = b[i] = (unsigned char)(i * 31 + 7);
				ws_unmask(a + start, n, mask, off);
				for (size_t i = 0; i < n; i++)
					b[start + i] ^= mask[(off + i) & 3];
				bad += memcmp(a, b, sizeof a) != 0;
			}
	EQ_INT(bad, 0);
}

int main(void)
{
	RUN(head_basic);
	RUN(unmask_words);
	RUN(head_refusals);
	RUN(framing_rules);
	RUN(targets_and_queries);
	RUN(small_checks);
	RUN(ws_frames);
	return tap_done();
}
