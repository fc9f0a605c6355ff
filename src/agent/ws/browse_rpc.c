/* The browsing RPCs on the agent's connection: tree.list, snapshot.diff and the download
 * streams (runner/browse.h, runner/dump.h). Created on first use. Loop thread only. */
#include <stdlib.h>
#include <string.h>

#include "agent/runner/browse.h"
#include "agent/runner/dump.h"
#include "agent/secrets.h"
#include "agent/ws/agent_int.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"

/* stream.data may fill the send queue only up to here: the rest stays for control traffic */
#define STREAM_QUEUE_LIMIT (10u * 1024 * 1024)

static void answer(void *ud, const char *request_id, json_t *result_take, const char *code,
                   const char *msg, enum rm_msg_type t)
{
	struct agent *a = ud;
	if (code)
		agent_rpc_error(a, t, request_id, code, msg ? msg : code);
	else
		agent_rpc_reply(a, t, request_id, result_take);
}

static void tree_answer(void *ud, const char *rid, json_t *res, const char *code, const char *msg)
{
	answer(ud, rid, res, code, msg, RM_MSG_TREE_LIST_RESULT);
}

static void diff_answer(void *ud, const char *rid, json_t *res, const char *code, const char *msg)
{
	answer(ud, rid, res, code, msg, RM_MSG_SNAPSHOT_DIFF_RESULT);
}

static void open_answer(void *ud, const char *rid, json_t *res, const char *code, const char *msg)
{
	answer(ud, rid, res, code, msg, RM_MSG_STREAM_OPEN_RESULT);
}

static int stream_data(void *ud, const char *stream_id, const void *buf, size_t n)
{
	unsigned char *f = rm_xmalloc(RM_STREAM_FRAME_HDR_MAX + n);
	size_t h = proto_stream_frame_header(stream_id, f);
	memcpy(f + h, buf, n);
	int rc = agent_try_send_binary(ud, f, h + n, STREAM_QUEUE_LIMIT);
	free(f);
	return rc;
}

static void stream_end(void *ud, const char *stream_id, uint64_t bytes, const char *code,
                       const char *msg)
{
	json_t *p = json_pack("{s:s,s:I}", "stream_id", stream_id, "bytes", (json_int_t)bytes);
	if (code)
		json_object_set_new(
		    p, "error", json_pack("{s:s,s:s}", "code", code, "message", msg ? msg : code));
	agent_send_msg(ud, RM_MSG_STREAM_END, p);
}

static int ensure(struct agent *a)
{
	if (a->stopping)
		return 0;
	if (!a->browse) {
		struct browse_opts o = { .loop = a->loop,
			                 .state_dir = a->state_dir,
			                 .restic_path = a->restic_path };
		a->browse = browse_new(&o);
	}
	if (!a->dumps) {
		struct dump_io io = {
			.open_result = open_answer, .data = stream_data, .end = stream_end, .ud = a
		};
		a->dumps = dumps_new(a->loop, a->browse, a->state_dir, a->restic_path, &io);
	}
	return 1;
}

/* The repository slot's credentials (borrowed from the secrets store), or NULL. */
static const struct runner_creds *creds(struct agent *a, struct runner_creds *c)
{
	struct secrets_slot s;
	if (!a->sec || secrets_get(a->sec, "repo", &s))
		return NULL;
	c->repo_url = s.repo_url;
	c->repo_username = s.repo_username;
	c->repo_password = s.repo_password;
	return c;
}

void agent_handle_browse(struct agent *a, const struct rm_envelope *env)
{
	struct runner_creds c;
	if (!ensure(a))
		return;
	const struct runner_creds *cp = creds(a, &c);
	switch (env->type) {
	case RM_MSG_TREE_LIST:
		browse_tree_list(a->browse, cp, env->id, env->payload, tree_answer, a);
		break;
	case RM_MSG_SNAPSHOT_DIFF:
		browse_diff(a->browse, cp, env->id, env->payload, diff_answer, a);
		break;
	case RM_MSG_STREAM_OPEN: dumps_open(a->dumps, cp, env->id, env->payload); break;
	case RM_MSG_STREAM_ACK:
		dumps_ack(a->dumps, rmj_str(env->payload, "stream_id"),
		          (uint64_t)rmj_int(env->payload, "bytes", 0));
		break;
	case RM_MSG_STREAM_CANCEL:
		dumps_cancel(a->dumps, rmj_str(env->payload, "stream_id"));
		break;
	default: break;
	}
}

void agent_browse_conn_lost(struct agent *a)
{
	dumps_cancel_all(a->dumps);
}

void agent_browse_stop(struct agent *a)
{
	dumps_free(a->dumps);
	a->dumps = NULL;
	browse_free(a->browse);
	a->browse = NULL;
}
