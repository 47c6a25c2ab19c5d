/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file cc.h
 * Congestion control of one channel, BBR-style (BBR v1 with the delivery
 * rate estimation of draft-cheng-iccrg-delivery-rate-estimation). Pure: no
 * DPDK calls, no clock reads; @c now is nanoseconds of a monotonic clock.
 *
 * The model is two numbers: the bottleneck bandwidth (windowed max of the
 * delivery rate over ~10 round trips) and the round-trip propagation time
 * (windowed min of RTT samples over 10 s). From them and the state's gains:
 * pacing rate = pacing_gain x btlbw (capped by a configured ceiling) and
 * congestion window = cwnd_gain x btlbw x min_rtt.
 *
 * The sender (struct migdp_tx, transport.h) drives it; a channel only reads
 * migdp_cc_pacing_bps() into its pacer. Call order, per frame and per ACK:
 *   migdp_cc_on_send()       when a frame leaves (also a retransmission);
 *   migdp_cc_on_delivered()  for each frame an ACK releases;
 *   migdp_cc_on_ack()        once per ACK, after its releases.
 * Units: bytes, bits per second, nanoseconds.
 */
#ifndef MIGDP_CC_H
#define MIGDP_CC_H

#include <stdbool.h>
#include <stdint.h>

/** Parameters; zero fields take the defaults in brackets. */
struct migdp_cc_params {
	uint64_t max_rate_bps;     /**< pacing ceiling, 0 = none [0] */
	uint64_t init_rtt_ns;      /**< RTT guess before any sample [1 ms] */
	uint32_t frame_bytes;      /**< a full frame, for the windows [9014] */
	uint32_t init_cwnd_frames; /**< window for the first RTT [32] */
	uint32_t min_cwnd_frames;  /**< never below [4] */
	uint32_t seed;             /**< of the probe-bw phase; channels that
				    *   share a bottleneck should differ [1] */
};

/** Delivery state when a frame was (re)sent: kept in the frame's slot. */
struct migdp_cc_snap {
	uint64_t delivered;     /**< bytes delivered before it was sent */
	uint64_t delivered_ns;  /**< when that count last grew */
	uint64_t first_sent_ns; /**< send time of the flight's first frame */
	bool app_limited;       /**< sent while the sender was app-limited */
};

/** Windowed extreme (max or min) over a window of time or rounds: the
 * best, second and third best samples of their sub-windows (Kathleen
 * Nichols' algorithm, as BBR uses it). Private. */
struct migdp_cc_filter {
	uint64_t t[3];
	uint64_t v[3];
};

enum migdp_cc_state {
	MIGDP_CC_STARTUP,  /**< gain 2/ln2 until btlbw stops growing */
	MIGDP_CC_DRAIN,    /**< gain ln2/2 until the queue startup made is gone */
	MIGDP_CC_PROBE_BW, /**< gain cycle 1.25, 0.75, 1 x 6, one min_rtt each */
	MIGDP_CC_PROBE_RTT, /**< no RTT near min_rtt for 64 min_rtt (20 ms..
			     *   1 s): cwnd 1/2 BDP for 2 rounds and 2
			     *   min_rtt, to empty the queue */
};

/** Counters (monotonic). */
struct migdp_cc_stats {
	uint64_t rate_samples;     /**< ACKs that gave a delivery-rate sample */
	uint64_t rate_app_limited; /**< of which taken while app-limited */
	uint64_t rate_short;       /**< discarded: interval below min_rtt */
	uint64_t rounds;           /**< round trips counted */
	uint64_t rto_losses;       /**< migdp_cc_on_rto() calls entering loss */
	uint64_t rto_undone;       /**< of which undone (spurious) */
	uint64_t app_limited;      /**< migdp_cc_app_limited() calls */
	uint64_t probe_rtt;        /**< probe-rtt episodes */
	uint64_t lossy_rounds;     /**< probe-bw rounds losing > 2 %: capped */
};

