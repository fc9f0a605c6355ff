/* C6 agent updates, one host: release loading, command.update, progress, outcome. */
#include "server/engine/update.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/crypto.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/rmtime.h"
#include "common/ulid.h"
#include "server/app.h"
#include "server/config.h"
#include "server/engine/alerts.h"
#include "server/engine/notify.h"
#include "server/engine/presence.h"
#include "server/engine/update_int.h"
#include "server/store/store.h"
#include "server/store/store_update.h"

#define RELEASE_FILE_MAX 4096

struct update_engine *update_engine(struct app *app)
{
	return app ? app->update : NULL;
}

const char *update_pubkey(struct app *app)
{
	struct update_engine *u = update_engine(app);
	if (!u)
		return NULL;
	if (!u->pubkey_tried) {
		u->pubkey_tried = 1;
		int rc = rm_release_pubkey_load(app->cfg->agent_release_pubkey, &u->pubkey);
		if (rc == RM_OK)
			RM_INFO("agent release key loaded: agent updates available", "path",
			        app->cfg->agent_release_pubkey);
		else
			RM_INFO("no agent release key: agent updates off", "path",
			        app->cfg->agent_release_pubkey, "err", rm_strerror(rc));
	}
	return u->pubkey;
}

static int pick_token(const char *v, const char *const *allowed)
{
	for (size_t i = 0; v && allowed[i]; i++)
		if (!strcmp(v, allowed[i]))
			return 1;
	return 0;
}

/* The manifest files of the binary /agent/binary serves for os/arch (install.c: the
 * specific name first, the plain name for the native platform). */
static int read_release_files(struct app *app, const char *os, const char *arch, char **text,
                              size_t *len, char **sig)
{
	static const char *const oses[] = { "linux", NULL };
	static const char *const arches[] = { "amd64", "arm64", NULL };
	if (!pick_token(os, oses) || !pick_token(arch, arches))
		return RM_ERR_NOTFOUND;
	const char *dir = app->cfg->agent_binary_dir;
	char *base = rm_xasprintf("%s/restic-manager-agent-%s-%s", dir, os, arch);
	char *mp = rm_xasprintf("%s.manifest", base);
	int rc = rm_read_file(mp, RM_MANIFEST_MAX, text, len);
	if (rc == RM_ERR_NOTFOUND) {
		free(base);
		free(mp);
		base = rm_xasprintf("%s/restic-manager-agent", dir);
		mp = rm_xasprintf("%s.manifest", base);
		rc = rm_read_file(mp, RM_MANIFEST_MAX, text, len);
	}
	if (!rc) {
		char *sp = rm_xasprintf("%s.manifest.sig", base);
		size_t sl = 0;
		rc = rm_read_file(sp, RELEASE_FILE_MAX, sig, &sl);
		free(sp);
		if (rc) {
			free(*text);
			*text = NULL;
		} else {
			while (sl && ((*sig)[sl - 1] == '\n' || (*sig)[sl - 1] == '\r' ||
			              (*sig)[sl - 1] == ' '))
				(*sig)[--sl] = 0;
		}
	}
	free(base);
	free(mp);
	return rc == RM_ERR_TOOBIG ? RM_ERR_INVAL : rc;
}

