#ifndef RM_AGENT_SECRETS_H
#define RM_AGENT_SECRETS_H
/* Repository credentials at rest: <state_dir>/secrets.enc holds
 *   AEAD(key = config secrets_key, ad = "agent-secrets",
 *        {"repo": {"repo_url","repo_username","repo_password","hook_shell","bandwidth"}})
 * (the admin credential slot is never stored: it comes inside command.run, per job)
 * written atomically (0600). A corrupt or undecryptable file is reported once and never
 * overwritten in place: the next update first moves it aside to
 * secrets.enc.corrupt-<unix ts>. Loop thread only. */
#include <jansson.h>
#include <stdint.h>

#include "common/crypto.h"

#define SECRETS_FILE "secrets.enc"
#define SECRETS_AD "agent-secrets"

struct secrets;

/* Borrowed views into a slot; NULL when unset. Valid until the next secrets_update or
 * secrets_free. */
struct secrets_slot {
	const char *repo_url;
	const char *repo_username;
	const char *repo_password;
};

/* Opens <state_dir>/secrets.enc. *out is always set (empty store when the file is missing
 * or corrupt). Returns RM_OK (also when missing), or RM_ERR_CRYPTO / RM_ERR_INVAL /
 * RM_ERR_IO when the file exists but cannot be used (logged; secrets_is_corrupt() = 1).
 * Every repo_password found is registered with rm_log_add_secret. */
int secrets_open(const char *state_dir, const uint8_t key[RM_KEY_BYTES], struct secrets **out);
void secrets_free(struct secrets *s);
int secrets_is_corrupt(const struct secrets *s);

/* RM_OK and *out filled, or RM_ERR_NOTFOUND when the slot has no repo_url. */
int secrets_get(const struct secrets *s, const char *slot, struct secrets_slot *out);
/* The slot object (borrowed) or NULL. */
const json_t *secrets_slot_json(const struct secrets *s, const char *slot);

/* Merges the known fields of a config.update payload (repo_url, repo_username,
 * repo_password, hook_shell, bandwidth; absent = keep) into slot (NULL = "repo") and
 * persists. RM_OK, RM_ERR_INVAL (slot other than "repo"), RM_ERR_IO. */
int secrets_update(struct secrets *s, const char *slot, const json_t *payload);
/* Older agents kept an "admin" slot here: wipes and removes it (persisting). RM_OK when
 * there was none. */
int secrets_drop_legacy_admin(struct secrets *s);

/* An AEAD-sealed JSON object in a file (base64url text + newline), as secrets.enc and the
 * schedule spec are kept. secrets_file_read: RM_OK and *out (new reference: rmj_wipe it
 * before the last decref), RM_ERR_NOTFOUND, RM_ERR_IO / RM_ERR_TOOBIG (unreadable, more
 * than max bytes), RM_ERR_CRYPTO (cannot be decrypted), RM_ERR_INVAL (not a JSON object);
 * err says why. secrets_file_write: atomic (tmp + fsync + rename), mode 0600. Neither
 * logs. */
int secrets_file_read(const char *path, const uint8_t key[RM_KEY_BYTES], const char *ad, size_t max,
                      json_t **out, char *err, size_t errlen);
int secrets_file_write(const char *path, const uint8_t key[RM_KEY_BYTES], const char *ad,
                       const json_t *root);

#endif
