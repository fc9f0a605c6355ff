/* The agent core's connection: the WebSocket client (lws on our uv loop), the send path
 * (bounded queue, then the outbox), runner sink, heartbeat, reconnect and lifecycle.
 * Messages from the server are handled in handlers.c. See client.h and
 * docs/internals/messages.md. */
#include "agent/ws/client.h"

#include <errno.h>
#include <libwebsockets.h>
#include <malloc.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/host.h"
#include "agent/restic/probe.h"
#include "agent/runner/runner.h"
#include "agent/scheduler/scheduler.h"
#include "agent/secrets.h"
#include "agent/ws/agent_int.h"
#include "agent/ws/backoff.h"
#include "agent/ws/outbox.h"
#include "agent/ws/tls.h"
#include "agent/ws/url.h"
#include "common/buf.h"
#include "common/crypto.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/msgq.h"
#include "common/proto.h"
#include "common/rmtime.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000
#define RETRY_UNAUTHORIZED_MS 60000
#define RETRY_PROTO_MISMATCH_MS (10 * 60 * 1000)
#define STABLE_CONN_MS 30000
#define FLUSH_DELAY_MS 50
#define SENDQ_MAX     \
	(12u * 1024 * \
	 1024) /* per-connection queue (hello, heartbeats, results, download frames: 2 x 4 MiB windows) */

/* ================================================================= send queue */

static void kick(struct agent *a)
{
	if (a->wsi && a->connected)
		lws_callback_on_writable(a->wsi);
}

/* Queues text (takes ownership) for this connection; dropped when not connected or when
 * the queue is full (droppable traffic, i.e. progress, gets a quarter of it). */
static void send_text(struct agent *a, char *text, int droppable)
{
	if (!text)
		return;
	int rc = a->connected
	             ? msgq_push(&a->sendq, text, strlen(text), droppable ? SENDQ_MAX / 4 : 0)
	             : RM_ERR_AGAIN;
	free(text);
	if (rc == RM_OK)
		kick(a);
}

void agent_send_msg(struct agent *a, enum rm_msg_type t, json_t *payload_take)
{
	send_text(a, proto_encode(t, payload_take, NULL), 0);
}

int agent_try_send_binary(struct agent *a, const void *data, size_t len, size_t limit)
{
	int rc =
	    a->connected ? msgq_push_flags(&a->sendq, data, len, limit, MSGQ_BINARY) : RM_ERR_AGAIN;
	if (rc == RM_OK)
		kick(a);
	return rc;
}

void agent_rpc_reply(struct agent *a, enum rm_msg_type result_type, const char *request_id,
                     json_t *payload_take)
{
	json_t *p = payload_take ? payload_take : json_object();
	json_object_set_new(p, "request_id", json_string(request_id ? request_id : ""));
	agent_send_msg(a, result_type, p);
}

void agent_rpc_error(struct agent *a, enum rm_msg_type result_type, const char *request_id,
                     const char *code, const char *message)
{
	json_t *e = json_pack("{s:s,s:s}", "code", code, "message", message);
	agent_rpc_reply(a, result_type, request_id, json_pack("{s:o}", "error", e));
}

void agent_send_error(struct agent *a, const char *code, const char *msg, const char *ref)
{
	send_text(a, proto_encode_error(code, msg, ref && *ref ? ref : NULL), 0);
}

/* ================================================================= outbox glue */

static void flush_cb(uv_timer_t *t)
{
	struct agent *a = t->data;
	if (a->ob) {
		outbox_flush(a->ob);
		a->ob_unsynced = 0;
	}
}

void agent_arm_flush(struct agent *a)
{
	if (!a->timers_init || a->stopping || uv_is_active((uv_handle_t *)&a->flush_timer))
		return;
	uv_timer_start(&a->flush_timer, flush_cb, FLUSH_DELAY_MS, 0);
}

static int job_active_cb(void *ud, const char *job_id)
{
	struct agent *a = ud;
	if (!a->runner)
		return 0;
	json_t *arr = json_array();
	runner_active_ids(a->runner, arr);
	int r = outbox_json_array_has(arr, job_id);
	json_decref(arr);
	return r;
}

