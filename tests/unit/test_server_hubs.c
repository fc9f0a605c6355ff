/* ws/ hubs against a stub transport: the ws_* functions of http.h are defined here, so
 * the linker takes them instead of http/http.c (link-time stubs), and the store is an
 * in-memory SQLite. Covers the agent hub's batching (one transaction per loop turn, acks
 * grouped per connection and chunked), connection replacement, redaction at ingestion,
 * the presence provider, and the browser hubs' drop-and-resync. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/crypto.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/rmtime.h"
#include "server/app.h"
#include "server/config.h"
#include "server/engine/notify.h"
#include "server/engine/presence.h"
#include "server/engine/session.h"
#include "server/http/http.h"
#include "server/store/store.h"
#include "server/ws/agent_hub.h"
#include "server/ws/event_hub.h"
#include "server/ws/job_hub.h"
#include "tap.h"

/* ------------------------------------------------------------------ stub transport */

struct ws_conn {
	const struct ws_endpoint *ep;
	const char *path, *after_seq, *auth, *cookie, *origin, *host;
	void *user;
	json_t *sent;  /* array of parsed messages */
	size_t queued; /* bytes "in the socket"; drain() empties it */
	size_t max_queue;
	int close_code; /* 0 while open */
	char close_reason[64];
	int discarded;
};

const char *ws_conn_path(const struct ws_conn *c)
{
	return c->path;
}
const char *ws_conn_query(const struct ws_conn *c, const char *name)
{
	return strcmp(name, "after_seq") == 0 ? c->after_seq : NULL;
}
const char *ws_conn_header(const struct ws_conn *c, const char *name)
{
	if (strcmp(name, "authorization") == 0)
		return c->auth;
	if (strcmp(name, "origin") == 0)
		return c->origin;
	if (strcmp(name, "host") == 0)
		return c->host;
	return NULL;
}
const char *ws_conn_cookie(const struct ws_conn *c, const char *name)
{
	return strcmp(name, AUTH_COOKIE) == 0 ? c->cookie : NULL;
}
const char *ws_conn_remote_ip(const struct ws_conn *c)
{
	return "127.0.0.1";
}
void ws_conn_set_user(struct ws_conn *c, void *user)
{
	c->user = user;
}
void *ws_conn_user(const struct ws_conn *c)
{
	return c->user;
}
size_t ws_queued_bytes(const struct ws_conn *c)
{
	return c->queued;
}
void ws_discard_queue(struct ws_conn *c)
{
	c->queued = 0;
	c->discarded = 1;
}

int ws_send(struct ws_conn *c, const char *data, size_t len)
{
	if (c->close_code)
		return RM_ERR_IO;
	if (c->queued + len > c->max_queue)
		return RM_ERR_TOOBIG;
	c->queued += len;
	json_t *m = json_loadb(data, len, 0, NULL);
	json_array_append_new(c->sent, m ? m : json_string(data));
	return RM_OK;
}

void ws_close(struct ws_conn *c, int code, const char *reason)
{
	if (c->close_code)
		return;
	c->close_code = code;
	rm_strlcpy(c->close_reason, reason ? reason : "", sizeof c->close_reason);
}

/* ------------------------------------------------------------------ fixture */

static uv_loop_t loop;
static struct server_config cfg;
static struct app app;

static void setup(void)
{
	memset(&app, 0, sizeof app);
	uv_loop_init(&loop);
	config_init(&cfg);
	app.loop = &loop;
	app.cfg = &cfg;
	for (size_t i = 0; i < sizeof app.key; i++)
		app.key[i] = (uint8_t)(i * 13 + 5);
	if (store_open(":memory:", &app.store))
		printf("# store_open failed\n");
	app.notify = notify_new();
	app.presence = presence_new();
	app.agents = agent_hub_new(&app);
	app.jobs = job_hub_new(&app);
	app.events = event_hub_new(&app);
}

static void teardown(void)
{
	app.shutting_down = 1;
	agent_hub_stop(app.agents);
	event_hub_stop(app.events);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	agent_hub_free(app.agents);
	job_hub_free(app.jobs);
	event_hub_free(app.events);
	presence_free(app.presence);
	notify_free(app.notify);
	store_close(app.store);
	config_cleanup(&cfg);
}

