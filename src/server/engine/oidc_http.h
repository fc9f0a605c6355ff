#ifndef RM_SERVER_ENGINE_OIDC_HTTP_H
#define RM_SERVER_ENGINE_OIDC_HTTP_H
/* Blocking HTTP(S) requests to the identity provider (libcurl easy interface). Call only
 * from the thread pool (uv_queue_work), never on the loop. */
#include <stddef.h>

#define OIDC_HTTP_MAX_BODY (512 * 1024)

struct oidc_http_req {
	const char *url;
	const char *form;       /* POST application/x-www-form-urlencoded body, or NULL: GET */
	const char *basic_user; /* HTTP Basic (client_secret_basic), form-urlencoded by caller */
	const char *basic_pass;
	const char *bearer; /* Authorization: Bearer (userinfo) */
	long timeout_ms;
};

struct oidc_http_resp {
	long status;
	char *body; /* NUL-terminated, malloc'd */
	size_t len;
};

/* RM_OK (any HTTP status) or RM_ERR_IO / RM_ERR_TOOBIG with a message (never containing
 * credentials). */
int oidc_http(const struct oidc_http_req *q, struct oidc_http_resp *out, char *err, size_t errlen);
void oidc_http_resp_free(struct oidc_http_resp *r);
/* Percent-encodes s for a form or query value (malloc'd). */
char *oidc_http_escape(const char *s);
/* curl_global_init once (not thread-safe: call on the loop thread at startup). */
void oidc_http_global_init(void);

#endif
