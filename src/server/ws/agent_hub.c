/* The agent socket: handshake, heartbeats, batched persistence of job events, commands. */
#include "server/ws/agent_hub.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#include "common/ulid.h"
#include "common/crypto.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/rmtime.h"
#include "server/app.h"
#include "server/config.h"
#include "server/http/http.h"
#include "server/engine/host_secrets.h"
#include "server/engine/notify.h"
#include "server/engine/presence.h"
#include "server/engine/policy.h"
#include "server/engine/repo_policy.h"
#include "server/engine/download.h"
#include "server/engine/rpc.h"
#include "server/engine/update.h"
#include "server/store/store.h"
#include "server/ws/job_hub.h"

#include "server/ws/agent_hub_int.h"

/* ---------------------------------------------------------------- host map */

static size_t bucket_of(const char *id)
{
	uint32_t h = 2166136261u;
	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h % HUB_BUCKETS;
}

static struct agent_conn *map_get(const struct agent_hub *h, const char *host_id)
{
	if (!h || !host_id)
		return NULL;
	for (struct agent_conn *c = h->buckets[bucket_of(host_id)]; c; c = c->hnext)
		if (strcmp(c->host_id, host_id) == 0)
			return c;
	return NULL;
}

static void map_put(struct agent_hub *h, struct agent_conn *c)
{
	size_t b = bucket_of(c->host_id);
	c->hnext = h->buckets[b];
	h->buckets[b] = c;
	c->in_map = 1;
	h->nconns++;
}

static void map_del(struct agent_hub *h, struct agent_conn *c)
{
	if (!c->in_map)
		return;
	struct agent_conn **pp = &h->buckets[bucket_of(c->host_id)];
	while (*pp && *pp != c)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = c->hnext;
	c->hnext = NULL;
	c->in_map = 0;
	h->nconns--;
}

void agent_conn_release(struct agent_conn *c)
{
	if (c->ws || c->pending > 0)
		return;
	json_decref(c->acks);
	host_secrets_free(c->secrets);
	free(c);
}

/* ---------------------------------------------------------------- sending */

int agent_conn_send(struct agent_conn *c, enum rm_msg_type t, json_t *payload_take)
{
	return agent_conn_send_id(c, t, payload_take, NULL);
}

int agent_conn_send_id(struct agent_conn *c, enum rm_msg_type t, json_t *payload_take,
                       char id_out[RM_ULID_BUF])
{
	if (!c->ws) {
		json_decref(payload_take);
		return RM_ERR_IO;
	}
	char *s = proto_encode(t, payload_take, id_out);
	int rc = ws_send(c->ws, s, strlen(s));
	free(s);
	if (rc == RM_ERR_TOOBIG) {
		RM_WARN("agent socket queue full: closing", "host_id", c->host_id);
		ws_close(c->ws, 1011, "queue full");
	}
	return rc;
}

static void conn_send_error(struct agent_conn *c, const char *code, const char *msg,
                            const char *ref)
{
	if (!c->ws)
		return;
	char *s = proto_encode_error(code, msg, ref && ref[0] ? ref : NULL);
	ws_send(c->ws, s, strlen(s));
	free(s);
}

void agent_conn_ack(struct agent_conn *c, const char *id)
{
	agent_conn_send(c, RM_MSG_ACK, json_pack("{s:[s]}", "ids", id));
}

/* ---------------------------------------------------------------- presence provider */

static int hub_send(void *ud, const char *host_id, enum rm_msg_type type, json_t *payload_take,
                    char id_out[RM_ULID_BUF])
{
	struct agent_hub *h = ud;
	struct agent_conn *c = map_get(h, host_id);
	if (!c || !c->ws || !c->hello_done || (h && h->stopped)) {
		json_decref(payload_take);
		return RM_ERR_NOTFOUND;
	}
	return agent_conn_send_id(c, type, payload_take, id_out);
}

static int64_t hub_last_seen(void *ud, const char *host_id)
{
	const struct agent_hub *h = ud;
	const struct agent_conn *c = map_get(h, host_id);
	return c && c->ws && c->hello_done && !h->stopped ? c->last_seen_ms : 0;
}

size_t agent_hub_connected_count(const struct agent_hub *h)
{
	return h ? h->nconns : 0;
}

