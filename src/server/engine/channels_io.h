#ifndef RM_SERVER_ENGINE_CHANNELS_IO_H
#define RM_SERVER_ENGINE_CHANNELS_IO_H
/* Outbound transfers (webhook/ntfy HTTP POSTs, SMTP submissions) through libcurl's multi
 * interface driven by the server's libuv loop: curl tells us which sockets to watch
 * (CURLMOPT_SOCKETFUNCTION -> uv_poll) and when to call it back (CURLMOPT_TIMERFUNCTION ->
 * uv_timer); we feed readiness to curl_multi_socket_action. Nothing blocks the loop: a
 * receiver that never answers costs one socket until its timeout. Loop thread only. */
#include <curl/curl.h>
#include <stddef.h>
#include <uv.h>

struct cio;

struct cio_result {
	int ok;          /* transfer completed and (HTTP) status 2xx */
	long status;     /* HTTP status or SMTP reply code (0 = none) */
	const char *err; /* human message when !ok, else "" */
	long elapsed_ms;
};
typedef void (*cio_done_fn)(void *ud, const struct cio_result *res);

/* An easy handle being prepared; cio_xfer_* helpers keep what curl borrows alive until
 * the transfer ends. */
struct cio_xfer;
struct cio *cio_new(uv_loop_t *loop);
/* Aborts transfers still running (their done runs with "shutting down"), then closes
 * the handles; the struct is freed once they are closed. NULL ok. */
void cio_stop(struct cio *io);

struct cio_xfer *cio_xfer_new(const char *url, long timeout_ms);
CURL *cio_xfer_easy(struct cio_xfer *x);
void cio_xfer_header(struct cio_xfer *x, const char *line);           /* "Name: value" (copied) */
void cio_xfer_body(struct cio_xfer *x, const char *data, size_t len); /* POST body (copied) */
void cio_xfer_rcpt(struct cio_xfer *x, const char *addr);             /* SMTP recipient (copied) */
/* SMTP: the message is uploaded from the body (copied). */
void cio_xfer_smtp(struct cio_xfer *x, const char *mail_from, const char *data, size_t len);
void cio_xfer_free(struct cio_xfer *x); /* a transfer never started */
/* Starts x (owned by io from now on); done runs exactly once, on the loop, never inside
 * this call. RM_OK or RM_ERR_IO (then done is not called and x is freed). */
int cio_start(struct cio *io, struct cio_xfer *x, cio_done_fn done, void *ud);
/* Transfers in flight. */
int cio_active(const struct cio *io);

#endif
