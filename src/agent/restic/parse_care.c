/* Parsers for the repository-care commands (see parse_care.h). */
#include "agent/restic/parse_care.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agent/restic/parse.h"
#include "common/err.h"

#define LOCK_DOC_MAX 65536

static json_t *load(const char *buf, size_t len, size_t max)
{
	if (!buf || len > max || memchr(buf, '\0', len))
		return NULL;
	return json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
}

static int blank(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isspace((unsigned char)buf[i]))
			return 0;
	return 1;
}

int restic_parse_forget_counts(const char *buf, size_t len, json_t **out)
{
	if (!buf || blank(buf, len)) {
		if (!buf && len)
			return RM_ERR_PROTO;
		*out = json_pack("{s:i,s:i,s:[]}", "kept", 0, "removed", 0, "removed_ids");
		return RM_OK;
	}
	/* restic may print text lines before the document (warnings): start at the '[' */
	const char *p = memchr(buf, '[', len);
	if (!p)
		return RM_ERR_PROTO;
	json_t *doc = load(p, len - (size_t)(p - buf), RESTIC_JSON_DOC_MAX);
	if (!json_is_array(doc)) {
		json_decref(doc);
		return RM_ERR_PROTO;
	}
	long long kept = 0, removed = 0;
	json_t *ids = json_array();
	size_t i, k;
	json_t *g, *s;
	json_array_foreach (doc, i, g) {
		const json_t *keep = json_object_get(g, "keep");
		const json_t *rem = json_object_get(g, "remove");
		if (!json_is_object(g) || (keep && !json_is_array(keep) && !json_is_null(keep)) ||
		    (rem && !json_is_array(rem) && !json_is_null(rem)))
			goto bad;
		kept += (long long)json_array_size(keep);
		removed += (long long)json_array_size(rem);
		json_array_foreach (rem, k, s) {
			const char *id = json_string_value(json_object_get(s, "id"));
			if (id && json_array_size(ids) < 10000)
				json_array_append_new(ids, json_string(id));
		}
	}
	json_decref(doc);
	*out = json_pack("{s:I,s:I,s:o}", "kept", (json_int_t)kept, "removed", (json_int_t)removed,
	                 "removed_ids", ids);
	return RM_OK;
bad:
	json_decref(ids);
	json_decref(doc);
	return RM_ERR_PROTO;
}

int restic_parse_size(const char *s, size_t len, long long *out)
{
	static const struct {
		const char *u;
		double mul;
	} units[] = {
		{ "B", 1 },
		{ "KiB", 1024.0 },
		{ "MiB", 1024.0 * 1024 },
		{ "GiB", 1024.0 * 1024 * 1024 },
		{ "TiB", 1024.0 * 1024 * 1024 * 1024 },
		{ "PiB", 1024.0 * 1024 * 1024 * 1024 * 1024 },
		{ "kB", 1e3 },
		{ "KB", 1e3 },
		{ "MB", 1e6 },
		{ "GB", 1e9 },
		{ "TB", 1e12 },
	};
	char tmp[64];
	while (len && isspace((unsigned char)*s))
		s++, len--;
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	if (len == 0 || len >= sizeof tmp || !isdigit((unsigned char)s[0]))
		return RM_ERR_PROTO;
	memcpy(tmp, s, len);
	tmp[len] = 0;
	char *end = NULL;
	double v = strtod(tmp, &end);
	while (*end == ' ')
		end++;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcmp(end, units[i].u) != 0)
			continue;
		double b = v * units[i].mul;
		if (!isfinite(b) || b < 0 || b > 9.0e18)
			return RM_ERR_PROTO;
		*out = llround(b);
		return RM_OK;
	}
	return RM_ERR_PROTO;
}

/* "label:   N blobs / SIZE" (or "N blobs / SIZE" after the label): blob count and size. */
static int blobs_and_size(const char *v, size_t n, long long *blobs, long long *size)
{
	char *end = NULL;
	char tmp[128];
	if (n >= sizeof tmp)
		return RM_ERR_PROTO;
	memcpy(tmp, v, n);
	tmp[n] = 0;
	const char *slash = strchr(tmp, '/');
	if (!slash)
		return restic_parse_size(tmp, n, size) == RM_OK ? (*blobs = -1, RM_OK)
		                                                : RM_ERR_PROTO;
	*blobs = strtoll(tmp, &end, 10);
	if (end == tmp)
		*blobs = -1;
	return restic_parse_size(slash + 1, strlen(slash + 1), size);
}

/* The value after "label:" on one line of prune's report, or NULL. */
static const char *after_label(const char *line, size_t len, const char *label, size_t *vlen)
{
	size_t ll = strlen(label);
	while (len && (*line == ' ' || *line == '\t'))
		line++, len--;
	if (len <= ll || strncmp(line, label, ll) != 0)
		return NULL;
	*vlen = len - ll;
	return line + ll;
}

