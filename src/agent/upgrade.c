/* Agent self-update: pinned release key, update marker, restart with a rollback watchdog
 * (see upgrade.h and docs/internals/agent.md "Updates"). */
#include "agent/upgrade.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/rmtime.h"

#define MARKER "update.json"
#define KEYFILE "update-release.pub"

static char **g_argv;
static char g_exe[PATH_MAX];
static char g_state[PATH_MAX];
static int g_restart;
static void (*g_hook)(void *);
static void *g_hook_ud;

/* ---------------------------------------------------------------- marker */

int upgrade_marker_read(const char *state_dir, struct upgrade_marker *out)
{
	char *path = rm_xasprintf("%s/" MARKER, state_dir);
	char *data = NULL;
	size_t len = 0;
	int rc = rm_read_file(path, 8192, &data, &len);
	free(path);
	if (rc)
		return rc == RM_ERR_NOTFOUND ? rc : RM_ERR_INVAL;
	json_t *o = NULL;
	rc = rmj_parse_object(data, len, 8192, &o, NULL, 0) ? RM_ERR_INVAL : RM_OK;
	free(data);
	if (rc)
		return rc;
	struct upgrade_marker m;
	memset(&m, 0, sizeof m);
	const char *s;
	if ((s = rmj_str(o, "update_id")))
		rm_strlcpy(m.update_id, s, sizeof m.update_id);
	if ((s = rmj_str(o, "from")))
		rm_strlcpy(m.from, s, sizeof m.from);
	if ((s = rmj_str(o, "to")))
		rm_strlcpy(m.to, s, sizeof m.to);
	if ((s = rmj_str(o, "state")))
		rm_strlcpy(m.state, s, sizeof m.state);
	if ((s = rmj_str(o, "error")))
		rm_strlcpy(m.error, s, sizeof m.error);
	m.deadline_ms = rmj_int(o, "deadline_ms", 0);
	json_decref(o);
	if (!m.update_id[0] || !m.state[0])
		return RM_ERR_INVAL;
	*out = m;
	return RM_OK;
}

int upgrade_marker_write(const char *state_dir, const struct upgrade_marker *m)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:I,s:s}", "update_id", m->update_id, "from",
	                      m->from, "to", m->to, "state", m->state, "deadline_ms",
	                      (json_int_t)m->deadline_ms, "error", m->error);
	char *text = rmj_dumps(o);
	json_decref(o);
	char *path = rm_xasprintf("%s/" MARKER, state_dir);
	int rc = rm_write_file_atomic(path, text, strlen(text), 0600);
	free(path);
	free(text);
	return rc;
}

void upgrade_marker_remove(const char *state_dir)
{
	char *path = rm_xasprintf("%s/" MARKER, state_dir);
	unlink(path);
	free(path);
}

/* ---------------------------------------------------------------- key */

int upgrade_key_load(const char *state_dir, char **b64)
{
	char *path = rm_xasprintf("%s/" KEYFILE, state_dir);
	int rc = rm_release_pubkey_load(path, b64);
	free(path);
	return rc == RM_ERR_NOTFOUND ? rc : rc ? RM_ERR_INVAL : RM_OK;
}

int upgrade_key_pin(const char *state_dir, const char *b64, int replace)
{
	uint8_t pk[RM_RELEASE_PK_BYTES];
	if (!b64 || rm_release_b64_decode(b64, pk, sizeof pk))
		return RM_ERR_INVAL;
	char *cur = NULL;
	if (!replace && upgrade_key_load(state_dir, &cur) == RM_OK) {
		int same = !strcmp(cur, b64);
		free(cur);
		return same ? RM_OK : RM_ERR_CONFLICT;
	}
	char *path = rm_xasprintf("%s/" KEYFILE, state_dir);
	char *line = rm_xasprintf("%s\n", b64);
	int rc = rm_write_file_atomic(path, line, strlen(line), 0600);
	free(path);
	free(line);
	return rc;
}

/* ---------------------------------------------------------------- restart */

void upgrade_init(int argc, char **argv)
{
	(void)argc;
	g_argv = argv;
	ssize_t n = readlink("/proc/self/exe", g_exe, sizeof g_exe - 1);
	g_exe[n > 0 ? n : 0] = 0;
}

const char *upgrade_exe_path(void)
{
	return g_exe;
}

int upgrade_confirm_s(void)
{
	const char *v = getenv("RM_AGENT_UPDATE_CONFIRM_S");
	long long n;
	if (v && *v && !rm_parse_i64(v, &n) && n >= 5 && n <= 3600)
		return (int)n;
	return 90;
}

