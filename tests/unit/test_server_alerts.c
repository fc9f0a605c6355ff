/* C4 alert engine against a real store (no receivers): failure rules for every job kind
 * (incl. forget/prune/check/drill that other helpers add), dedupe and idempotence,
 * auto-resolve, backup_anomaly, agent_offline (always-on vs intermittent), the digest
 * hold, rule validation, channel validation and secrets at rest. */
#include <curl/curl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "common/crypto.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/rmtime.h"
#include "server/app.h"
#include "server/config.h"
#include "server/engine/alerts.h"
#include "server/engine/channels.h"
#include "server/engine/notify.h"
#include "server/store/store.h"
#include "tap.h"

static char tmpdir[256];
static int dbn;
static struct app app;
static struct server_config cfg;
static uv_loop_t loop;

static void setup(void)
{
	char path[320], err[200];
	snprintf(path, sizeof path, "%s/a%d.db", tmpdir, ++dbn);
	memset(&app, 0, sizeof app);
	config_init(&cfg);
	config_finalize(&cfg, err, sizeof err);
	uv_loop_init(&loop);
	app.loop = &loop;
	app.cfg = &cfg;
	rm_random_bytes(app.key, sizeof app.key);
	app.notify = notify_new();
	if (store_open(path, &app.store))
		printf("# store_open failed\n");
	alerts_start(&app);
}

static void teardown(void)
{
	alerts_stop(app.alerts);
	uv_run(&loop, UV_RUN_DEFAULT);
	alerts_free(app.alerts);
	uv_loop_close(&loop);
	notify_free(app.notify);
	store_close(app.store);
	config_cleanup(&cfg);
}

static void mk_host(const char *name, char id[RM_ULID_BUF])
{
	json_t *tags = json_pack("[s]", "prod");
	json_t *paths = json_pack("[s]", "/etc");
	char bearer[64];
	snprintf(bearer, sizeof bearer, "bearer-%s", name);
	store_host_create(app.store, name, tags, paths, bearer, id);
	json_decref(tags);
	json_decref(paths);
}

/* A finished job of kind (group may be NULL); returns its id in id. */
static void mk_job(const char *host, const char *kind, const char *group, const char *status,
                   json_t *stats, char id[RM_ULID_BUF])
{
	json_t *args = group ? json_pack("{s:s}", "group", group) : json_object();
	store_job_create(app.store, host, kind, args, "test", id);
	store_job_finish(app.store, id, status, strcmp(status, "failed") == 0 ? 1 : 0,
	                 strcmp(status, "failed") == 0 ? "boom" : NULL, stats, rm_now_ms());
	json_decref(args);
	json_decref(stats);
	alerts_eval_job(&app, id);
}

static json_t *active(const char *rule, const char *host, const char *grp)
{
	json_t *a = NULL;
	store_alert_find_active(app.store, rule, host, grp, &a);
	return a;
}

