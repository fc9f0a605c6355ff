/* The agent core: WebSocket client (lws on our uv loop), message handling, runner sink,
 * outbox replay, heartbeat and reconnect. See client.h and docs/internals/messages.md. */
#include "agent/ws/client.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <libwebsockets.h>
#include <malloc.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "agent/runner/runner.h"
#include "agent/secrets.h"
#include "agent/ws/backoff.h"
#include "agent/ws/outbox.h"
#include "common/buf.h"
#include "common/crypto.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/rmtime.h"

#ifndef RM_VERSION
#define RM_VERSION "0.0.0"
#endif

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000
#define RETRY_UNAUTHORIZED_MS 60000
#define RETRY_PROTO_MISMATCH_MS (10 * 60 * 1000)
#define STABLE_CONN_MS 30000
#define FLUSH_DELAY_MS 50
#define SENDQ_MAX (4u * 1024 * 1024) /* per-connection queue (hello, heartbeats, results) */

struct msgq {
	struct msgq *next;
	size_t len;
	unsigned char data[]; /* LWS_PRE spare bytes, then the text */
};

struct agent {
	uv_loop_t *loop;
	char *server_url, *bearer, *tls_pin, *host_id, *state_dir, *restic_path;
	char *restic_version;
	struct agent_url url;
	char host_hdr[300];
	char hostname[256];
	int64_t boot_ms;
	unsigned heartbeat_s;
	int offline, stopping, started;

	struct lws_context *ctx;
	struct lws *wsi;
	int connected, hello_sent, hello_acked, proto_mismatch, unauthorized, mismatch_logged;
	int kill_conn;
	int64_t connected_at, last_rx;
	struct backoff bo;
	uv_timer_t reconnect_timer, heartbeat_timer, flush_timer;
	int timers_init;
	struct rm_buf rx;
	int rx_toobig;
	struct msgq *qhead, *qtail;
	size_t qbytes;

	struct outbox *ob;
	int ob_unsynced;
	struct secrets *sec;
	struct runner *runner;
};

/* ================================================================= helpers */

const char *agent_arch(void)
{
	static char machine[65];
	struct utsname u;
	if (uname(&u))
		return "unknown";
	if (!strcmp(u.machine, "x86_64"))
		return "amd64";
	if (!strcmp(u.machine, "aarch64") || !strcmp(u.machine, "arm64"))
		return "arm64";
	rm_strlcpy(machine, u.machine, sizeof machine);
	return machine;
}

void agent_hostname(char *buf, size_t len)
{
	if (gethostname(buf, len))
		rm_strlcpy(buf, "unknown", len);
	buf[len - 1] = 0;
}

char *agent_find_in_path(const char *name)
{
	if (strchr(name, '/'))
		return access(name, X_OK) == 0 ? rm_xstrdup(name) : NULL;
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	const char *p = path;
	while (*p) {
		const char *e = strchr(p, ':');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n > 0 && p[0] == '/') {
			char *cand = rm_xasprintf("%.*s/%s", (int)n, p, name);
			struct stat st;
			if (!stat(cand, &st) && S_ISREG(st.st_mode) && !access(cand, X_OK))
				return cand;
			free(cand);
		}
		p += n;
		if (*p == ':')
			p++;
	}
	return NULL;
}

int agent_cert_pin_ok(struct x509_st *cert, const char *pin_hex)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	if (!cert || !pin_hex || !X509_digest(cert, EVP_sha256(), md, &mdlen) || mdlen != 32)
		return 0;
	rm_hex_encode(md, mdlen, hex);
	if (strlen(pin_hex) != 64)
		return 0;
	char want[65];
	for (int i = 0; i < 64; i++)
		want[i] = (char)tolower((unsigned char)pin_hex[i]);
	want[64] = 0;
	return rm_str_ct_eq(hex, want);
}