int update_release_load(struct app *app, const char *os, const char *arch,
                        struct update_release *out, char *why, size_t whylen)
{
	char err[160] = "";
	char *text = NULL, *sig = NULL;
	size_t len = 0;
	const char *pk = update_pubkey(app);
	int rc = read_release_files(app, os, arch, &text, &len, &sig);
	if (rc) {
		rmj_seterr(why, whylen, "no signed agent release for %s/%s on the server",
		           os ? os : "?", arch ? arch : "?");
		return rc == RM_ERR_NOTFOUND ? rc : RM_ERR_INVAL;
	}
	if (!pk) {
		rmj_seterr(why, whylen, "the server has no agent release public key (%s)",
		           app->cfg->agent_release_pubkey);
		rc = RM_ERR_INVAL;
	} else if ((rc = rm_manifest_verify(text, len, sig, pk)) != RM_OK) {
		RM_WARN("agent release manifest signature does not verify", "os", os, "arch", arch);
		rmj_seterr(why, whylen, "the release manifest's signature does not verify");
		rc = rc == RM_ERR_AUTH ? RM_ERR_AUTH : RM_ERR_INVAL;
	} else if (rm_manifest_parse(text, len, &out->m, err, sizeof err) != RM_OK) {
		rmj_seterr(why, whylen, "release manifest: %s", err);
		rc = RM_ERR_INVAL;
	} else if (strcmp(out->m.os, os) != 0 || strcmp(out->m.arch, arch) != 0) {
		rmj_seterr(why, whylen, "the release manifest is for %s/%s", out->m.os,
		           out->m.arch);
		rc = RM_ERR_INVAL;
	}
	if (rc) {
		free(text);
		free(sig);
		return rc;
	}
	out->manifest = text;
	out->signature = sig;
	snprintf(out->path, sizeof out->path, "/agent/binary?os=%s&arch=%s", os, arch);
	return RM_OK;
}

void update_release_cleanup(struct update_release *r)
{
	if (!r)
		return;
	free(r->manifest);
	free(r->signature);
	memset(r, 0, sizeof *r);
}

/* ---------------------------------------------------------------- in-flight set */

static struct inflight *inflight_find(struct update_engine *u, const char *host_id)
{
	for (size_t i = 0; u && i < u->n; i++)
		if (!strcmp(u->fl[i].host_id, host_id))
			return &u->fl[i];
	return NULL;
}

static void inflight_del(struct update_engine *u, const char *host_id)
{
	struct inflight *f = inflight_find(u, host_id);
	if (!f)
		return;
	*f = u->fl[--u->n];
	if (!u->n)
		uv_timer_stop(&u->timer);
}

/* Ends host's attempt update_id in a final state: store, audit, notify, run. */
static void finish(struct app *app, const char *host_id, const char *update_id, const char *state,
                   const char *error)
{
	struct update_engine *u = update_engine(app);
	struct inflight *f = inflight_find(u, host_id);
	char run_id[32] = "";
	if (f && !strcmp(f->update_id, update_id))
		rm_strlcpy(run_id, f->run_id, sizeof run_id);
	int rc = store_begin(app->store);
	if (!rc)
		rc = store_update_set_state(app->store, host_id, update_id, state, error,
		                            rm_now_ms());
	if (!rc) {
		json_t *d = json_pack("{s:s,s:s,s:s?}", "update_id", update_id, "state", state,
		                      "error", error);
		rc = store_audit(app->store, "system", "host.update_finished", host_id, d);
		json_decref(d);
	}
	if (!rc)
		rc = store_commit(app->store);
	if (rc) {
		store_rollback(app->store);
		if (rc != RM_ERR_NOTFOUND)
			RM_ERROR("cannot record an agent update's outcome", "host_id", host_id,
			         "err", rm_strerror(rc));
		return;
	}
	if (f && !strcmp(f->update_id, update_id))
		inflight_del(u, host_id);
	rm_log(!strcmp(state, "succeeded") ? RM_LOG_INFO : RM_LOG_WARN, "agent update finished",
	       "host_id", host_id, "state", state, "error", error, (const char *)0);
	notify_host_changed(app->notify, host_id);
	json_t *h = store_host_get(app->store, host_id);
	alerts_update_outcome(app, host_id, h ? rmj_str(h, "hostname") : NULL, state, error);
	json_decref(h);
	if (run_id[0])
		update_run_host_done(app, run_id, host_id, state, error);
}

static void timer_cb(uv_timer_t *t)
{
	struct app *app = t->data;
	struct update_engine *u = update_engine(app);
	int64_t now = rm_now_ms();
	for (size_t i = 0; i < u->n;) {
		if (u->fl[i].deadline_ms > now) {
			i++;
			continue;
		}
		char host[32], uid[32], msg[96];
		rm_strlcpy(host, u->fl[i].host_id, sizeof host);
		rm_strlcpy(uid, u->fl[i].update_id, sizeof uid);
		snprintf(msg, sizeof msg, "no re-hello with the new version within %lld s",
		         app->cfg->update_timeout_s);
		size_t before = u->n;
		finish(app, host, uid, "failed", msg);
		if (u->n == before) /* could not record it: forget it anyway */
			inflight_del(u, host);
	}
}

