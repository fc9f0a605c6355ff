/* Snapshot index: lookups and directory pages (see index.h). Every offset read from the
 * file is checked against the header's bounds: a damaged index gives an error, never a
 * read outside the run. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/restic/index.h"
#include "agent/restic/index_int.h"
#include "common/err.h"
#include "common/rmtime.h"

#define RBUF (128 * 1024)

struct idx_reader {
	int fd;
	uint32_t ndirs;
	uint64_t nnodes, dirtab_off, data_len;
	unsigned char *buf; /* RBUF bytes: a window onto the current run */
	uint64_t win_off;   /* run-relative offset of buf[0] */
	size_t win_len;
};

static int read_at(int fd, void *p, size_t n, uint64_t off)
{
	char *c = p;
	while (n) {
		ssize_t r = pread(fd, c, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return RM_ERR_IO;
		c += r, n -= (size_t)r, off += (uint64_t)r;
	}
	return RM_OK;
}

int idx_open(const char *path, struct idx_reader **out)
{
	unsigned char h[IDX_HDR];
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? RM_ERR_NOTFOUND : RM_ERR_IO;
	if (fstat(fd, &st) || read_at(fd, h, sizeof h, 0) || memcmp(h, "RMIDX001", 8) ||
	    idx_get32(h + 8) != 1) {
		close(fd);
		return RM_ERR_PROTO;
	}
	struct idx_reader *r = rm_xcalloc(1, sizeof *r);
	r->fd = fd;
	r->ndirs = idx_get32(h + 12);
	r->nnodes = idx_get64(h + 16);
	r->dirtab_off = idx_get64(h + 24);
	r->data_len = idx_get64(h + 32);
	if (r->ndirs == 0 || r->dirtab_off != IDX_HDR + r->data_len ||
	    r->data_len > (uint64_t)st.st_size ||
	    (uint64_t)st.st_size - r->dirtab_off != (uint64_t)r->ndirs * IDX_DIRENT) {
		idx_close(r);
		return RM_ERR_PROTO;
	}
	r->buf = rm_xmalloc(RBUF);
	*out = r;
	return RM_OK;
}

void idx_close(struct idx_reader *r)
{
	if (!r)
		return;
	close(r->fd);
	free(r->buf);
	free(r);
}

struct run {
	uint64_t off, len; /* data-relative */
	uint32_t count;
};

static int dir_run(struct idx_reader *r, uint32_t id, struct run *run)
{
	unsigned char e[IDX_DIRENT];
	if (id >= r->ndirs ||
	    read_at(r->fd, e, sizeof e, r->dirtab_off + (uint64_t)id * IDX_DIRENT))
		return RM_ERR_PROTO;
	uint64_t end = r->data_len;
	if (id + 1 < r->ndirs) {
		unsigned char n[8];
		if (read_at(r->fd, n, sizeof n, r->dirtab_off + (uint64_t)(id + 1) * IDX_DIRENT))
			return RM_ERR_PROTO;
		end = idx_get64(n);
	}
	run->off = idx_get64(e);
	run->count = idx_get32(e + 8);
	if (run->off > end || end > r->data_len)
		return RM_ERR_PROTO;
	run->len = end - run->off;
	return RM_OK;
}

struct rec {
	unsigned type;
	uint32_t mode, dir_id;
	uint64_t size;
	int64_t mtime_ms;
	const char *name;
	size_t name_len, total;
};

/* Makes n bytes at run-relative pos readable in the window. */
static const unsigned char *window(struct idx_reader *r, const struct run *run, uint64_t pos,
                                   size_t n)
{
	uint64_t abs = run->off + pos;
	if (pos + n > run->len)
		return NULL;
	if (abs < r->win_off || abs + n > r->win_off + r->win_len || !r->win_len) {
		uint64_t want = run->len - pos < RBUF ? run->len - pos : RBUF;
		r->win_len = 0;
		if (want < n || read_at(r->fd, r->buf, (size_t)want, IDX_HDR + abs))
			return NULL;
		r->win_off = abs;
		r->win_len = (size_t)want;
	}
	return r->buf + (abs - r->win_off);
}

/* The record at run-relative offset pos (within run). */
static int rec_at(struct idx_reader *r, const struct run *run, uint64_t pos, struct rec *out)
{
	const unsigned char *p = window(r, run, pos, IDX_REC_HDR);
	if (!p)
		return RM_ERR_PROTO;
	out->name_len = idx_get16(p);
	out->type = p[2];
	out->mode = idx_get32(p + 4);
	out->dir_id = idx_get32(p + 8);
	out->size = idx_get64(p + 12);
	out->mtime_ms = (int64_t)idx_get64(p + 20);
	out->total = IDX_REC_HDR + out->name_len;
	if (!out->name_len || out->name_len > IDX_NAME_MAX ||
	    !(p = window(r, run, pos, out->total)))
		return RM_ERR_PROTO;
	out->name = (const char *)p + IDX_REC_HDR;
	return RM_OK;
}

int idx_path_ok(const char *p)
{
	size_t n = p ? strlen(p) : 0;
	if (!n || n > 4096 || p[0] != '/')
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return 0;
	for (const char *c = p + 1; *c;) {
		const char *e = strchr(c, '/');
		size_t l = e ? (size_t)(e - c) : strlen(c);
		if ((l == 0 && e) || (l == 1 && c[0] == '.') || (l == 2 && !memcmp(c, "..", 2)))
			return 0;
		c += l + (e ? 1 : 0);
	}
	return 1;
}

/* Finds name in directory id: a linear scan of its run. */
static int lookup(struct idx_reader *r, uint32_t id, const char *name, size_t nl, struct rec *out)
{
	struct run run;
	int rc = dir_run(r, id, &run);
	uint64_t pos = 0;
	for (uint32_t i = 0; !rc && i < run.count; i++) {
		if ((rc = rec_at(r, &run, pos, out)))
			break;
		if (out->name_len == nl && !memcmp(out->name, name, nl))
			return RM_OK;
		pos += out->total;
	}
	return rc ? rc : RM_ERR_NOTFOUND;
}

/* Walks path from the root: the directory id of the last component, or its type. */
static int resolve(struct idx_reader *r, const char *path, uint32_t *dir_id, unsigned *type,
                   uint64_t *size)
{
	if (!idx_path_ok(path))
		return RM_ERR_INVAL;
	uint32_t id = 0;
	*type = IDX_T_DIR;
	*size = 0;
	for (const char *c = path + 1; *c;) {
		const char *e = strchr(c, '/');
		size_t l = e ? (size_t)(e - c) : strlen(c);
		struct rec rec;
		if (*type != IDX_T_DIR)
			return RM_ERR_NOTFOUND;
		int rc = lookup(r, id, c, l, &rec);
		if (rc)
			return rc;
		*type = rec.type;
		*size = rec.size;
		id = rec.dir_id;
		c += l + (e ? 1 : 0);
	}
	if (*type == IDX_T_DIR && id >= r->ndirs)
		return RM_ERR_PROTO;
	*dir_id = id;
	return RM_OK;
}

int idx_stat(struct idx_reader *r, const char *path, unsigned *type, uint64_t *size)
{
	uint32_t id;
	return resolve(r, path, &id, type, size);
}

static json_t *entry_json(const struct rec *e)
{
	char t[RM_TIME_STRLEN];
	rm_time_fmt(e->mtime_ms, t);
	json_t *o = json_object();
	json_t *name = json_stringn(e->name, e->name_len); /* NULL: not UTF-8 (damaged) */
	json_object_set_new(o, "name", name ? name : json_string("?"));
	json_object_set_new(o, "type", json_string(idx_type_name(e->type)));
	json_object_set_new(o, "size", json_integer((json_int_t)e->size));
	json_object_set_new(o, "mtime", json_string(t));
	json_object_set_new(o, "mode", json_integer((json_int_t)e->mode));
	return o;
}

int idx_list(struct idx_reader *r, const char *path, uint64_t start_index, uint64_t start_off,
             size_t limit, size_t max_bytes, json_t *entries, struct idx_page *page)
{
	uint32_t id;
	unsigned type;
	uint64_t size;
	struct run run;
	memset(page, 0, sizeof *page);
	int rc = resolve(r, path, &id, &type, &size);
	if (rc)
		return rc;
	if (type != IDX_T_DIR)
		return RM_ERR_INVAL;
	if ((rc = dir_run(r, id, &run)))
		return rc;
	page->total = run.count;
	if (start_index > run.count || start_off > run.len ||
	    (start_index == 0) != (start_off == 0))
		return RM_ERR_INVAL;
	uint64_t pos = start_off, i = start_index;
	size_t n = 0, bytes = 0;
	for (; i < run.count; i++) {
		struct rec e;
		if (n >= limit || bytes >= max_bytes) {
			page->next_index = i;
			page->next_off = pos;
			break;
		}
		if ((rc = rec_at(r, &run, pos, &e)))
			return rc;
		json_array_append_new(entries, entry_json(&e));
		bytes += e.name_len + 96;
		pos += e.total;
		n++;
	}
	return RM_OK;
}
