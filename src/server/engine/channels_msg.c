/* C4 channels: a delivery payload -> a webhook POST (JSON, optional HMAC-SHA256), an ntfy
 * publish (Title/Priority/Tags/Click headers, token or basic auth) or an SMTP submission
 * (RFC 5322 text message, STARTTLS or implicit TLS). */
#include <curl/curl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/crypto.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "server/app.h"
#include "server/config.h"
#include "server/engine/channels.h"
#include "server/engine/channels_io.h"

/* Decrypts the channel's secret (NULL when it has none). RM_ERR_CRYPTO on failure. */
static int open_secret(struct app *app, const json_t *row, char **out)
{
	*out = NULL;
	const char *ct = rmj_str(row, "secret_ct");
	if (!ct || !ct[0])
		return RM_OK;
	char ad[64];
	snprintf(ad, sizeof ad, "channel:%s", rmj_str(row, "id"));
	size_t len = 0;
	return rm_aead_open(app->key, ct, ad, out, &len);
}

static void free_secret(char *s)
{
	if (s) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

static void buf_putc(struct rm_buf *b, char c)
{
	rm_buf_append(b, &c, 1);
}

static const char *buf_str(const struct rm_buf *b)
{
	return b->data ? b->data : "";
}

/* A header value on one line; RFC 2047 base64 when it is not plain ASCII. */
static void header_value(struct rm_buf *b, const char *v)
{
	int ascii = 1;
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p >= 0x80)
			ascii = 0;
	if (ascii) {
		for (const char *p = v; *p; p++)
			buf_putc(b, (unsigned char)*p < 0x20 ? ' ' : *p);
		return;
	}
	size_t n = strlen(v);
	size_t blen = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	char *enc = rm_xmalloc(blen);
	sodium_bin2base64(enc, blen, (const unsigned char *)v, n, sodium_base64_VARIANT_ORIGINAL);
	rm_buf_appendf(b, "=?UTF-8?B?%s?=", enc);
	free(enc);
}

static void add_header(struct cio_xfer *x, const char *name, const char *value)
{
	struct rm_buf b = { 0 };
	rm_buf_appendf(&b, "%s: ", name);
	header_value(&b, value);
	cio_xfer_header(x, buf_str(&b));
	rm_buf_cleanup(&b);
}

static int build_webhook(struct app *app, const json_t *row, const char *did, const json_t *payload,
                         struct cio_xfer *x, const char *secret)
{
	(void)app;
	json_t *body = json_deep_copy(payload);
	json_object_set_new(body, "delivery_id", json_string(did));
	char *text = rmj_dumps(body);
	json_decref(body);
	cio_xfer_header(x, "Content-Type: application/json");
	add_header(x, "X-RM-Event", rmj_str(payload, "event") ? rmj_str(payload, "event") : "");
	add_header(x, "X-RM-Delivery", did);
	if (secret) {
		unsigned char mac[crypto_auth_hmacsha256_BYTES];
		crypto_auth_hmacsha256_state st;
		crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
		crypto_auth_hmacsha256_update(&st, (const unsigned char *)text, strlen(text));
		crypto_auth_hmacsha256_final(&st, mac);
		char hex[2 * sizeof mac + 1], line[128];
		sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
		snprintf(line, sizeof line, "X-RM-Signature: sha256=%s", hex);
		cio_xfer_header(x, line);
		sodium_memzero(&st, sizeof st);
	}
	cio_xfer_body(x, text, strlen(text));
	free(text);
	return RM_OK;
}

static const char *ntfy_priority(const json_t *payload)
{
	const char *ev = rmj_str(payload, "event");
	if (ev && strcmp(ev, "resolved") == 0)
		return "default";
	const char *sev = rmj_str(payload, "severity");
	switch (severity_rank(sev)) {
	case 2: return "urgent";
	case 1: return "high";
	default: return "default";
	}
}

static void build_ntfy(const json_t *row, const json_t *payload, struct cio_xfer *x,
                       const char *secret)
{
	const json_t *cfg = json_object_get(row, "config");
	const char *ev = rmj_str(payload, "event");
	add_header(x, "Title", rmj_str(payload, "title") ? rmj_str(payload, "title") : "");
	add_header(x, "Priority", ntfy_priority(payload));
	struct rm_buf tags = { 0 };
	rm_buf_append_str(&tags,
	                  ev && strcmp(ev, "resolved") == 0 ? "white_check_mark" : "warning");
	const char *rule = rmj_str(json_object_get(payload, "alert"), "rule");
	if (rule)
		rm_buf_appendf(&tags, ",%s", rule);
	add_header(x, "Tags", buf_str(&tags));
	rm_buf_cleanup(&tags);
	if (rmj_str(payload, "link"))
		add_header(x, "Click", rmj_str(payload, "link"));
	cio_xfer_header(x, "Content-Type: text/plain; charset=utf-8");
	const char *user = rmj_str(cfg, "username");
	CURL *e = cio_xfer_easy(x);
	if (secret && user) {
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(e, CURLOPT_USERNAME, user);
		curl_easy_setopt(e, CURLOPT_PASSWORD, secret);
	} else if (secret) {
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
		curl_easy_setopt(e, CURLOPT_XOAUTH2_BEARER, secret);
	}
	const char *text = rmj_str(payload, "text") ? rmj_str(payload, "text") : "";
	cio_xfer_body(x, text, strlen(text));
}

