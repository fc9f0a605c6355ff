#ifndef RM_SERVER_API_ENROLL_INT_H
#define RM_SERVER_API_ENROLL_INT_H
/* Private to src/server/api: what token enrollment (enroll.c), its recovery
 * (enroll_tokens.c) and announce-and-approve (announce.c) share, so that a host is created,
 * and the agent answered, the same way whichever door it came through. */
#include <jansson.h>
#include <stddef.h>

#include "common/ulid.h"

struct app;
struct http_req;

/* THE enrollment success response: {"host_id","bearer"} (plus what later features add,
 * e.g. the update public key). Token exchange and announce acceptance both send it; the
 * agent writes its config from it. New reference. */
json_t *api_enroll_answer(struct app *app, const char *host_id, const char *bearer);

/* A host about to be created. creds_pt: the repository credential JSON text
 * {"repo_url","repo_username","repo_password","generated"} (borrowed, secret). */
struct api_new_host {
	const char *hostname; /* the operator's name */
	const json_t *tags, *paths;
	const char *bearer_hash;
	const char *creds_pt;
	size_t creds_len;
};
/* Inside the caller's transaction: the host row, the default group/schedule for its
 * initial paths, its sealed repository credentials. host_id_out on RM_OK. */
int api_enroll_host_insert(struct app *app, const struct api_new_host *h,
                           char host_id_out[RM_ULID_BUF]);
/* After the commit: pushes the policy (when paths were given) and tells subscribers. */
void api_enroll_host_created(struct app *app, const char *host_id, int has_paths);

/* Validates repository fields of obj (repo_url required, repo_username, repo_password
 * optional: a strong one is generated when empty) and builds the credential JSON
 * (*creds_out, new reference; "generated" true when minted). NULL on success, else the
 * problem (static text or written to err). */
const char *api_enroll_repo_creds(const json_t *obj, json_t **creds_out, char *err, size_t errlen);
/* Validates hostname (required unless def_hostname), tags, initial_paths of b; responds
 * (400/422) and returns -1 on a problem. Outputs borrowed from b (or def_hostname). */
int api_enroll_fields(struct http_req *r, const json_t *b, const char *def_hostname,
                      const char **hostname, const json_t **tags, const json_t **paths);
/* AEAD seal/open of a token's credential JSON, bound to the token hash (ad
 * "enroll:<hash>"). *ct / *pt malloc'd; rm_aead_* codes. */
int api_enroll_seal(struct app *app, const char *hash, const char *pt, size_t len, char **ct);
int api_enroll_open(struct app *app, const char *hash, const char *ct, char **pt, size_t *len);
/* Adds "install_command" and "enroll_command" for token to o. */
void api_enroll_add_commands(json_t *o, struct app *app, const char *token);
/* Adds "generated_password" (+ "htpasswd_snippet") when creds say the password was minted. */
void api_enroll_add_generated(json_t *o, const json_t *creds);

#endif
