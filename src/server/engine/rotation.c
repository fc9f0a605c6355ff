/* Repository credentials replacement and password rotation (see rotation.h). */
#include "server/engine/rotation.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/crypto.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/rmtime.h"
#include "common/ulid.h"
#include "server/app.h"
#include "server/engine/creds.h"
#include "server/engine/notify.h"
#include "server/engine/presence.h"
#include "server/engine/repo_policy.h"
#include "server/store/store.h"

struct rotation {
	struct app *app;
	uv_timer_t kick;
	json_t *dirty; /* job ids changed since the last turn */
	int stopped;
};

/* ------------------------------------------------------------------ helpers */

static int job_is_active(struct app *app, const char *job_id)
{
	json_t *j = job_id && job_id[0] ? store_job_get(app->store, job_id) : NULL;
	const char *st = j ? rmj_str(j, "status") : NULL;
	int active = st && (!strcmp(st, "queued") || !strcmp(st, "running"));
	json_decref(j);
	return active;
}

int rotation_active(struct app *app, const char *host_id)
{
	struct store_rotation rot;
	if (store_rotation_get(app->store, host_id, &rot))
		return 0;
	int active = job_is_active(app, rot.job_id);
	store_rotation_cleanup(&rot);
	return active;
}

json_t *rotation_view(struct app *app, const char *host_id)
{
	struct store_rotation rot;
	if (store_rotation_get(app->store, host_id, &rot))
		return json_null();
	char a[RM_TIME_STRLEN], b[RM_TIME_STRLEN];
	rm_time_fmt(rot.started_ms, a);
	rm_time_fmt(rot.updated_ms, b);
	json_t *o = json_pack("{s:s,s:s?,s:b,s:s?,s:s?,s:s?,s:s,s:s,s:s?}", "state", rot.state,
	                      "error", rot.error, "active", job_is_active(app, rot.job_id),
	                      "old_key_id", rot.old_key_id[0] ? rot.old_key_id : NULL, "new_key_id",
	                      rot.new_key_id[0] ? rot.new_key_id : NULL, "job_id",
	                      rot.job_id[0] ? rot.job_id : NULL, "started_at", a, "updated_at", b,
	                      "started_by", rot.started_by[0] ? rot.started_by : NULL);
	store_rotation_cleanup(&rot);
	return o;
}

/* Creates job `kind` (stored args: none of the secrets) and sends it with wire args. On a
 * dispatch failure the job is failed at once. */
static int dispatch(struct app *app, const char *host_id, const char *kind, const json_t *stored,
                    json_t *wire, const char *actor, char job_id[RM_ULID_BUF])
{
	int rc = store_job_create(app->store, host_id, kind, stored, actor, job_id);
	if (rc)
		return rc;
	rc = presence_send_command(app->presence, host_id, job_id, kind, wire);
	if (rc)
		store_job_finish(app->store, job_id, "failed", -1, "dispatch to agent failed", NULL,
		                 rm_now_ms());
	notify_job_changed(app->notify, job_id);
	return RM_OK;
}

static int is_key_id(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return n >= 8 && n <= 64 && strspn(s, "0123456789abcdef") == n;
}

/* ------------------------------------------------------------------ begin */

/* The stored repo credentials with repo_password replaced; NULL + *why when there are none
 * or their password is also a rest-server login (a rotation would lock the agent out). */
static json_t *next_creds(struct app *app, const char *host_id, const char *pw, const char **why)
{
	json_t *cur = NULL;
	if (creds_get(app->store, app->key, host_id, "repo", &cur)) {
		*why = "the host has no readable repository credentials";
		return NULL;
	}
	const char *user = rmj_str(cur, "repo_username");
	const char *url = rmj_str(cur, "repo_url");
	if (user && user[0] && url && !strncmp(url, "rest:", 5)) {
		creds_free(cur);
		*why = "the repository password is also this host's rest-server login: change "
		       "both with PUT repo-credentials instead";
		return NULL;
	}
	json_t *next = json_deep_copy(cur);
	creds_free(cur);
	json_object_set_new(next, "repo_password", json_string(pw));
	json_object_del(next, "generated");
	return next;
}

