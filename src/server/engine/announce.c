/* C6 announce-and-approve: registration policy, poll proof, rate limit, sweep. */
#include "server/engine/announce.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/err.h"
#include "common/log.h"
#include "common/rmtime.h"
#include "common/sign.h"
#include "server/app.h"
#include "server/config.h"

/* ------------------------------------------------------------------ rate limit */

struct bucket {
	char addr[64];
	double tokens;
	int64_t at_ms; /* when tokens was computed */
};

struct announce_limiter {
	struct bucket b[ANNOUNCE_LIMITER_MAX];
	int n;
};

struct announce_limiter *announce_limiter_new(void)
{
	return calloc(1, sizeof(struct announce_limiter));
}

void announce_limiter_free(struct announce_limiter *l)
{
	free(l);
}

static double refill(const struct bucket *b, int per_min, int64_t now_ms)
{
	double t = b->tokens + (double)(now_ms - b->at_ms) * per_min / 60000.0;
	return t > per_min ? per_min : t;
}

/* The bucket of addr; a new one replaces the fullest (least interesting) when full. */
static struct bucket *bucket_of(struct announce_limiter *l, const char *addr, int per_min,
                                int64_t now_ms)
{
	int spare = 0;
	double best = -1;
	for (int i = 0; i < l->n; i++) {
		if (!strcmp(l->b[i].addr, addr))
			return &l->b[i];
		double t = refill(&l->b[i], per_min, now_ms);
		if (t > best) {
			best = t;
			spare = i;
		}
	}
	struct bucket *b = l->n < ANNOUNCE_LIMITER_MAX ? &l->b[l->n++] : &l->b[spare];
	rm_strlcpy(b->addr, addr, sizeof b->addr);
	b->tokens = per_min;
	b->at_ms = now_ms;
	return b;
}

int64_t announce_limiter_take(struct announce_limiter *l, const char *addr, int per_min,
                              int64_t now_ms)
{
	if (!l || per_min <= 0)
		return 0;
	struct bucket *b = bucket_of(l, addr ? addr : "", per_min, now_ms);
	b->tokens = refill(b, per_min, now_ms);
	b->at_ms = now_ms;
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
		return 0;
	}
	int64_t wait = (int64_t)((1.0 - b->tokens) * 60000.0 / per_min) + 1;
	return wait > 0 ? wait : 1;
}

/* ------------------------------------------------------------------ registration */

int announce_expired(const struct store_pending *p, int64_t now_ms)
{
	return !strcmp(p->state, "pending") && now_ms >= p->expires_ms;
}

static void new_nonce(char out[64])
{
	char *t = rm_random_token(24);
	rm_strlcpy(out, t, 64);
	free(t);
}

static int cap_reached(struct app *app, int64_t now)
{
	int64_t n = 0;
	int rc = store_pending_count(app->store, now, &n);
	if (rc)
		return rc;
	return n >= app->cfg->announce_max_pending ? RM_ERR_AGAIN : RM_OK;
}

int announce_register(struct app *app, const struct announce_req *req, struct store_pending *out,
                      int *created)
{
	uint8_t pk[RM_SIGN_PK_BYTES];
	if (rm_sign_pk_decode(req->pubkey, pk))
		return RM_ERR_INVAL;
	int64_t now = rm_now_ms(), exp = now + app->cfg->announce_ttl_s * 1000;
	struct store_pending p;
	int rc = store_pending_by_key(app->store, req->pubkey, &p);
	if (!rc) {
		if (!strcmp(p.state, "rejected"))
			return RM_ERR_FORBIDDEN;
		if (!announce_expired(&p, now)) {
			*out = p;
			*created = 0;
			return RM_OK;
		}
		if ((rc = cap_reached(app, now)) != RM_OK)
			return rc;
		new_nonce(p.nonce);
		rc = store_pending_renew(app->store, p.id, p.nonce, req->address, now, exp);
		if (!rc)
			rc = store_pending_by_id(app->store, p.id, out);
		*created = 1;
		return rc;
	}
	if (rc != RM_ERR_NOTFOUND)
		return rc;
	if ((rc = cap_reached(app, now)) != RM_OK)
		return rc;
	memset(&p, 0, sizeof p);
	rm_strlcpy(p.pubkey, req->pubkey, sizeof p.pubkey);
	rm_sign_fingerprint(pk, p.fingerprint);
	rm_strlcpy(p.hostname, req->hostname, sizeof p.hostname);
	rm_strlcpy(p.os, req->os ? req->os : "", sizeof p.os);
	rm_strlcpy(p.arch, req->arch ? req->arch : "", sizeof p.arch);
	rm_strlcpy(p.agent_version, req->agent_version ? req->agent_version : "",
	           sizeof p.agent_version);
	rm_strlcpy(p.restic_version, req->restic_version ? req->restic_version : "",
	           sizeof p.restic_version);
	rm_strlcpy(p.address, req->address ? req->address : "", sizeof p.address);
	rm_strlcpy(p.state, "pending", sizeof p.state);
	new_nonce(p.nonce);
	p.announced_ms = now;
	p.expires_ms = exp;
	rc = store_pending_insert(app->store, &p);
	if (!rc) {
		*out = p;
		*created = 1;
	}
	return rc;
}

int announce_poll_check(struct app *app, const char *id, const char *nonce, const char *sig,
                        struct store_pending *out, char nonce_out[64])
{
	struct store_pending p;
	int rc = store_pending_by_id(app->store, id, &p);
	if (rc)
		return rc;
	if (!nonce || !rm_str_ct_eq(nonce, p.nonce))
		return RM_ERR_AUTH;
	char *msg = rm_sign_poll_message(id, nonce);
	rc = rm_sign_verify_b64(p.pubkey, msg, strlen(msg), sig);
	free(msg);
	if (rc)
		return RM_ERR_AUTH;
	new_nonce(nonce_out);
	*out = p;
	return RM_OK;
}

void announce_sweep(struct app *app)
{
	int n = 0;
	int rc = store_pending_purge(app->store, rm_now_ms() - ANNOUNCE_KEEP_MS, &n);
	if (rc)
		RM_ERROR("sweeper: purging announcements failed", "err", rm_strerror(rc));
	else if (n > 0) {
		char c[16];
		snprintf(c, sizeof c, "%d", n);
		RM_DEBUG("announcements purged", "count", c);
	}
}
