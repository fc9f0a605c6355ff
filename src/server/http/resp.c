/* Requests and responses: accessors, the respond calls, header serialisation, fixed and
 * streamed bodies. Connection handling is in server.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "server/http/http_int.h"

/* ------------------------------------------------------------------ kv lists */
void kv_add_take(struct kvlist *l, char *k, char *v)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->a = rm_xrealloc(l->a, l->cap * sizeof(*l->a));
	}
	l->a[l->n].k = k;
	l->a[l->n].v = v;
	l->n++;
}

void kv_add(struct kvlist *l, const char *k, size_t klen, const char *v, size_t vlen)
{
	kv_add_take(l, rm_xstrndup(k, klen), rm_xstrndup(v, vlen));
}

const char *kv_get(const struct kvlist *l, const char *k, int icase)
{
	for (size_t i = 0; i < l->n; i++)
		if (icase ? strcasecmp(l->a[i].k, k) == 0 : strcmp(l->a[i].k, k) == 0)
			return l->a[i].v;
	return NULL;
}

void kv_free(struct kvlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->a[i].k);
		free(l->a[i].v);
	}
	free(l->a);
	memset(l, 0, sizeof(*l));
}

static void query_cb(void *ud, char *name, char *value)
{
	kv_add_take(ud, name, value);
}

static void cookie_cb(void *ud, const char *n, size_t nl, const char *v, size_t vl)
{
	kv_add(ud, n, nl, v, vl);
}

/* ------------------------------------------------------------------ requests */
struct http_req *req_new(struct conn *c, const struct http_head *h, char *path, const char *query,
                         size_t qlen)
{
	struct http_req *r = rm_xcalloc(1, sizeof(*r));
	const char *ck;

	r->srv = c->srv;
	r->conn = c;
	r->path = path;
	memcpy(r->method, h->method, sizeof(r->method));
	r->minor = h->minor;
	r->is_head = strcmp(h->method, "HEAD") == 0;
	rm_buf_init(&r->body, HTTP_MAX_BODY);
	rm_strlcpy(r->remote_ip, c->peer, sizeof(r->remote_ip));
	for (size_t i = 0; i < h->nhdr; i++) {
		char *k = rm_xstrndup(h->hdr[i].name, h->hdr[i].nlen);

		for (char *p = k; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p + 32);
		kv_add_take(&r->headers, k, rm_xstrndup(h->hdr[i].val, h->hdr[i].vlen));
	}
	conn_set_client_ip(c->srv, r->remote_ip, sizeof(r->remote_ip),
	                   kv_get(&r->headers, "x-forwarded-for", 1));
	http_parse_query(query, qlen, 64, query_cb, &r->query);
	ck = kv_get(&r->headers, "cookie", 1);
	if (ck)
		http_parse_cookies(ck, cookie_cb, &r->cookies);
	return r;
}

