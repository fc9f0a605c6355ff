/* Fuzz target: arbitrary `restic ls --json` output through the ls-line parser and the
 * index builder, then every directory the input named listed back from the index (plus a
 * few hostile paths and cursors); every line also goes through the diff-line parser. Replayed over tests/fuzz/corpus/snapshot_index. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/restic/diff.h"
#include "agent/restic/index.h"
#include "common/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void list_all(const char *idx, json_t *dirs)
{
	struct idx_reader *r = NULL;
	if (idx_open(idx, &r))
		return;
	static const char *extra[] = { "/", "/..", "//", "/a/../b", "" };
	size_t i;
	json_t *v;
	json_t *e = json_array();
	struct idx_page pg;
	json_array_foreach (dirs, i, v) {
		if (idx_list(r, json_string_value(v), 0, 0, 50, 1 << 16, e, &pg) == RM_OK &&
		    pg.next_index)
			(void)idx_list(r, json_string_value(v), pg.next_index, pg.next_off + 3, 5,
			               1 << 16, e, &pg);
		json_array_clear(e);
	}
	for (i = 0; i < sizeof extra / sizeof *extra; i++)
		(void)idx_list(r, extra[i], 0, 0, 10, 1 << 16, e, &pg);
	json_decref(e);
	idx_close(r);
}

/* Differential: a line the fast parser takes as a node must be a JSON object jansson
 * reads (when it is valid UTF-8) with the same name and path. */
static void same_as_jansson(const char *line, size_t n, const struct idx_node *nd)
{
	json_t *o = json_loadb(line, n, JSON_REJECT_DUPLICATES, NULL);
	if (!o)
		return; /* e.g. invalid UTF-8 the agent's line splitter would have replaced, or a
		         * duplicated key (jansson keeps the last, the fast parser the first; restic
		         * never repeats a key) */
	const char *name = json_string_value(json_object_get(o, "name"));
	const char *path = json_string_value(json_object_get(o, "path"));
	if (!name || !path || strcmp(name, nd->name) || strcmp(path, nd->path))
		abort();
	json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char spool[64], idx[64];
	snprintf(spool, sizeof spool, "/tmp/fuzz-idx-%d.spool", (int)getpid());
	snprintf(idx, sizeof idx, "/tmp/fuzz-idx-%d.idx", (int)getpid());
	unlink(spool);
	struct idx_builder *b = NULL;
	if (idx_builder_new(spool, &b))
		return 0;
	json_t *dirs = json_array();
	struct idx_scratch sc = { 0 };
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *e = memchr(p, '\n', (size_t)(end - p));
		size_t n = e ? (size_t)(e - p) : (size_t)(end - p);
		json_t *st = NULL;
		struct idx_node nd;
		char *dpath = NULL;
		if (restic_parse_diff_line(p, n, &dpath, &st) != DIFF_LINE_OTHER && !dpath && !st)
			abort();
		free(dpath);
		json_decref(st);
		if (idx_parse_ls_line(p, n, &sc, &nd) == IDX_LINE_NODE) {
			if (strlen(nd.name) != nd.name_len || strlen(nd.path) != nd.path_len)
				abort();
			same_as_jansson(p, n, &nd);
			if (nd.type == IDX_T_DIR && json_array_size(dirs) < 64)
				json_array_append_new(dirs, json_stringn(nd.path, nd.path_len));
			(void)idx_builder_add(b, &nd);
		}
		p += n + 1;
	}
	if (idx_builder_finish(b, idx) == RM_OK)
		list_all(idx, dirs);
	idx_builder_free(b);
	unlink(idx);
	json_decref(dirs);
	idx_scratch_free(&sc);
	return 0;
}
