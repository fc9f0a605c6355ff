/* libFuzzer target: the agent <-> server envelope decoder (proto_decode). Any input must
 * decode or be rejected without crashing, leaking or reading out of bounds. Replay checks
 * corpus/envelope/valid/ (decodes) and corpus/envelope/invalid/ (refused). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/proto.h"
#include "fuzz_outcome.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* copy so that ASan catches reads past the end of the frame */
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	if (size)
		memcpy(buf, data, size);
	struct rm_envelope env;
	char err[256];
	int rc = proto_decode(buf, size, &env, err, sizeof(err));
	/* an unknown type is valid (forward compatible: logged and ignored) */
	fuzz_report(rc == RM_OK || rc == RM_ERR_UNKNOWN);
	if (rc == RM_OK) {
		/* a valid envelope must survive a re-encode + decode with the same payload */
		if (!env.payload || env.type <= RM_MSG_UNKNOWN || env.type >= RM_MSG__COUNT)
			abort();
		json_incref(env.payload);
		char *again = proto_encode(env.type, env.payload, NULL);
		struct rm_envelope env2;
		if (proto_decode(again, strlen(again), &env2, err, sizeof(err)) != RM_OK)
			abort();
		if (env2.type != env.type || !json_equal(env.payload, env2.payload))
			abort();
		proto_envelope_cleanup(&env2);
		free(again);
	} else if (rc == RM_ERR_PROTO) {
		/* an error answer must always be encodable, whatever the peer sent */
		char *e = proto_encode_error("malformed", err, env.id[0] ? env.id : NULL);
		free(e);
	} else if (rc != RM_ERR_UNKNOWN && rc != RM_ERR_TOOBIG) {
		abort();
	}
	proto_envelope_cleanup(&env);
	free(buf);
	return 0;
}
