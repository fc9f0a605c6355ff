/* command.update: verify the signed manifest with the pinned release key, download the
 * binary from the server (libcurl, dlopen'd, in the thread pool), check size and sha256,
 * swap it in atomically (keeping <exe>.prev), write the marker, restart (upgrade.c).
 * Nothing touches the installed binary before every check passed. */
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/host.h"
#include "agent/runner/runner.h"
#include "agent/upgrade.h"
#include "agent/ws/agent_int.h"
#include "agent/ws/tls.h"
#include "agent/version.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/manifest.h"
#include "common/rmtime.h"

struct dl {
	uv_work_t work;
	struct agent *a;
	char update_id[65];
	struct rm_manifest m;
	char *url, *new_path, *pin;
	/* thread results */
	int rc;
	char err[300];
	/* thread state */
	int fd;
	unsigned long long got;
	crypto_hash_sha256_state sha;
};

static struct dl *g_dl; /* one update at a time */
static const char *g_pin;

static void send_status(struct agent *a, const char *uid, const char *state, const char *err)
{
	json_t *p = json_pack("{s:s,s:s,s:s}", "update_id", uid, "state", state, "version",
	                      rm_agent_version);
	if (err)
		json_object_set_new(p, "error", json_string(err));
	agent_send_msg(a, RM_MSG_UPDATE_STATUS, p);
}

/* ---------------------------------------------------------------- thread pool */

static size_t write_cb(char *p, size_t sz, size_t n, void *ud)
{
	struct dl *d = ud;
	size_t len = sz * n;
	if (d->got + len > d->m.size) {
		snprintf(d->err, sizeof d->err, "download larger than the manifest's %llu bytes",
		         d->m.size);
		return 0;
	}
	if (rm_write_all(d->fd, p, len)) {
		snprintf(d->err, sizeof d->err, "cannot write %s: %s", d->new_path,
		         strerror(errno));
		return 0;
	}
	crypto_hash_sha256_update(&d->sha, (const unsigned char *)p, len);
	d->got += len;
	return len;
}

static int pin_verify_cb(int ok, X509_STORE_CTX *x)
{
	(void)ok;
	if (X509_STORE_CTX_get_error_depth(x) > 0 ||
	    ws_tls_pin_ok(X509_STORE_CTX_get_current_cert(x), g_pin)) {
		X509_STORE_CTX_set_error(x, X509_V_OK);
		return 1;
	}
	return 0;
}

static CURLcode ssl_ctx_cb(CURL *c, void *sslctx, void *parm)
{
	(void)c, (void)parm;
	SSL_CTX_set_verify((SSL_CTX *)sslctx, SSL_VERIFY_PEER, pin_verify_cb);
	return CURLE_OK;
}

/* libcurl, opened for the download only (the daemon does not map it otherwise). */
struct curl_fns {
	CURL *(*init)(void);
	CURLcode (*setopt)(CURL *, CURLoption, ...);
	CURLcode (*perform)(CURL *);
	CURLcode (*getinfo)(CURL *, CURLINFO, ...);
	const char *(*strerr)(CURLcode);
	void (*cleanup)(CURL *);
};

static int curl_fns_load(void *dl, struct curl_fns *f)
{
	static const struct {
		const char *name;
		size_t off;
	} syms[] = {
		{ "curl_easy_init", offsetof(struct curl_fns, init) },
		{ "curl_easy_setopt", offsetof(struct curl_fns, setopt) },
		{ "curl_easy_perform", offsetof(struct curl_fns, perform) },
		{ "curl_easy_getinfo", offsetof(struct curl_fns, getinfo) },
		{ "curl_easy_strerror", offsetof(struct curl_fns, strerr) },
		{ "curl_easy_cleanup", offsetof(struct curl_fns, cleanup) },
	};
	for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
		void *p = dlsym(dl, syms[i].name);
		if (!p)
			return RM_ERR_IO;
		memcpy((char *)f + syms[i].off, &p, sizeof p); /* POSIX: dlsym -> function */
	}
	return RM_OK;
}

