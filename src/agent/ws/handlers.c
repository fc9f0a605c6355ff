/* Messages from the server (see docs/internals/messages.md): decode, dispatch, answer.
 * Loop thread only; works without a connection (replies are then dropped). */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/host.h"
#include "agent/runner/runner.h"
#include "agent/scheduler/scheduler.h"
#include "agent/secrets.h"
#include "agent/upgrade.h"
#include "agent/ws/agent_int.h"
#include "agent/ws/backoff.h"
#include "agent/ws/outbox.h"
#include "agent/version.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/rmtime.h"

void agent_send_hello(struct agent *a)
{
	json_t *running = json_array();
	if (a->runner)
		runner_active_ids(a->runner, running);
	if (a->ob)
		outbox_terminal_job_ids(a->ob, running);
	char boot[RM_TIME_STRLEN];
	rm_time_fmt(a->boot_ms, boot);
	char tz[65];
	host_timezone(tz, sizeof tz);
	json_t *p = json_pack(
	    "{s:i,s:s,s:s,s:s,s:s,s:s,s:o,s:s,s:s,s:I,s:I,s:I}", "protocol_version",
	    RM_PROTO_VERSION, "agent_version", rm_agent_version, "restic_version",
	    a->restic_version ? a->restic_version : "", "hostname", a->hostname, "os", "linux",
	    "arch", host_arch(), "running_jobs", running, "boot_time", boot, "timezone", tz,
	    "utc_offset_s", (json_int_t)host_utc_offset_s(), "schedule_version",
	    (json_int_t)scheduler_version(a->sched), "uid", (json_int_t)geteuid());
	agent_send_msg(a, RM_MSG_HELLO, p);
	a->hello_sent = 1;
}

static void hello_acknowledged(struct agent *a)
{
	if (a->hello_acked || a->proto_mismatch)
		return;
	a->hello_acked = 1;
	a->mismatch_logged = 0;
	backoff_reset(&a->bo);
	agent_trim_heap(a);
	agent_update_on_hello_acked(a);
}

static void handle_ack(struct agent *a, const json_t *p)
{
	const json_t *ids = json_object_get(p, "ids");
	size_t i, n = 0;
	json_t *v;
	json_array_foreach (ids, i, v) {
		if (a->ob && json_is_string(v))
			n += (size_t)outbox_ack(a->ob, json_string_value(v));
	}
	if (n)
		agent_arm_flush(a);
	/* C6: agents enrolled before release keys existed pin the key their authenticated
	 * server names on first use (TOFU); a pinned key is never replaced this way */
	const char *pk = rmj_str(p, "update_pubkey");
	if (pk && a->state_dir) {
		int rc = upgrade_key_pin(a->state_dir, pk, 0);
		if (rc == RM_ERR_CONFLICT && !a->key_conflict_logged) {
			RM_WARN("the server names another agent release key than the pinned one; "
			        "keeping the pinned key (re-enroll to change it)");
			a->key_conflict_logged = 1;
		}
	}
	hello_acknowledged(a);
}

static void handle_config_update(struct agent *a, const json_t *p)
{
	const char *slot = rmj_str(p, "slot");
	if (!slot)
		slot = "repo";
	if (strcmp(slot, "repo") != 0) {
		/* the admin credential is never stored on the host: it comes with each job */
		RM_WARN("config.update for a non-repo slot ignored", "slot", slot);
		return;
	}
	const char *pw = rmj_str(p, "repo_password");
	if (pw)
		rm_log_add_secret(pw);
	if (!a->sec) {
		RM_WARN("config.update ignored: no secrets store");
		return;
	}
	int rc = secrets_update(a->sec, slot, p);
	const char *url = rmj_str(p, "repo_url");
	char *red = url ? rm_redact_url(url) : NULL;
	if (rc)
		RM_ERROR("cannot store repository credentials", "slot", slot, "error",
		         rm_strerror(rc));
	else
		RM_INFO("repository credentials updated", "slot", slot, "repo", red ? red : "");
	free(red);
	hello_acknowledged(a);
}

