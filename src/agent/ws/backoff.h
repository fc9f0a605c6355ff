#ifndef RM_AGENT_WS_BACKOFF_H
#define RM_AGENT_WS_BACKOFF_H
/* Exponential backoff with full jitter: the n-th delay (n from 0) is uniform in
 * [min_ms, min(max_ms, min_ms * 2^n)]. Pure (random source injectable) for tests. */
#include <stdint.h>

struct backoff {
	uint32_t min_ms;
	uint32_t max_ms;
	uint32_t attempt;
	uint64_t rng; /* xorshift64* state; seeded from the OS when 0 */
};

void backoff_init(struct backoff *b, uint32_t min_ms, uint32_t max_ms);
/* Next delay in ms; increments the attempt counter. */
uint32_t backoff_next(struct backoff *b);
/* The current upper bound (before jitter) for the next call. */
uint32_t backoff_ceiling(const struct backoff *b);
void backoff_reset(struct backoff *b);

#endif
