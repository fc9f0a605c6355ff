/* api/: the cached GET /api/hosts body is rebuilt after a host/job change announced
 * through engine/notify, and not because some non-GET request passed by (a failed agent
 * enrollment used to invalidate it, like every POST). The http.h request functions are
 * link-time stubs defined here; the store is an in-memory SQLite. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "server/api/api.h"
#include "server/app.h"
#include "server/config.h"
#include "server/engine/notify.h"
#include "server/engine/presence.h"
#include "server/http/http.h"
#include "server/store/store.h"
#include "tap.h"

/* ------------------------------------------------------------------ stub requests */

struct http_req {
	const char *method, *path, *body;
	const char *limit; /* the "limit" query parameter */
	char param_name[32], param[128];
	void *ctx;
	void (*ctx_free)(void *);
	int status;
	char *out;
};

const char *http_req_method(const struct http_req *r)
{
	return r->method;
}
const char *http_req_path(const struct http_req *r)
{
	return r->path;
}
const char *http_req_query(const struct http_req *r, const char *name)
{
	return strcmp(name, "limit") == 0 ? r->limit : NULL;
}
const char *http_req_header(const struct http_req *r, const char *name)
{
	return strcmp(name, "content-type") == 0 ? "application/json" : NULL;
}
const char *http_req_cookie(const struct http_req *r, const char *name)
{
	return NULL;
}
int http_req_accepts_gzip(const struct http_req *r)
{
	return 0;
}
const char *http_req_body(const struct http_req *r, size_t *len)
{
	*len = r->body ? strlen(r->body) : 0;
	return r->body;
}
const char *http_req_remote_ip(const struct http_req *r)
{
	return "127.0.0.1";
}
const char *http_req_param(const struct http_req *r, const char *name)
{
	return strcmp(r->param_name, name) == 0 ? r->param : NULL;
}
void http_req_set_param(struct http_req *r, const char *name, const char *value)
{
	rm_strlcpy(r->param_name, name, sizeof r->param_name);
	rm_strlcpy(r->param, value, sizeof r->param);
}
void http_req_set_ctx(struct http_req *r, void *ctx, void (*free_fn)(void *))
{
	r->ctx = ctx;
	r->ctx_free = free_fn;
}
void *http_req_ctx(const struct http_req *r)
{
	return r->ctx;
}
void http_req_defer(struct http_req *r)
{
}
int http_req_alive(const struct http_req *r)
{
	return 1;
}
void http_resp_header(struct http_req *r, const char *name, const char *value)
{
}

void http_respond_raw(struct http_req *r, int status, const char *content_type, const void *data,
                      size_t len)
{
	r->status = status;
	free(r->out);
	r->out = rm_xstrndup(data, len);
}
void http_respond_take(struct http_req *r, int status, const char *content_type, void *data,
                       size_t len)
{
	http_respond_raw(r, status, content_type, data, len);
	free(data);
}
void http_respond_json(struct http_req *r, int status, json_t *body_take)
{
	char *s = body_take ? rmj_dumps(body_take) : rm_xstrdup("");
	json_decref(body_take);
	http_respond_raw(r, status, "application/json", s, strlen(s));
	free(s);
}
void http_respond_error(struct http_req *r, int status, const char *code, const char *fmt, ...)
{
	(void)fmt;
	http_respond_json(r, status, json_pack("{s:s}", "code", code));
}

/* streamed responses (log downloads, the agent binary): not used by this test */
void http_respond_stream(struct http_req *r, int status, const char *content_type, long long length,
                         http_pull_fn pull, void *stream_ctx, void (*stream_free)(void *))
{
	if (stream_free)
		stream_free(stream_ctx);
	http_respond_error(r, 501, "not_implemented", "streaming not stubbed");
}
void http_stream_write(struct http_req *r, const void *data, size_t len)
{
}
void http_stream_write_ref(struct http_req *r, const void *data, size_t len)
{
}
void http_stream_write_take(struct http_req *r, void *data, size_t len)
{
	free(data);
}
void http_stream_end(struct http_req *r)
{
}
void http_stream_abort(struct http_req *r) /* C3 downloads (api/download.c) */
{
}