static void on_emit(void *ud, int type, json_t *payload_take)
{
	struct agent *a = ud;
	if (type == RM_MSG_JOB_FINISHED && a->sched) /* retries of scheduled jobs */
		scheduler_job_finished(a->sched, rmj_str(payload_take, "job_id"),
		                       rmj_str(payload_take, "status"), (int64_t)time(NULL));
	char *env = proto_encode((enum rm_msg_type)type, payload_take, NULL);
	if (type == RM_MSG_JOB_PROGRESS) {
		if (a->connected && a->hello_sent)
			send_text(a, env, 1);
		else
			free(env);
		return;
	}
	int rc = a->ob ? outbox_append(a->ob, env, strlen(env)) : RM_ERR_IO;
	if (rc) {
		RM_ERROR("outbox append failed; sending without persistence", "type",
		         proto_type_name((enum rm_msg_type)type), "error", rm_strerror(rc));
		if (a->connected && a->hello_sent)
			send_text(a, env, 0);
		else
			free(env);
		return;
	}
	free(env);
	a->ob_unsynced = 1;
	agent_arm_flush(a);
	if (a->hello_sent)
		kick(a);
}

/* The scheduler's jobs: backups, and the maintenance kinds its started_extra names
 * ("kind"), with the repository credentials of the moment. */
static int sched_submit(void *ud, const char *job_id, const json_t *args,
                        const json_t *started_extra)
{
	const char *why = NULL;
	const char *kind = rmj_str(started_extra, "kind");
	int rc = agent_submit_job(ud, job_id, kind ? kind : "backup", args, started_extra, &why);
	if (rc && rc != RM_ERR_NOTFOUND)
		RM_WARN("scheduled job not queued", "job_id", job_id, "error", why);
	return rc == RM_ERR_NOTFOUND ? RM_OK : rc; /* restic missing: reported as a failed job */
}

/* Hand freed heap back to the kernel while idle (startup, TLS handshake, a finished
 * job's buffers); glibc only trims the top of the heap by itself. Cheap: the heap is
 * small, and it runs at most once per heartbeat. */
void agent_trim_heap(struct agent *a)
{
	if (!a->runner || runner_active_count(a->runner) == 0)
		malloc_trim(0);
}

/* ================================================================= connection */

static void do_connect(struct agent *a);

static void reconnect_cb(uv_timer_t *t)
{
	do_connect(t->data);
}

static void schedule_reconnect(struct agent *a, uint32_t delay_ms, const char *why)
{
	if (a->stopping || !a->timers_init || uv_is_active((uv_handle_t *)&a->reconnect_timer))
		return;
	char d[32];
	snprintf(d, sizeof d, "%u", delay_ms);
	RM_INFO("reconnecting later", "reason", why, "delay_ms", d);
	uv_timer_start(&a->reconnect_timer, reconnect_cb, delay_ms, 0);
}

static uint32_t next_delay(struct agent *a)
{
	if (a->proto_mismatch)
		return RETRY_PROTO_MISMATCH_MS;
	if (a->unauthorized)
		return RETRY_UNAUTHORIZED_MS;
	return backoff_next(&a->bo);
}

static void conn_reset(struct agent *a)
{
	a->wsi = NULL;
	a->connected = 0;
	a->hello_sent = 0;
	a->hello_acked = 0;
	a->kill_conn = 0;
	msgq_clear(&a->sendq);
	rm_buf_reset(&a->rx);
	a->rx_toobig = 0;
	agent_browse_conn_lost(a);
	if (a->ob)
		outbox_rewind(a->ob);
}

