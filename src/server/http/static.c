/* The embedded single-page app: ETag (FNV-1a of the content), pre-compressed gzip
 * variants, immutable hashed assets, SPA fallback to index.html. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "server/http/http_int.h"

static uint64_t fnv1a(const unsigned char *d, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= d[i];
		h *= 1099511628211ULL;
	}
	return h;
}

void static_etags_init(struct http_server *s)
{
	s->etags = rm_xcalloc(web_assets_count ? web_assets_count : 1, sizeof(*s->etags));
	for (size_t i = 0; i < web_assets_count; i++)
		snprintf(s->etags[i], sizeof(s->etags[i]), "%016llx",
		         (unsigned long long)fnv1a(web_assets[i].data, web_assets[i].len));
}

static const struct web_asset *asset_find(const char *path, size_t *idx)
{
	for (size_t i = 0; i < web_assets_count; i++)
		if (web_assets[i].path && strcmp(web_assets[i].path, path) == 0) {
			*idx = i;
			return &web_assets[i];
		}
	return NULL;
}

void static_serve(struct http_req *r)
{
	struct http_server *s = r->srv;
	const struct web_asset *a;
	size_t idx = 0;
	const char *p = r->path;
	const char *last;
	char etag[32];
	int gz;

	if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
		http_resp_header(r, "allow", "GET, HEAD");
		http_respond_error(r, 405, "method_not_allowed", "method not allowed");
		return;
	}
	if (!http_static_path_safe(p)) {
		http_respond_error(r, 400, "bad_path", "invalid path");
		return;
	}
	if (strcmp(p, "/") == 0)
		p = "/index.html";
	a = asset_find(p, &idx);
	if (!a) {
		last = strrchr(p, '/');
		if (strchr(last ? last : p, '.')) {
			http_respond_error(r, 404, "not_found", "not found");
			return;
		}
		a = asset_find("/index.html", &idx);
		if (!a) {
			http_respond_error(r, 404, "not_found", "not found");
			return;
		}
	}
	gz = a->gz && a->gz_len && http_accepts_gzip(http_req_header(r, "accept-encoding"));
	snprintf(etag, sizeof(etag), "\"%s%s\"", s->etags[idx], gz ? "-gz" : "");
	http_resp_header(r, "etag", etag);
	if (a->gz)
		http_resp_header(r, "vary", "accept-encoding");
	http_resp_header(r, "cache-control",
	                 a->immutable ? "public, max-age=31536000, immutable" : "no-cache");
	if (http_etag_matches(http_req_header(r, "if-none-match"), etag)) {
		req_respond_static(r, 304, NULL, NULL, 0);
		return;
	}
	if (gz)
		http_resp_header(r, "content-encoding", "gzip");
	req_respond_static(r, 200, a->content_type, gz ? a->gz : a->data, gz ? a->gz_len : a->len);
}