static void req_done(struct http_req *r)
{
	if (r->ctx_free)
		r->ctx_free(r->ctx);
	free(r->out);
	memset(r, 0, sizeof *r);
}

/* ------------------------------------------------------------------ tests */

static struct app app;
static struct server_config cfg;

static size_t hosts_in_list(void)
{
	struct http_req r = { .method = "GET", .path = "/api/hosts" };
	api_hosts_list(&r, &app);
	json_t *o = r.status == 200 ? json_loads(r.out, 0, NULL) : NULL;
	size_t n = json_array_size(json_object_get(o, "hosts"));
	json_decref(o);
	req_done(&r);
	return n;
}

TEST(hosts_cache_follows_notify_only)
{
	char id[27];
	EQ_INT(store_host_create(app.store, "alpha", NULL, NULL, "b1", id), RM_OK);
	EQ_INT(hosts_in_list(), 1);
	/* a change nobody announced: the cached body stands (for at most its 1 s) */
	EQ_INT(store_host_create(app.store, "beta", NULL, NULL, "b2", id), RM_OK);
	EQ_INT(hosts_in_list(), 1);
	/* a failing mutating request is no change */
	struct http_req r = { .method = "POST",
		              .path = "/api/agents/enroll",
		              .body = "{\"token\":\"no-such-token\"}" };
	api_dispatch(&r, &app);
	EQ_INT(r.status, 401);
	req_done(&r);
	EQ_INT(hosts_in_list(), 1);
	/* an announced change rebuilds it */
	notify_host_changed(app.notify, id);
	EQ_INT(hosts_in_list(), 2);
	EQ_INT(store_host_create(app.store, "gamma", NULL, NULL, "b3", id), RM_OK);
	notify_job_changed(app.notify, "some-job"); /* last_backup / running_job live there */
	EQ_INT(hosts_in_list(), 3);
}

/* GET /api/hosts?limit=N: the first N by name, case-insensitively, and the fleet's size;
 * a bad limit is a 400 */
TEST(hosts_first_page)
{
	char id[27];
	EQ_INT(store_host_create(app.store, "Delta", NULL, NULL, "b4", id), RM_OK);
	struct http_req r = { .method = "GET", .path = "/api/hosts", .limit = "2" };
	api_hosts_list(&r, &app);
	EQ_INT(r.status, 200);
	json_t *o = json_loads(r.out, 0, NULL);
	json_t *hosts = json_object_get(o, "hosts");
	EQ_INT(json_array_size(hosts), 2);
	EQ_STR(json_string_value(json_object_get(json_array_get(hosts, 0), "hostname")), "alpha");
	EQ_STR(json_string_value(json_object_get(json_array_get(hosts, 1), "hostname")), "beta");
	EQ_INT(json_integer_value(json_object_get(o, "total")), 4);
	json_decref(o);
	req_done(&r);
	r = (struct http_req){ .method = "GET", .path = "/api/hosts", .limit = "10" };
	api_hosts_list(&r, &app);
	o = json_loads(r.out, 0, NULL);
	hosts = json_object_get(o, "hosts");
	EQ_INT(json_array_size(hosts), 4);
	EQ_STR(json_string_value(json_object_get(json_array_get(hosts, 2), "hostname")), "Delta");
	json_decref(o);
	req_done(&r);
	const char *bad[] = { "0", "1001", "abc", "", "-1", "2x" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		r = (struct http_req){ .method = "GET", .path = "/api/hosts", .limit = bad[i] };
		api_hosts_list(&r, &app);
		EQ_INT(r.status, 400);
		req_done(&r);
	}
}

int main(void)
{
	rm_log_set_level(RM_LOG_ERROR);
	config_init(&cfg);
	app.cfg = &cfg;
	if (store_open(":memory:", &app.store))
		return 1;
	app.notify = notify_new();
	app.presence = presence_new();
	RUN(hosts_cache_follows_notify_only);
	RUN(hosts_first_page);
	api_cache_free(&app);
	presence_free(app.presence);
	notify_free(app.notify);
	store_close(app.store);
	config_cleanup(&cfg);
	return tap_done();
}
