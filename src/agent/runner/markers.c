/* Job markers: <state>/jobs/<job id>.json while restic runs, so that an agent that died
 * mid-job can clean up after itself on its next start (see runner_int.h). */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/runner/runner_int.h"
#include "common/crypto.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"

static char *marker_path(const struct runner *r, const char *job_id)
{
	return rm_xasprintf("%s/%s.json", r->jobs_dir, job_id);
}

void runner_marker_write(struct runner *r, const struct job *j, int pid)
{
	json_t *o = json_object();
	json_object_set_new(o, "pid", json_integer(pid));
	json_object_set_new(o, "kind", json_string(j->kind->name));
	json_object_set_new(o, "started_at", runner_now_str());
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	char *path = marker_path(r, j->id);
	int rc = s ? rm_write_file_atomic(path, s, strlen(s), 0600) : RM_ERR_NOMEM;
	if (rc)
		RM_WARN("cannot write job marker", "path", path, "error", rm_strerror(rc));
	free(path);
	free(s);
}

void runner_marker_remove(struct runner *r, const struct job *j)
{
	char *path = marker_path(r, j->id);
	if (unlink(path) != 0 && errno != ENOENT)
		RM_WARN("cannot remove job marker", "path", path, "error", strerror(errno));
	free(path);
}

static int proc_is_restic(long pid)
{
	char path[64];
	char *data = NULL;
	size_t len = 0;
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	if (rm_read_file(path, 65536, &data, &len) != RM_OK)
		return 0;
	int yes = memmem(data, len, "restic", 6) != NULL;
	free(data);
	return yes;
}

/* Leftover markers = a previous agent died mid-job. */
void runner_markers_recover(struct runner *r)
{
	DIR *d = opendir(r->jobs_dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		if (de->d_name[0] == '.')
			continue;
		char *path = rm_xasprintf("%s/%s", r->jobs_dir, de->d_name);
		if (n > 5 && strcmp(de->d_name + n - 5, ".json") == 0) {
			char *data = NULL;
			size_t len = 0;
			json_t *o = NULL;
			if (rm_read_file(path, 4096, &data, &len) == RM_OK)
				o = json_loadb(data, len, 0, NULL);
			long long pid = o ? rmj_int(o, "pid", 0) : 0;
			if (pid > 1 && pid < 1LL << 30 && proc_is_restic((long)pid)) {
				char pbuf[32];
				snprintf(pbuf, sizeof(pbuf), "%lld", pid);
				RM_WARN("killing restic left over by a previous agent", "pid", pbuf,
				        "marker", de->d_name);
				kill((pid_t)pid, SIGKILL);
			}
			RM_INFO("previous agent died mid-job; repository unlock scheduled",
			        "marker", de->d_name);
			json_decref(o);
			free(data);
			r->unlock_needed = 1;
		}
		unlink(path); /* also stale tmp files of atomic writes */
		free(path);
	}
	closedir(d);
}
