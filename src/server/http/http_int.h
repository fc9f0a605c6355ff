#ifndef RM_SERVER_HTTP_HTTP_INT_H
#define RM_SERVER_HTTP_HTTP_INT_H
/* Internals shared by the http/ transport files (server.c: listener, connections,
 * request state machine, limits; resp.c: requests and responses; ws.c: WebSockets;
 * static.c: embedded assets). Nothing outside src/server/http includes this.
 *
 * Everything runs on the loop thread. Object lifetimes:
 *  - struct conn: one per TCP connection, freed in the uv close callback of its handle.
 *  - struct http_req: one per request; freed when its response is fully written, or at
 *    connection close unless the app still owes a deferred response (then the respond
 *    call frees it).
 *  - struct ws_conn: created for an upgrade request before on_open; lives until the
 *    connection closes (on_close runs at the start of the close; the struct is freed with
 *    the conn). */
#include <stdint.h>
#include <uv.h>

#include "common/buf.h"
#include "server/http/http.h"
#include "server/http/parse.h"

/* ---- limits (see docs/internals/http.md for the reasoning) ---- */
#define HEAD_TIMEOUT_MS 10000 /* first byte of a request -> complete head */
#define IDLE_TIMEOUT_MS 30000 /* keep-alive connection without a request */
#define BODY_WINDOW_MS 10000  /* body: each window must bring BODY_MIN_BYTES */
#define BODY_MIN_BYTES 2048
#define BODY_TIMEOUT_MS 120000              /* whole body, whatever the rate */
#define WRITE_STALL_MS 60000                /* response/queue bytes not moving at all */
#define DRAIN_TIMEOUT_MS 10000              /* lingering close after an early error */
#define WS_CLOSE_WAIT_MS 3000               /* close frame sent -> peer's close / EOF */
#define HTTP_DRAIN_MAX (64LL * 1024 * 1024) /* bodies up to this are discarded after a 413 */
#define PER_IP_HTTP_MAX 128               /* HTTP (non-WebSocket) connections per client address */
#define HTTP_CONNS_MAX 4096               /* HTTP connections in all */
#define EVICT_MIN_AGE_MS 1000             /* only connections waiting this long are evicted */
#define CONNS_MAX 60000                   /* every connection, WebSockets included */
#define BODY_BUDGET (128u * 1024 * 1024)  /* request body bytes buffered in all */
#define READ_PAUSE_BYTES (64 * 1024)      /* pipelined input kept while a response is owed */
#define STREAM_LOW_WATER (128 * 1024)     /* streaming: pull more when less than this is queued */
#define PULL_BUDGET_NS (10 * 1000 * 1000) /* stream pulls per loop turn */
#define WS_INFLIGHT_MAX (256 * 1024)      /* WebSocket bytes handed to the kernel path at once */

struct kv {
	char *k;
	char *v;
};
struct kvlist {
	struct kv *a;
	size_t n, cap;
};
void kv_add(struct kvlist *l, const char *k, size_t klen, const char *v, size_t vlen);
void kv_add_take(struct kvlist *l, char *k, char *v);
const char *kv_get(const struct kvlist *l, const char *k, int icase);
void kv_free(struct kvlist *l);

enum conn_state {
	CS_HEAD,   /* waiting for / reading a request head (also idle keep-alive) */
	CS_BODY,   /* reading a request body */
	CS_APP,    /* the app owes a response */
	CS_WRITE,  /* writing a response */
	CS_DRAIN,  /* early response sent: discarding the rest of the body, then close */
	CS_WS,     /* WebSocket */
	CS_CLOSED, /* uv_close called */
};

struct http_server;
struct ws_conn;
struct conn;

/* A doubly linked list of connections, oldest first. */
struct conn_list {
	struct conn *head, *tail;
};

struct conn {
	uv_tcp_t tcp; /* tcp.data == this */
	struct http_server *srv;
	struct conn *prev, *next; /* in *list */
	struct conn_list *list;   /* srv->http, or srv->ws once upgraded */
	struct ip_slot *ip_slot;  /* per-address count while an HTTP connection */
	char peer[64];
	enum conn_state state;
	struct rm_buf in; /* received, not yet consumed */
	int reading;
	int shutting;           /* uv_shutdown issued */
	uint64_t deadline;      /* loop ms; 0 = none */
	uint64_t since;         /* entered the current waiting state (eviction age) */
	uint64_t phase_start;   /* body: start of the body; write: last progress */
	uint64_t window_at;     /* body: end of the current rate window */
	long long window_bytes; /* body bytes at the start of the window */
	long long body_need;    /* CS_BODY / CS_DRAIN: bytes still to come */
	long long body_got;
	int keep_alive;
	int expect_continue;
	size_t inflight;        /* bytes handed to uv_write, not yet completed */
	unsigned writes;        /* uv_write requests outstanding */
	struct http_req *req;   /* current request (CS_BODY..CS_WRITE) */
	struct ws_conn *ws;     /* CS_WS (and during the upgrade) */
	struct conn *pull_next; /* srv->pull_list: a streamed response wants a pull */
	int pull_queued;
};