int rotation_begin(struct app *app, const char *host_id, const char *new_password,
                   const char *actor, int *status, const char **code, const char **why)
{
	char repo_status[16] = "";
	*status = 409;
	*code = "conflict";
	if (!presence_is_connected(app->presence, host_id)) {
		*code = "host_offline";
		*why = "the host's agent is not connected";
		return RM_ERR_CONFLICT;
	}
	if (store_host_repo_status(app->store, host_id, repo_status) ||
	    strcmp(repo_status, "ready")) {
		*code = "repo_not_ready";
		*why = "the repository is not ready: fix its credentials first";
		return RM_ERR_CONFLICT;
	}
	if (rotation_active(app, host_id)) {
		*code = "rotation_running";
		*why = "a rotation is already running";
		return RM_ERR_CONFLICT;
	}
	char *gen = new_password ? NULL : rm_random_token(24);
	const char *pw = new_password ? new_password : gen;
	rm_log_add_secret(pw);
	json_t *next = next_creds(app, host_id, pw, why);
	char *ct = NULL;
	int rc = next ? creds_seal(app->key, host_id, "repo", next, &ct) : RM_ERR_CONFLICT;
	if (!next)
		*code = "rotation_unsupported";
	struct store_rotation rot = { .started_ms = rm_now_ms() };
	char job_id[RM_ULID_BUF] = "";
	if (!rc) {
		/* (a) the new password is stored before anything can make it the only one */
		rc = store_tx_begin(app->store);
		if (!rc)
			rc = store_job_create(app->store, host_id, "key_add", NULL, actor, job_id);
		rm_strlcpy(rot.state, "pending", sizeof rot.state);
		rm_strlcpy(rot.job_id, job_id, sizeof rot.job_id);
		rm_strlcpy(rot.started_by, actor ? actor : "", sizeof rot.started_by);
		rot.new_ct = ct;
		rot.updated_ms = rot.started_ms;
		if (!rc)
			rc = store_rotation_put(app->store, host_id, &rot);
		json_t *d = json_pack("{s:s}", "job_id", job_id);
		if (!rc)
			rc =
			    store_audit(app->store, actor, "host.repo_password.rotate", host_id, d);
		json_decref(d);
		rc = store_tx_end(app->store, rc);
		if (rc) {
			*status = 503;
			*code = "unavailable";
			*why = "storing the new password failed";
		}
	}
	if (!rc) {
		/* (b) the new password travels in this command.run only (wiped after) */
		json_t *wire = json_pack("{s:s}", "new_password", pw);
		if (presence_send_command(app->presence, host_id, job_id, "key_add", wire)) {
			store_job_finish(app->store, job_id, "failed", -1,
			                 "dispatch to agent failed", NULL, rm_now_ms());
			/* the job's end moves the rotation to failed */
		}
		rmj_wipe(wire);
		json_decref(wire);
		notify_job_changed(app->notify, job_id);
		notify_host_changed(app->notify, host_id);
		RM_INFO("repository password rotation started", "host_id", host_id, "job_id",
		        job_id);
	}
	free(ct);
	if (next)
		creds_free(next);
	if (gen) {
		sodium_memzero(gen, strlen(gen));
		free(gen);
	}
	return rc;
}

/* ------------------------------------------------------------------ progress */

static void rot_save(struct app *app, const char *host_id, struct store_rotation *rot,
                     const char *state, const char *error)
{
	rm_strlcpy(rot->state, state, sizeof rot->state);
	free(rot->error);
	rot->error = error ? rm_xstrdup(error) : NULL;
	rot->updated_ms = rm_now_ms();
	int rc = store_rotation_put(app->store, host_id, rot);
	if (rc)
		RM_ERROR("saving the rotation state failed", "host_id", host_id, "err",
		         rm_strerror(rc));
	/* the outcome is audited too (the start is, by the admin who asked) */
	const char *action = !strcmp(state, "old_removed") ? "host.repo_password.rotated"
	                     : !strcmp(state, "failed")    ? "host.repo_password.rotation_failed"
	                     : error ? "host.repo_password.rotation_incomplete"
	                             : NULL;
	if (action) {
		json_t *d = json_pack("{s:s?,s:s?,s:s?}", "old_key_id",
		                      rot->old_key_id[0] ? rot->old_key_id : NULL, "new_key_id",
		                      rot->new_key_id[0] ? rot->new_key_id : NULL, "error", error);
		store_audit(app->store, "system", action, host_id, d);
		json_decref(d);
	}
	RM_INFO("repository password rotation", "host_id", host_id, "state", state, "error", error);
}

