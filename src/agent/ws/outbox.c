/* On-disk outbox: append-only segments, in-place ack flags, in-memory index. */
#include "agent/ws/outbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/rmtime.h"

#define HDR 12
#define FLAG_ACKED 1u
#define COMPACT_MIN_BYTES (256u * 1024)
#define MARKER_PREFIX "[restic-manager] "
#define MARKER_SUFFIX " log lines dropped: outbox full"

struct ob_entry {
	char id[27];
	uint8_t type;
	uint8_t acked;
	char *job_id;       /* owned, may be NULL */
	uint32_t seg;       /* segment number */
	uint64_t off;       /* offset of the record header */
	uint32_t len;       /* payload bytes */
	uint32_t nlines;    /* log.stream: number of lines */
	long long first_seq; /* log.stream: seq of its first line */
	uint32_t dropped;   /* >0: this is a drop marker for that many lines */
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
	size_t head, n, cap;   /* live window e[head..n) (may contain acked holes) */
	size_t send_pos;       /* absolute index of the next entry to hand out */
	size_t ack_hint;

	struct ob_seg *segs;
	size_t nsegs;
	int active;            /* index into segs of the append segment, -1 = none */
	uint32_t next_num;

	size_t count;
	uint64_t bytes;
	size_t dropped_lines;
	struct ob_pending_drop *pend;
	size_t npend;
	int in_marker;
};

static uint32_t fnv1a(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 16777619u;
	}
	return h;
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static char *seg_path(const struct outbox *ob, uint32_t num, const char *suffix)
{
	return rm_xasprintf("%s/seg-%016u.log%s", ob->dir, num, suffix);
}

static struct ob_seg *seg_find(struct outbox *ob, uint32_t num)
{
	for (size_t i = 0; i < ob->nsegs; i++)
		if (ob->segs[i].num == num)
			return &ob->segs[i];
	return NULL;
}

static int read_at(int fd, void *p, size_t n, uint64_t off)
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

/* ------------------------------------------------------------------ index */

struct parsed {
	char id[27];
	int type;
	char *job_id;
	uint32_t nlines;
	long long first_seq;
	uint32_t dropped;
};

static int parse_env(const char *text, size_t len, struct parsed *p)
{
	json_t *root = NULL;
	int rc = rmj_parse_object(text, len, RM_PROTO_MAX_FRAME + 1024, &root, NULL, 0);
	if (rc)
		return RM_ERR_INVAL;
	const char *type = rmj_str(root, "type");
	const char *id = rmj_str(root, "id");
	json_t *payload = json_object_get(root, "payload");
	if (!type || !id || strlen(id) >= sizeof p->id || !json_is_object(payload)) {
		json_decref(root);
		return RM_ERR_INVAL;
	}
	memset(p, 0, sizeof *p);
	rm_strlcpy(p->id, id, sizeof p->id);
	p->type = (int)proto_type_from_name(type);
	const char *job = rmj_str(payload, "job_id");
	p->job_id = job ? rm_xstrdup(job) : NULL;
	if (p->type == RM_MSG_LOG_STREAM) {
		json_t *lines = json_object_get(payload, "lines");
		if (json_is_array(lines)) {
			p->nlines = (uint32_t)json_array_size(lines);
			if (p->nlines)
				p->first_seq = rmj_int(json_array_get(lines, 0), "seq", 0);
			const char *pl = rmj_str(json_array_get(lines, 0), "payload");
			const char *st = rmj_str(json_array_get(lines, 0), "stream");
			unsigned long n = 0;
			if (p->nlines == 1 && pl && st && !strcmp(st, "event") &&
			    !strncmp(pl, MARKER_PREFIX, strlen(MARKER_PREFIX)) &&
			    strstr(pl, MARKER_SUFFIX)) {
				n = strtoul(pl + strlen(MARKER_PREFIX), NULL, 10);
				p->dropped = n ? (uint32_t)n : 1;
			}
		}
	}
	json_decref(root);
	return RM_OK;
}

