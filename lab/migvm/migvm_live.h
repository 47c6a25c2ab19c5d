/* SPDX-License-Identifier: BSD-3-Clause */
/* migvm migrated live through libmigshim and migdp (migvm_live.c). */
#ifndef MIGVM_LIVE_H
#define MIGVM_LIVE_H

#include <stdbool.h>
#include <stdint.h>

#include "migvm.h"

struct migvm_live_opts {
	bool source;
	const char *socket, *name;
	uint64_t mem;
	unsigned channels;
	unsigned timeout_s;
	unsigned run_after_ms;   /* destination: run after resume */
};

struct migvm_live_result {
	bool completed, verified, migdp_verified;
	bool resumed_after_failure, handed_over_unconfirmed;
	unsigned rounds, throttle_max_pct;
	uint64_t pause_ns, resume_ns;
	uint64_t device_state_bytes;
	uint64_t writes, writes_after_resume, verify_passes_after_resume, mismatches;
	char reason[256];
};

/** CLOCK_MONOTONIC in nanoseconds (the clock of every migvm figure). */
uint64_t migvm_now_ns(void);

/** Source: hand @p vm (running) to migdp and follow its events.
 * @return 0 when the VM was handed over, -1 otherwise (reason in @p r). */
int migvm_live_source(const struct migvm_live_opts *o, struct migvm *vm,
		      struct migvm_live_result *r);

/** Destination: empty memory to migdp; on RESUME the VM runs here and its
 * guest verifies its pages. @return 0 when verified. */
int migvm_live_destination(const struct migvm_live_opts *o,
			   struct migvm_live_result *r);

#endif
