/* C6 rolling fleet update: host by host, halt on the first failure, cancel after the
 * current host. The run's per-host list lives in update_runs.hosts (JSON):
 * [{host_id, hostname, from_version, state, error}], state queued | updating | succeeded |
 * failed | rolled_back | skipped | not_started. One run at a time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/rmtime.h"
#include "common/ulid.h"
#include "server/app.h"
#include "server/engine/notify.h"
#include "server/engine/presence.h"
#include "server/engine/update_int.h"
#include "server/store/store.h"
#include "server/store/store_update.h"

static json_t *host_entry(json_t *hosts, const char *host_id)
{
	size_t i;
	json_t *e;
	json_array_foreach (hosts, i, e)
		if (!strcmp(rmj_str(e, "host_id") ? rmj_str(e, "host_id") : "", host_id))
			return e;
	return NULL;
}

static void set_entry(json_t *e, const char *state, const char *error)
{
	json_object_set_new(e, "state", json_string(state));
	json_object_set_new(e, "error", rmj_str_or_null(error));
}

/* Saves run (its fields as in the JSON) and tells browsers. */
static void save(struct app *app, json_t *run, int final)
{
	const char *state = rmj_str(run, "state");
	int rc = store_update_run_save(
	    app->store, rmj_str(run, "id"), state, json_object_get(run, "hosts"),
	    rmj_str(run, "current_host_id"), rmj_str(run, "halted_host_id"), rmj_str(run, "reason"),
	    json_is_true(json_object_get(run, "cancel_requested")), final ? rm_now_ms() : 0);
	if (rc)
		RM_ERROR("cannot save a fleet update run", "run_id", rmj_str(run, "id"), "err",
		         rm_strerror(rc));
	if (final) {
		struct update_engine *u = update_engine(app);
		if (u && !strcmp(u->run_id, rmj_str(run, "id") ? rmj_str(run, "id") : ""))
			u->run_id[0] = 0;
		json_t *d =
		    json_pack("{s:s,s:s?,s:s?}", "state", state, "halted_host_id",
		              rmj_str(run, "halted_host_id"), "reason", rmj_str(run, "reason"));
		store_audit(app->store, "system", "fleet.update_finished", rmj_str(run, "id"), d);
		json_decref(d);
		RM_INFO("fleet update finished", "run_id", rmj_str(run, "id"), "state", state,
		        "reason", rmj_str(run, "reason"));
	}
	notify_host_changed(app->notify,
	                    rmj_str(run, "current_host_id") ? rmj_str(run, "current_host_id") : "");
}

static void halt(json_t *run, const char *host_id, const char *hostname, const char *error)
{
	json_t *hosts = json_object_get(run, "hosts");
	char reason[700];
	snprintf(reason, sizeof reason, "%s: %s", hostname ? hostname : host_id,
	         error ? error : "update failed");
	json_object_set_new(run, "state", json_string("halted"));
	json_object_set_new(run, "halted_host_id", json_string(host_id));
	json_object_set_new(run, "reason", json_string(reason));
	json_object_set_new(run, "current_host_id", json_null());
	size_t i;
	json_t *e;
	json_array_foreach (hosts, i, e)
		if (!strcmp(rmj_str(e, "state"), "queued"))
			set_entry(e, "not_started", NULL);
}

/* Starts the next queued host; ends the run when none is left. Saves. */
static void advance(struct app *app, json_t *run)
{
	json_t *hosts = json_object_get(run, "hosts");
	if (json_is_true(json_object_get(run, "cancel_requested"))) {
		size_t i;
		json_t *e;
		json_array_foreach (hosts, i, e)
			if (!strcmp(rmj_str(e, "state"), "queued"))
				set_entry(e, "not_started", NULL);
		json_object_set_new(run, "state", json_string("cancelled"));
		json_object_set_new(run, "current_host_id", json_null());
		save(app, run, 1);
		return;
	}
	size_t i;
	json_t *e;
	json_array_foreach (hosts, i, e) {
		if (strcmp(rmj_str(e, "state"), "queued") != 0)
			continue;
		const char *hid = rmj_str(e, "host_id");
		char why[300] = "";
		int rc = update_host_start(app, hid, rmj_str(run, "created_by"), rmj_str(run, "id"),
		                           why, sizeof why);
		if (rc == RM_OK) {
			set_entry(e, "updating", NULL);
			json_object_set_new(run, "current_host_id", json_string(hid));
			save(app, run, 0);
			return;
		}
		if (rc == RM_ERR_AGAIN || rc == RM_ERR_CONFLICT) { /* offline / already there */
			set_entry(e, "skipped", why);
			continue;
		}
		set_entry(e, "failed", why);
		halt(run, hid, rmj_str(e, "hostname"), why);
		save(app, run, 1);
		return;
	}
	json_object_set_new(run, "state", json_string("succeeded"));
	json_object_set_new(run, "current_host_id", json_null());
	save(app, run, 1);
}

void update_run_host_done(struct app *app, const char *run_id, const char *host_id,
                          const char *state, const char *error)
{
	json_t *run = store_update_run_get(app->store, run_id);
	if (!run || strcmp(rmj_str(run, "state"), "running") != 0) {
		json_decref(run);
		return;
	}
	json_t *e = host_entry(json_object_get(run, "hosts"), host_id);
	if (e)
		set_entry(e, state, error);
	if (!strcmp(state, "succeeded"))
		advance(app, run);
	else {
		halt(run, host_id, e ? rmj_str(e, "hostname") : NULL, error);
		save(app, run, 1);
	}
	json_decref(run);
}

