/* Per-host secret lists and the redaction of agent-reported strings. */
#include "server/engine/host_secrets.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "server/engine/creds.h"

#define HOST_SECRETS_MAX 16

struct host_secrets {
	size_t n;
	char *s[HOST_SECRETS_MAX]; /* longest first: a secret containing another wins */
	size_t len[HOST_SECRETS_MAX];
};

void host_secrets_add(struct host_secrets *hs, const char *secret)
{
	size_t sl = secret ? strlen(secret) : 0;
	if (!hs || sl < HOST_SECRETS_MIN_LEN || hs->n == HOST_SECRETS_MAX)
		return;
	size_t at = 0;
	for (size_t i = 0; i < hs->n; i++) {
		if (hs->len[i] == sl && memcmp(hs->s[i], secret, sl) == 0)
			return;
		if (hs->len[i] >= sl)
			at = i + 1;
	}
	memmove(hs->s + at + 1, hs->s + at, (hs->n - at) * sizeof hs->s[0]);
	memmove(hs->len + at + 1, hs->len + at, (hs->n - at) * sizeof hs->len[0]);
	hs->s[at] = rm_xstrdup(secret);
	hs->len[at] = sl;
	hs->n++;
}

/* The password of a URL's userinfo ("rest:http://user:PASS@host/"), if any. */
static void add_url_password(struct host_secrets *hs, const char *url)
{
	const char *auth = strstr(url, "://");
	if (!auth)
		return;
	auth += 3;
	size_t alen = strcspn(auth, "/?#");
	const char *at = NULL;
	for (const char *q = auth; q < auth + alen; q++)
		if (*q == '@')
			at = q; /* the last '@': passwords may hold '@' */
	const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	if (!colon)
		return;
	char *pw = rm_xstrndup(colon + 1, (size_t)(at - colon - 1));
	host_secrets_add(hs, pw);
	sodium_memzero(pw, strlen(pw));
	free(pw);
}

void host_secrets_add_creds(struct host_secrets *hs, const json_t *creds)
{
	if (!hs || !json_is_object(creds))
		return;
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)creds, k, v) {
		const char *s = json_string_value(v);
		if (!s)
			continue;
		if (strcmp(k, "repo_url") == 0)
			add_url_password(hs, s);
		else if (strcmp(k, "repo_username") != 0 && strcmp(k, "slot") != 0)
			host_secrets_add(hs, s); /* repo_password and any backend key */
	}
}

struct host_secrets *host_secrets_new(void)
{
	return rm_xcalloc(1, sizeof(struct host_secrets));
}

struct host_secrets *host_secrets_load(struct store *st, const uint8_t *key, const char *host_id)
{
	struct host_secrets *hs = host_secrets_new();
	static const char *const slots[] = { "repo", "admin" };
	for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
		json_t *creds = NULL;
		if (creds_get(st, key, host_id, slots[i], &creds) == RM_OK)
			host_secrets_add_creds(hs, creds);
		creds_free(creds);
	}
	return hs;
}

size_t host_secrets_count(const struct host_secrets *hs)
{
	return hs ? hs->n : 0;
}

void host_secrets_free(struct host_secrets *hs)
{
	if (!hs)
		return;
	for (size_t i = 0; i < hs->n; i++) {
		sodium_memzero(hs->s[i], hs->len[i]);
		free(hs->s[i]);
	}
	free(hs);
}

/* Replaces every occurrence of sec in cur[0..*len): a new string (its length in *len), or
 * NULL when there was none. */
static char *replace_all(const char *cur, size_t *len, const char *sec, size_t sl)
{
	const char *hit = memmem(cur, *len, sec, sl);
	if (!hit)
		return NULL;
	struct rm_buf b;
	rm_buf_init(&b, 0);
	const char *p = cur, *end = cur + *len;
	while (hit) {
		rm_buf_append(&b, p, (size_t)(hit - p));
		rm_buf_append(&b, HOST_SECRETS_MASK, strlen(HOST_SECRETS_MASK));
		p = hit + sl;
		hit = memmem(p, (size_t)(end - p), sec, sl);
	}
	rm_buf_append(&b, p, (size_t)(end - p));
	*len = b.len;
	return rm_buf_take(&b);
}

char *host_secrets_redact(const struct host_secrets *hs, const char *s, size_t len)
{
	if (!hs || !s)
		return NULL;
	char *out = NULL;
	for (size_t i = 0; i < hs->n; i++) {
		char *next = replace_all(out ? out : s, &len, hs->s[i], hs->len[i]);
		if (!next)
			continue;
		free(out);
		out = next;
	}
	return out;
}

/* json_string, or the mask alone if red is not valid UTF-8 (never keep the original). */
static json_t *masked_string(const char *red)
{
	json_t *v = json_string(red);
	return v ? v : json_string(HOST_SECRETS_MASK);
}

int host_secrets_redact_member(const struct host_secrets *hs, json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_string(v))
		return 0;
	char *red = host_secrets_redact(hs, json_string_value(v), json_string_length(v));
	if (!red)
		return 0;
	json_object_set_new(obj, key, masked_string(red));
	free(red);
	return 1;
}

size_t host_secrets_redact_json(const struct host_secrets *hs, json_t *v)
{
	if (!hs || !hs->n)
		return 0;
	size_t changed = 0;
	if (json_is_object(v)) {
		const char *k;
		json_t *m;
		void *tmp;
		json_object_foreach_safe(v, tmp, k, m)
		{
			if (json_is_string(m))
				changed += (size_t)host_secrets_redact_member(hs, v, k);
			else
				changed += host_secrets_redact_json(hs, m);
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_t *m;
		json_array_foreach (v, i, m) {
			if (!json_is_string(m)) {
				changed += host_secrets_redact_json(hs, m);
				continue;
			}
			char *red =
			    host_secrets_redact(hs, json_string_value(m), json_string_length(m));
			if (!red)
				continue;
			json_array_set_new(v, i, masked_string(red));
			free(red);
			changed++;
		}
	}
	return changed;
}
