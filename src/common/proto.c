/* The wire protocol: ONE table of every message type with its payload schema, and the
 * envelope codec that validates frames against it (docs/internals/protocol.md). */
#include "common/proto.h"
#include "common/proto_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/rmtime.h"
#include "common/ulid.h"

#define DEF_STR_MAX 4096
#define DEF_ARRAY_MAX 1000
#define TIME_STR_MAX 64
#define TYPE_MAX 64
#define PATH_MAX_LEN 128

/* ------------------------------------------------------------------ enums */
static const char *const e_slot[] = { "repo", "admin", NULL };
static const char *const e_stream[] = { "stdout", "stderr", "event", "hook", NULL };
static const char *const e_origin[] = { "run_now", "schedule", "catch_up", "retry", NULL };
static const char *const e_host_mode[] = { "always_on", "intermittent", NULL };
static const char *const e_status[] = { "succeeded", "failed", "cancelled", NULL };

/* ------------------------------------------------------------------ payloads
 * {name, type, required, max, items, enum_values}. Unknown payload fields are ignored
 * (forward compatible); a present null counts as absent. */
#define R 1
#define O 0

static const struct rm_field f_hello[] = {
	{ "protocol_version", RM_FT_INT, R, 0, NULL, NULL },
	{ "agent_version", RM_FT_STRING, R, 64, NULL, NULL },
	{ "restic_version", RM_FT_STRING, R, 64, NULL, NULL }, /* "" if restic is missing */
	{ "hostname", RM_FT_STRING, R, 255, NULL, NULL },
	{ "os", RM_FT_STRING, R, 64, NULL, NULL },
	{ "arch", RM_FT_STRING, R, 64, NULL, NULL },
	{ "running_jobs", RM_FT_STRING_ARRAY, R, 0, NULL, NULL },
	{ "boot_time", RM_FT_TIME, O, 0, NULL, NULL },
	/* C2: IANA time zone ("" unknown), UTC offset now, schedule.set version in force */
	{ "timezone", RM_FT_STRING, O, 64, NULL, NULL },
	{ "utc_offset_s", RM_FT_INT, O, 0, NULL, NULL },
	{ "schedule_version", RM_FT_INT, O, 0, NULL, NULL },
	{ "uid", RM_FT_INT, O, 0, NULL, NULL }, /* C3: effective uid (restores warn if not 0) */
	{ NULL },
};
static const struct rm_field f_heartbeat[] = {
	{ "sent_at", RM_FT_TIME, O, 0, NULL, NULL },
	{ NULL },
};
static const struct rm_field f_ack[] = {
	{ "ids", RM_FT_STRING_ARRAY, R, 1000, NULL, NULL },
	{ NULL },
};
static const struct rm_field f_config_update[] = {
	{ "slot", RM_FT_STRING, O, 0, NULL, e_slot },
	{ "repo_url", RM_FT_STRING, O, 0, NULL, NULL },
	{ "repo_username", RM_FT_STRING, O, 0, NULL, NULL },
	{ "repo_password", RM_FT_STRING, O, 0, NULL, NULL },
	{ "hook_shell", RM_FT_STRING, O, 0, NULL, NULL },
	{ "bandwidth", RM_FT_OBJECT, O, 0, NULL, NULL },
	{ NULL },
};
/* C2 policies: the complete spec the agent runs on its own (docs/internals/protocol.md) */
static const struct rm_field f_sched_item[] = {
	{ "id", RM_FT_STRING, R, 64, NULL, NULL },
	{ "cron", RM_FT_STRING, R, 256, NULL, NULL },
	{ "enabled", RM_FT_BOOL, O, 0, NULL, NULL },             /* absent = true */
	{ "group_ids", RM_FT_STRING_ARRAY, O, 100, NULL, NULL }, /* absent = none */
	{ NULL },
};
static const struct rm_field f_group_item[] = {
	{ "id", RM_FT_STRING, R, 64, NULL, NULL },
	{ "name", RM_FT_STRING, R, 63, NULL, NULL },
	{ "includes", RM_FT_STRING_ARRAY, R, 100, NULL, NULL },
	{ "excludes", RM_FT_STRING_ARRAY, O, 1000, NULL, NULL },
	{ "exclude_caches", RM_FT_BOOL, O, 0, NULL, NULL },
	{ "one_file_system", RM_FT_BOOL, O, 0, NULL, NULL },
	{ "retry_max", RM_FT_INT, O, 0, NULL, NULL },
	{ "retry_backoff_s", RM_FT_INT, O, 0, NULL, NULL },
	{ "limit_upload_kib", RM_FT_INT, O, 0, NULL, NULL },
	{ "limit_download_kib", RM_FT_INT, O, 0, NULL, NULL },
	{ "pre_hook", RM_FT_STRING, O, 65536, NULL, NULL },
	{ "post_hook", RM_FT_STRING, O, 65536, NULL, NULL },
	{ NULL },
};
static const struct rm_field f_host_settings[] = {
	{ "hook_shell", RM_FT_STRING, O, 256, NULL, NULL },
	{ "hook_timeout_s", RM_FT_INT, O, 0, NULL, NULL },
	{ "limit_upload_kib", RM_FT_INT, O, 0, NULL, NULL },
	{ "limit_download_kib", RM_FT_INT, O, 0, NULL, NULL },
	{ "mode", RM_FT_STRING, O, 0, NULL, e_host_mode },
	{ NULL },
};
/* C2 repository care: a maintenance cadence the agent runs itself */
static const struct rm_field f_maint_item[] = {
	{ "kind", RM_FT_STRING, R, 16, NULL, NULL },
	{ "cron", RM_FT_STRING, R, 128, NULL, NULL },
	{ "enabled", RM_FT_BOOL, O, 0, NULL, NULL },
	{ "args", RM_FT_OBJECT, O, 0, NULL, NULL },
	{ NULL },
};
static const struct rm_field f_schedule_set[] = {
	{ "version", RM_FT_INT, R, 0, NULL, NULL },
	{ "schedules", RM_FT_ARRAY, R, 1000, f_sched_item, NULL },
	{ "groups", RM_FT_ARRAY, O, 1000, f_group_item, NULL },
	{ "settings", RM_FT_OBJECT, O, 0, f_host_settings, NULL },
	{ "maintenance", RM_FT_ARRAY, O, 8, f_maint_item, NULL },
	{ NULL },
};
static const struct rm_field f_schedule_ack[] = {
	{ "version", RM_FT_INT, R, 0, NULL, NULL },
	{ "applied_at", RM_FT_TIME, O, 0, NULL, NULL },
	{ NULL },
};
/* kind is not an enum here on purpose: an agent that does not know a kind answers
 * command.result accepted=false instead of treating the frame as malformed. */
