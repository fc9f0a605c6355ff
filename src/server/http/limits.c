/* Per-address connection counts, eviction of the oldest waiting connection, and the
 * per-phase deadlines checked by a one-second sweep (the limits are in http_int.h and
 * explained in docs/internals/http.md). */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "server/http/http_int.h"

/* ------------------------------------------------------------------ per-address counts */
static unsigned ip_hash(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % IP_BUCKETS;
}

struct ip_slot *limits_ip_get(struct http_server *s, const char *ip)
{
	unsigned b = ip_hash(ip);
	struct ip_slot *x;

	for (x = s->ips[b]; x; x = x->next)
		if (strcmp(x->ip, ip) == 0)
			return x;
	x = rm_xcalloc(1, sizeof(*x));
	rm_strlcpy(x->ip, ip, sizeof(x->ip));
	x->next = s->ips[b];
	s->ips[b] = x;
	return x;
}

static void ip_put(struct http_server *s, struct ip_slot *x)
{
	struct ip_slot **pp;

	if (!x || --x->count)
		return;
	for (pp = &s->ips[ip_hash(x->ip)]; *pp; pp = &(*pp)->next)
		if (*pp == x) {
			*pp = x->next;
			free(x);
			return;
		}
}

/* The connection stops counting as an HTTP connection (became a WebSocket, or closes). */
void conn_uncount(struct conn *c)
{
	if (c->ip_slot) {
		ip_put(c->srv, c->ip_slot);
		c->ip_slot = NULL;
		c->srv->n_http--;
	}
}

/* 1 if c has been waiting for its client (idle, head or body) for at least a second:
 * safe to evict. Brand-new connections of a legitimate burst have not had a chance to
 * send their request yet; they are never the ones to go. */
static int evictable(const struct conn *c, uint64_t now)
{
	return c->ip_slot && (c->state == CS_HEAD || c->state == CS_BODY || c->state == CS_DRAIN) &&
	       now - c->since >= EVICT_MIN_AGE_MS;
}

/* Closes the oldest evictable connection, of address ip when ip is not NULL. */
void limits_evict_oldest(struct http_server *s, const struct ip_slot *ip)
{
	uint64_t now = uv_now(s->loop);

	for (struct conn *c = s->http.head; c; c = c->next)
		if (evictable(c, now) && (!ip || c->ip_slot == ip)) {
			conn_close(c);
			return;
		}
}

/* ------------------------------------------------------------------ timeouts */
static int conn_expired(struct conn *c, uint64_t now)
{
	switch (c->state) {
	case CS_HEAD:
	case CS_DRAIN: return c->deadline && now >= c->deadline;
	case CS_BODY:
		if (now >= c->deadline)
			return 1;
		if (now >= c->window_at) {
			if (c->body_got - c->window_bytes < BODY_MIN_BYTES)
				return 1;
			c->window_bytes = c->body_got;
			c->window_at = now + BODY_WINDOW_MS;
		}
		return 0;
	case CS_WRITE: return c->inflight && now - c->phase_start >= WRITE_STALL_MS;
	case CS_WS: return ws_check_stall(c, now);
	default: return 0;
	}
}

static void sweep_list(struct conn_list *list, uint64_t now)
{
	struct conn *c = list->head;

	while (c) {
		struct conn *next = c->next;

		if (conn_expired(c, now))
			conn_close(c);
		c = next;
	}
}

void limits_on_sweep(uv_timer_t *t)
{
	struct http_server *s = t->data;
	uint64_t now = uv_now(s->loop);

	sweep_list(&s->http, now);
	sweep_list(&s->ws, now);
}
