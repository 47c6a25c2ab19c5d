/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file transport.h
 * Per-channel reliable transport logic, pure: no DPDK calls, no mbufs, no
 * clock reads. Time is passed in as @c now, nanoseconds of a monotonic
 * clock. The channel lcore owns every object here; none is thread-safe.
 *
 * - sender (struct migdp_tx): sequence numbers, bounded window, scoreboard
 *   of in-flight frames, cumulative + selective acks, RTT/RTO (RFC 6298),
 *   retransmission on timeout and fast retransmission on SACKed gaps,
 *   detection of spurious resends (Eifel, RFC 3522) and the response to
 *   them, optional congestion control (cc.h) fed with every release;
 * - pacer (struct migdp_pacer): token bucket to a bit rate, fixed or set
 *   each loop from the congestion control;
 * - receiver (struct migdp_rx): received-sequence bitmap, classification,
 *   ack generation;
 * - version table (struct migdp_vtab): newest version wins per page;
 * - liveness (struct migdp_live): keepalive and peer-loss timing.
 *
 * Sequence numbers are 32 bits on the wire and compared wrap-safely. The
 * receiver extends them to 64 bits (it knows where its window is), and the
 * version table stores extended sequences so that a page left untouched for
 * more than 2^31 frames is still compared correctly.
 *
 * Memory: objects with arrays are laid out by the caller (memsize + init),
 * so that a DPDK caller can place them with rte_zmalloc_socket().
 */
#ifndef MIGDP_TRANSPORT_H
#define MIGDP_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cc.h"
#include "wire.h"

/* ------------------------------------------------------------------------ */
/** @name Sequence numbers */
/**@{*/

/** a < b in sequence space (valid while they are < 2^31 apart). */
static inline bool
migdp_seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

/** a <= b in sequence space. */
static inline bool
migdp_seq_le(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}

/** a > b in sequence space. */
static inline bool
migdp_seq_gt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}

/** a >= b in sequence space. */
static inline bool
migdp_seq_ge(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) >= 0;
}

/** The 64-bit sequence nearest to @p ref whose low 32 bits are @p seq.
 * @p ref must be >= 2^31 (the receiver keeps it >= 2^32). */
static inline uint64_t
migdp_seq_extend(uint64_t ref, uint32_t seq)
{
	return ref + (int64_t)(int32_t)(seq - (uint32_t)ref);
}

/**@}*/
/* ------------------------------------------------------------------------ */
/** @name Sender */
/**@{*/

#define MIGDP_TX_MAX_WINDOW 4096u

/** Sender parameters; zero fields take the defaults in brackets. */
struct migdp_tx_params {
	uint32_t window;      /**< frames in flight, <= MAX_WINDOW [1024] */
	uint32_t dupthresh;   /**< SACKed frames above a hole => lost [3] */
	uint64_t rto_init_ns; /**< RTO before the first RTT sample [20 ms] */
	uint64_t rto_min_ns;  /**< [1 ms] */
	uint64_t rto_max_ns;  /**< also caps backed-off timeouts [2 s] */
	bool cc;              /**< congestion control [false: the window in
			       *   frames alone, pacing left to the caller] */
	struct migdp_cc_params cc_params; /**< with @c cc: max_rate_bps (the
			       *   ceiling), frame size, initial window...;
			       *   zero fields take cc.h's defaults */
};

/** Sender counters (monotonic; read by telemetry from the same lcore or
 * as a torn-but-harmless snapshot). */
struct migdp_tx_stats {
	uint64_t sent;            /**< frames sent for the first time */
	uint64_t retx_timeout;    /**< retransmissions after an RTO */
	uint64_t retx_fast;       /**< retransmissions after a SACKed gap */
	uint64_t acks;            /**< ACKs processed */
	uint64_t acks_invalid;    /**< cum_ack outside [una, nxt]: ignored */
	uint64_t sacks_invalid;   /**< SACK blocks outside [una, nxt) */
	uint64_t acked;           /**< frames released by cum_ack */
	uint64_t sacked;          /**< frames released by a SACK block */
	uint64_t rtt_samples;
	uint64_t rtt_bogus;       /**< echoes from the future / too old */
	uint64_t retx_spurious;   /**< resends the peer did not need: the ACK
				   *   releasing the frame echoes a stamp older
				   *   than the resend (Eifel, RFC 3522) */
	uint64_t spurious_rto;    /**< of which after a timeout: RTO floor
				   *   raised, congestion response undone */
	uint64_t dupthresh_raised; /**< spurious fast retransmits that raised
				    *   the effective dupthresh */
};

