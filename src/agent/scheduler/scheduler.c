/* The agent's own scheduler: when to fire, catch-up, retries (see scheduler.h). */
#include "agent/scheduler/scheduler.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/scheduler/spec.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/rmtime.h"
#include "common/ulid.h"

#define STATE_FILE "schedule-state.json"
#define STATE_MAX_BYTES (1024 * 1024)
#define LATE_S 60   /* due by more than this: a missed window, fired as catch_up */
#define OWN_MAX 256 /* jobs of ours we remember for retries */
#define RETRY_QUEUE_MAX 256
#define PENDING_MAX 2 /* per group: one running, one queued */
#define BACKOFF_CAP_S (24 * 3600)
#define TICK_AFTER_MINUTE_MS 500

struct own_job {
	char job_id[RM_ULID_LEN + 1];
	char *schedule_id, *group_id;
	int attempt;
};

struct retry {
	char *schedule_id, *group_id;
	int attempt;
	int64_t due;
};

struct scheduler {
	uv_loop_t *loop;
	uv_timer_t timer;
	int timer_init;
	char *spec_path, *state_path;
	uint8_t key[RM_KEY_BYTES];
	int has_key;
	scheduler_submit_fn submit;
	void *ud;
	struct spec *spec;
	json_t *last_fired; /* {schedule id: unix seconds} */
	struct own_job own[OWN_MAX];
	size_t own_next;
	struct retry retries[RETRY_QUEUE_MAX];
	size_t nretries;
};

/* ------------------------------------------------------------------ last_fired state */

static void state_load(struct scheduler *s)
{
	char *text = NULL;
	size_t len = 0;
	json_t *root = NULL;
	char err[160] = "";
	int rc = rm_read_file(s->state_path, STATE_MAX_BYTES, &text, &len);
	if (!rc)
		rc = rmj_parse_object(text, len, STATE_MAX_BYTES, &root, err, sizeof err);
	free(text);
	json_t *lf = root ? json_object_get(root, "last_fired") : NULL;
	if (json_is_object(lf)) {
		json_decref(s->last_fired);
		s->last_fired = json_incref(lf);
	} else if (rc != RM_ERR_NOTFOUND) {
		/* losing last_fired only costs catch-ups: schedules restart from now */
		RM_WARN("schedule state unreadable; schedules start from now", "path",
		        s->state_path, "error", err[0] ? err : rm_strerror(rc));
	}
	json_decref(root);
}

static void state_save(struct scheduler *s)
{
	json_t *root = json_pack("{s:O}", "last_fired", s->last_fired);
	char *text = rmj_dumps(root);
	json_decref(root);
	int rc = rm_write_file_atomic(s->state_path, text, strlen(text), 0600);
	if (rc)
		RM_ERROR("cannot write schedule state", "path", s->state_path, "error",
		         rm_strerror(rc));
	free(text);
}

/* Forgets schedules that are gone or disabled (re-enabling one = new, no catch-up) and
 * starts new ones from now. */
static void state_baseline(struct scheduler *s, int64_t now)
{
	int changed = 0;
	const char *id;
	json_t *v, *tmp;
	json_object_foreach_safe(s->last_fired, tmp, id, v)
	{
		const struct spec_schedule *ss = spec_schedule_find(s->spec, id);
		const struct spec_maint *sm = ss ? NULL : spec_maint_find(s->spec, id);
		int keep = ((ss && ss->enabled) || (sm && sm->enabled)) && json_is_integer(v);
		if (!keep) {
			json_object_del(s->last_fired, id);
			changed = 1;
		}
	}
	for (size_t i = 0; s->spec && i < s->spec->nschedules; i++) {
		const struct spec_schedule *ss = &s->spec->schedules[i];
		if (ss->enabled && !json_object_get(s->last_fired, ss->id)) {
			json_object_set_new(s->last_fired, ss->id, json_integer(now));
			changed = 1;
		}
	}
	for (size_t i = 0; s->spec && i < s->spec->nmaint; i++) {
		const struct spec_maint *sm = &s->spec->maint[i];
		if (sm->enabled && !json_object_get(s->last_fired, sm->id)) {
			json_object_set_new(s->last_fired, sm->id, json_integer(now));
			changed = 1;
		}
	}
	if (changed)
		state_save(s);
}

