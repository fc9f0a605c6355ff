/* Agent RPC (see rpc.h): pending calls in a doubly linked list in start order, each with its
 * own timer. A call ends exactly once: answered (rpc_deliver), timed out, lost with its agent,
 * or evicted when RPC_MAX_PENDING are outstanding. An abandoned call stays listed until it
 * ends, so a late answer still finds (and silently drops) it. */
#include "server/engine/rpc.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/ulid.h"
#include "server/app.h"
#include "server/engine/presence.h"

struct rpc_call {
	struct rpc *owner;
	struct rpc_call *prev, *next;
	char id[RM_ULID_BUF];
	char host_id[RM_ULID_BUF];
	rpc_done_fn done;
	void *ctx;
	uv_timer_t timer;
	int abandoned;
	int ended; /* out of the list, timer closing */
};

struct rpc {
	struct app *app;
	struct rpc_call *head, *tail;
	size_t n;
	int stopped;
};

struct rpc *rpc_new(struct app *app)
{
	struct rpc *r = rm_xcalloc(1, sizeof(*r));
	r->app = app;
	return r;
}

static void on_timer_closed(uv_handle_t *h)
{
	free(h->data);
}

static void unlink_call(struct rpc *r, struct rpc_call *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		r->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		r->tail = c->prev;
	c->prev = c->next = NULL;
	r->n--;
}

/* Takes c out of the list, reports st (unless abandoned) and frees it once its timer closed. */
static void end_call(struct rpc_call *c, enum rpc_status st, const json_t *result)
{
	if (c->ended)
		return;
	c->ended = 1;
	unlink_call(c->owner, c);
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, on_timer_closed);
	if (!c->abandoned && c->done)
		c->done(c->ctx, st, result);
}

static void on_timeout(uv_timer_t *t)
{
	struct rpc_call *c = t->data;
	RM_INFO("agent did not answer in time", "host_id", c->host_id, "request_id", c->id);
	end_call(c, RPC_TIMEOUT, NULL);
}

struct rpc_call *rpc_start(struct app *app, const char *host_id, enum rm_msg_type type,
                           json_t *payload, unsigned timeout_ms, rpc_done_fn done, void *ctx)
{
	struct rpc *r = app ? app->rpc : NULL;
	if (!r || r->stopped || !host_id || strlen(host_id) >= RM_ULID_BUF) {
		json_decref(payload);
		return NULL;
	}
	char id[RM_ULID_BUF] = "";
	if (presence_send_id(app->presence, host_id, type, payload, id) != RM_OK || !id[0])
		return NULL;
	if (r->n >= RPC_MAX_PENDING)
		end_call(r->head, RPC_TIMEOUT, NULL);
	struct rpc_call *c = rm_xcalloc(1, sizeof(*c));
	c->owner = r;
	memcpy(c->id, id, sizeof c->id);
	snprintf(c->host_id, sizeof c->host_id, "%s", host_id);
	c->done = done;
	c->ctx = ctx;
	uv_timer_init(app->loop, &c->timer);
	c->timer.data = c;
	uv_timer_start(&c->timer, on_timeout, timeout_ms ? timeout_ms : 1, 0);
	c->prev = r->tail;
	if (r->tail)
		r->tail->next = c;
	else
		r->head = c;
	r->tail = c;
	r->n++;
	return c;
}

void rpc_abandon(struct rpc_call *c)
{
	if (c)
		c->abandoned = 1;
}

void rpc_deliver(struct app *app, const char *host_id, const json_t *payload)
{
	struct rpc *r = app ? app->rpc : NULL;
	const char *rid = rmj_str(payload, "request_id");
	if (!r || !rid || !host_id)
		return;
	for (struct rpc_call *c = r->head; c; c = c->next) {
		if (strcmp(c->id, rid) != 0)
			continue;
		if (strcmp(c->host_id, host_id) != 0) {
			RM_WARN("agent answered another host's request: ignored", "host_id",
			        host_id);
			return;
		}
		const json_t *e = json_object_get(payload, "error");
		end_call(c, e && !json_is_null(e) ? RPC_REMOTE_ERROR : RPC_OK, payload);
		return;
	}
	RM_DEBUG("late or unknown rpc result ignored", "host_id", host_id, "request_id", rid);
}

void rpc_host_gone(struct app *app, const char *host_id)
{
	struct rpc *r = app ? app->rpc : NULL;
	if (!r || !host_id)
		return;
	struct rpc_call *c = r->head;
	while (c) {
		struct rpc_call *next = c->next;
		if (strcmp(c->host_id, host_id) == 0)
			end_call(c, RPC_LOST, NULL);
		c = next;
	}
}

void rpc_stop(struct rpc *r)
{
	if (!r)
		return;
	r->stopped = 1;
	while (r->head)
		end_call(r->head, RPC_LOST, NULL);
}

void rpc_free(struct rpc *r)
{
	free(r); /* calls were ended by rpc_stop; their timers freed themselves when closed */
}

size_t rpc_pending_count(const struct rpc *r)
{
	return r ? r->n : 0;
}