/** Per in-flight frame. */
struct migdp_tx_slot {
	uint64_t sent_ns;   /**< last (re)transmission */
	uint64_t cookie;    /**< caller's: mbuf, buffer index, ... */
	struct migdp_cc_snap snap; /**< delivery state at sent_ns (cc) */
	uint32_t bytes;     /**< frame length given to migdp_tx_send() */
	uint16_t retx;      /**< retransmissions so far */
	uint8_t state;      /**< private */
	uint8_t lost;       /**< marked by fast retransmit, not yet resent */
	uint8_t fast;       /**< the last resend was a fast retransmit */
};

/** Sender state of one channel. Fields are private except @c stats. */
struct migdp_tx {
	/* set at creation */
	struct migdp_tx_params p;
	uint32_t mask;        /**< slots - 1 */
	/* owned by the channel lcore */
	uint32_t una;         /**< oldest unacknowledged sequence */
	uint32_t nxt;         /**< next sequence to assign */
	uint32_t high_sacked; /**< one past the highest SACKed, or una */
	uint32_t nlost;       /**< marked lost, not yet resent */
	uint32_t nretx;       /**< in flight, resent at least once */
	uint32_t dupthresh;   /**< effective: raised by spurious fast retx */
	uint8_t reo_shift;    /**< reorder window srtt/4 << this, <= 2 */
	uint32_t probe_seq;   /**< the timed-out frame resent alone, when */
	bool probing;         /**< ... its ACK has not told yet */
	uint32_t rto_open;    /**< below: timed-out frames resent freely */
	uint64_t inflight_bytes;
	uint64_t rack_ns;     /**< latest send time among delivered frames */
	uint64_t srtt_ns;
	uint64_t rttvar_ns;
	uint64_t rto_ns;
	uint64_t rto_floor_ns; /**< rto_min_ns, raised by spurious timeouts */
	uint64_t floor_ns;     /**< when the floor last rose or decayed */
	bool have_rtt;
	struct migdp_cc cc;    /**< used when p.cc */
	struct migdp_tx_stats stats;
	struct migdp_tx_slot slots[];
};

/** Bytes to allocate for a sender with @p p (window rounded up to a
 * power of two); 0 when @p p is invalid. */
size_t migdp_tx_memsize(const struct migdp_tx_params *p);

/** Initialise a sender in @p mem (memsize bytes) whose first frame will
 * carry sequence @p isn. @return the sender, or NULL when @p p is invalid. */
struct migdp_tx *migdp_tx_init(void *mem, const struct migdp_tx_params *p,
			       uint32_t isn);

/** Frames in flight (sent, neither cumulatively acked nor released). */
static inline uint32_t
migdp_tx_inflight(const struct migdp_tx *tx)
{
	return tx->nxt - tx->una;
}

/** Bytes in flight: the lengths given to migdp_tx_send() of frames sent
 * and not released, less those marked lost and not yet resent (out of the
 * network, as TCP counts them). */
static inline uint64_t
migdp_tx_inflight_bytes(const struct migdp_tx *tx)
{
	return tx->inflight_bytes;
}

/** True when no new frame may be sent until an ACK opens the window: the
 * window in frames is used up or, with congestion control, the bytes in
 * flight reached its congestion window. */
static inline bool
migdp_tx_window_full(const struct migdp_tx *tx)
{
	return migdp_tx_inflight(tx) >= tx->p.window ||
		(tx->p.cc && tx->inflight_bytes >= migdp_cc_cwnd_bytes(&tx->cc));
}

/** The congestion control, for its rates, state and counters (cc.h);
 * NULL when the sender runs without. */
static inline const struct migdp_cc *
migdp_tx_cc(const struct migdp_tx *tx)
{
	return tx->p.cc ? &tx->cc : NULL;
}

/** Current retransmission timeout, nanoseconds. */
static inline uint64_t
migdp_tx_rto(const struct migdp_tx *tx)
{
	return tx->rto_ns;
}

