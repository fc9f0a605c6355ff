/* Job runner: FIFO of restic jobs, one child at a time, output -> protocol payloads.
 * See runner.h for the contract and runner_int.h for the files of the module.
 *
 * A job runs the steps its row in kinds.c names, each one child process:
 *   [pre-hook]    backups with a pre_hook (hooks.c); non-zero: the job fails here
 *   [unlock]      when a previous agent died mid-job or a job was cancelled (restic 0.14
 *                 leaves its lock behind on SIGTERM/SIGKILL)
 *   main          the kind's main step; its exit status decides the job's outcome
 *   [post-hook]   backups with a post_hook, whatever the outcome; failing fails the job
 *   [then...]     after a successful main step (e.g. snapshots -> snapshots.report,
 *                 stats -> stats.report); their failures are logged, not fatal */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/restic/argv.h"
#include "agent/restic/restore.h"
#include "agent/runner/runner_int.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/rmtime.h"

#define JOB_ID_MAX 64

static int job_id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;
	if (n == 0 || n > JOB_ID_MAX)
		return 0;
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
	if (!j)
		return;
	free(j->id);
	for (size_t i = 0; i < sizeof(j->argv) / sizeof(j->argv[0]); i++)
		restic_argv_free(j->argv[i]);
	restic_argv_free(j->argv_unlock);
	restic_env_free(j->env);
	free(j->repo_redacted);
	rm_redactor_cleanup(&j->secrets);
	free(j->error);
	json_decref(j->stats);
	json_decref(j->started_extra);
	runner_hooks_cleanup(&j->hooks);
	for (size_t i = 0; i < j->n_groups; i++) {
		restic_argv_free(j->group_argv[i]);
		free(j->group_names[i]);
	}
	free(j->group_argv);
	free(j->group_names);
	json_decref(j->lock_peers);
	free(j->check_subset);
	runner_locks_cleanup(&j->ls);
	if (j->drv && j->kind->driver)
		j->kind->driver->free(j->drv);
	free(j);
}

char *const *runner_main_argv(const struct job *j)
{
	if (j->kind->per_group)
		return j->group_idx < j->n_groups ? j->group_argv[j->group_idx] : NULL;
	return j->argv[0];
}

/* ------------------------------------------------------------------ job lifecycle */

static void emit_started(struct runner *r, struct job *j)
{
	json_t *p = json_object();
	json_object_set_new(p, "job_id", json_string(j->id));
	json_object_set_new(p, "seq", json_integer(++j->seq));
	json_object_set_new(p, "kind", json_string(j->kind->name));
	json_object_set_new(p, "started_at", runner_now_str());
	if (j->started_extra)
		json_object_update_missing(p, j->started_extra);
	runner_emit(r, RM_MSG_JOB_STARTED, p);
}

static void kick_cb(uv_timer_t *t);

static void kick(struct runner *r)
{
	if (!r->freeing && !r->cur && r->head)
		uv_timer_start(&r->kick_timer, kick_cb, 0, 0);
}

void runner_job_finish(struct runner *r, const char *status, int exit_code, const char *error)
{
	struct job *j = r->cur;
	runner_log_flush(r);
	json_t *p = json_object();
	json_object_set_new(p, "job_id", json_string(j->id));
	json_object_set_new(p, "seq", json_integer(++j->seq));
	json_object_set_new(p, "status", json_string(status));
	json_object_set_new(p, "exit_code", json_integer(exit_code));
	json_object_set_new(p, "finished_at", runner_now_str());
	if (j->stats && strcmp(status, "cancelled") != 0)
		json_object_set(p, "stats", j->stats);
	char *clean = error ? runner_scrub(j, error, strlen(error)) : NULL;
	if (clean && strcmp(status, "failed") == 0)
		json_object_set_new(p, "error", json_string(clean));
	json_object_set_new(p, "warnings", json_boolean(j->warnings));
	RM_INFO("job finished", "job_id", j->id, "kind", j->kind->name, "status", status, "error",
	        clean ? clean : "");
	free(clean);
	runner_emit(r, RM_MSG_JOB_FINISHED, p);
	r->cur = NULL;
	job_free(j);
	kick(r);
}

/* Runs the next follow-up step of a successful main step, or finishes the job. */
static void next_step(struct runner *r, struct job *j)
{
	const struct step_def *d = j->kind->then[j->then_idx];
	if (!d) {
		runner_job_finish(r, j->status, j->exit_code, j->error);
		return;
	}
	runner_proc_start(r, d, ROLE_THEN, j->argv[1 + j->then_idx++]);
}

