/* argv / environment builders for restic (see argv.h). */
#include "agent/restic/argv.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/restic/keys.h"
#include "agent/restic/restore.h"
#include "common/buf.h"
#include "common/crypto.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/proto.h"

#define MAX_PATHS 10000
#define MAX_EXCLUDES 10000
#define MAX_TAGS 100
#define MAX_ITEM_LEN 4096
#define MAX_TAG_LEN 255

struct vec {
	char **v;
	size_t n, cap;
};

static void vec_push_take(struct vec *a, char *s)
{
	if (a->n + 2 > a->cap) {
		a->cap = a->cap ? a->cap * 2 : 16;
		a->v = rm_xrealloc(a->v, a->cap * sizeof(*a->v));
	}
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

static void vec_push(struct vec *a, const char *s)
{
	vec_push_take(a, rm_xstrdup(s));
}

void restic_argv_free(char **argv)
{
	if (!argv)
		return;
	for (char **p = argv; *p; p++)
		free(*p);
	free(argv);
}

static int push_str_array(struct vec *a, const json_t *args, const char *key, const char *flag,
                          int required, size_t max_items, size_t maxlen, char *err, size_t errlen)
{
	const json_t *arr = NULL;
	int rc = rmj_get_str_array(args, key, required, max_items, maxlen, &arr, err, errlen);
	if (rc)
		return rc;
	if (!arr)
		return RM_OK;
	size_t i;
	json_t *v;
	json_array_foreach (arr, i, v) {
		if (flag)
			vec_push(a, flag);
		vec_push(a, json_string_value(v));
	}
	return RM_OK;
}

/* KiB/s under key (C2 name) or, when absent, legacy_key; 0 = unlimited. */
static int push_limit(struct vec *a, const json_t *args, const char *key, const char *legacy_key,
                      const char *flag, char *err, size_t errlen)
{
	long long n = 0;
	if (!json_object_get(args, key))
		key = legacy_key;
	int rc = rmj_get_int(args, key, 0, 0, 10LL * 1024 * 1024 * 1024, &n, err, errlen);
	if (rc)
		return rc;
	if (n > 0) {
		vec_push(a, flag);
		vec_push_take(a, rm_xasprintf("%lld", n));
	}
	return RM_OK;
}

/* Boolean args that map to one restic flag each. */
static const struct {
	const char *key, *flag;
} bool_flags[] = {
	{ "exclude_caches", "--exclude-caches" },
	{ "one_file_system", "--one-file-system" },
};

static int push_flags(struct vec *a, const json_t *args, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(bool_flags) / sizeof(bool_flags[0]); i++) {
		int on = 0;
		int rc = rmj_get_bool(args, bool_flags[i].key, 0, &on, err, errlen);
		if (rc)
			return rc;
		if (on)
			vec_push(a, bool_flags[i].flag);
	}
	return RM_OK;
}

static void set_err(char *err, size_t errlen, const char *msg)
{
	if (err && errlen)
		rm_strlcpy(err, msg, errlen);
}

/* backup: --json [--host H] [--tag T]... [--exclude E]... [--limit-*] -- PATH... */
static int build_backup(struct vec *a, const json_t *args, const char *hostname, char *err,
                        size_t errlen)
{
	int rc;
	if (!args) {
		set_err(err, errlen, "field 'paths' is required");
		return RM_ERR_INVAL;
	}
	if (hostname && *hostname) {
		vec_push(a, "--host");
		vec_push(a, hostname);
	}
	rc = push_str_array(a, args, "tags", "--tag", 0, MAX_TAGS, MAX_TAG_LEN, err, errlen);
	if (!rc)
		rc = push_str_array(a, args, "excludes", "--exclude", 0, MAX_EXCLUDES, MAX_ITEM_LEN,
		                    err, errlen);
	if (!rc)
		rc = push_flags(a, args, err, errlen);
	if (!rc)
		rc = push_limit(a, args, "limit_upload_kib", "limit_upload", "--limit-upload", err,
		                errlen);
	if (!rc)
		rc = push_limit(a, args, "limit_download_kib", "limit_download", "--limit-download",
		                err, errlen);
	if (rc)
		return rc;
	vec_push(a, "--");
	size_t before = a->n;
	rc = push_str_array(a, args, "paths", NULL, 1, MAX_PATHS, MAX_ITEM_LEN, err, errlen);
	if (rc)
		return rc;
	if (a->n == before) {
		set_err(err, errlen, "field 'paths' must not be empty");
		return RM_ERR_INVAL;
	}
	return RM_OK;
}

