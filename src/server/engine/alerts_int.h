#ifndef RM_SERVER_ENGINE_ALERTS_INT_H
#define RM_SERVER_ENGINE_ALERTS_INT_H
/* Private to engine/alerts*.c. */
#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#include "server/engine/alerts.h"

struct cio;

#define RULE_MAX_PARAMS 6

struct alerts {
	struct app *app;
	struct cio *io;
	uv_timer_t tick;     /* time-based rules, digests, due deliveries */
	uv_timer_t kick;     /* dirty jobs, then a delivery scan (next loop turn) */
	uv_timer_t retry;    /* the next retry of a failed delivery */
	json_t *dirty_jobs;  /* set of job ids to evaluate */
	json_t *inflight;    /* channel id -> transfers in flight */
	int64_t last_nrb_ms; /* last no_recent_backup evaluation */
	int stopped;
	int closing; /* timers being closed */
};

/* Effective configuration of one rule (defaults overlaid with the stored overrides). */
struct rule_cfg {
	int enabled;
	char severity[16];
	double p[RULE_MAX_PARAMS]; /* in the order of the rule's params */
};
/* Rule names and their parameter indexes. */
enum {
	P_NRB_FACTOR = 0,
	P_NRB_INTERMITTENT_DAYS = 1,
	P_OFF_MINUTES = 0,
	P_ANO_FACTOR = 0,
	P_ANO_WINDOW = 1,
	P_ANO_MIN_SAMPLES = 2,
	P_ANO_MIN_BYTES = 3,
	P_ANO_MIN_FILES = 4,
};
/* RM_OK, or NOTFOUND for an unknown rule. */
int alerts_rule_cfg(struct app *app, const char *rule, struct rule_cfg *out);
/* The rule for failures of a job kind ("backup" -> "backup_failed"), NULL if none. */
const char *alerts_rule_for_kind(const char *kind);

/* alerts.c: raise without a job (time-based rules: an active alert stays as it is) and
 * resolve (rule, host, group) if active. */
void alerts_raise(struct app *app, const char *rule, const char *severity, const char *host_id,
                  const char *grp, const char *title, const char *message);
void alerts_clear(struct app *app, const char *rule, const char *host_id, const char *grp,
                  const char *resolution);

/* alerts_deliver.c: deliveries for an alert event on every matching channel. */
void alerts_enqueue(struct app *app, const json_t *alert, const char *event);
void alerts_deliver_scan(struct alerts *a);
void alerts_digest_flush(struct app *app);
/* The message text for an alert event (what, where, since when, link). */
json_t *alerts_payload(struct app *app, const json_t *alert, const char *event);

#endif
