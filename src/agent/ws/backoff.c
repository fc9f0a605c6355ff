/* Reconnect backoff: exponential ceiling, full jitter, floor at min_ms. */
#include "agent/ws/backoff.h"

#include "common/crypto.h"

void backoff_init(struct backoff *b, uint32_t min_ms, uint32_t max_ms)
{
	b->min_ms = min_ms ? min_ms : 1;
	b->max_ms = max_ms < b->min_ms ? b->min_ms : max_ms;
	b->attempt = 0;
	if (!b->rng) {
		rm_random_bytes(&b->rng, sizeof b->rng);
		if (!b->rng)
			b->rng = 0x9e3779b97f4a7c15ULL;
	}
}

uint32_t backoff_ceiling(const struct backoff *b)
{
	uint64_t c = b->min_ms;
	for (uint32_t i = 0; i < b->attempt && c < b->max_ms; i++)
		c *= 2;
	return c > b->max_ms ? b->max_ms : (uint32_t)c;
}

static uint64_t rnd(struct backoff *b)
{
	uint64_t x = b->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	b->rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

uint32_t backoff_next(struct backoff *b)
{
	uint32_t ceil = backoff_ceiling(b);
	if (b->attempt < 64)
		b->attempt++;
	uint32_t span = ceil - b->min_ms;
	return b->min_ms + (uint32_t)(rnd(b) % ((uint64_t)span + 1));
}

void backoff_reset(struct backoff *b)
{
	b->attempt = 0;
}