int64_t scheduler_last_fired(const struct scheduler *s, const char *schedule_id)
{
	return (int64_t)json_integer_value(json_object_get(s->last_fired, schedule_id));
}

/* ------------------------------------------------------------------ firing */

static void arm(struct scheduler *s);

static struct own_job *own_remember(struct scheduler *s, const char *job_id, const char *sid,
                                    const char *gid, int attempt)
{
	struct own_job *o = &s->own[s->own_next++ % OWN_MAX];
	free(o->schedule_id);
	free(o->group_id);
	rm_strlcpy(o->job_id, job_id, sizeof o->job_id);
	o->schedule_id = rm_xstrdup(sid);
	o->group_id = rm_xstrdup(gid);
	o->attempt = attempt;
	return o;
}

/* Jobs of group gid submitted and not finished yet (running or queued). */
static int group_pending(const struct scheduler *s, const char *gid)
{
	int n = 0;
	for (size_t i = 0; i < OWN_MAX; i++)
		n += s->own[i].job_id[0] && s->own[i].group_id && !strcmp(s->own[i].group_id, gid);
	return n;
}

/* One backup job of group g for schedule ss. At most PENDING_MAX per group: one running
 * and one queued behind it; a window that finds both still there is skipped rather than
 * piling up jobs behind a backup slower than its schedule. */
static void fire_group(struct scheduler *s, const struct spec_schedule *ss,
                       const struct spec_group *g, const char *origin, int attempt)
{
	if (group_pending(s, g->id) >= PENDING_MAX) {
		RM_WARN("scheduled backup skipped: the previous ones of this group are still "
		        "running and queued",
		        "schedule_id", ss->id, "group", g->name, "origin", origin);
		return;
	}
	json_t *args = spec_backup_args(s->spec, g);
	if (json_array_size(json_object_get(args, "paths")) == 0) {
		RM_WARN("schedule fired for a group without includes; nothing to back up",
		        "schedule_id", ss->id, "group", g->name);
		rmj_wipe(args);
		json_decref(args);
		return;
	}
	char job_id[RM_ULID_LEN + 1];
	rm_ulid_new(job_id);
	/* copies: args is wiped below (hooks) */
	json_t *shown =
	    json_pack("{s:o,s:o}", "paths", json_deep_copy(json_object_get(args, "paths")), "tags",
	              json_deep_copy(json_object_get(args, "tags")));
	json_t *ex = json_object_get(args, "excludes");
	json_object_set_new(shown, "excludes", ex ? json_deep_copy(ex) : json_array());
	json_t *extra =
	    json_pack("{s:s,s:s,s:s,s:s,s:i,s:o}", "origin", origin, "schedule_id", ss->id,
	              "group_id", g->id, "group", g->name, "attempt", attempt, "args", shown);
	char a[16];
	snprintf(a, sizeof a, "%d", attempt);
	RM_INFO("scheduled backup", "job_id", job_id, "origin", origin, "schedule_id", ss->id,
	        "group", g->name, "attempt", a);
	struct own_job *o = own_remember(s, job_id, ss->id, g->id, attempt);
	int rc = s->submit(s->ud, job_id, args, extra);
	if (rc) {
		RM_ERROR("scheduled backup refused by the runner", "job_id", job_id, "error",
		         rm_strerror(rc));
		o->job_id[0] = 0; /* never runs, never finishes */
	}
	rmj_wipe(args); /* the hooks */
	json_decref(args);
	json_decref(extra);
}

static void fire(struct scheduler *s, const struct spec_schedule *ss, const char *origin)
{
	for (size_t k = 0; k < ss->ngroups; k++)
		fire_group(s, ss, &s->spec->groups[ss->groups[k]], origin, 1);
}

