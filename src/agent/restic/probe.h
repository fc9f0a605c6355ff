#ifndef RM_AGENT_RESTIC_PROBE_H
#define RM_AGENT_RESTIC_PROBE_H
/* Asks the installed restic for its version, without a shell and with a clean
 * environment (PATH, HOME and cache dir pointing nowhere). Loop thread only. */
#include <uv.h>

/* version: "0.14.0", or "" when restic could not be run, failed or did not answer within
 * 10 s. Called once, on the loop, after every handle of the probe is closed. */
typedef void (*restic_probe_cb)(void *ud, const char *version);

/* Runs `<restic> version` with uv_spawn. Always RM_OK: a spawn failure is logged and
 * reported through cb with "" (on a later loop turn). */
int restic_probe_version(uv_loop_t *loop, const char *restic, restic_probe_cb cb, void *ud);

/* text: the output of `<restic> restore --help` (at most 16 KiB, NUL-terminated,
 * borrowed for the call), or NULL when it could not be run. Same rules as above. */
typedef void (*restic_probe_text_cb)(void *ud, const char *text);
int restic_probe_restore_help(uv_loop_t *loop, const char *restic, restic_probe_text_cb cb,
                              void *ud);

#endif