/* The message text with CRLF line ends. */
static void crlf_text(struct rm_buf *b, const char *text)
{
	for (const char *p = text; *p; p++) {
		if (*p == '\r')
			continue;
		if (*p == '\n')
			rm_buf_append_str(b, "\r\n");
		else
			buf_putc(b, *p);
	}
	rm_buf_append_str(b, "\r\n");
}

static void build_smtp(const json_t *row, const char *did, const json_t *payload,
                       struct cio_xfer *x, const char *secret)
{
	const json_t *cfg = json_object_get(row, "config");
	const char *from = rmj_str(cfg, "from");
	struct rm_buf m = { 0 };
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	rm_buf_appendf(&m, "Date: %s\r\nFrom: %s\r\nTo: ", date, from);
	size_t i;
	json_t *v;
	json_array_foreach (json_object_get(cfg, "to"), i, v) {
		rm_buf_appendf(&m, "%s%s", i ? ", " : "", json_string_value(v));
		cio_xfer_rcpt(x, json_string_value(v));
	}
	rm_buf_append_str(&m, "\r\nSubject: ");
	header_value(&m, rmj_str(payload, "title") ? rmj_str(payload, "title") : "restic-manager");
	rm_buf_appendf(&m,
	               "\r\nMessage-ID: <%s@restic-manager>\r\nMIME-Version: 1.0\r\n"
	               "Content-Type: text/plain; charset=utf-8\r\n"
	               "Content-Transfer-Encoding: 8bit\r\nX-RM-Event: %s\r\n\r\n",
	               did, rmj_str(payload, "event") ? rmj_str(payload, "event") : "");
	crlf_text(&m, rmj_str(payload, "text") ? rmj_str(payload, "text") : "");
	cio_xfer_smtp(x, from, buf_str(&m), m.len);
	rm_buf_cleanup(&m);
	CURL *e = cio_xfer_easy(x);
	/* a connection upgraded by STARTTLS is not matched on its TLS settings when curl
	 * looks for one to reuse: one connection per message */
	curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	const char *tls = rmj_str(cfg, "tls");
	curl_easy_setopt(e, CURLOPT_USE_SSL,
	                 tls && strcmp(tls, "starttls") == 0 ? (long)CURLUSESSL_ALL
	                                                     : (long)CURLUSESSL_NONE);
	const char *user = rmj_str(cfg, "username");
	if (user) {
		curl_easy_setopt(e, CURLOPT_USERNAME, user);
		if (secret)
			curl_easy_setopt(e, CURLOPT_PASSWORD, secret);
	}
}

static char *target_url(const json_t *row)
{
	const json_t *cfg = json_object_get(row, "config");
	const char *kind = rmj_str(row, "kind");
	if (strcmp(kind, "webhook") == 0)
		return rm_xstrdup(rmj_str(cfg, "url"));
	if (strcmp(kind, "ntfy") == 0) {
		const char *u = rmj_str(cfg, "url");
		size_t n = strlen(u);
		return rm_xasprintf("%s%s%s", u, n && u[n - 1] == '/' ? "" : "/",
		                    rmj_str(cfg, "topic"));
	}
	const char *tls = rmj_str(cfg, "tls");
	const char *host = rmj_str(cfg, "host");
	int v6 = strchr(host, ':') && host[0] != '[';
	/* the path is the EHLO name */
	return rm_xasprintf("%s://%s%s%s:%lld/localhost",
	                    tls && strcmp(tls, "tls") == 0 ? "smtps" : "smtp", v6 ? "[" : "", host,
	                    v6 ? "]" : "", rmj_int(cfg, "port", 587));
}

int channel_build(struct app *app, const json_t *row, const char *did, const json_t *payload,
                  struct cio_xfer **out, char *err, size_t errlen)
{
	*out = NULL;
	char *secret = NULL;
	if (open_secret(app, row, &secret)) {
		RM_ERROR("cannot decrypt a channel secret", "channel_id", rmj_str(row, "id"));
		rmj_seterr(err, errlen, "cannot decrypt the channel secret");
		return RM_ERR_CRYPTO;
	}
	char *url = target_url(row);
	struct cio_xfer *x = cio_xfer_new(url, (long)app->cfg->alert_timeout_ms);
	free(url);
	const char *ca = rmj_str(json_object_get(row, "config"), "ca_file");
	if (ca)
		curl_easy_setopt(cio_xfer_easy(x), CURLOPT_CAINFO, ca);
	const char *kind = rmj_str(row, "kind");
	if (strcmp(kind, "webhook") == 0)
		build_webhook(app, row, did, payload, x, secret);
	else if (strcmp(kind, "ntfy") == 0)
		build_ntfy(row, payload, x, secret);
	else
		build_smtp(row, did, payload, x, secret);
	free_secret(secret); /* curl copied what it keeps (CURLOPT_* strings are copied) */
	*out = x;
	return RM_OK;
}
