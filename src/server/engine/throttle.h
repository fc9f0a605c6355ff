#ifndef RM_SERVER_ENGINE_THROTTLE_H
#define RM_SERVER_ENGINE_THROTTLE_H
/* Backoff after failed credential checks (login, setup links, bootstrap, enrollment,
 * password change), keyed by "u:<username>" and "ip:<address>". Policy: a key may fail
 * `free` times (5 for usernames, 20 for addresses); each further failure locks the key for
 * 1 s, 2 s, 4 s ... up to 15 min. Beyond the free allowance only one check per key is in
 * flight at a time, so parallel requests cannot race past a lockout. A key forgets its
 * failures after 1 h without one; a success clears a username key (not an address key).
 *
 * Time is the caller's: every call takes now_ms (the server passes rm_mono_ms(); unit
 * tests pass a simulated clock). The table holds at most THROTTLE_MAX_KEYS entries; when
 * full, the entry that matters least (unlocked and oldest, else the soonest to unlock) is
 * dropped. Loop thread only. All functions accept t == NULL (no throttling). */
#include <stdint.h>

#define THROTTLE_MAX_KEYS 4096
#define THROTTLE_USER_FREE 5
#define THROTTLE_IP_FREE 20
#define THROTTLE_BASE_MS 1000
#define THROTTLE_MAX_MS (15 * 60 * 1000)
#define THROTTLE_FORGET_MS (60 * 60 * 1000)

struct throttle;

struct throttle *throttle_new(void);
void throttle_free(struct throttle *t);
/* 0: an attempt under key may be checked now; else how long to wait (ms, >= 1). */
int64_t throttle_wait_ms(struct throttle *t, const char *key, int64_t now_ms);
/* An attempt under key starts (call only after throttle_wait_ms said 0). */
void throttle_begin(struct throttle *t, const char *key, int64_t now_ms);
/* The attempt ended: failed 1 counts a failure and may lock the key; failed 0 on a "u:"
 * key clears it. Returns the lockout this failure started (ms, 0 if none). */
int64_t throttle_end(struct throttle *t, const char *key, int failed, int64_t now_ms);
/* Failures recorded for key (0 if unknown); for tests and audit detail. */
int throttle_failures(struct throttle *t, const char *key);

#endif
