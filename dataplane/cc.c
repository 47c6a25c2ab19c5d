/* SPDX-License-Identifier: BSD-3-Clause */
/* BBR-style congestion control of one channel: delivery-rate samples, the
 * windowed max of the delivery rate (btlbw) and min of RTT (min_rtt), the
 * startup / drain / probe-bw / probe-rtt states, and the pacing rate and
 * window they give. Pure logic; see cc.h and docs/design-notes.md.
 *
 * Probe-rtt is short and soon (2 rounds and 2 min_rtt at 1/2 BDP when no
 * sample came near min_rtt for 64 min_rtt, 20 ms to 1 s; BBR v1: 200 ms at
 * 4 packets after 10 s). A migration lasts seconds; a min_rtt inflated by
 * the startup queue keeps a standing queue alive (drain and the 0.75 phase
 * only go down to the estimated BDP); and a channel that started behind
 * another's queue has the larger min_rtt, hence window, hence share.
 * On a clean path samples come near min_rtt all the time: no probe.
 *
 * Loss: BBR v1 ignores it, and channels sharing a bottleneck then keep a
 * queue of about one BDP (their btlbw maxima add up to more than the link,
 * their windows to 2 BDP), losing 15 % through a 1 BDP buffer. Here a
 * probe-bw round losing more than 2 % caps in-flight (BBR v2's inflight_hi,
 * simplified) at 0.85 of it, never below what keeps the pipe full (one BDP
 * plus the quanta or the largest ACK: delayed acks release up to 16 frames
 * at once), so that random loss (corruption, fault injection) does not
 * slow a lone channel; the cap is lifted when the next 1.25 phase probes. */
#include <errno.h>
#include <string.h>

#include <rte_common.h>

#include "cc.h"

#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull
#define BITS_NS_PER_BYTE (8 * NS_PER_S)  /* bytes/ns -> bits/s */
#define UNIT 1000u                       /* gains are per mille */
#define HIGH_GAIN 2885u                  /* 2/ln 2: doubles per round */
#define DRAIN_GAIN 347u                  /* ln 2/2: drains it in one */
#define CWND_GAIN 2000u
#define BTLBW_WIN_ROUNDS 10              /* epochs, below */
/* A round trip on memif between two processes is ~10 us: ten of them are
 * shorter than a time slice of the shared machine, so one descheduled
 * lcore would empty the btlbw window and the model would pace itself
 * down. Windows, the startup plateau test and probe-bw phases count
 * epochs: round trips of at least this long (measured: 1.2 Gb/s with
 * 10 us rounds over memif, line rate with 1 ms epochs). */
#define EPOCH_MIN_NS NS_PER_MS
#define MIN_RTT_WIN_NS (10 * NS_PER_S)
#define FULL_BW_GROWTH 1250u             /* startup lasts while btlbw */
#define FULL_BW_ROUNDS 3                 /* grows 25 % in 3 rounds */
#define DRAIN_MAX_ROUNDS 5               /* well inside the btlbw window */
#define PROBE_RTT_RTTS 64                /* min_rtt without a near-min */
#define PROBE_RTT_MIN_NS (20 * NS_PER_MS) /* sample: probe-rtt, within */
#define PROBE_RTT_MAX_NS (1 * NS_PER_S)
#define PROBE_RTT_GAIN 500u              /* of BDP, no quanta */
#define LOSS_THRESH 20u                  /* per mille of a round: lossy */
#define INFLIGHT_HI_GAIN 850u            /* of in-flight at the loss */
#define CWND_QUANTA 3                    /* frames above every in-flight
					  * target: bursts, delayed acks */
#define PACING_MIN_BPS 1000000ull        /* a stalled model still sends */
#define CYCLE_LEN 8

static const uint32_t cycle_gain[CYCLE_LEN] = {
	1250, 750, 1000, 1000, 1000, 1000, 1000, 1000,
};