static void hub_note_offline(void *ud, const char *host_id)
{
	struct agent_conn *c = map_get(ud, host_id);
	if (c)
		c->offline_marked = 1;
}

static void hub_disconnect(void *ud, const char *host_id, int code, const char *reason)
{
	struct agent_hub *h = ud;
	struct agent_conn *c = map_get(h, host_id);
	if (!c)
		return;
	map_del(h, c);
	rpc_host_gone(h->app, host_id);
	dl_host_gone(h->app, host_id);
	if (c->ws)
		ws_close(c->ws, code, reason);
}

static const struct presence_ops presence_ops = {
	.send = hub_send,
	.last_seen = hub_last_seen,
	.note_offline = hub_note_offline,
	.disconnect = hub_disconnect,
};

/* ---------------------------------------------------------------- heartbeats */

/* Queues the host's last_seen_at write for the next flush when it is due (force: whenever
 * the in-memory time is newer). */
static void seen_add(struct agent_hub *h, struct agent_conn *c, int force)
{
	if (c->hb_dirty)
		return;
	if (!c->offline_marked && (force ? c->last_seen_ms <= c->persisted_ms
	                                 : c->last_seen_ms - c->persisted_ms < h->persist_ms))
		return;
	if (h->seen_len == h->seen_cap) {
		h->seen_cap = h->seen_cap ? h->seen_cap * 2 : 256;
		h->seen = rm_xrealloc(h->seen, h->seen_cap * sizeof h->seen[0]);
	}
	memcpy(h->seen[h->seen_len++], c->host_id, 27);
	c->hb_dirty = 1;
}

/* One transaction for every host seen since the last flush. */
static void seen_flush(struct agent_hub *h)
{
	if (!h->seen_len)
		return;
	struct store *st = h->app->store;
	int64_t now = rm_now_ms();
	int rc = store_begin(st);
	for (size_t i = 0; i < h->seen_len && !rc; i++) {
		struct agent_conn *c = map_get(h, h->seen[i]);
		rc = store_host_seen(st, h->seen[i], now);
		if (rc == RM_ERR_NOTFOUND)
			rc = RM_OK;
		if (!rc && c && c->offline_marked) {
			rc = store_host_set_status(st, h->seen[i], "online", now);
			if (!rc) {
				c->offline_marked = 0;
				notify_host_changed(h->app->notify, h->seen[i]);
			}
		}
	}
	if (!rc)
		rc = store_commit(st);
	if (rc) {
		store_rollback(st);
		RM_ERROR("heartbeat batch failed", "err", rm_strerror(rc));
	}
	for (size_t i = 0; i < h->seen_len; i++) {
		struct agent_conn *c = map_get(h, h->seen[i]);
		if (!c)
			continue;
		c->hb_dirty = 0;
		if (!rc)
			c->persisted_ms = now;
	}
	h->seen_len = 0;
}

static void hb_timer_cb(uv_timer_t *t)
{
	seen_flush(t->data);
}

/* ---------------------------------------------------------------- hello */

