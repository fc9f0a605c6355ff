#ifndef RM_TESTS_FUZZ_OUTCOME_H
#define RM_TESTS_FUZZ_OUTCOME_H
/* How a fuzz target tells the corpus replayer (replay_main.c) whether it accepted or
 * refused the last input. The replayer checks it against the corpus layout:
 * corpus/<target>/valid/ must be accepted, corpus/<target>/invalid/ refused, files
 * directly in corpus/<target>/ (e.g. found by the fuzzer) only must not crash.
 * Under libFuzzer nobody reads it. */

#define FUZZ_NOT_REPORTED (-1)
#define FUZZ_REFUSED 0
#define FUZZ_ACCEPTED 1

/* weak: one definition shared by the target and the replayer, and none needed by
 * libFuzzer builds */
__attribute__((weak)) int rm_fuzz_outcome = FUZZ_NOT_REPORTED;

static inline void fuzz_report(int accepted)
{
	rm_fuzz_outcome = accepted ? FUZZ_ACCEPTED : FUZZ_REFUSED;
}

#endif