int agent_url_parse(const char *url, struct agent_url *out)
{
	struct agent_url u;
	memset(&u, 0, sizeof u);
	const char *p;
	if (!strncmp(url, "https://", 8)) {
		u.tls = 1;
		p = url + 8;
	} else if (!strncmp(url, "http://", 7)) {
		p = url + 7;
	} else if (!strncmp(url, "wss://", 6)) {
		u.tls = 1;
		p = url + 6;
	} else if (!strncmp(url, "ws://", 5)) {
		p = url + 5;
	} else {
		return RM_ERR_INVAL;
	}
	u.port = u.tls ? 443 : 80;
	const char *hend;
	if (*p == '[') {
		const char *rb = strchr(p, ']');
		if (!rb || (size_t)(rb - p - 1) >= sizeof u.host || rb == p + 1)
			return RM_ERR_INVAL;
		memcpy(u.host, p + 1, (size_t)(rb - p - 1));
		hend = rb + 1;
	} else {
		hend = p;
		while (*hend && *hend != ':' && *hend != '/' && *hend != '?' && *hend != '#')
			hend++;
		if (hend == p || (size_t)(hend - p) >= sizeof u.host)
			return RM_ERR_INVAL;
		memcpy(u.host, p, (size_t)(hend - p));
		if (strchr(u.host, '@'))
			return RM_ERR_INVAL; /* no userinfo in the server URL */
	}
	p = hend;
	if (*p == ':') {
		long port = 0;
		p++;
		if (!isdigit((unsigned char)*p))
			return RM_ERR_INVAL;
		while (isdigit((unsigned char)*p)) {
			port = port * 10 + (*p - '0');
			if (port > 65535)
				return RM_ERR_INVAL;
			p++;
		}
		if (port == 0)
			return RM_ERR_INVAL;
		u.port = (int)port;
	}
	if (*p && *p != '/')
		return RM_ERR_INVAL;
	size_t bl = strcspn(p, "?#");
	while (bl > 0 && p[bl - 1] == '/')
		bl--;
	if (bl >= sizeof u.base)
		return RM_ERR_INVAL;
	memcpy(u.base, p, bl);
	*out = u;
	return RM_OK;
}

/* ================================================================= restic probe */

struct probe {
	uv_process_t proc;
	uv_pipe_t out;
	uv_timer_t timer;
	int open_handles;
	int failed;
	char buf[512];
	size_t len;
	agent_probe_cb cb;
	void *ud;
};

static void probe_closed(uv_handle_t *h)
{
	struct probe *pr = h->data;
	if (--pr->open_handles > 0)
		return;
	/* "restic 0.14.0 compiled with go1.19.8 on linux/amd64" */
	char ver[64] = "";
	pr->buf[pr->len] = 0;
	if (!pr->failed && !strncmp(pr->buf, "restic ", 7)) {
		const char *v = pr->buf + 7;
		size_t n = strcspn(v, " \r\n");
		if (n >= sizeof ver)
			n = sizeof ver - 1;
		memcpy(ver, v, n);
		ver[n] = 0;
	}
	pr->cb(pr->ud, ver);
	free(pr);
}

static void probe_close_all(struct probe *pr)
{
	if (!uv_is_closing((uv_handle_t *)&pr->proc))
		uv_close((uv_handle_t *)&pr->proc, probe_closed);
	if (!uv_is_closing((uv_handle_t *)&pr->out))
		uv_close((uv_handle_t *)&pr->out, probe_closed);
	if (!uv_is_closing((uv_handle_t *)&pr->timer))
		uv_close((uv_handle_t *)&pr->timer, probe_closed);
}

/* The pipe and the timer; the process handle is closed by its exit callback so that
 * libuv reaps the child (closing it earlier leaves a zombie). */
static void probe_close_io(struct probe *pr)
{
	if (!uv_is_closing((uv_handle_t *)&pr->out))
		uv_close((uv_handle_t *)&pr->out, probe_closed);
	if (!uv_is_closing((uv_handle_t *)&pr->timer))
		uv_close((uv_handle_t *)&pr->timer, probe_closed);
}

static void probe_exit(uv_process_t *p, int64_t status, int sig)
{
	struct probe *pr = p->data;
	if (status != 0 || sig)
		pr->failed = 1;
	/* the pipe closes everything on EOF (it may still hold unread output) */
	if (!uv_is_closing((uv_handle_t *)&pr->proc))
		uv_close((uv_handle_t *)&pr->proc, probe_closed);
}

static void probe_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
	struct probe *pr = h->data;
	(void)sz;
	size_t room = sizeof pr->buf - 1 - pr->len;
	static char sink[256];
	if (room == 0) {
		b->base = sink;
		b->len = sizeof sink;
		return;
	}
	b->base = pr->buf + pr->len;
	b->len = room;
}

