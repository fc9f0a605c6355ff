/* OIDC policy without I/O: group claim -> role, and the username a new SSO user gets. */
#include <ctype.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "server/engine/oidc.h"
#include "server/engine/session.h"

static void trim(const char **s, size_t *n)
{
	while (*n && isspace((unsigned char)**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && isspace((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

/* One "group=role" item into m. */
static int map_item(const char *p, size_t n, struct oidc_role_map *m, char *err, size_t errlen)
{
	const char *eq = memchr(p, '=', n);
	if (!eq) {
		rmj_seterr(err, errlen, "oidc_role_map: expected group=role, got \"%.*s\"", (int)n,
		           p);
		return RM_ERR_INVAL;
	}
	const char *g = p, *r = eq + 1;
	size_t gn = (size_t)(eq - p), rn = n - gn - 1;
	trim(&g, &gn);
	trim(&r, &rn);
	char role[16] = "";
	if (rn < sizeof role)
		memcpy(role, r, rn);
	role[rn < sizeof role ? rn : 0] = 0;
	int rv = session_role_from_name(role);
	if (!gn || gn >= sizeof m->e[0].group || rv < 0 || m->n >= OIDC_MAP_MAX) {
		rmj_seterr(err, errlen,
		           "oidc_role_map: bad item \"%.*s\" (group=admin|operator|viewer, at most "
		           "%d items)",
		           (int)n, p, OIDC_MAP_MAX);
		return RM_ERR_INVAL;
	}
	memcpy(m->e[m->n].group, g, gn);
	m->e[m->n].group[gn] = 0;
	m->e[m->n].role = rv;
	m->n++;
	return RM_OK;
}

int oidc_role_map_parse(const char *spec, const char *default_role, struct oidc_role_map *out,
                        char *err, size_t errlen)
{
	struct oidc_role_map m;
	memset(&m, 0, sizeof m);
	m.default_role = -1;
	if (default_role && default_role[0]) {
		m.default_role = session_role_from_name(default_role);
		if (m.default_role < 0) {
			rmj_seterr(err, errlen,
			           "oidc_default_role: expected admin|operator|viewer or empty");
			return RM_ERR_INVAL;
		}
	}
	const char *p = spec ? spec : "";
	while (*p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		const char *q = p;
		size_t qn = n;
		trim(&q, &qn);
		if (qn && map_item(q, qn, &m, err, errlen))
			return RM_ERR_INVAL;
		p += n + (end ? 1 : 0);
	}
	*out = m;
	return RM_OK;
}

static int role_of(const struct oidc_role_map *m, const char *g, size_t n)
{
	int best = -1;
	for (int i = 0; i < m->n; i++)
		if (strlen(m->e[i].group) == n && memcmp(m->e[i].group, g, n) == 0 &&
		    m->e[i].role > best)
			best = m->e[i].role;
	return best;
}

int oidc_role_for_groups(const struct oidc_role_map *m, const json_t *groups)
{
	int best = -1;
	if (json_is_array(groups)) {
		size_t i;
		json_t *g;
		json_array_foreach (groups, i, g) {
			if (!json_is_string(g))
				continue;
			int r = role_of(m, json_string_value(g), json_string_length(g));
			if (r > best)
				best = r;
		}
	} else if (json_is_string(groups)) {
		const char *s = json_string_value(groups);
		while (*s) {
			size_t n = strcspn(s, " ,");
			int r = n ? role_of(m, s, n) : -1;
			if (r > best)
				best = r;
			s += n;
			s += strspn(s, " ,");
		}
	}
	return best >= 0 ? best : m->default_role;
}

/* Lowercased [a-z0-9._-] of s (up to '@' when at_stop), at most 56 characters. */
static size_t sanitize(const char *s, int at_stop, char out[57])
{
	size_t n = 0;
	for (; s && *s && n < 56; s++) {
		unsigned char c = (unsigned char)tolower((unsigned char)*s);
		if (at_stop && c == '@')
			break;
		if (isalnum(c) || c == '.' || c == '_' || c == '-')
			out[n++] = (char)c;
		else if (c == ' ' || c == '+')
			out[n++] = '-';
	}
	while (n && (out[n - 1] == '.' || out[n - 1] == '-'))
		n--;
	out[n] = 0;
	return n;
}

void oidc_username_base(const json_t *claims, char out[57])
{
	if (sanitize(rmj_str(claims, "preferred_username"), 0, out))
		return;
	if (sanitize(rmj_str(claims, "email"), 1, out))
		return;
	rm_strlcpy(out, "sso-user", 57);
}
