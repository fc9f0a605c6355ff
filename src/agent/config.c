/* Agent config file: one table drives parsing, validation and formatting. */
#include "agent/config.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"

#define CONFIG_MAX_BYTES (64 * 1024)

enum cfg_type {
	CFG_STR,   /* free text without control characters */
	CFG_URL,   /* http(s):// or ws(s):// */
	CFG_HEX32, /* 64 hex chars (stored lowercase) */
	CFG_LEVEL, /* debug|info|warn|error */
};

struct cfg_field {
	const char *name;
	enum cfg_type type;
	int required;
	size_t maxlen;
	size_t off; /* offset of the char * in struct agent_config */
};

#define F(n, t, r, m, member)                                     \
	{                                                         \
		n, t, r, m, offsetof(struct agent_config, member) \
	}
static const struct cfg_field cfg_fields[] = {
	F("server", CFG_URL, 1, 2048, server_url),
	F("host_id", CFG_STR, 1, 64, host_id),
	F("bearer", CFG_STR, 1, 512, bearer),
	F("tls_pin", CFG_HEX32, 0, 64, tls_pin),
	F("restic_path", CFG_STR, 0, 4096, restic_path),
	F("secrets_key", CFG_HEX32, 1, 64, secrets_key),
	F("log_level", CFG_LEVEL, 0, 16, log_level),
};
#undef F
#define N_FIELDS (sizeof cfg_fields / sizeof cfg_fields[0])

static char **field_ptr(struct agent_config *c, const struct cfg_field *f)
{
	return (char **)(void *)((char *)c + f->off);
}

static char *const *field_cptr(const struct agent_config *c, const struct cfg_field *f)
{
	return (char *const *)(const void *)((const char *)c + f->off);
}

static int validate(const struct cfg_field *f, char *v, char *err, size_t errlen)
{
	size_t n = strlen(v);
	if (n > f->maxlen) {
		snprintf(err, errlen, "field '%s' longer than %zu bytes", f->name, f->maxlen);
		return RM_ERR_INVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
			snprintf(err, errlen, "field '%s' contains a control character", f->name);
			return RM_ERR_INVAL;
		}
	}
	switch (f->type) {
	case CFG_STR: break;
	case CFG_URL:
		if (strncmp(v, "http://", 7) && strncmp(v, "https://", 8) &&
		    strncmp(v, "ws://", 5) && strncmp(v, "wss://", 6)) {
			snprintf(err, errlen, "field '%s' must be an http(s):// URL", f->name);
			return RM_ERR_INVAL;
		}
		break;
	case CFG_HEX32:
		if (n != 64) {
			snprintf(err, errlen, "field '%s' must be 64 hex characters", f->name);
			return RM_ERR_INVAL;
		}
		for (size_t i = 0; i < n; i++) {
			if (!isxdigit((unsigned char)v[i])) {
				snprintf(err, errlen, "field '%s' must be 64 hex characters",
				         f->name);
				return RM_ERR_INVAL;
			}
			v[i] = (char)tolower((unsigned char)v[i]);
		}
		break;
	case CFG_LEVEL: {
		enum rm_log_level lvl;
		if (rm_log_level_parse(v, &lvl)) {
			snprintf(err, errlen, "field '%s' must be debug, info, warn or error",
			         f->name);
			return RM_ERR_INVAL;
		}
		break;
	}
	}
	return RM_OK;
}

/* Parses the value part of a line (after "key:"): "double quoted" with \\ \" escapes,
 * 'single quoted' ('' = '), or bare (trimmed, " #" starts a comment). Returns malloc'd
 * string or NULL on syntax error. */
static char *parse_value(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	struct rm_buf b;
	rm_buf_init(&b, 0);
	if (p < end && (*p == '"' || *p == '\'')) {
		char q = *p++;
		int closed = 0;
		while (p < end) {
			char ch = *p++;
			if (q == '"' && ch == '\\') {
				if (p >= end)
					break;
				ch = *p++;
				if (ch == 'n')
					ch = '\n';
				else if (ch == 't')
					ch = '\t';
				else if (ch != '\\' && ch != '"')
					break;
			} else if (ch == q) {
				if (q == '\'' && p < end && *p == '\'') {
					p++;
				} else {
					closed = 1;
					break;
				}
			}
			rm_buf_append(&b, &ch, 1);
		}
		if (!closed)
			goto bad;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p < end && *p != '#')
			goto bad;
		return rm_buf_take(&b);
	}
	const char *e = p;
	while (e < end) {
		if (*e == '#' && (e == p || e[-1] == ' ' || e[-1] == '\t'))
			break;
		e++;
	}
	while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	rm_buf_append(&b, p, (size_t)(e - p));
	return rm_buf_take(&b);
bad:
	rm_buf_cleanup(&b);
	return NULL;
}

void agent_config_cleanup(struct agent_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < N_FIELDS; i++) {
		char **pp = field_ptr(c, &cfg_fields[i]);
		if (*pp) /* bearer and secrets_key are secrets */
			sodium_memzero(*pp, strlen(*pp));
		free(*pp);
		*pp = NULL;
	}
}

/* Long: one line loop of a flat YAML subset (key, value, quoting, table lookup); split
 * further it only passes its many locals around. */
