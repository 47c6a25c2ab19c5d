/* SPDX-License-Identifier: BSD-3-Clause */
/* Fault injection on a burst of frames (tests and labs): drop, duplicate,
 * reorder and corrupt given fractions, from a seeded PRNG, with counters.
 * One instance per lcore and direction; no locks. */
#ifndef MIGDP_FAULT_H
#define MIGDP_FAULT_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#define MIGDP_FAULT_MAX_BURST 64

struct migdp_fault_stats {
	uint64_t dropped, duplicated, reordered, corrupted;
};

struct migdp_fault {
	/* Set at creation: thresholds out of 2^32. */
	uint64_t drop, dup, reorder, corrupt;
	bool active;
	uint64_t rng;
	struct rte_mbuf *held;       /**< a frame delayed for reordering */
	struct rte_mempool *pool;    /**< for duplicates and corrupted copies */
	struct migdp_fault_stats st;
};

/** Set up @p f with fractions in [0, 1] and @p seed. */
void migdp_fault_init(struct migdp_fault *f, double drop, double dup,
		      double reorder, double corrupt, uint64_t seed,
		      struct rte_mempool *pool);

/** Apply the faults to @p pkts[0..n) in place; the array must have room
 * for 2 * @p n entries (duplicates). Frames may be kept for reordering and
 * come out with a later burst. Corruption modifies a copy, never a frame
 * the caller still holds a reference to. @return the new count. */
uint16_t migdp_fault_apply(struct migdp_fault *f, struct rte_mbuf **pkts,
			   uint16_t n);

/** Release a held frame into @p pkts (room for one). @return 0 or 1. */
uint16_t migdp_fault_flush(struct migdp_fault *f, struct rte_mbuf **pkts);

#endif
