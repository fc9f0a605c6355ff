/* The pre/post hook steps of backups (see runner_int.h): the user's script run as
 * `<hook_shell> -c <script>` in its own process group, with a clean environment plus
 * RM_JOB_ID, RM_GROUP and, after the backup, RM_JOB_STATUS and RM_SNAPSHOT_ID. Output goes
 * to the job log with stream "hook". The scripts are secrets-adjacent (they may hold
 * tokens): they are never logged, neither in the agent's log nor in the job's. */
#include <stdlib.h>
#include <string.h>

#include "agent/restic/argv.h"
#include "agent/runner/runner_int.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"

#define HOOK_MAX (64 * 1024)
#define HOOK_SHELL_DEFAULT "/bin/sh"
#define HOOK_TIMEOUT_DEFAULT 900
#define HOOK_TIMEOUT_MAX (7 * 24 * 3600)

static char *dup_nonempty(const char *s)
{
	return s && *s ? rm_xstrdup(s) : NULL;
}

int runner_hooks_parse(struct job_hooks *h, const json_t *args, char *err, size_t errlen)
{
	const char *pre = NULL, *post = NULL, *shell = NULL, *group = NULL;
	long long timeout = HOOK_TIMEOUT_DEFAULT;
	int rc = rmj_get_str(args, "pre_hook", 0, HOOK_MAX, &pre, err, errlen);
	if (!rc)
		rc = rmj_get_str(args, "post_hook", 0, HOOK_MAX, &post, err, errlen);
	if (!rc)
		rc = rmj_get_str(args, "hook_shell", 0, 256, &shell, err, errlen);
	if (!rc)
		rc = rmj_get_str(args, "group", 0, 63, &group, err, errlen);
	if (!rc)
		rc = rmj_get_int(args, "hook_timeout_s", 0, 0, HOOK_TIMEOUT_MAX, &timeout, err,
		                 errlen);
	if (rc)
		return rc;
	if (shell && *shell && shell[0] != '/') {
		rmj_seterr(err, errlen, "field 'hook_shell' must be an absolute path");
		return RM_ERR_INVAL;
	}
	h->pre = dup_nonempty(pre);
	h->post = dup_nonempty(post);
	h->shell = rm_xstrdup(shell && *shell ? shell : HOOK_SHELL_DEFAULT);
	h->group = rm_xstrdup(group ? group : "");
	h->timeout_s = timeout > 0 ? (int)timeout : HOOK_TIMEOUT_DEFAULT; /* 0: the default */
	return RM_OK;
}

void runner_hooks_cleanup(struct job_hooks *h)
{
	free(h->pre);
	free(h->post);
	free(h->shell);
	free(h->group);
	/* argv holds the script, env nothing secret; both wiped as the script may be */
	restic_env_free(h->argv);
	restic_env_free(h->env);
	memset(h, 0, sizeof(*h));
}

static void push(char ***v, size_t *n, char *s_take)
{
	*v = rm_xrealloc(*v, (*n + 2) * sizeof(**v));
	(*v)[(*n)++] = s_take;
	(*v)[*n] = NULL;
}

/* PATH, LANG, HOME and TMPDIR like restic's; then what the hook may want to know. */
static char **hook_env(const struct runner *r, const struct job *j, int post)
{
	char **e = NULL;
	size_t n = 0;
	const char *tmp = getenv("TMPDIR");
	push(&e, &n, rm_xstrdup("PATH=" RESTIC_SAFE_PATH));
	push(&e, &n, rm_xstrdup("LANG=C"));
	push(&e, &n, rm_xasprintf("HOME=%s", r->state_dir));
	if (tmp && *tmp)
		push(&e, &n, rm_xasprintf("TMPDIR=%s", tmp));
	push(&e, &n, rm_xasprintf("RM_JOB_ID=%s", j->id));
	push(&e, &n, rm_xasprintf("RM_GROUP=%s", j->hooks.group ? j->hooks.group : ""));
	if (post) {
		int ok = j->main_ok && !j->cancelled;
		push(&e, &n, rm_xasprintf("RM_JOB_STATUS=%s", ok ? "succeeded" : "failed"));
		const char *snap = rmj_str(j->stats, "snapshot_id");
		if (snap && *snap)
			push(&e, &n, rm_xasprintf("RM_SNAPSHOT_ID=%s", snap));
	}
	return e;
}

