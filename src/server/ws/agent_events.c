/* The agent socket's job events: queued per loop turn, persisted in one transaction
 * (redacted of the host's secrets first), acknowledged per connection after the commit,
 * then fanned out to live viewers and change subscribers. */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/ulid.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/rmtime.h"
#include "server/app.h"
#include "server/engine/host_secrets.h"
#include "server/engine/notify.h"
#include "server/engine/policy.h"
#include "server/engine/repo_policy.h"
#include "server/http/http.h"
#include "server/store/store.h"
#include "server/ws/agent_hub_int.h"
#include "server/ws/job_hub.h"

/* ---------------------------------------------------------------- event queue */

int agent_job_owned(struct agent_conn *c, const char *job_id)
{
	if (!job_id)
		return RM_ERR_NOTFOUND;
	if (strcmp(c->last_job, job_id) == 0)
		return RM_OK;
	char host[RM_ULID_BUF];
	int rc = store_job_host(c->hub->app->store, job_id, host);
	if (rc)
		return rc;
	if (strcmp(host, c->host_id) != 0) {
		RM_WARN("agent reported a job of another host", "host_id", c->host_id, "job_id",
		        job_id);
		return RM_ERR_NOTFOUND;
	}
	rm_strlcpy(c->last_job, job_id, sizeof c->last_job);
	return RM_OK;
}

static int64_t time_field(const json_t *o, const char *key, int64_t def)
{
	const char *s = rmj_str(o, key);
	int64_t ms;
	if (s && rm_time_parse(s, &ms) == RM_OK)
		return ms;
	return def;
}

/* Permanent, per-event problems are acknowledged (a replay would fail the same way);
 * only storage failures abort the batch. */
static int benign(int rc)
{
	return rc == RM_OK || rc == RM_ERR_NOTFOUND || rc == RM_ERR_CONFLICT ||
	       rc == RM_ERR_INVAL || rc == RM_ERR_EXPIRED || rc == RM_ERR_PROTO;
}

static int persist_log(struct agent_hub *h, struct agent_ev *ev)
{
	const json_t *lines = json_object_get(ev->payload, "lines");
	size_t n = json_array_size(lines);
	if (n == 0)
		return RM_OK;
	if (n > LOG_LINES_MAX)
		n = LOG_LINES_MAX;
	if (h->linebuf_cap < n) {
		h->linebuf_cap = n < 1024 ? 1024 : n;
		h->linebuf = rm_xrealloc(h->linebuf, h->linebuf_cap * sizeof h->linebuf[0]);
	}
	int64_t now = rm_now_ms();
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *l = json_array_get(lines, i);
		/* in place: the store and the live viewers (fan_out) both get the redacted text */
		host_secrets_redact_member(ev->conn->secrets, l, "payload");
		long long seq = rmj_int(l, "seq", -1);
		const char *stream = rmj_str(l, "stream");
		const char *payload = rmj_str(l, "payload");
		if (seq < 0 || !stream || !payload)
			continue;
		h->linebuf[k].seq = seq;
		h->linebuf[k].ts_ms = time_field(l, "ts", now);
		h->linebuf[k].stream = stream;
		h->linebuf[k].payload = payload;
		k++;
	}
	return store_log_append(h->app->store, ev->job_id, h->linebuf, k, NULL);
}

static int persist_finished(struct agent_hub *h, struct agent_ev *ev)
{
	struct store *st = h->app->store;
	json_t *p = ev->payload;
	host_secrets_redact_member(ev->conn->secrets, p, "error");
	const char *status = rmj_str(p, "status");
	const char *error = rmj_str(p, "error");
	json_t *stats = json_object_get(p, "stats");
	if (!json_is_object(stats))
		stats = NULL;
	host_secrets_redact_json(ev->conn->secrets, stats);
	int rc = store_job_finish(st, ev->job_id, status, (int)rmj_int(p, "exit_code", -1),
	                          error && error[0] ? error : NULL, stats,
	                          time_field(p, "finished_at", rm_now_ms()));
	if (rc)
		return rc;
	json_t *job = store_job_get(st, ev->job_id);
	const char *kind = job ? rmj_str(job, "kind") : NULL;
	rc = repo_policy_job_finished(st, ev->conn->host_id, kind, status, error);
	/* the stats.report of this backup came first: count its snapshot's size now */
	if (!rc && stats && kind && strcmp(kind, "backup") == 0)
		rc = store_repo_raw_refresh(st, ev->conn->host_id);
	json_decref(job);
	return rc;
}