static const char *const state_names[] = {
	[MIGDP_CC_STARTUP] = "startup",
	[MIGDP_CC_DRAIN] = "drain",
	[MIGDP_CC_PROBE_BW] = "probe_bw",
	[MIGDP_CC_PROBE_RTT] = "probe_rtt",
};

/* a * b / c without overflowing the product; saturates. */
static uint64_t
mul_div(uint64_t a, uint64_t b, uint64_t c)
{
	unsigned __int128 r = (unsigned __int128)a * b / c;

	return r > UINT64_MAX ? UINT64_MAX : (uint64_t)r;
}

/* ---- windowed max / min filter ----------------------------------------- */

static void
filter_reset(struct migdp_cc_filter *f, uint64_t t, uint64_t v)
{
	f->t[0] = f->t[1] = f->t[2] = t;
	f->v[0] = f->v[1] = f->v[2] = v;
}

/* Is @p a at least as good as @p b? */
static bool
filter_better(uint64_t a, uint64_t b, bool max)
{
	return max ? a >= b : a <= b;
}

/* Sample @p v at @p t; v[0] is then the best (max, or min when !@p max)
 * over the last @p win. v[1] and v[2] are the best of later sub-windows,
 * ready to take over when the best ages out. A min filter treats 0 as
 * "empty". */
static void
filter_update(struct migdp_cc_filter *f, uint64_t t, uint64_t v,
	      uint64_t win, bool max)
{
	uint64_t age;

	if (filter_better(v, f->v[0], max) || t - f->t[2] > win ||
	    (!max && f->v[0] == 0)) {
		filter_reset(f, t, v);
		return;
	}
	if (filter_better(v, f->v[1], max)) {
		f->t[1] = f->t[2] = t;
		f->v[1] = f->v[2] = v;
	} else if (filter_better(v, f->v[2], max)) {
		f->t[2] = t;
		f->v[2] = v;
	}
	age = t - f->t[0];
	if (age > win) {		/* the best expired: promote */
		f->t[0] = f->t[1];
		f->v[0] = f->v[1];
		f->t[1] = f->t[2];
		f->v[1] = f->v[2];
		f->t[2] = t;
		f->v[2] = v;
		if (t - f->t[0] > win) {
			f->t[0] = f->t[1];
			f->v[0] = f->v[1];
			f->t[1] = t;
			f->v[1] = v;
		}
	} else if (f->t[1] == f->t[0] && age > win / 4) {
		/* a quarter window without a second best: take this one */
		f->t[1] = f->t[2] = t;
		f->v[1] = f->v[2] = v;
	} else if (f->t[2] == f->t[1] && age > win / 2) {
		f->t[2] = t;
		f->v[2] = v;
	}
}

/* ---- model ------------------------------------------------------------- */

static uint64_t
frames_bytes(const struct migdp_cc *cc, uint32_t frames)
{
	return (uint64_t)frames * cc->p.frame_bytes;
}

/* @p gain (per mille) x btlbw x min_rtt, plus a few frames for bursts
 * and delayed acks (BBR's quantization budget), in bytes; the initial
 * window until both are known. */
static uint64_t
cc_inflight(const struct migdp_cc *cc, uint32_t gain)
{
	uint64_t bw = migdp_cc_btlbw_bps(cc), rtt = migdp_cc_min_rtt_ns(cc);

	if (bw == 0 || rtt == 0)
		return frames_bytes(cc, cc->p.init_cwnd_frames);
	return mul_div(mul_div(bw, rtt, BITS_NS_PER_BYTE), gain, UNIT) +
		frames_bytes(cc, CWND_QUANTA);
}

static uint32_t
cc_random(struct migdp_cc *cc)
{
	cc->rnd ^= cc->rnd << 13;
	cc->rnd ^= cc->rnd >> 17;
	cc->rnd ^= cc->rnd << 5;
	return cc->rnd;
}

