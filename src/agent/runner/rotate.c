/* The repository password rotation kinds (kind drivers, see runner_int.h; the order and
 * why: docs/internals/security.md).
 *
 * key_add {"new_password"}  (the password comes in command.run only; never on disk but for
 *                            the moment restic reads it, never logged)
 *   restic key list --json                  -> the current (old) key id
 *   restic key add --new-password-file F    F: <state>/keypw-<job>, 0600, removed at once
 *   restic key list --json  (NEW password)  -> proves it opens the repository; its current
 *                                              key is the new key
 *   stats {"old_key_id","new_key_id"}
 * key_remove {"key_id","expect_key_id"}     (with the stored repository credentials, which
 *                                            the server switched to the new password)
 *   restic key list --json                  -> the current key must be expect_key_id: the
 *                                              agent works with the new password
 *   restic key remove KEY_ID
 *   stats {"confirmed": bool, "removed_key_id"} (also on failure: the server restores the
 *   previous password only when the new one was not confirmed) */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/restic/argv.h"
#include "agent/restic/keys.h"
#include "agent/runner/runner_int.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"

struct keyrot {
	int remove;     /* key_remove */
	char *pw;       /* key_add: the new password (wiped) */
	char *file;     /* key_add: the password file while it may exist */
	char **new_env; /* key_add: the job's environment with the new password */
	int stage;      /* which step ran last: 0 list, 1 add / remove, 2 list (new) */
	int confirmed;  /* key_remove: the agent opens the repository with the new key */
	char old_id[RESTIC_KEY_ID_MAX + 1], new_id[RESTIC_KEY_ID_MAX + 1];
	char expect_id[RESTIC_KEY_ID_MAX + 1];
};

static void drop_file(struct keyrot *k)
{
	if (!k->file)
		return;
	if (unlink(k->file) && errno != ENOENT)
		RM_WARN("cannot remove the new password file", "path", k->file);
	free(k->file);
	k->file = NULL;
}

static void keyrot_free(void *p)
{
	struct keyrot *k = p;
	drop_file(k);
	if (k->pw) {
		sodium_memzero(k->pw, strlen(k->pw));
		free(k->pw);
	}
	restic_env_free(k->new_env);
	free(k);
}

static int keyrot_prepare(struct runner *r, struct job *j, const json_t *args, char *err,
                          size_t errlen)
{
	(void)r;
	struct keyrot *k = rm_xcalloc(1, sizeof *k);
	k->remove = !strcmp(j->kind->name, "key_remove");
	if (k->remove) {
		const char *id = rmj_str(args, "key_id"), *want = rmj_str(args, "expect_key_id");
		if (!restic_key_id_ok(id) || !restic_key_id_ok(want) || !strcmp(id, want)) {
			rm_strlcpy(err, "key_remove needs key_id and a different expect_key_id",
			           errlen);
			free(k);
			return RM_ERR_INVAL;
		}
		rm_strlcpy(k->old_id, id, sizeof k->old_id);
		rm_strlcpy(k->expect_id, want, sizeof k->expect_id);
	} else {
		const char *pw = rmj_str(args, "new_password");
		if (!pw || !pw[0] || strlen(pw) > 1024) {
			rm_strlcpy(err, "key_add needs a new_password", errlen);
			free(k);
			return RM_ERR_INVAL;
		}
		k->pw = rm_xstrdup(pw);
		rm_redactor_add(&j->secrets, pw);
	}
	j->drv = k;
	return RM_OK;
}

static const struct step_def step_list = { .name = "key-list", .out = OUT_DOCUMENT };
static const struct step_def step_add = { .name = "key-add" };
static const struct step_def step_remove = { .name = "key-remove" };

static void start_step(struct runner *r, const struct step_def *def, json_t *args_take, char **env)
{
	struct job *j = r->cur;
	char err[256] = "";
	char **argv = runner_argv(r, def->name, args_take, err, sizeof err);
	json_decref(args_take);
	if (!argv) {
		runner_job_finish(r, "failed", -1, err);
		return;
	}
	char **saved = j->env;
	if (env)
		j->env = env; /* uv_spawn copies it during the call */
	runner_proc_start(r, def, ROLE_DRIVER, argv);
	j->env = saved;
	restic_argv_free(argv);
}

static void keyrot_start(struct runner *r, struct job *j)
{
	struct keyrot *k = j->drv;
	k->stage = 0;
	start_step(r, &step_list, NULL, NULL);
}

/* j->env with RESTIC_PASSWORD replaced by the new password. */
static char **env_with_password(char **env, const char *pw)
{
	size_t n = 0;
	while (env && env[n])
		n++;
	char **out = rm_xcalloc(n + 1, sizeof *out);
	for (size_t i = 0; i < n; i++)
		out[i] = strncmp(env[i], "RESTIC_PASSWORD=", 16)
		             ? rm_xstrdup(env[i])
		             : rm_xasprintf("RESTIC_PASSWORD=%s", pw);
	return out;
}

