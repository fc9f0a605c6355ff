#ifndef RM_TESTS_RUNNER_EVENTS_H
#define RM_TESTS_RUNNER_EVENTS_H
/* Shared by the runner's test binaries: a loop, an emit sink that records every event
 * as {"type":int,"p":payload} in `events`, and lookups over them. */
#include <jansson.h>
#include <string.h>
#include <uv.h>

#include "common/proto.h"

static uv_loop_t loop;
static json_t *events; /* [{"type":int,"p":payload}] */

static inline void on_emit(void *ud, int type, json_t *payload_take)
{
	(void)ud;
	json_array_append_new(events, json_pack("{s:i,s:o}", "type", type, "p", payload_take));
}

static inline const json_t *find_finished(const char *job_id)
{
	size_t i;
	json_t *e;
	json_array_foreach (events, i, e) {
		const json_t *p = json_object_get(e, "p");
		if (json_integer_value(json_object_get(e, "type")) == RM_MSG_JOB_FINISHED &&
		    strcmp(json_string_value(json_object_get(p, "job_id")), job_id) == 0)
			return p;
	}
	return NULL;
}

/* Event e has this type and belongs to job_id (NULL: any job; events without a job_id
 * belong to every job). */
static inline int event_is(const json_t *e, const char *job_id, int type)
{
	const json_t *p = json_object_get(e, "p");
	const char *id = json_string_value(json_object_get(p, "job_id"));
	return json_integer_value(json_object_get(e, "type")) == type &&
	       (!job_id || !id || strcmp(id, job_id) == 0);
}

static inline int count_type(const char *job_id, int type)
{
	int n = 0;
	size_t i;
	json_t *e;
	json_array_foreach (events, i, e)
		n += event_is(e, job_id, type);
	return n;
}

/* Runs the loop until job_id finished or timeout_ms elapsed. */
static inline const json_t *wait_finished(const char *job_id, int timeout_ms)
{
	uint64_t start = uv_now(&loop);
	while (!find_finished(job_id)) {
		if (uv_now(&loop) - start > (uint64_t)timeout_ms)
			return NULL;
		uv_run(&loop, UV_RUN_ONCE);
		uv_update_time(&loop);
	}
	return find_finished(job_id);
}

static inline int log_contains(const char *job_id, const char *needle)
{
	size_t i, k;
	json_t *e, *l;
	json_array_foreach (events, i, e) {
		const json_t *p = json_object_get(e, "p");
		if (json_integer_value(json_object_get(e, "type")) != RM_MSG_LOG_STREAM)
			continue;
		if (strcmp(json_string_value(json_object_get(p, "job_id")), job_id) != 0)
			continue;
		json_array_foreach (json_object_get(p, "lines"), k, l) {
			if (strstr(json_string_value(json_object_get(l, "payload")), needle))
				return 1;
		}
	}
	return 0;
}

#endif
