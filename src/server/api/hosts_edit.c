/* C6 host administration: PATCH /api/hosts/{id} (operator's name, tags, mode) and
 * DELETE /api/hosts/{id}?history=keep|delete (admin). */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/rmtime.h"
#include "common/ulid.h"
#include "server/api/api.h"
#include "server/app.h"
#include "server/engine/notify.h"
#include "server/engine/policy.h"
#include "server/engine/presence.h"
#include "server/http/http.h"
#include "server/store/store.h"
#include "server/store/store_update.h"

#define TAGS_MAX 50
#define TAG_LEN_MAX 64

const char *api_hostname_problem(const char *h)
{
	size_t n = h ? strlen(h) : 0;
	if (n < 1 || n > 253)
		return "field 'hostname' must be 1-253 of [A-Za-z0-9._-]";
	for (const char *c = h; *c; c++) {
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '.' || *c == '-' || *c == '_'))
			return "field 'hostname' must be 1-253 of [A-Za-z0-9._-]";
	}
	return NULL;
}

const char *api_tags_problem(const json_t *tags)
{
	size_t i, j;
	json_t *v;
	json_array_foreach (tags, i, v) {
		const char *t = json_string_value(v);
		if (!t || !t[0])
			return "field 'tags' must not hold empty tags";
		for (const char *c = t; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == ',')
				return "field 'tags' must not hold control characters or commas";
		for (j = 0; j < i; j++)
			if (!strcmp(t, json_string_value(json_array_get(tags, j))))
				return "field 'tags' must not repeat a tag";
	}
	return NULL;
}

/* Validates the PATCH body; NULL or the message (and *field). */
static const char *patch_problem(const json_t *b, const char **name, const json_t **tags,
                                 const char **mode, const char **field, char *err, size_t n)
{
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)b, k, v) {
		if (strcmp(k, "hostname") && strcmp(k, "tags") && strcmp(k, "mode")) {
			*field = k;
			return "unknown field: only hostname, tags and mode can be changed";
		}
	}
	*field = "hostname";
	if (rmj_get_str(b, "hostname", 0, 253, name, err, n))
		return err;
	if (*name && api_hostname_problem(*name))
		return api_hostname_problem(*name);
	*field = "tags";
	if (rmj_get_str_array(b, "tags", 0, TAGS_MAX, TAG_LEN_MAX, tags, err, n))
		return err;
	if (*tags && api_tags_problem(*tags))
		return api_tags_problem(*tags);
	*field = "mode";
	if (rmj_get_str(b, "mode", 0, 16, mode, err, n) ||
	    (*mode && strcmp(*mode, "always_on") && strcmp(*mode, "intermittent")))
		return "field 'mode' must be always_on or intermittent";
	*field = NULL;
	return NULL;
}

void api_host_patch(struct http_req *r, void *appv)
{
	struct app *app = appv;
	const json_t *b = api_body(r);
	const char *name = NULL, *mode = NULL, *field = NULL;
	const json_t *tags = NULL;
	char err[160];
	const char *why = patch_problem(b, &name, &tags, &mode, &field, err, sizeof err);
	if (why) {
		api_respond_field(r, 400, "invalid_field", field ? field : "", why);
		return;
	}
	json_t *host = api_host_or_404(r, app);
	if (!host)
		return;
	char host_id[RM_ULID_BUF];
	rm_strlcpy(host_id, rmj_str(host, "id"), sizeof host_id);
	json_t *settings = NULL;
	if (mode) {
		settings = json_deep_copy(json_object_get(host, "settings"));
		if (!json_is_object(settings)) {
			json_decref(settings);
			settings = json_object();
		}
		json_object_set_new(settings, "mode", json_string(mode));
	}
	json_t *d = json_pack("{s:s?}", "from", rmj_str(host, "hostname"));
	json_object_update(d, (json_t *)b);
	int rc = store_tx_begin(app->store);
	if (!rc)
		rc = store_host_edit(app->store, host_id, name, tags);
	if (!rc && settings)
		rc = store_host_settings_set(app->store, host_id, settings);
	if (!rc)
		rc = api_audit(app, api_actor(r), "host.update", host_id, json_incref(d));
	rc = store_tx_end(app->store, rc);
	json_decref(d);
	json_decref(settings);
	json_decref(host);
	if (rc) {
		api_respond_store_error(r, "host update", rc);
		return;
	}
	RM_INFO("host updated", "host_id", host_id, "hostname", name, "mode", mode);
	if (mode)
		policy_changed(app, host_id); /* the catch-up rule follows the mode */
	notify_host_changed(app->notify, host_id);
	json_t *o = store_host_get(app->store, host_id);
	presence_overlay_last_seen(app->presence, o);
	http_respond_json(r, 200, o);
}

void api_hosts_deleted(struct http_req *r, void *appv)
{
	struct app *app = appv;
	json_t *o = store_hosts_deleted(app->store);
	if (!o) {
		api_respond_store_error(r, "deleted hosts", RM_ERR_DB);
		return;
	}
	http_respond_json(r, 200, o);
}

/* After the commit: stop what the agent still runs, then close its socket (its bearer no
 * longer opens one, so it stays out). */
static void drop_agent(struct app *app, const char *host_id, const json_t *cancelled)
{
	size_t i;
	json_t *v;
	json_array_foreach (cancelled, i, v) {
		presence_send(app->presence, host_id, RM_MSG_COMMAND_CANCEL,
		              json_pack("{s:s}", "job_id", json_string_value(v)));
		notify_job_changed(app->notify, json_string_value(v));
	}
	presence_disconnect(app->presence, host_id, 4401, "host deleted");
}

void api_host_delete(struct http_req *r, void *appv)
{
	struct app *app = appv;
	const char *host_id = http_req_param(r, "id");
	const char *hist = http_req_query(r, "history");
	if (hist && strcmp(hist, "keep") && strcmp(hist, "delete")) {
		api_respond_field(r, 400, "invalid_field", "history",
		                  "query 'history' must be keep or delete");
		return;
	}
	int keep = !hist || !strcmp(hist, "keep");
	json_t *host = store_host_get(app->store, host_id);
	if (!host) {
		http_respond_error(r, 404, "not_found", "unknown host");
		return;
	}
	json_t *cancelled = json_array();
	int rc = store_tx_begin(app->store);
	if (!rc)
		rc = store_host_delete(app->store, host_id, keep, api_actor(r), rm_now_ms(),
		                       cancelled);
	if (!rc)
		rc = api_audit(app, api_actor(r), "host.delete", host_id,
		               json_pack("{s:s?,s:s,s:O}", "hostname", rmj_str(host, "hostname"),
		                         "history", keep ? "keep" : "delete", "cancelled_jobs",
		                         cancelled));
	rc = store_tx_end(app->store, rc);
	if (rc == RM_ERR_NOTFOUND) {
		http_respond_error(r, 404, "not_found", "unknown host");
	} else if (rc) {
		api_respond_store_error(r, "host delete", rc);
	} else {
		RM_INFO("host deleted", "host_id", host_id, "hostname", rmj_str(host, "hostname"),
		        "history", keep ? "keep" : "delete");
		drop_agent(app, host_id, cancelled);
		notify_host_changed(app->notify, host_id);
		http_respond_json(r, 200,
		                  json_pack("{s:s,s:s,s:b,s:O}", "id", host_id, "history",
		                            keep ? "keep" : "delete", "deleted", 1,
		                            "cancelled_jobs", cancelled));
	}
	json_decref(cancelled);
	json_decref(host);
}