static void probe_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct probe *pr = s->data;
	if (n > 0) {
		if (b->base >= pr->buf && b->base < pr->buf + sizeof pr->buf)
			pr->len += (size_t)n;
		return;
	}
	if (n < 0)
		probe_close_io(pr);
}

static void probe_timeout(uv_timer_t *t)
{
	struct probe *pr = t->data;
	if (!uv_is_closing((uv_handle_t *)&pr->proc))
		uv_process_kill(&pr->proc, SIGKILL);
	pr->failed = 1;
	probe_close_io(pr);
}

int agent_probe_restic(uv_loop_t *loop, const char *restic, agent_probe_cb cb, void *ud)
{
	struct probe *pr = rm_xcalloc(1, sizeof *pr);
	pr->cb = cb;
	pr->ud = ud;
	uv_pipe_init(loop, &pr->out, 0);
	uv_timer_init(loop, &pr->timer);
	pr->out.data = pr->timer.data = pr->proc.data = pr;
	char *args[] = { (char *)restic, "version", NULL };
	char *env[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		        "HOME=/nonexistent", "RESTIC_CACHE_DIR=/nonexistent", NULL };
	uv_stdio_container_t stdio[3] = {
		{ .flags = UV_IGNORE },
		{ .flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&pr->out },
		{ .flags = UV_IGNORE },
	};
	uv_process_options_t o = { 0 };
	o.exit_cb = probe_exit;
	o.file = restic;
	o.args = args;
	o.env = env;
	o.stdio = stdio;
	o.stdio_count = 3;
	int r = uv_spawn(loop, &pr->proc, &o);
	if (r) {
		RM_WARN("cannot run restic", "path", restic, "error", uv_strerror(r));
		/* proc was never initialised as an active handle; uv_spawn still registers it and
		 * requires a close */
		pr->open_handles = 3;
		probe_close_all(pr);
		return RM_OK;
	}
	pr->open_handles = 3;
	uv_read_start((uv_stream_t *)&pr->out, probe_alloc, probe_read);
	uv_timer_start(&pr->timer, probe_timeout, 10000, 0);
	return RM_OK;
}

/* ================================================================= send queue */

static void kick(struct agent *a)
{
	if (a->wsi && a->connected)
		lws_callback_on_writable(a->wsi);
}

static void queue_clear(struct agent *a)
{
	struct msgq *m = a->qhead;
	while (m) {
		struct msgq *n = m->next;
		free(m);
		m = n;
	}
	a->qhead = a->qtail = NULL;
	a->qbytes = 0;
}

/* Queues text (takes ownership) for this connection; dropped when not connected. */
static void send_text(struct agent *a, char *text, int droppable)
{
	if (!text)
		return;
	size_t len = strlen(text);
	if (!a->connected || (droppable && a->qbytes + len > SENDQ_MAX / 4) ||
	    a->qbytes + len > SENDQ_MAX) {
		free(text);
		return;
	}
	struct msgq *m = rm_xmalloc(sizeof *m + LWS_PRE + len + 1);
	m->next = NULL;
	m->len = len;
	memcpy(m->data + LWS_PRE, text, len + 1);
	free(text);
	if (a->qtail)
		a->qtail->next = m;
	else
		a->qhead = m;
	a->qtail = m;
	a->qbytes += len;
	kick(a);
}

static void send_msg(struct agent *a, enum rm_msg_type t, json_t *payload_take)
{
	send_text(a, proto_encode(t, payload_take, NULL), 0);
}

static void send_error(struct agent *a, const char *code, const char *msg, const char *ref)
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

static void arm_flush(struct agent *a)
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
	arm_flush(a);
	if (a->hello_sent)
		kick(a);
}

/* ================================================================= handlers */

