#ifndef RM_AGENT_RUNNER_WALK_H
#define RM_AGENT_RUNNER_WALK_H
/* File-system work of restores, on the libuv thread pool (a restore can write millions of
 * files; walking them must not stall the loop): moving restored paths out of a staging
 * directory (path remapping) and counting what was restored. Part of the runner. */
#include <jansson.h>
#include <stdint.h>
#include <uv.h>

struct walk;
/* Loop thread, once the work is done (not called after walk_abandon). */
typedef void (*walk_cb)(struct walk *w, void *ud);

struct walk_req {
	char **roots; /* taken: NULL-terminated-or-counted paths to count */
	size_t nroots;
	int64_t since_s; /* count regular files with ctime >= since_s */
	/* optional moves, done before counting (all borrowed, copied): each include (or "/"
	 * when there are none) moves from stage+include to target+map(include); then the
	 * stage is removed */
	const char *stage, *target;
	const json_t *includes, *map;
};

struct walk {
	uv_work_t work;
	long long files, bytes; /* results: regular files and their sizes */
	long long written;      /* bytes allocated to them so far (<= bytes) */
	char *current;          /* newest counted file (by ctime), or NULL */
	char *error;            /* a move failed: why */
	/* private */
	struct walk_req q;
	char *stage, *target;
	json_t *includes, *map;
	int64_t newest;
	int abandoned;
	walk_cb cb;
	void *ud;
};

/* Queues the work; NULL when the thread pool refused it (then nothing was taken but roots,
 * which are freed). */
struct walk *walk_start(uv_loop_t *loop, struct walk_req *q, walk_cb cb, void *ud);
/* The caller no longer wants the result: freed when the work returns. */
void walk_abandon(struct walk *w);

/* root + abs ("/" + "/a" = "/a", "/t" + "/a" = "/t/a"). Caller frees. */
char *walk_join(const char *root, const char *abs);
/* path under the longest matching map "from" (whole segments) replaced by its "to", or a
 * copy of path. Caller frees. */
char *walk_map_path(const json_t *map, const char *path);
/* mkdir -p; 0 or -1 with errno. */
int walk_mkdirs(const char *path, int mode);
/* rm -rf without following symlinks; 0 or -1 with errno (best effort: continues). */
int walk_rm_rf(const char *path);

#endif
