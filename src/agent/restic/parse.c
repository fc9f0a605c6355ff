/* restic output parsers (see parse.h). */
#include "agent/restic/parse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/rmtime.h"

static json_t *load(const char *buf, size_t len, size_t max)
{
	if (!buf || len > max || memchr(buf, '\0', len))
		return NULL;
	return json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
}

enum restic_line_type restic_parse_line(const char *line, size_t len, json_t **obj)
{
	enum restic_line_type t = RESTIC_LINE_TEXT;
	json_t *o = NULL;
	if (obj)
		*obj = NULL;
	/* cheap pre-check: restic's JSON lines start with '{' */
	size_t i = 0;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i >= len || line[i] != '{')
		return RESTIC_LINE_TEXT;
	o = load(line, len, RESTIC_JSON_LINE_MAX);
	if (!o)
		return RESTIC_LINE_TEXT;
	const json_t *mt = json_is_object(o) ? json_object_get(o, "message_type") : NULL;
	if (!json_is_string(mt)) {
		json_decref(o);
		return RESTIC_LINE_TEXT;
	}
	const char *s = json_string_value(mt);
	if (strcmp(s, "status") == 0)
		t = RESTIC_LINE_STATUS;
	else if (strcmp(s, "summary") == 0)
		t = RESTIC_LINE_SUMMARY;
	else if (strcmp(s, "error") == 0)
		t = RESTIC_LINE_ERROR;
	else if (strcmp(s, "exit_error") == 0)
		t = RESTIC_LINE_EXIT_ERROR;
	else
		t = RESTIC_LINE_OTHER;
	if (obj)
		*obj = o;
	else
		json_decref(o);
	return t;
}

/* Reads a non-negative number field. 0 = absent, 1 = present, -1 = wrong type. */
static int get_num(const json_t *o, const char *key, double *out)
{
	const json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_number(v))
		return -1;
	double d = json_number_value(v);
	if (!isfinite(d))
		return -1;
	if (d < 0)
		d = 0;
	*out = d;
	return 1;
}

/* Integers are kept exact when restic sent an integer; reals are clamped. */
static int get_count(const json_t *o, const char *key, long long *out)
{
	const json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		long long x = (long long)json_integer_value(v);
		*out = x < 0 ? 0 : x;
		return 1;
	}
	double d;
	int r = get_num(o, key, &d);
	if (r <= 0)
		return r;
	*out = d >= 9.0e18 ? 9000000000000000000LL : (long long)d;
	return 1;
}

int restic_parse_status(const json_t *st, json_t **progress_out)
{
	static const struct {
		const char *from, *to;
	} counts[] = {
		{ "files_done", "files_done" },         { "total_files", "total_files" },
		{ "bytes_done", "bytes_done" },         { "total_bytes", "total_bytes" },
		{ "seconds_remaining", "eta_seconds" },
	};
	if (!json_is_object(st))
		return RM_ERR_PROTO;
	json_t *p = json_object();
	double pct = 0, elapsed = 0;
	long long bytes_done = 0;
	int r = get_num(st, "percent_done", &pct);
	if (r < 0)
		goto bad;
	if (pct > 1)
		pct = 1;
	json_object_set_new(p, "percent_done", json_real(pct));
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		long long v = 0;
		r = get_count(st, counts[i].from, &v);
		if (r < 0)
			goto bad;
		/* omitempty in restic: absent counters are 0, except the ETA which is unknown */
		if (r == 0 && strcmp(counts[i].to, "eta_seconds") == 0)
			continue;
		json_object_set_new(p, counts[i].to, json_integer(v));
		if (strcmp(counts[i].from, "bytes_done") == 0)
			bytes_done = v;
	}
	r = get_num(st, "seconds_elapsed", &elapsed);
	if (r < 0)
		goto bad;
	if (elapsed > 0)
		json_object_set_new(p, "throughput_bps",
		                    json_integer((long long)((double)bytes_done / elapsed)));
	const json_t *cf = json_object_get(st, "current_files");
	if (cf && !json_is_null(cf)) {
		if (!json_is_array(cf))
			goto bad;
		const json_t *first = json_array_get(cf, 0);
		if (first && !json_is_string(first))
			goto bad;
		if (first)
			json_object_set_new(p, "current_file",
			                    json_string(json_string_value(first)));
	}
	*progress_out = p;
	return RM_OK;
bad:
	json_decref(p);
	return RM_ERR_PROTO;
}

