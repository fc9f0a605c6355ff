/* store_care.c (C2 repository care): the admin slot's removal, maintenance cadences, the
 * latest lock list per host, the newest job of a kind, lock peers; and the cadence
 * defaults of engine/care.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "server/engine/care.h"
#include "server/store/store.h"
#include "tap.h"
#include "test_fs.h"

static char tmpdir[256];

static struct store *fresh(void)
{
	char p[320];
	snprintf(p, sizeof p, "%s/care.db", tmpdir);
	unlink(p);
	struct store *s = NULL;
	if (store_open(p, &s))
		printf("# store_open failed\n");
	return s;
}

static void mk_host(struct store *s, const char *name, const char *bearer, char id[27])
{
	json_t *tags = json_array(), *paths = json_pack("[s]", "/etc");
	if (store_host_create(s, name, tags, paths, bearer, id))
		printf("# host create failed\n");
	json_decref(tags);
	json_decref(paths);
}

TEST(store_care)
{
	struct store *s = fresh();
	char a[27], b[27];
	mk_host(s, "alpha", "ba", a);
	mk_host(s, "beta", "bb", b);
	/* admin slot */
	EQ_INT(store_cred_delete(s, a, "admin"), RM_ERR_NOTFOUND);
	EQ_INT(store_cred_put(s, a, "admin", "ct"), RM_OK);
	json_t *ids = store_hosts_with_cred(s, "admin");
	EQ_INT(json_array_size(ids), 1);
	EQ_STR(json_string_value(json_array_get(ids, 0)), a);
	json_decref(ids);
	EQ_INT(store_cred_delete(s, a, "admin"), RM_OK);
	/* cadences */
	json_t *m = store_host_maintenance(s, a);
	OK(json_is_object(m) && json_object_size(m) == 0);
	json_decref(m);
	m = json_pack("{s:{s:s}}", "prune", "cron", "0 1 * * *");
	EQ_INT(store_host_maintenance_set(s, a, m), RM_OK);
	json_decref(m);
	m = store_host_maintenance(s, a);
	EQ_STR(json_string_value(json_object_get(json_object_get(m, "prune"), "cron")),
	       "0 1 * * *");
	json_t *eff = care_maintenance_effective(m);
	EQ_STR(json_string_value(json_object_get(json_object_get(eff, "prune"), "cron")),
	       "0 1 * * *");
	EQ_STR(json_string_value(json_object_get(json_object_get(eff, "forget"), "cron")),
	       "0 3 * * *");
	EQ_STR(
	    json_string_value(json_object_get(json_object_get(eff, "check"), "read_data_subset")),
	    "5%");
	json_decref(eff);
	json_decref(m);
	OK(store_host_maintenance(s, "nope") == NULL);
	EQ_INT(store_host_maintenance_set(s, "nope", NULL), RM_ERR_NOTFOUND);
	/* locks */
	json_t *l = store_host_locks(s, a);
	OK(json_is_null(json_object_get(l, "locks")));
	json_decref(l);
	json_t *locks = json_pack("[{s:s,s:s,s:i}]", "id", "abc", "hostname", "alpha", "pid", 7);
	EQ_INT(store_host_locks_set(s, a, locks, 1000), RM_OK);
	json_decref(locks);
	l = store_host_locks(s, a);
	EQ_INT(json_array_size(json_object_get(l, "locks")), 1);
	OK(json_is_string(json_object_get(l, "reported_at")));
	json_decref(l);
	/* newest job of a kind */
	json_t *last = store_job_last_of_kind(s, a, "prune");
	OK(json_is_null(last));
	json_decref(last);
	char j1[27], j2[27];
	json_t *args = json_object();
	EQ_INT(store_job_create(s, a, "prune", args, "admin", j1), RM_OK);
	EQ_INT(store_job_create(s, a, "prune", args, "admin", j2), RM_OK);
	json_decref(args);
	json_t *st = json_pack("{s:i}", "freed_bytes", 42);
	EQ_INT(store_job_finish(s, j2, "succeeded", 0, NULL, st, 5000), RM_OK);
	json_decref(st);
	last = store_job_last_of_kind(s, a, "prune");
	EQ_STR(json_string_value(json_object_get(last, "job_id")), j2);
	EQ_INT(json_integer_value(json_object_get(json_object_get(last, "stats"), "freed_bytes")),
	       42);
	json_decref(last);
	/* lock peers: online hosts other than this one */
	json_t *peers = store_lock_peers(s, a);
	EQ_INT(json_object_size(peers), 0);
	json_decref(peers);
	EQ_INT(store_host_hello(s, b, "beta.lan", "linux", "amd64", "1", "0.14", 1000), RM_OK);
	peers = store_lock_peers(s, a);
	EQ_STR(json_string_value(json_object_get(peers, "beta.lan")), "idle");
	json_decref(peers);
	store_close(s);
}

TEST(care_kinds)
{
	OK(care_kind("forget") && care_kind("prune") && care_kind("check") && care_kind("unlock"));
	OK(!care_kind("backup") && !care_kind("restore") && !care_kind(NULL));
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	rm_log_set_level(RM_LOG_ERROR);
	snprintf(tmpdir, sizeof(tmpdir), "%s/rm-care-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(store_care);
	RUN(care_kinds);
	test_rm_rf(tmpdir);
	return tap_done();
}
