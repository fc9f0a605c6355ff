/* Housekeeping timer: offline hosts, lost jobs, expired sessions. */
#include "server/engine/sweeper.h"

#include <stdlib.h>
#include <uv.h>

#include "common/ulid.h"
#include "common/err.h"
#include "common/log.h"
#include "common/rmtime.h"
#include "server/app.h"
#include "server/config.h"
#include "server/engine/announce.h"
#include "server/engine/care_run.h"
#include "server/engine/drill.h"
#include "server/engine/notify.h"
#include "server/engine/policy.h"
#include "server/engine/presence.h"
#include "server/store/store.h"

struct sweeper {
	uv_timer_t timer;
	struct app *app;
};

void sweeper_run_once(struct app *app)
{
	int64_t now = rm_now_ms();
	struct store *st = app->store;
	json_t *hosts = json_array();
	int rc = store_hosts_mark_stale_offline(st, now - app->cfg->offline_after_s * 1000, hosts);
	if (rc)
		RM_ERROR("sweeper: marking stale hosts failed", "err", rm_strerror(rc));
	size_t i;
	json_t *v;
	json_array_foreach (hosts, i, v) {
		const char *id = json_string_value(v);
		RM_INFO("host offline (silent)", "host_id", id);
		presence_note_offline(app->presence, id);
		notify_host_changed(app->notify, id);
	}
	json_decref(hosts);

	json_t *jobs = json_array();
	rc = store_jobs_fail_lost(st, now - app->cfg->job_lost_after_s * 1000, "agent lost", now,
	                          jobs);
	if (rc)
		RM_ERROR("sweeper: failing lost jobs failed", "err", rm_strerror(rc));
	json_array_foreach (jobs, i, v) {
		const char *id = json_string_value(v);
		RM_INFO("job failed: agent lost", "job_id", id);
		notify_job_changed(app->notify, id);
		char host[RM_ULID_BUF];
		if (store_job_host(st, id, host) == RM_OK)
			notify_host_changed(app->notify, host);
	}
	json_decref(jobs);

	rc = store_session_purge_expired(st, now);
	if (rc)
		RM_ERROR("sweeper: purging sessions failed", "err", rm_strerror(rc));
	rc = store_setup_tokens_purge(st, now);
	if (rc)
		RM_ERROR("sweeper: purging setup links failed", "err", rm_strerror(rc));
	policy_refresh_due(app); /* dashboard "next run" of hosts whose run has passed */
	policy_expire_awaiting(app);
	drill_sweep(app); /* C3: restore drills on their cadence */
	care_sweep(app);  /* forget/prune cadences of hosts with an admin slot */
	/* C6: announcements decided or expired long enough ago */
	announce_sweep(app);
}

static void timer_cb(uv_timer_t *t)
{
	struct sweeper *s = t->data;
	sweeper_run_once(s->app);
}

struct sweeper *sweeper_start(struct app *app)
{
	struct sweeper *s = rm_xcalloc(1, sizeof *s);
	s->app = app;
	uv_timer_init(app->loop, &s->timer);
	s->timer.data = s;
	uint64_t iv = (uint64_t)app->cfg->sweep_interval_ms;
	uv_timer_start(&s->timer, timer_cb, iv, iv);
	return s;
}

static void closed_cb(uv_handle_t *h)
{
	free(h->data);
}

void sweeper_stop(struct sweeper *s)
{
	if (!s)
		return;
	uv_timer_stop(&s->timer);
	uv_close((uv_handle_t *)&s->timer, closed_cb);
}
