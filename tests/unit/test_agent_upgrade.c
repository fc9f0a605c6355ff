/* Unit tests: the agent's self-update state (agent/upgrade.c): the update marker and the
 * pinned release key (pin, same key again, another key refused, replaced at enrollment). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/upgrade.h"
#include "common/crypto.h"
#include "common/err.h"
#include "common/manifest.h"
#include "tap.h"

static char dir[] = "/tmp/rm-test-upgrade-XXXXXX";

static char *new_key(void)
{
	uint8_t pk[RM_RELEASE_PK_BYTES], sk[RM_RELEASE_SK_BYTES];
	crypto_sign_keypair(pk, sk);
	return rm_release_b64_encode(pk, sizeof pk);
}

TEST(marker_round_trip)
{
	struct upgrade_marker m, got;
	memset(&m, 0, sizeof m);
	EQ_INT(upgrade_marker_read(dir, &got), RM_ERR_NOTFOUND);
	rm_strlcpy(m.update_id, "01UPDATE", sizeof m.update_id);
	rm_strlcpy(m.from, "0.1.0", sizeof m.from);
	rm_strlcpy(m.to, "0.2.0", sizeof m.to);
	rm_strlcpy(m.state, "restarting", sizeof m.state);
	m.deadline_ms = 1796310955253;
	EQ_INT(upgrade_marker_write(dir, &m), RM_OK);
	EQ_INT(upgrade_marker_read(dir, &got), RM_OK);
	EQ_STR(got.update_id, "01UPDATE");
	EQ_STR(got.from, "0.1.0");
	EQ_STR(got.to, "0.2.0");
	EQ_STR(got.state, "restarting");
	OK(got.deadline_ms == m.deadline_ms);
	EQ_STR(got.error, "");
	upgrade_marker_remove(dir);
	EQ_INT(upgrade_marker_read(dir, &got), RM_ERR_NOTFOUND);
	/* an unreadable marker counts as none */
	char *p = rm_xasprintf("%s/update.json", dir);
	EQ_INT(rm_write_file_atomic(p, "{nope", 5, 0600), RM_OK);
	EQ_INT(upgrade_marker_read(dir, &got), RM_ERR_INVAL);
	EQ_INT(rm_write_file_atomic(p, "{}", 2, 0600), RM_OK);
	EQ_INT(upgrade_marker_read(dir, &got), RM_ERR_INVAL);
	unlink(p);
	free(p);
}

TEST(key_pinning)
{
	char *k1 = new_key(), *k2 = new_key(), *got = NULL;
	EQ_INT(upgrade_key_load(dir, &got), RM_ERR_NOTFOUND);
	EQ_INT(upgrade_key_pin(dir, "not a key", 0), RM_ERR_INVAL);
	EQ_INT(upgrade_key_load(dir, &got), RM_ERR_NOTFOUND);
	EQ_INT(upgrade_key_pin(dir, k1, 0), RM_OK); /* first use */
	EQ_INT(upgrade_key_pin(dir, k1, 0), RM_OK); /* the same again */
	EQ_INT(upgrade_key_pin(dir, k2, 0), RM_ERR_CONFLICT);
	EQ_INT(upgrade_key_load(dir, &got), RM_OK);
	EQ_STR(got, k1); /* a connected server never replaces it */
	free(got);
	EQ_INT(upgrade_key_pin(dir, k2, 1), RM_OK); /* enrollment does */
	EQ_INT(upgrade_key_load(dir, &got), RM_OK);
	EQ_STR(got, k2);
	free(got);
	char *p = rm_xasprintf("%s/update-release.pub", dir);
	unlink(p);
	free(p);
	free(k1);
	free(k2);
}

TEST(confirm_window)
{
	unsetenv("RM_AGENT_UPDATE_CONFIRM_S");
	EQ_INT(upgrade_confirm_s(), 90);
	setenv("RM_AGENT_UPDATE_CONFIRM_S", "10", 1);
	EQ_INT(upgrade_confirm_s(), 10);
	setenv("RM_AGENT_UPDATE_CONFIRM_S", "1", 1); /* below the floor: default */
	EQ_INT(upgrade_confirm_s(), 90);
	setenv("RM_AGENT_UPDATE_CONFIRM_S", "x", 1);
	EQ_INT(upgrade_confirm_s(), 90);
	unsetenv("RM_AGENT_UPDATE_CONFIRM_S");
}

int main(int argc, char **argv)
{
	if (!mkdtemp(dir) || rm_crypto_init())
		return 1;
	upgrade_init(argc, argv);
	OK(upgrade_exe_path()[0] == '/');
	RUN(marker_round_trip);
	RUN(key_pinning);
	RUN(confirm_window);
	rmdir(dir);
	return tap_done();
}
