/* Agent enrollment (one-shot, blocking). */
#include "agent/enroll.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <sodium.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "agent/config.h"
#include "agent/host.h"
#include "agent/restic/probe.h"
#include "agent/upgrade.h"
#include "agent/ws/tls.h"
#include "agent/ws/url.h"
#include "common/buf.h"
#include "common/crypto.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"

#ifndef RM_VERSION
#define RM_VERSION "0.0.0"
#endif

#define RESPONSE_MAX (64 * 1024)

static const char *g_pin; /* one-shot CLI: the verify callback has no user pointer */

/* libcurl is opened at run time, only by `enroll`: linked, it and its dependencies
 * (gnutls via librtmp, krb5, ldap, ssh2, p11-kit...) were mapped into the long-running
 * `run` process too, ~3.5 MB of RSS and ~0.5 MB of private dirty pages for nothing. */
struct curl_api {
	void *dl;
	CURLcode (*global_init)(long);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char *(*easy_strerror)(CURLcode);
	void (*easy_cleanup)(CURL *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
};

/* RM_OK or RM_ERR_IO (libcurl missing: logged). */
static int curl_api_open(struct curl_api *api)
{
	static const struct {
		const char *name;
		size_t off;
	} syms[] = {
#define SYM(f, m) { "curl_" #f, offsetof(struct curl_api, m) }
		SYM(global_init, global_init),     SYM(global_cleanup, global_cleanup),
		SYM(easy_init, easy_init),         SYM(easy_setopt, easy_setopt),
		SYM(easy_perform, easy_perform),   SYM(easy_getinfo, easy_getinfo),
		SYM(easy_strerror, easy_strerror), SYM(easy_cleanup, easy_cleanup),
		SYM(slist_append, slist_append),   SYM(slist_free_all, slist_free_all),
#undef SYM
	};
	memset(api, 0, sizeof *api);
	api->dl = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	if (!api->dl) {
		RM_ERROR("cannot load libcurl (install libcurl4)", "error", dlerror());
		return RM_ERR_IO;
	}
	for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
		void *f = dlsym(api->dl, syms[i].name);
		if (!f) {
			RM_ERROR("libcurl lacks a symbol", "symbol", syms[i].name);
			dlclose(api->dl);
			api->dl = NULL;
			return RM_ERR_IO;
		}
		/* POSIX: a dlsym result converts to a function pointer; copy its bytes */
		memcpy((char *)api + syms[i].off, &f, sizeof f);
	}
	return RM_OK;
}

static int pin_verify_cb(int preverify_ok, X509_STORE_CTX *x)
{
	(void)preverify_ok;
	if (X509_STORE_CTX_get_error_depth(x) > 0) {
		X509_STORE_CTX_set_error(x, X509_V_OK);
		return 1;
	}
	if (ws_tls_pin_ok(X509_STORE_CTX_get_current_cert(x), g_pin)) {
		X509_STORE_CTX_set_error(x, X509_V_OK);
		return 1;
	}
	RM_ERROR("server certificate does not match --cert-pin; refusing to enroll");
	return 0;
}

static CURLcode ssl_ctx_cb(CURL *c, void *sslctx, void *parm)
{
	(void)c;
	(void)parm;
	SSL_CTX_set_verify((SSL_CTX *)sslctx, SSL_VERIFY_PEER, pin_verify_cb);
	return CURLE_OK;
}

static size_t write_cb(char *p, size_t sz, size_t n, void *ud)
{
	struct rm_buf *b = ud;
	if (rm_buf_append(b, p, sz * n))
		return 0; /* too big: abort the transfer */
	return sz * n;
}

static void version_cb(void *ud, const char *v)
{
	char **out = ud;
	*out = rm_xstrdup(v);
}

static char *restic_version(const char *restic)
{
	char *v = NULL;
	if (!restic)
		return rm_xstrdup("");
	uv_loop_t loop;
	if (uv_loop_init(&loop))
		return rm_xstrdup("");
	restic_probe_version(&loop, restic, version_cb, &v);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return v ? v : rm_xstrdup("");
}

static int valid_pin(const char *p)
{
	uint8_t tmp[32];
	return p && strlen(p) == 64 && rm_hex_decode(p, tmp, sizeof tmp) == RM_OK;
}

