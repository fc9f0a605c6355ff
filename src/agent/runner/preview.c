/* Retention preview (forget.preview): one read-only restic child beside the job queue,
 *   restic forget --no-lock --dry-run --json --tag G --group-by host,tags --keep-...
 * --no-lock: it never waits for a running backup nor blocks one. The JSON on stdout is
 * collected (capped) and parsed; a failure reports restic's last stderr line, scrubbed of
 * the repository credentials. Bounded: PREVIEW_MAX at once, PREVIEW_TIMEOUT_MS each. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "agent/restic/argv.h"
#include "agent/restic/parse.h"
#include "agent/runner/runner_int.h"
#include "common/err.h"
#include "common/log.h"

#define PREVIEW_MAX 2
#define PREVIEW_TIMEOUT_MS 90000
#define PREVIEW_DRAIN_MS 1000
#define PREVIEW_OUT_MAX (16u * 1024 * 1024)

struct preview {
	struct preview *next;
	struct runner *r;
	uv_process_t proc;
	uv_pipe_t out, err;
	uv_timer_t timer; /* timeout (SIGKILL), then pipe drain after exit */
	int handles;      /* open handles; freed when 0 after finishing */
	int exited, out_open, err_open, finished, killed, overflow, err_nl;
	int64_t status;
	struct rm_buf outb;
	char errline[512];
	size_t errlen;
	struct rm_redactor secrets;
	runner_preview_fn done;
	void *ud;
	char tag[80];
	char buf[16384];
};

static void close_cb(uv_handle_t *h)
{
	struct preview *p = h->data;
	if (--p->handles > 0)
		return;
	struct runner *r = p->r;
	for (struct preview **pp = &r->previews; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	r->n_previews--;
	rm_buf_cleanup(&p->outb);
	rm_redactor_cleanup(&p->secrets);
	free(p);
}

static void close_handle(struct preview *p, uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, close_cb);
}

/* The error text: restic's last stderr line, scrubbed of the credentials. */
static char *error_text(struct preview *p)
{
	if (p->killed)
		return rm_xstrdup("restic forget --dry-run timed out");
	if (!p->errlen)
		return rm_xasprintf("restic forget --dry-run exited with %lld",
		                    (long long)p->status);
	char *known = rm_redactor_apply(&p->secrets, p->errline, p->errlen);
	if (!strstr(known, "://"))
		return known;
	char *out = rm_redact_url(known);
	free(known);
	return out;
}

static void finish(struct preview *p)
{
	if (p->finished || !p->exited || p->out_open || p->err_open)
		return;
	p->finished = 1;
	json_t *res = NULL;
	int rc = RM_ERR_CHILD;
	char *msg = NULL;
	if (p->overflow) {
		msg = rm_xstrdup("restic forget --dry-run printed too much");
	} else if (p->status == 0 && !p->killed) {
		rc = restic_parse_forget(p->outb.data ? p->outb.data : "", p->outb.len, &res);
		if (rc)
			msg = rm_xstrdup("cannot parse the output of restic forget --dry-run");
	} else {
		msg = error_text(p);
	}
	if (p->done)
		p->done(p->ud, p->tag, rc, res, msg);
	else
		json_decref(res);
	free(msg);
	uv_timer_stop(&p->timer);
	close_handle(p, (uv_handle_t *)&p->timer);
	close_handle(p, (uv_handle_t *)&p->proc);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct preview *p = h->data;
	(void)suggested;
	b->base = p->buf;
	b->len = sizeof p->buf;
}

static void pipe_closed(struct preview *p, uv_stream_t *s)
{
	if (s == (uv_stream_t *)&p->out)
		p->out_open = 0;
	else
		p->err_open = 0;
	uv_read_stop(s);
	close_handle(p, (uv_handle_t *)s);
	finish(p);
}

/* Keeps restic's last non-empty stderr line (capped). */
static void err_bytes(struct preview *p, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n' || s[i] == '\r') {
			p->err_nl = 1;
			continue;
		}
		if (p->err_nl) {
			p->errlen = 0;
			p->err_nl = 0;
		}
		if (p->errlen + 1 < sizeof p->errline)
			p->errline[p->errlen++] = s[i];
	}
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct preview *p = s->data;
	if (n < 0) {
		pipe_closed(p, s);
		return;
	}
	if (s != (uv_stream_t *)&p->out)
		err_bytes(p, b->base, (size_t)n);
	else if (rm_buf_append(&p->outb, b->base, (size_t)n))
		p->overflow = 1;
}

