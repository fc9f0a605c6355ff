/* libcurl multi on the libuv loop (the classic curl_multi_socket_action integration). */
#include "server/engine/channels_io.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/rmtime.h"

#define RESP_MAX 2048 /* response bytes kept for error messages */

struct cio {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;
	int active;
	int stopping;
	int handles;            /* open uv handles (timer + polls) */
	struct cio_xfer *xfers; /* in flight */
	struct cio_sock *socks; /* watched sockets */
};

struct cio_sock {
	uv_poll_t poll; /* first member: the handle is the struct */
	curl_socket_t fd;
	struct cio *io;
	struct cio_sock *next, *prev;
};

struct cio_xfer {
	struct cio_xfer *next, *prev;
	CURL *easy;
	struct curl_slist *headers;
	struct curl_slist *rcpt;
	char *body;
	size_t body_len, body_off;
	char resp[RESP_MAX + 1];
	size_t resp_len;
	char errbuf[CURL_ERROR_SIZE];
	int64_t started_ms;
	cio_done_fn done;
	void *ud;
};

static size_t write_cb(char *p, size_t sz, size_t n, void *ud)
{
	struct cio_xfer *x = ud;
	size_t len = sz * n, room = RESP_MAX - x->resp_len;
	size_t k = len < room ? len : room;
	memcpy(x->resp + x->resp_len, p, k);
	x->resp_len += k;
	x->resp[x->resp_len] = 0;
	return len;
}

static size_t read_cb(char *p, size_t sz, size_t n, void *ud)
{
	struct cio_xfer *x = ud;
	size_t room = sz * n, left = x->body_len - x->body_off;
	size_t k = left < room ? left : room;
	memcpy(p, x->body + x->body_off, k);
	x->body_off += k;
	return k;
}

struct cio_xfer *cio_xfer_new(const char *url, long timeout_ms)
{
	struct cio_xfer *x = rm_xcalloc(1, sizeof *x);
	x->easy = curl_easy_init();
	if (!x->easy)
		abort();
	CURL *e = x->easy;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https,smtp,smtps");
	curl_easy_setopt(e, CURLOPT_USERAGENT, "restic-manager/" RM_VERSION);
	return x;
}

CURL *cio_xfer_easy(struct cio_xfer *x)
{
	return x->easy;
}

void cio_xfer_header(struct cio_xfer *x, const char *line)
{
	x->headers = curl_slist_append(x->headers, line);
}

static void set_body(struct cio_xfer *x, const char *data, size_t len)
{
	free(x->body);
	x->body = rm_xmalloc(len + 1);
	memcpy(x->body, data, len);
	x->body[len] = 0;
	x->body_len = len;
	x->body_off = 0;
}

void cio_xfer_body(struct cio_xfer *x, const char *data, size_t len)
{
	set_body(x, data, len);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->body);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
}

void cio_xfer_rcpt(struct cio_xfer *x, const char *addr)
{
	x->rcpt = curl_slist_append(x->rcpt, addr);
}

void cio_xfer_smtp(struct cio_xfer *x, const char *mail_from, const char *data, size_t len)
{
	set_body(x, data, len);
	curl_easy_setopt(x->easy, CURLOPT_MAIL_FROM, mail_from);
	curl_easy_setopt(x->easy, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(x->easy, CURLOPT_READDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(x->easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
}

void cio_xfer_free(struct cio_xfer *x)
{
	if (!x)
		return;
	if (x->easy)
		curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->headers);
	curl_slist_free_all(x->rcpt);
	if (x->body)
		memset(x->body, 0, x->body_len);
	free(x->body);
	free(x);
}

static void unlink_xfer(struct cio *io, struct cio_xfer *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		io->xfers = x->next;
	if (x->next)
		x->next->prev = x->prev;
	x->next = x->prev = NULL;
}

/* Ends x: result from curl's code and the response, then done, then free. */
static void finish(struct cio *io, struct cio_xfer *x, CURLcode code)
{
	unlink_xfer(io, x);
	curl_multi_remove_handle(io->multi, x->easy);
	io->active--;
	struct cio_result res = { 0 };
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &res.status);
	res.elapsed_ms = (long)(rm_now_ms() - x->started_ms);
	char msg[400];
	msg[0] = 0;
	if (code != CURLE_OK) {
		snprintf(msg, sizeof msg, "%s",
		         x->errbuf[0] ? x->errbuf : curl_easy_strerror(code));
	} else {
		char *scheme = NULL;
		curl_easy_getinfo(x->easy, CURLINFO_SCHEME, &scheme);
		int is_http =
		    scheme && (strcasecmp(scheme, "http") == 0 || strcasecmp(scheme, "https") == 0);
		if (is_http && (res.status < 200 || res.status > 299))
			snprintf(msg, sizeof msg, "HTTP %ld%s%.200s", res.status,
			         x->resp_len ? ": " : "", x->resp);
		else
			res.ok = 1;
	}
	/* one line, no control characters from the receiver */
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	res.err = msg;
	x->done(x->ud, &res);
	cio_xfer_free(x);
}

static void check_done(struct cio *io)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(io->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		char *priv = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
		finish(io, (struct cio_xfer *)(void *)priv, m->data.result);
	}
}