static void index_push(struct outbox *ob, const struct parsed *p, uint32_t seg, uint64_t off,
                       uint32_t len)
{
	if (ob->n == ob->cap) {
		if (ob->head > 0 && ob->head >= ob->n / 2) {
			/* slide the window down instead of growing */
			memmove(ob->e, ob->e + ob->head, (ob->n - ob->head) * sizeof *ob->e);
			ob->n -= ob->head;
			ob->send_pos = ob->send_pos > ob->head ? ob->send_pos - ob->head : 0;
			ob->ack_hint = ob->ack_hint > ob->head ? ob->ack_hint - ob->head : 0;
			ob->head = 0;
		} else {
			ob->cap = ob->cap ? ob->cap * 2 : 64;
			ob->e = rm_xrealloc(ob->e, ob->cap * sizeof *ob->e);
		}
	}
	struct ob_entry *en = &ob->e[ob->n++];
	memset(en, 0, sizeof *en);
	memcpy(en->id, p->id, sizeof en->id);
	en->type = (uint8_t)p->type;
	en->job_id = p->job_id;
	en->seg = seg;
	en->off = off;
	en->len = len;
	en->nlines = p->nlines;
	en->first_seq = p->first_seq;
	en->dropped = p->dropped;
	struct ob_seg *s = seg_find(ob, seg);
	if (s) {
		s->live++;
		s->live_bytes += HDR + len;
	}
	ob->count++;
	ob->bytes += HDR + len;
}

static void pop_head(struct outbox *ob)
{
	while (ob->head < ob->n && ob->e[ob->head].acked) {
		free(ob->e[ob->head].job_id);
		ob->e[ob->head].job_id = NULL;
		ob->head++;
	}
	if (ob->send_pos < ob->head)
		ob->send_pos = ob->head;
	if (ob->ack_hint < ob->head)
		ob->ack_hint = ob->head;
	if (ob->head == ob->n) {
		ob->head = ob->n = ob->send_pos = ob->ack_hint = 0;
	}
}

/* Marks entry i acked on disk (flag byte) and in memory. */
static void entry_kill(struct outbox *ob, size_t i)
{
	struct ob_entry *en = &ob->e[i];
	if (en->acked)
		return;
	en->acked = 1;
	struct ob_seg *s = seg_find(ob, en->seg);
	if (s) {
		unsigned char f = FLAG_ACKED;
		if (pwrite(s->fd, &f, 1, (off_t)(en->off + 8)) != 1)
			RM_WARN("outbox: cannot mark entry acked", "error", strerror(errno));
		s->dirty = 1;
		s->live--;
		s->live_bytes -= HDR + en->len;
	}
	ob->count--;
	ob->bytes -= HDR + en->len;
}

/* ------------------------------------------------------------------ segments */

