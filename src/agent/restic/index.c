/* Snapshot index: the `restic ls --json` line parser and the builder (see index.h). */
#include "agent/restic/index.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/restic/index_int.h"
#include "common/err.h"
#include "common/rmtime.h"

static const char *const type_names[] = { "file",    "dir",  "symlink", "dev",
	                                  "chardev", "fifo", "socket",  "other" };

const char *idx_type_name(unsigned t)
{
	return t <= IDX_T_OTHER ? type_names[t] : "other";
}

/* ---------------------------------------------------------------- builder */
struct dirinfo {
	uint64_t bytes; /* run length; during finish: the write cursor */
	uint32_t count;
};
struct frame {
	size_t len; /* of the directory's path in b->cur */
	uint32_t id;
};

struct idx_builder {
	char *spool_path;
	FILE *spool;
	int failed;
	uint64_t nodes;
	struct dirinfo *dirs;
	size_t ndirs, cap_dirs;
	struct frame *stack;
	size_t depth, cap_stack;
	char *cur; /* the path of the innermost open directory */
	size_t cap_cur;
};

int idx_builder_new(const char *spool_path, struct idx_builder **out)
{
	FILE *f = fopen(spool_path, "w+xe");
	if (!f)
		return RM_ERR_IO;
	struct idx_builder *b = rm_xcalloc(1, sizeof *b);
	b->spool_path = rm_xstrdup(spool_path);
	b->spool = f;
	setvbuf(f, NULL, _IOFBF, 1 << 16);
	b->cap_dirs = 1024;
	b->dirs = rm_xcalloc(b->cap_dirs, sizeof *b->dirs);
	b->ndirs = 1; /* the root */
	b->cap_stack = 64;
	b->stack = rm_xcalloc(b->cap_stack, sizeof *b->stack);
	b->depth = 1; /* stack[0] = root, path "" */
	b->cap_cur = 256;
	b->cur = rm_xcalloc(1, b->cap_cur);
	*out = b;
	return RM_OK;
}

uint64_t idx_builder_nodes(const struct idx_builder *b)
{
	return b->nodes;
}

/* Pops to n's parent; RM_ERR_PROTO when it is not on the stack. */
static int find_parent(struct idx_builder *b, const struct idx_node *n, uint32_t *parent)
{
	size_t pl = n->path_len - n->name_len - 1;
	while (b->depth > 1 && b->stack[b->depth - 1].len > pl)
		b->depth--;
	const struct frame *top = &b->stack[b->depth - 1];
	if (top->len != pl || memcmp(b->cur, n->path, pl))
		return RM_ERR_PROTO;
	*parent = top->id;
	return RM_OK;
}

static void push_dir(struct idx_builder *b, const struct idx_node *n, uint32_t id)
{
	if (b->depth == b->cap_stack) {
		b->cap_stack *= 2;
		b->stack = rm_xrealloc(b->stack, b->cap_stack * sizeof *b->stack);
	}
	if (n->path_len + 1 > b->cap_cur) {
		while (n->path_len + 1 > b->cap_cur)
			b->cap_cur *= 2;
		b->cur = rm_xrealloc(b->cur, b->cap_cur);
	}
	memcpy(b->cur, n->path, n->path_len);
	b->cur[n->path_len] = 0;
	b->stack[b->depth].len = n->path_len;
	b->stack[b->depth].id = id;
	b->depth++;
}

int idx_builder_add(struct idx_builder *b, const struct idx_node *n)
{
	uint32_t parent, id = IDX_NO_DIR;
	if (b->failed)
		return RM_ERR_PROTO;
	if (!n->name_len || n->name_len > IDX_NAME_MAX || n->path_len < n->name_len + 1 ||
	    find_parent(b, n, &parent)) {
		b->failed = 1;
		return RM_ERR_PROTO;
	}
	if (n->type == IDX_T_DIR) {
		if (b->ndirs >= IDX_NO_DIR) {
			b->failed = 1;
			return RM_ERR_TOOBIG;
		}
		if (b->ndirs == b->cap_dirs) {
			b->cap_dirs *= 2;
			b->dirs = rm_xrealloc(b->dirs, b->cap_dirs * sizeof *b->dirs);
		}
		id = (uint32_t)b->ndirs++;
		memset(&b->dirs[id], 0, sizeof b->dirs[id]);
		push_dir(b, n, id);
	}
	unsigned char rec[4 + IDX_REC_HDR];
	idx_put32(rec, parent);
	idx_rec_encode(rec + 4, n, id);
	if (fwrite(rec, 1, sizeof rec, b->spool) != sizeof rec ||
	    fwrite(n->name, 1, n->name_len, b->spool) != n->name_len) {
		b->failed = 1;
		return RM_ERR_IO;
	}
	b->dirs[parent].count++;
	b->dirs[parent].bytes += IDX_REC_HDR + n->name_len;
	b->nodes++;
	return RM_OK;
}

