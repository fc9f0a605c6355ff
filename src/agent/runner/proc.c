/* One step of a job = one restic child: spawn with argv and a clean environment, read
 * both pipes line by line, exit, SIGTERM/SIGKILL (see runner_int.h). A step is finished
 * once the process has exited AND both pipes are closed (or the pipe drain timer gave up
 * on a grandchild holding them open); then runner_step_done decides what comes next. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "agent/restic/argv.h"
#include "agent/restic/lines.h"
#include "agent/restic/parse.h"
#include "agent/restic/parse_care.h"
#include "agent/runner/runner_int.h"
#include "common/err.h"
#include "common/log.h"

#define PIPE_DRAIN_MS 1000
#define COLLECT_MAX (64u * 1024 * 1024)

static void exit_cb(uv_process_t *h, int64_t exit_status, int term_signal);

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct proc *p = h->data;
	(void)suggested;
	buf->base = p->r->readbuf;
	buf->len = sizeof(p->r->readbuf);
}

static void set_str(char **dst, char *src_take)
{
	free(*dst);
	*dst = src_take;
}

/* restic 0.14 follows some errors with a Go stack trace ("github.com/restic/...Remove",
 * "\tgithub.com/.../rest.go:399", "runtime.goexit"): not the message a job error should
 * carry (e.g. "blob not removed, server response: 403 Forbidden" before it). */
static int go_trace_line(const char *line, size_t len)
{
	static const char *const pfx[] = { "github.com/", "golang.org/", "gopkg.in/", "main.",
		                           "runtime." };
	if (len && line[0] == '\t')
		return 1;
	if (memchr(line, ' ', len))
		return 0;
	for (size_t i = 0; i < sizeof pfx / sizeof pfx[0]; i++)
		if (len >= strlen(pfx[i]) && !strncmp(line, pfx[i], strlen(pfx[i])))
			return 1;
	return 0;
}

static void on_line(struct proc *p, const char *stream, const char *line, size_t len)
{
	struct runner *r = p->r;
	int is_err = stream[3] == 'e'; /* "stderr" */
	char *fatal = NULL;
	if (len == 0)
		return;
	if (p->def->hook) {
		/* "pre-hook: <line>"; the scripts' output is the user's, restic rules do not apply */
		char *l = rm_xasprintf("%s: %.*s", p->def->name, (int)len, line);
		runner_log_line(r, "hook", l, strlen(l));
		free(l);
		return;
	}
	if (restic_output_is_already_initialized(line))
		p->already_init = 1;
	if (restic_output_is_locked(line, len))
		p->locked = 1;
	if (p->def->count_errors && restic_check_error_line(line, len))
		p->errors++;
	if (!is_err && p->def->out == OUT_TEXT &&
	    (rm_buf_append(&p->collect, line, len) || rm_buf_append(&p->collect, "\n", 1)))
		p->collect_overflow = 1;
	if (!is_err && p->def->out == OUT_LINES) {
		p->def->line(r, p, line, len);
		return;
	}
	if (!is_err && p->def->out == OUT_DOCUMENT) {
		/* a JSON document: collected, not logged */
		if (rm_buf_append(&p->collect, line, len) || rm_buf_append(&p->collect, "\n", 1))
			p->collect_overflow = 1;
		return;
	}
	if (p->def->out == OUT_PROGRESS) {
		json_t *o = NULL;
		enum restic_line_type t = restic_parse_line(line, len, &o);
		if (t == RESTIC_LINE_STATUS && p->def->status) {
			p->def->status(r, o);
			json_decref(o);
			return;
		}
		if (t == RESTIC_LINE_SUMMARY && p->def->summary) {
			p->def->summary(r, o);
		} else if (t == RESTIC_LINE_STATUS) {
			runner_emit_progress(r, o);
			json_decref(o);
			return;
		}
		if (t == RESTIC_LINE_SUMMARY && !p->def->summary) {
			json_t *st = NULL;
			if (restic_parse_summary(o, &st) == RM_OK) {
				json_decref(r->cur->stats);
				r->cur->stats = st;
			}
		} else if (t == RESTIC_LINE_ERROR) {
			char *m = NULL;
			if (restic_parse_error(o, &m, NULL) == RM_OK)
				set_str(&p->last_err, m);
		}
		json_decref(o);
	}
	runner_log_line(r, stream, line, len);
	if (restic_parse_fatal_line(line, len, &fatal) == RM_OK) {
		set_str(&p->last_fatal, runner_scrub(r->cur, fatal, strlen(fatal)));
		free(fatal);
	} else if (is_err && line[0] != '{' && !go_trace_line(line, len)) {
		set_str(&p->last_err, runner_scrub(r->cur, line, len));
	}
}

