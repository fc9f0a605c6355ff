/* restic-manager-agent: CLI entry (enroll | run | --version). */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "agent/config.h"
#include "agent/enroll.h"
#include "agent/host.h"
#include "agent/upgrade.h"
#include "agent/ws/client.h"
#include "agent/version.h"
#include "common/crypto.h"
#include "common/err.h"
#include "common/log.h"

#ifndef RM_COMMIT
#define RM_COMMIT "unknown"
#endif
#ifndef RM_BUILD_DATE
#define RM_BUILD_DATE "unknown"
#endif

struct cli {
	const char *server, *token, *pin, *config, *state, *restic;
};

/* One table of options: long name, seed spelling, destination. */
struct opt {
	const char *name;
	const char *alt;
	size_t off;
};
static const struct opt opts[] = {
	{ "server", "enroll-server", offsetof(struct cli, server) },
	{ "token", "enroll-token", offsetof(struct cli, token) },
	{ "cert-pin", "tls-pin", offsetof(struct cli, pin) },
	{ "config", NULL, offsetof(struct cli, config) },
	{ "state-dir", NULL, offsetof(struct cli, state) },
	{ "restic", NULL, offsetof(struct cli, restic) },
};

static void usage(FILE *f)
{
	fputs("usage:\n"
	      "  restic-manager-agent enroll --server URL --token TOKEN [--cert-pin SHA256HEX]\n"
	      "                              [--config FILE] [--state-dir DIR] [--restic PATH]\n"
	      "  restic-manager-agent enroll --server URL [...]   (no token: prints this host's\n"
	      "                              key fingerprint and waits for an administrator)\n"
	      "  restic-manager-agent run [--config FILE] [--state-dir DIR] [--restic PATH]\n"
	      "  restic-manager-agent --version\n"
	      "defaults: --config " AGENT_DEFAULT_CONFIG " --state-dir " AGENT_DEFAULT_STATE_DIR
	      "\n",
	      f);
}

static void print_version(void)
{
	printf("restic-manager-agent %s (commit %s, built %s)\n", rm_agent_version, RM_COMMIT,
	       RM_BUILD_DATE);
}

/* Parses argv[i..]; accepts --name value, --name=value, -name value (seed style). */
static int parse_opts(int argc, char **argv, int i, struct cli *c)
{
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-') {
			fprintf(stderr, "unexpected argument: %s\n", a);
			return -1;
		}
		a += (a[1] == '-') ? 2 : 1;
		const char *eq = strchr(a, '=');
		size_t n = eq ? (size_t)(eq - a) : strlen(a);
		const struct opt *o = NULL;
		for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++) {
			if ((strlen(opts[k].name) == n && !strncmp(opts[k].name, a, n)) ||
			    (opts[k].alt && strlen(opts[k].alt) == n &&
			     !strncmp(opts[k].alt, a, n))) {
				o = &opts[k];
				break;
			}
		}
		if (!o) {
			fprintf(stderr, "unknown option: %s\n", argv[i]);
			return -1;
		}
		const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
		if (!v) {
			fprintf(stderr, "option %s needs a value\n", argv[i]);
			return -1;
		}
		*(const char **)(void *)((char *)c + o->off) = v;
	}
	return 0;
}

static long long env_num(const char *name, long long def, long long min, long long max)
{
	const char *v = getenv(name);
	long long n;
	if (!v || !*v)
		return def;
	if (rm_parse_i64(v, &n) || n < min || n > max) {
		RM_WARN("ignoring invalid environment value", "name", name, "value", v);
		return def;
	}
	return n;
}

/* ------------------------------------------------------------------ run */

static char *abs_path(const char *p)
{
	char cwd[4096];
	if (p[0] == '/' || !getcwd(cwd, sizeof cwd))
		return rm_xstrdup(p);
	return rm_xasprintf("%s/%s", cwd, p);
}

struct runctx {
	struct agent *agent;
	uv_signal_t sigterm, sigint, sighup;
};