static void build_hello(struct agent *a)
{
	json_t *running = json_array();
	if (a->runner)
		runner_active_ids(a->runner, running);
	if (a->ob)
		outbox_terminal_job_ids(a->ob, running);
	char boot[RM_TIME_STRLEN];
	rm_time_fmt(a->boot_ms, boot);
	json_t *p = json_pack("{s:i,s:s,s:s,s:s,s:s,s:s,s:o,s:s}", "protocol_version",
	                      RM_PROTO_VERSION, "agent_version", RM_VERSION, "restic_version",
	                      a->restic_version ? a->restic_version : "", "hostname",
	                      a->hostname, "os", "linux", "arch", agent_arch(), "running_jobs",
	                      running, "boot_time", boot);
	send_msg(a, RM_MSG_HELLO, p);
	a->hello_sent = 1;
}

/* Hand freed heap back to the kernel while idle (startup, TLS handshake, a finished
 * job's buffers); glibc only trims the top of the heap by itself. Cheap: the heap is
 * small, and it runs at most once per heartbeat. */
static void trim_heap(struct agent *a)
{
	if (!a->runner || runner_active_count(a->runner) == 0)
		malloc_trim(0);
}

static void hello_acknowledged(struct agent *a)
{
	if (a->hello_acked || a->proto_mismatch)
		return;
	a->hello_acked = 1;
	a->mismatch_logged = 0;
	backoff_reset(&a->bo);
	trim_heap(a);
}

static void handle_ack(struct agent *a, const json_t *p)
{
	const json_t *ids = json_object_get(p, "ids");
	size_t i, n = 0;
	json_t *v;
	json_array_foreach(ids, i, v) {
		if (a->ob && json_is_string(v))
			n += (size_t)outbox_ack(a->ob, json_string_value(v));
	}
	if (n)
		arm_flush(a);
	hello_acknowledged(a);
}

static void handle_config_update(struct agent *a, const json_t *p)
{
	const char *slot = rmj_str(p, "slot");
	if (!slot)
		slot = "repo";
	const char *pw = rmj_str(p, "repo_password");
	if (pw)
		rm_log_add_secret(pw);
	if (!a->sec) {
		RM_WARN("config.update ignored: no secrets store");
		return;
	}
	int rc = secrets_update(a->sec, slot, p);
	const char *url = rmj_str(p, "repo_url");
	char *red = url ? rm_redact_url(url) : NULL;
	if (rc)
		RM_ERROR("cannot store repository credentials", "slot", slot, "error",
		         rm_strerror(rc));
	else
		RM_INFO("repository credentials updated", "slot", slot, "repo", red ? red : "");
	free(red);
	hello_acknowledged(a);
}

static void handle_command_run(struct agent *a, const json_t *p)
{
	const char *job_id = rmj_str(p, "job_id");
	const char *kind = rmj_str(p, "kind");
	const json_t *args = json_object_get(p, "args");
	json_t *empty = NULL;
	if (!json_is_object(args))
		args = empty = json_object();
	struct secrets_slot s;
	struct runner_creds creds = { 0 }, *cp = NULL;
	const char *slot = "repo";
	if ((!strcmp(kind, "prune") || !strcmp(kind, "forget")) && a->sec &&
	    !secrets_get(a->sec, "admin", &s))
		slot = "admin";
	if (a->sec && !secrets_get(a->sec, slot, &s)) {
		creds.repo_url = s.repo_url;
		creds.repo_username = s.repo_username;
		creds.repo_password = s.repo_password;
		cp = &creds;
	}
	int rc;
	const char *err = NULL;
	if (!a->runner) {
		rc = RM_ERR_INVAL;
		err = "job runner unavailable";
	} else {
		rc = runner_submit(a->runner, job_id, kind, args, cp);
		if (rc == RM_ERR_CONFLICT)
			err = "job already queued or running";
		else if (rc == RM_ERR_INVAL)
			err = "unsupported job kind or invalid arguments";
		else if (rc == RM_ERR_NOTFOUND)
			err = "restic not found on the agent";
		else if (rc)
			err = rm_strerror(rc);
	}
	RM_INFO(rc ? "command rejected" : "command accepted", "job_id", job_id, "kind", kind,
	        "error", err);
	json_t *r = json_pack("{s:s,s:b}", "job_id", job_id, "accepted", rc == RM_OK);
	if (err)
		json_object_set_new(r, "error", json_string(err));
	send_msg(a, RM_MSG_COMMAND_RESULT, r);
	json_decref(empty);
	hello_acknowledged(a);
}