/* One maintenance job (forget/prune/check) unless the previous one is still pending. */
static void fire_maint(struct scheduler *s, const struct spec_maint *sm, const char *origin)
{
	for (size_t i = 0; i < OWN_MAX; i++)
		if (s->own[i].job_id[0] && s->own[i].schedule_id &&
		    !strcmp(s->own[i].schedule_id, sm->id)) {
			RM_WARN("maintenance skipped: the previous one is still pending", "kind",
			        sm->kind);
			return;
		}
	char job_id[RM_ULID_LEN + 1];
	rm_ulid_new(job_id);
	json_t *args = json_is_object(sm->args) ? json_deep_copy(sm->args) : json_object();
	json_t *extra = json_pack("{s:s,s:s,s:s,s:i,s:O}", "origin", origin, "schedule_id", sm->id,
	                          "kind", sm->kind, "attempt", 1, "args", args);
	RM_INFO("scheduled maintenance", "job_id", job_id, "kind", sm->kind, "origin", origin);
	struct own_job *o = own_remember(s, job_id, sm->id, NULL, 1);
	if (s->submit(s->ud, job_id, args, extra)) {
		RM_ERROR("scheduled maintenance refused by the runner", "job_id", job_id);
		o->job_id[0] = 0;
	}
	json_decref(args);
	json_decref(extra);
}

static void tick_maint(struct scheduler *s, int64_t now)
{
	for (size_t i = 0; s->spec && i < s->spec->nmaint; i++) {
		const struct spec_maint *sm = &s->spec->maint[i];
		json_t *lf = json_object_get(s->last_fired, sm->id);
		if (!sm->enabled || !lf)
			continue;
		int64_t next = cron_next(&sm->cron, (int64_t)json_integer_value(lf));
		if (next < 0 || next > now)
			continue;
		json_object_set_new(s->last_fired, sm->id, json_integer(now));
		state_save(s);
		fire_maint(s, sm, now - next >= LATE_S ? "catch_up" : "schedule");
	}
}

static void retry_clear(struct retry *r)
{
	free(r->schedule_id);
	free(r->group_id);
}

static void fire_due_retries(struct scheduler *s, int64_t now)
{
	size_t i = 0;
	while (i < s->nretries) {
		struct retry r = s->retries[i];
		if (r.due > now) {
			i++;
			continue;
		}
		s->retries[i] = s->retries[--s->nretries];
		const struct spec_schedule *ss = spec_schedule_find(s->spec, r.schedule_id);
		const struct spec_group *g = spec_group_find(s->spec, r.group_id);
		if (ss && ss->enabled && g)
			fire_group(s, ss, g, "retry", r.attempt);
		retry_clear(&r);
	}
}

void scheduler_tick(struct scheduler *s, int64_t now)
{
	const struct spec_schedule *due[1000];
	const char *origin[1000];
	size_t n = 0;
	for (size_t i = 0; s->spec && i < s->spec->nschedules && n < 1000; i++) {
		const struct spec_schedule *ss = &s->spec->schedules[i];
		json_t *lf = json_object_get(s->last_fired, ss->id);
		if (!ss->enabled || !lf)
			continue; /* new ones are baselined on apply / load */
		int64_t next = cron_next(&ss->cron, (int64_t)json_integer_value(lf));
		if (next < 0 || next > now)
			continue;
		due[n] = ss;
		origin[n++] = now - next >= LATE_S ? "catch_up" : "schedule";
		json_object_set_new(s->last_fired, ss->id, json_integer(now));
	}
	/* recorded before anything runs: a crash loop cannot become a backup storm */
	if (n)
		state_save(s);
	for (size_t i = 0; i < n; i++)
		fire(s, due[i], origin[i]);
	fire_due_retries(s, now);
	tick_maint(s, now);
}

void scheduler_job_finished(struct scheduler *s, const char *job_id, const char *status,
                            int64_t now)
{
	struct own_job *o = NULL;
	for (size_t i = 0; job_id && i < OWN_MAX && !o; i++)
		if (!strcmp(s->own[i].job_id, job_id))
			o = &s->own[i];
	if (!o)
		return;
	const struct spec_group *g = spec_group_find(s->spec, o->group_id);
	if (status && !strcmp(status, "failed") && g && o->attempt <= g->retry_max &&
	    s->nretries < RETRY_QUEUE_MAX) {
		int64_t backoff = g->retry_backoff_s;
		for (int k = 1; k < o->attempt && backoff < BACKOFF_CAP_S; k++)
			backoff *= 2;
		if (backoff > BACKOFF_CAP_S)
			backoff = BACKOFF_CAP_S;
		struct retry *r = &s->retries[s->nretries++];
		r->schedule_id = rm_xstrdup(o->schedule_id);
		r->group_id = rm_xstrdup(o->group_id);
		r->attempt = o->attempt + 1;
		r->due = now + backoff;
		char b[24];
		snprintf(b, sizeof b, "%lld", (long long)backoff);
		RM_INFO("scheduled backup failed; retrying later", "job_id", job_id, "group",
		        g->name, "retry_in_s", b);
	}
	o->job_id[0] = 0;
	arm(s); /* with the retry in view */
}

