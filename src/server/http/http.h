#ifndef RM_SERVER_HTTP_HTTP_H
#define RM_SERVER_HTTP_HTTP_H
/* HTTP/1.1 + WebSocket server on libuv (our own, see docs/internals/http.md for why it is
 * not libwebsockets' server any more). Generic plumbing only: it knows
 * nothing of users, hosts or jobs. The api/ layer supplies one dispatch function (which
 * owns the route table, authentication and roles) and a list of WebSocket endpoints.
 *
 * Threading: everything here runs on the libuv loop thread. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define HTTP_MAX_BODY (1024 * 1024) /* request bodies above this get 413 */

struct http_req; /* one HTTP request; owned by the framework */
struct http_server;
struct ws_conn; /* one accepted WebSocket */

/* ---- request accessors (all strings borrowed, valid until the response is sent) ---- */
const char *http_req_method(const struct http_req *r); /* "GET", "POST", ... */
const char *http_req_path(const struct http_req *r);   /* decoded path without query */
/* Query parameter (URL-decoded) or NULL. */
const char *http_req_query(const struct http_req *r, const char *name);
/* Header by lower-case name ("x-csrf-token", "authorization", "content-type",
 * "user-agent") or NULL. */
const char *http_req_header(const struct http_req *r, const char *name);
/* Cookie value by name or NULL. */
const char *http_req_cookie(const struct http_req *r, const char *name);
/* 1 when the request's Accept-Encoding admits gzip (not "gzip;q=0"), else 0. The caller
 * may then answer with a pre-compressed body and content-encoding: gzip (add
 * "vary: accept-encoding" either way). */
int http_req_accepts_gzip(const struct http_req *r);
/* Raw body (NUL-terminated; "" with len 0 when none). */
const char *http_req_body(const struct http_req *r, size_t *len);
/* Client IP as text ("127.0.0.1"): the socket peer, or, when the peer is inside
 * opts.trusted_proxy, the right-most X-Forwarded-For entry that is not a trusted proxy. */
const char *http_req_remote_ip(const struct http_req *r);

/* Path parameters set by the router ({id} in the pattern). NULL if absent. */
const char *http_req_param(const struct http_req *r, const char *name);
/* Router support: sets a param (copied). Used by router_match callers. */
void http_req_set_param(struct http_req *r, const char *name, const char *value);

/* Per-request slot for the api layer (e.g. its auth context); not freed by the
 * framework unless free_fn is given. */
void http_req_set_ctx(struct http_req *r, void *ctx, void (*free_fn)(void *));
void *http_req_ctx(const struct http_req *r);

/* ---- responses: exactly one per request ----
 * A handler either responds before returning, or calls http_req_defer() and responds
 * later from the loop (e.g. after uv_queue_work). If the client went away meanwhile the
 * response is discarded and the request freed; http_req_alive() tells. */
void http_req_defer(struct http_req *r);
/* 0 once the framework knows the client is gone (a closed socket is noticed when the
 * next read fails, so 1 is not a guarantee); respond anyway. */
int http_req_alive(const struct http_req *r);
/* Adds a response header line, e.g. ("set-cookie", "rm_session=...; HttpOnly").
 * Must be called before the respond call. Copied. */
void http_resp_header(struct http_req *r, const char *name, const char *value);
/* JSON response; takes ownership of body (NULL -> no body). Sets
 * content-type: application/json and cache-control: no-store. */
