/* Cron expressions: parsing into bitsets, and the next matching minute (see cron.h). */
#include "common/cron.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"

static const char *const field_names[5] = { "minute", "hour", "day_of_month", "month",
	                                    "day_of_week" };
static const int lo[5] = { 0, 0, 1, 1, 0 };
static const int hi[5] = { 59, 23, 31, 12, 7 };
static const char *const month_names[12] = { "jan", "feb", "mar", "apr", "may", "jun",
	                                     "jul", "aug", "sep", "oct", "nov", "dec" };
static const char *const dow_names[7] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

const char *cron_field_name(int field)
{
	return field >= 0 && field < 5 ? field_names[field] : "expression";
}

/* A number or (months, days of week) a name at *p; advances *p. -1 if neither. */
static int read_value(const char **p, int f)
{
	const char *s = *p;
	long v = 0;
	int digits = 0;

	if (isalpha((unsigned char)*s) && (f == 3 || f == 4)) {
		const char *const *names = f == 3 ? month_names : dow_names;
		int n = f == 3 ? 12 : 7;

		for (int i = 0; i < n; i++)
			if (strncasecmp(s, names[i], 3) == 0 && !isalpha((unsigned char)s[3])) {
				*p = s + 3;
				return f == 3 ? i + 1 : i;
			}
		return -1;
	}
	while (isdigit((unsigned char)*s) && digits < 4) {
		v = v * 10 + (*s - '0');
		s++;
		digits++;
	}
	if (!digits || isdigit((unsigned char)*s))
		return -1;
	*p = s;
	return (int)v;
}

/* One comma-separated item: * | v | v-v, optionally /step. Sets bits in *bits. */
static int parse_item(const char *s, const char *e, int f, uint64_t *bits, int *star, char *err,
                      size_t errlen)
{
	int a, b, step = 1;
	const char *p = s;

	if (*p == '*') {
		a = lo[f];
		b = hi[f] == 7 ? 6 : hi[f];
		p++;
		*star = 1;
	} else {
		a = read_value(&p, f);
		if (a < 0)
			goto bad;
		b = a;
		if (*p == '-') {
			p++;
			b = read_value(&p, f);
			if (b < 0)
				goto bad;
		}
	}
	if (*p == '/') {
		const char *q = ++p;

		step = read_value(&p, 0);
		if (step < 1 || p == q) {
			snprintf(err, errlen, "%s: step must be a positive number", field_names[f]);
			return RM_ERR_INVAL;
		}
		if (s[0] != '*' && b == a && !memchr(s, '-', (size_t)(e - s)))
			b = hi[f] == 7 ? 6 : hi[f]; /* "a/n": a through the maximum */
		if (s[0] == '*')
			*star = step == 1;
	}
	if (p != e)
		goto bad;
	if (a < lo[f] || a > hi[f] || b < lo[f] || b > hi[f]) {
		snprintf(err, errlen, "%s: %d is out of range %d-%d", field_names[f],
		         a < lo[f] || a > hi[f] ? a : b, lo[f], hi[f]);
		return RM_ERR_INVAL;
	}
	if (a > b) {
		snprintf(err, errlen, "%s: range %d-%d is backwards", field_names[f], a, b);
		return RM_ERR_INVAL;
	}
	for (int v = a; v <= b; v += step)
		*bits |= 1ULL << (f == 4 && v == 7 ? 0 : v);
	return RM_OK;
bad:
	snprintf(err, errlen, "%s: cannot read \"%.*s\"", field_names[f],
	         (int)(e - s > 20 ? 20 : e - s), s);
	return RM_ERR_INVAL;
}

static int parse_field(const char *s, size_t len, int f, uint64_t *bits, int *star, char *err,
                       size_t errlen)
{
	const char *e = s + len;

	*bits = 0;
	*star = 0;
	while (s < e) {
		const char *c = memchr(s, ',', (size_t)(e - s));
		const char *ie = c ? c : e;
		int item_star = 0, rc;

		if (ie == s) {
			snprintf(err, errlen, "%s: empty list item", field_names[f]);
			return RM_ERR_INVAL;
		}
		rc = parse_item(s, ie, f, bits, &item_star, err, errlen);
		if (rc)
			return rc;
		*star |= item_star;
		if (!c)
			break;
		s = c + 1;
		if (s == e) {
			snprintf(err, errlen, "%s: empty list item", field_names[f]);
			return RM_ERR_INVAL;
		}
	}
	return RM_OK;
}

