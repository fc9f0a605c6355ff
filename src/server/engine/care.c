/* C2 repository care (see care.h). */
#include "server/engine/care.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/rmtime.h"
#include "common/ulid.h"
#include "server/app.h"
#include "server/engine/creds.h"
#include "server/store/store.h"

static const char *const kinds[] = { "forget", "prune", "check", "unlock" };
const char *const care_cadence_kinds[] = { "forget", "prune", "check", NULL };
#define N_CADENCE 3

int care_kind(const char *kind)
{
	for (size_t i = 0; kind && i < sizeof kinds / sizeof kinds[0]; i++)
		if (strcmp(kind, kinds[i]) == 0)
			return 1;
	return 0;
}

/* A retention object that keeps something (restic refuses an empty policy). */
static int retention_set(const json_t *ret)
{
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)ret, k, v) {
		if ((json_is_integer(v) && json_integer_value(v) > 0) ||
		    (json_is_string(v) && json_string_length(v) > 0))
			return 1;
	}
	return 0;
}

int care_forget_args(struct app *app, const char *host_id, const char *group, json_t **out,
                     const char **why)
{
	json_t *rows = store_groups_list(app->store, host_id);
	if (!rows)
		return RM_ERR_DB;
	json_t *groups = json_array();
	int found = 0;
	size_t i;
	json_t *row;
	json_array_foreach (rows, i, row) {
		const char *name = rmj_str(row, "name");
		if (group && (!name || strcmp(name, group) != 0))
			continue;
		found = 1;
		const json_t *ret = json_object_get(json_object_get(row, "spec"), "retention");
		if (name && json_is_object(ret) && retention_set(ret))
			json_array_append_new(
			    groups, json_pack("{s:s,s:O}", "group", name, "retention", ret));
	}
	json_decref(rows);
	if (group && !found) {
		*why = "unknown group";
		json_decref(groups);
		return RM_ERR_NOTFOUND;
	}
	if (group && json_array_size(groups) == 0) {
		*why = "the group has no retention policy";
		json_decref(groups);
		return RM_ERR_INVAL;
	}
	*out = json_pack("{s:o}", "groups", groups);
	return RM_OK;
}

int care_has_admin(struct app *app, const char *host_id)
{
	char *ct = NULL;
	int rc = store_cred_get(app->store, host_id, "admin", &ct);
	free(ct);
	return rc == RM_OK;
}

json_t *care_wire_extra(struct app *app, const char *host_id, const char *kind)
{
	json_t *extra = json_object();
	if (kind && (!strcmp(kind, "forget") || !strcmp(kind, "prune"))) {
		json_t *adm = NULL;
		if (creds_get(app->store, app->key, host_id, "admin", &adm) == RM_OK) {
			/* deep copy: creds_free wipes the original, the caller wipes the copy */
			json_object_set_new(extra, "admin_credentials", json_deep_copy(adm));
		}
		creds_free(adm);
	}
	json_t *peers = store_lock_peers(app->store, host_id);
	if (peers && json_object_size(peers))
		json_object_set(extra, "lock_peers", peers);
	json_decref(peers);
	return extra;
}

/* ------------------------------------------------------------------ cadences */

json_t *care_maintenance_effective(const json_t *stored)
{
	json_t *m = json_pack("{s:{s:s,s:b},s:{s:s,s:b},s:{s:s,s:b,s:s}}", "forget", "cron",
	                      "0 3 * * *", "enabled", 1, "prune", "cron", "0 4 * * 0", "enabled", 1,
	                      "check", "cron", "0 5 1 * *", "enabled", 1, "read_data_subset", "5%");
	for (size_t i = 0; i < N_CADENCE; i++) {
		const json_t *in = json_object_get(stored, care_cadence_kinds[i]);
		if (json_is_object(in))
			json_object_update_existing(json_object_get(m, care_cadence_kinds[i]),
			                            (json_t *)in);
	}
	return m;
}

json_t *care_spec_maintenance(struct app *app, const char *host_id)
{
	json_t *stored = store_host_maintenance(app->store, host_id);
	json_t *m = care_maintenance_effective(stored);
	int admin = care_has_admin(app, host_id);
	json_t *out = json_array();
	for (size_t i = 0; i < N_CADENCE; i++) {
		const char *kind = care_cadence_kinds[i];
		json_t *c = json_object_get(m, kind);
		if (admin && i < 2)
			continue; /* forget/prune go through the server with the admin slot */
		json_t *args = NULL;
		const char *why = NULL;
		if (!strcmp(kind, "forget")) {
			if (care_forget_args(app, host_id, NULL, &args, &why))
				continue;
		} else if (!strcmp(kind, "check")) {
			args = json_pack("{s:O}", "read_data_subset",
			                 json_object_get(c, "read_data_subset"));
		} else {
			args = json_object();
		}
		json_array_append_new(out, json_pack("{s:s,s:O,s:O,s:o}", "kind", kind, "cron",
		                                     json_object_get(c, "cron"), "enabled",
		                                     json_object_get(c, "enabled"), "args", args));
	}
	json_decref(m);
	json_decref(stored);
	return out;
}
