/* Safe stale locks. A repository lock is removed only when its owner is provably gone:
 *   - same host (this machine's hostname) and its PID no longer runs;
 *   - another host that the server says is online and runs no restic (lock_peers "idle");
 *   - older than 30 minutes (restic refreshes live locks every 5) with no live owner here.
 * The flow: `list locks --no-lock`, `cat lock <id> --no-lock` for each, judge, then
 *   - every lock dead, some not stale by restic's own rule -> `unlock --remove-all`;
 *   - some locks dead and all of them stale by restic's rule -> `unlock` (restic removes
 *     exactly those: same host + dead PID, or not refreshed for 30 min);
 *   - otherwise nothing is removed.
 * restic offers no command that removes one chosen lock, hence this all-or-restic's-rule
 * choice. The locks still there are reported in stats.report "locks". */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/restic/argv.h"
#include "agent/restic/parse_care.h"
#include "agent/runner/runner_int.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/rmtime.h"

#define LOCKS_MAX 200
#define STALE_MS (30LL * 60 * 1000)

static const struct step_def step_list_locks = { .name = "list-locks", .out = OUT_DOCUMENT };
static const struct step_def step_cat_lock = { .name = "cat-lock", .out = OUT_DOCUMENT };
static const struct step_def step_unlock = { .name = "unlock" };
static const struct step_def step_unlock_all = { .name = "unlock-all" };

