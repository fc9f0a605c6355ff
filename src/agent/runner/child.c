/* A restic child for snapshot browsing (see child.h). */
#include "agent/runner/child.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "agent/restic/argv.h"
#include "agent/restic/lines.h"
#include "common/err.h"
#include "common/log.h"

#define KILL_GRACE_MS 3000
#define READ_BUF (256 * 1024) /* dump streams: one binary frame per read */

struct rchild {
	struct rchild_opts o;
	uv_process_t proc;
	uv_pipe_t out, err;
	uv_timer_t kill_timer;
	int open_handles, exited, out_open, err_open, detached, paused;
	int64_t exit_status;
	int term_signal;
	struct restic_lines lo, le;
	char *last_err;
	struct rm_redactor red;
	char **env;
	char buf[READ_BUF];
};

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct rchild *c = h->data;
	(void)suggested;
	buf->base = c->buf;
	buf->len = sizeof c->buf;
}

static void out_line(void *ud, const char *line, size_t len)
{
	struct rchild *c = ud;
	if (!c->detached && c->o.on_line)
		c->o.on_line(c->o.ud, line, len);
}

static void err_line(void *ud, const char *line, size_t len)
{
	struct rchild *c = ud;
	if (len) {
		free(c->last_err);
		c->last_err = rm_redactor_apply(&c->red, line, len);
	}
}

static void free_child(struct rchild *c)
{
	restic_lines_cleanup(&c->lo);
	restic_lines_cleanup(&c->le);
	rm_redactor_cleanup(&c->red);
	restic_env_free(c->env);
	free(c->last_err);
	free(c);
}

static void close_cb(uv_handle_t *h)
{
	struct rchild *c = h->data;
	if (--c->open_handles)
		return;
	if (!c->detached) {
		int code = c->term_signal ? 128 + c->term_signal : (int)c->exit_status;
		char *msg = NULL;
		if (code)
			msg = c->last_err ? rm_xstrdup(c->last_err)
			                  : rm_xasprintf("restic exited with code %d", code);
		c->o.on_done(c->o.ud, code, msg);
		free(msg);
	}
	free_child(c);
}

static void maybe_finish(struct rchild *c)
{
	if (c->exited != 1 || c->out_open || c->err_open)
		return;
	c->exited = 2;
	uv_timer_stop(&c->kill_timer);
	uv_close((uv_handle_t *)&c->kill_timer, close_cb);
	uv_close((uv_handle_t *)&c->proc, close_cb);
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct rchild *c = s->data;
	int is_out = s == (uv_stream_t *)&c->out;
	if (n > 0) {
		if (!is_out)
			restic_lines_feed(&c->le, buf->base, (size_t)n);
		else if (c->o.on_data && !c->detached)
			c->o.on_data(c->o.ud, buf->base, (size_t)n);
		else if (!c->o.on_data)
			restic_lines_feed(&c->lo, buf->base, (size_t)n);
		return;
	}
	if (n == 0)
		return;
	uv_read_stop(s);
	if (is_out) {
		restic_lines_flush(&c->lo);
		c->out_open = 0;
	} else {
		restic_lines_flush(&c->le);
		c->err_open = 0;
	}
	uv_close((uv_handle_t *)s, close_cb);
	maybe_finish(c);
}

static void exit_cb(uv_process_t *p, int64_t status, int sig)
{
	struct rchild *c = p->data;
	c->exited = 1;
	c->exit_status = status;
	c->term_signal = sig;
	maybe_finish(c);
}

static void kill_cb(uv_timer_t *t)
{
	struct rchild *c = t->data;
	if (!c->exited)
		uv_process_kill(&c->proc, SIGKILL);
}

