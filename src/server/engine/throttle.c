/* Login / credential backoff table (see throttle.h). */
#include "server/engine/throttle.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"

#define KEY_MAX 96

struct entry {
	char key[KEY_MAX];
	int fails;
	int pending;
	int64_t locked_until;
	int64_t last; /* last failure or begin */
};

struct throttle {
	struct entry *e;
	size_t n;
};

struct throttle *throttle_new(void)
{
	struct throttle *t = rm_xcalloc(1, sizeof *t);
	t->e = rm_xcalloc(THROTTLE_MAX_KEYS, sizeof *t->e);
	return t;
}

void throttle_free(struct throttle *t)
{
	if (!t)
		return;
	free(t->e);
	free(t);
}

static int free_allowance(const char *key)
{
	return strncmp(key, "u:", 2) == 0 ? THROTTLE_USER_FREE : THROTTLE_IP_FREE;
}

static struct entry *find(struct throttle *t, const char *key)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->e[i].key, key) == 0)
			return &t->e[i];
	return NULL;
}

/* Forgets an entry whose last failure is older than THROTTLE_FORGET_MS. */
static struct entry *live(struct throttle *t, const char *key, int64_t now_ms)
{
	struct entry *e = find(t, key);
	if (e && !e->pending && now_ms - e->last >= THROTTLE_FORGET_MS &&
	    now_ms >= e->locked_until) {
		e->fails = 0;
		e->locked_until = 0;
	}
	return e;
}

/* The slot to reuse when the table is full: not in flight, unlocked and oldest first,
 * else the one that unlocks soonest. */
static struct entry *victim(struct throttle *t, int64_t now_ms)
{
	struct entry *best = NULL;
	for (size_t i = 0; i < t->n; i++) {
		struct entry *e = &t->e[i];
		if (e->pending)
			continue;
		int unlocked = now_ms >= e->locked_until;
		if (!best) {
			best = e;
			continue;
		}
		int best_unlocked = now_ms >= best->locked_until;
		if (unlocked != best_unlocked) {
			if (unlocked)
				best = e;
		} else if (unlocked ? e->last < best->last : e->locked_until < best->locked_until) {
			best = e;
		}
	}
	return best ? best : &t->e[0];
}

static struct entry *get_or_add(struct throttle *t, const char *key, int64_t now_ms)
{
	struct entry *e = live(t, key, now_ms);
	if (e)
		return e;
	e = t->n < THROTTLE_MAX_KEYS ? &t->e[t->n++] : victim(t, now_ms);
	memset(e, 0, sizeof *e);
	rm_strlcpy(e->key, key, sizeof e->key);
	e->last = now_ms;
	return e;
}

int64_t throttle_wait_ms(struct throttle *t, const char *key, int64_t now_ms)
{
	if (!t || !key)
		return 0;
	struct entry *e = live(t, key, now_ms);
	if (!e)
		return 0;
	if (now_ms < e->locked_until)
		return e->locked_until - now_ms;
	/* past the free allowance: one check at a time */
	if (e->pending > 0 && e->fails + e->pending >= free_allowance(key))
		return 1000;
	return 0;
}

void throttle_begin(struct throttle *t, const char *key, int64_t now_ms)
{
	if (!t || !key)
		return;
	struct entry *e = get_or_add(t, key, now_ms);
	e->pending++;
	e->last = now_ms;
}

static int64_t lock_ms(int over)
{
	int64_t ms = THROTTLE_BASE_MS;
	for (int i = 0; i < over && ms < THROTTLE_MAX_MS; i++)
		ms *= 2;
	return ms < THROTTLE_MAX_MS ? ms : THROTTLE_MAX_MS;
}

int64_t throttle_end(struct throttle *t, const char *key, int failed, int64_t now_ms)
{
	if (!t || !key)
		return 0;
	struct entry *e = find(t, key);
	if (!e)
		return 0; /* evicted meanwhile (cannot happen while pending) */
	if (e->pending > 0)
		e->pending--;
	if (!failed) {
		if (strncmp(key, "u:", 2) == 0) {
			e->fails = 0;
			e->locked_until = 0;
		}
		return 0;
	}
	e->fails++;
	e->last = now_ms;
	int over = e->fails - free_allowance(key);
	if (over < 0)
		return 0;
	int64_t ms = lock_ms(over);
	if (now_ms + ms > e->locked_until)
		e->locked_until = now_ms + ms;
	return ms;
}

int throttle_failures(struct throttle *t, const char *key)
{
	if (!t || !key)
		return 0;
	struct entry *e = find(t, key);
	return e ? e->fails : 0;
}
