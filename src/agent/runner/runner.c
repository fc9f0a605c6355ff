/* Job runner: FIFO of restic jobs, one child at a time, output -> protocol payloads.
 * See runner.h for the contract.
 *
 * A job is a sequence of steps, each one restic child process:
 *   [unlock]      when a previous agent died mid-job or a job was cancelled (restic 0.14
 *                 leaves its lock behind on SIGTERM/SIGKILL)
 *   main          init | backup | snapshots | unlock
 *   [snapshots]   after a successful init/backup -> snapshots.report
 *   [stats]       after a successful init/backup -> stats.report
 * A step is finished once the process has exited AND both pipes are closed (or the pipe
 * drain timer gave up on a grandchild holding them open). */
#include "agent/runner/runner.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/restic/argv.h"
#include "agent/restic/lines.h"
#include "agent/restic/parse.h"
#include "common/buf.h"
#include "common/crypto.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/rmtime.h"

#define LOG_BATCH_LINES 200
#define LOG_BATCH_MS 50
#define PROGRESS_MIN_MS 1000
#define PIPE_DRAIN_MS 1000
#define SNAPSHOTS_MAX 10000
#define COLLECT_MAX (64u * 1024 * 1024)
#define JOB_ID_MAX 64
#define EXIT_CANCELLED 130
#define EXIT_NOT_FOUND 127

enum step {
	STEP_NONE = 0,
	STEP_UNLOCK_PRE,
	STEP_MAIN,
	STEP_SNAPSHOTS,
	STEP_STATS,
};

enum job_kind { KIND_INIT, KIND_BACKUP, KIND_SNAPSHOTS, KIND_UNLOCK };

struct job {
	struct job *next;
	char *id;
	char *kind_name;
	enum job_kind kind;
	char **argv_main;
	char **env;          /* NULL: no repository configured */
	char *repo_redacted; /* for log lines */
	struct rm_redactor secrets; /* scrubbed from everything the job sends */
	int no_restic;
	long long seq;
	int cancelled;
	/* outcome of the main step */
	int main_done;
	int init_existed; /* init found an existing repo: the snapshots step proves access */
	const char *status;
	int exit_code;
	char *error;
	int warnings;
	json_t *stats;
};

struct proc {
	struct runner *r;
	enum step step;
	uv_process_t proc;
	uv_pipe_t out, err;
	int closing;      /* close callbacks still pending */
	int spawned;
	int spawn_err;
	int exited;
	int64_t exit_status;
	int term_signal;
	int out_open, err_open;
	struct restic_lines lo, le;
	struct rm_buf collect; /* stdout of snapshots/stats */
	int collect_overflow;
	char *last_fatal;
	char *last_err;
	int already_init;
	int is_backup_main;
};

struct runner {
	uv_loop_t *loop;
	char *restic_path;
	char *state_dir;
	char *jobs_dir;
	char *hostname;
	runner_emit_fn emit;
	void *ud;
	int grace_ms;

	struct job *head, *tail; /* queued */
	struct job *cur;         /* running */
	struct proc *p;
	int unlock_needed;

	uv_timer_t log_timer;
	uv_timer_t kill_timer;  /* SIGKILL after grace, or pipe drain after exit */
	uv_timer_t kick_timer;  /* starts the next job outside of caller stacks */
	int kill_mode;          /* 1 = SIGKILL pending, 2 = pipe drain */
	json_t *log_lines;
	uint64_t last_progress;
	int progress_sent;

	int freeing;
	int timers_open;
	char readbuf[65536];
};

static void step_run(struct runner *r, enum step step);
static void job_finish(struct runner *r, const char *status, int exit_code, const char *error);

/* ------------------------------------------------------------------ helpers */

static void emit(struct runner *r, enum rm_msg_type t, json_t *payload)
{
	if (r->freeing || !r->emit) {
		json_decref(payload);
		return;
	}
	r->emit(r->ud, (int)t, payload);
}

static json_t *now_str(void)
{
	char buf[RM_TIME_STRLEN];
	rm_time_fmt(rm_now_ms(), buf);
	return json_string(buf);
}

static int job_id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;
	if (n == 0 || n > JOB_ID_MAX) return 0;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

