/* The drill kind (a kind driver, see runner_int.h): proves that the repository restores.
 *
 *   restic snapshots --json          -> the latest snapshot of each group (same tags, or
 *                                        same paths when untagged)
 *   per snapshot:
 *     restic ls --json SNAP          -> a uniform random sample (reservoir) of its files,
 *                                        at most sample_files and max_bytes in all
 *     restic restore SNAP --target <state>/drill/<job>/<n> --include F... [--verify]
 *     sizes on disk vs the snapshot's, then the scratch copy is deleted
 *
 * Includes are escaped (restic_include_escape): a file named "a[1].txt" is that file.
 * The job fails when restic fails or a sampled file is missing or has the wrong size, and
 * when nothing could be checked (no snapshot, no file): a drill that proves nothing must
 * not read as "restorable". */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/restic/argv.h"
#include "agent/restic/parse.h"
#include "agent/restic/restore.h"
#include "agent/runner/runner_int.h"
#include "agent/runner/walk.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"

#define DEFAULT_FILES 20
#define DEFAULT_MAX_BYTES (200LL * 1024 * 1024)
#define MAX_SNAPSHOTS 10000

struct drill {
	long long want_files, max_bytes;
	json_t *snaps; /* [{id, group}] */
	size_t idx;
	json_t *sample; /* [{path, size}] reservoir of the current snapshot */
	long long seen;
	char *scratch;
	long long files, bytes, mismatches;
	json_t *per; /* per snapshot results */
	char *error; /* first failure */
};

static void drill_free(void *p)
{
	struct drill *d = p;
	if (d->scratch)
		walk_rm_rf(d->scratch);
	json_decref(d->snaps);
	json_decref(d->sample);
	json_decref(d->per);
	free(d->scratch);
	free(d->error);
	free(d);
}

static int drill_prepare(struct runner *r, struct job *j, const json_t *args, char *err,
                         size_t errlen)
{
	long long files = 0, bytes = 0;
	int rc = rmj_get_int(args, "sample_files", 0, 0, 1000, &files, err, errlen);
	if (!rc)
		rc = rmj_get_int(args, "max_bytes", 0, 0, 64LL << 30, &bytes, err, errlen);
	if (rc)
		return rc;
	struct drill *d = rm_xcalloc(1, sizeof(*d));
	d->want_files = files ? files : DEFAULT_FILES;
	d->max_bytes = bytes ? bytes : DEFAULT_MAX_BYTES;
	d->per = json_array();
	d->scratch = rm_xasprintf("%s/drill/%s", r->state_dir, j->id);
	j->drv = d;
	return RM_OK;
}

static void on_ls_line(struct runner *r, struct proc *p, const char *line, size_t len);
static void ignore_json(struct runner *r, const json_t *o)
{
	(void)r, (void)o;
}

static const struct step_def step_snapshots = { .name = "snapshots", .out = OUT_DOCUMENT };
static const struct step_def step_ls = { .name = "ls", .out = OUT_LINES, .line = on_ls_line };
static const struct step_def step_restore = {
	.name = "restore",
	.out = OUT_PROGRESS,
	.status = ignore_json,
	.summary = ignore_json,
};

static void start_step(struct runner *r, const struct step_def *def, json_t *args_take)
{
	char err[256] = "";
	char **argv = runner_argv(r, def->name, args_take, err, sizeof err);
	json_decref(args_take);
	if (!argv) {
		runner_job_finish(r, "failed", -1, err);
		return;
	}
	runner_proc_start(r, def, ROLE_DRIVER, argv); /* argv is copied by uv_spawn */
	restic_argv_free(argv);
}

static void drill_start(struct runner *r, struct job *j)
{
	(void)j;
	start_step(r, &step_snapshots, NULL);
}

