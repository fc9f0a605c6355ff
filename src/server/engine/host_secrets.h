#ifndef RM_SERVER_ENGINE_HOST_SECRETS_H
#define RM_SERVER_ENGINE_HOST_SECRETS_H
/* The secrets a host's agent knows (repository password, the password in a repository
 * URL's userinfo, any other credential value) so that strings the agent reports — log
 * lines, job errors, progress — can be redacted before they are stored or shown: restic
 * and its backends sometimes echo them. Secrets shorter than HOST_SECRETS_MIN_LEN are not
 * redacted (too many false hits). A list is loaded once per agent connection and then
 * only read, so redaction on the log hot path is a memmem per secret and allocates only
 * when a secret is found. Loop thread only. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct host_secrets;

#define HOST_SECRETS_MIN_LEN 4
#define HOST_SECRETS_MASK "***"

struct host_secrets *host_secrets_new(void); /* empty list */
/* Adds the secrets of a credential object (borrowed; e.g. creds_get's): every string
 * member except repo_url / repo_username / slot, and the password of repo_url's
 * userinfo. */
void host_secrets_add_creds(struct host_secrets *hs, const json_t *creds);
/* Builds the list from every stored credential slot of host_id. Never NULL: when nothing
 * is stored (or it cannot be decrypted) the list is empty. */
struct host_secrets *host_secrets_load(struct store *st, const uint8_t *key, const char *host_id);
/* Adds one secret (copied; shorter than HOST_SECRETS_MIN_LEN or already known: ignored). */
void host_secrets_add(struct host_secrets *hs, const char *secret);
size_t host_secrets_count(const struct host_secrets *hs);
void host_secrets_free(struct host_secrets *hs); /* wipes the copies; NULL ok */

/* A malloc'd copy of s[0..len) with every secret replaced by "***", or NULL when s holds
 * none (the common case: nothing allocated). hs NULL = no secrets. */
char *host_secrets_redact(const struct host_secrets *hs, const char *s, size_t len);
/* Redacts, in place, the string member key of obj. 1 if it changed, else 0. */
int host_secrets_redact_member(const struct host_secrets *hs, json_t *obj, const char *key);
/* Redacts every string inside v (objects and arrays, recursively, in place). Returns how
 * many strings changed. */
size_t host_secrets_redact_json(const struct host_secrets *hs, json_t *v);

#endif
