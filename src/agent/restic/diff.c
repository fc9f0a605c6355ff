/* `restic diff --json` lines (see diff.h). Shapes: RESTIC-NOTES.md "diff". */
#include "agent/restic/diff.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"

static json_t *counts(const json_t *o)
{
	static const char *const keys[] = { "files",      "dirs",       "others",
		                            "data_blobs", "tree_blobs", "bytes" };
	json_t *r = json_object();
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
		json_t *v = json_object_get(o, keys[i]);
		json_object_set_new(r, keys[i],
		                    json_integer(json_is_integer(v) ? json_integer_value(v) : 0));
	}
	return r;
}

enum diff_line restic_parse_diff_line(const char *line, size_t len, char **path, json_t **stats)
{
	*path = NULL;
	*stats = NULL;
	if (len < 2 || line[0] != '{')
		return DIFF_LINE_OTHER;
	json_t *o = json_loadb(line, len, 0, NULL);
	const char *mt = json_string_value(json_object_get(o, "message_type"));
	enum diff_line t = DIFF_LINE_OTHER;
	if (mt && !strcmp(mt, "change")) {
		const char *p = json_string_value(json_object_get(o, "path"));
		const char *m = json_string_value(json_object_get(o, "modifier"));
		if (p && *p && m) {
			t = strchr(m, '+')   ? DIFF_LINE_ADDED
			    : strchr(m, '-') ? DIFF_LINE_REMOVED
			                     : DIFF_LINE_CHANGED;
			*path = rm_xstrdup(p);
		}
	} else if (mt && !strcmp(mt, "statistics")) {
		json_t *ch = json_object_get(o, "changed_files");
		*stats = json_pack("{s:I,s:o,s:o}", "changed_files",
		                   (json_int_t)(json_is_integer(ch) ? json_integer_value(ch) : 0),
		                   "added", counts(json_object_get(o, "added")), "removed",
		                   counts(json_object_get(o, "removed")));
		t = DIFF_LINE_STATS;
	}
	json_decref(o);
	return t;
}
