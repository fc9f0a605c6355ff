#ifndef RM_COMMON_ULID_H
#define RM_COMMON_ULID_H
/* ULIDs (26 chars Crockford base32: 48-bit ms timestamp + 80 random bits). Monotonic
 * within the same millisecond in one process (random part incremented). */
#define RM_ULID_LEN 26
#define RM_ULID_BUF (RM_ULID_LEN + 1) /* a ULID and its NUL: char id[RM_ULID_BUF] */
void rm_ulid_new(char out[RM_ULID_LEN + 1]);
/* 1 if s is exactly 26 valid Crockford chars (upper case), else 0. */
int rm_ulid_valid(const char *s);
#endif
