#ifndef RM_AGENT_SCHEDULER_SCHEDULER_H
#define RM_AGENT_SCHEDULER_SCHEDULER_H
/* The agent runs its schedules on its own (C2: "the agent is autonomous for execution").
 *
 * - The spec (spec.h) comes from schedule.set, is validated, stored encrypted and
 *   reloaded on start.
 * - A uv timer wakes up just after each minute boundary (and when a retry is due). For
 *   every enabled schedule whose next run after last_fired has come, it fires: one backup
 *   job per group of the schedule, with a job id minted here (ULID), submitted through the
 *   submit callback (the runner's FIFO: scheduled jobs queue behind running ones).
 *   last_fired is persisted (<state_dir>/schedule-state.json, atomic) BEFORE submitting.
 * - Catch-up: a run that is due by more than a minute (the agent was down, the host
 *   asleep, the timer late after a resume) fires ONCE with origin "catch_up" and records
 *   last_fired = now, however many windows were missed; a schedule never seen before
 *   starts at "now" and waits for its next window.
 * - Retries: a failed schedule/catch_up/retry job of ours is retried after
 *   retry_backoff_s * 2^(attempt-1) s, up to the group's retry_max. Retry state lives in
 *   memory only: after a restart the next window (or its catch-up) runs instead.
 *
 * "now" is injectable (scheduler_tick / scheduler_job_finished take it) so that the
 * decisions are testable without waiting. Loop thread only. */
#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#include "common/crypto.h"

struct scheduler;

/* Submits one backup job (job_id minted by the scheduler). args: command.run args of a
 * backup (spec_backup_args); started_extra: fields for job.started (origin, schedule_id,
 * group_id, group, attempt, args {paths, tags, excludes}). Both borrowed. Returns RM_OK
 * or an error (logged by the scheduler; no retry is scheduled for a refused job). */
typedef int (*scheduler_submit_fn)(void *ud, const char *job_id, const json_t *args,
                                   const json_t *started_extra);

struct scheduler_opts {
	uv_loop_t *loop;       /* NULL: no timer (tests call scheduler_tick themselves) */
	const char *state_dir; /* schedule.enc, schedule-state.json */
	const uint8_t *key;    /* RM_KEY_BYTES secrets key; NULL: the spec is kept in memory
	                        * only (the server resends it after each hello) */
	scheduler_submit_fn submit;
	void *ud;
};

/* Loads the stored spec and last_fired state (a corrupt spec is moved aside and
 * reported, see spec_load). Always succeeds unless opts are invalid (RM_ERR_INVAL). */
int scheduler_new(const struct scheduler_opts *o, struct scheduler **out);
/* Arms the timer; the first tick (catch-ups) runs on the next loop turn. */
void scheduler_start(struct scheduler *s);
/* Closes the timer (the loop must run to finish it) and frees. NULL ok. */
void scheduler_free(struct scheduler *s);

/* Version of the spec in force (0 = none). */
long long scheduler_version(const struct scheduler *s);

/* Validates, stores (when a key is set) and puts in force a schedule.set payload.
 * RM_OK; RM_ERR_INVAL with err naming the problem (the last good spec stays in force);
 * RM_ERR_IO when it cannot be written (err says so; the old spec stays). */
int scheduler_apply(struct scheduler *s, const json_t *payload, int64_t now, char *err,
                    size_t errlen);

/* One scheduling pass at now (seconds since the epoch): fires due schedules and due
 * retries. */
void scheduler_tick(struct scheduler *s, int64_t now);
/* A job ended (every job.finished goes through here; others' jobs are ignored). */
void scheduler_job_finished(struct scheduler *s, const char *job_id, const char *status,
                            int64_t now);

/* For tests and logs: last_fired of a schedule (0 = none). */
int64_t scheduler_last_fired(const struct scheduler *s, const char *schedule_id);

#endif