static void handle_hello(struct agent_hub *h, struct agent_conn *c, struct rm_envelope *env)
{
	struct app *app = h->app;
	const json_t *p = env->payload;
	long long pv = rmj_int(p, "protocol_version", 0);
	if (pv < RM_PROTO_MIN_VERSION || pv > RM_PROTO_VERSION) {
		char msg[300];
		snprintf(msg, sizeof msg,
		         "agent speaks protocol version %lld but this server (restic-manager %s) "
		         "supports versions %d to %d: upgrade the %s",
		         pv, RM_VERSION, RM_PROTO_MIN_VERSION, RM_PROTO_VERSION,
		         pv < RM_PROTO_MIN_VERSION ? "agent" : "server");
		RM_WARN("agent protocol version unsupported", "host_id", c->host_id, "version",
		        rmj_str(p, "agent_version"));
		conn_send_error(c, "protocol_version_unsupported", msg, env->id);
		ws_close(c->ws, 4001, "protocol_version_unsupported");
		return;
	}
	if (c->hello_done) {
		conn_send_error(c, "duplicate_hello", "hello already received", env->id);
		return;
	}
	struct agent_conn *old = map_get(h, c->host_id);
	if (old && old != c) {
		map_del(h, old);
		old->replaced = 1;
		if (old->ws)
			ws_close(old->ws, 4002, "replaced");
		RM_INFO("agent connection replaced", "host_id", c->host_id);
	}
	map_put(h, c);
	c->hello_done = 1;
	int64_t now = rm_now_ms();
	c->last_seen_ms = c->persisted_ms = now; /* store_host_hello writes last_seen_at */
	int rc = store_host_hello(app->store, c->host_id, rmj_str(p, "hostname"), rmj_str(p, "os"),
	                          rmj_str(p, "arch"), rmj_str(p, "agent_version"),
	                          rmj_str(p, "restic_version"), now);
	if (rc)
		RM_ERROR("host hello update failed", "host_id", c->host_id, "err", rm_strerror(rc));
	rc = store_host_set_agent_uid(app->store, c->host_id, rmj_int(p, "uid", -1));
	if (rc)
		RM_ERROR("host uid update failed", "host_id", c->host_id, "err", rm_strerror(rc));
	json_t *failed = json_array();
	rc = store_jobs_fail_unknown(app->store, c->host_id, json_object_get(p, "running_jobs"),
	                             "agent restarted", now, failed);
	if (rc)
		RM_ERROR("failing unknown jobs failed", "host_id", c->host_id, "err",
		         rm_strerror(rc));
	size_t i;
	json_t *v;
	json_array_foreach (failed, i, v)
		notify_job_changed(app->notify, json_string_value(v));
	json_decref(failed);
	RM_INFO("agent connected", "host_id", c->host_id, "hostname", rmj_str(p, "hostname"),
	        "agent_version", rmj_str(p, "agent_version"), "ip", c->ip);
	host_secrets_free(c->secrets);
	c->secrets = repo_policy_on_hello(app, c->host_id);
	policy_on_hello(app, c->host_id, p);
	policy_dispatch_awaiting(app, c->host_id);
	/* C6: the hello is acknowledged explicitly (an updated agent confirms its update on
	 * it), with the release key for agents enrolled before they got one (pinned on first
	 * use, docs/internals/agent.md) */
	const char *pk = update_pubkey(app);
	agent_conn_send(c, RM_MSG_ACK,
	                json_pack("{s:[s],s:s?}", "ids", env->id, "update_pubkey", pk));
	update_on_hello(app, c->host_id, rmj_str(p, "agent_version"));
	notify_host_changed(app->notify, c->host_id);
}

static void handle_command_result(struct agent_hub *h, struct agent_conn *c,
                                  struct rm_envelope *env)
{
	const json_t *p = env->payload;
	const char *job_id = rmj_str(p, "job_id");
	if (json_is_true(json_object_get(p, "accepted")))
		return;
	if (agent_job_owned(c, job_id))
		return;
	const char *err = rmj_str(p, "error");
	char *red = err ? host_secrets_redact(c->secrets, err, strlen(err)) : NULL;
	char msg[600];
	snprintf(msg, sizeof msg, "agent refused the command: %s",
	         red             ? red
	         : err && err[0] ? err
	                         : "?");
	free(red);
	char job_status[16] = "";
	json_t *job = store_job_get(h->app->store, job_id);
	if (job && rmj_str(job, "status"))
		rm_strlcpy(job_status, rmj_str(job, "status"), 16);
	json_decref(job);
	if (strcmp(job_status, "queued") != 0 && strcmp(job_status, "running") != 0)
		return;
	int rc = store_job_finish(h->app->store, job_id, "failed", -1, msg, NULL, rm_now_ms());
	if (rc)
		return;
	RM_WARN("agent refused a job", "host_id", c->host_id, "job_id", job_id);
	notify_job_changed(h->app->notify, job_id);
	notify_host_changed(h->app->notify, c->host_id);
}

/* ---------------------------------------------------------------- ws callbacks */

