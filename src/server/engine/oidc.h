#ifndef RM_SERVER_ENGINE_OIDC_H
#define RM_SERVER_ENGINE_OIDC_H
/* OpenID Connect relying party (Authorization Code + PKCE S256).
 *
 * Loop thread: oidc_begin / oidc_finish and the pending-login table (state -> PKCE
 * verifier, nonce, where to land; single use, 10 minutes, bounded). Thread pool: every
 * request to the provider (discovery, token, JWKS, userinfo) is a blocking libcurl call
 * run with uv_queue_work, never on the loop; the provider cache (discovery document and
 * key set) is shared under a mutex. The ID token is checked here (signature with the
 * provider's JWKS, refetched on an unknown kid; iss, aud/azp, exp, iat, nonce), userinfo
 * is merged and groups are mapped to a role; creating the user and the session is the
 * caller's (api/oidc_api.c). */
#include <jansson.h>
#include <stdint.h>
#include <uv.h>

struct server_config;
struct oidc;

/* ---- role map and names (oidc_map.c) ---- */
#define OIDC_MAP_MAX 32
struct oidc_role_map {
	int n;
	struct {
		char group[128];
		int role; /* ROLE_* */
	} e[OIDC_MAP_MAX];
	int default_role; /* ROLE_* or -1 (deny when no group matches) */
};
/* "ops-admins=admin,ops=operator,staff=viewer" (+ default role name or "").
 * RM_OK or RM_ERR_INVAL with a message. */
int oidc_role_map_parse(const char *spec, const char *default_role, struct oidc_role_map *out,
                        char *err, size_t errlen);
/* The highest role any of the groups maps to, else the default role, else -1.
 * groups: an array of strings, or one string (space/comma separated). */
int oidc_role_for_groups(const struct oidc_role_map *m, const json_t *groups);
/* A username candidate [a-z0-9._-]{1,56} from preferred_username, else the local part of
 * email, else "sso-user". */
void oidc_username_base(const json_t *claims, char out[57]);

/* ---- provider ---- */

/* NULL *out (and RM_OK) when OIDC is not configured (no issuer); RM_ERR_INVAL on bad
 * settings. Calls curl_global_init. */
int oidc_create(const struct server_config *cfg, struct oidc **out, char *err, size_t errlen);
void oidc_free(struct oidc *o); /* NULL ok; no job may be in flight */
const char *oidc_button_label(const struct oidc *o);
/* end_session_endpoint?client_id=..&post_logout_redirect_uri=<base_url>/login when the
 * provider advertised one (from the cached discovery), else NULL. malloc'd. */
char *oidc_logout_url(struct oidc *o);

#define OIDC_PENDING_TTL_MS (10 * 60 * 1000)
#define OIDC_STATE_COOKIE "rm_oidc_state"

/* begin: done(ud, RM_OK, url_to_redirect_to, state) or (ud, rc, NULL, NULL). */
typedef void (*oidc_begin_cb)(void *ud, int rc, const char *url, const char *state);
/* Records a pending login (landing path next, already validated) and, once discovery is
 * known (cached or fetched in the pool), calls done on the loop. RM_ERR_AGAIN (too many
 * provider requests in flight) is returned synchronously and done is not called. */
int oidc_begin(struct oidc *o, uv_loop_t *loop, const char *next, oidc_begin_cb done, void *ud);

struct oidc_result {
	int rc;             /* RM_OK or an error */
	const char *reason; /* stable code on error: "bad_state", "bad_signature", ... */
	char detail[200];   /* for the log/audit (no secrets) */
	char sub[256];
	char username[57]; /* candidate (oidc_username_base) */
	char email[256];
	int role; /* ROLE_* */
	char next[256];
};
typedef void (*oidc_finish_cb)(void *ud, const struct oidc_result *res);
/* Consumes the pending login for state (single use; must match cookie_state too), then in
 * the pool: code exchange, ID token checks, userinfo merge, role mapping. done runs on the
 * loop (also for synchronous failures such as a bad state). Returns RM_ERR_AGAIN without
 * calling done when too busy. */
int oidc_finish(struct oidc *o, uv_loop_t *loop, const char *state, const char *cookie_state,
                const char *code, oidc_finish_cb done, void *ud);

#endif
