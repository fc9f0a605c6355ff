#ifndef RM_AGENT_RUNNER_BROWSE_H
#define RM_AGENT_RUNNER_BROWSE_H
/* Snapshot browsing on the agent (docs/internals/agent.md, "Snapshot browsing"): the
 * tree.list and snapshot.diff RPCs, and the index lookups of downloads.
 *
 * The first request for a snapshot runs `restic ls --json <snap>` (child.h), streams its
 * lines into the index builder (agent/restic/index.h), finishes the index on the thread
 * pool and answers every request that waited for it; later requests are answered from
 * <state>/index/<snap>.idx. The index directory is bounded (cache_max bytes, least
 * recently used index evicted first). Loop thread only. */
#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#include "agent/runner/runner.h"

struct browse;

struct browse_opts {
	uv_loop_t *loop;
	const char *state_dir;
	const char *restic_path; /* NULL: restic missing */
	uint64_t cache_max;      /* bytes of indexes kept; 0 = 1 GiB */
};

struct browse *browse_new(const struct browse_opts *o);
/* Kills children; waiting requests are dropped without an answer. */
void browse_free(struct browse *b);

/* Exactly one call per request: result (payload without request_id, ownership passes) or
 * an error code + message. */
typedef void (*browse_answer_fn)(void *ud, const char *request_id, json_t *result_take,
                                 const char *code, const char *msg);

/* tree.list {snapshot_id, path, cursor?, limit?} -> {path, entries, next_cursor, total} */
void browse_tree_list(struct browse *b, const struct runner_creds *creds, const char *request_id,
                      const json_t *payload, browse_answer_fn fn, void *ud);
/* snapshot.diff {from, to, max?} -> {added[], removed[], changed[], truncated, stats} */
void browse_diff(struct browse *b, const struct runner_creds *creds, const char *request_id,
                 const json_t *payload, browse_answer_fn fn, void *ud);

/* The type and size of path in snap (building the index first when needed). fn gets
 * code == NULL on success. */
typedef void (*browse_stat_fn)(void *ud, unsigned type, uint64_t size, const char *code,
                               const char *msg);
void browse_stat(struct browse *b, const struct runner_creds *creds, const char *snap,
                 const char *path, browse_stat_fn fn, void *ud);

/* 1 when s is a snapshot id restic accepts from us: 8..64 lowercase hex digits. */
int browse_snap_id_ok(const char *s);

#endif
