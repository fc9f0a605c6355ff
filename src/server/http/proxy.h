#ifndef RM_SERVER_HTTP_PROXY_H
#define RM_SERVER_HTTP_PROXY_H
/* Trusted reverse proxies (RM_TRUSTED_PROXY): X-Forwarded-For is honoured only when the
 * socket peer is inside one of these CIDRs. */
#include <stddef.h>

struct proxy_list;

/* spec: CIDRs or plain addresses separated by commas and/or spaces, IPv4 or IPv6
 * ("10.0.0.0/8, 127.0.0.1 ::1/128"). Empty or NULL spec -> an empty list (RM_OK).
 * RM_ERR_INVAL with a message naming the bad entry. *out is the caller's; free with
 * proxy_list_free. */
int proxy_list_parse(const char *spec, struct proxy_list **out, char *err, size_t errlen);
void proxy_list_free(struct proxy_list *l); /* NULL ok */
/* 1 if ip (text; "::ffff:a.b.c.d" counts as IPv4) is inside the list, else 0. */
int proxy_list_contains(const struct proxy_list *l, const char *ip);
/* The client address for a request from peer with an X-Forwarded-For header (may be NULL):
 * peer itself unless it is trusted; otherwise the right-most XFF entry that is not a
 * trusted proxy (entries that are not IP addresses stop the walk: the peer before them is
 * used). Writes a NUL-terminated address into out. */
void proxy_client_ip(const struct proxy_list *l, const char *peer, const char *xff, char *out,
                     size_t outlen);
#endif