/* Reservoir sampling over the file nodes that fit the byte budget on their own. */
static void on_ls_line(struct runner *r, struct proc *p, const char *line, size_t len)
{
	struct drill *d = r->cur->drv;
	struct restic_node n;
	json_t *o = NULL;
	(void)p;
	if (!restic_ls_node(line, len, &o, &n))
		return;
	if (strcmp(n.type, "file") == 0 && n.size <= d->max_bytes &&
	    restic_abs_path_valid(n.path)) {
		json_t *e = json_pack("{s:s,s:I}", "path", n.path, "size", (json_int_t)n.size);
		d->seen++;
		if ((long long)json_array_size(d->sample) < d->want_files) {
			json_array_append_new(d->sample, e);
		} else {
			uint32_t k = randombytes_uniform(
			    (uint32_t)(d->seen > 0xffffffffLL ? 0xffffffffLL : d->seen));
			if ((long long)k < d->want_files)
				json_array_set_new(d->sample, k, e);
			else
				json_decref(e);
		}
	}
	json_decref(o);
}

static void set_error(struct drill *d, char *take)
{
	if (!d->error)
		d->error = take;
	else
		free(take);
}

static void drill_finish(struct runner *r, struct job *j)
{
	struct drill *d = j->drv;
	int ok = !d->error && d->mismatches == 0 && d->files > 0;
	if (!d->error && d->files == 0)
		d->error = rm_xstrdup("nothing to check: no file in the latest snapshots");
	if (!d->error && d->mismatches)
		d->error = rm_xasprintf("%lld of %lld sampled files did not restore intact",
		                        d->mismatches, d->files);
	json_t *last = json_array_get(d->per, json_array_size(d->per) - 1);
	json_decref(j->stats);
	j->stats = json_pack("{s:b,s:I,s:I,s:I,s:O?,s:O}", "ok", ok, "files_checked",
	                     (json_int_t)d->files, "bytes_checked", (json_int_t)d->bytes,
	                     "mismatches", (json_int_t)d->mismatches, "snapshot_id",
	                     json_object_get(last, "snapshot_id"), "snapshots", d->per);
	runner_log_event(r, "drill %s: %lld files, %lld bytes checked, %lld mismatches",
	                 ok ? "passed" : "FAILED", d->files, d->bytes, d->mismatches);
	runner_job_finish(r, ok ? "succeeded" : "failed", ok ? 0 : 1, ok ? NULL : d->error);
}

static void next_snapshot(struct runner *r, struct job *j)
{
	struct drill *d = j->drv;
	json_t *s = json_array_get(d->snaps, d->idx);
	if (!s) {
		drill_finish(r, j);
		return;
	}
	json_decref(d->sample);
	d->sample = json_array();
	d->seen = 0;
	start_step(r, &step_ls, json_pack("{s:O}", "snapshot_id", json_object_get(s, "id")));
}

/* The latest snapshot per group: restic lists oldest first. */
static int pick_snapshots(struct drill *d, struct proc *p)
{
	json_t *arr = NULL;
	if (p->collect_overflow ||
	    restic_parse_snapshots(p->collect.data, p->collect.len, MAX_SNAPSHOTS, &arr))
		return -1;
	json_t *by = json_object();
	size_t i;
	json_t *s;
	json_array_foreach (arr, i, s) {
		json_t *tags = json_object_get(s, "tags");
		json_t *key_src = json_array_size(tags) ? tags : json_object_get(s, "paths");
		char *key = rmj_dumps(key_src ? key_src : json_null());
		json_object_set_new(
		    by, key, json_pack("{s:O,s:s}", "id", json_object_get(s, "id"), "group", key));
		free(key);
	}
	d->snaps = json_array();
	const char *k;
	json_object_foreach (by, k, s)
		json_array_append(d->snaps, s);
	json_decref(by);
	json_decref(arr);
	return 0;
}

