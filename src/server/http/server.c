/* HTTP/1.1 server on libuv: listener, connections, the request state machine, timeouts and
 * per-address limits. Requests and responses are in resp.c, WebSockets in ws.c.
 *
 * Why our own and not libwebsockets' server (measured, issue 8): lws 4.1.6 spun at 100 %
 * CPU on a POST pipelined behind another request, ignored Transfer-Encoding, and shared a
 * fixed pool of 256 header buffers that 300 slow clients could hold forever. Here a
 * connection only costs its uv handle until it sends bytes, every phase has a deadline,
 * and pipelined input simply waits in the connection's buffer for the response before it.
 *
 * Limits (http_int.h): a request head must complete within 10 s of its first byte, a body
 * must bring 2 KiB per 10 s window and finish within 120 s, an idle keep-alive connection
 * closes after 30 s, a response that does not move for 60 s is cut. Per client address at
 * most 128 HTTP connections and 4,096 in all: beyond that the *oldest* connection of that
 * address (or overall) that is still waiting for a request or body is closed, so a flood
 * of slow clients evicts itself while quick requests (/healthz, agent reconnects) get
 * through. WebSocket connections do not count against these. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "server/http/http_int.h"
#include "server/http/proxy.h"

/* ------------------------------------------------------------------ per-turn work */
/* Work that must not run inside a write callback chain: libuv runs write completions
 * that finished synchronously back to back without polling in between, so a fast reader
 * of a long streamed response would starve every other connection. Queued work runs here,
 * once per loop turn, with a poll for other sockets between turns. */
static void on_turn_idle(uv_idle_t *h)
{
	struct http_server *s = h->data;

	uv_idle_stop(h);
	ws_run_pumps(s);
	stream_run_pulls(s);
}

void server_schedule_turn(struct http_server *s)
{
	if (!s->stopping)
		uv_idle_start(&s->pump_idle, on_turn_idle);
}

/* ------------------------------------------------------------------ connections */
/* Every uv handle of the server (listener, sweep timer, connections) counts; the struct
 * is freed by the last close callback after http_server_stop. */
static void server_handle_closed(struct http_server *s)
{
	if (--s->open_handles == 0 && s->stopping) {
		proxy_list_free(s->proxies);
		free(s->etags);
		free(s);
	}
}

static void on_server_handle_close(uv_handle_t *h)
{
	server_handle_closed(h->data);
}

static void on_close_cb(uv_handle_t *h)
{
	struct conn *c = h->data;
	struct http_server *s = c->srv;

	if (c->ws)
		ws_conn_free(c->ws);
	rm_buf_cleanup(&c->in);
	free(c);
	server_handle_closed(s);
}

/* Appends c to list (newest last). */
static void conn_link(struct conn *c, struct conn_list *list)
{
	c->list = list;
	c->next = NULL;
	c->prev = list->tail;
	if (list->tail)
		list->tail->next = c;
	else
		list->head = c;
	list->tail = c;
}

static void conn_unlink(struct conn *c)
{
	struct conn_list *list = c->list;

	if (c->prev)
		c->prev->next = c->next;
	else
		list->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		list->tail = c->prev;
	c->prev = c->next = NULL;
	c->list = NULL;
}

/* The request body bytes this connection holds leave the server-wide budget. */
static void body_release(struct conn *c)
{
	c->srv->body_bytes -= (size_t)c->body_got;
	c->body_got = 0;
}

void conn_close(struct conn *c)
{
	if (c->state == CS_CLOSED)
		return;
	if (c->ws)
		ws_conn_closing(c); /* on_close while the server is intact */
	stream_unschedule(c);
	c->state = CS_CLOSED;
	if (c->req) {
		struct http_req *r = c->req;

		c->req = NULL;
		req_detach(r);
	}
	body_release(c);
	conn_uncount(c);
	conn_unlink(c);
	c->srv->n_conns--;
	uv_close((uv_handle_t *)&c->tcp, on_close_cb);
}

static void read_pause(struct conn *c)
{
	if (c->reading) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = 0;
	}
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf);
static void on_alloc(uv_handle_t *h, size_t want, uv_buf_t *buf);

static void read_resume(struct conn *c)
{
	if (!c->reading && c->state != CS_CLOSED && !c->shutting) {
		if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
			c->reading = 1;
	}
}

