/* Snapshot browsing: index builds and tree.list answers (see browse.h). */
#include "agent/runner/browse.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/restic/index.h"
#include "agent/runner/browse_int.h"
#include "agent/runner/child.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"

#define MAX_BUILDS 2
#define PAGE_DEFAULT 1000
#define PAGE_MAX 10000
#define PAGE_BYTES (640 * 1024) /* names per page, well under RM_PROTO_MAX_FRAME */

int browse_snap_id_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n < 8 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* Spools and half-written indexes of builds that a previous agent process left behind. */
static void remove_leftovers(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if ((l > 6 && !strcmp(e->d_name + l - 6, ".spool")) ||
		    (l > 8 && !strcmp(e->d_name + l - 8, ".idx.tmp")))
			unlinkat(dirfd(d), e->d_name, 0);
	}
	if (d)
		closedir(d);
}

struct browse *browse_new(const struct browse_opts *o)
{
	struct browse *b = rm_xcalloc(1, sizeof *b);
	b->loop = o->loop;
	b->state_dir = rm_xstrdup(o->state_dir);
	b->restic_path = rm_xstrdup(o->restic_path);
	b->cache_max = o->cache_max ? o->cache_max : (1ull << 30);
	b->index_dir = rm_xasprintf("%s/index", o->state_dir);
	if (mkdir(b->index_dir, 0700) && errno != EEXIST)
		RM_WARN("cannot create the snapshot index directory", "dir", b->index_dir);
	remove_leftovers(b->index_dir);
	return b;
}

void browse_free(struct browse *b)
{
	if (!b)
		return;
	browse_builds_free(b);
	browse_diffs_free(b);
	free(b->state_dir);
	free(b->restic_path);
	free(b->index_dir);
	free(b);
}

char *browse_index_path(const struct browse *b, const char *snap)
{
	return rm_xasprintf("%s/%s.idx", b->index_dir, snap);
}

/* ---------------------------------------------------------------- waiters */

static void answer_tree(struct browse *b, struct waiter *w, struct idx_reader *r)
{
	const char *path = rmj_str(w->payload, "path");
	const char *cursor = rmj_str(w->payload, "cursor");
	long long lim = rmj_int(w->payload, "limit", PAGE_DEFAULT);
	unsigned long long ci = 0, co = 0;
	if (lim < 1 || lim > PAGE_MAX)
		lim = PAGE_DEFAULT;
	if (cursor && *cursor && sscanf(cursor, "%llu.%llu", &ci, &co) != 2) {
		w->fn(w->ud, w->request_id, NULL, "bad_cursor", "cursor is not one of ours");
		return;
	}
	json_t *entries = json_array();
	struct idx_page pg;
	int rc = idx_list(r, path, ci, co, (size_t)lim, PAGE_BYTES, entries, &pg);
	if (rc) {
		json_decref(entries);
		w->fn(w->ud, w->request_id, NULL,
		      rc == RM_ERR_NOTFOUND ? "not_found"
		      : rc == RM_ERR_INVAL  ? "not_a_directory"
		                            : "index_damaged",
		      rc == RM_ERR_NOTFOUND ? "no such path in the snapshot"
		      : rc == RM_ERR_INVAL  ? "not a directory (or a bad cursor)"
		                            : "the snapshot index is damaged; it will be rebuilt");
		if (rc != RM_ERR_NOTFOUND && rc != RM_ERR_INVAL)
			browse_drop_index(b, rmj_str(w->payload, "snapshot_id"));
		return;
	}
	json_t *res = json_pack("{s:s,s:o,s:I}", "path", path, "entries", entries, "total",
	                        (json_int_t)pg.total);
	if (pg.next_index) {
		char c[48];
		snprintf(c, sizeof c, "%llu.%llu", (unsigned long long)pg.next_index,
		         (unsigned long long)pg.next_off);
		json_object_set_new(res, "next_cursor", json_string(c));
	} else {
		json_object_set_new(res, "next_cursor", json_null());
	}
	w->fn(w->ud, w->request_id, res, NULL, NULL);
}

static void answer_stat(struct waiter *w, struct idx_reader *r)
{
	unsigned type = 0;
	uint64_t size = 0;
	int rc = idx_stat(r, rmj_str(w->payload, "path"), &type, &size);
	if (rc)
		w->stat_fn(w->ud, 0, 0, rc == RM_ERR_PROTO ? "index_damaged" : "not_found",
		           "no such path in the snapshot");
	else
		w->stat_fn(w->ud, type, size, NULL, NULL);
}