static int on_open(struct ws_conn *ws, void *appv)
{
	struct app *app = appv;
	struct agent_hub *h = app->agents;
	if (!h || h->stopped)
		return RM_ERR_FORBIDDEN;
	const char *auth = ws_conn_header(ws, "authorization");
	if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
		return RM_ERR_AUTH;
	const char *bearer = auth + 7;
	while (*bearer == ' ')
		bearer++;
	size_t bl = strlen(bearer);
	if (bl == 0 || bl > 256)
		return RM_ERR_AUTH;
	char hash[65], host_id[RM_ULID_BUF];
	rm_sha256_hex(bearer, bl, hash);
	int rc = store_host_by_bearer(app->store, hash, host_id);
	if (rc) {
		if (rc != RM_ERR_NOTFOUND)
			RM_ERROR("bearer lookup failed", "err", rm_strerror(rc));
		RM_WARN("agent connection refused: unknown bearer", "ip", ws_conn_remote_ip(ws));
		return RM_ERR_AUTH;
	}
	struct agent_conn *c = rm_xcalloc(1, sizeof *c);
	c->ws = ws;
	c->hub = h;
	rm_strlcpy(c->host_id, host_id, sizeof c->host_id);
	rm_strlcpy(c->ip, ws_conn_remote_ip(ws) ? ws_conn_remote_ip(ws) : "", sizeof c->ip);
	ws_conn_set_user(ws, c);
	return RM_OK;
}

static void on_message(struct ws_conn *ws, void *appv, const char *data, size_t len)
{
	struct app *app = appv;
	struct agent_hub *h = app->agents;
	struct agent_conn *c = ws_conn_user(ws);
	if (!c || !h || h->stopped || !c->ws)
		return;
	struct rm_envelope env;
	char err[256] = "";
	int rc = proto_decode(data, len, &env, err, sizeof err);
	if (rc == RM_ERR_TOOBIG) {
		ws_close(ws, 1009, "message too big");
		goto out;
	}
	if (rc == RM_ERR_UNKNOWN) {
		RM_DEBUG("ignoring unknown message type", "host_id", c->host_id, "type",
		         env.type_name);
		goto out;
	}
	if (rc) {
		RM_WARN("malformed agent message", "host_id", c->host_id, "error", err);
		conn_send_error(c, "malformed", err[0] ? err : "malformed envelope", env.id);
		goto out;
	}
	const struct rm_msg_desc *d = proto_msg_desc(env.type);
	if (!d || !(d->dir & RM_DIR_A2S)) {
		conn_send_error(c, "unexpected", "message type not accepted from an agent", env.id);
		goto out;
	}
	if (!c->hello_done && env.type != RM_MSG_HELLO) {
		conn_send_error(c, "hello_required", "send hello first", env.id);
		goto out;
	}
	switch (env.type) {
	case RM_MSG_HELLO: handle_hello(h, c, &env); break;
	case RM_MSG_HEARTBEAT:
		c->last_seen_ms = rm_now_ms();
		seen_add(h, c, 0);
		agent_conn_ack(c, env.id);
		break;
	case RM_MSG_JOB_STARTED:
	case RM_MSG_LOG_STREAM:
	case RM_MSG_JOB_FINISHED:
	case RM_MSG_SNAPSHOTS_REPORT:
	case RM_MSG_STATS_REPORT: agent_enqueue(h, c, &env); break;
	case RM_MSG_JOB_PROGRESS: {
		const char *job_id = rmj_str(env.payload, "job_id");
		if (agent_job_owned(c, job_id) == RM_OK) {
			json_t *prog = json_deep_copy(env.payload);
			json_object_del(prog, "job_id");
			host_secrets_redact_json(c->secrets, prog);
			job_hub_publish_progress(app->jobs, job_id, prog);
			json_decref(prog);
		}
		break;
	}
	case RM_MSG_COMMAND_RESULT: handle_command_result(h, c, &env); break;
	case RM_MSG_SCHEDULE_ACK: policy_on_ack(app, c->host_id, env.payload); break;
	case RM_MSG_UPDATE_STATUS: update_on_status(app, c->host_id, env.payload); break;
	case RM_MSG_ERROR:
		RM_WARN("agent reported an error", "host_id", c->host_id, "code",
		        rmj_str(env.payload, "code"), "message", rmj_str(env.payload, "message"));
		break;
	case RM_MSG_TREE_LIST_RESULT:
	case RM_MSG_FORGET_PREVIEW_RESULT: rpc_deliver(app, c->host_id, env.payload); break;
	case RM_MSG_SNAPSHOT_DIFF_RESULT:
	case RM_MSG_STREAM_OPEN_RESULT: rpc_deliver(app, c->host_id, env.payload); break;
	case RM_MSG_STREAM_DATA:
	case RM_MSG_STREAM_END: dl_deliver(app, c->host_id, env.type, env.payload); break;
	default: /* ack */ break;
	}
out:
	proto_envelope_cleanup(&env);
}