/* ------------------------------------------------------------------ writes */
struct wreq {
	uv_write_t w;
	struct conn *c;
	size_t bytes;
	void *owned1, *owned2;
	void (*done)(struct conn *c, int status);
};

static void on_write(uv_write_t *w, int status)
{
	struct wreq *q = (struct wreq *)w;
	struct conn *c = q->c;

	c->inflight -= q->bytes;
	c->writes--;
	free(q->owned1);
	free(q->owned2);
	if (c->state != CS_CLOSED) {
		c->phase_start = uv_now(c->srv->loop); /* write progress */
		if (status < 0)
			conn_close(c);
		else if (q->done)
			q->done(c, status);
	}
	free(q);
}

void conn_write(struct conn *c, uv_buf_t *bufs, unsigned n, void *owned1, void *owned2,
                void (*done)(struct conn *c, int status))
{
	struct wreq *q = rm_xcalloc(1, sizeof(*q));

	q->c = c;
	q->owned1 = owned1;
	q->owned2 = owned2;
	q->done = done;
	for (unsigned i = 0; i < n; i++)
		q->bytes += bufs[i].len;
	if (c->state == CS_CLOSED ||
	    uv_write(&q->w, (uv_stream_t *)&c->tcp, bufs, n, on_write) != 0) {
		free(owned1);
		free(owned2);
		free(q);
		conn_close(c);
		return;
	}
	if (!c->inflight)
		c->phase_start = uv_now(c->srv->loop);
	c->inflight += q->bytes;
	c->writes++;
}

static void on_shutdown(uv_shutdown_t *sh, int status)
{
	struct conn *c = sh->data;

	free(sh);
	(void)status;
	/* keep the socket until the peer closes (read EOF) or the drain deadline: closing
	 * with unread input would make the kernel send an RST that can destroy the last
	 * response before the client read it */
	if (c->state != CS_CLOSED) {
		c->state = CS_DRAIN;
		c->body_need = HTTP_DRAIN_MAX;
		c->deadline = uv_now(c->srv->loop) + 2000;
		read_resume(c);
	}
}

/* Half-closes after everything queued was written, then closes on EOF or a deadline. */
static void conn_shutdown(struct conn *c)
{
	uv_shutdown_t *sh;

	if (c->shutting || c->state == CS_CLOSED)
		return;
	c->shutting = 1;
	sh = rm_xcalloc(1, sizeof(*sh));
	sh->data = c;
	if (uv_shutdown(sh, (uv_stream_t *)&c->tcp, on_shutdown)) {
		free(sh);
		conn_close(c);
	}
}

/* ------------------------------------------------------------------ request state machine */
static void process(struct conn *c);

void conn_set_client_ip(const struct http_server *s, char *ip, size_t iplen, const char *xff)
{
	char peer[64];

	if (!s->proxies || !xff)
		return;
	rm_strlcpy(peer, ip, sizeof(peer));
	proxy_client_ip(s->proxies, peer, xff, ip, iplen);
}

static void enter_head(struct conn *c)
{
	uint64_t now = uv_now(c->srv->loop);

	c->state = CS_HEAD;
	c->since = now;
	c->deadline = now + (c->in.len ? HEAD_TIMEOUT_MS : IDLE_TIMEOUT_MS);
}

/* Response written completely: next request on a keep-alive connection, else close. */
void conn_request_done(struct conn *c)
{
	struct http_req *r = c->req;
	int close_after = !c->keep_alive || (r && r->close_after);
	int drain = r && r->drain_body && c->body_need > 0;

	c->req = NULL;
	body_release(c);
	if (r)
		req_free(r);
	if (drain) {
		/* lingering close: read and discard the announced body (bounded) first */
		c->state = CS_DRAIN;
		c->deadline = uv_now(c->srv->loop) + DRAIN_TIMEOUT_MS;
		read_resume(c);
		process(c);
		return;
	}
	if (close_after) {
		c->state = CS_DRAIN;
		conn_shutdown(c);
		return;
	}
	enter_head(c);
	read_resume(c);
	process(c);
}

