#ifndef RM_AGENT_RUNNER_RUNNER_INT_H
#define RM_AGENT_RUNNER_RUNNER_INT_H
/* Inside the runner, shared by its files:
 *   runner.c   public API, job queue and lifecycle (which step runs next)
 *   kinds.c    the job kinds table: each kind's steps and what they report
 *   proc.c     one step = one restic child: spawn, pipes, output lines, exit, kill
 *   joblog.c   events: log lines (batched, redacted), progress, emit
 *   markers.c  job marker files, recovery after a crash
 *   hooks.c    the pre/post hook steps of backups (user shell scripts)
 *   locks.c    safe stale locks: list, read, judge and remove only provably dead locks
 * Not for other modules: they use runner.h. Loop thread only. */
#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#include "agent/restic/lines.h"
#include "agent/runner/runner.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/proto.h"

#define RUNNER_MAX_THEN 3
#define EXIT_CANCELLED 130
#define EXIT_NOT_FOUND 127

struct runner;
struct proc;

/* How a step's stdout is read. */
enum step_out {
	OUT_LOG = 0,  /* every line is a log line */
	OUT_PROGRESS, /* restic --json message lines: status -> job.progress, summary -> the
	                * job's stats, errors remembered; the rest are log lines */
	OUT_DOCUMENT, /* one JSON document, collected (capped) for the step's report */
	OUT_TEXT,     /* every line is a log line, and stdout is also collected for the
	               * step's report (prune's text summary) */
	OUT_LINES,    /* every stdout line goes to the step's line callback (not logged) */
};

enum step_hook { HOOK_NONE = 0, HOOK_PRE, HOOK_POST };

/* One child process: a restic invocation, or a user hook (hook != HOOK_NONE: the job's
 * hook_shell -c <script>, output logged with stream "hook", see hooks.c). */
struct step_def {
	const char *name; /* restic_argv_build kind (hooks: "pre-hook" / "post-hook"); also
	                    * names the step in log lines */
	enum step_hook hook;
	enum step_out out;
	int warn_exit; /* exit code meaning "succeeded with warnings" (0 = none) */
	int exists_ok; /* "already initialized" output counts as success, to be
	                    * confirmed by the next step (the password may not open it) */
	int unlocks;   /* success clears the runner's unlock_needed */
	/* On success: parses the collected output and emits its report. NULL = none. */
	void (*report)(struct runner *r, struct proc *p);
	int report_always; /* report also when the main step failed (check) */
	int count_errors;  /* count check's error lines into proc.errors */
	/* OUT_LINES: one stdout line (NUL-terminated, valid UTF-8). */
	void (*line)(struct runner *r, struct proc *p, const char *line, size_t len);
	/* OUT_PROGRESS: restic status / summary objects when the default (backup) reading
	 * does not fit, e.g. restore's. NULL = the backup parsers. */
	void (*status)(struct runner *r, const json_t *status);
	void (*summary)(struct runner *r, const json_t *summary);
};

/* Kinds whose steps depend on what earlier steps found (restore, drill): the driver
 * builds argvs as it goes and decides the job's outcome. */
struct job;
struct kind_driver {
	/* At submit: validates args and sets j->drv. RM_ERR_INVAL with a message. */
	int (*prepare)(struct runner *r, struct job *j, const json_t *args, char *err,
	               size_t errlen);
	/* Starts the first step (after a stale-lock unlock, if one was needed). */
	void (*start)(struct runner *r, struct job *j);
	/* A ROLE_DRIVER step ended (takes p); the driver starts the next or finishes. */
	void (*step_done)(struct runner *r, struct job *j, struct proc *p);
	void (*free)(void *drv);
};

/* A job kind: its main step, then the steps that follow a successful main step.
 * hooks: the job's pre_hook runs before everything (non-zero: the job fails, restic does
 * not run) and its post_hook right after the main step, whatever its outcome. */
struct kind_def {
	const char *name; /* command.run kind */
	int hooks;
	const struct step_def *main;
	const struct step_def *then[RUNNER_MAX_THEN + 1]; /* NULL-terminated */
	const struct kind_driver *driver;                 /* NULL: main + then */
	int per_group; /* main step once per entry of args.groups (forget) */
	int locks;     /* the job is the safe stale-lock flow (locks.c), no main step */
};

