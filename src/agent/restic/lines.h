#ifndef RM_AGENT_RESTIC_LINES_H
#define RM_AGENT_RESTIC_LINES_H
/* Splits a child's output stream into lines. Pure code, no I/O.
 *  - '\n' ends a line; a trailing '\r' is dropped;
 *  - a line longer than RESTIC_LINE_MAX bytes is cut and ends with RESTIC_LINE_TRUNC_MARK;
 *    the rest of it (up to the next '\n') is discarded;
 *  - every delivered line is valid UTF-8 without NUL bytes (bad bytes become '?'), so it
 *    can go into a JSON string as is. */
#include <stddef.h>

#define RESTIC_LINE_MAX 65536 /* bytes, marker included */
#define RESTIC_LINE_TRUNC_MARK " [truncated]"

/* line is NUL-terminated and borrowed for the duration of the call. */
typedef void (*restic_line_fn)(void *ud, const char *line, size_t len);

struct restic_lines {
	char *buf; /* RESTIC_LINE_MAX + 1 bytes, allocated on first use */
	size_t len;
	int discarding; /* inside an over-long line that was already delivered */
	restic_line_fn cb;
	void *ud;
};

void restic_lines_init(struct restic_lines *l, restic_line_fn cb, void *ud);
void restic_lines_cleanup(struct restic_lines *l);
/* Feeds bytes; calls cb once per completed line. */
void restic_lines_feed(struct restic_lines *l, const char *data, size_t n);
/* End of stream: delivers a pending partial line (if any). */
void restic_lines_flush(struct restic_lines *l);

/* In-place: replaces invalid UTF-8 sequences and NUL bytes with '?'. Returns len. */
size_t restic_utf8_sanitize(char *s, size_t len);

#endif
