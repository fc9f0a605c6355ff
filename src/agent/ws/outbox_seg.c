/* Outbox segment files: naming, creation, reload (with torn-tail truncation and the size
 * cap), compaction and fsync batching (see outbox.h and outbox_int.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/ws/outbox_int.h"
#include "common/crypto.h"
#include "common/err.h"
#include "common/log.h"
#include "common/proto.h"

#define COMPACT_MIN_BYTES (256u * 1024)

char *ob_seg_path(const struct outbox *ob, uint32_t num, const char *suffix)
{
	return rm_xasprintf("%s/seg-%016u.log%s", ob->dir, num, suffix);
}

struct ob_seg *ob_seg_find(struct outbox *ob, uint32_t num)
{
	for (size_t i = 0; i < ob->nsegs; i++)
		if (ob->segs[i].num == num)
			return &ob->segs[i];
	return NULL;
}

int ob_read_at(int fd, void *p, size_t n, uint64_t off)
{
	char *s = p;
	while (n) {
		ssize_t r = pread(fd, s, n, (off_t)off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return RM_ERR_IO;
		}
		if (r == 0)
			return RM_ERR_IO;
		s += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return RM_OK;
}

static void seg_remove(struct outbox *ob, size_t idx)
{
	struct ob_seg *s = &ob->segs[idx];
	char *path = ob_seg_path(ob, s->num, "");
	if (s->fd >= 0)
		close(s->fd);
	if (unlink(path) && errno != ENOENT)
		RM_WARN("outbox: cannot delete segment", "path", path, "error", strerror(errno));
	free(path);
	if (ob->active == (int)idx)
		ob->active = -1;
	else if (ob->active > (int)idx)
		ob->active--;
	memmove(&ob->segs[idx], &ob->segs[idx + 1], (ob->nsegs - idx - 1) * sizeof *ob->segs);
	ob->nsegs--;
}

static struct ob_seg *seg_add(struct outbox *ob, uint32_t num, int fd, uint64_t size)
{
	ob->segs = rm_xrealloc(ob->segs, (ob->nsegs + 1) * sizeof *ob->segs);
	struct ob_seg *s = &ob->segs[ob->nsegs++];
	memset(s, 0, sizeof *s);
	s->num = num;
	s->fd = fd;
	s->size = size;
	if (num >= ob->next_num)
		ob->next_num = num + 1;
	return s;
}

int ob_seg_new_active(struct outbox *ob)
{
	uint32_t num = ob->next_num;
	char *path = ob_seg_path(ob, num, "");
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		RM_ERROR("outbox: cannot create segment", "path", path, "error", strerror(errno));
		free(path);
		return RM_ERR_IO;
	}
	free(path);
	seg_add(ob, num, fd, 0);
	ob->active = (int)ob->nsegs - 1;
	/* make the new directory entry durable with the first flush */
	ob->segs[ob->active].dirty = 1;
	return RM_OK;
}

/* Rewrites segment idx with only its live records. */
static int seg_compact(struct outbox *ob, size_t idx)
{
	struct ob_seg *s = &ob->segs[idx];
	char *tmp = ob_seg_path(ob, s->num, ".tmp");
	char *path = ob_seg_path(ob, s->num, "");
	int rc = RM_ERR_IO;
	char *buf = NULL;
	int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	uint64_t off = 0;
	for (size_t i = ob->head; i < ob->n; i++) {
		struct ob_entry *en = &ob->e[i];
		if (en->acked || en->seg != s->num)
			continue;
		buf = rm_xrealloc(buf, HDR + en->len);
		if (ob_read_at(s->fd, buf, HDR + en->len, en->off))
			goto out;
		buf[8] = 0;
		if (rm_write_all(fd, buf, HDR + en->len))
			goto out;
		off += HDR + en->len;
	}
	if (fdatasync(fd) || rename(tmp, path))
		goto out;
	/* offsets change: recompute in a second pass */
	uint64_t o = 0;
	for (size_t i = ob->head; i < ob->n; i++) {
		struct ob_entry *en = &ob->e[i];
		if (en->acked || en->seg != s->num)
			continue;
		en->off = o;
		o += HDR + en->len;
	}
	close(s->fd);
	s->fd = fd;
	fd = -1;
	s->size = off;
	s->dirty = 1;
	rc = RM_OK;
out:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	if (rc)
		RM_WARN("outbox: compaction failed", "path", path, "error", strerror(errno));
	free(buf);
	free(tmp);
	free(path);
	return rc;
}

