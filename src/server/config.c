/* Server configuration: one table drives defaults, file, env, validation and printing. */
#include "server/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/err.h"
#include "common/log.h"

enum cfg_type { CFG_STR, CFG_BOOL, CFG_INT };

#define CFG_SECRET 1u

struct cfg_key {
	const char *name;
	const char *env;
	enum cfg_type type;
	size_t off;
	const char *def; /* default as text; NULL = empty/derived */
	long long min, max;
	unsigned flags;
	const char *help;
};

#define F(field) offsetof(struct server_config, field)
static const struct cfg_key cfg_table[] = {
	{ "listen", "RM_LISTEN", CFG_STR, F(listen), "127.0.0.1:8080", 0, 0, 0,
	  "address:port to listen on ([v6]:port for IPv6)" },
	{ "data_dir", "RM_DATA_DIR", CFG_STR, F(data_dir), "./rm-data", 0, 0, 0,
	  "data directory (database, secret key); created with mode 0700" },
	{ "base_url", "RM_BASE_URL", CFG_STR, F(base_url), NULL, 0, 0, 0,
	  "public URL of the server (default http://<listen>)" },
	{ "secret_key_file", "RM_SECRET_KEY_FILE", CFG_STR, F(secret_key_file), NULL, 0, 0, 0,
	  "master key file (default <data_dir>/secret.key); created if absent, never overwritten" },
	{ "trusted_proxy", "RM_TRUSTED_PROXY", CFG_STR, F(trusted_proxy), "", 0, 0, 0,
	  "CIDR list of reverse proxies whose X-Forwarded-* headers are honoured" },
	{ "cookie_secure", "RM_COOKIE_SECURE", CFG_BOOL, F(cookie_secure), "true", 0, 1, 0,
	  "mark the session cookie Secure (set false only for plain-HTTP testing)" },
	{ "metrics_token", "RM_METRICS_TOKEN", CFG_STR, F(metrics_token), "", 0, 0, CFG_SECRET,
	  "bearer token for /metrics (empty = disabled unless metrics_trusted_cidr)" },
	{ "metrics_trusted_cidr", "RM_METRICS_TRUSTED_CIDR", CFG_STR, F(metrics_trusted_cidr), "",
	  0, 0, 0, "CIDR list allowed to read /metrics without a token" },
	{ "log_level", "RM_LOG_LEVEL", CFG_STR, F(log_level), "info", 0, 0, 0,
	  "debug | info | warn | error" },
	{ "session_ttl", "RM_SESSION_TTL_S", CFG_INT, F(session_ttl_s), "43200", 60, 31536000, 0,
	  "session lifetime in seconds" },
	{ "offline_after", "RM_OFFLINE_AFTER_S", CFG_INT, F(offline_after_s), "90", 1, 86400, 0,
	  "seconds of agent silence before a host is marked offline" },
	{ "job_lost_after", "RM_JOB_LOST_AFTER_S", CFG_INT, F(job_lost_after_s), "600", 1, 604800,
	  0, "seconds a host may stay offline before its running jobs fail (agent lost)" },
	{ "sweep_interval", "RM_SWEEP_INTERVAL_MS", CFG_INT, F(sweep_interval_ms), "5000", 50,
	  600000, 0, "sweeper period in milliseconds" },
	{ "alert_timeout", "RM_ALERT_TIMEOUT_MS", CFG_INT, F(alert_timeout_ms), "10000", 100,
	  120000, 0, "alert deliveries (webhook, ntfy, SMTP): a receiver is cut off after this" },
	{ "alert_retry_base", "RM_ALERT_RETRY_BASE_MS", CFG_INT, F(alert_retry_base_ms), "5000", 50,
	  3600000, 0, "first retry delay of a failed delivery (x4 per attempt)" },
	{ "alert_max_attempts", "RM_ALERT_MAX_ATTEMPTS", CFG_INT, F(alert_max_attempts), "4", 1, 20,
	  0, "attempts per delivery before it is marked failed" },
	{ "agent_binary_dir", "RM_AGENT_BINARY_DIR", CFG_STR, F(agent_binary_dir), NULL, 0, 0, 0,
	  "directory holding restic-manager-agent for /agent/binary (default: the server "
	  "executable's directory)" },
	{ "agent_release_pubkey", "RM_AGENT_RELEASE_PUBKEY", CFG_STR, F(agent_release_pubkey), NULL,
	  0, 0, 0,
	  "public key file of the agent release signing key (default "
	  "<agent_binary_dir>/agent-release.pub); agent updates are off without it" },
	{ "update_timeout", "RM_UPDATE_TIMEOUT_S", CFG_INT, F(update_timeout_s), "180", 5, 3600, 0,
	  "seconds an agent update may take (download, restart, re-hello) before it fails" },
	{ "announce_ttl", "RM_ANNOUNCE_TTL_S", CFG_INT, F(announce_ttl_s), "3600", 1, 604800, 0,
	  "seconds an agent's announcement (enroll without a token) waits for a decision" },
	{ "announce_max_pending", "RM_ANNOUNCE_MAX_PENDING", CFG_INT, F(announce_max_pending),
	  "1000", 1, 1000000, 0, "announcements waiting at once; more are refused (503)" },
	{ "announce_rate", "RM_ANNOUNCE_RATE", CFG_INT, F(announce_rate), "10", 1, 100000, 0,
	  "announcements one client address may make per minute (429 beyond)" },
	{ "oidc_issuer", "RM_OIDC_ISSUER", CFG_STR, F(oidc_issuer), "", 0, 0, 0,
	  "OpenID Connect issuer URL; enables single sign-on (empty = off)" },
	{ "oidc_client_id", "RM_OIDC_CLIENT_ID", CFG_STR, F(oidc_client_id), "", 0, 0, 0,
	  "OIDC client id registered at the provider" },
	{ "oidc_client_secret", "RM_OIDC_CLIENT_SECRET", CFG_STR, F(oidc_client_secret), "", 0, 0,
	  CFG_SECRET, "OIDC client secret (empty = public client, PKCE only)" },
	{ "oidc_redirect_url", "RM_OIDC_REDIRECT_URL", CFG_STR, F(oidc_redirect_url), "", 0, 0, 0,
	  "OIDC redirect URL (default <base_url>/api/auth/oidc/callback)" },
	{ "oidc_scopes", "RM_OIDC_SCOPES", CFG_STR, F(oidc_scopes), "openid profile email", 0, 0, 0,
	  "space-separated scopes requested (must include openid)" },
	{ "oidc_groups_claim", "RM_OIDC_GROUPS_CLAIM", CFG_STR, F(oidc_groups_claim), "groups", 0,
	  0, 0, "claim (ID token or userinfo) holding the user's groups" },
	{ "oidc_role_map", "RM_OIDC_ROLE_MAP", CFG_STR, F(oidc_role_map), "", 0, 0, 0,
	  "group=role pairs, e.g. \"ops-admins=admin,ops=operator,staff=viewer\"" },
	{ "oidc_default_role", "RM_OIDC_DEFAULT_ROLE", CFG_STR, F(oidc_default_role), "", 0, 0, 0,
	  "role for users in no mapped group (empty = refuse them)" },
	{ "oidc_button_label", "RM_OIDC_BUTTON_LABEL", CFG_STR, F(oidc_button_label),
	  "Sign in with SSO", 0, 0, 0, "label of the single sign-on button" },
	{ "local_login", "RM_LOCAL_LOGIN", CFG_BOOL, F(local_login), "true", 0, 1, 0,
	  "allow username/password sign-in (false requires oidc_issuer)" },
	{ "local_login_break_glass", "RM_LOCAL_LOGIN_BREAK_GLASS", CFG_BOOL,
	  F(local_login_break_glass), "false", 0, 1, 0,
	  "turn password sign-in back on even when local_login is false" },
};
#undef F
#define CFG_N (sizeof cfg_table / sizeof cfg_table[0])