static void handle_command_cancel(struct agent *a, const json_t *p)
{
	const char *job_id = rmj_str(p, "job_id");
	int rc = a->runner ? runner_cancel(a->runner, job_id) : RM_ERR_NOTFOUND;
	if (rc)
		RM_INFO("cancel for unknown job ignored", "job_id", job_id);
	else
		RM_INFO("job cancel requested", "job_id", job_id);
}

static void handle_error(struct agent *a, const json_t *p)
{
	const char *code = rmj_str(p, "code");
	const char *msg = rmj_str(p, "message");
	if (code && !strcmp(code, "protocol_version_unsupported")) {
		a->proto_mismatch = 1;
		if (!a->mismatch_logged) {
			/* The server's message names the side to upgrade; default: the agent. */
			const char *side = msg && strstr(msg, "upgrade the server") ? "server" : "agent";
			char v[16];
			snprintf(v, sizeof v, "%d", RM_PROTO_VERSION);
			RM_ERROR(!strcmp(side, "server")
			                 ? "protocol version mismatch: the server is too old for this "
			                   "agent; upgrade restic-manager-server (retrying every 10 min)"
			                 : "protocol version mismatch: the server no longer supports "
			                   "this agent; upgrade restic-manager-agent (retrying every 10 "
			                   "min)",
			         "agent_protocol_version", v, "agent_version", RM_VERSION, "upgrade",
			         side, "server_message", msg);
			a->mismatch_logged = 1;
		}
		return;
	}
	RM_WARN("server reported an error", "code", code, "message", msg, "ref_id",
	        rmj_str(p, "ref_id"));
}

static void handle_tree_list(struct agent *a, const struct rm_envelope *env)
{
	json_t *r = json_pack("{s:s,s:[],s:s}", "request_id", env->id, "entries", "error",
	                      "tree.list is not supported by this agent");
	send_msg(a, RM_MSG_TREE_LIST_RESULT, r);
}

int agent_handle_frame(struct agent *a, const char *buf, size_t len)
{
	struct rm_envelope env;
	char err[256] = "";
	int rc = proto_decode(buf, len, &env, err, sizeof err);
	a->last_rx = rm_mono_ms();
	if (rc == RM_ERR_UNKNOWN) {
		RM_DEBUG("unknown message type ignored", "type", env.type_name, "id", env.id);
		goto out;
	}
	if (rc) {
		RM_WARN("malformed frame from server", "error", err[0] ? err : rm_strerror(rc));
		send_error(a, rc == RM_ERR_TOOBIG ? "too_big" : "malformed",
		           err[0] ? err : rm_strerror(rc), env.id);
		goto out;
	}
	const struct rm_msg_desc *d = proto_msg_desc(env.type);
	if (!d || !(d->dir & RM_DIR_S2A)) {
		RM_DEBUG("message not meant for the agent ignored", "type", env.type_name);
		goto out;
	}
	switch (env.type) {
	case RM_MSG_ACK:
		handle_ack(a, env.payload);
		break;
	case RM_MSG_CONFIG_UPDATE:
		handle_config_update(a, env.payload);
		break;
	case RM_MSG_COMMAND_RUN:
		handle_command_run(a, env.payload);
		break;
	case RM_MSG_COMMAND_CANCEL:
		handle_command_cancel(a, env.payload);
		break;
	case RM_MSG_ERROR:
		handle_error(a, env.payload);
		break;
	case RM_MSG_TREE_LIST:
		handle_tree_list(a, &env);
		break;
	default:
		RM_DEBUG("message type not handled by this agent yet", "type", env.type_name);
		break;
	}
out:
	if (env.type == RM_MSG_CONFIG_UPDATE)
		rmj_wipe(env.root); /* the credentials now live in the secrets store only */
	proto_envelope_cleanup(&env);
	return rc;
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
	queue_clear(a);
	rm_buf_reset(&a->rx);
	a->rx_toobig = 0;
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
			                    LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK | LCCSCF_ALLOW_EXPIRED;
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
	send_msg(a, RM_MSG_HEARTBEAT, json_pack("{s:s}", "sent_at", ts));
	trim_heap(a);
}