/* ------------------------------------------------------------------ timer, lifecycle */

static void timer_cb(uv_timer_t *t)
{
	struct scheduler *s = t->data;
	scheduler_tick(s, (int64_t)time(NULL));
	arm(s);
}

/* Wakes up just after the next minute boundary of the wall clock, or when the first
 * retry is due. The loop's clock is monotonic: after a suspend the timer fires late and
 * the tick sees how late (catch_up). */
static void arm(struct scheduler *s)
{
	if (!s->timer_init)
		return;
	int64_t now_ms = rm_now_ms();
	int64_t at = (now_ms / 60000 + 1) * 60000 + TICK_AFTER_MINUTE_MS;
	for (size_t i = 0; i < s->nretries; i++)
		if (s->retries[i].due * 1000 < at)
			at = s->retries[i].due * 1000;
	uv_timer_start(&s->timer, timer_cb, (uint64_t)(at > now_ms ? at - now_ms : 0), 0);
}

void scheduler_start(struct scheduler *s)
{
	if (s && s->timer_init)
		uv_timer_start(&s->timer, timer_cb, 0, 0);
}

int scheduler_new(const struct scheduler_opts *o, struct scheduler **out)
{
	if (!o || !o->state_dir || !o->submit)
		return RM_ERR_INVAL;
	struct scheduler *s = rm_xcalloc(1, sizeof(*s));
	s->loop = o->loop;
	s->submit = o->submit;
	s->ud = o->ud;
	s->spec_path = rm_xasprintf("%s/%s", o->state_dir, SPEC_FILE);
	s->state_path = rm_xasprintf("%s/%s", o->state_dir, STATE_FILE);
	s->last_fired = json_object();
	if (o->key) {
		memcpy(s->key, o->key, RM_KEY_BYTES);
		s->has_key = 1;
		if (spec_load(s->spec_path, s->key, &s->spec) == RM_OK) {
			char v[24];
			snprintf(v, sizeof v, "%lld", s->spec->version);
			RM_INFO("schedule spec loaded", "version", v);
		}
	}
	state_load(s);
	state_baseline(s, (int64_t)time(NULL));
	if (s->loop) {
		uv_timer_init(s->loop, &s->timer);
		s->timer.data = s;
		s->timer_init = 1;
	}
	*out = s;
	return RM_OK;
}

static void destroy(struct scheduler *s)
{
	for (size_t i = 0; i < OWN_MAX; i++) {
		free(s->own[i].schedule_id);
		free(s->own[i].group_id);
	}
	for (size_t i = 0; i < s->nretries; i++)
		retry_clear(&s->retries[i]);
	spec_free(s->spec);
	json_decref(s->last_fired);
	free(s->spec_path);
	free(s->state_path);
	sodium_memzero(s->key, sizeof s->key);
	free(s);
}

static void timer_close_cb(uv_handle_t *h)
{
	destroy(h->data);
}

void scheduler_free(struct scheduler *s)
{
	if (!s)
		return;
	if (s->timer_init)
		uv_close((uv_handle_t *)&s->timer, timer_close_cb);
	else
		destroy(s);
}

long long scheduler_version(const struct scheduler *s)
{
	return s && s->spec ? s->spec->version : 0;
}

int scheduler_apply(struct scheduler *s, const json_t *payload, int64_t now, char *err,
                    size_t errlen)
{
	struct spec *sp = NULL;
	int rc = spec_parse(payload, &sp, err, errlen);
	if (rc)
		return rc;
	if (s->has_key) {
		rc = spec_save(s->spec_path, s->key, sp);
		if (rc) {
			rmj_seterr(err, errlen, "cannot store the schedule spec on the agent: %s",
			           rm_strerror(rc));
			spec_free(sp);
			return RM_ERR_IO;
		}
	} else {
		RM_WARN("no secrets_key: the schedule spec is kept in memory only");
	}
	spec_free(s->spec);
	s->spec = sp;
	state_baseline(s, now);
	arm(s);
	return RM_OK;
}
