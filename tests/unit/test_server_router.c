/* Router: matching, params, literal precedence, 404 vs 405, odd paths. */
#include <stdlib.h>
#include <string.h>

#include "server/http/router.h"
#include "tap.h"

static void h_any(struct http_req *r, void *app)
{
	(void)r;
	(void)app;
}

static const struct route table[] = {
	{ "GET", "/api/hosts", 1, 0, h_any },
	{ "GET", "/api/hosts/{id}", 1, 0, h_any },
	{ "GET", "/api/hosts/{id}/snapshots", 1, 0, h_any },
	{ "POST", "/api/hosts/{id}/jobs", 2, 0, h_any },
	{ "GET", "/api/jobs/{id}", 1, 0, h_any },
	{ "GET", "/api/jobs/{id}/log.txt", 1, 0, h_any },
	{ "POST", "/api/jobs/{id}/cancel", 2, 0, h_any },
	{ "GET", "/api/jobs/{job}/{what}", 1, 0, h_any },
	{ "GET", "/api/jobs/stats", 1, 0, h_any },
	{ "GET", "/api/enrollment-tokens/{token}", 2, 0, h_any },
	{ "GET", "/healthz", 0, 0, h_any },
	{ "DELETE", "/api/things/{a}/x/{b}", 0, 0, h_any },
	{ "GET", "/", 0, 0, h_any },
};
#define N (sizeof(table) / sizeof(table[0]))

static enum router_result m(const char *method, const char *path, const struct route **rt,
                            char **names, char **values, size_t *np)
{
	return router_match_params(table, N, method, path, rt, names, values, 4, np);
}

static void free_params(char **names, char **values, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(names[i]);
		free(values[i]);
	}
}

TEST(literal_match)
{
	const struct route *rt = NULL;
	char *names[4], *values[4];
	size_t np = 99;

	EQ_INT(m("GET", "/api/hosts", &rt, names, values, &np), ROUTER_MATCH);
	OK(rt == &table[0]);
	EQ_INT(np, 0);
	EQ_INT(m("GET", "/healthz", &rt, names, values, &np), ROUTER_MATCH);
	OK(rt == &table[10]);
	EQ_INT(m("GET", "/", &rt, names, values, &np), ROUTER_MATCH);
	OK(rt == &table[12]);
}

TEST(params)
{
	const struct route *rt = NULL;
	char *names[4], *values[4];
	size_t np = 0;

	EQ_INT(m("GET", "/api/hosts/01HXYZ", &rt, names, values, &np), ROUTER_MATCH);
	OK(rt == &table[1]);
	EQ_INT(np, 1);
	EQ_STR(names[0], "id");
	EQ_STR(values[0], "01HXYZ");
	free_params(names, values, np);

	EQ_INT(m("POST", "/api/hosts/42/jobs", &rt, names, values, &np), ROUTER_MATCH);
	OK(rt == &table[3]);
	EQ_INT(np, 1);
	EQ_STR(values[0], "42");
	free_params(names, values, np);

	EQ_INT(m("DELETE", "/api/things/a b/x/%2F", &rt, names, values, &np), ROUTER_MATCH);
	EQ_INT(np, 2);
	EQ_STR(names[0], "a");
	EQ_STR(values[0], "a b");
	EQ_STR(names[1], "b");
	EQ_STR(values[1], "%2F");
	free_params(names, values, np);

	/* unicode and odd characters are just bytes of one segment */
	EQ_INT(m("GET", "/api/enrollment-tokens/t\xc3\xa9st{}", &rt, names, values, &np),
	       ROUTER_MATCH);
	EQ_STR(values[0], "t\xc3\xa9st{}");
	free_params(names, values, np);
}

TEST(literal_precedence)
{
	const struct route *rt = NULL;
	char *names[4], *values[4];
	size_t np = 0;

	/* "/api/jobs/{id}/log.txt" beats "/api/jobs/{job}/{what}" */
	EQ_INT(m("GET", "/api/jobs/7/log.txt", &rt, names, values, &np), ROUTER_MATCH);
	OK(rt == &table[5]);
	free_params(names, values, np);
	/* "/api/jobs/stats" beats "/api/jobs/{id}" regardless of table order */
	EQ_INT(m("GET", "/api/jobs/stats", &rt, names, values, &np), ROUTER_MATCH);
	OK(rt == &table[8]);
	EQ_INT(np, 0);
	/* two params when nothing literal fits */
	EQ_INT(m("GET", "/api/jobs/7/other", &rt, names, values, &np), ROUTER_MATCH);
	OK(rt == &table[7]);
	EQ_INT(np, 2);
	EQ_STR(names[0], "job");
	EQ_STR(values[1], "other");
	free_params(names, values, np);
}