/* The keep_* retention keys of a source group and their restic flags. */
static const struct {
	const char *key, *flag;
} keep_flags[] = {
	{ "keep_last", "--keep-last" },       { "keep_hourly", "--keep-hourly" },
	{ "keep_daily", "--keep-daily" },     { "keep_weekly", "--keep-weekly" },
	{ "keep_monthly", "--keep-monthly" }, { "keep_yearly", "--keep-yearly" },
};

/* forget (one group): --group-by host,tags [--host H] --tag G [--dry-run] --keep-*... */
static int build_forget(struct vec *a, const json_t *args, const char *hostname, char *err,
                        size_t errlen)
{
	const char *group = rmj_str(args, "group");
	const json_t *ret = json_object_get(args, "retention");
	if (!group || !proto_group_name_ok(group)) {
		set_err(err, errlen, "forget needs a valid 'group'");
		return RM_ERR_INVAL;
	}
	if (!json_is_object(ret)) {
		set_err(err, errlen, "forget needs a 'retention' object");
		return RM_ERR_INVAL;
	}
	vec_push(a, "--group-by");
	vec_push(a, "host,tags");
	if (hostname && *hostname) {
		vec_push(a, "--host");
		vec_push(a, hostname);
	}
	vec_push(a, "--tag");
	vec_push(a, group);
	if (json_is_true(json_object_get(args, "dry_run")))
		vec_push(a, "--dry-run");
	size_t before = a->n;
	for (size_t i = 0; i < sizeof(keep_flags) / sizeof(keep_flags[0]); i++) {
		long long n = 0;
		int rc = rmj_get_int(ret, keep_flags[i].key, 0, 0, 1000000, &n, err, errlen);
		if (rc)
			return rc;
		if (n > 0) {
			vec_push(a, keep_flags[i].flag);
			vec_push_take(a, rm_xasprintf("%lld", n));
		}
	}
	const char *within = rmj_str(ret, "keep_within");
	if (within && *within) {
		if (strspn(within, "0123456789ymdh") != strlen(within) || strlen(within) > 32) {
			set_err(err, errlen, "bad keep_within");
			return RM_ERR_INVAL;
		}
		vec_push(a, "--keep-within");
		vec_push(a, within);
	}
	if (a->n == before) {
		set_err(err, errlen, "retention keeps nothing: refusing to forget");
		return RM_ERR_INVAL;
	}
	return RM_OK;
}

int restic_subset_ok(const char *s)
{
	return proto_read_data_subset_ok(s);
}

/* check [--read-data-subset X] */
static int build_check(struct vec *a, const json_t *args, const char *hostname, char *err,
                       size_t errlen)
{
	(void)hostname;
	const char *sub = rmj_str(args, "read_data_subset");
	if (!sub || !*sub)
		return RM_OK;
	if (!restic_subset_ok(sub)) {
		set_err(err, errlen, "read_data_subset must be N% (0 < N <= 100) or n/m");
		return RM_ERR_INVAL;
	}
	vec_push(a, "--read-data-subset");
	vec_push(a, sub);
	return RM_OK;
}

/* cat lock <id> --no-lock (id: 64 hex digits) */
static int build_cat_lock(struct vec *a, const json_t *args, const char *hostname, char *err,
                          size_t errlen)
{
	(void)hostname;
	const char *id = rmj_str(args, "id");
	if (!id || strlen(id) != 64 || strspn(id, "0123456789abcdef") != 64) {
		set_err(err, errlen, "lock id must be 64 hex digits");
		return RM_ERR_INVAL;
	}
	vec_push(a, id);
	vec_push(a, "--no-lock");
	return RM_OK;
}

/* The retention preview (forget.preview): args {"group", "retention": {keep_last..
 * keep_yearly: N, keep_within: "1y2m3d4h"}} -> --tag G --group-by host,tags --keep-*.
 * At least one rule (restic forget without one removes nothing and prints no JSON). */
