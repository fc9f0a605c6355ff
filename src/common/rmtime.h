#ifndef RM_COMMON_RMTIME_H
#define RM_COMMON_RMTIME_H
/* Wall-clock time as int64 milliseconds since the Unix epoch, and RFC 3339. */
#include <stdint.h>

#define RM_TIME_STRLEN 32
int64_t rm_now_ms(void);  /* CLOCK_REALTIME */
int64_t rm_mono_ms(void); /* CLOCK_MONOTONIC */
/* "2026-11-24T14:32:10.123Z" (UTC, always millisecond precision). */
void rm_time_fmt(int64_t ms, char out[RM_TIME_STRLEN]);
/* Accepts RFC 3339 with 'Z' or ±hh:mm offsets and 0..9 fractional digits (restic emits
 * nanoseconds with local offsets). RM_OK or RM_ERR_INVAL. */
int rm_time_parse(const char *s, int64_t *out_ms);
#endif