static void job_free(struct job *j)
{
	if (!j) return;
	free(j->id);
	free(j->kind_name);
	restic_argv_free(j->argv_main);
	restic_env_free(j->env);
	free(j->repo_redacted);
	rm_redactor_cleanup(&j->secrets);
	free(j->error);
	json_decref(j->stats);
	free(j);
}

/* What leaves the agent must not hold the job's secrets (restic echoes repository URLs
 * and, in some errors, the password): every known form of them, then the password of
 * any URL with userinfo, become "***". Returns a new string. */
static char *scrub(const struct job *j, const char *s, size_t len)
{
	char *known = rm_redactor_apply(&j->secrets, s, len);
	if (!strstr(known, "://")) return known;
	char *out = rm_redact_url(known);
	free(known);
	return out;
}

/* ------------------------------------------------------------------ log batching */

static void log_flush(struct runner *r)
{
	uv_timer_stop(&r->log_timer);
	if (!r->log_lines || json_array_size(r->log_lines) == 0 || !r->cur) return;
	json_t *p = json_object();
	json_object_set_new(p, "job_id", json_string(r->cur->id));
	json_object_set_new(p, "lines", r->log_lines);
	r->log_lines = NULL;
	emit(r, RM_MSG_LOG_STREAM, p);
}

static void log_timer_cb(uv_timer_t *t)
{
	log_flush(t->data);
}

/* stream: "stdout" | "stderr" | "event". text need not be NUL-terminated; it is valid
 * UTF-8 (lines.c sanitizes child output; event text is ours). */
static void log_line(struct runner *r, const char *stream, const char *text, size_t len)
{
	struct job *j = r->cur;
	if (!j) return;
	if (len > RESTIC_LINE_MAX) len = RESTIC_LINE_MAX;
	char *clean = scrub(j, text, len);
	json_t *payload = json_string(clean);
	free(clean);
	if (!payload) return; /* not UTF-8: cannot happen for sanitized input */
	json_t *l = json_object();
	json_object_set_new(l, "seq", json_integer(++j->seq));
	json_object_set_new(l, "ts", now_str());
	json_object_set_new(l, "stream", json_string(stream));
	json_object_set_new(l, "payload", payload);
	if (!r->log_lines) r->log_lines = json_array();
	json_array_append_new(r->log_lines, l);
	if (json_array_size(r->log_lines) >= LOG_BATCH_LINES) log_flush(r);
	else if (!uv_is_active((uv_handle_t *)&r->log_timer))
		uv_timer_start(&r->log_timer, log_timer_cb, LOG_BATCH_MS, 0);
}

