#ifndef RM_COMMON_JSON_H
#define RM_COMMON_JSON_H
/* Helpers over jansson for validated, bounded access. All getters leave *out untouched on
 * error. "required" = 1 makes a missing key RM_ERR_INVAL; with 0 a missing (or null) key
 * returns RM_OK and leaves *out untouched. A present key of the wrong type is always
 * RM_ERR_INVAL. Errors write a human message into err (may be NULL) like
 * "field 'paths' must be an array of strings". */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Parses exactly one JSON value of at most maxlen bytes (RM_ERR_TOOBIG); rejects
 * trailing data, NUL bytes, duplicate keys, and nesting deeper than 32 (RM_ERR_INVAL).
 * *out is a new reference. */
int rmj_parse(const char *buf, size_t len, size_t maxlen, json_t **out, char *err, size_t errlen);
/* Same, but the value must be an object. */
int rmj_parse_object(const char *buf, size_t len, size_t maxlen, json_t **out, char *err,
                     size_t errlen);

/* *out is borrowed from obj. maxlen: max byte length (0 = no limit). Rejects strings
 * containing NUL. */
int rmj_get_str(const json_t *obj, const char *key, int required, size_t maxlen, const char **out,
                char *err, size_t errlen);
int rmj_get_int(const json_t *obj, const char *key, int required, long long min, long long max,
                long long *out, char *err, size_t errlen);
int rmj_get_bool(const json_t *obj, const char *key, int required, int *out, char *err,
                 size_t errlen);
int rmj_get_real(const json_t *obj, const char *key, int required, double *out, char *err,
                 size_t errlen); /* accepts integers too */
/* Array of strings: at most max_items, each non-empty and at most maxlen bytes.
 * *out borrowed. */
int rmj_get_str_array(const json_t *obj, const char *key, int required, size_t max_items,
                      size_t maxlen, const json_t **out, char *err, size_t errlen);

/* Borrowed string or NULL when missing / not a string. */
const char *rmj_str(const json_t *obj, const char *key);
/* Integer (also from a real, truncated) or def when missing / wrong type. */
long long rmj_int(const json_t *obj, const char *key, long long def);

/* Compact serialisation (JSON_COMPACT), caller frees; never NULL (aborts on OOM). */
char *rmj_dumps(const json_t *v);
/* json_string() that maps NULL to json_null(). */
json_t *rmj_str_or_null(const char *s);
/* Zeroes (sodium_memzero) every string value inside v, recursively, in place; for
 * documents that held secrets, before their last json_decref. NULL ok. */
void rmj_wipe(json_t *v);
/* Sets obj[key] to the RFC 3339 time ms unless obj[key] already holds a time at least as
 * new (the newer of a stored and a live value wins); ms 0 = nothing known, no change. */
void rmj_set_time_if_newer(json_t *obj, const char *key, int64_t ms);
/* snprintf into err[errlen]; a no-op when err is NULL or errlen is 0. */
void rmj_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