static struct ws_conn *conn_new(const struct ws_endpoint *ep, const char *path)
{
	struct ws_conn *c = rm_xcalloc(1, sizeof *c);
	c->ep = ep;
	c->path = path;
	c->sent = json_array();
	c->max_queue = ep->max_queue;
	return c;
}

/* The transport's close callback, as lws would call it, then the stub is freed. */
static void conn_gone(struct ws_conn *c)
{
	if (c->user)
		c->ep->on_close(c, &app);
	json_decref(c->sent);
	free(c);
}

static void drain(struct ws_conn *c)
{
	c->queued = 0;
	if (c->ep->on_drain)
		c->ep->on_drain(c, &app);
}

/* One loop turn: the agent hub's uv_check flushes what arrived in this turn. */
static void turn(void)
{
	uv_run(&loop, UV_RUN_NOWAIT);
}

/* Sent messages of a type (new references in a new array). */
static json_t *sent_of(struct ws_conn *c, const char *type)
{
	json_t *out = json_array();
	size_t i;
	json_t *m;
	json_array_foreach (c->sent, i, m)
		if (rmj_str(m, "type") && strcmp(rmj_str(m, "type"), type) == 0)
			json_array_append(out, m);
	return out;
}

static int n_sent(struct ws_conn *c, const char *type)
{
	json_t *a = sent_of(c, type);
	int n = (int)json_array_size(a);
	json_decref(a);
	return n;
}

static int msg_seq;

/* Delivers an agent->server envelope; returns its id in id_out (may be NULL). */
static void agent_says(struct ws_conn *c, const char *type, json_t *payload_take, char *id_out)
{
	char id[32];
	snprintf(id, sizeof id, "m%06d", ++msg_seq);
	json_t *env = json_pack("{s:s,s:s,s:s,s:o}", "type", type, "id", id, "ts",
	                        "2026-01-01T00:00:00Z", "payload", payload_take);
	char *text = rmj_dumps(env);
	json_decref(env);
	c->ep->on_message(c, &app, text, strlen(text));
	free(text);
	if (id_out)
		strcpy(id_out, id);
}

/* hello; running (may be NULL) is the one job the agent says it is running. */
static void hello_running(struct ws_conn *c, const char *hostname, const char *running)
{
	json_t *jobs = json_array();
	if (running)
		json_array_append_new(jobs, json_string(running));
	agent_says(c, "hello",
	           json_pack("{s:i,s:s,s:s,s:s,s:s,s:s,s:o}", "protocol_version", RM_PROTO_VERSION,
	                     "agent_version", "1.0.0", "restic_version", "0.16.4", "hostname",
	                     hostname, "os", "linux", "arch", "amd64", "running_jobs", jobs),
	           NULL);
}

static void hello(struct ws_conn *c, const char *hostname)
{
	hello_running(c, hostname, NULL);
}

/* A host with a bearer and sealed repository credentials. */
static void mk_host(const char *name, const char *bearer, const char *password, char id[27])
{
	char hash[65];
	rm_sha256_hex(bearer, strlen(bearer), hash);
	if (store_host_create(app.store, name, NULL, NULL, hash, id))
		printf("# host create\n");
	char *pt = rm_xasprintf("{\"repo_url\":\"/srv/%s\",\"repo_username\":\"\","
	                        "\"repo_password\":\"%s\"}",
	                        name, password);
	char *ad = rm_xasprintf("host_credentials:%s:repo", id);
	char *ct = NULL;
	if (rm_aead_seal(app.key, pt, strlen(pt), ad, &ct) ||
	    store_cred_put(app.store, id, "repo", ct))
		printf("# credentials\n");
	free(pt);
	free(ad);
	free(ct);
}

static struct ws_conn *agent_connect(const char *bearer, char *auth_buf, size_t n)
{
	struct ws_conn *c = conn_new(agent_hub_endpoint(), "/ws/agent");
	snprintf(auth_buf, n, "Bearer %s", bearer);
	c->auth = auth_buf;
	if (c->ep->on_open(c, &app) != RM_OK)
		printf("# agent on_open refused\n");
	return c;
}

/* ------------------------------------------------------------------ agent hub */

