/* Unit tests: the envelope codec and the message table (proto.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/proto.h"
#include "common/rmtime.h"
#include "common/ulid.h"
#include "tap.h"

/* One valid payload per message type, with every field of the table present. */
static const struct {
	enum rm_msg_type t;
	const char *payload;
} samples[] = {
	{ RM_MSG_HELLO, "{\"protocol_version\":1,\"agent_version\":\"0.1.0\",\"restic_version\":"
	                "\"0.14.0\",\"hostname\":\"web-1\",\"os\":\"linux\",\"arch\":\"amd64\","
	                "\"running_jobs\":[\"01HJOB00000000000000000000\"],\"boot_time\":"
	                "\"2026-11-24T08:00:00Z\"}" },
	{ RM_MSG_HEARTBEAT, "{\"sent_at\":\"2026-11-24T14:32:10.123Z\"}" },
	{ RM_MSG_ACK, "{\"ids\":[\"01ARZ3NDEKTSV4RRFFQ69G5FAV\",\"01ARZ3NDEKTSV4RRFFQ69G5FAW\"]}" },
	{ RM_MSG_CONFIG_UPDATE,
	  "{\"slot\":\"repo\",\"repo_url\":\"rest:http://h:8000/web-1/\","
	  "\"repo_username\":\"web-1\",\"repo_password\":\"pw\","
	  "\"hook_shell\":\"/bin/sh\",\"bandwidth\":{\"upload_kbps\":1000}}" },
	{ RM_MSG_SCHEDULE_SET,
	  "{\"version\":3,\"schedules\":[{\"id\":\"s1\",\"cron\":\"0 3 * * *\"}]}" },
	{ RM_MSG_SCHEDULE_ACK, "{\"version\":3,\"applied_at\":\"2026-11-24T14:32:10Z\"}" },
	{ RM_MSG_COMMAND_RUN, "{\"job_id\":\"01HJOB00000000000000000000\",\"kind\":\"backup\","
	                      "\"args\":{\"paths\":[\"/etc\"],\"tags\":[],\"excludes\":[]}}" },
	{ RM_MSG_COMMAND_RESULT, "{\"job_id\":\"j1\",\"accepted\":false,\"error\":\"busy\"}" },
	{ RM_MSG_COMMAND_CANCEL, "{\"job_id\":\"j1\"}" },
	{ RM_MSG_COMMAND_UPDATE,
	  "{\"update_id\":\"u1\",\"version\":\"0.2.0\",\"path\":\"/agent/binary?os=linux\","
	  "\"manifest\":\"restic-manager-agent-manifest 1\\nversion 0.2.0\\n\","
	  "\"signature\":\"c2ln\"}" },
	{ RM_MSG_JOB_STARTED, "{\"job_id\":\"j1\",\"seq\":1,\"kind\":\"backup\",\"started_at\":"
	                      "\"2026-11-24T14:32:10.123456789+01:00\"}" },
	{ RM_MSG_JOB_PROGRESS,
	  "{\"job_id\":\"j1\",\"percent_done\":0.5,\"files_done\":10,"
	  "\"total_files\":20,\"bytes_done\":1000,\"total_bytes\":2000,"
	  "\"eta_seconds\":5,\"throughput_bps\":200,\"current_file\":\"/etc/x\"}" },
	{ RM_MSG_LOG_STREAM,
	  "{\"job_id\":\"j1\",\"lines\":[{\"seq\":2,\"ts\":\"2026-11-24T14:32:10Z\","
	  "\"stream\":\"stdout\",\"payload\":\"open repository\"},{\"seq\":3,\"ts\":"
	  "\"2026-11-24T14:32:11Z\",\"stream\":\"event\",\"payload\":\"{}\"}]}" },
	{ RM_MSG_JOB_FINISHED,
	  "{\"job_id\":\"j1\",\"seq\":4,\"status\":\"succeeded\",\"exit_code\":0,"
	  "\"finished_at\":\"2026-11-24T14:33:00Z\",\"stats\":{\"files_new\":3},"
	  "\"error\":\"\",\"warnings\":false}" },
	{ RM_MSG_SNAPSHOTS_REPORT,
	  "{\"snapshots\":[{\"id\":\"4f1c0d8e\",\"short_id\":\"4f1c0d8e\","
	  "\"time\":\"2026-11-24T14:33:00.5+01:00\",\"hostname\":\"web-1\","
	  "\"paths\":[\"/etc\"],\"tags\":[\"daily\"],\"size_bytes\":123,"
	  "\"file_count\":4}],\"truncated\":false}" },
	{ RM_MSG_STATS_REPORT, "{\"total_size\":1,\"total_file_count\":2,\"snapshots_count\":3,"
	                       "\"raw_size\":4,\"total_uncompressed_size\":5,"
	                       "\"compression_ratio\":2.5,\"compression_space_saving\":60}" },
	{ RM_MSG_TREE_LIST, "{\"snapshot_id\":\"4f1c0d8e\",\"path\":\"/etc\"}" },
	{ RM_MSG_TREE_LIST_RESULT, "{\"request_id\":\"01ARZ3NDEKTSV4RRFFQ69G5FAV\",\"entries\":"
	                           "[{\"name\":\"x\",\"type\":\"file\"}],\"path\":\"/etc\","
	                           "\"next_cursor\":\"1.40\",\"total\":2}" },
	{ RM_MSG_ERROR, "{\"code\":\"malformed\",\"message\":\"bad\",\"ref_id\":\"abc\"}" },
	{ RM_MSG_FORGET_PREVIEW, "{\"group\":\"etc\",\"retention\":{\"keep_last\":2}}" },
	{ RM_MSG_FORGET_PREVIEW_RESULT,
	  "{\"request_id\":\"01ARZ3NDEKTSV4RRFFQ69G5FAV\",\"keep\":[{\"id\":\"ab\","
	  "\"reasons\":[\"last snapshot\"]}],\"remove\":[],\"truncated\":false}" },
	{ RM_MSG_SNAPSHOT_DIFF, "{\"from\":\"4f1c0d8e\",\"to\":\"5a2b3c4d\"}" },
	{ RM_MSG_SNAPSHOT_DIFF_RESULT, "{\"request_id\":\"r1\",\"added\":[\"/a\"],\"removed\":[],"
	                               "\"changed\":[\"/b\"],\"truncated\":false,\"stats\":{}}" },
	{ RM_MSG_STREAM_OPEN, "{\"stream_id\":\"s1\",\"snapshot_id\":\"4f1c0d8e\",\"path\":\"/a\","
	                      "\"format\":\"tar\",\"window\":1048576}" },
	{ RM_MSG_STREAM_OPEN_RESULT,
	  "{\"request_id\":\"r1\",\"stream_id\":\"s1\",\"type\":\"file\","
	  "\"size\":5}" },
	{ RM_MSG_STREAM_DATA, "{\"stream_id\":\"s1\",\"data\":\"aGVsbG8=\"}" },
	{ RM_MSG_STREAM_ACK, "{\"stream_id\":\"s1\",\"bytes\":5}" },
	{ RM_MSG_STREAM_END, "{\"stream_id\":\"s1\",\"bytes\":5}" },
	{ RM_MSG_STREAM_CANCEL, "{\"stream_id\":\"s1\"}" },
	{ RM_MSG_UPDATE_STATUS, "{\"update_id\":\"u1\",\"state\":\"failed\",\"version\":\"0.1.0\","
	                        "\"error\":\"signature does not verify\"}" },
};
#define NSAMPLES (sizeof(samples) / sizeof(samples[0]))

