#ifndef RM_SERVER_ENGINE_CHANNELS_H
#define RM_SERVER_ENGINE_CHANNELS_H
/* C4 delivery channels: what a channel's configuration may hold (validation), its secret
 * (webhook HMAC key, ntfy token or password, SMTP password; AEAD-encrypted at rest with the
 * additional data "channel:<id>", decrypted only here, never returned), the API shape
 * (has_secret instead of the secret), and turning a delivery payload into a transfer for
 * engine/channels_io. Loop thread only. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct app;
struct cio_xfer;

/* Validates an API body for create (existing NULL) or update (existing = the stored row:
 * absent fields keep their values, "secret" absent keeps, null clears). On success fills
 * *out with {"name","kind","enabled","min_severity","host_tags","config"} and *secret
 * (malloc'd, or NULL to clear; *set_secret = 1 when it changes). RM_ERR_INVAL with the
 * field name and a message that never repeats a secret or URL credentials. */
int channel_validate(const json_t *body, const json_t *existing, json_t **out, char **secret,
                     int *set_secret, const char **field, char *err, size_t errlen);
/* Encrypts secret for channel id into *ct (malloc'd base64). */
int channel_seal_secret(const uint8_t *key, const char *id, const char *secret, char **ct);
/* A stored row as the API shows it: secret_ct replaced by "has_secret". New reference. */
json_t *channel_public(const json_t *row);
/* Builds the transfer delivering payload through the channel row (decrypting its secret).
 * delivery_id names the message (Message-ID, X-RM-Delivery). RM_OK, or an error with a
 * message in err (e.g. "cannot decrypt the channel secret"). */
int channel_build(struct app *app, const json_t *row, const char *delivery_id,
                  const json_t *payload, struct cio_xfer **out, char *err, size_t errlen);
/* Whether the channel wants an alert of this severity on a host with these tags. */
int channel_wants(const json_t *row, const char *severity, const json_t *host_tags);
/* Severity rank: info 0, warning 1, critical 2, else -1. */
int severity_rank(const char *s);

#endif
