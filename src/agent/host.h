#ifndef RM_AGENT_HOST_H
#define RM_AGENT_HOST_H
/* Facts about the host the agent runs on, for hello, enrollment and finding restic. */
#include <stddef.h>

/* "amd64" / "arm64" / uname machine. Static string. */
const char *host_arch(void);
/* gethostname into buf ("unknown" on failure); always NUL-terminated. */
void host_name(char *buf, size_t len);
/* PATH lookup of an executable (a name with a '/' is checked as is); malloc'd path or
 * NULL. Caller frees. */
char *host_find_in_path(const char *name);

#endif
