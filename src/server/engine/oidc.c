/* OIDC relying party, loop side: settings, pending logins (state/nonce/PKCE, single use,
 * 10 minutes), and the thread-pool jobs that talk to the provider (oidc_flow.c). */
#include "server/engine/oidc.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/rmtime.h"
#include "server/config.h"
#include "server/engine/oidc_http.h"
#include "server/engine/oidc_int.h"

#define PENDING_MAX 1000
#define INFLIGHT_MAX 64 /* sign-ins admitted at once (running + waiting), else 503 */
#define POOL_MAX 2      /* thread-pool threads that may wait on the provider at once */

int oidc_create(const struct server_config *cfg, struct oidc **out, char *err, size_t errlen)
{
	*out = NULL;
	if (!cfg->oidc_issuer || !cfg->oidc_issuer[0])
		return RM_OK;
	struct oidc_role_map map;
	if (oidc_role_map_parse(cfg->oidc_role_map, cfg->oidc_default_role, &map, err, errlen))
		return RM_ERR_INVAL;
	if (!cfg->oidc_client_id[0]) {
		rmj_seterr(err, errlen, "oidc_client_id: required when oidc_issuer is set");
		return RM_ERR_INVAL;
	}
	struct oidc *o = rm_xcalloc(1, sizeof *o);
	o->issuer = rm_xstrdup(cfg->oidc_issuer);
	size_t il = strlen(o->issuer);
	while (il > 8 && o->issuer[il - 1] == '/')
		o->issuer[--il] = 0;
	o->client_id = rm_xstrdup(cfg->oidc_client_id);
	o->client_secret = rm_xstrdup(cfg->oidc_client_secret ? cfg->oidc_client_secret : "");
	o->redirect_url = cfg->oidc_redirect_url[0]
	                      ? rm_xstrdup(cfg->oidc_redirect_url)
	                      : rm_xasprintf("%s/api/auth/oidc/callback", cfg->base_url);
	o->scopes = rm_xstrdup(cfg->oidc_scopes);
	o->groups_claim = rm_xstrdup(cfg->oidc_groups_claim);
	o->button_label = rm_xstrdup(cfg->oidc_button_label);
	o->base_url = rm_xstrdup(cfg->base_url);
	o->map = map;
	pthread_mutex_init(&o->mu, NULL);
	if (o->client_secret[0])
		rm_log_add_secret(o->client_secret);
	oidc_http_global_init();
	*out = o;
	return RM_OK;
}

static void really_free(struct oidc *o)
{
	while (o->pending) {
		struct oidc_pending *p = o->pending;
		o->pending = p->next_p;
		sodium_memzero(p, sizeof *p);
		free(p);
	}
	jwks_free(o->jwks);
	pthread_mutex_destroy(&o->mu);
	sodium_memzero(o->client_secret, strlen(o->client_secret));
	free(o->issuer);
	free(o->client_id);
	free(o->client_secret);
	free(o->redirect_url);
	free(o->scopes);
	free(o->groups_claim);
	free(o->button_label);
	free(o->base_url);
	free(o);
}

void oidc_free(struct oidc *o)
{
	if (!o)
		return;
	o->closing = 1;
	if (!o->inflight)
		really_free(o);
}

const char *oidc_button_label(const struct oidc *o)
{
	return o->button_label;
}

char *oidc_logout_url(struct oidc *o)
{
	pthread_mutex_lock(&o->mu);
	char *url = NULL;
	if (o->have_disc && o->disc.end_session_endpoint[0]) {
		char *ci = oidc_http_escape(o->client_id);
		char *back = rm_xasprintf("%s/login", o->base_url);
		char *eb = oidc_http_escape(back);
		const char *sep = strchr(o->disc.end_session_endpoint, '?') ? "&" : "?";
		url = rm_xasprintf("%s%sclient_id=%s&post_logout_redirect_uri=%s",
		                   o->disc.end_session_endpoint, sep, ci, eb);
		free(ci);
		free(back);
		free(eb);
	}
	pthread_mutex_unlock(&o->mu);
	return url;
}

/* ---- pending logins (loop thread) ---- */

static void pending_purge(struct oidc *o, int64_t now)
{
	struct oidc_pending **pp = &o->pending;
	while (*pp) {
		struct oidc_pending *p = *pp;
		if (now - p->created_ms >= OIDC_PENDING_TTL_MS || now < p->created_ms) {
			*pp = p->next_p;
			sodium_memzero(p, sizeof *p);
			free(p);
			o->n_pending--;
		} else {
			pp = &p->next_p;
		}
	}
}

