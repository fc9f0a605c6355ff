/* The snapshot index (agent/restic/index*.c): ls-line parsing against restic 0.14's real
 * output and newer shapes, building, directory pages, cursors, bad paths, damaged files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/restic/diff.h"
#include "agent/restic/index.h"
#include "common/err.h"
#include "tap.h"
#include "test_fs.h"

static char dir[64];

static int build_from_lines(const char *text, const char *out)
{
	char spool[128];
	snprintf(spool, sizeof spool, "%s/spool", dir);
	struct idx_builder *b = NULL;
	struct idx_scratch sc = { 0 };
	int rc = idx_builder_new(spool, &b);
	if (rc)
		return rc;
	const char *p = text;
	while (*p) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		struct idx_node nd;
		if (idx_parse_ls_line(p, n, &sc, &nd) == IDX_LINE_NODE)
			rc = rc ? rc : idx_builder_add(b, &nd);
		p += n + (e ? 1 : 0);
	}
	if (!rc)
		rc = idx_builder_finish(b, out);
	idx_builder_free(b);
	idx_scratch_free(&sc);
	return rc;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = calloc(1, 1 << 20);
	size_t n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static const char *name_at(json_t *a, size_t i)
{
	return json_string_value(json_object_get(json_array_get(a, i), "name"));
}

TEST(parse_lines)
{
	struct idx_scratch sc = { 0 };
	struct idx_node n;
	const char *snap =
	    "{\"time\":\"2026-12-03T11:38:50Z\",\"id\":\"ab\",\"struct_type\":\"snapshot\"}";
	EQ_INT(idx_parse_ls_line(snap, strlen(snap), &sc, &n), IDX_LINE_SNAPSHOT);
	/* 0.17+: message_type as well; struct_type wins */
	const char *node = "{\"name\":\"a b\",\"type\":\"file\",\"path\":\"/x/a b\",\"size\":7,"
	                   "\"mode\":420,\"mtime\":\"2026-12-03T11:38:50.104147242+01:00\","
	                   "\"struct_type\":\"node\",\"message_type\":\"node\"}";
	EQ_INT(idx_parse_ls_line(node, strlen(node), &sc, &n), IDX_LINE_NODE);
	EQ_STR(n.name, "a b");
	EQ_INT(n.path_len, 6);
	EQ_INT(n.size, 7);
	EQ_INT(n.mode, 0644);
	EQ_INT(n.type, IDX_T_FILE);
	EQ_INT(n.mtime_ms, 1796294330104LL);
	/* escapes, nested values skipped, unknown fields, whitespace */
	const char *esc =
	    "{ \"extra\": {\"a\":[1,{\"b\":\"}\"}]}, \"name\" : \"\\u00e9t\\u00e9 \\ud83d\\ude00\\n\","
	    " \"path\":\"/x\\/y/\\u00e9t\\u00e9 \\ud83d\\ude00\\n\", \"type\":\"dir\", \"size\":null,"
	    " \"mode\":2147484141, \"struct_type\":\"node\" }";
	EQ_INT(idx_parse_ls_line(esc, strlen(esc), &sc, &n), IDX_LINE_NODE);
	EQ_STR(n.name, "\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80\n");
	EQ_STR(n.path, "/x/y/\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80\n");
	EQ_INT(n.type, IDX_T_DIR);
	EQ_INT(n.mode, 0755);
	EQ_INT(n.size, 0);
	const char *bad[] = {
		"",
		"{",
		"not json",
		"{\"struct_type\":\"node\"}",
		"{\"name\":\"a/b\",\"type\":\"file\",\"path\":\"/a/b\",\"struct_type\":\"node\"}",
		"{\"name\":\"b\",\"type\":\"file\",\"path\":\"/ab\",\"struct_type\":\"node\"}",
		"{\"name\":\"b\",\"type\":\"file\",\"path\":\"b\",\"struct_type\":\"node\"}",
		"{\"name\":\"\",\"type\":\"file\",\"path\":\"/\",\"struct_type\":\"node\"}",
		"{\"name\":\"a\\u0000\",\"type\":\"file\",\"path\":\"/a\\u0000\",\"struct_type\":\"node\"}",
		"{\"name\":\"a\\ud800\",\"type\":\"file\",\"path\":\"/a\\ud800\",\"struct_type\":\"node\"}",
		"{\"name\":\"a\",\"path\":\"/a\",\"struct_type\":\"node\"} trailing",
		"{\"name\":\"a\",\"path\":\"/a\",\"struct_type\":\"node\"",
		"{\"name\":\"a\",\"path\":\"/a\",\"struct_type\":\"node\",}",
		"{\"name\":\"a\" \"path\":\"/a\",\"struct_type\":\"node\"}",
		"{\"name\":\"a\",\"path\":\"/a\",\"x\":[1,2}, \"struct_type\":\"node\"}",
		"{\"name\":\"a\\q\",\"path\":\"/a\\q\",\"struct_type\":\"node\"}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		EQ_INT(idx_parse_ls_line(bad[i], strlen(bad[i]), &sc, &n), IDX_LINE_OTHER);
	}
	idx_scratch_free(&sc);
}