static void seg_remove(struct outbox *ob, size_t idx)
{
	struct ob_seg *s = &ob->segs[idx];
	char *path = seg_path(ob, s->num, "");
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

static int seg_new_active(struct outbox *ob)
{
	uint32_t num = ob->next_num;
	char *path = seg_path(ob, num, "");
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
	char *tmp = seg_path(ob, s->num, ".tmp");
	char *path = seg_path(ob, s->num, "");
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
		if (read_at(s->fd, buf, HDR + en->len, en->off))
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

/* ------------------------------------------------------------------ append */

static int raw_append(struct outbox *ob, const char *text, size_t len, const struct parsed *p)
{
	if (ob->active >= 0 && ob->segs[ob->active].size >= ob->seg_bytes) {
		struct ob_seg *s = &ob->segs[ob->active];
		if (s->dirty && !fdatasync(s->fd))
			s->dirty = 0;
		ob->active = -1;
	}
	if (ob->active < 0) {
		int rc = seg_new_active(ob);
		if (rc)
			return rc;
	}
	struct ob_seg *s = &ob->segs[ob->active];
	unsigned char hdr[HDR] = { 0 };
	put32(hdr, (uint32_t)len);
	put32(hdr + 4, fnv1a(text, len));
	struct iovec iov[2] = { { hdr, HDR }, { (void *)(uintptr_t)text, len } };
	size_t want = HDR + len;
	ssize_t w = pwritev(s->fd, iov, 2, (off_t)s->size);
	if (w < 0 || (size_t)w != want) {
		RM_ERROR("outbox: write failed", "error", w < 0 ? strerror(errno) : "short write");
		/* cut off whatever part landed so the segment stays well formed */
		if (ftruncate(s->fd, (off_t)s->size)) {
			/* nothing more we can do; reload truncates a torn tail */
		}
		return RM_ERR_IO;
	}
	uint64_t off = s->size;
	s->size += want;
	s->dirty = 1;
	index_push(ob, p, s->num, off, (uint32_t)len);
	return RM_OK;
}

static int job_is_active(struct outbox *ob, const char *job_id)
{
	if (!job_id || !ob->job_active)
		return 0;
	return ob->job_active(ob->ud, job_id);
}

static struct ob_pending_drop *pend_get(struct outbox *ob, const char *job_id)
{
	for (size_t i = 0; i < ob->npend; i++)
		if (!strcmp(ob->pend[i].job_id, job_id))
			return &ob->pend[i];
	ob->pend = rm_xrealloc(ob->pend, (ob->npend + 1) * sizeof *ob->pend);
	struct ob_pending_drop *d = &ob->pend[ob->npend++];
	d->job_id = rm_xstrdup(job_id);
	d->n = 0;
	d->first_seq = 0;
	return d;
}

static void pend_note(struct outbox *ob, const char *job_id, size_t n, long long first_seq)
{
	if (!job_id || !n)
		return;
	struct ob_pending_drop *d = pend_get(ob, job_id);
	if (d->n == 0 || first_seq < d->first_seq)
		d->first_seq = first_seq;
	d->n += n;
	ob->dropped_lines += n;
}

static int append_parsed(struct outbox *ob, const char *text, size_t len, struct parsed *p);

/* Appends owed marker lines (one per job). Marker takes the seq of the first dropped
 * line, which is unique within the job and sorts where the gap is. */
static void flush_markers(struct outbox *ob, const char *only_job)
{
	for (size_t i = 0; i < ob->npend;) {
		struct ob_pending_drop *d = &ob->pend[i];
		if (only_job && strcmp(only_job, d->job_id)) {
			i++;
			continue;
		}
		/* one marker per job: fold an unacked earlier marker into this one */
		for (size_t k = ob->head; k < ob->n; k++) {
			struct ob_entry *en = &ob->e[k];
			if (!en->acked && en->dropped && en->job_id && !strcmp(en->job_id, d->job_id)) {
				d->n += en->dropped;
				if (en->first_seq < d->first_seq)
					d->first_seq = en->first_seq;
				entry_kill(ob, k);
			}
		}
		pop_head(ob);
		char ts[RM_TIME_STRLEN], msg[128];
		rm_time_fmt(rm_now_ms(), ts);
		snprintf(msg, sizeof msg, MARKER_PREFIX "%zu" MARKER_SUFFIX, d->n);
		json_t *line = json_pack("{s:I,s:s,s:s,s:s}", "seq", (json_int_t)d->first_seq, "ts",
		                         ts, "stream", "event", "payload", msg);
		json_t *pl = json_pack("{s:s,s:[o]}", "job_id", d->job_id, "lines", line);
		char *env = proto_encode(RM_MSG_LOG_STREAM, pl, NULL);
		struct parsed mp;
		ob->in_marker = 1;
		if (!parse_env(env, strlen(env), &mp)) {
			if (append_parsed(ob, env, strlen(env), &mp))
				free(mp.job_id);
		}
		ob->in_marker = 0;
		free(env);
		RM_WARN("outbox full: log lines dropped", "job_id", d->job_id, "lines", msg);
		free(d->job_id);
		memmove(d, d + 1, (ob->npend - i - 1) * sizeof *d);
		ob->npend--;
	}
}

/* Drops log.stream entries of finished jobs, oldest first, until need bytes fit. */
static void enforce_cap(struct outbox *ob, size_t need)
{
	for (size_t i = ob->head; i < ob->n && ob->bytes + need > ob->max_bytes; i++) {
		struct ob_entry *en = &ob->e[i];
		if (en->acked || en->type != RM_MSG_LOG_STREAM || en->dropped ||
		    job_is_active(ob, en->job_id))
			continue;
		pend_note(ob, en->job_id, en->nlines, en->first_seq);
		entry_kill(ob, i);
	}
	pop_head(ob);
}

static int append_parsed(struct outbox *ob, const char *text, size_t len, struct parsed *p)
{
	size_t need = HDR + len;
	if (!ob->in_marker && ob->bytes + need > ob->max_bytes) {
		enforce_cap(ob, need);
		if (ob->bytes + need > ob->max_bytes && p->type == RM_MSG_LOG_STREAM) {
			/* still full: this batch goes (accounted for by a marker later) */
			pend_note(ob, p->job_id, p->nlines, p->first_seq);
			free(p->job_id);
			p->job_id = NULL;
			return RM_OK;
		}
		if (ob->npend && ob->bytes + need <= ob->max_bytes)
			flush_markers(ob, NULL);
	} else if (!ob->in_marker && ob->npend) {
		flush_markers(ob, NULL);
	}
	if (!ob->in_marker && p->type == RM_MSG_JOB_FINISHED && p->job_id && ob->npend)
		flush_markers(ob, p->job_id); /* the job's marker precedes its end */
	return raw_append(ob, text, len, p);
}

int outbox_append(struct outbox *ob, const char *text, size_t len)
{
	struct parsed p;
	if (len > RM_PROTO_MAX_FRAME || parse_env(text, len, &p))
		return RM_ERR_INVAL;
	int rc = append_parsed(ob, text, len, &p);
	if (rc)
		free(p.job_id);
	return rc;
}

/* ------------------------------------------------------------------ ack / send */

int outbox_ack(struct outbox *ob, const char *id)
{
	if (!id || ob->head >= ob->n)
		return 0;
	size_t start = ob->ack_hint < ob->head || ob->ack_hint >= ob->n ? ob->head : ob->ack_hint;
	size_t i = start;
	do {
		struct ob_entry *en = &ob->e[i];
		if (!en->acked && !strcmp(en->id, id)) {
			entry_kill(ob, i);
			ob->ack_hint = i + 1;
			pop_head(ob);
			return 1;
		}
		i++;
		if (i >= ob->n)
			i = ob->head;
	} while (i != start);
	return 0;
}

int outbox_has_unsent(const struct outbox *ob)
{
	for (size_t i = ob->send_pos < ob->head ? ob->head : ob->send_pos; i < ob->n; i++)
		if (!ob->e[i].acked)
			return 1;
	return 0;
}

int outbox_next(struct outbox *ob, size_t pre, char **text, size_t *len)
{
	if (ob->send_pos < ob->head)
		ob->send_pos = ob->head;
	while (ob->send_pos < ob->n && ob->e[ob->send_pos].acked)
		ob->send_pos++;
	if (ob->send_pos >= ob->n)
		return RM_ERR_NOTFOUND;
	struct ob_entry *en = &ob->e[ob->send_pos++];
	struct ob_seg *s = seg_find(ob, en->seg);
	char *buf = rm_xmalloc(pre + (size_t)en->len + 1);
	if (!s || read_at(s->fd, buf + pre, en->len, en->off + HDR)) {
		free(buf);
		RM_ERROR("outbox: cannot read entry; skipped", "id", en->id);
		return RM_ERR_IO;
	}
	buf[pre + en->len] = 0;
	*text = buf;
	*len = en->len;
	return RM_OK;
}

void outbox_rewind(struct outbox *ob)
{
	ob->send_pos = ob->head;
}

size_t outbox_count(const struct outbox *ob)
{
	return ob->count;
}

size_t outbox_bytes(const struct outbox *ob)
{
	return (size_t)ob->bytes;
}

size_t outbox_dropped_lines(const struct outbox *ob)
{
	return ob->dropped_lines;
}

int outbox_json_array_has(const json_t *arr, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v) {
		if (json_is_string(v) && !strcmp(json_string_value(v), s))
			return 1;
	}
	return 0;
}

void outbox_terminal_job_ids(const struct outbox *ob, json_t *arr)
{
	for (size_t i = ob->head; i < ob->n; i++) {
		const struct ob_entry *en = &ob->e[i];
		if (!en->acked && en->type == RM_MSG_JOB_FINISHED && en->job_id &&
		    !outbox_json_array_has(arr, en->job_id))
			json_array_append_new(arr, json_string(en->job_id));
	}
}

/* ------------------------------------------------------------------ open / close */

/* The largest segment this outbox writes: it rolls over once a segment reaches seg_bytes,
 * so the last record may overshoot by one frame. Anything bigger was not written by us
 * (or by a build with a larger segment size): it is moved aside, never read into memory. */
static uint64_t seg_load_max(const struct outbox *ob)
{
	size_t seg = ob->seg_bytes > OUTBOX_DEFAULT_SEGMENT ? ob->seg_bytes : OUTBOX_DEFAULT_SEGMENT;
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
	char *path = seg_path(ob, num, "");
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
	if (size && read_at(fd, data, size, 0)) {
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
		uint32_t len = get32(h), sum = get32(h + 4);
		if (len > RM_PROTO_MAX_FRAME || size - off - HDR < len ||
		    fnv1a(data + off + HDR, len) != sum)
			break;
		if (!(h[8] & FLAG_ACKED)) {
			struct parsed p;
			if (!parse_env(data + off + HDR, len, &p))
				index_push(ob, &p, num, off, len);
			/* an unparsable record cannot be sent: left dead in place */
		}
		off += HDR + len;
	}
	s = seg_find(ob, num);
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

int outbox_open(const struct outbox_opts *opts, struct outbox **out)
{
	if (mkdir(opts->dir, 0700) && errno != EEXIST) {
		RM_ERROR("outbox: cannot create directory", "path", opts->dir, "error",
		         strerror(errno));
		return RM_ERR_IO;
	}
	DIR *d = opendir(opts->dir);
	if (!d) {
		RM_ERROR("outbox: cannot open directory", "path", opts->dir, "error",
		         strerror(errno));
		return RM_ERR_IO;
	}
	struct outbox *ob = rm_xcalloc(1, sizeof *ob);
	ob->dir = rm_xstrdup(opts->dir);
	ob->max_bytes = opts->max_bytes ? opts->max_bytes : OUTBOX_DEFAULT_MAX;
	ob->seg_bytes = opts->segment_bytes ? opts->segment_bytes : OUTBOX_DEFAULT_SEGMENT;
	ob->job_active = opts->job_active;
	ob->ud = opts->ud;
	ob->active = -1;
	ob->next_num = 1;

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
	if (ob->count) {
		char c[32], b[32];
		snprintf(c, sizeof c, "%zu", ob->count);
		snprintf(b, sizeof b, "%llu", (unsigned long long)ob->bytes);
		RM_INFO("outbox reloaded", "entries", c, "bytes", b);
	}
	outbox_flush(ob); /* drops fully-acked segments, syncs truncations */
	*out = ob;
	return RM_OK;
}

void outbox_close(struct outbox *ob)
{
	if (!ob)
		return;
	outbox_flush(ob);
	for (size_t i = 0; i < ob->nsegs; i++)
		if (ob->segs[i].fd >= 0)
			close(ob->segs[i].fd);
	for (size_t i = ob->head; i < ob->n; i++)
		free(ob->e[i].job_id);
	for (size_t i = 0; i < ob->npend; i++)
		free(ob->pend[i].job_id);
	free(ob->pend);
	free(ob->e);
	free(ob->segs);
	free(ob->dir);
	free(ob);
}
