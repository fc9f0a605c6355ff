#ifndef RM_TESTS_TAP_H
#define RM_TESTS_TAP_H
/* Tiny TAP harness (redis testhelp.h style). Usage:
 *   TEST(name) { OK(x == 1); EQ_INT(a, b); EQ_STR(s, "x"); }
 *   int main(void) { RUN(name); return tap_done(); }                              */
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed, tap_cur_failed;
#define TEST(name) static void test_##name(void)
#define RUN(name)                                                                       \
	do {                                                                            \
		tap_cur_failed = 0;                                                     \
		test_##name();                                                          \
		tap_n++;                                                                \
		printf("%s %d - %s\n", tap_cur_failed ? "not ok" : "ok", tap_n, #name); \
		if (tap_cur_failed)                                                     \
			tap_failed++;                                                   \
	} while (0)
#define OK(cond)                                                                      \
	do {                                                                          \
		if (!(cond)) {                                                        \
			printf("#   %s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
			tap_cur_failed = 1;                                           \
		}                                                                     \
	} while (0)
#define EQ_INT(a, b)                                                                             \
	do {                                                                                     \
		long long _a = (long long)(a), _b = (long long)(b);                              \
		if (_a != _b) {                                                                  \
			printf("#   %s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, \
			       _a, _b);                                                          \
			tap_cur_failed = 1;                                                      \
		}                                                                                \
	} while (0)
#define EQ_STR(a, b)                                                                             \
	do {                                                                                     \
		const char *_a = (a), *_b = (b);                                                 \
		if (!_a || !_b || strcmp(_a, _b) != 0) {                                         \
			printf("#   %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, \
			       #a, _a ? _a : "(null)", _b ? _b : "(null)");                      \
			tap_cur_failed = 1;                                                      \
		}                                                                                \
	} while (0)
static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	if (tap_failed)
		printf("# %d of %d failed\n", tap_failed, tap_n);
	return tap_failed ? 1 : 0;
}
#endif