TEST(agent_hello_and_presence)
{
	setup();
	char host[27], auth[80];
	mk_host("alpha", "bearer-a", "alpha-repo-pass", host);
	struct ws_conn *bad = conn_new(agent_hub_endpoint(), "/ws/agent");
	bad->auth = "Bearer nope";
	EQ_INT(bad->ep->on_open(bad, &app), RM_ERR_AUTH);
	conn_gone(bad);

	struct ws_conn *c = agent_connect("bearer-a", auth, sizeof auth);
	EQ_INT(presence_is_connected(app.presence, host), 0); /* not before hello */
	agent_says(c, "heartbeat", json_object(), NULL);
	EQ_INT(n_sent(c, "error"), 1); /* hello_required */
	hello(c, "other-name");
	EQ_INT(presence_is_connected(app.presence, host), 1);
	EQ_INT(agent_hub_connected_count(app.agents), 1);
	json_t *cu = sent_of(c, "config.update");
	EQ_INT(json_array_size(cu), 1);
	EQ_STR(rmj_str(json_object_get(json_array_get(cu, 0), "payload"), "repo_password"),
	       "alpha-repo-pass");
	json_decref(cu);
	json_t *runs = sent_of(c, "command.run");
	EQ_INT(json_array_size(runs), 1); /* auto-init: repo_status unknown */
	EQ_STR(rmj_str(json_object_get(json_array_get(runs, 0), "payload"), "kind"), "init");
	json_decref(runs);
	json_t *h = store_host_get(app.store, host);
	EQ_STR(rmj_str(h, "hostname"), "alpha");
	EQ_STR(rmj_str(h, "reported_hostname"), "other-name");
	EQ_STR(rmj_str(h, "status"), "online");
	json_decref(h);
	/* presence reaches the connection */
	EQ_INT(presence_send(app.presence, host, RM_MSG_COMMAND_CANCEL,
	                     json_pack("{s:s}", "job_id", "J")),
	       RM_OK);
	EQ_INT(n_sent(c, "command.cancel"), 1);
	hello(c, "alpha");
	EQ_INT(n_sent(c, "error"), 2); /* duplicate_hello */
	conn_gone(c);
	EQ_INT(presence_is_connected(app.presence, host), 0);
	h = store_host_get(app.store, host);
	EQ_STR(rmj_str(h, "status"), "offline");
	json_decref(h);
	teardown();
}

/* Everything that arrives in one loop turn is persisted in one transaction and then
 * acknowledged: one ack message per connection (chunked at 1000 ids), nothing before. */
