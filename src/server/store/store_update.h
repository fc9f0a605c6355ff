#ifndef RM_SERVER_STORE_STORE_UPDATE_H
#define RM_SERVER_STORE_STORE_UPDATE_H
/* C6 agent updates (store_update.c): each host's latest update attempt and the rolling
 * fleet update runs. Loop thread; return codes as in store.h. */
#include <jansson.h>
#include <stdint.h>

#include "server/store/store.h"

/* States of one host's update; the in-flight ones are pending..restarting. */
#define STORE_UPDATE_IN_FLIGHT(s)                                                               \
	(!strcmp((s), "pending") || !strcmp((s), "downloading") || !strcmp((s), "verifying") || \
	 !strcmp((s), "restarting"))

/* Starts a new attempt for host (replaces the previous row). run_id may be NULL. */
int store_update_put(struct store *s, const char *host_id, const char *update_id,
                     const char *run_id, const char *state, const char *from_version,
                     const char *target_version, const char *error, int64_t now_ms);
/* Moves the attempt update_id of host to state (error may be NULL). RM_ERR_NOTFOUND when
 * the host's current attempt is another one. */
int store_update_set_state(struct store *s, const char *host_id, const char *update_id,
                           const char *state, const char *error, int64_t now_ms);
/* The host's latest attempt {host_id, update_id, run_id, state, from_version,
 * target_version, error, started_at, at} (caller decrefs) or NULL (none or error). */
json_t *store_update_get(struct store *s, const char *host_id);
/* {host_id: {state, target_version, error, at}} for every host with an attempt; NULL on
 * error. What the host JSON's `update` field shows. */
json_t *store_updates_by_host(struct store *s);
/* Sets host["update"] (null or {state, target_version, error, at}) from by_host
 * (store_updates_by_host's object) or, by_host NULL, from the host's row. The contract
 * field of GET /api/hosts, /api/hosts/{id} and the browsers' host events. */
void store_update_overlay(struct store *s, json_t *host, const json_t *by_host);
/* At start-up: attempts and runs left in flight by a previous process end (failed /
 * halted) with reason. */
int store_updates_abandon(struct store *s, const char *reason, int64_t now_ms);

/* Rolling runs. hosts: [{host_id, hostname, from_version, state, error}]. */
int store_update_run_insert(struct store *s, const char *id, const char *target_version,
                            const json_t *hosts, const char *created_by, int64_t now_ms);
/* Saves a run's progress; finished_ms 0 = still running. */
int store_update_run_save(struct store *s, const char *id, const char *state, const json_t *hosts,
                          const char *current_host_id, const char *halted_host_id,
                          const char *reason, int cancel_requested, int64_t finished_ms);
json_t *store_update_run_get(struct store *s, const char *id); /* NULL: unknown/error */
json_t *store_update_runs_list(struct store *s, int limit);    /* array; NULL: error */

#endif