TEST(job_kinds_dedupe_resolve)
{
	setup();
	char h[RM_ULID_BUF], j[RM_ULID_BUF];
	mk_host("web1", h);
	static const char *const kinds[][3] = {
		{ "forget", "forget_failed", "warning" },
		{ "prune", "prune_failed", "warning" },
		{ "check", "check_failed", "critical" },
		{ "drill", "restore_drill_failed", "critical" },
		{ "update", "update_failed", "warning" },
		{ "backup", "backup_failed", "warning" },
	};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		mk_job(h, kinds[i][0], NULL, "failed", NULL, j);
		json_t *a = active(kinds[i][1], h, "");
		OK(a != NULL);
		EQ_STR(rmj_str(a, "severity"), kinds[i][2]);
		EQ_STR(rmj_str(a, "job_id"), j);
		EQ_INT(rmj_int(a, "count", 0), 1);
		json_decref(a);
		alerts_eval_job(&app, j); /* again: idempotent */
		a = active(kinds[i][1], h, "");
		EQ_INT(rmj_int(a, "count", 0), 1);
		json_decref(a);
	}
	/* unknown kinds and cancelled jobs raise nothing */
	mk_job(h, "init", NULL, "failed", NULL, j);
	mk_job(h, "restore", NULL, "cancelled", NULL, j);
	long long open = 0;
	store_alerts_count(app.store, "open", &open);
	EQ_INT(open, 6);
	/* per group: ten failures of one group are one alert; another group is another */
	for (int i = 0; i < 10; i++)
		mk_job(h, "backup", "docs", "failed", NULL, j);
	mk_job(h, "backup", "mail", "failed", NULL, j);
	json_t *a = active("backup_failed", h, "docs");
	EQ_INT(rmj_int(a, "count", 0), 10);
	OK(strstr(rmj_str(a, "message"), "group \"docs\"") != NULL);
	json_decref(a);
	store_alerts_count(app.store, "open", &open);
	EQ_INT(open, 8);
	/* success resolves that group's alert only, and the check alert by a check */
	mk_job(h, "backup", "docs", "succeeded", json_pack("{s:i}", "data_added", 10), j);
	OK(active("backup_failed", h, "docs") == NULL);
	a = active("backup_failed", h, "mail");
	OK(a != NULL);
	json_decref(a);
	mk_job(h, "check", NULL, "succeeded", NULL, j);
	OK(active("check_failed", h, "") == NULL);
	json_t *list = store_alerts_list(app.store, "resolved", NULL, 100);
	EQ_INT(json_array_size(list), 2);
	OK(strstr(rmj_str(json_array_get(list, 0), "resolution"), "succeeded") != NULL);
	json_decref(list);
	/* a resolved alert is history: the next failure raises a new one */
	mk_job(h, "check", NULL, "failed", NULL, j);
	a = active("check_failed", h, "");
	EQ_INT(rmj_int(a, "count", 0), 1);
	json_decref(a);
	/* ack and resolve by hand */
	a = active("prune_failed", h, "");
	const char *id = rmj_str(a, "id");
	EQ_INT(alerts_ack(&app, id, "ops"), RM_OK);
	EQ_INT(alerts_ack(&app, id, "ops"), RM_ERR_CONFLICT);
	EQ_INT(alerts_resolve(&app, id, "ops"), RM_OK);
	EQ_INT(alerts_resolve(&app, id, "ops"), RM_ERR_CONFLICT);
	EQ_INT(alerts_ack(&app, "01ARZ3NDEKTSV4RRFFQ69G5FAV", "ops"), RM_ERR_NOTFOUND);
	json_decref(a);
	teardown();
}

TEST(order_and_catch_up)
{
	setup();
	char h[RM_ULID_BUF], f[RM_ULID_BUF], ok[RM_ULID_BUF], j[RM_ULID_BUF];
	mk_host("late", h);
	/* a success that finished before the failure (replayed late) clears nothing */
	json_t *args = json_object();
	store_job_create(app.store, h, "backup", args, "t", ok);
	store_job_finish(app.store, ok, "succeeded", 0, NULL, NULL, rm_now_ms() - 60000);
	mk_job(h, "backup", NULL, "failed", NULL, f);
	alerts_eval_job(&app, ok);
	json_t *a = active("backup_failed", h, "");
	OK(a != NULL);
	json_decref(a);
	/* jobs finished while nothing evaluated them (a crash): evaluated at the next start */
	store_job_create(app.store, h, "prune", args, "t", j);
	store_job_finish(app.store, j, "failed", 1, "x", NULL, rm_now_ms());
	json_decref(args);
	OK(active("prune_failed", h, "") == NULL);
	alerts_stop(app.alerts); /* evaluates the dirty set only: this job was never notified */
	uv_run(&loop, UV_RUN_DEFAULT);
	alerts_free(app.alerts);
	app.alerts = NULL;
	alerts_start(&app);
	uv_run(&loop, UV_RUN_NOWAIT); /* the start's kick */
	a = active("prune_failed", h, "");
	OK(a != NULL);
	json_decref(a);
	a = active("backup_failed", h, "");
	EQ_INT(rmj_int(a, "count", 0), 1); /* re-evaluation changed nothing */
	json_decref(a);
	teardown();
}