TEST(agent_batching_and_ack_grouping)
{
	setup();
	char a[27], b[27], auth_a[80], auth_b[80];
	mk_host("alpha", "bearer-a", "alpha-repo-pass", a);
	mk_host("beta", "bearer-b", "beta-repo-pass", b);
	struct ws_conn *ca = agent_connect("bearer-a", auth_a, sizeof auth_a);
	struct ws_conn *cb = agent_connect("bearer-b", auth_b, sizeof auth_b);
	hello(ca, "alpha");
	hello(cb, "beta");
	char ja[27], jb[27];
	EQ_INT(store_job_create(app.store, a, "backup", NULL, "t", ja), RM_OK);
	EQ_INT(store_job_create(app.store, b, "backup", NULL, "t", jb), RM_OK);
	turn();
	size_t acks_a0 = (size_t)n_sent(ca, "ack"), acks_b0 = (size_t)n_sent(cb, "ack");

	char ids[1003][16];
	agent_says(ca, "job.started",
	           json_pack("{s:s,s:i,s:s,s:s}", "job_id", ja, "seq", 1, "kind", "backup",
	                     "started_at", "2026-01-01T00:00:00Z"),
	           ids[0]);
	for (int i = 1; i <= 1001; i++)
		agent_says(ca, "log.stream",
		           json_pack("{s:s,s:[{s:i,s:s,s:s,s:s}]}", "job_id", ja, "lines", "seq",
		                     i + 1, "ts", "2026-01-01T00:00:01Z", "stream", "stdout",
		                     "payload", i == 7 ? "wrong password alpha-repo-pass" : "line"),
		           ids[i]);
	agent_says(cb, "job.started",
	           json_pack("{s:s,s:i,s:s,s:s}", "job_id", jb, "seq", 1, "kind", "backup",
	                     "started_at", "2026-01-01T00:00:00Z"),
	           ids[1002]);
	/* nothing persisted or acknowledged inside the turn */
	EQ_INT(n_sent(ca, "ack"), acks_a0);
	json_t *j = store_job_get(app.store, ja);
	EQ_STR(rmj_str(j, "status"), "queued");
	json_decref(j);
	turn();
	json_t *acks = sent_of(ca, "ack");
	EQ_INT(json_array_size(acks), acks_a0 + 2); /* 1002 ids: 1000 + 2 */
	json_t *first =
	    json_object_get(json_object_get(json_array_get(acks, acks_a0), "payload"), "ids");
	json_t *second =
	    json_object_get(json_object_get(json_array_get(acks, acks_a0 + 1), "payload"), "ids");
	EQ_INT(json_array_size(first), 1000);
	EQ_INT(json_array_size(second), 2);
	EQ_STR(json_string_value(json_array_get(first, 0)), ids[0]); /* in arrival order */
	EQ_STR(json_string_value(json_array_get(second, 1)), ids[1001]);
	json_decref(acks);
	acks = sent_of(cb, "ack");
	EQ_INT(json_array_size(acks), acks_b0 + 1); /* its own group */
	EQ_STR(
	    json_string_value(json_array_get(
	        json_object_get(json_object_get(json_array_get(acks, acks_b0), "payload"), "ids"),
	        0)),
	    ids[1002]);
	json_decref(acks);
	j = store_job_get(app.store, ja);
	EQ_STR(rmj_str(j, "status"), "running");
	EQ_INT(rmj_int(j, "log_lines", 0), 1001);
	json_decref(j);
	/* redacted before it was stored */
	json_t *lines = store_log_list(app.store, ja, 7, 1);
	EQ_STR(rmj_str(json_array_get(lines, 0), "payload"), "wrong password ***");
	json_decref(lines);
	/* a replay of committed events is acknowledged again and stored once */
	agent_says(ca, "log.stream",
	           json_pack("{s:s,s:[{s:i,s:s,s:s,s:s}]}", "job_id", ja, "lines", "seq", 2, "ts",
	                     "2026-01-01T00:00:01Z", "stream", "stdout", "payload", "line"),
	           ids[0]);
	turn();
	j = store_job_get(app.store, ja);
	EQ_INT(rmj_int(j, "log_lines", 0), 1001);
	json_decref(j);
	/* job.finished: error redacted, state changes announced */
	agent_says(cb, "job.finished",
	           json_pack("{s:s,s:i,s:s,s:i,s:s,s:s}", "job_id", jb, "seq", 2, "status",
	                     "failed", "exit_code", 1, "finished_at", "2026-01-01T00:00:02Z",
	                     "error", "Fatal: beta-repo-pass rejected"),
	           NULL);
	/* a job of another host is refused (acknowledged, nothing stored) */
	agent_says(cb, "job.finished",
	           json_pack("{s:s,s:i,s:s,s:i,s:s}", "job_id", ja, "seq", 9, "status", "failed",
	                     "exit_code", 1, "finished_at", "2026-01-01T00:00:02Z"),
	           NULL);
	turn();
	j = store_job_get(app.store, jb);
	EQ_STR(rmj_str(j, "status"), "failed");
	EQ_STR(rmj_str(j, "error"), "Fatal: *** rejected");
	json_decref(j);
	j = store_job_get(app.store, ja);
	EQ_STR(rmj_str(j, "status"), "running");
	json_decref(j);
	conn_gone(ca);
	conn_gone(cb);
	teardown();
}

/* A second connection for the same host replaces the first (close 4002); the old
 * socket's close does not mark the host offline; events queued by the old connection in
 * the same turn are still persisted. */
