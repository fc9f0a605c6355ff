#ifndef RM_SERVER_ENGINE_CARE_H
#define RM_SERVER_ENGINE_CARE_H
/* C2 repository care: forget/prune/check/unlock jobs, maintenance cadences, the admin
 * credential slot and lock peers.
 *   - forget's args are built here from the host's source groups: every group with a
 *     retention policy, {"groups":[{"group","retention"}]} (one restic forget per group,
 *     --tag <group> --group-by host,tags on the agent);
 *   - the admin slot ("admin" in host_credentials, encrypted like "repo") is sent just in
 *     time inside command.run of forget/prune ("admin_credentials"), never by
 *     config.update, never stored on the host;
 *   - cadences: without an admin slot the agent runs them (schedule.set "maintenance");
 *     with one, the server dispatches forget/prune at their cadence (care_sweep) and the
 *     agent keeps check.
 * Loop thread only. */
#include <jansson.h>
#include <stdint.h>

struct app;

/* "forget", "prune", "check", NULL: the kinds with a cadence. */
extern const char *const care_cadence_kinds[];

/* The maintenance kinds of POST /api/hosts/{id}/jobs. */
int care_kind(const char *kind);

/* {"groups":[{"group","retention"}]} for forget: every group of the host with a
 * retention policy, or only `group` when given. RM_ERR_NOTFOUND: no such group (*why set);
 * RM_ERR_INVAL: that group has no retention (*why set); RM_ERR_DB. */
int care_forget_args(struct app *app, const char *host_id, const char *group, json_t **out,
                     const char **why);

/* What command.run carries for kind besides the stored args: "admin_credentials" for
 * forget/prune when the admin slot is set, "lock_peers" for every restic kind. Holds a
 * secret: wipe (rmj_wipe) and never log or store it. New object. */
json_t *care_wire_extra(struct app *app, const char *host_id, const char *kind);
/* 1 when the host has an admin credential slot. */
int care_has_admin(struct app *app, const char *host_id);

/* Cadences with defaults filled in: {"forget":{"cron","enabled"},"prune":{...},
 * "check":{"cron","enabled","read_data_subset"}}. stored may be NULL. New reference. */
json_t *care_maintenance_effective(const json_t *stored);
/* The "maintenance" array of the host's schedule.set: the cadences the agent runs itself
 * (check always; forget and prune only without an admin slot), each
 * {"kind","cron","enabled","args"}. New reference. */
json_t *care_spec_maintenance(struct app *app, const char *host_id);

#endif
