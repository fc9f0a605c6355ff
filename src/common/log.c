/* key=value logger with redaction (see log.h). One write(2) per line so lines from
 * several threads never interleave. */
#include "common/log.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/crypto.h"
#include "common/err.h"
#include "common/rmtime.h"

#define LOG_MAX_SECRETS 256

static _Atomic int log_level = RM_LOG_INFO;
static pthread_mutex_t secrets_mu = PTHREAD_MUTEX_INITIALIZER;
static char *secrets[LOG_MAX_SECRETS];
static size_t n_secrets;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void rm_log_set_level(enum rm_log_level lvl)
{
	if (lvl >= RM_LOG_DEBUG && lvl <= RM_LOG_ERROR)
		atomic_store(&log_level, (int)lvl);
}

enum rm_log_level rm_log_get_level(void)
{
	return (enum rm_log_level)atomic_load(&log_level);
}

int rm_log_level_parse(const char *s, enum rm_log_level *out)
{
	if (!s)
		return RM_ERR_INVAL;
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum rm_log_level)i;
			return RM_OK;
		}
	}
	return RM_ERR_INVAL;
}

/* Inserts a copy of secret into list (n entries, room for max) keeping it sorted longest
 * first, so that a secret containing another one is replaced whole. When full: with evict
 * the shortest entry makes room, else RM_ERR_TOOBIG. */
static int list_add(char **list, size_t *n, size_t max, const char *secret, int evict)
{
	size_t sl = secret ? strlen(secret) : 0;
	if (sl < RM_REDACT_MIN)
		return RM_OK;
	for (size_t i = 0; i < *n; i++)
		if (strcmp(list[i], secret) == 0)
			return RM_OK;
	if (*n == max) {
		if (!evict)
			return RM_ERR_TOOBIG;
		/* a bounded list beats unbounded growth */
		sodium_memzero(list[*n - 1], strlen(list[*n - 1]));
		free(list[--*n]);
	}
	size_t at = 0;
	while (at < *n && strlen(list[at]) >= sl)
		at++;
	memmove(list + at + 1, list + at, (*n - at) * sizeof(list[0]));
	list[at] = rm_xstrdup(secret);
	++*n;
	return RM_OK;
}

static void list_clear(char **list, size_t *n)
{
	for (size_t i = 0; i < *n; i++) {
		sodium_memzero(list[i], strlen(list[i]));
		free(list[i]);
		list[i] = NULL;
	}
	*n = 0;
}

/* Copy of s[0..len) with every entry of list replaced by "***". */
static char *list_apply(char *const *list, size_t n, const char *s, size_t len)
{
	char *cur = rm_xstrndup(s, len);
	for (size_t i = 0; i < n; i++) {
		const char *sec = list[i];
		size_t sl = strlen(sec);
		if (!strstr(cur, sec))
			continue;
		struct rm_buf b;
		rm_buf_init(&b, 0);
		const char *p = cur, *hit;
		while ((hit = strstr(p, sec))) {
			rm_buf_append(&b, p, (size_t)(hit - p));
			rm_buf_append_str(&b, "***");
			p = hit + sl;
		}
		rm_buf_append_str(&b, p);
		free(cur);
		cur = rm_buf_take(&b);
	}
	return cur;
}

void rm_log_add_secret(const char *secret)
{
	pthread_mutex_lock(&secrets_mu);
	(void)list_add(secrets, &n_secrets, LOG_MAX_SECRETS, secret, 1);
	pthread_mutex_unlock(&secrets_mu);
}

void rm_log_clear_secrets(void)
{
	pthread_mutex_lock(&secrets_mu);
	list_clear(secrets, &n_secrets);
	pthread_mutex_unlock(&secrets_mu);
}

char *rm_redact_secrets(const char *s)
{
	if (!s)
		return rm_xstrdup("");
	pthread_mutex_lock(&secrets_mu);
	char *cur = list_apply(secrets, n_secrets, s, strlen(s));
	pthread_mutex_unlock(&secrets_mu);
	return cur;
}

int rm_redactor_add(struct rm_redactor *r, const char *secret)
{
	return list_add(r->s, &r->n, RM_REDACT_SLOTS, secret, 0);
}

char *rm_redactor_apply(const struct rm_redactor *r, const char *s, size_t len)
{
	return list_apply(r ? r->s : NULL, r ? r->n : 0, s, len);
}

void rm_redactor_cleanup(struct rm_redactor *r)
{
	if (r)
		list_clear(r->s, &r->n);
}

