#ifndef RM_AGENT_SCHEDULER_SPEC_H
#define RM_AGENT_SCHEDULER_SPEC_H
/* The C2 policy spec the server pushes with schedule.set (docs/internals/protocol.md):
 * schedules (cron, enabled, group ids), source groups (includes, excludes, retry policy,
 * bandwidth, hooks) and host settings. Validation, the backup args of a group, and the
 * encrypted file it is kept in (<state_dir>/schedule.enc: AEAD with the agent's secrets
 * key, ad "agent-schedule", the whole payload: hooks are secrets-adjacent).
 * Pure but for spec_load / spec_save. Loop thread only. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cron.h"
#include "common/crypto.h"

#define SPEC_FILE "schedule.enc"
#define SPEC_AD "agent-schedule"
#define SPEC_RETRY_MAX_DEFAULT 3
#define SPEC_RETRY_BACKOFF_DEFAULT 300

struct spec_group {
	const char *id, *name; /* borrowed from the spec's root */
	const json_t *json;    /* the group object */
	int retry_max;         /* default 3, 0 = no retry */
	int retry_backoff_s;   /* default 300 */
};

struct spec_schedule {
	const char *id;
	struct cron cron;
	int enabled;
	size_t ngroups;
	size_t *groups; /* indexes into spec.groups */
};

/* C2 repository care: a maintenance cadence the agent runs itself (forget, prune, check;
 * schedule.set "maintenance"). id is "maint:<kind>" (its last_fired key and the jobs'
 * schedule_id). */
struct spec_maint {
	char id[16];
	const char *kind; /* borrowed from the spec's root */
	struct cron cron;
	int enabled;
	const json_t *args; /* the job's args (forget: {"groups":[...]}) */
};

struct spec {
	long long version;
	json_t *root; /* the schedule.set payload (owned; holds the hooks: wiped on free) */
	size_t nschedules, ngroups;
	struct spec_schedule *schedules;
	struct spec_group *groups;
	size_t nmaint;
	struct spec_maint *maint;
};

/* Validates a schedule.set payload completely (schema, then: version >= 1, every cron,
 * ids unique and free of control characters, group names [a-z0-9][a-z0-9_.-]{0,62} and
 * unique, includes absolute, no NUL/newline in paths or patterns, group_ids referencing
 * known groups, hooks <= 64 KiB, hook_shell absolute, bounded numbers). RM_OK and *out
 * (a deep copy; caller frees with spec_free), or RM_ERR_INVAL with err naming the
 * problem, e.g. "schedules[1].cron: minute: 61 is out of range 0-59". */
int spec_parse(const json_t *payload, struct spec **out, char *err, size_t errlen);
void spec_free(struct spec *s); /* NULL ok */

const struct spec_group *spec_group_find(const struct spec *s, const char *id);
const struct spec_schedule *spec_schedule_find(const struct spec *s, const char *id);
const struct spec_maint *spec_maint_find(const struct spec *s, const char *id);

/* The backup args of group g (command.run args shape, for runner_submit): paths,
 * tags [name], excludes, exclude_caches, one_file_system, limit_upload_kib /
 * limit_download_kib (group override, else host setting), pre_hook, post_hook,
 * hook_shell, hook_timeout_s, group. New reference. */
json_t *spec_backup_args(const struct spec *s, const struct spec_group *g);

/* Reads and decrypts path. RM_OK and *out; RM_ERR_NOTFOUND when absent; any other
 * error (undecryptable, invalid) is logged and the file is moved aside to
 * <path>.corrupt-<unix ts> so that it is never overwritten silently. */
int spec_load(const char *path, const uint8_t key[RM_KEY_BYTES], struct spec **out);
/* Encrypts s->root and writes it atomically (tmp + fsync + rename, 0600). */
int spec_save(const char *path, const uint8_t key[RM_KEY_BYTES], const struct spec *s);

#endif