TEST(fixture_0_14)
{
	char out[128];
	snprintf(out, sizeof out, "%s/a.idx", dir);
	char *text = slurp("tests/data/restic/0.14-ls.json");
	OK(text != NULL);
	EQ_INT(build_from_lines(text ? text : "", out), RM_OK);
	free(text);
	struct idx_reader *r = NULL;
	EQ_INT(idx_open(out, &r), RM_OK);
	if (!r)
		return;
	json_t *e = json_array();
	struct idx_page pg;
	EQ_INT(idx_list(r, "/", 0, 0, 100, 1 << 20, e, &pg), RM_OK);
	EQ_INT(json_array_size(e), 1);
	EQ_STR(name_at(e, 0), "data");
	json_array_clear(e);
	EQ_INT(idx_list(r, "/data", 0, 0, 100, 1 << 20, e, &pg), RM_OK);
	EQ_INT(json_array_size(e), 4);
	EQ_STR(name_at(e, 0), "a.txt");
	EQ_STR(name_at(e, 1), "d1");
	EQ_STR(name_at(e, 3), "link");
	EQ_STR(json_string_value(json_object_get(json_array_get(e, 1), "type")), "dir");
	EQ_STR(json_string_value(json_object_get(json_array_get(e, 3), "type")), "symlink");
	EQ_INT(json_integer_value(json_object_get(json_array_get(e, 0), "size")), 14);
	EQ_STR(json_string_value(json_object_get(json_array_get(e, 0), "mtime")),
	       "2026-12-03T11:38:50.104Z");
	json_array_clear(e);
	EQ_INT(idx_list(r, "/data/d2/", 0, 0, 100, 1 << 20, e, &pg), RM_OK);
	EQ_INT(json_array_size(e), 2);
	EQ_STR(name_at(e, 0), "na\"me \nnl");
	json_array_clear(e);
	EQ_INT(idx_list(r, "/data/d1/sub", 0, 0, 100, 1 << 20, e, &pg), RM_OK);
	EQ_STR(name_at(e, 0), "f2");
	unsigned t;
	uint64_t sz;
	EQ_INT(idx_stat(r, "/data/a.txt", &t, &sz), RM_OK);
	EQ_INT(t, IDX_T_FILE);
	EQ_INT(sz, 14);
	EQ_INT(idx_list(r, "/data/a.txt", 0, 0, 100, 1 << 20, e, &pg), RM_ERR_INVAL);
	EQ_INT(idx_list(r, "/data/a.txt/x", 0, 0, 100, 1 << 20, e, &pg), RM_ERR_NOTFOUND);
	EQ_INT(idx_list(r, "/nope", 0, 0, 100, 1 << 20, e, &pg), RM_ERR_NOTFOUND);
	const char *badp[] = { "", "data", "/data/../data", "/data/./d1", "//data", "/da\nta" };
	for (size_t i = 0; i < sizeof badp / sizeof *badp; i++)
		EQ_INT(idx_list(r, badp[i], 0, 0, 100, 1 << 20, e, &pg), RM_ERR_INVAL);
	json_decref(e);
	idx_close(r);
}

/* A directory of 2,500 files paged by 1,000, and a bogus cursor. */
TEST(paging)
{
	char out[128];
	snprintf(out, sizeof out, "%s/p.idx", dir);
	size_t cap = 4 << 20, len = 0;
	char *text = malloc(cap);
	len += (size_t)snprintf(text + len, cap - len,
	                        "{\"name\":\"big\",\"type\":\"dir\",\"path\":\"/big\","
	                        "\"struct_type\":\"node\"}\n");
	for (int i = 0; i < 2500; i++)
		len += (size_t)snprintf(
		    text + len, cap - len,
		    "{\"name\":\"f%05d\",\"type\":\"file\",\"path\":\"/big/f%05d\","
		    "\"size\":%d,\"struct_type\":\"node\"}\n",
		    i, i, i);
	EQ_INT(build_from_lines(text, out), RM_OK);
	free(text);
	struct idx_reader *r = NULL;
	EQ_INT(idx_open(out, &r), RM_OK);
	if (!r)
		return;
	json_t *e = json_array();
	struct idx_page pg = { 0 };
	uint64_t idx = 0, off = 0;
	int pages = 0;
	do {
		EQ_INT(idx_list(r, "/big", idx, off, 1000, 1 << 20, e, &pg), RM_OK);
		idx = pg.next_index, off = pg.next_off;
		pages++;
	} while (pg.next_index && pages < 10);
	EQ_INT(pages, 3);
	EQ_INT(pg.total, 2500);
	EQ_INT(json_array_size(e), 2500);
	EQ_STR(name_at(e, 2499), "f02499");
	EQ_INT(json_integer_value(json_object_get(json_array_get(e, 1234), "size")), 1234);
	EQ_INT(idx_list(r, "/big", 5, 0, 10, 1 << 20, e, &pg), RM_ERR_INVAL);
	EQ_INT(idx_list(r, "/big", 3000, 10, 10, 1 << 20, e, &pg), RM_ERR_INVAL);
	/* a cursor into the middle of a record: an error or garbage-free entries, no crash */
	json_array_clear(e);
	int rc = idx_list(r, "/big", 5, 7, 10, 1 << 20, e, &pg);
	OK(rc == RM_OK || rc == RM_ERR_PROTO);
	json_decref(e);
	idx_close(r);
}

