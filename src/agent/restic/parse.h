#ifndef RM_AGENT_RESTIC_PARSE_H
#define RM_AGENT_RESTIC_PARSE_H
/* Parsers for restic output (0.14 text/JSON as shipped by Debian 12, up to 0.18 JSON).
 * Pure code, no I/O. Unknown fields are ignored; malformed input returns an error code
 * (RM_ERR_PROTO unless said otherwise) and leaves out-parameters untouched. */
#include <jansson.h>
#include <stddef.h>

/* Longest single JSON line / document accepted by the parsers. */
#define RESTIC_JSON_LINE_MAX (1024 * 1024)
#define RESTIC_JSON_DOC_MAX (64 * 1024 * 1024)

enum restic_line_type {
	RESTIC_LINE_TEXT = 0,   /* not a JSON object with a message_type */
	RESTIC_LINE_STATUS,     /* backup "status" */
	RESTIC_LINE_SUMMARY,    /* backup "summary" */
	RESTIC_LINE_ERROR,      /* backup "error" (per-item, non fatal) */
	RESTIC_LINE_EXIT_ERROR, /* 0.17+ "exit_error" */
	RESTIC_LINE_OTHER       /* any other message_type (verbose_status, ...) */
};

/* Classifies one output line of a --json command. Never fails: anything that is not a JSON
 * object with a string message_type is RESTIC_LINE_TEXT. When obj is non-NULL and the line
 * is JSON, *obj receives the parsed object (new reference), else NULL. */
enum restic_line_type restic_parse_line(const char *line, size_t len, json_t **obj);

/* status object -> job.progress payload fields (no job_id): percent_done (0..1),
 * files_done, total_files, bytes_done, total_bytes, eta_seconds (when restic gave
 * seconds_remaining), throughput_bps (bytes_done / seconds_elapsed, when elapsed > 0),
 * current_file (first of current_files). RM_ERR_PROTO if a known field has a bad type. */
int restic_parse_status(const json_t *status, json_t **progress_out);

/* summary object -> stats object with the known summary fields that are present
 * (files_new ... snapshot_id, data_added_packed/backup_start/backup_end on 0.17+). */
int restic_parse_summary(const json_t *summary, json_t **stats_out);

/* error / exit_error object -> one human line, e.g.
 *   "error during archival of /proc/self/mem: read /proc/self/mem: Input/output error"
 *   "Fatal: wrong password or no key found"  (exit_error, 0.17+; code in *code if given)
 * Caller frees *msg_out. */
int restic_parse_error(const json_t *obj, char **msg_out, int *code_out);

/* `snapshots --json` document -> json array of
 * {id, short_id, time, hostname, paths, tags, size_bytes, file_count}; size_bytes and
 * file_count come from 0.17+'s embedded summary (total_bytes_processed,
 * total_files_processed) and are omitted when absent. Entries without id/time are
 * skipped. At most max entries are kept (the newest = last ones). */
int restic_parse_snapshots(const char *buf, size_t len, size_t max, json_t **out);

/* `stats --json` document -> {total_size, total_file_count, snapshots_count} (fields that
 * are present; extra ones ignored). RM_ERR_PROTO if not an object with total_size. */
int restic_parse_stats(const char *buf, size_t len, json_t **out);

/* `forget --dry-run --json` document (an array of groups {tags, host, paths, keep[],
 * remove[], reasons[]}) -> {"keep":[...],"remove":[...]} over all groups, each entry
 * {id, short_id, time, paths, tags, reasons:[...]} (reasons: the kept snapshot's
 * matches, e.g. "last snapshot", "daily snapshot"; removed ones get []). Reasons are
 * matched by snapshot id (0.17+) or else by position and time (<= 0.16 has no id there).
 * Entries without id/time are skipped. */
int restic_parse_forget(const char *buf, size_t len, json_t **out);

/* "restic 0.14.0 compiled with go1.19.8 on linux/amd64" -> "0.14.0" (caller frees).
 * Also accepts 0.17+'s `version --json` {"version":"0.17.3",...}. */
int restic_parse_version(const char *buf, size_t len, char **out);

/* 1 if restic's output says the repository already exists (init of an existing repo),
 * e.g. "Fatal: create repository at /r failed: config file already exists". */
int restic_output_is_already_initialized(const char *text);

/* If line is a fatal error line ("Fatal: ..." text or an exit_error JSON object), returns
 * RM_OK with the message (caller frees); RM_ERR_NOTFOUND otherwise. */
int restic_parse_fatal_line(const char *line, size_t len, char **msg_out);

#endif
