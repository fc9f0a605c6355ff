/* The C2 policy spec: validation, a group's backup args, the encrypted file (spec.h). */
#include "agent/scheduler/spec.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/secrets.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/rmtime.h"

#define SPEC_MAX_BYTES (8 * 1024 * 1024)
#define RETRY_MAX_MAX 100
#define BACKOFF_MAX_S (7 * 24 * 3600)
#define TIMEOUT_MAX_S (7 * 24 * 3600)
#define LIMIT_MAX_KIB (10LL * 1024 * 1024 * 1024)

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return RM_ERR_INVAL;
}

/* No NUL inside (jansson strings may hold one) and, with no_ctl, no control character;
 * otherwise only newlines are refused (paths, patterns: one per line in restic files). */
static int str_clean(const json_t *v, int no_ctl)
{
	const char *s = json_string_value(v);
	if (!s || strlen(s) != json_string_length(v))
		return 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\n' || c == '\r' || (no_ctl && (c < 0x20 || c == 0x7f)))
			return 0;
	}
	return 1;
}

static int int_in(const json_t *o, const char *key, long long min, long long max, const char *where,
                  char *err, size_t errlen)
{
	const json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return RM_OK;
	long long n = json_integer_value(v);
	if (n < min || n > max)
		return fail(err, errlen, "%s.%s: %lld is out of range %lld-%lld", where, key, n,
		            min, max);
	return RM_OK;
}

static int str_items_ok(const json_t *o, const char *key, int absolute, const char *where,
                        char *err, size_t errlen)
{
	size_t i;
	json_t *v;
	json_array_foreach (json_object_get(o, key), i, v) {
		if (!str_clean(v, 0))
			return fail(err, errlen, "%s.%s[%zu]: must not contain NUL or newlines",
			            where, key, i);
		if (absolute && json_string_value(v)[0] != '/')
			return fail(err, errlen, "%s.%s[%zu]: must be an absolute path", where, key,
			            i);
	}
	return RM_OK;
}

static int check_group(struct spec *s, size_t i, char *err, size_t errlen)
{
	const json_t *g = json_array_get(json_object_get(s->root, "groups"), i);
	char where[32];
	snprintf(where, sizeof where, "groups[%zu]", i);
	struct spec_group *sg = &s->groups[i];
	sg->json = g;
	sg->id = rmj_str(g, "id");
	sg->name = rmj_str(g, "name");
	if (!str_clean(json_object_get(g, "id"), 1))
		return fail(err, errlen, "%s.id: must not contain control characters", where);
	if (!proto_group_name_ok(sg->name))
		return fail(err, errlen, "%s.name: '%s' must match [a-z0-9][a-z0-9_.-]{0,62}",
		            where, str_clean(json_object_get(g, "name"), 1) ? sg->name : "?");
	for (size_t k = 0; k < i; k++) {
		if (!strcmp(s->groups[k].id, sg->id))
			return fail(err, errlen, "%s.id: duplicate group id '%s'", where, sg->id);
		if (!strcmp(s->groups[k].name, sg->name))
			return fail(err, errlen, "%s.name: duplicate group name '%s'", where,
			            sg->name);
	}
	int rc = str_items_ok(g, "includes", 1, where, err, errlen);
	if (!rc)
		rc = str_items_ok(g, "excludes", 0, where, err, errlen);
	if (!rc)
		rc = int_in(g, "retry_max", 0, RETRY_MAX_MAX, where, err, errlen);
	if (!rc)
		rc = int_in(g, "retry_backoff_s", 0, BACKOFF_MAX_S, where, err, errlen);
	if (!rc)
		rc = int_in(g, "limit_upload_kib", 0, LIMIT_MAX_KIB, where, err, errlen);
	if (!rc)
		rc = int_in(g, "limit_download_kib", 0, LIMIT_MAX_KIB, where, err, errlen);
	sg->retry_max = (int)rmj_int(g, "retry_max", SPEC_RETRY_MAX_DEFAULT);
	sg->retry_backoff_s = (int)rmj_int(g, "retry_backoff_s", 0);
	if (sg->retry_backoff_s <= 0)
		sg->retry_backoff_s = SPEC_RETRY_BACKOFF_DEFAULT; /* 0: default */
	return rc;
}