/* (c) the key was added and the new password opens the repository: make it current
 * (keeping the previous credentials until the old key is gone), push it, and let
 * key_remove confirm and remove. */
static void after_key_add(struct app *app, const char *host_id, struct store_rotation *rot,
                          const json_t *job)
{
	const json_t *stats = json_object_get(job, "stats");
	const char *old_id = rmj_str(stats, "old_key_id"), *new_id = rmj_str(stats, "new_key_id");
	if (strcmp(rmj_str(job, "status"), "succeeded") != 0 || !is_key_id(old_id) ||
	    !is_key_id(new_id) || !rot->new_ct) {
		const char *e = rmj_str(job, "error");
		char *msg = rm_xasprintf("adding the new key failed: %s; the old password is "
		                         "still current",
		                         e ? e : "no key ids reported");
		free(rot->new_ct);
		rot->new_ct = NULL;
		rot_save(app, host_id, rot, "failed", msg);
		free(msg);
		return;
	}
	rm_strlcpy(rot->old_key_id, old_id, sizeof rot->old_key_id);
	rm_strlcpy(rot->new_key_id, new_id, sizeof rot->new_key_id);
	char *old_ct = NULL;
	int rc = store_tx_begin(app->store);
	if (!rc)
		rc = store_cred_get(app->store, host_id, "repo", &old_ct);
	if (!rc)
		rc = store_cred_put(app->store, host_id, "repo", rot->new_ct);
	if (!rc) {
		free(rot->old_ct);
		rot->old_ct = old_ct;
		old_ct = NULL;
		free(rot->new_ct);
		rot->new_ct = NULL;
		rot_save(app, host_id, rot, "switched", NULL);
	}
	rc = store_tx_end(app->store, rc);
	free(old_ct);
	if (rc) {
		rot_save(app, host_id, rot, "added", "switching to the new password failed");
		return;
	}
	repo_policy_push(app, host_id); /* config.update with the new password */
	json_t *args =
	    json_pack("{s:s,s:s}", "key_id", rot->old_key_id, "expect_key_id", rot->new_key_id);
	char job_id[RM_ULID_BUF] = "";
	rc = dispatch(app, host_id, "key_remove", args, args, "system", job_id);
	json_decref(args);
	if (!rc) {
		rm_strlcpy(rot->job_id, job_id, sizeof rot->job_id);
		rot_save(app, host_id, rot, "switched", NULL);
	}
}

const char *rotation_removal_reason(const char *job_error)
{
	const char *e = job_error;
	/* rest-server --append-only and rclone serve restic --append-only answer the DELETE
	 * with 403 Forbidden */
	if (e && (strstr(e, "append-only") || strstr(e, "append only") || strstr(e, "403") ||
	          strstr(e, "Forbidden") || strstr(e, "forbidden")))
		return "repository is append-only";
	return e && e[0] ? e : "restic key remove failed";
}

/* (d) the old key is gone, or the agent could not use the new password (restore the
 * previous credentials), or the repository refused the removal. */
static void after_key_remove(struct app *app, const char *host_id, struct store_rotation *rot,
                             const json_t *job)
{
	const json_t *stats = json_object_get(job, "stats");
	const char *e = rmj_str(job, "error");
	if (!strcmp(rmj_str(job, "status"), "succeeded")) {
		free(rot->old_ct);
		rot->old_ct = NULL;
		rot_save(app, host_id, rot, "old_removed", NULL);
		return;
	}
	if (json_is_true(json_object_get(stats, "confirmed"))) {
		char *msg = rm_xasprintf("completed except removing the old key: %s",
		                         rotation_removal_reason(e));
		rot_save(app, host_id, rot, "switched", msg);
		free(msg);
		return;
	}
	/* not confirmed: the previous credentials become current again */
	int rc = rot->old_ct ? store_cred_put(app->store, host_id, "repo", rot->old_ct)
	                     : RM_ERR_NOTFOUND;
	char *msg = rm_xasprintf("the agent could not use the new password (%s); %s",
	                         e ? e : "not confirmed",
	                         rc ? "restoring the previous password failed"
	                            : "the previous password is current again");
	if (!rc) {
		free(rot->old_ct);
		rot->old_ct = NULL;
	}
	rot_save(app, host_id, rot, "failed", msg);
	free(msg);
	if (!rc)
		repo_policy_push(app, host_id);
}

