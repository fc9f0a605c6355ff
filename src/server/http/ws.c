/* WebSocket connections (RFC 6455, server side): the upgrade, frame parsing, the bounded
 * send queue and the close handshake. Framing itself is in wsframe.c.
 *
 * Send queue: messages wait in our own FIFO (bounded by the endpoint's max_queue, counted
 * together with the bytes in flight) and at most WS_INFLIGHT_MAX bytes are handed to libuv
 * at once, so ws_discard_queue can still drop what a slow reader has not received. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/log.h"
#include "common/msgq.h"
#include "server/http/http_int.h"
#include "server/http/wsframe.h"

struct ws_conn {
	struct http_server *srv;
	struct conn *conn; /* NULL once the connection is closing */
	const struct ws_endpoint *ep;
	char *path;
	char remote_ip[64];
	struct kvlist query, headers, cookies; /* handshake only (freed after on_open) */
	void *user;
	int opening;
	int accepted;    /* on_close is owed */
	int established; /* 101 written */
	int closing;     /* no more sends */
	int close_sent;
	int peer_closed;
	int close_code;
	char close_reason[124];
	struct msgq q;           /* text messages not yet handed to libuv (payloads) */
	unsigned char pong[125]; /* the latest ping's payload, answered before queued data */
	int pong_len;            /* -1: no pong owed */
	int had_queue;
	struct rm_buf rx; /* fragmented message being reassembled */
	int rx_active;
	uint64_t close_deadline;
	struct ws_conn *pump_next; /* srv->pump_list */
	int pump_queued;
};

static void pump(struct ws_conn *w);

/* ------------------------------------------------------------------ accessors */
const char *ws_conn_path(const struct ws_conn *c)
{
	return c->path;
}
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
const char *ws_conn_remote_ip(const struct ws_conn *c)
{
	return c->remote_ip;
}
void ws_conn_set_user(struct ws_conn *c, void *user)
{
	c->user = user;
}
void *ws_conn_user(const struct ws_conn *c)
{
	return c->user;
}
/* Our queue plus what libuv has not yet handed to the kernel (a write that completed
 * synchronously counts as sent even before its callback ran). */
static size_t unsent(const struct conn *c)
{
	return c ? uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp) : 0;
}

size_t ws_queued_bytes(const struct ws_conn *c)
{
	return msgq_bytes(&c->q) + unsent(c->conn);
}

/* ------------------------------------------------------------------ queue */
static void queue_clear(struct ws_conn *w)
{
	msgq_clear(&w->q);
	w->pong_len = -1;
}

/* A frame of opcode/payload as one malloc'd buffer (*len set). */
static unsigned char *frame_new(int opcode, const void *data, size_t len, size_t *flen)
{
	unsigned char hdr[WS_FRAME_HDR_MAX];
	size_t hl = ws_frame_header(hdr, opcode, len);
	unsigned char *f = rm_xmalloc(hl + len);

	memcpy(f, hdr, hl);
	if (len)
		memcpy(f + hl, data, len);
	*flen = hl + len;
	return f;
}

/* Writes are batched per loop turn (like lws's WRITEABLE): every ws_send of one callback
 * goes out in one write, and a burst can fill the queue to its cap before any byte is
 * in flight. */
void ws_run_pumps(struct http_server *s)
{
	struct ws_conn *list = s->pump_list;

	s->pump_list = NULL; /* what pump() schedules again runs next turn */
	while (list) {
		struct ws_conn *w = list;

		list = w->pump_next;
		w->pump_next = NULL;
		w->pump_queued = 0;
		pump(w);
	}
}

static void schedule_pump(struct ws_conn *w)
{
	struct http_server *s = w->srv;

	if (w->pump_queued || !w->conn)
		return;
	w->pump_queued = 1;
	w->pump_next = s->pump_list;
	s->pump_list = w;
	server_schedule_turn(s);
}

static void unschedule_pump(struct ws_conn *w)
{
	struct ws_conn **pp;

	if (!w->pump_queued)
		return;
	for (pp = &w->srv->pump_list; *pp; pp = &(*pp)->pump_next)
		if (*pp == w) {
			*pp = w->pump_next;
			break;
		}
	w->pump_queued = 0;
	w->pump_next = NULL;
}

static void on_ws_written(struct conn *c, int status)
{
	(void)status;
	ws_write_done(c);
}

