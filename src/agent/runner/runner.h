#ifndef RM_AGENT_RUNNER_RUNNER_H
#define RM_AGENT_RUNNER_RUNNER_H
/* Job lifecycle on the agent: a FIFO of jobs run one at a time with restic (uv_spawn,
 * argv array, clean environment), turned into protocol payloads. The runner does no
 * networking and no outbox: it hands every event to the emit callback, which the agent
 * core wraps into envelopes (outbox for everything but job.progress).
 *
 * Threading: loop thread only. */
#include <jansson.h>
#include <stddef.h>
#include <uv.h>

struct runner;

/* Repo credentials as pushed by config.update (slot "repo"). Borrowed by the runner
 * only for the duration of runner_submit (it copies what it needs). */
struct runner_creds {
	const char *repo_url;      /* e.g. "/srv/repo", "sftp:user@host:/path",
	                            * "rest:http://host:8000/name" */
	const char *repo_username; /* rest-server basic auth, may be NULL */
	const char *repo_password; /* restic repository password */
};

/* Event sink. type is one of RM_MSG_JOB_STARTED, RM_MSG_JOB_PROGRESS, RM_MSG_LOG_STREAM,
 * RM_MSG_JOB_FINISHED, RM_MSG_SNAPSHOTS_REPORT, RM_MSG_STATS_REPORT (enum rm_msg_type);
 * payload ownership passes to the callee. Payloads follow docs/internals/messages.md:
 * the runner assigns seq (per job, from 1) to job.started, each log line and
 * job.finished. log.stream payloads batch up to 200 lines or 50 ms of output. */
typedef void (*runner_emit_fn)(void *ud, int type, json_t *payload_take);

struct runner_opts {
	uv_loop_t *loop;
	const char *restic_path; /* absolute path or NULL if restic is missing */
	const char *state_dir;   /* cache dir = <state_dir>/cache; job markers in
	                           * <state_dir>/jobs/ */
	const char *hostname;
	runner_emit_fn emit;
	void *ud;
	int cancel_grace_ms; /* SIGTERM -> SIGKILL delay (default 5000) */
};

/* On start, the runner looks for job markers left by a previous agent process that died
 * mid-job: it kills a leftover restic child (if /proc/<pid>/cmdline still says restic)
 * and remembers that the repo needs `restic unlock` before its next job. */
int runner_new(const struct runner_opts *opts, struct runner **out);
/* Kills running children (SIGTERM) and frees once they have exited; closes its handles.
 * The loop must keep running until the handles are closed. NULL ok. */
void runner_free(struct runner *r);

/* Queues a job. kind: "init" | "backup" | "snapshots" | "unlock" | "restore" | "drill"
 * (others -> RM_ERR_INVAL). restore args: {"snapshot_id", "target" (absolute; absent =
 * $HOME/rm-restore/<job-id>), "includes":[abs paths], "mode":"new"|"in_place",
 * "path_map":[{"from","to"}] (moves restored paths after the restore)}; drill args:
 * {"sample_files" (default 20), "max_bytes" (default 200 MiB)}.
 * args (borrowed): {"paths":[...], "tags":[...], "excludes":[...]}.
 * RM_ERR_CONFLICT if job_id is already queued/running, RM_ERR_INVAL on bad args,
 * RM_ERR_NOTFOUND when restic is missing (the job is then reported as failed through
 * emit as well). creds may be NULL (job fails with "no repository configured"). */
int runner_submit(struct runner *r, const char *job_id, const char *kind, const json_t *args,
                  const struct runner_creds *creds);
/* Same, for jobs the agent starts on its own: started_extra (borrowed, copied; may be
 * NULL) is merged into the job's job.started payload (origin, schedule_id, group_id,
 * group, attempt, args). Backups also read their hooks from args: pre_hook, post_hook
 * (scripts), hook_shell (absolute, default /bin/sh), hook_timeout_s (default 900) and
 * group (RM_GROUP for the hooks). */
int runner_submit_ex(struct runner *r, const char *job_id, const char *kind, const json_t *args,
                     const struct runner_creds *creds, const json_t *started_extra);
/* Retention preview, beside the job queue (read-only, restic --no-lock): runs
 * `restic forget --dry-run --json` for args {"group", "retention":{...}} (see
 * restic_argv_build "forget-preview") and calls done exactly once on the loop with
 * RM_OK and {"keep":[...],"remove":[...]} (restic_parse_forget; result ownership passes),
 * or an error code and a message (credentials scrubbed). On a non-zero return done is
 * never called and err says why: RM_ERR_NOTFOUND (no restic), RM_ERR_INVAL (bad args, no
 * repository), RM_ERR_AGAIN (2 previews already running), RM_ERR_CHILD. Not called at all
 * when runner_free comes first. Times out after 90 s. tag (copied, < 80 bytes, e.g. the
 * request id) is handed back to done. */
typedef void (*runner_preview_fn)(void *ud, const char *tag, int rc, json_t *result_take,
                                  const char *error);
int runner_forget_preview(struct runner *r, const json_t *args, const struct runner_creds *creds,
                          const char *tag, runner_preview_fn done, void *ud, char *err,
                          size_t errlen);
/* SIGTERM, SIGKILL after cancel_grace_ms; the job ends "cancelled" with exit 130.
 * A queued job is cancelled at once. RM_ERR_NOTFOUND if unknown. */
int runner_cancel(struct runner *r, const char *job_id);
/* What the installed restic can do, probed at run time: version ("0.14.0", "" unknown)
 * and the text of `restic restore --help` (NULL unknown). Restores use --no-ownership
 * (new-directory targets) and drills --verify only when the help offers them; restore
 * progress comes from restic's JSON from 0.16, else from counting restored files. */
void runner_set_features(struct runner *r, const char *version, const char *restore_help);
/* Appends the ids of queued + running jobs to arr (a json array). */
void runner_active_ids(const struct runner *r, json_t *arr);
size_t runner_active_count(const struct runner *r);

#endif