static int is_url_end(char c)
{
	return c == 0 || c == '/' || c == '?' || c == '#' || c == ' ' || c == '\t' || c == '\n' ||
	       c == '\r' || c == '"' || c == '\'' || c == '<' || c == '>';
}

/* Redacts the password of every scheme://user:pass@host occurrence in s (URLs may be
 * embedded in longer text such as restic's error messages; "rest:http://..." is covered
 * because we key on "://"). */
char *rm_redact_url(const char *url)
{
	if (!url)
		return rm_xstrdup("");
	struct rm_buf b;
	rm_buf_init(&b, 0);
	const char *p = url, *sep;
	while ((sep = strstr(p, "://"))) {
		const char *auth = sep + 3;
		const char *end = auth;
		while (!is_url_end(*end))
			end++;
		/* the last '@' of the authority ends the userinfo (passwords may hold '@') */
		const char *at = NULL;
		for (const char *q = auth; q < end; q++)
			if (*q == '@')
				at = q;
		const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
		if (colon) {
			rm_buf_append(&b, p, (size_t)(colon + 1 - p));
			rm_buf_append_str(&b, "***");
			rm_buf_append(&b, at, (size_t)(end - at));
		} else {
			rm_buf_append(&b, p, (size_t)(end - p));
		}
		p = end;
	}
	rm_buf_append_str(&b, p);
	return rm_buf_take(&b);
}

static int key_is_sensitive(const char *k)
{
	static const char *const words[] = { "password", "passwd",     "secret", "token",
		                             "bearer",   "credential", "key",    NULL };
	if (strcmp(k, "key_id") == 0 || strcmp(k, "keyid") == 0)
		return 0;
	char low[64];
	size_t i;
	for (i = 0; k[i] && i < sizeof(low) - 1; i++)
		low[i] = (char)((k[i] >= 'A' && k[i] <= 'Z') ? k[i] + 32 : k[i]);
	low[i] = 0;
	for (int w = 0; words[w]; w++)
		if (strstr(low, words[w]))
			return 1;
	return 0;
}

static int needs_quote(const char *v)
{
	if (!*v)
		return 1;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
			return 1;
	return 0;
}

/* Appends v, quoted and escaped when needed; control characters are escaped so a
 * value can never forge a second log line. */
static void append_value(struct rm_buf *b, const char *v)
{
	if (!needs_quote(v)) {
		rm_buf_append_str(b, v);
		return;
	}
	rm_buf_append(b, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		switch (*p) {
		case '"': rm_buf_append(b, "\\\"", 2); break;
		case '\\': rm_buf_append(b, "\\\\", 2); break;
		case '\n': rm_buf_append(b, "\\n", 2); break;
		case '\r': rm_buf_append(b, "\\r", 2); break;
		case '\t': rm_buf_append(b, "\\t", 2); break;
		default:
			if (*p < ' ' || *p == 0x7f)
				rm_buf_appendf(b, "\\x%02x", *p);
			else
				rm_buf_append(b, p, 1);
		}
	}
	rm_buf_append(b, "\"", 1);
}

static void append_clean(struct rm_buf *b, const char *v)
{
	char *u = rm_redact_url(v);
	char *s = rm_redact_secrets(u);
	append_value(b, s);
	free(s);
	free(u);
}

void rm_logv(enum rm_log_level lvl, const char *msg, va_list ap)
{
	if ((int)lvl < atomic_load(&log_level) || lvl > RM_LOG_ERROR)
		return;
	char ts[RM_TIME_STRLEN];
	rm_time_fmt(rm_now_ms(), ts);
	struct rm_buf b;
	rm_buf_init(&b, 0);
	rm_buf_appendf(&b, "ts=%s level=%s msg=", ts, level_names[lvl]);
	append_clean(&b, msg ? msg : "");
	const char *k;
	while ((k = va_arg(ap, const char *))) {
		const char *v = va_arg(ap, const char *);
		rm_buf_append(&b, " ", 1);
		rm_buf_append_str(&b, k);
		rm_buf_append(&b, "=", 1);
		if (!v)
			rm_buf_append_str(&b, "\"\"");
		else if (key_is_sensitive(k))
			rm_buf_append_str(&b, "[redacted]");
		else
			append_clean(&b, v);
	}
	rm_buf_append(&b, "\n", 1);
	(void)rm_write_all(STDERR_FILENO, b.data, b.len); /* best effort */
	rm_buf_cleanup(&b);
}

void rm_log(enum rm_log_level lvl, const char *msg, ...)
{
	va_list ap;
	va_start(ap, msg);
	rm_logv(lvl, msg, ap);
	va_end(ap);
}
