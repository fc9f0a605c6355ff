/* HTTP + WebSocket server on libwebsockets 4.1.6, libuv backend, on the caller's loop.
 *
 * Object lifetimes (everything on the loop thread):
 *  - struct http_server: freed from the vhost finalize callback, i.e. only once lws has
 *    really let go of the protocols array (that happens inside uv close callbacks after
 *    http_server_stop, while the app keeps running the loop).
 *  - struct http_req: one per HTTP transaction, malloc'd (not lws per-session data) so it
 *    can outlive its connection when the handler deferred. Freed exactly once: after the
 *    response was written, or at connection close unless a deferred response is still
 *    owed by the app (then the respond call frees it).
 *  - struct ws_conn: created in LWS_CALLBACK_HTTP_CONFIRM_UPGRADE (so a refusal can still
 *    answer a clean HTTP status), parked on the wsi's opaque user data, adopted by the
 *    endpoint protocol in FILTER_PROTOCOL_CONNECTION, finished (on_close + free) in
 *    CLOSED, or in WSI_DESTROY if the handshake died in between. */
#include "server/http/http.h"
#include "server/http/proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <libwebsockets.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"

#define CHUNK (128 * 1024)      /* body bytes per WRITEABLE (fewer syscalls and wakeups) */
#define HTTP_DRAIN_MAX (64LL * 1024 * 1024) /* oversized bodies up to this are read and discarded after the 413 */
#define SNDBUF_MAX (1024 * 1024) /* cap for the per-connection SO_SNDBUF of large bodies */
#define HDR_SPACE 8192          /* response header block */
#define MAX_PATH_LEN 4096

/* ------------------------------------------------------------------ small kv lists */
struct kv {
	char *k;
	char *v;
};
struct kvlist {
	struct kv *a;
	size_t n, cap;
};

static void kv_add(struct kvlist *l, const char *k, size_t klen, const char *v, size_t vlen)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->a = rm_xrealloc(l->a, l->cap * sizeof(*l->a));
	}
	l->a[l->n].k = rm_xstrndup(k, klen);
	l->a[l->n].v = rm_xstrndup(v, vlen);
	l->n++;
}

static const char *kv_get(const struct kvlist *l, const char *k, int icase)
{
	for (size_t i = 0; i < l->n; i++)
		if (icase ? strcasecmp(l->a[i].k, k) == 0 : strcmp(l->a[i].k, k) == 0)
			return l->a[i].v;
	return NULL;
}

static void kv_free(struct kvlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->a[i].k);
		free(l->a[i].v);
	}
	free(l->a);
	memset(l, 0, sizeof(*l));
}

/* ------------------------------------------------------------------ types */
struct ws_msg {
	struct ws_msg *next;
	size_t len;
	unsigned char buf[]; /* LWS_PRE headroom + payload */
};

struct ws_conn {
	struct http_server *srv;
	const struct ws_endpoint *ep;
	struct lws *wsi;
	char *path;
	char remote_ip[64];
	struct kvlist query, headers, cookies; /* handshake only (freed after on_open) */
	void *user;
	int opening;    /* inside on_open */
	int accepted;   /* on_open said yes: on_close is owed */
	int established;
	int closing;
	int close_sent;
	int close_code;
	char close_reason[124];
	struct ws_msg *qhead, *qtail;
	size_t qbytes;
	int had_queue;
	struct rm_buf rx;
	struct ws_conn *prev, *next; /* server's live list */
};

struct ws_pss {
	struct ws_conn *c;
};

struct http_req {
	struct http_server *srv;
	struct lws *wsi;  /* NULL once the client went away */
	char method[8];
	char *path;
	char remote_ip[64];
	struct kvlist query, headers, cookies, params, resp_headers;
	struct rm_buf body;
	long long content_length;
	int is_head;
	int deferred;
	int responded;
	int headers_sent;
	int close_after;
	int drain_body;   /* answered before the body arrived: discard it, then close */
	void *ctx;
	void (*ctx_free)(void *);
	/* response */
	int status;
	char *content_type;
	const unsigned char *out;
	size_t out_len, out_off;
	void *out_owned;
	size_t decl_len; /* content-length to announce (HEAD: the would-be body) */
	int no_body_status;
};

struct http_pss {
	struct http_req *req;
	int draining;       /* response sent early (413): discarding the rest of the body */
	int sndbuf;         /* SO_SNDBUF we set on this connection (0 = kernel default) */
};

struct http_server {
	uv_loop_t *loop;
	void *foreign[1];
	struct lws_context *ctx;
	struct lws_vhost *vh;
	struct http_server_opts opts;
	struct lws_protocols *protocols;
	char (*etags)[24];
	struct ws_conn *conns;
	struct proxy_list *proxies; /* RM_TRUSTED_PROXY */
	int *starting; /* set during http_server_start: finalize must not free s then */
	unsigned char scratch[LWS_PRE + CHUNK];
	unsigned char hdrbuf[LWS_PRE + HDR_SPACE];
};

/* ------------------------------------------------------------------ helpers */
/* X-Forwarded-For only counts when the socket peer is a trusted proxy. */
static void set_client_ip(const struct http_server *s, char *ip, size_t iplen, const char *xff)
{
	char peer[64];

	if (!s->proxies || !xff)
		return;
	rm_strlcpy(peer, ip, sizeof(peer));
	proxy_client_ip(s->proxies, peer, xff, ip, iplen);
}

