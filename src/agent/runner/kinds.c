/* The job kinds: a table of rows, each naming its restic steps (argv kind, how output is
 * read, what a success reports) and the steps that follow a successful main step.
 * Adding a kind = a row here + its argv row in restic/argv.c (+ a parser/report when it
 * produces one). The lifecycle in runner.c reads only this table. */
#include <stddef.h>
#include <string.h>

#include "agent/restic/parse.h"
#include "agent/restic/parse_care.h"
#include "agent/runner/runner_int.h"
#include "common/err.h"
#include "common/json.h"

#define SNAPSHOTS_MAX 10000

static void report_snapshots(struct runner *r, struct proc *p)
{
	json_t *arr = NULL;
	if (p->collect_overflow ||
	    restic_parse_snapshots(p->collect.data, p->collect.len, SNAPSHOTS_MAX, &arr) != RM_OK) {
		runner_log_event(r, "cannot parse the output of restic snapshots");
		return;
	}
	runner_log_event(r, "%zu snapshots reported", json_array_size(arr));
	json_t *pl = json_object();
	json_object_set_new(pl, "snapshots", arr);
	runner_log_flush(r);
	runner_emit(r, RM_MSG_SNAPSHOTS_REPORT, pl);
}

static void report_stats(struct runner *r, struct proc *p)
{
	json_t *st = NULL;
	if (p->collect_overflow ||
	    restic_parse_stats(p->collect.data, p->collect.len, &st) != RM_OK) {
		runner_log_event(r, "cannot parse the output of restic stats");
		return;
	}
	/* --mode raw-data: total_size is the deduplicated size stored in the repository */
	json_t *ts = json_object_get(st, "total_size");
	if (ts)
		json_object_set(st, "raw_size", ts);
	runner_log_flush(r);
	runner_emit(r, RM_MSG_STATS_REPORT, st);
}

/* forget, one group: {"group","kept","removed"} into the job's stats */
static void report_forget(struct runner *r, struct proc *p)
{
	struct job *j = r->cur;
	json_t *o = NULL;
	const char *name = j->group_idx < j->n_groups ? j->group_names[j->group_idx] : "";
	if (p->collect_overflow ||
	    restic_parse_forget_counts(p->collect.data, p->collect.len, &o)) {
		runner_log_event(r, "cannot parse the output of restic forget");
		return;
	}
	long long kept = rmj_int(o, "kept", 0), removed = rmj_int(o, "removed", 0);
	runner_log_event(r, "group %s: %lld snapshot(s) kept, %lld removed", name, kept, removed);
	if (!j->stats)
		j->stats = json_pack("{s:[],s:i,s:i}", "groups", "kept", 0, "removed", 0);
	json_array_append_new(json_object_get(j->stats, "groups"),
	                      json_pack("{s:s,s:I,s:I}", "group", name, "kept", (json_int_t)kept,
	                                "removed", (json_int_t)removed));
	json_object_set_new(j->stats, "kept", json_integer(rmj_int(j->stats, "kept", 0) + kept));
	json_object_set_new(j->stats, "removed",
	                    json_integer(rmj_int(j->stats, "removed", 0) + removed));
	json_decref(o);
}

static void report_prune(struct runner *r, struct proc *p)
{
	json_t *o = NULL;
	if (p->collect_overflow || restic_parse_prune(p->collect.data, p->collect.len, &o)) {
		runner_log_event(r, "cannot read the space freed from restic prune's output");
		o = json_pack("{s:i}", "freed_bytes", 0);
	}
	json_decref(r->cur->stats);
	r->cur->stats = o;
}

static void report_check(struct runner *r, struct proc *p)
{
	int ok = runner_proc_ok(p);
	long errors = p->errors ? p->errors : !ok;
	const char *sub = r->cur->check_subset;
	json_decref(r->cur->stats);
	r->cur->stats = json_pack("{s:b,s:I}", "ok", ok, "errors", (json_int_t)errors);
	if (sub)
		json_object_set_new(r->cur->stats, "read_data_subset", json_string(sub));
}

/* ------------------------------------------------------------------ steps */

static const struct step_def step_init = {
	.name = "init", .exists_ok = 1, /* "config file already exists" */
};
static const struct step_def step_backup = {
	.name = "backup", .out = OUT_PROGRESS, .warn_exit = 3, /* some files unreadable */
};
static const struct step_def step_snapshots = {
	.name = "snapshots",
	.out = OUT_DOCUMENT,
	.report = report_snapshots,
};
static const struct step_def step_stats = {
	.name = "stats",
	.out = OUT_DOCUMENT,
	.report = report_stats,
};
static const struct step_def step_forget = {
	.name = "forget",
	.out = OUT_DOCUMENT,
	.report = report_forget,
};
static const struct step_def step_prune = {
	.name = "prune",
	.out = OUT_TEXT,
	.report = report_prune,
};
static const struct step_def step_check = {
	.name = "check",
	.report = report_check,
	.report_always = 1,
	.count_errors = 1,
};
const struct step_def runner_unlock_step = {
	.name = "unlock",
	.unlocks = 1,
};
const struct step_def runner_pre_hook_step = {
	.name = "pre-hook",
	.hook = HOOK_PRE,
};
const struct step_def runner_post_hook_step = {
	.name = "post-hook",
	.hook = HOOK_POST,
};

/* restore and drill: their steps are run by their drivers (restore.c, drill.c) */
static const struct step_def step_restore_main = { .name = "restore" };
static const struct step_def step_drill_main = { .name = "drill" };
/* C6 password rotation (rotate.c) */
static const struct step_def step_key_add_main = { .name = "key-add" };
static const struct step_def step_key_remove_main = { .name = "key-remove" };

/* ------------------------------------------------------------------ kinds */

static const struct kind_def kinds[] = {
	{ "init", 0, &step_init, { &step_snapshots, &step_stats } },
	{ "backup", 1, &step_backup, { &step_snapshots, &step_stats } },
	{ "snapshots", 0, &step_snapshots, { NULL } },
	{ "unlock", 0, &runner_unlock_step, { NULL }, .locks = 1 },
	{ "forget", 0, &step_forget, { &step_snapshots, &step_stats }, .per_group = 1 },
	{ "prune", 0, &step_prune, { &step_stats } },
	{ "check", 0, &step_check, { NULL } },
	{ "restore", 0, &step_restore_main, { NULL }, &runner_restore_driver },
	{ "drill", 0, &step_drill_main, { NULL }, &runner_drill_driver },
	{ "key_add", 0, &step_key_add_main, { NULL }, &runner_keyrot_driver },
	{ "key_remove", 0, &step_key_remove_main, { NULL }, &runner_keyrot_driver },
};

const struct kind_def *runner_kind_find(const char *name)
{
	for (size_t i = 0; name && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(name, kinds[i].name) == 0)
			return &kinds[i];
	return NULL;
}