void req_free(struct http_req *r)
{
	if (!r)
		return;
	if (r->ctx_free)
		r->ctx_free(r->ctx);
	if (r->stream_free)
		r->stream_free(r->stream_ctx);
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

/* The connection is gone: free unless the app still owes a deferred response. */
void req_detach(struct http_req *r)
{
	r->conn = NULL;
	if (r->deferred && !r->responded)
		return; /* the app's respond call frees it */
	req_free(r);
}

const char *http_req_method(const struct http_req *r)
{
	return r->method;
}
const char *http_req_path(const struct http_req *r)
{
	return r->path;
}
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
const char *http_req_remote_ip(const struct http_req *r)
{
	return r->remote_ip;
}
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
void *http_req_ctx(const struct http_req *r)
{
	return r->ctx;
}
void http_req_defer(struct http_req *r)
{
	r->deferred = 1;
}
int http_req_alive(const struct http_req *r)
{
	return r->conn != NULL;
}
int http_req_accepts_gzip(const struct http_req *r)
{
	return http_accepts_gzip(http_req_header(r, "accept-encoding"));
}

void http_resp_header(struct http_req *r, const char *name, const char *value)
{
	kv_add(&r->resp_headers, name, strlen(name), value, strlen(value));
}

void req_run_dispatch(struct http_req *r)
{
	struct http_server *s = r->srv;

	if (!s->opts.dispatch) {
		http_respond_error(r, 404, "not_found", "not found");
		return;
	}
	s->opts.dispatch(r, s->opts.app);
	/* single thread: the connection cannot have died inside dispatch */
	if (!r->responded && !r->deferred)
		http_respond_error(r, 500, "internal", "handler did not respond");
}

/* ------------------------------------------------------------------ responding */
static const char *reason(int st)
{
	switch (st) {
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Content";
	case 426: return "Upgrade Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Status";
	}
}

/* 1 when a header value is safe to emit (no CR/LF/NUL: response splitting). */
static int hdr_value_ok(const char *v)
{
	return strpbrk(v, "\r\n") == NULL;
}

/* Serialises the status line and headers (malloc'd, *len set). */
static char *build_head(struct http_req *r, long long body_len, size_t *len)
{
	struct rm_buf b;

	rm_buf_init(&b, 0);
	rm_buf_appendf(&b, "HTTP/1.1 %d %s\r\nserver: restic-manager\r\n", r->status,
	               reason(r->status));
	if (r->content_type)
		rm_buf_appendf(&b, "content-type: %s\r\n", r->content_type);
	if (r->chunked)
		rm_buf_append_str(&b, "transfer-encoding: chunked\r\n");
	else if (!r->no_body_status && body_len >= 0)
		rm_buf_appendf(&b, "content-length: %lld\r\n", body_len);
	rm_buf_append_str(&b, "x-content-type-options: nosniff\r\n"
	                      "x-frame-options: DENY\r\n"
	                      "referrer-policy: same-origin\r\n");
	if (r->content_type && strncmp(r->content_type, "text/html", 9) == 0)
		rm_buf_append_str(&b, "content-security-policy: default-src 'self'; connect-src "
		                      "'self'; img-src 'self' data:; style-src 'self' "
		                      "'unsafe-inline'\r\n");
	for (size_t i = 0; i < r->resp_headers.n; i++) {
		const struct kv *h = &r->resp_headers.a[i];

		if (!hdr_value_ok(h->k) || !hdr_value_ok(h->v) || strchr(h->k, ':')) {
			RM_ERROR("http: response header with CR/LF dropped", "name", h->k);
			continue;
		}
		rm_buf_appendf(&b, "%s: %s\r\n", h->k, h->v);
	}
	if (r->close_after || !r->conn->keep_alive)
		rm_buf_append_str(&b, "connection: close\r\n");
	rm_buf_append(&b, "\r\n", 2);
	*len = b.len;
	return rm_buf_take(&b);
}

static void on_fixed_written(struct conn *c, int status)
{
	(void)status;
	if (c->writes == 0)
		conn_request_done(c);
}

static void stream_pump(struct http_req *r);

static void stream_schedule(struct conn *c)
{
	struct http_server *s = c->srv;

	if (c->pull_queued)
		return;
	c->pull_queued = 1;
	c->pull_next = s->pull_list;
	s->pull_list = c;
	server_schedule_turn(s);
}

void stream_unschedule(struct conn *c)
{
	struct conn **pp;

	if (!c->pull_queued)
		return;
	for (pp = &c->srv->pull_list; *pp; pp = &(*pp)->pull_next)
		if (*pp == c) {
			*pp = c->pull_next;
			break;
		}
	c->pull_queued = 0;
	c->pull_next = NULL;
}

/* Pulls for the streams that drained, within a time budget per loop turn: the rest keep
 * their place and run next turn, so any number of downloads stalls the loop by at most
 * about PULL_BUDGET_NS plus one pull. */
void stream_run_pulls(struct http_server *s)
{
	struct conn *list = s->pull_list, *tail;
	uint64_t t0 = uv_hrtime();

	s->pull_list = NULL;
	while (list) {
		struct conn *c = list;

		if (uv_hrtime() - t0 > PULL_BUDGET_NS) {
			for (tail = list; tail->pull_next; tail = tail->pull_next)
				;
			tail->pull_next = s->pull_list; /* the unserved go first next turn */
			s->pull_list = list;
			server_schedule_turn(s);
			return;
		}
		list = c->pull_next;
		c->pull_next = NULL;
		c->pull_queued = 0;
		if (c->req && c->state == CS_WRITE)
			stream_pump(c->req);
	}
}

static void on_stream_written(struct conn *c, int status)
{
	struct http_req *r = c->req;

	(void)status;
	if (!r)
		return;
	if (r->stream_ended) {
		if (c->writes == 0)
			conn_request_done(c);
		return;
	}
	stream_schedule(c); /* the next pull runs next loop turn (see server.c) */
}

/* Sends the response stored on r (headers + fixed body, or headers then pulls). */
void req_start_write(struct http_req *r)
{
	struct conn *c = r->conn;
	size_t hl = 0;
	char *head;
	uv_buf_t b[2];

	c->state = CS_WRITE;
	c->deadline = 0;
	if (r->pull) {
		head = build_head(r, r->stream_len, &hl);
		b[0] = uv_buf_init(head, (unsigned)hl);
		conn_write(c, b, 1, head, NULL, on_stream_written);
		return;
	}
	head = build_head(r, (long long)r->decl_len, &hl);
	b[0] = uv_buf_init(head, (unsigned)hl);
	if (r->out_len) {
		b[1] = uv_buf_init((char *)r->out, (unsigned)r->out_len);
		conn_write(c, b, 2, head, NULL, on_fixed_written);
	} else {
		conn_write(c, b, 1, head, NULL, on_fixed_written);
	}
}

/* Common tail of every respond call: the response data is stored on r. */
static void respond_commit(struct http_req *r)
{
	r->responded = 1;
	r->decl_len = r->out_len;
	if (r->is_head)
		r->out_len = 0;
	if (r->status == 204 || r->status == 304 || r->status < 200) {
		r->no_body_status = 1;
		r->out_len = 0;
	}
	if (!r->conn) {
		req_free(r); /* client gone while the app was working */
		return;
	}
	req_start_write(r);
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
	respond_commit(r);
}

void req_respond_static(struct http_req *r, int status, const char *ctype, const void *data,
                        size_t len)
{
	set_body(r, status, ctype, data, len, NULL);
}

void http_respond_take(struct http_req *r, int status, const char *content_type, void *data,
                       size_t len)
{
	set_body(r, status, content_type, data, len, data);
}

void http_respond_raw(struct http_req *r, int status, const char *content_type, const void *data,
                      size_t len)
{
	void *copy = rm_xmalloc(len ? len : 1);

	if (len)
		memcpy(copy, data, len);
	http_respond_take(r, status, content_type, copy, len);
}

void http_respond_json(struct http_req *r, int status, json_t *body_take)
{
	char *s = NULL;

	if (body_take) {
		s = rmj_dumps(body_take);
		json_decref(body_take);
	}
	if (!kv_get(&r->resp_headers, "cache-control", 1))
		http_resp_header(r, "cache-control", "no-store");
	if (s)
		http_respond_take(r, status, "application/json", s, strlen(s));
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

/* ------------------------------------------------------------------ streaming */
void http_respond_stream(struct http_req *r, int status, const char *content_type, long long length,
                         http_pull_fn pull, void *stream_ctx, void (*stream_free)(void *))
{
	if (r->responded) {
		RM_ERROR("http: second response for one request ignored", "path", r->path);
		if (stream_free)
			stream_free(stream_ctx);
		return;
	}
	r->stream_ctx = stream_ctx;
	r->stream_free = stream_free;
	r->status = status;
	free(r->content_type);
	r->content_type = content_type ? rm_xstrdup(content_type) : NULL;
	r->pull = pull;
	r->stream_len = length;
	r->responded = 1;
	if (!r->conn) {
		req_free(r);
		return;
	}
	if (r->is_head) {
		r->stream_ended = 1; /* headers only */
	} else if (length < 0) {
		if (r->minor >= 1)
			r->chunked = 1;
		else
			r->conn->keep_alive = 0; /* HTTP/1.0: the close ends the body */
	}
	req_start_write(r);
}

/* One pull when little is queued (at most one per loop turn per response). */
static void stream_pump(struct http_req *r)
{
	struct conn *c = r->conn;

	if (c && c->state == CS_WRITE && c->req == r && !r->stream_ended && !r->in_pull &&
	    !r->pull_pending && c->inflight < STREAM_LOW_WATER) {
		size_t before = c->inflight;

		r->in_pull = 1;
		r->pull(r, r->stream_ctx);
		r->in_pull = 0;
		/* nothing yet: the app started an asynchronous read and writes (or ends) from a
		 * later loop callback; no pull until then */
		if (!r->stream_ended && c->inflight == before)
			r->pull_pending = 1;
	}
	if (c && c->req == r && r->stream_ended && c->writes == 0)
		conn_request_done(c);
}

static void stream_queue(struct http_req *r, const void *data, size_t len, void *owned)
{
	struct conn *c = r->conn;
	uv_buf_t b[3];
	char *pre = NULL;
	unsigned n = 0;

	r->pull_pending = 0;
	if (!c || r->stream_ended || !len) {
		free(owned);
		if (c && !len && !r->stream_ended)
			stream_schedule(c); /* an empty async result: pull again next turn */
		return;
	}
	if (r->chunked) {
		pre = rm_xasprintf("%zx\r\n", len);
		b[n++] = uv_buf_init(pre, (unsigned)strlen(pre));
	}
	b[n++] = uv_buf_init((char *)data, (unsigned)len);
	if (r->chunked)
		b[n++] = uv_buf_init("\r\n", 2);
	conn_write(c, b, n, pre, owned, on_stream_written);
}

void http_stream_write(struct http_req *r, const void *data, size_t len)
{
	void *copy = rm_xmalloc(len ? len : 1);

	memcpy(copy, data, len);
	stream_queue(r, copy, len, copy);
}

void http_stream_write_ref(struct http_req *r, const void *data, size_t len)
{
	stream_queue(r, data, len, NULL);
}

void http_stream_write_take(struct http_req *r, void *data, size_t len)
{
	stream_queue(r, data, len, data);
}

void http_stream_end(struct http_req *r)
{
	struct conn *c = r->conn;

	if (r->stream_ended)
		return;
	r->stream_ended = 1;
	r->pull_pending = 0;
	if (c && r->chunked) {
		uv_buf_t b = uv_buf_init("0\r\n\r\n", 5);

		conn_write(c, &b, 1, NULL, NULL, on_stream_written);
	}
	if (c && !r->chunked && !r->in_pull && c->writes == 0)
		conn_request_done(c);
}

void http_stream_abort(struct http_req *r)
{
	struct conn *c = r->conn;

	if (r->stream_ended)
		return;
	r->stream_ended = 1;
	r->pull_pending = 0;
	if (c)
		conn_close(c);
}
