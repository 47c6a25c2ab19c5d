/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdlib.h>

#include "cu_main.h"

int
cu_add_suite(const char *name, CU_InitializeFunc init, CU_CleanupFunc cleanup,
	     const struct cu_test *tests)
{
	CU_pSuite s;

	if (CU_get_registry() == NULL && CU_initialize_registry() != CUE_SUCCESS)
		return -1;
	s = CU_add_suite(name, init, cleanup);
	if (s == NULL)
		return -1;
	for (; tests->name != NULL; tests++)
		if (CU_add_test(s, tests->name, tests->fn) == NULL)
			return -1;
	return 0;
}

int
cu_run(void)
{
	unsigned failures, suite_failures;

	if (CU_get_registry() == NULL)
		return 1;
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	/* Read before CU_cleanup_registry(), which clears them. */
	failures = CU_get_number_of_failures();
	suite_failures = CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return (failures || suite_failures) ? 1 : 0;
}

void
cu_skip(const char *why)
{
	printf("SKIP: %s\n", why);
	fflush(stdout);
	exit(77);
}