void browse_waiter_run(struct browse *b, struct waiter *w, const char *code, const char *msg)
{
	struct idx_reader *r = NULL;
	if (!code) {
		char *p = browse_index_path(b, rmj_str(w->payload, "snapshot_id"));
		int rc = idx_open(p, &r);
		free(p);
		if (rc)
			code = "index_damaged", msg = "the snapshot index cannot be read";
	}
	if (code && w->stat_fn)
		w->stat_fn(w->ud, 0, 0, code, msg);
	else if (code)
		w->fn(w->ud, w->request_id, NULL, code, msg);
	else if (w->stat_fn)
		answer_stat(w, r);
	else
		answer_tree(b, w, r);
	idx_close(r);
	browse_waiter_free(w);
}

void browse_waiter_free(struct waiter *w)
{
	json_decref(w->payload);
	free(w->request_id);
	free(w);
}

/* ---------------------------------------------------------------- entry points */

static void with_index(struct browse *b, const struct runner_creds *creds, struct waiter *w)
{
	const char *snap = rmj_str(w->payload, "snapshot_id");
	const char *path = rmj_str(w->payload, "path");
	if (!browse_snap_id_ok(snap) || !idx_path_ok(path)) {
		browse_waiter_run(b, w, "invalid",
		                  !browse_snap_id_ok(snap) ? "snapshot_id must be 8-64 hex digits"
		                                           : "path must be absolute, without "
		                                             "'.', '..', empty components or "
		                                             "control characters");
		return;
	}
	char *p = browse_index_path(b, snap);
	int have = access(p, R_OK) == 0;
	if (have)
		utimensat(AT_FDCWD, p, NULL, 0); /* recently used */
	free(p);
	if (have) {
		browse_waiter_run(b, w, NULL, NULL);
		return;
	}
	browse_build_join(b, creds, snap, w);
}

static struct waiter *waiter_new(const char *request_id, const json_t *payload)
{
	struct waiter *w = rm_xcalloc(1, sizeof *w);
	w->request_id = rm_xstrdup(request_id ? request_id : "");
	w->payload = json_deep_copy(payload);
	return w;
}

void browse_tree_list(struct browse *b, const struct runner_creds *creds, const char *request_id,
                      const json_t *payload, browse_answer_fn fn, void *ud)
{
	struct waiter *w = waiter_new(request_id, payload);
	w->fn = fn;
	w->ud = ud;
	with_index(b, creds, w);
}

void browse_stat(struct browse *b, const struct runner_creds *creds, const char *snap,
                 const char *path, browse_stat_fn fn, void *ud)
{
	json_t *p =
	    json_pack("{s:s,s:s}", "snapshot_id", snap ? snap : "", "path", path ? path : "");
	struct waiter *w = waiter_new("", p);
	json_decref(p);
	w->stat_fn = fn;
	w->ud = ud;
	with_index(b, creds, w);
}

/* ---------------------------------------------------------------- the cache bound */

void browse_drop_index(struct browse *b, const char *snap)
{
	if (!browse_snap_id_ok(snap))
		return;
	char *p = browse_index_path(b, snap);
	unlink(p);
	free(p);
}

struct cached {
	char name[80];
	int64_t mtime;
	uint64_t size;
};

static int by_mtime(const void *x, const void *y)
{
	const struct cached *a = x, *c = y;
	return a->mtime < c->mtime ? -1 : a->mtime > c->mtime;
}

/* Removes least recently used indexes (never keep) until the total fits cache_max. */
void browse_evict(struct browse *b, const char *keep)
{
	DIR *d = opendir(b->index_dir);
	if (!d)
		return;
	struct cached *v = NULL;
	size_t n = 0, cap = 0;
	uint64_t total = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		struct stat st;
		if (l < 5 || l >= sizeof v->name || strcmp(e->d_name + l - 4, ".idx") ||
		    fstatat(dirfd(d), e->d_name, &st, 0))
			continue;
		if (n == cap)
			v = rm_xrealloc(v, (cap = cap ? cap * 2 : 16) * sizeof *v);
		rm_strlcpy(v[n].name, e->d_name, sizeof v[n].name);
		v[n].mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
		v[n].size = (uint64_t)st.st_size;
		total += v[n++].size;
	}
	if (n)
		qsort(v, n, sizeof *v, by_mtime);
	for (size_t i = 0; i < n && total > b->cache_max; i++) {
		if (keep && !strncmp(v[i].name, keep, strlen(keep)) &&
		    !strcmp(v[i].name + strlen(keep), ".idx"))
			continue;
		if (!unlinkat(dirfd(d), v[i].name, 0)) {
			total -= v[i].size;
			RM_INFO("snapshot index evicted", "file", v[i].name);
		}
	}
	closedir(d);
	free(v);
}
