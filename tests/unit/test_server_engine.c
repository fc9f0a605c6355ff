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
#include "common/rmtime.h"
#include "server/engine/creds.h"
#include "server/engine/rpc.h"
#include "server/app.h"
#include "server/engine/host_secrets.h"
#include "server/engine/notify.h"
#include "server/engine/presence.h"
#include "server/engine/people.h"
#include "server/engine/session.h"
#include "server/engine/throttle.h"
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

/* One scripted attacker against one username, on a simulated clock: every attempt waits
 * for nothing but the server's answer (50 ms apart), 1,000 of them. */
TEST(throttle_brute_force_minute)
{
	struct throttle *t = throttle_new();
	int64_t start = 1000000, now = start;
	int evaluated_first_minute = 0, evaluated = 0, refused = 0;
	for (int i = 0; i < 1000; i++, now += 50) {
		if (throttle_wait_ms(t, "u:victim", now) ||
		    throttle_wait_ms(t, "ip:10.0.0.9", now)) {
			refused++;
			continue;
		}
		throttle_begin(t, "u:victim", now);
		throttle_begin(t, "ip:10.0.0.9", now);
		throttle_end(t, "u:victim", 1, now);
		throttle_end(t, "ip:10.0.0.9", 1, now);
		evaluated++;
		if (now - start < 60000)
			evaluated_first_minute++;
	}
	printf("# simulated: %d of 1000 attempts evaluated (%d in the first minute), %d refused\n",
	       evaluated, evaluated_first_minute, refused);
	OK(evaluated_first_minute < 50);
	OK(evaluated_first_minute >= THROTTLE_USER_FREE);
	/* 1000 attempts 50 ms apart span 50 s: 5 free + 1 s, 2 s, 4 s, 8 s, 16 s lockouts */
	EQ_INT(evaluated, 10);
	/* another user from another address is not slowed */
	EQ_INT(throttle_wait_ms(t, "u:bystander", now), 0);
	EQ_INT(throttle_wait_ms(t, "ip:10.0.0.10", now), 0);
	/* a full hour of hammering: the lockout stops growing at 15 min */
	for (int64_t end = now + 3600 * 1000LL; now < end; now += 1000) {
		if (throttle_wait_ms(t, "u:victim", now))
			continue;
		throttle_begin(t, "u:victim", now);
		throttle_end(t, "u:victim", 1, now);
	}
	int64_t w = throttle_wait_ms(t, "u:victim", now);
	OK(w > 0 && w <= THROTTLE_MAX_MS);
	throttle_free(t);
}

TEST(throttle_rules)
{
	struct throttle *t = throttle_new();
	int64_t now = 5000;
	/* 4 failures then a success: a username key is cleared */
	for (int i = 0; i < 4; i++) {
		throttle_begin(t, "u:a", now);
		EQ_INT(throttle_end(t, "u:a", 1, now), 0);
	}
	throttle_begin(t, "u:a", now);
	throttle_end(t, "u:a", 0, now);
	EQ_INT(throttle_failures(t, "u:a"), 0);
	/* an address key is not: 20 free failures, then a 1 s lockout, then 2 s */
	for (int i = 0; i < THROTTLE_IP_FREE - 1; i++) {
		throttle_begin(t, "ip:x", now);
		EQ_INT(throttle_end(t, "ip:x", 1, now), 0);
	}
	throttle_begin(t, "ip:x", now);
	throttle_end(t, "ip:x", 0, now);
	EQ_INT(throttle_failures(t, "ip:x"), THROTTLE_IP_FREE - 1);
	throttle_begin(t, "ip:x", now);
	EQ_INT(throttle_end(t, "ip:x", 1, now), 1000);
	EQ_INT(throttle_wait_ms(t, "ip:x", now + 400), 600);
	EQ_INT(throttle_wait_ms(t, "ip:x", now + 1000), 0);
	throttle_begin(t, "ip:x", now + 1000);
	EQ_INT(throttle_end(t, "ip:x", 1, now + 1000), 2000);
	/* past the free allowance only one check is in flight: parallel requests wait */
	for (int i = 0; i < THROTTLE_USER_FREE; i++) {
		EQ_INT(throttle_wait_ms(t, "u:p", now), 0);
		throttle_begin(t, "u:p", now);
	}
	OK(throttle_wait_ms(t, "u:p", now) > 0);
	for (int i = 0; i < THROTTLE_USER_FREE; i++)
		throttle_end(t, "u:p", 1, now);
	EQ_INT(throttle_wait_ms(t, "u:p", now), 1000);
	/* forgotten after an hour without failures */
	EQ_INT(throttle_wait_ms(t, "u:p", now + THROTTLE_FORGET_MS + 1), 0);
	throttle_begin(t, "u:p", now + THROTTLE_FORGET_MS + 1);
	EQ_INT(throttle_end(t, "u:p", 1, now + THROTTLE_FORGET_MS + 1), 0);
	EQ_INT(throttle_failures(t, "u:p"), 1);
	/* a full table keeps the locked keys and drops the old unlocked ones */
	char k[32];
	for (int i = 0; i < THROTTLE_MAX_KEYS + 10; i++) {
		snprintf(k, sizeof k, "u:spray%d", i);
		throttle_begin(t, k, now + 2000);
		throttle_end(t, k, 1, now + 2000);
	}
	OK(throttle_wait_ms(t, "ip:x", now + 2000) > 0);
	/* NULL table: no throttling */
	EQ_INT(throttle_wait_ms(NULL, "u:a", now), 0);
	throttle_free(t);
}

