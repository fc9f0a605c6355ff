#ifndef RM_AGENT_ENROLL_H
#define RM_AGENT_ENROLL_H
/* `restic-manager-agent enroll`: exchanges a one-time enrollment token for a host id and
 * a long-lived bearer (POST <server>/api/agents/enroll, libcurl, blocking: one-shot CLI)
 * and writes the agent config atomically (0600). Re-enrolling keeps an existing
 * secrets_key so secrets.enc stays readable. */
#include <jansson.h>
#include <stddef.h>

struct enroll_opts {
	const char *server_url; /* http(s)://host[:port][/base] */
	const char *token;
	const char *cert_pin; /* optional SHA-256 hex of the server's leaf certificate */
	const char *config_path;
	const char *state_dir;
	const char *restic_path; /* optional override; else PATH lookup */
};

/* RM_OK, RM_ERR_INVAL (bad arguments), RM_ERR_AUTH (token rejected: bad/used/expired),
 * RM_ERR_IO (network / file). Logs one clear line on failure.
 * Without a token: announce-and-approve (announce.c): RM_ERR_FORBIDDEN (rejected),
 * RM_ERR_EXPIRED (nobody decided in time), RM_ERR_NOTFOUND (announcement gone). */
int enroll_run(const struct enroll_opts *o);

/* ---- shared by enroll.c and announce.c ---- */

/* What both ways of enrolling send about this machine. */
struct enroll_host {
	char hostname[256];
	char *restic;         /* absolute path or NULL (malloc'd) */
	char *restic_version; /* "" when unknown (malloc'd) */
	size_t server_len;    /* o->server_url without trailing slashes */
};
/* POSTs body (JSON) to url with libcurl (dlopen'd: the daemon never needs it). On RM_OK,
 * *status is the HTTP status and *resp the parsed JSON answer (caller decrefs); RM_ERR_IO
 * when the server could not be reached or answered no JSON (logged). */
int enroll_post(const struct enroll_opts *o, const char *url, const char *body, long *status,
                json_t **resp);
/* "<server>/api/<path>" (http(s) even when ws(s) was given); malloc'd. */
char *enroll_api_url(const char *server, size_t server_len, const char *path);
/* Writes the agent config from THE enrollment answer {"host_id","bearer",...}. */
int enroll_save_answer(const struct enroll_opts *o, size_t server_len, const json_t *resp,
                       const char *restic);
/* announce.c: enroll without a token (key pair, announce, wait for an admin). */
int announce_run(const struct enroll_opts *o, const struct enroll_host *h);

#endif
