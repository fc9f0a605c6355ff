/* Fuzz target: agent release manifests (common/manifest.c) as the agent receives them in
 * command.update. A parsed manifest must format back to text that parses to the same
 * fields; verification of arbitrary text against a fixed key never succeeds by accident. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rm_manifest m, m2;
	char err[160];
	const char *text = (const char *)data;
	if (rm_manifest_parse(text, size, &m, err, sizeof err) == RM_OK) {
		char *t = rm_manifest_format(&m);
		if (rm_manifest_parse(t, strlen(t), &m2, err, sizeof err) != RM_OK ||
		    memcmp(&m, &m2, sizeof m) != 0)
			abort();
		free(t);
	} else if (!err[0]) {
		abort(); /* a refusal says why */
	}
	/* a fixed (random-looking) key and an all-zero signature: never valid */
	static const char pk[] = "luTlrB0d22hcnyJj7/swVoV9v12XNJTOiFRVF5Z/A3c=";
	static const char sig[] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	                          "AAAAAAAAAAAAAAAAAAAAAA==";
	if (rm_manifest_verify(text, size, sig, pk) == RM_OK)
		abort();
	return 0;
}
