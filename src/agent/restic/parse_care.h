#ifndef RM_AGENT_RESTIC_PARSE_CARE_H
#define RM_AGENT_RESTIC_PARSE_CARE_H
/* Parsers for the repository-care commands: forget, prune, check, list/cat lock.
 * Pure code, no I/O; tolerant of unknown fields; RM_ERR_PROTO on malformed input with the
 * out-parameters untouched. */
#include <jansson.h>
#include <stddef.h>

/* `forget --json` document (one array of groups: tags, host, paths, keep[], remove[],
 * reasons[]; 0.9.5+) -> {"kept":N,"removed":N,"removed_ids":["id",...]} summed over the
 * groups. An empty document (restic printed nothing) counts as no groups. */
int restic_parse_forget_counts(const char *buf, size_t len, json_t **out);

/* prune's text output (0.14 up to 0.19) -> {"freed_bytes":N, "blobs_removed":N,
 * "remaining_bytes":N, "unused_bytes_after":N, "packs_removed":N} with the fields found.
 * freed_bytes comes from "total prune: N blobs / SIZE" (0 when restic says nothing to do,
 * e.g. "0 B"). RM_ERR_PROTO when no "total prune" line is present. */
int restic_parse_prune(const char *buf, size_t len, json_t **out);

/* "1.000 MiB", "12 B", "3.5 GiB" (B, KiB..TiB; also kB/MB/GB decimal) -> bytes.
 * RM_OK or RM_ERR_PROTO. */
int restic_parse_size(const char *s, size_t len, long long *out);

/* 1 when a line of check's output reports an error (0.14 text: "error: ...",
 * "Pack ID does not match", "pack X: ...", "... contains errors", 0.18 JSON error). */
int restic_check_error_line(const char *line, size_t len);

/* 1 when restic's output says the repository is locked by someone else:
 * "unable to create lock in backend" (0.14) or "repository is already locked". */
int restic_output_is_locked(const char *line, size_t len);

/* `list locks` output: one 64-hex id per line -> array of strings (other lines skipped,
 * at most max ids). */
int restic_parse_lock_ids(const char *buf, size_t len, size_t max, json_t **out);

/* `cat lock <id>` JSON (time, exclusive, hostname, username, pid, uid, gid) ->
 * {"id","hostname","pid","time","exclusive","username"}. RM_ERR_PROTO without hostname,
 * pid or time. */
int restic_parse_lock(const char *id, const char *buf, size_t len, json_t **out);

#endif
