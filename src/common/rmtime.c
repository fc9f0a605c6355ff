/* Milliseconds since the epoch and RFC 3339. */
#include "common/rmtime.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/err.h"

int64_t rm_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t rm_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void rm_time_fmt(int64_t ms, char out[RM_TIME_STRLEN])
{
	int64_t sec = ms / 1000, rem = ms % 1000;
	if (rem < 0) {
		rem += 1000;
		sec--;
	}
	time_t t = (time_t)sec;
	struct tm tm;
	if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999) {
		snprintf(out, RM_TIME_STRLEN, "1970-01-01T00:00:00.000Z");
		return;
	}
	/* wider scratch buffer: the compiler cannot prove the tm fields' ranges */
	char tmp[96];
	snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)rem);
	rm_strlcpy(out, tmp, RM_TIME_STRLEN);
}

/* Reads exactly n digits. */
static int digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int days_in_month(int y, int m)
{
	static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return d[m - 1];
}

int rm_time_parse(const char *s, int64_t *out_ms)
{
	if (!s)
		return RM_ERR_INVAL;
	const char *p = s;
	int Y, M, D, h, m, sec;
	if (digits(&p, 4, &Y) || *p++ != '-' || digits(&p, 2, &M) || *p++ != '-' ||
	    digits(&p, 2, &D))
		return RM_ERR_INVAL;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return RM_ERR_INVAL;
	p++;
	if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &m) || *p++ != ':' ||
	    digits(&p, 2, &sec))
		return RM_ERR_INVAL;
	if (M < 1 || M > 12 || D < 1 || D > days_in_month(Y, M) || h > 23 || m > 59 || sec > 60)
		return RM_ERR_INVAL;
	int frac_ms = 0;
	if (*p == '.') {
		p++;
		int n = 0;
		while (*p >= '0' && *p <= '9') {
			if (n < 3)
				frac_ms = frac_ms * 10 + (*p - '0');
			n++;
			p++;
		}
		if (n < 1 || n > 9)
			return RM_ERR_INVAL;
		for (int i = n; i < 3; i++)
			frac_ms *= 10;
	}
	int off_min = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1, oh, om;
		p++;
		if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59)
			return RM_ERR_INVAL;
		off_min = sign * (oh * 60 + om);
	} else {
		return RM_ERR_INVAL;
	}
	if (*p)
		return RM_ERR_INVAL;
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec; /* a leap second 60 normalises to the next minute */
	time_t t = timegm(&tm);
	*out_ms = ((int64_t)t - (int64_t)off_min * 60) * 1000 + frac_ms;
	return RM_OK;
}
