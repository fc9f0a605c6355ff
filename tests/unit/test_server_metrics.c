/* /metrics exposition: families, label escaping, the job duration histogram (buckets from
 * the jobs table) and hosts without a backup yet. The HTTP side (token, CIDR, promtool, a
 * real prometheus) is tests/e2e/c6_metrics.test.mjs. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "server/api/api.h"
#include "server/app.h"
#include "server/config.h"
#include "server/engine/presence.h"
#include "server/store/store.h"
#include "tap.h"

static struct app app;
static struct server_config cfg;

static int has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == 0))
			return 1;
	}
	return 0;
}

#define HAS(text, line)                                         \
	do {                                                    \
		OK(has_line(text, line));                       \
		if (!has_line(text, line))                      \
			printf("#   missing line: %s\n", line); \
	} while (0)

static void job(const char *host, const char *kind, const char *status, int64_t start,
                int64_t dur_ms)
{
	char id[RM_ULID_BUF];
	json_t *args = json_object();
	OK(store_job_create(app.store, host, kind, args, "test", id) == RM_OK);
	json_decref(args);
	if (start > 0) {
		OK(store_job_set_running(app.store, id, start) == RM_OK);
		OK(store_job_finish(app.store, id, status, 0, NULL, NULL, start + dur_ms) == RM_OK);
	}
}

TEST(exposition)
{
	char a[RM_ULID_BUF], b[RM_ULID_BUF], c[RM_ULID_BUF];
	json_t *tags = json_array(), *paths = json_array();
	OK(store_host_create(app.store, "alpha", tags, paths, "h1", a) == RM_OK);
	OK(store_host_create(app.store, "beta", tags, paths, "h2", b) == RM_OK);
	OK(store_host_create(app.store, "gamma", tags, paths, "h3", c) == RM_OK);
	json_decref(tags);
	json_decref(paths);
	/* agent-reported strings reach labels: quote, backslash, newline escaped */
	OK(store_host_hello(app.store, a, "alpha", "linux", "amd64", "1.0\"x\\y\nz", "0.14.0",
	                    1700000000000LL) == RM_OK);
	OK(store_host_set_repo_stats(app.store, a, 123456, 3) == RM_OK);
	job(a, "backup", "succeeded", 1700000000000LL, 2500);  /* 2.5 s */
	job(b, "backup", "failed", 1700000100000LL, 120000);   /* 2 min */
	job(b, "backup", "failed", 1700000300000LL, 90000000); /* 25 h: only +Inf */
	job(a, "check", "succeeded", 1700000200000LL, 1000);   /* exactly 1 s: le="1" */
	job(c, "backup", "queued", 0, 0);                      /* never started: not counted */

	struct rm_buf out;
	rm_buf_init(&out, 0);
	OK(api_metrics_render(&app, &out) == RM_OK);
	const char *t = out.data ? out.data : "";
	char l[512];
	HAS(t, "# TYPE rm_job_duration_seconds histogram");
	HAS(t, "rm_hosts 3");
	HAS(t, "rm_agents_connected 0");
	snprintf(l, sizeof l,
	         "rm_host_info{host_id=\"%s\",host=\"alpha\",os=\"linux\",arch=\"amd64\","
	         "agent_version=\"1.0\\\"x\\\\y\\nz\"} 1",
	         a);
	HAS(t, l);
	snprintf(
	    l, sizeof l,
	    "rm_host_info{host_id=\"%s\",host=\"gamma\",os=\"\",arch=\"\",agent_version=\"\"} 1",
	    c);
	HAS(t, l);
	snprintf(l, sizeof l, "rm_host_online{host_id=\"%s\",host=\"alpha\"} 0", a);
	HAS(t, l);
	snprintf(
	    l, sizeof l,
	    "rm_host_last_backup_timestamp_seconds{host_id=\"%s\",host=\"alpha\"} 1700000002.500",
	    a);
	HAS(t, l);
	snprintf(l, sizeof l, "rm_host_last_backup_success{host_id=\"%s\",host=\"alpha\"} 1", a);
	HAS(t, l);
	snprintf(l, sizeof l, "rm_host_last_backup_success{host_id=\"%s\",host=\"beta\"} 0", b);
	HAS(t, l);
	snprintf(l, sizeof l, "rm_host_repo_size_bytes{host_id=\"%s\",host=\"alpha\"} 123456", a);
	HAS(t, l);
	snprintf(l, sizeof l, "rm_host_snapshots{host_id=\"%s\",host=\"alpha\"} 3", a);
	HAS(t, l);
	/* no backup yet / size unknown: no sample rather than a made-up 0 */
	snprintf(l, sizeof l, "rm_host_last_backup_timestamp_seconds{host_id=\"%s\"", c);
	OK(strstr(t, l) == NULL);
	snprintf(l, sizeof l, "rm_host_repo_size_bytes{host_id=\"%s\"", b);
	OK(strstr(t, l) == NULL);
	const char *bs = "rm_job_duration_seconds_bucket{kind=\"backup\",status=\"succeeded\",";
	snprintf(l, sizeof l, "%sle=\"1\"} 0", bs);
	HAS(t, l);
	snprintf(l, sizeof l, "%sle=\"10\"} 1", bs);
	HAS(t, l);
	snprintf(l, sizeof l, "%sle=\"+Inf\"} 1", bs);
	HAS(t, l);
	HAS(t, "rm_job_duration_seconds_sum{kind=\"backup\",status=\"succeeded\"} 2.500");
	const char *bf = "rm_job_duration_seconds_bucket{kind=\"backup\",status=\"failed\",";
	snprintf(l, sizeof l, "%sle=\"60\"} 0", bf);
	HAS(t, l);
	snprintf(l, sizeof l, "%sle=\"300\"} 1", bf);
	HAS(t, l);
	snprintf(l, sizeof l, "%sle=\"86400\"} 1", bf);
	HAS(t, l);
	snprintf(l, sizeof l, "%sle=\"+Inf\"} 2", bf);
	HAS(t, l);
	HAS(t, "rm_job_duration_seconds_count{kind=\"backup\",status=\"failed\"} 2");
	HAS(t, "rm_job_duration_seconds_bucket{kind=\"check\",status=\"succeeded\",le=\"1\"} 1");
	OK(strstr(t, "status=\"queued\"") == NULL);
	/* every family has HELP and TYPE once */
	const char *fams[] = { "rm_build_info",
		               "rm_hosts",
		               "rm_agents_connected",
		               "rm_host_info",
		               "rm_host_online",
		               "rm_host_last_backup_timestamp_seconds",
		               "rm_host_last_backup_success",
		               "rm_host_repo_size_bytes",
		               "rm_host_snapshots",
		               "rm_job_duration_seconds" };
	for (size_t i = 0; i < sizeof fams / sizeof fams[0]; i++) {
		snprintf(l, sizeof l, "# TYPE %s ", fams[i]);
		const char *p = strstr(t, l);
		OK(p && !strstr(p + 1, l));
	}
	rm_buf_cleanup(&out);
}

