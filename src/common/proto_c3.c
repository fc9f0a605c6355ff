/* The C3 browsing messages' payload schemas (snapshot.diff, stream.*), kept out of proto.c
 * for its size; proto.c's table refers to them. See docs/internals/protocol.md. */
#include <stddef.h>

#include "common/proto.h"
#include "common/proto_int.h"

#define R 1
#define O 0

static const char *const e_dump_format[] = { "raw", "tar", "zip", NULL };
const struct rm_field rm_f_snapshot_diff[] = {
	{ "from", RM_FT_STRING, R, 64, NULL, NULL },
	{ "to", RM_FT_STRING, R, 64, NULL, NULL },
	{ NULL },
};
const struct rm_field rm_f_snapshot_diff_result[] = {
	{ "request_id", RM_FT_STRING, R, 64, NULL, NULL },
	{ "added", RM_FT_STRING_ARRAY, O, 10000, NULL, NULL },
	{ "removed", RM_FT_STRING_ARRAY, O, 10000, NULL, NULL },
	{ "changed", RM_FT_STRING_ARRAY, O, 10000, NULL, NULL },
	{ "truncated", RM_FT_BOOL, O, 0, NULL, NULL },
	{ "stats", RM_FT_OBJECT, O, 0, NULL, NULL },
	{ "error", RM_FT_OBJECT, O, 0, NULL, NULL },
	{ NULL },
};
const struct rm_field rm_f_stream_open[] = {
	{ "stream_id", RM_FT_STRING, R, 64, NULL, NULL },
	{ "snapshot_id", RM_FT_STRING, R, 64, NULL, NULL },
	{ "path", RM_FT_STRING, R, 0, NULL, NULL },
	{ "format", RM_FT_STRING, O, 0, NULL, e_dump_format }, /* directories; default tar */
	{ "window", RM_FT_INT, O, 0, NULL, NULL },             /* bytes in flight before an ack */
	{ NULL },
};
const struct rm_field rm_f_stream_open_result[] = {
	{ "request_id", RM_FT_STRING, R, 64, NULL, NULL },
	{ "stream_id", RM_FT_STRING, O, 64, NULL, NULL },
	{ "type", RM_FT_STRING, O, 16, NULL, NULL }, /* file | dir | symlink | ... */
	{ "size", RM_FT_INT, O, 0, NULL, NULL },     /* files */
	{ "error", RM_FT_OBJECT, O, 0, NULL, NULL },
	{ NULL },
};
const struct rm_field rm_f_stream_data[] = {
	{ "stream_id", RM_FT_STRING, R, 64, NULL, NULL },
	{ "data", RM_FT_STRING, R, 256 * 1024, NULL, NULL }, /* base64 */
	{ NULL },
};
const struct rm_field rm_f_stream_ack[] = {
	{ "stream_id", RM_FT_STRING, R, 64, NULL, NULL },
	{ "bytes", RM_FT_INT, R, 0, NULL, NULL }, /* total bytes consumed so far */
	{ NULL },
};
const struct rm_field rm_f_stream_end[] = {
	{ "stream_id", RM_FT_STRING, R, 64, NULL, NULL },
	{ "bytes", RM_FT_INT, O, 0, NULL, NULL }, /* total bytes sent */
	{ "error", RM_FT_OBJECT, O, 0, NULL, NULL },
	{ NULL },
};
const struct rm_field rm_f_stream_cancel[] = {
	{ "stream_id", RM_FT_STRING, R, 64, NULL, NULL },
	{ NULL },
};

#undef R
#undef O
