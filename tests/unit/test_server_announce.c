/* C6 announce-and-approve, server side: the per-address rate limit (simulated clock), the
 * pending_hosts store contract, and engine/announce's registration policy (one row per
 * key, restart continues, cap, rejected keys, expired rows start over) and poll proof
 * (key, current nonce, no replay). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/err.h"
#include "common/rmtime.h"
#include "common/sign.h"
#include "server/app.h"
#include "server/config.h"
#include "server/engine/announce.h"
#include "server/store/store.h"
#include "tap.h"

static char tmpdir[] = "/tmp/rm-test-announce-XXXXXX";
static char dbpath[300];

TEST(rate_limit)
{
	struct announce_limiter *l = announce_limiter_new();
	int64_t t = 1000000;
	/* 6 a minute: a burst of 6, then one every 10 s */
	for (int i = 0; i < 6; i++)
		EQ_INT((int)announce_limiter_take(l, "192.0.2.1", 6, t), 0);
	int64_t w = announce_limiter_take(l, "192.0.2.1", 6, t);
	OK(w > 9000 && w <= 10001);
	/* another address is not slowed */
	EQ_INT((int)announce_limiter_take(l, "192.0.2.2", 6, t), 0);
	EQ_INT((int)announce_limiter_take(l, "192.0.2.1", 6, t + 10001), 0);
	OK(announce_limiter_take(l, "192.0.2.1", 6, t + 10002) > 0);
	/* a flood of 1,000 requests over 60 s: 6 + 6 get through */
	int passed = 0;
	for (int i = 0; i < 1000; i++)
		passed += announce_limiter_take(l, "198.51.100.7", 6, t + i * 60) == 0;
	OK(passed >= 11 && passed <= 13);
	/* the table stays bounded with many addresses; a full bucket gives way */
	char a[32];
	for (int i = 0; i < ANNOUNCE_LIMITER_MAX * 3; i++) {
		snprintf(a, sizeof a, "10.0.%d.%d", i / 256, i % 256);
		announce_limiter_take(l, a, 6, t);
	}
	announce_limiter_free(l);
	announce_limiter_free(NULL);
}

struct env {
	struct app app;
	struct server_config cfg;
};

static void env_init(struct env *e, int n)
{
	memset(e, 0, sizeof *e);
	snprintf(dbpath, sizeof dbpath, "%s/a%d.db", tmpdir, n);
	config_init(&e->cfg);
	e->cfg.announce_ttl_s = 3600;
	e->cfg.announce_max_pending = 2;
	e->app.cfg = &e->cfg;
	if (store_open(dbpath, &e->app.store))
		printf("# store_open failed\n");
}

static void env_cleanup(struct env *e)
{
	store_close(e->app.store);
	config_cleanup(&e->cfg);
	unlink(dbpath);
	char p[320];
	snprintf(p, sizeof p, "%s-wal", dbpath);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", dbpath);
	unlink(p);
}

struct key {
	uint8_t pk[RM_SIGN_PK_BYTES], sk[RM_SIGN_SK_BYTES];
	char b64[RM_SIGN_PK_B64_LEN + 1];
};

static void key_new(struct key *k)
{
	uint8_t seed[RM_SIGN_SEED_BYTES];
	rm_random_bytes(seed, sizeof seed);
	rm_sign_keypair(seed, k->pk, k->sk);
	rm_sign_pk_b64(k->pk, k->b64);
}

static int reg(struct env *e, const struct key *k, const char *host, struct store_pending *p,
               int *created)
{
	struct announce_req q = { .pubkey = k->b64,
		                  .hostname = host,
		                  .os = "linux",
		                  .arch = "amd64",
		                  .address = "192.0.2.9" };
	return announce_register(&e->app, &q, p, created);
}

static char *sign(const struct key *k, const char *id, const char *nonce)
{
	char *m = rm_sign_poll_message(id, nonce);
	char *s = rm_sign_detached_b64(k->sk, m, strlen(m));
	free(m);
	return s;
}

