/* Presence: forwards to the registered provider (the agent hub). */
#include "server/engine/presence.h"

#include <stdlib.h>

#include "common/err.h"
#include "common/json.h"
#include "common/rmtime.h"

struct presence {
	const struct presence_ops *ops;
	void *ud;
};

struct presence *presence_new(void)
{
	return rm_xcalloc(1, sizeof(struct presence));
}

void presence_free(struct presence *p)
{
	free(p);
}

void presence_set_provider(struct presence *p, const struct presence_ops *ops, void *ud)
{
	if (!p)
		return;
	p->ops = ops;
	p->ud = ops ? ud : NULL;
}

int presence_send_id(struct presence *p, const char *host_id, enum rm_msg_type type,
                     json_t *payload_take, char id_out[RM_ULID_BUF])
{
	if (!p || !p->ops || !host_id) {
		json_decref(payload_take);
		return RM_ERR_NOTFOUND;
	}
	return p->ops->send(p->ud, host_id, type, payload_take, id_out);
}

int presence_send(struct presence *p, const char *host_id, enum rm_msg_type type,
                  json_t *payload_take)
{
	return presence_send_id(p, host_id, type, payload_take, NULL);
}

int presence_send_command(struct presence *p, const char *host_id, const char *job_id,
                          const char *kind, const json_t *args)
{
	json_t *m = json_pack("{s:s,s:s}", "job_id", job_id, "kind", kind);
	json_object_set_new(m, "args", args ? json_deep_copy(args) : json_object());
	return presence_send(p, host_id, RM_MSG_COMMAND_RUN, m);
}

int64_t presence_last_seen(struct presence *p, const char *host_id)
{
	if (!p || !p->ops || !host_id)
		return 0;
	return p->ops->last_seen(p->ud, host_id);
}

int presence_is_connected(struct presence *p, const char *host_id)
{
	return presence_last_seen(p, host_id) != 0;
}

void presence_overlay_last_seen(struct presence *p, json_t *host)
{
	rmj_set_time_if_newer(host, "last_seen_at", presence_last_seen(p, rmj_str(host, "id")));
}

void presence_note_offline(struct presence *p, const char *host_id)
{
	if (p && p->ops && host_id)
		p->ops->note_offline(p->ud, host_id);
}

void presence_disconnect(struct presence *p, const char *host_id, int code, const char *reason)
{
	if (p && p->ops && host_id)
		p->ops->disconnect(p->ud, host_id, code, reason);
}