static const struct rm_field f_command_run[] = {
	{ "job_id", RM_FT_STRING, R, 64, NULL, NULL },
	{ "kind", RM_FT_STRING, R, 32, NULL, NULL },
	{ "args", RM_FT_OBJECT, O, 0, NULL, NULL },
	{ NULL },
};
static const struct rm_field f_command_result[] = {
	{ "job_id", RM_FT_STRING, R, 64, NULL, NULL },
	{ "accepted", RM_FT_BOOL, R, 0, NULL, NULL },
	{ "error", RM_FT_STRING, O, 0, NULL, NULL },
	{ NULL },
};
static const struct rm_field f_command_cancel[] = {
	{ "job_id", RM_FT_STRING, R, 64, NULL, NULL },
	{ NULL },
};
static const struct rm_field f_job_started[] = {
	{ "job_id", RM_FT_STRING, R, 64, NULL, NULL },
	{ "seq", RM_FT_INT, R, 0, NULL, NULL },
	{ "kind", RM_FT_STRING, R, 32, NULL, NULL },
	{ "started_at", RM_FT_TIME, R, 0, NULL, NULL },
	/* C2: jobs the agent started on its own (job id minted by the agent); the server
	 * creates the job row on first sight, idempotently */
	{ "origin", RM_FT_STRING, O, 0, NULL, e_origin },
	{ "schedule_id", RM_FT_STRING, O, 64, NULL, NULL },
	{ "group_id", RM_FT_STRING, O, 64, NULL, NULL },
	{ "group", RM_FT_STRING, O, 63, NULL, NULL },
	{ "attempt", RM_FT_INT, O, 0, NULL, NULL },
	{ "args", RM_FT_OBJECT, O, 0, NULL, NULL },
	{ NULL },
};
static const struct rm_field f_job_progress[] = {
	{ "job_id", RM_FT_STRING, R, 64, NULL, NULL },
	{ "percent_done", RM_FT_NUMBER, O, 0, NULL, NULL },
	{ "files_done", RM_FT_INT, O, 0, NULL, NULL },
	{ "total_files", RM_FT_INT, O, 0, NULL, NULL },
	{ "bytes_done", RM_FT_INT, O, 0, NULL, NULL },
	{ "total_bytes", RM_FT_INT, O, 0, NULL, NULL },
	{ "eta_seconds", RM_FT_INT, O, 0, NULL, NULL },
	{ "throughput_bps", RM_FT_INT, O, 0, NULL, NULL },
	{ "current_file", RM_FT_STRING, O, 0, NULL, NULL },
	{ NULL },
};
static const struct rm_field f_log_line[] = {
	{ "seq", RM_FT_INT, R, 0, NULL, NULL },
	{ "ts", RM_FT_TIME, R, 0, NULL, NULL },
	{ "stream", RM_FT_STRING, R, 0, NULL, e_stream },
	{ "payload", RM_FT_STRING, R, 65536, NULL, NULL },
	{ NULL },
};
static const struct rm_field f_log_stream[] = {
	{ "job_id", RM_FT_STRING, R, 64, NULL, NULL },
	{ "lines", RM_FT_ARRAY, R, 1000, f_log_line, NULL },
	{ NULL },
};
static const struct rm_field f_job_finished[] = {
	{ "job_id", RM_FT_STRING, R, 64, NULL, NULL },
	{ "seq", RM_FT_INT, R, 0, NULL, NULL },
	{ "status", RM_FT_STRING, R, 0, NULL, e_status },
	{ "exit_code", RM_FT_INT, R, 0, NULL, NULL },
	{ "finished_at", RM_FT_TIME, R, 0, NULL, NULL },
	{ "stats", RM_FT_OBJECT, O, 0, NULL, NULL },
	{ "error", RM_FT_STRING, O, 0, NULL, NULL },
	{ "warnings", RM_FT_BOOL, O, 0, NULL, NULL },
	{ NULL },
};
static const struct rm_field f_snapshot[] = {
	{ "id", RM_FT_STRING, R, 128, NULL, NULL },
	{ "short_id", RM_FT_STRING, R, 128, NULL, NULL },
	{ "time", RM_FT_TIME, R, 0, NULL, NULL },
	{ "hostname", RM_FT_STRING, O, 255, NULL, NULL },
	{ "paths", RM_FT_STRING_ARRAY, O, 0, NULL, NULL },
	{ "tags", RM_FT_STRING_ARRAY, O, 0, NULL, NULL },
	{ "size_bytes", RM_FT_INT, O, 0, NULL, NULL },
	{ "file_count", RM_FT_INT, O, 0, NULL, NULL },
	{ NULL },
};
static const struct rm_field f_snapshots_report[] = {
	{ "snapshots", RM_FT_ARRAY, R, 10000, f_snapshot, NULL },
	/* set when the list was cut to fit RM_PROTO_MAX_FRAME (newest kept) */
	{ "truncated", RM_FT_BOOL, O, 0, NULL, NULL },
	{ NULL },
};
static const struct rm_field f_lock_item[] = {
	{ "id", RM_FT_STRING, R, 128, NULL, NULL },
	{ "hostname", RM_FT_STRING, R, 255, NULL, NULL },
	{ "pid", RM_FT_INT, O, 0, NULL, NULL },
	{ "time", RM_FT_STRING, O, 64, NULL, NULL },
	{ "exclusive", RM_FT_BOOL, O, 0, NULL, NULL },
	{ "username", RM_FT_STRING, O, 255, NULL, NULL },
	{ NULL },
};
static const struct rm_field f_stats_report[] = {
	{ "locks", RM_FT_ARRAY, O, 200, f_lock_item, NULL },
	{ "total_size", RM_FT_INT, O, 0, NULL, NULL },
	{ "total_file_count", RM_FT_INT, O, 0, NULL, NULL },
	{ "snapshots_count", RM_FT_INT, O, 0, NULL, NULL },
	{ "raw_size", RM_FT_INT, O, 0, NULL, NULL },
	/* restic 0.15+ on a v2 repository (stats --mode raw-data) */
	{ "total_uncompressed_size", RM_FT_INT, O, 0, NULL, NULL },
	{ "compression_ratio", RM_FT_NUMBER, O, 0, NULL, NULL },
	{ "compression_space_saving", RM_FT_NUMBER, O, 0, NULL, NULL },
	{ NULL },
};
static const struct rm_field f_tree_list[] = {
	{ "snapshot_id", RM_FT_STRING, R, 128, NULL, NULL },
	{ "path", RM_FT_STRING, R, 0, NULL, NULL },
	{ "cursor", RM_FT_STRING, O, 64, NULL, NULL }, /* next_cursor of the previous page */
	{ "limit", RM_FT_INT, O, 0, NULL, NULL },      /* entries per page, 1..10000 */
	{ NULL },
};
static const struct rm_field f_tree_list_result[] = {
	{ "request_id", RM_FT_STRING, R, 64, NULL, NULL },
	{ "entries", RM_FT_ARRAY, O, 100000, NULL, NULL },
	{ "error", RM_FT_OBJECT, O, 0, NULL, NULL }, /* {code, message}: see engine/rpc.h */
	{ "path", RM_FT_STRING, O, 0, NULL, NULL },
	{ "next_cursor", RM_FT_STRING, O, 64, NULL, NULL }, /* null/absent: last page */
	{ "total", RM_FT_INT, O, 0, NULL, NULL },           /* children of the directory */
	{ NULL },
};
static const struct rm_field f_forget_preview[] = {
	{ "group", RM_FT_STRING, R, 64, NULL, NULL },
	{ "retention", RM_FT_OBJECT, R, 0, NULL, NULL },
	{ NULL },
};
static const struct rm_field f_forget_preview_result[] = {
	{ "request_id", RM_FT_STRING, R, 64, NULL, NULL },
	{ "keep", RM_FT_ARRAY, O, 10000, NULL, NULL },
	{ "remove", RM_FT_ARRAY, O, 10000, NULL, NULL },
	{ "truncated", RM_FT_BOOL, O, 0, NULL, NULL },
	{ "error", RM_FT_OBJECT, O, 0, NULL, NULL }, /* {code, message}: see engine/rpc.h */
	{ NULL },
};
static const struct rm_field f_error[] = {
	{ "code", RM_FT_STRING, R, 64, NULL, NULL },
	{ "message", RM_FT_STRING, R, 0, NULL, NULL },
	{ "ref_id", RM_FT_STRING, O, 64, NULL, NULL },
	{ NULL },
};
static const struct rm_field f_none[] = { { NULL } };