TEST(register_policy)
{
	struct env e;
	env_init(&e, 1);
	struct key k1, k2, k3;
	key_new(&k1);
	key_new(&k2);
	key_new(&k3);
	struct store_pending p1, p, p2;
	int created = 0;
	EQ_INT(reg(&e, &k1, "web1", &p1, &created), RM_OK);
	EQ_INT(created, 1);
	EQ_STR(p1.state, "pending");
	char fp[RM_SIGN_FP_LEN];
	rm_sign_fingerprint(k1.pk, fp);
	EQ_STR(p1.fingerprint, fp);
	/* same key: same row, not a new one */
	EQ_INT(reg(&e, &k1, "web1", &p, &created), RM_OK);
	EQ_INT(created, 0);
	EQ_STR(p.id, p1.id);
	EQ_STR(p.nonce, p1.nonce);
	/* another key, same hostname: another row; then the cap (2) */
	EQ_INT(reg(&e, &k2, "web1", &p2, &created), RM_OK);
	OK(strcmp(p2.id, p1.id) != 0);
	EQ_INT(reg(&e, &k3, "web3", &p, &created), RM_ERR_AGAIN);
	/* a bad key */
	struct announce_req bad = { .pubkey = "AAAA", .hostname = "x" };
	EQ_INT(announce_register(&e.app, &bad, &p, &created), RM_ERR_INVAL);
	/* reject k2: its key stays refused; the cap has room again */
	int64_t now = rm_now_ms();
	EQ_INT(store_pending_decide(e.app.store, p2.id, "rejected", NULL, "admin", now), RM_OK);
	EQ_INT(store_pending_decide(e.app.store, p2.id, "accepted", NULL, "admin", now),
	       RM_ERR_NOTFOUND);
	EQ_INT(reg(&e, &k2, "web1", &p, &created), RM_ERR_FORBIDDEN);
	EQ_INT(reg(&e, &k3, "web3", &p, &created), RM_OK);
	int64_t n = 0;
	EQ_INT(store_pending_count(e.app.store, now, &n), RM_OK);
	EQ_INT((int)n, 2);
	json_t *l = store_pending_list(e.app.store, 0, now);
	EQ_INT((int)json_array_size(json_object_get(l, "pending")), 2);
	json_decref(l);
	l = store_pending_list(e.app.store, 1, now);
	EQ_INT((int)json_array_size(json_object_get(l, "pending")), 3);
	json_t *row = json_array_get(json_object_get(l, "pending"), 0);
	OK(json_object_get(row, "fingerprint") && !json_object_get(row, "nonce") &&
	   !json_object_get(row, "pubkey"));
	json_decref(l);
	/* an expired undecided row starts over (same id, new nonce) */
	e.cfg.announce_max_pending = 10;
	EQ_INT(store_pending_renew(e.app.store, p1.id, p1.nonce, "x", now - 7200000, now - 3600000),
	       RM_OK);
	EQ_INT(store_pending_by_id(e.app.store, p1.id, &p), RM_OK);
	OK(announce_expired(&p, now));
	EQ_INT(reg(&e, &k1, "web1", &p, &created), RM_OK);
	EQ_INT(created, 1);
	EQ_STR(p.id, p1.id);
	OK(strcmp(p.nonce, p1.nonce) != 0);
	OK(!announce_expired(&p, now));
	/* purge: decided/expired rows older than the cutoff go */
	int gone = 0;
	EQ_INT(store_pending_purge(e.app.store, now + 1, &gone), RM_OK);
	EQ_INT(gone, 1); /* the rejected one */
	EQ_INT(store_pending_by_id(e.app.store, p2.id, &p), RM_ERR_NOTFOUND);
	env_cleanup(&e);
}

TEST(poll_proof)
{
	struct env e;
	env_init(&e, 2);
	struct key k, other;
	key_new(&k);
	key_new(&other);
	struct store_pending p, q;
	int created;
	EQ_INT(reg(&e, &k, "web1", &p, &created), RM_OK);
	char next[64];
	char *good = sign(&k, p.id, p.nonce);
	char *wrong_key = sign(&other, p.id, p.nonce);
	char *wrong_nonce = sign(&k, p.id, "nope");
	EQ_INT(announce_poll_check(&e.app, p.id, p.nonce, wrong_key, &q, next), RM_ERR_AUTH);
	EQ_INT(announce_poll_check(&e.app, p.id, p.nonce, wrong_nonce, &q, next), RM_ERR_AUTH);
	EQ_INT(announce_poll_check(&e.app, p.id, "nope", wrong_nonce, &q, next), RM_ERR_AUTH);
	EQ_INT(announce_poll_check(&e.app, p.id, p.nonce, "garbage", &q, next), RM_ERR_AUTH);
	EQ_INT(announce_poll_check(&e.app, "01NOPE", p.nonce, good, &q, next), RM_ERR_NOTFOUND);
	EQ_INT(announce_poll_check(&e.app, p.id, p.nonce, good, &q, next), RM_OK);
	OK(strcmp(next, p.nonce) != 0);
	/* the nonce moves on: the same poll cannot be replayed */
	EQ_INT(store_pending_polled(e.app.store, p.id, p.nonce, next, rm_now_ms(), 0), RM_OK);
	EQ_INT(store_pending_polled(e.app.store, p.id, p.nonce, next, rm_now_ms(), 0),
	       RM_ERR_CONFLICT);
	EQ_INT(announce_poll_check(&e.app, p.id, p.nonce, good, &q, next), RM_ERR_AUTH);
	EQ_INT(store_pending_by_id(e.app.store, p.id, &q), RM_OK);
	EQ_INT((int)q.polls, 1);
	free(good);
	free(wrong_key);
	free(wrong_nonce);
	env_cleanup(&e);
}

TEST(tokens)
{
	struct env e;
	env_init(&e, 3);
	struct store *s = e.app.store;
	int64_t now = rm_now_ms();
	EQ_INT(store_enroll_create(s, "h1", "web1", NULL, NULL, "CT1", now + 3600000, "alice"),
	       RM_OK);
	EQ_INT(store_enroll_create(s, "h2", "web2", NULL, NULL, "CT2", now - 1, "alice"), RM_OK);
	char id[RM_ULID_BUF], hash[65];
	EQ_INT(store_enroll_id(s, "h1", id), RM_OK);
	EQ_INT((int)strlen(id), RM_ULID_LEN);
	json_t *l = store_enroll_list(s, now);
	EQ_INT((int)json_array_size(json_object_get(l, "tokens")), 1); /* h2 expired */
	json_decref(l);
	EQ_INT(store_enroll_rekey(s, id, "h1b", "CT1b", now + 7200000), RM_OK);
	EQ_INT(store_enroll_hash_by_id(s, id, hash), RM_OK);
	EQ_STR(hash, "h1b");
	struct store_enroll en;
	memset(&en, 0, sizeof en);
	EQ_INT(store_enroll_get(s, "h1", &en), RM_ERR_NOTFOUND);
	EQ_INT(store_enroll_delete(s, id), RM_OK);
	EQ_INT(store_enroll_delete(s, id), RM_ERR_NOTFOUND);
	EQ_INT(store_enroll_rekey(s, id, "h1c", "CT", now), RM_ERR_NOTFOUND);
	env_cleanup(&e);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	if (rm_crypto_init())
		return 1;
	RUN(rate_limit);
	RUN(register_policy);
	RUN(poll_proof);
	RUN(tokens);
	rmdir(tmpdir);
	return tap_done();
}
