/* File-system work of restores on the thread pool (see walk.h). The work function touches
 * only the walk struct and the file system; the loop-side callback does the rest. */
#include "agent/runner/walk.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/json.h"

#define MAX_DEPTH 256
#define MAX_ENTRIES 50000000LL

char *walk_join(const char *root, const char *abs)
{
	size_t n = strlen(root);
	while (n > 0 && root[n - 1] == '/')
		n--;
	if (!abs || !*abs)
		return n ? rm_xstrndup(root, n) : rm_xstrdup("/");
	return rm_xasprintf("%.*s%s%s", (int)n, root, abs[0] == '/' ? "" : "/", abs);
}

char *walk_map_path(const json_t *map, const char *path)
{
	size_t best = 0;
	const char *to = NULL;
	size_t i;
	json_t *m;
	json_array_foreach (map, i, m) {
		const char *from = rmj_str(m, "from");
		size_t fl = from ? strlen(from) : 0;
		while (fl > 1 && from[fl - 1] == '/')
			fl--;
		if (!fl || fl <= best || strncmp(path, from, fl) != 0)
			continue;
		if (path[fl] != '\0' && path[fl] != '/' && !(fl == 1 && from[0] == '/'))
			continue;
		best = fl;
		to = rmj_str(m, "to");
	}
	if (!to)
		return rm_xstrdup(path);
	const char *rest = path + best;
	if (best == 1) /* from "/" */
		rest = path;
	size_t tl = strlen(to);
	while (tl > 1 && to[tl - 1] == '/')
		tl--;
	if (tl == 1 && *rest) /* to "/" */
		return rm_xstrdup(rest);
	return rm_xasprintf("%.*s%s", (int)tl, to, rest);
}

int walk_mkdirs(const char *path, int mode)
{
	char *p = rm_xstrdup(path);
	int rc = 0;
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, (mode_t)mode) != 0 && errno != EEXIST)
			rc = -1;
		*s = c;
		if (!c)
			break;
	}
	int e = errno;
	free(p);
	struct stat st;
	if (rc == 0 || (stat(path, &st) == 0 && S_ISDIR(st.st_mode)))
		return 0;
	errno = e;
	return -1;
}

int walk_rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path);
	DIR *d = opendir(path);
	int rc = 0;
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			char *c = rm_xasprintf("%s/%s", path, e->d_name);
			if (walk_rm_rf(c))
				rc = -1;
			free(c);
		}
		closedir(d);
	}
	return rmdir(path) || rc ? -1 : 0;
}

/* src -> dst, merging into existing directories. 0 or -1 with w->error set. */
static int merge_move(struct walk *w, const char *src, const char *dst, int depth)
{
	struct stat ss, ds;
	if (lstat(src, &ss) != 0)
		return 0; /* nothing restored there */
	if (lstat(dst, &ds) != 0) {
		if (rename(src, dst) == 0)
			return 0;
		w->error = rm_xasprintf("cannot move %s to %s: %s", src, dst, strerror(errno));
		return -1;
	}
	if (S_ISDIR(ss.st_mode) && S_ISDIR(ds.st_mode) && depth < MAX_DEPTH) {
		DIR *d = opendir(src);
		if (!d) {
			w->error = rm_xasprintf("cannot read %s: %s", src, strerror(errno));
			return -1;
		}
		struct dirent *e;
		int rc = 0;
		while (!rc && (e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			char *s2 = rm_xasprintf("%s/%s", src, e->d_name);
			char *d2 = rm_xasprintf("%s/%s", dst, e->d_name);
			rc = merge_move(w, s2, d2, depth + 1);
			free(s2);
			free(d2);
		}
		closedir(d);
		return rc;
	}
	if (S_ISDIR(ds.st_mode)) {
		w->error = rm_xasprintf("cannot replace the directory %s with a file", dst);
		return -1;
	}
	if (rename(src, dst) == 0)
		return 0;
	w->error = rm_xasprintf("cannot move %s to %s: %s", src, dst, strerror(errno));
	return -1;
}

static void do_moves(struct walk *w)
{
	size_t n = json_array_size(w->includes);
	for (size_t i = 0; i < (n ? n : 1) && !w->error; i++) {
		const char *inc = n ? json_string_value(json_array_get(w->includes, i)) : "/";
		char *mapped = walk_map_path(w->map, inc);
		char *src = walk_join(w->stage, inc);
		char *dst = walk_join(w->target, mapped);
		char *parent = rm_xstrdup(dst);
		char *slash = strrchr(parent, '/');
		if (slash && slash != parent) {
			*slash = '\0';
			walk_mkdirs(parent, 0755);
		}
		merge_move(w, src, dst, 0);
		free(parent);
		free(mapped);
		free(src);
		free(dst);
	}
	walk_rm_rf(w->stage);
}

static void count(struct walk *w, const char *path, int depth, long long *seen)
{
	struct stat st;
	if (++*seen > MAX_ENTRIES || lstat(path, &st) != 0)
		return;
	if (S_ISREG(st.st_mode)) {
		if ((int64_t)st.st_ctime < w->q.since_s)
			return;
		w->files++;
		w->bytes += (long long)st.st_size;
		/* restic 0.14 sizes a file first and fills it in as blobs arrive: count what
		 * is allocated so far for progress */
		long long alloc = (long long)st.st_blocks * 512;
		w->written += alloc < (long long)st.st_size ? alloc : (long long)st.st_size;
		if ((int64_t)st.st_ctime >= w->newest) {
			w->newest = (int64_t)st.st_ctime;
			free(w->current);
			w->current = rm_xstrdup(path);
		}
		return;
	}
	if (!S_ISDIR(st.st_mode) || depth >= MAX_DEPTH)
		return;
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *c = rm_xasprintf("%s/%s", strcmp(path, "/") ? path : "", e->d_name);
		count(w, c, depth + 1, seen);
		free(c);
	}
	closedir(d);
}

static void work_cb(uv_work_t *req)
{
	struct walk *w = req->data;
	if (w->stage)
		do_moves(w);
	long long seen = 0;
	for (size_t i = 0; i < w->q.nroots && !w->abandoned; i++)
		count(w, w->q.roots[i], 0, &seen);
}

static void walk_free(struct walk *w)
{
	for (size_t i = 0; i < w->q.nroots; i++)
		free(w->q.roots[i]);
	free(w->q.roots);
	free(w->stage);
	free(w->target);
	json_decref(w->includes);
	json_decref(w->map);
	free(w->current);
	free(w->error);
	free(w);
}

static void after_cb(uv_work_t *req, int status)
{
	struct walk *w = req->data;
	(void)status;
	if (!w->abandoned)
		w->cb(w, w->ud);
	walk_free(w);
}

struct walk *walk_start(uv_loop_t *loop, struct walk_req *q, walk_cb cb, void *ud)
{
	struct walk *w = rm_xcalloc(1, sizeof(*w));
	w->q = *q;
	w->q.stage = w->q.target = NULL;
	w->q.includes = w->q.map = NULL;
	if (q->stage) {
		w->stage = rm_xstrdup(q->stage);
		w->target = rm_xstrdup(q->target);
		w->includes = q->includes ? json_deep_copy(q->includes) : json_array();
		w->map = q->map ? json_deep_copy(q->map) : json_array();
	}
	w->cb = cb;
	w->ud = ud;
	w->work.data = w;
	if (uv_queue_work(loop, &w->work, work_cb, after_cb) != 0) {
		walk_free(w);
		return NULL;
	}
	return w;
}

void walk_abandon(struct walk *w)
{
	if (w)
		w->abandoned = 1;
}
