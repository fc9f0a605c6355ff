/* Unit tests: err, buf, log (redaction), json, ulid, rmtime. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/rmtime.h"
#include "common/ulid.h"
#include "tap.h"

/* ---------------------------------------------------------------- helpers */
static int saved_fd = -1;
static FILE *cap_file;

static void capture_begin(void)
{
	fflush(stderr);
	cap_file = tmpfile();
	saved_fd = dup(STDERR_FILENO);
	dup2(fileno(cap_file), STDERR_FILENO);
}

/* Returns what was written to stderr since capture_begin (caller frees). */
static char *capture_end(void)
{
	fflush(stderr);
	dup2(saved_fd, STDERR_FILENO);
	close(saved_fd);
	long n = ftell(cap_file);
	if (n < 0)
		n = 0;
	rewind(cap_file);
	char *s = calloc(1, (size_t)n + 1);
	if (fread(s, 1, (size_t)n, cap_file) != (size_t)n)
		s[0] = 0;
	fclose(cap_file);
	return s;
}

/* ---------------------------------------------------------------- err */
TEST(err_strings)
{
	for (int i = 0; i < RM_ERR__COUNT; i++)
		OK(rm_strerror(i) && strlen(rm_strerror(i)) > 0);
	EQ_STR(rm_strerror(-5), "unknown error");
	EQ_STR(rm_strerror(RM_ERR__COUNT), "unknown error");
	OK(strcmp(rm_strerror(RM_ERR_TOOBIG), rm_strerror(RM_ERR_PROTO)) != 0);
}

TEST(err_strlcpy_and_parse)
{
	char b[5];
	EQ_INT(rm_strlcpy(b, "abcd", sizeof(b)), RM_OK);
	EQ_STR(b, "abcd");
	EQ_INT(rm_strlcpy(b, "abcdef", sizeof(b)), RM_ERR_TOOBIG);
	EQ_STR(b, "abcd");
	long long v = 7;
	EQ_INT(rm_parse_i64("12345", &v), RM_OK);
	EQ_INT(v, 12345);
	EQ_INT(rm_parse_i64("-9223372036854775808", &v), RM_OK);
	EQ_INT(v, INT64_MIN);
	v = 7;
	EQ_INT(rm_parse_i64("12x", &v), RM_ERR_INVAL);
	EQ_INT(rm_parse_i64("", &v), RM_ERR_INVAL);
	EQ_INT(rm_parse_i64(" 1", &v), RM_ERR_INVAL);
	EQ_INT(rm_parse_i64("99999999999999999999", &v), RM_ERR_INVAL);
	EQ_INT(rm_parse_i64(NULL, &v), RM_ERR_INVAL);
	EQ_INT(v, 7); /* untouched on error */
	char *s = rm_xasprintf("%s-%d", "a", 42);
	EQ_STR(s, "a-42");
	free(s);
	s = rm_xstrndup("abcdef", 3);
	EQ_STR(s, "abc");
	free(s);
	OK(rm_xstrdup(NULL) == NULL);
}

/* ---------------------------------------------------------------- buf */
TEST(buf_caps)
{
	struct rm_buf b;
	rm_buf_init(&b, 10);
	char *e = rm_buf_take(&b);
	EQ_STR(e, "");
	free(e);
	EQ_INT(rm_buf_append_str(&b, "hello"), RM_OK);
	EQ_INT(rm_buf_appendf(&b, "%d", 1234), RM_OK);
	EQ_INT(b.len, 9);
	EQ_STR(b.data, "hello1234");
	EQ_INT(rm_buf_append_str(&b, "xy"), RM_ERR_TOOBIG);
	EQ_STR(b.data, "hello1234"); /* unchanged */
	EQ_INT(rm_buf_appendf(&b, "%s", "zz"), RM_ERR_TOOBIG);
	EQ_INT(rm_buf_append(&b, "!", 1), RM_OK);
	EQ_INT(b.len, 10);
	rm_buf_consume(&b, 5);
	EQ_STR(b.data, "1234!");
	EQ_INT(b.len, 5);
	rm_buf_consume(&b, 100);
	EQ_INT(b.len, 0);
	EQ_STR(b.data, "");
	rm_buf_append_str(&b, "abc");
	char *t = rm_buf_take(&b);
	EQ_STR(t, "abc");
	free(t);
	OK(b.data == NULL && b.len == 0 && b.max == 10);
	rm_buf_cleanup(&b);

	struct rm_buf u;
	rm_buf_init(&u, 0);
	for (int i = 0; i < 10000; i++)
		EQ_INT(rm_buf_append(&u, "0123456789", 10), RM_OK);
	EQ_INT(u.len, 100000);
	EQ_INT(u.data[u.len], 0);
	rm_buf_cleanup(&u);
}