static int verify_pin(struct agent *a, X509_STORE_CTX *x, int preverify_ok)
{
	if (!a || !a->tls_pin)
		return 0; /* plain CA verification by OpenSSL / lws */
	int depth = X509_STORE_CTX_get_error_depth(x);
	if (depth > 0) {
		X509_STORE_CTX_set_error(x, X509_V_OK);
		return 0;
	}
	X509 *cert = X509_STORE_CTX_get_current_cert(x);
	if (agent_cert_pin_ok(cert, a->tls_pin)) {
		X509_STORE_CTX_set_error(x, X509_V_OK);
		return 0;
	}
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char got[2 * EVP_MAX_MD_SIZE + 1] = "";
	if (cert && X509_digest(cert, EVP_sha256(), md, &mdlen))
		rm_hex_encode(md, mdlen, got);
	RM_ERROR("server certificate does not match the configured tls_pin; refusing to connect",
	         "expected_sha256", a->tls_pin, "got_sha256", got);
	X509_STORE_CTX_set_error(x, X509_V_ERR_CERT_REJECTED);
	(void)preverify_ok;
	return 1;
}

/* Without a pin: trust the OS CAs through OpenSSL's hashed certificate directory, which
 * it reads one certificate at a time as a handshake needs it. lws's default
 * (SSL_CTX_set_default_verify_paths) also parses the whole bundle file, ~150 certificates
 * kept in memory for the life of the process (~1.2 MB of heap). Falls back to the
 * bundle when the directory has no hash links (c_rehash / update-ca-certificates). */
static int cert_dir_hashed(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = 0;
	if (!d)
		return 0;
	while (!found && (e = readdir(d))) {
		size_t n = strlen(e->d_name);
		found = n == 10 && e->d_name[8] == '.' && e->d_name[9] == '0' &&
		        strspn(e->d_name, "0123456789abcdef") == 8;
	}
	closedir(d);
	return found;
}

static void client_ssl_ctx_setup(struct agent *a, SSL_CTX *ctx)
{
	if (!ctx)
		return;
	/* free the ~34 KiB of TLS record buffers while the connection idles */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (a->tls_pin) /* the pin replaces CA checks: no store at all */
		return;
	/* SSL_CERT_FILE / SSL_CERT_DIR are honoured, as OpenSSL's defaults would */
	const char *file = getenv(X509_get_default_cert_file_env());
	const char *dir = getenv(X509_get_default_cert_dir_env());
	int loaded = 0;
	if (file && *file)
		loaded |= SSL_CTX_load_verify_file(ctx, file) == 1;
	if (!dir || !*dir)
		dir = X509_get_default_cert_dir();
	if (cert_dir_hashed(dir))
		loaded |= SSL_CTX_load_verify_dir(ctx, dir) == 1;
	if (!loaded) {
		RM_DEBUG("no hashed CA directory; loading OpenSSL's default CA bundle", "dir", dir);
		SSL_CTX_set_default_verify_paths(ctx);
	}
}

static int on_writeable(struct agent *a, struct lws *wsi)
{
	if (!a->connected)
		return 0;
	if (a->kill_conn) {
		lws_close_reason(wsi, LWS_CLOSE_STATUS_GOINGAWAY, (unsigned char *)"timeout", 7);
		return -1;
	}
	struct msgq *m = a->qhead;
	if (m) {
		a->qhead = m->next;
		if (!a->qhead)
			a->qtail = NULL;
		a->qbytes -= m->len;
		int n = lws_write(wsi, m->data + LWS_PRE, m->len, LWS_WRITE_TEXT);
		free(m);
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
	if (a->qhead || (a->hello_sent && a->ob && outbox_has_unsent(a->ob)))
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
		send_error(a, "malformed", "binary frames are not part of the protocol", NULL);
	} else {
		agent_handle_frame(a, a->rx.data ? a->rx.data : "", a->rx.len);
	}
	if (a->rx.data) /* config.update frames carry repository passwords */
		sodium_memzero(a->rx.data, a->rx.len);
	rm_buf_reset(&a->rx);
	return 0;
}

