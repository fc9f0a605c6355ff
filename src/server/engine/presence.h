#ifndef RM_SERVER_ENGINE_PRESENCE_H
#define RM_SERVER_ENGINE_PRESENCE_H
/* Presence: which agents are connected, when each was last heard, and the way to reach a
 * connected one. The agent hub (ws/agent_hub.c) owns the connections and registers itself
 * as the provider; api/ and engine/ ask here instead of including the hub. Without a
 * provider every host is offline and sends fail with RM_ERR_NOTFOUND. Loop thread only;
 * p NULL is accepted everywhere. */
#include <jansson.h>
#include <stdint.h>

#include "common/proto.h"
#include "common/ulid.h"

struct presence;

struct presence_ops {
	/* Sends a server->agent message to a connected host (after its hello); takes payload.
	 * RM_OK, RM_ERR_NOTFOUND (not connected), RM_ERR_TOOBIG / RM_ERR_IO (socket).
	 * id_out (may be NULL) receives the envelope id. */
	int (*send)(void *ud, const char *host_id, enum rm_msg_type type, json_t *payload_take,
	            char id_out[RM_ULID_BUF]);
	/* Wall-clock ms of the last hello/heartbeat of a connected host, 0 when not connected. */
	int64_t (*last_seen)(void *ud, const char *host_id);
	/* The store marked this host offline (silent too long) while it may be connected. */
	void (*note_offline)(void *ud, const char *host_id);
	/* Closes a host's connection (e.g. host deleted). */
	void (*disconnect)(void *ud, const char *host_id, int code, const char *reason);
};

struct presence *presence_new(void);
void presence_free(struct presence *p); /* NULL ok */
/* ops: static storage; ud: the provider. ops NULL unregisters. */
void presence_set_provider(struct presence *p, const struct presence_ops *ops, void *ud);

int presence_send(struct presence *p, const char *host_id, enum rm_msg_type type,
                  json_t *payload_take);
/* The same, giving the envelope's id (RPC requests are answered by it). */
int presence_send_id(struct presence *p, const char *host_id, enum rm_msg_type type,
                     json_t *payload_take, char id_out[RM_ULID_BUF]);
/* command.run {job_id, kind, args} (args borrowed, may be NULL). */
int presence_send_command(struct presence *p, const char *host_id, const char *job_id,
                          const char *kind, const json_t *args);
int presence_is_connected(struct presence *p, const char *host_id); /* 1 / 0 */
int64_t presence_last_seen(struct presence *p, const char *host_id);
/* Replaces a host projection's (store_host_get) "last_seen_at" by the in-memory time when
 * that is newer: the store's value is written at most every persist interval. */
void presence_overlay_last_seen(struct presence *p, json_t *host);
void presence_note_offline(struct presence *p, const char *host_id);
void presence_disconnect(struct presence *p, const char *host_id, int code, const char *reason);

#endif