int agent_submit_job(struct agent *a, const char *job_id, const char *kind, const json_t *args,
                     const json_t *started_extra, const char **why)
{
	struct secrets_slot s;
	struct runner_creds creds = { 0 }, *cp = NULL;
	/* forget/prune with the admin slot: the server sends it inside command.run, just in
	 * time; it lives only in this job's memory (the runner wipes it) and never on disk.
	 * A cross-host restore brings a one-job read credential for the source host's
	 * repository the same way. */
	const json_t *adm = json_object_get(args, "admin_credentials");
	const json_t *src = json_object_get(args, "source_repo");
	if (!((!strcmp(kind, "prune") || !strcmp(kind, "forget")) && json_is_object(adm)))
		adm = !strcmp(kind, "restore") && json_is_object(src) ? src : NULL;
	if (adm && rmj_str(adm, "repo_url") && rmj_str(adm, "repo_password")) {
		creds.repo_url = rmj_str(adm, "repo_url");
		creds.repo_username = rmj_str(adm, "repo_username");
		creds.repo_password = rmj_str(adm, "repo_password");
		cp = &creds;
	} else if (a->sec && !secrets_get(a->sec, "repo", &s)) {
		creds.repo_url = s.repo_url;
		creds.repo_username = s.repo_username;
		creds.repo_password = s.repo_password;
		cp = &creds;
	}
	int rc = a->runner ? runner_submit_ex(a->runner, job_id, kind, args, cp, started_extra)
	                   : RM_ERR_INVAL;
	*why = NULL;
	if (!a->runner)
		*why = "job runner unavailable";
	else if (rc == RM_ERR_CONFLICT)
		*why = "job already queued or running";
	else if (rc == RM_ERR_INVAL)
		*why = "unsupported job kind or invalid arguments";
	else if (rc == RM_ERR_NOTFOUND)
		*why = "restic not found on the agent";
	else if (rc)
		*why = rm_strerror(rc);
	return rc;
}

static void handle_command_run(struct agent *a, const json_t *p)
{
	const char *job_id = rmj_str(p, "job_id");
	const char *kind = rmj_str(p, "kind");
	const json_t *args = json_object_get(p, "args");
	json_t *empty = NULL;
	if (!json_is_object(args))
		args = empty = json_object();
	const char *err = NULL;
	int rc = agent_submit_job(a, job_id, kind, args, NULL, &err);
	RM_INFO(rc ? "command rejected" : "command accepted", "job_id", job_id, "kind", kind,
	        "error", err);
	json_t *r = json_pack("{s:s,s:b}", "job_id", job_id, "accepted", rc == RM_OK);
	if (err)
		json_object_set_new(r, "error", json_string(err));
	agent_send_msg(a, RM_MSG_COMMAND_RESULT, r);
	json_decref(empty);
	hello_acknowledged(a);
}

/* Validated, stored, in force, acknowledged; or refused with the last good spec kept. */
static void handle_schedule_set(struct agent *a, const struct rm_envelope *env)
{
	char err[512] = "";
	int rc = a->sched
	             ? scheduler_apply(a->sched, env->payload, (int64_t)time(NULL), err, sizeof err)
	             : RM_ERR_IO;
	char v[24];
	snprintf(v, sizeof v, "%lld", rmj_int(env->payload, "version", 0));
	if (rc) {
		if (!err[0])
			rm_strlcpy(err, "the agent has no scheduler", sizeof err);
		RM_WARN("schedule.set refused; keeping the last good spec", "version", v, "error",
		        err);
		agent_send_error(a, "schedule_invalid", err, env->id);
	} else {
		char now[RM_TIME_STRLEN];
		rm_time_fmt(rm_now_ms(), now);
		RM_INFO("schedule spec applied", "version", v);
		agent_send_msg(a, RM_MSG_SCHEDULE_ACK,
		               json_pack("{s:I,s:s}", "version",
		                         (json_int_t)scheduler_version(a->sched), "applied_at",
		                         now));
	}
	hello_acknowledged(a);
}

static void handle_command_cancel(struct agent *a, const json_t *p)
{
	const char *job_id = rmj_str(p, "job_id");
	int rc = a->runner ? runner_cancel(a->runner, job_id) : RM_ERR_NOTFOUND;
	if (rc)
		RM_INFO("cancel for unknown job ignored", "job_id", job_id);
	else
		RM_INFO("job cancel requested", "job_id", job_id);
}

static void handle_error(struct agent *a, const json_t *p)
{
	const char *code = rmj_str(p, "code");
	const char *msg = rmj_str(p, "message");
	if (code && !strcmp(code, "protocol_version_unsupported")) {
		a->proto_mismatch = 1;
		if (!a->mismatch_logged) {
			/* The server's message names the side to upgrade; default: the agent. */
			const char *side =
			    msg && strstr(msg, "upgrade the server") ? "server" : "agent";
			char v[16];
			snprintf(v, sizeof v, "%d", RM_PROTO_VERSION);
			RM_ERROR(
			    !strcmp(side, "server")
			        ? "protocol version mismatch: the server is too old for this "
			          "agent; upgrade restic-manager-server (retrying every 10 min)"
			        : "protocol version mismatch: the server no longer supports "
			          "this agent; upgrade restic-manager-agent (retrying every 10 "
			          "min)",
			    "agent_protocol_version", v, "agent_version", rm_agent_version,
			    "upgrade", side, "server_message", msg);
			a->mismatch_logged = 1;
		}
		return;
	}
	RM_WARN("server reported an error", "code", code, "message", msg, "ref_id",
	        rmj_str(p, "ref_id"));
}

/* The frame cap (RM_PROTO_MAX_FRAME, 1 MiB) bounds a preview: at most this many snapshots
 * per list, the newest (restic lists them newest first), each without its paths and
 * hostname (the preview shows id, time, tags and reasons): ~200 bytes a snapshot. */
