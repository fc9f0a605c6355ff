#ifndef RM_AGENT_WS_OUTBOX_H
#define RM_AGENT_WS_OUTBOX_H
/* On-disk outbox of envelopes that must reach the server (job.started, log.stream,
 * job.finished, snapshots.report, stats.report, ...).
 *
 * Layout: <dir>/seg-<16 digits>.log, append-only segments of records
 *   u32 len (LE) | u32 fnv1a32(payload) | u8 flags (1 = acked) | 3 reserved | payload
 * where payload is the envelope's JSON text. Acks flip the flag byte in place; a segment
 * is deleted when fully acked and compacted (rewritten with its live records) when
 * mostly acked. Writes are fsync'd in batches by outbox_flush() (call it every loop turn
 * or few ms, and before sending). On open, every segment is reloaded in order; a torn or
 * corrupt tail is truncated.
 *
 * A segment larger than a writer can produce (OUTBOX_DEFAULT_SEGMENT or segment_bytes,
 * whichever is larger, plus one frame) is never read: it is renamed to
 * <name>OUTBOX_TOOBIG_SUFFIX and reported.
 *
 * Capacity: when the live bytes exceed max_bytes, the oldest log.stream entries of jobs
 * that are not active (job_active callback) are dropped first and one marker line per
 * job ("[restic-manager] N log lines dropped: outbox full") is appended. job.started,
 * job.finished and snapshots.report are never dropped (the cap may be exceeded for them).
 *
 * Sending: outbox_next() hands out unsent entries in order; outbox_rewind() restarts from
 * the oldest unacked entry (after a reconnect). Loop thread only; blocking file I/O. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define OUTBOX_DEFAULT_MAX (64u * 1024 * 1024)
#define OUTBOX_DEFAULT_SEGMENT (4u * 1024 * 1024)
#define OUTBOX_TOOBIG_SUFFIX ".toobig"

struct outbox;

struct outbox_opts {
	const char *dir;      /* created (0700) if missing */
	size_t max_bytes;     /* 0 = OUTBOX_DEFAULT_MAX */
	size_t segment_bytes; /* 0 = OUTBOX_DEFAULT_SEGMENT */
	/* 1 if the job is still running/queued (its log lines must not be dropped yet).
	 * NULL = every job counts as finished. */
	int (*job_active)(void *ud, const char *job_id);
	void *ud;
};

/* RM_OK or RM_ERR_IO. Reloads existing segments. */
int outbox_open(const struct outbox_opts *opts, struct outbox **out);
/* Flushes and frees. NULL ok. */
void outbox_close(struct outbox *ob);

/* Appends one envelope (JSON text as produced by proto_encode). RM_OK, RM_ERR_INVAL (not
 * an envelope), RM_ERR_IO. A log.stream entry may be dropped under the cap (RM_OK: the
 * drop is accounted for with a marker line). */
int outbox_append(struct outbox *ob, const char *text, size_t len);
/* fdatasync of the segments written since the last flush; also deletes/compacts
 * segments. RM_OK or RM_ERR_IO. */
int outbox_flush(struct outbox *ob);
/* Removes the entry with this envelope id. 1 if found, 0 if not. */
int outbox_ack(struct outbox *ob, const char *id);

/* Next unsent entry: *buf malloc'd (caller frees) with `pre` spare bytes in front (for
 * LWS_PRE), the text at *buf + pre (NUL-terminated), *len its length. RM_OK;
 * RM_ERR_NOTFOUND when all are sent; RM_ERR_IO if the record cannot be read (skipped). */
int outbox_next(struct outbox *ob, size_t pre, char **buf, size_t *len);
void outbox_rewind(struct outbox *ob);
int outbox_has_unsent(const struct outbox *ob);

size_t outbox_count(const struct outbox *ob);         /* unacked entries */
size_t outbox_bytes(const struct outbox *ob);         /* their bytes on disk */
size_t outbox_dropped_lines(const struct outbox *ob); /* log lines dropped so far */
/* Appends (unique) job ids whose job.finished is still unacked. */
void outbox_terminal_job_ids(const struct outbox *ob, json_t *arr);
/* 1 if the job id already appears in arr (helper for callers building hello). */
int outbox_json_array_has(const json_t *arr, const char *s);

#endif