TEST(not_found_vs_method)
{
	const struct route *rt = NULL;

	EQ_INT(router_match(table, N, "GET", "/api/nope", NULL, &rt), ROUTER_NOT_FOUND);
	EQ_INT(router_match(table, N, "DELETE", "/api/hosts", NULL, &rt),
	       ROUTER_METHOD_NOT_ALLOWED);
	EQ_INT(router_match(table, N, "GET", "/api/jobs/1/cancel", NULL, &rt), ROUTER_MATCH);
	OK(rt == &table[7]); /* GET matches the {job}/{what} route */
	EQ_INT(router_match(table, N, "PUT", "/api/jobs/1/cancel", NULL, &rt),
	       ROUTER_METHOD_NOT_ALLOWED);
	EQ_INT(router_match(table, N, "POST", "/api/hosts/1", NULL, &rt),
	       ROUTER_METHOD_NOT_ALLOWED);
	/* HEAD falls back to GET routes */
	EQ_INT(router_match(table, N, "HEAD", "/api/hosts", NULL, &rt), ROUTER_MATCH);
	OK(rt == &table[0]);
}

TEST(segments)
{
	const struct route *rt = NULL;

	/* trailing slash, missing and extra segments, empty params */
	EQ_INT(router_match(table, N, "GET", "/api/hosts/", NULL, &rt), ROUTER_NOT_FOUND);
	EQ_INT(router_match(table, N, "GET", "/api/hosts/1/", NULL, &rt), ROUTER_NOT_FOUND);
	EQ_INT(router_match(table, N, "GET", "/api/hosts/1/snapshots/x", NULL, &rt),
	       ROUTER_NOT_FOUND);
	EQ_INT(router_match(table, N, "GET", "/api//snapshots", NULL, &rt), ROUTER_NOT_FOUND);
	EQ_INT(router_match(table, N, "GET", "/api/hosts//snapshots", NULL, &rt), ROUTER_NOT_FOUND);
	EQ_INT(router_match(table, N, "GET", "/api", NULL, &rt), ROUTER_NOT_FOUND);
	EQ_INT(router_match(table, N, "GET", "", NULL, &rt), ROUTER_NOT_FOUND);
	EQ_INT(router_match(table, N, "GET", "api/hosts", NULL, &rt), ROUTER_NOT_FOUND);
	EQ_INT(router_match(table, N, "GET", "//", NULL, &rt), ROUTER_NOT_FOUND);
	EQ_INT(router_match(table, N, "GET", NULL, NULL, &rt), ROUTER_NOT_FOUND);
	EQ_INT(router_match(table, N, "get", "/api/hosts", NULL, &rt),
	       ROUTER_METHOD_NOT_ALLOWED); /* methods are case-sensitive */
}

TEST(overlong)
{
	const struct route *rt = NULL;
	size_t n = 10000;
	char *p = malloc(n + 1);

	for (size_t i = 0; i < n; i++)
		p[i] = (i % 2) ? 'a' : '/';
	p[n] = 0;
	EQ_INT(router_match(table, N, "GET", p, NULL, &rt), ROUTER_NOT_FOUND);
	/* a long single param is fine below the cap */
	memcpy(p, "/api/hosts/", 11);
	memset(p + 11, 'x', 3000);
	p[3011] = 0;
	EQ_INT(router_match(table, N, "GET", p, NULL, &rt), ROUTER_MATCH);
	free(p);
}

TEST(param_cap)
{
	const struct route *rt = NULL;
	char *names[1], *values[1];
	size_t np = 0;

	EQ_INT(router_match_params(table, N, "GET", "/api/jobs/1/2", &rt, names, values, 1, &np),
	       ROUTER_MATCH);
	EQ_INT(np, 1);
	free_params(names, values, np);
}

int main(void)
{
	RUN(literal_match);
	RUN(params);
	RUN(literal_precedence);
	RUN(not_found_vs_method);
	RUN(segments);
	RUN(overlong);
	RUN(param_cap);
	return tap_done();
}