static void pre_done(struct runner *r, struct job *j, struct proc *p)
{
	if (runner_proc_ok(p)) {
		r->unlock_needed = 0;
		runner_log_event(r, "stale repository locks removed");
	}
	runner_proc_free(p);
	if (!j->cancelled && j->kind->driver) {
		j->kind->driver->start(r, j);
		return;
	}
	if (!j->cancelled) {
		runner_proc_start(r, j->kind->main, ROLE_MAIN, runner_main_argv(j));
		return;
	}
	j->main_ran = 1; /* the pre-hook ran: its post-hook follows, also on a cancel */
	j->status = "cancelled";
	runner_after_main(r, j);
}

/* The main step decides the job's outcome from the exit status and its step row. */
static void main_done(struct runner *r, struct job *j, struct proc *p)
{
	const struct step_def *d = p->def;
	j->main_ran = 1;
	if (j->cancelled) {
		/* restic 0.14 leaves its lock behind when terminated */
		r->unlock_needed = 1;
		runner_proc_free(p);
		j->status = "cancelled";
		j->exit_code = EXIT_CANCELLED;
		runner_after_main(r, j);
		return;
	}
	j->exit_code = runner_proc_exit_code(p);
	if (runner_proc_ok(p)) {
		j->status = "succeeded";
	} else if (!p->spawn_err && !p->term_signal && d->warn_exit &&
	           p->exit_status == d->warn_exit) {
		j->status = "succeeded";
		j->warnings = 1;
	} else if (d->exists_ok && !p->spawn_err && p->already_init) {
		runner_log_event(
		    r, "repository already initialised; checking that the password opens it");
		j->status = "succeeded";
		j->exit_code = 0;
		j->unconfirmed = 1;
	} else {
		j->status = "failed";
		j->error = runner_proc_error(p);
	}
	int ok = strcmp(j->status, "succeeded") == 0;
	if (!ok && !j->lock_retried && !d->unlocks && !p->spawn_err &&
	    (p->locked || (!p->term_signal && p->exit_status == 11))) {
		/* once per job: read the locks, remove the provably dead ones, retry */
		j->lock_retried = 1;
		free(j->error);
		j->error = NULL;
		j->main_ran = 0;
		runner_proc_free(p);
		runner_log_event(r,
		                 "the repository is locked; checking whether its locks are stale");
		runner_locks_start(r, j, LOCKS_RETRY);
		return;
	}
	j->main_ok = ok;
	if (ok && d->unlocks)
		r->unlock_needed = 0;
	if ((ok || d->report_always) && d->report)
		d->report(r, p);
	runner_proc_free(p);
	if (ok && j->kind->per_group && j->group_idx + 1 < j->n_groups) {
		j->group_idx++;
		j->main_ran = 0;
		runner_proc_start(r, j->kind->main, ROLE_MAIN, runner_main_argv(j));
		return;
	}
	runner_after_main(r, j);
}

/* The post-hook (once), then the follow-ups of a success, or the end of the job. */
void runner_after_main(struct runner *r, struct job *j)
{
	if (j->kind->hooks && j->hooks.post && j->main_ran == 1) {
		j->main_ran = 2;
		runner_hook_start(r, j, &runner_post_hook_step);
		return;
	}
	if (j->cancelled || strcmp(j->status, "cancelled") == 0)
		runner_job_finish(r, "cancelled", EXIT_CANCELLED, NULL);
	else if (j->main_ok)
		next_step(r, j); /* restic succeeded (a post-hook may have failed the job) */
	else
		runner_job_finish(r, j->status, j->exit_code, j->error);
}

/* A follow-up's failure is logged and the job keeps its outcome, except when the main
 * step's success waits for confirmation. */
static void then_done(struct runner *r, struct job *j, struct proc *p)
{
	if (runner_proc_ok(p)) {
		if (p->def->report)
			p->def->report(r, p);
	} else if (j->unconfirmed && !j->cancelled) {
		/* "config file already exists" says nothing about our password: an
		 * existing repo we cannot open is a failed init, not a ready one */
		j->status = "failed";
		j->exit_code = p->spawn_err ? -1 : (int)p->exit_status;
		free(j->error);
		j->error = runner_proc_error(p);
		runner_proc_free(p);
		runner_job_finish(r, j->status, j->exit_code, j->error);
		return;
	}
	j->unconfirmed = 0;
	runner_proc_free(p);
	if (j->cancelled)
		runner_job_finish(r, j->status, j->exit_code, j->error);
	else
		next_step(r, j);
}

