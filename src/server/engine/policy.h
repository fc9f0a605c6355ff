#ifndef RM_SERVER_ENGINE_POLICY_H
#define RM_SERVER_ENGINE_POLICY_H
/* C2 policies: what each agent runs on its own. The server is the source of truth for the
 * configuration (source groups, schedules, host settings); every change bumps the host's
 * schedule version and pushes the complete spec (schedule.set); the agent evaluates the
 * cron itself and reports the jobs it starts, which get their rows here on first sight.
 * Also: the hooks' encryption at rest, next runs in the host's time zone, the defaults of
 * a newly enrolled host. api/ validates input and calls these. Loop thread only. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct app;
struct store;

/* API shape of a store group row (store_group_get). Hook text only when with_hooks (the
 * caller is an admin); pre_hook_set/post_hook_set always. New reference. */
json_t *policy_group_api(struct app *app, const json_t *row, int with_hooks);
/* The decrypted hooks of a group row: {"pre","post"} (new; empty object when none). NULL
 * when they cannot be decrypted (logged). */
json_t *policy_group_hooks(struct app *app, const json_t *row);
/* Encrypts {"pre","post"} for a host's group (NULL when both are empty): *ct_out malloc'd
 * or NULL. */
int policy_hooks_seal(struct app *app, const char *host_id, const json_t *hooks, char **ct_out);

/* Settings with defaults filled in (hook_shell /bin/sh, hook_timeout_s 900, mode
 * always_on, bandwidth null). New reference. */
json_t *policy_settings_effective(const json_t *stored);

/* Next n run times of a cron expression in time zone tz (IANA name; NULL/unknown: the
 * fixed utc_offset_s when has_offset, else UTC), after from_ms. *out: array of RFC 3339
 * strings. RM_ERR_INVAL with *field (0..4, -1) and err on a bad expression. */
int policy_next_runs(const char *cron, const char *tz, int has_offset, long long utc_offset_s,
                     int n, int64_t from_ms, json_t **out, int *field, char *err, size_t errlen);
/* Adds "next_runs" (5) to each schedule object of the host (array from
 * store_schedules_list), evaluated in the host's time zone. */
void policy_schedules_decorate(struct app *app, const json_t *host, json_t *schedules);

/* The host's groups/schedules/settings changed (committed): bump the version, recompute
 * the next run, push schedule.set when the agent is connected, notify the host change. */
int policy_changed(struct app *app, const char *host_id);
/* The complete schedule.set payload for the host's current version. New reference, NULL
 * on a store error. Contains hook text: never log it. */
json_t *policy_spec(struct app *app, const char *host_id);
/* hello from the host's agent: records its time zone and resends the spec when the
 * version in force there differs. */
void policy_on_hello(struct app *app, const char *host_id, const json_t *hello);
/* schedule.ack {version}. */
void policy_on_ack(struct app *app, const char *host_id, const json_t *ack);
/* A newly enrolled host: group "default" from its initial paths (daily 7, weekly 4,
 * monthly 12) and a daily schedule at a random minute between 01:00 and 04:59 host time.
 * Runs inside the caller's transaction; call policy_changed after the commit. */
int policy_defaults_new_host(struct store *st, const char *host_id, const json_t *initial_paths);
/* job.started of a job the agent started on its own (origin schedule / catch_up / retry):
 * inserts its row unless it exists. RM_OK (also when it existed), RM_ERR_INVAL when the
 * payload has no origin (a server-dispatched job must already exist). */
int policy_job_seen(struct store *st, const char *host_id, const json_t *started);
/* What a group's run-now sends besides the stored job args: the hooks (decrypted) with the
 * host's hook shell and timeout; an empty object when the group has none. Never store it. */
json_t *policy_group_wire_extra(struct app *app, const json_t *group_row, const json_t *settings);
/* The host's agent said hello: sends the run-now jobs queued for it while it was offline
 * (and fails those older than 24 h). */
void policy_dispatch_awaiting(struct app *app, const char *host_id);
/* Fails queued-for-offline jobs older than 24 h (sweeper). */
void policy_expire_awaiting(struct app *app);
/* Recomputes next_run_at of hosts whose next run has passed (sweeper). */
void policy_refresh_due(struct app *app);

#endif
