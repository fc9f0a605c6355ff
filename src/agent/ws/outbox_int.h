#ifndef RM_AGENT_WS_OUTBOX_INT_H
#define RM_AGENT_WS_OUTBOX_INT_H
/* Inside the outbox, shared by outbox.c (index, append, cap, ack, send) and outbox_seg.c
 * (segment files). Not for other modules: they use outbox.h. */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/ws/outbox.h"
#include "common/ulid.h"

/* record: u32 len (LE) | u32 fnv1a32(payload) | u8 flags | 3 reserved | payload */
#define HDR 12
#define FLAG_ACKED 1u

struct ob_entry {
	char id[RM_ULID_BUF];
	uint8_t type;
	uint8_t acked;
	char *job_id;        /* owned, may be NULL */
	uint32_t seg;        /* segment number */
	uint64_t off;        /* offset of the record header */
	uint32_t len;        /* payload bytes */
	uint32_t nlines;     /* log.stream: number of lines */
	long long first_seq; /* log.stream: seq of its first line */
	uint32_t dropped;    /* >0: this is a drop marker for that many lines */
};

struct ob_seg {
	uint32_t num;
	int fd;
	uint64_t size;
	size_t live;         /* unacked entries */
	uint64_t live_bytes; /* their record bytes */
	int dirty;
};

struct ob_pending_drop { /* lines of an active job dropped on append, marker owed */
	char *job_id;
	size_t n;
	long long first_seq;
};

struct outbox {
	char *dir;
	size_t max_bytes, seg_bytes;
	int (*job_active)(void *ud, const char *job_id);
	void *ud;

	struct ob_entry *e;
	size_t head, n, cap; /* live window e[head..n) (may contain acked holes) */
	size_t send_pos;     /* absolute index of the next entry to hand out */
	size_t ack_hint;

	struct ob_seg *segs;
	size_t nsegs;
	int active; /* index into segs of the append segment, -1 = none */
	uint32_t next_num;

	size_t count;
	uint64_t bytes;
	size_t dropped_lines;
	struct ob_pending_drop *pend;
	size_t npend;
	int in_marker;
};

struct parsed {
	char id[RM_ULID_BUF];
	int type;
	char *job_id;
	uint32_t nlines;
	long long first_seq;
	uint32_t dropped;
};

static inline uint32_t ob_fnv1a(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 16777619u;
	}
	return h;
}

static inline void ob_put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static inline uint32_t ob_get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* outbox_seg.c */
/* <dir>/seg-<num>.log<suffix>; caller frees. */
char *ob_seg_path(const struct outbox *ob, uint32_t num, const char *suffix);
struct ob_seg *ob_seg_find(struct outbox *ob, uint32_t num);
/* pread of exactly n bytes. RM_OK or RM_ERR_IO. */
int ob_read_at(int fd, void *p, size_t n, uint64_t off);
/* Starts a new append segment. RM_OK or RM_ERR_IO. */
int ob_seg_new_active(struct outbox *ob);
void ob_segs_reload(struct outbox *ob, DIR *d);

/* outbox.c */
/* Parses a stored envelope's indexing facts. 0 or -1 (not an envelope). */
int ob_parse_env(const char *text, size_t len, struct parsed *p);
/* Adds a live entry (takes p->job_id). */
void ob_index_push(struct outbox *ob, const struct parsed *p, uint32_t seg, uint64_t off,
                   uint32_t len);

#endif