static int ws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                 size_t len)
{
	struct agent *a = wsi ? lws_context_user(lws_get_context(wsi)) : NULL;
	if (!a)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
		return verify_pin(a, user, (int)len);

	case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_CLIENT_VERIFY_CERTS:
		client_ssl_ctx_setup(a, user);
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
		build_hello(a);
		lws_callback_on_writable(wsi);
		break;

	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
		const char *why = in && len ? (const char *)in : "connection error";
		int status = (int)lws_http_client_http_response(wsi);
		if (status == 401 || strstr(why, "unauthorized")) {
			a->unauthorized = 1;
			RM_ERROR("bearer rejected: re-enroll this host (restic-manager-agent enroll "
			         "--server URL --token TOKEN); retrying every 60 s");
		} else {
			RM_WARN("cannot connect to server", "server", a->server_url, "error", why);
		}
		conn_reset(a);
		schedule_reconnect(a, next_delay(a), a->unauthorized ? "unauthorized" : "error");
		break;
	}

	case LWS_CALLBACK_CLIENT_RECEIVE:
		return on_receive(a, wsi, in, len);

	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return on_writeable(a, wsi);

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

	default:
		break;
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
		              LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS; /* see client_ssl_ctx_setup */
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
		agent_probe_restic(a->loop, a->restic_path, probe_done, a);
	} else {
		RM_WARN("restic not found (install it: apt-get install restic); the agent stays "
		        "connected but jobs fail until it is installed");
		do_connect(a);
	}
	uv_timer_start(&a->heartbeat_timer, heartbeat_cb, (uint64_t)a->heartbeat_s * 1000,
	               (uint64_t)a->heartbeat_s * 1000);
	return RM_OK;
}

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
	agent_hostname(a->hostname, sizeof a->hostname);
	rm_buf_init(&a->rx, RM_PROTO_MAX_FRAME);
	backoff_init(&a->bo, BACKOFF_MIN_MS, BACKOFF_MAX_MS);
	if (a->bearer[0])
		rm_log_add_secret(a->bearer);

	if (agent_url_parse(a->server_url, &a->url)) {
		RM_ERROR("invalid server URL in config", "server", a->server_url);
		rc = RM_ERR_INVAL;
		goto out;
	}
	if ((a->url.tls && a->url.port == 443) || (!a->url.tls && a->url.port == 80))
		snprintf(a->host_hdr, sizeof a->host_hdr, "%s", a->url.host);
	else if (strchr(a->url.host, ':'))
		snprintf(a->host_hdr, sizeof a->host_hdr, "[%s]:%d", a->url.host, a->url.port);
	else
		snprintf(a->host_hdr, sizeof a->host_hdr, "%s:%d", a->url.host, a->url.port);

	if (agent_mkdirs(a->state_dir, 0700)) {
		RM_ERROR("cannot create state directory", "path", a->state_dir, "error",
		         strerror(errno));
		rc = RM_ERR_IO;
		goto out;
	}
	uint8_t key[RM_KEY_BYTES];
	if (agent_config_secrets_key(c, key)) {
		RM_WARN("no valid secrets_key in config; repository credentials cannot be stored");
	} else {
		secrets_open(a->state_dir, key, &a->sec); /* corrupt: logged, keeps running */
		sodium_memzero(key, sizeof key);
	}

	char *obdir = rm_xasprintf("%s/outbox", a->state_dir);
	struct outbox_opts oo = { .dir = obdir, .max_bytes = o->outbox_max,
		                  .job_active = job_active_cb, .ud = a };
	rc = outbox_open(&oo, &a->ob);
	free(obdir);
	if (rc)
		goto out;

	if (!a->offline) {
		/* the last step that can fail: it creates loop handles only once it succeeds */
		struct runner_opts ro = { .loop = a->loop, .restic_path = a->restic_path,
			                  .state_dir = a->state_dir, .hostname = a->hostname,
			                  .emit = on_emit, .ud = a, .cancel_grace_ms = 5000 };
		rc = runner_new(&ro, &a->runner);
		if (rc) {
			RM_ERROR("cannot start the job runner", "error", rm_strerror(rc));
			goto out;
		}
	}
	uv_timer_init(a->loop, &a->reconnect_timer);
	uv_timer_init(a->loop, &a->heartbeat_timer);
	uv_timer_init(a->loop, &a->flush_timer);
	a->reconnect_timer.data = a->heartbeat_timer.data = a->flush_timer.data = a;
	a->timers_init = 1;
out:
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
	queue_clear(a);
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