/* An error answered before (or instead of) the body: close after it. */
void respond_simple(struct conn *c, int status, const char *code, const char *msg)
{
	struct http_req *r = c->req;

	if (!r) {
		struct http_head h;

		memset(&h, 0, sizeof(h));
		memcpy(h.method, "GET", 4);
		h.minor = 1;
		r = req_new(c, &h, rm_xstrdup("/"), "", 0);
		c->req = r;
	}
	r->close_after = 1;
	c->keep_alive = 0;
	c->state = CS_APP;
	http_respond_error(r, status, code, "%s", msg);
}

static const char *status_code_name(int st)
{
	switch (st) {
	case 400: return "bad_request";
	case 408: return "timeout";
	case 411: return "length_required";
	case 413: return "too_large";
	case 417: return "expectation_failed";
	case 431: return "headers_too_large";
	case 501: return "not_implemented";
	case 505: return "http_version";
	default: return "error";
	}
}

static const char *status_msg(int st)
{
	switch (st) {
	case 411: return "chunked request bodies are not supported; send Content-Length";
	case 417: return "unsupported Expect header";
	case 431: return "request header block too large";
	case 501: return "method not implemented";
	case 505: return "HTTP version not supported";
	case 408: return "request timed out";
	default: return "malformed request";
	}
}

/* 1 when the app's dispatch handles path (else the embedded static assets serve it). */
static int is_api(const struct http_server *s, const char *p)
{
	if (s->opts.is_api_path)
		return s->opts.is_api_path(p);
	return strncmp(p, "/api/", 5) == 0 || strcmp(p, "/healthz") == 0 ||
	       strncmp(p, "/install/", 9) == 0 || strncmp(p, "/agent/", 7) == 0;
}

/* A complete head at the start of c->in: build the request and route it. */
static void start_request(struct conn *c, const struct http_head *h)
{
	struct http_framing f;
	struct http_req *r;
	char *path = NULL;
	const char *q;
	size_t ql;
	int st = http_head_framing(h, &f);

	if (st) {
		respond_simple(c, st, status_code_name(st), status_msg(st));
		return;
	}
	if (http_split_target(h->target, h->target_len, &path, &q, &ql)) {
		respond_simple(c, 400, "bad_path", "invalid path");
		return;
	}
	r = req_new(c, h, path, q, ql);
	r->content_length = f.content_length;
	c->req = r;
	c->keep_alive = f.keep_alive;
	c->expect_continue = f.expect_continue;
	rm_buf_consume(&c->in, h->head_len);
	c->state = CS_APP;
	if (f.upgrade_websocket && c->srv->opts.n_endpoints) {
		ws_upgrade(c, r);
		return;
	}
	if (strcmp(r->method, "OPTIONS") == 0) {
		http_respond_error(r, 405, "method_not_allowed", "method not allowed");
		return;
	}
	if (!is_api(c->srv, r->path)) {
		c->body_need = f.content_length;
		r->drain_body = f.content_length > 0;
		static_serve(r);
		return;
	}
	if (f.content_length > HTTP_MAX_BODY) {
		/* answer at once (an Expect: 100-continue client then never sends the body);
		 * whatever body still arrives is read and discarded, then the connection closes */
		r->close_after = 1;
		c->body_need = f.content_length;
		r->drain_body = f.content_length <= HTTP_DRAIN_MAX && !f.expect_continue;
		http_respond_error(r, 413, "too_large", "request body exceeds %d bytes",
		                   HTTP_MAX_BODY);
		return;
	}
	if (f.content_length > 0) {
		uint64_t now = uv_now(c->srv->loop);

		c->state = CS_BODY;
		c->since = now;
		c->body_need = f.content_length;
		c->phase_start = now;
		c->window_at = now + BODY_WINDOW_MS;
		c->window_bytes = 0;
		c->deadline = now + BODY_TIMEOUT_MS;
		if (c->expect_continue && c->in.len == 0) {
			static char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
			uv_buf_t b = uv_buf_init(cont, sizeof(cont) - 1);

			conn_write(c, &b, 1, NULL, NULL, NULL);
		}
		return;
	}
	req_run_dispatch(r);
}