static char **str_field(struct server_config *cfg, const struct cfg_key *k)
{
	return (char **)(void *)((char *)cfg + k->off);
}

static void *field(struct server_config *cfg, const struct cfg_key *k)
{
	return (char *)cfg + k->off;
}

static const void *cfield(const struct server_config *cfg, const struct cfg_key *k)
{
	return (const char *)cfg + k->off;
}

static int parse_bool(const char *v, int *out)
{
	static const char *const t[] = { "true", "yes", "on", "1" };
	static const char *const f[] = { "false", "no", "off", "0" };
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, t[i]) == 0) {
			*out = 1;
			return RM_OK;
		}
		if (strcasecmp(v, f[i]) == 0) {
			*out = 0;
			return RM_OK;
		}
	}
	return RM_ERR_INVAL;
}

/* Sets one key from text, checking type and bounds. */
static int set_value(struct server_config *cfg, const struct cfg_key *k, const char *v, char *err,
                     size_t errlen)
{
	switch (k->type) {
	case CFG_STR: {
		char **p = str_field(cfg, k);
		free(*p);
		*p = rm_xstrdup(v);
		return RM_OK;
	}
	case CFG_BOOL: {
		int b;
		if (parse_bool(v, &b)) {
			snprintf(err, errlen, "%s: expected true or false, got \"%s\"", k->name, v);
			return RM_ERR_INVAL;
		}
		*(int *)field(cfg, k) = b;
		return RM_OK;
	}
	case CFG_INT: {
		long long n;
		if (rm_parse_i64(v, &n) || n < k->min || n > k->max) {
			snprintf(err, errlen, "%s: expected an integer in [%lld, %lld], got \"%s\"",
			         k->name, k->min, k->max, v);
			return RM_ERR_INVAL;
		}
		*(long long *)field(cfg, k) = n;
		return RM_OK;
	}
	}
	return RM_ERR_INVAL;
}