static void
cc_enter_probe_bw(struct migdp_cc *cc, uint64_t now)
{
	cc->state = MIGDP_CC_PROBE_BW;
	cc->cwnd_gain = CWND_GAIN;
	/* Any phase but 0.75 (which would drain an empty queue); random,
	 * so that channels sharing a bottleneck do not probe in step. */
	cc->cycle = (2 + cc_random(cc) % 7) % CYCLE_LEN;
	cc->pacing_gain = cycle_gain[cc->cycle];
	cc->cycle_ns = now;
	if (cc->cycle == 0)
		cc->inflight_hi = 0;	/* probing: see whether loss stays */
}

/* Startup is over when btlbw grew less than 25 % in three rounds (not
 * counting app-limited rounds: they say nothing about the path). */
static void
cc_check_full_pipe(struct migdp_cc *cc, bool round_start)
{
	uint64_t bw = migdp_cc_btlbw_bps(cc);

	if (cc->full_pipe || !round_start || cc->rs.app_limited)
		return;
	if (mul_div(bw, UNIT, FULL_BW_GROWTH) >= cc->full_bw) {
		cc->full_bw = bw;
		cc->full_bw_rounds = 0;
		return;
	}
	if (++cc->full_bw_rounds >= FULL_BW_ROUNDS)
		cc->full_pipe = true;
}

/* A probe-bw phase lasts one min_rtt; the 1.25 phase until it has put
 * 1.25 BDP in flight too (or loss says the queue is full), the 0.75 phase
 * no longer than it takes to get back down to one BDP (each + quanta). */
static bool
cc_phase_done(const struct migdp_cc *cc, uint64_t now, uint64_t inflight,
	      unsigned lost)
{
	bool full = now - cc->cycle_ns > RTE_MAX(migdp_cc_min_rtt_ns(cc), EPOCH_MIN_NS);

	if (cc->pacing_gain > UNIT)
		return full && (lost > 0 ||
				inflight >= cc_inflight(cc, cc->pacing_gain));
	if (cc->pacing_gain < UNIT)
		return full || inflight <= cc_inflight(cc, UNIT);
	return full;
}

/* An RTT sample this close to min_rtt says the queue is (nearly) empty:
 * within an eighth, plus the time our own quanta take at btlbw. */
static uint64_t
cc_near_min_rtt(const struct migdp_cc *cc)
{
	uint64_t rtt = migdp_cc_min_rtt_ns(cc), bw = migdp_cc_btlbw_bps(cc);

	rtt += rtt / 8;
	if (bw != 0)
		rtt += mul_div(frames_bytes(cc, CWND_QUANTA), BITS_NS_PER_BYTE, bw);
	return rtt;
}

static uint64_t
cc_probe_rtt_cwnd(const struct migdp_cc *cc)
{
	return RTE_MAX(cc_inflight(cc, PROBE_RTT_GAIN) -
		       frames_bytes(cc, CWND_QUANTA),
		       frames_bytes(cc, cc->p.min_cwnd_frames));
}

/* Probe-rtt when no RTT sample came near min_rtt for a while: in-flight down
 * to 1/2 BDP; once there, hold it 2 rounds and 2 min_rtt: the queue empties
 * during the first, frames sent into the empty path are acked in the
 * second. */
static void
cc_probe_rtt(struct migdp_cc *cc, uint64_t now, bool round_start,
	     uint64_t inflight)
{
	uint64_t interval = RTE_MIN(RTE_MAX(PROBE_RTT_RTTS *
					    migdp_cc_min_rtt_ns(cc),
					    PROBE_RTT_MIN_NS), PROBE_RTT_MAX_NS);

	if (cc->state == MIGDP_CC_PROBE_BW && !cc->in_loss &&
	    now - cc->min_rtt_seen_ns > interval) {
		cc->state = MIGDP_CC_PROBE_RTT;
		cc->pacing_gain = UNIT;
		cc->probe_rtt_end_ns = 0;
		cc->stats.probe_rtt++;
	}
	if (cc->state != MIGDP_CC_PROBE_RTT)
		return;
	if (cc->probe_rtt_end_ns == 0) {
		if (inflight <= cc_probe_rtt_cwnd(cc)) {
			cc->probe_rtt_end_ns = now + 2 * migdp_cc_min_rtt_ns(cc);
			cc->probe_rtt_rounds = 0;
		}
		return;
	}
	cc->probe_rtt_rounds += round_start && cc->probe_rtt_rounds < 2;
	if (cc->probe_rtt_rounds >= 2 && now >= cc->probe_rtt_end_ns) {
		cc->min_rtt_seen_ns = now;
		cc_enter_probe_bw(cc, now);
	}
}

