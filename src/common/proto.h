#ifndef RM_COMMON_PROTO_H
#define RM_COMMON_PROTO_H
/* The agent <-> server wire protocol: envelope codec and ONE table of every message type
 * with its payload schema. See docs/internals/protocol.md.
 *
 * Envelope: {"type": "...", "id": "<ULID>", "ts": "<RFC3339>", "payload": {...}}
 * WebSocket subprotocol: "rm-agent.v1"; one JSON text frame = one envelope. */
#include "common/ulid.h"
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define RM_PROTO_VERSION 1
#define RM_PROTO_MIN_VERSION 1
#define RM_PROTO_SUBPROTOCOL "rm-agent.v1"
#define RM_PROTO_MAX_FRAME (1024 * 1024) /* bytes per envelope */
/* Envelope ids we generate are ULIDs; ids received may be any 1..64 chars of
 * [0-9A-Za-z_-] (foreign clients). */
#define RM_PROTO_ID_MAX 64

enum rm_msg_type {
	RM_MSG_UNKNOWN = 0,
	RM_MSG_HELLO,            /* agent -> server */
	RM_MSG_HEARTBEAT,        /* agent -> server; server answers with ack */
	RM_MSG_ACK,              /* both ways: {"ids": [envelope ids]} */
	RM_MSG_CONFIG_UPDATE,    /* server -> agent */
	RM_MSG_SCHEDULE_SET,     /* server -> agent */
	RM_MSG_SCHEDULE_ACK,     /* agent -> server */
	RM_MSG_COMMAND_RUN,      /* server -> agent */
	RM_MSG_COMMAND_RESULT,   /* agent -> server */
	RM_MSG_COMMAND_CANCEL,   /* server -> agent */
	RM_MSG_COMMAND_UPDATE,   /* server -> agent */
	RM_MSG_JOB_STARTED,      /* agent -> server, carries seq */
	RM_MSG_JOB_PROGRESS,     /* agent -> server, ephemeral (no seq, not in outbox) */
	RM_MSG_LOG_STREAM,       /* agent -> server, batch of lines, each with seq */
	RM_MSG_JOB_FINISHED,     /* agent -> server, carries seq */
	RM_MSG_SNAPSHOTS_REPORT, /* agent -> server */
	RM_MSG_STATS_REPORT,     /* agent -> server */
	RM_MSG_TREE_LIST,        /* server -> agent (rpc; answer correlated by envelope id) */
	RM_MSG_TREE_LIST_RESULT, /* agent -> server, payload.request_id = tree.list id */
	RM_MSG_ERROR,            /* both ways: {"code","message","ref_id"?} */
	RM_MSG_FORGET_PREVIEW,   /* server -> agent (rpc): retention preview, forget --dry-run */
	RM_MSG_FORGET_PREVIEW_RESULT, /* agent -> server, payload.request_id = its id */
	/* C3 browsing (docs/internals/protocol.md "Snapshot browsing and downloads") */
	RM_MSG_SNAPSHOT_DIFF,        /* server -> agent (rpc) */
	RM_MSG_SNAPSHOT_DIFF_RESULT, /* agent -> server */
	RM_MSG_STREAM_OPEN,          /* server -> agent (rpc): a download */
	RM_MSG_STREAM_OPEN_RESULT,   /* agent -> server: type and size, then stream.data */
	RM_MSG_STREAM_DATA,          /* agent -> server, ephemeral: base64 bytes */
	RM_MSG_STREAM_ACK,           /* server -> agent: bytes consumed (the credit window) */
	RM_MSG_STREAM_END,           /* agent -> server: done, or error */
	RM_MSG_STREAM_CANCEL,        /* server -> agent: the browser went away */
	RM_MSG_UPDATE_STATUS,        /* agent -> server: progress of a command.update (C6) */
	RM_MSG__COUNT
};

/* Field types of the schema table. */
enum rm_field_type {
	RM_FT_STRING = 1,
	RM_FT_INT,
	RM_FT_NUMBER, /* int or real */
	RM_FT_BOOL,
	RM_FT_OBJECT,
	RM_FT_ARRAY,
	RM_FT_STRING_ARRAY,
	RM_FT_TIME, /* RFC 3339 string */
	RM_FT_ANY,
};

