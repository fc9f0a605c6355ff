/* engine/: secret redaction of agent-reported strings (host_secrets, creds), change
 * notifications (notify), presence without and with a provider, sessions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "server/engine/creds.h"
#include "server/engine/rpc.h"
#include "server/app.h"
#include "server/engine/host_secrets.h"
#include "server/engine/notify.h"
#include "server/engine/presence.h"
#include "server/engine/session.h"
#include "server/store/store.h"
#include "tap.h"

static char tmpdir[256];

static struct store *fresh(const char *name)
{
	char path[400];
	snprintf(path, sizeof path, "%s/%s.db", tmpdir, name);
	struct store *s = NULL;
	if (store_open(path, &s))
		printf("# store_open failed\n");
	return s;
}

static char *redact(const struct host_secrets *hs, const char *s)
{
	return host_secrets_redact(hs, s, strlen(s));
}

TEST(redact_basics)
{
	struct host_secrets *hs = host_secrets_new();
	EQ_INT(host_secrets_count(hs), 0);
	OK(redact(hs, "nothing to see") == NULL);
	host_secrets_add(hs, "abc"); /* < 4 chars: ignored */
	host_secrets_add(hs, NULL);
	host_secrets_add(hs, "s3cret-pw");
	host_secrets_add(hs, "s3cret-pw"); /* duplicate */
	EQ_INT(host_secrets_count(hs), 1);
	OK(redact(hs, "abc only") == NULL);
	OK(redact(hs, "s3cret-p") == NULL); /* a prefix is not the secret */
	char *r = redact(hs, "Fatal: wrong password s3cret-pw, again:s3cret-pw");
	EQ_STR(r, "Fatal: wrong password ***, again:***");
	free(r);
	r = redact(hs, "s3cret-pw");
	EQ_STR(r, "***");
	free(r);
	/* a longer secret containing a shorter one is masked whole */
	host_secrets_add(hs, "pw");
	host_secrets_add(hs, "cret");
	host_secrets_add(hs, "my-s3cret-pw-long");
	r = redact(hs, "x my-s3cret-pw-long y cret z");
	EQ_STR(r, "x *** y *** z");
	free(r);
	OK(host_secrets_redact(NULL, "s3cret-pw", 9) == NULL);
	host_secrets_free(hs);
	host_secrets_free(NULL);
}

TEST(redact_from_creds_and_json)
{
	json_t *creds = json_pack("{s:s,s:s,s:s,s:s,s:b}", "repo_url",
	                          "rest:http://backup:url-pass-42@rest.lan:8000/host1",
	                          "repo_username", "backup", "repo_password", "repo-pass-1234",
	                          "aws_secret_access_key", "AKIASECRETVALUE", "generated", 0);
	struct host_secrets *hs = host_secrets_new();
	host_secrets_add_creds(hs, creds);
	EQ_INT(host_secrets_count(hs), 3); /* url password, repo password, backend key */
	char *r = redact(hs, "open rest:http://backup:url-pass-42@rest.lan:8000/host1 failed");
	EQ_STR(r, "open rest:http://backup:***@rest.lan:8000/host1 failed");
	free(r);
	OK(redact(hs, "user backup on rest.lan") == NULL); /* usernames and hosts stay */

	json_t *v =
	    json_pack("{s:s,s:[s,s,{s:s}],s:i}", "error", "key repo-pass-1234 rejected", "files",
	              "/etc/AKIASECRETVALUE", "/ok", "deep", "url-pass-42", "n", 3);
	EQ_INT(host_secrets_redact_json(hs, v), 3);
	EQ_STR(rmj_str(v, "error"), "key *** rejected");
	json_t *files = json_object_get(v, "files");
	EQ_STR(json_string_value(json_array_get(files, 0)), "/etc/***");
	EQ_STR(json_string_value(json_array_get(files, 1)), "/ok");
	EQ_STR(rmj_str(json_array_get(files, 2), "deep"), "***");
	EQ_INT(host_secrets_redact_member(hs, v, "error"), 0); /* already clean */
	EQ_INT(host_secrets_redact_member(hs, v, "n"), 0);     /* not a string */
	json_decref(v);
	host_secrets_free(hs);
	json_decref(creds);
}