static int fetch(struct dl *d)
{
	void *dl = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	struct curl_fns f;
	if (!dl) {
		snprintf(d->err, sizeof d->err, "cannot load libcurl (install libcurl4)");
		return RM_ERR_IO;
	}
	CURL *(*init)(void) = NULL;
	CURLcode (*setopt)(CURL *, CURLoption, ...) = NULL;
	CURLcode (*perform)(CURL *) = NULL;
	CURLcode (*getinfo)(CURL *, CURLINFO, ...) = NULL;
	const char *(*strerr)(CURLcode) = NULL;
	void (*cleanup)(CURL *) = NULL;
	if (curl_fns_load(dl, &f) == RM_OK) {
		init = f.init;
		setopt = f.setopt;
		perform = f.perform;
		getinfo = f.getinfo;
		strerr = f.strerr;
		cleanup = f.cleanup;
	}
	int rc = RM_ERR_IO;
	CURL *c = init && setopt && perform && getinfo && strerr && cleanup ? init() : NULL;
	if (!c) {
		snprintf(d->err, sizeof d->err, "libcurl unusable");
		goto out;
	}
	setopt(c, CURLOPT_URL, d->url);
	setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
	setopt(c, CURLOPT_WRITEDATA, d);
	setopt(c, CURLOPT_TIMEOUT, 600L);
	setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
	setopt(c, CURLOPT_NOSIGNAL, 1L);
	setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	setopt(c, CURLOPT_USERAGENT, "restic-manager-agent");
	if (d->pin) {
		g_pin = d->pin;
		setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
		setopt(c, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb);
	}
	CURLcode cc = perform(c);
	long status = 0;
	getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (cc != CURLE_OK) {
		if (!d->err[0])
			snprintf(d->err, sizeof d->err, "download failed: %s", strerr(cc));
	} else if (status != 200) {
		snprintf(d->err, sizeof d->err, "download failed: HTTP status %ld", status);
	} else {
		rc = RM_OK;
	}
	cleanup(c);
out:
	dlclose(dl);
	return rc;
}

