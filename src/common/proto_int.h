#ifndef RM_COMMON_PROTO_INT_H
#define RM_COMMON_PROTO_INT_H
/* Inside the protocol table: payload schemas defined outside proto.c (proto_c3.c). */
#include "common/proto.h"

extern const struct rm_field rm_f_snapshot_diff[], rm_f_snapshot_diff_result[];
extern const struct rm_field rm_f_stream_open[], rm_f_stream_open_result[];
extern const struct rm_field rm_f_stream_data[], rm_f_stream_ack[], rm_f_stream_end[];
extern const struct rm_field rm_f_stream_cancel[];
extern const struct rm_field rm_f_command_update[], rm_f_update_status[]; /* proto_update.c */

#endif
