/* Bounded, validated access to JSON over jansson. */
#include "common/json.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/rmtime.h"

#define RMJ_MAX_DEPTH 32

void rmj_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Cheap pre-scan: nesting depth of [ and { outside strings. Done before jansson sees the
 * text so its recursive parser never goes deep. */
static int depth_ok(const char *buf, size_t len)
{
	int depth = 0, in_str = 0, esc = 0;
	for (size_t i = 0; i < len; i++) {
		char c = buf[i];
		if (in_str) {
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if (c == '"')
				in_str = 0;
			continue;
		}
		if (c == '"') {
			in_str = 1;
		} else if (c == '[' || c == '{') {
			if (++depth > RMJ_MAX_DEPTH)
				return 0;
		} else if (c == ']' || c == '}') {
			depth--;
		}
	}
	return 1;
}

int rmj_parse(const char *buf, size_t len, size_t maxlen, json_t **out, char *err, size_t errlen)
{
	if (!buf) {
		rmj_seterr(err, errlen, "no input");
		return RM_ERR_INVAL;
	}
	if (maxlen && len > maxlen) {
		rmj_seterr(err, errlen, "input too large (%zu > %zu bytes)", len, maxlen);
		return RM_ERR_TOOBIG;
	}
	if (memchr(buf, 0, len)) {
		rmj_seterr(err, errlen, "input contains a NUL byte");
		return RM_ERR_INVAL;
	}
	if (!depth_ok(buf, len)) {
		rmj_seterr(err, errlen, "nesting deeper than %d", RMJ_MAX_DEPTH);
		return RM_ERR_INVAL;
	}
	json_error_t je;
	json_t *v = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	if (!v) {
		rmj_seterr(err, errlen, "invalid JSON at line %d column %d: %s", je.line, je.column,
		           je.text);
		return RM_ERR_INVAL;
	}
	*out = v;
	return RM_OK;
}

int rmj_parse_object(const char *buf, size_t len, size_t maxlen, json_t **out, char *err,
                     size_t errlen)
{
	json_t *v = NULL;
	int rc = rmj_parse(buf, len, maxlen, &v, err, errlen);
	if (rc)
		return rc;
	if (!json_is_object(v)) {
		json_decref(v);
		rmj_seterr(err, errlen, "JSON value must be an object");
		return RM_ERR_INVAL;
	}
	*out = v;
	return RM_OK;
}

/* Looks key up; returns 1 with *v set when present and not null, 0 when absent/null
 * (rc set: RM_OK or RM_ERR_INVAL when required). */
static int lookup(const json_t *obj, const char *key, int required, json_t **v, int *rc, char *err,
                  size_t errlen)
{
	json_t *x = json_is_object(obj) ? json_object_get(obj, key) : NULL;
	if (!x || json_is_null(x)) {
		if (required) {
			rmj_seterr(err, errlen, "field '%s' is required", key);
			*rc = RM_ERR_INVAL;
		} else {
			*rc = RM_OK;
		}
		return 0;
	}
	*v = x;
	return 1;
}

int rmj_get_str(const json_t *obj, const char *key, int required, size_t maxlen, const char **out,
                char *err, size_t errlen)
{
	json_t *v;
	int rc;
	if (!lookup(obj, key, required, &v, &rc, err, errlen))
		return rc;
	if (!json_is_string(v)) {
		rmj_seterr(err, errlen, "field '%s' must be a string", key);
		return RM_ERR_INVAL;
	}
	const char *s = json_string_value(v);
	size_t l = json_string_length(v);
	if (strlen(s) != l) {
		rmj_seterr(err, errlen, "field '%s' must not contain NUL", key);
		return RM_ERR_INVAL;
	}
	if (maxlen && l > maxlen) {
		rmj_seterr(err, errlen, "field '%s' is longer than %zu bytes", key, maxlen);
		return RM_ERR_INVAL;
	}
	*out = s;
	return RM_OK;
}

int rmj_get_int(const json_t *obj, const char *key, int required, long long min, long long max,
                long long *out, char *err, size_t errlen)
{
	json_t *v;
	int rc;
	if (!lookup(obj, key, required, &v, &rc, err, errlen))
		return rc;
	if (!json_is_integer(v)) {
		rmj_seterr(err, errlen, "field '%s' must be an integer", key);
		return RM_ERR_INVAL;
	}
	long long x = (long long)json_integer_value(v);
	if (x < min || x > max) {
		rmj_seterr(err, errlen, "field '%s' must be between %lld and %lld", key, min, max);
		return RM_ERR_INVAL;
	}
	*out = x;
	return RM_OK;
}

int rmj_get_bool(const json_t *obj, const char *key, int required, int *out, char *err,
                 size_t errlen)
{
	json_t *v;
	int rc;
	if (!lookup(obj, key, required, &v, &rc, err, errlen))
		return rc;
	if (!json_is_boolean(v)) {
		rmj_seterr(err, errlen, "field '%s' must be a boolean", key);
		return RM_ERR_INVAL;
	}
	*out = json_is_true(v);
	return RM_OK;
}

int rmj_get_real(const json_t *obj, const char *key, int required, double *out, char *err,
                 size_t errlen)
{
	json_t *v;
	int rc;
	if (!lookup(obj, key, required, &v, &rc, err, errlen))
		return rc;
	if (!json_is_number(v)) {
		rmj_seterr(err, errlen, "field '%s' must be a number", key);
		return RM_ERR_INVAL;
	}
	*out = json_number_value(v);
	return RM_OK;
}

int rmj_get_str_array(const json_t *obj, const char *key, int required, size_t max_items,
                      size_t maxlen, const json_t **out, char *err, size_t errlen)
{
	json_t *v;
	int rc;
	if (!lookup(obj, key, required, &v, &rc, err, errlen))
		return rc;
	if (!json_is_array(v)) {
		rmj_seterr(err, errlen, "field '%s' must be an array of strings", key);
		return RM_ERR_INVAL;
	}
	if (max_items && json_array_size(v) > max_items) {
		rmj_seterr(err, errlen, "field '%s' has more than %zu items", key, max_items);
		return RM_ERR_INVAL;
	}
	size_t i;
	json_t *it;
	json_array_foreach (v, i, it) {
		if (!json_is_string(it) || json_string_length(it) == 0 ||
		    strlen(json_string_value(it)) != json_string_length(it)) {
			rmj_seterr(err, errlen, "field '%s' must be an array of non-empty strings",
			           key);
			return RM_ERR_INVAL;
		}
		if (maxlen && json_string_length(it) > maxlen) {
			rmj_seterr(err, errlen, "field '%s' has an item longer than %zu bytes", key,
			           maxlen);
			return RM_ERR_INVAL;
		}
	}
	*out = v;
	return RM_OK;
}

const char *rmj_str(const json_t *obj, const char *key)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
	return json_is_string(v) ? json_string_value(v) : NULL;
}

long long rmj_int(const json_t *obj, const char *key, long long def)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
	if (json_is_integer(v))
		return (long long)json_integer_value(v);
	if (json_is_real(v)) {
		double d = json_real_value(v);
		if (d != d || d >= 9.2e18 || d <= -9.2e18)
			return def;
		return (long long)d;
	}
	return def;
}