static int build_forget_preview(struct vec *a, const json_t *args, const char *hostname, char *err,
                                size_t errlen)
{
	static const char *const keeps[] = { "keep_last",   "keep_hourly",  "keep_daily",
		                             "keep_weekly", "keep_monthly", "keep_yearly" };
	const char *group = rmj_str(args, "group");
	const json_t *ret = json_object_get(args, "retention");
	if (!group || !proto_group_name_ok(group) || !json_is_object(ret)) {
		set_err(err, errlen, "a valid group and a retention object are required");
		return RM_ERR_INVAL;
	}
	vec_push(a, "--tag");
	vec_push(a, group);
	vec_push(a, "--group-by");
	vec_push(a, "host,tags");
	size_t rules = 0;
	for (size_t i = 0; i < sizeof keeps / sizeof keeps[0]; i++) {
		long long n = 0;
		if (rmj_get_int(ret, keeps[i], 0, 0, 1000000, &n, err, errlen))
			return RM_ERR_INVAL;
		if (n <= 0)
			continue;
		char flag[32];
		snprintf(flag, sizeof flag, "--%s", keeps[i]);
		flag[6] = '-'; /* --keep_last -> --keep-last */
		vec_push(a, flag);
		vec_push_take(a, rm_xasprintf("%lld", n));
		rules++;
	}
	const char *within = rmj_str(ret, "keep_within");
	if (within && within[0]) {
		if (strlen(within) > 32 || strspn(within, "0123456789ymwdh") != strlen(within)) {
			set_err(err, errlen, "keep_within must look like 1y2m3d4h");
			return RM_ERR_INVAL;
		}
		vec_push(a, "--keep-within");
		vec_push(a, within);
		rules++;
	}
	if (!rules) {
		set_err(err, errlen, "the retention has no keep rule");
		return RM_ERR_INVAL;
	}
	return RM_OK;
}

/* restore: --json SNAP --target T [--include P]... [--no-ownership] [--verify] */
static int build_restore(struct vec *a, const json_t *args, const char *hostname, char *err,
                         size_t errlen)
{
	const char *snap = NULL, *target = NULL;
	(void)hostname;
	int rc = rmj_get_str(args, "snapshot_id", 1, 64, &snap, err, errlen);
	if (!rc)
		rc = rmj_get_str(args, "target", 1, MAX_ITEM_LEN, &target, err, errlen);
	if (rc)
		return rc;
	if (!restic_snapshot_id_valid(snap)) {
		set_err(err, errlen, "snapshot_id must be 8-64 hex digits");
		return RM_ERR_INVAL;
	}
	if (!restic_abs_path_valid(target)) {
		set_err(err, errlen, "target must be an absolute path without '..'");
		return RM_ERR_INVAL;
	}
	vec_push(a, snap);
	vec_push(a, "--target");
	vec_push(a, target);
	size_t before = a->n;
	rc = push_str_array(a, args, "includes", "--include", 0, MAX_PATHS, MAX_ITEM_LEN, err,
	                    errlen);
	if (rc)
		return rc;
	for (size_t i = before + 1; i < a->n; i += 2) {
		if (!restic_abs_path_valid(a->v[i])) {
			set_err(err, errlen, "includes must be absolute paths without '..'");
			return RM_ERR_INVAL;
		}
		/* paths, not patterns: "/srv/a[1]" restores that directory only */
		char *esc = restic_include_escape(a->v[i]);
		free(a->v[i]);
		a->v[i] = esc;
	}
	static const char *const flags[][2] = { { "no_ownership", "--no-ownership" },
		                                { "verify", "--verify" } };
	for (size_t i = 0; i < 2; i++) {
		int on = 0;
		rc = rmj_get_bool(args, flags[i][0], 0, &on, err, errlen);
		if (rc)
			return rc;
		if (on)
			vec_push(a, flags[i][1]);
	}
	return RM_OK;
}

/* ls: --json SNAP */
static int build_ls(struct vec *a, const json_t *args, const char *hostname, char *err,
                    size_t errlen)
{
	const char *snap = NULL;
	(void)hostname;
	int rc = rmj_get_str(args, "snapshot_id", 1, 64, &snap, err, errlen);
	if (rc)
		return rc;
	if (!restic_snapshot_id_valid(snap)) {
		set_err(err, errlen, "snapshot_id must be 8-64 hex digits");
		return RM_ERR_INVAL;
	}
	vec_push(a, snap);
	return RM_OK;
}

/* key add --new-password-file F: args {"file": absolute path} (the agent writes it 0600
 * and removes it right after) */
static int build_key_add(struct vec *a, const json_t *args, const char *hostname, char *err,
                         size_t errlen)
{
	(void)hostname;
	const char *f = rmj_str(args, "file");
	if (!f || f[0] != '/' || strlen(f) > MAX_ITEM_LEN) {
		set_err(err, errlen, "key add needs an absolute 'file'");
		return RM_ERR_INVAL;
	}
	vec_push(a, f);
	return RM_OK;
}