/** Congestion-control state. Fields are private except @c stats. */
struct migdp_cc {
	struct migdp_cc_params p;
	/* delivery-rate estimation */
	uint64_t delivered;         /**< bytes delivered so far */
	uint64_t delivered_ns;
	uint64_t first_sent_ns;
	uint64_t app_limited_until; /**< delivered mark, 0 = not app-limited */
	struct {                    /**< the sample one ACK is building */
		uint64_t prior_delivered;
		uint64_t newest_sent_ns;
		uint64_t send_elapsed;
		uint64_t ack_elapsed;
		uint64_t acked;     /**< bytes this ACK released */
		bool app_limited;
		bool has_data;
	} rs;
	/* model */
	struct migdp_cc_filter btlbw;   /**< bits/s over rounds */
	struct migdp_cc_filter min_rtt; /**< ns over time */
	struct migdp_cc_filter ack_agg; /**< bytes one ACK released, rounds */
	uint64_t round;
	uint64_t epoch;             /**< rounds of at least EPOCH_MIN_NS: the
				     *   unit of the btlbw window and of
				     *   startup's plateau test */
	uint64_t epoch_ns;          /**< when the epoch began */
	uint64_t path_bytes, path_ns; /**< sums over the rate samples not
				       *   limited by the sender */
	uint64_t now_ns;            /**< of the ACK being processed */
	uint64_t next_round_delivered;
	uint64_t round_lost;        /**< bytes marked lost this round */
	uint64_t round_delivered;   /**< delivered when the round began */
	uint64_t inflight_hi;       /**< cap after a lossy round, 0 = none */
	uint64_t full_bw;
	uint8_t full_bw_rounds;
	uint8_t drain_rounds;
	bool full_pipe;
	bool in_loss;               /**< after an RTO, until recovered/undone */
	uint8_t state;              /**< enum migdp_cc_state */
	uint8_t cycle;              /**< probe-bw phase, 0..7 */
	uint64_t cycle_ns;          /**< start of the phase */
	uint32_t pacing_gain;       /**< per mille */
	uint32_t cwnd_gain;         /**< per mille */
	uint64_t pacing_bps;
	uint64_t cwnd;              /**< bytes */
	uint64_t prior_cwnd;        /**< before the RTO, for the undo */
	uint64_t first_rtt_ns;      /**< first RTT sample, before btlbw exists */
	uint64_t min_rtt_seen_ns;   /**< last sample <= min_rtt */
	uint64_t probe_rtt_end_ns;  /**< 0 until in-flight is down */
	uint8_t probe_rtt_rounds;   /**< rounds since it is */
	uint32_t rnd;
	struct migdp_cc_stats stats;
};

/** Initialise @p cc. @return 0, or -EINVAL when @p p is inconsistent
 * (init_cwnd_frames < min_cwnd_frames). */
int migdp_cc_init(struct migdp_cc *cc, const struct migdp_cc_params *p);

/** A frame is being sent (first time or again) at @p now with
 * @p inflight_bytes already in flight, not counting it. Fills @p snap,
 * which the sender keeps with the frame until it is released. */
void migdp_cc_on_send(struct migdp_cc *cc, uint64_t now,
		      uint64_t inflight_bytes, struct migdp_cc_snap *snap);

/** An ACK released a frame of @p bytes, last sent at @p sent_ns with
 * @p snap (cumulatively or by SACK, retransmitted or not). */
void migdp_cc_on_delivered(struct migdp_cc *cc, uint64_t now,
			   const struct migdp_cc_snap *snap, uint64_t sent_ns,
			   uint32_t bytes);

/**
 * End of an ACK: turn its releases into a rate sample, update the model,
 * the state and the windows. @p rtt_ns is the ACK's RTT sample (0: none),
 * @p inflight_bytes what is still in flight, @p lost frames the ACK
 * newly marked lost.
 */
void migdp_cc_on_ack(struct migdp_cc *cc, uint64_t now, uint64_t rtt_ns,
		     uint64_t inflight_bytes, unsigned lost);

/** The sender has less to send than the model allows (nothing queued, or
 * the CPU, not the link, bounds it): rate samples until what is in flight
 * now has been delivered are marked app-limited and can raise btlbw but
 * never lower it. @p inflight_bytes: bytes in flight now. */
void migdp_cc_app_limited(struct migdp_cc *cc, uint64_t inflight_bytes);

/** A retransmission timeout fired: the window drops to min_cwnd_frames
 * and grows again with every delivery (the RTO means the model may be
 * stale); the previous window is remembered. No-op while already in loss. */
void migdp_cc_on_rto(struct migdp_cc *cc);

/** The loss episode of migdp_cc_on_rto() is over: the frames outstanding
 * at the timeout were recovered, or (@p spurious) the timeout proved
 * spurious. Either way the window returns to at least what it was. */
void migdp_cc_loss_end(struct migdp_cc *cc, bool spurious);

/** Pacing rate to apply now, bits/s (> 0; at most max_rate_bps if set). */
static inline uint64_t
migdp_cc_pacing_bps(const struct migdp_cc *cc)
{
	return cc->pacing_bps;
}

/** Congestion window, bytes in flight. */
static inline uint64_t
migdp_cc_cwnd_bytes(const struct migdp_cc *cc)
{
	return cc->cwnd;
}

/** Discovered bottleneck bandwidth, bits/s; 0 before the first sample. */
static inline uint64_t
migdp_cc_btlbw_bps(const struct migdp_cc *cc)
{
	return cc->btlbw.v[0];
}

/** Round-trip propagation time estimate, ns; 0 before the first sample. */
static inline uint64_t
migdp_cc_min_rtt_ns(const struct migdp_cc *cc)
{
	return cc->min_rtt.v[0];
}

/** "startup", "drain", "probe_bw", "probe_rtt", for logs and reports. */
const char *migdp_cc_state_name(const struct migdp_cc *cc);

/** The delivery rate the path gave (bits/s): the time-weighted mean of
 * the rate samples not limited by the sender, 0 before any. Reported as
 * the discovered rate: btlbw, a windowed max, also catches the bursts a
 * shaper lets through after idling. */
static inline uint64_t
migdp_cc_delivery_bps(const struct migdp_cc *cc)
{
	return cc->path_ns == 0 ? 0 :
		(uint64_t)((double)cc->path_bytes * 8e9 / (double)cc->path_ns);
}

#endif /* MIGDP_CC_H */
