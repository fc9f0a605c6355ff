#ifndef RM_SERVER_ENGINE_CREDS_H
#define RM_SERVER_ENGINE_CREDS_H
/* A host's repository credentials, AEAD-encrypted at rest in host_credentials with the
 * additional data "host_credentials:<host_id>:<slot>". The only place that decrypts
 * them. Loop thread only. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* Decrypts and parses a host's credential slot ("repo" | "admin") into *out (a new
 * object, e.g. {"repo_url","repo_username","repo_password"}; the caller owns it and
 * should wipe it with creds_free). RM_OK, RM_ERR_NOTFOUND (no such slot), RM_ERR_DB,
 * RM_ERR_CRYPTO (cannot decrypt: logged). */
int creds_get(struct store *st, const uint8_t *key, const char *host_id, const char *slot,
              json_t **out);
/* The same from a ciphertext sealed for (host_id, slot) (e.g. a pending rotation's). */
int creds_open(const uint8_t *key, const char *host_id, const char *slot, const char *ct,
               json_t **out);
/* Seals creds (a JSON object) for (host_id, slot) into *ct_out (caller frees). The
 * plaintext is wiped. RM_OK or the crypto error. */
int creds_seal(const uint8_t *key, const char *host_id, const char *slot, const json_t *creds,
               char **ct_out);
/* Zeroes every string member, then releases the object. NULL ok. */
void creds_free(json_t *creds);

#endif