/* key remove ID: args {"key_id": 8-64 hex digits} */
static int build_key_remove(struct vec *a, const json_t *args, const char *hostname, char *err,
                            size_t errlen)
{
	(void)hostname;
	const char *id = rmj_str(args, "key_id");
	if (!restic_key_id_ok(id)) {
		set_err(err, errlen, "key_id must be 8-64 hex digits");
		return RM_ERR_INVAL;
	}
	vec_push(a, id);
	return RM_OK;
}

/* One row per kind: the fixed words after the restic path, then an optional builder for
 * what depends on args. A new restic command is a row (and a builder if it takes args). */
static const struct argv_kind {
	const char *name;
	const char *fixed[5];
	int (*build)(struct vec *a, const json_t *args, const char *hostname, char *err,
	             size_t errlen);
} argv_kinds[] = {
	{ "init", { "init" }, NULL },
	{ "snapshots", { "snapshots", "--json" }, NULL },
	{ "stats", { "stats", "--json", "--mode", "raw-data" }, NULL },
	{ "unlock", { "unlock" }, NULL },
	{ "version", { "version" }, NULL },
	{ "backup", { "backup", "--json" }, build_backup },
	{ "forget", { "forget", "--json" }, build_forget },
	{ "prune", { "prune" }, NULL },
	{ "check", { "check" }, build_check },
	{ "list-locks", { "list", "locks", "--no-lock" }, NULL },
	{ "cat-lock", { "cat", "lock" }, build_cat_lock },
	{ "unlock-all", { "unlock", "--remove-all" }, NULL },
	/* read-only: --no-lock never waits for, nor blocks, a running job */
	{ "forget-preview",
	  { "forget", "--no-lock", "--dry-run", "--json" },
	  build_forget_preview },
	{ "restore", { "restore", "--json" }, build_restore },
	{ "ls", { "ls", "--json" }, build_ls },
	/* C6 password rotation */
	{ "key-list", { "key", "list", "--json" }, NULL },
	{ "key-add", { "key", "add", "--new-password-file" }, build_key_add },
	{ "key-remove", { "key", "remove" }, build_key_remove },
};

int restic_argv_build(const char *restic_path, const char *kind, const json_t *args,
                      const char *hostname, char ***out, char *err, size_t errlen)
{
	struct vec a = { 0 };
	const struct argv_kind *k = NULL;
	if (!restic_path || !*restic_path || !kind) {
		set_err(err, errlen, "restic path and kind required");
		return RM_ERR_INVAL;
	}
	if (args && !json_is_object(args)) {
		set_err(err, errlen, "args must be an object");
		return RM_ERR_INVAL;
	}
	for (size_t i = 0; i < sizeof(argv_kinds) / sizeof(argv_kinds[0]); i++)
		if (strcmp(kind, argv_kinds[i].name) == 0)
			k = &argv_kinds[i];
	if (!k) {
		set_err(err, errlen, "unknown kind");
		return RM_ERR_INVAL;
	}
	vec_push(&a, restic_path);
	for (size_t i = 0; i < sizeof(k->fixed) / sizeof(k->fixed[0]) && k->fixed[i]; i++)
		vec_push(&a, k->fixed[i]);
	int rc = k->build ? k->build(&a, args, hostname, err, errlen) : RM_OK;
	if (rc) {
		restic_argv_free(a.v);
		return rc;
	}
	*out = a.v;
	return RM_OK;
}

char *restic_argv_format(char *const *argv)
{
	struct rm_buf b;
	rm_buf_init(&b, 0);
	for (size_t i = 0; argv && argv[i]; i++) {
		const char *s = argv[i];
		if (i)
			rm_buf_append_str(&b, " ");
		if (*s && !strpbrk(s, " \t\"'\\$`")) {
			rm_buf_append_str(&b, s);
			continue;
		}
		rm_buf_append_str(&b, "\"");
		for (; *s; s++) {
			if (*s == '"' || *s == '\\')
				rm_buf_append_str(&b, "\\");
			rm_buf_append(&b, s, 1);
		}
		rm_buf_append_str(&b, "\"");
	}
	return rm_buf_take(&b);
}

char *restic_percent_encode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *o = rm_xmalloc(n * 3 + 1), *p = o;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			*p++ = (char)c;
		} else {
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	*p = '\0';
	return o;
}