int agent_config_parse(const char *text, size_t len, struct agent_config *out, char *err,
                       size_t errlen)
{
	char dummy[8];
	if (!err) {
		err = dummy;
		errlen = sizeof dummy;
	}
	struct agent_config c = { 0 };
	int rc = RM_OK;
	const char *p = text, *end = text + len;
	int lineno = 0;
	if (len > CONFIG_MAX_BYTES) {
		snprintf(err, errlen, "config file larger than %d bytes", CONFIG_MAX_BYTES);
		return RM_ERR_INVAL;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		lineno++;
		const char *s = p;
		p = nl ? nl + 1 : end;
		while (s < le && (*s == ' ' || *s == '\t' || *s == '\r'))
			s++;
		if (s == le || *s == '#')
			continue;
		if (le - s == 3 && !memcmp(s, "---", 3))
			continue;
		const char *colon = memchr(s, ':', (size_t)(le - s));
		if (!colon || colon == s) {
			snprintf(err, errlen, "line %d: expected 'key: value'", lineno);
			rc = RM_ERR_INVAL;
			goto out;
		}
		const char *ke = colon;
		while (ke > s && (ke[-1] == ' ' || ke[-1] == '\t'))
			ke--;
		size_t klen = (size_t)(ke - s);
		const struct cfg_field *f = NULL;
		for (size_t i = 0; i < N_FIELDS; i++) {
			if (strlen(cfg_fields[i].name) == klen &&
			    !memcmp(cfg_fields[i].name, s, klen)) {
				f = &cfg_fields[i];
				break;
			}
		}
		char *v = parse_value(colon + 1, le);
		if (!v) {
			snprintf(err, errlen, "line %d: bad quoting", lineno);
			rc = RM_ERR_INVAL;
			goto out;
		}
		if (!f) {
			char key[64];
			snprintf(key, sizeof key, "%.*s", (int)(klen < 60 ? klen : 60), s);
			RM_WARN("unknown config key ignored", "name", key);
			free(v);
			continue;
		}
		char **pp = field_ptr(&c, f);
		if (*pp) {
			snprintf(err, errlen, "line %d: duplicate key '%s'", lineno, f->name);
			free(v);
			rc = RM_ERR_INVAL;
			goto out;
		}
		if (!*v) { /* empty = absent */
			free(v);
			continue;
		}
		rc = validate(f, v, err, errlen);
		if (rc) {
			free(v);
			goto out;
		}
		*pp = v;
	}
	for (size_t i = 0; i < N_FIELDS; i++) {
		if (cfg_fields[i].required && !*field_ptr(&c, &cfg_fields[i])) {
			snprintf(err, errlen, "missing required field '%s'", cfg_fields[i].name);
			rc = RM_ERR_INVAL;
			goto out;
		}
	}
out:
	if (rc)
		agent_config_cleanup(&c);
	else
		*out = c;
	return rc;
}

int agent_config_load(const char *path, struct agent_config *out, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int rc = rm_read_file(path, CONFIG_MAX_BYTES, &text, &len);
	if (rc) {
		if (err)
			snprintf(err, errlen, "cannot read %s: %s", path, rm_strerror(rc));
		return rc;
	}
	rc = agent_config_parse(text, len, out, err, errlen);
	sodium_memzero(text, len);
	free(text);
	return rc;
}

char *agent_config_format(const struct agent_config *c)
{
	struct rm_buf b;
	rm_buf_init(&b, 0);
	rm_buf_append_str(&b, "# restic-manager agent configuration (written by "
	                      "`restic-manager-agent enroll`; keep it private)\n");
	for (size_t i = 0; i < N_FIELDS; i++) {
		const char *v = *field_cptr(c, &cfg_fields[i]);
		if (!v)
			continue;
		rm_buf_appendf(&b, "%s: \"", cfg_fields[i].name);
		for (const char *q = v; *q; q++) {
			if (*q == '"' || *q == '\\')
				rm_buf_append(&b, "\\", 1);
			rm_buf_append(&b, q, 1);
		}
		rm_buf_append_str(&b, "\"\n");
	}
	return rm_buf_take(&b);
}

int agent_mkdirs(const char *path, int mode)
{
	char tmp[4096];
	if (rm_strlcpy(tmp, path, sizeof tmp))
		return RM_ERR_INVAL;
	size_t n = strlen(tmp);
	for (size_t i = 1; i <= n; i++) {
		if (tmp[i] == '/' || tmp[i] == 0) {
			char save = tmp[i];
			tmp[i] = 0;
			if (mkdir(tmp, (mode_t)mode) && errno != EEXIST)
				return RM_ERR_IO;
			tmp[i] = save;
		}
	}
	return RM_OK;
}

int agent_config_save(const char *path, const struct agent_config *c)
{
	char dir[4096];
	if (rm_strlcpy(dir, path, sizeof dir))
		return RM_ERR_INVAL;
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		int rc = agent_mkdirs(dir, 0755);
		if (rc)
			return rc;
	}
	char *text = agent_config_format(c);
	int rc = rm_write_file_atomic(path, text, strlen(text), 0600);
	sodium_memzero(text, strlen(text));
	free(text);
	return rc;
}

int agent_config_secrets_key(const struct agent_config *c, uint8_t key[RM_KEY_BYTES])
{
	if (!c->secrets_key)
		return RM_ERR_INVAL;
	return rm_hex_decode(c->secrets_key, key, RM_KEY_BYTES) ? RM_ERR_INVAL : RM_OK;
}