static void job_changed(struct app *app, const char *job_id)
{
	json_t *job = store_job_get(app->store, job_id);
	const char *kind = job ? rmj_str(job, "kind") : NULL;
	const char *status = job ? rmj_str(job, "status") : NULL;
	const char *host_id = job ? rmj_str(job, "host_id") : NULL;
	struct store_rotation rot;
	if (!kind || !status || !host_id ||
	    (strcmp(kind, "key_add") && strcmp(kind, "key_remove")) || !strcmp(status, "queued") ||
	    !strcmp(status, "running") || store_rotation_get(app->store, host_id, &rot)) {
		json_decref(job);
		return;
	}
	if (!strcmp(rot.job_id, job_id)) {
		if (!strcmp(kind, "key_add") && !strcmp(rot.state, "pending"))
			after_key_add(app, host_id, &rot, job);
		else if (!strcmp(kind, "key_remove") && !strcmp(rot.state, "switched"))
			after_key_remove(app, host_id, &rot, job);
		notify_host_changed(app->notify, host_id);
	}
	store_rotation_cleanup(&rot);
	json_decref(job);
}

/* ------------------------------------------------------------------ lifecycle */

static void kick_cb(uv_timer_t *t)
{
	struct rotation *ro = t->data;
	json_t *ids = ro->dirty;
	ro->dirty = json_object();
	const char *id;
	json_t *v;
	json_object_foreach (ids, id, v)
		job_changed(ro->app, id);
	json_decref(ids);
}

static void on_job(void *ud, enum notify_kind kind, const char *id)
{
	struct rotation *ro = ud;
	if (ro->stopped || kind != NOTIFY_JOB)
		return;
	json_object_set_new(ro->dirty, id, json_true());
	uv_timer_start(&ro->kick, kick_cb, 0, 0);
}

void rotation_engine_start(struct app *app)
{
	struct rotation *ro = rm_xcalloc(1, sizeof *ro);
	ro->app = app;
	ro->dirty = json_object();
	uv_timer_init(app->loop, &ro->kick);
	ro->kick.data = ro;
	notify_subscribe(app->notify, NOTIFY_JOB, on_job, ro);
	app->rotation = ro;
}

void rotation_engine_stop(struct app *app)
{
	struct rotation *ro = app ? app->rotation : NULL;
	if (!ro || ro->stopped)
		return;
	ro->stopped = 1;
	notify_unsubscribe(app->notify, on_job, ro);
	uv_timer_stop(&ro->kick);
	uv_close((uv_handle_t *)&ro->kick, NULL);
}

void rotation_engine_free(struct app *app)
{
	struct rotation *ro = app ? app->rotation : NULL;
	if (!ro)
		return;
	json_decref(ro->dirty);
	free(ro);
	app->rotation = NULL;
}

/* ------------------------------------------------------------------ replace */

int repo_creds_replace(struct app *app, const char *host_id, const json_t *creds, const char *actor)
{
	char *ct = NULL;
	int rc = creds_seal(app->key, host_id, "repo", creds, &ct);
	if (rc)
		return rc;
	const char *pw = rmj_str(creds, "repo_password");
	if (pw && pw[0])
		rm_log_add_secret(pw);
	char *red = rm_redact_url(rmj_str(creds, "repo_url"));
	rc = store_tx_begin(app->store);
	if (!rc)
		rc = store_cred_put(app->store, host_id, "repo", ct);
	if (!rc)
		rc = store_host_set_repo_status(app->store, host_id, "unknown", NULL);
	const char *user = rmj_str(creds, "repo_username");
	json_t *d =
	    json_pack("{s:s,s:s}", "repo_url", red ? red : "", "repo_username", user ? user : "");
	if (!rc)
		rc = store_audit(app->store, actor, "host.repo_credentials.set", host_id, d);
	json_decref(d);
	rc = store_tx_end(app->store, rc);
	free(red);
	free(ct);
	if (rc)
		return rc;
	RM_INFO("repository credentials replaced", "host_id", host_id);
	repo_policy_push(app, host_id); /* offline: at the next hello */
	notify_host_changed(app->notify, host_id);
	return RM_OK;
}
