/* SPDX-License-Identifier: BSD-3-Clause */
/* The session on the control lcore: handshake, launch of the channels,
 * liveness, commit (DESIGN decision 9), and the final report. */
#ifndef MIGDP_CONTROL_H
#define MIGDP_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

#include "dp.h"

struct migdp_report {
	bool completed;
	bool verified;
	char reason[128];
	uint64_t guest_bytes;
	uint64_t pages_total;
	uint64_t total_ns;        /* handshake to commit */
	uint64_t transfer_ns;     /* first DATA to all channels done */
	struct migdp_lstats sum;  /* all lcores */
	uint64_t session;
	uint8_t digest[MIGDP_DIGEST_LEN];
	uint32_t dict_bytes;      /* source: dictionary sent (0: none) */
	uint64_t discovered_bps;  /* source: see rate_sample() in control.c */
	double cpu_start_s, cpu_end_s; /* process CPU at start and end of the
				  * migration (migdp_cpu_s()) */
	double dict_ms;           /* training and transfer */
};

struct migdp_run_opts {
	bool progress;            /* a progress line per second on stderr */
	unsigned wait_ms;         /* destination: how long to wait for HELLO */
	unsigned hello_version;   /* tests: announce this protocol version */
};

/** Run one migration for the context's role, start to end. Launches the
 * channel lcores and waits for them. @return 0 when committed. */
int migdp_run(struct migdp_ctx *ctx, const struct migdp_run_opts *o,
	      struct migdp_report *rep);

/** The session's memory digest (mdigest.h) from the digests its channels
 * published when they reached DONE: sum then page count, big-endian,
 * zero-padded to MIGDP_DIGEST_LEN. O(channels). */
void migdp_session_digest(const struct migdp_ctx *ctx,
			  uint8_t out[MIGDP_DIGEST_LEN]);

/** CPU seconds used so far by the whole process, every thread. */
double migdp_cpu_s(void);

#endif
