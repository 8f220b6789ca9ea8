#ifndef TESTS_FUZZ_CHECK_H
#define TESTS_FUZZ_CHECK_H
/* tests/fuzz/check.h: CHECK(cond) states a property every input must keep.
 * A broken one prints where and what, then aborts, which libFuzzer (a
 * crash, input saved) and the ctest replay (a failed test) both report. */
#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                               \
	do {                                                                                      \
		if (!(cond)) {                                                                    \
			fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                                  \
		}                                                                                 \
	} while (0)

#endif