char *rmj_dumps(const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!s) {
		/* json_dumps fails only on OOM or a non-serialisable value */
		s = rm_xstrdup("null");
	}
	return s;
}

json_t *rmj_str_or_null(const char *s)
{
	if (!s)
		return json_null();
	json_t *v = json_string(s);
	return v ? v : json_null(); /* invalid UTF-8 -> null */
}

void rmj_wipe(json_t *v)
{
	const char *k;
	json_t *x;
	size_t i;
	if (json_is_string(v)) {
		/* the value is jansson's own malloc'd copy; zeroing it keeps it a valid (empty
		 * prefix) string of the same length */
		sodium_memzero((char *)(uintptr_t)json_string_value(v), json_string_length(v));
	} else if (json_is_object(v)) {
		json_object_foreach (v, k, x)
			rmj_wipe(x);
	} else if (json_is_array(v)) {
		json_array_foreach (v, i, x)
			rmj_wipe(x);
	}
}

void rmj_set_time_if_newer(json_t *obj, const char *key, int64_t ms)
{
	if (!ms)
		return;
	const char *stored = rmj_str(obj, key);
	int64_t have;
	if (stored && rm_time_parse(stored, &have) == RM_OK && have >= ms)
		return;
	char buf[RM_TIME_STRLEN];
	rm_time_fmt(ms, buf);
	json_object_set_new(obj, key, json_string(buf));
}
