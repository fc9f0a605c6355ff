/* ws/url: the server URL forms the agent accepts, and its Host header; agent_new's
 * contract on failure (no loop run, *out untouched, nothing left on the loop). */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "agent/config.h"
#include "agent/ws/client.h"
#include "agent/ws/url.h"
#include "common/err.h"
#include "tap.h"

TEST(url_parse)
{
	struct ws_url u;
	char hdr[300];
	EQ_INT(ws_url_parse("https://rm.example.org/base/", &u), RM_OK);
	EQ_INT(u.tls, 1);
	EQ_INT(u.port, 443);
	EQ_STR(u.host, "rm.example.org");
	EQ_STR(u.base, "/base");
	ws_url_host_header(&u, hdr, sizeof hdr);
	EQ_STR(hdr, "rm.example.org");
	EQ_INT(ws_url_parse("ws://127.0.0.1:8080/?x#y", &u), RM_OK);
	EQ_INT(u.tls, 0);
	EQ_INT(u.port, 8080);
	EQ_STR(u.base, "");
	ws_url_host_header(&u, hdr, sizeof hdr);
	EQ_STR(hdr, "127.0.0.1:8080");
	EQ_INT(ws_url_parse("http://[::1]:9000/rm", &u), RM_OK);
	EQ_STR(u.host, "::1");
	ws_url_host_header(&u, hdr, sizeof hdr);
	EQ_STR(hdr, "[::1]:9000");
	const char *bad[] = { "ftp://x",
		              "http://",
		              "http://user:pw@host/",
		              "http://h:0",
		              "http://h:65536",
		              "http://h:x",
		              "http://[::1",
		              "http://h?q" /* a query needs a path */,
		              NULL };
	for (int i = 0; bad[i]; i++) {
		u.port = -7;
		EQ_INT(ws_url_parse(bad[i], &u), RM_ERR_INVAL);
		EQ_INT(u.port, -7); /* untouched on error */
	}
}

TEST(agent_new_failure)
{
	char dir[] = "/tmp/rm-agent-new-XXXXXX";
	OK(mkdtemp(dir) != NULL);
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct agent_config cfg = { .server_url = "ftp://nope",
		                    .host_id = "01HTEST",
		                    .bearer = "test-bearer-123" };
	struct agent_opts o = { .loop = &loop, .cfg = &cfg, .state_dir = dir };
	struct agent *sentinel = (struct agent *)&loop, *a = sentinel;
	EQ_INT(agent_new(&o, &a), RM_ERR_INVAL);
	OK(a == sentinel);         /* out-parameter set only on success */
	OK(!uv_loop_alive(&loop)); /* nothing of the agent's is on the loop */
	char *file = malloc(strlen(dir) + 16);
	snprintf(file, strlen(dir) + 16, "%s/state", dir);
	FILE *f = fopen(file, "w"); /* a file where the state directory should be */
	OK(f != NULL);
	if (f)
		fclose(f);
	cfg.server_url = "http://127.0.0.1:9";
	o.state_dir = file;
	EQ_INT(agent_new(&o, &a), RM_ERR_IO);
	OK(a == sentinel);
	OK(!uv_loop_alive(&loop));
	EQ_INT(uv_loop_close(&loop), 0);
	remove(file);
	free(file);
	remove(dir);
}

int main(void)
{
	RUN(url_parse);
	RUN(agent_new_failure);
	return tap_done();
}
