/* C4 alert rules: the built-in table (severity, parameters with defaults and bounds), the
 * stored overrides, validation of PUT /api/alert-rules. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "server/app.h"
#include "server/engine/alerts_int.h"
#include "server/engine/channels.h"
#include "server/store/store.h"

struct rule_param {
	const char *name;
	double def, min, max;
	const char *help;
};

struct rule_def {
	const char *name;
	const char *severity;
	const char *kind; /* job kind whose failure raises it, or NULL */
	const char *desc;
	struct rule_param params[RULE_MAX_PARAMS];
};

static const struct rule_def rules[] = {
	{ "backup_failed", "warning", "backup", "a backup of a source group failed", { { 0 } } },
	{ "forget_failed", "warning", "forget", "a forget (retention) job failed", { { 0 } } },
	{ "prune_failed", "warning", "prune", "a prune job failed", { { 0 } } },
	{ "check_failed", "critical", "check", "a repository check failed", { { 0 } } },
	{ "restore_drill_failed", "critical", "drill", "a restore drill failed", { { 0 } } },
	{ "update_failed", "warning", "update", "an agent update failed", { { 0 } } },
	{ "no_recent_backup",
	  "warning",
	  NULL,
	  "a host with an enabled schedule has had no successful backup for factor x its "
	  "schedule's interval (intermittent hosts: intermittent_days)",
	  { { "factor", 2, 0.1, 100, "multiple of the schedule interval" },
	    { "intermittent_days", 7, 1, 365, "days without a backup for intermittent hosts" } } },
	{ "agent_offline",
	  "warning",
	  NULL,
	  "an always-on host's agent has been silent for after_minutes (never for "
	  "intermittent hosts)",
	  { { "after_minutes", 15, 1, 10080, "minutes of silence" } } },
	{ "backup_anomaly",
	  "warning",
	  NULL,
	  "a backup added factor x the median data (or changed factor x the median number of "
	  "files) of its group's last window backups",
	  { { "factor", 10, 2, 1000, "multiple of the median" },
	    { "window", 20, 3, 100, "backups the median is taken over" },
	    { "min_samples", 5, 2, 100, "backups needed before the rule judges" },
	    { "min_bytes", 1048576, 0, 1e15, "data added below this never counts as an anomaly" },
	    { "min_files", 100, 0, 1e12, "changed files below this never count" } } },
};
#define N_RULES (sizeof rules / sizeof rules[0])

static const struct rule_def *find_rule(const char *name)
{
	for (size_t i = 0; name && i < N_RULES; i++)
		if (strcmp(rules[i].name, name) == 0)
			return &rules[i];
	return NULL;
}

const char *alerts_rule_for_kind(const char *kind)
{
	for (size_t i = 0; kind && i < N_RULES; i++)
		if (rules[i].kind && strcmp(rules[i].kind, kind) == 0)
			return rules[i].name;
	return NULL;
}

static void overlay(const struct rule_def *d, const json_t *stored, struct rule_cfg *out)
{
	out->enabled = 1;
	snprintf(out->severity, sizeof out->severity, "%s", d->severity);
	for (int i = 0; i < RULE_MAX_PARAMS; i++)
		out->p[i] = d->params[i].name ? d->params[i].def : 0;
	if (!stored)
		return;
	out->enabled = json_is_true(json_object_get(stored, "enabled"));
	const json_t *params = json_object_get(stored, "params");
	const char *sev = rmj_str(params, "severity");
	if (severity_rank(sev) >= 0)
		snprintf(out->severity, sizeof out->severity, "%s", sev);
	for (int i = 0; i < RULE_MAX_PARAMS && d->params[i].name; i++) {
		json_t *v = json_object_get(params, d->params[i].name);
		if (json_is_number(v))
			out->p[i] = json_number_value(v);
	}
}

int alerts_rule_cfg(struct app *app, const char *rule, struct rule_cfg *out)
{
	const struct rule_def *d = find_rule(rule);
	if (!d)
		return RM_ERR_NOTFOUND;
	json_t *all = store_alert_rules_get(app->store);
	overlay(d, json_object_get(all, rule), out);
	json_decref(all);
	return RM_OK;
}