static const char *sample_for(enum rm_msg_type t)
{
	for (size_t i = 0; i < NSAMPLES; i++)
		if (samples[i].t == t)
			return samples[i].payload;
	return NULL;
}

/* Wraps a payload object (taken) into an envelope text, caller frees. */
static char *wrap(const char *type, json_t *payload_take)
{
	json_t *env = json_object();
	json_object_set_new(env, "type", json_string(type));
	json_object_set_new(env, "id", json_string("01ARZ3NDEKTSV4RRFFQ69G5FAV"));
	json_object_set_new(env, "ts", json_string("2026-11-24T14:32:10.123Z"));
	json_object_set_new(env, "payload", payload_take);
	char *s = rmj_dumps(env);
	json_decref(env);
	return s;
}

static json_t *load(const char *s)
{
	json_t *v = NULL;
	if (rmj_parse(s, strlen(s), 0, &v, NULL, 0))
		return NULL;
	return v;
}

static int decode_str(const char *s, struct rm_envelope *env, char *err, size_t errlen)
{
	return proto_decode(s, strlen(s), env, err, errlen);
}

/* Decodes text and returns rc, cleaning up; err receives the message. */
static int decode_rc(const char *s, char *err, size_t errlen)
{
	struct rm_envelope env;
	int rc = decode_str(s, &env, err, errlen);
	proto_envelope_cleanup(&env);
	return rc;
}

