/* The route table: roles, uniqueness, router behaviour, auth decisions, path rules. */
#include <stdlib.h>
#include <string.h>

#include "server/api/api.h"
#include "server/api/auth.h"
#include "server/http/router.h"
#include "tap.h"

static int is_public_path(const char *m, const char *p)
{
	static const char *const pub[][2] = {
		{ "GET", "/healthz" },
		{ "GET", "/api/bootstrap/status" },
		{ "POST", "/api/bootstrap" },
		{ "POST", "/api/auth/login" },
		{ "GET", "/api/auth/config" },
		{ "GET", "/api/auth/oidc/login" },
		{ "GET", "/api/auth/oidc/callback" },
		{ "POST", "/api/agents/enroll" },
		/* C6 announce-and-approve: rate limited; polls prove the key by a signature */
		{ "POST", "/api/agents/announce" },
		{ "POST", "/api/agents/announce/{id}" },
		{ "POST", "/api/setup/check" }, /* C5 setup links: the token is the credential */
		{ "POST", "/api/setup" },
		{ "GET", "/install/install.sh" },
		{ "GET", "/agent/binary" },
		{ "GET", "/agent/deb" },
		{ "GET",
		  "/agent/manifest" }, /* C6: signed release manifest, public like the binary */
		/* no session: RM_METRICS_TOKEN / RM_METRICS_TRUSTED_CIDR, checked by api_metrics */
		{ "GET", "/metrics" },
	};
	for (size_t i = 0; i < sizeof pub / sizeof pub[0]; i++)
		if (strcmp(pub[i][0], m) == 0 && strcmp(pub[i][1], p) == 0)
			return 1;
	return 0;
}

TEST(every_route_has_a_role)
{
	size_t n;
	const struct route *t = api_routes(&n);
	OK(n >= 20);
	for (size_t i = 0; i < n; i++) {
		OK(t[i].method && t[i].pattern && t[i].handler);
		int eff = auth_effective_role(&t[i]);
		OK(eff >= ROLE_PUBLIC && eff <= ROLE_ADMIN);
		if (eff == ROLE_PUBLIC && !is_public_path(t[i].method, t[i].pattern)) {
			printf("#   unexpected public route %s %s\n", t[i].method, t[i].pattern);
			OK(0);
		}
		if (is_public_path(t[i].method, t[i].pattern))
			EQ_INT(eff, ROLE_PUBLIC);
		if (strcmp(t[i].pattern, "/api/audit") == 0)
			EQ_INT(eff, ROLE_ADMIN);
		if (strcmp(t[i].method, "POST") == 0 && strstr(t[i].pattern, "/jobs"))
			OK(eff >= ROLE_OPERATOR);
		if (strcmp(t[i].pattern, "/api/enrollment-tokens") == 0)
			EQ_INT(eff, ROLE_OPERATOR);
		if (strncmp(t[i].pattern, "/api/pending-hosts/", 19) == 0) /* C6: admins decide */
			EQ_INT(eff, ROLE_ADMIN);
		if (strncmp(t[i].pattern, "/api/users", 10) == 0) /* C5: people are admin's */
			EQ_INT(eff, ROLE_ADMIN);
	}
}

TEST(no_duplicates)
{
	size_t n;
	const struct route *t = api_routes(&n);
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			OK(!(strcmp(t[i].method, t[j].method) == 0 &&
			     strcmp(t[i].pattern, t[j].pattern) == 0));
}

TEST(fail_closed_default)
{
	struct route forgot = { "GET", "/x", 0, 0, NULL };
	EQ_INT(auth_effective_role(&forgot), ROLE_ADMIN);
	struct route pub = { "GET", "/x", ROLE_PUBLIC, ROUTE_PUBLIC, NULL };
	EQ_INT(auth_effective_role(&pub), ROLE_PUBLIC);
	struct route weird = { "GET", "/x", 42, 0, NULL };
	EQ_INT(auth_effective_role(&weird), ROLE_ADMIN);
	struct route op = { "GET", "/x", ROLE_OPERATOR, 0, NULL };
	EQ_INT(auth_effective_role(&op), ROLE_OPERATOR);
}

TEST(router_over_table)
{
	size_t n;
	const struct route *t = api_routes(&n);
	const struct route *m = NULL;
	char *names[4], *vals[4];
	size_t np = 0;
	EQ_INT(router_match_params(t, n, "GET", "/api/nope", &m, names, vals, 4, &np),
	       ROUTER_NOT_FOUND);
	EQ_INT(router_match_params(t, n, "DELETE", "/api/hosts", &m, names, vals, 4, &np),
	       ROUTER_METHOD_NOT_ALLOWED);
	EQ_INT(router_match_params(t, n, "GET", "/api/hosts/01ABC/jobs", &m, names, vals, 4, &np),
	       ROUTER_METHOD_NOT_ALLOWED);
	np = 0;
	EQ_INT(router_match_params(t, n, "POST", "/api/hosts/01ABC/jobs", &m, names, vals, 4, &np),
	       ROUTER_MATCH);
	OK(m && m->handler == api_job_create);
	EQ_INT(np, 1);
	if (np == 1) {
		EQ_STR(names[0], "id");
		EQ_STR(vals[0], "01ABC");
	}
	for (size_t i = 0; i < np; i++) {
		free(names[i]);
		free(vals[i]);
	}
	np = 0;
	EQ_INT(router_match_params(t, n, "GET", "/api/jobs/J1/log.txt", &m, names, vals, 4, &np),
	       ROUTER_MATCH);
	OK(m && m->handler == api_job_log_txt);
	for (size_t i = 0; i < np; i++) {
		free(names[i]);
		free(vals[i]);
	}
	np = 0;
	EQ_INT(router_match_params(t, n, "GET", "/api/hosts", &m, names, vals, 4, &np),
	       ROUTER_MATCH);
	OK(m && m->handler == api_hosts_list);
	for (size_t i = 0; i < np; i++) {
		free(names[i]);
		free(vals[i]);
	}
}

