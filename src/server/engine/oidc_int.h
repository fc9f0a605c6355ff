#ifndef RM_SERVER_ENGINE_OIDC_INT_H
#define RM_SERVER_ENGINE_OIDC_INT_H
/* Private to engine/oidc*.c: the relying party's state and the pool-side flow. */
#include <pthread.h>
#include <stdint.h>
#include <uv.h>

#include "server/engine/jwt.h"
#include "server/engine/oidc.h"

#define OIDC_URL_MAX 1024

/* What discovery told us (copied out of the cache under the mutex). */
struct oidc_disc {
	char authorization_endpoint[OIDC_URL_MAX];
	char token_endpoint[OIDC_URL_MAX];
	char userinfo_endpoint[OIDC_URL_MAX];
	char jwks_uri[OIDC_URL_MAX];
	char end_session_endpoint[OIDC_URL_MAX];
};

struct oidc_pending {
	struct oidc_pending *next_p;
	char state[48];
	char nonce[48];
	char verifier[48];
	char next[256];
	int64_t created_ms;
};

struct oidc_job;

struct oidc {
	/* settings (immutable after create) */
	char *issuer, *client_id, *client_secret, *redirect_url, *scopes, *groups_claim;
	char *button_label, *base_url;
	struct oidc_role_map map;
	/* provider cache: pool threads and loop, under mu */
	pthread_mutex_t mu;
	int have_disc;
	int64_t disc_ms;
	struct oidc_disc disc;
	struct jwk_set *jwks;
	int64_t jwks_ms;
	/* loop thread only */
	struct oidc_pending *pending;
	int n_pending;
	int inflight; /* admitted jobs (running + waiting) */
	int running;  /* jobs in the thread pool */
	struct oidc_job *waitq, *waitq_tail;
	uv_loop_t *loop;
	int closing;
};

/* 1 and d filled when a fresh discovery document is cached (any thread). */
int oidc_disc_cached(struct oidc *o, struct oidc_disc *d);
/* pool side (oidc_flow.c): fills d from the cache or the provider. */
int oidc_flow_discovery(struct oidc *o, struct oidc_disc *d, char *err, size_t errlen);
/* pool side: the whole callback flow for one pending login; fills res. */
void oidc_flow_finish(struct oidc *o, const struct oidc_pending *p, const char *code,
                      struct oidc_result *res);

#endif