/* Does host h belong to the selection? */
static int selected(const json_t *h, const json_t *host_ids, const char *tag)
{
	const char *id = rmj_str(h, "id");
	if (json_is_array(host_ids)) {
		size_t i;
		json_t *v;
		int in = 0;
		json_array_foreach (host_ids, i, v)
			in |= json_is_string(v) && !strcmp(json_string_value(v), id);
		if (!in)
			return 0;
	}
	if (tag && *tag) {
		size_t i;
		json_t *v;
		int in = 0;
		json_array_foreach (json_object_get(h, "tags"), i, v)
			in |= json_is_string(v) && !strcmp(json_string_value(v), tag);
		if (!in)
			return 0;
	}
	return 1;
}

/* The release version for os/arch, read and verified once per plan (a fleet has a few
 * platforms, not one per host). NULL: none. */
static const char *plan_version(struct app *app, json_t *memo, const char *os, const char *arch)
{
	char key[64];
	snprintf(key, sizeof key, "%s/%s", os ? os : "linux", arch ? arch : "");
	json_t *v = json_object_get(memo, key);
	if (!v) {
		struct update_release rel = { 0 };
		v = update_release_load(app, os ? os : "linux", arch ? arch : "", &rel, NULL, 0)
		        ? json_null()
		        : json_string(rel.m.version);
		update_release_cleanup(&rel);
		json_object_set_new(memo, key, v);
	}
	return json_string_value(v);
}

/* The run's host list: every selected host whose agent differs from its release. */
static json_t *plan(struct app *app, const json_t *host_ids, const char *tag, char *target,
                    size_t tlen)
{
	json_t *all = store_hosts_list(app->store);
	json_t *out = json_array(), *memo = json_object();
	size_t i;
	json_t *h;
	json_array_foreach (json_object_get(all, "hosts"), i, h) {
		if (!selected(h, host_ids, tag))
			continue;
		const char *av = rmj_str(h, "agent_version");
		const char *rv = plan_version(app, memo, rmj_str(h, "os"), rmj_str(h, "arch"));
		if (!rv || (av && !strcmp(av, rv)))
			continue;
		if (!target[0])
			rm_strlcpy(target, rv, tlen);
		int online = presence_is_connected(app->presence, rmj_str(h, "id"));
		json_array_append_new(
		    out, json_pack("{s:s,s:s?,s:s?,s:s,s:s,s:s?}", "host_id", rmj_str(h, "id"),
		                   "hostname", rmj_str(h, "hostname"), "from_version", av,
		                   "target_version", rv, "state", online ? "queued" : "skipped",
		                   "error", online ? NULL : "offline when the run started"));
	}
	json_decref(memo);
	json_decref(all);
	return out;
}

int update_run_start(struct app *app, const json_t *host_ids, const char *tag, const char *actor,
                     char run_id[32], char *why, size_t whylen)
{
	struct update_engine *u = update_engine(app);
	if (u->run_id[0]) {
		rmj_seterr(why, whylen, "a fleet update is already running");
		return RM_ERR_CONFLICT;
	}
	char target[65] = "";
	json_t *hosts = plan(app, host_ids, tag, target, sizeof target);
	if (!json_array_size(hosts)) {
		json_decref(hosts);
		rmj_seterr(why, whylen,
		           update_pubkey(app) ? "no host needs an update"
		                              : "agent updates are off: no release key");
		return update_pubkey(app) ? RM_ERR_NOTFOUND : RM_ERR_INVAL;
	}
	char id[RM_ULID_BUF];
	rm_ulid_new(id);
	int rc = store_begin(app->store);
	if (!rc)
		rc = store_update_run_insert(app->store, id, target, hosts, actor, rm_now_ms());
	if (!rc) {
		json_t *d = json_pack("{s:s,s:I,s:s?}", "target_version", target, "hosts",
		                      (json_int_t)json_array_size(hosts), "tag", tag);
		rc = store_audit(app->store, actor, "fleet.update", id, d);
		json_decref(d);
	}
	if (!rc)
		rc = store_commit(app->store);
	json_decref(hosts);
	if (rc) {
		store_rollback(app->store);
		rmj_seterr(why, whylen, "database error");
		return RM_ERR_DB;
	}
	rm_strlcpy(u->run_id, id, sizeof u->run_id);
	rm_strlcpy(run_id, id, 32);
	RM_INFO("fleet update started", "run_id", id, "target_version", target, "actor", actor);
	json_t *run = store_update_run_get(app->store, id);
	if (run)
		advance(app, run);
	json_decref(run);
	return RM_OK;
}

int update_run_cancel(struct app *app, const char *run_id, const char *actor)
{
	json_t *run = store_update_run_get(app->store, run_id);
	if (!run || strcmp(rmj_str(run, "state"), "running") != 0) {
		json_decref(run);
		return RM_ERR_NOTFOUND;
	}
	json_object_set_new(run, "cancel_requested", json_true());
	store_audit(app->store, actor, "fleet.update_cancel", run_id, NULL);
	if (!rmj_str(run, "current_host_id"))
		advance(app, run); /* nothing in flight: ends now */
	else
		save(app, run, 0);
	json_decref(run);
	return RM_OK;
}