static void on_out_line(void *ud, const char *line, size_t len)
{
	on_line(ud, "stdout", line, len);
}

static void on_err_line(void *ud, const char *line, size_t len)
{
	on_line(ud, "stderr", line, len);
}

static void proc_close_cb(uv_handle_t *h)
{
	struct proc *p = h->data;
	if (--p->closing == 0)
		runner_step_done(p->r, p);
}

static void pipe_close(struct proc *p, uv_pipe_t *pipe, int *open_flag)
{
	if (!*open_flag)
		return;
	*open_flag = 0;
	uv_read_stop((uv_stream_t *)pipe);
	uv_close((uv_handle_t *)pipe, proc_close_cb);
	if (pipe == &p->out)
		restic_lines_flush(&p->lo);
	else
		restic_lines_flush(&p->le);
}

static void maybe_close_proc(struct proc *p)
{
	if (p->exited == 1 && !p->out_open && !p->err_open) {
		p->exited = 2;
		uv_timer_stop(&p->r->kill_timer);
		uv_close((uv_handle_t *)&p->proc, proc_close_cb);
	}
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct proc *p = s->data;
	int is_out = s == (uv_stream_t *)&p->out;
	if (nread > 0) {
		restic_lines_feed(is_out ? &p->lo : &p->le, buf->base, (size_t)nread);
		return;
	}
	if (nread == 0)
		return;
	/* EOF or error: the stream is done */
	pipe_close(p, is_out ? &p->out : &p->err, is_out ? &p->out_open : &p->err_open);
	maybe_close_proc(p);
}

/* Hooks run in their own process group (a shell script's children go with it). */
static void proc_signal(struct proc *p, int sig)
{
	if (p->def->hook && p->proc.pid > 0)
		kill(-p->proc.pid, sig);
	else
		uv_process_kill(&p->proc, sig);
}

void runner_kill_timer_cb(uv_timer_t *t)
{
	struct runner *r = t->data;
	struct proc *p = r->p;
	if (!p)
		return;
	if (r->kill_mode == 1 && !p->exited) {
		RM_WARN("child ignored SIGTERM, sending SIGKILL", "job_id",
		        r->cur ? r->cur->id : "", "step", p->def->name);
		proc_signal(p, SIGKILL);
	} else if (r->kill_mode == 2) {
		/* a grandchild (ssh, rclone) still holds the pipes open */
		pipe_close(p, &p->out, &p->out_open);
		pipe_close(p, &p->err, &p->err_open);
		maybe_close_proc(p);
	}
}

static void exit_cb(uv_process_t *h, int64_t exit_status, int term_signal)
{
	struct proc *p = h->data;
	struct runner *r = p->r;
	p->exited = 1;
	p->exit_status = exit_status;
	p->term_signal = term_signal;
	uv_timer_stop(&r->kill_timer);
	if (p->out_open || p->err_open) {
		r->kill_mode = 2;
		uv_timer_start(&r->kill_timer, runner_kill_timer_cb, PIPE_DRAIN_MS, 0);
	}
	maybe_close_proc(p);
}

