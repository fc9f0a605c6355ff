#ifndef RM_AGENT_RUNNER_BROWSE_INT_H
#define RM_AGENT_RUNNER_BROWSE_INT_H
/* Inside snapshot browsing: browse.c (requests, the cache bound), browse_build.c (index
 * builds), browse_diff.c (snapshot.diff). */
#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#include "agent/runner/browse.h"

struct build;

/* A request waiting for a snapshot's index: a tree.list (fn) or a stat (stat_fn). */
struct waiter {
	struct waiter *next;
	char *request_id;
	json_t *payload; /* snapshot_id, path, cursor, limit */
	browse_answer_fn fn;
	browse_stat_fn stat_fn;
	void *ud;
};

struct browse {
	uv_loop_t *loop;
	char *state_dir, *restic_path, *index_dir;
	uint64_t cache_max;
	struct build *builds;
	int nbuilds;
	struct diff *diffs;
};

char *browse_index_path(const struct browse *b, const char *snap);
/* Answers w from the index (code == NULL) or with the error; frees w. */
void browse_waiter_run(struct browse *b, struct waiter *w, const char *code, const char *msg);
void browse_waiter_free(struct waiter *w);
/* Adds w to snap's build, starting one when none runs. */
void browse_build_join(struct browse *b, const struct runner_creds *creds, const char *snap,
                       struct waiter *w);
void browse_builds_free(struct browse *b);
void browse_diffs_free(struct browse *b);
void browse_evict(struct browse *b, const char *keep);
void browse_drop_index(struct browse *b, const char *snap);

#endif
