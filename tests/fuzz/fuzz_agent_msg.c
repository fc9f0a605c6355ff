/* libFuzzer target: the agent's message handler (agent_handle_frame) fed with arbitrary
 * frames, as if they came from the server. The agent runs offline (no socket, no runner)
 * with a throwaway state dir; nothing may crash, leak or read out of bounds. */
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "agent/config.h"
#include "agent/ws/client.h"
#include "common/crypto.h"
#include "common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t loop;
static struct agent *agent;
static char dir[] = "/tmp/rm-fuzz-agent-XXXXXX";

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	remove(p);
	return 0;
}

static void teardown(void)
{
	agent_stop(agent);
	uv_run(&loop, UV_RUN_DEFAULT);
	agent_free(agent);
	uv_loop_close(&loop);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
	rm_crypto_init();
	rm_log_set_level(RM_LOG_ERROR);
	if (!mkdtemp(dir))
		abort();
	uv_loop_init(&loop);
	struct agent_config cfg = {
		.server_url = "http://127.0.0.1:9",
		.host_id = "01HFUZZ",
		.bearer = "fuzz-bearer",
		.secrets_key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
	};
	struct agent_opts o = { .loop = &loop, .cfg = &cfg, .state_dir = dir, .offline = 1 };
	if (agent_new(&o, &agent))
		abort();
	atexit(teardown);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!agent)
		setup();
	/* copy so that ASan catches reads past the end of the frame */
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	if (size)
		memcpy(buf, data, size);
	agent_handle_frame(agent, buf, size);
	free(buf);
	uv_run(&loop, UV_RUN_NOWAIT);
	return 0;
}
