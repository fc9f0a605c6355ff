/* Fuzz target: the configuration parsers an operator's file (or an attacker who can write
 * one) reaches — the agent's agent.yaml, the server's --config file — and the
 * RM_TRUSTED_PROXY list with an X-Forwarded-For header. Replay checks the server config
 * outcome: corpus/config/valid/ must load, corpus/config/invalid/ must be refused. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config.h"
#include "common/err.h"
#include "common/log.h"
#include "server/config.h"
#include "server/http/proxy.h"
#include "fuzz_outcome.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	char err[256];

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	rm_log_set_level(RM_LOG_ERROR);

	struct agent_config ac;
	memset(&ac, 0, sizeof(ac));
	if (agent_config_parse(text, size, &ac, err, sizeof(err)) == RM_OK) {
		char *back = agent_config_format(&ac);
		free(back);
	}
	agent_config_cleanup(&ac);

	struct server_config sc;
	config_init(&sc);
	/* the outcome the replayer checks is the server's config file parser's */
	int ok = config_apply_text(&sc, text, "fuzz.yaml", err, sizeof(err)) == RM_OK &&
	         config_finalize(&sc, err, sizeof(err)) == RM_OK;
	fuzz_report(ok);
	config_cleanup(&sc);

	/* first line: proxy list, rest: X-Forwarded-For */
	char *nl = strchr(text, '\n');
	if (nl)
		*nl = 0;
	struct proxy_list *pl = NULL;
	if (proxy_list_parse(text, &pl, err, sizeof(err)) == RM_OK) {
		char ip[64];
		proxy_client_ip(pl, "127.0.0.1", nl ? nl + 1 : NULL, ip, sizeof(ip));
		proxy_client_ip(pl, "::1", nl ? nl + 1 : NULL, ip, sizeof(ip));
		proxy_list_free(pl);
	}
	free(text);
	return 0;
}
