/* Facts about the host the agent runs on (see host.h). */
#include "agent/host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"

const char *host_arch(void)
{
	static char machine[65];
	struct utsname u;
	if (uname(&u))
		return "unknown";
	if (!strcmp(u.machine, "x86_64"))
		return "amd64";
	if (!strcmp(u.machine, "aarch64") || !strcmp(u.machine, "arm64"))
		return "arm64";
	rm_strlcpy(machine, u.machine, sizeof machine);
	return machine;
}

void host_name(char *buf, size_t len)
{
	if (gethostname(buf, len))
		rm_strlcpy(buf, "unknown", len);
	buf[len - 1] = 0;
}

char *host_find_in_path(const char *name)
{
	if (strchr(name, '/'))
		return access(name, X_OK) == 0 ? rm_xstrdup(name) : NULL;
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	const char *p = path;
	while (*p) {
		const char *e = strchr(p, ':');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n > 0 && p[0] == '/') {
			char *cand = rm_xasprintf("%.*s/%s", (int)n, p, name);
			struct stat st;
			if (!stat(cand, &st) && S_ISREG(st.st_mode) && !access(cand, X_OK))
				return cand;
			free(cand);
		}
		p += n;
		if (*p == ':')
			p++;
	}
	return NULL;
}

/* Copies an IANA-looking name (after any ".../zoneinfo/") into buf; 0 if it is not one. */
static int tz_take(const char *name, size_t n, char *buf, size_t len)
{
	const char *z = memmem(name, n, "zoneinfo/", 9);
	if (z) {
		n -= (size_t)(z + 9 - name);
		name = z + 9;
	}
	if (n == 0 || n >= len || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '/' || c == '_' || c == '+' || c == '-'))
			return 0;
	}
	memcpy(buf, name, n);
	buf[n] = 0;
	return 1;
}

void host_timezone_from(const char *tz_env, const char *etc_timezone, const char *localtime,
                        char *buf, size_t len)
{
	char line[256] = "";
	buf[0] = 0;
	if (tz_env && *tz_env) {
		if (*tz_env == ':')
			tz_env++;
		tz_take(tz_env, strlen(tz_env), buf, len);
		return; /* TZ decides, even when we cannot name it */
	}
	FILE *f = etc_timezone ? fopen(etc_timezone, "r") : NULL;
	if (f) {
		if (fgets(line, sizeof line, f)) {
			size_t n = strcspn(line, " \t\r\n");
			if (tz_take(line, n, buf, len)) {
				fclose(f);
				return;
			}
		}
		fclose(f);
	}
	ssize_t n = localtime ? readlink(localtime, line, sizeof line - 1) : -1;
	if (n > 0)
		tz_take(line, (size_t)n, buf, len);
}

void host_timezone(char *buf, size_t len)
{
	host_timezone_from(getenv("TZ"), "/etc/timezone", "/etc/localtime", buf, len);
}

long host_utc_offset_s(void)
{
	time_t now = time(NULL);
	struct tm tm;
	if (!localtime_r(&now, &tm))
		return 0;
	return tm.tm_gmtoff;
}
