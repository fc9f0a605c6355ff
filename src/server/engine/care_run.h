#ifndef RM_SERVER_ENGINE_CARE_RUN_H
#define RM_SERVER_ENGINE_CARE_RUN_H
/* C2 repository care, the parts that need next-run times (engine/policy): the API view
 * and validation of cadences, server-side dispatch, the sweeper's cadence check. See
 * care.h for the whole picture. Loop thread only. */
#include <jansson.h>

struct app;

/* The API view of a host's maintenance: effective cadences plus per kind "next_run",
 * "last_run" and "runs_on" ("agent" | "server"), and "admin_credentials_set". */
json_t *care_maintenance_view(struct app *app, const json_t *host);
/* Validates a PUT body against the current stored cadences; NULL and *merged (new) when
 * fine, else the message. */
const char *care_maintenance_merge(const json_t *stored, const json_t *in, json_t **merged);

/* Sweeper: dispatches forget/prune of hosts with an admin slot whose cadence is due
 * (queued until the host is online). */
void care_sweep(struct app *app);

/* Creates and sends (or queues while the host is offline) a maintenance job. *job_id
 * receives its id. RM_ERR_CONFLICT when one of that kind is already active. */
int care_dispatch(struct app *app, const char *host_id, const char *kind, const json_t *args,
                  const char *actor, char job_id[32]);

#endif
