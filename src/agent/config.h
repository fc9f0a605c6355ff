#ifndef RM_AGENT_CONFIG_H
#define RM_AGENT_CONFIG_H
/* Agent configuration file (/etc/restic-manager/agent.yaml): a `key: value` YAML subset
 * driven by ONE table (name, type, required, bounds) in config.c.
 *
 *   server: "https://rm.example.com"
 *   host_id: "01J..."
 *   bearer: "..."
 *   tls_pin: ""            # optional SHA-256 hex of the server's leaf certificate
 *   restic_path: ""        # optional
 *   secrets_key: "<64 hex>"
 *   log_level: "info"      # optional
 *
 * Unknown keys are logged and ignored (forward compatible). */
#include <stddef.h>
#include <stdint.h>

#include "common/crypto.h"

#define AGENT_DEFAULT_CONFIG "/etc/restic-manager/agent.yaml"
#define AGENT_DEFAULT_STATE_DIR "/var/lib/restic-manager"

/* All strings owned (malloc'd) or NULL when absent. */
struct agent_config {
	char *server_url;
	char *host_id;
	char *bearer;
	char *tls_pin; /* lowercase hex, 64 chars, or NULL */
	char *restic_path;
	char *secrets_key; /* 64 hex chars */
	char *log_level;
};

/* Parses config text. On error returns RM_ERR_INVAL with a message in err naming the line
 * or the field; *out untouched. On success *out is filled (caller cleans up). */
int agent_config_parse(const char *text, size_t len, struct agent_config *out, char *err,
                       size_t errlen);
/* Reads and parses path (RM_ERR_NOTFOUND if absent, RM_ERR_IO, RM_ERR_INVAL). */
int agent_config_load(const char *path, struct agent_config *out, char *err, size_t errlen);
/* Serialises (caller frees). */
char *agent_config_format(const struct agent_config *c);
/* Atomic write (tmp + fsync + rename), mode 0600; creates the parent directory (0755)
 * when missing. */
int agent_config_save(const char *path, const struct agent_config *c);
void agent_config_cleanup(struct agent_config *c);
/* Decodes secrets_key (RM_ERR_INVAL if absent or malformed). */
int agent_config_secrets_key(const struct agent_config *c, uint8_t key[RM_KEY_BYTES]);

/* mkdir -p with the given mode for created components. RM_OK / RM_ERR_IO. */
int agent_mkdirs(const char *path, int mode);

#endif