static void take_body(struct conn *c)
{
	struct http_req *r = c->req;
	size_t n = c->in.len < (size_t)c->body_need ? c->in.len : (size_t)c->body_need;

	if (!n)
		return;
	if (c->srv->body_bytes + n > BODY_BUDGET) {
		RM_WARN("http: request body budget exhausted", "client", c->peer);
		respond_simple(c, 503, "busy", "server busy, retry later");
		return;
	}
	rm_buf_append(&r->body, c->in.data, n); /* cannot fail: CL <= HTTP_MAX_BODY */
	c->srv->body_bytes += n;
	c->body_got += (long long)n;
	c->body_need -= (long long)n;
	rm_buf_consume(&c->in, n);
	if (c->body_need == 0) {
		c->state = CS_APP;
		c->deadline = 0;
		req_run_dispatch(r);
	}
}

static void process(struct conn *c)
{
	for (;;) {
		switch (c->state) {
		case CS_HEAD: {
			struct http_head h;
			int st = 0, rc;

			if (c->in.len == 0)
				return;
			rc = http_parse_head(c->in.data, c->in.len, &h, &st);
			if (rc == 0)
				return;
			if (rc < 0) {
				respond_simple(c, st, status_code_name(st), status_msg(st));
				return;
			}
			c->deadline = 0;
			start_request(c, &h);
			break;
		}
		case CS_BODY:
			take_body(c);
			if (c->state == CS_BODY)
				return;
			break;
		case CS_DRAIN: {
			size_t n =
			    c->in.len < (size_t)c->body_need ? c->in.len : (size_t)c->body_need;

			rm_buf_consume(&c->in, n);
			c->body_need -= (long long)n;
			if (c->in.len) /* more than announced: the client is not HTTP-sane */
				rm_buf_reset(&c->in);
			if (c->body_need <= 0 && !c->shutting)
				conn_shutdown(c);
			return;
		}
		case CS_WS: ws_process(c); return;
		case CS_APP:
		case CS_WRITE:
			/* pipelined input waits for this response; stop reading past a bound */
			if (c->in.len > READ_PAUSE_BYTES)
				read_pause(c);
			return;
		case CS_CLOSED: return;
		}
		if (c->state == CS_APP || c->state == CS_WRITE || c->state == CS_CLOSED)
			return;
	}
}

static void on_alloc(uv_handle_t *h, size_t want, uv_buf_t *buf)
{
	struct conn *c = h->data;

	(void)want;
	/* one shared slab: read_cb consumes it before the loop reads another socket */
	buf->base = c->srv->slab;
	buf->len = sizeof(c->srv->slab);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct conn *c = st->data;

	if (n < 0) {
		conn_close(c);
		return;
	}
	if (n == 0 || c->state == CS_CLOSED)
		return;
	if (c->state == CS_DRAIN && c->in.len == 0) {
		size_t k = (size_t)n < (size_t)c->body_need ? (size_t)n : (size_t)c->body_need;

		c->body_need -= (long long)k;
		if (c->body_need <= 0 && !c->shutting)
			conn_shutdown(c);
		return;
	}
	if (c->state == CS_HEAD && c->in.len == 0)
		c->deadline = uv_now(c->srv->loop) + HEAD_TIMEOUT_MS;
	if (rm_buf_append(&c->in, buf->base, (size_t)n)) {
		conn_close(c); /* input cap: a peer that ignores every limit */
		return;
	}
	process(c);
	if (c->state != CS_CLOSED && c->in.len == 0 && c->in.cap > 4096)
		rm_buf_cleanup(&c->in); /* idle connections keep no buffer */
}

/* ------------------------------------------------------------------ listener */
static void on_connection(uv_stream_t *ls, int status)
{
	struct http_server *s = ls->data;
	struct conn *c;
	struct sockaddr_storage ss;
	int sl = sizeof(ss);

	if (status < 0 || s->stopping)
		return;
	c = rm_xcalloc(1, sizeof(*c));
	c->srv = s;
	c->since = uv_now(s->loop);
	c->deadline = c->since + HEAD_TIMEOUT_MS;
	uv_tcp_init(s->loop, &c->tcp);
	c->tcp.data = c;
	s->open_handles++;
	if (uv_accept(ls, (uv_stream_t *)&c->tcp)) {
		c->state = CS_CLOSED;
		uv_close((uv_handle_t *)&c->tcp, on_close_cb);
		return;
	}
	rm_buf_init(&c->in, HTTP_MAX_HEAD + HTTP_MAX_BODY + READ_PAUSE_BYTES + 64 * 1024);
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET)
			uv_ip4_name((struct sockaddr_in *)&ss, c->peer, sizeof(c->peer));
		else
			uv_ip6_name((struct sockaddr_in6 *)&ss, c->peer, sizeof(c->peer));
	}
	uv_tcp_nodelay(&c->tcp, 1);
	conn_link(c, &s->http); /* newest last: eviction walks from the oldest */
	s->n_conns++;
	c->ip_slot = limits_ip_get(s, c->peer);
	c->ip_slot->count++;
	s->n_http++;
	if (s->n_conns > CONNS_MAX) {
		conn_close(c);
		return;
	}
	if (c->ip_slot->count > PER_IP_HTTP_MAX)
		limits_evict_oldest(s, c->ip_slot);
	if (s->n_http > HTTP_CONNS_MAX)
		limits_evict_oldest(s, NULL);
	if (c->state == CS_CLOSED)
		return;
	c->state = CS_HEAD;
	read_resume(c);
}

