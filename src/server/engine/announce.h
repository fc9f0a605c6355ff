#ifndef RM_SERVER_ENGINE_ANNOUNCE_H
#define RM_SERVER_ENGINE_ANNOUNCE_H
/* C6 announce-and-approve enrollment: the policy behind POST /api/agents/announce and its
 * poll (api/announce.c), and the sweep of old rows. Loop thread only.
 *
 * - An agent announces {hostname, os, arch, pubkey}; one row per public key. Announcing
 *   again with the same key returns the same row (a restarted `enroll` continues); a row
 *   that expired undecided starts over as a new announcement; a rejected key stays
 *   refused while its row is kept.
 * - Undecided rows expire after cfg->announce_ttl_s (default 1 h); at most
 *   cfg->announce_max_pending wait at once (RM_ERR_AGAIN beyond).
 * - Every client address may announce cfg->announce_rate times per minute (a token
 *   bucket of that size refilled over a minute; 429 beyond).
 * - A poll proves possession of the key: an Ed25519 signature over
 *   rm_sign_poll_message(id, nonce) with the row's current nonce; each good poll replaces
 *   the nonce, so a captured poll cannot be replayed.
 * - Decided rows, and undecided ones past their expiry, are kept ANNOUNCE_KEEP_MS (1 h)
 *   so the agent learns the outcome, then swept. */
#include <stdint.h>

#include "server/store/store.h"

#define ANNOUNCE_KEEP_MS (3600LL * 1000)
#define ANNOUNCE_POLL_AFTER_S 3
#define ANNOUNCE_LIMITER_MAX 1024 /* client addresses tracked at once */

struct app;
struct announce_limiter;

struct announce_limiter *announce_limiter_new(void);
void announce_limiter_free(struct announce_limiter *l); /* NULL ok */
/* 0 when `addr` may announce now (and takes one token), else ms until it may. */
int64_t announce_limiter_take(struct announce_limiter *l, const char *addr, int per_min,
                              int64_t now_ms);

struct announce_req {
	const char *pubkey; /* base64, validated by the caller */
	const char *hostname, *os, *arch, *agent_version, *restic_version;
	const char *address; /* client address */
};
/* Finds or creates the row of req->pubkey (see above) into *out; *created = 1 when the
 * row is new or started over. RM_ERR_INVAL (bad key), RM_ERR_FORBIDDEN (the key was
 * rejected), RM_ERR_AGAIN (too many pending), else a store error. */
int announce_register(struct app *app, const struct announce_req *req, struct store_pending *out,
                      int *created);
/* Checks a poll of row `id`: the signature over (id, nonce) with the row's key and the
 * current nonce. On RM_OK *out is the row and new_nonce the nonce that replaces it (the
 * caller stores it with store_pending_polled). RM_ERR_NOTFOUND (unknown id),
 * RM_ERR_AUTH (bad signature or stale nonce). */
int announce_poll_check(struct app *app, const char *id, const char *nonce, const char *sig,
                        struct store_pending *out, char new_nonce[64]);
/* 1 when an undecided row has passed its expiry. */
int announce_expired(const struct store_pending *p, int64_t now_ms);
/* Sweeper: deletes rows kept long enough. */
void announce_sweep(struct app *app);

#endif
