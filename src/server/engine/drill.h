#ifndef RM_SERVER_ENGINE_DRILL_H
#define RM_SERVER_ENGINE_DRILL_H
/* Restore drills (C3): each host's cadence, kept in its settings under "drill", and the
 * dispatch of drill jobs. The server's sweeper runs the cadence (not the agent's
 * scheduler): a drill's result only counts once the server has it, the settings live
 * here, and an agent that is offline has nothing to prove until it is back. Loop thread
 * only. */
#include <jansson.h>

#include "common/ulid.h"

struct app;

#define DRILL_INTERVAL_DEFAULT_S (7 * 24 * 3600)
#define DRILL_FILES_DEFAULT 20
#define DRILL_BYTES_DEFAULT (200LL * 1024 * 1024)

/* {"enabled","interval_s","sample_files","max_bytes"} from a host's stored settings
 * (borrowed, may be NULL): the defaults where unset. New object. */
json_t *drill_settings_effective(const json_t *host_settings);
/* Validates a PUT body (enabled bool, interval_s 5..31536000, sample_files 1..1000,
 * max_bytes 1 KiB..64 GiB; all optional) and merges it into settings["drill"] (settings is
 * modified). RM_ERR_INVAL with the field and a message. */
int drill_settings_merge(json_t *settings, const json_t *in, const char **field, char *err,
                         size_t errlen);
/* Creates a drill job (row + audit by actor, one transaction) for a connected host and sends
 * it. RM_ERR_CONFLICT when one is active, RM_ERR_NOTFOUND when the host is offline. */
int drill_dispatch(struct app *app, const char *host_id, const char *actor,
                   char job_id[RM_ULID_BUF]);
/* The cadence: a drill for each online host whose last drill was created longer than its
 * interval ago (and that has snapshots). Called by the sweeper. */
void drill_sweep(struct app *app);

#endif