TEST(people_policy)
{
	OK(people_username_ok("a"));
	OK(people_username_ok("ops.team_1-x"));
	OK(!people_username_ok(""));
	OK(!people_username_ok("Admin"));
	OK(!people_username_ok("a b"));
	OK(!people_username_ok("a@b"));
	char long_name[70];
	memset(long_name, 'a', 65);
	long_name[65] = 0;
	OK(!people_username_ok(long_name));
	long_name[64] = 0;
	OK(people_username_ok(long_name));
	OK(people_password_problem("bob", "short") != NULL);
	OK(people_password_problem("bobbobbobbob", "BOBBOBBOBBOB") != NULL);
	OK(people_password_problem("bob", "PASSWORD1234") != NULL);
	OK(people_password_problem("bob", "correct horse battery staple") != NULL);
	OK(people_password_problem("bob", "a decent passphrase") == NULL);
	char hash[65], h2[65];
	char *tok = people_new_api_token(hash);
	OK(people_is_api_token(tok));
	EQ_INT(strlen(tok), 4 + 43);
	rm_sha256_hex(tok, strlen(tok), h2);
	EQ_STR(hash, h2);
	free(tok);
	tok = people_new_setup_token(hash);
	OK(!people_is_api_token(tok));
	free(tok);
}

TEST(api_tokens)
{
	struct store *st = fresh("tokens");
	char uid[27], tid[27], tid2[27];
	EQ_INT(store_user_create(st, "carl", "hash", "operator", uid), RM_OK);
	char hash[65], vhash[65];
	char *tok = people_new_api_token(hash);
	char *vtok = people_new_api_token(vhash);
	int64_t now = rm_now_ms();
	EQ_INT(store_token_create(st, uid, "ci", hash, NULL, now + 60000, tid), RM_OK);
	EQ_INT(store_token_create(st, uid, "ro", vhash, "viewer", now + 60000, tid2), RM_OK);
	struct auth_info info;
	EQ_INT(session_lookup_token(st, tok, now, &info), RM_OK);
	EQ_INT(info.role, ROLE_OPERATOR);
	EQ_INT(info.via_token, 1);
	EQ_INT(info.via_cookie, 0);
	EQ_STR(info.token_id, tid);
	EQ_STR(info.username, "carl");
	EQ_INT(session_lookup_token(st, vtok, now, &info), RM_OK);
	EQ_INT(info.role, ROLE_VIEWER);
	/* never above the user's current role */
	EQ_INT(store_user_set_role(st, uid, "viewer"), RM_OK);
	EQ_INT(session_lookup_token(st, tok, now, &info), RM_OK);
	EQ_INT(info.role, ROLE_VIEWER);
	EQ_INT(store_user_set_role(st, uid, "admin"), RM_OK);
	EQ_INT(session_lookup_token(st, vtok, now, &info), RM_OK);
	EQ_INT(info.role, ROLE_VIEWER);
	/* expired, disabled user, revoked */
	EQ_INT(session_lookup_token(st, tok, now + 60000, &info), RM_ERR_AUTH);
	EQ_INT(store_user_set_disabled(st, uid, 1), RM_OK);
	EQ_INT(session_lookup_token(st, tok, now, &info), RM_ERR_AUTH);
	EQ_INT(store_user_set_disabled(st, uid, 0), RM_OK);
	EQ_INT(store_token_delete(st, uid, tid), RM_OK);
	EQ_INT(session_lookup_token(st, tok, now, &info), RM_ERR_AUTH);
	EQ_INT(session_lookup_token(st, "rmt_nope", now, &info), RM_ERR_AUTH);
	EQ_INT(session_lookup_token(st, NULL, now, &info), RM_ERR_AUTH);
	json_t *l = store_tokens_list(st, uid);
	EQ_INT(json_array_size(json_object_get(l, "tokens")), 1);
	OK(json_is_string(
	    json_object_get(json_array_get(json_object_get(l, "tokens"), 0), "last_used_at")));
	json_decref(l);
	free(tok);
	free(vtok);
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
	RUN(throttle_brute_force_minute);
	RUN(throttle_rules);
	RUN(people_policy);
	RUN(api_tokens);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	if (system(cmd))
		printf("# cleanup failed\n");
	return tap_done();
}
