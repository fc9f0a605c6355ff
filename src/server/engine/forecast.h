#ifndef RM_SERVER_ENGINE_FORECAST_H
#define RM_SERVER_ENGINE_FORECAST_H
/* Repository growth forecast: a least-squares line through (time, size) points, and when
 * the size would reach a target (a configured quota, else the next milestone 1/10/100 of
 * KiB..PiB above the current size). Pure code, no I/O. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define FORECAST_MIN_POINTS 3
#define FORECAST_MIN_SPAN_MS (24LL * 3600 * 1000)
#define FORECAST_WINDOW_MS (30LL * 24 * 3600 * 1000)

struct forecast {
	int ok;                  /* 0: no forecast; why says so */
	const char *why;         /* "too_few_points" (< 3) | "too_short" (< 1 day) | NULL */
	double bytes_per_day;    /* slope of the fitted line */
	long long last_bytes;    /* newest measured size */
	long long target_bytes;  /* quota, or the next milestone above last_bytes */
	const char *target_kind; /* "quota" | "milestone" */
	double days_to_target;   /* 0 when already there; < 0 when not growing */
	size_t points;
	double span_days;
};

/* The smallest of 1, 10, 100 x KiB, MiB, GiB, TiB, PiB above bytes (1 KiB for <= 0). */
long long forecast_next_milestone(long long bytes);

/* Fits the n points (t_ms ascending; only those within FORECAST_WINDOW_MS of the newest
 * are used) and fills *out. quota_bytes <= 0 means no quota. Always returns RM_OK; out->ok
 * says whether there is a forecast. */
int forecast_compute(const int64_t *t_ms, const double *bytes, size_t n, long long quota_bytes,
                     struct forecast *out);

/* {"ok","reason"|null,"bytes_per_day","target_bytes","target_kind","days_to_target"|null,
 * "points","span_days"} (new reference). */
json_t *forecast_json(const struct forecast *f);

#endif