/* At the end of each round: more than 2 % of it lost in probe-bw caps
 * in-flight until the next probe (see the top of this file). */
static void
cc_check_loss(struct migdp_cc *cc, bool round_start, uint64_t inflight,
	      unsigned lost)
{
	uint64_t delivered, floor;

	cc->round_lost += frames_bytes(cc, lost);
	if (!round_start)
		return;
	delivered = cc->delivered - cc->round_delivered;
	cc->round_delivered = cc->delivered;
	if (cc->state == MIGDP_CC_PROBE_BW &&
	    cc->round_lost * UNIT > LOSS_THRESH * (delivered + cc->round_lost)) {
		/* what keeps the pipe full: a BDP and the larger of the
		 * quanta and what one ACK may release at once (delayed acks) */
		floor = cc_inflight(cc, UNIT) +
			RTE_MAX(cc->ack_agg.v[0], frames_bytes(cc, CWND_QUANTA)) -
			frames_bytes(cc, CWND_QUANTA);
		cc->inflight_hi = RTE_MAX(mul_div(inflight, INFLIGHT_HI_GAIN,
						  UNIT), floor);
		cc->stats.lossy_rounds++;
	}
	cc->round_lost = 0;
}

static void
cc_update_state(struct migdp_cc *cc, uint64_t now, bool round_start,
		uint64_t inflight, unsigned lost)
{
	cc_check_loss(cc, round_start, inflight, lost);
	cc_check_full_pipe(cc, round_start);
	if (cc->state == MIGDP_CC_STARTUP && cc->full_pipe) {
		cc->state = MIGDP_CC_DRAIN;
		cc->pacing_gain = DRAIN_GAIN;
		cc->cwnd_gain = HIGH_GAIN;
	}
	/* Drain until the queue is gone; not for long when losses keep
	 * frames in flight: drain-rate samples must not become btlbw. */
	if (cc->state == MIGDP_CC_DRAIN &&
	    (inflight <= cc_inflight(cc, UNIT) ||
	     (round_start && ++cc->drain_rounds >= DRAIN_MAX_ROUNDS)))
		cc_enter_probe_bw(cc, now);
	if (cc->state == MIGDP_CC_PROBE_BW &&
	    cc_phase_done(cc, now, inflight, lost)) {
		cc->cycle = (cc->cycle + 1) % CYCLE_LEN;
		cc->pacing_gain = cycle_gain[cc->cycle];
		cc->cycle_ns = now;
		if (cc->cycle == 0)
			cc->inflight_hi = 0;
	}
	cc_probe_rtt(cc, now, round_start, inflight);
}

/* Grow by what was delivered, up to the target; in startup never shrink
 * (btlbw is still catching up). */
static void
cc_set_cwnd(struct migdp_cc *cc)
{
	uint64_t target = cc_inflight(cc, cc->cwnd_gain);

	if (cc->full_pipe)
		cc->cwnd = RTE_MIN(cc->cwnd + cc->rs.acked, target);
	else if (cc->cwnd < target ||
		 cc->delivered < frames_bytes(cc, cc->p.init_cwnd_frames))
		cc->cwnd += cc->rs.acked;
	cc->cwnd = RTE_MAX(cc->cwnd, frames_bytes(cc, cc->p.min_cwnd_frames));
	if (cc->inflight_hi != 0)
		cc->cwnd = RTE_MIN(cc->cwnd, cc->inflight_hi);
	if (cc->state == MIGDP_CC_PROBE_RTT)
		cc->cwnd = RTE_MIN(cc->cwnd, cc_probe_rtt_cwnd(cc));
}

