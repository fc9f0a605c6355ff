#ifndef RM_AGENT_RUNNER_CHILD_H
#define RM_AGENT_RUNNER_CHILD_H
/* One short-lived restic child outside the job queue (snapshot browsing: ls, diff, dump).
 * uv_spawn with an argv array and a clean environment built from the repository
 * credentials; stdout as lines (on_line) or raw bytes (on_data, with pause/resume for
 * back-pressure); the last stderr line, redacted, for the error message. restic runs with
 * --no-lock: these reads never wait for, or block, a backup or prune.
 * Loop thread only. */
#include <stddef.h>
#include <uv.h>

#include "agent/runner/runner.h"

struct rchild;

struct rchild_opts {
	uv_loop_t *loop;
	const char *restic_path;
	const char *state_dir; /* cwd, HOME, cache */
	const struct runner_creds *creds;
	const char *const *args; /* after "restic", NULL-terminated (borrowed for the call) */
	void (*on_line)(void *ud, const char *line, size_t len); /* stdout lines, or NULL */
	void (*on_data)(void *ud, const char *buf, size_t n);    /* raw stdout, or NULL */
	/* once, after exit and both pipes closed; err: a redacted message when exit != 0 */
	void (*on_done)(void *ud, int exit_code, const char *err);
	void *ud;
};

/* RM_ERR_NOTFOUND: no restic; RM_ERR_INVAL: no credentials; RM_ERR_IO: spawn failed.
 * On error no callback is ever called. */
int rchild_start(const struct rchild_opts *o, struct rchild **out);
void rchild_pause(struct rchild *c);
void rchild_resume(struct rchild *c);
/* SIGTERM, SIGKILL 3 s later; on_done still follows. */
void rchild_kill(struct rchild *c);
/* The owner is gone: no more callbacks; the child is killed and frees itself. */
void rchild_detach(struct rchild *c);

#endif