/* A local PID is alive unless kill(0) says ESRCH or /proc says it is a zombie. */
static int pid_alive_local(long long pid)
{
	if (pid <= 0 || pid > 4194304)
		return 0;
	if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
		return 0;
	char path[64], buf[256];
	snprintf(path, sizeof path, "/proc/%lld/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	const char *rp = strrchr(buf, ')');
	return !(rp && rp[1] == ' ' && rp[2] == 'Z');
}

void runner_lock_judge(json_t *lock, const char *my_host, const json_t *peers,
                       int (*pid_alive)(long long pid), int64_t now_ms)
{
	const char *host = rmj_str(lock, "hostname");
	long long pid = rmj_int(lock, "pid", 0);
	int64_t t = 0;
	int old = rm_time_parse(rmj_str(lock, "time"), &t) == RM_OK && now_ms - t > STALE_MS;
	int same = host && my_host && strcmp(host, my_host) == 0;
	const char *peer = host ? rmj_str(peers, host) : NULL;
	int dead = 0, restic_stale = old;
	const char *why = "owner may still be running";
	if (same) {
		int alive = pid_alive(pid);
		dead = !alive;
		restic_stale = old || !alive;
		why = alive ? "its process still runs on this host"
		            : "same host and its process is gone";
	} else if (peer && strcmp(peer, "idle") == 0) {
		dead = 1;
		why = "its host's agent runs no restic";
	} else if (peer && strcmp(peer, "busy") == 0) {
		why = "its host's agent runs restic";
		restic_stale = 0; /* refreshed or not: never remove a live peer's lock */
	} else if (old) {
		dead = 1;
		why = "older than 30 minutes and its owner is not known to run";
	}
	json_object_set_new(lock, "dead", json_boolean(dead));
	json_object_set_new(lock, "restic_stale", json_boolean(restic_stale));
	json_object_set_new(lock, "why", json_string(why));
}

void runner_locks_cleanup(struct lockscan *ls)
{
	json_decref(ls->ids);
	json_decref(ls->locks);
	memset(ls, 0, sizeof *ls);
}

/* Builds the argv of kind (args may be NULL) and starts it as a lock-flow step. */
static int start_step(struct runner *r, const struct step_def *d, const char *kind, json_t *args)
{
	char **argv = NULL;
	char err[128];
	int rc = restic_argv_build(r->restic_path ? r->restic_path : "restic", kind, args, NULL,
	                           &argv, err, sizeof err);
	if (rc) {
		runner_log_event(r, "lock check: %s", err);
		return rc;
	}
	runner_proc_start(r, d, ROLE_LOCKS, argv);
	restic_argv_free(argv);
	return RM_OK;
}

/* The locks still present, without the judging fields, for stats.report. */
static json_t *report_list(const struct lockscan *ls, int removed_dead)
{
	json_t *a = json_array();
	size_t i;
	json_t *l;
	json_array_foreach (ls->locks, i, l) {
		if (removed_dead && json_is_true(json_object_get(l, "dead")))
			continue;
		json_t *c = json_deep_copy(l);
		json_object_del(c, "dead");
		json_object_del(c, "restic_stale");
		json_object_del(c, "why");
		json_array_append_new(a, c);
	}
	return a;
}

static void flow_end(struct runner *r, struct job *j)
{
	struct lockscan *ls = &j->ls;
	json_t *left = report_list(ls, ls->removed);
	size_t found = json_array_size(ls->locks), kept = json_array_size(left);
	if (!ls->list_failed) {
		runner_log_flush(r);
		runner_emit(r, RM_MSG_STATS_REPORT, json_pack("{s:O}", "locks", left));
	}
	int purpose = ls->purpose, failed = ls->list_failed;
	json_t *stats = json_pack("{s:I,s:I,s:I,s:o}", "locks_found", (json_int_t)found, "removed",
	                          (json_int_t)(ls->removed ? found - kept : 0), "kept",
	                          (json_int_t)kept, "locks", left);
	runner_locks_cleanup(ls);
	if (purpose == LOCKS_RETRY) {
		json_decref(stats);
		runner_log_event(r, "retrying %s once", j->kind->main->name);
		runner_proc_start(r, j->kind->main, ROLE_MAIN, runner_main_argv(j));
		return;
	}
	json_decref(j->stats);
	j->stats = stats;
	if (failed)
		runner_job_finish(r, "failed", 1, "cannot list the repository's locks");
	else
		runner_job_finish(r, "succeeded", 0, NULL);
}

/* Every lock read: decide what may go, then unlock or end. */
static void decide(struct runner *r, struct job *j)
{
	struct lockscan *ls = &j->ls;
	int dead = 0, alive = 0, need_all = 0, alive_but_restic_stale = 0;
	size_t i;
	json_t *l;
	json_array_foreach (ls->locks, i, l) {
		int d = json_is_true(json_object_get(l, "dead"));
		int rs = json_is_true(json_object_get(l, "restic_stale"));
		runner_log_event(r, "lock %.8s by %s pid %lld (%s): %s", rmj_str(l, "id"),
		                 rmj_str(l, "hostname"), rmj_int(l, "pid", 0), d ? "stale" : "kept",
		                 rmj_str(l, "why"));
		dead += d;
		alive += !d;
		need_all |= d && !rs;
		alive_but_restic_stale |= !d && rs;
	}
	const struct step_def *step = NULL;
	if (dead && need_all && !alive)
		step = &step_unlock_all;
	else if (dead && !need_all && !alive_but_restic_stale)
		step = &step_unlock;
	else if (dead)
		runner_log_event(r, "not removing stale locks: restic cannot remove them without "
		                    "also removing a live one");
	if (step && start_step(r, step, step->name, NULL) == RM_OK)
		return;
	flow_end(r, j);
}

static void next_cat(struct runner *r, struct job *j)
{
	struct lockscan *ls = &j->ls;
	while (ls->idx < json_array_size(ls->ids)) {
		json_t *args = json_pack("{s:O}", "id", json_array_get(ls->ids, ls->idx++));
		int rc = start_step(r, &step_cat_lock, "cat-lock", args);
		json_decref(args);
		if (rc == RM_OK)
			return;
	}
	decide(r, j);
}

void runner_locks_start(struct runner *r, struct job *j, int purpose)
{
	runner_locks_cleanup(&j->ls);
	j->ls.purpose = purpose;
	j->ls.locks = json_array();
	runner_log_event(r, "reading the repository's locks");
	if (start_step(r, &step_list_locks, "list-locks", NULL) != RM_OK) {
		j->ls.list_failed = 1;
		flow_end(r, j);
	}
}

void runner_locks_step_done(struct runner *r, struct job *j, struct proc *p)
{
	struct lockscan *ls = &j->ls;
	int ok = runner_proc_ok(p);
	const struct step_def *d = p->def;
	if (j->cancelled) {
		int retry = ls->purpose == LOCKS_RETRY;
		runner_proc_free(p);
		runner_locks_cleanup(ls);
		if (retry) { /* the main step ran: its post-hook follows, also on a cancel */
			j->main_ran = 1;
			j->status = "cancelled";
			runner_after_main(r, j);
		} else {
			runner_job_finish(r, "cancelled", EXIT_CANCELLED, NULL);
		}
		return;
	}
	if (d == &step_list_locks) {
		if (!ok || p->collect_overflow ||
		    restic_parse_lock_ids(p->collect.data, p->collect.len, LOCKS_MAX, &ls->ids)) {
			ls->list_failed = 1;
			runner_proc_free(p);
			flow_end(r, j);
			return;
		}
		runner_log_event(r, "%zu lock(s) in the repository", json_array_size(ls->ids));
	} else if (d == &step_cat_lock) {
		json_t *lock = NULL;
		const char *id = json_string_value(json_array_get(ls->ids, ls->idx - 1));
		if (ok && !p->collect_overflow &&
		    restic_parse_lock(id, p->collect.data, p->collect.len, &lock) == RM_OK) {
			char host[256] = "";
			gethostname(host, sizeof host - 1);
			runner_lock_judge(lock, host, j->lock_peers, pid_alive_local, rm_now_ms());
			json_array_append_new(ls->locks, lock);
		} else {
			runner_log_event(r, "lock %.8s could not be read (gone meanwhile?)", id);
		}
	} else {
		ls->removed = ok;
		runner_log_event(r, ok ? "stale locks removed" : "removing stale locks failed");
		runner_proc_free(p);
		flow_end(r, j);
		return;
	}
	runner_proc_free(p);
	next_cat(r, j);
}