#undef R
#undef O

#define A2S RM_DIR_A2S
#define S2A RM_DIR_S2A
static const struct rm_msg_desc msg_table[RM_MSG__COUNT] = {
	[RM_MSG_UNKNOWN] = { RM_MSG_UNKNOWN, "unknown", 0, f_none },
	[RM_MSG_HELLO] = { RM_MSG_HELLO, "hello", A2S, f_hello },
	[RM_MSG_HEARTBEAT] = { RM_MSG_HEARTBEAT, "heartbeat", A2S, f_heartbeat },
	[RM_MSG_ACK] = { RM_MSG_ACK, "ack", A2S | S2A, f_ack },
	[RM_MSG_CONFIG_UPDATE] = { RM_MSG_CONFIG_UPDATE, "config.update", S2A, f_config_update },
	[RM_MSG_SCHEDULE_SET] = { RM_MSG_SCHEDULE_SET, "schedule.set", S2A, f_schedule_set },
	[RM_MSG_SCHEDULE_ACK] = { RM_MSG_SCHEDULE_ACK, "schedule.ack", A2S, f_schedule_ack },
	[RM_MSG_COMMAND_RUN] = { RM_MSG_COMMAND_RUN, "command.run", S2A, f_command_run },
	[RM_MSG_COMMAND_RESULT] = { RM_MSG_COMMAND_RESULT, "command.result", A2S,
	                            f_command_result },
	[RM_MSG_COMMAND_CANCEL] = { RM_MSG_COMMAND_CANCEL, "command.cancel", S2A,
	                            f_command_cancel },
	[RM_MSG_COMMAND_UPDATE] = { RM_MSG_COMMAND_UPDATE, "command.update", S2A,
	                            rm_f_command_update },
	[RM_MSG_JOB_STARTED] = { RM_MSG_JOB_STARTED, "job.started", A2S, f_job_started },
	[RM_MSG_JOB_PROGRESS] = { RM_MSG_JOB_PROGRESS, "job.progress", A2S, f_job_progress },
	[RM_MSG_LOG_STREAM] = { RM_MSG_LOG_STREAM, "log.stream", A2S, f_log_stream },
	[RM_MSG_JOB_FINISHED] = { RM_MSG_JOB_FINISHED, "job.finished", A2S, f_job_finished },
	[RM_MSG_SNAPSHOTS_REPORT] = { RM_MSG_SNAPSHOTS_REPORT, "snapshots.report", A2S,
	                              f_snapshots_report },
	[RM_MSG_STATS_REPORT] = { RM_MSG_STATS_REPORT, "stats.report", A2S, f_stats_report },
	[RM_MSG_TREE_LIST] = { RM_MSG_TREE_LIST, "tree.list", S2A, f_tree_list },
	[RM_MSG_TREE_LIST_RESULT] = { RM_MSG_TREE_LIST_RESULT, "tree.list.result", A2S,
	                              f_tree_list_result },
	[RM_MSG_ERROR] = { RM_MSG_ERROR, "error", A2S | S2A, f_error },
	[RM_MSG_FORGET_PREVIEW] = { RM_MSG_FORGET_PREVIEW, "forget.preview", S2A,
	                            f_forget_preview },
	[RM_MSG_FORGET_PREVIEW_RESULT] = { RM_MSG_FORGET_PREVIEW_RESULT, "forget.preview.result",
	                                   A2S, f_forget_preview_result },
	[RM_MSG_SNAPSHOT_DIFF] = { RM_MSG_SNAPSHOT_DIFF, "snapshot.diff", S2A, rm_f_snapshot_diff },
	[RM_MSG_SNAPSHOT_DIFF_RESULT] = { RM_MSG_SNAPSHOT_DIFF_RESULT, "snapshot.diff.result", A2S,
	                                  rm_f_snapshot_diff_result },
	[RM_MSG_STREAM_OPEN] = { RM_MSG_STREAM_OPEN, "stream.open", S2A, rm_f_stream_open },
	[RM_MSG_STREAM_OPEN_RESULT] = { RM_MSG_STREAM_OPEN_RESULT, "stream.open.result", A2S,
	                                rm_f_stream_open_result },
	[RM_MSG_STREAM_DATA] = { RM_MSG_STREAM_DATA, "stream.data", A2S, rm_f_stream_data },
	[RM_MSG_STREAM_ACK] = { RM_MSG_STREAM_ACK, "stream.ack", S2A, rm_f_stream_ack },
	[RM_MSG_STREAM_END] = { RM_MSG_STREAM_END, "stream.end", A2S, rm_f_stream_end },
	[RM_MSG_STREAM_CANCEL] = { RM_MSG_STREAM_CANCEL, "stream.cancel", S2A, rm_f_stream_cancel },
	[RM_MSG_UPDATE_STATUS] = { RM_MSG_UPDATE_STATUS, "update.status", A2S, rm_f_update_status },
};
#undef A2S
#undef S2A