void runner_step_done(struct runner *r, struct proc *p)
{
	struct job *j = r->cur;
	r->p = NULL;
	uv_timer_stop(&r->kill_timer);
	if (r->freeing) {
		/* marker kept: the next agent start unlocks the repository */
		runner_proc_free(p);
		job_free(r->cur);
		r->cur = NULL;
		return;
	}
	uv_timer_stop(&r->hook_timer);
	if (p->role == ROLE_HOOK) {
		runner_hook_done(r, j, p);
		return;
	}
	if (p->spawned)
		runner_marker_remove(r, j);
	if (p->role != ROLE_MAIN && !runner_proc_ok(p)) {
		char *e = runner_proc_error(p);
		runner_log_event(r, "%s failed (exit %d): %s", p->def->name,
		                 runner_proc_exit_code(p), e);
		free(e);
	}
	switch (p->role) {
	case ROLE_PRE: pre_done(r, j, p); break;
	case ROLE_MAIN: main_done(r, j, p); break;
	case ROLE_THEN: then_done(r, j, p); break;
	case ROLE_LOCKS: runner_locks_step_done(r, j, p); break;
	case ROLE_DRIVER: j->kind->driver->step_done(r, j, p); break;
	case ROLE_HOOK: break; /* handled above */
	}
}

static void job_start(struct runner *r, struct job *j)
{
	r->cur = j;
	j->started_ms = rm_now_ms();
	emit_started(r, j);
	if (j->no_restic) {
		runner_job_finish(r, "failed", EXIT_NOT_FOUND, "restic not found");
		return;
	}
	if (!j->env) {
		runner_job_finish(r, "failed", -1, "no repository configured");
		return;
	}
	if (j->kind->locks) {
		runner_locks_start(r, j, LOCKS_JOB);
		return;
	}
	if (j->kind->per_group && j->n_groups == 0) {
		runner_log_event(r, "no source group has a retention policy: nothing to forget");
		j->stats = json_pack("{s:[],s:i,s:i}", "groups", "kept", 0, "removed", 0);
		runner_job_finish(r, "succeeded", 0, NULL);
		return;
	}
	if (j->kind->hooks && j->hooks.pre)
		runner_hook_start(r, j, &runner_pre_hook_step);
	else
		runner_start_restic(r, j);
}

void runner_start_restic(struct runner *r, struct job *j)
{
	if (r->unlock_needed && !j->kind->main->unlocks) {
		runner_log_event(
		    r, "a previous run was interrupted; removing stale repository locks first");
		runner_proc_start(r, &runner_unlock_step, ROLE_PRE, j->argv_unlock);
	} else if (j->kind->driver) {
		j->kind->driver->start(r, j);
	} else {
		runner_proc_start(r, j->kind->main, ROLE_MAIN, runner_main_argv(j));
	}
}

static void kick_cb(uv_timer_t *t)
{
	struct runner *r = t->data;
	if (r->freeing || r->cur || !r->head)
		return;
	struct job *j = r->head;
	r->head = j->next;
	if (!r->head)
		r->tail = NULL;
	j->next = NULL;
	job_start(r, j);
}

/* ------------------------------------------------------------------ public API */

/* mkdir 0700 that accepts an existing path; logs msg and returns -1 on failure. */
static int make_dir(const char *path, const char *msg)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	RM_ERROR(msg, "path", path, "error", strerror(errno));
	return -1;
}

int runner_new(const struct runner_opts *opts, struct runner **out)
{
	if (!opts || !opts->loop || !opts->state_dir || !*opts->state_dir || !opts->emit)
		return RM_ERR_INVAL;
	struct runner *r = rm_xcalloc(1, sizeof(*r));
	r->loop = opts->loop;
	r->restic_path =
	    rm_xstrdup(opts->restic_path && *opts->restic_path ? opts->restic_path : NULL);
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
	runner_markers_recover(r);
	uv_timer_init(r->loop, &r->log_timer);
	uv_timer_init(r->loop, &r->kill_timer);
	uv_timer_init(r->loop, &r->kick_timer);
	uv_timer_init(r->loop, &r->hook_timer);
	uv_timer_init(r->loop, &r->aux_timer);
	r->log_timer.data = r->kill_timer.data = r->kick_timer.data = r->hook_timer.data = r;
	r->aux_timer.data = r;
	r->timers_open = 5;
	*out = r;
	return RM_OK;
}

