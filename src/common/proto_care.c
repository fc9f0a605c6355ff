/* Repository-care rules shared by the server's API and the agent (see proto.h). */
#include <stdlib.h>
#include <string.h>

#include "common/proto.h"

int proto_read_data_subset_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	char *end = NULL;
	if (n == 0 || n > 24)
		return 0;
	if (s[n - 1] == '%') {
		double v = strtod(s, &end);
		return s[0] >= '0' && s[0] <= '9' && end == s + n - 1 && v > 0 && v <= 100;
	}
	const char *sl = strchr(s, '/');
	if (!sl || sl == s || !sl[1] || strchr(sl + 1, '/') || strspn(s, "0123456789/") != n)
		return 0;
	long long a = strtoll(s, NULL, 10), b = strtoll(sl + 1, NULL, 10);
	return a >= 1 && a <= b && b <= 1000000;
}
