/* Server URL parsing (see url.h). */
#include "agent/ws/url.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"

int ws_url_parse(const char *url, struct ws_url *out)
{
	struct ws_url u;
	memset(&u, 0, sizeof u);
	const char *p;
	if (!strncmp(url, "https://", 8)) {
		u.tls = 1;
		p = url + 8;
	} else if (!strncmp(url, "http://", 7)) {
		p = url + 7;
	} else if (!strncmp(url, "wss://", 6)) {
		u.tls = 1;
		p = url + 6;
	} else if (!strncmp(url, "ws://", 5)) {
		p = url + 5;
	} else {
		return RM_ERR_INVAL;
	}
	u.port = u.tls ? 443 : 80;
	const char *hend;
	if (*p == '[') {
		const char *rb = strchr(p, ']');
		if (!rb || (size_t)(rb - p - 1) >= sizeof u.host || rb == p + 1)
			return RM_ERR_INVAL;
		memcpy(u.host, p + 1, (size_t)(rb - p - 1));
		hend = rb + 1;
	} else {
		hend = p;
		while (*hend && *hend != ':' && *hend != '/' && *hend != '?' && *hend != '#')
			hend++;
		if (hend == p || (size_t)(hend - p) >= sizeof u.host)
			return RM_ERR_INVAL;
		memcpy(u.host, p, (size_t)(hend - p));
		if (strchr(u.host, '@'))
			return RM_ERR_INVAL; /* no userinfo in the server URL */
	}
	p = hend;
	if (*p == ':') {
		long port = 0;
		p++;
		if (!isdigit((unsigned char)*p))
			return RM_ERR_INVAL;
		while (isdigit((unsigned char)*p)) {
			port = port * 10 + (*p - '0');
			if (port > 65535)
				return RM_ERR_INVAL;
			p++;
		}
		if (port == 0)
			return RM_ERR_INVAL;
		u.port = (int)port;
	}
	if (*p && *p != '/')
		return RM_ERR_INVAL;
	size_t bl = strcspn(p, "?#");
	while (bl > 0 && p[bl - 1] == '/')
		bl--;
	if (bl >= sizeof u.base)
		return RM_ERR_INVAL;
	memcpy(u.base, p, bl);
	*out = u;
	return RM_OK;
}

void ws_url_host_header(const struct ws_url *u, char *buf, size_t len)
{
	if ((u->tls && u->port == 443) || (!u->tls && u->port == 80))
		snprintf(buf, len, "%s", u->host);
	else if (strchr(u->host, ':'))
		snprintf(buf, len, "[%s]:%d", u->host, u->port);
	else
		snprintf(buf, len, "%s:%d", u->host, u->port);
}