/**
 * Assign the next sequence to a frame of @p bytes (its length on the wire,
 * as the pacer counts it) being sent now and remember @p cookie for it.
 * Takes the congestion control's snapshot for the frame's rate sample.
 * @return 0 with *@p seq set, or -ENOBUFS (migdp_tx_window_full()).
 */
int migdp_tx_send(struct migdp_tx *tx, uint64_t now, uint64_t cookie,
		  uint32_t bytes, uint32_t *seq);

/**
 * The channel sends less than the window and pacing allow, for a reason
 * of its own: nothing waiting in its ring, or the CPU (building frames,
 * compression) rather than the link bounded this loop. Rate samples of
 * frames sent from now until those in flight are delivered are marked
 * app-limited: they may raise btlbw, never lower it (BBR). Call once per
 * loop in which it happened, after sending; no-op without cc.
 */
void migdp_tx_app_limited(struct migdp_tx *tx);

/** Called for every frame an ACK releases (cumulatively or by SACK), once
 * per frame, so the caller can free its buffer. */
typedef void (*migdp_tx_release_t)(void *arg, uint32_t seq, uint64_t cookie);

/**
 * Process an ACK: RTT sample from its echoed timestamp, release of frames
 * up to cum_ack and inside SACK blocks (the receiver never reneges), and
 * marking of frames lost when @c dupthresh SACKed frames lie above them.
 * A released frame that was resent is checked against the echo: older
 * than its resend means the original arrived (counted in retx_spurious;
 * a spurious timeout raises the RTO floor to twice that ACK's RTT and
 * undoes the congestion response, a spurious fast retransmit raises the
 * effective dupthresh to the reordering seen). With cc, every released
 * frame and the RTT sample feed the congestion control.
 * Cost: O(newly released) plus O(una..highest SACKed) while holes exist.
 *
 * @return 0, or -EINVAL when cum_ack lies outside [una, nxt] (ignored and
 *   counted: a stale or forged ack).
 */
int migdp_tx_on_ack(struct migdp_tx *tx, uint64_t now,
		    const struct migdp_ack *ack, migdp_tx_release_t release,
		    void *arg);

/**
 * Sequences to resend now, oldest first, at most @p max: frames marked lost
 * by fast retransmit and frames whose timeout (RTO doubled per previous
 * retransmission, capped at rto_max) expired. Of timed-out frames, only
 * the oldest goes first, as a probe; the others follow once the probe's
 * ACK shows it was lost (not merely late: then they are probably late
 * too), or when the probe itself times out again. Nothing is changed:
 * call migdp_tx_retransmitted() for each frame actually resent.
 *
 * @return number of sequences written to @p seqs.
 */
unsigned migdp_tx_due(struct migdp_tx *tx, uint64_t now, uint32_t *seqs,
		      unsigned max);

/** Record that @p seq was resent now (counts the cause, restarts its
 * timer, retakes its cc snapshot; a first timeout enters the cc's loss
 * response). The frame must carry a fresh timestamp, migdp_tstamp(@p now)
 * (migdp_wire_restamp()): RTT samples and spurious-resend detection rely
 * on it. @return 0, or -ENOENT if not in flight. */
int migdp_tx_retransmitted(struct migdp_tx *tx, uint32_t seq, uint64_t now);

/** Cookie of in-flight @p seq, or 0 when @p seq is not in flight. */
uint64_t migdp_tx_cookie(const struct migdp_tx *tx, uint32_t seq);

/**@}*/
/* ------------------------------------------------------------------------ */
/** @name Pacing */
/**@{*/

/** Token bucket. Fields are private. */
struct migdp_pacer {
	uint64_t rate_bps;  /**< 0: unlimited */
	uint64_t cap;       /**< bucket size, in credit units */
	uint64_t cap_max;   /**< burst_bytes of init, in credit units */
	uint64_t credit;    /**< 1 byte = 8e9 units (bits x ns per s) */
	uint64_t last_ns;
	uint32_t frame;     /**< largest request seen, bytes */
};

