#ifndef RM_AGENT_RESTIC_INDEX_H
#define RM_AGENT_RESTIC_INDEX_H
/* The on-disk snapshot index behind tree.list (docs/internals/agent.md, "Snapshot
 * browsing"). Built in one pass over `restic ls --json <snap>` (a pre-order walk: every
 * directory comes before its children, children in name order) with memory bounded by the
 * number of DIRECTORIES (16 bytes each), not of nodes; then one sequential pass over the
 * spooled records groups every directory's children into one contiguous run.
 *
 * File layout (little endian; every reader bounds-checks against the file size):
 *   header  64 bytes: "RMIDX001", u32 version (1), u32 ndirs, u64 nnodes,
 *           u64 dirtab_off, u64 data_len, rest zero
 *   data    at 64: the runs of children, directory after directory
 *   dirtab  at dirtab_off: per directory id (0 = the snapshot root) u64 run offset
 *           (relative to 64), u32 child count, u32 zero
 * Record: u16 name_len, u8 type, u8 zero, u32 mode (permission bits), u32 dir_id
 *         (directories; else 0xffffffff), u64 size, i64 mtime (ms), name bytes. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum idx_type {
	IDX_T_FILE = 0,
	IDX_T_DIR,
	IDX_T_SYMLINK,
	IDX_T_DEV,
	IDX_T_CHARDEV,
	IDX_T_FIFO,
	IDX_T_SOCKET,
	IDX_T_OTHER,
};
const char *idx_type_name(unsigned t); /* "file", "dir", ..., "other" */

struct idx_node {
	const char *name, *path; /* borrowed from the parsed line */
	size_t name_len, path_len;
	unsigned type;
	uint32_t mode;
	uint64_t size;
	int64_t mtime_ms;
};

enum idx_line { IDX_LINE_OTHER = 0, IDX_LINE_SNAPSHOT, IDX_LINE_NODE };
/* Reusable buffer for the unescaped strings of one line (ls_line.c). */
struct idx_scratch {
	char *buf;
	size_t cap;
};
void idx_scratch_free(struct idx_scratch *s);
/* One line of `restic ls --json`, keyed on struct_type (0.14-0.16 have no message_type on
 * node lines; message_type is the fallback). For IDX_LINE_NODE, out's strings live in sc
 * until the next call. A node without a usable name/path (empty, NUL, '/' in the name, not
 * the last component of its path, path not absolute) is IDX_LINE_OTHER. Never fails on any
 * input (lines are valid UTF-8 without NUL, see restic/lines.h; others are tolerated). */
enum idx_line idx_parse_ls_line(const char *line, size_t len, struct idx_scratch *sc,
                                struct idx_node *out);

/* ---------------------------------------------------------------- building */
struct idx_builder;
/* Spools records to spool_path (created, removed by finish/free). */
int idx_builder_new(const char *spool_path, struct idx_builder **out);
/* RM_ERR_PROTO when n's parent directory is not on the walk's current path (input not in
 * restic's order). The builder then stays failed. */
int idx_builder_add(struct idx_builder *b, const struct idx_node *n);
uint64_t idx_builder_nodes(const struct idx_builder *b);
/* Writes the index to out_path (via out_path.tmp + rename). May run on a worker thread
 * (touches nothing but b and the two files). */
int idx_builder_finish(struct idx_builder *b, const char *out_path);
void idx_builder_free(struct idx_builder *b);

/* ---------------------------------------------------------------- reading */
struct idx_reader;
int idx_open(const char *path, struct idx_reader **out); /* RM_ERR_PROTO: not an index */
void idx_close(struct idx_reader *r);

struct idx_page {
	uint64_t total;      /* children of the directory */
	uint64_t next_index; /* 0 = no more */
	uint64_t next_off;
};
/* Lists the directory at path ("/" or "/a/b": absolute, no empty, "." or ".." components).
 * Starts at child start_index whose record is at start_off within the run (0, 0 = the
 * beginning; a cursor from an earlier page otherwise); appends at most limit entries (and
 * stops once max_bytes of names went in) as {"name","type","size","mtime","mode"} to
 * entries. RM_ERR_NOTFOUND: no such path; RM_ERR_INVAL: bad path, not a directory or a
 * bad cursor; RM_ERR_PROTO/RM_ERR_IO: damaged index. */
int idx_list(struct idx_reader *r, const char *path, uint64_t start_index, uint64_t start_off,
             size_t limit, size_t max_bytes, json_t *entries, struct idx_page *page);
/* Looks path up: its type (root: IDX_T_DIR) and size. RM_ERR_NOTFOUND / RM_ERR_INVAL. */
int idx_stat(struct idx_reader *r, const char *path, unsigned *type, uint64_t *size);

/* 1 when p is a path the browser may send: absolute, at most 4096 bytes, no NUL, no
 * control characters, no "." / ".." / empty components (a trailing '/' is allowed). */
int idx_path_ok(const char *p);

#endif