static const struct cfg_key *find_key(const char *name)
{
	for (size_t i = 0; i < CFG_N; i++)
		if (strcmp(cfg_table[i].name, name) == 0)
			return &cfg_table[i];
	return NULL;
}

void config_init(struct server_config *cfg)
{
	char err[16];
	memset(cfg, 0, sizeof *cfg);
	for (size_t i = 0; i < CFG_N; i++) {
		const struct cfg_key *k = &cfg_table[i];
		if (k->def) {
			set_value(cfg, k, k->def, err, sizeof err);
		} else if (k->type == CFG_STR) {
			*str_field(cfg, k) = rm_xstrdup("");
		}
	}
}

void config_cleanup(struct server_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < CFG_N; i++) {
		if (cfg_table[i].type == CFG_STR) {
			char **p = str_field(cfg, &cfg_table[i]);
			free(*p);
			*p = NULL;
		}
	}
	free(cfg->listen_host);
	cfg->listen_host = NULL;
}

/* Parses the value part of a `key: value` line into out (malloc'd). */
static int parse_value(const char *s, char **out, const char **why)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	char *v = rm_xmalloc(n + 1);
	size_t o = 0;
	if (*s == '"' || *s == '\'') {
		char q = *s++;
		int closed = 0;
		while (*s) {
			if (*s == q) {
				closed = 1;
				s++;
				break;
			}
			if (q == '"' && *s == '\\') {
				s++;
				switch (*s) {
				case 'n': v[o++] = '\n'; break;
				case 't': v[o++] = '\t'; break;
				case '"': v[o++] = '"'; break;
				case '\\': v[o++] = '\\'; break;
				default:
					free(v);
					*why = "bad escape in quoted string";
					return RM_ERR_INVAL;
				}
				s++;
				continue;
			}
			v[o++] = *s++;
		}
		if (!closed) {
			free(v);
			*why = "unterminated quoted string";
			return RM_ERR_INVAL;
		}
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s && *s != '#') {
			free(v);
			*why = "trailing characters after quoted string";
			return RM_ERR_INVAL;
		}
	} else {
		/* plain scalar: up to a comment (" #" or leading "#"), trimmed */
		const char *end = s;
		const char *p = s;
		while (*p) {
			if (*p == '#' && (p == s || p[-1] == ' ' || p[-1] == '\t'))
				break;
			p++;
		}
		end = p;
		while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
			end--;
		memcpy(v, s, (size_t)(end - s));
		o = (size_t)(end - s);
	}
	v[o] = 0;
	*out = v;
	return RM_OK;
}

int config_apply_text(struct server_config *cfg, const char *text, const char *fname, char *err,
                      size_t errlen)
{
	unsigned char seen[CFG_N];
	memset(seen, 0, sizeof seen);
	int lineno = 0;
	const char *p = text;
	if (!fname)
		fname = "config";
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		lineno++;
		char *line = rm_xstrndup(p, len);
		p += len + (eol ? 1 : 0);
		size_t ll = strlen(line);
		if (ll && line[ll - 1] == '\r')
			line[--ll] = 0;
		char *s = line;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == 0 || *s == '#' || strcmp(s, "---") == 0) {
			free(line);
			continue;
		}
		char *colon = strchr(s, ':');
		if (!colon) {
			snprintf(err, errlen, "%s:%d: expected `key: value`", fname, lineno);
			free(line);
			return RM_ERR_INVAL;
		}
		char *kend = colon;
		while (kend > s && (kend[-1] == ' ' || kend[-1] == '\t'))
			kend--;
		*kend = 0;
		const struct cfg_key *k = find_key(s);
		if (!k) {
			snprintf(err, errlen, "%s:%d: unknown key \"%s\"", fname, lineno, s);
			free(line);
			return RM_ERR_INVAL;
		}
		size_t idx = (size_t)(k - cfg_table);
		if (seen[idx]) {
			snprintf(err, errlen, "%s:%d: duplicate key \"%s\"", fname, lineno, s);
			free(line);
			return RM_ERR_INVAL;
		}
		seen[idx] = 1;
		char *val = NULL;
		const char *why = NULL;
		if (parse_value(colon + 1, &val, &why)) {
			snprintf(err, errlen, "%s:%d: %s", fname, lineno, why);
			free(line);
			return RM_ERR_INVAL;
		}
		char sub[200];
		int rc = set_value(cfg, k, val, sub, sizeof sub);
		free(val);
		free(line);
		if (rc) {
			snprintf(err, errlen, "%s:%d: %s", fname, lineno, sub);
			return rc;
		}
	}
	return RM_OK;
}