static void work_cb(uv_work_t *w)
{
	struct dl *d = w->data;
	crypto_hash_sha256_init(&d->sha);
	unlink(d->new_path);
	d->fd = open(d->new_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	if (d->fd < 0) {
		snprintf(d->err, sizeof d->err, "cannot create %s: %s", d->new_path,
		         strerror(errno));
		d->rc = RM_ERR_IO;
		return;
	}
	d->rc = fetch(d);
	if (!d->rc && d->got != d->m.size) {
		snprintf(d->err, sizeof d->err, "truncated download: %llu of %llu bytes", d->got,
		         d->m.size);
		d->rc = RM_ERR_INVAL;
	}
	if (!d->rc) {
		unsigned char dig[32];
		char hex[65];
		crypto_hash_sha256_final(&d->sha, dig);
		rm_hex_encode(dig, sizeof dig, hex);
		if (strcmp(hex, d->m.sha256) != 0) {
			snprintf(d->err, sizeof d->err,
			         "sha256 of the download does not match the signed manifest");
			d->rc = RM_ERR_CRYPTO;
		}
	}
	if (!d->rc && (fsync(d->fd) || fchmod(d->fd, 0755))) {
		snprintf(d->err, sizeof d->err, "cannot sync %s", d->new_path);
		d->rc = RM_ERR_IO;
	}
	close(d->fd);
	if (d->rc)
		unlink(d->new_path);
}

/* ---------------------------------------------------------------- swap, restart */

static void dl_free(struct dl *d)
{
	free(d->url);
	free(d->new_path);
	free(d->pin);
	free(d);
	g_dl = NULL;
}

/* <exe>.prev = the running binary (a hard link, else a copy is not attempted: refused),
 * then <exe>.new renamed over <exe> (atomic). */
static int swap_in(const char *exe, const char *new_path, char *err, size_t errlen)
{
	char *prev = rm_xasprintf("%s.prev", exe);
	char *tmp = rm_xasprintf("%s.prev.tmp", exe);
	unlink(tmp);
	int rc = RM_OK;
	if (link(exe, tmp) || rename(tmp, prev)) {
		snprintf(err, errlen, "cannot keep the previous binary as %s: %s", prev,
		         strerror(errno));
		unlink(tmp);
		rc = RM_ERR_IO;
	} else if (rename(new_path, exe)) {
		snprintf(err, errlen, "cannot replace %s: %s", exe, strerror(errno));
		rc = RM_ERR_IO;
	}
	free(prev);
	free(tmp);
	return rc;
}

static int g_restarting; /* swapped in; the restart is under way */

static void restart_timer_cb(uv_timer_t *t)
{
	struct agent *a = t->data;
	uv_close((uv_handle_t *)t, (uv_close_cb)free);
	if (a->stopping) /* SIGTERM meanwhile: exit; the next start runs the new binary */
		return;
	upgrade_request_restart(a->state_dir); /* main's signal watchers go now, not earlier */
	agent_stop(a);
}

static void after_cb(uv_work_t *w, int status)
{
	struct dl *d = w->data;
	struct agent *a = d->a;
	char err[400] = "";
	if (a->stopping && !status && !d->rc) { /* asked to stop meanwhile: no restart */
		unlink(d->new_path);
		snprintf(d->err, sizeof d->err, "the agent was stopped during the update");
		d->rc = RM_ERR_AGAIN;
	}
	if (status || d->rc) {
		RM_WARN("agent update refused", "update_id", d->update_id, "error",
		        d->err[0] ? d->err : "cancelled");
		send_status(a, d->update_id, "failed", d->err[0] ? d->err : "cancelled");
		dl_free(d);
		return;
	}
	send_status(a, d->update_id, "verifying", NULL);
	const char *exe = upgrade_exe_path();
	struct upgrade_marker m;
	memset(&m, 0, sizeof m);
	rm_strlcpy(m.update_id, d->update_id, sizeof m.update_id);
	rm_strlcpy(m.from, rm_agent_version, sizeof m.from);
	rm_strlcpy(m.to, d->m.version, sizeof m.to);
	rm_strlcpy(m.state, "restarting", sizeof m.state);
	m.deadline_ms = rm_now_ms() + (int64_t)upgrade_confirm_s() * 1000;
	int rc = upgrade_marker_write(a->state_dir, &m);
	if (rc)
		snprintf(err, sizeof err, "cannot write the update marker in %s", a->state_dir);
	else if ((rc = swap_in(exe, d->new_path, err, sizeof err)) != RM_OK)
		upgrade_marker_remove(a->state_dir);
	if (rc) {
		unlink(d->new_path);
		RM_WARN("agent update failed", "update_id", d->update_id, "error", err);
		send_status(a, d->update_id, "failed", err);
		dl_free(d);
		return;
	}
	RM_INFO("agent binary replaced; restarting", "from", rm_agent_version, "to", d->m.version,
	        "exe", exe);
	send_status(a, d->update_id, "restarting", NULL);
	g_restarting = 1;
	dl_free(d);
	/* a moment for the status frame to leave, then the graceful stop (outbox flushed);
	 * main() restarts into the new binary once the loop is done */
	uv_timer_t *t = rm_xcalloc(1, sizeof *t);
	uv_timer_init(a->loop, t);
	t->data = a;
	uv_timer_start(t, restart_timer_cb, 300, 0);
}

/* ---------------------------------------------------------------- command */

/* /usr/bin/restic-manager-agent is where the Debian package installs the agent (install.sh
 * puts a bare binary in /usr/local/bin): the package manager updates that one, it is never
 * replaced behind dpkg's back. */
static int packaged(const char *exe)
{
	return !strcmp(exe, "/usr/bin/restic-manager-agent");
}

/* Checks before any download; RM_OK or a reason in err. */
static int precheck(struct agent *a, const json_t *p, struct rm_manifest *m, char *err,
                    size_t errlen)
{
	const char *text = rmj_str(p, "manifest"), *sig = rmj_str(p, "signature");
	const char *path = rmj_str(p, "path");
	char *pk = NULL;
	json_t *running = json_array();
	if (a->runner)
		runner_active_ids(a->runner, running);
	int busy = json_array_size(running) > 0;
	json_decref(running);
	int rc = RM_ERR_INVAL;
	if (g_dl || g_restarting)
		rmj_seterr(err, errlen, "an update is already in progress");
	else if (busy)
		rmj_seterr(err, errlen, "a job is running; update when it has finished");
	else if (!upgrade_exe_path()[0])
		rmj_seterr(err, errlen, "cannot tell where the agent binary is");
	else if (packaged(upgrade_exe_path()))
		rmj_seterr(err, errlen,
		           "the agent was installed from its Debian package: update "
		           "the package (apt) instead");
	else if (upgrade_key_load(a->state_dir, &pk))
		rmj_seterr(err, errlen, "no release key pinned on this agent (re-enroll it)");
	else if ((rc = rm_manifest_verify(text, strlen(text), sig, pk)) != RM_OK)
		rmj_seterr(err, errlen,
		           "the release signature does not verify with the pinned key");
	else if ((rc = rm_manifest_parse(text, strlen(text), m, err, errlen)) != RM_OK)
		;
	else if ((rc = RM_ERR_INVAL, strcmp(m->os, "linux") || strcmp(m->arch, host_arch())))
		rmj_seterr(err, errlen, "the release is for %s/%s, this agent is linux/%s", m->os,
		           m->arch, host_arch());
	else if (strcmp(m->version, rmj_str(p, "version")))
		rmj_seterr(err, errlen, "the command's version differs from the signed manifest's");
	else if (!strcmp(m->version, rm_agent_version))
		rmj_seterr(err, errlen, "already running version %s", rm_agent_version);
	else if (strncmp(path, "/agent/binary?", 14) || strpbrk(path, " \r\n#"))
		rmj_seterr(err, errlen, "unexpected download path");
	else
		rc = RM_OK;
	free(pk);
	return rc;
}

void agent_handle_update(struct agent *a, const struct rm_envelope *env)
{
	const json_t *p = env->payload;
	const char *uid = rmj_str(p, "update_id");
	char err[300] = "";
	struct rm_manifest m;
	if (precheck(a, p, &m, err, sizeof err) != RM_OK) {
		RM_WARN("agent update refused", "update_id", uid, "error", err);
		send_status(a, uid, "failed", err);
		return;
	}
	struct dl *d = rm_xcalloc(1, sizeof *d);
	d->a = a;
	rm_strlcpy(d->update_id, uid, sizeof d->update_id);
	d->m = m;
	d->url = rm_xasprintf("%s://%s%s%s", a->url.tls ? "https" : "http", a->host_hdr,
	                      a->url.base, rmj_str(p, "path"));
	d->new_path = rm_xasprintf("%s.new", upgrade_exe_path());
	d->pin = a->tls_pin ? rm_xstrdup(a->tls_pin) : NULL;
	d->work.data = d;
	g_dl = d;
	char size[24];
	snprintf(size, sizeof size, "%llu", m.size);
	RM_INFO("agent update: downloading", "update_id", uid, "version", m.version, "size_bytes",
	        size);
	send_status(a, uid, "downloading", NULL);
	uv_queue_work(a->loop, &d->work, work_cb, after_cb);
}

/* After the server acknowledged our hello: confirm or report an update that restarted us
 * (marker written by the previous process or its watchdog). */
void agent_update_on_hello_acked(struct agent *a)
{
	struct upgrade_marker m;
	if (upgrade_marker_read(a->state_dir, &m) != RM_OK)
		return;
	if (!strcmp(m.state, "restarting") && !strcmp(m.to, rm_agent_version)) {
		RM_INFO("agent update confirmed", "from", m.from, "to", m.to);
		send_status(a, m.update_id, "succeeded", NULL);
	} else {
		const char *why =
		    m.error[0] ? m.error : "the agent restarted with its previous version";
		RM_WARN("agent update rolled back", "to", m.to, "running", rm_agent_version,
		        "reason", why);
		send_status(a, m.update_id, "rolled_back", why);
	}
	upgrade_marker_remove(a->state_dir);
}
