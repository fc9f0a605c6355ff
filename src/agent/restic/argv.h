#ifndef RM_AGENT_RESTIC_ARGV_H
#define RM_AGENT_RESTIC_ARGV_H
/* argv and environment builders for restic. Pure code: no I/O, no process spawning. */
#include <jansson.h>

/* The only PATH restic's children (ssh, rclone) see. */
#define RESTIC_SAFE_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Builds a NULL-terminated argv (argv[0] = restic_path) for kind:
 *   "init"      restic init
 *   "backup"    restic backup --json [--host H] [--tag T]... [--exclude E]...
 *               [--exclude-caches] [--one-file-system]
 *               [--limit-upload N] [--limit-download N] -- PATH...
 *   "snapshots" restic snapshots --json
 *   "stats"     restic stats --json --mode raw-data
 *   "unlock"    restic unlock
 *   "version"   restic version
 *   "forget"    restic forget --json --group-by host,tags [--host H] --tag GROUP
 *               [--dry-run] --keep-*...  args {"group","retention":{keep_*},"dry_run"}
 *               (one group per invocation; a retention that keeps nothing is refused)
 *   "prune"     restic prune
 *   "check"     restic check [--read-data-subset X]  args {"read_data_subset"}
 *   "list-locks" restic list locks --no-lock
 *   "cat-lock"  restic cat lock ID --no-lock  args {"id": 64 hex digits}
 *   "unlock-all" restic unlock --remove-all (only when every lock is proven dead)
 *   "forget-preview"  restic forget --no-lock --dry-run --json --tag G --group-by host,tags
 *               --keep-last N ... [--keep-within D]; args {"group", "retention":
 *               {keep_last..keep_yearly, keep_within}}, at least one rule
 *   "restore"   restic restore --json SNAP --target T [--include P]... [--no-ownership]
 *               [--verify]   args: snapshot_id (hex), target (absolute), includes
 *               (absolute), no_ownership, verify (bools)
 *   "ls"        restic ls --json SNAP   args: snapshot_id
 *   "key-list"  restic key list --json
 *   "key-add"   restic key add --new-password-file F   args: file (absolute)
 *   "key-remove" restic key remove ID   args: key_id (8-64 hex)
 * args (borrowed, may be NULL except for backup): {"paths":[..] (backup: required,
 * non-empty), "tags":[..], "excludes":[..], "exclude_caches": bool, "one_file_system":
 * bool, "limit_upload_kib" (or "limit_upload"): KiB/s, "limit_download_kib" (or
 * "limit_download"): KiB/s, 0 = unlimited}. Other keys (hooks, group) are ignored here. hostname may be NULL (no --host). Values are never interpreted by a shell.
 * RM_ERR_INVAL on unknown kind / bad args (message in err). *out: free with
 * restic_argv_free. */
int restic_argv_build(const char *restic_path, const char *kind, const json_t *args,
                      const char *hostname, char ***out, char *err, size_t errlen);
void restic_argv_free(char **argv);
/* 1 when s is a read_data_subset restic accepts: "N%" with 0 < N <= 100 or "n/m" with
 * 1 <= n <= m. */
int restic_subset_ok(const char *s);
/* "restic backup --json -- /data" for log lines (args containing spaces or quotes are
 * double-quoted). argv never holds secrets. Caller frees. */
char *restic_argv_format(char *const *argv);

struct restic_env_in {
	const char *repo_url;      /* required */
	const char *repo_username; /* rest-server basic auth user, NULL/"" = none */
	const char *repo_password; /* required */
	const char *state_dir;     /* required: HOME and <state_dir>/cache */
	const char *tmpdir;        /* copied as TMPDIR when non-NULL/non-empty */
};

/* Builds a clean NULL-terminated "KEY=value" environment containing ONLY
 * RESTIC_REPOSITORY, RESTIC_PASSWORD, RESTIC_CACHE_DIR, HOME, PATH (RESTIC_SAFE_PATH),
 * LANG=C and TMPDIR (when given). Nothing is taken from the parent environment.
 * For "rest:http(s)://" URLs with a username, user and password are percent-encoded and
 * inserted as userinfo into RESTIC_REPOSITORY (existing userinfo is replaced).
 * The result holds secrets: never log it. RM_ERR_INVAL on missing fields.
 * Free with restic_env_free (which wipes the strings). */
int restic_env_build(const struct restic_env_in *in, char ***out);
void restic_env_free(char **env);

/* rest:http(s)://user:pass@host/path from a rest: URL (other URLs: RM_ERR_INVAL).
 * Caller frees (holds a secret). */
int restic_url_with_userinfo(const char *url, const char *user, const char *pass, char **out);
/* Percent-encodes everything except RFC 3986 unreserved chars. Caller frees. */
char *restic_percent_encode(const char *s);

/* Registers in r every form in which restic may echo these credentials back in its
 * output: the password, its percent-encoded form, the rest: URL with userinfo built
 * from user + password, and a password written into repo_url's own userinfo (as is and
 * percent-decoded). Any argument may be NULL. */
struct rm_redactor;
void restic_secrets_collect(struct rm_redactor *r, const char *repo_url, const char *user,
                            const char *password);

#endif
