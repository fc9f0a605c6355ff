/* Binary download frames (see proto.h). */
#include <string.h>

#include "common/err.h"
#include "common/proto.h"

int proto_stream_frame_parse(const unsigned char *frame, size_t len, char id[RM_PROTO_ID_MAX + 1],
                             const unsigned char **data, size_t *n)
{
	if (len < 2 || frame[0] != RM_STREAM_FRAME_V || frame[1] == 0 ||
	    frame[1] > RM_PROTO_ID_MAX || len < 2u + frame[1])
		return RM_ERR_PROTO;
	size_t l = frame[1];
	for (size_t i = 0; i < l; i++) {
		unsigned char c = frame[2 + i];
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      c == '_' || c == '-'))
			return RM_ERR_PROTO;
	}
	memcpy(id, frame + 2, l);
	id[l] = 0;
	*data = frame + 2 + l;
	*n = len - 2 - l;
	return RM_OK;
}

size_t proto_stream_frame_header(const char *id, unsigned char *out)
{
	size_t l = strlen(id);
	if (l > RM_PROTO_ID_MAX)
		l = RM_PROTO_ID_MAX;
	out[0] = RM_STREAM_FRAME_V;
	out[1] = (unsigned char)l;
	memcpy(out + 2, id, l);
	return 2 + l;
}