static void handle_closed(uv_handle_t *h)
{
	struct cio *io = h->data;
	if (h->type == UV_POLL) {
		struct cio_sock *cs = (struct cio_sock *)(void *)h;
		io = cs->io;
		free(cs);
	}
	if (--io->handles == 0 && io->stopping)
		free(io);
}

static void poll_cb(uv_poll_t *p, int status, int events)
{
	struct cio_sock *cs = (struct cio_sock *)(void *)p;
	struct cio *io = cs->io;
	int flags = 0;
	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	int running = 0;
	curl_multi_socket_action(io->multi, cs->fd, flags, &running);
	check_done(io);
}

static void sock_close(struct cio *io, struct cio_sock *cs)
{
	if (cs->prev)
		cs->prev->next = cs->next;
	else
		io->socks = cs->next;
	if (cs->next)
		cs->next->prev = cs->prev;
	uv_poll_stop(&cs->poll);
	uv_close((uv_handle_t *)&cs->poll, handle_closed);
}

static int socket_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	(void)e;
	struct cio *io = userp;
	struct cio_sock *cs = socketp;
	if (what == CURL_POLL_REMOVE) {
		if (cs) {
			sock_close(io, cs);
			curl_multi_assign(io->multi, s, NULL);
		}
		return 0;
	}
	if (!cs) {
		cs = rm_xcalloc(1, sizeof *cs);
		cs->fd = s;
		cs->io = io;
		if (uv_poll_init_socket(io->loop, &cs->poll, s)) {
			free(cs);
			return -1;
		}
		io->handles++;
		cs->next = io->socks;
		if (io->socks)
			io->socks->prev = cs;
		io->socks = cs;
		curl_multi_assign(io->multi, s, cs);
	}
	int ev = 0;
	if (what & CURL_POLL_IN)
		ev |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		ev |= UV_WRITABLE;
	uv_poll_start(&cs->poll, ev, poll_cb);
	return 0;
}

static void timeout_cb(uv_timer_t *t)
{
	struct cio *io = t->data;
	int running = 0;
	curl_multi_socket_action(io->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(io);
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	(void)m;
	struct cio *io = userp;
	if (timeout_ms < 0)
		uv_timer_stop(&io->timer);
	else
		uv_timer_start(&io->timer, timeout_cb, (uint64_t)timeout_ms, 0);
	return 0;
}

struct cio *cio_new(uv_loop_t *loop)
{
	struct cio *io = rm_xcalloc(1, sizeof *io);
	io->loop = loop;
	io->multi = curl_multi_init();
	if (!io->multi)
		abort();
	uv_timer_init(loop, &io->timer);
	io->timer.data = io;
	io->handles = 1;
	curl_multi_setopt(io->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(io->multi, CURLMOPT_SOCKETDATA, io);
	curl_multi_setopt(io->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(io->multi, CURLMOPT_TIMERDATA, io);
	return io;
}

int cio_start(struct cio *io, struct cio_xfer *x, cio_done_fn done, void *ud)
{
	if (io->stopping) {
		cio_xfer_free(x);
		return RM_ERR_IO;
	}
	x->done = done;
	x->ud = ud;
	x->started_ms = rm_now_ms();
	if (x->headers)
		curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
	if (x->rcpt)
		curl_easy_setopt(x->easy, CURLOPT_MAIL_RCPT, x->rcpt);
	if (curl_multi_add_handle(io->multi, x->easy) != CURLM_OK) {
		cio_xfer_free(x);
		return RM_ERR_IO;
	}
	x->next = io->xfers;
	if (io->xfers)
		io->xfers->prev = x;
	io->xfers = x;
	io->active++;
	return RM_OK;
}

int cio_active(const struct cio *io)
{
	return io ? io->active : 0;
}

void cio_stop(struct cio *io)
{
	if (!io || io->stopping)
		return;
	while (io->xfers)
		finish(io, io->xfers, CURLE_ABORTED_BY_CALLBACK);
	io->stopping = 1;
	curl_multi_cleanup(io->multi);
	io->multi = NULL;
	while (io->socks) /* whatever curl did not remove itself */
		sock_close(io, io->socks);
	uv_timer_stop(&io->timer);
	uv_close((uv_handle_t *)&io->timer, handle_closed);
}
