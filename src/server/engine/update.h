#ifndef RM_SERVER_ENGINE_UPDATE_H
#define RM_SERVER_ENGINE_UPDATE_H
/* C6 agent updates (docs/internals/agent.md "Updates"): one host at a time (update.c) and
 * rolling over the fleet (update_run.c). Loop thread only.
 *
 * A release is what <agent_binary_dir> serves for an os/arch: the binary, its manifest and
 * the manifest's signature by the release key (server/release.c signs offline). The server
 * checks the signature with the release PUBLIC key before offering a release; the agent
 * checks it again with the key it pinned at enrollment, and the binary's size and sha256,
 * before it touches its installed binary.
 *
 * One host's update: pending (command.update sent) -> downloading -> verifying ->
 * restarting (update.status from the agent) -> succeeded (the host re-hellos with the
 * target version) | failed (refused, error, timeout) | rolled_back (the host came back
 * with another version: its watchdog restored the previous binary). */
#include <jansson.h>
#include <stddef.h>

#include "common/manifest.h"

struct app;

struct update_release {
	char *manifest;  /* verbatim text */
	char *signature; /* base64 */
	struct rm_manifest m;
	char path[96]; /* server-relative download path: /agent/binary?os=..&arch=.. */
};

/* Creates the engine (app->update) and ends attempts and runs a previous process left in
 * flight. */
void update_start(struct app *app);
void update_stop(struct app *app); /* closes the timer; the loop must run after */
void update_free(struct app *app);

/* The release public key (base64), loaded from cfg->agent_release_pubkey on first use and
 * cached; NULL when absent or malformed (updates are then off). Borrowed. */
const char *update_pubkey(struct app *app);
/* Loads and verifies the release for os/arch. RM_OK; RM_ERR_NOTFOUND (no manifest),
 * RM_ERR_INVAL (no release key / malformed), RM_ERR_AUTH (signature does not verify).
 * why (may be NULL) says which. */
int update_release_load(struct app *app, const char *os, const char *arch,
                        struct update_release *out, char *why, size_t whylen);
void update_release_cleanup(struct update_release *r);

/* Starts an update of host_id to the release for its os/arch; run_id NULL outside a
 * rolling run. RM_OK; RM_ERR_NOTFOUND (unknown host), RM_ERR_AGAIN (offline),
 * RM_ERR_CONFLICT (already at that version / an update in flight), RM_ERR_INVAL (no
 * usable release); why says which. Writes the audit row (actor). */
int update_host_start(struct app *app, const char *host_id, const char *actor, const char *run_id,
                      char *why, size_t whylen);

/* Agent hub events. */
void update_on_status(struct app *app, const char *host_id, const json_t *payload);
void update_on_hello(struct app *app, const char *host_id, const char *agent_version);

/* Rolling fleet update (update_run.c). host_ids (array of strings) or tag select the hosts
 * (NULL both: every host); only hosts whose version differs from the release are updated;
 * offline ones are listed as skipped. RM_OK with the run id; RM_ERR_CONFLICT (a run is
 * active), RM_ERR_NOTFOUND (no host to update), RM_ERR_INVAL (no release); why says it. */
int update_run_start(struct app *app, const json_t *host_ids, const char *tag, const char *actor,
                     char run_id[32], char *why, size_t whylen);
/* Stops the run after its current host. RM_ERR_NOTFOUND (unknown or not running). */
int update_run_cancel(struct app *app, const char *run_id, const char *actor);
/* The per-host outcome of a run's current host (called by update.c). */
void update_run_host_done(struct app *app, const char *run_id, const char *host_id,
                          const char *state, const char *error);

#endif