TEST(anomaly)
{
	setup();
	char h[RM_ULID_BUF], j[RM_ULID_BUF];
	mk_host("db1", h);
	json_t *body = json_pack("{s:[{s:s,s:{s:i,s:i}}]}", "rules", "rule", "backup_anomaly",
	                         "params", "min_samples", 3, "min_bytes", 1000);
	const char *field = NULL;
	char err[200];
	EQ_INT(alerts_rules_put(&app, body, &field, err, sizeof err), RM_OK);
	json_decref(body);
	long long sizes[] = { 500000, 2000, 2500, 1800, 2200, 2100, 30000, 2000 };
	for (int i = 0; i < 8; i++)
		mk_job(h, "backup", "g", "succeeded",
		       json_pack("{s:I,s:i,s:i}", "data_added", (json_int_t)sizes[i], "files_new",
		                 1, "files_changed", 2),
		       j);
	/* the first (full) backup and the ordinary ones do not fire; 30000 >= 10 x ~2100 does */
	json_t *list = store_alerts_list(app.store, NULL, NULL, 100);
	EQ_INT(json_array_size(list), 1);
	json_t *a = json_array_get(list, 0);
	EQ_STR(rmj_str(a, "rule"), "backup_anomaly");
	EQ_STR(rmj_str(a, "group"), "g");
	OK(strstr(rmj_str(a, "message"), "added 30000 bytes") != NULL);
	json_decref(list);
	/* changed files jump */
	mk_job(h, "backup", "g", "succeeded",
	       json_pack("{s:i,s:i,s:i}", "data_added", 2000, "files_new", 500, "files_changed", 0),
	       j);
	a = active("backup_anomaly", h, "g");
	EQ_INT(rmj_int(a, "count", 0), 2);
	json_decref(a);
	teardown();
}

/* Test-only: held deliveries as if created ms earlier (a second connection). */
static void age_held(int64_t ms)
{
	char path[320], sql[200];
	snprintf(path, sizeof path, "%s/a%d.db", tmpdir, dbn);
	sqlite3 *db = NULL;
	sqlite3_open(path, &db);
	sqlite3_busy_timeout(db, 5000);
	snprintf(sql, sizeof sql,
	         "UPDATE deliveries SET created_at = created_at - %lld WHERE status = 'held'",
	         (long long)ms);
	sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
}