/** Start a full bucket: @p rate_bps bits per second (0 = unlimited),
 * bursts of up to @p burst_bytes (at least one frame). @return 0 or
 * -EINVAL (burst too large to account: > 2 GB). The burst is also what
 * may leave at line rate after a pause: keep it to a few frames (at
 * 1 Gb/s, 4 frames of 9 KB already take 290 us of the bottleneck). */
int migdp_pacer_init(struct migdp_pacer *pc, uint64_t rate_bps,
		     uint32_t burst_bytes, uint64_t now);

/** Change the rate to @p rate_bps (0 = unlimited) from @p now on: credit
 * earned until @p now counts at the old rate, the bucket is not refilled.
 * The bucket shrinks to one frame (the largest asked for so far) plus
 * 20 us at the rate, at most the burst given to migdp_pacer_init(): at
 * 1 Gb/s a 4-frame burst would queue 216 us at the bottleneck, inflating
 * every RTT sample by as much. Cheap: call it every loop with
 * migdp_cc_pacing_bps(). */
void migdp_pacer_set_rate(struct migdp_pacer *pc, uint64_t rate_bps,
			  uint64_t now);

/** May @p bytes be sent now? If so they are taken from the bucket. */
bool migdp_pacer_take(struct migdp_pacer *pc, uint64_t now, uint32_t bytes);

/** Earliest time at which @p bytes may be sent (@p now if already). */
uint64_t migdp_pacer_next(struct migdp_pacer *pc, uint64_t now,
			  uint32_t bytes);

/**@}*/
/* ------------------------------------------------------------------------ */
/** @name Receiver */
/**@{*/

/** What a received sequence is. */
enum migdp_rx_class {
	MIGDP_RX_NEW,   /**< first arrival inside the window: apply it */
	MIGDP_RX_DUP,   /**< already received: do not apply, ack again */
	MIGDP_RX_OLD,   /**< more than a window behind: drop */
	MIGDP_RX_AHEAD, /**< a window or more ahead: drop */
};

/** Receiver parameters; zero fields take the defaults in brackets. */
struct migdp_rx_params {
	uint32_t window;       /**< frames, <= MIGDP_TX_MAX_WINDOW [1024] */
	uint32_t ack_every;    /**< ack after this many new frames [16] */
	uint64_t ack_delay_ns; /**< or this long after the first unacked [200 us] */
};

struct migdp_rx_stats {
	uint64_t new_frames;
	uint64_t dups;
	uint64_t old;
	uint64_t ahead;
	uint64_t acks;
};

/** Receiver state of one channel. Fields are private except @c stats. */
struct migdp_rx {
	struct migdp_rx_params p;
	uint32_t mask;          /**< window bits - 1 */
	uint64_t next;          /**< extended: all before it received */
	uint64_t high;          /**< extended: one past the highest received */
	uint64_t last;          /**< extended: most recently received */
	uint32_t last_tstamp;   /**< newest tstamp since the last ack, echoed */
	uint32_t unacked;       /**< frames since the last ack */
	uint64_t unacked_since; /**< arrival of the first of them */
	bool ack_now;           /**< a dup, a hole or ACK_NOW was seen */
	struct migdp_rx_stats stats;
	uint64_t bitmap[];      /**< bit (ext & mask): received, ext >= next */
};

/** Bytes to allocate for a receiver; 0 when @p p is invalid. */
size_t migdp_rx_memsize(const struct migdp_rx_params *p);

/** Initialise a receiver in @p mem expecting @p isn first.
 * @return the receiver, or NULL when @p p is invalid. */
struct migdp_rx *migdp_rx_init(void *mem, const struct migdp_rx_params *p,
			       uint32_t isn);

/**
 * Classify @p seq and, when NEW, record it. Call after the frame passed
 * migdp_wire_parse(). @p tstamp and @p flags are the frame's (echo and
 * ACK_NOW). *@p ext receives the extended sequence (for the version table).
 */
enum migdp_rx_class migdp_rx_receive(struct migdp_rx *rx, uint64_t now,
				     uint32_t seq, uint32_t tstamp,
				     uint16_t flags, uint64_t *ext);

/** True when an ACK should be sent now: @c ack_every new frames, the delay
 * expired, or a duplicate, a hole or an ACK_NOW request was seen. */
bool migdp_rx_ack_due(const struct migdp_rx *rx, uint64_t now);