/* kinds.c: the table. NULL when unknown. */
const struct kind_def *runner_kind_find(const char *name);
/* The step that removes stale locks before a job when a previous run was interrupted. */
extern const struct step_def runner_unlock_step;
extern const struct step_def runner_pre_hook_step, runner_post_hook_step;

enum step_role { ROLE_PRE, ROLE_MAIN, ROLE_THEN, ROLE_HOOK, ROLE_LOCKS, ROLE_DRIVER };

/* Why the lock flow runs: as an "unlock" job, or once before retrying a main step that
 * failed because the repository was locked. */
enum locks_purpose { LOCKS_JOB = 1, LOCKS_RETRY };

/* The lock flow's state inside a job. */
struct lockscan {
	int purpose;   /* enum locks_purpose, 0 = not running */
	json_t *ids;   /* from `list locks` */
	size_t idx;    /* next id to read */
	json_t *locks; /* read and judged: lock objects + "dead", "why", "restic_stale" */
	int list_failed;
	int removed; /* locks removed by the unlock step */
};

/* A job's hooks (from its args), all NULL/0 for kinds without hooks. */
struct job_hooks {
	char *pre, *post; /* scripts: secrets-adjacent, never logged */
	char *shell;      /* absolute path, default /bin/sh */
	int timeout_s;    /* default 900 */
	char *group;      /* RM_GROUP */
	char **argv;      /* the running hook's argv / environment */
	char **env;
};

struct job {
	struct job *next;
	char *id;
	const struct kind_def *kind;
	char **argv[1 + RUNNER_MAX_THEN]; /* main, then[0..] */
	char **argv_unlock;               /* the pre-step */
	size_t then_idx;                  /* next follow-up to run */
	char **env;                       /* NULL: no repository configured */
	char *repo_redacted;              /* for log lines */
	struct rm_redactor secrets;       /* scrubbed from everything the job sends */
	int no_restic;
	json_t *started_extra; /* merged into job.started (origin, schedule_id, ...) */
	struct job_hooks hooks;
	int main_ran; /* 1: the main step has run, 2: and its post-hook started */
	int main_ok;  /* restic's main step succeeded */
	long long seq;
	int cancelled;
	/* outcome of the main step */
	int unconfirmed; /* success the next step must confirm (exists_ok) */
	const char *status;
	int exit_code;
	char *error;
	int warnings;
	json_t *stats;
	/* per_group kinds: one main argv and name per group */
	char ***group_argv;
	char **group_names;
	size_t n_groups, group_idx;
	char *check_subset; /* check: read_data_subset, for its stats */
	int lock_retried;   /* the lock flow ran once already */
	json_t *lock_peers; /* {"hostname":"idle"|"busy"} from the server, NULL = none */
	struct lockscan ls;
	void *drv; /* the kind driver's state */
	int64_t started_ms;
};

struct proc {
	struct runner *r;
	const struct step_def *def;
	enum step_role role;
	uv_process_t proc;
	uv_pipe_t out, err;
	int closing; /* close callbacks still pending */
	int spawned;
	int spawn_err;
	int exited;
	int64_t exit_status;
	int term_signal;
	int out_open, err_open;
	struct restic_lines lo, le;
	struct rm_buf collect; /* stdout of OUT_DOCUMENT steps */
	int collect_overflow;
	char *last_fatal;
	char *last_err;
	int already_init;
	int timed_out; /* hook steps: killed by the hook timeout */
	int locked;    /* output said the repository is locked by someone else */
	long errors;   /* count_errors steps: error lines seen */
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
	uv_timer_t kill_timer; /* SIGKILL after grace, or pipe drain after exit */
	uv_timer_t kick_timer; /* starts the next job outside of caller stacks */
	uv_timer_t hook_timer; /* a hook's timeout */
	int kill_mode;         /* 1 = SIGKILL pending, 2 = pipe drain */
	json_t *log_lines;
	uint64_t last_progress;
	int progress_sent;

	uv_timer_t aux_timer;  /* for kind drivers (restore progress) */
	int feat_no_ownership; /* restore --no-ownership (0.17+), probed */
	int feat_verify;       /* restore --verify, probed */
	int feat_restore_json; /* restore prints JSON status (0.16+) */

	int freeing;
	int timers_open;
	struct preview *previews; /* preview.c: retention previews running beside the queue */
	int n_previews;
	char readbuf[65536];
};

/* preview.c: kills the running previews (their answers are dropped); runner_free waits
 * until r->previews is empty. */