static void do_connect(struct agent *a)
{
	if (a->stopping || !a->ctx || a->wsi)
		return;
	struct lws_client_connect_info i;
	memset(&i, 0, sizeof i);
	char path[1100];
	snprintf(path, sizeof path, "%s/ws/agent", a->url.base);
	i.context = a->ctx;
	i.address = a->url.host;
	i.port = a->url.port;
	i.path = path;
	i.host = a->host_hdr;
	i.origin = a->host_hdr;
	i.protocol = RM_PROTO_SUBPROTOCOL;
	i.local_protocol_name = RM_PROTO_SUBPROTOCOL;
	if (a->url.tls) {
		i.ssl_connection = LCCSCF_USE_SSL;
		if (a->tls_pin) /* the pin replaces CA and name checks (verified in our callback) */
			i.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED |
			                    LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
			                    LCCSCF_ALLOW_EXPIRED;
	}
	i.pwsi = &a->wsi;
	a->unauthorized = 0;
	a->proto_mismatch = 0; /* mismatch_logged stays: one log line until a good session */
	RM_DEBUG("connecting", "server", a->server_url);
	if (!lws_client_connect_via_info(&i)) {
		a->wsi = NULL;
		schedule_reconnect(a, next_delay(a), "connect failed");
	}
}

static void heartbeat_cb(uv_timer_t *t)
{
	struct agent *a = t->data;
	if (!a->connected || !a->hello_sent)
		return;
	int64_t silent = rm_mono_ms() - a->last_rx;
	if (silent > (int64_t)a->heartbeat_s * 3000 + 5000) {
		RM_WARN("server silent for too long; reconnecting");
		a->kill_conn = 1; /* closed from the writeable callback */
		lws_callback_on_writable(a->wsi);
		return;
	}
	char ts[RM_TIME_STRLEN];
	rm_time_fmt(rm_now_ms(), ts);
	agent_send_msg(a, RM_MSG_HEARTBEAT, json_pack("{s:s}", "sent_at", ts));
	agent_trim_heap(a);
}

static int on_writeable(struct agent *a, struct lws *wsi)
{
	if (!a->connected)
		return 0;
	if (a->kill_conn) {
		lws_close_reason(wsi, LWS_CLOSE_STATUS_GOINGAWAY, (unsigned char *)"timeout", 7);
		return -1;
	}
	size_t mlen = 0;
	unsigned char *m = msgq_peek(&a->sendq, &mlen);
	if (m) {
		int bin = msgq_peek_flags(&a->sendq) & MSGQ_BINARY;
		int n = lws_write(wsi, m, mlen, bin ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
		msgq_pop(&a->sendq);
		if (n < 0)
			return -1;
	} else if (a->hello_sent && a->ob) {
		if (a->ob_unsynced) {
			/* what goes on the wire must be on disk first */
			outbox_flush(a->ob);
			a->ob_unsynced = 0;
		}
		char *buf = NULL;
		size_t len = 0;
		int rc = outbox_next(a->ob, LWS_PRE, &buf, &len);
		if (rc == RM_OK) {
			int n = lws_write(wsi, (unsigned char *)buf + LWS_PRE, len, LWS_WRITE_TEXT);
			free(buf);
			if (n < 0)
				return -1;
		}
	}
	if (msgq_count(&a->sendq) || (a->hello_sent && a->ob && outbox_has_unsent(a->ob)))
		lws_callback_on_writable(wsi);
	return 0;
}

static int on_receive(struct agent *a, struct lws *wsi, const void *in, size_t len)
{
	if (!a->rx_toobig && rm_buf_append(&a->rx, in, len)) {
		a->rx_toobig = 1;
		RM_WARN("frame from server too big; closing", "limit", "1048576");
	}
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
		return 0;
	if (a->rx_toobig) {
		lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
		                 (unsigned char *)"frame too big", 13);
		return -1;
	}
	if (lws_frame_is_binary(wsi)) {
		agent_send_error(a, "malformed", "binary frames are not part of the protocol",
		                 NULL);
	} else {
		agent_handle_frame(a, a->rx.data ? a->rx.data : "", a->rx.len);
	}
	if (a->rx.data) /* config.update frames carry repository passwords */
		sodium_memzero(a->rx.data, a->rx.len);
	rm_buf_reset(&a->rx);
	return 0;
}

/* One switch over lws callback reasons (long, but each case is a few lines: lws wants a
 * single callback per protocol). */
