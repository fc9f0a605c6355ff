/* C4 channels: validation of the API body, the secret at rest, the public shape. */
#include "server/engine/channels.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/err.h"
#include "common/json.h"

#define NAME_MAX_LEN 100
#define URL_MAX_LEN 2048
#define SECRET_MAX_LEN 1024
#define ADDR_MAX_LEN 254
#define MAX_RCPT 20
#define MAX_TAGS 20

int severity_rank(const char *s)
{
	if (!s)
		return -1;
	if (strcmp(s, "info") == 0)
		return 0;
	if (strcmp(s, "warning") == 0)
		return 1;
	if (strcmp(s, "critical") == 0)
		return 2;
	return -1;
}

static int has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/* http(s) URL without credentials; the message never repeats the URL. */
static const char *url_problem(const char *u)
{
	if (strlen(u) > URL_MAX_LEN)
		return "must be at most 2048 bytes";
	if (has_ctl(u) || strchr(u, ' '))
		return "must not contain spaces or control characters";
	CURLU *h = curl_url();
	const char *why = NULL;
	char *scheme = NULL, *user = NULL, *pw = NULL, *host = NULL;
	if (!h || curl_url_set(h, CURLUPART_URL, u, 0) != CURLUE_OK) {
		why = "must be an absolute http:// or https:// URL";
	} else {
		curl_url_get(h, CURLUPART_SCHEME, &scheme, 0);
		curl_url_get(h, CURLUPART_USER, &user, 0);
		curl_url_get(h, CURLUPART_PASSWORD, &pw, 0);
		curl_url_get(h, CURLUPART_HOST, &host, 0);
		if (!scheme || (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
			why = "scheme must be http or https";
		else if (user || pw)
			why = "must not contain credentials (use the secret field)";
		else if (!host || !host[0])
			why = "must name a host";
	}
	curl_free(scheme);
	curl_free(user);
	if (pw)
		sodium_memzero(pw, strlen(pw));
	curl_free(pw);
	curl_free(host);
	curl_url_cleanup(h);
	return why;
}

/* local@domain, conservative: no spaces, quotes, brackets or control characters. */
static int addr_ok(const char *a)
{
	size_t n = strlen(a);
	const char *at = strchr(a, '@');
	if (n < 3 || n > ADDR_MAX_LEN || !at || at == a || strchr(at + 1, '@') || !at[1])
		return 0;
	for (const char *p = a; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= 0x20 || c == 0x7f || strchr("<>()[]\\,;:\"", c))
			return 0;
	}
	const char *d = at + 1;
	if (d[0] == '.' || d[strlen(d) - 1] == '.' || strstr(d, ".."))
		return 0;
	for (; *d; d++)
		if (!((*d >= 'a' && *d <= 'z') || (*d >= 'A' && *d <= 'Z') ||
		      (*d >= '0' && *d <= '9') || *d == '.' || *d == '-'))
			return 0;
	return 1;
}

static int host_ok(const char *h)
{
	size_t n = strlen(h);
	if (n == 0 || n > 253)
		return 0;
	for (const char *p = h; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == ':' ||
		      *p == '[' || *p == ']'))
			return 0;
	return 1;
}

#define FAIL(f, ...)                                  \
	do {                                          \
		*field = (f);                         \
		rmj_seterr(err, errlen, __VA_ARGS__); \
		return RM_ERR_INVAL;                  \
	} while (0)

static int str_field(const json_t *o, const char *key, int required, size_t max, const char **out,
                     const char *fname, const char **field, char *err, size_t errlen)
{
	if (rmj_get_str(o, key, required, max, out, err, errlen)) {
		*field = fname;
		return RM_ERR_INVAL;
	}
	if (*out && has_ctl(*out))
		FAIL(fname, "field '%s' must not contain control characters", fname);
	return RM_OK;
}

static int webhook_config(const json_t *in, json_t *cfg, const char **field, char *err,
                          size_t errlen)
{
	const char *url = NULL;
	if (str_field(in, "url", 1, URL_MAX_LEN, &url, "config.url", field, err, errlen))
		return RM_ERR_INVAL;
	const char *why = url_problem(url);
	if (why)
		FAIL("config.url", "config.url %s", why);
	json_object_set_new(cfg, "url", json_string(url));
	return RM_OK;
}

