#ifndef RM_SERVER_CONFIG_H
#define RM_SERVER_CONFIG_H
/* Server configuration from ONE table (config.c): every key has a name (config file), an
 * environment variable, a type, a default, bounds and a help text. The table drives the
 * file parser, environment overrides, validation, --print-config and --help.
 * Precedence: environment > config file (--config FILE) > defaults.
 *
 * Config file format: a simple YAML subset, one `key: value` per line; `#` starts a
 * comment (outside quotes); values may be "double quoted" (with \" \\ \n \t escapes) or
 * 'single quoted' (literal). Empty lines are ignored; unknown keys and duplicates are
 * errors. */
#include <stdio.h>

struct server_config {
	char *listen;      /* "127.0.0.1:8080" */
	char *listen_host; /* derived: "127.0.0.1" (brackets stripped for IPv6) */
	int listen_port;   /* derived */
	char *data_dir;
	char *base_url;        /* no trailing slash; default http://<listen> */
	char *secret_key_file; /* default <data_dir>/secret.key */
	char *trusted_proxy;
	int cookie_secure;
	char *metrics_token;
	char *metrics_trusted_cidr;
	char *log_level;
	long long session_ttl_s;
	long long offline_after_s;
	long long job_lost_after_s;
	long long sweep_interval_ms;
	long long alert_timeout_ms;    /* outbound delivery timeout (default 10 s) */
	long long alert_retry_base_ms; /* first retry delay, x4 per attempt */
	long long alert_max_attempts;
	char *agent_binary_dir;     /* default: directory of the server executable */
	char *agent_release_pubkey; /* default <agent_binary_dir>/agent-release.pub */
	long long update_timeout_s; /* one host's agent update, command to re-hello */
	/* C6 announce-and-approve (engine/announce.h) */
	long long announce_ttl_s;       /* undecided announcements expire (default 1 h) */
	long long announce_max_pending; /* undecided announcements at once */
	long long announce_rate;        /* announcements per client address per minute */
	/* single sign-on (OIDC; engine/oidc.c). Off unless oidc_issuer is set. */
	char *oidc_issuer;
	char *oidc_client_id;
	char *oidc_client_secret; /* secret: never printed or logged */
	char *oidc_redirect_url;  /* default <base_url>/api/auth/oidc/callback */
	char *oidc_scopes;
	char *oidc_groups_claim;
	char *oidc_role_map;     /* "group=role,..." */
	char *oidc_default_role; /* "" = deny users in no mapped group */
	char *oidc_button_label;
	int local_login;             /* password sign-in (false needs oidc_issuer) */
	int local_login_break_glass; /* forces local_login back on */
};

/* Sets every key to its default (strings malloc'd). */
void config_init(struct server_config *cfg);
void config_cleanup(struct server_config *cfg); /* frees strings; NULL ok */

/* Applies `key: value` lines from text (a whole file's content). RM_OK or RM_ERR_INVAL
 * with "file:line: message" in err. */
int config_apply_text(struct server_config *cfg, const char *text, const char *fname, char *err,
                      size_t errlen);
/* Reads and applies a config file (RM_ERR_IO / RM_ERR_INVAL). */
int config_apply_file(struct server_config *cfg, const char *path, char *err, size_t errlen);
/* Applies environment overrides through getenv_fn (NULL = getenv). */
int config_apply_env(struct server_config *cfg, const char *(*getenv_fn)(const char *), char *err,
                     size_t errlen);
/* Validates bounds/formats and fills derived values (listen_host/port, base_url,
 * secret_key_file, agent_binary_dir defaults). Call once after the sources. */
int config_finalize(struct server_config *cfg, char *err, size_t errlen);

/* Convenience: init + file (if path) + env + finalize. On error cfg is cleaned up. */
int config_load(struct server_config *cfg, const char *path, char *err, size_t errlen);

/* `key: value` lines of the effective configuration, secrets as "[redacted]". */
void config_print(const struct server_config *cfg, FILE *f);
/* Usage text including the table of keys. */
void config_usage(FILE *f, const char *argv0);

#endif
