/* Fuzz target: alert channel validation (engine/channels.c), what an admin's
 * POST/PUT /api/channels body reaches after the JSON parser: URLs through libcurl's URL
 * parser (scheme, credentials, host), SMTP addresses and hosts, ntfy topics, secrets, tags.
 * Each input is validated as a new channel and as an update of a stored SMTP channel.
 * Replay checks the outcome of the create: corpus/channel/valid/ must be accepted,
 * corpus/channel/invalid/ refused. */
#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "server/engine/channels.h"
#include "fuzz_outcome.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check(const json_t *body, const json_t *existing)
{
	json_t *out = NULL;
	char *secret = NULL;
	int set = 0;
	const char *field = NULL;
	char err[256];
	int rc = channel_validate(body, existing, &out, &secret, &set, &field, err, sizeof err);
	if (rc == RM_OK) {
		json_t *pub = channel_public(out);
		json_decref(pub);
		channel_wants(out, "warning", json_object_get(body, "host_tags"));
	}
	json_decref(out);
	free(secret);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static json_t *existing;
	rm_log_set_level(RM_LOG_ERROR);
	if (!existing)
		existing = json_loads(
		    "{\"id\":\"C1\",\"name\":\"mail\",\"kind\":\"smtp\",\"enabled\":true,"
		    "\"min_severity\":\"info\",\"host_tags\":[],\"config\":{\"host\":"
		    "\"m.example\",\"port\":587,\"tls\":\"starttls\",\"from\":"
		    "\"a@b.example\",\"to\":[\"c@d.example\"]}}",
		    0, NULL);
	json_t *body = NULL;
	if (rmj_parse_object((const char *)data, size, 65536, &body, NULL, 0)) {
		fuzz_report(0);
		return 0;
	}
	fuzz_report(check(body, NULL) == RM_OK);
	check(body, existing);
	json_decref(body);
	return 0;
}