/* ---------------------------------------------------------------- log */
TEST(log_format_and_levels)
{
	enum rm_log_level lv;
	EQ_INT(rm_log_level_parse("warn", &lv), RM_OK);
	EQ_INT(lv, RM_LOG_WARN);
	EQ_INT(rm_log_level_parse("loud", &lv), RM_ERR_INVAL);
	rm_log_set_level(RM_LOG_INFO);
	capture_begin();
	RM_INFO("agent connected", "host_id", "01HX", "ip", "10.0.0.1", "note", "a b=c \"q\"",
	        "empty", NULL);
	RM_DEBUG("invisible debug line");
	char *s = capture_end();
	OK(strncmp(s, "ts=", 3) == 0);
	OK(strstr(s, " level=info msg=\"agent connected\" host_id=01HX ip=10.0.0.1 ") != NULL);
	OK(strstr(s, "note=\"a b=c \\\"q\\\"\"") != NULL);
	OK(strstr(s, "empty=\"\"") != NULL);
	OK(strstr(s, "invisible") == NULL);
	/* exactly one line */
	OK(strchr(s, '\n') && strchr(s, '\n')[1] == 0);
	free(s);

	capture_begin();
	RM_WARN("multi\nline", "v", "x\ny");
	s = capture_end();
	OK(strstr(s, "msg=\"multi\\nline\"") != NULL);
	OK(strstr(s, "v=\"x\\ny\"") != NULL);
	OK(strchr(s, '\n') && strchr(s, '\n')[1] == 0); /* no forged second line */
	free(s);
}

TEST(redactor)
{
	struct rm_redactor r = { 0 };
	EQ_INT(rm_redactor_add(&r, "pos"), RM_OK); /* too short: ignored */
	EQ_INT(rm_redactor_add(&r, NULL), RM_OK);
	EQ_INT(rm_redactor_add(&r, "secret"), RM_OK);
	EQ_INT(rm_redactor_add(&r, "my-secret-value"), RM_OK); /* longer ones go first */
	EQ_INT(rm_redactor_add(&r, "secret"), RM_OK);          /* duplicate */
	EQ_INT((int)r.n, 2);
	char *s = rm_redactor_apply(&r, "repository my-secret-value, secret; secret", 42);
	EQ_STR(s, "repository ***, ***; ***");
	free(s);
	s = rm_redactor_apply(&r, "secretXYZ", 6); /* only the first len bytes */
	EQ_STR(s, "***");
	free(s);
	s = rm_redactor_apply(NULL, "plain", 5);
	EQ_STR(s, "plain");
	free(s);
	for (int i = 0; i < RM_REDACT_SLOTS; i++) {
		char b[32];
		snprintf(b, sizeof b, "filler-%d", i);
		rm_redactor_add(&r, b);
	}
	EQ_INT(rm_redactor_add(&r, "one-too-many"), RM_ERR_TOOBIG);
	rm_redactor_cleanup(&r);
	EQ_INT((int)r.n, 0);
	rm_redactor_cleanup(&r);
}

