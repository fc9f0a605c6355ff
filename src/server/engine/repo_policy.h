#ifndef RM_SERVER_ENGINE_REPO_POLICY_H
#define RM_SERVER_ENGINE_REPO_POLICY_H
/* Repository policy (SPEC C1): when an agent says hello the server pushes the repository
 * credentials (config.update, slot "repo") and, while the host's repo_status is
 * "unknown", initialises the repository with an "init" job (restic init; "already
 * exists" counts as success on the agent). The end of an init job sets repo_status to
 * "ready" or "init_failed" with the error. The transport (ws/agent_hub.c) only calls
 * these; messages go out through engine/presence. Loop thread only. */
struct app;
struct host_secrets;
struct store;

/* The host's agent completed hello (it is reachable through app->presence). Sends the
 * credentials, dispatches the init job when due (notifying the job change) and returns
 * the host's secrets for redacting what this agent reports (never NULL; caller frees with
 * host_secrets_free). The repository password is also registered with the log redactor. */
struct host_secrets *repo_policy_on_hello(struct app *app, const char *host_id);

/* The host's repository credentials changed (C6): sends them to its agent when connected
 * and, while repo_status is "unknown", probes/initialises the repository again (an init
 * job). An offline host gets both at its next hello. */
void repo_policy_push(struct app *app, const char *host_id);

/* A job of kind `kind` on host_id ended with status/error (error already redacted).
 * Updates repo_status when it was an init job; RM_OK otherwise. Store errors returned
 * (callers batch this inside their transaction). */
int repo_policy_job_finished(struct store *st, const char *host_id, const char *kind,
                             const char *status, const char *error);

#endif
