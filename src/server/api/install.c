/* Agent distribution: /install/install.sh (embedded asset), /agent/binary and /agent/deb. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/err.h"
#include "common/manifest.h"
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
const char *const api_agent_oses[] = { "linux", NULL };
const char *const api_agent_arches[] = { "amd64", "arm64", NULL };

const char *api_pick_allowed(const char *const *list, const char *v)
{
	if (!v)
		return NULL;
	for (size_t i = 0; list[i]; i++)
		if (strcmp(list[i], v) == 0)
			return list[i];
	return NULL;
}

/* The binary is served from one shared read-only mapping per file (not a buffer per
 * request), in chunks as each socket drains, with a cap on concurrent downloads: a
 * thousand clients that never read cost a thousand sockets, not a thousand copies. A
 * mapping is replaced when the file on disk changes (new release) and unmapped when its
 * last download ends. */
#define AGENT_DOWNLOADS_MAX 256
#define BIN_CHUNK (256 * 1024)

struct bin_map {
	char *path;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	unsigned char *data;
	size_t len;
	int refs; /* downloads + 1 while it is the current mapping of path */
};

static struct bin_map *g_maps[2]; /* current mapping per path (specific, native) */
static int g_downloads;

static void bin_map_unref(struct bin_map *m)
{
	if (!m || --m->refs)
		return;
	if (m->data)
		munmap(m->data, m->len);
	free(m->path);
	free(m);
}

static int same_file(const struct bin_map *m, const struct stat *st)
{
	return m && m->dev == st->st_dev && m->ino == st->st_ino && m->size == st->st_size &&
	       m->mtime.tv_sec == st->st_mtim.tv_sec && m->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* The current mapping of path, (re)mapped when the file changed. Runs on the loop: stat
 * and mmap are cheap; the pages are read ahead asynchronously (MADV_WILLNEED) and stay in
 * the page cache, shared by every download. NULL when the file is missing or unusable. */
static struct bin_map *bin_map_get(int slot, const char *path)
{
	struct stat st;
	if (stat(path, &st) || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (unsigned long long)st.st_size > AGENT_BINARY_MAX)
		return NULL;
	struct bin_map *cur = g_maps[slot];
	if (cur && strcmp(cur->path, path) == 0 && same_file(cur, &st))
		return cur;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	void *p = MAP_FAILED;
	if (fstat(fd, &st) == 0 && st.st_size > 0 &&
	    (unsigned long long)st.st_size <= AGENT_BINARY_MAX)
		p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return NULL;
	madvise(p, (size_t)st.st_size, MADV_WILLNEED);
	struct bin_map *m = rm_xcalloc(1, sizeof *m);
	m->path = rm_xstrdup(path);
	m->dev = st.st_dev;
	m->ino = st.st_ino;
	m->size = st.st_size;
	m->mtime = st.st_mtim;
	m->data = p;
	m->len = (size_t)st.st_size;
	m->refs = 1;        /* the g_maps reference; downloads add theirs */
	bin_map_unref(cur); /* an older release lives on until its downloads end */
	g_maps[slot] = m;
	return m;
}

struct bin_dl {
	struct bin_map *m;
	size_t off;
};

static void bin_dl_free(void *p)
{
	struct bin_dl *d = p;
	bin_map_unref(d->m);
	g_downloads--;
	free(d);
}

static void bin_pull(struct http_req *r, void *ctxv)
{
	struct bin_dl *d = ctxv;
	size_t n = d->m->len - d->off;
	if (n > BIN_CHUNK)
		n = BIN_CHUNK;
	http_stream_write_ref(r, d->m->data + d->off, n);
	d->off += n;
	if (d->off >= d->m->len)
		http_stream_end(r);
}

void api_agent_binary(struct http_req *r, void *appv)
{
	struct app *app = appv;
	const char *os = api_pick_allowed(api_agent_oses, http_req_query(r, "os"));
	const char *arch = api_pick_allowed(api_agent_arches, http_req_query(r, "arch"));
	if (!http_req_query(r, "os"))
		os = "linux";
	if (!http_req_query(r, "arch"))
		arch = rm_release_native_arch();
	if (!os || !arch) {
		http_respond_error(r, 404, "not_found", "no agent binary for this os/arch");
		return;
	}
	if (g_downloads >= AGENT_DOWNLOADS_MAX) {
		http_resp_header(r, "retry-after", "5");
		http_respond_error(r, 503, "busy",
		                   "too many agent downloads at once; retry shortly");
		return;
	}
	char *specific =
	    rm_xasprintf("%s/restic-manager-agent-%s-%s", app->cfg->agent_binary_dir, os, arch);
	struct bin_map *m = bin_map_get(0, specific);
	free(specific);
	if (!m && strcmp(os, "linux") == 0 && strcmp(arch, rm_release_native_arch()) == 0) {
		char *native = rm_xasprintf("%s/restic-manager-agent", app->cfg->agent_binary_dir);
		m = bin_map_get(1, native);
		free(native);
	}
	if (!m) {
		http_respond_error(r, 404, "not_found", "agent binary not available");
		return;
	}
	struct bin_dl *d = rm_xcalloc(1, sizeof *d);
	d->m = m;
	m->refs++;
	g_downloads++;
	http_resp_header(r, "content-disposition", "attachment; filename=\"restic-manager-agent\"");
	http_resp_header(r, "cache-control", "no-store");
	http_respond_stream(r, 200, "application/octet-stream", (long long)m->len, bin_pull, d,
	                    bin_dl_free);
}

void api_agent_binary_cleanup(void)
{
	for (int i = 0; i < 2; i++) {
		bin_map_unref(g_maps[i]);
		g_maps[i] = NULL;
	}
}

/* GET /agent/deb?arch=amd64|arm64: <agent_binary_dir>/restic-manager-agent-linux-<arch>.deb
 * (copy the package `make deb` built there). Small (~100 KiB): read whole. */
#define AGENT_DEB_MAX (64u * 1024 * 1024)
void api_agent_deb(struct http_req *r, void *appv)
{
	struct app *app = appv;
	const char *q = http_req_query(r, "arch");
	const char *arch = q ? api_pick_allowed(api_agent_arches, q) : rm_release_native_arch();
	if (!arch) {
		http_respond_error(r, 404, "not_found", "no agent package for this arch");
		return;
	}
	char *path =
	    rm_xasprintf("%s/restic-manager-agent-linux-%s.deb", app->cfg->agent_binary_dir, arch);
	char *data = NULL;
	size_t len = 0;
	int rc = rm_read_file(path, AGENT_DEB_MAX, &data, &len);
	free(path);
	if (rc || len == 0) {
		free(data);
		http_respond_error(r, 404, "not_found", "agent package not available");
		return;
	}
	char disp[96];
	snprintf(disp, sizeof disp, "attachment; filename=\"restic-manager-agent_%s.deb\"", arch);
	http_resp_header(r, "content-disposition", disp);
	http_resp_header(r, "cache-control", "no-store");
	http_respond_take(r, 200, "application/vnd.debian.binary-package", data, len);
}
