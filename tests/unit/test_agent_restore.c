/* Unit tests for restores and drills on the agent: restic restore/ls knowledge
 * (src/agent/restic/restore.c) against captured 0.14 output and hand-written 0.16/0.17
 * shapes (RESTIC-NOTES.md), the restore argv rows, and the path helpers of runner/walk.c. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/restic/argv.h"
#include "agent/restic/lines.h"
#include "agent/restic/parse.h"
#include "agent/restic/restore.h"
#include "agent/runner/walk.h"
#include "common/crypto.h"
#include "common/err.h"
#include "tap.h"

#define DATA "tests/data/restic/"

static char *slurp(const char *name, size_t *len)
{
	char *path = rm_xasprintf(DATA "%s", name);
	char *d = NULL;
	size_t n = 0;
	int rc = rm_read_file(path, 64 * 1024 * 1024, &d, &n);
	free(path);
	if (rc) {
		printf("# cannot read %s\n", name);
		d = rm_xstrdup("");
	}
	if (len)
		*len = n;
	return d;
}

static int argv_eq(char **a, const char *const *want)
{
	size_t i = 0;
	for (; want[i]; i++)
		if (!a || !a[i] || strcmp(a[i], want[i]) != 0) {
			printf("# argv[%zu] = %s, want %s\n", i, a && a[i] ? a[i] : "(null)",
			       want[i]);
			return 0;
		}
	return a[i] == NULL;
}

TEST(argv_restore)
{
	char **a = NULL;
	char err[128] = "";
	json_t *args = json_pack("{s:s,s:s,s:[s,s,s],s:b,s:b}", "snapshot_id", "0123abcd", "target",
	                         "/home/u/rm-restore/J1", "includes", "/etc/a b", "/srv",
	                         "/d/x[1]*?.txt", "no_ownership", 1, "verify", 0);
	OK(restic_argv_build("restic", "restore", args, "h", &a, err, sizeof err) == RM_OK);
	OK(argv_eq(a, (const char *const[]){ "restic", "restore", "--json", "0123abcd", "--target",
	                                     "/home/u/rm-restore/J1", "--include", "/etc/a b",
	                                     "--include", "/srv", "--include",
	                                     "/d/x\\[1\\]\\*\\?.txt", "--no-ownership", NULL }));
	restic_argv_free(a);
	json_decref(args);
	/* bad input never becomes an argv: option-looking ids, relative or ".." paths */
	const char *bad[] = {
		"{\"snapshot_id\":\"--help\",\"target\":\"/t\"}",
		"{\"snapshot_id\":\"0123ABCD\",\"target\":\"/t\"}",
		"{\"snapshot_id\":\"0123abcd\",\"target\":\"t\"}",
		"{\"snapshot_id\":\"0123abcd\",\"target\":\"/t/../etc\"}",
		"{\"snapshot_id\":\"0123abcd\",\"target\":\"/t\",\"includes\":[\"-x\"]}",
		"{\"snapshot_id\":\"0123abcd\",\"target\":\"/t\",\"includes\":[\"/a/../b\"]}",
		"{\"target\":\"/t\"}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		json_t *o = json_loads(bad[i], 0, NULL);
		a = NULL;
		EQ_INT(restic_argv_build("restic", "restore", o, NULL, &a, err, sizeof err),
		       RM_ERR_INVAL);
		OK(a == NULL);
		json_decref(o);
	}
	args = json_pack("{s:s}", "snapshot_id", "0123abcdef");
	OK(restic_argv_build("restic", "ls", args, NULL, &a, err, sizeof err) == RM_OK);
	OK(argv_eq(a, (const char *const[]){ "restic", "ls", "--json", "0123abcdef", NULL }));
	restic_argv_free(a);
	json_decref(args);
}

/* Feeds a fixture line by line: counts status/summary objects through the restore parsers. */
struct feed {
	int status, summary, bad;
	json_t *last_progress, *stats;
};