/** Fill @p ack (cumulative, echo, up to @p max_sack blocks: the block
 * holding the most recent arrival first, then the others from the highest
 * down) and reset the ack timer. The echo is the newest tstamp (wrap-aware)
 * among the frames that arrived new since the previous ACK: the stamp of
 * a frame that triggered this ACK, and never older than a retransmission
 * that arrived since, so the sender can tell a resend that was needed
 * from one whose original arrived (Eifel). Duplicates do not change it;
 * an ACK with no new arrival repeats the previous echo. */
void migdp_rx_make_ack(struct migdp_rx *rx, struct migdp_ack *ack,
		       unsigned max_sack);

/** Next expected sequence (what cum_ack says). */
static inline uint32_t
migdp_rx_cum(const struct migdp_rx *rx)
{
	return (uint32_t)rx->next;
}

/** Extended version of a FRAGMENT record received in extended frame
 * @p ext: the sequence of the frame carrying the page version's first
 * fragment. */
static inline uint64_t
migdp_rx_frag_version(uint64_t ext, uint16_t ver_delta)
{
	return ext - ver_delta;
}

/**@}*/
/* ------------------------------------------------------------------------ */
/** @name Per-page version table (decision 4) */
/**@{*/

/** One extended sequence per page, 0 = never written. A page always
 * travels on the same channel (decision 3), so one table per destination
 * serves all channels: each page is only compared with its own channel's
 * sequences. Fields are private. */
struct migdp_vtab {
	uint64_t npages;
	uint64_t ver[];
};

/** Bytes to allocate for @p npages pages (8 per page). */
size_t migdp_vtab_memsize(uint64_t npages);

/** Initialise @p mem (memsize bytes) for @p npages pages, all unwritten. */
struct migdp_vtab *migdp_vtab_init(void *mem, uint64_t npages);

/**
 * Whole-page record (ZERO_RUN page, RAW_PAGE, ZSTD) from extended frame
 * sequence @p ver: true, and @p ver recorded, only if it is newer than what
 * last wrote page @p page. Call after the record's content was verified.
 * false for @p page out of range.
 */
bool migdp_vtab_should_apply(struct migdp_vtab *vt, uint64_t page,
			     uint64_t ver);

/** Extended sequence that last wrote page @p page; 0: never written (or
 * @p page out of range). */
static inline uint64_t
migdp_vtab_version(const struct migdp_vtab *vt, uint64_t page)
{
	return page < vt->npages ? vt->ver[page] : 0;
}

/** FRAGMENT of page version @p ver (migdp_rx_frag_version()): true if
 * @p ver is newer than or equal to the stored version (the other fragments
 * of the same version must land too; a duplicate rewrites the same bytes),
 * recording it. */
bool migdp_vtab_should_apply_frag(struct migdp_vtab *vt, uint64_t page,
				  uint64_t ver);

/**@}*/
/* ------------------------------------------------------------------------ */
/** @name Liveness */
/**@{*/

struct migdp_live {
	uint64_t last_heard_ns; /**< any valid frame from the peer */
	uint64_t last_sent_ns;  /**< any frame to the peer */
};

static inline void
migdp_live_init(struct migdp_live *l, uint64_t now)
{
	l->last_heard_ns = now;
	l->last_sent_ns = now;
}

/** A valid frame arrived from the peer. */
static inline void
migdp_live_heard(struct migdp_live *l, uint64_t now)
{
	l->last_heard_ns = now;
}

/** A frame was sent to the peer. */
static inline void
migdp_live_sent(struct migdp_live *l, uint64_t now)
{
	l->last_sent_ns = now;
}

/** True when the peer has been silent for @p timeout_ns or more. */
static inline bool
migdp_live_peer_dead(const struct migdp_live *l, uint64_t now,
		     uint64_t timeout_ns)
{
	return now >= l->last_heard_ns && now - l->last_heard_ns >= timeout_ns;
}

/** True when nothing was sent for @p interval_ns: send a KEEPALIVE. */
static inline bool
migdp_live_keepalive_due(const struct migdp_live *l, uint64_t now,
			 uint64_t interval_ns)
{
	return now >= l->last_sent_ns && now - l->last_sent_ns >= interval_ns;
}

/**@}*/

#endif /* MIGDP_TRANSPORT_H */