int config_apply_file(struct server_config *cfg, const char *path, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int rc = rm_read_file(path, 1024 * 1024, &text, &len);
	if (rc) {
		snprintf(err, errlen, "cannot read config file %s: %s", path, rm_strerror(rc));
		return RM_ERR_IO;
	}
	if (memchr(text, 0, len)) {
		free(text);
		snprintf(err, errlen, "%s: contains NUL bytes", path);
		return RM_ERR_INVAL;
	}
	rc = config_apply_text(cfg, text, path, err, errlen);
	free(text);
	return rc;
}

static const char *plain_getenv(const char *name)
{
	return getenv(name);
}

int config_apply_env(struct server_config *cfg, const char *(*getenv_fn)(const char *), char *err,
                     size_t errlen)
{
	if (!getenv_fn)
		getenv_fn = plain_getenv;
	for (size_t i = 0; i < CFG_N; i++) {
		const char *v = getenv_fn(cfg_table[i].env);
		if (!v)
			continue;
		char sub[200];
		int rc = set_value(cfg, &cfg_table[i], v, sub, sizeof sub);
		if (rc) {
			snprintf(err, errlen, "%s: %s", cfg_table[i].env, sub);
			return rc;
		}
	}
	return RM_OK;
}

static int parse_listen(const char *l, char **host, int *port)
{
	const char *colon;
	const char *hs, *he;
	if (l[0] == '[') {
		const char *rb = strchr(l, ']');
		if (!rb || rb[1] != ':')
			return RM_ERR_INVAL;
		hs = l + 1;
		he = rb;
		colon = rb + 1;
	} else {
		colon = strrchr(l, ':');
		if (!colon)
			return RM_ERR_INVAL;
		hs = l;
		he = colon;
		if (memchr(hs, ':', (size_t)(he - hs)))
			return RM_ERR_INVAL; /* v6 needs [] */
	}
	if (he == hs)
		return RM_ERR_INVAL;
	for (const char *c = hs; c < he; c++)
		if (!isalnum((unsigned char)*c) && *c != '.' && *c != '-' && *c != ':' && *c != '%')
			return RM_ERR_INVAL;
	long long p;
	if (rm_parse_i64(colon + 1, &p) || p < 1 || p > 65535)
		return RM_ERR_INVAL;
	*host = rm_xstrndup(hs, (size_t)(he - hs));
	*port = (int)p;
	return RM_OK;
}

static char *exe_dir(void)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
	if (n <= 0)
		return rm_xstrdup(".");
	buf[n] = 0;
	char *slash = strrchr(buf, '/');
	if (!slash)
		return rm_xstrdup(".");
	if (slash == buf)
		return rm_xstrdup("/");
	*slash = 0;
	return rm_xstrdup(buf);
}

