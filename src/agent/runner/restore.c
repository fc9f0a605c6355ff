/* The restore kind (a kind driver, see runner_int.h):
 *
 *   restic restore --json SNAP --target T --include P... [--no-ownership]
 *   then, on the thread pool: path remapping (moves out of a staging directory) and, on
 *   restic < 0.16 (no JSON progress for restores), the count of what was restored.
 *
 * Progress: restic 0.16+ prints JSON status lines (files/bytes restored, totals); older
 * ones print nothing useful, so every second the files under the restored paths whose
 * ctime is not older than the job's start are counted on the thread pool (restic writes
 * every file it restores: a fresh ctime; the newest is the "current file").
 *
 * Path remapping (cross-host restores, "path_map":[{"from","to"}]): restic cannot rename
 * while restoring, so the snapshot is restored into <target>/.rm-stage-<job-id> (same file
 * system as the destination, so moves are renames) and each included path is then moved to
 * its mapped place under the target, merging into existing directories. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/restic/argv.h"
#include "agent/restic/restore.h"
#include "agent/runner/runner_int.h"
#include "agent/runner/walk.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"

#define COUNT_EVERY_MS 1000
#define MAX_MAP 100

struct rst {
	char *target;  /* final destination root ("/" = in place) */
	char *restore; /* what restic writes to: target or the staging dir */
	json_t *includes;
	json_t *map; /* [{from,to}] or NULL */
	int in_place;
	int json_seen;
	struct walk *w;   /* running on the thread pool */
	uint64_t w_start; /* uv_now when it started */
	uint64_t next_ms; /* no count before: a walk costs at most ~20% of the time */
};

static void rst_free(void *p)
{
	struct rst *s = p;
	if (s->w)
		walk_abandon(s->w);
	free(s->target);
	free(s->restore);
	json_decref(s->includes);
	json_decref(s->map);
	free(s);
}

/* The restored roots, as they are after the moves: target + (mapped) include. */
static char **final_roots(const struct rst *s, size_t *n)
{
	size_t cnt = json_array_size(s->includes);
	char **v = rm_xcalloc(cnt + 2, sizeof(*v));
	if (cnt == 0) {
		v[0] = rm_xstrdup(s->target);
		*n = 1;
		return v;
	}
	size_t i;
	json_t *it;
	json_array_foreach (s->includes, i, it) {
		char *mapped = walk_map_path(s->map, json_string_value(it));
		v[i] = walk_join(s->target, mapped);
		free(mapped);
	}
	*n = cnt;
	return v;
}

static int check_map(const json_t *map, char *err, size_t errlen)
{
	if (!map || json_is_null(map))
		return RM_OK;
	if (!json_is_array(map) || json_array_size(map) > MAX_MAP) {
		rmj_seterr(err, errlen, "path_map must be an array of at most %d entries", MAX_MAP);
		return RM_ERR_INVAL;
	}
	size_t i;
	json_t *m;
	json_array_foreach (map, i, m) {
		if (!restic_abs_path_valid(rmj_str(m, "from")) ||
		    !restic_abs_path_valid(rmj_str(m, "to"))) {
			rmj_seterr(err, errlen, "path_map entries need absolute from and to");
			return RM_ERR_INVAL;
		}
	}
	return RM_OK;
}