int enroll_post(const struct enroll_opts *o, const char *url, const char *body, long *status,
                json_t **resp)
{
	char err[256];
	struct rm_buf out;
	rm_buf_init(&out, RESPONSE_MAX);
	CURL *c = NULL;
	struct curl_slist *hdrs = NULL;
	struct curl_api cu = { 0 };
	int rc = curl_api_open(&cu);
	if (rc)
		goto done;
	cu.global_init(CURL_GLOBAL_DEFAULT);
	c = cu.easy_init();
	if (!c) {
		rc = RM_ERR_IO;
		goto done;
	}
	hdrs = cu.slist_append(hdrs, "Content-Type: application/json");
	hdrs = cu.slist_append(hdrs, "Accept: application/json");
	cu.easy_setopt(c, CURLOPT_URL, url);
	cu.easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	cu.easy_setopt(c, CURLOPT_POSTFIELDS, body);
	cu.easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	cu.easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
	cu.easy_setopt(c, CURLOPT_WRITEDATA, &out);
	cu.easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	cu.easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
	cu.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	cu.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	cu.easy_setopt(c, CURLOPT_USERAGENT, "restic-manager-agent/" RM_VERSION);
	if (o->cert_pin && *o->cert_pin) {
		g_pin = o->cert_pin;
		cu.easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
		cu.easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb);
	}
	CURLcode cc = cu.easy_perform(c);
	if (cc != CURLE_OK) {
		RM_ERROR("enrollment request failed", "server", o->server_url, "error",
		         cu.easy_strerror(cc));
		rc = RM_ERR_IO;
		goto done;
	}
	cu.easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (rmj_parse_object(out.data ? out.data : "", out.len, RESPONSE_MAX, resp, err,
	                     sizeof err)) {
		char st[16];
		snprintf(st, sizeof st, "%ld", *status);
		RM_ERROR("enrollment failed: server answered with a non-JSON body", "status", st);
		rc = RM_ERR_IO;
		goto done;
	}
done:
	if (cu.dl) {
		if (c)
			cu.easy_cleanup(c);
		cu.slist_free_all(hdrs);
		cu.global_cleanup();
		dlclose(cu.dl);
	}
	if (out.data) /* the answer holds the bearer */
		sodium_memzero(out.data, out.len);
	rm_buf_cleanup(&out);
	return rc;
}

/* Writes the agent config (tmp + fsync + rename, 0600) for the enrolled host, keeping an
 * existing secrets key so that secrets.enc stays readable. */
static int enroll_write_config(const struct enroll_opts *o, const char *server, size_t server_len,
                               const char *host_id, const char *bearer, const char *restic)
{
	struct agent_config cfg = { 0 }, old = { 0 };
	char key_hex[65];
	if (agent_config_load(o->config_path, &old, NULL, 0) == RM_OK && old.secrets_key) {
		rm_strlcpy(key_hex, old.secrets_key, sizeof key_hex);
	} else {
		uint8_t key[RM_KEY_BYTES];
		rm_random_bytes(key, sizeof key);
		rm_hex_encode(key, sizeof key, key_hex);
		sodium_memzero(key, sizeof key);
	}
	cfg.server_url = rm_xasprintf("%.*s", (int)server_len, server);
	cfg.host_id = rm_xstrdup(host_id);
	cfg.bearer = rm_xstrdup(bearer);
	cfg.tls_pin = o->cert_pin && *o->cert_pin ? rm_xstrdup(o->cert_pin) : NULL;
	cfg.restic_path = restic ? rm_xstrdup(restic) : NULL;
	cfg.secrets_key = rm_xstrdup(key_hex);
	sodium_memzero(key_hex, sizeof key_hex);
	if (agent_mkdirs(o->state_dir, 0700))
		RM_WARN("cannot create state directory", "path", o->state_dir);
	int rc = agent_config_save(o->config_path, &cfg);
	if (rc)
		RM_ERROR("cannot write agent config", "path", o->config_path, "error",
		         rm_strerror(rc));
	else
		RM_INFO("enrolled", "host_id", host_id, "server", cfg.server_url, "config",
		        o->config_path);
	agent_config_cleanup(&cfg);
	agent_config_cleanup(&old);
	return rc;
}

