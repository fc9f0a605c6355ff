#ifndef RM_AGENT_RESTIC_INDEX_INT_H
#define RM_AGENT_RESTIC_INDEX_INT_H
/* Inside the snapshot index (index.c builds, index_read.c reads): the record codec. */
#include <stdint.h>
#include <string.h>

#include "agent/restic/index.h"

#define IDX_HDR 64
#define IDX_REC_HDR 28
#define IDX_DIRENT 16
#define IDX_NAME_MAX 4096
#define IDX_NO_DIR 0xffffffffu

static inline void idx_put16(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}
static inline void idx_put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}
static inline void idx_put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}
static inline uint32_t idx_get16(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}
static inline uint32_t idx_get32(const unsigned char *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}
static inline uint64_t idx_get64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Record header (IDX_REC_HDR bytes); the name follows. */
static inline void idx_rec_encode(unsigned char *p, const struct idx_node *n, uint32_t dir_id)
{
	idx_put16(p, (uint32_t)n->name_len);
	p[2] = (unsigned char)n->type;
	p[3] = 0;
	idx_put32(p + 4, n->mode);
	idx_put32(p + 8, dir_id);
	idx_put64(p + 12, n->size);
	idx_put64(p + 20, (uint64_t)n->mtime_ms);
}

#endif