static void send_close_frame(struct ws_conn *w)
{
	unsigned char pl[2 + sizeof(w->close_reason)];
	size_t rl = strlen(w->close_reason);
	unsigned char *f;
	size_t flen;
	uv_buf_t b;

	w->close_sent = 1;
	w->close_deadline = uv_now(w->srv->loop) + WS_CLOSE_WAIT_MS;
	pl[0] = (unsigned char)(w->close_code >> 8);
	pl[1] = (unsigned char)w->close_code;
	memcpy(pl + 2, w->close_reason, rl);
	f = frame_new(WS_OP_CLOSE, pl, 2 + rl, &flen);
	b = uv_buf_init((char *)f, (unsigned)flen);
	conn_write(w->conn, &b, 1, f, NULL, on_ws_written);
}

/* Hands queued messages to libuv as text frames, several per write (copied into one
 * buffer of up to 64 KiB, or one larger message alone), while less than WS_INFLIGHT_MAX is
 * unsent. A pong owed goes first. */
static void pump(struct ws_conn *w)
{
	struct conn *c = w->conn;

	if (c && c->state == CS_WS && w->pong_len >= 0 && !w->close_sent) {
		size_t flen;
		unsigned char *f = frame_new(WS_OP_PONG, w->pong, (size_t)w->pong_len, &flen);
		uv_buf_t b = uv_buf_init((char *)f, (unsigned)flen);

		w->pong_len = -1;
		conn_write(c, &b, 1, f, NULL, on_ws_written);
	}
	while (c && c->state == CS_WS && msgq_count(&w->q) && unsent(c) < WS_INFLIGHT_MAX) {
		size_t len, total = 0, cap = 64 * 1024;
		unsigned char *m = msgq_peek(&w->q, &len);
		char *buf;
		uv_buf_t b;

		if (len + WS_FRAME_HDR_MAX > cap)
			cap = len + WS_FRAME_HDR_MAX;
		buf = rm_xmalloc(cap);
		while (m && total + len + WS_FRAME_HDR_MAX <= cap) {
			total += ws_frame_header((unsigned char *)buf + total, WS_OP_TEXT, len);
			memcpy(buf + total, m, len);
			total += len;
			msgq_pop(&w->q);
			m = msgq_peek(&w->q, &len);
		}
		b = uv_buf_init(buf, (unsigned)total);
		conn_write(c, &b, 1, buf, NULL, on_ws_written);
	}
	if (c && c->state == CS_WS && !msgq_count(&w->q)) {
		if (w->closing && !w->close_sent)
			send_close_frame(w);
	}
}

void ws_write_done(struct conn *c)
{
	struct ws_conn *w = c->ws;

	if (!w || c->state != CS_WS)
		return;
	if (w->close_sent && w->peer_closed && c->writes == 0) {
		conn_close(c); /* both close frames exchanged */
		return;
	}
	pump(w);
	if (!msgq_count(&w->q) && c->inflight == 0 && w->had_queue) {
		w->had_queue = 0;
		if (w->ep->on_drain && !w->closing)
			w->ep->on_drain(w, w->srv->opts.app);
	}
}

int ws_send(struct ws_conn *c, const char *data, size_t len)
{
	size_t cap = c->ep->max_queue, used = ws_queued_bytes(c);

	if (c->closing || (!c->conn && !c->opening))
		return RM_ERR_IO;
	if (cap && (len > cap || used > cap - len))
		return RM_ERR_TOOBIG;
	msgq_push(&c->q, data, len, 0); /* uncapped here: the cap above counts unsent bytes too */
	c->had_queue = 1;
	if (c->established)
		schedule_pump(c);
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
	if (c->established && c->conn)
		schedule_pump(c);
}

/* ------------------------------------------------------------------ lifecycle */
void ws_conn_closing(struct conn *c)
{
	struct ws_conn *w = c->ws;

	if (!w)
		return;
	w->closing = 1;
	w->conn = NULL;
	unschedule_pump(w);
	queue_clear(w);
	if (w->accepted) {
		w->accepted = 0;
		if (w->ep->on_close)
			w->ep->on_close(w, w->srv->opts.app);
	}
}

void ws_conn_free(struct ws_conn *w)
{
	if (!w)
		return;
	unschedule_pump(w);
	msgq_cleanup(&w->q);
	rm_buf_cleanup(&w->rx);
	kv_free(&w->query);
	kv_free(&w->headers);
	kv_free(&w->cookies);
	free(w->path);
	free(w);
}