static void feed_line(void *ud, const char *line, size_t len)
{
	struct feed *f = ud;
	json_t *o = NULL, *x = NULL;
	enum restic_line_type t = restic_parse_line(line, len, &o);
	if (t == RESTIC_LINE_STATUS) {
		f->status++;
		if (restic_restore_status(o, &x) == RM_OK) {
			json_decref(f->last_progress);
			f->last_progress = x;
		} else {
			f->bad++;
		}
	} else if (t == RESTIC_LINE_SUMMARY) {
		f->summary++;
		if (restic_restore_summary(o, &x) == RM_OK) {
			json_decref(f->stats);
			f->stats = x;
		} else {
			f->bad++;
		}
	}
	json_decref(o);
}

static void feed_file(const char *name, struct feed *f)
{
	size_t n = 0;
	char *d = slurp(name, &n);
	struct restic_lines l;
	restic_lines_init(&l, feed_line, f);
	restic_lines_feed(&l, d, n);
	restic_lines_flush(&l);
	restic_lines_cleanup(&l);
	free(d);
}

TEST(restore_json_016_017)
{
	struct feed f = { 0 };
	feed_file("0.16-restore.stdout", &f);
	EQ_INT(f.status, 2);
	EQ_INT(f.summary, 1);
	EQ_INT(f.bad, 0);
	EQ_INT(json_integer_value(json_object_get(f.last_progress, "files_done")), 4);
	EQ_INT(json_integer_value(json_object_get(f.last_progress, "total_bytes")), 40000);
	OK(json_real_value(json_object_get(f.last_progress, "percent_done")) == 1.0);
	EQ_INT(json_integer_value(json_object_get(f.stats, "files_restored")), 4);
	EQ_INT(json_integer_value(json_object_get(f.stats, "bytes_restored")), 40000);
	OK(json_object_get(f.stats, "files_skipped") == NULL);
	json_decref(f.last_progress);
	json_decref(f.stats);

	struct feed g = { 0 };
	feed_file("0.17-restore.stdout", &g);
	EQ_INT(g.status, 1);
	EQ_INT(g.bad, 0);
	EQ_INT(json_integer_value(json_object_get(g.last_progress, "files_skipped")), 1);
	EQ_INT(json_integer_value(json_object_get(g.last_progress, "bytes_done")), 20000);
	EQ_INT(json_integer_value(json_object_get(g.stats, "files_restored")), 5);
	EQ_INT(json_integer_value(json_object_get(g.stats, "bytes_skipped")), 10000);
	json_decref(g.last_progress);
	json_decref(g.stats);

	/* omitted zero counters read as 0; wrong types are refused */
	json_t *o = json_loads("{\"message_type\":\"status\",\"percent_done\":0}", 0, NULL),
	       *x = NULL;
	OK(restic_restore_status(o, &x) == RM_OK);
	EQ_INT(json_integer_value(json_object_get(x, "files_done")), 0);
	json_decref(x);
	json_decref(o);
	o = json_loads("{\"percent_done\":0.1,\"files_restored\":\"many\"}", 0, NULL);
	x = NULL;
	EQ_INT(restic_restore_status(o, &x), RM_ERR_PROTO);
	OK(x == NULL);
	json_decref(o);
}

TEST(restore_help_probe)
{
	size_t n = 0;
	char *h14 = slurp("0.14-restore-help.txt", &n);
	OK(n > 100);
	OK(!restic_help_has_flag(h14, n, "--no-ownership"));
	OK(restic_help_has_flag(h14, n, "--verify"));
	OK(!restic_help_has_flag(h14, n, "--ver"));
	free(h14);
	char *h17 = slurp("0.17-restore-help.txt", &n);
	OK(restic_help_has_flag(h17, n, "--no-ownership"));
	free(h17);
	OK(!restic_help_has_flag(NULL, 0, "--verify"));
}