static struct http_server *srv_of(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

static int default_is_api(const char *p)
{
	return strncmp(p, "/api/", 5) == 0 || strcmp(p, "/api") == 0 ||
	       strcmp(p, "/healthz") == 0 || strncmp(p, "/install/", 9) == 0 ||
	       strncmp(p, "/agent/", 7) == 0 || strncmp(p, "/ws/", 4) == 0;
}

static char *hdr_dup(struct lws *wsi, enum lws_token_indexes t)
{
	int n = lws_hdr_total_length(wsi, t);
	char *s;

	if (n <= 0)
		return NULL;
	s = rm_xmalloc((size_t)n + 1);
	if (lws_hdr_copy(wsi, s, n + 1, t) < 0) {
		free(s);
		return NULL;
	}
	return s;
}

static const struct {
	const char *name;
	enum lws_token_indexes tok;
} known_hdrs[] = {
	{ "host", WSI_TOKEN_HOST },
	{ "connection", WSI_TOKEN_CONNECTION },
	{ "upgrade", WSI_TOKEN_UPGRADE },
	{ "origin", WSI_TOKEN_ORIGIN },
	{ "sec-websocket-protocol", WSI_TOKEN_PROTOCOL },
	{ "accept", WSI_TOKEN_HTTP_ACCEPT },
	{ "if-none-match", WSI_TOKEN_HTTP_IF_NONE_MATCH },
	{ "accept-encoding", WSI_TOKEN_HTTP_ACCEPT_ENCODING },
	{ "accept-language", WSI_TOKEN_HTTP_ACCEPT_LANGUAGE },
	{ "authorization", WSI_TOKEN_HTTP_AUTHORIZATION },
	{ "cookie", WSI_TOKEN_HTTP_COOKIE },
	{ "content-length", WSI_TOKEN_HTTP_CONTENT_LENGTH },
	{ "content-type", WSI_TOKEN_HTTP_CONTENT_TYPE },
	{ "range", WSI_TOKEN_HTTP_RANGE },
	{ "referer", WSI_TOKEN_HTTP_REFERER },
	{ "user-agent", WSI_TOKEN_HTTP_USER_AGENT },
	{ "x-forwarded-for", WSI_TOKEN_X_FORWARDED_FOR },
};
/* headers lws has no token for */
static const char *const custom_hdrs[] = { "x-csrf-token", "x-real-ip", "x-request-id" };

static void capture_headers(struct lws *wsi, struct kvlist *l)
{
	for (size_t i = 0; i < sizeof(known_hdrs) / sizeof(known_hdrs[0]); i++) {
		char *v = hdr_dup(wsi, known_hdrs[i].tok);

		if (v) {
			kv_add(l, known_hdrs[i].name, strlen(known_hdrs[i].name), v, strlen(v));
			free(v);
		}
	}
	for (size_t i = 0; i < sizeof(custom_hdrs) / sizeof(custom_hdrs[0]); i++) {
		char name[48];
		int nl = snprintf(name, sizeof(name), "%s:", custom_hdrs[i]);
		int len = lws_hdr_custom_length(wsi, name, nl);

		if (len > 0 && len < 8192) {
			char *v = rm_xmalloc((size_t)len + 1);

			if (lws_hdr_custom_copy(wsi, v, len + 1, name, nl) >= 0)
				kv_add(l, custom_hdrs[i], strlen(custom_hdrs[i]), v, strlen(v));
			free(v);
		}
	}
}

/* lws already percent-decoded each "name=value" fragment of the query (and split on raw
 * '&'/';'); we only split name from value. */
static void capture_query(struct lws *wsi, struct kvlist *l)
{
	int total = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
	char *buf;

	if (total <= 0)
		return;
	buf = rm_xmalloc((size_t)total + 1);
	for (int i = 0; i < 64; i++) {
		int n = lws_hdr_copy_fragment(wsi, buf, total + 1, WSI_TOKEN_HTTP_URI_ARGS, i);
		char *eq;

		if (n < 0)
			break;
		if (n == 0)
			continue;
		eq = memchr(buf, '=', (size_t)n);
		if (eq)
			kv_add(l, buf, (size_t)(eq - buf), eq + 1, (size_t)n - (size_t)(eq - buf) - 1);
		else
			kv_add(l, buf, (size_t)n, "", 0);
	}
	free(buf);
}

static void parse_cookies(const char *s, struct kvlist *l)
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
			kv_add(l, s, (size_t)(eq - s), v, (size_t)(ve - v));
		}
		s = end ? end + 1 : NULL;
	}
}

static const struct {
	enum lws_token_indexes tok;
	const char *name;
} methods[] = {
	{ WSI_TOKEN_GET_URI, "GET" },       { WSI_TOKEN_POST_URI, "POST" },
	{ WSI_TOKEN_PUT_URI, "PUT" },       { WSI_TOKEN_PATCH_URI, "PATCH" },
	{ WSI_TOKEN_DELETE_URI, "DELETE" }, { WSI_TOKEN_HEAD_URI, "HEAD" },
	{ WSI_TOKEN_OPTIONS_URI, "OPTIONS" },
};

/* method name + decoded path (malloc'd) of the request on wsi, or NULL. */
static char *req_line(struct lws *wsi, const char **method)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (lws_hdr_total_length(wsi, methods[i].tok) > 0) {
			*method = methods[i].name;
			return hdr_dup(wsi, methods[i].tok);
		}
	}
	return NULL;
}

/* 1 if the decoded path is acceptable at all: absolute, no control bytes, not overlong. */
static int path_ok(const char *p)
{
	size_t n = strlen(p);

	if (n == 0 || n > MAX_PATH_LEN || p[0] != '/')
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return 0;
	return 1;
}

/* static paths: no backslash, no "." / ".." segments, no '%' left after decoding */
static int static_path_safe(const char *p)
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