/* Checks a non-2xx / incomplete answer; RM_OK when it carries host_id and bearer. */
static int enroll_check_answer(long status, const json_t *resp)
{
	if (status != 200 && status != 201) {
		char st[16];
		snprintf(st, sizeof st, "%ld", status);
		int denied = status == 401 || status == 409 || status == 410;
		RM_ERROR(denied ? "enrollment token rejected (bad, already used or expired): "
		                  "create a new one on the server"
		                : "enrollment failed",
		         "status", st, "code", rmj_str(resp, "code"), "error",
		         rmj_str(resp, "error"));
		return denied ? RM_ERR_AUTH : RM_ERR_IO;
	}
	const char *host_id = rmj_str(resp, "host_id"), *bearer = rmj_str(resp, "bearer");
	if (!host_id || !*host_id || !bearer || !*bearer) {
		RM_ERROR("enrollment failed: response lacks host_id or bearer");
		return RM_ERR_IO;
	}
	return RM_OK;
}

int enroll_save_answer(const struct enroll_opts *o, size_t server_len, const json_t *resp,
                       const char *restic)
{
	const char *host_id = rmj_str(resp, "host_id"), *bearer = rmj_str(resp, "bearer");
	if (!host_id || !*host_id || !bearer || !*bearer) {
		RM_ERROR("enrollment failed: response lacks host_id or bearer");
		return RM_ERR_IO;
	}
	rm_log_add_secret(bearer);
	int rc = enroll_write_config(o, o->server_url, server_len, host_id, bearer, restic);
	/* C6: the release key agent updates are verified with (pinned here, never replaced by
	 * a connected server) */
	const char *pk = rmj_str(resp, "update_pubkey");
	if (!rc && pk && upgrade_key_pin(o->state_dir, pk, 1))
		RM_WARN("cannot store the agent release key: updates will be refused", "state_dir",
		        o->state_dir);
	return rc;
}

/* "<server>/api/<path>" with http(s) for ws(s) and no doubled slash; malloc'd. */
char *enroll_api_url(const char *server, size_t server_len, const char *path)
{
	char *url = rm_xasprintf("%.*s/api/%s", (int)server_len, server, path);
	if (!strncmp(url, "ws", 2)) { /* ws(s):// given: talk http(s) */
		char *h = rm_xasprintf("http%s", url + 2);
		free(url);
		url = h;
	}
	return url;
}

/* Token enrollment: one exchange. */
static int token_enroll(const struct enroll_opts *o, const struct enroll_host *h)
{
	char *url = enroll_api_url(o->server_url, h->server_len, "agents/enroll");
	json_t *req = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "token", o->token, "hostname",
	                        h->hostname, "os", "linux", "arch", host_arch(), "agent_version",
	                        RM_VERSION, "restic_version", h->restic_version);
	char *body = rmj_dumps(req);
	json_decref(req);
	json_t *resp = NULL;
	long status = 0;
	int rc = enroll_post(o, url, body, &status, &resp);
	if (!rc)
		rc = enroll_check_answer(status, resp);
	if (!rc)
		rc = enroll_save_answer(o, h->server_len, resp, h->restic);
	rmj_wipe(resp);
	json_decref(resp);
	free(url);
	sodium_memzero(body, strlen(body)); /* holds the enrollment token */
	free(body);
	return rc;
}

int enroll_run(const struct enroll_opts *o)
{
	struct ws_url u;
	struct enroll_host h = { 0 };
	if (!o->server_url) {
		RM_ERROR(
		    "enroll needs --server URL (and --token TOKEN, or none to ask for approval)");
		return RM_ERR_INVAL;
	}
	if (ws_url_parse(o->server_url, &u)) {
		RM_ERROR("invalid --server URL (want http(s)://host[:port])", "server",
		         o->server_url);
		return RM_ERR_INVAL;
	}
	if (o->cert_pin && *o->cert_pin && !valid_pin(o->cert_pin)) {
		RM_ERROR("invalid --cert-pin (want 64 hex characters: SHA-256 of the server's "
		         "certificate)");
		return RM_ERR_INVAL;
	}
	if (o->token && *o->token)
		rm_log_add_secret(o->token);
	host_name(h.hostname, sizeof h.hostname);
	h.restic = o->restic_path ? host_find_in_path(o->restic_path) : host_find_in_path("restic");
	if (!h.restic)
		RM_WARN("restic not found; install it (apt-get install restic) before running "
		        "backups");
	h.restic_version = restic_version(h.restic);
	/* base URL without trailing slash */
	h.server_len = strlen(o->server_url);
	while (h.server_len > 0 && o->server_url[h.server_len - 1] == '/')
		h.server_len--;
	int rc = o->token && *o->token ? token_enroll(o, &h) : announce_run(o, &h);
	free(h.restic);
	free(h.restic_version);
	return rc;
}