/* New entries go to the front; when full the oldest (the tail) goes. */
static struct oidc_pending *pending_add(struct oidc *o, const char *next)
{
	int64_t now = rm_now_ms();
	pending_purge(o, now);
	if (o->n_pending >= PENDING_MAX) {
		struct oidc_pending **pp = &o->pending;
		while ((*pp)->next_p)
			pp = &(*pp)->next_p;
		free(*pp);
		*pp = NULL;
		o->n_pending--;
	}
	struct oidc_pending *p = rm_xcalloc(1, sizeof *p);
	char *s = rm_random_token(32), *n = rm_random_token(32), *v = rm_random_token(32);
	rm_strlcpy(p->state, s, sizeof p->state);
	rm_strlcpy(p->nonce, n, sizeof p->nonce);
	rm_strlcpy(p->verifier, v, sizeof p->verifier);
	free(s);
	free(n);
	free(v);
	rm_strlcpy(p->next, next && next[0] ? next : "/", sizeof p->next);
	p->created_ms = now;
	p->next_p = o->pending;
	o->pending = p;
	o->n_pending++;
	return p;
}

/* Removes and returns the entry for state (caller frees), NULL if unknown/expired. */
static struct oidc_pending *pending_take(struct oidc *o, const char *state)
{
	pending_purge(o, rm_now_ms());
	for (struct oidc_pending **pp = &o->pending; state && *pp; pp = &(*pp)->next_p) {
		if (rm_str_ct_eq((*pp)->state, state)) {
			struct oidc_pending *p = *pp;
			*pp = p->next_p;
			o->n_pending--;
			return p;
		}
	}
	return NULL;
}

/* ---- jobs ---- */

struct oidc_job {
	uv_work_t w;
	struct oidc *o;
	struct oidc_pending p;
	char *code;
	char *url; /* begin: the authorization URL */
	int rc;
	struct oidc_result res;
	oidc_begin_cb bdone;
	oidc_finish_cb fdone;
	void *ud;
	uv_work_cb work;
	uv_after_work_cb after;
	struct oidc_job *next_q; /* waiting for a pool slot */
	int in_pool;
};