TEST(out_of_order_and_damage)
{
	char out[128];
	snprintf(out, sizeof out, "%s/bad.idx", dir);
	/* a child whose parent was never listed */
	EQ_INT(build_from_lines("{\"name\":\"x\",\"type\":\"file\",\"path\":\"/nodir/x\","
	                        "\"struct_type\":\"node\"}\n",
	                        out),
	       RM_ERR_PROTO);
	OK(access(out, F_OK) != 0);
	/* a truncated index is refused */
	char good[128];
	snprintf(good, sizeof good, "%s/a.idx", dir);
	FILE *f = fopen(good, "r+");
	OK(f != NULL);
	if (f) {
		OK(ftruncate(fileno(f), 100) == 0);
		fclose(f);
	}
	struct idx_reader *r = NULL;
	EQ_INT(idx_open(good, &r), RM_ERR_PROTO);
	EQ_INT(idx_open("/nonexistent/x.idx", &r), RM_ERR_NOTFOUND);
}

/* restic 0.14's real `diff --json` output, and newer/odd shapes */
TEST(diff_lines)
{
	char *text = slurp("tests/data/restic/0.14-diff.json");
	OK(text != NULL);
	int counts[5] = { 0 };
	json_t *stats = NULL;
	for (char *p = text ? text : "", *e; *p; p = e + (*e ? 1 : 0)) {
		e = strchr(p, '\n');
		if (!e)
			e = p + strlen(p);
		char *path = NULL;
		json_t *st = NULL;
		enum diff_line t = restic_parse_diff_line(p, (size_t)(e - p), &path, &st);
		counts[t]++;
		if (t == DIFF_LINE_ADDED)
			EQ_STR(path, "/data/d2/new");
		if (t == DIFF_LINE_REMOVED)
			EQ_STR(path, "/data/d1/f1");
		if (t == DIFF_LINE_CHANGED)
			EQ_STR(path, "/data/a.txt");
		if (st) {
			json_decref(stats);
			stats = st;
		}
		free(path);
	}
	EQ_INT(counts[DIFF_LINE_ADDED], 1);
	EQ_INT(counts[DIFF_LINE_REMOVED], 1);
	EQ_INT(counts[DIFF_LINE_CHANGED], 1);
	EQ_INT(counts[DIFF_LINE_STATS], 1);
	EQ_INT(json_integer_value(json_object_get(stats, "changed_files")), 1);
	EQ_INT(json_integer_value(json_object_get(json_object_get(stats, "added"), "files")), 1);
	json_decref(stats);
	free(text);
	const char *odd[] = { "{\"message_type\":\"change\",\"path\":\"/x\",\"modifier\":\"TM\"}",
		              "{\"message_type\":\"change\",\"path\":\"/x\",\"modifier\":\"?\"}" };
	for (size_t i = 0; i < 2; i++) {
		char *path = NULL;
		json_t *st = NULL;
		EQ_INT(restic_parse_diff_line(odd[i], strlen(odd[i]), &path, &st),
		       DIFF_LINE_CHANGED);
		free(path);
	}
	const char *bad[] = {
		"", "+    /data/x", "{\"message_type\":\"change\",\"modifier\":\"+\"}",
		"{\"message_type\":\"change\",\"path\":\"/a\\u0000\",\"modifier\":\"+\"}"
	};
	for (size_t i = 0; i < 4; i++) {
		char *path = NULL;
		json_t *st = NULL;
		EQ_INT(restic_parse_diff_line(bad[i], strlen(bad[i]), &path, &st), DIFF_LINE_OTHER);
		OK(path == NULL && st == NULL);
	}
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/rm-idx-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	RUN(parse_lines);
	RUN(fixture_0_14);
	RUN(paging);
	RUN(out_of_order_and_damage);
	RUN(diff_lines);
	test_rm_rf(dir);
	return tap_done();
}
