/* SPDX-License-Identifier: BSD-3-Clause */
/* The lab guest's vCPUs: threads that write guest memory at a paced rate
 * and log the pages they dirty, as a hypervisor's dirty log does. */
#ifndef GUEST_WORKLOAD_H
#define GUEST_WORKLOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "guest.h"
#include "guest_devstate.h"

/* Bytes one write changes, at a 256-byte aligned offset of the page. */
#define GUEST_WRITE_BYTES 256u

struct guest_workload_params {
	uint8_t *mem;
	uint64_t npages;
	enum guest_workload_kind kind;
	uint64_t rate;      /* page writes per second, all vCPUs */
	unsigned nvcpus;    /* 1..GUEST_MAX_VCPUS */
	uint64_t hot_pages; /* hot: the hot set, pages 0..hot_pages-1 */
	uint64_t seed;
	/* NULL: fresh vCPUs; else continue from these nvcpus states. */
	const struct guest_vcpu_state *from;
	/* Keep the memory digest (guest_devstate.h) as pages are written. */
	bool track_digest;
};

struct guest_workload;

/* Start the vCPUs, with a clean dirty log. @return NULL with errno. */
struct guest_workload *
guest_workload_start(const struct guest_workload_params *p);

/* Slow every vCPU down to (100 - pct)% of its rate. */
void guest_workload_throttle(struct guest_workload *w, unsigned pct);

/* Stop every vCPU and wait until each has acknowledged: memory no longer
 * changes until guest_workload_resume(). */
void guest_workload_pause(struct guest_workload *w);
void guest_workload_resume(struct guest_workload *w);

/* Page writes done so far by all vCPUs (counted from their first state). */
uint64_t guest_workload_writes(const struct guest_workload *w);

/* Every vCPU's state; only while paused. */
void guest_workload_state(struct guest_workload *w,
			  struct guest_vcpu_state *out);

/* Move the dirty log into @p bm (private, (npages + 63) / 64 words) and
 * clear it. @return pages set in @p bm. */
uint64_t guest_workload_harvest(struct guest_workload *w, uint64_t *bm);

/* The memory's digest now (guest_mem_digest() of it), in O(1): kept as
 * the vCPUs write (track_digest). Only while paused. */
void guest_workload_digest(struct guest_workload *w, char hex[GENMEM_DIGEST_HEX_LEN]);

/* Stop the vCPUs for good, join them and free everything. */
void guest_workload_destroy(struct guest_workload *w);

#endif /* GUEST_WORKLOAD_H */
