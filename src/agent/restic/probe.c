/* `restic version` probe (see probe.h). */
#include "agent/restic/probe.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "agent/restic/argv.h"
#include "common/err.h"
#include "common/log.h"

struct probe {
	uv_process_t proc;
	uv_pipe_t out;
	uv_timer_t timer;
	int open_handles;
	int failed;
	char buf[16384];
	size_t len;
	restic_probe_cb cb;
	restic_probe_text_cb text_cb;
	void *ud;
};

static void probe_closed(uv_handle_t *h)
{
	struct probe *pr = h->data;
	if (--pr->open_handles > 0)
		return;
	/* "restic 0.14.0 compiled with go1.19.8 on linux/amd64" */
	char ver[64] = "";
	pr->buf[pr->len] = 0;
	if (pr->text_cb) {
		pr->text_cb(pr->ud, pr->failed ? NULL : pr->buf);
		free(pr);
		return;
	}
	if (!pr->failed && !strncmp(pr->buf, "restic ", 7)) {
		const char *v = pr->buf + 7;
		size_t n = strcspn(v, " \r\n");
		if (n >= sizeof ver)
			n = sizeof ver - 1;
		memcpy(ver, v, n);
		ver[n] = 0;
	}
	pr->cb(pr->ud, ver);
	free(pr);
}

static void probe_close_all(struct probe *pr)
{
	if (!uv_is_closing((uv_handle_t *)&pr->proc))
		uv_close((uv_handle_t *)&pr->proc, probe_closed);
	if (!uv_is_closing((uv_handle_t *)&pr->out))
		uv_close((uv_handle_t *)&pr->out, probe_closed);
	if (!uv_is_closing((uv_handle_t *)&pr->timer))
		uv_close((uv_handle_t *)&pr->timer, probe_closed);
}

/* The pipe and the timer; the process handle is closed by its exit callback so that
 * libuv reaps the child (closing it earlier leaves a zombie). */
static void probe_close_io(struct probe *pr)
{
	if (!uv_is_closing((uv_handle_t *)&pr->out))
		uv_close((uv_handle_t *)&pr->out, probe_closed);
	if (!uv_is_closing((uv_handle_t *)&pr->timer))
		uv_close((uv_handle_t *)&pr->timer, probe_closed);
}

static void probe_exit(uv_process_t *p, int64_t status, int sig)
{
	struct probe *pr = p->data;
	if (status != 0 || sig)
		pr->failed = 1;
	/* the pipe closes everything on EOF (it may still hold unread output) */
	if (!uv_is_closing((uv_handle_t *)&pr->proc))
		uv_close((uv_handle_t *)&pr->proc, probe_closed);
}

static void probe_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
	struct probe *pr = h->data;
	(void)sz;
	size_t room = sizeof pr->buf - 1 - pr->len;
	static char sink[256];
	if (room == 0) {
		b->base = sink;
		b->len = sizeof sink;
		return;
	}
	b->base = pr->buf + pr->len;
	b->len = room;
}

static void probe_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct probe *pr = s->data;
	if (n > 0) {
		if (b->base >= pr->buf && b->base < pr->buf + sizeof pr->buf)
			pr->len += (size_t)n;
		return;
	}
	if (n < 0)
		probe_close_io(pr);
}

static void probe_timeout(uv_timer_t *t)
{
	struct probe *pr = t->data;
	if (!uv_is_closing((uv_handle_t *)&pr->proc))
		uv_process_kill(&pr->proc, SIGKILL);
	pr->failed = 1;
	probe_close_io(pr);
}

static int probe_run(uv_loop_t *loop, const char *restic, char **args, struct probe *pr);

int restic_probe_version(uv_loop_t *loop, const char *restic, restic_probe_cb cb, void *ud)
{
	struct probe *pr = rm_xcalloc(1, sizeof *pr);
	pr->cb = cb;
	pr->ud = ud;
	char *args[] = { (char *)restic, "version", NULL };
	return probe_run(loop, restic, args, pr);
}

int restic_probe_restore_help(uv_loop_t *loop, const char *restic, restic_probe_text_cb cb,
                              void *ud)
{
	struct probe *pr = rm_xcalloc(1, sizeof *pr);
	pr->text_cb = cb;
	pr->ud = ud;
	char *args[] = { (char *)restic, "restore", "--help", NULL };
	return probe_run(loop, restic, args, pr);
}

static int probe_run(uv_loop_t *loop, const char *restic, char **args, struct probe *pr)
{
	uv_pipe_init(loop, &pr->out, 0);
	uv_timer_init(loop, &pr->timer);
	pr->out.data = pr->timer.data = pr->proc.data = pr;
	char *env[] = { "PATH=" RESTIC_SAFE_PATH, "HOME=/nonexistent",
		        "RESTIC_CACHE_DIR=/nonexistent", NULL };
	uv_stdio_container_t stdio[3] = {
		{ .flags = UV_IGNORE },
		{ .flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE,
		  .data.stream = (uv_stream_t *)&pr->out },
		{ .flags = UV_IGNORE },
	};
	uv_process_options_t o = { 0 };
	o.exit_cb = probe_exit;
	o.file = restic;
	o.args = args;
	o.env = env;
	o.stdio = stdio;
	o.stdio_count = 3;
	int r = uv_spawn(loop, &pr->proc, &o);
	if (r) {
		RM_WARN("cannot run restic", "path", restic, "error", uv_strerror(r));
		/* proc was never initialised as an active handle; uv_spawn still registers it and
		 * requires a close */
		pr->open_handles = 3;
		probe_close_all(pr);
		return RM_OK;
	}
	pr->open_handles = 3;
	uv_read_start((uv_stream_t *)&pr->out, probe_alloc, probe_read);
	uv_timer_start(&pr->timer, probe_timeout, 10000, 0);
	return RM_OK;
}
