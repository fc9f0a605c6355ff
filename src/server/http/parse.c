/* Pure HTTP/1.1 request parsing (see parse.h for the strictness rules and why). */
#include "server/http/parse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/crypto.h"
#include "common/err.h"

static const char *const known_methods[] = { "GET",    "POST", "PUT",     "PATCH",
	                                     "DELETE", "HEAD", "OPTIONS", NULL };

/* RFC 9110 tchar */
static int is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-value bytes: visible ASCII, obs-text, SP and HTAB */
static int is_vchar(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* Finds "\r\n" starting at p (within end); returns pointer to '\r' or NULL. A bare '\n'
 * (not preceded by '\r') sets *bad. */
static const char *find_crlf(const char *p, const char *end, int *bad)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	if (!nl)
		return NULL;
	if (nl == p || nl[-1] != '\r') {
		*bad = 1;
		return NULL;
	}
	return nl - 1;
}

static int parse_request_line(const char *p, const char *e, struct http_head *h, int *status)
{
	const char *sp1 = memchr(p, ' ', (size_t)(e - p)), *sp2;
	size_t ml;
	int known = 0;

	*status = 400;
	if (!sp1 || sp1 == p)
		return -1;
	ml = (size_t)(sp1 - p);
	for (size_t i = 0; i < ml; i++)
		if (!is_tchar((unsigned char)p[i]))
			return -1;
	for (size_t i = 0; known_methods[i]; i++)
		if (strlen(known_methods[i]) == ml && memcmp(known_methods[i], p, ml) == 0)
			known = 1;
	if (!known) {
		*status = 501;
		return -1;
	}
	memcpy(h->method, p, ml);
	h->method[ml] = '\0';
	sp2 = memchr(sp1 + 1, ' ', (size_t)(e - sp1 - 1));
	if (!sp2 || sp2 == sp1 + 1)
		return -1;
	h->target = sp1 + 1;
	h->target_len = (size_t)(sp2 - sp1 - 1);
	for (size_t i = 0; i < h->target_len; i++) {
		unsigned char c = (unsigned char)h->target[i];

		if (c <= 0x20 || c == 0x7f)
			return -1;
	}
	if ((size_t)(e - sp2 - 1) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0) {
		if ((size_t)(e - sp2 - 1) == 8 && memcmp(sp2 + 1, "HTTP/", 5) == 0)
			*status = 505;
		return -1;
	}
	if (sp2[8] != '0' && sp2[8] != '1') {
		*status = 505;
		return -1;
	}
	h->minor = sp2[8] - '0';
	return 0;
}

static int parse_header_line(const char *p, const char *e, struct http_head *h, int *status)
{
	const char *colon = memchr(p, ':', (size_t)(e - p));
	const char *v, *ve;

	*status = 400;
	if (!colon || colon == p)
		return -1; /* also rejects obs-fold (line starting with SP/HTAB) */
	for (const char *q = p; q < colon; q++)
		if (!is_tchar((unsigned char)*q))
			return -1;
	v = colon + 1;
	ve = e;
	for (const char *q = v; q < ve; q++)
		if (!is_vchar((unsigned char)*q))
			return -1;
	while (v < ve && (*v == ' ' || *v == '\t'))
		v++;
	while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
		ve--;
	if (h->nhdr >= HTTP_MAX_HEADERS) {
		*status = 431;
		return -1;
	}
	h->hdr[h->nhdr].name = p;
	h->hdr[h->nhdr].nlen = (size_t)(colon - p);
	h->hdr[h->nhdr].val = v;
	h->hdr[h->nhdr].vlen = (size_t)(ve - v);
	h->nhdr++;
	return 0;
}

int http_parse_head(const char *buf, size_t len, struct http_head *h, int *status)
{
	const char *p = buf, *end = buf + (len > HTTP_MAX_HEAD ? HTTP_MAX_HEAD : len);
	int bad = 0, first = 1;

	memset(h, 0, sizeof(*h));
	/* RFC 9112 §2.2: ignore at least one empty line before the request-line */
	while (end - p >= 2 && p[0] == '\r' && p[1] == '\n' && p - buf < 8)
		p += 2;
	for (;;) {
		const char *e = find_crlf(p, end, &bad);

		if (bad) {
			*status = 400;
			return -1;
		}
		if (!e) {
			if (len >= HTTP_MAX_HEAD) {
				*status = 431;
				return -1;
			}
			return 0;
		}
		if (first) {
			if (parse_request_line(p, e, h, status))
				return -1;
			first = 0;
		} else if (e == p) {
			h->head_len = (size_t)(e + 2 - buf);
			return 1;
		} else if (parse_header_line(p, e, h, status)) {
			return -1;
		}
		p = e + 2;
	}
}

