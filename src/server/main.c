/* restic-manager-server: config, data dir + secret key, store, bootstrap token, HTTP/WS
 * server on one libuv loop, graceful shutdown on SIGTERM/SIGINT. */
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <uv.h>

#include "common/crypto.h"
#include "common/err.h"
#include "common/log.h"
#include "common/rmtime.h"
#include "server/api/api.h"
#include "server/api/auth.h"
#include "server/http/router.h"
#include "server/app.h"
#include "server/config.h"
#include "server/engine/alerts.h"
#include "server/engine/rotation.h"
#include "server/engine/oidc.h"
#include "server/engine/download.h"
#include "server/engine/notify.h"
#include "server/engine/presence.h"
#include "server/engine/rpc.h"
#include "server/engine/sweeper.h"
#include "server/engine/throttle.h"
#include "server/engine/update.h"
#include "server/engine/announce.h"
#include "server/http/http.h"
#include "server/release.h"
#include "server/store/store.h"
#include "server/ws/agent_hub.h"
#include "server/ws/event_hub.h"
#include "server/ws/job_hub.h"

static struct app g_app;

/* Every agent holds a socket: raise the soft RLIMIT_NOFILE to the hard limit, capped at
 * 65536 (10,000 agents + browsers fit; the HTTP layer caps connections at 60,000). */
static void raise_nofile_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	rlim_t want = rl.rlim_max;
	if (want == RLIM_INFINITY || want > (rlim_t)65536)
		want = (rlim_t)65536;
	if (rl.rlim_cur >= want)
		return;
	rlim_t old = rl.rlim_cur;
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl)) {
		RM_WARN("cannot raise the open-files limit", "err", strerror(errno));
		return;
	}
	char from[32], to[32];
	snprintf(from, sizeof from, "%llu", (unsigned long long)old);
	snprintf(to, sizeof to, "%llu", (unsigned long long)want);
	RM_INFO("raised the open-files limit", "from", from, "to", to);
}
static struct sweeper *g_sweeper;
static uv_signal_t g_sigterm, g_sigint;

/* mkdir -p with mode 0700 for the last component (parents 0755). */
static int make_dirs(const char *path)
{
	char *p = rm_xstrdup(path);
	size_t n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		p[--n] = 0;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, 0755) && errno != EEXIST) {
			free(p);
			return RM_ERR_IO;
		}
		*s = '/';
	}
	int rc = RM_OK;
	if (mkdir(p, 0700) && errno != EEXIST)
		rc = RM_ERR_IO;
	if (!rc) {
		struct stat st;
		if (stat(p, &st) || !S_ISDIR(st.st_mode))
			rc = RM_ERR_IO;
	}
	free(p);
	return rc;
}

static int load_or_create_key(const char *path, uint8_t key[RM_KEY_BYTES])
{
	int rc = rm_keyfile_load(path, key);
	if (rc == RM_ERR_NOTFOUND) {
		rc = rm_keyfile_create(path, key);
		if (rc == RM_ERR_CONFLICT)
			return rm_keyfile_load(path, key);
		if (!rc)
			RM_INFO("created secret key file", "path", path);
	}
	return rc;
}

static void begin_shutdown(void)
{
	struct app *app = &g_app;
	if (app->shutting_down)
		return;
	app->shutting_down = 1;
	RM_INFO("shutting down");
	uv_signal_stop(&g_sigterm);
	uv_signal_stop(&g_sigint);
	uv_close((uv_handle_t *)&g_sigterm, NULL);
	uv_close((uv_handle_t *)&g_sigint, NULL);
	sweeper_stop(g_sweeper);
	g_sweeper = NULL;
	update_stop(app);
	/* persist what agents sent (flush batches) before their sockets go */
	agent_hub_stop(app->agents);
	alerts_stop(app->alerts); /* evaluates what was flushed; answers channel tests waiting */
	rotation_engine_stop(app);
	event_hub_stop(app->events);
	http_server_stop(app->http);
	app->http = NULL;
	rpc_stop(app->rpc);
}

static void on_signal(uv_signal_t *s, int signum)
{
	(void)s;
	RM_INFO("signal received", "signal", signum == SIGTERM ? "SIGTERM" : "SIGINT");
	begin_shutdown();
}