/* A size history point per stats.report (a report without total_size adds none). */
static int stats_history(struct store *st, const char *host_id, const json_t *p, long long size,
                         long long count)
{
	if (rmj_int(p, "total_size", -1) < 0)
		return RM_OK;
	json_t *ratio = json_object_get(p, "compression_ratio");
	struct store_repo_point pt = {
		.size_bytes = size,
		.uncompressed_bytes = rmj_int(p, "total_uncompressed_size", -1),
		.compression_ratio = json_is_number(ratio) ? json_number_value(ratio) : 0,
		.snapshot_count = count,
	};
	return store_repo_history_add(st, host_id, rm_now_ms(), &pt);
}

static int persist_one(struct agent_hub *h, struct agent_ev *ev)
{
	struct store *st = h->app->store;
	struct agent_conn *c = ev->conn;
	const json_t *p = ev->payload;
	int rc;
	switch (ev->type) {
	case RM_MSG_JOB_STARTED:
	case RM_MSG_LOG_STREAM:
	case RM_MSG_JOB_FINISHED: {
		const char *job_id = rmj_str(p, "job_id");
		rc = agent_job_owned(c, job_id);
		/* a job the agent started on its own (schedule, catch-up, retry): its row is
		 * created on first sight; another host's job id stays refused */
		if (rc == RM_ERR_NOTFOUND && ev->type == RM_MSG_JOB_STARTED &&
		    policy_job_seen(st, c->host_id, p) == RM_OK)
			rc = agent_job_owned(c, job_id);
		if (rc)
			return rc;
		rm_strlcpy(ev->job_id, job_id, sizeof ev->job_id);
		if (ev->type == RM_MSG_JOB_STARTED)
			rc = store_job_set_running(st, job_id,
			                           time_field(p, "started_at", rm_now_ms()));
		else if (ev->type == RM_MSG_LOG_STREAM)
			rc = persist_log(h, ev);
		else
			rc = persist_finished(h, ev);
		break;
	}
	case RM_MSG_SNAPSHOTS_REPORT: {
		json_t *snaps = json_object_get(p, "snapshots");
		host_secrets_redact_json(c->secrets, snaps);
		rc = store_snapshots_replace(st, c->host_id, snaps, rm_now_ms());
		break;
	}
	case RM_MSG_STATS_REPORT: {
		json_t *locks = json_object_get(p, "locks");
		if (json_is_array(locks)) {
			host_secrets_redact_json(c->secrets, locks);
			rc = store_host_locks_set(st, c->host_id, locks, rm_now_ms());
			if (rc || !json_object_get(p, "total_size"))
				break; /* a lock report only */
		}
		json_t *host = store_host_get(st, c->host_id);
		long long size = rmj_int(p, "total_size", -1);
		long long count = rmj_int(p, "snapshots_count", -1);
		if (size < 0 && host)
			size = rmj_int(host, "repo_size_bytes", 0);
		if (count < 0 && host)
			count = rmj_int(host, "snapshot_count", 0);
		json_decref(host);
		rc = store_host_set_repo_stats(st, c->host_id, size < 0 ? 0 : size,
		                               count < 0 ? 0 : count);
		if (!rc)
			rc = stats_history(st, c->host_id, p, size, count);
		break;
	}
	default: rc = RM_OK;
	}
	if (rc == RM_OK)
		ev->fanout = 1;
	return rc;
}

static void fan_out(struct agent_hub *h, struct agent_ev *ev)
{
	struct app *app = h->app;
	switch (ev->type) {
	case RM_MSG_LOG_STREAM:
		job_hub_publish_lines(app->jobs, ev->job_id, json_object_get(ev->payload, "lines"));
		break;
	case RM_MSG_JOB_STARTED:
	case RM_MSG_JOB_FINISHED:
		notify_job_changed(app->notify, ev->job_id);
		notify_host_changed(app->notify, ev->conn->host_id);
		break;
	case RM_MSG_SNAPSHOTS_REPORT:
	case RM_MSG_STATS_REPORT: notify_host_changed(app->notify, ev->conn->host_id); break;
	default: break;
	}
}