/* Before the first rate sample: the initial window over the first RTT
 * sample, or over the guess. */
static uint64_t
cc_initial_rate(const struct migdp_cc *cc)
{
	uint64_t rtt = cc->first_rtt_ns ? cc->first_rtt_ns : cc->p.init_rtt_ns;

	return mul_div(mul_div(frames_bytes(cc, cc->p.init_cwnd_frames),
			       BITS_NS_PER_BYTE, rtt), HIGH_GAIN, UNIT);
}

static void
cc_set_pacing(struct migdp_cc *cc)
{
	uint64_t bw = migdp_cc_btlbw_bps(cc), rate;

	rate = bw == 0 ? cc_initial_rate(cc) :
		mul_div(bw, cc->pacing_gain, UNIT);
	if (cc->p.max_rate_bps != 0)
		rate = RTE_MIN(rate, cc->p.max_rate_bps);
	rate = RTE_MAX(rate, PACING_MIN_BPS);
	if (cc->full_pipe || rate > cc->pacing_bps)
		cc->pacing_bps = rate;
}

/* ---- interface ---------------------------------------------------------- */

int
migdp_cc_init(struct migdp_cc *cc, const struct migdp_cc_params *p)
{
	memset(cc, 0, sizeof(*cc));
	cc->p = *p;
	if (cc->p.init_rtt_ns == 0)
		cc->p.init_rtt_ns = 1 * NS_PER_MS;
	if (cc->p.frame_bytes == 0)
		cc->p.frame_bytes = 9014;
	if (cc->p.init_cwnd_frames == 0)
		cc->p.init_cwnd_frames = 32;
	if (cc->p.min_cwnd_frames == 0)
		cc->p.min_cwnd_frames = 4;
	if (cc->p.init_cwnd_frames < cc->p.min_cwnd_frames)
		return -EINVAL;
	cc->rnd = cc->p.seed != 0 ? cc->p.seed : 1;
	cc->state = MIGDP_CC_STARTUP;
	cc->pacing_gain = cc->cwnd_gain = HIGH_GAIN;
	cc->cwnd = frames_bytes(cc, cc->p.init_cwnd_frames);
	cc_set_pacing(cc);
	return 0;
}

void
migdp_cc_on_send(struct migdp_cc *cc, uint64_t now, uint64_t inflight_bytes,
		 struct migdp_cc_snap *snap)
{
	if (inflight_bytes == 0)	/* a new flight: intervals start now */
		cc->first_sent_ns = cc->delivered_ns = now;
	snap->delivered = cc->delivered;
	snap->delivered_ns = cc->delivered_ns;
	snap->first_sent_ns = cc->first_sent_ns;
	snap->app_limited = cc->app_limited_until != 0;
}

void
migdp_cc_on_delivered(struct migdp_cc *cc, uint64_t now,
		      const struct migdp_cc_snap *snap, uint64_t sent_ns,
		      uint32_t bytes)
{
	cc->delivered += bytes;
	cc->delivered_ns = now;
	cc->rs.acked += bytes;
	/* The sample describes the flight of the most recently sent frame
	 * the ACK covers; its send time opens the next flight. */
	if (cc->rs.has_data && sent_ns < cc->rs.newest_sent_ns)
		return;
	cc->rs.has_data = true;
	cc->rs.prior_delivered = snap->delivered;
	cc->rs.newest_sent_ns = sent_ns;
	cc->rs.app_limited = snap->app_limited;
	cc->rs.send_elapsed = sent_ns > snap->first_sent_ns ?
		sent_ns - snap->first_sent_ns : 0;
	cc->rs.ack_elapsed = now > snap->delivered_ns ?
		now - snap->delivered_ns : 0;
	cc->first_sent_ns = sent_ns;
}

/* The ACK's delivery-rate sample into the btlbw filter. @return true at
 * the start of a round trip (the ACK covers a frame sent after the
 * previous round's last delivery). */