static void close_walk_cb(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* --print-routes: the route table as JSON lines with the role actually enforced, so tests
 * can check every route for 401/403 without a second list to keep in sync. */
static void print_routes(void)
{
	size_t n = 0;
	const struct route *rt = api_routes(&n);
	for (size_t i = 0; i < n; i++)
		printf("{\"method\":\"%s\",\"pattern\":\"%s\",\"role\":\"%s\"}\n", rt[i].method,
		       rt[i].pattern, auth_role_name(auth_effective_role(&rt[i])));
}

/* Command line: returns -1 to go on, else the exit code (--version, --help, errors). */
static int parse_args(int argc, char **argv, const char **config_path, int *print_config)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--version") == 0 || strcmp(a, "-v") == 0) {
			printf("restic-manager-server %s (commit %s, built %s)\n", RM_VERSION,
			       RM_COMMIT, RM_BUILD_DATE);
			return 0;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			config_usage(stdout, argv[0]);
			return 0;
		} else if (strcmp(a, "--print-config") == 0) {
			*print_config = 1;
		} else if (strcmp(a, "--print-routes") == 0) {
			print_routes();
			return 0;
		} else if (strcmp(a, "--config") == 0 && i + 1 < argc) {
			*config_path = argv[++i];
		} else if (strncmp(a, "--config=", 9) == 0) {
			*config_path = a + 9;
		} else {
			fprintf(stderr, "unknown argument: %s\n", a);
			config_usage(stderr, argv[0]);
			return 2;
		}
	}
	return -1;
}

/* Data dir, secret key, database, bootstrap token. RM_OK or logged error. */
static int open_state(struct app *app, struct server_config *cfg)
{
	if (make_dirs(cfg->data_dir)) {
		RM_ERROR("cannot create data directory", "path", cfg->data_dir, "err",
		         strerror(errno));
		return RM_ERR_IO;
	}
	int rc = load_or_create_key(cfg->secret_key_file, app->key);
	if (rc) {
		RM_ERROR("cannot use secret key file (refusing to start; it is never overwritten)",
		         "path", cfg->secret_key_file, "err", rm_strerror(rc));
		return rc;
	}
	char *db_path = rm_xasprintf("%s/restic-manager.db", cfg->data_dir);
	rc = store_open(db_path, &app->store);
	if (rc)
		RM_ERROR("cannot open database", "path", db_path, "err", rm_strerror(rc));
	free(db_path);
	if (rc)
		return rc;
	/* no agent is connected yet, whatever the last run left behind */
	rc = store_hosts_mark_stale_offline(app->store, rm_now_ms() + 1000, NULL);
	if (rc)
		RM_WARN("cannot reset host status", "err", rm_strerror(rc));
	rc = api_bootstrap_prepare(app);
	if (rc)
		RM_ERROR("cannot prepare bootstrap", "err", rm_strerror(rc));
	return rc;
}

/* Hubs, sweeper, HTTP server and signals on the loop, then runs it until shutdown.
 * RM_OK after a clean stop. */