#define PREVIEW_LIST_MAX 1000

static int trim_list(json_t *res, const char *key)
{
	json_t *l = json_object_get(res, key);
	size_t i;
	json_t *e;
	json_array_foreach (l, i, e) {
		json_object_del(e, "paths");
		json_object_del(e, "hostname");
	}
	if (json_array_size(l) <= PREVIEW_LIST_MAX)
		return 0;
	while (json_array_size(l) > PREVIEW_LIST_MAX)
		json_array_remove(l, json_array_size(l) - 1);
	return 1;
}

static void preview_done(void *ud, const char *request_id, int rc, json_t *res, const char *error)
{
	struct agent *a = ud;
	if (rc) {
		RM_WARN("retention preview failed", "error", error);
		agent_rpc_error(a, RM_MSG_FORGET_PREVIEW_RESULT, request_id, "restic_failed",
		                error ? error : "restic forget --dry-run failed");
		json_decref(res);
		return;
	}
	int cut = trim_list(res, "keep");
	cut |= trim_list(res, "remove");
	if (cut)
		json_object_set_new(res, "truncated", json_true());
	agent_rpc_reply(a, RM_MSG_FORGET_PREVIEW_RESULT, request_id, res);
}

/* forget.preview: restic forget --dry-run with the proposed retention, everyday slot
 * (read-only, so an append-only credential is enough). */
static void handle_forget_preview(struct agent *a, const struct rm_envelope *env)
{
	struct secrets_slot s;
	struct runner_creds creds = { 0 }, *cp = NULL;
	if (a->sec && !secrets_get(a->sec, "repo", &s)) {
		creds.repo_url = s.repo_url;
		creds.repo_username = s.repo_username;
		creds.repo_password = s.repo_password;
		cp = &creds;
	}
	char err[256] = "runner unavailable";
	int rc = a->runner ? runner_forget_preview(a->runner, env->payload, cp, env->id,
	                                           preview_done, a, err, sizeof err)
	                   : RM_ERR_INVAL;
	if (rc)
		agent_rpc_error(a, RM_MSG_FORGET_PREVIEW_RESULT, env->id,
		                rc == RM_ERR_AGAIN   ? "busy"
		                : rc == RM_ERR_INVAL ? "invalid"
		                                     : "unavailable",
		                err);
}

int agent_handle_frame(struct agent *a, const char *buf, size_t len)
{
	struct rm_envelope env;
	char err[256] = "";
	int rc = proto_decode(buf, len, &env, err, sizeof err);
	a->last_rx = rm_mono_ms();
	if (rc == RM_ERR_UNKNOWN) {
		RM_DEBUG("unknown message type ignored", "type", env.type_name, "id", env.id);
		goto out;
	}
	if (rc) {
		RM_WARN("malformed frame from server", "error", err[0] ? err : rm_strerror(rc));
		agent_send_error(a, rc == RM_ERR_TOOBIG ? "too_big" : "malformed",
		                 err[0] ? err : rm_strerror(rc), env.id);
		goto out;
	}
	const struct rm_msg_desc *d = proto_msg_desc(env.type);
	if (!d || !(d->dir & RM_DIR_S2A)) {
		RM_DEBUG("message not meant for the agent ignored", "type", env.type_name);
		goto out;
	}
	switch (env.type) {
	case RM_MSG_ACK: handle_ack(a, env.payload); break;
	case RM_MSG_CONFIG_UPDATE: handle_config_update(a, env.payload); break;
	case RM_MSG_COMMAND_RUN: handle_command_run(a, env.payload); break;
	case RM_MSG_SCHEDULE_SET: handle_schedule_set(a, &env); break;
	case RM_MSG_COMMAND_CANCEL: handle_command_cancel(a, env.payload); break;
	case RM_MSG_ERROR: handle_error(a, env.payload); break;
	case RM_MSG_FORGET_PREVIEW: handle_forget_preview(a, &env); break;
	case RM_MSG_COMMAND_UPDATE: agent_handle_update(a, &env); break;
	case RM_MSG_TREE_LIST:
	case RM_MSG_SNAPSHOT_DIFF:
	case RM_MSG_STREAM_OPEN:
	case RM_MSG_STREAM_ACK:
	case RM_MSG_STREAM_CANCEL: agent_handle_browse(a, &env); break;
	default:
		RM_DEBUG("message type not handled by this agent yet", "type", env.type_name);
		break;
	}
out:
	if (env.type == RM_MSG_CONFIG_UPDATE || env.type == RM_MSG_SCHEDULE_SET ||
	    env.type == RM_MSG_COMMAND_RUN)
		rmj_wipe(env.root); /* credentials, hooks: now only in their encrypted stores
		                     * or the job's memory: the admin slot, a restore's
		                     * temporary credential) */
	proto_envelope_cleanup(&env);
	return rc;
}