int restic_parse_summary(const json_t *sm, json_t **stats_out)
{
	static const char *const ints[] = {
		"files_new",
		"files_changed",
		"files_unmodified",
		"dirs_new",
		"dirs_changed",
		"dirs_unmodified",
		"data_blobs",
		"tree_blobs",
		"data_added",
		"data_added_packed",
		"total_files_processed",
		"total_bytes_processed",
	};
	static const char *const strs[] = { "snapshot_id", "backup_start", "backup_end" };
	if (!json_is_object(sm))
		return RM_ERR_PROTO;
	json_t *s = json_object();
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		long long v;
		int r = get_count(sm, ints[i], &v);
		if (r < 0)
			goto bad;
		if (r > 0)
			json_object_set_new(s, ints[i], json_integer(v));
	}
	double d;
	int r = get_num(sm, "total_duration", &d);
	if (r < 0)
		goto bad;
	if (r > 0)
		json_object_set_new(s, "total_duration", json_real(d));
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		const json_t *v = json_object_get(sm, strs[i]);
		if (!v || json_is_null(v))
			continue;
		if (!json_is_string(v))
			goto bad;
		json_object_set_new(s, strs[i], json_string(json_string_value(v)));
	}
	*stats_out = s;
	return RM_OK;
bad:
	json_decref(s);
	return RM_ERR_PROTO;
}

static char *error_text(const json_t *e)
{
	if (json_is_string(e))
		return rm_xstrdup(json_string_value(e));
	if (json_is_object(e)) {
		const json_t *m = json_object_get(e, "message");
		if (json_is_string(m))
			return rm_xstrdup(json_string_value(m));
		/* 0.14 marshals Go's *os.PathError: {"Op":"read","Path":"/x","Err":5} */
		const json_t *op = json_object_get(e, "Op"), *path = json_object_get(e, "Path");
		const json_t *en = json_object_get(e, "Err");
		if (json_is_string(op) && json_is_string(path)) {
			if (json_is_integer(en) && json_integer_value(en) > 0 &&
			    json_integer_value(en) < 4096)
				return rm_xasprintf("%s %s: %s", json_string_value(op),
				                    json_string_value(path),
				                    strerror((int)json_integer_value(en)));
			return rm_xasprintf("%s %s: failed", json_string_value(op),
			                    json_string_value(path));
		}
	}
	if (e && !json_is_null(e)) {
		char *d = json_dumps(e, JSON_COMPACT);
		if (d) {
			char *r = rm_xstrdup(d);
			free(d);
			return r;
		}
	}
	return rm_xstrdup("unknown error");
}

int restic_parse_error(const json_t *obj, char **msg_out, int *code_out)
{
	if (!json_is_object(obj))
		return RM_ERR_PROTO;
	const json_t *mt = json_object_get(obj, "message_type");
	if (!json_is_string(mt))
		return RM_ERR_PROTO;
	if (strcmp(json_string_value(mt), "exit_error") == 0) {
		const json_t *m = json_object_get(obj, "message");
		const json_t *c = json_object_get(obj, "code");
		if (!json_is_string(m))
			return RM_ERR_PROTO;
		char *msg = rm_xstrdup(json_string_value(m));
		size_t n = strlen(msg);
		while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r' || msg[n - 1] == ' '))
			msg[--n] = '\0';
		if (code_out && json_is_integer(c) && json_integer_value(c) >= 0 &&
		    json_integer_value(c) < 256)
			*code_out = (int)json_integer_value(c);
		*msg_out = msg;
		return RM_OK;
	}
	if (strcmp(json_string_value(mt), "error") != 0)
		return RM_ERR_PROTO;
	char *txt = error_text(json_object_get(obj, "error"));
	const json_t *during = json_object_get(obj, "during");
	const json_t *item = json_object_get(obj, "item");
	const char *d = json_is_string(during) ? json_string_value(during) : "";
	const char *it = json_is_string(item) ? json_string_value(item) : "";
	char *msg;
	if (*it && !strstr(txt, it))
		msg = rm_xasprintf("error%s%s: %s: %s", *d ? " during " : "", d, it, txt);
	else
		msg = rm_xasprintf("error%s%s: %s", *d ? " during " : "", d, txt);
	free(txt);
	*msg_out = msg;
	return RM_OK;
}

static json_t *str_array_copy(const json_t *a)
{
	json_t *o = json_array();
	size_t i;
	json_t *v;
	if (!json_is_array(a))
		return o;
	json_array_foreach (a, i, v) {
		if (json_is_string(v))
			json_array_append_new(o, json_string(json_string_value(v)));
	}
	return o;
}

