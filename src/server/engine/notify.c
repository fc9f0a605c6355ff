/* Change notifications: a small array of subscribers. */
#include "server/engine/notify.h"

#include <stdlib.h>

#include "common/err.h"

#define NOTIFY_MAX_SUBS 16

struct notify_sub {
	unsigned kinds;
	notify_fn fn;
	void *ud;
};

struct notify {
	struct notify_sub subs[NOTIFY_MAX_SUBS];
	size_t n;
};

struct notify *notify_new(void)
{
	return rm_xcalloc(1, sizeof(struct notify));
}

void notify_free(struct notify *n)
{
	free(n);
}

void notify_subscribe(struct notify *n, unsigned kinds, notify_fn fn, void *ud)
{
	if (!n)
		return;
	/* a fixed, small set of subscribers known at build time: overflowing is a bug */
	if (n->n == NOTIFY_MAX_SUBS)
		abort();
	n->subs[n->n++] = (struct notify_sub){ .kinds = kinds, .fn = fn, .ud = ud };
}

void notify_unsubscribe(struct notify *n, notify_fn fn, void *ud)
{
	if (!n)
		return;
	size_t k = 0;
	for (size_t i = 0; i < n->n; i++)
		if (n->subs[i].fn != fn || n->subs[i].ud != ud)
			n->subs[k++] = n->subs[i];
	n->n = k;
}

static void publish(struct notify *n, enum notify_kind kind, const char *id)
{
	if (!n || !id)
		return;
	for (size_t i = 0; i < n->n; i++)
		if (n->subs[i].kinds & (unsigned)kind)
			n->subs[i].fn(n->subs[i].ud, kind, id);
}

void notify_host_changed(struct notify *n, const char *host_id)
{
	publish(n, NOTIFY_HOST, host_id);
}

void notify_job_changed(struct notify *n, const char *job_id)
{
	publish(n, NOTIFY_JOB, job_id);
}

void notify_user_changed(struct notify *n, const char *user_id)
{
	publish(n, NOTIFY_USER, user_id);
}

void notify_alerts_changed(struct notify *n)
{
	publish(n, NOTIFY_ALERTS, "alerts");
}
