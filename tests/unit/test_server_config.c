/* Config table: defaults, file parsing, env precedence, validation, printing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "server/config.h"
#include "tap.h"

static const char *env_keys[8];
static const char *env_vals[8];
static size_t env_n;

static const char *fake_getenv(const char *name)
{
	for (size_t i = 0; i < env_n; i++)
		if (strcmp(env_keys[i], name) == 0)
			return env_vals[i];
	return NULL;
}

static const char *no_env(const char *name)
{
	(void)name;
	return NULL;
}

TEST(defaults)
{
	struct server_config c;
	char err[256];
	config_init(&c);
	OK(config_apply_env(&c, no_env, err, sizeof err) == RM_OK);
	EQ_INT(config_finalize(&c, err, sizeof err), RM_OK);
	EQ_STR(c.listen, "127.0.0.1:8080");
	EQ_STR(c.listen_host, "127.0.0.1");
	EQ_INT(c.listen_port, 8080);
	EQ_STR(c.data_dir, "./rm-data");
	EQ_STR(c.base_url, "http://127.0.0.1:8080");
	EQ_STR(c.secret_key_file, "./rm-data/secret.key");
	EQ_INT(c.cookie_secure, 1);
	EQ_INT(c.session_ttl_s, 43200);
	EQ_INT(c.offline_after_s, 90);
	EQ_INT(c.job_lost_after_s, 600);
	EQ_INT(c.sweep_interval_ms, 5000);
	OK(c.agent_binary_dir && c.agent_binary_dir[0] == '/');
	config_cleanup(&c);
}

TEST(file_and_env_precedence)
{
	struct server_config c;
	char err[256] = "";
	config_init(&c);
	const char *text = "# comment\n"
	                   "listen: 0.0.0.0:9000   # trailing comment\n"
	                   "data_dir: \"/tmp/rm data\"\n"
	                   "base_url: 'https://backup.example.com/'\n"
	                   "cookie_secure: false\n"
	                   "offline_after: 30\n"
	                   "metrics_token: \"s3cr#t\"\n"
	                   "\n";
	EQ_INT(config_apply_text(&c, text, "t.yaml", err, sizeof err), RM_OK);
	env_n = 0;
	env_keys[env_n] = "RM_OFFLINE_AFTER_S";
	env_vals[env_n++] = "45";
	env_keys[env_n] = "RM_COOKIE_SECURE";
	env_vals[env_n++] = "true";
	EQ_INT(config_apply_env(&c, fake_getenv, err, sizeof err), RM_OK);
	EQ_INT(config_finalize(&c, err, sizeof err), RM_OK);
	EQ_STR(c.listen_host, "0.0.0.0");
	EQ_INT(c.listen_port, 9000);
	EQ_STR(c.data_dir, "/tmp/rm data");
	EQ_STR(c.base_url, "https://backup.example.com");
	EQ_STR(c.metrics_token, "s3cr#t");
	EQ_INT(c.offline_after_s, 45); /* env wins */
	EQ_INT(c.cookie_secure, 1);    /* env wins */
	EQ_STR(c.secret_key_file, "/tmp/rm data/secret.key");

	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	config_print(&c, f);
	fclose(f);
	OK(strstr(buf, "s3cr#t") == NULL);
	OK(strstr(buf, "metrics_token: \"[redacted]\"") != NULL);
	OK(strstr(buf, "offline_after: 45\n") != NULL);
	/* the printed config parses back */
	struct server_config c2;
	config_init(&c2);
	EQ_INT(config_apply_text(&c2, buf, "printed", err, sizeof err), RM_OK);
	EQ_STR(c2.data_dir, "/tmp/rm data");
	config_cleanup(&c2);
	free(buf);
	config_cleanup(&c);
}

