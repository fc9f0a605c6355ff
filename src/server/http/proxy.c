#include "server/http/proxy.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

struct cidr {
	int family; /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	int bits;
};

struct proxy_list {
	struct cidr *v;
	size_t n;
};

/* Parses an address; IPv4-mapped IPv6 becomes IPv4. 1 on success. */
static int parse_addr(const char *s, int *family, unsigned char out[16])
{
	if (strncmp(s, "::ffff:", 7) == 0 && strchr(s + 7, '.'))
		s += 7;
	if (inet_pton(AF_INET, s, out) == 1) {
		*family = AF_INET;
		return 1;
	}
	if (inet_pton(AF_INET6, s, out) == 1) {
		*family = AF_INET6;
		return 1;
	}
	return 0;
}

int proxy_list_parse(const char *spec, struct proxy_list **out, char *err, size_t errlen)
{
	struct proxy_list *l = rm_xcalloc(1, sizeof(*l));
	const char *p = spec ? spec : "";
	int rc = RM_OK;

	while (*p) {
		size_t n = strcspn(p, ", \t");
		if (n == 0) {
			p++;
			continue;
		}
		char item[80];
		if (n >= sizeof(item)) {
			snprintf(err, errlen, "trusted proxy entry too long");
			rc = RM_ERR_INVAL;
			goto out;
		}
		memcpy(item, p, n);
		item[n] = 0;
		p += n;
		struct cidr c = { 0 };
		char *slash = strchr(item, '/');
		long long bits = -1;
		if (slash) {
			*slash = 0;
			if (rm_parse_i64(slash + 1, &bits) != RM_OK)
				bits = -2;
		}
		if (!parse_addr(item, &c.family, c.addr)) {
			snprintf(err, errlen, "trusted proxy: '%s' is not an IP address", item);
			rc = RM_ERR_INVAL;
			goto out;
		}
		int max = c.family == AF_INET ? 32 : 128;
		if (bits == -1)
			bits = max;
		if (bits < 0 || bits > max) {
			snprintf(err, errlen, "trusted proxy: bad prefix length in '%s/%s'", item,
			         slash ? slash + 1 : "");
			rc = RM_ERR_INVAL;
			goto out;
		}
		c.bits = (int)bits;
		l->v = rm_xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
		l->v[l->n++] = c;
	}
out:
	if (rc) {
		proxy_list_free(l);
		return rc;
	}
	*out = l;
	return RM_OK;
}

void proxy_list_free(struct proxy_list *l)
{
	if (!l)
		return;
	free(l->v);
	free(l);
}

static int cidr_match(const struct cidr *c, int family, const unsigned char *a)
{
	if (c->family != family)
		return 0;
	int full = c->bits / 8, rest = c->bits % 8;
	if (memcmp(c->addr, a, (size_t)full) != 0)
		return 0;
	if (rest) {
		unsigned char mask = (unsigned char)(0xff << (8 - rest));
		if ((c->addr[full] & mask) != (a[full] & mask))
			return 0;
	}
	return 1;
}

int proxy_list_contains(const struct proxy_list *l, const char *ip)
{
	unsigned char a[16];
	int family;
	if (!l || !ip || !parse_addr(ip, &family, a))
		return 0;
	for (size_t i = 0; i < l->n; i++)
		if (cidr_match(&l->v[i], family, a))
			return 1;
	return 0;
}

void proxy_client_ip(const struct proxy_list *l, const char *peer, const char *xff, char *out,
                     size_t outlen)
{
	rm_strlcpy(out, peer ? peer : "", outlen);
	if (!l || !l->n || !xff || !proxy_list_contains(l, peer))
		return;
	/* walk right to left: each hop was appended by the proxy in front of it */
	size_t end = strlen(xff);
	while (end > 0) {
		size_t start = end;
		while (start > 0 && xff[start - 1] != ',')
			start--;
		const char *s = xff + start;
		size_t n = end - start;
		while (n && (*s == ' ' || *s == '\t')) {
			s++;
			n--;
		}
		while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		char item[64];
		unsigned char a[16];
		int family;
		if (n == 0 || n >= sizeof(item))
			return;
		memcpy(item, s, n);
		item[n] = 0;
		if (!parse_addr(item, &family, a))
			return; /* garbage: keep the last trusted hop's answer */
		rm_strlcpy(out, item, outlen);
		if (!proxy_list_contains(l, item))
			return;
		end = start ? start - 1 : 0;
	}
}