const char *http_head_get(const struct http_head *h, const char *name, size_t *vlen)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < h->nhdr; i++)
		if (h->hdr[i].nlen == n && strncasecmp(h->hdr[i].name, name, n) == 0) {
			*vlen = h->hdr[i].vlen;
			return h->hdr[i].val;
		}
	return NULL;
}

/* 1 when the comma-separated list v contains token tok (case-insensitive). */
static int list_has(const char *v, size_t vl, const char *tok)
{
	size_t tl = strlen(tok);
	const char *e = v + vl;

	while (v < e) {
		const char *c = memchr(v, ',', (size_t)(e - v));
		const char *te = c ? c : e;

		while (v < te && (*v == ' ' || *v == '\t'))
			v++;
		while (te > v && (te[-1] == ' ' || te[-1] == '\t'))
			te--;
		if ((size_t)(te - v) == tl && strncasecmp(v, tok, tl) == 0)
			return 1;
		if (!c)
			break;
		v = c + 1;
	}
	return 0;
}

static int parse_cl(const char *v, size_t vl, long long *out)
{
	long long n = 0;

	if (vl == 0 || vl > 15)
		return -1;
	for (size_t i = 0; i < vl; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		n = n * 10 + (v[i] - '0');
	}
	*out = n;
	return 0;
}

int http_head_framing(const struct http_head *h, struct http_framing *f)
{
	int have_cl = 0, have_te = 0, conn_close = 0, conn_keep = 0, conn_upgrade = 0;
	int upgrade_ws = 0;

	memset(f, 0, sizeof(*f));
	for (size_t i = 0; i < h->nhdr; i++) {
		const struct http_hdr *x = &h->hdr[i];

		if (x->nlen == 14 && strncasecmp(x->name, "content-length", 14) == 0) {
			long long n;

			if (parse_cl(x->val, x->vlen, &n))
				return 400;
			if (have_cl && n != f->content_length)
				return 400;
			have_cl = 1;
			f->content_length = n;
		} else if (x->nlen == 17 && strncasecmp(x->name, "transfer-encoding", 17) == 0) {
			have_te = 1;
		} else if (x->nlen == 10 && strncasecmp(x->name, "connection", 10) == 0) {
			conn_close |= list_has(x->val, x->vlen, "close");
			conn_keep |= list_has(x->val, x->vlen, "keep-alive");
			conn_upgrade |= list_has(x->val, x->vlen, "upgrade");
		} else if (x->nlen == 7 && strncasecmp(x->name, "upgrade", 7) == 0) {
			upgrade_ws |= list_has(x->val, x->vlen, "websocket");
		} else if (x->nlen == 6 && strncasecmp(x->name, "expect", 6) == 0) {
			if (x->vlen == 12 && strncasecmp(x->val, "100-continue", 12) == 0)
				f->expect_continue = 1;
			else
				return 417;
		}
	}
	if (have_te)
		return have_cl ? 400 : 411;
	f->keep_alive = h->minor >= 1 ? !conn_close : (conn_keep && !conn_close);
	f->upgrade_websocket = upgrade_ws && conn_upgrade;
	if (!have_cl)
		f->expect_continue = 0;
	return 0;
}

/* Percent-decodes s[0..n) into a new string; plus_space maps '+' to ' '. NULL on a bad
 * escape or a decoded NUL. */
