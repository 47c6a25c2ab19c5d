/* SPDX-License-Identifier: BSD-3-Clause */
/* How a harness states a promise of the code under test: a broken one
 * prints itself and aborts, and libFuzzer keeps the input that broke it.
 * Header only, so that harnesses without DPDK need nothing else. */
#ifndef FUZZ_CHECK_H
#define FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

static inline void __attribute__((noreturn))
fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: broken promise: %s\n", file, line, what);
	abort();
}

#define FUZZ_CHECK(c) \
	do { \
		if (!(c)) \
			fuzz_fail(__FILE__, __LINE__, #c); \
	} while (0)

#endif