struct rm_field {
	const char *name;
	enum rm_field_type type;
	int required;
	size_t max;                     /* strings: max bytes; arrays: max items; 0 = default bound
	             * (strings 4096 bytes, arrays 1000 items) */
	const struct rm_field *items;   /* RM_FT_ARRAY: schema of each element (an object),
	                               * terminated by {NULL}; NULL = elements unchecked */
	const char *const *enum_values; /* RM_FT_STRING: allowed values, NULL-terminated */
};

#define RM_DIR_A2S 1
#define RM_DIR_S2A 2

struct rm_msg_desc {
	enum rm_msg_type type;
	const char *name;              /* wire name, e.g. "job.finished" */
	int dir;                       /* RM_DIR_A2S | RM_DIR_S2A */
	const struct rm_field *fields; /* terminated by {NULL} */
};

/* The table, indexed by enum rm_msg_type (entry 0 = unknown). */
const struct rm_msg_desc *proto_msg_desc(enum rm_msg_type t);
const char *proto_type_name(enum rm_msg_type t);         /* "unknown" for out-of-range */
enum rm_msg_type proto_type_from_name(const char *name); /* RM_MSG_UNKNOWN if not found */

struct rm_envelope {
	enum rm_msg_type type;
	char type_name[64]; /* as received (truncated), useful for logging unknown types */
	char id[RM_PROTO_ID_MAX + 1]; /* ULID from us; 1..64 chars [0-9A-Za-z_-] from others */
	int64_t ts_ms;
	json_t *payload; /* borrowed from root; always an object after a successful decode */
	json_t *root;    /* owned */
};

/* Decodes one frame. Returns:
 *   RM_OK          valid envelope of a known type, payload validated against the table;
 *   RM_ERR_UNKNOWN envelope well formed but type not in the table (out->type_name set,
 *                  out->id set; caller logs and ignores; out must still be cleaned up);
 *   RM_ERR_TOOBIG  len > RM_PROTO_MAX_FRAME;
 *   RM_ERR_PROTO   anything else malformed (bad JSON, missing/invalid id/ts/type, payload
 *                  not an object, schema violation). err gets a human message naming the
 *                  field. On RM_ERR_PROTO, out->id is set if the id was readable, else "".
 * Never crashes on any input. out is always safe to pass to proto_envelope_cleanup(). */
int proto_decode(const char *buf, size_t len, struct rm_envelope *out, char *err, size_t errlen);
void proto_envelope_cleanup(struct rm_envelope *env);

/* Validates payload against the table entry for t (RM_OK / RM_ERR_PROTO with message). */
int proto_validate_payload(enum rm_msg_type t, const json_t *payload, char *err, size_t errlen);

/* Encodes an envelope; takes ownership of payload (NULL = {}). id_out (27 bytes, may be
 * NULL) receives the generated ULID. Returns malloc'd compact JSON text. */
char *proto_encode(enum rm_msg_type t, json_t *payload_take, char id_out[RM_ULID_BUF]);
/* Error envelope: {"code": code, "message": message, "ref_id": ref_id (omitted if NULL)}. */
char *proto_encode_error(const char *code, const char *message, const char *ref_id);

/* Download data as binary WebSocket frames (agent -> server; the JSON stream.data carries
 * the same as base64): byte 0 = RM_STREAM_FRAME_V, byte 1 = L (1..64), L bytes of
 * stream_id, then the data. proto_stream_frame_parse: RM_OK or RM_ERR_PROTO; id gets the
 * NUL-terminated stream id, *data and *n the bytes (borrowed from frame). */
#define RM_STREAM_FRAME_V 1
#define RM_STREAM_FRAME_HDR_MAX (2 + RM_PROTO_ID_MAX)
int proto_stream_frame_parse(const unsigned char *frame, size_t len, char id[RM_PROTO_ID_MAX + 1],
                             const unsigned char **data, size_t *n);
/* Writes the header for id into out (RM_STREAM_FRAME_HDR_MAX bytes); returns its length. */
size_t proto_stream_frame_header(const char *id, unsigned char *out);

/* 1 when s is a source-group name: [a-z0-9][a-z0-9_.-]{0,62}, a restic tag that needs no
 * quoting anywhere (checked by the server's API and again by the agent). */
int proto_group_name_ok(const char *s);
/* 1 when s is a restic --read-data-subset the product accepts: "N%" with 0 < N <= 100 or
 * "n/m" with 1 <= n <= m <= 1000000 (checked by the server's API and again by the
 * agent). */
int proto_read_data_subset_ok(const char *s);

#endif