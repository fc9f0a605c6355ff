/* Method + path-pattern router (LWS-NOTES pitfall 8: lws has none). The path handed in is
 * already percent-decoded by the HTTP layer, so matching is purely on '/' segments. */
#include "server/http/router.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "server/http/http.h"

#define ROUTER_MAX_SEGS 32
#define ROUTER_MAX_PATH 4096

struct seg {
	const char *p;
	size_t len;
};

/* Splits "/a/b/c" into segments. Returns the count, or -1 when the path is not of the
 * form "/seg(/seg)*" with non-empty segments (a trailing slash or "//" yields an empty
 * segment, which only a literal empty segment could match: none do). */
static int split(const char *s, struct seg *out, int max)
{
	int n = 0;

	if (!s || s[0] != '/')
		return -1;
	if (s[1] == '\0')
		return 0; /* "/" */
	s++;
	for (;;) {
		const char *e = strchr(s, '/');
		size_t len = e ? (size_t)(e - s) : strlen(s);

		if (n >= max)
			return -1;
		out[n].p = s;
		out[n].len = len;
		n++;
		if (!e)
			break;
		s = e + 1;
	}
	return n;
}

static int is_param(const struct seg *g)
{
	return g->len >= 3 && g->p[0] == '{' && g->p[g->len - 1] == '}';
}

/* 1 when the pattern matches the path segments; score[i] = 1 for literal segments. */
static int pattern_match(const struct seg *ps, int np, const struct seg *xs, int nx,
                         unsigned char *score)
{
	if (np != nx)
		return 0;
	for (int i = 0; i < np; i++) {
		if (is_param(&ps[i])) {
			if (xs[i].len == 0)
				return 0;
			score[i] = 0;
		} else {
			if (ps[i].len != xs[i].len || memcmp(ps[i].p, xs[i].p, xs[i].len) != 0)
				return 0;
			score[i] = 1;
		}
	}
	return 1;
}

/* >0 when score a beats b: the first segment where they differ decides (literal wins). */
static int score_cmp(const unsigned char *a, const unsigned char *b, int n)
{
	for (int i = 0; i < n; i++)
		if (a[i] != b[i])
			return a[i] ? 1 : -1;
	return 0;
}

static int method_eq(const char *route_m, const char *m)
{
	return strcmp(route_m, m) == 0;
}

/* Finds the best route; HEAD falls back to GET routes when no HEAD route matches. */
static enum router_result find(const struct route *table, size_t n, const char *method,
                               const char *path, const struct route **out, struct seg *xs,
                               int *nx_out)
{
	struct seg ps[ROUTER_MAX_SEGS];
	unsigned char best_score[ROUTER_MAX_SEGS], score[ROUTER_MAX_SEGS];
	const struct route *best = NULL, *best_get = NULL;
	unsigned char get_score[ROUTER_MAX_SEGS];
	int any_path = 0, nx;

	if (!table || !method || !path || strlen(path) > ROUTER_MAX_PATH)
		return ROUTER_NOT_FOUND;
	nx = split(path, xs, ROUTER_MAX_SEGS);
	if (nx < 0)
		return ROUTER_NOT_FOUND;
	for (size_t i = 0; i < n; i++) {
		int np = split(table[i].pattern, ps, ROUTER_MAX_SEGS);

		if (np < 0 || !pattern_match(ps, np, xs, nx, score))
			continue;
		any_path = 1;
		if (method_eq(table[i].method, method)) {
			if (!best || score_cmp(score, best_score, nx) > 0) {
				best = &table[i];
				memcpy(best_score, score, (size_t)nx);
			}
		} else if (strcmp(method, "HEAD") == 0 && method_eq(table[i].method, "GET")) {
			if (!best_get || score_cmp(score, get_score, nx) > 0) {
				best_get = &table[i];
				memcpy(get_score, score, (size_t)nx);
			}
		}
	}
	if (!best)
		best = best_get;
	if (!best)
		return any_path ? ROUTER_METHOD_NOT_ALLOWED : ROUTER_NOT_FOUND;
	*out = best;
	*nx_out = nx;
	return ROUTER_MATCH;
}

typedef void (*param_fn)(void *ud, const struct seg *name, const struct seg *value);

static void emit_params(const struct route *rt, const struct seg *xs, int nx, param_fn fn, void *ud)
{
	struct seg ps[ROUTER_MAX_SEGS];
	int np = split(rt->pattern, ps, ROUTER_MAX_SEGS);

	for (int i = 0; i < np && i < nx; i++) {
		if (is_param(&ps[i])) {
			struct seg name = { ps[i].p + 1, ps[i].len - 2 };

			fn(ud, &name, &xs[i]);
		}
	}
}

static void set_on_req(void *ud, const struct seg *name, const struct seg *value)
{
	char *k = rm_xstrndup(name->p, name->len);
	char *v = rm_xstrndup(value->p, value->len);

	http_req_set_param(ud, k, v);
	free(k);
	free(v);
}

enum router_result router_match(const struct route *table, size_t n, const char *method,
                                const char *path, struct http_req *r, const struct route **out)
{
	struct seg xs[ROUTER_MAX_SEGS];
	const struct route *rt = NULL;
	int nx = 0;
	enum router_result res = find(table, n, method, path, &rt, xs, &nx);

	if (res != ROUTER_MATCH)
		return res;
	if (r)
		emit_params(rt, xs, nx, set_on_req, r);
	if (out)
		*out = rt;
	return ROUTER_MATCH;
}

struct collect {
	char **names, **values;
	size_t max, n;
};

static void collect_param(void *ud, const struct seg *name, const struct seg *value)
{
	struct collect *c = ud;

	if (c->n >= c->max)
		return;
	c->names[c->n] = rm_xstrndup(name->p, name->len);
	c->values[c->n] = rm_xstrndup(value->p, value->len);
	c->n++;
}

enum router_result router_match_params(const struct route *table, size_t n, const char *method,
                                       const char *path, const struct route **out, char *names[],
                                       char *values[], size_t max, size_t *nparams)
{
	struct seg xs[ROUTER_MAX_SEGS];
	const struct route *rt = NULL;
	int nx = 0;
	enum router_result res = find(table, n, method, path, &rt, xs, &nx);
	struct collect c = { names, values, max, 0 };

	if (res != ROUTER_MATCH)
		return res;
	if (names && values)
		emit_params(rt, xs, nx, collect_param, &c);
	if (out)
		*out = rt;
	if (nparams)
		*nparams = c.n;
	return ROUTER_MATCH;
}
