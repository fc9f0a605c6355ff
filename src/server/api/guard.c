/* Credential-check backoff for the HTTP API (engine/throttle.c holds the policy): 429
 * with Retry-After while a username or a client address is locked, and an audit row each
 * time a lockout starts. */
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/rmtime.h"
#include "server/api/api.h"
#include "server/app.h"
#include "server/engine/throttle.h"
#include "server/http/http.h"

static void key_of(char *out, size_t n, const char *kind, const char *v)
{
	snprintf(out, n, "%s:%s", kind, v ? v : "");
}

int api_guard_refuse(struct http_req *r, struct app *app, const char *username)
{
	char uk[96], ik[96];
	int64_t now = rm_mono_ms();
	int64_t wait = 0;
	if (username) {
		key_of(uk, sizeof uk, "u", username);
		wait = throttle_wait_ms(app->throttle, uk, now);
	}
	key_of(ik, sizeof ik, "ip", http_req_remote_ip(r));
	int64_t w2 = throttle_wait_ms(app->throttle, ik, now);
	if (w2 > wait)
		wait = w2;
	if (!wait)
		return 0;
	char ra[24];
	snprintf(ra, sizeof ra, "%lld", (long long)((wait + 999) / 1000));
	http_resp_header(r, "retry-after", ra);
	http_respond_error(r, 429, "throttled", "too many failed attempts; retry in %s s", ra);
	return 1;
}

void api_guard_begin(struct app *app, const char *username, const char *ip)
{
	char k[96];
	int64_t now = rm_mono_ms();
	if (username) {
		key_of(k, sizeof k, "u", username);
		throttle_begin(app->throttle, k, now);
	}
	key_of(k, sizeof k, "ip", ip);
	throttle_begin(app->throttle, k, now);
}

static void lockout(struct app *app, const char *kind, const char *key, const char *target,
                    const char *ip, const char *what, int64_t ms)
{
	char secs[24];
	snprintf(secs, sizeof secs, "%lld", (long long)(ms / 1000));
	RM_WARN("credential lockout", "key", kind, "target", target, "ip", ip, "via", what,
	        "seconds", secs);
	json_t *d = json_pack("{s:s,s:s,s:s,s:i,s:I}", "key", kind, "ip", ip ? ip : "", "via", what,
	                      "failures", throttle_failures(app->throttle, key), "locked_for_s",
	                      (json_int_t)(ms / 1000));
	(void)api_audit(app, "system", "auth.lockout", target, d);
}

void api_guard_end(struct app *app, const char *username, const char *ip, int failed,
                   const char *what)
{
	char k[96];
	int64_t now = rm_mono_ms();
	if (username) {
		key_of(k, sizeof k, "u", username);
		int64_t ms = throttle_end(app->throttle, k, failed, now);
		if (ms)
			lockout(app, "username", k, username, ip, what, ms);
	}
	key_of(k, sizeof k, "ip", ip);
	int64_t ms = throttle_end(app->throttle, k, failed, now);
	if (ms)
		lockout(app, "address", k, ip ? ip : "", ip, what, ms);
}

void api_guard_failed(struct app *app, struct http_req *r, const char *what)
{
	const char *ip = http_req_remote_ip(r);
	api_guard_begin(app, NULL, ip);
	api_guard_end(app, NULL, ip, 1, what);
}