/* The connection became a WebSocket: it no longer counts against HTTP limits. */
void conn_became_ws(struct conn *c)
{
	conn_uncount(c);
	conn_unlink(c);
	conn_link(c, &c->srv->ws);
	c->state = CS_WS;
	c->deadline = 0;
}

static int resolve(const char *host, int port, struct sockaddr_storage *ss)
{
	struct addrinfo hints, *res = NULL;
	char ps[16];

	if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0)
		return 0;
	if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0)
		return 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(ps, sizeof(ps), "%d", port);
	if (getaddrinfo(host, ps, &hints, &res) || !res)
		return -1;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

int http_server_start(uv_loop_t *loop, const struct http_server_opts *opts,
                      struct http_server **out, char *err, size_t errlen)
{
	struct http_server *s;
	struct sockaddr_storage ss;
	struct proxy_list *proxies = NULL;
	char perr[160] = "";
	int rc;

	if (!loop || !opts || !out || !opts->listen_host || opts->listen_port <= 0 ||
	    opts->listen_port > 65535) {
		snprintf(err, errlen, "invalid listen address");
		return RM_ERR_INVAL;
	}
	memset(&ss, 0, sizeof(ss));
	if (resolve(opts->listen_host, opts->listen_port, &ss)) {
		snprintf(err, errlen, "cannot resolve listen address %s", opts->listen_host);
		return RM_ERR_INVAL;
	}
	if (proxy_list_parse(opts->trusted_proxy, &proxies, perr, sizeof(perr))) {
		snprintf(err, errlen, "%s", perr);
		return RM_ERR_INVAL;
	}
	s = rm_xcalloc(1, sizeof(*s));
	s->loop = loop;
	s->opts = *opts;
	s->proxies = proxies;
	uv_tcp_init(loop, &s->listener);
	s->listener.data = s;
	rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&ss,
	                 ss.ss_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0);
	if (!rc)
		rc = uv_listen((uv_stream_t *)&s->listener, 1024, on_connection);
	if (rc) {
		snprintf(err, errlen, "cannot listen on %s:%d: %s", opts->listen_host,
		         opts->listen_port, uv_strerror(rc));
		/* the listener's close callback frees s on a later loop turn */
		s->stopping = 1;
		s->open_handles = 1;
		uv_close((uv_handle_t *)&s->listener, on_server_handle_close);
		return RM_ERR_IO;
	}
	s->open_handles = 1;
	uv_timer_init(loop, &s->sweep);
	s->sweep.data = s;
	uv_timer_start(&s->sweep, limits_on_sweep, 1000, 1000);
	uv_unref((uv_handle_t *)&s->sweep);
	s->open_handles++;
	uv_idle_init(loop, &s->pump_idle);
	s->pump_idle.data = s;
	s->open_handles++;
	static_etags_init(s);
	*out = s;
	return RM_OK;
}

void http_server_stop(struct http_server *s)
{
	if (!s || s->stopping)
		return;
	s->stopping = 1;
	uv_close((uv_handle_t *)&s->listener, on_server_handle_close);
	uv_timer_stop(&s->sweep);
	uv_close((uv_handle_t *)&s->sweep, on_server_handle_close);
	uv_idle_stop(&s->pump_idle);
	uv_close((uv_handle_t *)&s->pump_idle, on_server_handle_close);
	while (s->ws.head)
		conn_close(s->ws.head);
	while (s->http.head)
		conn_close(s->http.head);
}