TEST(auth_decisions)
{
	struct auth_info anon;
	memset(&anon, 0, sizeof anon);
	struct auth_info viewer = anon, op = anon, admin = anon;
	viewer.authenticated = op.authenticated = admin.authenticated = 1;
	viewer.via_cookie = op.via_cookie = admin.via_cookie = 1;
	viewer.role = ROLE_VIEWER;
	op.role = ROLE_OPERATOR;
	admin.role = ROLE_ADMIN;
	snprintf(viewer.csrf, sizeof viewer.csrf, "%s", "csrf-v");
	snprintf(op.csrf, sizeof op.csrf, "%s", "csrf-o");
	snprintf(admin.csrf, sizeof admin.csrf, "%s", "csrf-a");

	EQ_INT(auth_check(&anon, ROLE_PUBLIC, "POST", NULL), AUTH_ALLOW);
	EQ_INT(auth_check(&anon, ROLE_VIEWER, "GET", NULL), AUTH_UNAUTHENTICATED);
	EQ_INT(auth_check(&viewer, ROLE_VIEWER, "GET", NULL), AUTH_ALLOW);
	EQ_INT(auth_check(&viewer, ROLE_OPERATOR, "GET", NULL), AUTH_FORBIDDEN);
	EQ_INT(auth_check(&op, ROLE_ADMIN, "GET", NULL), AUTH_FORBIDDEN);
	EQ_INT(auth_check(&admin, ROLE_ADMIN, "GET", NULL), AUTH_ALLOW);
	EQ_INT(auth_check(&op, ROLE_OPERATOR, "POST", NULL), AUTH_CSRF);
	EQ_INT(auth_check(&op, ROLE_OPERATOR, "POST", "wrong"), AUTH_CSRF);
	EQ_INT(auth_check(&op, ROLE_OPERATOR, "POST", "csrf-o"), AUTH_ALLOW);
	EQ_INT(auth_check(&op, ROLE_OPERATOR, "DELETE", "csrf-a"), AUTH_CSRF);
	EQ_INT(auth_check(&admin, ROLE_OPERATOR, "PUT", "csrf-a"), AUTH_ALLOW);
	/* forbidden is decided before CSRF */
	EQ_INT(auth_check(&viewer, ROLE_OPERATOR, "POST", NULL), AUTH_FORBIDDEN);
	/* non-cookie credentials (API tokens later) need no CSRF */
	struct auth_info tok = op;
	tok.via_cookie = 0;
	EQ_INT(auth_check(&tok, ROLE_OPERATOR, "POST", NULL), AUTH_ALLOW);
	EQ_INT(auth_role_from_name("operator"), ROLE_OPERATOR);
	EQ_INT(auth_role_from_name("root"), -1);
	EQ_STR(auth_role_name(ROLE_ADMIN), "admin");
}

TEST(paths_rules)
{
	json_t *ok = json_pack("[s,s]", "/etc", "/home/user/.config");
	OK(api_paths_problem(ok, 0) == NULL);
	json_decref(ok);
	json_t *empty = json_array();
	OK(api_paths_problem(empty, 0) != NULL);
	OK(api_paths_problem(empty, 1) == NULL);
	json_decref(empty);
	const char *bad[] = { "relative/path", "/a/../b", "/..", "/a\nb", "" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		json_t *a = json_pack("[s]", bad[i]);
		OK(api_paths_problem(a, 0) != NULL);
		json_decref(a);
	}
	json_t *dots = json_pack("[s]", "/a/..b/c..");
	OK(api_paths_problem(dots, 0) == NULL);
	json_decref(dots);
	json_t *nul = json_array();
	json_array_append_new(nul, json_stringn("/a\0b", 4));
	OK(api_paths_problem(nul, 0) != NULL);
	json_decref(nul);
	json_t *many = json_array();
	for (int i = 0; i < 101; i++)
		json_array_append_new(many, json_string("/x"));
	OK(api_paths_problem(many, 0) != NULL);
	json_decref(many);
	char *longp = malloc(4098);
	memset(longp, 'a', 4097);
	longp[0] = '/';
	longp[4097] = 0;
	json_t *lp = json_pack("[s]", longp);
	OK(api_paths_problem(lp, 0) != NULL);
	json_decref(lp);
	free(longp);
	json_t *notarr = json_string("/x");
	OK(api_paths_problem(notarr, 0) != NULL);
	json_decref(notarr);
}

TEST(api_paths)
{
	OK(api_is_api_path("/api/hosts"));
	OK(api_is_api_path("/healthz"));
	OK(api_is_api_path("/install/install.sh"));
	OK(api_is_api_path("/agent/binary"));
	OK(api_is_api_path("/metrics"));
	OK(!api_is_api_path("/"));
	OK(!api_is_api_path("/assets/app.js"));
	OK(!api_is_api_path("/apix"));
}

int main(void)
{
	RUN(every_route_has_a_role);
	RUN(no_duplicates);
	RUN(fail_closed_default);
	RUN(router_over_table);
	RUN(auth_decisions);
	RUN(paths_rules);
	RUN(api_paths);
	return tap_done();
}