struct preview;
void runner_previews_stop(struct runner *r);

/* runner.c: called by proc.c once a step's process and pipes are all closed. */
void runner_step_done(struct runner *r, struct proc *p);
/* runner.c: the restic part of the current job (stale-lock unlock, then main step). */
void runner_start_restic(struct runner *r, struct job *j);
/* runner.c: after the main step (and its post-hook): follow-ups or finish. */
void runner_after_main(struct runner *r, struct job *j);
void runner_job_finish(struct runner *r, const char *status, int exit_code, const char *error);

/* hooks.c */
/* Reads pre_hook, post_hook, hook_shell, hook_timeout_s, group from args. RM_ERR_INVAL
 * with a message on bad values. */
int runner_hooks_parse(struct job_hooks *h, const json_t *args, char *err, size_t errlen);
void runner_hooks_cleanup(struct job_hooks *h);
/* Starts the job's hook step def (pre or post). */
void runner_hook_start(struct runner *r, struct job *j, const struct step_def *def);
/* A hook step ended: decides what comes next (takes p). */
void runner_hook_done(struct runner *r, struct job *j, struct proc *p);
void runner_hook_timer_cb(uv_timer_t *t);

/* proc.c */
/* Starts step def (role) of the current job with argv (borrowed for the call). */
void runner_proc_start(struct runner *r, const struct step_def *def, enum step_role role,
                       char *const *argv);
/* SIGTERM now, SIGKILL after the grace period (hooks: to their whole process group). */
void runner_proc_terminate(struct runner *r);
void runner_proc_free(struct proc *p);
int runner_proc_ok(const struct proc *p);
int runner_proc_exit_code(const struct proc *p);
/* Why the step failed, for job errors (scrubbed by job_finish). Caller frees. */
char *runner_proc_error(const struct proc *p);
void runner_kill_timer_cb(uv_timer_t *t);

/* joblog.c */
void runner_emit(struct runner *r, enum rm_msg_type t, json_t *payload);
json_t *runner_now_str(void);
/* Copy of s[0..len) without the job's secrets. Caller frees. */
char *runner_scrub(const struct job *j, const char *s, size_t len);
/* stream: "stdout" | "stderr" | "event"; text is valid UTF-8 (need not be NUL-ended). */
void runner_log_line(struct runner *r, const char *stream, const char *text, size_t len);
void runner_log_event(struct runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void runner_log_flush(struct runner *r);
void runner_log_timer_cb(uv_timer_t *t);
/* job.progress from a restic status message, at most once per second. */
void runner_emit_progress(struct runner *r, const json_t *status);

/* runner.c: the argv of the current main step (per-group kinds: the current group). */
char *const *runner_main_argv(const struct job *j);

/* locks.c */
/* Starts the lock flow for j (purpose: enum locks_purpose). */
void runner_locks_start(struct runner *r, struct job *j, int purpose);
/* A ROLE_LOCKS step ended (takes p). */
void runner_locks_step_done(struct runner *r, struct job *j, struct proc *p);
/* Judges one lock (from restic_parse_lock) in place: sets "dead" (bool), "why" and
 * "restic_stale" (restic's own unlock would remove it). my_host: this machine's hostname;
 * peers: {"hostname":"idle"|"busy"} or NULL; pid_alive(pid) says whether a local PID runs
 * restic still; now_ms: the current time. Pure apart from pid_alive. */
void runner_lock_judge(json_t *lock, const char *my_host, const json_t *peers,
                       int (*pid_alive)(long long pid), int64_t now_ms);
/* Releases the lock flow's state. */
void runner_locks_cleanup(struct lockscan *ls);

/* restore.c / drill.c: the kind drivers */
extern const struct kind_driver runner_restore_driver, runner_drill_driver;
/* rotate.c: key_add / key_remove (repository password rotation) */
extern const struct kind_driver runner_keyrot_driver;
/* The restic argv for kind (argv[0] = the runner's restic). NULL + message on bad args. */
char **runner_argv(struct runner *r, const char *kind, const json_t *args, char *err,
                   size_t errlen);

/* markers.c */
void runner_marker_write(struct runner *r, const struct job *j, int pid);
void runner_marker_remove(struct runner *r, const struct job *j);
/* Leftover markers = a previous agent died mid-job: kill its restic, schedule unlock. */
void runner_markers_recover(struct runner *r);

#endif