/* ------------------------------------------------------------------ requests */
static void req_free(struct http_req *r)
{
	if (!r)
		return;
	if (r->ctx_free)
		r->ctx_free(r->ctx);
	free(r->path);
	kv_free(&r->query);
	kv_free(&r->headers);
	kv_free(&r->cookies);
	kv_free(&r->params);
	kv_free(&r->resp_headers);
	rm_buf_cleanup(&r->body);
	free(r->content_type);
	free(r->out_owned);
	free(r);
}

const char *http_req_method(const struct http_req *r) { return r->method; }
const char *http_req_path(const struct http_req *r) { return r->path; }
const char *http_req_query(const struct http_req *r, const char *name)
{
	return kv_get(&r->query, name, 0);
}
const char *http_req_header(const struct http_req *r, const char *name)
{
	return kv_get(&r->headers, name, 1);
}
const char *http_req_cookie(const struct http_req *r, const char *name)
{
	return kv_get(&r->cookies, name, 0);
}
const char *http_req_body(const struct http_req *r, size_t *len)
{
	if (len)
		*len = r->body.len;
	return r->body.data ? r->body.data : "";
}
const char *http_req_remote_ip(const struct http_req *r) { return r->remote_ip; }
const char *http_req_param(const struct http_req *r, const char *name)
{
	return kv_get(&r->params, name, 0);
}
void http_req_set_param(struct http_req *r, const char *name, const char *value)
{
	kv_add(&r->params, name, strlen(name), value, strlen(value));
}
void http_req_set_ctx(struct http_req *r, void *ctx, void (*free_fn)(void *))
{
	r->ctx = ctx;
	r->ctx_free = free_fn;
}
void *http_req_ctx(const struct http_req *r) { return r->ctx; }
void http_req_defer(struct http_req *r) { r->deferred = 1; }
int http_req_alive(const struct http_req *r) { return r->wsi != NULL; }

void http_resp_header(struct http_req *r, const char *name, const char *value)
{
	kv_add(&r->resp_headers, name, strlen(name), value, strlen(value));
}

/* Common tail of every respond call: data already stored on r. */
static void respond_commit(struct http_req *r)
{
	if (r->responded) {
		RM_ERROR("http: second response for one request ignored", "path", r->path);
		return;
	}
	r->responded = 1;
	if (r->is_head) {
		r->decl_len = r->out_len;
		r->out_len = 0;
	} else {
		r->decl_len = r->out_len;
	}
	if (r->status == 204 || r->status == 304 || r->status < 200) {
		r->no_body_status = 1;
		r->out_len = 0;
	}
	if (!r->wsi) {
		/* client gone while the app was working: discard */
		req_free(r);
		return;
	}
	lws_callback_on_writable(r->wsi);
}

static void set_body(struct http_req *r, int status, const char *ctype, const void *data,
                     size_t len, void *owned)
{
	if (r->responded) {
		free(owned);
		RM_ERROR("http: second response for one request ignored", "path", r->path);
		return;
	}
	r->status = status;
	free(r->content_type);
	r->content_type = ctype ? rm_xstrdup(ctype) : NULL;
	free(r->out_owned);
	r->out_owned = owned;
	r->out = data;
	r->out_len = len;
	r->out_off = 0;
	respond_commit(r);
}

void http_respond_take(struct http_req *r, int status, const char *content_type, void *data,
                       size_t len)
{
	set_body(r, status, content_type, data, len, data);
}

void http_respond_raw(struct http_req *r, int status, const char *content_type,
                      const void *data, size_t len)
{
	void *copy = rm_xmalloc(len ? len : 1);

	if (len)
		memcpy(copy, data, len);
	http_respond_take(r, status, content_type, copy, len);
}

void http_respond_json(struct http_req *r, int status, json_t *body_take)
{
	char *s = NULL;
	size_t len = 0;

	if (body_take) {
		s = rmj_dumps(body_take);
		len = strlen(s);
		json_decref(body_take);
	}
	if (!kv_get(&r->resp_headers, "cache-control", 1))
		http_resp_header(r, "cache-control", "no-store");
	if (s)
		http_respond_take(r, status, "application/json", s, len);
	else
		set_body(r, status, NULL, NULL, 0, NULL);
}

void http_respond_error(struct http_req *r, int status, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	json_t *o;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o = json_object();
	json_object_set_new(o, "error", json_string(msg));
	json_object_set_new(o, "code", json_string(code ? code : "error"));
	http_respond_json(r, status, o);
}

/* ------------------------------------------------------------------ response writing */
static int add_hdr(struct lws *wsi, const char *name, const char *value, unsigned char **p,
                   unsigned char *end)
{
	char lname[128];
	int n = snprintf(lname, sizeof(lname), "%s:", name);

	if (n <= 0 || (size_t)n >= sizeof(lname))
		return 1;
	return lws_add_http_header_by_name(wsi, (const unsigned char *)lname,
	                                   (const unsigned char *)value, (int)strlen(value), p,
	                                   end);
}

