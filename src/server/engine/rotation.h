#ifndef RM_SERVER_ENGINE_ROTATION_H
#define RM_SERVER_ENGINE_ROTATION_H
/* Repository credentials after enrollment and repository password rotation (C6).
 *
 * Rotation, in an order that never leaves the only valid password unsaved
 * (docs/internals/security.md):
 *   pending      the new password is generated and stored encrypted (host_key_rotations)
 *                BEFORE a "key_add" job carries it to the agent (in command.run only);
 *                the agent runs `restic key add`, then opens the repository with the new
 *                password and reports the old and new key ids
 *   switched     the new credentials become the repo slot (the previous ones are kept
 *                encrypted in the rotation row), config.update pushes them, and a
 *                "key_remove" job first proves the agent opens the repository with them
 *                (key list: the current key is the new one), then removes the old key
 *   old_removed  done; the previous credentials are wiped
 *   failed       adding failed (the old password stays current), or the agent could not
 *                use the new one (the previous credentials are restored and pushed)
 * A removal refused by the repository (append-only) leaves the rotation "switched" with
 * an error: the new password is current, the old key still opens the repository.
 * Loop thread only. */
#include <jansson.h>

struct app;

/* Subscribes to job changes (the end of key_add / key_remove jobs drives the rotation). */
void rotation_engine_start(struct app *app);
void rotation_engine_stop(struct app *app);
void rotation_engine_free(struct app *app);

/* Starts a rotation of host_id's repository password. new_password NULL = generate one.
 * On error *code / *why say why (static text) and the HTTP status to answer is returned
 * through *status; RM_OK when the key_add job was dispatched. */
int rotation_begin(struct app *app, const char *host_id, const char *new_password,
                   const char *actor, int *status, const char **code, const char **why);

/* The rotation view {state, error, active, old_key_id, new_key_id, job_id, started_at,
 * updated_at, started_by}, or JSON null when the host never rotated. New reference. */
json_t *rotation_view(struct app *app, const char *host_id);
/* 1 while a rotation's job is queued or running. */
int rotation_active(struct app *app, const char *host_id);

/* Why removing the old key failed, for the rotation's error: "repository is append-only"
 * when restic's error says the server refused the deletion (403 / append-only), else the
 * error itself. Pure; borrowed result. */
const char *rotation_removal_reason(const char *job_error);

/* Replaces the host's repository credentials (url, username, password: the caller
 * validated them), resets repo_status to "unknown", audits, then pushes them and probes
 * the repository again (repo_policy_push). RM_OK or a store / crypto error. */
int repo_creds_replace(struct app *app, const char *host_id, const json_t *creds,
                       const char *actor);

#endif
