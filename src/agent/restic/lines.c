/* Line splitter for restic's stdout/stderr (see lines.h). */
#include "agent/restic/lines.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"

#define MARK_LEN (sizeof(RESTIC_LINE_TRUNC_MARK) - 1)
#define CONTENT_MAX (RESTIC_LINE_MAX - MARK_LEN)

void restic_lines_init(struct restic_lines *l, restic_line_fn cb, void *ud)
{
	memset(l, 0, sizeof(*l));
	l->cb = cb;
	l->ud = ud;
}

void restic_lines_cleanup(struct restic_lines *l)
{
	free(l->buf);
	l->buf = NULL;
	l->len = 0;
	l->discarding = 0;
}

static size_t utf8_seq_len(const unsigned char *p, size_t avail)
{
	unsigned char c = p[0];
	size_t n;
	unsigned int cp;
	if (c < 0x80)
		return c ? 1 : 0;
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		cp = c & 0x07;
	} else
		return 0;
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if (n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)))
		return 0;
	if (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))
		return 0;
	return n;
}

size_t restic_utf8_sanitize(char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		size_t n = utf8_seq_len((const unsigned char *)s + i, len - i);
		if (n == 0) {
			s[i] = '?';
			n = 1;
		}
		i += n;
	}
	return len;
}

static void deliver(struct restic_lines *l, int truncated)
{
	size_t len = l->len;
	if (len > 0 && l->buf[len - 1] == '\r' && !truncated)
		len--;
	restic_utf8_sanitize(l->buf, len);
	if (truncated) {
		memcpy(l->buf + len, RESTIC_LINE_TRUNC_MARK, MARK_LEN);
		len += MARK_LEN;
	}
	l->buf[len] = '\0';
	l->cb(l->ud, l->buf, len);
	l->len = 0;
}

void restic_lines_feed(struct restic_lines *l, const char *data, size_t n)
{
	if (!l->buf && n)
		l->buf = rm_xmalloc(RESTIC_LINE_MAX + 1);
	while (n > 0) {
		const char *nl = memchr(data, '\n', n);
		size_t chunk = nl ? (size_t)(nl - data) : n;
		if (l->discarding) {
			if (nl)
				l->discarding = 0;
		} else {
			size_t room = CONTENT_MAX - l->len;
			if (chunk > room) {
				memcpy(l->buf + l->len, data, room);
				l->len += room;
				deliver(l, 1);
				l->discarding = nl ? 0 : 1;
			} else {
				memcpy(l->buf + l->len, data, chunk);
				l->len += chunk;
				if (nl)
					deliver(l, 0);
			}
		}
		if (!nl)
			break;
		chunk++; /* the newline */
		data += chunk;
		n -= chunk;
	}
}

void restic_lines_flush(struct restic_lines *l)
{
	if (!l->discarding && l->len > 0)
		deliver(l, 0);
	l->discarding = 0;
	l->len = 0;
}