static void timer_close_cb(uv_handle_t *h)
{
	struct runner *r = h->data;
	if (--r->timers_open > 0)
		return;
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
	if (!r)
		return;
	r->freeing = 1;
	while (r->head) {
		struct job *j = r->head;
		r->head = j->next;
		job_free(j);
	}
	r->tail = NULL;
	uv_timer_stop(&r->log_timer);
	uv_timer_stop(&r->kick_timer);
	runner_proc_terminate(r);
	runner_previews_stop(r);
	/* poll until the children are gone, then close the timers */
	uv_timer_start(&r->kick_timer, runner_destroy_when_idle, 0, 20);
}

static void runner_destroy_when_idle(uv_timer_t *t)
{
	struct runner *r = t->data;
	if (r->p || r->previews)
		return;
	job_free(r->cur);
	r->cur = NULL;
	uv_timer_stop(&r->kick_timer);
	uv_timer_stop(&r->kill_timer);
	uv_timer_stop(&r->hook_timer);
	uv_timer_stop(&r->aux_timer);
	uv_close((uv_handle_t *)&r->hook_timer, timer_close_cb);
	uv_close((uv_handle_t *)&r->aux_timer, timer_close_cb);
	uv_close((uv_handle_t *)&r->log_timer, timer_close_cb);
	uv_close((uv_handle_t *)&r->kill_timer, timer_close_cb);
	uv_close((uv_handle_t *)&r->kick_timer, timer_close_cb);
}

static int job_known(const struct runner *r, const char *id)
{
	if (r->cur && strcmp(r->cur->id, id) == 0)
		return 1;
	for (const struct job *j = r->head; j; j = j->next)
		if (strcmp(j->id, id) == 0)
			return 1;
	return 0;
}

#define GROUPS_MAX 100

/* per_group kinds: one argv per entry of args.groups ({"group","retention"}). */
static int job_build_group_argv(struct runner *r, struct job *j, const json_t *args, char *err,
                                size_t errlen)
{
	const json_t *groups = json_object_get(args, "groups");
	size_t n = json_array_size(groups);
	if ((groups && !json_is_array(groups)) || n > GROUPS_MAX) {
		rm_strlcpy(err, "'groups' must be an array of at most 100 groups", errlen);
		return RM_ERR_INVAL;
	}
	j->group_argv = rm_xcalloc(n + 1, sizeof *j->group_argv);
	j->group_names = rm_xcalloc(n + 1, sizeof *j->group_names);
	for (size_t i = 0; i < n; i++) {
		json_t *g = json_deep_copy(json_array_get(groups, i));
		if (json_is_object(g) && json_is_true(json_object_get(args, "dry_run")))
			json_object_set_new(g, "dry_run", json_true());
		int rc = json_is_object(g)
		             ? restic_argv_build(r->restic_path ? r->restic_path : "restic",
		                                 j->kind->main->name, g, r->hostname,
		                                 &j->group_argv[i], err, errlen)
		             : RM_ERR_INVAL;
		if (!rc)
			j->group_names[i] = rm_xstrdup(rmj_str(g, "group"));
		json_decref(g);
		if (rc)
			return rc;
		j->n_groups = i + 1;
	}
	return RM_OK;
}

/* Every restic argv of the job, built up front so that a step can never lack one. */
static int job_build_argv(struct runner *r, struct job *j, const json_t *args, char *err,
                          size_t errlen)
{
	const char *rp = r->restic_path ? r->restic_path : "restic";
	int rc = j->kind->driver      ? j->kind->driver->prepare(r, j, args, err, errlen)
	         : j->kind->per_group ? job_build_group_argv(r, j, args, err, errlen)
	                              : restic_argv_build(rp, j->kind->main->name, args,
	                                                  r->hostname, &j->argv[0], err, errlen);
	for (size_t i = 0; !rc && j->kind->then[i]; i++)
		rc = restic_argv_build(rp, j->kind->then[i]->name, NULL, NULL, &j->argv[1 + i], err,
		                       errlen);
	if (!rc)
		rc = restic_argv_build(rp, runner_unlock_step.name, NULL, NULL, &j->argv_unlock,
		                       err, errlen);
	return rc;
}