static const struct {
	const char *name;
	const char *expr;
} macros[] = {
	{ "@hourly", "0 * * * *" },   { "@daily", "0 0 * * *" },   { "@midnight", "0 0 * * *" },
	{ "@weekly", "0 0 * * 0" },   { "@monthly", "0 0 1 * *" }, { "@yearly", "0 0 1 1 *" },
	{ "@annually", "0 0 1 1 *" },
};

int cron_parse(const char *expr, struct cron *out, int *field, char *err, size_t errlen)
{
	const char *s = expr;
	struct cron c;
	int f = 0;

	*field = -1;
	if (!expr || strlen(expr) > 256) {
		snprintf(err, errlen, "expression missing or too long");
		return RM_ERR_INVAL;
	}
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '@') {
		size_t n = strcspn(s, " \t");

		for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++)
			if (strlen(macros[i].name) == n && strncasecmp(s, macros[i].name, n) == 0 &&
			    s[n + strspn(s + n, " \t")] == '\0')
				return cron_parse(macros[i].expr, out, field, err, errlen);
		snprintf(err, errlen,
		         "unknown macro (use @hourly, @daily, @weekly, @monthly or @yearly)");
		return RM_ERR_INVAL;
	}
	memset(&c, 0, sizeof(c));
	for (f = 0; f < 5; f++) {
		size_t n;
		uint64_t bits;
		int star, rc;

		while (*s == ' ' || *s == '\t')
			s++;
		n = strcspn(s, " \t");
		if (n == 0) {
			snprintf(
			    err, errlen,
			    "expected 5 fields (minute hour day-of-month month day-of-week), got %d",
			    f);
			return RM_ERR_INVAL;
		}
		rc = parse_field(s, n, f, &bits, &star, err, errlen);
		if (rc) {
			*field = f;
			return rc;
		}
		switch (f) {
		case 0: c.minutes = bits; break;
		case 1: c.hours = (uint32_t)bits; break;
		case 2:
			c.dom = (uint32_t)bits;
			c.dom_star = (uint8_t)star;
			break;
		case 3: c.months = (uint16_t)bits; break;
		case 4:
			c.dow = (uint8_t)bits;
			c.dow_star = (uint8_t)star;
			break;
		}
		s += n;
	}
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s) {
		snprintf(
		    err, errlen,
		    "expected 5 fields (minute hour day-of-month month day-of-week), got more");
		return RM_ERR_INVAL;
	}
	*out = c;
	return RM_OK;
}

static int day_matches(const struct cron *c, const struct tm *t)
{
	int d = (c->dom >> t->tm_mday) & 1, w = (c->dow >> t->tm_wday) & 1;

	if (c->dom_star && c->dow_star)
		return 1;
	if (c->dom_star)
		return w;
	if (c->dow_star)
		return d;
	return d || w;
}

int64_t cron_next(const struct cron *c, int64_t after)
{
	time_t t = (time_t)(after - (after % 60 + 60) % 60 + 60); /* next whole minute */
	struct tm tm;
	int64_t limit = after + 5LL * 366 * 86400;

	if (!localtime_r(&t, &tm))
		return -1;
	while ((int64_t)t <= limit) {
		time_t nt;

		if (!((c->months >> (tm.tm_mon + 1)) & 1)) {
			tm.tm_mon++;
			tm.tm_mday = 1;
			tm.tm_hour = 0;
			tm.tm_min = 0;
		} else if (!day_matches(c, &tm)) {
			tm.tm_mday++;
			tm.tm_hour = 0;
			tm.tm_min = 0;
		} else if (!((c->hours >> tm.tm_hour) & 1)) {
			tm.tm_hour++;
			tm.tm_min = 0;
		} else if (!((c->minutes >> tm.tm_min) & 1)) {
			tm.tm_min++;
		} else {
			return (int64_t)t;
		}
		/* normalise in local time; a minute inside a DST gap comes back shifted and is
		 * re-checked against the fields like any other */
		tm.tm_sec = 0;
		tm.tm_isdst = -1;
		nt = mktime(&tm);
		if (nt == (time_t)-1)
			return -1;
		if (nt <= t) {
			/* fall-back: the same wall-clock minute again; step past it */
			nt = t + 60;
			localtime_r(&nt, &tm);
		}
		t = nt;
		if (!localtime_r(&t, &tm))
			return -1;
	}
	return -1;
}