void runner_hook_start(struct runner *r, struct job *j, const struct step_def *def)
{
	int post = def->hook == HOOK_POST;
	struct job_hooks *h = &j->hooks;
	restic_env_free(h->argv);
	restic_env_free(h->env);
	h->argv = NULL;
	size_t n = 0;
	push(&h->argv, &n, rm_xstrdup(h->shell));
	push(&h->argv, &n, rm_xstrdup("-c"));
	push(&h->argv, &n, rm_xstrdup(post ? h->post : h->pre));
	h->env = hook_env(r, j, post);
	runner_log_event(r, "running %s with %s (timeout %d s)", def->name, h->shell, h->timeout_s);
	runner_proc_start(r, def, ROLE_HOOK, h->argv);
	if (r->p && r->p->spawned)
		uv_timer_start(&r->hook_timer, runner_hook_timer_cb, (uint64_t)h->timeout_s * 1000,
		               0);
}

void runner_hook_timer_cb(uv_timer_t *t)
{
	struct runner *r = t->data;
	if (!r->p || !r->p->def->hook || r->p->exited)
		return;
	r->p->timed_out = 1;
	runner_log_event(r, "%s timed out after %d s; terminating it", r->p->def->name,
	                 r->cur->hooks.timeout_s);
	runner_proc_terminate(r);
}

/* "pre-hook exited 3", "pre-hook timed out after 900 s", ... Caller frees. */
static char *hook_error(const struct proc *p, int timeout_s)
{
	const char *name = p->def->name;
	if (p->spawn_err)
		return rm_xasprintf("cannot start %s: %s", name, uv_strerror(p->spawn_err));
	if (p->timed_out)
		return rm_xasprintf("%s timed out after %d s", name, timeout_s);
	if (p->term_signal)
		return rm_xasprintf("%s killed by signal %d", name, p->term_signal);
	return rm_xasprintf("%s exited %d", name, (int)p->exit_status);
}

void runner_hook_done(struct runner *r, struct job *j, struct proc *p)
{
	int ok = runner_proc_ok(p) && !p->timed_out;
	char *e = ok ? NULL : hook_error(p, j->hooks.timeout_s);
	int post = p->def->hook == HOOK_POST;
	if (ok)
		runner_log_event(r, "%s succeeded", p->def->name);
	else
		runner_log_event(r, "%s", e); /* "pre-hook exited 1" names the hook itself */
	runner_proc_free(p);
	if (!post) {
		if (j->cancelled) {
			runner_job_finish(r, "cancelled", EXIT_CANCELLED, NULL);
			free(e);
		} else if (ok) {
			runner_start_restic(r, j);
			free(e);
		} else {
			/* a failed pre-hook: restic does not run, the job fails, and the post-hook
			 * still runs (RM_JOB_STATUS=failed): it is where users undo what the
			 * pre-hook began (restart a service, drop a DB snapshot) */
			j->status = "failed";
			j->exit_code = -1;
			free(j->error);
			j->error = e;
			j->main_ok = 0;
			j->main_ran = 1;
			runner_after_main(r, j);
		}
		return;
	}
	if (!ok && strcmp(j->status, "cancelled") != 0) {
		/* the snapshot (if any) stays: it is reported, the job is failed */
		char *msg = j->error ? rm_xasprintf("%s; %s", j->error, e) : e;
		if (msg != e)
			free(e);
		free(j->error);
		j->error = msg;
		j->status = "failed";
	} else {
		free(e);
	}
	runner_after_main(r, j);
}