static int write_headers(struct http_req *r)
{
	struct http_server *s = r->srv;
	struct lws *wsi = r->wsi;
	unsigned char *start = s->hdrbuf + LWS_PRE, *p = start, *end = start + HDR_SPACE - 1;
	char num[32];

	if (lws_add_http_header_status(wsi, (unsigned int)r->status, &p, end))
		return -1;
	if (r->content_type && add_hdr(wsi, "content-type", r->content_type, &p, end))
		return -1;
	if (!r->no_body_status) {
		snprintf(num, sizeof(num), "%zu", r->decl_len);
		if (add_hdr(wsi, "content-length", num, &p, end))
			return -1;
	}
	if (add_hdr(wsi, "x-content-type-options", "nosniff", &p, end) ||
	    add_hdr(wsi, "x-frame-options", "DENY", &p, end) ||
	    add_hdr(wsi, "referrer-policy", "same-origin", &p, end))
		return -1;
	if (r->content_type && strncmp(r->content_type, "text/html", 9) == 0 &&
	    add_hdr(wsi, "content-security-policy",
	            "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
	            "style-src 'self' 'unsafe-inline'",
	            &p, end))
		return -1;
	for (size_t i = 0; i < r->resp_headers.n; i++)
		if (add_hdr(wsi, r->resp_headers.a[i].k, r->resp_headers.a[i].v, &p, end))
			return -1;
	if (r->close_after && add_hdr(wsi, "connection", "close", &p, end))
		return -1;
	if (lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	r->headers_sent = 1;
	return 0;
}

/* Returns 0 to keep the connection, -1 to close it. */
static int req_writeable(struct http_pss *pss, struct http_req *r)
{
	struct http_server *s = r->srv;
	size_t n;

	if (!r->headers_sent) {
		/* A large body (the hosts list is ~350 KB with 1,000 hosts) trickles out in ~4 KB
		 * sends with the default 16 KB send buffer: dozens of sends and epoll_ctl calls
		 * per response. Size the buffer to the body once (kernel memory is only used while
		 * data is queued). */
		if (r->out_len > 64 * 1024 && pss->sndbuf < (int)(r->out_len < SNDBUF_MAX ? r->out_len : SNDBUF_MAX)) {
			int want = (int)(r->out_len < SNDBUF_MAX ? r->out_len : SNDBUF_MAX);
			int fd = (int)lws_get_socket_fd(r->wsi);
			if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof want) == 0)
				pss->sndbuf = want;
		}
		if (write_headers(r))
			return -1;
	}
	if (r->out_off < r->out_len) {
		n = r->out_len - r->out_off;
		if (n > CHUNK)
			n = CHUNK;
		memcpy(s->scratch + LWS_PRE, r->out + r->out_off, n);
		r->out_off += n;
		if (lws_write(r->wsi, s->scratch + LWS_PRE, n,
		              r->out_off == r->out_len ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) <
		    (int)n)
			return -1;
		if (r->out_off < r->out_len) {
			lws_callback_on_writable(r->wsi);
			return 0;
		}
	}
	/* done */
	{
		struct lws *wsi = r->wsi;
		int close_after = r->close_after;

		int drain = r->drain_body;

		pss->req = NULL;
		req_free(r);
		if (close_after && drain) {
			/* Lingering close: closing with unread body bytes makes the kernel send an
			 * RST that can destroy the 413 before the client reads it. Read and
			 * discard the rest (bounded in time), close at body completion. */
			pss->draining = 1;
			lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, 10);
			return 0;
		}
		if (close_after)
			return -1;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	}
}

/* Connection gone (or transaction abandoned): free unless a deferred response is owed. */
static void req_detach(struct http_pss *pss)
{
	struct http_req *r;

	if (!pss || !pss->req)
		return;
	r = pss->req;
	pss->req = NULL;
	r->wsi = NULL;
	if (r->deferred && !r->responded)
		return; /* the app's respond call frees it */
	req_free(r);
}

/* ------------------------------------------------------------------ static assets */
static uint64_t fnv1a(const unsigned char *d, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= d[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static const struct web_asset *asset_find(const char *path, size_t *idx)
{
	for (size_t i = 0; i < web_assets_count; i++)
		if (web_assets[i].path && strcmp(web_assets[i].path, path) == 0) {
			*idx = i;
			return &web_assets[i];
		}
	return NULL;
}

static int accepts_gzip(const char *ae)
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

		if (q && q[2] == '0' && (q[3] == '\0' || q[3] == ',' ||
		                         (q[3] == '.' && strspn(q + 4, "0") > 0 &&
		                          (q[4 + strspn(q + 4, "0")] == '\0' ||
		                           q[4 + strspn(q + 4, "0")] == ','))))
			return 0;
	}
	return 1;
}

int http_req_accepts_gzip(const struct http_req *r)
{
	return accepts_gzip(http_req_header(r, "accept-encoding"));
}

static int etag_matches(const char *inm, const char *etag)
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

static void serve_static(struct http_req *r)
{
	struct http_server *s = r->srv;
	const struct web_asset *a;
	size_t idx = 0;
	const char *p = r->path;
	const char *last;
	char etag[32];
	int gz;

	if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
		http_resp_header(r, "allow", "GET, HEAD");
		http_respond_error(r, 405, "method_not_allowed", "method not allowed");
		return;
	}
	if (!static_path_safe(p)) {
		http_respond_error(r, 400, "bad_path", "invalid path");
		return;
	}
	if (strcmp(p, "/") == 0)
		p = "/index.html";
	a = asset_find(p, &idx);
	if (!a) {
		last = strrchr(p, '/');
		if (strchr(last ? last : p, '.')) {
			http_respond_error(r, 404, "not_found", "not found");
			return;
		}
		a = asset_find("/index.html", &idx);
		if (!a) {
			http_respond_error(r, 404, "not_found", "not found");
			return;
		}
	}
	gz = a->gz && a->gz_len && accepts_gzip(http_req_header(r, "accept-encoding"));
	snprintf(etag, sizeof(etag), "\"%s%s\"", s->etags[idx], gz ? "-gz" : "");
	http_resp_header(r, "etag", etag);
	if (a->gz)
		http_resp_header(r, "vary", "accept-encoding");
	http_resp_header(r, "cache-control", a->immutable ? "public, max-age=31536000, immutable"
	                                                  : "no-cache");
	if (etag_matches(http_req_header(r, "if-none-match"), etag)) {
		set_body(r, 304, NULL, NULL, 0, NULL);
		return;
	}
	if (gz)
		http_resp_header(r, "content-encoding", "gzip");
	set_body(r, 200, a->content_type, gz ? a->gz : a->data, gz ? a->gz_len : a->len, NULL);
}