static int serve(struct app *app, struct server_config *cfg, uv_loop_t *loop)
{
	char err[512];
	app->loop = loop;
	app->notify = notify_new();
	app->throttle = throttle_new();
	app->announce = announce_limiter_new();
	app->presence = presence_new();
	app->rpc = rpc_new(app);
	app->agents = agent_hub_new(app);
	app->jobs = job_hub_new(app);
	app->events = event_hub_new(app);
	g_sweeper = sweeper_start(app);
	alerts_start(app);
	update_start(app);
	rotation_engine_start(app);

	struct ws_endpoint endpoints[3];
	endpoints[0] = *agent_hub_endpoint();
	endpoints[1] = *job_hub_endpoint();
	endpoints[2] = *event_hub_endpoint();
	struct http_server_opts opts = {
		.listen_host = cfg->listen_host,
		.listen_port = cfg->listen_port,
		.app = app,
		.dispatch = api_dispatch,
		.is_api_path = api_is_api_path,
		.trusted_proxy = cfg->trusted_proxy,
		.endpoints = endpoints,
		.n_endpoints = 3,
	};
	raise_nofile_limit();
	int rc = http_server_start(loop, &opts, &app->http, err, sizeof err);
	if (rc) {
		RM_ERROR("cannot start HTTP server", "listen", cfg->listen, "err", err);
		app->shutting_down = 1;
		sweeper_stop(g_sweeper);
		alerts_stop(app->alerts);
		update_stop(app);
		rotation_engine_stop(app);
		agent_hub_stop(app->agents);
		event_hub_stop(app->events);
		uv_run(loop, UV_RUN_DEFAULT);
		return rc;
	}
	char addr[300];
	if (strchr(cfg->listen_host, ':'))
		snprintf(addr, sizeof addr, "[%s]:%d", cfg->listen_host, cfg->listen_port);
	else
		snprintf(addr, sizeof addr, "%s:%d", cfg->listen_host, cfg->listen_port);
	RM_INFO("listening", "addr", addr, "base_url", cfg->base_url, "version", RM_VERSION);

	uv_signal_init(loop, &g_sigterm);
	uv_signal_init(loop, &g_sigint);
	uv_signal_start(&g_sigterm, on_signal, SIGTERM);
	uv_signal_start(&g_sigint, on_signal, SIGINT);
	uv_run(loop, UV_RUN_DEFAULT);
	RM_INFO("stopped");
	return RM_OK;
}

int main(int argc, char **argv)
{
	const char *config_path = NULL;
	int print_config = 0;
	int rc = release_tool_main(argc, argv);
	if (rc >= 0)
		return rc;
	rc = parse_args(argc, argv, &config_path, &print_config);
	if (rc >= 0)
		return rc;

	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "error: cannot initialise libcurl\n");
		return 1;
	}
	if (rm_crypto_init()) {
		fprintf(stderr, "error: cannot initialise libsodium\n");
		return 1;
	}
	struct server_config cfg;
	char err[512];
	if (config_load(&cfg, config_path, err, sizeof err)) {
		fprintf(stderr, "error: configuration: %s\n", err);
		return 2;
	}
	if (print_config) {
		config_print(&cfg, stdout);
		config_cleanup(&cfg);
		return 0;
	}
	enum rm_log_level lvl = RM_LOG_INFO;
	rm_log_level_parse(cfg.log_level, &lvl);
	rm_log_set_level(lvl);
	if (cfg.metrics_token[0])
		rm_log_add_secret(cfg.metrics_token);
	if (oidc_create(&cfg, &g_app.oidc, err, sizeof err)) {
		fprintf(stderr, "error: configuration: %s\n", err);
		config_cleanup(&cfg);
		return 2;
	}
	if (cfg.local_login_break_glass)
		RM_WARN("break glass: password sign-in forced on (RM_LOCAL_LOGIN_BREAK_GLASS)");

	int exit_code = 1;
	struct app *app = &g_app;
	uv_loop_t loop;
	app->cfg = &cfg;
	if (open_state(app, &cfg) == RM_OK) {
		if (uv_loop_init(&loop)) {
			RM_ERROR("cannot initialise the event loop");
		} else {
			if (serve(app, &cfg, &loop) == RM_OK)
				exit_code = 0;
			if (uv_loop_close(&loop) == UV_EBUSY) {
				uv_walk(&loop, close_walk_cb, NULL);
				uv_run(&loop, UV_RUN_DEFAULT);
				uv_loop_close(&loop);
			}
		}
	}
	alerts_free(app->alerts);
	update_free(app);
	rotation_engine_free(app);
	agent_hub_free(app->agents);
	job_hub_free(app->jobs);
	event_hub_free(app->events);
	api_cache_free(app);
	api_agent_binary_cleanup();
	rpc_free(app->rpc);
	dl_free_all(app);
	presence_free(app->presence);
	notify_free(app->notify);
	throttle_free(app->throttle);
	announce_limiter_free(app->announce);
	oidc_free(app->oidc);
	store_close(app->store);
	sodium_memzero(app->key, sizeof app->key);
	config_cleanup(&cfg);
	rm_log_clear_secrets();
	curl_global_cleanup();
	return exit_code;
}