TEST(log_redaction)
{
	rm_log_set_level(RM_LOG_DEBUG);
	rm_log_clear_secrets();
	rm_log_add_secret("hunter2-repo-pass");
	rm_log_add_secret("abc"); /* too short: ignored */
	capture_begin();
	RM_INFO("connecting", "repo_password", "hunter2-repo-pass", "bearer_token", "tok-xyz",
	        "api_key", "k-123", "key_id", "kid-1", "url",
	        "rest:http://alice:s3cr3tpw@backup.example:8000/alice/", "err",
	        "open failed for hunter2-repo-pass at https://bob:pw2@h/x", "short", "abc");
	RM_ERROR("login with hunter2-repo-pass failed");
	char *s = capture_end();
	OK(strstr(s, "hunter2-repo-pass") == NULL);
	OK(strstr(s, "tok-xyz") == NULL);
	OK(strstr(s, "k-123") == NULL);
	OK(strstr(s, "s3cr3tpw") == NULL);
	OK(strstr(s, "pw2@") == NULL);
	OK(strstr(s, "repo_password=[redacted]") != NULL);
	OK(strstr(s, "key_id=kid-1") != NULL);
	OK(strstr(s, "url=rest:http://alice:***@backup.example:8000/alice/") != NULL);
	OK(strstr(s, "https://bob:***@h/x") != NULL);
	OK(strstr(s, "msg=\"login with *** failed\"") != NULL);
	OK(strstr(s, "short=abc") != NULL);
	free(s);

	char *r = rm_redact_url("https://user:p@ss@host/path?q=1");
	EQ_STR(r, "https://user:***@host/path?q=1");
	free(r);
	r = rm_redact_url("sftp:user@host:/srv/restic");
	EQ_STR(r, "sftp:user@host:/srv/restic");
	free(r);
	r = rm_redact_url("s3://only-user@host/bucket");
	EQ_STR(r, "s3://only-user@host/bucket");
	free(r);
	r = rm_redact_url("/local/path");
	EQ_STR(r, "/local/path");
	free(r);
	r = rm_redact_secrets("x hunter2-repo-pass y hunter2-repo-pass");
	EQ_STR(r, "x *** y ***");
	free(r);
	rm_log_clear_secrets();
	r = rm_redact_secrets("x hunter2-repo-pass");
	EQ_STR(r, "x hunter2-repo-pass");
	free(r);
	rm_log_set_level(RM_LOG_INFO);
}

/* ---------------------------------------------------------------- json */
static int parse(const char *s, json_t **out)
{
	char err[128];
	return rmj_parse(s, strlen(s), 1000, out, err, sizeof(err));
}

TEST(json_parse_bounds)
{
	json_t *v = NULL;
	EQ_INT(parse("{\"a\":1}", &v), RM_OK);
	json_decref(v);
	EQ_INT(parse("[1,2]", &v), RM_OK);
	json_decref(v);
	EQ_INT(parse("{\"a\":1,\"a\":2}", &v), RM_ERR_INVAL);
	EQ_INT(parse("{\"a\":1} x", &v), RM_ERR_INVAL);
	EQ_INT(parse("{\"a\":1}{}", &v), RM_ERR_INVAL);
	EQ_INT(parse("{\"a\":\"\\u0000\"}", &v), RM_ERR_INVAL);
	EQ_INT(parse("", &v), RM_ERR_INVAL);
	EQ_INT(parse("{", &v), RM_ERR_INVAL);
	EQ_INT(rmj_parse("{\"a\":1}\0", 8, 100, &v, NULL, 0), RM_ERR_INVAL);
	char big[1200];
	memset(big, ' ', sizeof(big));
	big[0] = '1';
	big[sizeof(big) - 1] = 0;
	EQ_INT(parse(big, &v), RM_ERR_TOOBIG);

	char deep[200];
	size_t n = 0;
	for (int i = 0; i < 32; i++)
		deep[n++] = '[';
	for (int i = 0; i < 32; i++)
		deep[n++] = ']';
	deep[n] = 0;
	EQ_INT(parse(deep, &v), RM_OK);
	json_decref(v);
	n = 0;
	for (int i = 0; i < 33; i++)
		deep[n++] = '[';
	for (int i = 0; i < 33; i++)
		deep[n++] = ']';
	deep[n] = 0;
	EQ_INT(parse(deep, &v), RM_ERR_INVAL);
	/* brackets inside strings do not count */
	EQ_INT(parse("[\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[\"]", &v), RM_OK);
	json_decref(v);

	char err[128];
	EQ_INT(rmj_parse_object("[1]", 3, 0, &v, err, sizeof(err)), RM_ERR_INVAL);
	OK(strstr(err, "object") != NULL);
}