TEST(table_consistent)
{
	EQ_INT(NSAMPLES, RM_MSG__COUNT - 1);
	for (int t = RM_MSG_UNKNOWN + 1; t < RM_MSG__COUNT; t++) {
		const struct rm_msg_desc *d = proto_msg_desc((enum rm_msg_type)t);
		OK(d != NULL);
		if (!d)
			continue;
		EQ_INT(d->type, t);
		OK(d->name && d->fields && d->dir);
		EQ_INT(proto_type_from_name(d->name), t);
		EQ_STR(proto_type_name((enum rm_msg_type)t), d->name);
		OK(sample_for((enum rm_msg_type)t) != NULL);
	}
	OK(proto_msg_desc(RM_MSG_UNKNOWN) == NULL);
	OK(proto_msg_desc(RM_MSG__COUNT) == NULL);
	EQ_STR(proto_type_name(RM_MSG__COUNT), "unknown");
	EQ_INT(proto_type_from_name("nope"), RM_MSG_UNKNOWN);
	EQ_INT(proto_type_from_name(NULL), RM_MSG_UNKNOWN);
	EQ_STR(proto_type_name(RM_MSG_JOB_FINISHED), "job.finished");
	EQ_STR(proto_type_name(RM_MSG_TREE_LIST_RESULT), "tree.list.result");
}

TEST(valid_samples_decode)
{
	for (size_t i = 0; i < NSAMPLES; i++) {
		char *s = wrap(proto_type_name(samples[i].t), load(samples[i].payload));
		struct rm_envelope env;
		char err[256] = "";
		int rc = decode_str(s, &env, err, sizeof(err));
		if (rc)
			printf("#   %s: %s\n", proto_type_name(samples[i].t), err);
		EQ_INT(rc, RM_OK);
		EQ_INT(env.type, samples[i].t);
		EQ_STR(env.id, "01ARZ3NDEKTSV4RRFFQ69G5FAV");
		EQ_STR(env.type_name, proto_type_name(samples[i].t));
		EQ_INT(env.ts_ms, 1795530730123LL);
		OK(json_is_object(env.payload));
		proto_envelope_cleanup(&env);
		proto_envelope_cleanup(&env); /* idempotent */
		free(s);
	}
}

/* A value of the wrong type for each field type. */
static json_t *wrong_value(enum rm_field_type t)
{
	switch (t) {
	case RM_FT_STRING: return json_integer(5);
	case RM_FT_INT: return json_string("5");
	case RM_FT_NUMBER: return json_string("0.5");
	case RM_FT_BOOL: return json_integer(1);
	case RM_FT_OBJECT: return json_array();
	case RM_FT_ARRAY: return json_object();
	case RM_FT_STRING_ARRAY: return json_pack("[i]", 1);
	case RM_FT_TIME: return json_string("yesterday");
	case RM_FT_ANY: return NULL;
	}
	return NULL;
}

TEST(required_missing_and_wrong_types)
{
	int checked_missing = 0, checked_wrong = 0;
	for (int t = RM_MSG_UNKNOWN + 1; t < RM_MSG__COUNT; t++) {
		const struct rm_msg_desc *d = proto_msg_desc((enum rm_msg_type)t);
		for (const struct rm_field *f = d->fields; f->name; f++) {
			char err[256] = "";
			if (f->required) {
				json_t *p = load(sample_for((enum rm_msg_type)t));
				json_object_del(p, f->name);
				char *s = wrap(d->name, p);
				int rc = decode_rc(s, err, sizeof(err));
				if (rc != RM_ERR_PROTO || !strstr(err, f->name))
					printf("#   %s without %s: rc=%d err=%s\n", d->name,
					       f->name, rc, err);
				EQ_INT(rc, RM_ERR_PROTO);
				OK(strstr(err, f->name) != NULL);
				free(s);
				/* null counts as missing */
				p = load(sample_for((enum rm_msg_type)t));
				json_object_set_new(p, f->name, json_null());
				s = wrap(d->name, p);
				EQ_INT(decode_rc(s, err, sizeof(err)), RM_ERR_PROTO);
				free(s);
				checked_missing++;
			} else {
				/* optional: absence is fine */
				json_t *p = load(sample_for((enum rm_msg_type)t));
				json_object_del(p, f->name);
				char *s = wrap(d->name, p);
				EQ_INT(decode_rc(s, err, sizeof(err)), RM_OK);
				free(s);
			}
			json_t *w = wrong_value(f->type);
			if (!w)
				continue;
			json_t *p = load(sample_for((enum rm_msg_type)t));
			json_object_set_new(p, f->name, w);
			char *s = wrap(d->name, p);
			int rc = decode_rc(s, err, sizeof(err));
			if (rc != RM_ERR_PROTO || !strstr(err, f->name))
				printf("#   %s wrong %s: rc=%d err=%s\n", d->name, f->name, rc,
				       err);
			EQ_INT(rc, RM_ERR_PROTO);
			OK(strstr(err, f->name) != NULL);
			free(s);
			checked_wrong++;
		}
	}
	OK(checked_missing > 30);
	OK(checked_wrong > 60);
}

