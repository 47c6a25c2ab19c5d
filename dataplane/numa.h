/* SPDX-License-Identifier: BSD-3-Clause */
/* NUMA placement: the pool, rings and channel state live on the NIC's
 * node; channel lcores should run there; guest memory is where the
 * hypervisor put it, and migdp reports where that is. The placement
 * logic is pure (tested on described topologies); the queries of the
 * machine use libnuma. */
#ifndef MIGDP_NUMA_H
#define MIGDP_NUMA_H

#include <stddef.h>
#include <stdint.h>

/** Lcores whose node is not @p nic_node (a node < 0, unknown, counts as
 * on it): their indices in @p off (room for @p n), a one-line warning in
 * @p warn naming them. @return how many. */
unsigned migdp_numa_off_node(int nic_node, const unsigned *lcores, const int *nodes,
			     unsigned n, unsigned *off, char *warn, size_t len);

/** The node most of @p n samples are on (ties: the lowest), -1 when none
 * is known (every sample < 0); *@p mixed set when samples disagree. */
int migdp_numa_majority(const int *nodes, unsigned n, int *mixed);

/** Node of the memory at [@p addr, +@p len): samples 16 pages spread
 * over it (move_pages() with no target: where they are now). -1 when
 * unknown (not faulted in, no NUMA); *@p mixed set when it spans nodes. */
int migdp_numa_node_of(const void *addr, size_t len, int *mixed);

#endif