const struct rm_msg_desc *proto_msg_desc(enum rm_msg_type t)
{
	if ((int)t <= RM_MSG_UNKNOWN || (int)t >= RM_MSG__COUNT)
		return NULL;
	return &msg_table[t];
}

const char *proto_type_name(enum rm_msg_type t)
{
	const struct rm_msg_desc *d = proto_msg_desc(t);
	return d ? d->name : "unknown";
}

enum rm_msg_type proto_type_from_name(const char *name)
{
	if (!name)
		return RM_MSG_UNKNOWN;
	for (int i = RM_MSG_UNKNOWN + 1; i < RM_MSG__COUNT; i++)
		if (strcmp(msg_table[i].name, name) == 0)
			return (enum rm_msg_type)i;
	return RM_MSG_UNKNOWN;
}

/* ------------------------------------------------------------------ validation */
static const char *type_word(enum rm_field_type t)
{
	switch (t) {
	case RM_FT_STRING: return "a string";
	case RM_FT_INT: return "an integer";
	case RM_FT_NUMBER: return "a number";
	case RM_FT_BOOL: return "a boolean";
	case RM_FT_OBJECT: return "an object";
	case RM_FT_ARRAY: return "an array";
	case RM_FT_STRING_ARRAY: return "an array of strings";
	case RM_FT_TIME: return "an RFC 3339 time string";
	case RM_FT_ANY: return "a value";
	}
	return "a value";
}

