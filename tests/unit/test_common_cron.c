/* cron expressions: parsing, errors naming the field, next-run computation in local time
 * including DST transitions. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cron.h"
#include "common/err.h"
#include "tap.h"

/* "YYYY-MM-DD HH:MM" in the current TZ -> epoch seconds */
static int64_t at(const char *s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	strptime(s, "%Y-%m-%d %H:%M", &tm);
	tm.tm_isdst = -1;
	return (int64_t)mktime(&tm);
}

static const char *fmt(int64_t t)
{
	static char buf[64];
	time_t tt = (time_t)t;
	struct tm tm;

	if (t < 0)
		return "none";
	localtime_r(&tt, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M %Z", &tm);
	return buf;
}

static const char *next_of(const char *expr, const char *from)
{
	struct cron c;
	int f;
	static char err[128];

	if (cron_parse(expr, &c, &f, err, sizeof(err)))
		return err;
	return fmt(cron_next(&c, at(from)));
}

TEST(parse_ok)
{
	static const char *const good[] = {
		"* * * * *",     "0 2 * * *",
		"*/15 * * * *",  "0 9-17/2 * * mon-fri",
		"30 4 1,15 * *", "0 0 * jan,JUL *",
		"5 4 * * 7",     "0 0 1 1 *",
		"@hourly",       "@daily",
		" @weekly ",     "@monthly",
		"@yearly",       "@annually",
		"@midnight",     "0-59/10 0-23 1-31 1-12 0-7",
		"7/20 * * * *",  "  1   2   3   4   5  ",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct cron c;
		int f = 99;
		char err[128] = "";

		EQ_INT(cron_parse(good[i], &c, &f, err, sizeof(err)), RM_OK);
		if (err[0])
			printf("# %s: %s\n", good[i], err);
	}
}

TEST(parse_errors_name_the_field)
{
	static const struct {
		const char *expr;
		int field;
		const char *needle;
	} bad[] = {
		{ "61 * * * *", 0, "minute: 61 is out of range 0-59" },
		{ "* 24 * * *", 1, "hour" },
		{ "* * 0 * *", 2, "day_of_month" },
		{ "* * * 13 *", 3, "month" },
		{ "* * * * 8", 4, "day_of_week" },
		{ "* * * * funday", 4, "cannot read" },
		{ "*/0 * * * *", 0, "step" },
		{ "5-1 * * * *", 0, "backwards" },
		{ "1,,2 * * * *", 0, "empty" },
		{ "* * * *", -1, "5 fields" },
		{ "* * * * * *", -1, "5 fields" },
		{ "@often", -1, "unknown macro" },
		{ "", -1, "5 fields" },
		{ "1-2-3 * * * *", 0, "cannot read" },
		{ "a * * * *", 0, "cannot read" },
		{ "00001 * * * *", 0, "cannot read" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cron c;
		int f = 99;
		char err[128] = "";

		EQ_INT(cron_parse(bad[i].expr, &c, &f, err, sizeof(err)), RM_ERR_INVAL);
		EQ_INT(f, bad[i].field);
		if (!strstr(err, bad[i].needle)) {
			printf("#   \"%s\": error \"%s\" lacks \"%s\"\n", bad[i].expr, err,
			       bad[i].needle);
			OK(0);
		}
	}
	EQ_STR(cron_field_name(4), "day_of_week");
}

TEST(next_utc)
{
	setenv("TZ", "UTC", 1);
	tzset();
	EQ_STR(next_of("* * * * *", "2026-03-01 10:00"), "2026-03-01 10:01 UTC");
	EQ_STR(next_of("0 2 * * *", "2026-03-01 10:00"), "2026-03-02 02:00 UTC");
	EQ_STR(next_of("*/15 * * * *", "2026-03-01 10:14"), "2026-03-01 10:15 UTC");
	EQ_STR(next_of("@weekly", "2026-03-04 10:00"), "2026-03-08 00:00 UTC"); /* a Sunday */
	EQ_STR(next_of("0 0 * * 7", "2026-03-04 10:00"), "2026-03-08 00:00 UTC");
	EQ_STR(next_of("@monthly", "2026-12-15 00:00"), "2027-01-01 00:00 UTC");
	EQ_STR(next_of("0 0 29 2 *", "2026-03-01 00:00"), "2028-02-29 00:00 UTC");
	EQ_STR(next_of("0 0 30 2 *", "2026-03-01 00:00"), "none");
	/* both day fields restricted: either matches (the 13th, or any Friday) */
	EQ_STR(next_of("0 0 13 * fri", "2026-03-01 00:00"), "2026-03-06 00:00 UTC");
	/* day-of-month restricted, day-of-week '*': only the day of month */
	EQ_STR(next_of("0 0 13 * *", "2026-03-01 00:00"), "2026-03-13 00:00 UTC");
	EQ_STR(next_of("30 9-17/4 * * mon-fri", "2026-03-06 17:30"), "2026-03-09 09:30 UTC");
	EQ_STR(next_of("7/20 * * * *", "2026-03-01 10:08"), "2026-03-01 10:27 UTC");
}

TEST(next_dst)
{
	setenv("TZ", "Europe/Berlin", 1);
	tzset();
	/* 2026-03-29 02:00 CET -> 03:00 CEST: 02:30 does not exist that day */
	EQ_STR(next_of("30 2 * * *", "2026-03-28 12:00"), "2026-03-30 02:30 CEST");
	EQ_STR(next_of("30 3 * * *", "2026-03-29 01:00"), "2026-03-29 03:30 CEST");
	/* 2026-10-25 03:00 CEST -> 02:00 CET: 02:30 happens twice, fires once */
	{
		struct cron c;
		int f;
		char err[64];
		int64_t first, second;

		cron_parse("30 2 * * *", &c, &f, err, sizeof(err));
		first = cron_next(&c, at("2026-10-25 00:00"));
		EQ_STR(fmt(first), "2026-10-25 02:30 CEST");
		second = cron_next(&c, first);
		EQ_STR(fmt(second), "2026-10-26 02:30 CET");
	}
	/* hourly across the gap: 01:00 then 03:00 (02:xx does not exist) */
	EQ_STR(next_of("0 * * * *", "2026-03-29 01:00"), "2026-03-29 03:00 CEST");
	setenv("TZ", "UTC", 1);
	tzset();
}

int main(void)
{
	RUN(parse_ok);
	RUN(parse_errors_name_the_field);
	RUN(next_utc);
	RUN(next_dst);
	return tap_done();
}
