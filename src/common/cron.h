#ifndef RM_COMMON_CRON_H
#define RM_COMMON_CRON_H
/* 5-field cron expressions (minute hour day-of-month month day-of-week) and the macros
 * @hourly @daily @midnight @weekly @monthly @yearly @annually. Fields take *, numbers,
 * ranges a-b, steps (star-slash-n, a-b/n, a/n), comma lists, and names (jan..dec, sun..sat, case-
 * insensitive); day-of-week 0 and 7 are Sunday. As in Vixie cron, when both day fields are
 * restricted a day matches if either does.
 *
 * Evaluation is in the process's local time zone (the agent's own; the server sets TZ
 * around a call to preview a host's). Minutes that do not exist (spring-forward gap) are
 * skipped; a repeated hour (fall-back) fires at its first occurrence only. Pure; used by
 * both binaries. */
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct cron {
	uint64_t minutes; /* bit m: minute m (0..59) */
	uint32_t hours;   /* bit h (0..23) */
	uint32_t dom;     /* bit d (1..31) */
	uint16_t months;  /* bit m (1..12) */
	uint8_t dow;      /* bit d (0..6, 0 = Sunday) */
	uint8_t dom_star; /* the field was '*' (or '*' with a step of 1) */
	uint8_t dow_star;
};

/* Parses expr. RM_OK, or RM_ERR_INVAL with *field set to the 0-based field index (0..4; -1
 * for the expression as a whole) and err naming the problem ("minute: 61 is out of range
 * 0-59"). */
int cron_parse(const char *expr, struct cron *out, int *field, char *err, size_t errlen);

/* Field names for messages and API errors: "minute", "hour", "day_of_month", "month",
 * "day_of_week". */
const char *cron_field_name(int field);

/* The first matching minute strictly after `after` (seconds since the epoch), in local
 * time; -1 when none within 5 years (an impossible date such as 30 February). */
int64_t cron_next(const struct cron *c, int64_t after);

#endif