static void restore_sample(struct runner *r, struct job *j)
{
	struct drill *d = j->drv;
	json_t *inc = json_array(), *keep = json_array();
	long long budget = 0;
	size_t i;
	json_t *e;
	json_array_foreach (d->sample, i, e) {
		long long sz = rmj_int(e, "size", 0);
		if (budget + sz > d->max_bytes)
			continue;
		budget += sz;
		json_array_append(inc, json_object_get(e, "path"));
		json_array_append(keep, e);
	}
	json_decref(d->sample);
	d->sample = keep;
	json_t *s = json_array_get(d->snaps, d->idx);
	char *dir = rm_xasprintf("%s/%zu", d->scratch, d->idx);
	walk_rm_rf(dir);
	if (walk_mkdirs(dir, 0700))
		runner_log_event(r, "cannot create %s: %s", dir, strerror(errno));
	runner_log_event(r, "drill: restoring %zu sampled files (%lld bytes) of %s",
	                 json_array_size(inc), budget, rmj_str(s, "id"));
	start_step(r, &step_restore,
	           json_pack("{s:O,s:s,s:o,s:b,s:b}", "snapshot_id", json_object_get(s, "id"),
	                     "target", dir, "includes", inc, "verify", r->feat_verify,
	                     "no_ownership", r->feat_no_ownership));
	free(dir);
}

/* Sizes on disk against the snapshot's; then the scratch copy goes. */
static void check_sample(struct runner *r, struct job *j, int restic_ok)
{
	struct drill *d = j->drv;
	json_t *s = json_array_get(d->snaps, d->idx);
	char *dir = rm_xasprintf("%s/%zu", d->scratch, d->idx);
	long long files = 0, bytes = 0, bad = 0;
	size_t i;
	json_t *e;
	json_array_foreach (d->sample, i, e) {
		char *f = walk_join(dir, rmj_str(e, "path"));
		struct stat st;
		long long want = rmj_int(e, "size", 0);
		files++;
		bytes += want;
		if (lstat(f, &st) != 0 || !S_ISREG(st.st_mode) || (long long)st.st_size != want) {
			bad++;
			runner_log_event(r, "drill: %s did not restore intact", rmj_str(e, "path"));
		}
		free(f);
	}
	walk_rm_rf(dir);
	free(dir);
	d->files += files;
	d->bytes += bytes;
	d->mismatches += bad;
	json_array_append_new(d->per, json_pack("{s:O,s:O,s:b,s:I,s:I,s:I}", "snapshot_id",
	                                        json_object_get(s, "id"), "group",
	                                        json_object_get(s, "group"), "restic_ok", restic_ok,
	                                        "files_checked", (json_int_t)files, "bytes_checked",
	                                        (json_int_t)bytes, "mismatches", (json_int_t)bad));
}

static void drill_step_done(struct runner *r, struct job *j, struct proc *p)
{
	struct drill *d = j->drv;
	const struct step_def *def = p->def;
	int ok = runner_proc_ok(p);
	if (j->cancelled) {
		r->unlock_needed = 1;
		runner_proc_free(p);
		walk_rm_rf(d->scratch);
		runner_job_finish(r, "cancelled", EXIT_CANCELLED, NULL);
		return;
	}
	if (!ok)
		set_error(d, runner_proc_error(p));
	if (def == &step_snapshots) {
		if (ok && pick_snapshots(d, p))
			set_error(d, rm_xstrdup("cannot parse the output of restic snapshots"));
		runner_proc_free(p);
		if (d->error) {
			drill_finish(r, j);
			return;
		}
		next_snapshot(r, j);
		return;
	}
	runner_proc_free(p);
	if (def == &step_ls && ok && json_array_size(d->sample)) {
		restore_sample(r, j);
		return;
	}
	if (def == &step_restore)
		check_sample(r, j, ok);
	d->idx++;
	next_snapshot(r, j);
}

const struct kind_driver runner_drill_driver = {
	.prepare = drill_prepare,
	.start = drill_start,
	.step_done = drill_step_done,
	.free = drill_free,
};