/* ------------------------------------------------------------------ dispatch */
static void run_dispatch(struct http_req *r)
{
	struct http_server *s = r->srv;

	if (!s->opts.dispatch) {
		http_respond_error(r, 404, "not_found", "not found");
		return;
	}
	s->opts.dispatch(r, s->opts.app);
	/* r may already be freed only if the wsi died inside dispatch; it cannot: single
	 * thread, lws is not re-entered from respond calls. */
	if (!r->responded && !r->deferred)
		http_respond_error(r, 500, "internal", "handler did not respond");
}

static int is_api(struct http_server *s, const char *path)
{
	return s->opts.is_api_path ? s->opts.is_api_path(path) : default_is_api(path);
}

static int on_http(struct lws *wsi, struct http_pss *pss)
{
	struct http_server *s = srv_of(wsi);
	struct http_req *r;
	const char *method = NULL;
	char *path, *cl, *cookie;

	if (!pss)
		return -1;
	req_detach(pss); /* a previous transaction that never finished */
	path = req_line(wsi, &method);
	if (!path)
		return -1;
	r = rm_xcalloc(1, sizeof(*r));
	r->srv = s;
	r->wsi = wsi;
	r->path = path;
	rm_strlcpy(r->method, method, sizeof(r->method));
	r->is_head = strcmp(method, "HEAD") == 0;
	rm_buf_init(&r->body, HTTP_MAX_BODY);
	lws_get_peer_simple(wsi, r->remote_ip, sizeof(r->remote_ip));
	capture_headers(wsi, &r->headers);
	set_client_ip(s, r->remote_ip, sizeof(r->remote_ip), kv_get(&r->headers, "x-forwarded-for", 1));
	capture_query(wsi, &r->query);
	cookie = (char *)kv_get(&r->headers, "cookie", 1);
	if (cookie)
		parse_cookies(cookie, &r->cookies);
	pss->req = r;

	if (!path_ok(r->path)) {
		r->close_after = 1;
		http_respond_error(r, 400, "bad_path", "invalid path");
		return 0;
	}
	cl = (char *)kv_get(&r->headers, "content-length", 1);
	if (cl && (rm_parse_i64(cl, &r->content_length) || r->content_length < 0)) {
		r->close_after = 1;
		http_respond_error(r, 400, "bad_request", "invalid content-length");
		return 0;
	}
	if (strcmp(method, "OPTIONS") == 0) {
		http_respond_error(r, 405, "method_not_allowed", "method not allowed");
		return 0;
	}
	if (!is_api(s, r->path)) {
		serve_static(r);
		return 0;
	}
	if (r->content_length > HTTP_MAX_BODY) {
		/* answer right away (an Expect: 100-continue client then never sends the body)
		 * and close after writing: whatever body still arrives is discarded */
		r->close_after = 1;
		r->drain_body = r->content_length <= HTTP_DRAIN_MAX;
		http_respond_error(r, 413, "too_large", "request body exceeds %d bytes",
		                   HTTP_MAX_BODY);
		return 0;
	}
	if (r->content_length > 0)
		return 0; /* wait for LWS_CALLBACK_HTTP_BODY_COMPLETION */
	run_dispatch(r);
	return 0;
}

static int http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len);

/* ------------------------------------------------------------------ websockets */
static const struct ws_endpoint *ep_for_path(struct http_server *s, const char *path)
{
	for (size_t i = 0; i < s->opts.n_endpoints; i++) {
		const struct ws_endpoint *e = &s->opts.endpoints[i];
		size_t n = strlen(e->path);

		if (n && e->path[n - 1] == '/' ? strncmp(path, e->path, n) == 0 && path[n]
		                               : strcmp(path, e->path) == 0)
			return e;
	}
	return NULL;
}

/* 1 if the comma-separated Sec-WebSocket-Protocol list names proto */
static int proto_listed(const char *list, const char *proto)
{
	size_t pl = strlen(proto);
	const char *s = list;

	while (s && *s) {
		const char *e;
		size_t n;

		while (*s == ' ' || *s == ',' || *s == '\t')
			s++;
		e = s;
		while (*e && *e != ',' && *e != ' ' && *e != '\t')
			e++;
		n = (size_t)(e - s);
		if (n == pl && strncmp(s, proto, pl) == 0)
			return 1;
		s = e;
	}
	return 0;
}

/* Writes a complete small JSON error response synchronously (refused upgrades). */
static void write_refusal(struct lws *wsi, int status, const char *code, const char *msg)
{
	struct http_server *s = srv_of(wsi);
	unsigned char *start = s->hdrbuf + LWS_PRE, *p = start, *end = start + HDR_SPACE - 1;
	char body[256], num[16];
	int n = snprintf(body, sizeof(body), "{\"error\":\"%s\",\"code\":\"%s\"}", msg, code);

	snprintf(num, sizeof(num), "%d", n);
	if (lws_add_http_header_status(wsi, (unsigned int)status, &p, end) ||
	    add_hdr(wsi, "content-type", "application/json", &p, end) ||
	    add_hdr(wsi, "content-length", num, &p, end) ||
	    add_hdr(wsi, "cache-control", "no-store", &p, end) ||
	    add_hdr(wsi, "x-content-type-options", "nosniff", &p, end) ||
	    lws_finalize_http_header(wsi, &p, end))
		return;
	if ((size_t)(end - p) < (size_t)n)
		return;
	memcpy(p, body, (size_t)n);
	p += n;
	lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS);
}

