#ifndef RM_AGENT_RESTIC_KEYS_H
#define RM_AGENT_RESTIC_KEYS_H
/* restic's repository keys (passwords): `key list` output. Pure code, no I/O. */
#include <stddef.h>

#define RESTIC_KEY_ID_MAX 64

/* The id of the key the password in use opened (the "current" one) from `key list --json`
 * (0.14+: an array of {current, id, userName, hostName, created}) or, when the output is
 * not JSON, from the text table (the row starting with '*'). out gets 8-64 lowercase hex
 * digits. RM_OK, or RM_ERR_PROTO (no current key / malformed; out untouched). */
int restic_parse_key_current(const char *buf, size_t len, char out[RESTIC_KEY_ID_MAX + 1]);

/* 1 when s is a key id restic accepts here: 8-64 lowercase hex digits. */
int restic_key_id_ok(const char *s);

#endif