static int check_settings(const json_t *st, char *err, size_t errlen)
{
	if (!st)
		return RM_OK;
	const json_t *sh = json_object_get(st, "hook_shell");
	if (sh && json_is_string(sh) && (!str_clean(sh, 1) || json_string_value(sh)[0] != '/'))
		return fail(err, errlen, "settings.hook_shell: must be an absolute path");
	int rc = int_in(st, "hook_timeout_s", 0, TIMEOUT_MAX_S, "settings", err, errlen);
	if (!rc)
		rc = int_in(st, "limit_upload_kib", 0, LIMIT_MAX_KIB, "settings", err, errlen);
	if (!rc)
		rc = int_in(st, "limit_download_kib", 0, LIMIT_MAX_KIB, "settings", err, errlen);
	return rc;
}

static int check_schedule(struct spec *s, size_t i, char *err, size_t errlen)
{
	const json_t *o = json_array_get(json_object_get(s->root, "schedules"), i);
	struct spec_schedule *ss = &s->schedules[i];
	char cerr[160] = "";
	int field = -1;
	ss->id = rmj_str(o, "id");
	if (!str_clean(json_object_get(o, "id"), 1))
		return fail(err, errlen, "schedules[%zu].id: must not contain control characters",
		            i);
	for (size_t k = 0; k < i; k++)
		if (!strcmp(s->schedules[k].id, ss->id))
			return fail(err, errlen, "schedules[%zu].id: duplicate schedule id '%s'", i,
			            ss->id);
	if (cron_parse(rmj_str(o, "cron"), &ss->cron, &field, cerr, sizeof cerr))
		return fail(err, errlen, "schedules[%zu].cron: %s", i, cerr);
	const json_t *en = json_object_get(o, "enabled");
	ss->enabled = !json_is_false(en);
	const json_t *ids = json_object_get(o, "group_ids");
	ss->groups = rm_xcalloc(json_array_size(ids) + 1, sizeof(*ss->groups));
	size_t k;
	json_t *v;
	json_array_foreach (ids, k, v) {
		const char *gid = json_string_value(v);
		const struct spec_group *g = spec_group_find(s, gid);
		if (!g)
			return fail(err, errlen,
			            "schedules[%zu].group_ids[%zu]: unknown group '%s'", i, k,
			            str_clean(v, 1) ? gid : "?");
		ss->groups[ss->ngroups++] = (size_t)(g - s->groups);
	}
	return RM_OK;
}

static int check_maint(struct spec *s, char *err, size_t errlen)
{
	const json_t *arr = json_object_get(s->root, "maintenance");
	s->nmaint = json_array_size(arr);
	s->maint = rm_xcalloc(s->nmaint + 1, sizeof(*s->maint));
	for (size_t i = 0; i < s->nmaint; i++) {
		const json_t *o = json_array_get(arr, i);
		struct spec_maint *m = &s->maint[i];
		char cerr[160] = "";
		int field = -1;
		m->kind = rmj_str(o, "kind");
		if (!m->kind || (strcmp(m->kind, "forget") && strcmp(m->kind, "prune") &&
		                 strcmp(m->kind, "check")))
			return fail(err, errlen, "maintenance[%zu].kind: forget, prune or check",
			            i);
		snprintf(m->id, sizeof m->id, "maint:%s", m->kind);
		for (size_t k = 0; k < i; k++)
			if (!strcmp(s->maint[k].id, m->id))
				return fail(err, errlen, "maintenance[%zu].kind: duplicate", i);
		if (cron_parse(rmj_str(o, "cron"), &m->cron, &field, cerr, sizeof cerr))
			return fail(err, errlen, "maintenance[%zu].cron: %s", i, cerr);
		m->enabled = !json_is_false(json_object_get(o, "enabled"));
		m->args = json_object_get(o, "args");
	}
	return RM_OK;
}

const struct spec_maint *spec_maint_find(const struct spec *s, const char *id)
{
	for (size_t i = 0; s && id && i < s->nmaint; i++)
		if (!strcmp(s->maint[i].id, id))
			return &s->maint[i];
	return NULL;
}

int spec_parse(const json_t *payload, struct spec **out, char *err, size_t errlen)
{
	char perr[256] = "";
	if (proto_validate_payload(RM_MSG_SCHEDULE_SET, payload, perr, sizeof perr))
		return fail(err, errlen, "%s", perr);
	struct spec *s = rm_xcalloc(1, sizeof(*s));
	s->root = json_deep_copy(payload);
	s->version = rmj_int(s->root, "version", 0);
	int rc = s->version >= 1 ? RM_OK : fail(err, errlen, "version: must be at least 1");
	s->ngroups = json_array_size(json_object_get(s->root, "groups"));
	s->groups = rm_xcalloc(s->ngroups + 1, sizeof(*s->groups));
	for (size_t i = 0; !rc && i < s->ngroups; i++)
		rc = check_group(s, i, err, errlen);
	if (!rc)
		rc = check_settings(json_object_get(s->root, "settings"), err, errlen);
	s->nschedules = json_array_size(json_object_get(s->root, "schedules"));
	s->schedules = rm_xcalloc(s->nschedules + 1, sizeof(*s->schedules));
	for (size_t i = 0; !rc && i < s->nschedules; i++)
		rc = check_schedule(s, i, err, errlen);
	if (!rc)
		rc = check_maint(s, err, errlen);
	if (rc) {
		spec_free(s);
		return rc;
	}
	*out = s;
	return RM_OK;
}

