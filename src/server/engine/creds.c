/* Decryption of stored host credentials. */
#include "server/engine/creds.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "server/store/store.h"

#define CREDS_MAX 65536

int creds_open(const uint8_t *key, const char *host_id, const char *slot, const char *ct,
               json_t **out)
{
	char *pt = NULL;
	size_t ptlen = 0;
	char *ad = rm_xasprintf("host_credentials:%s:%s", host_id, slot);
	int rc = rm_aead_open(key, ct, ad, &pt, &ptlen);
	free(ad);
	if (rc) {
		RM_ERROR("cannot decrypt host credentials", "host_id", host_id, "slot", slot, "err",
		         rm_strerror(rc));
		return RM_ERR_CRYPTO;
	}
	json_t *creds = NULL;
	rc = rmj_parse_object(pt, ptlen, CREDS_MAX, &creds, NULL, 0);
	sodium_memzero(pt, ptlen);
	free(pt);
	if (rc) {
		RM_ERROR("host credentials are not a JSON object", "host_id", host_id, "slot",
		         slot);
		return RM_ERR_CRYPTO;
	}
	*out = creds;
	return RM_OK;
}

int creds_get(struct store *st, const uint8_t *key, const char *host_id, const char *slot,
              json_t **out)
{
	char *ct = NULL;
	int rc = store_cred_get(st, host_id, slot, &ct);
	if (rc)
		return rc;
	rc = creds_open(key, host_id, slot, ct, out);
	free(ct);
	return rc;
}

int creds_seal(const uint8_t *key, const char *host_id, const char *slot, const json_t *creds,
               char **ct_out)
{
	char *pt = rmj_dumps(creds);
	char *ad = rm_xasprintf("host_credentials:%s:%s", host_id, slot);
	int rc = rm_aead_seal(key, pt, strlen(pt), ad, ct_out);
	sodium_memzero(pt, strlen(pt));
	free(pt);
	free(ad);
	return rc;
}

void creds_free(json_t *creds)
{
	if (!creds)
		return;
	const char *k;
	json_t *v;
	json_object_foreach (creds, k, v) {
		if (!json_is_string(v) || v->refcount != 1)
			continue;
		/* jansson owns the bytes; wipe them before they go back to the allocator */
		sodium_memzero((char *)json_string_value(v), json_string_length(v));
	}
	json_decref(creds);
}