static int ws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                 size_t len)
{
	struct agent *a = wsi ? lws_context_user(lws_get_context(wsi)) : NULL;
	if (!a)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
		return ws_tls_verify_pin(a->tls_pin, user);

	case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_CLIENT_VERIFY_CERTS:
		ws_tls_ctx_setup(user, a->tls_pin);
		break;

	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
		unsigned char **p = in, *end = *p + len;
		char *v = rm_xasprintf("Bearer %s", a->bearer);
		int r = lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
		                                     (unsigned char *)v, (int)strlen(v), p, end);
		free(v);
		return r ? -1 : 0;
	}

	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		if (wsi != a->wsi && a->wsi)
			return -1;
		a->wsi = wsi;
		a->connected = 1;
		a->connected_at = a->last_rx = rm_mono_ms();
		RM_INFO("connected to server", "server", a->server_url, "host_id", a->host_id);
		if (a->ob)
			outbox_rewind(a->ob);
		agent_send_hello(a);
		lws_callback_on_writable(wsi);
		break;

	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
		const char *why = in && len ? (const char *)in : "connection error";
		int status = (int)lws_http_client_http_response(wsi);
		if (status == 401 || strstr(why, "unauthorized")) {
			a->unauthorized = 1;
			RM_ERROR(
			    "bearer rejected: re-enroll this host (restic-manager-agent enroll "
			    "--server URL --token TOKEN); retrying every 60 s");
		} else {
			RM_WARN("cannot connect to server", "server", a->server_url, "error", why);
		}
		conn_reset(a);
		schedule_reconnect(a, next_delay(a), a->unauthorized ? "unauthorized" : "error");
		break;
	}

	case LWS_CALLBACK_CLIENT_RECEIVE: return on_receive(a, wsi, in, len);

	case LWS_CALLBACK_CLIENT_WRITEABLE: return on_writeable(a, wsi);

	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: {
		char code[16] = "";
		if (len >= 2) {
			const unsigned char *c = in;
			snprintf(code, sizeof code, "%u", (unsigned)(c[0] << 8 | c[1]));
		}
		RM_INFO("server closed the connection", "code", code);
		break;
	}

	case LWS_CALLBACK_CLIENT_CLOSED: {
		if (wsi != a->wsi)
			break;
		int64_t up = rm_mono_ms() - a->connected_at;
		int was = a->connected;
		conn_reset(a);
		if (a->stopping)
			break;
		RM_WARN("disconnected from server", "server", a->server_url);
		if (was && up >= STABLE_CONN_MS)
			backoff_reset(&a->bo);
		schedule_reconnect(a, next_delay(a), "closed");
		break;
	}

	default: break;
	}
	return 0;
}

/* Small rx buffer: lws hands us frames in pieces of at most this size and on_receive
 * reassembles them (up to RM_PROTO_MAX_FRAME) in a->rx. */
