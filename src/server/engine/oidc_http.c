/* libcurl easy requests to the identity provider, bounded in time and size. */
#include "server/engine/oidc_http.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"

void oidc_http_global_init(void)
{
	static int done;
	if (!done) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		done = 1;
	}
}

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
	struct rm_buf *b = ud;
	if (rm_buf_append(b, p, sz * n))
		return 0; /* over the cap: abort the transfer */
	return sz * n;
}

char *oidc_http_escape(const char *s)
{
	struct rm_buf b;
	rm_buf_init(&b, 0);
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			rm_buf_append(&b, p, 1);
		} else {
			char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };
			rm_buf_append(&b, e, 3);
		}
	}
	return rm_buf_take(&b);
}

int oidc_http(const struct oidc_http_req *q, struct oidc_http_resp *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	CURL *c = curl_easy_init();
	if (!c) {
		rmj_seterr(err, errlen, "curl init failed");
		return RM_ERR_IO;
	}
	struct rm_buf b;
	rm_buf_init(&b, OIDC_HTTP_MAX_BODY);
	struct curl_slist *hdr = curl_slist_append(NULL, "Accept: application/json");
	char *auth = NULL;
	if (q->bearer) {
		auth = rm_xasprintf("Authorization: Bearer %s", q->bearer);
		hdr = curl_slist_append(hdr, auth);
	}
	curl_easy_setopt(c, CURLOPT_URL, q->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, q->timeout_ms > 0 ? q->timeout_ms : 10000L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "restic-manager");
	if (q->form)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->form);
	if (q->basic_user) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, q->basic_user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, q->basic_pass ? q->basic_pass : "");
	}
	CURLcode cc = curl_easy_perform(c);
	int rc = RM_OK;
	if (cc == CURLE_WRITE_ERROR) {
		rmj_seterr(err, errlen, "response larger than %d bytes", OIDC_HTTP_MAX_BODY);
		rc = RM_ERR_TOOBIG;
	} else if (cc != CURLE_OK) {
		rmj_seterr(err, errlen, "request failed: %s", curl_easy_strerror(cc));
		rc = RM_ERR_IO;
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
		out->len = b.len;
		out->body = rm_buf_take(&b);
	}
	rm_buf_cleanup(&b);
	curl_slist_free_all(hdr);
	free(auth);
	curl_easy_cleanup(c);
	return rc;
}

void oidc_http_resp_free(struct oidc_http_resp *r)
{
	free(r->body);
	memset(r, 0, sizeof *r);
}
