/* Replays a fuzz corpus without libFuzzer: calls LLVMFuzzerTestOneInput on every regular
 * file of each directory (or file) given on the command line, and on the files of its
 * valid/ and invalid/ subdirectories, where the target's reported outcome must be
 * "accepted" resp. "refused" (fuzz_outcome.h). Used by `make fuzz-replay` under
 * ASan/UBSan. Exit 0 unless a file cannot be read or an outcome is wrong (a crash aborts
 * the process). RM_REPLAY_VERBOSE=1 prints each file's outcome (to sort new inputs). */
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_outcome.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static long replayed, checked;
static int verbose;

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 4096, len = 0;
	uint8_t *buf = malloc(cap);
	if (!buf) {
		fclose(f);
		return -1;
	}
	size_t n;
	while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			uint8_t *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				fclose(f);
				return -1;
			}
			buf = nb;
			cap *= 2;
		}
	}
	fclose(f);
	/* exact-size copy so ASan sees reads past the end */
	uint8_t *exact = malloc(len ? len : 1);
	if (!exact) {
		free(buf);
		return -1;
	}
	memcpy(exact, buf, len);
	free(buf);
	rm_fuzz_outcome = FUZZ_NOT_REPORTED;
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	replayed++;
	if (verbose)
		printf("%s %s\n",
		       rm_fuzz_outcome == FUZZ_ACCEPTED  ? "accepted"
		       : rm_fuzz_outcome == FUZZ_REFUSED ? "refused "
		                                         : "n/a     ",
		       path);
	return 0;
}

/* Replays the regular files of dir; expect: FUZZ_ACCEPTED / FUZZ_REFUSED, or
 * FUZZ_NOT_REPORTED for no check. valid/ and invalid/ subdirectories are replayed with
 * their expectation. Returns nonzero if anything failed. */
static int replay_dir(const char *dir, int expect)
{
	int failed = 0;
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		size_t pl = strlen(dir) + strlen(de->d_name) + 2;
		char *p = malloc(pl);
		if (!p)
			break;
		snprintf(p, pl, "%s/%s", dir, de->d_name);
		struct stat st;
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
			if (replay_file(p) != 0) {
				failed = 1;
			} else if (expect != FUZZ_NOT_REPORTED) {
				checked++;
				if (rm_fuzz_outcome == FUZZ_NOT_REPORTED) {
					fprintf(
					    stderr,
					    "replay: %s: the target reports no outcome, but the "
					    "corpus expects one\n",
					    p);
					failed = 1;
				} else if (rm_fuzz_outcome != expect) {
					fprintf(stderr, "replay: %s: %s, expected %s\n", p,
					        rm_fuzz_outcome == FUZZ_ACCEPTED ? "accepted"
					                                         : "refused",
					        expect == FUZZ_ACCEPTED ? "accepted (valid/)"
					                                : "refused (invalid/)");
					failed = 1;
				}
			}
		} else if (expect == FUZZ_NOT_REPORTED && stat(p, &st) == 0 &&
		           S_ISDIR(st.st_mode)) {
			if (strcmp(de->d_name, "valid") == 0)
				failed |= replay_dir(p, FUZZ_ACCEPTED);
			else if (strcmp(de->d_name, "invalid") == 0)
				failed |= replay_dir(p, FUZZ_REFUSED);
		}
		free(p);
	}
	closedir(d);
	return failed;
}

int main(int argc, char **argv)
{
	int failed = 0;
	const char *v = getenv("RM_REPLAY_VERBOSE");
	verbose = v && strcmp(v, "1") == 0;
	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR|FILE...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			failed = 1;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (replay_file(argv[i]) != 0)
				failed = 1;
			continue;
		}
		failed |= replay_dir(argv[i], FUZZ_NOT_REPORTED);
	}
	printf("replayed %ld inputs (%ld with an expected outcome)%s\n", replayed, checked,
	       failed ? ": FAILED" : "");
	return failed;
}