void upgrade_set_restart_hook(void (*hook)(void *ud), void *ud)
{
	g_hook = hook;
	g_hook_ud = ud;
}

void upgrade_request_restart(const char *state_dir)
{
	rm_strlcpy(g_state, state_dir, sizeof g_state);
	g_restart = 1;
	if (g_hook)
		g_hook(g_hook_ud);
}

int upgrade_restart_requested(void)
{
	return g_restart;
}

/* Puts <exe>.prev back over <exe> and marks the marker rolled back. */
static void restore_prev(const char *why)
{
	char prev[PATH_MAX + 8];
	snprintf(prev, sizeof prev, "%s.prev", g_exe);
	if (rename(prev, g_exe))
		RM_ERROR("rollback: cannot restore the previous agent binary", "path", prev,
		         "error", strerror(errno));
	else
		RM_WARN("rolled back to the previous agent binary", "reason", why);
	struct upgrade_marker m;
	if (upgrade_marker_read(g_state, &m) == RM_OK) {
		rm_strlcpy(m.state, "rolled_back", sizeof m.state);
		rm_strlcpy(m.error, why, sizeof m.error);
		upgrade_marker_write(g_state, &m);
	}
}

/* The watchdog: old code, its own process (grandchild of the agent, so the new binary
 * has no child to reap). Waits for the new binary to confirm (marker removed) until the
 * deadline or the agent's death; else restores the previous binary, stops the new one
 * and starts the old one again (under systemd: exits, Restart=always starts the restored
 * binary). Never returns. */
static void watchdog(pid_t agent, const char *update_id)
{
	int alive = 1;
	char why[200];
	for (;;) {
		struct upgrade_marker m;
		if (upgrade_marker_read(g_state, &m) != RM_OK ||
		    strcmp(m.state, "restarting") != 0 || strcmp(m.update_id, update_id) != 0)
			_exit(0); /* confirmed (or superseded) */
		alive = kill(agent, 0) == 0;
		if (!alive) {
			snprintf(why, sizeof why,
			         "the new agent (version %s) exited before it "
			         "connected",
			         m.to);
			break;
		}
		if (rm_now_ms() >= m.deadline_ms) {
			snprintf(why, sizeof why,
			         "the new agent (version %s) did not connect within "
			         "%d s",
			         m.to, upgrade_confirm_s());
			break;
		}
		struct timespec ts = { 0, 250 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	/* the new binary may have confirmed in the last instant: look once more */
	struct upgrade_marker last;
	if (upgrade_marker_read(g_state, &last) != RM_OK || strcmp(last.state, "restarting") != 0)
		_exit(0);
	restore_prev(why);
	if (alive) {
		kill(agent, SIGKILL);
		for (int i = 0; i < 200 && kill(agent, 0) == 0; i++) {
			struct timespec ts = { 0, 25 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	if (getenv("INVOCATION_ID")) /* systemd restarts the unit with the restored file */
		_exit(0);
	execv(g_exe, g_argv);
	RM_ERROR("rollback: cannot start the previous agent binary", "error", strerror(errno));
	_exit(1);
}

void upgrade_restart_now(void)
{
	struct upgrade_marker m;
	char uid[65] = "";
	if (upgrade_marker_read(g_state, &m) == RM_OK)
		rm_strlcpy(uid, m.update_id, sizeof uid);
	pid_t agent = getpid();
	fflush(NULL);
	pid_t c = fork();
	if (c == 0) {
		if (fork() != 0)
			_exit(0);
		/* nothing of the agent's sockets and files stays open in the watchdog */
		close_range(3, ~0U, 0);
		watchdog(agent, uid);
	}
	if (c > 0)
		waitpid(c, NULL, 0);
	else
		RM_WARN("cannot start the update watchdog (no rollback)", "error", strerror(errno));
	/* the new image starts clean: no socket, pipe or file of this one survives */
	close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	RM_INFO("restarting into the updated agent", "exe", g_exe);
	execv(g_exe, g_argv);
	int e = errno;
	RM_ERROR("cannot start the updated agent", "exe", g_exe, "error", strerror(e));
	restore_prev("the updated agent binary could not be started");
	execv(g_exe, g_argv); /* the previous binary, back in place */
	RM_ERROR("cannot start the previous agent binary", "exe", g_exe, "error", strerror(errno));
}
