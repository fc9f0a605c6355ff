/* `restic ls --json` lines without a DOM: one pass over the top-level object picks the few
 * fields the index needs (a million lines through jansson cost ~20 s of agent CPU, more than
 * restic's own listing). Strict where it matters: strings are JSON-unescaped (a \u0000 or a
 * lone surrogate makes the line unusable), nested values are skipped, anything malformed is
 * IDX_LINE_OTHER. The input is valid UTF-8 without NUL (restic_lines sanitizes it). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/restic/index.h"
#include "common/err.h"
#include "common/rmtime.h"

struct cur {
	const char *p, *e;
};

static void ws(struct cur *c)
{
	while (c->p < c->e && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r' || *c->p == '\n'))
		c->p++;
}

static int hex4(const char *p, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		char h = p[i];
		unsigned d = h >= '0' && h <= '9'   ? (unsigned)(h - '0')
		             : h >= 'a' && h <= 'f' ? (unsigned)(h - 'a' + 10)
		             : h >= 'A' && h <= 'F' ? (unsigned)(h - 'A' + 10)
		                                    : 16u;
		if (d > 15)
			return -1;
		*v = *v << 4 | d;
	}
	return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A \u escape at c->p (after the backslash and 'u'), with a following low surrogate. */
static int unicode_escape(struct cur *c, unsigned *cp)
{
	unsigned lo;
	if (c->e - c->p < 4 || hex4(c->p, cp))
		return -1;
	c->p += 4;
	if (*cp >= 0xdc00 && *cp <= 0xdfff)
		return -1;
	if (*cp >= 0xd800 && *cp <= 0xdbff) {
		if (c->e - c->p < 6 || c->p[0] != '\\' || c->p[1] != 'u' || hex4(c->p + 2, &lo) ||
		    lo < 0xdc00 || lo > 0xdfff)
			return -1;
		c->p += 6;
		*cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	return *cp == 0 ? -1 : 0;
}

/* A string at c->p ('"'), unescaped into out (capacity >= its raw length + 1); out NULL:
 * only skipped. Runs without escapes are copied whole (the common case). */
static int string(struct cur *c, char *out, size_t *olen)
{
	size_t n = 0;
	if (c->p >= c->e || *c->p != '"')
		return -1;
	c->p++;
	for (;;) {
		const char *q = memchr(c->p, '"', (size_t)(c->e - c->p));
		const char *bs = q ? memchr(c->p, '\\', (size_t)(q - c->p)) : NULL;
		if (!q)
			return -1;
		const char *stop = bs ? bs : q;
		if (out)
			memcpy(out + n, c->p, (size_t)(stop - c->p));
		n += (size_t)(stop - c->p);
		c->p = stop + 1;
		if (!bs)
			break;
		if (c->p >= c->e)
			return -1;
		char ch = *c->p++, tmp[4];
		char *o = out ? out + n : tmp;
		unsigned cp;
		switch (ch) {
		case '"':
		case '\\':
		case '/': *o = ch, n++; break;
		case 'b': *o = '\b', n++; break;
		case 'f': *o = '\f', n++; break;
		case 'n': *o = '\n', n++; break;
		case 'r': *o = '\r', n++; break;
		case 't': *o = '\t', n++; break;
		case 'u':
			if (unicode_escape(c, &cp))
				return -1;
			n += put_utf8(o, cp);
			break;
		default: return -1;
		}
	}
	if (out)
		out[n] = 0;
	*olen = n;
	return 0;
}

/* Skips any value up to the ',' or '}' that ends it (nested ones by depth, strings
 * escape-aware; scalars are not checked); -1 when the line ends first. */
static int skip_value(struct cur *c)
{
	size_t l;
	char open[64]; /* brackets in force; deeper nesting is not a restic line */
	int depth = 0;
	for (;;) {
		if (c->p >= c->e)
			return -1;
		char ch = *c->p;
		if (ch == '"') {
			if (string(c, NULL, &l))
				return -1;
			continue;
		}
		if ((ch == ',' || ch == '}' || ch == ']') && depth == 0)
			return ch == ']' ? -1 : 0;
		if (ch == '{' || ch == '[') {
			if (depth == (int)sizeof open)
				return -1;
			open[depth++] = ch == '{' ? '}' : ']';
		} else if (ch == '}' || ch == ']') {
			if (open[--depth] != ch)
				return -1;
		}
		c->p++;
	}
}

static int number(struct cur *c, long long *v)
{
	int neg = 0;
	unsigned long long x = 0;
	if (c->p < c->e && *c->p == '-')
		neg = 1, c->p++;
	if (c->p >= c->e || *c->p < '0' || *c->p > '9')
		return -1;
	while (c->p < c->e && *c->p >= '0' && *c->p <= '9') {
		if (x > (unsigned long long)INT64_MAX / 10)
			return -1;
		x = x * 10 + (unsigned long long)(*c->p++ - '0');
	}
	if (c->p < c->e && (*c->p == '.' || *c->p == 'e' || *c->p == 'E'))
		return -1; /* not an integer */
	*v = neg ? -(long long)x : (long long)x;
	return 0;
}

struct fields {
	char *name, *path, *type, *st, *mt, *mtime;
	size_t name_len, path_len;
	long long size, mode;
	int has_size, has_mode;
};

/* One "key": value pair; the strings we want land in sc (each slot line-sized). */
static int pair(struct cur *c, struct fields *f, char *slots, size_t slot)
{
	char *key = slots; /* slot 0: the key */
	size_t kl, l;
	if (string(c, key, &kl))
		return -1;
	ws(c);
	if (c->p >= c->e || *c->p != ':')
		return -1;
	c->p++;
	ws(c);
	static const char *const want[] = { "name",        "path",         "type",
		                            "struct_type", "message_type", "mtime" };
	static const size_t want_len[] = { 4, 4, 4, 11, 12, 5 };
	for (int i = 0; i < 6; i++) {
		if (kl != want_len[i] || memcmp(key, want[i], kl))
			continue;
		if (c->p >= c->e || *c->p != '"')
			return skip_value(c);
		char *dst = slots + (size_t)(i + 1) * slot;
		if (string(c, dst, &l))
			return -1;
		char **ptr[] = { &f->name, &f->path, &f->type, &f->st, &f->mt, &f->mtime };
		*ptr[i] = dst;
		if (i == 0)
			f->name_len = l;
		if (i == 1)
			f->path_len = l;
		return 0;
	}
	if (kl == 4 && (!memcmp(key, "size", 4) || !memcmp(key, "mode", 4))) {
		long long v;
		if (c->p < c->e && (*c->p == '-' || (*c->p >= '0' && *c->p <= '9'))) {
			if (number(c, &v))
				return skip_value(c);
			if (key[0] == 's')
				f->size = v, f->has_size = 1;
			else
				f->mode = v, f->has_mode = 1;
			return 0;
		}
	}
	return skip_value(c);
}

static int object(struct cur *c, struct fields *f, char *slots, size_t slot)
{
	ws(c);
	if (c->p >= c->e || *c->p != '{')
		return -1;
	c->p++;
	ws(c);
	if (c->p < c->e && *c->p == '}')
		return 0;
	for (;;) {
		ws(c);
		if (pair(c, f, slots, slot))
			return -1;
		ws(c);
		if (c->p >= c->e)
			return -1;
		if (*c->p == '}')
			break;
		if (*c->p != ',')
			return -1;
		c->p++;
	}
	c->p++;
	ws(c);
	return c->p == c->e ? 0 : -1;
}

void idx_scratch_free(struct idx_scratch *s)
{
	free(s->buf);
	s->buf = NULL;
	s->cap = 0;
}

static const char *const type_names[] = { "file",    "dir",  "symlink", "dev",
	                                  "chardev", "fifo", "socket",  "other" };

enum idx_line idx_parse_ls_line(const char *line, size_t len, struct idx_scratch *sc,
                                struct idx_node *out)
{
	struct fields f;
	struct cur c = { line, line + len };
	size_t slot = len + 8;
	memset(out, 0, sizeof *out);
	memset(&f, 0, sizeof f);
	if (len < 2 || line[0] != '{' || len > (1u << 24))
		return IDX_LINE_OTHER;
	if (sc->cap < 8 * slot) {
		free(sc->buf);
		sc->cap = 8 * slot;
		sc->buf = rm_xmalloc(sc->cap);
	}
	if (object(&c, &f, sc->buf, slot))
		return IDX_LINE_OTHER;
	const char *st = f.st ? f.st : f.mt;
	if (!st || strcmp(st, "node"))
		return st && !strcmp(st, "snapshot") ? IDX_LINE_SNAPSHOT : IDX_LINE_OTHER;
	if (!f.name || !f.path || !f.name_len || f.name_len > 4096 ||
	    memchr(f.name, '/', f.name_len) || memchr(f.name, 0, f.name_len) ||
	    memchr(f.path, 0, f.path_len) || f.path_len < f.name_len + 1 || f.path[0] != '/' ||
	    memcmp(f.path + f.path_len - f.name_len, f.name, f.name_len) ||
	    f.path[f.path_len - f.name_len - 1] != '/')
		return IDX_LINE_OTHER;
	out->name = f.name;
	out->name_len = f.name_len;
	out->path = f.path;
	out->path_len = f.path_len;
	out->type = IDX_T_OTHER;
	for (unsigned i = 0; f.type && i < IDX_T_OTHER; i++)
		if (!strcmp(f.type, type_names[i]))
			out->type = i;
	out->size = f.has_size && f.size > 0 ? (uint64_t)f.size : 0;
	out->mode = f.has_mode ? (uint32_t)(f.mode & 07777) : 0;
	int64_t ms = 0;
	out->mtime_ms = f.mtime && !rm_time_parse(f.mtime, &ms) ? ms : 0;
	return IDX_LINE_NODE;
}