char **runner_argv(struct runner *r, const char *kind, const json_t *args, char *err, size_t errlen)
{
	char **argv = NULL;
	const char *rp = r->restic_path ? r->restic_path : "restic";
	if (restic_argv_build(rp, kind, args, r->hostname, &argv, err, errlen))
		return NULL;
	return argv;
}

void runner_set_features(struct runner *r, const char *version, const char *restore_help)
{
	if (!r)
		return;
	int maj = 0, min = 0;
	if (version && sscanf(version, "%d.%d", &maj, &min) == 2)
		r->feat_restore_json = maj > 0 || min >= 16;
	size_t n = restore_help ? strlen(restore_help) : 0;
	r->feat_no_ownership = restic_help_has_flag(restore_help, n, "--no-ownership");
	r->feat_verify = restic_help_has_flag(restore_help, n, "--verify");
}

int runner_submit(struct runner *r, const char *job_id, const char *kind, const json_t *args,
                  const struct runner_creds *creds)
{
	return runner_submit_ex(r, job_id, kind, args, creds, NULL);
}

int runner_submit_ex(struct runner *r, const char *job_id, const char *kind, const json_t *args,
                     const struct runner_creds *creds, const json_t *started_extra)
{
	char err[256] = "";
	if (!r || r->freeing || !job_id_valid(job_id))
		return RM_ERR_INVAL;
	const struct kind_def *k = runner_kind_find(kind);
	if (!k)
		return RM_ERR_INVAL;
	if (args && !json_is_object(args))
		return RM_ERR_INVAL;
	if (job_known(r, job_id))
		return RM_ERR_CONFLICT;

	struct job *j = rm_xcalloc(1, sizeof(*j));
	j->id = rm_xstrdup(job_id);
	j->kind = k;
	int rc = job_build_argv(r, j, args, err, sizeof(err));
	if (!rc && k->hooks)
		rc = runner_hooks_parse(&j->hooks, args, err, sizeof(err));
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
	if (json_is_object(started_extra))
		j->started_extra = json_deep_copy(started_extra);
	if (rmj_str(args, "read_data_subset"))
		j->check_subset = rm_xstrdup(rmj_str(args, "read_data_subset"));
	if (json_is_object(json_object_get(args, "lock_peers")))
		j->lock_peers = json_deep_copy(json_object_get(args, "lock_peers"));
	j->no_restic = r->restic_path == NULL;
	if (r->tail)
		r->tail->next = j;
	else
		r->head = j;
	r->tail = j;
	kick(r);
	return j->no_restic ? RM_ERR_NOTFOUND : RM_OK;
}

int runner_cancel(struct runner *r, const char *job_id)
{
	if (!r || !job_id)
		return RM_ERR_INVAL;
	if (r->cur && strcmp(r->cur->id, job_id) == 0) {
		struct job *j = r->cur;
		if (j->cancelled)
			return RM_OK;
		j->cancelled = 1;
		runner_log_event(r, "cancel requested: sending SIGTERM to restic");
		runner_proc_terminate(r);
		return RM_OK;
	}
	struct job **pp = &r->head, *prev = NULL;
	for (; *pp; prev = *pp, pp = &(*pp)->next) {
		if (strcmp((*pp)->id, job_id) != 0)
			continue;
		struct job *j = *pp;
		*pp = j->next;
		if (r->tail == j)
			r->tail = prev;
		j->next = NULL;
		/* report it as cancelled at once: started + finished */
		emit_started(r, j);
		json_t *p = json_object();
		json_object_set_new(p, "job_id", json_string(j->id));
		json_object_set_new(p, "seq", json_integer(++j->seq));
		json_object_set_new(p, "status", json_string("cancelled"));
		json_object_set_new(p, "exit_code", json_integer(EXIT_CANCELLED));
		json_object_set_new(p, "finished_at", runner_now_str());
		json_object_set_new(p, "warnings", json_false());
		runner_emit(r, RM_MSG_JOB_FINISHED, p);
		job_free(j);
		return RM_OK;
	}
	return RM_ERR_NOTFOUND;
}

void runner_active_ids(const struct runner *r, json_t *arr)
{
	if (!r || !arr)
		return;
	if (r->cur)
		json_array_append_new(arr, json_string(r->cur->id));
	for (const struct job *j = r->head; j; j = j->next)
		json_array_append_new(arr, json_string(j->id));
}

size_t runner_active_count(const struct runner *r)
{
	size_t n = 0;
	if (!r)
		return 0;
	if (r->cur)
		n++;
	for (const struct job *j = r->head; j; j = j->next)
		n++;
	return n;
}