static void close_signals(void *ud)
{
	struct runctx *rc = ud;
	if (uv_is_closing((uv_handle_t *)&rc->sigterm))
		return;
	uv_close((uv_handle_t *)&rc->sigterm, NULL);
	uv_close((uv_handle_t *)&rc->sigint, NULL);
	uv_close((uv_handle_t *)&rc->sighup, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct runctx *rc = h->data;
	if (signum == SIGHUP) {
		RM_INFO("SIGHUP ignored (restart the service to reload the config)");
		return;
	}
	RM_INFO("signal received; shutting down", "signal", signum == SIGTERM ? "TERM" : "INT");
	agent_stop(rc->agent);
	close_signals(rc);
}

static void start_signals(uv_loop_t *loop, struct runctx *r)
{
	uv_signal_init(loop, &r->sigterm);
	uv_signal_init(loop, &r->sigint);
	uv_signal_init(loop, &r->sighup);
	r->sigterm.data = r->sigint.data = r->sighup.data = r;
	uv_signal_start(&r->sigterm, on_signal, SIGTERM);
	uv_signal_start(&r->sigint, on_signal, SIGINT);
	uv_signal_start(&r->sighup, on_signal, SIGHUP);
	upgrade_set_restart_hook(close_signals, r); /* C6: an update stops the loop */
}

static int cmd_run(const struct cli *c)
{
	struct agent_config cfg = { 0 };
	char err[512];
	const char *cfgpath = c->config ? c->config : AGENT_DEFAULT_CONFIG;
	/* absolute: restic children and the runner may run elsewhere */
	char *state = abs_path(c->state ? c->state : AGENT_DEFAULT_STATE_DIR);
	int rc = agent_config_load(cfgpath, &cfg, err, sizeof err);
	if (rc) {
		RM_ERROR(rc == RM_ERR_NOTFOUND
		             ? "no agent config: enroll first "
		               "(restic-manager-agent enroll --server URL --token T)"
		             : "invalid agent config",
		         "path", cfgpath, "error", err);
		free(state);
		return 1;
	}
	enum rm_log_level lvl;
	const char *lv = getenv("RM_LOG_LEVEL");
	if (lv && !rm_log_level_parse(lv, &lvl))
		rm_log_set_level(lvl);
	else if (cfg.log_level && !rm_log_level_parse(cfg.log_level, &lvl))
		rm_log_set_level(lvl);

	/* restic discovery: --restic, config restic_path, PATH */
	char *restic = NULL;
	const char *want = c->restic ? c->restic : cfg.restic_path;
	if (want) {
		restic = host_find_in_path(want);
		if (!restic)
			RM_WARN("configured restic not executable; trying PATH", "path", want);
	}
	if (!restic)
		restic = host_find_in_path("restic");

	/* One malloc arena (the agent is single-threaded), and big blocks (1 MiB frames,
	 * restic output) through mmap, so they go back to the kernel when freed; a fixed
	 * threshold also stops glibc raising it after the first large free. */
	mallopt(M_ARENA_MAX, 1);
	mallopt(M_MMAP_THRESHOLD, 64 * 1024);

	uv_loop_t loop;
	uv_loop_init(&loop);
	struct runctx r = { 0 };
	struct agent_opts ao = {
		.loop = &loop,
		.cfg = &cfg,
		.state_dir = state,
		.restic_path = restic,
		.outbox_max = (size_t)env_num("RM_AGENT_OUTBOX_MAX", 0, 4096, 1LL << 40),
		.heartbeat_s = (unsigned)env_num("RM_AGENT_HEARTBEAT_S", 30, 1, 3600),
	};
	RM_INFO("agent starting", "version", rm_agent_version, "host_id", cfg.host_id, "server",
	        cfg.server_url, "state_dir", state);
	rc = agent_new(&ao, &r.agent);
	agent_config_cleanup(&cfg);
	free(restic);
	if (rc == RM_OK) {
		rc = agent_start(r.agent);
		if (rc)
			agent_stop(r.agent); /* the loop below drains what start left behind */
	}
	if (rc == RM_OK)
		start_signals(&loop, &r);
	uv_run(&loop, UV_RUN_DEFAULT);
	upgrade_set_restart_hook(NULL, NULL);
	agent_free(r.agent);
	uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&loop))
		RM_WARN("event loop closed with handles still open");
	RM_INFO(rc ? "agent exited with an error" : "agent stopped");
	free(state);
	if (upgrade_restart_requested())
		upgrade_restart_now(); /* returns only when no binary could be started */
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	upgrade_init(argc, argv);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-version") || !strcmp(cmd, "version")) {
		print_version();
		return 0;
	}
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	struct cli c = { 0 };
	int first = 2;
	if (cmd[0] == '-') { /* seed style: `agent -enroll-server URL -enroll-token T` */
		first = 1;
		cmd = NULL;
	}
	if (parse_opts(argc, argv, first, &c)) {
		usage(stderr);
		return 2;
	}
	if (!cmd)
		cmd = c.server || c.token ? "enroll" : "run";
	if (rm_crypto_init()) {
		RM_ERROR("libsodium initialisation failed");
		return 1;
	}
	if (!strcmp(cmd, "enroll")) {
		struct enroll_opts eo = {
			.server_url = c.server,
			.token = c.token,
			.cert_pin = c.pin,
			.config_path = c.config ? c.config : AGENT_DEFAULT_CONFIG,
			.state_dir = c.state ? c.state : AGENT_DEFAULT_STATE_DIR,
			.restic_path = c.restic,
		};
		return enroll_run(&eo) ? 1 : 0;
	}
	if (!strcmp(cmd, "run"))
		return cmd_run(&c);
	fprintf(stderr, "unknown command: %s\n", cmd);
	usage(stderr);
	return 2;
}
