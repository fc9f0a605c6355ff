#ifndef RM_SERVER_HTTP_WSFRAME_H
#define RM_SERVER_HTTP_WSFRAME_H
/* RFC 6455 framing, server side, pure (unit-tested and fuzzed). */
#include <stddef.h>
#include <stdint.h>

#define WS_OP_CONT 0x0
#define WS_OP_TEXT 0x1
#define WS_OP_BINARY 0x2
#define WS_OP_CLOSE 0x8
#define WS_OP_PING 0x9
#define WS_OP_PONG 0xA

#define WS_FRAME_HDR_MAX 10 /* server frames are unmasked: 2 + 8 */

struct ws_frame {
	int fin;
	int opcode;
	uint64_t len;   /* payload length */
	size_t hdr_len; /* bytes before the payload */
	unsigned char mask[4];
};

/* Parses a client frame header at b[0..n). Returns 1 when the header is complete (the
 * payload may still be incomplete: compare n with hdr_len + len), 0 when more bytes are
 * needed, -1 on a protocol violation with *close_code set (1002: reserved bits, unknown
 * opcode, fragmented or long control frame, unmasked client frame, 64-bit length with the
 * top bit set). Binary frames are parsed; refusing them is the caller's policy. */
int ws_frame_parse(const unsigned char *b, size_t n, struct ws_frame *f, int *close_code);

/* XORs p with the mask, continuing at byte offset off of the payload. */
void ws_unmask(unsigned char *p, size_t n, const unsigned char mask[4], uint64_t off);

/* Writes a FIN frame header (unmasked) for opcode and len into out; returns its size. */
size_t ws_frame_header(unsigned char out[WS_FRAME_HDR_MAX], int opcode, uint64_t len);

/* Sec-WebSocket-Accept for a client key: base64(SHA-1(key + GUID)), NUL-terminated in
 * out (29 bytes). -1 if the key is not 24 base64 characters (a 16-byte nonce). */
int ws_accept_key(const char *key, size_t klen, char out[29]);

/* 1 when s[0..n) is valid UTF-8 (RFC 3629: no overlongs, surrogates or > U+10FFFF). */
int ws_utf8_valid(const unsigned char *s, size_t n);

#endif
