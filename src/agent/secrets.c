/* Encrypted credential store of the agent. */
#include "agent/secrets.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/rmtime.h"

#define SECRETS_MAX_BYTES (1024 * 1024)

struct secrets {
	char *path;
	uint8_t key[RM_KEY_BYTES];
	json_t *root; /* object of slot objects */
	int corrupt;
};

static const char *const slot_fields[] = { "repo_url",   "repo_username", "repo_password",
	                                   "hook_shell", "bandwidth",     NULL };

static void register_passwords(const json_t *root)
{
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)root, k, v) {
		const char *pw = rmj_str(v, "repo_password");
		if (pw)
			rm_log_add_secret(pw);
	}
}

int secrets_file_read(const char *path, const uint8_t key[RM_KEY_BYTES], const char *ad, size_t max,
                      json_t **out, char *err, size_t errlen)
{
	char *text = NULL, *pt = NULL;
	size_t len = 0, ptlen = 0;
	int rc = rm_read_file(path, max, &text, &len);
	if (rc)
		return rc;
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
		text[--len] = 0;
	rc = rm_aead_open(key, text, ad, &pt, &ptlen);
	free(text);
	if (rc) {
		rmj_seterr(err, errlen,
		           "cannot be decrypted (corrupt or written with another key)");
		return RM_ERR_CRYPTO;
	}
	rc = rmj_parse_object(pt, ptlen, max, out, err, errlen);
	sodium_memzero(pt, ptlen);
	free(pt);
	return rc ? RM_ERR_INVAL : RM_OK;
}

int secrets_file_write(const char *path, const uint8_t key[RM_KEY_BYTES], const char *ad,
                       const json_t *root)
{
	char *pt = rmj_dumps(root);
	char *ct = NULL;
	int rc = rm_aead_seal(key, pt, strlen(pt), ad, &ct);
	sodium_memzero(pt, strlen(pt));
	free(pt);
	if (rc)
		return rc;
	size_t n = strlen(ct);
	char *data = rm_xasprintf("%s\n", ct);
	free(ct);
	rc = rm_write_file_atomic(path, data, n + 1, 0600);
	free(data);
	return rc;
}

static int load(struct secrets *s)
{
	json_t *root = NULL;
	char err[160] = "";
	int rc = secrets_file_read(s->path, s->key, SECRETS_AD, SECRETS_MAX_BYTES, &root, err,
	                           sizeof err);
	if (rc == RM_ERR_NOTFOUND)
		return RM_OK;
	if (rc == RM_ERR_CRYPTO)
		RM_ERROR("secrets file cannot be decrypted (corrupt or written with another key); "
		         "running without repository credentials; it is kept and moved aside on "
		         "the next config.update",
		         "path", s->path);
	else if (rc == RM_ERR_INVAL)
		RM_ERROR("secrets file decrypted but is not a JSON object; running without "
		         "repository credentials",
		         "path", s->path, "error", err);
	else if (rc)
		RM_ERROR("cannot read secrets file; running without repository credentials", "path",
		         s->path, "error", rm_strerror(rc));
	if (rc)
		return rc;
	register_passwords(root);
	json_decref(s->root);
	s->root = root;
	return RM_OK;
}

int secrets_open(const char *state_dir, const uint8_t key[RM_KEY_BYTES], struct secrets **out)
{
	struct secrets *s = rm_xcalloc(1, sizeof *s);
	s->path = rm_xasprintf("%s/%s", state_dir, SECRETS_FILE);
	memcpy(s->key, key, RM_KEY_BYTES);
	s->root = json_object();
	int rc = load(s);
	if (rc)
		s->corrupt = 1;
	*out = s;
	return rc;
}

void secrets_free(struct secrets *s)
{
	if (!s)
		return;
	free(s->path);
	rmj_wipe(s->root);
	json_decref(s->root);
	sodium_memzero(s->key, sizeof s->key);
	free(s);
}

int secrets_is_corrupt(const struct secrets *s)
{
	return s->corrupt;
}

const json_t *secrets_slot_json(const struct secrets *s, const char *slot)
{
	const json_t *o = json_object_get(s->root, slot ? slot : "repo");
	return json_is_object(o) ? o : NULL;
}

int secrets_get(const struct secrets *s, const char *slot, struct secrets_slot *out)
{
	const json_t *o = secrets_slot_json(s, slot);
	const char *url = o ? rmj_str(o, "repo_url") : NULL;
	if (!url || !*url)
		return RM_ERR_NOTFOUND;
	out->repo_url = url;
	out->repo_username = rmj_str(o, "repo_username");
	out->repo_password = rmj_str(o, "repo_password");
	return RM_OK;
}

static int persist(struct secrets *s)
{
	if (s->corrupt) {
		/* Never overwrite what we could not read: move it aside first. */
		char *aside =
		    rm_xasprintf("%s.corrupt-%lld", s->path, (long long)(rm_now_ms() / 1000));
		if (rename(s->path, aside) && errno != ENOENT) {
			RM_ERROR("cannot move corrupt secrets file aside; not writing new secrets",
			         "path", s->path, "error", strerror(errno));
			free(aside);
			return RM_ERR_IO;
		}
		RM_WARN("corrupt secrets file moved aside", "path", aside);
		free(aside);
		s->corrupt = 0;
	}
	int rc = secrets_file_write(s->path, s->key, SECRETS_AD, s->root);
	if (rc)
		RM_ERROR("cannot write secrets file", "path", s->path, "error", rm_strerror(rc));
	return rc;
}

int secrets_update(struct secrets *s, const char *slot, const json_t *payload)
{
	if (!slot)
		slot = "repo";
	if (strcmp(slot, "repo"))
		return RM_ERR_INVAL; /* the admin credential never comes to rest here (C2 care) */
	json_t *o = json_object_get(s->root, slot);
	json_t *copy = json_is_object(o) ? json_deep_copy(o) : json_object();
	int changed = 0;
	for (size_t i = 0; slot_fields[i]; i++) {
		json_t *v = json_object_get(payload, slot_fields[i]);
		if (!v || json_is_null(v))
			continue;
		json_t *old = json_object_get(copy, slot_fields[i]);
		if (old && json_equal(old, v))
			continue;
		rmj_wipe(old); /* about to be freed by the replacement */
		json_object_set_new(copy, slot_fields[i], json_deep_copy(v));
		changed = 1;
		if (!strcmp(slot_fields[i], "repo_password") && json_is_string(v))
			rm_log_add_secret(json_string_value(v));
	}
	if (!changed && !s->corrupt) {
		rmj_wipe(copy);
		json_decref(copy);
		return RM_OK;
	}
	rmj_wipe(o); /* the slot being replaced */
	json_object_set_new(s->root, slot, copy);
	return persist(s);
}

int secrets_drop_legacy_admin(struct secrets *s)
{
	json_t *o = s && !s->corrupt ? json_object_get(s->root, "admin") : NULL;
	if (!o)
		return RM_OK;
	rmj_wipe(o);
	json_object_del(s->root, "admin");
	RM_INFO("removed an admin credential kept by an older agent (it now comes with each job)");
	return persist(s);
}
