#ifndef RM_COMMON_LOG_H
#define RM_COMMON_LOG_H
/* key=value logger to stderr:  ts=... level=info msg="agent connected" host_id=01H...
 * Values are quoted when they contain spaces, quotes or '='. Redaction:
 *  - values of keys whose name contains password, secret, token, bearer, credential or
 *    key (but not "key_id") are printed as "[redacted]";
 *  - values that look like URLs with userinfo (scheme://user:pass@host) are redacted to
 *    scheme://user:***@host;
 *  - every string registered with rm_log_add_secret() is replaced by "***" anywhere in the
 *    line (message and values). */
#include <stdarg.h>
#include <stddef.h>

enum rm_log_level { RM_LOG_DEBUG = 0, RM_LOG_INFO, RM_LOG_WARN, RM_LOG_ERROR };

void rm_log_set_level(enum rm_log_level lvl);
enum rm_log_level rm_log_get_level(void);
/* "debug"|"info"|"warn"|"error" -> RM_OK, else RM_ERR_INVAL. */
int rm_log_level_parse(const char *s, enum rm_log_level *out);
/* Registers a secret (copied; strings shorter than 4 chars are ignored). */
void rm_log_add_secret(const char *secret);
void rm_log_clear_secrets(void);

/* rm_log(RM_LOG_INFO, "agent connected", "host_id", id, "ip", ip, NULL);
 * pairs of const char* key, const char* value, terminated by NULL; a NULL value prints "". */
void rm_log(enum rm_log_level lvl, const char *msg, ...);
void rm_logv(enum rm_log_level lvl, const char *msg, va_list ap);

#define RM_DEBUG(...) rm_log(RM_LOG_DEBUG, __VA_ARGS__, (const char *)0)
#define RM_INFO(...) rm_log(RM_LOG_INFO, __VA_ARGS__, (const char *)0)
#define RM_WARN(...) rm_log(RM_LOG_WARN, __VA_ARGS__, (const char *)0)
#define RM_ERROR(...) rm_log(RM_LOG_ERROR, __VA_ARGS__, (const char *)0)

/* Returns a malloc'd copy of url with any password in its userinfo replaced by "***"
 * (user kept). Non-URLs are returned unchanged (copied). Also handles restic's
 * "rest:http://user:pass@host/" form. Caller frees. */
char *rm_redact_url(const char *url);
/* Returns a malloc'd copy of s with every registered secret replaced by "***". */
char *rm_redact_secrets(const char *s);

/* A private set of secrets, e.g. the ones of one job, applied the same way as the global
 * registry: longest first, each occurrence replaced by "***". Strings shorter than
 * RM_REDACT_MIN are ignored (replacing "abc" everywhere would mangle ordinary text).
 * Zero-initialise; rm_redactor_cleanup wipes (sodium_memzero) and frees the copies. */
#define RM_REDACT_MIN 4
#define RM_REDACT_SLOTS 8
struct rm_redactor {
	char *s[RM_REDACT_SLOTS];
	size_t n;
};
/* Copies secret in. RM_OK (also when ignored: NULL, too short, duplicate) or
 * RM_ERR_TOOBIG when the set is full. */
int rm_redactor_add(struct rm_redactor *r, const char *secret);
/* malloc'd copy of the first len bytes of s (NUL-free text) with every secret replaced
 * by "***". r may be NULL or empty. Caller frees. */
char *rm_redactor_apply(const struct rm_redactor *r, const char *s, size_t len);
void rm_redactor_cleanup(struct rm_redactor *r);

#endif
