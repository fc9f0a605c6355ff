#ifndef RM_TESTS_TEST_FS_H
#define RM_TESTS_TEST_FS_H
/* Small helpers of the agent's test binaries: removing a temp tree, finding restic. */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"

/* rm -rf path: test-only cleanup of our own mkdtemp dirs. */
static inline void test_rm_rf(const char *path)
{
	pid_t p = fork();
	if (p == 0) {
		execl("/bin/rm", "rm", "-rf", path, (char *)NULL);
		_exit(127);
	}
	int st;
	waitpid(p, &st, 0);
}

/* $RM_TEST_RESTIC, /usr/bin/restic or /usr/local/bin/restic into buf; 0 if none. */
static inline int test_find_restic(char *buf, size_t len)
{
	const char *cands[] = { getenv("RM_TEST_RESTIC"), "/usr/bin/restic",
		                "/usr/local/bin/restic" };
	for (size_t i = 0; i < 3; i++) {
		if (cands[i] && access(cands[i], X_OK) == 0) {
			rm_strlcpy(buf, cands[i], len);
			return 1;
		}
	}
	return 0;
}

#endif