void agent_ev_free(struct agent_ev *ev)
{
	struct agent_conn *c = ev->conn;
	json_decref(ev->root);
	free(ev);
	c->pending--;
	agent_conn_release(c);
}

/* Persists the whole queue in ONE transaction, then acknowledges exactly what was
 * committed, then fans out. On a storage failure nothing is acknowledged and the senders
 * are disconnected: they replay their outboxes after reconnecting. */
void agent_queue_flush(struct agent_hub *h)
{
	struct agent_ev *head = h->q_head;
	h->q_head = h->q_tail = NULL;
	h->q_len = 0;
	if (!head)
		return;
	struct store *st = h->app->store;
	int rc = store_begin(st);
	for (struct agent_ev *ev = head; ev && !rc; ev = ev->next) {
		int r1 = persist_one(h, ev);
		if (r1 && benign(r1))
			/* acknowledged (a replay would fail the same way), but never silently */
			RM_WARN("agent event refused", "host_id", ev->conn->host_id, "type",
			        proto_type_name(ev->type), "job_id", ev->job_id, "err",
			        rm_strerror(r1));
		if (!benign(r1))
			rc = r1;
	}
	if (!rc)
		rc = store_commit(st);
	if (rc) {
		store_rollback(st);
		RM_ERROR("persisting agent events failed", "err", rm_strerror(rc));
		for (struct agent_ev *ev = head; ev; ev = ev->next) {
			if (ev->conn->ws)
				ws_close(ev->conn->ws, 1011, "storage error");
		}
	} else {
		/* acks, grouped per connection */
		for (struct agent_ev *ev = head; ev; ev = ev->next) {
			struct agent_conn *c = ev->conn;
			if (!c->ws)
				continue;
			if (!c->acks)
				c->acks = json_array();
			json_array_append_new(c->acks, json_string(ev->id));
		}
		for (struct agent_ev *ev = head; ev; ev = ev->next) {
			struct agent_conn *c = ev->conn;
			if (!c->acks)
				continue;
			json_t *ids = c->acks;
			c->acks = NULL;
			size_t n = json_array_size(ids);
			for (size_t off = 0; off < n; off += ACK_MAX_IDS) {
				json_t *chunk = json_array();
				for (size_t i = off; i < n && i < off + ACK_MAX_IDS; i++)
					json_array_append(chunk, json_array_get(ids, i));
				agent_conn_send(c, RM_MSG_ACK, json_pack("{s:o}", "ids", chunk));
			}
			json_decref(ids);
		}
		for (struct agent_ev *ev = head; ev; ev = ev->next)
			if (ev->fanout)
				fan_out(h, ev);
	}
	while (head) {
		struct agent_ev *next = head->next;
		agent_ev_free(head);
		head = next;
	}
}

static void check_cb(uv_check_t *chk)
{
	struct agent_hub *h = chk->data;
	agent_queue_flush(h);
	if (!h->q_head && h->check_active) {
		uv_check_stop(&h->check);
		h->check_active = 0;
	}
}

#define EVENTS_PER_TX 2000

void agent_enqueue(struct agent_hub *h, struct agent_conn *c, struct rm_envelope *env)
{
	struct agent_ev *ev = rm_xcalloc(1, sizeof *ev);
	ev->conn = c;
	ev->type = env->type;
	rm_strlcpy(ev->id, env->id, sizeof ev->id);
	ev->root = json_incref(env->root);
	ev->payload = env->payload;
	c->pending++;
	if (h->q_tail)
		h->q_tail->next = ev;
	else
		h->q_head = ev;
	h->q_tail = ev;
	h->q_len++;
	/* A burst (10,000 agents reporting their scheduled jobs in one minute) can put tens of
	 * thousands of events in one loop turn; holding them all as JSON until the turn ends
	 * cost ~0.5 GiB in the storm bench. Commit every EVENTS_PER_TX instead. */
	if (h->q_len >= EVENTS_PER_TX) {
		agent_queue_flush(h);
		return;
	}
	if (!h->check_active) {
		uv_check_start(&h->check, check_cb);
		h->check_active = 1;
	}
}