static int spawn(struct rchild *c, char **argv)
{
	uv_stdio_container_t stdio[3];
	uv_process_options_t po;
	uv_pipe_init(c->o.loop, &c->out, 0);
	uv_pipe_init(c->o.loop, &c->err, 0);
	uv_timer_init(c->o.loop, &c->kill_timer);
	c->out.data = c->err.data = c->proc.data = c->kill_timer.data = c;
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[1].data.stream = (uv_stream_t *)&c->out;
	stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[2].data.stream = (uv_stream_t *)&c->err;
	memset(&po, 0, sizeof po);
	po.file = argv[0];
	po.args = argv;
	po.env = c->env;
	po.cwd = c->o.state_dir;
	po.exit_cb = exit_cb;
	po.stdio = stdio;
	po.stdio_count = 3;
	int rc = uv_spawn(c->o.loop, &c->proc, &po);
	c->open_handles = 4;
	if (rc) {
		c->detached = 1; /* no callbacks: the caller hears the error from rchild_start */
		uv_close((uv_handle_t *)&c->out, close_cb);
		uv_close((uv_handle_t *)&c->err, close_cb);
		uv_close((uv_handle_t *)&c->kill_timer, close_cb);
		uv_close((uv_handle_t *)&c->proc, close_cb);
		return RM_ERR_IO;
	}
	c->out_open = c->err_open = 1;
	uv_os_fd_t fd;
	if (c->o.on_data && !uv_fileno((uv_handle_t *)&c->out, &fd))
		(void)fcntl(fd, F_SETPIPE_SZ, READ_BUF * 4); /* fewer wake-ups per MiB dumped */
	uv_read_start((uv_stream_t *)&c->out, alloc_cb, read_cb);
	uv_read_start((uv_stream_t *)&c->err, alloc_cb, read_cb);
	return RM_OK;
}

int rchild_start(const struct rchild_opts *o, struct rchild **out)
{
	if (!o->restic_path)
		return RM_ERR_NOTFOUND;
	if (!o->creds || !o->creds->repo_url || !o->creds->repo_password)
		return RM_ERR_INVAL;
	struct restic_env_in in = { .repo_url = o->creds->repo_url,
		                    .repo_username = o->creds->repo_username,
		                    .repo_password = o->creds->repo_password,
		                    .state_dir = o->state_dir,
		                    .tmpdir = getenv("TMPDIR") };
	struct rchild *c = rm_xcalloc(1, sizeof *c);
	c->o = *o;
	c->o.args = NULL;
	c->o.creds = NULL;
	if (restic_env_build(&in, &c->env)) {
		free_child(c);
		return RM_ERR_INVAL;
	}
	restic_secrets_collect(&c->red, o->creds->repo_url, o->creds->repo_username,
	                       o->creds->repo_password);
	restic_lines_init(&c->lo, out_line, c);
	restic_lines_init(&c->le, err_line, c);
	size_t n = 0;
	while (o->args[n])
		n++;
	char **argv = rm_xcalloc(n + 3, sizeof *argv);
	argv[0] = (char *)o->restic_path;
	argv[1] = (char *)"--no-lock";
	for (size_t i = 0; i < n; i++)
		argv[i + 2] = (char *)o->args[i];
	int rc = spawn(c, argv);
	free(argv);
	if (rc)
		return rc; /* freed by its close callbacks */
	*out = c;
	return RM_OK;
}

void rchild_pause(struct rchild *c)
{
	if (c->out_open && !c->paused) {
		uv_read_stop((uv_stream_t *)&c->out);
		c->paused = 1;
	}
}

void rchild_resume(struct rchild *c)
{
	if (c->out_open && c->paused) {
		uv_read_start((uv_stream_t *)&c->out, alloc_cb, read_cb);
		c->paused = 0;
	}
}

void rchild_kill(struct rchild *c)
{
	if (c->exited)
		return;
	uv_process_kill(&c->proc, SIGTERM);
	uv_timer_start(&c->kill_timer, kill_cb, KILL_GRACE_MS, 0);
	rchild_resume(c); /* a paused pipe would keep a dying restic blocked on write */
}

void rchild_detach(struct rchild *c)
{
	c->detached = 1;
	rchild_kill(c);
}
