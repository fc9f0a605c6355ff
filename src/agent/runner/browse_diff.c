/* Snapshot browsing: snapshot.diff, from `restic diff --json <from> <to>` (see browse.h).
 * The lists are bounded (max paths, and bytes so the answer fits one envelope); past the
 * bound only the statistics keep counting and the answer says truncated. */
#include <stdlib.h>
#include <string.h>

#include "agent/restic/diff.h"
#include "agent/runner/browse_int.h"
#include "agent/runner/child.h"
#include "common/err.h"
#include "common/json.h"

#define DIFF_MAX_DEFAULT 10000
#define DIFF_MAX_BYTES (700 * 1024)
#define MAX_DIFFS 2

struct diff {
	struct diff *next;
	struct browse *b;
	char *request_id;
	browse_answer_fn fn;
	void *ud;
	struct rchild *child;
	json_t *added, *removed, *changed, *stats;
	size_t n, max, bytes;
	int truncated;
};

static void unlink_diff(struct browse *b, struct diff *d)
{
	for (struct diff **pp = &b->diffs; *pp; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
}

static void diff_free(struct diff *d)
{
	json_decref(d->added);
	json_decref(d->removed);
	json_decref(d->changed);
	json_decref(d->stats);
	free(d->request_id);
	free(d);
}

static void on_line(void *ud, const char *line, size_t len)
{
	struct diff *d = ud;
	char *path = NULL;
	json_t *st = NULL;
	enum diff_line t = restic_parse_diff_line(line, len, &path, &st);
	if (t == DIFF_LINE_STATS) {
		json_decref(d->stats);
		d->stats = st;
	} else if (t != DIFF_LINE_OTHER) {
		size_t pl = strlen(path);
		if (d->n >= d->max || d->bytes + pl + 8 > DIFF_MAX_BYTES) {
			d->truncated = 1;
		} else {
			json_t *arr = t == DIFF_LINE_ADDED     ? d->added
			              : t == DIFF_LINE_REMOVED ? d->removed
			                                       : d->changed;
			json_t *s = json_string(path); /* NULL when not UTF-8: skipped */
			if (s) {
				json_array_append_new(arr, s);
				d->n++;
				d->bytes += pl + 8;
			}
		}
	}
	free(path);
}

static void on_done(void *ud, int code, const char *err)
{
	struct diff *d = ud;
	unlink_diff(d->b, d);
	if (code) {
		int missing = err && (strstr(err, "no matching ID") || strstr(err, "not found"));
		d->fn(d->ud, d->request_id, NULL, missing ? "not_found" : "restic_failed",
		      err ? err : "restic diff failed");
	} else {
		json_t *r = json_pack("{s:O,s:O,s:O,s:b,s:o}", "added", d->added, "removed",
		                      d->removed, "changed", d->changed, "truncated", d->truncated,
		                      "stats", d->stats ? json_incref(d->stats) : json_object());
		d->fn(d->ud, d->request_id, r, NULL, NULL);
	}
	diff_free(d);
}

void browse_diff(struct browse *b, const struct runner_creds *creds, const char *request_id,
                 const json_t *payload, browse_answer_fn fn, void *ud)
{
	const char *from = rmj_str(payload, "from"), *to = rmj_str(payload, "to");
	long long max = rmj_int(payload, "max", DIFF_MAX_DEFAULT);
	size_t running = 0;
	for (struct diff *x = b->diffs; x; x = x->next)
		running++;
	if (!browse_snap_id_ok(from) || !browse_snap_id_ok(to)) {
		fn(ud, request_id, NULL, "invalid", "from and to must be 8-64 hex digits");
		return;
	}
	if (running >= MAX_DIFFS) {
		fn(ud, request_id, NULL, "busy", "other diffs are running; try again");
		return;
	}
	struct diff *d = rm_xcalloc(1, sizeof *d);
	d->b = b;
	d->request_id = rm_xstrdup(request_id);
	d->fn = fn;
	d->ud = ud;
	d->max = max < 1 || max > DIFF_MAX_DEFAULT ? DIFF_MAX_DEFAULT : (size_t)max;
	d->added = json_array();
	d->removed = json_array();
	d->changed = json_array();
	const char *args[] = { "diff", "--json", from, to, NULL };
	struct rchild_opts o = { .loop = b->loop,
		                 .restic_path = b->restic_path,
		                 .state_dir = b->state_dir,
		                 .creds = creds,
		                 .args = args,
		                 .on_line = on_line,
		                 .on_done = on_done,
		                 .ud = d };
	int rc = rchild_start(&o, &d->child);
	if (rc) {
		fn(ud, request_id, NULL, rc == RM_ERR_INVAL ? "no_repository" : "restic_missing",
		   rc == RM_ERR_INVAL ? "no repository configured on the agent"
		                      : "restic is not available on the agent");
		diff_free(d);
		return;
	}
	d->next = b->diffs;
	b->diffs = d;
}

void browse_diffs_free(struct browse *b)
{
	while (b->diffs) {
		struct diff *d = b->diffs;
		b->diffs = d->next;
		rchild_detach(d->child);
		diff_free(d);
	}
}