TEST(agent_connection_replacement)
{
	setup();
	char host[27], auth1[80], auth2[80];
	mk_host("alpha", "bearer-a", "alpha-repo-pass", host);
	struct ws_conn *c1 = agent_connect("bearer-a", auth1, sizeof auth1);
	hello(c1, "alpha");
	char job[27];
	EQ_INT(store_job_create(app.store, host, "backup", NULL, "t", job), RM_OK);
	agent_says(c1, "job.started",
	           json_pack("{s:s,s:i,s:s,s:s}", "job_id", job, "seq", 1, "kind", "backup",
	                     "started_at", "2026-01-01T00:00:00Z"),
	           NULL);
	struct ws_conn *c2 = agent_connect("bearer-a", auth2, sizeof auth2);
	hello_running(c2, "alpha", job);
	EQ_INT(c1->close_code, 4002);
	EQ_STR(c1->close_reason, "replaced");
	EQ_INT(c2->close_code, 0);
	EQ_INT(agent_hub_connected_count(app.agents), 1);
	conn_gone(c1); /* lws reports the close of the replaced socket */
	json_t *h = store_host_get(app.store, host);
	EQ_STR(rmj_str(h, "status"), "online");
	json_decref(h);
	turn();
	json_t *j = store_job_get(app.store, job);
	EQ_STR(rmj_str(j, "status"), "running"); /* the old connection's event was kept */
	json_decref(j);
	/* commands go to the new connection */
	int before = n_sent(c2, "command.cancel");
	EQ_INT(presence_send(app.presence, host, RM_MSG_COMMAND_CANCEL,
	                     json_pack("{s:s}", "job_id", job)),
	       RM_OK);
	EQ_INT(n_sent(c2, "command.cancel"), before + 1);
	/* presence_disconnect closes it */
	presence_disconnect(app.presence, host, 4003, "host deleted");
	EQ_INT(c2->close_code, 4003);
	conn_gone(c2);
	teardown();
}

/* ------------------------------------------------------------------ browser hubs */

static char cookie[128];

static struct ws_conn *browser(const struct ws_endpoint *ep, const char *path)
{
	struct ws_conn *c = conn_new(ep, path);
	c->cookie = cookie;
	c->origin = "http://127.0.0.1:8080";
	c->host = "127.0.0.1:8080";
	return c;
}

static void login(void)
{
	char uid[27], csrf[64];
	char *token = NULL;
	store_user_create(app.store, "viewer1", "x", "viewer", uid);
	if (session_create(app.store, uid, 3600, &token, csrf))
		printf("# session\n");
	rm_strlcpy(cookie, token, sizeof cookie);
	free(token);
}

/* Runs the loop until pred() or ~2 s. */
static int run_until(int (*pred)(void *), void *ud)
{
	uint64_t end = uv_now(&loop) + 2000;
	while (!pred(ud) && uv_now(&loop) < end)
		uv_run(&loop, UV_RUN_ONCE);
	return pred(ud);
}

static int has_host_event(void *ud)
{
	return n_sent(ud, "host") > 0;
}

static int closed(void *ud)
{
	return ((struct ws_conn *)ud)->close_code != 0;
}

TEST(event_hub_auth_coalescing_and_resync)
{
	setup();
	login();
	char host[27];
	mk_host("alpha", "bearer-a", "alpha-repo-pass", host);
	struct ws_conn *anon = conn_new(event_hub_endpoint(), "/api/events");
	EQ_INT(anon->ep->on_open(anon, &app), RM_ERR_AUTH);
	conn_gone(anon);
	struct ws_conn *xsite = browser(event_hub_endpoint(), "/api/events");
	xsite->origin = "http://evil.example";
	EQ_INT(xsite->ep->on_open(xsite, &app), RM_ERR_FORBIDDEN);
	conn_gone(xsite);

	struct ws_conn *c = browser(event_hub_endpoint(), "/api/events");
	EQ_INT(c->ep->on_open(c, &app), RM_OK);
	for (int i = 0; i < 50; i++)
		notify_host_changed(app.notify, host); /* coalesced */
	OK(run_until(has_host_event, c));
	EQ_INT(n_sent(c, "host"), 1);
	/* a subscriber that stops reading overflows and is told to resync */
	c->max_queue = c->queued + 100;
	notify_host_changed(app.notify, host);
	OK(run_until(closed, c));
	EQ_INT(c->close_code, 4008);
	EQ_STR(c->close_reason, "resync");
	OK(c->discarded);
	conn_gone(c);
	teardown();
}