void http_respond_json(struct http_req *r, int status, json_t *body_take);
/* {"error": message, "code": code} */
void http_respond_error(struct http_req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Arbitrary bytes (copied). */
void http_respond_raw(struct http_req *r, int status, const char *content_type, const void *data,
                      size_t len);
/* Takes ownership of data (malloc'd). */
void http_respond_take(struct http_req *r, int status, const char *content_type, void *data,
                       size_t len);

/* ---- streaming responses ----
 * For bodies that must not sit in memory whole (log downloads, the agent binary). After
 * http_respond_stream the framework calls pull whenever less than ~128 KiB of the response
 * is queued towards the client (at most once per loop turn per response). pull runs on the
 * loop and either writes (http_stream_write/_ref/_take) or ends (http_stream_end) before
 * returning, or starts an asynchronous read (e.g. uv_queue_work) and writes or ends from a
 * later loop callback; no new pull comes until it did. pull is never called after
 * http_stream_end, nor after the client went away. stream_ctx (passed to pull) is freed with
 * stream_free when the request ends, also when the client goes away while an asynchronous
 * read is under way: from then on r is gone, and the app must not call http_stream_* for it
 * (it learns this in stream_free). The request's own ctx slot belongs to the api layer.
 * length is the exact body size, or -1 when unknown (chunked transfer coding). HEAD requests
 * get the headers only. */
typedef void (*http_pull_fn)(struct http_req *r, void *ctx);
void http_respond_stream(struct http_req *r, int status, const char *content_type, long long length,
                         http_pull_fn pull, void *stream_ctx, void (*stream_free)(void *));
/* Queues a copy of data. */
void http_stream_write(struct http_req *r, const void *data, size_t len);
/* Queues data without copying: it must stay valid until stream_free ran. */
void http_stream_write_ref(struct http_req *r, const void *data, size_t len);
/* Takes ownership of data (malloc'd). */
void http_stream_write_take(struct http_req *r, void *data, size_t len);
void http_stream_end(struct http_req *r);
/* Ends a streamed response as failed: the connection is closed at once, without the last
 * chunk, so the client sees a cut transfer instead of a complete-looking file. stream_free
 * runs before this returns: the caller must not touch its stream context afterwards. */
void http_stream_abort(struct http_req *r);

/* ---- WebSocket endpoints ----
 * on_open runs before the 101 is sent, so a
 * refusal is a clean HTTP error response (JSON {"error","code"}). The framework refuses
 * itself with 404 when no endpoint has the path and with 400 when the client's
 * Sec-WebSocket-Protocol list lacks the endpoint's subprotocol (also when it is absent).
 * ws_send during on_open is allowed: the messages go out right after the handshake.
 * Each endpoint has its own subprotocol (LWS-NOTES pitfall 2) and a path; the framework
 * checks both. During on_open the handshake headers are readable through the ws_conn_*
 * accessors; returning non-zero refuses the upgrade (the framework answers 401 for
 * RM_ERR_AUTH, 403 for RM_ERR_FORBIDDEN, 404 for RM_ERR_NOTFOUND, else 400). */
struct ws_endpoint {
	const char *path;        /* exact path, or prefix when it ends in '/' (e.g.
	                          * "/api/jobs/" matches "/api/jobs/{id}/stream") */
	const char *subprotocol; /* e.g. "rm-agent.v1" */
	size_t max_message;      /* incoming message cap (bytes); bigger frames close the
	                          * connection with 1009 */
	size_t max_queue;        /* outgoing queue cap (bytes) before ws_send fails */
	int (*on_open)(struct ws_conn *c, void *app);
	/* a complete message (fragments reassembled), NUL-terminated */
	void (*on_message)(struct ws_conn *c, void *app, const char *data, size_t len);
	/* called once; after it returns c is invalid. Also called for connections whose
	 * on_open refused, only if on_open had called ws_conn_set_user. */
	void (*on_close)(struct ws_conn *c, void *app);
	/* optional: the outgoing queue became empty again after having been non-empty */
	void (*on_drain)(struct ws_conn *c, void *app);
	/* optional: an unfragmented binary message (others, and every binary message when
	 * this is NULL, close the connection with 1003) */
	void (*on_binary)(struct ws_conn *c, void *app, const unsigned char *data, size_t len);
};

const char *ws_conn_path(const struct ws_conn *c);
const char *ws_conn_query(const struct ws_conn *c, const char *name);  /* only in on_open */
const char *ws_conn_header(const struct ws_conn *c, const char *name); /* only in on_open */
const char *ws_conn_cookie(const struct ws_conn *c, const char *name); /* only in on_open */
const char *ws_conn_remote_ip(const struct ws_conn *c);
void ws_conn_set_user(struct ws_conn *c, void *user);
void *ws_conn_user(const struct ws_conn *c);
/* Queues a text message (copied). RM_OK, or RM_ERR_TOOBIG when the queue would exceed
 * max_queue (nothing queued), RM_ERR_IO if the connection is closing. */
int ws_send(struct ws_conn *c, const char *data, size_t len);
size_t ws_queued_bytes(const struct ws_conn *c);
/* Starts a close handshake with status code and reason; on_close follows later.
 * Messages already queued are sent first (e.g. {"type":"end"} then close 1000); call
 * ws_discard_queue() before to close at once (drop-and-resync). ws_send fails with
 * RM_ERR_IO afterwards. Callable from any loop callback (timers, other connections). */
void ws_close(struct ws_conn *c, int code, const char *reason);
/* Drops every queued, not yet written message (addition: drop-and-resync policy). */
void ws_discard_queue(struct ws_conn *c);

/* ---- server ---- */
struct http_server_opts {
	const char *listen_host; /* "127.0.0.1"; IPv6 disabled unless the host contains ':' */
	int listen_port;
	void *app; /* passed back to dispatch and ws callbacks */
	/* Called for every HTTP request whose path starts with /api/ or equals /healthz,
	 * /install/..., /agent/... once the body is complete (bodies > HTTP_MAX_BODY were
	 * already answered 413). Any other GET/HEAD is served from the embedded web assets
	 * (SPA: unknown paths without a file extension get index.html). */
	void (*dispatch)(struct http_req *r, void *app);
	/* returns 1 if dispatch handles this path (else static assets); NULL = default rule */
	int (*is_api_path)(const char *path);
	/* RM_TRUSTED_PROXY: CIDRs whose X-Forwarded-For is honoured for http_req_remote_ip /
	 * ws_conn_remote_ip (NULL/"" = none). Invalid -> http_server_start fails RM_ERR_INVAL. */
	const char *trusted_proxy;
	const struct ws_endpoint *endpoints; /* array */
	size_t n_endpoints;
};

/* Starts listening on the given loop. RM_ERR_IO if the address is in use (err says so). */
int http_server_start(uv_loop_t *loop, const struct http_server_opts *opts,
                      struct http_server **out, char *err, size_t errlen);
/* Closes the listener and every connection. NULL is a no-op. WebSocket on_close callbacks
 * run inside this call; deferred requests still owed a response stay valid
 * (http_req_alive() == 0) until the app responds, which then frees them. The server's own
 * handles close asynchronously: keep running the loop until it returns (the struct is
 * freed by the last close callback; do not touch s after this call). */
void http_server_stop(struct http_server *s);

/* Embedded static assets (generated build/gen/web_assets.c). */
struct web_asset {
	const char *path; /* "/index.html", "/assets/app-3f2a.js" */
	const char *content_type;
	const unsigned char *data;
	size_t len;
	const unsigned char *gz; /* gzip-compressed or NULL when it did not help */
	size_t gz_len;
	int immutable; /* hashed filename: cache forever */
};
extern const struct web_asset web_assets[];
extern const size_t web_assets_count;

#endif
