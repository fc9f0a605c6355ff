#ifndef RM_SERVER_ENGINE_PEOPLE_H
#define RM_SERVER_ENGINE_PEOPLE_H
/* People policy (C5): what a username and a password must be, and the secrets handed to
 * people (setup links, personal API tokens). The store keeps only SHA-256 hex of every
 * such secret; lookups go by that hash (an index probe, so no secret comparison happens
 * in user space). */
#include <stddef.h>

#define PEOPLE_PASSWORD_MIN 12
#define PEOPLE_SETUP_TTL_MS (60LL * 60 * 1000) /* setup links live 1 h */
#define PEOPLE_TOKEN_PREFIX "rmt_"
#define PEOPLE_TOKEN_DAYS_DEFAULT 90
#define PEOPLE_TOKEN_DAYS_MAX 3650

/* 1 if u matches [a-z0-9._-]{1,64}. */
int people_username_ok(const char *u);
/* NULL if password is acceptable for username, else a static message: shorter than
 * PEOPLE_PASSWORD_MIN, longer than 1024, equal to the username (any case) or in the
 * built-in list of common passwords (any case). */
const char *people_password_problem(const char *username, const char *password);
/* A new secret for a setup link (43 chars base64url) or an API token ("rmt_" + 43):
 * malloc'd; its SHA-256 hex in hash_out. */
char *people_new_setup_token(char hash_out[65]);
char *people_new_api_token(char hash_out[65]);
/* 1 if s looks like one of our API tokens (prefix). */
int people_is_api_token(const char *s);

#endif
