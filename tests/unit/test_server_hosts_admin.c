/* C6 host administration: the name and tag rules PATCH /api/hosts/{id} applies (the
 * enrollment rules), and the rotation row's crypto (the pending password sealed for the
 * repo slot opens only for that host). */
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/err.h"
#include "common/json.h"
#include "server/api/api.h"
#include "server/engine/creds.h"
#include "server/engine/rotation.h"
#include "tap.h"

TEST(hostname_rules)
{
	const char *good[] = { "web1", "web-1.example.org", "A_b", "x" };
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		OK(api_hostname_problem(good[i]) == NULL);
	char long_name[300];
	memset(long_name, 'a', 254);
	long_name[254] = '\0';
	const char *bad[] = { "", "bad name", "a/b", "ümlaut", "x;rm", "tab\there", long_name };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		OK(api_hostname_problem(bad[i]) != NULL);
	OK(api_hostname_problem(NULL) != NULL);
}

TEST(tag_rules)
{
	json_t *t = json_pack("[s,s]", "prod", "db primary");
	OK(api_tags_problem(t) == NULL);
	json_decref(t);
	const char *bad[] = { "[\"\"]", "[\"a\",\"a\"]", "[\"x\\ny\"]", "[\"a,b\"]",
		              "[\"\\u007f\"]" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		t = json_loads(bad[i], 0, NULL);
		OK(t != NULL);
		OK(api_tags_problem(t) != NULL);
		json_decref(t);
	}
}

TEST(pending_creds_bound_to_host)
{
	uint8_t key[RM_KEY_BYTES];
	memset(key, 7, sizeof key);
	json_t *c = json_pack("{s:s,s:s}", "repo_url", "/srv/r", "repo_password", "pw-new-123456");
	char *ct = NULL;
	EQ_INT(creds_seal(key, "H1", "repo", c, &ct), RM_OK);
	json_t *out = NULL;
	EQ_INT(creds_open(key, "H1", "repo", ct, &out), RM_OK);
	EQ_STR(json_string_value(json_object_get(out, "repo_password")), "pw-new-123456");
	creds_free(out);
	out = NULL;
	EQ_INT(creds_open(key, "H2", "repo", ct, &out), RM_ERR_CRYPTO);
	EQ_INT(creds_open(key, "H1", "admin", ct, &out), RM_ERR_CRYPTO);
	OK(out == NULL);
	free(ct);
	json_decref(c);
}

TEST(removal_reason)
{
	EQ_STR(rotation_removal_reason("Fatal: remove <key/8dc628bc>: unexpected HTTP response "
	                               "(403): 403 Forbidden"),
	       "repository is append-only");
	EQ_STR(rotation_removal_reason("blob not removed: server is in append-only mode"),
	       "repository is append-only");
	EQ_STR(rotation_removal_reason("Fatal: wrong password or no key found"),
	       "Fatal: wrong password or no key found");
	EQ_STR(rotation_removal_reason(NULL), "restic key remove failed");
}

int main(void)
{
	RUN(hostname_rules);
	RUN(tag_rules);
	RUN(pending_creds_bound_to_host);
	RUN(removal_reason);
	return tap_done();
}
