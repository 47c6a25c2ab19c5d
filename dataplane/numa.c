/* SPDX-License-Identifier: BSD-3-Clause */
#include <numaif.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "numa.h"

#define SAMPLES 16
#define MAX_NODES 64

unsigned
migdp_numa_off_node(int nic_node, const unsigned *lcores, const int *nodes,
		    unsigned n, unsigned *off, char *warn, size_t len)
{
	unsigned i, k = 0;
	size_t used = 0;

	if (len > 0)
		warn[0] = '\0';
	for (i = 0; i < n; i++) {
		if (nic_node < 0 || nodes[i] < 0 || nodes[i] == nic_node)
			continue;
		off[k++] = i;
		if (used < len)
			used += (size_t)snprintf(warn + used, len - used, "%s lcore %u (node %d)",
						 k == 1 ? "channel lcores off the NIC's node"
						 : ",", lcores[i], nodes[i]);
	}
	if (k > 0 && used < len)
		snprintf(warn + used, len - used, "; the NIC is on node %d: every page "
			 "they move crosses the interconnect", nic_node);
	return k;
}

int
migdp_numa_majority(const int *nodes, unsigned n, int *mixed)
{
	unsigned count[MAX_NODES] = {0}, i;
	int best = -1, seen = -1;

	*mixed = 0;
	for (i = 0; i < n; i++) {
		if (nodes[i] < 0 || nodes[i] >= MAX_NODES)
			continue;
		if (seen >= 0 && nodes[i] != seen)
			*mixed = 1;
		seen = nodes[i];
		count[nodes[i]]++;
	}
	for (i = 0; i < MAX_NODES; i++)
		if (count[i] > 0 && (best < 0 || count[i] > count[best]))
			best = (int)i;
	return best;
}

int
migdp_numa_node_of(const void *addr, size_t len, int *mixed)
{
	long psz = sysconf(_SC_PAGESIZE);
	void *pages[SAMPLES];
	int status[SAMPLES];
	size_t npages = len / (size_t)psz;
	unsigned i, n = npages < SAMPLES ? (unsigned)npages : SAMPLES;

	*mixed = 0;
	if (n == 0)
		return -1;
	for (i = 0; i < n; i++)
		pages[i] = (char *)addr + (npages * i / n) * (size_t)psz;
	if (move_pages(0, n, pages, NULL, status, 0) != 0)
		return -1;
	return migdp_numa_majority(status, n, mixed);
}