static bool
cc_rate_sample(struct migdp_cc *cc)
{
	/* The larger of the two intervals: ACKs that arrive bunched (delayed
	 * acks, a descheduled lcore) cannot fake a rate above the sending
	 * rate, nor a burst from the NIC one above the ack rate. */
	uint64_t interval = RTE_MAX(cc->rs.send_elapsed, cc->rs.ack_elapsed);
	uint64_t bytes = cc->delivered - cc->rs.prior_delivered, rate;
	bool round_start = false;

	if (cc->rs.prior_delivered >= cc->next_round_delivered) {
		cc->next_round_delivered = cc->delivered;
		cc->round++;
		cc->stats.rounds++;
		if (cc->now_ns - cc->epoch_ns >= EPOCH_MIN_NS) {
			cc->epoch++;
			cc->epoch_ns = cc->now_ns;
			round_start = true;
		}
	}
	/* Shorter than a round trip: not a whole flight, just noise. */
	if (interval == 0 || interval < migdp_cc_min_rtt_ns(cc)) {
		cc->stats.rate_short++;
		return round_start;
	}
	rate = mul_div(bytes, BITS_NS_PER_BYTE, interval);
	cc->stats.rate_samples++;
	cc->stats.rate_app_limited += cc->rs.app_limited;
	/* What the path delivered lately, for reports (the max filter
	 * catches bursts a shaper lets through after it idled). */
	if (!cc->rs.app_limited) {
		cc->path_bytes += bytes;
		cc->path_ns += interval;
	}
	/* An app-limited sample only says the path does at least that. */
	if (!cc->rs.app_limited || rate >= migdp_cc_btlbw_bps(cc))
		filter_update(&cc->btlbw, cc->epoch, rate, BTLBW_WIN_ROUNDS,
			      true);
	return round_start;
}

void
migdp_cc_on_ack(struct migdp_cc *cc, uint64_t now, uint64_t rtt_ns,
		uint64_t inflight_bytes, unsigned lost)
{
	bool round_start = false;

	cc->now_ns = now;
	if (rtt_ns > 0) {
		filter_update(&cc->min_rtt, now, rtt_ns, MIN_RTT_WIN_NS, false);
		if (rtt_ns <= cc_near_min_rtt(cc))
			cc->min_rtt_seen_ns = now;
		if (cc->first_rtt_ns == 0)
			cc->first_rtt_ns = rtt_ns;
	}
	if (cc->app_limited_until != 0 &&
	    cc->delivered > cc->app_limited_until)
		cc->app_limited_until = 0;
	if (cc->rs.has_data) {
		round_start = cc_rate_sample(cc);
		filter_update(&cc->ack_agg, cc->epoch, cc->rs.acked,
			      BTLBW_WIN_ROUNDS, true);
	}
	cc_update_state(cc, now, round_start, inflight_bytes, lost);
	cc_set_cwnd(cc);
	cc_set_pacing(cc);
	memset(&cc->rs, 0, sizeof(cc->rs));
}

void
migdp_cc_app_limited(struct migdp_cc *cc, uint64_t inflight_bytes)
{
	cc->app_limited_until = cc->delivered + inflight_bytes;
	if (cc->app_limited_until == 0)
		cc->app_limited_until = 1;
	cc->stats.app_limited++;
}

void
migdp_cc_on_rto(struct migdp_cc *cc)
{
	if (cc->in_loss)
		return;
	cc->in_loss = true;
	cc->prior_cwnd = cc->cwnd;
	cc->cwnd = frames_bytes(cc, cc->p.min_cwnd_frames);
	cc->stats.rto_losses++;
}

void
migdp_cc_loss_end(struct migdp_cc *cc, bool spurious)
{
	if (!cc->in_loss)
		return;
	cc->in_loss = false;
	cc->cwnd = RTE_MAX(cc->cwnd, cc->prior_cwnd);
	cc->stats.rto_undone += spurious;
}

const char *
migdp_cc_state_name(const struct migdp_cc *cc)
{
	return state_names[cc->state];
}