static int decode_payload(const char *type, const char *payload, char *err, size_t errlen)
{
	json_t *p = load(payload);
	if (!p)
		return -1;
	char *s = wrap(type, p);
	int rc = decode_rc(s, err, errlen);
	free(s);
	return rc;
}

TEST(nested_items_and_enums)
{
	char err[256];
	EQ_INT(decode_payload("log.stream",
	                      "{\"job_id\":\"j\",\"lines\":[{\"seq\":1,\"ts\":"
	                      "\"2026-11-24T14:32:10Z\",\"stream\":\"stdin\",\"payload\":\"x\"}]}",
	                      err, sizeof(err)),
	       RM_ERR_PROTO);
	OK(strstr(err, "lines[0].stream") != NULL);
	EQ_INT(decode_payload("log.stream",
	                      "{\"job_id\":\"j\",\"lines\":[{\"seq\":1,\"ts\":"
	                      "\"2026-11-24T14:32:10Z\",\"stream\":\"stdout\",\"payload\":\"x\"},"
	                      "{\"ts\":\"2026-11-24T14:32:10Z\",\"stream\":\"stdout\",\"payload\":"
	                      "\"x\"}]}",
	                      err, sizeof(err)),
	       RM_ERR_PROTO);
	OK(strstr(err, "lines[1].seq") != NULL);
	EQ_INT(decode_payload("log.stream", "{\"job_id\":\"j\",\"lines\":[5]}", err, sizeof(err)),
	       RM_ERR_PROTO);
	OK(strstr(err, "lines[0]") != NULL);
	EQ_INT(decode_payload("log.stream", "{\"job_id\":\"j\",\"lines\":[]}", err, sizeof(err)),
	       RM_OK);
	EQ_INT(decode_payload("job.finished",
	                      "{\"job_id\":\"j\",\"seq\":2,\"status\":\"done\","
	                      "\"exit_code\":0,\"finished_at\":\"2026-11-24T14:32:10Z\"}",
	                      err, sizeof(err)),
	       RM_ERR_PROTO);
	OK(strstr(err, "status") && strstr(err, "succeeded|failed|cancelled"));
	EQ_INT(decode_payload("config.update", "{\"slot\":\"other\"}", err, sizeof(err)),
	       RM_ERR_PROTO);
	EQ_INT(decode_payload("config.update", "{}", err, sizeof(err)), RM_OK);
	EQ_INT(decode_payload("snapshots.report",
	                      "{\"snapshots\":[{\"short_id\":\"a\",\"time\":"
	                      "\"2026-11-24T14:32:10Z\"}]}",
	                      err, sizeof(err)),
	       RM_ERR_PROTO);
	OK(strstr(err, "snapshots[0].id") != NULL);
	EQ_INT(decode_payload("snapshots.report",
	                      "{\"snapshots\":[{\"id\":\"a\",\"short_id\":\"a\","
	                      "\"time\":\"2026-11-24T14:32:10Z\",\"paths\":[\"\"]}]}",
	                      err, sizeof(err)),
	       RM_ERR_PROTO);
	OK(strstr(err, "snapshots[0].paths[0]") != NULL);
	/* unknown fields are ignored at every level (forward compatible) */
	EQ_INT(
	    decode_payload("heartbeat", "{\"future\":{\"x\":[1,2]},\"more\":1}", err, sizeof(err)),
	    RM_OK);
	EQ_INT(decode_payload("log.stream",
	                      "{\"job_id\":\"j\",\"x\":1,\"lines\":[{\"seq\":1,\"ts\":"
	                      "\"2026-11-24T14:32:10Z\",\"stream\":\"event\",\"payload\":\"x\","
	                      "\"extra\":true}]}",
	                      err, sizeof(err)),
	       RM_OK);
	/* number accepts ints and reals, int refuses reals */
	EQ_INT(decode_payload("job.progress", "{\"job_id\":\"j\",\"percent_done\":1}", err,
	                      sizeof(err)),
	       RM_OK);
	EQ_INT(decode_payload("job.progress", "{\"job_id\":\"j\",\"files_done\":1.5}", err,
	                      sizeof(err)),
	       RM_ERR_PROTO);
}