static char *auth_url(struct oidc *o, const struct oidc_disc *d, const struct oidc_pending *p)
{
	unsigned char dig[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(dig, (const unsigned char *)p->verifier, strlen(p->verifier));
	char ch[64];
	sodium_bin2base64(ch, sizeof ch, dig, sizeof dig, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *ci = oidc_http_escape(o->client_id), *ru = oidc_http_escape(o->redirect_url);
	char *sc = oidc_http_escape(o->scopes);
	const char *sep = strchr(d->authorization_endpoint, '?') ? "&" : "?";
	char *url =
	    rm_xasprintf("%s%sresponse_type=code&client_id=%s&redirect_uri=%s&scope=%s"
	                 "&state=%s&nonce=%s&code_challenge=%s&code_challenge_method=S256",
	                 d->authorization_endpoint, sep, ci, ru, sc, p->state, p->nonce, ch);
	free(ci);
	free(ru);
	free(sc);
	return url;
}

static void begin_work(uv_work_t *w)
{
	struct oidc_job *j = w->data;
	struct oidc_disc d;
	char err[200] = "";
	j->rc = oidc_flow_discovery(j->o, &d, err, sizeof err);
	if (j->rc)
		RM_WARN("oidc discovery failed", "issuer", j->o->issuer, "err", err);
	else
		j->url = auth_url(j->o, &d, &j->p);
}

static void job_end(struct oidc_job *j)
{
	struct oidc *o = j->o;
	sodium_memzero(&j->p, sizeof j->p);
	if (j->code) {
		sodium_memzero(j->code, strlen(j->code));
		free(j->code);
	}
	free(j->url);
	free(j);
	if (--o->inflight == 0 && o->closing)
		really_free(o);
}

/* Starts waiting jobs while fewer than POOL_MAX run: a slow provider can tie up at most
 * POOL_MAX of libuv's pool threads (Argon2 and log reads share them). */
static void pump(struct oidc *o)
{
	while (o->running < POOL_MAX && o->waitq) {
		struct oidc_job *j = o->waitq;
		o->waitq = j->next_q;
		if (!o->waitq)
			o->waitq_tail = NULL;
		if (uv_queue_work(o->loop, &j->w, j->work, j->after) == 0) {
			o->running++;
			j->in_pool = 1;
		} else
			j->after(&j->w, UV_ECANCELED); /* answers "unavailable", frees j */
	}
}

static void job_queue(struct oidc_job *j, uv_work_cb work, uv_after_work_cb after)
{
	struct oidc *o = j->o;
	j->work = work;
	j->after = after;
	if (o->waitq_tail)
		o->waitq_tail->next_q = j;
	else
		o->waitq = j;
	o->waitq_tail = j;
	pump(o);
}

/* every after-work callback starts with this: one pool slot is free again */
static void slot_free(struct oidc_job *j)
{
	if (j->in_pool) {
		j->in_pool = 0;
		j->o->running--;
	}
	pump(j->o);
}

static void begin_after(uv_work_t *w, int status)
{
	struct oidc_job *j = w->data;
	slot_free(j);
	if (status == UV_ECANCELED)
		j->rc = RM_ERR_AGAIN;
	j->bdone(j->ud, j->rc, j->rc ? NULL : j->url, j->rc ? NULL : j->p.state);
	job_end(j);
}

static struct oidc_job *job_new(struct oidc *o, void *ud)
{
	struct oidc_job *j = rm_xcalloc(1, sizeof *j);
	j->w.data = j;
	j->o = o;
	j->ud = ud;
	o->inflight++;
	return j;
}

int oidc_begin(struct oidc *o, uv_loop_t *loop, const char *next, oidc_begin_cb done, void *ud)
{
	struct oidc_disc *d = rm_xcalloc(1, sizeof *d);
	if (oidc_disc_cached(o, d)) { /* the common case: no provider request needed */
		struct oidc_pending *p = pending_add(o, next);
		char *url = auth_url(o, d, p);
		free(d);
		done(ud, RM_OK, url, p->state);
		free(url);
		return RM_OK;
	}
	free(d);
	if (o->inflight >= INFLIGHT_MAX)
		return RM_ERR_AGAIN;
	struct oidc_pending *p = pending_add(o, next);
	struct oidc_job *j = job_new(o, ud);
	o->loop = loop;
	j->p = *p;
	j->bdone = done;
	job_queue(j, begin_work, begin_after);
	return RM_OK;
}

static void finish_work(uv_work_t *w)
{
	struct oidc_job *j = w->data;
	oidc_flow_finish(j->o, &j->p, j->code, &j->res);
}

static void finish_after(uv_work_t *w, int status)
{
	struct oidc_job *j = w->data;
	slot_free(j);
	if (status == UV_ECANCELED) {
		j->res.rc = RM_ERR_AGAIN;
		j->res.reason = "unavailable";
	}
	rm_strlcpy(j->res.next, j->p.next, sizeof j->res.next);
	j->fdone(j->ud, &j->res);
	job_end(j);
}

int oidc_finish(struct oidc *o, uv_loop_t *loop, const char *state, const char *cookie_state,
                const char *code, oidc_finish_cb done, void *ud)
{
	if (o->inflight >= INFLIGHT_MAX)
		return RM_ERR_AGAIN;
	struct oidc_result res;
	memset(&res, 0, sizeof res);
	res.rc = RM_ERR_AUTH;
	/* the state must be the one this browser started with (cookie) and still pending */
	if (!state || !cookie_state || !rm_str_ct_eq(state, cookie_state)) {
		res.reason = "bad_state";
		rm_strlcpy(res.detail, "state does not match this browser's login", 200);
		done(ud, &res);
		return RM_OK;
	}
	struct oidc_pending *p = pending_take(o, state);
	if (!p || !code || !code[0] || strlen(code) > 2048) {
		res.reason = p ? "missing_code" : "bad_state";
		rm_strlcpy(res.detail, p ? "no code" : "unknown, used or expired state", 200);
		free(p);
		done(ud, &res);
		return RM_OK;
	}
	struct oidc_job *j = job_new(o, ud);
	j->p = *p;
	sodium_memzero(p, sizeof *p);
	free(p);
	j->code = rm_xstrdup(code);
	j->res.rc = RM_ERR_AUTH;
	j->fdone = done;
	o->loop = loop;
	job_queue(j, finish_work, finish_after);
	return RM_OK;
}
