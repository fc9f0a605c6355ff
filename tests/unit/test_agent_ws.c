/* ws/url: the server URL forms the agent accepts, and its Host header. */
#include "agent/ws/url.h"
#include "common/err.h"
#include "tap.h"

TEST(url_parse)
{
	struct ws_url u;
	char hdr[300];
	EQ_INT(ws_url_parse("https://rm.example.org/base/", &u), RM_OK);
	EQ_INT(u.tls, 1);
	EQ_INT(u.port, 443);
	EQ_STR(u.host, "rm.example.org");
	EQ_STR(u.base, "/base");
	ws_url_host_header(&u, hdr, sizeof hdr);
	EQ_STR(hdr, "rm.example.org");
	EQ_INT(ws_url_parse("ws://127.0.0.1:8080/?x#y", &u), RM_OK);
	EQ_INT(u.tls, 0);
	EQ_INT(u.port, 8080);
	EQ_STR(u.base, "");
	ws_url_host_header(&u, hdr, sizeof hdr);
	EQ_STR(hdr, "127.0.0.1:8080");
	EQ_INT(ws_url_parse("http://[::1]:9000/rm", &u), RM_OK);
	EQ_STR(u.host, "::1");
	ws_url_host_header(&u, hdr, sizeof hdr);
	EQ_STR(hdr, "[::1]:9000");
	const char *bad[] = { "ftp://x", "http://", "http://user:pw@host/", "http://h:0",
		              "http://h:65536", "http://h:x", "http://[::1", "http://h?q" /* a query needs a path */, NULL };
	for (int i = 0; bad[i]; i++) {
		u.port = -7;
		EQ_INT(ws_url_parse(bad[i], &u), RM_ERR_INVAL);
		EQ_INT(u.port, -7); /* untouched on error */
	}
}

int main(void)
{
	RUN(url_parse);
	return tap_done();
}