TEST(errors)
{
	struct server_config c;
	char err[256];
	config_init(&c);
	EQ_INT(config_apply_text(&c, "nope: 1\n", "f", err, sizeof err), RM_ERR_INVAL);
	OK(strstr(err, "f:1") && strstr(err, "unknown key"));
	EQ_INT(config_apply_text(&c, "\nlisten\n", "f", err, sizeof err), RM_ERR_INVAL);
	OK(strstr(err, "f:2") != NULL);
	EQ_INT(config_apply_text(&c, "offline_after: 0\n", "f", err, sizeof err), RM_ERR_INVAL);
	EQ_INT(config_apply_text(&c, "offline_after: 12abc\n", "f", err, sizeof err), RM_ERR_INVAL);
	EQ_INT(config_apply_text(&c, "cookie_secure: maybe\n", "f", err, sizeof err), RM_ERR_INVAL);
	EQ_INT(config_apply_text(&c, "data_dir: \"unterminated\n", "f", err, sizeof err),
	       RM_ERR_INVAL);
	EQ_INT(config_apply_text(&c, "log_level: info\nlog_level: debug\n", "f", err, sizeof err),
	       RM_ERR_INVAL);
	OK(strstr(err, "duplicate") != NULL);
	config_cleanup(&c);

	config_init(&c);
	env_n = 0;
	env_keys[env_n] = "RM_SESSION_TTL_S";
	env_vals[env_n++] = "-5";
	EQ_INT(config_apply_env(&c, fake_getenv, err, sizeof err), RM_ERR_INVAL);
	OK(strstr(err, "RM_SESSION_TTL_S") != NULL);
	config_cleanup(&c);

	const char *bad_listen[] = { "8080",       "localhost:", "localhost:0",
		                     "host:70000", "::1:80",     "a b:80" };
	for (size_t i = 0; i < sizeof bad_listen / sizeof bad_listen[0]; i++) {
		config_init(&c);
		free(c.listen);
		c.listen = strdup(bad_listen[i]);
		EQ_INT(config_finalize(&c, err, sizeof err), RM_ERR_INVAL);
		config_cleanup(&c);
	}
	config_init(&c);
	free(c.listen);
	c.listen = strdup("[::1]:8443");
	EQ_INT(config_finalize(&c, err, sizeof err), RM_OK);
	EQ_STR(c.listen_host, "::1");
	EQ_INT(c.listen_port, 8443);
	config_cleanup(&c);

	config_init(&c);
	free(c.log_level);
	c.log_level = strdup("loud");
	EQ_INT(config_finalize(&c, err, sizeof err), RM_ERR_INVAL);
	config_cleanup(&c);
}

/* Single sign-on keys: local login off needs an issuer; break glass turns it back on; the
 * client secret is never printed. */
TEST(sso_keys)
{
	struct server_config c;
	char err[256];
	config_init(&c);
	EQ_INT(c.local_login, 1);
	EQ_STR(c.oidc_groups_claim, "groups");
	EQ_INT(config_apply_text(&c, "local_login: false\n", "f", err, sizeof err), RM_OK);
	EQ_INT(config_finalize(&c, err, sizeof err), RM_ERR_INVAL);
	OK(strstr(err, "oidc_issuer") != NULL);
	config_cleanup(&c);

	config_init(&c);
	EQ_INT(config_apply_text(&c,
	                         "local_login: false\noidc_issuer: https://id.test\n"
	                         "oidc_client_secret: s3cr3t-value\n",
	                         "f", err, sizeof err),
	       RM_OK);
	EQ_INT(config_finalize(&c, err, sizeof err), RM_OK);
	EQ_INT(c.local_login, 0);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	config_print(&c, f);
	fclose(f);
	OK(strstr(buf, "s3cr3t-value") == NULL);
	OK(strstr(buf, "oidc_client_secret: \"[redacted]\"") != NULL);
	free(buf);
	env_n = 0;
	env_keys[env_n] = "RM_LOCAL_LOGIN_BREAK_GLASS";
	env_vals[env_n++] = "1";
	EQ_INT(config_apply_env(&c, fake_getenv, err, sizeof err), RM_OK);
	EQ_INT(config_finalize(&c, err, sizeof err), RM_OK);
	EQ_INT(c.local_login, 1);
	config_cleanup(&c);

	config_init(&c);
	EQ_INT(config_apply_text(&c, "oidc_issuer: ftp://id.test\n", "f", err, sizeof err), RM_OK);
	EQ_INT(config_finalize(&c, err, sizeof err), RM_ERR_INVAL);
	config_cleanup(&c);
}

int main(void)
{
	RUN(defaults);
	RUN(file_and_env_precedence);
	RUN(errors);
	RUN(sso_keys);
	return tap_done();
}