int ws_check_stall(struct conn *c, uint64_t now)
{
	struct ws_conn *w = c->ws;

	if (w && w->close_sent && now >= w->close_deadline)
		return 1;
	return c->inflight && now - c->phase_start >= WRITE_STALL_MS;
}

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

static void refuse(struct http_req *r, int status, const char *code, const char *msg)
{
	r->close_after = 1;
	http_respond_error(r, status, code, "%s", msg);
}

/* Runs the endpoint's on_open; 0 accepted, else the refusal was answered. */
static int open_endpoint(struct conn *c, struct http_req *r, const struct ws_endpoint *ep)
{
	struct ws_conn *w = rm_xcalloc(1, sizeof(*w));
	int rc, st;

	w->srv = c->srv;
	w->conn = c;
	w->ep = ep;
	w->path = rm_xstrdup(r->path);
	rm_strlcpy(w->remote_ip, r->remote_ip, sizeof(w->remote_ip));
	w->query = r->query;
	w->headers = r->headers;
	w->cookies = r->cookies;
	memset(&r->query, 0, sizeof(r->query));
	memset(&r->headers, 0, sizeof(r->headers));
	memset(&r->cookies, 0, sizeof(r->cookies));
	rm_buf_init(&w->rx, ep->max_message ? ep->max_message : HTTP_MAX_BODY);
	msgq_init(&w->q, 0, 0);
	w->pong_len = -1;
	c->ws = w;
	w->opening = 1;
	rc = ep->on_open ? ep->on_open(w, c->srv->opts.app) : RM_OK;
	w->opening = 0;
	kv_free(&w->query);
	kv_free(&w->headers);
	kv_free(&w->cookies);
	if (!rc) {
		w->accepted = 1;
		return 0;
	}
	st = rc == RM_ERR_AUTH        ? 401
	     : rc == RM_ERR_FORBIDDEN ? 403
	     : rc == RM_ERR_NOTFOUND  ? 404
	                              : 400;
	if (w->user && ep->on_close) {
		w->closing = 1;
		ep->on_close(w, c->srv->opts.app);
	}
	c->ws = NULL;
	ws_conn_free(w);
	refuse(r, st,
	       st == 401   ? "unauthenticated"
	       : st == 403 ? "forbidden"
	       : st == 404 ? "not_found"
	                   : "bad_request",
	       "websocket refused");
	return -1;
}

void ws_upgrade(struct conn *c, struct http_req *r)
{
	const char *key = http_req_header(r, "sec-websocket-key");
	const char *ver = http_req_header(r, "sec-websocket-version");
	const char *protos = http_req_header(r, "sec-websocket-protocol");
	const struct ws_endpoint *ep;
	char accept[29];
	char *head;
	uv_buf_t b;

	if (strcmp(r->method, "GET") != 0 || r->content_length) {
		refuse(r, 400, "bad_request", "bad websocket request");
		return;
	}
	ep = ep_for_path(c->srv, r->path);
	if (!ep) {
		refuse(r, 404, "not_found", "no websocket endpoint here");
		return;
	}
	if (!ver || strcmp(ver, "13") != 0) {
		http_resp_header(r, "sec-websocket-version", "13");
		refuse(r, 426, "bad_version", "websocket version 13 required");
		return;
	}
	if (!key || ws_accept_key(key, strlen(key), accept)) {
		refuse(r, 400, "bad_request", "bad Sec-WebSocket-Key");
		return;
	}
	if (!protos || !proto_listed(protos, ep->subprotocol)) {
		refuse(r, 400, "bad_subprotocol", "missing or unknown subprotocol");
		return;
	}
	if (open_endpoint(c, r, ep))
		return;
	/* accepted: the request object is done; the connection is a WebSocket now */
	c->req = NULL;
	req_free(r);
	conn_became_ws(c);
	c->in.max = (ep->max_message ? ep->max_message : HTTP_MAX_BODY) + 64 * 1024;
	uv_tcp_keepalive(&c->tcp, 1, 60); /* a vanished peer is noticed without traffic */
	head = rm_xasprintf("HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n"
	                    "connection: Upgrade\r\nsec-websocket-accept: %s\r\n"
	                    "sec-websocket-protocol: %s\r\n\r\n",
	                    accept, ep->subprotocol);
	b = uv_buf_init(head, (unsigned)strlen(head));
	conn_write(c, &b, 1, head, NULL, on_ws_written);
	if (c->state == CS_WS) {
		c->ws->established = 1;
		pump(c->ws);
	}
}

