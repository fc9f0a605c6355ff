/* Facts about the host the agent runs on (see host.h). */
#include "agent/host.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
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
