/* restic restore / ls knowledge (see restore.h). */
#include "agent/restic/restore.h"

#include <math.h>
#include <string.h>

#include "agent/restic/parse.h"
#include "common/err.h"

/* 0 absent, 1 present, -1 bad type; negative values clamp to 0. */
static int count(const json_t *o, const char *key, long long *out)
{
	const json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		long long x = (long long)json_integer_value(v);
		*out = x < 0 ? 0 : x;
		return 1;
	}
	if (!json_is_real(v) || !isfinite(json_real_value(v)))
		return -1;
	double d = json_real_value(v);
	*out = d <= 0 ? 0 : d >= 9.0e18 ? 9000000000000000000LL : (long long)d;
	return 1;
}

struct map {
	const char *from, *to;
};

/* Copies the counters of map into o (absent = 0, restic omits zero values). */
static int copy_counts(const json_t *in, json_t *o, const struct map *m, size_t n, int keep_zero)
{
	for (size_t i = 0; i < n; i++) {
		long long v = 0;
		int r = count(in, m[i].from, &v);
		if (r < 0)
			return RM_ERR_PROTO;
		if (r > 0 || keep_zero)
			json_object_set_new(o, m[i].to, json_integer(v));
	}
	return RM_OK;
}

int restic_restore_status(const json_t *st, json_t **progress_out)
{
	static const struct map m[] = {
		{ "files_restored", "files_done" },
		{ "total_files", "total_files" },
		{ "bytes_restored", "bytes_done" },
		{ "total_bytes", "total_bytes" },
	};
	static const struct map opt[] = {
		{ "files_skipped", "files_skipped" },
		{ "bytes_skipped", "bytes_skipped" },
	};
	if (!json_is_object(st))
		return RM_ERR_PROTO;
	json_t *p = json_object();
	const json_t *pd = json_object_get(st, "percent_done");
	if (pd && !json_is_number(pd))
		goto bad;
	double pct = pd ? json_number_value(pd) : 0;
	if (!isfinite(pct) || pct < 0)
		pct = 0;
	json_object_set_new(p, "percent_done", json_real(pct > 1 ? 1 : pct));
	if (copy_counts(st, p, m, 4, 1) || copy_counts(st, p, opt, 2, 0))
		goto bad;
	*progress_out = p;
	return RM_OK;
bad:
	json_decref(p);
	return RM_ERR_PROTO;
}

int restic_restore_summary(const json_t *sm, json_t **stats_out)
{
	static const struct map m[] = {
		{ "files_restored", "files_restored" },
		{ "bytes_restored", "bytes_restored" },
		{ "total_files", "total_files" },
		{ "total_bytes", "total_bytes" },
	};
	static const struct map opt[] = {
		{ "files_skipped", "files_skipped" },
		{ "bytes_skipped", "bytes_skipped" },
	};
	if (!json_is_object(sm))
		return RM_ERR_PROTO;
	json_t *s = json_object();
	if (copy_counts(sm, s, m, 4, 1) || copy_counts(sm, s, opt, 2, 0)) {
		json_decref(s);
		return RM_ERR_PROTO;
	}
	*stats_out = s;
	return RM_OK;
}

int restic_help_has_flag(const char *help, size_t len, const char *flag)
{
	size_t fl = strlen(flag);
	if (!help || !fl)
		return 0;
	for (size_t i = 0; i + fl <= len; i++) {
		if (memcmp(help + i, flag, fl) != 0)
			continue;
		char before = i ? help[i - 1] : ' ';
		char after = i + fl < len ? help[i + fl] : '\n';
		if ((before == ' ' || before == '\t' || before == ',') &&
		    (after == ' ' || after == '=' || after == ',' || after == '\n' ||
		     after == '\r'))
			return 1;
	}
	return 0;
}

int restic_ls_node(const char *line, size_t len, json_t **obj, struct restic_node *node)
{
	size_t i = 0;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i >= len || line[i] != '{' || len > RESTIC_JSON_LINE_MAX || memchr(line, 0, len))
		return 0;
	json_t *o = json_loadb(line, len, 0, NULL);
	if (!json_is_object(o))
		goto no;
	const char *st = json_string_value(json_object_get(o, "struct_type"));
	const char *path = json_string_value(json_object_get(o, "path"));
	const char *type = json_string_value(json_object_get(o, "type"));
	if ((st && strcmp(st, "node") != 0) || !path || !type)
		goto no;
	long long size = 0;
	if (count(o, "size", &size) < 0)
		goto no;
	node->path = path;
	node->type = type;
	node->size = size;
	*obj = o;
	return 1;
no:
	json_decref(o);
	return 0;
}

int restic_snapshot_id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;
	if (n < 8 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return 1;
}

int restic_abs_path_valid(const char *p)
{
	size_t n = p ? strlen(p) : 0;
	if (n == 0 || n > 4096 || p[0] != '/' || strpbrk(p, "\n\r"))
		return 0;
	for (const char *s = p; *s;) {
		while (*s == '/')
			s++;
		size_t sl = strcspn(s, "/");
		if (sl == 2 && s[0] == '.' && s[1] == '.')
			return 0;
		s += sl;
	}
	return 1;
}

char *restic_include_escape(const char *p)
{
	size_t n = strlen(p);
	char *o = rm_xmalloc(2 * n + 1), *q = o;
	for (; *p; p++) {
		if (strchr("*?[]\\", *p))
			*q++ = '\\';
		*q++ = *p;
	}
	*q = '\0';
	return o;
}

int restic_path_is_pattern(const char *p)
{
	return p && strpbrk(p, "*?[\\") != NULL;
}