struct http_req {
	struct http_server *srv;
	struct conn *conn; /* NULL once the client went away */
	char method[8];
	char *path;
	char remote_ip[64];
	struct kvlist query, headers, cookies, params, resp_headers;
	struct rm_buf body;
	long long content_length;
	int minor;
	int is_head;
	int deferred;
	int responded;
	int close_after;
	int drain_body;
	void *ctx;
	void (*ctx_free)(void *);
	/* response */
	int status;
	char *content_type;
	const unsigned char *out;
	size_t out_len;
	void *out_owned;
	size_t decl_len;
	int no_body_status;
	/* streaming */
	http_pull_fn pull;
	void *stream_ctx;
	void (*stream_free)(void *);
	long long stream_len; /* -1: unknown (chunked on HTTP/1.1, close-delimited on 1.0) */
	int chunked;
	int stream_ended;
	int in_pull;
	int pull_pending; /* pull returned without writing: an asynchronous read is under way */
};

struct ip_slot {
	struct ip_slot *next;
	unsigned count;
	char ip[64];
};

#define IP_BUCKETS 1024

struct http_server {
	uv_loop_t *loop;
	uv_tcp_t listener;
	uv_timer_t sweep;
	struct http_server_opts opts;
	struct proxy_list *proxies;
	char (*etags)[24];
	/* HTTP connections (eviction walks these, oldest first) and WebSockets apart, so an
	 * over-cap accept never scans thousands of agent sockets */
	struct conn_list http, ws;
	struct ip_slot *ips[IP_BUCKETS];
	size_t n_conns, n_http;
	size_t body_bytes;   /* request bodies buffered now */
	uv_idle_t pump_idle; /* deferred work, once per loop turn: WebSocket writes (ws.c),
	                          * stream pulls (resp.c) */
	struct ws_conn *pump_list;
	struct conn *pull_list;
	int stopping;
	int open_handles;     /* listener + sweep + conns: free s when it reaches 0 */
	char slab[64 * 1024]; /* read buffer shared by all connections (one thread) */
	int slab_busy;
};

/* server.c */
void conn_close(struct conn *c); /* starts closing (idempotent) */
void conn_write(struct conn *c, uv_buf_t *bufs, unsigned n, void *owned1, void *owned2,
                void (*done)(struct conn *c, int status));
void conn_request_done(struct conn *c); /* response fully written */
void conn_became_ws(struct conn *c);    /* upgrade accepted */
void conn_set_client_ip(const struct http_server *s, char *ip, size_t iplen, const char *xff);

/* limits.c */
struct ip_slot *limits_ip_get(struct http_server *s, const char *ip); /* count not taken */
void conn_uncount(struct conn *c); /* no longer an HTTP connection */
/* Closes the oldest connection (of address ip, or any when NULL) that has waited at least
 * EVICT_MIN_AGE_MS for a request or body. */
void limits_evict_oldest(struct http_server *s, const struct ip_slot *ip);
void limits_on_sweep(uv_timer_t *t); /* the 1 s deadline sweep */

/* resp.c */
struct http_req *req_new(struct conn *c, const struct http_head *h, char *path, const char *query,
                         size_t qlen);
void req_free(struct http_req *r);
void req_detach(struct http_req *r);      /* connection gone */
void req_start_write(struct http_req *r); /* respond_commit on a live conn */
void req_write_done(struct conn *c);      /* a write of the response completed */
void req_run_dispatch(struct http_req *r);
void stream_run_pulls(struct http_server *s); /* from the per-turn idle callback */
void stream_unschedule(struct conn *c);
void respond_simple(struct conn *c, int status, const char *code, const char *msg);

/* ws.c */
void ws_upgrade(struct conn *c, struct http_req *r); /* r is an upgrade request */
void ws_process(struct conn *c);                     /* parse buffered frames */
void ws_conn_closing(struct conn *c);                /* TCP going away: on_close */
void ws_conn_free(struct ws_conn *w);
void ws_write_done(struct conn *c);
void ws_run_pumps(struct http_server *s);         /* from the per-turn idle callback */
void server_schedule_turn(struct http_server *s); /* run the idle callback next turn */
int ws_check_stall(struct conn *c, uint64_t now);

/* resp.c: a body that lives as long as the process (static assets) */
void req_respond_static(struct http_req *r, int status, const char *ctype, const void *data,
                        size_t len);

/* static.c */
void static_serve(struct http_req *r);
void static_etags_init(struct http_server *s);

#endif