int config_finalize(struct server_config *cfg, char *err, size_t errlen)
{
	free(cfg->listen_host);
	cfg->listen_host = NULL;
	if (parse_listen(cfg->listen, &cfg->listen_host, &cfg->listen_port)) {
		snprintf(err, errlen, "listen: expected host:port (port 1-65535), got \"%s\"",
		         cfg->listen);
		return RM_ERR_INVAL;
	}
	if (!cfg->data_dir[0]) {
		snprintf(err, errlen, "data_dir: must not be empty");
		return RM_ERR_INVAL;
	}
	enum rm_log_level lvl;
	if (rm_log_level_parse(cfg->log_level, &lvl)) {
		snprintf(err, errlen, "log_level: expected debug|info|warn|error, got \"%s\"",
		         cfg->log_level);
		return RM_ERR_INVAL;
	}
	if (!cfg->base_url[0]) {
		free(cfg->base_url);
		cfg->base_url = rm_xasprintf("http://%s", cfg->listen);
	}
	if (strncmp(cfg->base_url, "http://", 7) != 0 &&
	    strncmp(cfg->base_url, "https://", 8) != 0) {
		snprintf(err, errlen, "base_url: must start with http:// or https://");
		return RM_ERR_INVAL;
	}
	for (const char *c = cfg->base_url; *c; c++) {
		if ((unsigned char)*c <= ' ' || *c == '\'' || *c == '"' || *c == '\\' ||
		    *c == '`' || *c == '$') {
			snprintf(err, errlen, "base_url: contains an invalid character");
			return RM_ERR_INVAL;
		}
	}
	size_t bl = strlen(cfg->base_url);
	while (bl > 8 && cfg->base_url[bl - 1] == '/')
		cfg->base_url[--bl] = 0;
	if (!cfg->secret_key_file[0]) {
		free(cfg->secret_key_file);
		cfg->secret_key_file = rm_xasprintf("%s/secret.key", cfg->data_dir);
	}
	if (!cfg->agent_binary_dir[0]) {
		free(cfg->agent_binary_dir);
		cfg->agent_binary_dir = exe_dir();
	}
	if (!cfg->agent_release_pubkey[0]) {
		free(cfg->agent_release_pubkey);
		cfg->agent_release_pubkey =
		    rm_xasprintf("%s/agent-release.pub", cfg->agent_binary_dir);
	}
	if (cfg->oidc_issuer[0] && strncmp(cfg->oidc_issuer, "https://", 8) != 0 &&
	    strncmp(cfg->oidc_issuer, "http://", 7) != 0) {
		snprintf(err, errlen, "oidc_issuer: must start with https:// (or http://)");
		return RM_ERR_INVAL;
	}
	if (!cfg->local_login && !cfg->oidc_issuer[0]) {
		snprintf(err, errlen,
		         "local_login: false requires oidc_issuer (nobody could sign in)");
		return RM_ERR_INVAL;
	}
	if (cfg->local_login_break_glass)
		cfg->local_login = 1;
	if (cfg->offline_after_s >= cfg->job_lost_after_s) {
		/* allowed, but lost-after counts from last_seen so keep it sane */
	}
	return RM_OK;
}

int config_load(struct server_config *cfg, const char *path, char *err, size_t errlen)
{
	int rc;
	config_init(cfg);
	if (path) {
		rc = config_apply_file(cfg, path, err, errlen);
		if (rc)
			goto out;
	}
	rc = config_apply_env(cfg, NULL, err, errlen);
	if (rc)
		goto out;
	rc = config_finalize(cfg, err, errlen);
out:
	if (rc)
		config_cleanup(cfg);
	return rc;
}

/* Prints a string value double-quoted with escapes so the output is a valid config file. */
static void print_quoted(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		switch (*s) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\t': fputs("\\t", f); break;
		default: fputc(*s, f);
		}
	}
	fputc('"', f);
}

void config_print(const struct server_config *cfg, FILE *f)
{
	for (size_t i = 0; i < CFG_N; i++) {
		const struct cfg_key *k = &cfg_table[i];
		fprintf(f, "%s: ", k->name);
		switch (k->type) {
		case CFG_STR: {
			const char *v = *(char *const *)cfield(cfg, k);
			if (!v)
				v = "";
			if ((k->flags & CFG_SECRET) && v[0]) {
				fputs("\"[redacted]\"", f);
			} else {
				char *r = rm_redact_url(v);
				print_quoted(f, r);
				free(r);
			}
			break;
		}
		case CFG_BOOL: fputs(*(const int *)cfield(cfg, k) ? "true" : "false", f); break;
		case CFG_INT: fprintf(f, "%lld", *(const long long *)cfield(cfg, k)); break;
		}
		fputc('\n', f);
	}
}

void config_usage(FILE *f, const char *argv0)
{
	fprintf(
	    f,
	    "usage: %s [--config FILE] [--print-config] [--print-routes] [--version] [--help]\n\n"
	    "Configuration (environment > config file > default):\n",
	    argv0);
	for (size_t i = 0; i < CFG_N; i++) {
		const struct cfg_key *k = &cfg_table[i];
		fprintf(f, "  %-22s %-24s default: %s\n      %s\n", k->name, k->env,
		        k->def ? (k->def[0] ? k->def : "(empty)") : "(derived)", k->help);
	}
}
