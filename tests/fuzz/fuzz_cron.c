/* Fuzz target: cron expressions as an operator (or an API client) types them; a parsed
 * expression must yield a next run strictly in the future (or none), and a refusal must
 * name a field and say why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/cron.h"
#include "common/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int tz_set;
	char expr[300], err[128] = "";
	struct cron c;
	int field = 0;
	int64_t after = 1767225600; /* 2026-01-01 00:00 UTC */

	if (!tz_set) {
		setenv("TZ", "Europe/Berlin", 1);
		tz_set = 1;
	}
	if (size >= sizeof(expr))
		size = sizeof(expr) - 1;
	memcpy(expr, data, size);
	expr[size] = 0;
	if (cron_parse(expr, &c, &field, err, sizeof(err)) == RM_OK) {
		int64_t n = cron_next(&c, after);

		if (n != -1 && (n <= after || n % 60 != 0))
			abort();
		if (n != -1 && cron_next(&c, n) != -1 && cron_next(&c, n) <= n)
			abort();
	} else if (!err[0] || field < -1 || field > 4) {
		abort();
	}
	return 0;
}
