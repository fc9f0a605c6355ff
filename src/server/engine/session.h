#ifndef RM_SERVER_ENGINE_SESSION_H
#define RM_SERVER_ENGINE_SESSION_H
/* Roles and browser sessions (cookie token -> user, role, CSRF token), below both api/
 * (HTTP requests) and ws/ (WebSocket handshakes) so that neither includes the other.
 * Tokens are stored as SHA-256 hex. Loop thread only. */
#include "common/ulid.h"
#include <stdint.h>

struct store;

enum role { ROLE_PUBLIC = 0, ROLE_VIEWER = 1, ROLE_OPERATOR = 2, ROLE_ADMIN = 3 };

#define AUTH_COOKIE "rm_session"

struct auth_info {
	int authenticated;
	int role;       /* ROLE_* (ROLE_PUBLIC when unauthenticated) */
	int via_cookie; /* 1: session cookie (mutations need CSRF) */
	int via_token;  /* 1: personal API token (Authorization: Bearer rmt_...) */
	char user_id[RM_ULID_BUF];
	char username[65];
	char csrf[64];
	char token_hash[65];        /* session token hash (for logout); "" for API tokens */
	char token_id[RM_ULID_BUF]; /* the API token's id when via_token */
};

/* "admin" -> ROLE_ADMIN ...; -1 if unknown. */
int session_role_from_name(const char *name);
const char *session_role_name(int role); /* "public" for ROLE_PUBLIC / unknown */

/* Resolves a session token (cookie value) into out. RM_OK, RM_ERR_AUTH (unknown, expired,
 * disabled user), RM_ERR_DB. out untouched on error. */
int session_lookup(struct store *st, const char *token, int64_t now_ms, struct auth_info *out);
/* Resolves a personal API token (the bearer's value) into out: the effective role is the
 * lower of the token's role and the user's current role, so a token never outranks its
 * user. Touches last_used_at at most once a minute. RM_OK, RM_ERR_AUTH (unknown,
 * expired, revoked, disabled user), RM_ERR_DB. */
int session_lookup_token(struct store *st, const char *token, int64_t now_ms,
                         struct auth_info *out);
/* Creates a session for user_id valid for ttl_s: *token_out (malloc'd, caller frees) and
 * csrf_out. RM_OK or the store's error (outputs untouched). */
int session_create(struct store *st, const char *user_id, long long ttl_s, char **token_out,
                   char csrf_out[64]);

#endif
