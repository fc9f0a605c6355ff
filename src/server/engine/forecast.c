/* Growth forecast from the size history (see forecast.h). Honest by construction: no line
 * through fewer than 3 points or less than a day, no date when the size is not growing. */
#include "server/engine/forecast.h"

#include <math.h>

#include "common/err.h"

long long forecast_next_milestone(long long bytes)
{
	long long unit = 1024;
	for (int u = 0; u < 5; u++, unit *= 1024)
		for (long long m = 1; m <= 100; m *= 10)
			if (m * unit > bytes)
				return m * unit;
	return (bytes / unit + 1) * unit; /* beyond 100 PiB: the next whole EiB */
}

int forecast_compute(const int64_t *t_ms, const double *bytes, size_t n, long long quota_bytes,
                     struct forecast *out)
{
	*out = (struct forecast){ .why = "too_few_points", .target_kind = "milestone" };
	if (n == 0)
		return RM_OK;
	size_t first = 0;
	while (first < n && t_ms[n - 1] - t_ms[first] > FORECAST_WINDOW_MS)
		first++;
	size_t k = n - first;
	out->points = k;
	out->last_bytes = (long long)bytes[n - 1];
	out->span_days = (double)(t_ms[n - 1] - t_ms[first]) / 86400000.0;
	if (k < FORECAST_MIN_POINTS)
		return RM_OK;
	if (t_ms[n - 1] - t_ms[first] < FORECAST_MIN_SPAN_MS) {
		out->why = "too_short";
		return RM_OK;
	}
	/* x in days relative to the first point keeps the sums well conditioned */
	double sx = 0, sy = 0, sxx = 0, sxy = 0;
	for (size_t i = first; i < n; i++) {
		double x = (double)(t_ms[i] - t_ms[first]) / 86400000.0, y = bytes[i];
		sx += x;
		sy += y;
		sxx += x * x;
		sxy += x * y;
	}
	double den = (double)k * sxx - sx * sx;
	if (!(fabs(den) > 1e-12)) {
		out->why = "too_short";
		return RM_OK;
	}
	out->ok = 1;
	out->why = NULL;
	out->bytes_per_day = ((double)k * sxy - sx * sy) / den;
	if (quota_bytes > 0) {
		out->target_bytes = quota_bytes;
		out->target_kind = "quota";
	} else {
		out->target_bytes = forecast_next_milestone(out->last_bytes);
	}
	double gap = (double)(out->target_bytes - out->last_bytes);
	if (gap <= 0)
		out->days_to_target = 0;
	else if (out->bytes_per_day > 0)
		out->days_to_target = gap / out->bytes_per_day;
	else
		out->days_to_target = -1;
	return RM_OK;
}

json_t *forecast_json(const struct forecast *f)
{
	json_t *o = json_object();
	json_object_set_new(o, "ok", json_boolean(f->ok));
	json_object_set_new(o, "reason", f->why ? json_string(f->why) : json_null());
	json_object_set_new(o, "points", json_integer((json_int_t)f->points));
	json_object_set_new(o, "span_days", json_real(f->span_days));
	if (!f->ok)
		return o;
	json_object_set_new(o, "bytes_per_day", json_real(f->bytes_per_day));
	json_object_set_new(o, "target_bytes", json_integer(f->target_bytes));
	json_object_set_new(o, "target_kind", json_string(f->target_kind));
	json_object_set_new(o, "days_to_target",
	                    f->days_to_target < 0 ? json_null() : json_real(f->days_to_target));
	return o;
}