static void on_close(struct ws_conn *ws, void *appv)
{
	struct app *app = appv;
	struct agent_hub *h = app->agents;
	struct agent_conn *c = ws_conn_user(ws);
	if (!c)
		return;
	c->ws = NULL;
	if (c->in_map) {
		map_del(h, c);
		rpc_host_gone(app, c->host_id);
		dl_host_gone(app, c->host_id);
		if (!h->stopped && !app->shutting_down) {
			int64_t now = rm_now_ms();
			/* "agent lost" runs from the last message: persist it if it was deferred */
			int rc = RM_OK;
			if (c->last_seen_ms > c->persisted_ms)
				rc = store_host_seen(app->store, c->host_id, c->last_seen_ms);
			if (!rc)
				rc = store_host_set_status(app->store, c->host_id, "offline", now);
			if (rc)
				RM_ERROR("marking host offline failed", "host_id", c->host_id);
			notify_host_changed(app->notify, c->host_id);
		}
		RM_INFO("agent disconnected", "host_id", c->host_id);
	}
	agent_conn_release(c);
}

/* Download data (engine/download.h): only from an agent that said hello. */
static void on_binary(struct ws_conn *ws, void *appv, const unsigned char *data, size_t len)
{
	struct agent_conn *c = ws_conn_user(ws);
	if (c && c->hello_done)
		dl_deliver_frame(appv, c->host_id, data, len);
}

static const struct ws_endpoint endpoint = {
	.path = "/ws/agent",
	.subprotocol = RM_PROTO_SUBPROTOCOL,
	.max_message = RM_PROTO_MAX_FRAME,
	.max_queue = AGENT_QUEUE_MAX,
	.on_open = on_open,
	.on_message = on_message,
	.on_close = on_close,
	.on_drain = NULL,
	.on_binary = on_binary,
};

const struct ws_endpoint *agent_hub_endpoint(void)
{
	return &endpoint;
}

/* ---------------------------------------------------------------- lifecycle */

static void handle_closed(uv_handle_t *hd)
{
	struct agent_hub *h = hd->data;
	h->handles_open--;
}

struct agent_hub *agent_hub_new(struct app *app)
{
	struct agent_hub *h = rm_xcalloc(1, sizeof *h);
	h->app = app;
	uv_check_init(app->loop, &h->check);
	h->check.data = h;
	uv_timer_init(app->loop, &h->hb_timer);
	h->hb_timer.data = h;
	h->handles_open = 2;
	h->persist_ms = HB_PERSIST_MAX_MS;
	if (app->cfg && app->cfg->offline_after_s * 1000 / 3 < h->persist_ms)
		h->persist_ms = app->cfg->offline_after_s * 1000 / 3;
	uv_timer_start(&h->hb_timer, hb_timer_cb, HB_FLUSH_MS, HB_FLUSH_MS);
	presence_set_provider(app->presence, &presence_ops, h);
	return h;
}

void agent_hub_stop(struct agent_hub *h)
{
	if (!h || h->stopped)
		return;
	agent_queue_flush(h);
	for (size_t b = 0; b < HUB_BUCKETS; b++)
		for (struct agent_conn *c = h->buckets[b]; c; c = c->hnext)
			if (c->ws)
				seen_add(h, c, 1);
	seen_flush(h);
	h->stopped = 1;
	if (h->check_active)
		uv_check_stop(&h->check);
	h->check_active = 0;
	uv_timer_stop(&h->hb_timer);
	uv_close((uv_handle_t *)&h->check, handle_closed);
	uv_close((uv_handle_t *)&h->hb_timer, handle_closed);
}

void agent_hub_free(struct agent_hub *h)
{
	if (!h)
		return;
	presence_set_provider(h->app->presence, NULL, NULL);
	/* connections were closed by http_server_stop (on_close freed them) */
	while (h->q_head) {
		struct agent_ev *n = h->q_head->next;
		agent_ev_free(h->q_head);
		h->q_head = n;
	}
	for (size_t b = 0; b < HUB_BUCKETS; b++) {
		struct agent_conn *c = h->buckets[b];
		while (c) {
			struct agent_conn *n = c->hnext;
			if (!c->ws) {
				json_decref(c->acks);
				host_secrets_free(c->secrets);
				free(c);
			}
			c = n;
		}
	}
	free(h->seen);
	free(h->linebuf);
	free(h);
}