static int ntfy_config(const json_t *in, json_t *cfg, const char **field, char *err, size_t errlen)
{
	const char *url = NULL, *topic = NULL, *user = NULL;
	if (str_field(in, "url", 1, URL_MAX_LEN, &url, "config.url", field, err, errlen) ||
	    str_field(in, "topic", 1, 64, &topic, "config.topic", field, err, errlen) ||
	    str_field(in, "username", 0, 128, &user, "config.username", field, err, errlen))
		return RM_ERR_INVAL;
	const char *why = url_problem(url);
	if (why)
		FAIL("config.url", "config.url %s", why);
	for (const char *p = topic; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			FAIL("config.topic", "config.topic may hold letters, digits, _ and -");
	if (!topic[0])
		FAIL("config.topic", "config.topic must not be empty");
	json_object_set_new(cfg, "url", json_string(url));
	json_object_set_new(cfg, "topic", json_string(topic));
	if (user && user[0])
		json_object_set_new(cfg, "username", json_string(user));
	return RM_OK;
}

static int smtp_config(const json_t *in, json_t *cfg, const char **field, char *err, size_t errlen)
{
	const char *host = NULL, *tls = "starttls", *user = NULL, *from = NULL;
	long long port = 0;
	if (str_field(in, "host", 1, 253, &host, "config.host", field, err, errlen) ||
	    str_field(in, "tls", 0, 16, &tls, "config.tls", field, err, errlen) ||
	    str_field(in, "username", 0, 128, &user, "config.username", field, err, errlen) ||
	    str_field(in, "from", 1, ADDR_MAX_LEN, &from, "config.from", field, err, errlen))
		return RM_ERR_INVAL;
	if (!host_ok(host))
		FAIL("config.host", "config.host must be a host name or address");
	if (strcmp(tls, "none") != 0 && strcmp(tls, "starttls") != 0 && strcmp(tls, "tls") != 0)
		FAIL("config.tls", "config.tls must be none, starttls or tls");
	if (rmj_get_int(in, "port", 0, 1, 65535, &port, err, errlen))
		FAIL("config.port", "config.port must be an integer in [1, 65535]");
	if (!port)
		port = strcmp(tls, "tls") == 0 ? 465 : 587;
	if (!addr_ok(from))
		FAIL("config.from", "config.from must be an email address");
	const json_t *to = NULL;
	if (rmj_get_str_array(in, "to", 1, MAX_RCPT, ADDR_MAX_LEN, &to, err, errlen) ||
	    json_array_size(to) == 0)
		FAIL("config.to", "config.to must be 1-20 email addresses");
	size_t i;
	json_t *v;
	json_array_foreach (to, i, v)
		if (!addr_ok(json_string_value(v)))
			FAIL("config.to", "config.to[%zu] is not an email address", i);
	json_object_set_new(cfg, "host", json_string(host));
	json_object_set_new(cfg, "port", json_integer(port));
	json_object_set_new(cfg, "tls", json_string(tls));
	if (user && user[0])
		json_object_set_new(cfg, "username", json_string(user));
	json_object_set_new(cfg, "from", json_string(from));
	json_object_set_new(cfg, "to", json_deep_copy(to));
	return RM_OK;
}

/* Optional for every kind: a CA bundle (PEM file on the server) for receivers whose TLS
 * certificate a private CA signed. */
static int ca_file(const json_t *in, json_t *cfg, const char **field, char *err, size_t errlen)
{
	const char *ca = NULL;
	if (str_field(in, "ca_file", 0, 4096, &ca, "config.ca_file", field, err, errlen))
		return RM_ERR_INVAL;
	if (ca && ca[0] && ca[0] != '/')
		FAIL("config.ca_file", "config.ca_file must be an absolute path");
	if (ca && ca[0])
		json_object_set_new(cfg, "ca_file", json_string(ca));
	return RM_OK;
}

static int kind_config(const char *kind, const json_t *in, json_t *cfg, const char **field,
                       char *err, size_t errlen)
{
	if (!json_is_object(in))
		FAIL("config", "field 'config' must be an object");
	if (ca_file(in, cfg, field, err, errlen))
		return RM_ERR_INVAL;
	if (strcmp(kind, "webhook") == 0)
		return webhook_config(in, cfg, field, err, errlen);
	if (strcmp(kind, "ntfy") == 0)
		return ntfy_config(in, cfg, field, err, errlen);
	return smtp_config(in, cfg, field, err, errlen);
}

/* name, enabled, min_severity, host_tags (absent: existing's or defaults). */
static int common_fields(const json_t *body, const json_t *ex, json_t *o, const char **field,
                         char *err, size_t errlen)
{
	const char *name = ex ? rmj_str(ex, "name") : NULL;
	if (str_field(body, "name", !ex, NAME_MAX_LEN, &name, "name", field, err, errlen))
		return RM_ERR_INVAL;
	if (!name || !name[0])
		FAIL("name", "field 'name' must be 1-100 characters");
	int enabled = ex ? json_is_true(json_object_get(ex, "enabled")) : 1;
	if (rmj_get_bool(body, "enabled", 0, &enabled, err, errlen))
		FAIL("enabled", "field 'enabled' must be a boolean");
	const char *sev = ex ? rmj_str(ex, "min_severity") : "info";
	if (str_field(body, "min_severity", 0, 16, &sev, "min_severity", field, err, errlen))
		return RM_ERR_INVAL;
	if (severity_rank(sev) < 0)
		FAIL("min_severity", "min_severity must be info, warning or critical");
	const json_t *tags = ex ? json_object_get(ex, "host_tags") : NULL;
	if (rmj_get_str_array(body, "host_tags", 0, MAX_TAGS, 64, &tags, err, errlen))
		FAIL("host_tags", "host_tags must be at most 20 tags of 1-64 bytes");
	json_object_set_new(o, "name", json_string(name));
	json_object_set_new(o, "enabled", json_boolean(enabled));
	json_object_set_new(o, "min_severity", json_string(sev));
	json_object_set_new(o, "host_tags", tags ? json_deep_copy(tags) : json_array());
	return RM_OK;
}

int channel_validate(const json_t *body, const json_t *ex, json_t **out, char **secret,
                     int *set_secret, const char **field, char *err, size_t errlen)
{
	*out = NULL;
	*secret = NULL;
	*set_secret = 0;
	const char *kind = ex ? rmj_str(ex, "kind") : NULL;
	const char *bkind = NULL;
	if (str_field(body, "kind", !ex, 16, &bkind, "kind", field, err, errlen))
		return RM_ERR_INVAL;
	if (ex && bkind && strcmp(bkind, kind) != 0)
		FAIL("kind", "the kind of a channel cannot change");
	kind = bkind ? bkind : kind;
	if (strcmp(kind, "webhook") != 0 && strcmp(kind, "ntfy") != 0 && strcmp(kind, "smtp") != 0)
		FAIL("kind", "kind must be webhook, ntfy or smtp");
	json_t *sec = json_object_get(body, "secret");
	if (sec && !json_is_null(sec) &&
	    (!json_is_string(sec) || json_string_length(sec) > SECRET_MAX_LEN ||
	     strlen(json_string_value(sec)) != json_string_length(sec)))
		FAIL("secret", "field 'secret' must be a string of at most 1024 bytes or null");
	if (sec && json_is_string(sec) && has_ctl(json_string_value(sec)))
		FAIL("secret", "field 'secret' must not contain control characters");
	json_t *o = json_pack("{s:s}", "kind", kind);
	int rc = common_fields(body, ex, o, field, err, errlen);
	json_t *cin = json_object_get(body, "config");
	if (!cin && ex)
		cin = json_object_get(ex, "config");
	json_t *cfg = json_object();
	if (!rc)
		rc = kind_config(kind, cin, cfg, field, err, errlen);
	json_object_set_new(o, "config", cfg);
	if (rc) {
		json_decref(o);
		return rc;
	}
	if (sec) {
		*set_secret = 1;
		const char *sv = json_string_value(sec);
		*secret = sv && sv[0] ? rm_xstrdup(sv) : NULL;
	}
	*out = o;
	return RM_OK;
}

int channel_seal_secret(const uint8_t *key, const char *id, const char *secret, char **ct)
{
	char ad[64];
	snprintf(ad, sizeof ad, "channel:%s", id);
	return rm_aead_seal(key, secret, strlen(secret), ad, ct);
}

json_t *channel_public(const json_t *row)
{
	json_t *o = json_deep_copy(row);
	const char *ct = rmj_str(row, "secret_ct");
	json_object_del(o, "secret_ct");
	json_object_set_new(o, "has_secret", json_boolean(ct && ct[0]));
	return o;
}

int channel_wants(const json_t *row, const char *severity, const json_t *host_tags)
{
	if (!json_is_true(json_object_get(row, "enabled")))
		return 0;
	if (severity_rank(severity) < severity_rank(rmj_str(row, "min_severity")))
		return 0;
	const json_t *want = json_object_get(row, "host_tags");
	if (json_array_size(want) == 0)
		return 1;
	size_t i, k;
	json_t *w, *t;
	json_array_foreach (want, i, w)
		json_array_foreach (host_tags, k, t)
			if (json_equal(w, t))
				return 1;
	return 0;
}