static int write_all_at(int fd, const void *p, size_t n, uint64_t off)
{
	const char *c = p;
	while (n) {
		ssize_t w = pwrite(fd, c, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return RM_ERR_IO;
		c += w, n -= (size_t)w, off += (uint64_t)w;
	}
	return RM_OK;
}

/* Second pass: every spooled record to its directory's run. Consecutive siblings (files
 * between two subdirectories) are contiguous in the output too: they go out in one write. */
struct wbuf {
	unsigned char *p;
	size_t len;
	uint64_t at; /* file offset of p[0] */
};
#define WBUF (256 * 1024)

static int wbuf_put(struct wbuf *w, int fd, const unsigned char *rec, size_t n, uint64_t at)
{
	if (w->len && (at != w->at + w->len || w->len + n > WBUF)) {
		if (write_all_at(fd, w->p, w->len, w->at))
			return RM_ERR_IO;
		w->len = 0;
	}
	if (!w->len)
		w->at = at;
	memcpy(w->p + w->len, rec, n);
	w->len += n;
	return RM_OK;
}

static int scatter(struct idx_builder *b, int fd)
{
	unsigned char rec[4 + IDX_REC_HDR + IDX_NAME_MAX]; /* parent id, record, name */
	struct wbuf w = { rm_xmalloc(WBUF + sizeof rec), 0, 0 };
	int rc = fflush(b->spool) || fseeko(b->spool, 0, SEEK_SET) ? RM_ERR_IO : RM_OK;
	for (uint64_t i = 0; !rc && i < b->nodes; i++) {
		if (fread(rec, 1, 4 + IDX_REC_HDR, b->spool) != 4 + IDX_REC_HDR) {
			rc = RM_ERR_IO;
			break;
		}
		uint32_t parent = idx_get32(rec);
		size_t nl = idx_get16(rec + 4);
		if (parent >= b->ndirs || nl > IDX_NAME_MAX ||
		    fread(rec + 4 + IDX_REC_HDR, 1, nl, b->spool) != nl) {
			rc = RM_ERR_IO;
			break;
		}
		rc = wbuf_put(&w, fd, rec + 4, IDX_REC_HDR + nl, IDX_HDR + b->dirs[parent].bytes);
		b->dirs[parent].bytes += IDX_REC_HDR + nl;
	}
	if (!rc && w.len && write_all_at(fd, w.p, w.len, w.at))
		rc = RM_ERR_IO;
	free(w.p);
	return rc;
}

/* Run offsets from the run lengths; returns the data length. */
static uint64_t layout(struct idx_builder *b)
{
	uint64_t off = 0;
	for (size_t i = 0; i < b->ndirs; i++) {
		uint64_t len = b->dirs[i].bytes;
		b->dirs[i].bytes = off;
		off += len;
	}
	return off;
}

static int write_dirtab(struct idx_builder *b, int fd, uint64_t at)
{
	unsigned char e[IDX_DIRENT * 256];
	size_t n = 0;
	uint64_t start = 0;
	for (size_t i = 0; i < b->ndirs; i++) {
		/* after scatter, bytes is the END of the run: start = end - run length */
		idx_put64(e + n, start);
		idx_put32(e + n + 8, b->dirs[i].count);
		idx_put32(e + n + 12, 0);
		start = b->dirs[i].bytes;
		n += IDX_DIRENT;
		if (n == sizeof e || i + 1 == b->ndirs) {
			if (write_all_at(fd, e, n, at))
				return RM_ERR_IO;
			at += n;
			n = 0;
		}
	}
	return RM_OK;
}

int idx_builder_finish(struct idx_builder *b, const char *out_path)
{
	if (b->failed)
		return RM_ERR_PROTO;
	char *tmp = rm_xasprintf("%s.tmp", out_path);
	int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int rc = fd < 0 ? RM_ERR_IO : RM_OK;
	uint64_t data_len = layout(b);
	if (!rc)
		rc = scatter(b, fd);
	if (!rc)
		rc = write_dirtab(b, fd, IDX_HDR + data_len);
	if (!rc) {
		unsigned char h[IDX_HDR] = "RMIDX001";
		memset(h + 8, 0, sizeof h - 8);
		idx_put32(h + 8, 1);
		idx_put32(h + 12, (uint32_t)b->ndirs);
		idx_put64(h + 16, b->nodes);
		idx_put64(h + 24, IDX_HDR + data_len);
		idx_put64(h + 32, data_len);
		rc = write_all_at(fd, h, sizeof h, 0);
	}
	if (fd >= 0 && close(fd) && !rc)
		rc = RM_ERR_IO;
	if (!rc && rename(tmp, out_path))
		rc = RM_ERR_IO;
	if (rc)
		unlink(tmp);
	free(tmp);
	return rc;
}

void idx_builder_free(struct idx_builder *b)
{
	if (!b)
		return;
	if (b->spool)
		fclose(b->spool);
	unlink(b->spool_path);
	free(b->spool_path);
	free(b->dirs);
	free(b->stack);
	free(b->cur);
	free(b);
}