TEST(redact_loaded_from_store)
{
	struct store *st = fresh("creds");
	uint8_t key[RM_KEY_BYTES];
	for (size_t i = 0; i < sizeof key; i++)
		key[i] = (uint8_t)(i * 7 + 1);
	char host[27];
	EQ_INT(store_host_create(st, "alpha", NULL, NULL, "bearer-hash", host), RM_OK);
	/* nothing stored: an empty list, no error */
	struct host_secrets *hs = host_secrets_load(st, key, host);
	EQ_INT(host_secrets_count(hs), 0);
	host_secrets_free(hs);
	const char *pt = "{\"repo_url\":\"/srv/repo\",\"repo_username\":\"\","
	                 "\"repo_password\":\"stored-pass-777\"}";
	char *ad = rm_xasprintf("host_credentials:%s:repo", host);
	char *ct = NULL;
	EQ_INT(rm_aead_seal(key, pt, strlen(pt), ad, &ct), RM_OK);
	EQ_INT(store_cred_put(st, host, "repo", ct), RM_OK);
	json_t *creds = NULL;
	EQ_INT(creds_get(st, key, host, "repo", &creds), RM_OK);
	EQ_STR(rmj_str(creds, "repo_password"), "stored-pass-777");
	creds_free(creds);
	EQ_INT(creds_get(st, key, host, "admin", &creds), RM_ERR_NOTFOUND);
	/* bound to its row: the same ciphertext under another host does not open */
	char other[27];
	EQ_INT(store_host_create(st, "beta", NULL, NULL, "bearer-2", other), RM_OK);
	EQ_INT(store_cred_put(st, other, "repo", ct), RM_OK);
	EQ_INT(creds_get(st, key, other, "repo", &creds), RM_ERR_CRYPTO);
	hs = host_secrets_load(st, key, host);
	EQ_INT(host_secrets_count(hs), 1);
	char *r = redact(hs, "Fatal: stored-pass-777");
	EQ_STR(r, "Fatal: ***");
	free(r);
	host_secrets_free(hs);
	free(ct);
	free(ad);
	store_close(st);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The log hot path: a line without a secret costs a memmem per secret, no allocation. */
TEST(redact_rate)
{
	struct host_secrets *hs = host_secrets_new();
	host_secrets_add(hs, "repo-pass-1234");
	host_secrets_add(hs, "url-pass-42");
	const char *line = "{\"message_type\":\"status\",\"percent_done\":0.42,\"total_files\":"
	                   "1234,\"files_done\":517,\"bytes_done\":123456789}";
	size_t len = strlen(line), hits = 0;
	double t0 = now_s();
	for (int i = 0; i < 1000000; i++) {
		char *r = host_secrets_redact(hs, line, len);
		if (r)
			hits++;
		free(r);
	}
	double dt = now_s() - t0;
	printf("# redact: 1,000,000 clean lines in %.3f s = %.0f lines/s\n", dt, 1e6 / dt);
	EQ_INT(hits, 0);
	OK(dt < 5.0); /* generous under ASan; ~0.1 s in a release build */
	host_secrets_free(hs);
}

struct seen {
	int hosts, jobs;
	char last[32];
};

static void on_change(void *ud, enum notify_kind kind, const char *id)
{
	struct seen *s = ud;
	if (kind == NOTIFY_HOST)
		s->hosts++;
	if (kind == NOTIFY_JOB)
		s->jobs++;
	rm_strlcpy(s->last, id, sizeof s->last);
}

TEST(notify)
{
	struct notify *n = notify_new();
	struct seen both = { 0 }, jobs = { 0 };
	notify_subscribe(n, NOTIFY_HOST | NOTIFY_JOB, on_change, &both);
	notify_subscribe(n, NOTIFY_JOB, on_change, &jobs);
	notify_host_changed(n, "h1");
	notify_job_changed(n, "j1");
	notify_job_changed(n, NULL); /* ignored */
	EQ_INT(both.hosts, 1);
	EQ_INT(both.jobs, 1);
	EQ_STR(both.last, "j1");
	EQ_INT(jobs.hosts, 0);
	EQ_INT(jobs.jobs, 1);
	notify_unsubscribe(n, on_change, &both);
	notify_host_changed(n, "h2");
	notify_job_changed(n, "j2");
	EQ_INT(both.hosts, 1);
	EQ_INT(both.jobs, 1);
	EQ_INT(jobs.jobs, 2);
	notify_free(n);
	notify_host_changed(NULL, "h"); /* no-op */
	notify_unsubscribe(NULL, on_change, &both);
}

struct fake_hub {
	int64_t seen;
	int sent, offline, closed;
	enum rm_msg_type last_type;
	json_t *last;
};

static int fake_send(void *ud, const char *host_id, enum rm_msg_type type, json_t *p,
                     char id_out[RM_ULID_BUF])
{
	struct fake_hub *f = ud;
	if (strcmp(host_id, "h1") != 0) {
		json_decref(p);
		return RM_ERR_NOTFOUND;
	}
	f->sent++;
	if (id_out)
		snprintf(id_out, RM_ULID_BUF, "req%d", f->sent);
	f->last_type = type;
	json_decref(f->last);
	f->last = p;
	return RM_OK;
}

static int64_t fake_last_seen(void *ud, const char *host_id)
{
	struct fake_hub *f = ud;
	return strcmp(host_id, "h1") == 0 ? f->seen : 0;
}

static void fake_note_offline(void *ud, const char *host_id)
{
	((struct fake_hub *)ud)->offline++;
}

static void fake_disconnect(void *ud, const char *host_id, int code, const char *reason)
{
	((struct fake_hub *)ud)->closed = code;
}

static const struct presence_ops fake_ops = {
	.send = fake_send,
	.last_seen = fake_last_seen,
	.note_offline = fake_note_offline,
	.disconnect = fake_disconnect,
};

TEST(presence)
{
	struct presence *p = presence_new();
	/* no provider: everyone offline, sends refused (and the payload released) */
	EQ_INT(presence_is_connected(p, "h1"), 0);
	EQ_INT(presence_send(p, "h1", RM_MSG_COMMAND_CANCEL, json_object()), RM_ERR_NOTFOUND);
	presence_note_offline(p, "h1");
	struct fake_hub f = { .seen = 86400000 };
	presence_set_provider(p, &fake_ops, &f);
	EQ_INT(presence_is_connected(p, "h1"), 1);
	EQ_INT(presence_is_connected(p, "h2"), 0);
	json_t *args = json_pack("{s:[s]}", "paths", "/etc");
	EQ_INT(presence_send_command(p, "h1", "J1", "backup", args), RM_OK);
	EQ_INT(f.last_type, RM_MSG_COMMAND_RUN);
	EQ_STR(rmj_str(f.last, "job_id"), "J1");
	EQ_STR(rmj_str(f.last, "kind"), "backup");
	OK(json_equal(json_object_get(f.last, "args"), args));
	EQ_INT(presence_send_command(p, "h2", "J2", "backup", NULL), RM_ERR_NOTFOUND);
	json_decref(args);
	/* overlay: a newer in-memory time replaces the stored one, an older does not */
	json_t *host =
	    json_pack("{s:s,s:s}", "id", "h1", "last_seen_at", "1970-01-01T00:00:00.000Z");
	presence_overlay_last_seen(p, host);
	EQ_STR(rmj_str(host, "last_seen_at"), "1970-01-02T00:00:00.000Z");
	f.seen = 1000;
	presence_overlay_last_seen(p, host);
	EQ_STR(rmj_str(host, "last_seen_at"), "1970-01-02T00:00:00.000Z");
	json_decref(host);
	presence_note_offline(p, "h1");
	presence_disconnect(p, "h1", 4003, "deleted");
	EQ_INT(f.offline, 1);
	EQ_INT(f.closed, 4003);
	presence_set_provider(p, NULL, NULL);
	EQ_INT(presence_is_connected(p, "h1"), 0);
	json_decref(f.last);
	presence_free(p);
}

struct rpc_seen {
	int calls;
	enum rpc_status st;
	char value[32];
};

static void rpc_done(void *ctx, enum rpc_status st, const json_t *result)
{
	struct rpc_seen *s = ctx;
	s->calls++;
	s->st = st;
	snprintf(s->value, sizeof s->value, "%s", result ? rmj_str(result, "v") : "(null)");
}

static json_t *result_for(int n, const char *v)
{
	char id[16];
	snprintf(id, sizeof id, "req%d", n);
	return json_pack("{s:s,s:s}", "request_id", id, "v", v);
}

TEST(rpc_calls)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct app app = { .loop = &loop };
	app.presence = presence_new();
	app.rpc = rpc_new(&app);
	struct fake_hub f = { .seen = 1 };
	presence_set_provider(app.presence, &fake_ops, &f);
	struct rpc_seen a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 };
	/* offline host: NULL at once, never called back */
	OK(rpc_start(&app, "h2", RM_MSG_TREE_LIST, json_object(), 1000, rpc_done, &a) == NULL);
	/* answered: req1; a second answer and a foreign host's answer are ignored */
	OK(rpc_start(&app, "h1", RM_MSG_TREE_LIST, json_object(), 5000, rpc_done, &a) != NULL);
	json_t *r = result_for(1, "x");
	rpc_deliver(&app, "h9", r);
	EQ_INT(a.calls, 0);
	rpc_deliver(&app, "h1", r);
	rpc_deliver(&app, "h1", r);
	json_decref(r);
	EQ_INT(a.calls, 1);
	EQ_INT(a.st, RPC_OK);
	EQ_STR(a.value, "x");
	/* remote error */
	OK(rpc_start(&app, "h1", RM_MSG_TREE_LIST, json_object(), 5000, rpc_done, &b) != NULL);
	r = json_pack("{s:s,s:{s:s,s:s}}", "request_id", "req2", "error", "code", "nope", "message",
	              "m");
	rpc_deliver(&app, "h1", r);
	json_decref(r);
	EQ_INT(b.st, RPC_REMOTE_ERROR);
	/* abandoned: never called; lost with the host; timed out on the loop */
	struct rpc_call *ab =
	    rpc_start(&app, "h1", RM_MSG_TREE_LIST, json_object(), 5000, rpc_done, &c);
	rpc_abandon(ab);
	OK(rpc_start(&app, "h1", RM_MSG_TREE_LIST, json_object(), 5000, rpc_done, &d) != NULL);
	EQ_INT((int)rpc_pending_count(app.rpc), 2);
	rpc_host_gone(&app, "h1");
	EQ_INT(c.calls, 0);
	EQ_INT(d.calls, 1);
	EQ_INT(d.st, RPC_LOST);
	struct rpc_seen e = { 0 };
	OK(rpc_start(&app, "h1", RM_MSG_TREE_LIST, json_object(), 20, rpc_done, &e) != NULL);
	uint64_t t0 = uv_hrtime();
	while (e.calls == 0 && uv_hrtime() - t0 < 5000000000ULL)
		uv_run(&loop, UV_RUN_ONCE);
	EQ_INT(e.st, RPC_TIMEOUT);
	/* stop ends the rest as lost */
	struct rpc_seen g = { 0 };
	OK(rpc_start(&app, "h1", RM_MSG_TREE_LIST, json_object(), 5000, rpc_done, &g) != NULL);
	rpc_stop(app.rpc);
	EQ_INT(g.st, RPC_LOST);
	EQ_INT((int)rpc_pending_count(app.rpc), 0);
	OK(rpc_start(&app, "h1", RM_MSG_TREE_LIST, json_object(), 5000, rpc_done, &g) == NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	EQ_INT(uv_loop_close(&loop), 0);
	rpc_free(app.rpc);
	json_decref(f.last);
	presence_free(app.presence);
}