/* ------------------------------------------------------------------ receiving */
/* Protocol error from the peer: send our close frame, stop reading messages. */
static void fail(struct ws_conn *w, int code, const char *reason)
{
	queue_clear(w);
	w->closing = 0;
	ws_close(w, code, reason);
	w->peer_closed = 1; /* close right after our frame is out */
}

static void deliver(struct ws_conn *w, char *data, size_t len)
{
	if (!ws_utf8_valid((const unsigned char *)data, len)) {
		fail(w, 1007, "invalid UTF-8");
		return;
	}
	if (w->ep->on_message && !w->closing)
		w->ep->on_message(w, w->srv->opts.app, data, len);
}

static void on_control(struct ws_conn *w, int op, unsigned char *p, size_t n)
{
	if (op == WS_OP_PING) {
		if (!w->closing) {
			memcpy(w->pong, p, n); /* control frames are <= 125 bytes (wsframe.c) */
			w->pong_len = (int)n;
			schedule_pump(w);
		}
	} else if (op == WS_OP_CLOSE) {
		int code = n >= 2 ? (p[0] << 8 | p[1]) : 1000;

		w->peer_closed = 1;
		if (n == 1)
			code = 1002;
		if (!w->close_sent) {
			queue_clear(w);
			w->closing = 0;
			ws_close(w, code, "");
		} else if (w->conn && w->conn->writes == 0) {
			conn_close(w->conn);
		}
	}
}

/* One complete frame at the start of c->in (payload unmasked in place). */
static void on_frame(struct conn *c, const struct ws_frame *f, unsigned char *p)
{
	struct ws_conn *w = c->ws;
	size_t n = (size_t)f->len;

	if (f->opcode >= WS_OP_CLOSE) {
		on_control(w, f->opcode, p, n);
		return;
	}
	if (w->closing)
		return; /* data after our close frame: ignored */
	if (f->opcode == WS_OP_BINARY) {
		/* only unfragmented, and only for endpoints that take them (agent downloads) */
		if (!w->ep->on_binary || !f->fin || w->rx_active) {
			fail(w, 1003, "binary frames are not supported");
			return;
		}
		w->ep->on_binary(w, w->srv->opts.app, p, n);
		return;
	}
	if ((f->opcode == WS_OP_TEXT) == (w->rx_active != 0)) {
		fail(w, 1002,
		     f->opcode == WS_OP_TEXT ? "expected continuation" : "unexpected continuation");
		return;
	}
	if (f->fin && !w->rx_active) {
		unsigned char save = p[n];

		p[n] = '\0'; /* the buffer has room: rm_buf keeps a NUL after its data */
		deliver(w, (char *)p, n);
		p[n] = save;
		return;
	}
	if (rm_buf_append(&w->rx, p, n)) {
		fail(w, 1009, "message too big");
		return;
	}
	w->rx_active = 1;
	if (f->fin) {
		size_t len = w->rx.len;
		char *data = rm_buf_take(&w->rx);

		w->rx_active = 0;
		deliver(w, data, len);
		free(data);
	}
}

void ws_process(struct conn *c)
{
	struct ws_conn *w = c->ws;

	while (c->state == CS_WS && c->in.len) {
		struct ws_frame f;
		int code = 1002, rc;
		size_t max = w->ep->max_message ? w->ep->max_message : HTTP_MAX_BODY;

		if (w->peer_closed) {
			rm_buf_reset(&c->in);
			return;
		}
		rc = ws_frame_parse((unsigned char *)c->in.data, c->in.len, &f, &code);
		if (rc == 0)
			return;
		if (rc < 0) {
			fail(w, code, "protocol error");
			return;
		}
		if (f.len > max || w->rx.len + f.len > max) {
			fail(w, 1009, "message too big");
			return;
		}
		if (c->in.len - f.hdr_len < f.len)
			return; /* wait for the whole frame (bounded by max) */
		ws_unmask((unsigned char *)c->in.data + f.hdr_len, (size_t)f.len, f.mask, 0);
		on_frame(c, &f, (unsigned char *)c->in.data + f.hdr_len);
		if (c->state == CS_WS)
			rm_buf_consume(&c->in, f.hdr_len + (size_t)f.len);
	}
}