/* Writes the new password to a fresh 0600 file in the state dir. */
static int write_pw_file(struct runner *r, struct job *j, struct keyrot *k)
{
	k->file = rm_xasprintf("%s/keypw-%s", r->state_dir, j->id);
	unlink(k->file);
	int fd = open(k->file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return RM_ERR_IO;
	size_t n = strlen(k->pw);
	ssize_t w = write(fd, k->pw, n);
	int rc = (w == (ssize_t)n && close(fd) == 0) ? RM_OK : RM_ERR_IO;
	if (w != (ssize_t)n)
		close(fd);
	return rc;
}

static void finish(struct runner *r, struct job *j, const char *status, char *error_take)
{
	struct keyrot *k = j->drv;
	json_decref(j->stats);
	if (k->remove)
		j->stats = json_pack("{s:b,s:s?}", "confirmed", k->confirmed, "removed_key_id",
		                     strcmp(status, "succeeded") ? NULL : k->old_id);
	else
		j->stats = json_pack("{s:s?,s:s?}", "old_key_id", k->old_id[0] ? k->old_id : NULL,
		                     "new_key_id", k->new_id[0] ? k->new_id : NULL);
	runner_job_finish(r, status, strcmp(status, "succeeded") ? 1 : 0, error_take);
	free(error_take);
}

/* A `key list` ended: the current key's id into out; 0 or the error (caller frees). */
static char *current_key(struct proc *p, char out[RESTIC_KEY_ID_MAX + 1])
{
	if (!runner_proc_ok(p))
		return runner_proc_error(p);
	if (p->collect_overflow || restic_parse_key_current(p->collect.data, p->collect.len, out))
		return rm_xstrdup("cannot read the output of restic key list");
	return NULL;
}

static void add_step_done(struct runner *r, struct job *j, struct keyrot *k, struct proc *p)
{
	char *e = NULL;
	if (k->stage == 0) {
		e = current_key(p, k->old_id);
		if (!e && write_pw_file(r, j, k))
			e = rm_xstrdup("cannot write the new password file");
		runner_proc_free(p);
		if (e) {
			finish(r, j, "failed", e);
			return;
		}
		k->stage = 1;
		start_step(r, &step_add, json_pack("{s:s}", "file", k->file), NULL);
		return;
	}
	if (k->stage == 1) {
		drop_file(k);
		if (!runner_proc_ok(p))
			e = runner_proc_error(p);
		runner_proc_free(p);
		if (e) {
			finish(r, j, "failed", e);
			return;
		}
		runner_log_event(r, "new key added; opening the repository with the new password");
		k->stage = 2;
		k->new_env = env_with_password(j->env, k->pw);
		start_step(r, &step_list, NULL, k->new_env);
		return;
	}
	e = current_key(p, k->new_id);
	runner_proc_free(p);
	if (!e && !strcmp(k->new_id, k->old_id))
		e = rm_xstrdup("the new password opened the old key");
	if (e) {
		k->new_id[0] = '\0';
		char *m = rm_xasprintf("the new password does not open the repository: %s", e);
		free(e);
		{
			finish(r, j, "failed", m);
			return;
		}
	}
	runner_log_event(r, "the new password opens the repository (key %s; old key %s)", k->new_id,
	                 k->old_id);
	finish(r, j, "succeeded", NULL);
}

static void remove_step_done(struct runner *r, struct job *j, struct keyrot *k, struct proc *p)
{
	char *e = NULL;
	if (k->stage == 0) {
		char cur[RESTIC_KEY_ID_MAX + 1] = "";
		e = current_key(p, cur);
		runner_proc_free(p);
		if (!e && strcmp(cur, k->expect_id))
			e = rm_xasprintf("the agent opens the repository with key %s, not the new "
			                 "key %s",
			                 cur, k->expect_id);
		if (e) {
			finish(r, j, "failed", e);
			return;
		}
		k->confirmed = 1;
		runner_log_event(r, "the agent works with the new password; removing key %s",
		                 k->old_id);
		k->stage = 1;
		start_step(r, &step_remove, json_pack("{s:s}", "key_id", k->old_id), NULL);
		return;
	}
	if (!runner_proc_ok(p))
		e = runner_proc_error(p);
	runner_proc_free(p);
	finish(r, j, e ? "failed" : "succeeded", e);
}

static void keyrot_step_done(struct runner *r, struct job *j, struct proc *p)
{
	struct keyrot *k = j->drv;
	if (j->cancelled) {
		drop_file(k);
		runner_proc_free(p);
		runner_job_finish(r, "cancelled", EXIT_CANCELLED, NULL);
		return;
	}
	if (k->remove)
		remove_step_done(r, j, k, p);
	else
		add_step_done(r, j, k, p);
}

const struct kind_driver runner_keyrot_driver = {
	.prepare = keyrot_prepare,
	.start = keyrot_start,
	.step_done = keyrot_step_done,
	.free = keyrot_free,
};
