/* On-disk outbox: append-only segments, in-place ack flags, in-memory index. */
#include "agent/ws/outbox.h"
#include "agent/ws/outbox_int.h"

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

#define MARKER_PREFIX "[restic-manager] "
#define MARKER_SUFFIX " log lines dropped: outbox full"

/* ------------------------------------------------------------------ index */

int ob_parse_env(const char *text, size_t len, struct parsed *p)
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

void ob_index_push(struct outbox *ob, const struct parsed *p, uint32_t seg, uint64_t off,
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
	struct ob_seg *s = ob_seg_find(ob, seg);
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
	struct ob_seg *s = ob_seg_find(ob, en->seg);
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
		int rc = ob_seg_new_active(ob);
		if (rc)
			return rc;
	}
	struct ob_seg *s = &ob->segs[ob->active];
	unsigned char hdr[HDR] = { 0 };
	ob_put32(hdr, (uint32_t)len);
	ob_put32(hdr + 4, ob_fnv1a(text, len));
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
	ob_index_push(ob, p, s->num, off, (uint32_t)len);
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
			if (!en->acked && en->dropped && en->job_id &&
			    !strcmp(en->job_id, d->job_id)) {
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
		if (!ob_parse_env(env, strlen(env), &mp)) {
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
	if (len > RM_PROTO_MAX_FRAME || ob_parse_env(text, len, &p))
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
	struct ob_seg *s = ob_seg_find(ob, en->seg);
	char *buf = rm_xmalloc(pre + (size_t)en->len + 1);
	if (!s || ob_read_at(s->fd, buf + pre, en->len, en->off + HDR)) {
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
	json_array_foreach (arr, i, v) {
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

	ob_segs_reload(ob, d);
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
