/* Snapshot browsing: building a snapshot's index from `restic ls --json` (see browse.h).
 * The lines are parsed and spooled on the loop as they arrive (restic is the slow side);
 * the grouping pass runs on the thread pool. */
#include <stdlib.h>
#include <string.h>

#include "agent/restic/index.h"
#include "agent/runner/browse_int.h"
#include "agent/runner/child.h"
#include "common/err.h"
#include "common/log.h"

#define MAX_BUILDS 2

struct build {
	struct build *next;
	struct browse *b;
	char snap[65];
	struct idx_builder *ib;
	struct rchild *child;
	struct waiter *waiters;
	int bad_order, saw_snapshot;
	struct idx_scratch sc;
	uv_work_t work;
	int work_rc;
	char *out_path;
	int64_t started_ms;
	int in_work, orphan; /* orphan: browse_free came while the pool held it */
};

static void unlink_build(struct browse *b, struct build *x)
{
	for (struct build **pp = &b->builds; *pp; pp = &(*pp)->next)
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	b->nbuilds--;
}

static void finish(struct build *x, const char *code, const char *msg)
{
	struct browse *b = x->b;
	unlink_build(b, x);
	struct waiter *w = x->waiters;
	x->waiters = NULL;
	while (w) {
		struct waiter *n = w->next;
		browse_waiter_run(b, w, code, msg);
		w = n;
	}
	idx_builder_free(x->ib);
	idx_scratch_free(&x->sc);
	free(x->out_path);
	free(x);
}

static void on_line(void *ud, const char *line, size_t len)
{
	struct build *x = ud;
	struct idx_node n;
	enum idx_line t = idx_parse_ls_line(line, len, &x->sc, &n);
	if (t == IDX_LINE_SNAPSHOT)
		x->saw_snapshot = 1;
	if (t == IDX_LINE_NODE && idx_builder_add(x->ib, &n) && !x->bad_order) {
		x->bad_order = 1;
		RM_WARN("restic ls output out of order; index build abandoned", "snapshot",
		        x->snap);
		rchild_kill(x->child);
	}
}

static void work_cb(uv_work_t *w)
{
	struct build *x = w->data;
	x->work_rc = idx_builder_finish(x->ib, x->out_path);
}

static void after_work_cb(uv_work_t *w, int status)
{
	struct build *x = w->data;
	x->in_work = 0;
	if (x->orphan) {
		idx_builder_free(x->ib);
		idx_scratch_free(&x->sc);
		free(x->out_path);
		free(x);
		return;
	}
	char nodes[24], ms[24];
	snprintf(nodes, sizeof nodes, "%llu", (unsigned long long)idx_builder_nodes(x->ib));
	snprintf(ms, sizeof ms, "%lld", (long long)(uv_now(x->b->loop) - x->started_ms));
	if (status || x->work_rc) {
		RM_WARN("snapshot index build failed", "snapshot", x->snap, "error",
		        rm_strerror(x->work_rc));
		finish(x, "index_failed", "the snapshot index could not be written");
		return;
	}
	RM_INFO("snapshot indexed", "snapshot", x->snap, "nodes", nodes, "ms", ms);
	browse_evict(x->b, x->snap);
	finish(x, NULL, NULL);
}

static void on_done(void *ud, int code, const char *err)
{
	struct build *x = ud;
	x->child = NULL;
	if (code || x->bad_order) {
		const char *c = x->bad_order ? "index_failed" : "restic_failed";
		int missing = err && (strstr(err, "no matching ID") || strstr(err, "not found"));
		finish(x, missing ? "not_found" : c,
		       missing ? "no such snapshot in the repository"
		       : err   ? err
		               : "restic ls failed");
		return;
	}
	if (!x->saw_snapshot) { /* restic ls exits 0 after "Ignoring ...: no matching ID" */
		finish(x, "not_found", "no such snapshot in the repository");
		return;
	}
	x->work.data = x;
	if (uv_queue_work(x->b->loop, &x->work, work_cb, after_work_cb))
		finish(x, "index_failed", "cannot queue the index build");
	else
		x->in_work = 1;
}

static int start(struct browse *b, const struct runner_creds *creds, struct build *x)
{
	char *spool = rm_xasprintf("%s/%s.spool", b->index_dir, x->snap);
	unlink(spool);
	int rc = idx_builder_new(spool, &x->ib);
	free(spool);
	if (rc)
		return rc;
	const char *args[] = { "ls", "--json", x->snap, NULL };
	struct rchild_opts o = { .loop = b->loop,
		                 .restic_path = b->restic_path,
		                 .state_dir = b->state_dir,
		                 .creds = creds,
		                 .args = args,
		                 .on_line = on_line,
		                 .on_done = on_done,
		                 .ud = x };
	return rchild_start(&o, &x->child);
}

void browse_build_join(struct browse *b, const struct runner_creds *creds, const char *snap,
                       struct waiter *w)
{
	for (struct build *x = b->builds; x; x = x->next)
		if (!strcmp(x->snap, snap)) {
			w->next = x->waiters;
			x->waiters = w;
			return;
		}
	if (b->nbuilds >= MAX_BUILDS) {
		browse_waiter_run(b, w, "busy", "other snapshots are being indexed; try again");
		return;
	}
	struct build *x = rm_xcalloc(1, sizeof *x);
	x->b = b;
	rm_strlcpy(x->snap, snap, sizeof x->snap);
	x->out_path = browse_index_path(b, snap);
	x->started_ms = (int64_t)uv_now(b->loop);
	x->waiters = w;
	x->next = b->builds;
	b->builds = x;
	b->nbuilds++;
	int rc = start(b, creds, x);
	if (rc)
		finish(x,
		       rc == RM_ERR_NOTFOUND ? "restic_missing"
		       : rc == RM_ERR_INVAL  ? "no_repository"
		                             : "index_failed",
		       rc == RM_ERR_NOTFOUND ? "restic is not installed on the agent"
		       : rc == RM_ERR_INVAL  ? "no repository configured on the agent"
		                             : "cannot start restic ls");
}

void browse_builds_free(struct browse *b)
{
	while (b->builds) {
		struct build *x = b->builds;
		b->builds = x->next;
		if (x->child)
			rchild_detach(x->child);
		while (x->waiters) {
			struct waiter *n = x->waiters->next;
			browse_waiter_free(x->waiters);
			x->waiters = n;
		}
		if (x->in_work) {
			x->orphan = 1;
			continue;
		}
		idx_builder_free(x->ib);
		idx_scratch_free(&x->sc);
		free(x->out_path);
		free(x);
	}
}
