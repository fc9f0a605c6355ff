/* The job kinds: a table of rows, each naming its restic steps (argv kind, how output is
 * read, what a success reports) and the steps that follow a successful main step.
 * Adding a kind = a row here + its argv row in restic/argv.c (+ a parser/report when it
 * produces one). The lifecycle in runner.c reads only this table. */
#include <stddef.h>
#include <string.h>

#include "agent/restic/parse.h"
#include "agent/runner/runner_int.h"
#include "common/err.h"

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

/* ------------------------------------------------------------------ kinds */

static const struct kind_def kinds[] = {
	{ "init", 0, &step_init, { &step_snapshots, &step_stats } },
	{ "backup", 1, &step_backup, { &step_snapshots, &step_stats } },
	{ "snapshots", 0, &step_snapshots, { NULL } },
	{ "unlock", 0, &runner_unlock_step, { NULL } },
	{ "restore", 0, &step_restore_main, { NULL }, &runner_restore_driver },
	{ "drill", 0, &step_drill_main, { NULL }, &runner_drill_driver },
};

const struct kind_def *runner_kind_find(const char *name)
{
	for (size_t i = 0; name && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(name, kinds[i].name) == 0)
			return &kinds[i];
	return NULL;
}