static json_t *snapshot_entry(const json_t *s)
{
	const json_t *id = json_object_get(s, "id"), *tm = json_object_get(s, "time");
	if (!json_is_string(id) || !json_is_string(tm) || json_string_length(id) == 0)
		return NULL;
	json_t *o = json_object();
	const char *ids = json_string_value(id);
	json_object_set_new(o, "id", json_string(ids));
	const json_t *sid = json_object_get(s, "short_id");
	if (json_is_string(sid))
		json_object_set_new(o, "short_id", json_string(json_string_value(sid)));
	else
		json_object_set_new(o, "short_id",
		                    json_stringn(ids, strlen(ids) < 8 ? strlen(ids) : 8));
	int64_t ms;
	if (rm_time_parse(json_string_value(tm), &ms) == RM_OK) {
		char buf[RM_TIME_STRLEN];
		rm_time_fmt(ms, buf);
		json_object_set_new(o, "time", json_string(buf));
	} else {
		json_object_set_new(o, "time", json_string(json_string_value(tm)));
	}
	const json_t *h = json_object_get(s, "hostname");
	if (json_is_string(h))
		json_object_set_new(o, "hostname", json_string(json_string_value(h)));
	json_object_set_new(o, "paths", str_array_copy(json_object_get(s, "paths")));
	json_object_set_new(o, "tags", str_array_copy(json_object_get(s, "tags")));
	const json_t *sum = json_object_get(s, "summary");
	if (json_is_object(sum)) {
		long long v;
		if (get_count(sum, "total_bytes_processed", &v) > 0)
			json_object_set_new(o, "size_bytes", json_integer(v));
		if (get_count(sum, "total_files_processed", &v) > 0)
			json_object_set_new(o, "file_count", json_integer(v));
	}
	return o;
}

int restic_parse_snapshots(const char *buf, size_t len, size_t max, json_t **out)
{
	json_t *doc = load(buf, len, RESTIC_JSON_DOC_MAX);
	if (!doc)
		return RM_ERR_PROTO;
	if (!json_is_array(doc)) {
		json_decref(doc);
		return RM_ERR_PROTO;
	}
	json_t *arr = json_array();
	size_t n = json_array_size(doc), start = 0;
	if (max && n > max)
		start = n - max;
	for (size_t i = start; i < n; i++) {
		const json_t *s = json_array_get(doc, i);
		if (!json_is_object(s))
			continue;
		json_t *e = snapshot_entry(s);
		if (e)
			json_array_append_new(arr, e);
	}
	json_decref(doc);
	*out = arr;
	return RM_OK;
}

/* The reasons entry of a kept snapshot: by id (0.17+), else the same position when its
 * time matches (restic appends keep[] and reasons[] together, <= 0.16 has no id there). */
static const json_t *forget_reason(const json_t *reasons, size_t pos, const json_t *snap)
{
	const char *id = rmj_str(snap, "id");
	size_t i;
	const json_t *r;
	json_array_foreach (reasons, i, r) {
		const char *rid = rmj_str(json_object_get(r, "snapshot"), "id");
		if (rid && id && strcmp(rid, id) == 0)
			return r;
	}
	r = json_array_get(reasons, pos);
	const char *rt = rmj_str(json_object_get(r, "snapshot"), "time");
	const char *st = rmj_str(snap, "time");
	if (rt && st && strcmp(rt, st) == 0)
		return r;
	return NULL;
}

static void forget_collect(const json_t *group, const char *list, json_t *out, int keep)
{
	const json_t *snaps = json_object_get(group, list);
	const json_t *reasons = json_object_get(group, "reasons");
	size_t i;
	const json_t *s;
	json_array_foreach (snaps, i, s) {
		json_t *e = json_is_object(s) ? snapshot_entry(s) : NULL;
		if (!e)
			continue;
		json_t *why = json_array();
		const json_t *r = keep ? forget_reason(reasons, i, s) : NULL;
		const json_t *m = json_object_get(r, "matches");
		size_t k;
		const json_t *v;
		json_array_foreach (m, k, v)
			if (json_is_string(v))
				json_array_append_new(why, json_string(json_string_value(v)));
		json_object_set_new(e, "reasons", why);
		json_array_append_new(out, e);
	}
}