json_t *alerts_rules_get(struct app *app)
{
	json_t *all = store_alert_rules_get(app->store);
	if (!all)
		return NULL;
	json_t *list = json_array();
	for (size_t i = 0; i < N_RULES; i++) {
		const struct rule_def *d = &rules[i];
		struct rule_cfg c;
		overlay(d, json_object_get(all, d->name), &c);
		json_t *params = json_object(), *bounds = json_object();
		for (int k = 0; k < RULE_MAX_PARAMS && d->params[k].name; k++) {
			const struct rule_param *p = &d->params[k];
			json_object_set_new(params, p->name, json_real(c.p[k]));
			json_object_set_new(bounds, p->name,
			                    json_pack("{s:f,s:f,s:f,s:s}", "default", p->def, "min",
			                              p->min, "max", p->max, "help", p->help));
		}
		json_array_append_new(list, json_pack("{s:s,s:s,s:b,s:s,s:s*,s:o,s:o}", "rule",
		                                      d->name, "description", d->desc, "enabled",
		                                      c.enabled, "severity", c.severity, "job_kind",
		                                      d->kind, "params", params, "bounds", bounds));
	}
	json_decref(all);
	return json_pack("{s:o}", "rules", list);
}

#define FAIL(f, ...)                                  \
	do {                                          \
		*field = (f);                         \
		rmj_seterr(err, errlen, __VA_ARGS__); \
		goto fail;                            \
	} while (0)

/* One entry of the PUT body -> {"rule","enabled","params":{"severity",...}} (merged with
 * what is stored), or RM_ERR_INVAL. */
static int validate_entry(const json_t *e, size_t idx, const json_t *stored, json_t **out,
                          const char **field, char *err, size_t errlen)
{
	static char fbuf[64];
	json_t *params = NULL;
	const char *name = rmj_str(e, "rule");
	const struct rule_def *d = find_rule(name);
	snprintf(fbuf, sizeof fbuf, "rules[%zu]", idx);
	if (!json_is_object(e) || !d)
		FAIL(fbuf, "rules[%zu].rule must name a built-in rule", idx);
	struct rule_cfg c;
	overlay(d, json_object_get(stored, name), &c);
	if (rmj_get_bool(e, "enabled", 0, &c.enabled, NULL, 0))
		FAIL(fbuf, "rules[%zu].enabled must be a boolean", idx);
	const char *sev = rmj_str(e, "severity");
	if (json_object_get(e, "severity") && severity_rank(sev) < 0)
		FAIL(fbuf, "rules[%zu].severity must be info, warning or critical", idx);
	if (sev)
		snprintf(c.severity, sizeof c.severity, "%s", sev);
	const json_t *in = json_object_get(e, "params");
	if (in && !json_is_object(in))
		FAIL(fbuf, "rules[%zu].params must be an object", idx);
	const char *key;
	json_t *v;
	json_object_foreach ((json_t *)in, key, v) {
		int k = -1;
		for (int i = 0; i < RULE_MAX_PARAMS && d->params[i].name; i++)
			if (strcmp(d->params[i].name, key) == 0)
				k = i;
		if (k < 0)
			FAIL(fbuf, "rules[%zu].params: %s has no parameter '%.40s'", idx, d->name,
			     key);
		double x = json_number_value(v);
		const struct rule_param *p = &d->params[k];
		if (!json_is_number(v) || !isfinite(x) || x < p->min || x > p->max)
			FAIL(fbuf, "rules[%zu].params.%s must be a number in [%g, %g]", idx,
			     p->name, p->min, p->max);
		c.p[k] = x;
	}
	params = json_pack("{s:s}", "severity", c.severity);
	for (int i = 0; i < RULE_MAX_PARAMS && d->params[i].name; i++)
		json_object_set_new(params, d->params[i].name, json_real(c.p[i]));
	*out = json_pack("{s:s,s:b,s:o}", "rule", d->name, "enabled", c.enabled, "params", params);
	return RM_OK;
fail:
	return RM_ERR_INVAL;
}

int alerts_rules_put(struct app *app, const json_t *body, const char **field, char *err,
                     size_t errlen)
{
	const json_t *list = json_object_get(body, "rules");
	if (!json_is_array(list) || json_array_size(list) > N_RULES * 2) {
		*field = "rules";
		rmj_seterr(err, errlen, "field 'rules' must be an array of rule objects");
		return RM_ERR_INVAL;
	}
	json_t *stored = store_alert_rules_get(app->store);
	if (!stored)
		return RM_ERR_DB;
	json_t *valid = json_array();
	int rc = RM_OK;
	size_t i;
	json_t *e;
	json_array_foreach (list, i, e) {
		json_t *o = NULL;
		rc = validate_entry(e, i, stored, &o, field, err, errlen);
		if (rc)
			break;
		json_array_append_new(valid, o);
	}
	json_array_foreach (valid, i, e) {
		if (rc)
			break;
		rc = store_alert_rule_put(app->store, rmj_str(e, "rule"),
		                          json_is_true(json_object_get(e, "enabled")),
		                          json_object_get(e, "params"));
	}
	json_decref(valid);
	json_decref(stored);
	return rc;
}