TEST(sessions)
{
	struct store *st = fresh("sessions");
	char uid[27];
	EQ_INT(store_user_create(st, "alice", "hash", "operator", uid), RM_OK);
	char *token = NULL, csrf[64];
	EQ_INT(session_create(st, uid, 3600, &token, csrf), RM_OK);
	struct auth_info info;
	EQ_INT(session_lookup(st, token, 0, &info), RM_OK);
	EQ_INT(info.role, ROLE_OPERATOR);
	EQ_STR(info.username, "alice");
	EQ_STR(info.csrf, csrf);
	EQ_INT(info.via_cookie, 1);
	EQ_INT(session_lookup(st, "nope", 0, &info), RM_ERR_AUTH);
	EQ_INT(session_lookup(st, "", 0, &info), RM_ERR_AUTH);
	EQ_INT(session_lookup(st, NULL, 0, &info), RM_ERR_AUTH);
	EQ_INT(session_lookup(st, token, INT64_MAX / 2, &info), RM_ERR_AUTH); /* expired */
	EQ_INT(session_role_from_name("admin"), ROLE_ADMIN);
	EQ_INT(session_role_from_name("public"), -1);
	EQ_STR(session_role_name(ROLE_VIEWER), "viewer");
	EQ_STR(session_role_name(42), "public");
	free(token);
	store_close(st);
}

int main(void)
{
	rm_crypto_init();
	snprintf(tmpdir, sizeof tmpdir, "/tmp/rm-test-engine-XXXXXX");
	if (!mkdtemp(tmpdir))
		return 1;
	RUN(redact_basics);
	RUN(redact_from_creds_and_json);
	RUN(redact_loaded_from_store);
	RUN(redact_rate);
	RUN(notify);
	RUN(presence);
	RUN(rpc_calls);
	RUN(sessions);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	if (system(cmd))
		printf("# cleanup failed\n");
	return tap_done();
}