static int restore_prepare(struct runner *r, struct job *j, const json_t *args, char *err,
                           size_t errlen)
{
	const char *target = rmj_str(args, "target"), *mode = rmj_str(args, "mode");
	const json_t *map = json_object_get(args, "path_map");
	int rc = check_map(map, err, errlen);
	if (rc)
		return rc;
	struct rst *s = rm_xcalloc(1, sizeof(*s));
	j->drv = s;
	s->in_place = mode && strcmp(mode, "in_place") == 0;
	if (target && *target) {
		s->target = rm_xstrdup(target);
	} else {
		/* the default: a new directory in the agent's home */
		const char *home = getenv("HOME");
		s->target = rm_xasprintf("%s/rm-restore/%s",
		                         home && *home == '/' ? home : r->state_dir, j->id);
	}
	if (json_array_size(map))
		s->map = json_deep_copy(map);
	if (s->map) { /* <target>/.rm-stage-<id> */
		char *leaf = rm_xasprintf("/.rm-stage-%s", j->id);
		s->restore = walk_join(s->target, leaf);
		free(leaf);
	} else {
		s->restore = rm_xstrdup(s->target);
	}
	const json_t *inc = json_object_get(args, "includes");
	s->includes = json_is_array(inc) ? json_deep_copy(inc) : json_array();
	json_t *a =
	    json_pack("{s:O?,s:s,s:O,s:b}", "snapshot_id", json_object_get(args, "snapshot_id"),
	              "target", s->restore, "includes", s->includes, "no_ownership",
	              !s->in_place && r->feat_no_ownership);
	j->argv[0] = runner_argv(r, "restore", a, err, errlen);
	json_decref(a);
	return j->argv[0] ? RM_OK : RM_ERR_INVAL;
}

/* ------------------------------------------------------------------ progress */

static void emit_progress(struct runner *r, json_t *pr, int force)
{
	uint64_t now = uv_now(r->loop);
	if (!force && r->progress_sent && now - r->last_progress < COUNT_EVERY_MS) {
		json_decref(pr);
		return;
	}
	const char *cf = rmj_str(pr, "current_file");
	if (cf) {
		char *clean = runner_scrub(r->cur, cf, strlen(cf));
		json_object_set_new(pr, "current_file", json_string(clean));
		free(clean);
	}
	json_object_set_new(pr, "job_id", json_string(r->cur->id));
	r->progress_sent = 1;
	r->last_progress = now;
	runner_emit(r, RM_MSG_JOB_PROGRESS, pr);
}

static void on_status(struct runner *r, const json_t *st)
{
	struct rst *s = r->cur->drv;
	json_t *pr = NULL;
	s->json_seen = 1;
	if (restic_restore_status(st, &pr) == RM_OK)
		emit_progress(r, pr, 0);
}

static void on_summary(struct runner *r, const json_t *sm)
{
	struct rst *s = r->cur->drv;
	json_t *st = NULL;
	s->json_seen = 1;
	if (restic_restore_summary(sm, &st) == RM_OK) {
		json_decref(r->cur->stats);
		r->cur->stats = st;
	}
}

static const struct step_def step_restore = {
	.name = "restore",
	.out = OUT_PROGRESS,
	.status = on_status,
	.summary = on_summary,
};

static void count_done(struct walk *w, void *ud);

static void count_tick(uv_timer_t *t)
{
	struct runner *r = t->data;
	struct job *j = r->cur;
	struct rst *s = j ? j->drv : NULL;
	if (!s || s->json_seen || s->w || uv_now(r->loop) < s->next_ms)
		return;
	s->w_start = uv_now(r->loop);
	struct walk_req q = { .since_s = j->started_ms / 1000 - 1 };
	q.roots = final_roots(s, &q.nroots);
	if (s->map) { /* still in the staging dir */
		for (size_t i = 0; i < q.nroots; i++)
			free(q.roots[i]);
		q.roots[0] = rm_xstrdup(s->restore);
		q.nroots = 1;
	}
	s->w = walk_start(r->loop, &q, count_done, r);
}

static void count_done(struct walk *w, void *ud)
{
	struct runner *r = ud;
	struct rst *s = r->cur ? r->cur->drv : NULL;
	if (!s || s->w != w)
		return;
	s->w = NULL;
	/* a large tree takes a while to count: back off so counting stays a fraction of
	 * the restore's I/O */
	uint64_t took = uv_now(r->loop) - s->w_start;
	s->next_ms = uv_now(r->loop) + (took * 4 > COUNT_EVERY_MS ? took * 4 : 0);
	json_t *pr = json_pack("{s:I,s:I}", "files_done", (json_int_t)w->files, "bytes_done",
	                       (json_int_t)w->written);
	if (w->current)
		json_object_set_new(pr, "current_file", json_string(w->current));
	if (!s->json_seen && r->p)
		emit_progress(r, pr, 1);
	else
		json_decref(pr);
}

/* A "new directory" restore must not write over anything: its target is absent or an empty
 * directory (restoring over existing files is the in-place restore, which needs admin). */
