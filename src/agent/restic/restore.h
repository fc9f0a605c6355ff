#ifndef RM_AGENT_RESTIC_RESTORE_H
#define RM_AGENT_RESTIC_RESTORE_H
/* restic knowledge for restores and restore drills. Pure code, no I/O.
 * Shapes: RESTIC-NOTES.md (restore JSON since 0.16; ls --json nodes keyed on struct_type). */
#include <jansson.h>
#include <stddef.h>

/* restore "status" (0.16+) -> job.progress fields (no job_id): percent_done, files_done
 * (files_restored), total_files, bytes_done (bytes_restored), total_bytes, and
 * files_skipped / bytes_skipped (0.17+) when present. RM_ERR_PROTO on bad types. */
int restic_restore_status(const json_t *status, json_t **progress_out);

/* restore "summary" (0.16+) -> {files_restored, bytes_restored, total_files, total_bytes
 * [, files_skipped, bytes_skipped]}. RM_ERR_PROTO on bad types. */
int restic_restore_summary(const json_t *summary, json_t **stats_out);

/* 1 if `restic restore --help` text offers flag (e.g. "--no-ownership", "--verify"):
 * the flag followed by a space, '=', ',' or the end of a line. */
int restic_help_has_flag(const char *help, size_t len, const char *flag);

struct restic_node {
	const char *path; /* borrowed from the json object the caller keeps */
	const char *type; /* "file", "dir", "symlink", ... */
	long long size;   /* files: bytes (0 when absent) */
};

/* One `restic ls --json` line: 1 and *node filled for a node line (struct_type "node", or
 * no struct_type but a path and a type), 0 for the snapshot line or anything else.
 * *obj receives the parsed object (new reference) when 1 is returned. */
int restic_ls_node(const char *line, size_t len, json_t **obj, struct restic_node *node);

/* A snapshot id as the API and the agent accept it: 8-64 lowercase hex digits. */
int restic_snapshot_id_valid(const char *id);

/* An absolute path without NUL, newline, or ".." segments, at most 4096 bytes. */
int restic_abs_path_valid(const char *p);

/* 1 if restic's --include would treat p as a pattern (it holds * ? [ or \). */
int restic_path_is_pattern(const char *p);
/* p with * ? [ ] and \ escaped by a backslash, so that --include matches exactly that path
 * (restic matches includes with filepath.Match, per path component). Caller frees. */
char *restic_include_escape(const char *p);

#endif
