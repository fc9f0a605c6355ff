#ifndef RM_AGENT_RESTIC_DIFF_H
#define RM_AGENT_RESTIC_DIFF_H
/* `restic diff --json` (0.13+) lines. Pure code, no I/O. */
#include <jansson.h>
#include <stddef.h>

enum diff_line {
	DIFF_LINE_OTHER = 0,
	DIFF_LINE_ADDED,
	DIFF_LINE_REMOVED,
	DIFF_LINE_CHANGED,
	DIFF_LINE_STATS
};

/* A `change` line: its path in *path (malloc'd) and modifier ("+", "-", "M", "T", "U",
 * "?" or combinations; "+" wins, then "-", anything else is a change). A `statistics`
 * line: *stats = {changed_files, added{}, removed{}} (new reference). Anything else,
 * including a change without a path or with a NUL in it: DIFF_LINE_OTHER. */
enum diff_line restic_parse_diff_line(const char *line, size_t len, char **path, json_t **stats);

#endif