TEST(job_hub_backfill_live_and_resync)
{
	setup();
	login();
	char host[27], job[27], auth[80];
	mk_host("alpha", "bearer-a", "alpha-repo-pass", host);
	/* the agent is connected first: its hello fails jobs it does not know */
	struct ws_conn *ag = agent_connect("bearer-a", auth, sizeof auth);
	hello(ag, "alpha");
	EQ_INT(store_job_create(app.store, host, "backup", NULL, "t", job), RM_OK);
	/* 1200 stored lines */
	struct store_log_line lines[1200];
	for (int i = 0; i < 1200; i++)
		lines[i] = (struct store_log_line){
			.seq = i + 1, .ts_ms = 1000, .stream = "stdout", .payload = "stored line"
		};
	EQ_INT(store_log_append(app.store, job, lines, 1200, NULL), RM_OK);
	char path[64];
	snprintf(path, sizeof path, "/api/jobs/%s/stream", job);
	struct ws_conn *missing = browser(job_hub_endpoint(), "/api/jobs/NOPE/stream");
	EQ_INT(missing->ep->on_open(missing, &app), RM_ERR_NOTFOUND);
	conn_gone(missing);

	struct ws_conn *s = browser(job_hub_endpoint(), path);
	s->after_seq = "100";
	EQ_INT(s->ep->on_open(s, &app), RM_OK);
	EQ_INT(job_hub_subscribers(app.jobs), 1);
	json_t *logs = sent_of(s, "log");
	size_t got = 0;
	size_t i;
	json_t *m;
	json_array_foreach (logs, i, m)
		got += json_array_size(json_object_get(m, "lines"));
	json_decref(logs);
	EQ_INT(got, 1100); /* seq 101..1200, paged */
	EQ_STR(rmj_str(json_array_get(s->sent, 0), "type"), "job");

	/* live: lines arriving from the agent are forwarded, redacted */
	drain(s);
	agent_says(ag, "log.stream",
	           json_pack("{s:s,s:[{s:i,s:s,s:s,s:s}]}", "job_id", job, "lines", "seq", 1201,
	                     "ts", "2026-01-01T00:00:01Z", "stream", "stderr", "payload",
	                     "secret alpha-repo-pass here"),
	           NULL);
	turn();
	json_t *last = json_array_get(s->sent, json_array_size(s->sent) - 1);
	EQ_STR(rmj_str(last, "type"), "log");
	EQ_STR(rmj_str(json_array_get(json_object_get(last, "lines"), 0), "payload"),
	       "secret *** here");
	/* terminal state ends the stream */
	agent_says(ag, "job.finished",
	           json_pack("{s:s,s:i,s:s,s:i,s:s}", "job_id", job, "seq", 1202, "status",
	                     "succeeded", "exit_code", 0, "finished_at", "2026-01-01T00:00:02Z"),
	           NULL);
	turn();
	EQ_INT(n_sent(s, "end"), 1);
	EQ_INT(s->close_code, 1000);
	conn_gone(s);
	EQ_INT(job_hub_subscribers(app.jobs), 0);

	/* a live subscriber that does not drain past the 1 MiB cap is dropped: resync */
	char job2[27];
	EQ_INT(store_job_create(app.store, host, "backup", NULL, "t", job2), RM_OK);
	snprintf(path, sizeof path, "/api/jobs/%s/stream", job2);
	struct ws_conn *slow = browser(job_hub_endpoint(), path);
	EQ_INT(slow->ep->on_open(slow, &app), RM_OK);
	char big[60000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = 0;
	for (int k = 0; k < 40 && !slow->close_code; k++) {
		agent_says(ag, "log.stream",
		           json_pack("{s:s,s:[{s:i,s:s,s:s,s:s}]}", "job_id", job2, "lines", "seq",
		                     k + 1, "ts", "2026-01-01T00:00:01Z", "stream", "stdout",
		                     "payload", big),
		           NULL);
		turn();
	}
	EQ_INT(slow->close_code, 4008);
	EQ_STR(slow->close_reason, "resync");
	conn_gone(slow);
	conn_gone(ag);
	teardown();
}

int main(void)
{
	rm_crypto_init();
	rm_log_set_level(RM_LOG_WARN);
	RUN(agent_hello_and_presence);
	RUN(agent_batching_and_ack_grouping);
	RUN(agent_connection_replacement);
	RUN(event_hub_auth_coalescing_and_resync);
	RUN(job_hub_backfill_live_and_resync);
	return tap_done();
}