void runner_proc_start(struct runner *r, const struct step_def *def, enum step_role role,
                       char *const *argv)
{
	struct job *j = r->cur;
	struct proc *p = rm_xcalloc(1, sizeof(*p));
	p->r = r;
	p->def = def;
	p->role = role;
	rm_buf_init(&p->collect, COLLECT_MAX);
	restic_lines_init(&p->lo, on_out_line, p);
	restic_lines_init(&p->le, on_err_line, p);
	r->p = p;
	r->progress_sent = 0;
	if (!def->hook) { /* a hook's command line holds its script: never logged */
		char *cmd = restic_argv_format(argv);
		runner_log_event(r, "$ %s  (repository %s)", cmd,
		                 j->repo_redacted ? j->repo_redacted : "");
		free(cmd);
	}

	uv_pipe_init(r->loop, &p->out, 0);
	uv_pipe_init(r->loop, &p->err, 0);
	p->out.data = p->err.data = p->proc.data = p;
	uv_stdio_container_t stdio[3];
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[1].data.stream = (uv_stream_t *)&p->out;
	stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[2].data.stream = (uv_stream_t *)&p->err;
	uv_process_options_t o;
	memset(&o, 0, sizeof(o));
	o.file = argv[0];
	o.args = (char **)argv;
	o.env = def->hook ? j->hooks.env : j->env;
	if (def->hook)
		o.flags = UV_PROCESS_DETACHED; /* own process group, see proc_signal */
	o.cwd = r->state_dir;
	o.exit_cb = exit_cb;
	o.stdio = stdio;
	o.stdio_count = 3;
	int rc = uv_spawn(r->loop, &p->proc, &o);
	if (rc) {
		/* uv_spawn registered the process handle even on failure: it is closed too */
		p->spawn_err = rc;
		p->closing = 3;
		uv_close((uv_handle_t *)&p->out, proc_close_cb);
		uv_close((uv_handle_t *)&p->err, proc_close_cb);
		uv_close((uv_handle_t *)&p->proc, proc_close_cb);
		return;
	}
	p->spawned = 1;
	p->closing = 3;
	p->out_open = p->err_open = 1;
	uv_read_start((uv_stream_t *)&p->out, alloc_cb, read_cb);
	uv_read_start((uv_stream_t *)&p->err, alloc_cb, read_cb);
	if (def->hook)
		return;
	runner_marker_write(r, j, p->proc.pid);
	if (j->cancelled) /* cancelled between steps */
		uv_process_kill(&p->proc, SIGTERM);
}

void runner_proc_terminate(struct runner *r)
{
	if (!r->p || !r->p->spawned || r->p->exited)
		return;
	proc_signal(r->p, SIGTERM);
	r->kill_mode = 1;
	uv_timer_start(&r->kill_timer, runner_kill_timer_cb, (uint64_t)r->grace_ms, 0);
}

void runner_proc_free(struct proc *p)
{
	restic_lines_cleanup(&p->lo);
	restic_lines_cleanup(&p->le);
	rm_buf_cleanup(&p->collect);
	free(p->last_fatal);
	free(p->last_err);
	free(p);
}

int runner_proc_exit_code(const struct proc *p)
{
	if (p->spawn_err)
		return EXIT_NOT_FOUND;
	if (p->term_signal)
		return 128 + p->term_signal;
	return (int)p->exit_status;
}

char *runner_proc_error(const struct proc *p)
{
	if (p->spawn_err == UV_ENOENT || p->spawn_err == UV_EACCES)
		return rm_xstrdup("restic not found");
	if (p->spawn_err)
		return rm_xasprintf("cannot start restic: %s", uv_strerror(p->spawn_err));
	if (p->last_fatal)
		return rm_xstrdup(p->last_fatal);
	if (p->last_err)
		return rm_xstrdup(p->last_err);
	if (p->term_signal)
		return rm_xasprintf("restic killed by signal %d", p->term_signal);
	return rm_xasprintf("restic exited with code %d", (int)p->exit_status);
}

int runner_proc_ok(const struct proc *p)
{
	return !p->spawn_err && !p->term_signal && p->exit_status == 0;
}
