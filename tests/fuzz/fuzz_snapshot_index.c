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
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *e = memchr(p, '\n', (size_t)(end - p));
		size_t n = e ? (size_t)(e - p) : (size_t)(end - p);
		json_t *hold = NULL, *st = NULL;
		struct idx_node nd;
		char *dpath = NULL;
		if (restic_parse_diff_line(p, n, &dpath, &st) != DIFF_LINE_OTHER && !dpath && !st)
			abort();
		free(dpath);
		json_decref(st);
		if (idx_parse_ls_line(p, n, &hold, &nd) == IDX_LINE_NODE) {
			if (strlen(nd.name) != nd.name_len)
				abort();
			if (nd.type == IDX_T_DIR && json_array_size(dirs) < 64)
				json_array_append_new(dirs, json_stringn(nd.path, nd.path_len));
			(void)idx_builder_add(b, &nd);
		}
		json_decref(hold);
		p += n + 1;
	}
	if (idx_builder_finish(b, idx) == RM_OK)
		list_all(idx, dirs);
	idx_builder_free(b);
	unlink(idx);
	json_decref(dirs);
	return 0;
}