/* Builds {"job_id":"j","lines":[n lines with payload of plen bytes]}. */
static json_t *log_payload(size_t n, size_t plen)
{
	char *line = malloc(plen + 1);
	memset(line, 'x', plen);
	line[plen] = 0;
	json_t *lines = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(
		    lines, json_pack("{s:I,s:s,s:s,s:s}", "seq", (json_int_t)i + 1, "ts",
		                     "2026-11-24T14:32:10Z", "stream", "stdout", "payload", line));
	free(line);
	return json_pack("{s:s,s:o}", "job_id", "j", "lines", lines);
}

TEST(bounds)
{
	char err[256];
	/* log line payload: 65536 ok, 65537 not */
	char *s = wrap("log.stream", log_payload(1, 65536));
	EQ_INT(decode_rc(s, err, sizeof(err)), RM_OK);
	free(s);
	s = wrap("log.stream", log_payload(1, 65537));
	EQ_INT(decode_rc(s, err, sizeof(err)), RM_ERR_PROTO);
	OK(strstr(err, "lines[0].payload") != NULL);
	free(s);
	/* 1000 lines ok, 1001 not */
	s = wrap("log.stream", log_payload(1000, 10));
	EQ_INT(decode_rc(s, err, sizeof(err)), RM_OK);
	free(s);
	s = wrap("log.stream", log_payload(1001, 10));
	EQ_INT(decode_rc(s, err, sizeof(err)), RM_ERR_PROTO);
	OK(strstr(err, "lines") != NULL);
	free(s);
	/* default string bound 4096 */
	json_t *p = json_object();
	char *big = malloc(4098);
	memset(big, 'a', 4097);
	big[4097] = 0;
	json_object_set_new(p, "job_id", json_string("j"));
	json_object_set_new(p, "current_file", json_string(big));
	s = wrap("job.progress", p);
	EQ_INT(decode_rc(s, err, sizeof(err)), RM_ERR_PROTO);
	OK(strstr(err, "current_file") != NULL);
	free(s);
	big[4096] = 0;
	p = json_pack("{s:s,s:s}", "job_id", "j", "current_file", big);
	s = wrap("job.progress", p);
	EQ_INT(decode_rc(s, err, sizeof(err)), RM_OK);
	free(s);
	free(big);
	/* ack: 1000 ids max */
	json_t *ids = json_array();
	for (int i = 0; i < 1001; i++)
		json_array_append_new(ids, json_string("01ARZ3NDEKTSV4RRFFQ69G5FAV"));
	s = wrap("ack", json_pack("{s:o}", "ids", ids));
	EQ_INT(decode_rc(s, err, sizeof(err)), RM_ERR_PROTO);
	free(s);
	/* snapshots: more than 1000 allowed (up to 10000) */
	json_t *snaps = json_array();
	for (int i = 0; i < 1500; i++)
		json_array_append_new(snaps, json_pack("{s:s,s:s,s:s}", "id", "a", "short_id", "a",
		                                       "time", "2026-11-24T14:32:10Z"));
	s = wrap("snapshots.report", json_pack("{s:o}", "snapshots", snaps));
	EQ_INT(decode_rc(s, err, sizeof(err)), RM_OK);
	free(s);
	/* frame cap: > 1 MiB -> TOOBIG before parsing */
	size_t n = RM_PROTO_MAX_FRAME + 1;
	char *huge = malloc(n);
	memset(huge, ' ', n);
	huge[0] = '{';
	huge[n - 1] = '}';
	struct rm_envelope env;
	EQ_INT(proto_decode(huge, n, &env, err, sizeof(err)), RM_ERR_TOOBIG);
	proto_envelope_cleanup(&env);
	EQ_INT(proto_decode(huge, n - 1, &env, err, sizeof(err)), RM_ERR_PROTO);
	proto_envelope_cleanup(&env);
	free(huge);
}