void update_start(struct app *app)
{
	struct update_engine *u = rm_xcalloc(1, sizeof *u);
	app->update = u;
	uv_timer_init(app->loop, &u->timer);
	u->timer.data = app;
	u->timer_init = 1;
	int rc = store_updates_abandon(app->store, "the server restarted during the update",
	                               rm_now_ms());
	if (rc)
		RM_WARN("cannot end agent updates left in flight", "err", rm_strerror(rc));
	update_pubkey(app);
}

void update_stop(struct app *app)
{
	struct update_engine *u = update_engine(app);
	if (u && u->timer_init && !uv_is_closing((uv_handle_t *)&u->timer))
		uv_close((uv_handle_t *)&u->timer, NULL);
}

void update_free(struct app *app)
{
	struct update_engine *u = update_engine(app);
	if (!u)
		return;
	free(u->pubkey);
	free(u->fl);
	free(u);
	app->update = NULL;
}

/* ---------------------------------------------------------------- start */

/* Checks the host can take the release; RM_OK or an error with why. */
static int host_check(struct app *app, const json_t *h, const struct update_release *rel, char *why,
                      size_t whylen)
{
	const char *id = rmj_str(h, "id");
	const char *av = rmj_str(h, "agent_version");
	if (!presence_is_connected(app->presence, id)) {
		rmj_seterr(why, whylen, "the host is offline");
		return RM_ERR_AGAIN;
	}
	if (av && !strcmp(av, rel->m.version)) {
		rmj_seterr(why, whylen, "the agent already runs version %s", av);
		return RM_ERR_CONFLICT;
	}
	if (inflight_find(update_engine(app), id)) {
		rmj_seterr(why, whylen, "an update of this host is already in progress");
		return RM_ERR_CONFLICT;
	}
	return RM_OK;
}

static void inflight_add(struct app *app, const char *host_id, const char *update_id,
                         const char *run_id)
{
	struct update_engine *u = update_engine(app);
	if (u->n == u->cap) {
		u->cap = u->cap ? u->cap * 2 : 8;
		u->fl = rm_xrealloc(u->fl, u->cap * sizeof *u->fl);
	}
	struct inflight *f = &u->fl[u->n++];
	memset(f, 0, sizeof *f);
	rm_strlcpy(f->host_id, host_id, sizeof f->host_id);
	rm_strlcpy(f->update_id, update_id, sizeof f->update_id);
	rm_strlcpy(f->run_id, run_id ? run_id : "", sizeof f->run_id);
	f->deadline_ms = rm_now_ms() + app->cfg->update_timeout_s * 1000;
	if (!uv_is_active((uv_handle_t *)&u->timer))
		uv_timer_start(&u->timer, timer_cb, 1000, 1000);
}

static int record_start(struct app *app, const json_t *h, const char *uid, const char *actor,
                        const char *run_id, const struct update_release *rel)
{
	const char *id = rmj_str(h, "id");
	int rc = store_begin(app->store);
	if (!rc)
		rc = store_update_put(app->store, id, uid, run_id, "pending",
		                      rmj_str(h, "agent_version"), rel->m.version, NULL,
		                      rm_now_ms());
	if (!rc) {
		json_t *d = json_pack("{s:s,s:s?,s:s,s:s?}", "update_id", uid, "from_version",
		                      rmj_str(h, "agent_version"), "target_version", rel->m.version,
		                      "run_id", run_id);
		rc = store_audit(app->store, actor, "host.update", id, d);
		json_decref(d);
	}
	if (!rc)
		rc = store_commit(app->store);
	if (rc)
		store_rollback(app->store);
	return rc;
}

