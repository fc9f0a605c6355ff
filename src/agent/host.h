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

/* The host's IANA time zone name ("Europe/Berlin") into buf, "" when unknown: $TZ if set
 * (a leading ':' and a ".../zoneinfo/" prefix are stripped), else the first line of
 * etc_timezone, else the target of the localtime symlink after ".../zoneinfo/".
 * tz_env may be NULL (unset); the paths are parameters for tests (normally
 * "/etc/timezone" and "/etc/localtime"). Only [A-Za-z0-9/_+-] names are accepted. */
void host_timezone_from(const char *tz_env, const char *etc_timezone, const char *localtime,
                        char *buf, size_t len);
/* host_timezone_from(getenv("TZ"), "/etc/timezone", "/etc/localtime", ...) */
void host_timezone(char *buf, size_t len);
/* The current offset of local time from UTC in seconds (tm_gmtoff). */
long host_utc_offset_s(void);

#endif
