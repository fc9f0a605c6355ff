/* C6 agent update messages: command.update (server -> agent) and update.status (agent ->
 * server). Schemas for the table in proto.c; meaning in docs/internals/protocol.md. */
#include "common/manifest.h"
#include "common/proto_int.h"

#define R 1
#define O 0

/* The manifest travels verbatim (the signature covers its bytes); path is server-relative
 * (/agent/binary?os=&arch=): the agent downloads from the server it is enrolled with. */
const struct rm_field rm_f_command_update[] = {
	{ "update_id", RM_FT_STRING, R, 64, NULL, NULL },
	{ "version", RM_FT_STRING, R, 64, NULL, NULL },
	{ "path", RM_FT_STRING, R, 512, NULL, NULL },
	{ "manifest", RM_FT_STRING, R, RM_MANIFEST_MAX, NULL, NULL },
	{ "signature", RM_FT_STRING, R, 128, NULL, NULL },
	{ NULL },
};

static const char *const e_update_state[] = { "downloading", "verifying", "restarting",
	                                      "succeeded",   "failed",    "rolled_back",
	                                      NULL };
const struct rm_field rm_f_update_status[] = {
	{ "update_id", RM_FT_STRING, R, 64, NULL, NULL },
	{ "state", RM_FT_STRING, R, 0, NULL, e_update_state },
	{ "version", RM_FT_STRING, O, 64, NULL, NULL }, /* the version now running */
	{ "error", RM_FT_STRING, O, 1024, NULL, NULL },
	{ NULL },
};
