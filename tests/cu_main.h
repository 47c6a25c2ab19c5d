/* SPDX-License-Identifier: BSD-3-Clause */
/* Shared CUnit runner: every test executable registers its suites and calls
 * cu_run(), which exits 1 on any failure, 77 when cu_skip() was called. */
#ifndef CU_MAIN_H
#define CU_MAIN_H

#include <CUnit/Basic.h>

/* A test table entry. */
struct cu_test {
	const char *name;
	CU_TestFunc fn;
};

/* Add a suite from a NULL-terminated table; returns 0 or -1. */
int cu_add_suite(const char *name, CU_InitializeFunc init,
		 CU_CleanupFunc cleanup, const struct cu_test *tests);

/* Run everything registered; returns the process exit code. */
int cu_run(void);

/* Exit 77 now, printing why (meson counts the test as skipped). */
void cu_skip(const char *why) __attribute__((noreturn));

#endif