static char *pct_decode(const char *s, size_t n, int plus_space)
{
	char *out = rm_xmalloc(n + 1), *o = out;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			int a = i + 2 < n ? rm_hex_value((unsigned char)s[i + 1]) : -1;
			int b = i + 2 < n ? rm_hex_value((unsigned char)s[i + 2]) : -1;

			if (a < 0 || b < 0) {
				free(out);
				return NULL;
			}
			*o = (char)(a * 16 + b);
			if (*o == '\0') {
				free(out);
				return NULL;
			}
			o++;
			i += 2;
		} else if (plus_space && s[i] == '+') {
			*o++ = ' ';
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

int http_split_target(const char *target, size_t len, char **path, const char **query, size_t *qlen)
{
	const char *q = memchr(target, '?', len);
	size_t pl = q ? (size_t)(q - target) : len;
	char *p;

	if (len == 0 || target[0] != '/' || pl > HTTP_MAX_PATH)
		return -1;
	{
		const char *hash = memchr(target, '#', len);

		if (hash)
			return -1; /* fragments are never sent by well-behaved clients */
	}
	p = pct_decode(target, pl, 0);
	if (!p)
		return -1;
	if (!http_path_ok(p)) {
		free(p);
		return -1;
	}
	*path = p;
	*query = q ? q + 1 : target + len;
	*qlen = q ? len - pl - 1 : 0;
	return 0;
}

void http_parse_query(const char *q, size_t qlen, size_t max_pairs,
                      void (*cb)(void *ud, char *name, char *value), void *ud)
{
	const char *e = q + qlen;
	size_t pairs = 0;

	while (q < e && pairs < max_pairs) {
		const char *amp = memchr(q, '&', (size_t)(e - q));
		const char *pe = amp ? amp : e;
		const char *eq = memchr(q, '=', (size_t)(pe - q));

		if (pe > q) {
			char *n = pct_decode(q, (size_t)((eq ? eq : pe) - q), 1);
			char *v =
			    eq ? pct_decode(eq + 1, (size_t)(pe - eq - 1), 1) : rm_xstrdup("");

			if (n && v && *n) {
				cb(ud, n, v);
				pairs++;
			} else {
				free(n);
				free(v);
			}
		}
		if (!amp)
			break;
		q = amp + 1;
	}
}

void http_parse_cookies(const char *s,
                        void (*cb)(void *ud, const char *n, size_t nl, const char *v, size_t vl),
                        void *ud)
{
	while (s && *s) {
		const char *end = strchr(s, ';');
		const char *e = end ? end : s + strlen(s);
		const char *eq;

		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		eq = memchr(s, '=', (size_t)(e - s));
		if (eq && eq > s) {
			const char *v = eq + 1, *ve = e;

			while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			if (ve - v >= 2 && *v == '"' && ve[-1] == '"') {
				v++;
				ve--;
			}
			cb(ud, s, (size_t)(eq - s), v, (size_t)(ve - v));
		}
		s = end ? end + 1 : NULL;
	}
}

int http_accepts_gzip(const char *ae)
{
	const char *g;

	if (!ae)
		return 0;
	g = strcasestr(ae, "gzip");
	if (!g)
		return 0;
	g += 4;
	while (*g == ' ')
		g++;
	if (*g == ';') {
		const char *q = strstr(g, "q=");

		if (q && q[2] == '0') {
			const char *d = q + 3;

			if (*d == '.')
				d += 1 + strspn(d + 1, "0");
			if (*d == '\0' || *d == ',' || *d == ' ')
				return 0;
		}
	}
	return 1;
}

int http_etag_matches(const char *inm, const char *etag)
{
	size_t el = strlen(etag);
	const char *s = inm;

	if (!inm)
		return 0;
	while (*s) {
		while (*s == ' ' || *s == ',')
			s++;
		if (*s == '*')
			return 1;
		if (strncmp(s, "W/", 2) == 0)
			s += 2;
		if (strncmp(s, etag, el) == 0 && (s[el] == '\0' || s[el] == ',' || s[el] == ' '))
			return 1;
		while (*s && *s != ',')
			s++;
	}
	return 0;
}

int http_path_ok(const char *p)
{
	size_t n = strlen(p);

	if (n == 0 || n > HTTP_MAX_PATH || p[0] != '/')
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return 0;
	return 1;
}

int http_static_path_safe(const char *p)
{
	const char *s = p;

	if (strchr(p, '\\') || strchr(p, '%'))
		return 0;
	while (*s) {
		const char *e;
		size_t len;

		if (*s == '/') {
			s++;
			continue;
		}
		e = strchr(s, '/');
		len = e ? (size_t)(e - s) : strlen(s);
		if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
			return 0;
		s += len;
	}
	return 1;
}