static void append_durations(void *ud, const struct store_metrics_durations *d)
{
	rm_buf_appendf(ud, "%s %s %lld %.3f %lld %lld\n", d->kind, d->status, d->count, d->sum_s,
	               d->le[0], d->le[STORE_METRICS_NBUCKETS - 1]);
}

/* The thread-pool variant (own read-only connection) sees what the loop's sees. */
TEST(durations_read_connection)
{
	struct rm_buf a, b;
	rm_buf_init(&a, 0);
	rm_buf_init(&b, 0);
	OK(store_metrics_job_durations(app.store, append_durations, &a) == RM_OK);
	OK(store_metrics_job_durations_ro(app.store, append_durations, &b) == RM_OK);
	OK(a.len > 0);
	OK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	EQ_STR(a.data, "backup failed 2 90120.000 0 1\nbackup succeeded 1 2.500 0 1\n"
	               "check succeeded 1 1.000 1 1\n");
	rm_buf_cleanup(&a);
	rm_buf_cleanup(&b);
}

TEST(empty_store)
{
	struct store *keep = app.store;
	OK(store_open(":memory:", &app.store) == RM_OK);
	struct rm_buf out;
	rm_buf_init(&out, 0);
	OK(api_metrics_render(&app, &out) == RM_OK);
	OK(has_line(out.data, "rm_hosts 0"));
	OK(strstr(out.data, "rm_job_duration_seconds_bucket") == NULL);
	OK(strstr(out.data, "# TYPE rm_job_duration_seconds histogram") != NULL);
	rm_buf_cleanup(&out);
	store_close(app.store);
	app.store = keep;
}

int main(void)
{
	rm_log_set_level(RM_LOG_ERROR);
	config_init(&cfg);
	app.cfg = &cfg;
	char dir[] = "/tmp/rm-test-metrics-XXXXXX", db[64];
	if (!mkdtemp(dir))
		return 1;
	snprintf(db, sizeof db, "%s/m.db", dir);
	if (store_open(db, &app.store))
		return 1;
	app.presence = presence_new();
	RUN(exposition);
	RUN(durations_read_connection);
	RUN(empty_store);
	presence_free(app.presence);
	store_close(app.store);
	config_cleanup(&cfg);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return tap_done();
}
