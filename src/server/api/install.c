/* Agent distribution: /install/install.sh (embedded asset) and /agent/binary. */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/crypto.h"
#include "common/err.h"
#include "common/log.h"
#include "server/api/api.h"
#include "server/app.h"
#include "server/config.h"
#include "server/http/http.h"

#define AGENT_BINARY_MAX (256u * 1024 * 1024)

void api_install_sh(struct http_req *r, void *app)
{
	(void)app;
	for (size_t i = 0; i < web_assets_count; i++) {
		if (web_assets[i].path && strcmp(web_assets[i].path, "/install/install.sh") == 0) {
			http_resp_header(r, "cache-control", "no-store");
			http_respond_raw(r, 200, "text/x-shellscript; charset=utf-8",
			                 web_assets[i].data, web_assets[i].len);
			return;
		}
	}
	http_respond_error(r, 404, "not_found", "install script not available");
}

/* Allow-lists: nothing from the query reaches the filesystem except these constants. */
static const char *const os_allowed[] = {"linux", NULL};
static const char *const arch_allowed[] = {"amd64", "arm64", NULL};

static const char *pick(const char *const *list, const char *v)
{
	if (!v) return NULL;
	for (size_t i = 0; list[i]; i++)
		if (strcmp(list[i], v) == 0) return list[i];
	return NULL;
}

static const char *native_arch(void)
{
#if defined(__x86_64__)
	return "amd64";
#elif defined(__aarch64__)
	return "arm64";
#else
	return "unknown";
#endif
}

struct bin_work {
	uv_work_t w;
	struct app *app;
	struct http_req *r;
	char *path_specific; /* <dir>/restic-manager-agent-<os>-<arch> */
	char *path_native;   /* <dir>/restic-manager-agent, or NULL when arch differs */
	char *data;
	size_t len;
	int rc;
};

static void bin_work_cb(uv_work_t *w)
{
	struct bin_work *bw = w->data;
	bw->rc = rm_read_file(bw->path_specific, AGENT_BINARY_MAX, &bw->data, &bw->len);
	if (bw->rc && bw->path_native)
		bw->rc = rm_read_file(bw->path_native, AGENT_BINARY_MAX, &bw->data, &bw->len);
}

static void bin_after_cb(uv_work_t *w, int status)
{
	struct bin_work *bw = w->data;
	if (!bw->app->shutting_down && status == 0 && bw->rc == RM_OK && http_req_alive(bw->r)) {
		http_resp_header(bw->r, "content-disposition",
		                 "attachment; filename=\"restic-manager-agent\"");
		http_respond_take(bw->r, 200, "application/octet-stream", bw->data, bw->len);
		bw->data = NULL;
	} else {
		http_respond_error(bw->r, 404, "not_found", "agent binary not available");
	}
	free(bw->data);
	free(bw->path_specific);
	free(bw->path_native);
	free(bw);
}

void api_agent_binary(struct http_req *r, void *appv)
{
	struct app *app = appv;
	const char *os = pick(os_allowed, http_req_query(r, "os"));
	const char *arch = pick(arch_allowed, http_req_query(r, "arch"));
	if (!http_req_query(r, "os")) os = "linux";
	if (!http_req_query(r, "arch")) arch = native_arch();
	if (!os || !arch) {
		http_respond_error(r, 404, "not_found", "no agent binary for this os/arch");
		return;
	}
	struct bin_work *bw = rm_xcalloc(1, sizeof *bw);
	bw->w.data = bw;
	bw->app = app;
	bw->r = r;
	bw->path_specific = rm_xasprintf("%s/restic-manager-agent-%s-%s",
	                                 app->cfg->agent_binary_dir, os, arch);
	if (strcmp(os, "linux") == 0 && strcmp(arch, native_arch()) == 0)
		bw->path_native = rm_xasprintf("%s/restic-manager-agent", app->cfg->agent_binary_dir);
	http_req_defer(r);
	if (uv_queue_work(app->loop, &bw->w, bin_work_cb, bin_after_cb)) {
		bw->rc = RM_ERR_IO;
		bin_after_cb(&bw->w, 0);
	}
}