static void log_event(struct runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_event(struct runner *r, const char *fmt, ...)
{
	char tmp[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0) return;
	size_t len = (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1;
	restic_utf8_sanitize(tmp, len);
	log_line(r, "event", tmp, len);
}

/* ------------------------------------------------------------------ job markers */

static char *marker_path(const struct runner *r, const char *job_id)
{
	return rm_xasprintf("%s/%s.json", r->jobs_dir, job_id);
}

static void marker_write(struct runner *r, const struct job *j, int pid)
{
	json_t *o = json_object();
	json_object_set_new(o, "pid", json_integer(pid));
	json_object_set_new(o, "kind", json_string(j->kind_name));
	json_object_set_new(o, "started_at", now_str());
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	char *path = marker_path(r, j->id);
	int rc = s ? rm_write_file_atomic(path, s, strlen(s), 0600) : RM_ERR_NOMEM;
	if (rc) RM_WARN("cannot write job marker", "path", path, "error", rm_strerror(rc));
	free(path);
	free(s);
}

static void marker_remove(struct runner *r, const struct job *j)
{
	char *path = marker_path(r, j->id);
	if (unlink(path) != 0 && errno != ENOENT)
		RM_WARN("cannot remove job marker", "path", path, "error", strerror(errno));
	free(path);
}

static int proc_is_restic(long pid)
{
	char path[64];
	char *data = NULL;
	size_t len = 0;
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	if (rm_read_file(path, 65536, &data, &len) != RM_OK) return 0;
	int yes = memmem(data, len, "restic", 6) != NULL;
	free(data);
	return yes;
}

/* Leftover markers = a previous agent died mid-job. */
static void markers_recover(struct runner *r)
{
	DIR *d = opendir(r->jobs_dir);
	if (!d) return;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		if (de->d_name[0] == '.') continue;
		char *path = rm_xasprintf("%s/%s", r->jobs_dir, de->d_name);
		if (n > 5 && strcmp(de->d_name + n - 5, ".json") == 0) {
			char *data = NULL;
			size_t len = 0;
			json_t *o = NULL;
			if (rm_read_file(path, 4096, &data, &len) == RM_OK)
				o = json_loadb(data, len, 0, NULL);
			long long pid = o ? rmj_int(o, "pid", 0) : 0;
			if (pid > 1 && pid < 1LL << 30 && proc_is_restic((long)pid)) {
				char pbuf[32];
				snprintf(pbuf, sizeof(pbuf), "%lld", pid);
				RM_WARN("killing restic left over by a previous agent", "pid", pbuf,
				        "marker", de->d_name);
				kill((pid_t)pid, SIGKILL);
			}
			RM_INFO("previous agent died mid-job; repository unlock scheduled", "marker",
			        de->d_name);
			json_decref(o);
			free(data);
			r->unlock_needed = 1;
		}
		unlink(path); /* also stale tmp files of atomic writes */
		free(path);
	}
	closedir(d);
}

/* ------------------------------------------------------------------ process I/O */

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

static void emit_progress(struct runner *r, const json_t *status)
{
	json_t *pr = NULL;
	uint64_t now = uv_now(r->loop);
	if (r->progress_sent && now - r->last_progress < PROGRESS_MIN_MS) return;
	if (restic_parse_status(status, &pr) != RM_OK) return;
	const char *cf = rmj_str(pr, "current_file");
	if (cf) {
		char *clean = scrub(r->cur, cf, strlen(cf));
		json_object_set_new(pr, "current_file", json_string(clean));
		free(clean);
	}
	json_object_set_new(pr, "job_id", json_string(r->cur->id));
	r->progress_sent = 1;
	r->last_progress = now;
	emit(r, RM_MSG_JOB_PROGRESS, pr);
}

static void on_line(struct proc *p, const char *stream, const char *line, size_t len)
{
	struct runner *r = p->r;
	int is_err = stream[3] == 'e'; /* "stderr" */
	char *fatal = NULL;
	if (len == 0) return;
	if (restic_output_is_already_initialized(line)) p->already_init = 1;
	if (!is_err && (p->step == STEP_SNAPSHOTS || p->step == STEP_STATS ||
	                (p->step == STEP_MAIN && r->cur->kind == KIND_SNAPSHOTS))) {
		/* a JSON document: collected, not logged */
		if (rm_buf_append(&p->collect, line, len) || rm_buf_append(&p->collect, "\n", 1))
			p->collect_overflow = 1;
		return;
	}
	if (p->is_backup_main) {
		json_t *o = NULL;
		enum restic_line_type t = restic_parse_line(line, len, &o);
		if (t == RESTIC_LINE_STATUS) {
			emit_progress(r, o);
			json_decref(o);
			return;
		}
		if (t == RESTIC_LINE_SUMMARY) {
			json_t *st = NULL;
			if (restic_parse_summary(o, &st) == RM_OK) {
				json_decref(r->cur->stats);
				r->cur->stats = st;
			}
		} else if (t == RESTIC_LINE_ERROR) {
			char *m = NULL;
			if (restic_parse_error(o, &m, NULL) == RM_OK) set_str(&p->last_err, m);
		}
		json_decref(o);
	}
	log_line(r, stream, line, len);
	if (restic_parse_fatal_line(line, len, &fatal) == RM_OK) {
		set_str(&p->last_fatal, scrub(r->cur, fatal, strlen(fatal)));
		free(fatal);
	} else if (is_err && line[0] != '{') {
		set_str(&p->last_err, scrub(r->cur, line, len));
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

static void step_done(struct runner *r, struct proc *p);

static void proc_close_cb(uv_handle_t *h)
{
	struct proc *p = h->data;
	if (--p->closing == 0) step_done(p->r, p);
}

static void pipe_close(struct proc *p, uv_pipe_t *pipe, int *open_flag)
{
	if (!*open_flag) return;
	*open_flag = 0;
	uv_read_stop((uv_stream_t *)pipe);
	uv_close((uv_handle_t *)pipe, proc_close_cb);
	if (pipe == &p->out) restic_lines_flush(&p->lo);
	else restic_lines_flush(&p->le);
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
	if (nread == 0) return;
	/* EOF or error: the stream is done */
	pipe_close(p, is_out ? &p->out : &p->err, is_out ? &p->out_open : &p->err_open);
	maybe_close_proc(p);
}

static void kill_timer_cb(uv_timer_t *t)
{
	struct runner *r = t->data;
	struct proc *p = r->p;
	if (!p) return;
	if (r->kill_mode == 1 && !p->exited) {
		RM_WARN("restic ignored SIGTERM, sending SIGKILL", "job_id", r->cur ? r->cur->id : "");
		uv_process_kill(&p->proc, SIGKILL);
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
		uv_timer_start(&r->kill_timer, kill_timer_cb, PIPE_DRAIN_MS, 0);
	}
	maybe_close_proc(p);
}

static char **step_argv(struct runner *r, enum step step)
{
	char **argv = NULL;
	const char *kind = step == STEP_UNLOCK_PRE ? "unlock"
	                   : step == STEP_SNAPSHOTS ? "snapshots"
	                                            : "stats";
	if (restic_argv_build(r->restic_path, kind, NULL, NULL, &argv, NULL, 0) != RM_OK)
		return NULL;
	return argv;
}

static void step_run(struct runner *r, enum step step)
{
	struct job *j = r->cur;
	struct proc *p = rm_xcalloc(1, sizeof(*p));
	char **own_argv = NULL;
	char *const *argv;
	p->r = r;
	p->step = step;
	p->is_backup_main = step == STEP_MAIN && j->kind == KIND_BACKUP;
	rm_buf_init(&p->collect, COLLECT_MAX);
	restic_lines_init(&p->lo, on_out_line, p);
	restic_lines_init(&p->le, on_err_line, p);
	r->p = p;
	r->progress_sent = 0;
	if (step == STEP_MAIN) {
		argv = j->argv_main;
	} else {
		own_argv = step_argv(r, step);
		argv = own_argv;
	}
	uv_pipe_init(r->loop, &p->out, 0);
	uv_pipe_init(r->loop, &p->err, 0);
	p->out.data = p->err.data = p->proc.data = p;
	if (!argv) {
		/* no argv for this step: it fails like a spawn error (the process handle was
		 * never initialised, so only the pipes are closed) */
		p->spawn_err = UV_EINVAL;
		p->closing = 2;
		uv_close((uv_handle_t *)&p->out, proc_close_cb);
		uv_close((uv_handle_t *)&p->err, proc_close_cb);
		return;
	}
	char *cmd = restic_argv_format(argv);
	log_event(r, "$ %s  (repository %s)", cmd, j->repo_redacted ? j->repo_redacted : "");
	free(cmd);
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
	o.env = j->env;
	o.cwd = r->state_dir;
	o.exit_cb = exit_cb;
	o.stdio = stdio;
	o.stdio_count = 3;
	int rc = uv_spawn(r->loop, &p->proc, &o);
	restic_argv_free(own_argv);
	if (rc) {
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
	marker_write(r, j, p->proc.pid);
	if (j->cancelled) {
		/* cancelled between steps */
		uv_process_kill(&p->proc, SIGTERM);
	}
}

static void proc_free(struct proc *p)
{
	restic_lines_cleanup(&p->lo);
	restic_lines_cleanup(&p->le);
	rm_buf_cleanup(&p->collect);
	free(p->last_fatal);
	free(p->last_err);
	free(p);
}

static int proc_exit_code(const struct proc *p)
{
	if (p->spawn_err) return EXIT_NOT_FOUND;
	if (p->term_signal) return 128 + p->term_signal;
	return (int)p->exit_status;
}

static char *proc_error(const struct proc *p)
{
	if (p->spawn_err == UV_ENOENT || p->spawn_err == UV_EACCES)
		return rm_xstrdup("restic not found");
	if (p->spawn_err) return rm_xasprintf("cannot start restic: %s", uv_strerror(p->spawn_err));
	if (p->last_fatal) return rm_xstrdup(p->last_fatal);
	if (p->last_err) return rm_xstrdup(p->last_err);
	if (p->term_signal) return rm_xasprintf("restic killed by signal %d", p->term_signal);
	return rm_xasprintf("restic exited with code %d", (int)p->exit_status);
}

static void report_snapshots(struct runner *r, struct proc *p)
{
	json_t *arr = NULL;
	if (p->collect_overflow ||
	    restic_parse_snapshots(p->collect.data, p->collect.len, SNAPSHOTS_MAX, &arr) != RM_OK) {
		log_event(r, "cannot parse the output of restic snapshots");
		return;
	}
	log_event(r, "%zu snapshots reported", json_array_size(arr));
	json_t *pl = json_object();
	json_object_set_new(pl, "snapshots", arr);
	log_flush(r);
	emit(r, RM_MSG_SNAPSHOTS_REPORT, pl);
}

static void report_stats(struct runner *r, struct proc *p)
{
	json_t *st = NULL;
	if (p->collect_overflow || restic_parse_stats(p->collect.data, p->collect.len, &st) != RM_OK) {
		log_event(r, "cannot parse the output of restic stats");
		return;
	}
	/* --mode raw-data: total_size is the deduplicated size stored in the repository */
	json_t *ts = json_object_get(st, "total_size");
	if (ts) json_object_set(st, "raw_size", ts);
	log_flush(r);
	emit(r, RM_MSG_STATS_REPORT, st);
}

static int step_ok(const struct proc *p)
{
	return !p->spawn_err && !p->term_signal && p->exit_status == 0;
}

static void step_done(struct runner *r, struct proc *p)
{
	struct job *j = r->cur;
	enum step step = p->step;
	r->p = NULL;
	uv_timer_stop(&r->kill_timer);
	if (r->freeing) {
		/* marker kept: the next agent start unlocks the repository */
		proc_free(p);
		job_free(r->cur);
		r->cur = NULL;
		return;
	}
	if (p->spawned) marker_remove(r, j);
	int code = proc_exit_code(p);
	if (step != STEP_MAIN && !step_ok(p)) {
		char *e = proc_error(p);
		log_event(r, "%s failed (exit %d): %s",
		          step == STEP_UNLOCK_PRE ? "unlock" : step == STEP_SNAPSHOTS ? "snapshots" : "stats",
		          code, e);
		free(e);
	}
	switch (step) {
	case STEP_UNLOCK_PRE:
		if (step_ok(p)) {
			r->unlock_needed = 0;
			log_event(r, "stale repository locks removed");
		}
		proc_free(p);
		if (j->cancelled) job_finish(r, "cancelled", EXIT_CANCELLED, NULL);
		else step_run(r, STEP_MAIN);
		return;
	case STEP_MAIN:
		if (j->cancelled) {
			/* restic 0.14 leaves its lock behind when terminated */
			r->unlock_needed = 1;
			proc_free(p);
			job_finish(r, "cancelled", EXIT_CANCELLED, NULL);
			return;
		}
		j->main_done = 1;
		j->exit_code = code;
		if (step_ok(p)) {
			j->status = "succeeded";
		} else if (!p->spawn_err && !p->term_signal && p->exit_status == 3 &&
		           j->kind == KIND_BACKUP) {
			j->status = "succeeded";
			j->warnings = 1;
		} else if (j->kind == KIND_INIT && !p->spawn_err && p->already_init) {
			log_event(r, "repository already initialised; checking that the password opens it");
			j->status = "succeeded";
			j->exit_code = 0;
			j->init_existed = 1;
		} else {
			j->status = "failed";
			j->error = proc_error(p);
		}
		if (strcmp(j->status, "succeeded") == 0) {
			if (j->kind == KIND_UNLOCK) r->unlock_needed = 0;
			if (j->kind == KIND_SNAPSHOTS) report_snapshots(r, p);
		}
		proc_free(p);
		if (strcmp(j->status, "succeeded") == 0 &&
		    (j->kind == KIND_BACKUP || j->kind == KIND_INIT)) {
			step_run(r, STEP_SNAPSHOTS);
			return;
		}
		job_finish(r, j->status, j->exit_code, j->error);
		return;
	case STEP_SNAPSHOTS:
		if (step_ok(p)) {
			report_snapshots(r, p);
		} else if (j->init_existed && !j->cancelled) {
			/* "config file already exists" says nothing about our password: an
			 * existing repo we cannot open is a failed init, not a ready one */
			j->status = "failed";
			j->exit_code = p->spawn_err ? -1 : (int)p->exit_status;
			free(j->error);
			j->error = proc_error(p);
			proc_free(p);
			job_finish(r, j->status, j->exit_code, j->error);
			return;
		}
		proc_free(p);
		if (j->cancelled) job_finish(r, j->status, j->exit_code, j->error);
		else step_run(r, STEP_STATS);
		return;
	case STEP_STATS:
		if (step_ok(p)) report_stats(r, p);
		proc_free(p);
		job_finish(r, j->status, j->exit_code, j->error);
		return;
	case STEP_NONE:
		break;
	}
	proc_free(p);
}

/* ------------------------------------------------------------------ job lifecycle */

static void emit_started(struct runner *r, struct job *j)
{
	json_t *p = json_object();
	json_object_set_new(p, "job_id", json_string(j->id));
	json_object_set_new(p, "seq", json_integer(++j->seq));
	json_object_set_new(p, "kind", json_string(j->kind_name));
	json_object_set_new(p, "started_at", now_str());
	emit(r, RM_MSG_JOB_STARTED, p);
}

static void kick_cb(uv_timer_t *t);

static void kick(struct runner *r)
{
	if (!r->freeing && !r->cur && r->head) uv_timer_start(&r->kick_timer, kick_cb, 0, 0);
}

static void job_finish(struct runner *r, const char *status, int exit_code, const char *error)
{
	struct job *j = r->cur;
	log_flush(r);
	json_t *p = json_object();
	json_object_set_new(p, "job_id", json_string(j->id));
	json_object_set_new(p, "seq", json_integer(++j->seq));
	json_object_set_new(p, "status", json_string(status));
	json_object_set_new(p, "exit_code", json_integer(exit_code));
	json_object_set_new(p, "finished_at", now_str());
	if (j->stats && strcmp(status, "cancelled") != 0) json_object_set(p, "stats", j->stats);
	char *clean = error ? scrub(j, error, strlen(error)) : NULL;
	if (clean && strcmp(status, "failed") == 0) json_object_set_new(p, "error", json_string(clean));
	json_object_set_new(p, "warnings", json_boolean(j->warnings));
	RM_INFO("job finished", "job_id", j->id, "kind", j->kind_name, "status", status,
	        "error", clean ? clean : "");
	free(clean);
	emit(r, RM_MSG_JOB_FINISHED, p);
	r->cur = NULL;
	job_free(j);
	kick(r);
}

static void job_start(struct runner *r, struct job *j)
{
	r->cur = j;
	emit_started(r, j);
	if (j->no_restic) {
		job_finish(r, "failed", EXIT_NOT_FOUND, "restic not found");
		return;
	}
	if (!j->env) {
		job_finish(r, "failed", -1, "no repository configured");
		return;
	}
	if (r->unlock_needed && j->kind != KIND_UNLOCK) {
		log_event(r, "a previous run was interrupted; removing stale repository locks first");
		step_run(r, STEP_UNLOCK_PRE);
	} else {
		step_run(r, STEP_MAIN);
	}
}

static void kick_cb(uv_timer_t *t)
{
	struct runner *r = t->data;
	if (r->freeing || r->cur || !r->head) return;
	struct job *j = r->head;
	r->head = j->next;
	if (!r->head) r->tail = NULL;
	j->next = NULL;
	job_start(r, j);
}

/* ------------------------------------------------------------------ public API */

/* mkdir 0700 that accepts an existing path; logs msg and returns -1 on failure. */
static int make_dir(const char *path, const char *msg)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST) return 0;
	RM_ERROR(msg, "path", path, "error", strerror(errno));
	return -1;
}

int runner_new(const struct runner_opts *opts, struct runner **out)
{
	if (!opts || !opts->loop || !opts->state_dir || !*opts->state_dir || !opts->emit)
		return RM_ERR_INVAL;
	struct runner *r = rm_xcalloc(1, sizeof(*r));
	r->loop = opts->loop;
	r->restic_path = rm_xstrdup(opts->restic_path && *opts->restic_path ? opts->restic_path : NULL);
	r->state_dir = rm_xstrdup(opts->state_dir);
	r->jobs_dir = rm_xasprintf("%s/jobs", opts->state_dir);
	r->hostname = rm_xstrdup(opts->hostname);
	r->emit = opts->emit;
	r->ud = opts->ud;
	r->grace_ms = opts->cancel_grace_ms > 0 ? opts->cancel_grace_ms : 5000;
	if (make_dir(r->state_dir, "cannot create state dir") ||
	    make_dir(r->jobs_dir, "cannot create jobs dir")) {
		free(r->restic_path);
		free(r->state_dir);
		free(r->jobs_dir);
		free(r->hostname);
		free(r);
		return RM_ERR_IO;
	}
	markers_recover(r);
	uv_timer_init(r->loop, &r->log_timer);
	uv_timer_init(r->loop, &r->kill_timer);
	uv_timer_init(r->loop, &r->kick_timer);
	r->log_timer.data = r->kill_timer.data = r->kick_timer.data = r;
	r->timers_open = 3;
	*out = r;
	return RM_OK;
}

static void timer_close_cb(uv_handle_t *h)
{
	struct runner *r = h->data;
	if (--r->timers_open > 0) return;
	json_decref(r->log_lines);
	free(r->restic_path);
	free(r->state_dir);
	free(r->jobs_dir);
	free(r->hostname);
	free(r);
}

static void runner_destroy_when_idle(uv_timer_t *t);

void runner_free(struct runner *r)
{
	if (!r) return;
	r->freeing = 1;
	while (r->head) {
		struct job *j = r->head;
		r->head = j->next;
		job_free(j);
	}
	r->tail = NULL;
	uv_timer_stop(&r->log_timer);
	uv_timer_stop(&r->kick_timer);
	if (r->p && r->p->spawned && !r->p->exited) {
		uv_process_kill(&r->p->proc, SIGTERM);
		r->kill_mode = 1;
		uv_timer_start(&r->kill_timer, kill_timer_cb, (uint64_t)r->grace_ms, 0);
	}
	/* poll until the child is gone, then close the timers */
	uv_timer_start(&r->kick_timer, runner_destroy_when_idle, 0, 20);
}

static void runner_destroy_when_idle(uv_timer_t *t)
{
	struct runner *r = t->data;
	if (r->p) return;
	job_free(r->cur);
	r->cur = NULL;
	uv_timer_stop(&r->kick_timer);
	uv_timer_stop(&r->kill_timer);
	uv_close((uv_handle_t *)&r->log_timer, timer_close_cb);
	uv_close((uv_handle_t *)&r->kill_timer, timer_close_cb);
	uv_close((uv_handle_t *)&r->kick_timer, timer_close_cb);
}

static enum job_kind kind_parse(const char *kind, int *ok)
{
	static const struct {
		const char *name;
		enum job_kind k;
	} kinds[] = {
		{"init", KIND_INIT},
		{"backup", KIND_BACKUP},
		{"snapshots", KIND_SNAPSHOTS},
		{"unlock", KIND_UNLOCK},
	};
	for (size_t i = 0; kind && i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(kind, kinds[i].name) == 0) {
			*ok = 1;
			return kinds[i].k;
		}
	}
	*ok = 0;
	return KIND_INIT;
}

static int job_known(const struct runner *r, const char *id)
{
	if (r->cur && strcmp(r->cur->id, id) == 0) return 1;
	for (const struct job *j = r->head; j; j = j->next)
		if (strcmp(j->id, id) == 0) return 1;
	return 0;
}

int runner_submit(struct runner *r, const char *job_id, const char *kind, const json_t *args,
                  const struct runner_creds *creds)
{
	int ok = 0;
	char err[256] = "";
	if (!r || r->freeing || !job_id_valid(job_id)) return RM_ERR_INVAL;
	enum job_kind k = kind_parse(kind, &ok);
	if (!ok) return RM_ERR_INVAL;
	if (args && !json_is_object(args)) return RM_ERR_INVAL;
	if (job_known(r, job_id)) return RM_ERR_CONFLICT;

	struct job *j = rm_xcalloc(1, sizeof(*j));
	j->id = rm_xstrdup(job_id);
	j->kind_name = rm_xstrdup(kind);
	j->kind = k;
	int rc = restic_argv_build(r->restic_path ? r->restic_path : "restic", kind, args,
	                           r->hostname, &j->argv_main, err, sizeof(err));
	if (rc) {
		RM_WARN("job rejected", "job_id", job_id, "error", err);
		job_free(j);
		return RM_ERR_INVAL;
	}
	if (creds && creds->repo_url && *creds->repo_url && creds->repo_password) {
		struct restic_env_in in = {
			.repo_url = creds->repo_url,
			.repo_username = creds->repo_username,
			.repo_password = creds->repo_password,
			.state_dir = r->state_dir,
			.tmpdir = getenv("TMPDIR"),
		};
		rc = restic_env_build(&in, &j->env);
		if (rc) {
			RM_WARN("job rejected: bad repository URL", "job_id", job_id);
			job_free(j);
			return RM_ERR_INVAL;
		}
		j->repo_redacted = rm_redact_url(creds->repo_url);
		restic_secrets_collect(&j->secrets, creds->repo_url, creds->repo_username,
		                       creds->repo_password);
	}
	j->no_restic = r->restic_path == NULL;
	if (r->tail) r->tail->next = j;
	else r->head = j;
	r->tail = j;
	kick(r);
	return j->no_restic ? RM_ERR_NOTFOUND : RM_OK;
}

int runner_cancel(struct runner *r, const char *job_id)
{
	if (!r || !job_id) return RM_ERR_INVAL;
	if (r->cur && strcmp(r->cur->id, job_id) == 0) {
		struct job *j = r->cur;
		if (j->cancelled) return RM_OK;
		j->cancelled = 1;
		log_event(r, "cancel requested: sending SIGTERM to restic");
		if (r->p && r->p->spawned && !r->p->exited) {
			uv_process_kill(&r->p->proc, SIGTERM);
			r->kill_mode = 1;
			uv_timer_start(&r->kill_timer, kill_timer_cb, (uint64_t)r->grace_ms, 0);
		}
		return RM_OK;
	}
	struct job **pp = &r->head, *prev = NULL;
	for (; *pp; prev = *pp, pp = &(*pp)->next) {
		if (strcmp((*pp)->id, job_id) != 0) continue;
		struct job *j = *pp;
		*pp = j->next;
		if (r->tail == j) r->tail = prev;
		j->next = NULL;
		/* report it as cancelled at once: started + finished */
		emit_started(r, j);
		json_t *p = json_object();
		json_object_set_new(p, "job_id", json_string(j->id));
		json_object_set_new(p, "seq", json_integer(++j->seq));
		json_object_set_new(p, "status", json_string("cancelled"));
		json_object_set_new(p, "exit_code", json_integer(EXIT_CANCELLED));
		json_object_set_new(p, "finished_at", now_str());
		json_object_set_new(p, "warnings", json_false());
		emit(r, RM_MSG_JOB_FINISHED, p);
		job_free(j);
		return RM_OK;
	}
	return RM_ERR_NOTFOUND;
}

void runner_active_ids(const struct runner *r, json_t *arr)
{
	if (!r || !arr) return;
	if (r->cur) json_array_append_new(arr, json_string(r->cur->id));
	for (const struct job *j = r->head; j; j = j->next)
		json_array_append_new(arr, json_string(j->id));
}

size_t runner_active_count(const struct runner *r)
{
	size_t n = 0;
	if (!r) return 0;
	if (r->cur) n++;
	for (const struct job *j = r->head; j; j = j->next) n++;
	return n;
}
