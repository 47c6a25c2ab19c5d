/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file converge.h
 * Convergence policy (design decision 11): after each pre-copy round,
 * from what the data plane measured, go on, throttle the guest, switch
 * over, or give up. Pure and deterministic: no clock, no I/O; every
 * figure comes in through the calls. The model is written at the top of
 * converge.c.
 */
#ifndef MIGDP_CONVERGE_H
#define MIGDP_CONVERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Parameters ("migrate-set-parameters"). */
struct migdp_conv_params {
	uint32_t downtime_limit_ms;    /**< default 300, 1..600000 */
	uint64_t max_bandwidth_bps;    /**< 0 = line rate (no cap in the estimate) */
	uint32_t max_rounds;           /**< default 30, 1..10000 */
	bool auto_converge;            /**< default false */
	uint32_t throttle_initial_pct; /**< default 20, 1..99, <= max */
	uint32_t throttle_step_pct;    /**< default 10, 1..99 */
	uint32_t throttle_max_pct;     /**< default 99, 1..99, >= initial */
};

void
migdp_conv_params_default(struct migdp_conv_params *p);

/**
 * Set one parameter from text: "downtime-limit" (ms), "max-bandwidth"
 * (bits/s, optional decimal suffix K, M or G), "max-rounds",
 * "auto-converge" (on/off/true/false/1/0), "throttle-initial",
 * "throttle-step", "throttle-max" (percent). Returns 0, or -EINVAL with
 * @p err naming the key and the accepted range; @p p is unchanged then.
 */
int
migdp_conv_param_set(struct migdp_conv_params *p, const char *key,
		     const char *value, char *err, size_t errlen);

/** One pre-copy round, as the data plane measured it. */
struct migdp_round_stat {
	unsigned round;
	uint64_t pages;      /**< guest pages sent in the round (its dirty set) */
	uint64_t wire_bytes; /**< bytes on the wire for it */
	uint64_t start_ns;   /**< when the round was asked for (log harvested) */
	uint64_t end_ns;     /**< when its last page was acknowledged */
};

#define MIGDP_FOREACH_CONV_DECISION(_) \
	_(NEXT_ROUND, "next-round") \
	_(THROTTLE, "throttle") \
	_(SWITCHOVER, "switchover") \
	_(FAIL, "fail")

enum migdp_conv_decision {
#define _(n, s) MIGDP_CONV_##n,
	MIGDP_FOREACH_CONV_DECISION(_)
#undef _
	MIGDP_CONV_MAX
};

/** Bandwidth is measured only on rounds of at least this many wire bytes:
 * smaller ones measure latency. */
#define MIGDP_CONV_MIN_MEASURE_BYTES (4ull << 20)

struct migdp_conv {
	struct migdp_conv_params p;
	uint64_t guest_pages;        /**< total guest pages (bounds the estimate) */
	unsigned rounds;             /**< rounds seen */
	struct migdp_round_stat last, prev;
	double bandwidth_Bps;        /**< wire bytes/s: the estimate used */
	double measured_Bps;         /**< EWMA of large rounds, 0 = none yet */
	double link_hint_Bps;        /**< discovered path rate, 0 = unknown */
	double ratio;                /**< wire bytes per guest byte, EWMA (<= 1.05) */
	bool ratio_known;            /**< ratio measured at least once */
	double dirty_rate_pps;       /**< pages dirtied per second, last estimate */
	uint64_t remaining_pages;    /**< estimated dirty at the last decision */
	double expected_downtime_ms; /**< of switching over now */
	double switchover_cost_ms;   /**< fixed part (commit round trips): 2 ms */
	uint32_t throttle_pct;       /**< throttle asked for, 0 = none */
	unsigned not_shrinking;      /**< consecutive rounds that did not shrink */
	char why[160];               /**< text of the last decision */
};

/** @p p NULL: defaults. */
void
migdp_conv_init(struct migdp_conv *c, const struct migdp_conv_params *p,
		uint64_t guest_pages);

/** A round drained at r->end_ns: update the estimates and decide. */
enum migdp_conv_decision
migdp_conv_round_end(struct migdp_conv *c, const struct migdp_round_stat *r);

/** Fixed part of the downtime (measured commit round trips etc.), ms. */
void
migdp_conv_set_switchover_cost(struct migdp_conv *c, double ms);

/** Discovered path rate in bytes/s, 0 unknown: used until measured. */
void
migdp_conv_set_link_hint(struct migdp_conv *c, double bytes_per_s);

/** "next-round", "throttle", "switchover", "fail"; "unknown" otherwise. */
const char *
migdp_conv_decision_name(enum migdp_conv_decision d);

#endif