void spec_free(struct spec *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nschedules; i++)
		free(s->schedules[i].groups);
	free(s->schedules);
	free(s->groups);
	free(s->maint);
	rmj_wipe(s->root);
	json_decref(s->root);
	free(s);
}

const struct spec_group *spec_group_find(const struct spec *s, const char *id)
{
	for (size_t i = 0; s && id && i < s->ngroups; i++)
		if (s->groups[i].id && !strcmp(s->groups[i].id, id))
			return &s->groups[i];
	return NULL;
}

const struct spec_schedule *spec_schedule_find(const struct spec *s, const char *id)
{
	for (size_t i = 0; s && id && i < s->nschedules; i++)
		if (!strcmp(s->schedules[i].id, id))
			return &s->schedules[i];
	return NULL;
}

/* copies key from src to dst when present and not null */
static void copy_key(json_t *dst, const json_t *src, const char *key, const char *as)
{
	json_t *v = json_object_get(src, key);
	if (v && !json_is_null(v))
		json_object_set_new(dst, as ? as : key, json_deep_copy(v));
}

json_t *spec_backup_args(const struct spec *s, const struct spec_group *g)
{
	const json_t *st = json_object_get(s->root, "settings");
	json_t *a = json_object();
	copy_key(a, g->json, "includes", "paths");
	json_object_set_new(a, "tags", json_pack("[s]", g->name));
	json_object_set_new(a, "group", json_string(g->name));
	static const char *const same[] = { "excludes", "exclude_caches", "one_file_system",
		                            "pre_hook", "post_hook",      NULL };
	for (size_t i = 0; same[i]; i++)
		copy_key(a, g->json, same[i], NULL);
	static const char *const limits[] = { "limit_upload_kib", "limit_download_kib", NULL };
	for (size_t i = 0; limits[i]; i++) {
		long long n = rmj_int(g->json, limits[i], 0); /* 0/absent: the host default */
		if (n <= 0)
			n = rmj_int(st, limits[i], 0);
		if (n > 0)
			json_object_set_new(a, limits[i], json_integer(n));
	}
	copy_key(a, st, "hook_shell", NULL);
	copy_key(a, st, "hook_timeout_s", NULL);
	return a;
}

static void move_aside(const char *path, const char *why)
{
	char *aside = rm_xasprintf("%s.corrupt-%lld", path, (long long)(rm_now_ms() / 1000));
	if (rename(path, aside) == 0)
		RM_ERROR("stored schedule spec unusable; moved aside, waiting for the server to "
		         "resend it",
		         "path", path, "moved_to", aside, "error", why);
	else
		RM_ERROR("stored schedule spec unusable and cannot be moved aside", "path", path,
		         "error", why, "rename_error", strerror(errno));
	free(aside);
}

int spec_load(const char *path, const uint8_t key[RM_KEY_BYTES], struct spec **out)
{
	json_t *root = NULL;
	char err[256] = "";
	int rc = secrets_file_read(path, key, SPEC_AD, SPEC_MAX_BYTES, &root, err, sizeof err);
	if (rc == RM_ERR_NOTFOUND)
		return rc;
	if (rc == RM_ERR_IO || rc == RM_ERR_TOOBIG) {
		RM_ERROR("cannot read the stored schedule spec", "path", path, "error",
		         rm_strerror(rc));
		return rc;
	}
	if (!rc)
		rc = spec_parse(root, out, err, sizeof err);
	if (rc)
		move_aside(path, err);
	rmj_wipe(root);
	json_decref(root);
	return rc;
}

int spec_save(const char *path, const uint8_t key[RM_KEY_BYTES], const struct spec *s)
{
	int rc = secrets_file_write(path, key, SPEC_AD, s->root);
	if (rc)
		RM_ERROR("cannot write the schedule spec", "path", path, "error", rm_strerror(rc));
	return rc;
}