static int str_ok(const json_t *v, size_t max)
{
	size_t l = json_string_length(v);
	return strlen(json_string_value(v)) == l && l <= max;
}

static int validate_fields(const struct rm_field *fields, const json_t *obj, const char *prefix,
                           char *err, size_t errlen);

/* Long: one switch over the field types of the schema table, a few lines per type. */
static int validate_value(const struct rm_field *f, const json_t *v, const char *path, char *err,
                          size_t errlen)
{
	switch (f->type) {
	case RM_FT_STRING: {
		size_t max = f->max ? f->max : DEF_STR_MAX;
		if (!json_is_string(v))
			break;
		if (!str_ok(v, max)) {
			rmj_seterr(err, errlen,
			           "field '%s' must be a string of at most %zu bytes "
			           "without NUL",
			           path, max);
			return RM_ERR_PROTO;
		}
		if (f->enum_values) {
			const char *s = json_string_value(v);
			for (const char *const *e = f->enum_values; *e; e++)
				if (strcmp(*e, s) == 0)
					return RM_OK;
			char allowed[256] = "";
			size_t off = 0;
			for (const char *const *e = f->enum_values; *e && off < sizeof(allowed);
			     e++) {
				int n = snprintf(allowed + off, sizeof(allowed) - off, "%s%s",
				                 off ? "|" : "", *e);
				if (n < 0)
					break;
				off += (size_t)n;
			}
			rmj_seterr(err, errlen, "field '%s' must be one of %s", path, allowed);
			return RM_ERR_PROTO;
		}
		return RM_OK;
	}
	case RM_FT_TIME: {
		int64_t ms;
		if (!json_is_string(v))
			break;
		if (!str_ok(v, TIME_STR_MAX) || rm_time_parse(json_string_value(v), &ms)) {
			rmj_seterr(err, errlen, "field '%s' must be an RFC 3339 time", path);
			return RM_ERR_PROTO;
		}
		return RM_OK;
	}
	case RM_FT_INT:
		if (json_is_integer(v))
			return RM_OK;
		break;
	case RM_FT_NUMBER:
		if (json_is_number(v))
			return RM_OK;
		break;
	case RM_FT_BOOL:
		if (json_is_boolean(v))
			return RM_OK;
		break;
	case RM_FT_OBJECT:
		if (json_is_object(v))
			return f->items ? validate_fields(f->items, v, path, err, errlen) : RM_OK;
		break;
	case RM_FT_ANY: return RM_OK;
	case RM_FT_STRING_ARRAY: {
		size_t max = f->max ? f->max : DEF_ARRAY_MAX;
		if (!json_is_array(v))
			break;
		if (json_array_size(v) > max) {
			rmj_seterr(err, errlen, "field '%s' has more than %zu items", path, max);
			return RM_ERR_PROTO;
		}
		size_t i;
		json_t *it;
		json_array_foreach (v, i, it) {
			if (!json_is_string(it) || json_string_length(it) == 0 ||
			    !str_ok(it, DEF_STR_MAX)) {
				rmj_seterr(err, errlen,
				           "field '%s[%zu]' must be a non-empty string of at "
				           "most %d bytes",
				           path, i, DEF_STR_MAX);
				return RM_ERR_PROTO;
			}
		}
		return RM_OK;
	}
	case RM_FT_ARRAY: {
		size_t max = f->max ? f->max : DEF_ARRAY_MAX;
		if (!json_is_array(v))
			break;
		if (json_array_size(v) > max) {
			rmj_seterr(err, errlen, "field '%s' has more than %zu items", path, max);
			return RM_ERR_PROTO;
		}
		if (!f->items)
			return RM_OK;
		size_t i;
		json_t *it;
		json_array_foreach (v, i, it) {
			char sub[PATH_MAX_LEN];
			if (snprintf(sub, sizeof(sub), "%s[%zu]", path, i) >= (int)sizeof(sub))
				sub[sizeof(sub) - 1] =
				    0; /* names come from the table: never long */
			if (!json_is_object(it)) {
				rmj_seterr(err, errlen, "field '%s' must be an object", sub);
				return RM_ERR_PROTO;
			}
			int rc = validate_fields(f->items, it, sub, err, errlen);
			if (rc)
				return rc;
		}
		return RM_OK;
	}
	}
	rmj_seterr(err, errlen, "field '%s' must be %s", path, type_word(f->type));
	return RM_ERR_PROTO;
}

