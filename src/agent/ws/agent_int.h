#ifndef RM_AGENT_WS_AGENT_INT_H
#define RM_AGENT_WS_AGENT_INT_H
/* Inside the agent core, shared by client.c (connection, send path, lifecycle) and
 * handlers.c (messages from the server). Not for other modules: they use client.h. */
#include <jansson.h>
#include <libwebsockets.h>
#include <stdint.h>
#include <uv.h>

#include "agent/ws/backoff.h"
#include "agent/ws/client.h"
#include "agent/ws/url.h"
#include "common/buf.h"
#include "common/msgq.h"
#include "common/proto.h"

struct agent {
	uv_loop_t *loop;
	char *server_url, *bearer, *tls_pin, *host_id, *state_dir, *restic_path;
	char *restic_version;
	struct ws_url url;
	char host_hdr[300];
	char hostname[256];
	int64_t boot_ms;
	unsigned heartbeat_s;
	int offline, stopping, started;

	struct lws_context *ctx;
	struct lws *wsi;
	int connected, hello_sent, hello_acked, proto_mismatch, unauthorized, mismatch_logged;
	int kill_conn;
	int key_conflict_logged; /* C6: a server named another release key (logged once) */
	int64_t connected_at, last_rx;
	struct backoff bo;
	uv_timer_t reconnect_timer, heartbeat_timer, flush_timer;
	int timers_init;
	struct rm_buf rx;
	int rx_toobig;
	struct msgq sendq;

	struct outbox *ob;
	int ob_unsynced;
	struct secrets *sec;
	struct runner *runner;
	struct scheduler *sched;
	struct browse *browse; /* snapshot browsing, created on first use (browse_rpc.c) */
	struct dumps *dumps;
};

/* Encodes and queues for this connection (dropped when not connected or the send queue
 * is full). payload ownership passes to the callee. */
void agent_send_msg(struct agent *a, enum rm_msg_type t, json_t *payload_take);
/* RPC answers (server engine/rpc.h): a `<request>.result` envelope carrying request_id.
 * reply takes payload (NULL = empty); error sends {"error": {code, message}}. Ephemeral:
 * dropped when not connected (the server's call then ends lost or timed out). */
void agent_rpc_reply(struct agent *a, enum rm_msg_type result_type, const char *request_id,
                     json_t *payload_take);
void agent_rpc_error(struct agent *a, enum rm_msg_type result_type, const char *request_id,
                     const char *code, const char *message);
/* Queues a binary frame (stream data, see browse_rpc.c): RM_ERR_AGAIN when not connected,
 * RM_ERR_TOOBIG when the queue would hold more than limit bytes. */
int agent_try_send_binary(struct agent *a, const void *data, size_t len, size_t limit);
/* browse_rpc.c: tree.list, snapshot.diff, stream.open/ack/cancel; connection lost (every
 * download ends); stop (children killed, everything freed). */
void agent_handle_browse(struct agent *a, const struct rm_envelope *env);
void agent_browse_conn_lost(struct agent *a);
void agent_browse_stop(struct agent *a);
/* An `error` envelope; ref may be NULL or "". */
void agent_send_error(struct agent *a, const char *code, const char *msg, const char *ref);
/* Sends hello (running jobs + terminal events still in the outbox) and marks it sent. */
void agent_send_hello(struct agent *a);
/* Schedules an outbox flush (fsync, drop acked segments) shortly. */
void agent_arm_flush(struct agent *a);
/* Submits a job to the runner with the repository credentials its kind uses (admin slot
 * for prune/forget when set). started_extra may be NULL. Returns runner_submit_ex's code;
 * *why (static text) says why a job was refused. */
int agent_submit_job(struct agent *a, const char *job_id, const char *kind, const json_t *args,
                     const json_t *started_extra, const char **why);
/* update.c (C6): command.update; the first acknowledged hello after a restart confirms or
 * reports an update (marker in the state directory). */
void agent_handle_update(struct agent *a, const struct rm_envelope *env);
void agent_update_on_hello_acked(struct agent *a);
/* Returns freed heap to the kernel when no job runs (cheap; called when idle). */
void agent_trim_heap(struct agent *a);

#endif