static void conn_link(struct http_server *s, struct ws_conn *c)
{
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
}

static void conn_unlink(struct http_server *s, struct ws_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else if (s->conns == c)
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

static void queue_clear(struct ws_conn *c)
{
	struct ws_msg *m = c->qhead;

	while (m) {
		struct ws_msg *n = m->next;

		free(m);
		m = n;
	}
	c->qhead = c->qtail = NULL;
	c->qbytes = 0;
}

static void conn_free(struct ws_conn *c)
{
	queue_clear(c);
	rm_buf_cleanup(&c->rx);
	kv_free(&c->query);
	kv_free(&c->headers);
	kv_free(&c->cookies);
	free(c->path);
	free(c);
}

/* on_close (once, if owed) + free */
static void conn_finish(struct ws_conn *c)
{
	struct http_server *s = c->srv;

	if (c->wsi)
		lws_set_opaque_user_data(c->wsi, NULL);
	c->wsi = NULL;
	c->closing = 1;
	conn_unlink(s, c);
	if (c->accepted && c->ep->on_close)
		c->ep->on_close(c, s->opts.app);
	conn_free(c);
}

/* LWS_CALLBACK_HTTP_CONFIRM_UPGRADE on the http protocol: >0 refused (response written),
 * 0 accepted, <0 hang up. */
static int on_confirm_upgrade(struct lws *wsi, const char *up)
{
	struct http_server *s = srv_of(wsi);
	const struct ws_endpoint *ep;
	const char *method = NULL;
	char *path, *protos;
	struct ws_conn *c;
	int rc;

	if (!up || strcasecmp(up, "websocket") != 0) {
		write_refusal(wsi, 400, "bad_upgrade", "unsupported upgrade");
		return 1;
	}
	path = req_line(wsi, &method);
	if (!path || strcmp(method, "GET") != 0 || !path_ok(path)) {
		free(path);
		write_refusal(wsi, 400, "bad_request", "bad websocket request");
		return 1;
	}
	ep = ep_for_path(s, path);
	if (!ep) {
		free(path);
		write_refusal(wsi, 404, "not_found", "no websocket endpoint here");
		return 1;
	}
	protos = hdr_dup(wsi, WSI_TOKEN_PROTOCOL);
	if (!protos || !proto_listed(protos, ep->subprotocol)) {
		free(protos);
		free(path);
		write_refusal(wsi, 400, "bad_subprotocol", "missing or unknown subprotocol");
		return 1;
	}
	free(protos);
	c = rm_xcalloc(1, sizeof(*c));
	c->srv = s;
	c->ep = ep;
	c->wsi = wsi;
	c->path = path;
	rm_buf_init(&c->rx, ep->max_message ? ep->max_message : HTTP_MAX_BODY);
	lws_get_peer_simple(wsi, c->remote_ip, sizeof(c->remote_ip));
	capture_headers(wsi, &c->headers);
	set_client_ip(s, c->remote_ip, sizeof(c->remote_ip), kv_get(&c->headers, "x-forwarded-for", 1));
	capture_query(wsi, &c->query);
	{
		const char *ck = kv_get(&c->headers, "cookie", 1);

		if (ck)
			parse_cookies(ck, &c->cookies);
	}
	conn_link(s, c);
	c->opening = 1;
	rc = ep->on_open ? ep->on_open(c, s->opts.app) : RM_OK;
	c->opening = 0;
	kv_free(&c->query);
	kv_free(&c->headers);
	kv_free(&c->cookies);
	if (rc) {
		int st = rc == RM_ERR_AUTH        ? 401
		         : rc == RM_ERR_FORBIDDEN ? 403
		         : rc == RM_ERR_NOTFOUND  ? 404
		                                  : 400;
		const char *code = st == 401   ? "unauthenticated"
		                   : st == 403 ? "forbidden"
		                   : st == 404 ? "not_found"
		                               : "bad_request";

		c->accepted = c->user != NULL;
		c->wsi = NULL;
		conn_finish(c);
		write_refusal(wsi, st, code, "websocket refused");
		return 1;
	}
	c->accepted = 1;
	lws_set_opaque_user_data(wsi, c);
	return 0;
}

static int ws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                 size_t len)
{
	struct ws_pss *pss = user;
	const struct ws_endpoint *ep = lws_get_protocol(wsi) ? lws_get_protocol(wsi)->user : NULL;
	struct ws_conn *c = pss ? pss->c : NULL;

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
		struct ws_conn *oc = lws_get_opaque_user_data(wsi);

		/* the path+subprotocol check and on_open ran in CONFIRM_UPGRADE; here we make
		 * sure lws bound the endpoint the path asked for (a client offering several
		 * subprotocols could land elsewhere) */
		if (!oc || !pss || oc->ep != ep)
			return 1;
		pss->c = oc;
		return 0;
	}
	case LWS_CALLBACK_ESTABLISHED:
		if (!c)
			return -1;
		c->established = 1;
		if (c->qhead || c->closing)
			lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		if (!c)
			return -1;
		if (c->closing)
			return 0;
		if (rm_buf_append(&c->rx, in, len)) {
			lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
			                 (unsigned char *)"message too big", 15);
			return -1;
		}
		if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
			char *data;
			size_t n = c->rx.len;

			data = rm_buf_take(&c->rx);
			if (c->ep->on_message)
				c->ep->on_message(c, c->srv->opts.app, data, n);
			free(data);
		}
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (!c)
			return -1;
		if (c->qhead) {
			struct ws_msg *m = c->qhead;
			int n = lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);

			c->qhead = m->next;
			if (!c->qhead)
				c->qtail = NULL;
			c->qbytes -= m->len;
			free(m);
			if (n < 0)
				return -1;
			if (c->qhead) {
				lws_callback_on_writable(wsi);
				return 0;
			}
			if (c->had_queue) {
				c->had_queue = 0;
				if (c->ep->on_drain && !c->closing)
					c->ep->on_drain(c, c->srv->opts.app);
			}
			if (c->closing || c->qhead)
				lws_callback_on_writable(wsi);
			return 0;
		}
		if (c->closing && !c->close_sent) {
			/* Returning -1 from WRITEABLE marks the socket unusable, so lws would skip
			 * the close frame (lws_close_reason + -1 only works from RECEIVE). A sync
			 * kill with a usable socket goes through the ws role instead: it moves to
			 * WAITING_TO_SEND_CLOSE, sends our reason on the next POLLOUT, then waits
			 * (bounded) for the peer's ack. The wsi is not freed inside this call. */
			c->close_sent = 1;
			lws_close_reason(wsi, (enum lws_close_status)c->close_code,
			                 (unsigned char *)c->close_reason, strlen(c->close_reason));
			lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_SYNC);
		}
		return 0;
	case LWS_CALLBACK_CLOSED:
		if (c) {
			pss->c = NULL;
			conn_finish(c);
		}
		return 0;
	default:
		break;
	}
	return 0;
}

