#ifndef RM_AGENT_UPGRADE_H
#define RM_AGENT_UPGRADE_H
/* Self-update support of the agent (C6; docs/internals/agent.md "Updates"): the pinned
 * release key, the update marker in the state directory, and the restart into the new
 * binary with a watchdog that rolls back when the new binary does not confirm in time.
 * The download and verification live in ws/update.c. Loop thread, except the watchdog
 * (a separate process). */
#include <stdint.h>

#include "common/manifest.h"

/* <state_dir>/update.json: written before the restart, confirmed (removed) by the new
 * binary once its hello is acknowledged; "rolled_back" when the watchdog restored the
 * previous binary. */
struct upgrade_marker {
	char update_id[65];
	char from[65], to[65];
	char state[16]; /* "restarting" | "rolled_back" */
	int64_t deadline_ms;
	char error[256];
};

/* RM_OK, RM_ERR_NOTFOUND (no marker), RM_ERR_INVAL (unreadable: treated as absent). */
int upgrade_marker_read(const char *state_dir, struct upgrade_marker *out);
int upgrade_marker_write(const char *state_dir, const struct upgrade_marker *m);
void upgrade_marker_remove(const char *state_dir);

/* The pinned release key (<state_dir>/update-release.pub, base64). load: RM_OK (*b64 caller
 * frees) or RM_ERR_NOTFOUND. pin: writes it when none is pinned (RM_OK), RM_OK when the
 * same key is pinned, RM_ERR_CONFLICT when another one is (kept: a connected server never
 * replaces it; replace=1 only at enrollment, where the operator chose the server),
 * RM_ERR_INVAL for a malformed key. */
int upgrade_key_load(const char *state_dir, char **b64);
int upgrade_key_pin(const char *state_dir, const char *b64, int replace);

/* main.c records argv (for the re-exec) and the executable's path at start. */
void upgrade_init(int argc, char **argv);
/* The running executable's absolute path (resolved at upgrade_init), "" if unknown. */
const char *upgrade_exe_path(void);
/* Seconds the new binary has to confirm (RM_AGENT_UPDATE_CONFIRM_S, 5..3600, default 90). */
int upgrade_confirm_s(void);

/* Asks main to restart into the new executable once the loop has stopped; calls the hook
 * main registered (it closes main's own handles, e.g. signal watchers, so the loop can
 * end once the agent has stopped). */
void upgrade_set_restart_hook(void (*hook)(void *ud), void *ud);
void upgrade_request_restart(const char *state_dir);
int upgrade_restart_requested(void);
/* Forks the watchdog, then execv()s the (new) executable with the same argv and PID.
 * Returns only when exec failed (the previous binary is then put back first). */
void upgrade_restart_now(void);

#endif
