/* Reconnect backoff: bounds, growth, full jitter, reset. */
#include "agent/ws/backoff.h"
#include "common/crypto.h"
#include "tap.h"

TEST(bounds_and_growth)
{
	struct backoff b = { .rng = 12345 };
	backoff_init(&b, 1000, 60000);
	EQ_INT(backoff_ceiling(&b), 1000);
	EQ_INT(backoff_next(&b), 1000); /* first delay: exactly the floor */
	EQ_INT(backoff_ceiling(&b), 2000);
	uint32_t expect[] = { 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000 };
	for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
		EQ_INT(backoff_ceiling(&b), expect[i]);
		uint32_t d = backoff_next(&b);
		OK(d >= 1000 && d <= expect[i]);
	}
	for (int i = 0; i < 1000; i++) {
		uint32_t d = backoff_next(&b);
		OK(d >= 1000 && d <= 60000);
	}
}

TEST(jitter_spreads)
{
	struct backoff b = { 0 };
	backoff_init(&b, 1000, 60000);
	b.attempt = 20; /* at the cap */
	uint32_t lo = UINT32_MAX, hi = 0;
	for (int i = 0; i < 2000; i++) {
		uint32_t d = backoff_next(&b);
		if (d < lo)
			lo = d;
		if (d > hi)
			hi = d;
	}
	OK(lo < 10000); /* full jitter reaches down near the floor */
	OK(hi > 50000); /* ... and up near the cap */
}

TEST(reset)
{
	struct backoff b = { .rng = 7 };
	backoff_init(&b, 1000, 60000);
	for (int i = 0; i < 10; i++)
		backoff_next(&b);
	EQ_INT(backoff_ceiling(&b), 60000);
	backoff_reset(&b);
	EQ_INT(backoff_ceiling(&b), 1000);
	EQ_INT(backoff_next(&b), 1000);
}

TEST(degenerate)
{
	struct backoff b = { .rng = 1 };
	backoff_init(&b, 0, 0);
	EQ_INT(backoff_next(&b), 1);
	backoff_init(&b, 5000, 100); /* max < min: clamped */
	EQ_INT(backoff_next(&b), 5000);
	EQ_INT(backoff_next(&b), 5000);
}

int main(void)
{
	rm_crypto_init();
	RUN(bounds_and_growth);
	RUN(jitter_spreads);
	RUN(reset);
	RUN(degenerate);
	return tap_done();
}