TEST(agent_offline_and_digest)
{
	setup();
	char on[RM_ULID_BUF], inter[RM_ULID_BUF], j[RM_ULID_BUF];
	mk_host("always", on);
	mk_host("laptop", inter);
	json_t *st = json_pack("{s:s}", "mode", "intermittent");
	store_host_settings_set(app.store, inter, st);
	json_decref(st);
	int64_t old = rm_now_ms() - 20 * 60 * 1000;
	store_host_hello(app.store, on, "always", "linux", "amd64", "1", "0.14", old);
	store_host_hello(app.store, inter, "laptop", "linux", "amd64", "1", "0.14", old);
	store_host_set_status(app.store, on, "offline", old);
	store_host_set_status(app.store, inter, "offline", old);
	alerts_tick(&app);
	json_t *a = active("agent_offline", on, "");
	OK(a != NULL);
	json_decref(a);
	OK(active("agent_offline", inter, "") == NULL); /* never for intermittent hosts */
	store_host_set_status(app.store, on, "online", rm_now_ms());
	alerts_tick(&app);
	OK(active("agent_offline", on, "") == NULL);

	/* digest: a channel gets at most 10 "raised" in 5 minutes, the rest is held */
	json_t *cfgj = json_pack("{s:s}", "url", "http://127.0.0.1:9/x");
	json_t *tags = json_array();
	struct store_channel c = { .id = "01M8XW0000000000000000CHAN",
		                   .name = "c",
		                   .kind = "webhook",
		                   .min_severity = "info",
		                   .enabled = 1,
		                   .config = cfgj,
		                   .host_tags = tags,
		                   .set_secret = 1 };
	EQ_INT(store_channel_insert(app.store, &c), RM_OK);
	for (int i = 0; i < 12; i++) {
		char g[16];
		snprintf(g, sizeof g, "g%d", i);
		mk_job(on, "backup", g, "failed", NULL, j);
	}
	json_t *d = store_deliveries_list(app.store, c.id, 100);
	int held = 0, other = 0;
	size_t i;
	json_t *v;
	json_array_foreach (d, i, v) {
		if (strcmp(rmj_str(v, "status"), "held") == 0)
			held++;
		else
			other++;
	}
	EQ_INT(held, 2);
	EQ_INT(other, 10);
	json_decref(d);
	/* the receiver never answers here (the loop does not run): 4 in flight, the rest wait */
	alerts_tick(&app);
	d = store_deliveries_list(app.store, c.id, 100);
	int sending = 0;
	json_array_foreach (d, i, v)
		sending += strcmp(rmj_str(v, "status"), "sending") == 0;
	EQ_INT(sending, 4);
	json_decref(d);
	/* five minutes later the held ones go out as one digest */
	age_held(5 * 60 * 1000 + 1000);
	alerts_tick(&app);
	d = store_deliveries_list(app.store, c.id, 100);
	int digested = 0, digests = 0;
	json_array_foreach (d, i, v) {
		digested += strcmp(rmj_str(v, "status"), "digested") == 0;
		if (strcmp(rmj_str(v, "event"), "digest") == 0) {
			digests++;
			OK(strstr(rmj_str(json_object_get(v, "payload"), "text"),
			          "2 more alerts") != NULL);
		}
	}
	EQ_INT(digested, 2);
	EQ_INT(digests, 1);
	json_decref(d);
	json_decref(cfgj);
	json_decref(tags);
	teardown();
}

TEST(rules_validation)
{
	setup();
	const char *bad[] = {
		"{\"rules\":{}}",
		"{\"rules\":[{\"rule\":\"nope\"}]}",
		"{\"rules\":[{\"rule\":\"backup_anomaly\",\"params\":{\"factor\":1}}]}",
		"{\"rules\":[{\"rule\":\"backup_anomaly\",\"params\":{\"factor\":\"x\"}}]}",
		"{\"rules\":[{\"rule\":\"agent_offline\",\"params\":{\"hours\":1}}]}",
		"{\"rules\":[{\"rule\":\"agent_offline\",\"severity\":\"loud\"}]}",
		"{\"rules\":[{\"rule\":\"backup_failed\",\"enabled\":false},{\"rule\":\"x\"}]}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		json_t *b = json_loads(bad[i], 0, NULL);
		const char *field = NULL;
		char err[200] = "";
		EQ_INT(alerts_rules_put(&app, b, &field, err, sizeof err), RM_ERR_INVAL);
		OK(err[0] != 0);
		json_decref(b);
	}
	json_t *stored = store_alert_rules_get(app.store);
	EQ_INT(json_object_size(stored), 0); /* nothing written */
	json_decref(stored);
	/* a disabled rule raises nothing */
	json_t *b =
	    json_loads("{\"rules\":[{\"rule\":\"backup_failed\",\"enabled\":false}]}", 0, NULL);
	const char *field = NULL;
	char err[200];
	EQ_INT(alerts_rules_put(&app, b, &field, err, sizeof err), RM_OK);
	json_decref(b);
	char h[RM_ULID_BUF], j[RM_ULID_BUF];
	mk_host("x", h);
	mk_job(h, "backup", NULL, "failed", NULL, j);
	OK(active("backup_failed", h, "") == NULL);
	teardown();
}