static void timer_cb(uv_timer_t *t)
{
	struct preview *p = t->data;
	if (!p->exited) {
		p->killed = 1;
		uv_process_kill(&p->proc, SIGKILL);
		return;
	}
	/* exited, but a grandchild still holds a pipe open: stop waiting */
	if (p->out_open)
		pipe_closed(p, (uv_stream_t *)&p->out);
	if (p->err_open)
		pipe_closed(p, (uv_stream_t *)&p->err);
}

static void exit_cb(uv_process_t *h, int64_t status, int sig)
{
	struct preview *p = h->data;
	p->exited = 1;
	p->status = sig ? 128 + sig : status;
	uv_timer_start(&p->timer, timer_cb, PREVIEW_DRAIN_MS, 0);
	finish(p);
}

static int spawn(struct preview *p, char **argv, char **env)
{
	uv_loop_t *loop = p->r->loop;
	uv_pipe_init(loop, &p->out, 0);
	uv_pipe_init(loop, &p->err, 0);
	uv_timer_init(loop, &p->timer);
	p->out.data = p->err.data = p->timer.data = p->proc.data = p;
	p->handles = 3;
	p->err_nl = 1;
	uv_stdio_container_t stdio[3] = {
		{ .flags = UV_IGNORE },
		{ .flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE,
		  .data.stream = (uv_stream_t *)&p->out },
		{ .flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE,
		  .data.stream = (uv_stream_t *)&p->err },
	};
	uv_process_options_t o = {
		.exit_cb = exit_cb,
		.file = argv[0],
		.args = argv,
		.env = env,
		.cwd = p->r->state_dir,
		.stdio_count = 3,
		.stdio = stdio,
	};
	int rc = uv_spawn(loop, &p->proc, &o);
	p->handles++; /* uv_spawn registered the process handle even on failure */
	if (rc) {
		RM_WARN("cannot start restic for a retention preview", "error", uv_strerror(rc));
		close_handle(p, (uv_handle_t *)&p->out);
		close_handle(p, (uv_handle_t *)&p->err);
		close_handle(p, (uv_handle_t *)&p->timer);
		close_handle(p, (uv_handle_t *)&p->proc);
		return RM_ERR_CHILD;
	}
	p->out_open = p->err_open = 1;
	uv_read_start((uv_stream_t *)&p->out, alloc_cb, read_cb);
	uv_read_start((uv_stream_t *)&p->err, alloc_cb, read_cb);
	uv_timer_start(&p->timer, timer_cb, PREVIEW_TIMEOUT_MS, 0);
	return RM_OK;
}

int runner_forget_preview(struct runner *r, const json_t *args, const struct runner_creds *creds,
                          const char *tag, runner_preview_fn done, void *ud, char *err,
                          size_t errlen)
{
	if (!r->restic_path) {
		rm_strlcpy(err, "restic not found on the agent", errlen);
		return RM_ERR_NOTFOUND;
	}
	if (!creds || !creds->repo_url || !creds->repo_password) {
		rm_strlcpy(err, "no repository configured", errlen);
		return RM_ERR_INVAL;
	}
	if (r->n_previews >= PREVIEW_MAX || r->freeing) {
		rm_strlcpy(err, "another retention preview is running", errlen);
		return RM_ERR_AGAIN;
	}
	char **argv = NULL, **env = NULL;
	int rc =
	    restic_argv_build(r->restic_path, "forget-preview", args, NULL, &argv, err, errlen);
	if (rc)
		return rc;
	struct restic_env_in in = {
		.repo_url = creds->repo_url,
		.repo_username = creds->repo_username,
		.repo_password = creds->repo_password,
		.state_dir = r->state_dir,
		.tmpdir = getenv("TMPDIR"),
	};
	rc = restic_env_build(&in, &env);
	if (rc) {
		restic_argv_free(argv);
		rm_strlcpy(err, "bad repository credentials", errlen);
		return rc;
	}
	struct preview *p = rm_xcalloc(1, sizeof *p);
	p->r = r;
	p->done = done;
	p->ud = ud;
	rm_strlcpy(p->tag, tag ? tag : "", sizeof p->tag);
	rm_buf_init(&p->outb, PREVIEW_OUT_MAX);
	restic_secrets_collect(&p->secrets, creds->repo_url, creds->repo_username,
	                       creds->repo_password);
	p->next = r->previews;
	r->previews = p;
	r->n_previews++;
	rc = spawn(p, argv, env);
	restic_argv_free(argv);
	restic_env_free(env);
	if (rc) {
		p->done = NULL; /* freed by the close callbacks; the caller answers */
		rm_strlcpy(err, "cannot start restic", errlen);
	}
	return rc;
}

void runner_previews_stop(struct runner *r)
{
	for (struct preview *p = r->previews; p; p = p->next) {
		p->done = NULL; /* shutting down: nobody waits for the answer */
		if (!p->exited && !p->finished)
			uv_process_kill(&p->proc, SIGKILL);
	}
}
