/* ULID generator: 48-bit ms timestamp + 80 random bits, monotonic within a process. */
#include "common/ulid.h"

#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>

#include "common/rmtime.h"

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static pthread_mutex_t ulid_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t last_ms;
static uint8_t last_rand[10];

void rm_ulid_new(char out[RM_ULID_LEN + 1])
{
	uint64_t ms = (uint64_t)rm_now_ms();
	uint8_t r[10];
	pthread_mutex_lock(&ulid_mu);
	if (ms <= last_ms) {
		/* same millisecond (or clock stepped back): keep the order by incrementing
		 * the random part of the previous id */
		ms = last_ms;
		int i;
		for (i = 9; i >= 0; i--)
			if (++last_rand[i] != 0)
				break;
		if (i < 0) /* 80-bit overflow: move to the next millisecond */
			ms = ++last_ms;
	} else {
		if (sodium_init() < 0)
			memset(last_rand, 0, sizeof(last_rand));
		randombytes_buf(last_rand, sizeof(last_rand));
		/* leave headroom so increments within one ms never overflow in practice */
		last_rand[0] &= 0x7f;
		last_ms = ms;
	}
	memcpy(r, last_rand, sizeof(r));
	pthread_mutex_unlock(&ulid_mu);

	ms &= 0xFFFFFFFFFFFFULL;
	for (int i = 9; i >= 0; i--) {
		out[i] = crockford[ms & 31];
		ms >>= 5;
	}
	/* 80 bits -> 16 chars of 5 bits, big-endian */
	for (int i = 0; i < 16; i++) {
		int bit = i * 5, v = 0;
		for (int j = 0; j < 5; j++, bit++)
			v = (v << 1) | ((r[bit / 8] >> (7 - bit % 8)) & 1);
		out[10 + i] = crockford[v];
	}
	out[RM_ULID_LEN] = 0;
}

int rm_ulid_valid(const char *s)
{
	if (!s)
		return 0;
	for (int i = 0; i < RM_ULID_LEN; i++) {
		if (!s[i] || !memchr(crockford, s[i], sizeof(crockford) - 1))
			return 0;
	}
	/* 26 chars hold 130 bits; the first must not exceed 7 (128-bit value) */
	return s[RM_ULID_LEN] == 0 && s[0] <= '7';
}
