#ifndef RM_AGENT_WS_URL_H
#define RM_AGENT_WS_URL_H
/* The server URL the agent dials: http(s)://host[:port][/base] (also ws/wss). Pure code. */
#include <stddef.h>

struct ws_url {
	int tls;
	int port;
	char host[256];  /* without brackets for IPv6 */
	char base[1024]; /* path prefix without trailing slash ("" for none) */
};

/* RM_OK or RM_ERR_INVAL (unknown scheme, userinfo, bad port, too long); *out set only
 * on success. Query and fragment are ignored. */
int ws_url_parse(const char *url, struct ws_url *out);
/* Host header value: "host", "host:port" or "[v6]:port" (default ports omitted). */
void ws_url_host_header(const struct ws_url *u, char *buf, size_t len);

#endif