int restic_url_with_userinfo(const char *url, const char *user, const char *pass, char **out)
{
	const char *scheme_end;
	if (!url || !user || !*user)
		return RM_ERR_INVAL;
	if (strncmp(url, "rest:http://", 12) == 0)
		scheme_end = url + 12;
	else if (strncmp(url, "rest:https://", 13) == 0)
		scheme_end = url + 13;
	else
		return RM_ERR_INVAL;
	/* authority ends at the first '/', '?' or '#'; userinfo is up to its last '@' */
	size_t alen = strcspn(scheme_end, "/?#");
	const char *host = scheme_end;
	for (const char *p = scheme_end; p < scheme_end + alen; p++)
		if (*p == '@')
			host = p + 1;
	if (host == scheme_end + alen)
		return RM_ERR_INVAL; /* no host */
	char *u = restic_percent_encode(user);
	char *pw = pass && *pass ? restic_percent_encode(pass) : NULL;
	*out = rm_xasprintf("%.*s%s%s%s@%s", (int)(scheme_end - url), url, u, pw ? ":" : "",
	                    pw ? pw : "", host);
	if (pw)
		sodium_memzero(pw, strlen(pw));
	free(u);
	free(pw);
	return RM_OK;
}

/* Adds s and, when it holds %XX escapes, its decoded form; wipes what it made. */
static void add_with_decoded(struct rm_redactor *r, const char *s, size_t n)
{
	char *raw = rm_xstrndup(s, n);
	char *dec = rm_xmalloc(n + 1);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (raw[i] == '%' && i + 2 < n && rm_hex_value(raw[i + 1]) >= 0 &&
		    rm_hex_value(raw[i + 2]) >= 0) {
			dec[k++] = (char)(rm_hex_value(raw[i + 1]) << 4 | rm_hex_value(raw[i + 2]));
			i += 2;
		} else {
			dec[k++] = raw[i];
		}
	}
	dec[k] = 0;
	rm_redactor_add(r, raw);
	if (strlen(dec) == k)
		rm_redactor_add(r, dec); /* no embedded NUL */
	sodium_memzero(raw, n);
	sodium_memzero(dec, n + 1);
	free(raw);
	free(dec);
}

void restic_secrets_collect(struct rm_redactor *r, const char *repo_url, const char *user,
                            const char *password)
{
	if (password && *password) {
		char *enc = restic_percent_encode(password);
		rm_redactor_add(r, password);
		rm_redactor_add(r, enc);
		sodium_memzero(enc, strlen(enc));
		free(enc);
	}
	if (!repo_url)
		return;
	char *u = NULL;
	if (user && *user && restic_url_with_userinfo(repo_url, user, password, &u) == RM_OK) {
		rm_redactor_add(r, u);
		sodium_memzero(u, strlen(u));
		free(u);
	}
	/* scheme://user:password@host...: the authority's last '@' ends the userinfo */
	const char *auth = strstr(repo_url, "://");
	if (!auth)
		return;
	auth += 3;
	size_t alen = strcspn(auth, "/?#");
	const char *at = NULL;
	for (const char *p = auth; p < auth + alen; p++)
		if (*p == '@')
			at = p;
	const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	if (colon && at > colon + 1)
		add_with_decoded(r, colon + 1, (size_t)(at - colon - 1));
}

void restic_env_free(char **env)
{
	if (!env)
		return;
	for (char **p = env; *p; p++) {
		sodium_memzero(*p, strlen(*p));
		free(*p);
	}
	free(env);
}

int restic_env_build(const struct restic_env_in *in, char ***out)
{
	struct vec e = { 0 };
	char *url = NULL;
	if (!in || !in->repo_url || !*in->repo_url || !in->repo_password || !in->state_dir ||
	    !*in->state_dir)
		return RM_ERR_INVAL;
	if (in->repo_username && *in->repo_username && strncmp(in->repo_url, "rest:http", 9) == 0) {
		int rc = restic_url_with_userinfo(in->repo_url, in->repo_username,
		                                  in->repo_password, &url);
		if (rc)
			return rc;
	}
	vec_push_take(&e, rm_xasprintf("RESTIC_REPOSITORY=%s", url ? url : in->repo_url));
	if (url) {
		sodium_memzero(url, strlen(url));
		free(url);
	}
	vec_push_take(&e, rm_xasprintf("RESTIC_PASSWORD=%s", in->repo_password));
	vec_push_take(&e, rm_xasprintf("RESTIC_CACHE_DIR=%s/cache", in->state_dir));
	vec_push_take(&e, rm_xasprintf("HOME=%s", in->state_dir));
	vec_push(&e, "PATH=" RESTIC_SAFE_PATH);
	vec_push(&e, "LANG=C");
	if (in->tmpdir && *in->tmpdir)
		vec_push_take(&e, rm_xasprintf("TMPDIR=%s", in->tmpdir));
	*out = e.v;
	return RM_OK;
}
