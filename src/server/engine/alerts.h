#ifndef RM_SERVER_ENGINE_ALERTS_H
#define RM_SERVER_ENGINE_ALERTS_H
/* C4 alerts: built-in rules evaluated when a job finishes (notify subscriber) and on a
 * timer (time-based rules), alerts raised once per (rule, host, group) and resolved when
 * the condition clears, one delivery per alert event per matching channel (webhook, ntfy,
 * SMTP through engine/channels_io on this loop), retried with backoff, digested when a
 * channel gets more than 10 alerts in 5 minutes. Changes of the open count are announced
 * with notify_alerts_changed. Loop thread only. docs/internals/alerts.md. */
#include <jansson.h>
#include <stddef.h>

struct app;
struct alerts;
struct cio_result;

/* Subscribes to job changes, starts the timers and the transfer engine (app->alerts). */
struct alerts *alerts_start(struct app *app);
/* Aborts transfers in flight, stops timers, unsubscribes (before the loop's last run). */
void alerts_stop(struct alerts *a);
void alerts_free(struct alerts *a); /* after the loop ended; NULL ok */

/* One evaluation of the time-based rules, the digest and due deliveries (tests). */
void alerts_tick(struct app *app);
/* Evaluates a finished job (idempotent: a job raises or bumps an alert once). */
void alerts_eval_job(struct app *app, const char *job_id);

/* By hand (operator): open -> acked; open|acked -> resolved (sends the resolution).
 * RM_OK, RM_ERR_NOTFOUND, RM_ERR_CONFLICT (wrong state), RM_ERR_DB. The audit row is the
 * caller's, in the same transaction: these run inside the caller's store_tx. */
/* C6: an agent update ended (state succeeded | failed | rolled_back): raises or resolves
 * update_failed for the host. */
void alerts_update_outcome(struct app *app, const char *host_id, const char *hostname,
                           const char *state, const char *error);
int alerts_ack(struct app *app, const char *id, const char *by);
int alerts_resolve(struct app *app, const char *id, const char *by);
/* After a committed ack/resolve: deliveries and the live count. */
void alerts_after_change(struct app *app);

/* {"rules":[{"rule","description","enabled","severity","params":{},"bounds":{}}]} */
json_t *alerts_rules_get(struct app *app);
/* Validates {"rules":[{"rule","enabled"?,"severity"?,"params"?:{}}]} completely, then
 * stores it (inside the caller's transaction). RM_ERR_INVAL with field + message. */
int alerts_rules_put(struct app *app, const json_t *body, const char **field, char *err,
                     size_t errlen);

/* Sends a test message through the channel now (one attempt, logged as a delivery).
 * RM_OK: done runs later on the loop, exactly once. Else (NOTFOUND, CRYPTO, IO, DB) done
 * never runs. */
typedef void (*alerts_test_fn)(void *ud, const struct cio_result *res, const char *delivery_id);
int alerts_channel_test(struct app *app, const char *channel_id, alerts_test_fn done, void *ud);
/* Wakes the delivery scheduler (e.g. after a channel was created). */
void alerts_kick(struct app *app);

#endif
