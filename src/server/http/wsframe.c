/* RFC 6455 framing, server side (see wsframe.h). */
#include "server/http/wsframe.h"

#include <openssl/sha.h>
#include <sodium.h>
#include <string.h>

int ws_frame_parse(const unsigned char *b, size_t n, struct ws_frame *f, int *close_code)
{
	size_t h = 2;
	uint64_t len;

	if (n < 2)
		return 0;
	*close_code = 1002;
	if (b[0] & 0x70)
		return -1; /* no extension negotiated: RSV1-3 must be 0 */
	f->fin = (b[0] & 0x80) != 0;
	f->opcode = b[0] & 0x0f;
	switch (f->opcode) {
	case WS_OP_CONT:
	case WS_OP_TEXT:
	case WS_OP_BINARY: break;
	case WS_OP_CLOSE:
	case WS_OP_PING:
	case WS_OP_PONG:
		if (!f->fin || (b[1] & 0x7f) > 125)
			return -1;
		break;
	default: return -1;
	}
	if (!(b[1] & 0x80))
		return -1; /* RFC 6455 §5.1: a server must close on an unmasked client frame */
	len = b[1] & 0x7f;
	if (len == 126) {
		if (n < 4)
			return 0;
		len = ((uint64_t)b[2] << 8) | b[3];
		h = 4;
	} else if (len == 127) {
		if (n < 10)
			return 0;
		len = 0;
		for (int i = 0; i < 8; i++)
			len = (len << 8) | b[2 + i];
		if (len >> 63)
			return -1;
		h = 10;
	}
	if (n < h + 4)
		return 0;
	memcpy(f->mask, b + h, 4);
	f->hdr_len = h + 4;
	f->len = len;
	return 1;
}

void ws_unmask(unsigned char *p, size_t n, const unsigned char mask[4], uint64_t off)
{
	size_t i = 0;
	/* bytes up to 8-byte alignment, then 8 at a time (agent download frames are MiBs:
	 * the byte loop was 40 % of the server's CPU while relaying one) */
	for (; i < n && ((uintptr_t)(p + i) & 7); i++)
		p[i] ^= mask[(off + i) & 3];
	if (n - i >= 8) {
		unsigned char m8[8];
		uint64_t m;
		for (int k = 0; k < 8; k++)
			m8[k] = mask[(off + i + (size_t)k) & 3];
		memcpy(&m, m8, 8);
		for (; n - i >= 8; i += 8) {
			uint64_t v;
			memcpy(&v, p + i, 8);
			v ^= m;
			memcpy(p + i, &v, 8);
		}
	}
	for (; i < n; i++)
		p[i] ^= mask[(off + i) & 3];
}

size_t ws_frame_header(unsigned char out[WS_FRAME_HDR_MAX], int opcode, uint64_t len)
{
	out[0] = (unsigned char)(0x80 | (opcode & 0x0f));
	if (len < 126) {
		out[1] = (unsigned char)len;
		return 2;
	}
	if (len <= 0xffff) {
		out[1] = 126;
		out[2] = (unsigned char)(len >> 8);
		out[3] = (unsigned char)len;
		return 4;
	}
	out[1] = 127;
	for (int i = 0; i < 8; i++)
		out[2 + i] = (unsigned char)(len >> (56 - 8 * i));
	return 10;
}

int ws_accept_key(const char *key, size_t klen, char out[29])
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	unsigned char cat[24 + sizeof(guid)], dig[SHA_DIGEST_LENGTH];

	if (klen != 24)
		return -1;
	for (size_t i = 0; i < 24; i++) {
		unsigned char c = (unsigned char)key[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '/' || (c == '=' && i >= 22)))
			return -1;
	}
	memcpy(cat, key, 24);
	memcpy(cat + 24, guid, sizeof(guid) - 1);
	SHA1(cat, 24 + sizeof(guid) - 1, dig);
	sodium_bin2base64(out, 29, dig, sizeof(dig), sodium_base64_VARIANT_ORIGINAL);
	return 0;
}

int ws_utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		uint32_t cp;
		size_t k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (i + k >= n)
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k + 1;
	}
	return 1;
}
