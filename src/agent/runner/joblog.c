/* Job events: log lines (batched, redacted), progress, emit (see runner_int.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/restic/lines.h"
#include "agent/restic/parse.h"
#include "agent/runner/runner_int.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/rmtime.h"

#define LOG_BATCH_LINES 200
#define LOG_BATCH_MS 50
#define PROGRESS_MIN_MS 1000

void runner_emit(struct runner *r, enum rm_msg_type t, json_t *payload)
{
	if (r->freeing || !r->emit) {
		json_decref(payload);
		return;
	}
	r->emit(r->ud, (int)t, payload);
}

json_t *runner_now_str(void)
{
	char buf[RM_TIME_STRLEN];
	rm_time_fmt(rm_now_ms(), buf);
	return json_string(buf);
}

/* What leaves the agent must not hold the job's secrets (restic echoes repository URLs
 * and, in some errors, the password): every known form of them, then the password of
 * any URL with userinfo, become "***". Returns a new string. */
char *runner_scrub(const struct job *j, const char *s, size_t len)
{
	char *known = rm_redactor_apply(&j->secrets, s, len);
	if (!strstr(known, "://"))
		return known;
	char *out = rm_redact_url(known);
	free(known);
	return out;
}

void runner_log_flush(struct runner *r)
{
	uv_timer_stop(&r->log_timer);
	if (!r->log_lines || json_array_size(r->log_lines) == 0 || !r->cur)
		return;
	json_t *p = json_object();
	json_object_set_new(p, "job_id", json_string(r->cur->id));
	json_object_set_new(p, "lines", r->log_lines);
	r->log_lines = NULL;
	runner_emit(r, RM_MSG_LOG_STREAM, p);
}

void runner_log_timer_cb(uv_timer_t *t)
{
	runner_log_flush(t->data);
}

/* stream: "stdout" | "stderr" | "event". text need not be NUL-terminated; it is valid
 * UTF-8 (lines.c sanitizes child output; event text is ours). */
void runner_log_line(struct runner *r, const char *stream, const char *text, size_t len)
{
	struct job *j = r->cur;
	if (!j)
		return;
	if (len > RESTIC_LINE_MAX)
		len = RESTIC_LINE_MAX;
	char *clean = runner_scrub(j, text, len);
	json_t *payload = json_string(clean);
	free(clean);
	if (!payload)
		return; /* not UTF-8: cannot happen for sanitized input */
	json_t *l = json_object();
	json_object_set_new(l, "seq", json_integer(++j->seq));
	json_object_set_new(l, "ts", runner_now_str());
	json_object_set_new(l, "stream", json_string(stream));
	json_object_set_new(l, "payload", payload);
	if (!r->log_lines)
		r->log_lines = json_array();
	json_array_append_new(r->log_lines, l);
	if (json_array_size(r->log_lines) >= LOG_BATCH_LINES)
		runner_log_flush(r);
	else if (!uv_is_active((uv_handle_t *)&r->log_timer))
		uv_timer_start(&r->log_timer, runner_log_timer_cb, LOG_BATCH_MS, 0);
}

void runner_log_event(struct runner *r, const char *fmt, ...)
{
	char tmp[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	size_t len = (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1;
	restic_utf8_sanitize(tmp, len);
	runner_log_line(r, "event", tmp, len);
}

void runner_emit_progress(struct runner *r, const json_t *status)
{
	json_t *pr = NULL;
	uint64_t now = uv_now(r->loop);
	if (r->progress_sent && now - r->last_progress < PROGRESS_MIN_MS)
		return;
	if (restic_parse_status(status, &pr) != RM_OK)
		return;
	const char *cf = rmj_str(pr, "current_file");
	if (cf) {
		char *clean = runner_scrub(r->cur, cf, strlen(cf));
		json_object_set_new(pr, "current_file", json_string(clean));
		free(clean);
	}
	json_object_set_new(pr, "job_id", json_string(r->cur->id));
	r->progress_sent = 1;
	r->last_progress = now;
	runner_emit(r, RM_MSG_JOB_PROGRESS, pr);
}