static int validate_fields(const struct rm_field *fields, const json_t *obj, const char *prefix,
                           char *err, size_t errlen)
{
	for (const struct rm_field *f = fields; f->name; f++) {
		char path[PATH_MAX_LEN];
		if (snprintf(path, sizeof(path), "%s%s%s", prefix ? prefix : "", prefix ? "." : "",
		             f->name) >= (int)sizeof(path))
			path[sizeof(path) - 1] = 0; /* names come from the table: never long */
		const json_t *v = json_object_get(obj, f->name);
		if (!v || json_is_null(v)) {
			if (f->required) {
				rmj_seterr(err, errlen, "field '%s' is required", path);
				return RM_ERR_PROTO;
			}
			continue;
		}
		int rc = validate_value(f, v, path, err, errlen);
		if (rc)
			return rc;
	}
	return RM_OK;
}

int proto_validate_payload(enum rm_msg_type t, const json_t *payload, char *err, size_t errlen)
{
	const struct rm_msg_desc *d = proto_msg_desc(t);
	if (!d) {
		rmj_seterr(err, errlen, "unknown message type");
		return RM_ERR_PROTO;
	}
	if (!json_is_object(payload)) {
		rmj_seterr(err, errlen, "field 'payload' must be an object");
		return RM_ERR_PROTO;
	}
	return validate_fields(d->fields, payload, NULL, err, errlen);
}