TEST(envelope_errors)
{
	char err[256];
	struct rm_envelope env;
	const char *ok = "{\"type\":\"heartbeat\",\"id\":\"abc_DEF-123\",\"ts\":"
	                 "\"2026-11-24T14:32:10Z\",\"payload\":{}}";
	EQ_INT(decode_str(ok, &env, err, sizeof(err)), RM_OK);
	EQ_STR(env.id, "abc_DEF-123");
	proto_envelope_cleanup(&env);

	/* unknown type: well formed, reported as unknown with name and id */
	const char *unk = "{\"type\":\"future.thing\",\"id\":\"01ARZ3NDEKTSV4RRFFQ69G5FAV\","
	                  "\"ts\":\"2026-11-24T14:32:10Z\",\"payload\":{\"x\":1}}";
	EQ_INT(decode_str(unk, &env, err, sizeof(err)), RM_ERR_UNKNOWN);
	EQ_STR(env.type_name, "future.thing");
	EQ_STR(env.id, "01ARZ3NDEKTSV4RRFFQ69G5FAV");
	EQ_INT(env.type, RM_MSG_UNKNOWN);
	proto_envelope_cleanup(&env);

	/* schema violation keeps the id for ref_id */
	const char *bad_payload = "{\"type\":\"ack\",\"id\":\"01ARZ3NDEKTSV4RRFFQ69G5FAV\","
	                          "\"ts\":\"2026-11-24T14:32:10Z\",\"payload\":{}}";
	EQ_INT(decode_str(bad_payload, &env, err, sizeof(err)), RM_ERR_PROTO);
	EQ_STR(env.id, "01ARZ3NDEKTSV4RRFFQ69G5FAV");
	OK(strstr(err, "ids") != NULL);
	OK(env.root == NULL);
	proto_envelope_cleanup(&env);

	char id64[65], id65[66];
	memset(id64, 'a', 64);
	id64[64] = 0;
	memset(id65, 'a', 65);
	id65[65] = 0;
	char buf64[256], buf65[256];
	snprintf(buf64, sizeof(buf64),
	         "{\"type\":\"heartbeat\",\"id\":\"%s\",\"ts\":"
	         "\"2026-11-24T14:32:10Z\",\"payload\":{}}",
	         id64);
	snprintf(buf65, sizeof(buf65),
	         "{\"type\":\"heartbeat\",\"id\":\"%s\",\"ts\":"
	         "\"2026-11-24T14:32:10Z\",\"payload\":{}}",
	         id65);
	EQ_INT(decode_rc(buf64, err, sizeof(err)), RM_OK);
	EQ_INT(decode_rc(buf65, err, sizeof(err)), RM_ERR_PROTO);

	char type65[66], buft[256];
	memset(type65, 'x', 65);
	type65[65] = 0;
	snprintf(buft, sizeof(buft),
	         "{\"type\":\"%s\",\"id\":\"a\",\"ts\":"
	         "\"2026-11-24T14:32:10Z\",\"payload\":{}}",
	         type65);
	EQ_INT(decode_rc(buft, err, sizeof(err)), RM_ERR_PROTO);
	OK(strstr(err, "type") != NULL);

	static const struct {
		const char *text;
		const char *needle;
	} bad[] = {
		{ "", "" },
		{ "null", "object" },
		{ "[]", "object" },
		{ "\"str\"", "object" },
		{ "{", "" },
		{ "{}", "id" },
		{ "{\"type\":\"heartbeat\",\"ts\":\"2026-11-24T14:32:10Z\",\"payload\":{}}", "id" },
		{ "{\"type\":\"heartbeat\",\"id\":\"\",\"ts\":\"2026-11-24T14:32:10Z\",\"payload\":{}}",
		  "id" },
		{ "{\"type\":\"heartbeat\",\"id\":\"a b\",\"ts\":\"2026-11-24T14:32:10Z\",\"payload\":{}}",
		  "id" },
		{ "{\"type\":\"heartbeat\",\"id\":7,\"ts\":\"2026-11-24T14:32:10Z\",\"payload\":{}}",
		  "id" },
		{ "{\"type\":\"heartbeat\",\"id\":\"a\",\"payload\":{}}", "ts" },
		{ "{\"type\":\"heartbeat\",\"id\":\"a\",\"ts\":\"now\",\"payload\":{}}", "ts" },
		{ "{\"type\":\"heartbeat\",\"id\":\"a\",\"ts\":1795530730123,\"payload\":{}}",
		  "ts" },
		{ "{\"id\":\"a\",\"ts\":\"2026-11-24T14:32:10Z\",\"payload\":{}}", "type" },
		{ "{\"type\":\"\",\"id\":\"a\",\"ts\":\"2026-11-24T14:32:10Z\",\"payload\":{}}",
		  "type" },
		{ "{\"type\":3,\"id\":\"a\",\"ts\":\"2026-11-24T14:32:10Z\",\"payload\":{}}",
		  "type" },
		{ "{\"type\":\"heartbeat\",\"id\":\"a\",\"ts\":\"2026-11-24T14:32:10Z\"}",
		  "payload" },
		{ "{\"type\":\"heartbeat\",\"id\":\"a\",\"ts\":\"2026-11-24T14:32:10Z\",\"payload\":[]}",
		  "payload" },
		{ "{\"type\":\"heartbeat\",\"id\":\"a\",\"ts\":\"2026-11-24T14:32:10Z\",\"payload\":null}",
		  "payload" },
		{ "{\"type\":\"heartbeat\",\"id\":\"a\",\"ts\":\"2026-11-24T14:32:10Z\",\"payload\":{}} x",
		  "" },
		{ "{\"type\":\"heartbeat\",\"type\":\"ack\",\"id\":\"a\",\"ts\":\"2026-11-24T14:32:10Z\","
		  "\"payload\":{}}",
		  "duplicate" },
		{ "{\"type\":\"heartbeat\",\"id\":\"a\",\"ts\":\"2026-11-24T14:32:10Z\",\"payload\":"
		  "{\"sent_at\":\"bad\"}}",
		  "sent_at" },
		{ "\xff\xfe{}", "" },
		{ "{\"type\":\"heart\xffzz\",\"id\":\"a\",\"ts\":\"2026-11-24T14:32:10Z\",\"payload\":{}}",
		  "" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = decode_rc(bad[i].text, err, sizeof(err));
		if (rc != RM_ERR_PROTO || !strstr(err, bad[i].needle))
			printf("#   case %zu: rc=%d err=%s\n", i, rc, err);
		EQ_INT(rc, RM_ERR_PROTO);
		OK(strstr(err, bad[i].needle) != NULL);
	}
	/* embedded NUL */
	const char nul[] = "{\"type\":\"heartbeat\",\"id\":\"a\",\"ts\":\"2026-11-24T14:32:10Z\","
	                   "\"payload\":{}}\0";
	EQ_INT(proto_decode(nul, sizeof(nul), &env, err, sizeof(err)), RM_ERR_PROTO);
	proto_envelope_cleanup(&env);
	/* deep nesting */
	char deep[400];
	size_t n = (size_t)snprintf(deep, sizeof(deep),
	                            "{\"type\":\"heartbeat\",\"id\":\"a\","
	                            "\"ts\":\"2026-11-24T14:32:10Z\",\"payload\":{\"x\":");
	for (int i = 0; i < 40; i++)
		deep[n++] = '[';
	for (int i = 0; i < 40; i++)
		deep[n++] = ']';
	deep[n++] = '}';
	deep[n++] = '}';
	deep[n] = 0;
	EQ_INT(decode_rc(deep, err, sizeof(err)), RM_ERR_PROTO);
	OK(strstr(err, "nesting") != NULL);
	/* NULL input / NULL err are fine */
	EQ_INT(proto_decode(NULL, 0, &env, NULL, 0), RM_ERR_PROTO);
	proto_envelope_cleanup(&env);
	EQ_INT(proto_decode(ok, strlen(ok), &env, NULL, 0), RM_OK);
	proto_envelope_cleanup(&env);
	proto_envelope_cleanup(NULL);
}

TEST(encode_round_trip)
{
	for (size_t i = 0; i < NSAMPLES; i++) {
		char id[27] = "";
		int64_t before = rm_now_ms();
		char *s = proto_encode(samples[i].t, load(samples[i].payload), id);
		OK(rm_ulid_valid(id));
		struct rm_envelope env;
		char err[256] = "";
		EQ_INT(decode_str(s, &env, err, sizeof(err)), RM_OK);
		EQ_INT(env.type, samples[i].t);
		EQ_STR(env.id, id);
		OK(env.ts_ms >= before && env.ts_ms <= rm_now_ms());
		json_t *orig = load(samples[i].payload);
		OK(json_equal(orig, env.payload));
		json_decref(orig);
		proto_envelope_cleanup(&env);
		free(s);
	}
	/* NULL payload becomes {} */
	char *s = proto_encode(RM_MSG_HEARTBEAT, NULL, NULL);
	OK(strstr(s, "\"payload\":{}") != NULL);
	EQ_INT(decode_rc(s, NULL, 0), RM_OK);
	free(s);

	s = proto_encode_error("malformed", "field 'ids' is required",
	                       "01ARZ3NDEKTSV4RRFFQ69G5FAV");
	struct rm_envelope env;
	EQ_INT(decode_str(s, &env, NULL, 0), RM_OK);
	EQ_INT(env.type, RM_MSG_ERROR);
	EQ_STR(rmj_str(env.payload, "code"), "malformed");
	EQ_STR(rmj_str(env.payload, "message"), "field 'ids' is required");
	EQ_STR(rmj_str(env.payload, "ref_id"), "01ARZ3NDEKTSV4RRFFQ69G5FAV");
	proto_envelope_cleanup(&env);
	free(s);
	s = proto_encode_error("protocol_version_unsupported", "upgrade \xff", NULL);
	EQ_INT(decode_str(s, &env, NULL, 0), RM_OK);
	OK(json_object_get(env.payload, "ref_id") == NULL);
	OK(rmj_str(env.payload, "message") != NULL);
	proto_envelope_cleanup(&env);
	free(s);
	/* ids differ and sort in creation order */
	char a[27], b[27];
	free(proto_encode(RM_MSG_HEARTBEAT, NULL, a));
	free(proto_encode(RM_MSG_HEARTBEAT, NULL, b));
	OK(strcmp(a, b) < 0);
}

TEST(validate_payload_direct)
{
	char err[128];
	json_t *p = load("{\"job_id\":\"j\"}");
	EQ_INT(proto_validate_payload(RM_MSG_COMMAND_CANCEL, p, err, sizeof(err)), RM_OK);
	EQ_INT(proto_validate_payload(RM_MSG_JOB_STARTED, p, err, sizeof(err)), RM_ERR_PROTO);
	EQ_INT(proto_validate_payload(RM_MSG_UNKNOWN, p, err, sizeof(err)), RM_ERR_PROTO);
	EQ_INT(proto_validate_payload(RM_MSG_HEARTBEAT, NULL, err, sizeof(err)), RM_ERR_PROTO);
	json_decref(p);
}

TEST(stream_frames)
{
	unsigned char f[RM_STREAM_FRAME_HDR_MAX + 8];
	char id[RM_PROTO_ID_MAX + 1];
	const unsigned char *data = NULL;
	size_t n = 0, h = proto_stream_frame_header("01ARZ3NDEKTSV4RRFFQ69G5FAV", f);
	EQ_INT(h, 28);
	memcpy(f + h, "abc", 3);
	EQ_INT(proto_stream_frame_parse(f, h + 3, id, &data, &n), RM_OK);
	EQ_STR(id, "01ARZ3NDEKTSV4RRFFQ69G5FAV");
	EQ_INT(n, 3);
	OK(data && !memcmp(data, "abc", 3));
	EQ_INT(proto_stream_frame_parse(f, h, id, &data, &n), RM_OK); /* empty data */
	EQ_INT(n, 0);
	EQ_INT(proto_stream_frame_parse(f, 1, id, &data, &n), RM_ERR_PROTO);
	EQ_INT(proto_stream_frame_parse(f, h - 1, id, &data, &n), RM_ERR_PROTO); /* cut id */
	f[0] = 2;
	EQ_INT(proto_stream_frame_parse(f, h + 3, id, &data, &n), RM_ERR_PROTO); /* version */
	f[0] = RM_STREAM_FRAME_V;
	f[5] = '/';
	EQ_INT(proto_stream_frame_parse(f, h + 3, id, &data, &n), RM_ERR_PROTO); /* id chars */
	f[1] = 0;
	EQ_INT(proto_stream_frame_parse(f, h + 3, id, &data, &n), RM_ERR_PROTO);
	f[1] = 65;
	EQ_INT(proto_stream_frame_parse(f, sizeof f, id, &data, &n), RM_ERR_PROTO);
}

int main(void)
{
	RUN(table_consistent);
	RUN(valid_samples_decode);
	RUN(required_missing_and_wrong_types);
	RUN(nested_items_and_enums);
	RUN(bounds);
	RUN(envelope_errors);
	RUN(encode_round_trip);
	RUN(validate_payload_direct);
	RUN(stream_frames);
	return tap_done();
}
