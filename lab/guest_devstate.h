/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file guest_devstate.h
 * The lab guest's device state: the blob migguest writes into its
 * device-state region when paused and reads back at the destination on
 * RESUME. Shared by migguest and its tests (which forge blobs of the same
 * layout). Layout: struct guest_devstate at offset 0, then filler bytes that
 * depend only on their offset, up to @c length (the region's size).
 * Host byte order: both ends run on one machine.
 */
#ifndef GUEST_DEVSTATE_H
#define GUEST_DEVSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "genmem.h"

#define GUEST_DEVSTATE_MAGIC "MIGDEVST" /* 8 bytes, no NUL */
#define GUEST_DEVSTATE_VERSION 1u
/** Guest-physical address of the device-state region. */
#define GUEST_DEVSTATE_GPA (1ull << 40)
/** Largest device state (--device-state). */
#define GUEST_DEVSTATE_MAX (256ull << 20)
/** Most vCPUs whose workload state the blob carries. */
#define GUEST_MAX_VCPUS 64

/** Workload state of one vCPU: what it takes to continue where it was. */
struct guest_vcpu_state {
	uint64_t rng;    /**< xorshift64* state */
	uint64_t writes; /**< page writes done (the per-thread counter) */
};

/** Header of the blob. */
struct guest_devstate {
	char magic[8];     /**< GUEST_DEVSTATE_MAGIC */
	uint32_t version;  /**< GUEST_DEVSTATE_VERSION */
	uint32_t nvcpus;   /**< entries of @c vcpu in use */
	uint64_t length;   /**< bytes of the blob, header included */
	uint64_t pause_ns; /**< CLOCK_MONOTONIC when the vCPUs stopped */
	uint64_t writes;   /**< page writes of all vCPUs */
	uint64_t seed;     /**< the workload's seed */
	char digest[40];   /**< RAM digest at pause (hex, NUL-terminated);
			        "" with --no-verify */
	struct guest_vcpu_state vcpu[GUEST_MAX_VCPUS];
};

_Static_assert(sizeof(struct guest_devstate) == 1112,
	       "device-state header layout changed: bump its version");
_Static_assert(GENMEM_DIGEST_HEX_LEN <= 40, "digest does not fit");

/** Write @p h (magic, version and length set here) and the filler into
 * @p region of @p size bytes (>= sizeof(*h)). */
void guest_devstate_write(void *region, uint64_t size,
			  const struct guest_devstate *h);

/** Check the blob in @p region of @p size bytes: magic, version, length
 * equal to @p size, vCPU count, a NUL-terminated digest and the filler.
 * Copies the header to @p out. @return 0, or -EINVAL with the reason in
 * @p err. */
/* The lab guest's memory digest, order-independent and so kept as pages
 * change: the sum of a value of each page (its XXH3-64 seeded with its
 * index) and the page count, as 32 hex digits. A running guest updates
 * the sum at each write (guest_workload.c) and reads it at pause in O(1);
 * guest_mem_digest() computes it from memory (the destination after
 * resume, the tests). */
uint64_t guest_page_value(const void *page, uint64_t index);
void guest_digest_hex(uint64_t sum, uint64_t npages, char hex[GENMEM_DIGEST_HEX_LEN]);
void guest_mem_digest(const void *mem, uint64_t npages, char hex[GENMEM_DIGEST_HEX_LEN]);

int guest_devstate_read(const void *region, uint64_t size,
			struct guest_devstate *out, char *err, size_t errlen);

#endif /* GUEST_DEVSTATE_H */
