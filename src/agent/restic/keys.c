/* `key list` parsing (see keys.h). */
#include "agent/restic/keys.h"

#include <jansson.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"

int restic_key_id_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return n >= 8 && n <= RESTIC_KEY_ID_MAX && strspn(s, "0123456789abcdef") == n;
}

/* Hex digits from p up to end (the buffer need not be NUL-terminated). */
static size_t hex_span(const char *p, const char *end)
{
	const char *q = p;
	while (q < end && ((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f')))
		q++;
	return (size_t)(q - p);
}

/* The text table: " ID        User  Host  Created" then rows, the current one "*id ...". */
static int parse_text(const char *buf, size_t len, char out[RESTIC_KEY_ID_MAX + 1])
{
	const char *p = buf, *end = buf + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		if (*p == '*') {
			size_t n = hex_span(p + 1, le);
			if (n >= 8 && n <= RESTIC_KEY_ID_MAX && p + 1 + n <= le &&
			    (p + 1 + n == le || p[1 + n] == ' ' || p[1 + n] == '\t')) {
				memcpy(out, p + 1, n);
				out[n] = '\0';
				return RM_OK;
			}
		}
		p = le + 1;
	}
	return RM_ERR_PROTO;
}

int restic_parse_key_current(const char *buf, size_t len, char out[RESTIC_KEY_ID_MAX + 1])
{
	if (!buf)
		return RM_ERR_PROTO;
	size_t skip = 0;
	while (skip < len && buf[skip] && strchr(" \t\r\n", buf[skip]))
		skip++;
	if (skip >= len || buf[skip] != '[')
		return parse_text(buf, len, out);
	json_error_t e;
	json_t *arr = json_loadb(buf, len, JSON_DISABLE_EOF_CHECK, &e);
	int rc = RM_ERR_PROTO;
	size_t i;
	json_t *k;
	json_array_foreach (arr, i, k) {
		const char *id = rmj_str(k, "id");
		if (json_is_true(json_object_get(k, "current")) && restic_key_id_ok(id)) {
			rm_strlcpy(out, id, RESTIC_KEY_ID_MAX + 1);
			rc = RM_OK;
			break;
		}
	}
	json_decref(arr);
	return rc;
}
