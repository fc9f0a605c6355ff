#ifndef RM_AGENT_ENROLL_H
#define RM_AGENT_ENROLL_H
/* `restic-manager-agent enroll`: exchanges a one-time enrollment token for a host id and
 * a long-lived bearer (POST <server>/api/agents/enroll, libcurl, blocking: one-shot CLI)
 * and writes the agent config atomically (0600). Re-enrolling keeps an existing
 * secrets_key so secrets.enc stays readable. */

struct enroll_opts {
	const char *server_url; /* http(s)://host[:port][/base] */
	const char *token;
	const char *cert_pin; /* optional SHA-256 hex of the server's leaf certificate */
	const char *config_path;
	const char *state_dir;
	const char *restic_path; /* optional override; else PATH lookup */
};

/* RM_OK, RM_ERR_INVAL (bad arguments), RM_ERR_AUTH (token rejected: bad/used/expired),
 * RM_ERR_IO (network / file). Logs one clear line on failure. */
int enroll_run(const struct enroll_opts *o);

#endif