const char *ws_conn_path(const struct ws_conn *c) { return c->path; }
const char *ws_conn_query(const struct ws_conn *c, const char *name)
{
	return kv_get(&c->query, name, 0);
}
const char *ws_conn_header(const struct ws_conn *c, const char *name)
{
	return kv_get(&c->headers, name, 1);
}
const char *ws_conn_cookie(const struct ws_conn *c, const char *name)
{
	return kv_get(&c->cookies, name, 0);
}
const char *ws_conn_remote_ip(const struct ws_conn *c) { return c->remote_ip; }
void ws_conn_set_user(struct ws_conn *c, void *user) { c->user = user; }
void *ws_conn_user(const struct ws_conn *c) { return c->user; }
size_t ws_queued_bytes(const struct ws_conn *c) { return c->qbytes; }

int ws_send(struct ws_conn *c, const char *data, size_t len)
{
	struct ws_msg *m;
	size_t cap = c->ep->max_queue;

	if (c->closing || (!c->wsi && !c->opening))
		return RM_ERR_IO;
	if (cap && (len > cap || c->qbytes > cap - len))
		return RM_ERR_TOOBIG;
	m = rm_xmalloc(sizeof(*m) + LWS_PRE + len);
	m->next = NULL;
	m->len = len;
	memcpy(m->buf + LWS_PRE, data, len);
	if (c->qtail)
		c->qtail->next = m;
	else
		c->qhead = m;
	c->qtail = m;
	c->qbytes += len;
	c->had_queue = 1;
	if (c->established && c->wsi)
		lws_callback_on_writable(c->wsi);
	return RM_OK;
}

void ws_discard_queue(struct ws_conn *c)
{
	queue_clear(c);
	c->had_queue = 0;
}

void ws_close(struct ws_conn *c, int code, const char *reason)
{
	if (c->closing)
		return;
	c->closing = 1;
	c->close_code = code;
	rm_strlcpy(c->close_reason, reason ? reason : "", sizeof(c->close_reason));
	if (c->established && c->wsi)
		lws_callback_on_writable(c->wsi);
}

/* ------------------------------------------------------------------ http protocol */
static int http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len)
{
	struct http_server *s;
	struct http_pss *pss = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return on_http(wsi, pss);
	case LWS_CALLBACK_HTTP_BODY:
		if (pss && pss->draining)
			return 0; /* discarded */
		if (pss && pss->req && !pss->req->responded) {
			if (rm_buf_append(&pss->req->body, in, len)) {
				pss->req->close_after = 1;
				pss->req->drain_body = pss->req->content_length <= HTTP_DRAIN_MAX;
				http_respond_error(pss->req, 413, "too_large",
				                   "request body exceeds %d bytes", HTTP_MAX_BODY);
			}
		}
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (pss && pss->draining)
			return -1; /* the early 413 is out and the body is consumed: close */
		if (pss && pss->req && !pss->req->responded && !pss->req->deferred)
			run_dispatch(pss->req);
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (!pss || !pss->req || !pss->req->responded)
			return 0;
		return req_writeable(pss, pss->req);
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return on_confirm_upgrade(wsi, in);
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return 1; /* a websocket that landed on the http protocol: no subprotocol */
	case LWS_CALLBACK_CLOSED_HTTP:
		req_detach(pss); /* pss may be NULL (pitfall 3) */
		return 0;
	case LWS_CALLBACK_WSI_DESTROY: {
		/* delivered to protocols[0] for every wsi; user is that wsi's own pss */
		struct ws_conn *c = lws_get_opaque_user_data(wsi);

		s = srv_of(wsi);
		if (c) {
			/* upgrade accepted by on_open but the websocket never got bound */
			conn_finish(c);
		}
		if (s && lws_get_protocol(wsi) == &s->protocols[0])
			req_detach(pss);
		return 0;
	}
	default:
		break;
	}
	return 0;
}