int restic_parse_forget(const char *buf, size_t len, json_t **out)
{
	json_t *doc = load(buf, len, RESTIC_JSON_DOC_MAX);
	if (!json_is_array(doc)) {
		json_decref(doc);
		return RM_ERR_PROTO;
	}
	json_t *keep = json_array(), *remove = json_array();
	size_t i;
	const json_t *g;
	json_array_foreach (doc, i, g) {
		if (!json_is_object(g))
			continue;
		forget_collect(g, "keep", keep, 1);
		forget_collect(g, "remove", remove, 0);
	}
	json_decref(doc);
	*out = json_pack("{s:o,s:o}", "keep", keep, "remove", remove);
	return RM_OK;
}

int restic_parse_stats(const char *buf, size_t len, json_t **out)
{
	static const char *const keys[] = { "total_size", "total_file_count", "snapshots_count",
		                            "total_uncompressed_size" };
	/* 0.15+ on a v2 repository with --mode raw-data: ratios as reals */
	static const char *const reals[] = { "compression_ratio", "compression_space_saving" };
	json_t *doc = load(buf, len, RESTIC_JSON_LINE_MAX);
	if (!doc)
		return RM_ERR_PROTO;
	json_t *o = NULL;
	if (!json_is_object(doc) || !json_is_number(json_object_get(doc, "total_size")))
		goto bad;
	o = json_object();
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		long long v;
		int r = get_count(doc, keys[i], &v);
		if (r < 0)
			goto bad;
		if (r > 0)
			json_object_set_new(o, keys[i], json_integer(v));
	}
	for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++) {
		double d;
		int r = get_num(doc, reals[i], &d);
		if (r < 0)
			goto bad;
		if (r > 0 && d > 0)
			json_object_set_new(o, reals[i], json_real(d));
	}
	json_decref(doc);
	*out = o;
	return RM_OK;
bad:
	json_decref(o);
	json_decref(doc);
	return RM_ERR_PROTO;
}

static int valid_version(const char *s, size_t n)
{
	if (n == 0 || n > 64 || s[0] < '0' || s[0] > '9')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      c == '.' || c == '-' || c == '+' || c == '_'))
			return 0;
	}
	return 1;
}

int restic_parse_version(const char *buf, size_t len, char **out)
{
	if (!buf)
		return RM_ERR_PROTO;
	size_t i = 0;
	while (i < len && (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t'))
		i++;
	if (i < len && buf[i] == '{') {
		size_t e = len;
		while (e > i && (buf[e - 1] == '\n' || buf[e - 1] == '\r' || buf[e - 1] == ' '))
			e--;
		json_t *o = load(buf + i, e - i, RESTIC_JSON_LINE_MAX);
		const json_t *v = json_is_object(o) ? json_object_get(o, "version") : NULL;
		int ok =
		    json_is_string(v) && valid_version(json_string_value(v), json_string_length(v));
		if (ok)
			*out = rm_xstrdup(json_string_value(v));
		json_decref(o);
		return ok ? RM_OK : RM_ERR_PROTO;
	}
	static const char pfx[] = "restic ";
	if (len - i < sizeof(pfx) - 1 || memcmp(buf + i, pfx, sizeof(pfx) - 1) != 0)
		return RM_ERR_PROTO;
	i += sizeof(pfx) - 1;
	size_t s = i;
	while (i < len && buf[i] != ' ' && buf[i] != '\n' && buf[i] != '\r' && buf[i] != '\t')
		i++;
	if (!valid_version(buf + s, i - s))
		return RM_ERR_PROTO;
	*out = rm_xstrndup(buf + s, i - s);
	return RM_OK;
}

int restic_output_is_already_initialized(const char *text)
{
	return text &&
	       (strstr(text, "config file already exists") != NULL ||
	        strstr(text, "repository master key and config already initialized") != NULL);
}

int restic_parse_fatal_line(const char *line, size_t len, char **msg_out)
{
	if (len >= 6 && memcmp(line, "Fatal:", 6) == 0) {
		*msg_out = rm_xstrndup(line, len);
		return RM_OK;
	}
	json_t *o = NULL;
	if (restic_parse_line(line, len, &o) == RESTIC_LINE_EXIT_ERROR) {
		char *m = NULL;
		int rc = restic_parse_error(o, &m, NULL);
		json_decref(o);
		if (rc)
			return RM_ERR_NOTFOUND;
		*msg_out = m;
		return RM_OK;
	}
	json_decref(o);
	return RM_ERR_NOTFOUND;
}