TEST(json_getters)
{
	json_t *o = NULL;
	const char *doc = "{\"s\":\"hello\",\"i\":42,\"r\":1.5,\"b\":true,\"n\":null,"
	                  "\"arr\":[\"a\",\"b\"],\"bad\":[\"a\",1],\"e\":[\"\"]}";
	EQ_INT(parse(doc, &o), RM_OK);
	char err[128];
	const char *s = "untouched";
	EQ_INT(rmj_get_str(o, "s", 1, 10, &s, err, sizeof(err)), RM_OK);
	EQ_STR(s, "hello");
	s = "untouched";
	EQ_INT(rmj_get_str(o, "s", 1, 3, &s, err, sizeof(err)), RM_ERR_INVAL);
	EQ_STR(s, "untouched");
	EQ_INT(rmj_get_str(o, "i", 1, 0, &s, err, sizeof(err)), RM_ERR_INVAL);
	EQ_STR(err, "field 'i' must be a string");
	EQ_INT(rmj_get_str(o, "missing", 0, 0, &s, err, sizeof(err)), RM_OK);
	EQ_INT(rmj_get_str(o, "n", 0, 0, &s, err, sizeof(err)), RM_OK);
	EQ_STR(s, "untouched");
	EQ_INT(rmj_get_str(o, "missing", 1, 0, &s, err, sizeof(err)), RM_ERR_INVAL);
	OK(strstr(err, "'missing'") != NULL);

	long long i = -1;
	EQ_INT(rmj_get_int(o, "i", 1, 0, 100, &i, err, sizeof(err)), RM_OK);
	EQ_INT(i, 42);
	EQ_INT(rmj_get_int(o, "i", 1, 0, 10, &i, err, sizeof(err)), RM_ERR_INVAL);
	EQ_INT(rmj_get_int(o, "r", 1, 0, 10, &i, err, sizeof(err)), RM_ERR_INVAL);
	EQ_INT(i, 42);
	double d = 0;
	EQ_INT(rmj_get_real(o, "r", 1, &d, err, sizeof(err)), RM_OK);
	OK(d == 1.5);
	EQ_INT(rmj_get_real(o, "i", 1, &d, err, sizeof(err)), RM_OK);
	OK(d == 42.0);
	EQ_INT(rmj_get_real(o, "s", 1, &d, err, sizeof(err)), RM_ERR_INVAL);
	int b = 0;
	EQ_INT(rmj_get_bool(o, "b", 1, &b, err, sizeof(err)), RM_OK);
	EQ_INT(b, 1);
	EQ_INT(rmj_get_bool(o, "i", 1, &b, err, sizeof(err)), RM_ERR_INVAL);
	const json_t *a = NULL;
	EQ_INT(rmj_get_str_array(o, "arr", 1, 5, 10, &a, err, sizeof(err)), RM_OK);
	EQ_INT(json_array_size(a), 2);
	EQ_INT(rmj_get_str_array(o, "arr", 1, 1, 10, &a, err, sizeof(err)), RM_ERR_INVAL);
	EQ_INT(rmj_get_str_array(o, "bad", 1, 5, 10, &a, err, sizeof(err)), RM_ERR_INVAL);
	EQ_INT(rmj_get_str_array(o, "e", 1, 5, 10, &a, err, sizeof(err)), RM_ERR_INVAL);
	EQ_INT(rmj_get_str_array(o, "s", 1, 5, 10, &a, err, sizeof(err)), RM_ERR_INVAL);
	OK(strstr(err, "array") != NULL);

	EQ_STR(rmj_str(o, "s"), "hello");
	OK(rmj_str(o, "i") == NULL);
	EQ_INT(rmj_int(o, "i", -1), 42);
	EQ_INT(rmj_int(o, "r", -1), 1);
	EQ_INT(rmj_int(o, "s", -1), -1);
	char *dump = rmj_dumps(a);
	EQ_STR(dump, "[\"a\",\"b\"]");
	free(dump);
	json_t *nn = rmj_str_or_null(NULL);
	OK(json_is_null(nn));
	json_decref(nn);
	json_decref(o);
}