int update_host_start(struct app *app, const char *host_id, const char *actor, const char *run_id,
                      char *why, size_t whylen)
{
	struct update_release rel = { 0 };
	json_t *h = store_host_get(app->store, host_id);
	if (!h) {
		rmj_seterr(why, whylen, "unknown host");
		return RM_ERR_NOTFOUND;
	}
	const char *os = rmj_str(h, "os"), *arch = rmj_str(h, "arch");
	int rc = update_release_load(app, os ? os : "linux", arch ? arch : "", &rel, why, whylen);
	if (rc) {
		rc = RM_ERR_INVAL;
		goto out;
	}
	rc = host_check(app, h, &rel, why, whylen);
	if (rc)
		goto out;
	char uid[RM_ULID_BUF];
	rm_ulid_new(uid);
	rc = record_start(app, h, uid, actor, run_id, &rel);
	if (rc) {
		rmj_seterr(why, whylen, "database error");
		rc = RM_ERR_DB;
		goto out;
	}
	json_t *p =
	    json_pack("{s:s,s:s,s:s,s:s,s:s}", "update_id", uid, "version", rel.m.version, "path",
	              rel.path, "manifest", rel.manifest, "signature", rel.signature);
	rc = presence_send(app->presence, host_id, RM_MSG_COMMAND_UPDATE, p);
	if (rc) {
		finish(app, host_id, uid, "failed", "the agent went offline before the command");
		rmj_seterr(why, whylen, "the host went offline");
		rc = RM_ERR_AGAIN;
		goto out;
	}
	inflight_add(app, host_id, uid, run_id);
	RM_INFO("agent update sent", "host_id", host_id, "update_id", uid, "from",
	        rmj_str(h, "agent_version"), "to", rel.m.version);
	notify_host_changed(app->notify, host_id);
out:
	update_release_cleanup(&rel);
	json_decref(h);
	return rc;
}

/* ---------------------------------------------------------------- agent events */

void update_on_status(struct app *app, const char *host_id, const json_t *p)
{
	const char *uid = rmj_str(p, "update_id"), *state = rmj_str(p, "state");
	const char *err = rmj_str(p, "error");
	if (!uid || !state)
		return;
	json_t *cur = store_update_get(app->store, host_id);
	int known = cur && !strcmp(rmj_str(cur, "update_id") ? rmj_str(cur, "update_id") : "", uid);
	const char *cs = known ? rmj_str(cur, "state") : NULL;
	int live = cs && STORE_UPDATE_IN_FLIGHT(cs);
	if (!known) {
		RM_DEBUG("update.status for an unknown update ignored", "host_id", host_id);
	} else if (!strcmp(state, "failed") || !strcmp(state, "rolled_back")) {
		if (live) {
			finish(app, host_id, uid, state,
			       err ? err : "the agent refused the update");
		} else if (!strcmp(state, "rolled_back") && err &&
		           !store_update_set_state(app->store, host_id, uid, state, err,
		                                   rm_now_ms())) {
			/* the re-hello already ended it; the agent's report says why */
			notify_host_changed(app->notify, host_id);
		}
	} else if (!strcmp(state, "succeeded")) {
		if (live)
			finish(app, host_id, uid, "succeeded", NULL);
	} else if (live) {
		if (!store_update_set_state(app->store, host_id, uid, state, NULL, rm_now_ms()))
			notify_host_changed(app->notify, host_id);
	}
	json_decref(cur);
}

void update_on_hello(struct app *app, const char *host_id, const char *agent_version)
{
	json_t *cur = store_update_get(app->store, host_id);
	const char *st = cur ? rmj_str(cur, "state") : NULL;
	if (!st || !STORE_UPDATE_IN_FLIGHT(st)) {
		json_decref(cur);
		return;
	}
	const char *uid = rmj_str(cur, "update_id"), *target = rmj_str(cur, "target_version");
	if (agent_version && target && !strcmp(agent_version, target)) {
		finish(app, host_id, uid, "succeeded", NULL);
	} else if (!strcmp(st, "restarting")) {
		char msg[160];
		snprintf(msg, sizeof msg, "the agent came back with version %s (rolled back)",
		         agent_version ? agent_version : "?");
		finish(app, host_id, uid, "rolled_back", msg);
	}
	/* pending..verifying: the agent reconnected before restarting; keep waiting */
	json_decref(cur);
}