static int target_is_fresh(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return errno == ENOENT;
	struct dirent *e;
	int empty = 1;
	while (empty && (e = readdir(d)))
		empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
	closedir(d);
	return empty;
}

static void restore_start(struct runner *r, struct job *j)
{
	struct rst *s = j->drv;
	if (!s->in_place && !target_is_fresh(s->target)) {
		char *e = rm_xasprintf("target %s exists and is not an empty directory: a "
		                       "new-directory restore never writes over files",
		                       s->target);
		runner_log_event(r, "%s", e);
		runner_job_finish(r, "failed", -1, e);
		free(e);
		return;
	}
	if (!s->in_place && walk_mkdirs(s->target, 0700) != 0)
		runner_log_event(r, "cannot create %s: %s", s->target, strerror(errno));
	runner_log_event(r, "restoring to %s%s", s->target,
	                 s->map ? " (through a staging directory, paths remapped)" : "");
	if (geteuid() != 0)
		runner_log_event(r, "warning: the agent does not run as root: ownership is not "
		                    "restored and paths it cannot write are skipped");
	runner_proc_start(r, &step_restore, ROLE_DRIVER, j->argv[0]);
	if (!r->feat_restore_json)
		uv_timer_start(&r->aux_timer, count_tick, COUNT_EVERY_MS, COUNT_EVERY_MS);
}

/* ------------------------------------------------------------------ the end */

static void final_done(struct walk *w, void *ud)
{
	struct runner *r = ud;
	struct job *j = r->cur;
	struct rst *s = j->drv;
	s->w = NULL;
	if (w->error) {
		runner_log_event(r, "%s", w->error);
		runner_job_finish(r, "failed", 1, w->error);
		return;
	}
	json_t *st = j->stats ? j->stats : json_object();
	j->stats = st;
	if (!s->json_seen || !json_object_get(st, "files_restored")) {
		json_object_set_new(st, "files_restored", json_integer(w->files));
		json_object_set_new(st, "bytes_restored", json_integer(w->bytes));
	}
	json_object_set_new(st, "target", json_string(s->target));
	runner_log_event(r, "restored %lld files, %lld bytes to %s",
	                 (long long)rmj_int(st, "files_restored", 0),
	                 (long long)rmj_int(st, "bytes_restored", 0), s->target);
	json_t *pr = json_pack("{s:f,s:O,s:O}", "percent_done", 1.0, "files_done",
	                       json_object_get(st, "files_restored"), "bytes_done",
	                       json_object_get(st, "bytes_restored"));
	emit_progress(r, pr, 1);
	runner_job_finish(r, "succeeded", 0, NULL);
}

static void restore_step_done(struct runner *r, struct job *j, struct proc *p)
{
	struct rst *s = j->drv;
	uv_timer_stop(&r->aux_timer);
	if (s->w) { /* a count in flight: its result is no longer wanted */
		walk_abandon(s->w);
		s->w = NULL;
	}
	if (j->cancelled) {
		r->unlock_needed = 1; /* restic 0.14 leaves its lock behind */
		runner_proc_free(p);
		runner_job_finish(r, "cancelled", EXIT_CANCELLED, NULL);
		return;
	}
	if (!runner_proc_ok(p)) {
		char *e = runner_proc_error(p);
		int code = runner_proc_exit_code(p);
		runner_proc_free(p);
		runner_job_finish(r, "failed", code, e);
		free(e);
		return;
	}
	runner_proc_free(p);
	struct walk_req q = { .since_s = j->started_ms / 1000 - 1 };
	q.roots = final_roots(s, &q.nroots);
	if (s->map) {
		q.stage = s->restore;
		q.target = s->target;
		q.includes = s->includes;
		q.map = s->map;
	}
	s->w = walk_start(r->loop, &q, final_done, r);
	if (!s->w)
		runner_job_finish(r, "failed", -1, "cannot queue the post-restore work");
}

const struct kind_driver runner_restore_driver = {
	.prepare = restore_prepare,
	.start = restore_start,
	.step_done = restore_step_done,
	.free = rst_free,
};