static int validate(const char *body_text, const char **field, char *err)
{
	json_t *b = json_loads(body_text, 0, NULL), *out = NULL;
	char *secret = NULL;
	int set = 0;
	int rc = channel_validate(b, NULL, &out, &secret, &set, field, err, 200);
	json_decref(b);
	json_decref(out);
	free(secret);
	return rc;
}

TEST(channel_validation)
{
	const char *field = NULL;
	char err[200];
	EQ_INT(validate("{\"name\":\"a\",\"kind\":\"webhook\",\"config\":{\"url\":"
	                "\"https://u:pw-secret@h.example/x\"}}",
	                &field, err),
	       RM_ERR_INVAL);
	EQ_STR(field, "config.url");
	OK(strstr(err, "pw-secret") == NULL);
	EQ_INT(
	    validate("{\"name\":\"a\",\"kind\":\"webhook\",\"config\":{\"url\":\"file:///etc/x\"}}",
	             &field, err),
	    RM_ERR_INVAL);
	EQ_INT(validate("{\"name\":\"a\",\"kind\":\"smtp\",\"config\":{\"host\":\"m\",\"from\":"
	                "\"a@b.c\",\"to\":[\"x@y\",\"bad<@y.z\"]}}",
	                &field, err),
	       RM_ERR_INVAL);
	EQ_STR(field, "config.to");
	EQ_INT(
	    validate("{\"name\":\"a\",\"kind\":\"smtp\",\"config\":{\"host\":\"m.example\",\"tls\":"
	             "\"tls\",\"from\":\"a@b.c\",\"to\":[\"x@y.z\"]}}",
	             &field, err),
	    RM_OK);
	EQ_INT(validate("{\"name\":\"a\",\"kind\":\"ntfy\",\"config\":{\"url\":\"https://ntfy.sh\","
	                "\"topic\":\"a/b\"}}",
	                &field, err),
	       RM_ERR_INVAL);
	EQ_INT(validate(
	           "{\"name\":\"a\",\"kind\":\"webhook\",\"secret\":\"x\\ny\",\"config\":{\"url\":"
	           "\"http://h/x\"}}",
	           &field, err),
	       RM_ERR_INVAL);
	EQ_STR(field, "secret");
	/* the secret at rest: AEAD bound to the channel id */
	uint8_t key[RM_KEY_BYTES];
	rm_random_bytes(key, sizeof key);
	char *ct = NULL, *pt = NULL;
	size_t len = 0;
	EQ_INT(channel_seal_secret(key, "CHAN1", "s3cret", &ct), RM_OK);
	OK(strstr(ct, "s3cret") == NULL);
	EQ_INT(rm_aead_open(key, ct, "channel:CHAN2", &pt, &len), RM_ERR_CRYPTO);
	EQ_INT(rm_aead_open(key, ct, "channel:CHAN1", &pt, &len), RM_OK);
	EQ_STR(pt, "s3cret");
	free(pt);
	free(ct);
	json_t *row = json_pack("{s:s,s:s}", "id", "x", "secret_ct", "abc");
	json_t *pub = channel_public(row);
	OK(json_object_get(pub, "secret_ct") == NULL);
	OK(json_is_true(json_object_get(pub, "has_secret")));
	json_decref(pub);
	json_decref(row);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	rm_log_set_level(RM_LOG_ERROR);
	rm_crypto_init();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(tmpdir, sizeof tmpdir, "%s/rm-alerts-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(job_kinds_dedupe_resolve);
	RUN(order_and_catch_up);
	RUN(anomaly);
	RUN(agent_offline_and_digest);
	RUN(rules_validation);
	RUN(channel_validation);
	for (int i = 1; i <= dbn; i++) {
		const char *sfx[] = { "", "-wal", "-shm" };
		for (int k = 0; k < 3; k++) {
			char p[340];
			snprintf(p, sizeof p, "%s/a%d.db%s", tmpdir, i, sfx[k]);
			unlink(p);
		}
	}
	rmdir(tmpdir);
	curl_global_cleanup();
	return tap_done();
}
