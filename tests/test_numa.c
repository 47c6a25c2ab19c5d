/* SPDX-License-Identifier: BSD-3-Clause */
/* NUMA placement logic on described topologies (this machine has one
 * node), and the node query on real mappings. */
#include <string.h>
#include <sys/mman.h>

#include "cu_main.h"
#include "numa.h"

/* Two nodes, the NIC on node 1: the lcores on node 0 are named. */
static void
test_off_node_two_nodes(void)
{
	unsigned lcores[] = {2, 3, 10, 11}, off[4];
	int nodes[] = {0, 1, 1, 0};
	char warn[256];

	CU_ASSERT_EQUAL(migdp_numa_off_node(1, lcores, nodes, 4, off, warn, sizeof(warn)), 2);
	CU_ASSERT_EQUAL(off[0], 0);
	CU_ASSERT_EQUAL(off[1], 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(warn, "lcore 2 (node 0)"));
	CU_ASSERT_PTR_NOT_NULL(strstr(warn, "lcore 11 (node 0)"));
	CU_ASSERT_PTR_NULL(strstr(warn, "lcore 3 "));
	CU_ASSERT_PTR_NOT_NULL(strstr(warn, "the NIC is on node 1"));
	/* All on the NIC's node, or nodes unknown: nothing to say. */
	CU_ASSERT_EQUAL(migdp_numa_off_node(0, lcores, (int[]){0, 0, 0, 0}, 4, off,
					    warn, sizeof(warn)), 0);
	CU_ASSERT_STRING_EQUAL(warn, "");
	CU_ASSERT_EQUAL(migdp_numa_off_node(-1, lcores, nodes, 4, off, warn, sizeof(warn)), 0);
	CU_ASSERT_EQUAL(migdp_numa_off_node(1, lcores, (int[]){-1, 1, -1, 1}, 4, off,
					    warn, sizeof(warn)), 0);
	/* A short buffer is cut, never overrun. */
	CU_ASSERT_EQUAL(migdp_numa_off_node(1, lcores, nodes, 4, off, warn, 8), 2);
	CU_ASSERT_EQUAL(strlen(warn), 7);
}

static void
test_majority(void)
{
	int mixed;

	CU_ASSERT_EQUAL(migdp_numa_majority((int[]){1, 1, 1}, 3, &mixed), 1);
	CU_ASSERT_EQUAL(mixed, 0);
	CU_ASSERT_EQUAL(migdp_numa_majority((int[]){0, 3, 3, -2}, 4, &mixed), 3);
	CU_ASSERT_EQUAL(mixed, 1);
	CU_ASSERT_EQUAL(migdp_numa_majority((int[]){2, 0}, 2, &mixed), 0); /* tie: lowest */
	CU_ASSERT_EQUAL(migdp_numa_majority((int[]){-14, -14}, 2, &mixed), -1);
	CU_ASSERT_EQUAL(mixed, 0);
	CU_ASSERT_EQUAL(migdp_numa_majority(NULL, 0, &mixed), -1);
}

/* Memory that was touched is on a node (this machine: 0); memory never
 * touched has no node yet. */
static void
test_node_of_mapping(void)
{
	size_t len = 4u << 20;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int mixed, node;

	CU_ASSERT_FATAL(p != MAP_FAILED);
	CU_ASSERT_EQUAL(migdp_numa_node_of(p, len, &mixed), -1);
	memset(p, 1, len);
	node = migdp_numa_node_of(p, len, &mixed);
	CU_ASSERT(node >= 0);
	CU_ASSERT_EQUAL(mixed, 0);
	CU_ASSERT_EQUAL(migdp_numa_node_of(p, 0, &mixed), -1);
	munmap(p, len);
}

int
main(void)
{
	static const struct cu_test tests[] = {
		{"off_node_two_nodes", test_off_node_two_nodes},
		{"majority", test_majority},
		{"node_of_mapping", test_node_of_mapping},
		{NULL, NULL},
	};

	if (cu_add_suite("numa", NULL, NULL, tests) < 0)
		return 1;
	return cu_run();
}