/* ---------------------------------------------------------------- ulid */
TEST(ulid_valid_and_monotonic)
{
	char prev[RM_ULID_LEN + 1] = "";
	int ok_all = 1, ordered = 1;
	for (int i = 0; i < 5000; i++) {
		char id[RM_ULID_LEN + 1];
		rm_ulid_new(id);
		if (!rm_ulid_valid(id) || strlen(id) != RM_ULID_LEN)
			ok_all = 0;
		if (prev[0] && strcmp(prev, id) >= 0)
			ordered = 0;
		memcpy(prev, id, sizeof(id));
	}
	OK(ok_all);
	OK(ordered);
	OK(rm_ulid_valid("01ARZ3NDEKTSV4RRFFQ69G5FAV"));
	OK(!rm_ulid_valid("01ARZ3NDEKTSV4RRFFQ69G5FA"));   /* 25 */
	OK(!rm_ulid_valid("01ARZ3NDEKTSV4RRFFQ69G5FAVX")); /* 27 */
	OK(!rm_ulid_valid("01arz3ndektsv4rrffq69g5fav"));  /* lower case */
	OK(!rm_ulid_valid("01ARZ3NDEKTSV4RRFFQ69G5FAU"));  /* U not Crockford */
	OK(!rm_ulid_valid("81ARZ3NDEKTSV4RRFFQ69G5FAV"));  /* overflow */
	OK(!rm_ulid_valid(NULL));
	/* timestamp prefix matches now */
	char id[RM_ULID_LEN + 1];
	int64_t before = rm_now_ms();
	rm_ulid_new(id);
	static const char cf[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
	int64_t ts = 0;
	for (int i = 0; i < 10; i++)
		ts = ts * 32 + (strchr(cf, id[i]) - cf);
	OK(ts >= before - 1 && ts <= rm_now_ms() + 1000);
}

/* ---------------------------------------------------------------- time */
TEST(time_fmt_parse)
{
	char s[RM_TIME_STRLEN];
	rm_time_fmt(0, s);
	EQ_STR(s, "1970-01-01T00:00:00.000Z");
	rm_time_fmt(1795530730123LL, s);
	EQ_STR(s, "2026-11-24T14:32:10.123Z");
	rm_time_fmt(-1, s);
	EQ_STR(s, "1969-12-31T23:59:59.999Z");
	int64_t ms = 0;
	EQ_INT(rm_time_parse("2026-11-24T14:32:10.123Z", &ms), RM_OK);
	EQ_INT(ms, 1795530730123LL);
	EQ_INT(rm_time_parse("2026-11-24T15:32:10.123456789+01:00", &ms), RM_OK);
	EQ_INT(ms, 1795530730123LL);
	EQ_INT(rm_time_parse("2026-11-24T09:02:10.1-05:30", &ms), RM_OK);
	EQ_INT(ms, 1795530730100LL);
	EQ_INT(rm_time_parse("2026-11-24T14:32:10Z", &ms), RM_OK);
	EQ_INT(ms, 1795530730000LL);
	EQ_INT(rm_time_parse("2024-02-29T00:00:00z", &ms), RM_OK);
	/* round trips */
	int64_t vals[] = {
		0, 1, 999, 86400000LL, 951782400000LL, 1795530730123LL, 253402300799999LL
	};
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		int64_t back = -42;
		rm_time_fmt(vals[i], s);
		EQ_INT(rm_time_parse(s, &back), RM_OK);
		EQ_INT(back, vals[i]);
	}
	int64_t now = rm_now_ms(), back = 0;
	rm_time_fmt(now, s);
	EQ_INT(rm_time_parse(s, &back), RM_OK);
	EQ_INT(back, now);

	const char *bad[] = { "",
		              "2026-11-24",
		              "2026-11-24T14:32:10",
		              "2026-13-01T00:00:00Z",
		              "2026-02-30T00:00:00Z",
		              "2023-02-29T00:00:00Z",
		              "2026-11-24T24:00:00Z",
		              "2026-11-24T14:60:00Z",
		              "2026-11-24T14:32:10.Z",
		              "2026-11-24T14:32:10.1234567890Z",
		              "2026-11-24T14:32:10+0100",
		              "2026-11-24T14:32:10Zjunk",
		              "26-11-24T14:32:10Z",
		              "2026-11-24X14:32:10Z",
		              "abcd",
		              NULL };
	for (int i = 0; bad[i]; i++) {
		ms = 77;
		if (rm_time_parse(bad[i], &ms) != RM_ERR_INVAL || ms != 77) {
			printf("#   accepted bad time '%s'\n", bad[i]);
			OK(0);
		}
	}
	OK(rm_time_parse(NULL, &ms) == RM_ERR_INVAL);
	int64_t m1 = rm_mono_ms(), m2 = rm_mono_ms();
	OK(m2 >= m1);
}

int main(void)
{
	RUN(err_strings);
	RUN(err_strlcpy_and_parse);
	RUN(buf_caps);
	RUN(log_format_and_levels);
	RUN(redactor);
	RUN(log_redaction);
	RUN(json_parse_bounds);
	RUN(json_getters);
	RUN(ulid_valid_and_monotonic);
	RUN(time_fmt_parse);
	return tap_done();
}
