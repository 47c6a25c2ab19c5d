/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file adapt.h
 * The adaptive chooser of `codec = auto` (included by codec.h): pure logic
 * on measurements the channel passes in; no clock, no I/O.
 *
 * **Model.** Options are raw and each candidate zstd level. For option o,
 * with cpu_o the lcore's encoding rate (guest bytes/s of non-zero pages,
 * an EWMA over the batches encoded with o), r_o its ratio (guest bytes /
 * payload bytes, an EWMA; pages that did not save enough count as raw) and
 * L the link rate this channel gets (wire bytes/s), the guest bytes the
 * channel can move per second with o are
 *
 *     E(o) = min(cpu_o, L * r_o)        (raw: r = 1)
 *
 * L is the configured share of the pacing limit or line rate, lowered to
 * what the channel measured while the link was the bottleneck (window full
 * or TX backpressure during an interval), raised when it sent faster
 * without backpressure; unknown (infinite) until one of them is known. Each
 * batch uses the option with the largest E; a change must win by
 * margin_pct, and zstd is dropped as soon as raw is at least as fast, so
 * that auto is never slower than raw as far as the measurements tell.
 *
 * **Probing.** Every option is tried once at the start (raw first); then
 * every probe_every-th batch tries a neighbour of the current option, in
 * the order raw, fastest level, ..., strongest level, alternating sides, so
 * the options that could take over have fresh measurements. With E
 * unimodal along that order this is a hill climb. A probe of a slow level
 * costs more time than a raw batch: probes are skipped while they took
 * more than probe_pct of the measured time, which bounds what probing can
 * cost against the best option.
 *
 * **Known limits.** Rates compare whatever the caller times: time the whole
 * send path of a batch (encode, framing, TX), not the compressor alone,
 * when per-frame costs matter. A faster link is noticed only when a batch
 * sends faster than the estimate without backpressure.
 *
 * One struct migdp_adapt per channel, used by its lcore only; its stats
 * may be read by others for telemetry (plain counters, possibly torn).
 */
#ifndef MIGDP_CODEC_ADAPT_H
#define MIGDP_CODEC_ADAPT_H

#include <stdbool.h>
#include <stdint.h>

#define MIGDP_ADAPT_MAX_LEVELS 8

/** What to use for the next batch. */
struct migdp_codec_choice {
	enum migdp_codec_method method; /**< RAW or ZSTD */
	int level;                      /**< ZSTD: the level */
	bool probe;                     /**< a measurement, not the choice */
};

/** Chooser parameters; zero fields take defaults. */
struct migdp_adapt_params {
	/** Wire bytes/s this channel may send (its share of the pacing
	 * limit, else of the line rate); 0: unknown. */
	uint64_t link_bytes_per_s;
	int levels[MIGDP_ADAPT_MAX_LEVELS]; /**< fastest first */
	unsigned nlevels;     /**< 0: -7, -5, -3, -1, 1, 3 */
	unsigned probe_every; /**< batches between probes, 0: 16 */
	unsigned probe_pct;   /**< time share probes may take, 0: 2 */
	unsigned margin_pct;  /**< a change must win by this, 0: 5 */
	unsigned ewma_shift;  /**< a sample weighs 1/2^shift, 0: 3 */
};

/** One encoded batch, as measured by the channel. */
struct migdp_adapt_batch {
	uint32_t pages;          /**< non-zero pages encoded */
	uint32_t pages_zero;     /**< zero pages met (counted only) */
	uint32_t pages_fallback; /**< zstd pages sent raw (not worth it) */
	uint64_t bytes_out;      /**< payload bytes for @c pages */
	uint64_t ns;             /**< lcore time spent on them */
};

/** Counters and the current model, for telemetry. */
struct migdp_adapt_stats {
	uint64_t pages_zero;
	uint64_t pages_raw;      /**< sent raw because raw was chosen */
	uint64_t pages_zstd;     /**< sent compressed */
	uint64_t pages_fallback; /**< zstd tried, sent raw */
	uint64_t bytes_in;       /**< guest bytes of non-zero pages */
	uint64_t bytes_out;      /**< payload bytes sent for them */
	uint64_t bytes_saved;    /**< bytes_in - bytes_out */
	uint64_t ns_raw, ns_zstd;
	uint64_t batches_raw, batches_zstd;
	uint64_t probes, switches;
	struct migdp_codec_choice cur; /**< current choice */
	double link_rate;   /**< L in bytes/s, 0: unknown */
	double rate_raw;    /**< E(raw) */
	double rate_cur;    /**< E(current choice) */
};

/** Per-option estimate. */
struct migdp_adapt_est {
	double cpu;   /**< guest bytes/s */
	double ratio; /**< guest bytes / payload bytes */
	uint64_t n;   /**< batches measured */
};

/** A channel's chooser. Fields are private but for @c st. */
struct migdp_adapt {
	struct migdp_adapt_params p;
	unsigned nopt;      /**< 1 + nlevels; option 0 is raw */
	unsigned cur;       /**< option in use */
	uint64_t batch;     /**< batches chosen so far */
	unsigned probe_side;
	double link_meas;   /**< bytes/s seen while saturated, 0: none */
	uint64_t ns_total;  /**< time of all accounted batches */
	uint64_t ns_probe;  /**< of which probes */
	struct migdp_adapt_est est[1 + MIGDP_ADAPT_MAX_LEVELS];
	struct migdp_adapt_stats st;
};

/** Start a chooser (@p p NULL: all defaults). @return 0 or -EINVAL (a
 * level not valid or repeated, too many). */
int migdp_adapt_init(struct migdp_adapt *a, const struct migdp_adapt_params *p);

/** Change the configured link share (pacing changed); 0: unknown. */
void migdp_adapt_set_link(struct migdp_adapt *a, uint64_t bytes_per_s);

/** Before each batch: what to encode it with. */
struct migdp_codec_choice migdp_adapt_choose(struct migdp_adapt *a);

/** After each batch: what @p c (as returned by choose) achieved. */
void migdp_adapt_account(struct migdp_adapt *a,
			 const struct migdp_codec_choice *c,
			 const struct migdp_adapt_batch *b);

/** Periodically (e.g. at the drain tick): @p wire_bytes sent in the last
 * @p interval_ns; @p saturated when the window was full or TX pushed back
 * during it (the link, not the lcore, was the limit). */
void migdp_adapt_link(struct migdp_adapt *a, uint64_t interval_ns,
		      uint64_t wire_bytes, bool saturated);

#endif /* MIGDP_CODEC_ADAPT_H */