TEST(ls_nodes_014)
{
	size_t n = 0;
	char *d = slurp("0.14-ls-small.json", &n);
	int nodes = 0, files = 0;
	long long bytes = 0;
	for (char *line = d, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		json_t *o = NULL;
		struct restic_node node;
		if (!restic_ls_node(line, len, &o, &node))
			continue;
		nodes++;
		OK(node.path[0] == '/');
		if (!strcmp(node.type, "file")) {
			files++;
			bytes += node.size;
		}
		json_decref(o);
	}
	free(d);
	OK(nodes >= 8);
	EQ_INT(files, 3);
	EQ_INT(bytes, 3 + 100000 + 2);
	json_t *o = NULL;
	struct restic_node node;
	const char *snap = "{\"id\":\"ab\",\"struct_type\":\"snapshot\",\"paths\":[\"/\"]}";
	OK(!restic_ls_node(snap, strlen(snap), &o, &node));
	const char *v17 = "{\"name\":\"f\",\"type\":\"file\",\"path\":\"/f\",\"size\":7,"
	                  "\"struct_type\":\"node\",\"message_type\":\"node\"}";
	OK(restic_ls_node(v17, strlen(v17), &o, &node));
	EQ_INT(node.size, 7);
	json_decref(o);
	OK(!restic_ls_node("{\"path\":", 8, &o, &node));
	OK(!restic_ls_node("text", 4, &o, &node));
}

TEST(paths)
{
	OK(restic_snapshot_id_valid("0123abcd"));
	OK(!restic_snapshot_id_valid("0123abc"));
	OK(!restic_snapshot_id_valid("latest"));
	OK(restic_abs_path_valid("/a/..b/c"));
	OK(!restic_abs_path_valid("/a/../c"));
	OK(!restic_abs_path_valid("/a/.."));
	OK(!restic_abs_path_valid("a"));
	OK(!restic_abs_path_valid("/a\nb"));
	OK(restic_path_is_pattern("/a/*.txt"));
	OK(!restic_path_is_pattern("/a/b.txt"));

	char *s = walk_join("/", "/etc/x");
	EQ_STR(s, "/etc/x");
	free(s);
	s = walk_join("/t/", "/etc/x");
	EQ_STR(s, "/t/etc/x");
	free(s);
	json_t *map = json_pack("[{s:s,s:s},{s:s,s:s}]", "from", "/srv/app", "to", "/data/app2",
	                        "from", "/srv/app/logs", "to", "/var/log/app");
	s = walk_map_path(map, "/srv/app/conf/a.yml");
	EQ_STR(s, "/data/app2/conf/a.yml");
	free(s);
	s = walk_map_path(map, "/srv/app/logs/x.log"); /* the longest match wins */
	EQ_STR(s, "/var/log/app/x.log");
	free(s);
	s = walk_map_path(map, "/srv/apple"); /* whole segments only */
	EQ_STR(s, "/srv/apple");
	free(s);
	s = walk_map_path(map, "/srv/app");
	EQ_STR(s, "/data/app2");
	free(s);
	json_decref(map);
	map = json_pack("[{s:s,s:s}]", "from", "/", "to", "/restored");
	s = walk_map_path(map, "/etc/x");
	EQ_STR(s, "/restored/etc/x");
	free(s);
	json_decref(map);
	s = walk_map_path(NULL, "/etc/x");
	EQ_STR(s, "/etc/x");
	free(s);
}

TEST(mkdirs_rm_rf)
{
	char tmpl[] = "/tmp/rm-unit-walk-XXXXXX";
	OK(mkdtemp(tmpl) != NULL);
	char *deep = rm_xasprintf("%s/a/b/c", tmpl);
	EQ_INT(walk_mkdirs(deep, 0700), 0);
	EQ_INT(walk_mkdirs(deep, 0700), 0); /* exists: fine */
	char *f = rm_xasprintf("%s/a/b/file", tmpl);
	FILE *fp = fopen(f, "w");
	OK(fp != NULL);
	if (fp)
		fclose(fp);
	char *link = rm_xasprintf("%s/a/link", tmpl);
	OK(symlink("/etc", link) == 0); /* must be removed, not followed */
	EQ_INT(walk_rm_rf(tmpl), 0);
	struct stat st;
	OK(stat(tmpl, &st) != 0);
	OK(stat("/etc/passwd", &st) == 0);
	EQ_INT(walk_rm_rf(tmpl), 0); /* gone already: fine */
	free(deep);
	free(f);
	free(link);
}

int main(void)
{
	RUN(argv_restore);
	RUN(restore_json_016_017);
	RUN(restore_help_probe);
	RUN(ls_nodes_014);
	RUN(paths);
	RUN(mkdirs_rm_rf);
	return tap_done();
}