static void prune_line(const char *line, size_t len, json_t *o, int *found)
{
	const char *v;
	size_t n = 0;
	long long blobs = -1, size = -1;
	if ((v = after_label(line, len, "total prune:", &n)) &&
	    blobs_and_size(v, n, &blobs, &size) == RM_OK) {
		json_object_set_new(o, "freed_bytes", json_integer(size));
		if (blobs >= 0)
			json_object_set_new(o, "blobs_removed", json_integer(blobs));
		*found = 1;
	} else if ((v = after_label(line, len, "remaining:", &n)) &&
	           blobs_and_size(v, n, &blobs, &size) == RM_OK) {
		json_object_set_new(o, "remaining_bytes", json_integer(size));
	} else if ((v = after_label(line, len, "unused size after prune:", &n))) {
		const char *paren = memchr(v, '(', n);
		if (restic_parse_size(v, paren ? (size_t)(paren - v) : n, &size) == RM_OK)
			json_object_set_new(o, "unused_bytes_after", json_integer(size));
	} else if ((v = after_label(line, len, "deleting unreferenced packs", &n)) ||
	           (v = after_label(line, len, "removing", &n))) {
		/* "removing 3 old packs" (0.12+) */
		char tmp[64];
		size_t k = n < sizeof tmp - 1 ? n : sizeof tmp - 1;
		memcpy(tmp, v, k);
		tmp[k] = 0;
		long long packs = strtoll(tmp, NULL, 10);
		if (packs > 0 && strstr(tmp, "packs"))
			json_object_set_new(o, "packs_removed", json_integer(packs));
	}
}

int restic_parse_prune(const char *buf, size_t len, json_t **out)
{
	if (!buf || memchr(buf, '\0', len))
		return RM_ERR_PROTO;
	json_t *o = json_object();
	int found = 0;
	const char *p = buf, *e = buf + len;
	while (p < e) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(e - p);
		if (n && p[n - 1] == '\r')
			n--;
		if (n < 256)
			prune_line(p, n, o, &found);
		p += n + 1;
		if (nl)
			p = nl + 1;
	}
	if (!found) {
		json_decref(o);
		return RM_ERR_PROTO;
	}
	*out = o;
	return RM_OK;
}

static int has(const char *line, size_t len, const char *needle)
{
	return memmem(line, len, needle, strlen(needle)) != NULL;
}

int restic_check_error_line(const char *line, size_t len)
{
	if (!line || len == 0)
		return 0;
	if (line[0] == '{') {
		json_t *o = NULL;
		int t = restic_parse_line(line, len, &o);
		json_decref(o);
		return t == RESTIC_LINE_ERROR;
	}
	if (strncmp(line, "Fatal:", 6) == 0 || strncmp(line, "no errors were found", 20) == 0)
		return 0;
	return (len >= 6 && strncmp(line, "error", 5) == 0) || has(line, len, "does not match") ||
	       has(line, len, "contains errors") || (len > 5 && strncmp(line, "pack ", 5) == 0) ||
	       has(line, len, "Load(<data/") || has(line, len, "ciphertext verification failed");
}

int restic_output_is_locked(const char *line, size_t len)
{
	return line && (has(line, len, "unable to create lock") ||
	                has(line, len, "repository is already locked"));
}

static int hex64(const char *s, size_t n)
{
	if (n != 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return 0;
	return 1;
}

int restic_parse_lock_ids(const char *buf, size_t len, size_t max, json_t **out)
{
	if (!buf && len)
		return RM_ERR_PROTO;
	json_t *a = json_array();
	const char *p = buf, *e = buf ? buf + len : NULL;
	while (p && p < e) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(e - p);
		while (n && isspace((unsigned char)p[n - 1]))
			n--;
		if (hex64(p, n) && json_array_size(a) < max)
			json_array_append_new(a, json_stringn(p, n));
		p = nl ? nl + 1 : e;
	}
	*out = a;
	return RM_OK;
}

int restic_parse_lock(const char *id, const char *buf, size_t len, json_t **out)
{
	json_t *doc = load(buf, len, LOCK_DOC_MAX);
	const char *host = json_string_value(json_object_get(doc, "hostname"));
	const char *time = json_string_value(json_object_get(doc, "time"));
	const json_t *pid = json_object_get(doc, "pid");
	if (!json_is_object(doc) || !host || !time || !json_is_integer(pid) ||
	    json_integer_value(pid) < 0) {
		json_decref(doc);
		return RM_ERR_PROTO;
	}
	json_t *o = json_pack("{s:s,s:s,s:I,s:s,s:b}", "id", id ? id : "", "hostname", host, "pid",
	                      json_integer_value(pid), "time", time, "exclusive",
	                      json_is_true(json_object_get(doc, "exclusive")));
	const char *user = json_string_value(json_object_get(doc, "username"));
	if (user)
		json_object_set_new(o, "username", json_string(user));
	json_decref(doc);
	*out = o;
	return RM_OK;
}