static void dir_sync(const struct outbox *ob)
{
	int dfd = open(ob->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
}

int outbox_flush(struct outbox *ob)
{
	int rc = RM_OK, dirsync = 0;
	for (size_t i = 0; i < ob->nsegs;) {
		struct ob_seg *s = &ob->segs[i];
		if (s->live == 0 && (s->size > 0 || (int)i != ob->active)) {
			seg_remove(ob, i);
			dirsync = 1;
			continue;
		}
		if ((int)i != ob->active && s->size >= COMPACT_MIN_BYTES &&
		    s->live_bytes * 4 < s->size) {
			if (!seg_compact(ob, i))
				dirsync = 1;
		}
		if (s->dirty) {
			if (fdatasync(s->fd)) {
				RM_ERROR("outbox: fsync failed", "error", strerror(errno));
				rc = RM_ERR_IO;
			}
			s->dirty = 0;
			if (s->size == 0 || (int)i == ob->active)
				dirsync = 1;
		}
		i++;
	}
	if (dirsync)
		dir_sync(ob);
	return rc;
}

/* The largest segment this outbox writes: it rolls over once a segment reaches seg_bytes,
 * so the last record may overshoot by one frame. Anything bigger was not written by us
 * (or by a build with a larger segment size): it is moved aside, never read into memory. */
static uint64_t seg_load_max(const struct outbox *ob)
{
	size_t seg =
	    ob->seg_bytes > OUTBOX_DEFAULT_SEGMENT ? ob->seg_bytes : OUTBOX_DEFAULT_SEGMENT;
	return (uint64_t)seg + HDR + RM_PROTO_MAX_FRAME;
}

static void seg_set_aside(const struct outbox *ob, const char *path, uint64_t size)
{
	char *aside = rm_xasprintf("%s%s", path, OUTBOX_TOOBIG_SUFFIX);
	char sz[32], mx[32];
	snprintf(sz, sizeof sz, "%llu", (unsigned long long)size);
	snprintf(mx, sizeof mx, "%llu", (unsigned long long)seg_load_max(ob));
	if (rename(path, aside))
		RM_ERROR("outbox: segment too large and cannot be moved aside; ignored", "path",
		         path, "bytes", sz, "max_bytes", mx, "error", strerror(errno));
	else
		RM_ERROR("outbox: segment too large; moved aside, not loaded", "path", aside,
		         "bytes", sz, "max_bytes", mx);
	free(aside);
}

/* Loads one segment file; truncates a torn/corrupt tail. */
static void seg_load(struct outbox *ob, uint32_t num)
{
	char *path = ob_seg_path(ob, num, "");
	int fd = open(path, O_RDWR | O_CLOEXEC);
	char *data = NULL;
	if (fd < 0) {
		RM_WARN("outbox: cannot open segment", "path", path, "error", strerror(errno));
		goto out;
	}
	struct stat st;
	if (fstat(fd, &st) || st.st_size < 0) {
		RM_WARN("outbox: segment unreadable; ignored", "path", path);
		close(fd);
		goto out;
	}
	if ((uint64_t)st.st_size > seg_load_max(ob)) {
		close(fd);
		seg_set_aside(ob, path, (uint64_t)st.st_size);
		goto out;
	}
	size_t size = (size_t)st.st_size;
	data = rm_xmalloc(size + 1);
	if (size && ob_read_at(fd, data, size, 0)) {
		RM_WARN("outbox: cannot read segment; ignored", "path", path);
		close(fd);
		goto out;
	}
	struct ob_seg *s = seg_add(ob, num, fd, 0);
	size_t off = 0;
	while (off < size) {
		if (size - off < HDR)
			break;
		const unsigned char *h = (const unsigned char *)data + off;
		uint32_t len = ob_get32(h), sum = ob_get32(h + 4);
		if (len > RM_PROTO_MAX_FRAME || size - off - HDR < len ||
		    ob_fnv1a(data + off + HDR, len) != sum)
			break;
		if (!(h[8] & FLAG_ACKED)) {
			struct parsed p;
			if (!ob_parse_env(data + off + HDR, len, &p))
				ob_index_push(ob, &p, num, off, len);
			/* an unparsable record cannot be sent: left dead in place */
		}
		off += HDR + len;
	}
	s = ob_seg_find(ob, num);
	if (off < size) {
		char offs[32];
		snprintf(offs, sizeof offs, "%zu", off);
		RM_WARN("outbox: truncated torn or corrupt segment tail", "path", path, "offset",
		        offs);
		if (ftruncate(fd, (off_t)off))
			RM_WARN("outbox: truncate failed", "path", path);
		s->dirty = 1;
	}
	s->size = off;
out:
	free(data);
	free(path);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Reloads every segment of the directory in order (d is closed); deletes leftover
 * compaction temp files. */
void ob_segs_reload(struct outbox *ob, DIR *d)
{
	uint32_t *nums = NULL;
	size_t nn = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t nl = strlen(de->d_name);
		if (nl > 8 && !strcmp(de->d_name + nl - 8, ".log.tmp")) {
			char *p = rm_xasprintf("%s/%s", ob->dir, de->d_name);
			unlink(p);
			free(p);
			continue;
		}
		if (nl == 24 && !strncmp(de->d_name, "seg-", 4) &&
		    !strcmp(de->d_name + 20, ".log")) {
			unsigned long long num = 0;
			int ok = 1;
			for (int k = 4; k < 20; k++) {
				char ch = de->d_name[k];
				if (ch < '0' || ch > '9')
					ok = 0;
				else
					num = num * 10 + (unsigned)(ch - '0');
			}
			if (ok && num < UINT32_MAX) {
				nums = rm_xrealloc(nums, (nn + 1) * sizeof *nums);
				nums[nn++] = (uint32_t)num;
			}
		}
	}
	closedir(d);
	if (nn)
		qsort(nums, nn, sizeof *nums, cmp_u32);
	for (size_t i = 0; i < nn; i++)
		seg_load(ob, nums[i]);
	free(nums);
}