/* ------------------------------------------------------------------ server */
static void lws_log_emit(int level, const char *line)
{
	char buf[512];
	size_t n;

	rm_strlcpy(buf, line, sizeof(buf));
	n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	rm_log(level & LLL_ERR ? RM_LOG_ERROR : RM_LOG_WARN, "lws", "detail", buf,
	       (const char *)0);
}

/* lws 4.1.6 on a foreign libuv loop leaves half-initialised handles behind when
 * lws_create_context fails to bind, and they crash later inside uv_run. So probe the
 * address ourselves first (same SO_REUSEADDR semantics as lws). 0 = bindable (or not an
 * IP literal: lws decides), else errno. */
static int probe_bind(const char *host, int port)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1, rc = 0;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
		sl = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
		sl = sizeof(struct sockaddr_in6);
	} else {
		return 0;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl))
		rc = errno;
	close(fd);
	return rc;
}

static void server_free(struct http_server *s)
{
	proxy_list_free(s->proxies);
	free(s->protocols);
	free(s->etags);
	free(s);
}

static void vh_finalize(struct lws_vhost *vh, void *arg)
{
	struct http_server *s = arg;

	(void)vh;
	if (s->starting) {
		*s->starting = 1; /* lws_create_context failed part-way: start frees s */
		return;
	}
	server_free(s);
}

int http_server_start(uv_loop_t *loop, const struct http_server_opts *opts,
                      struct http_server **out, char *err, size_t errlen)
{
	struct lws_context_creation_info info;
	struct http_server *s;
	size_t np;
	int lport, finalized = 0;

	if (!loop || !opts || !out || !opts->listen_host || opts->listen_port <= 0 ||
	    opts->listen_port > 65535) {
		if (err)
			snprintf(err, errlen, "invalid listen address");
		return RM_ERR_INVAL;
	}
	lport = probe_bind(opts->listen_host, opts->listen_port);
	if (lport) {
		if (err)
			snprintf(err, errlen, "cannot listen on %s:%d: %s", opts->listen_host,
			         opts->listen_port, strerror(lport));
		return RM_ERR_IO;
	}
	struct proxy_list *proxies = NULL;
	char perr[160] = "";
	if (proxy_list_parse(opts->trusted_proxy, &proxies, perr, sizeof(perr))) {
		if (err)
			snprintf(err, errlen, "%s", perr);
		return RM_ERR_INVAL;
	}
	s = rm_xcalloc(1, sizeof(*s));
	s->proxies = proxies;
	s->loop = loop;
	s->foreign[0] = loop;
	s->opts = *opts;
	np = opts->n_endpoints;
	s->protocols = rm_xcalloc(np + 2, sizeof(*s->protocols));
	s->protocols[0].name = "http";
	s->protocols[0].callback = http_cb;
	s->protocols[0].per_session_data_size = sizeof(struct http_pss);
	/* lws caps each send at tx_packet_size (default: 4 KB) and buffers the rest of a
	 * larger lws_write, draining it 4 KB per POLLOUT: allow a whole CHUNK per send. */
	s->protocols[0].tx_packet_size = CHUNK;
	for (size_t i = 0; i < np; i++) {
		const struct ws_endpoint *e = &opts->endpoints[i];

		s->protocols[i + 1].name = e->subprotocol;
		s->protocols[i + 1].callback = ws_cb;
		s->protocols[i + 1].per_session_data_size = sizeof(struct ws_pss);
		s->protocols[i + 1].user = (void *)e;
	}
	s->etags = rm_xcalloc(web_assets_count ? web_assets_count : 1, sizeof(*s->etags));
	for (size_t i = 0; i < web_assets_count; i++)
		snprintf(s->etags[i], sizeof(s->etags[i]), "%016llx",
		         (unsigned long long)fnv1a(web_assets[i].data, web_assets[i].len));

	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);
	memset(&info, 0, sizeof(info));
	info.port = opts->listen_port;
	info.iface = opts->listen_host;
	info.protocols = s->protocols;
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_UV_NO_SIGSEGV_SIGFPE_SPIN |
	               LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
	if (!strchr(opts->listen_host, ':'))
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	info.foreign_loops = s->foreign;
	info.user = s;
	info.finalize = vh_finalize;
	info.finalize_arg = s;
	info.server_string = "restic-manager";
	info.max_http_header_data = 16384;
	info.max_http_header_pool = 256;
	info.timeout_secs = 30;
	info.vhost_name = "default";

	s->starting = &finalized;
	s->ctx = lws_create_context(&info);
	s->starting = NULL;
	if (!s->ctx) {
		if (err)
			snprintf(err, errlen, "cannot listen on %s:%d (address in use?)",
			         opts->listen_host, opts->listen_port);
		server_free(s);
		return RM_ERR_IO;
	}
	s->vh = lws_get_vhost_by_name(s->ctx, "default");
	lport = s->vh ? lws_get_vhost_listen_port(s->vh) : -1;
	if (lport != opts->listen_port) {
		if (err)
			snprintf(err, errlen, "not listening on %s:%d", opts->listen_host,
			         opts->listen_port);
		lws_context_destroy(s->ctx); /* vhost finalize frees s */
		return RM_ERR_IO;
	}
	*out = s;
	return RM_OK;
}

void http_server_stop(struct http_server *s)
{
	struct lws_context *ctx;

	if (!s)
		return;
	/* app-level close of websockets first so on_close runs with the server intact */
	ctx = s->ctx;
	s->ctx = NULL;
	/* closes the listener and every connection (CLOSED / CLOSED_HTTP callbacks run
	 * now); the rest of the teardown, including freeing s from the vhost finalize
	 * callback, happens in uv close callbacks while the app keeps running the loop */
	lws_context_destroy(ctx);
}