/* ------------------------------------------------------------------ envelope */
/* Envelope ids: ours are ULIDs, but any 1..64 chars of [0-9A-Za-z_-] are accepted so
 * that foreign clients (scripts, other implementations) can talk to us. */
static int id_valid(const char *s, size_t len)
{
	if (len < 1 || len > RM_PROTO_ID_MAX || strlen(s) != len)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* (Long: the envelope's checks in wire order: size, JSON, type, id, ts, payload.) */
int proto_decode(const char *buf, size_t len, struct rm_envelope *out, char *err, size_t errlen)
{
	int rc;
	json_t *root = NULL;
	if (!out)
		return RM_ERR_INVAL;
	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = 0;
	if (!buf) {
		rmj_seterr(err, errlen, "empty frame");
		return RM_ERR_PROTO;
	}
	if (len > RM_PROTO_MAX_FRAME) {
		rmj_seterr(err, errlen, "frame of %zu bytes exceeds %d", len, RM_PROTO_MAX_FRAME);
		return RM_ERR_TOOBIG;
	}
	char jerr[160];
	rc = rmj_parse(buf, len, RM_PROTO_MAX_FRAME, &root, jerr, sizeof(jerr));
	if (rc) {
		rmj_seterr(err, errlen, "%s", jerr);
		rc = rc == RM_ERR_TOOBIG ? RM_ERR_TOOBIG : RM_ERR_PROTO;
		goto fail;
	}
	if (!json_is_object(root)) {
		rmj_seterr(err, errlen, "envelope must be a JSON object");
		rc = RM_ERR_PROTO;
		goto fail;
	}

	/* id first, so that later errors can reference it */
	json_t *jid = json_object_get(root, "id");
	if (!json_is_string(jid) || !id_valid(json_string_value(jid), json_string_length(jid))) {
		rmj_seterr(err, errlen, "field 'id' must be 1..%d chars of [0-9A-Za-z_-]",
		           RM_PROTO_ID_MAX);
		rc = RM_ERR_PROTO;
		goto fail;
	}
	memcpy(out->id, json_string_value(jid), json_string_length(jid) + 1);

	json_t *jtype = json_object_get(root, "type");
	if (!json_is_string(jtype) || json_string_length(jtype) < 1 || !str_ok(jtype, TYPE_MAX)) {
		rmj_seterr(err, errlen,
		           "field 'type' must be a non-empty string of at most %d bytes", TYPE_MAX);
		rc = RM_ERR_PROTO;
		goto fail;
	}
	rm_strlcpy(out->type_name, json_string_value(jtype), sizeof(out->type_name));

	json_t *jts = json_object_get(root, "ts");
	int64_t ts_ms = 0;
	if (!json_is_string(jts) || !str_ok(jts, TIME_STR_MAX) ||
	    rm_time_parse(json_string_value(jts), &ts_ms)) {
		rmj_seterr(err, errlen, "field 'ts' must be an RFC 3339 time");
		rc = RM_ERR_PROTO;
		goto fail;
	}
	out->ts_ms = ts_ms;

	json_t *payload = json_object_get(root, "payload");
	if (!json_is_object(payload)) {
		rmj_seterr(err, errlen, "field 'payload' must be an object");
		rc = RM_ERR_PROTO;
		goto fail;
	}

	out->type = proto_type_from_name(json_string_value(jtype));
	out->root = root;
	out->payload = payload;
	if (out->type == RM_MSG_UNKNOWN) {
		rmj_seterr(err, errlen, "unknown message type '%s'", out->type_name);
		return RM_ERR_UNKNOWN;
	}
	char perr[256];
	rc = proto_validate_payload(out->type, payload, perr, sizeof(perr));
	if (rc) {
		rmj_seterr(err, errlen, "%s: %s", out->type_name, perr);
		out->root = NULL;
		out->payload = NULL;
		goto fail;
	}
	return RM_OK;

fail:
	json_decref(root);
	out->type = RM_MSG_UNKNOWN;
	return rc;
}

void proto_envelope_cleanup(struct rm_envelope *env)
{
	if (!env)
		return;
	json_decref(env->root);
	env->root = NULL;
	env->payload = NULL;
}

static char *encode(const char *type, json_t *payload, char *id_out)
{
	char id[RM_ULID_LEN + 1], ts[RM_TIME_STRLEN];
	rm_ulid_new(id);
	rm_time_fmt(rm_now_ms(), ts);
	json_t *env = json_object();
	if (!env)
		abort(); /* json_object fails only on OOM */
	json_object_set_new(env, "type", json_string(type));
	json_object_set_new(env, "id", json_string(id));
	json_object_set_new(env, "ts", json_string(ts));
	json_object_set_new(env, "payload", payload ? payload : json_object());
	char *s = rmj_dumps(env);
	json_decref(env);
	if (id_out)
		memcpy(id_out, id, sizeof(id));
	return s;
}

char *proto_encode(enum rm_msg_type t, json_t *payload_take, char id_out[RM_ULID_BUF])
{
	return encode(proto_type_name(t), payload_take, id_out);
}

/* A string that jansson accepts (valid UTF-8); peer-derived text may not be. */
static json_t *safe_string(const char *s, const char *fallback)
{
	json_t *v = s ? json_string(s) : NULL;
	return v ? v : json_string(fallback);
}

char *proto_encode_error(const char *code, const char *message, const char *ref_id)
{
	json_t *p = json_object();
	json_object_set_new(p, "code", safe_string(code, "error"));
	json_object_set_new(p, "message", safe_string(message, "(invalid message text)"));
	if (ref_id)
		json_object_set_new(p, "ref_id", safe_string(ref_id, ""));
	return encode("error", p, NULL);
}

int proto_group_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
			return 0;
	}
	return 1;
}