static const struct lws_protocols protocols[] = {
	{ RM_PROTO_SUBPROTOCOL, ws_cb, 0, 8 * 1024, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static void lws_log_emit(int level, const char *line)
{
	char buf[512];
	rm_strlcpy(buf, line, sizeof buf);
	size_t n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = 0;
	/* lws timestamps its lines: "[2024/..] W: text" -> keep the text */
	const char *t = buf;
	const char *p = strstr(buf, ": ");
	if (buf[0] == '[' && p)
		t = p + 2;
	if (level & LLL_ERR)
		RM_WARN("libwebsockets", "detail", t);
	else
		RM_DEBUG("libwebsockets", "detail", t);
}

/* ================================================================= lifecycle */

/* `restic restore --help`: which restore flags this restic has (--no-ownership is 0.17+). */
static void help_done(void *ud, const char *text)
{
	struct agent *a = ud;
	runner_set_features(a->runner, a->restic_version, text);
	if (a->stopping)
		return;
	do_connect(a);
}

static void probe_done(void *ud, const char *version)
{
	struct agent *a = ud;
	free(a->restic_version);
	a->restic_version = rm_xstrdup(version);
	if (*version)
		RM_INFO("restic found", "path", a->restic_path, "version", version);
	else
		RM_WARN("restic did not answer `restic version`; jobs will fail", "path",
		        a->restic_path);
	if (a->stopping)
		return;
	if (*version) {
		restic_probe_restore_help(a->loop, a->restic_path, help_done, a);
		return;
	}
	do_connect(a);
}

/* The lws context on our loop. Its own handles live on the loop from here on: a failure
 * is cleaned up by agent_stop + running the loop, which is why agent_new does not do it. */
static int ws_context_create(struct agent *a)
{
	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);
	struct lws_context_creation_info ci;
	memset(&ci, 0, sizeof ci);
	void *loops[1] = { a->loop };
	ci.port = CONTEXT_PORT_NO_LISTEN;
	ci.protocols = protocols;
	ci.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_UV_NO_SIGSEGV_SIGFPE_SPIN;
	if (a->url.tls) /* no OpenSSL init nor client SSL_CTX at all for ws:// */
		ci.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
		              LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS; /* see ws_tls_ctx_setup */
	/* lws sizes its fd tables by `ulimit -n` (20,000 fds = 320 KiB, all touched); we
	 * hold one connection, plus a closing one across a reconnect. */
	ci.count_threads = 1;
	ci.fd_limit_per_thread = 16;
	ci.pt_serv_buf_size = 4096;
	ci.foreign_loops = loops;
	ci.user = a;
	ci.pcontext = &a->ctx;
	ci.gid = -1;
	ci.uid = -1;
	a->ctx = lws_create_context(&ci);
	if (!a->ctx) {
		RM_ERROR("cannot create the websocket context (is libwebsockets-evlib-uv "
		         "installed?)");
		return RM_ERR_IO;
	}
	return RM_OK;
}

int agent_start(struct agent *a)
{
	if (a->started || a->offline)
		return RM_OK;
	a->started = 1;
	int rc = ws_context_create(a);
	if (rc)
		return rc;
	if (a->restic_path) {
		restic_probe_version(a->loop, a->restic_path, probe_done, a);
	} else {
		RM_WARN("restic not found (install it: apt-get install restic); the agent stays "
		        "connected but jobs fail until it is installed");
		do_connect(a);
	}
	uv_timer_start(&a->heartbeat_timer, heartbeat_cb, (uint64_t)a->heartbeat_s * 1000,
	               (uint64_t)a->heartbeat_s * 1000);
	scheduler_start(a->sched); /* catch-ups run on the next loop turn */
	return RM_OK;
}

/* Long: the constructor sets up each part in order (config, outbox, runner, scheduler,
 * timers) with one cleanup path; split, it would only pass the half-built agent around. */
int agent_new(const struct agent_opts *o, struct agent **out)
{
	const struct agent_config *c = o->cfg;
	struct agent *a = rm_xcalloc(1, sizeof *a);
	int rc = RM_OK;
	a->loop = o->loop;
	a->offline = o->offline;
	a->state_dir = rm_xstrdup(o->state_dir);
	a->server_url = rm_xstrdup(c->server_url ? c->server_url : "http://127.0.0.1");
	a->bearer = rm_xstrdup(c->bearer ? c->bearer : "");
	a->host_id = rm_xstrdup(c->host_id ? c->host_id : "");
	a->tls_pin = c->tls_pin ? rm_xstrdup(c->tls_pin) : NULL;
	a->restic_path = o->restic_path ? rm_xstrdup(o->restic_path) : NULL;
	a->restic_version = rm_xstrdup("");
	a->heartbeat_s = o->heartbeat_s ? o->heartbeat_s : 30;
	a->boot_ms = rm_now_ms();
	host_name(a->hostname, sizeof a->hostname);
	rm_buf_init(&a->rx, RM_PROTO_MAX_FRAME);
	msgq_init(&a->sendq, SENDQ_MAX, LWS_PRE);
	backoff_init(&a->bo, BACKOFF_MIN_MS, BACKOFF_MAX_MS);
	if (a->bearer[0])
		rm_log_add_secret(a->bearer);

	if (ws_url_parse(a->server_url, &a->url)) {
		RM_ERROR("invalid server URL in config", "server", a->server_url);
		rc = RM_ERR_INVAL;
		goto out;
	}
	ws_url_host_header(&a->url, a->host_hdr, sizeof a->host_hdr);

	if (agent_mkdirs(a->state_dir, 0700)) {
		RM_ERROR("cannot create state directory", "path", a->state_dir, "error",
		         strerror(errno));
		rc = RM_ERR_IO;
		goto out;
	}
	uint8_t key[RM_KEY_BYTES];
	int have_key = agent_config_secrets_key(c, key) == RM_OK;
	if (!have_key)
		RM_WARN("no valid secrets_key in config; repository credentials cannot be stored");
	else if (secrets_open(a->state_dir, key, &a->sec) == RM_OK) /* corrupt: logged */
		secrets_drop_legacy_admin(a->sec);

	char *obdir = rm_xasprintf("%s/outbox", a->state_dir);
	struct outbox_opts oo = {
		.dir = obdir, .max_bytes = o->outbox_max, .job_active = job_active_cb, .ud = a
	};
	rc = outbox_open(&oo, &a->ob);
	free(obdir);
	if (rc)
		goto out;

	if (!a->offline) {
		/* the last step that can fail: it creates loop handles only once it succeeds */
		struct runner_opts ro = { .loop = a->loop,
			                  .restic_path = a->restic_path,
			                  .state_dir = a->state_dir,
			                  .hostname = a->hostname,
			                  .emit = on_emit,
			                  .ud = a,
			                  .cancel_grace_ms = 5000 };
		rc = runner_new(&ro, &a->runner);
		if (rc) {
			RM_ERROR("cannot start the job runner", "error", rm_strerror(rc));
			goto out;
		}
	}
	struct scheduler_opts so = { .loop = a->loop,
		                     .state_dir = a->state_dir,
		                     .key = have_key ? key : NULL,
		                     .submit = sched_submit,
		                     .ud = a };
	scheduler_new(&so, &a->sched); /* a corrupt spec: logged, moved aside, runs without */
	uv_timer_init(a->loop, &a->reconnect_timer);
	uv_timer_init(a->loop, &a->heartbeat_timer);
	uv_timer_init(a->loop, &a->flush_timer);
	a->reconnect_timer.data = a->heartbeat_timer.data = a->flush_timer.data = a;
	a->timers_init = 1;
out:
	sodium_memzero(key, sizeof key);
	if (rc) {
		agent_free(a); /* nothing of ours is on the loop yet */
		return rc;
	}
	*out = a;
	return RM_OK;
}

void agent_stop(struct agent *a)
{
	if (!a || a->stopping)
		return;
	a->stopping = 1;
	RM_INFO("agent stopping");
	if (a->timers_init) {
		uv_close((uv_handle_t *)&a->reconnect_timer, NULL);
		uv_close((uv_handle_t *)&a->heartbeat_timer, NULL);
		uv_close((uv_handle_t *)&a->flush_timer, NULL);
		a->timers_init = 0;
	}
	scheduler_free(a->sched); /* before the runner: it submits to it */
	a->sched = NULL;
	agent_browse_stop(a);
	if (a->runner) {
		runner_free(a->runner);
		a->runner = NULL;
	}
	if (a->wsi && a->connected)
		lws_close_reason(a->wsi, LWS_CLOSE_STATUS_GOINGAWAY, (unsigned char *)"bye", 3);
	conn_reset(a);
	if (a->ctx)
		lws_context_destroy(a->ctx); /* pcontext NULLs a->ctx when done */
	if (a->ob) {
		outbox_flush(a->ob);
		a->ob_unsynced = 0;
	}
}

void agent_free(struct agent *a)
{
	if (!a)
		return;
	if (a->ctx) {
		lws_context_destroy(a->ctx);
		a->ctx = NULL;
	}
	msgq_clear(&a->sendq);
	outbox_close(a->ob);
	secrets_free(a->sec);
	rm_buf_cleanup(&a->rx);
	free(a->server_url);
	sodium_memzero(a->bearer, strlen(a->bearer));
	free(a->bearer);
	free(a->tls_pin);
	free(a->host_id);
	free(a->state_dir);
	free(a->restic_path);
	free(a->restic_version);
	free(a);
}
