/* SPDX-License-Identifier: BSD-3-Clause */
/* Per-channel reliable transport, sending side: sender scoreboard,
 * RTT/RTO, spurious resends, pacing (the receiving side, window and
 * per-page versions, is transport_rx.c's). Pure logic; see transport.h.
 *
 * Congestion control (cc.c) is optional: the sender feeds it every frame
 * an ACK releases and bounds the bytes in flight by its window; the
 * channel applies its pacing rate to the pacer. Without it the window in
 * frames is fixed and pacing is the caller's. */
#include <errno.h>
#include <string.h>

#include <rte_common.h>

#include "transport.h"

#define NS_PER_US 1000ull
#define NS_PER_MS 1000000ull
#define RTT_SAMPLE_MAX_NS (60000 * NS_PER_MS) /* larger echoes are bogus */
#define RTO_GRANULARITY_NS NS_PER_US          /* G of RFC 6298 */
#define CREDIT_PER_BYTE 8000000000ull         /* 8 bits x 1e9 ns/s */
#define PACER_MAX_BURST 2000000000u           /* cap * CREDIT fits 64 bits */
#define PACER_SLACK_NS (20 * NS_PER_US)       /* set_rate: the bucket holds
					       * a frame and this much more */
#define FLOOR_DECAY_NS (1000 * NS_PER_MS)     /* raised RTO floor: halves
					       * its excess this often */

enum slot_state { SLOT_FREE, SLOT_INFLIGHT, SLOT_SACKED };

/* ---- sender ------------------------------------------------------------ */

static bool
tx_params(const struct migdp_tx_params *in, struct migdp_tx_params *p)
{
	*p = *in;
	if (p->window == 0)
		p->window = 1024;
	if (p->dupthresh == 0)
		p->dupthresh = 3;
	if (p->rto_min_ns == 0)
		p->rto_min_ns = 1 * NS_PER_MS;
	if (p->rto_max_ns == 0)
		p->rto_max_ns = 2000 * NS_PER_MS;
	if (p->rto_init_ns == 0)
		p->rto_init_ns = 20 * NS_PER_MS;
	return p->window <= MIGDP_TX_MAX_WINDOW &&
		p->rto_min_ns <= p->rto_max_ns &&
		p->rto_init_ns >= p->rto_min_ns &&
		p->rto_init_ns <= p->rto_max_ns;
}

size_t
migdp_tx_memsize(const struct migdp_tx_params *in)
{
	struct migdp_tx_params p;

	if (in == NULL || !tx_params(in, &p))
		return 0;
	return sizeof(struct migdp_tx) +
		rte_align32pow2(p.window) * sizeof(struct migdp_tx_slot);
}

struct migdp_tx *
migdp_tx_init(void *mem, const struct migdp_tx_params *in, uint32_t isn)
{
	struct migdp_tx *tx = mem;
	size_t sz = migdp_tx_memsize(in);

	if (mem == NULL || sz == 0)
		return NULL;
	memset(tx, 0, sz);
	tx_params(in, &tx->p);
	tx->mask = rte_align32pow2(tx->p.window) - 1;
	tx->una = tx->nxt = tx->high_sacked = tx->rto_open = isn;
	tx->dupthresh = tx->p.dupthresh;
	tx->rto_ns = tx->p.rto_init_ns;
	tx->rto_floor_ns = tx->p.rto_min_ns;
	if (tx->p.cc) {
		struct migdp_cc_params cp = tx->p.cc_params;

		if (cp.seed == 0)	/* channels differ by where they live */
			cp.seed = isn ^ (uint32_t)((uintptr_t)mem >> 6);
		if (migdp_cc_init(&tx->cc, &cp) < 0)
			return NULL;
	}
	return tx;
}

static struct migdp_tx_slot *
tx_slot(const struct migdp_tx *tx, uint32_t seq)
{
	return (struct migdp_tx_slot *)&tx->slots[seq & tx->mask];
}

static bool
tx_inflight(const struct migdp_tx *tx, uint32_t seq)
{
	return migdp_seq_ge(seq, tx->una) && migdp_seq_lt(seq, tx->nxt) &&
		tx_slot(tx, seq)->state == SLOT_INFLIGHT;
}

int
migdp_tx_send(struct migdp_tx *tx, uint64_t now, uint64_t cookie,
	      uint32_t bytes, uint32_t *seq)
{
	struct migdp_tx_slot *s;

	if (migdp_tx_window_full(tx))
		return -ENOBUFS;
	s = tx_slot(tx, tx->nxt);
	if (tx->p.cc)
		migdp_cc_on_send(&tx->cc, now, tx->inflight_bytes, &s->snap);
	s->sent_ns = now;
	s->cookie = cookie;
	s->bytes = bytes;
	s->retx = 0;
	s->lost = 0;
	s->fast = 0;
	s->state = SLOT_INFLIGHT;
	tx->inflight_bytes += bytes;
	*seq = tx->nxt++;
	tx->stats.sent++;
	return 0;
}

void
migdp_tx_app_limited(struct migdp_tx *tx)
{
	if (tx->p.cc)
		migdp_cc_app_limited(&tx->cc, tx->inflight_bytes);
}

static void
tx_set_rto(struct migdp_tx *tx)
{
	if (tx->have_rtt)
		tx->rto_ns = tx->srtt_ns +
			RTE_MAX(RTO_GRANULARITY_NS, 4 * tx->rttvar_ns);
	tx->rto_ns = RTE_MIN(RTE_MAX(tx->rto_ns, tx->rto_floor_ns),
			     tx->p.rto_max_ns);
}

/* RFC 6298 section 2, in nanoseconds, from an echoed microsecond stamp.
 * @return the sample, 0 when bogus. */
static uint64_t
tx_rtt_sample(struct migdp_tx *tx, uint64_t now, uint32_t ts_echo)
{
	int32_t us = (int32_t)(migdp_tstamp(now) - ts_echo);
	uint64_t r = (uint64_t)us * NS_PER_US, delta;

	if (us < 0 || r > RTT_SAMPLE_MAX_NS) {
		tx->stats.rtt_bogus++;
		return 0;
	}
	if (!tx->have_rtt) {
		tx->srtt_ns = r;
		tx->rttvar_ns = r / 2;
		tx->have_rtt = true;
	} else {
		delta = tx->srtt_ns > r ? tx->srtt_ns - r : r - tx->srtt_ns;
		tx->rttvar_ns = (3 * tx->rttvar_ns + delta) / 4;
		tx->srtt_ns = (7 * tx->srtt_ns + r) / 8;
	}
	tx_set_rto(tx);
	tx->stats.rtt_samples++;
	return r;
}

static uint64_t
tx_timeout(const struct migdp_tx *tx, uint16_t retx)
{
	if (retx >= 20 || tx->rto_ns > (tx->p.rto_max_ns >> retx))
		return tx->p.rto_max_ns;
	return tx->rto_ns << retx;
}

/* The ACK (echo @p echo) shows the original of resent @p seq arrived
 * (RFC 4015 response). After a fast retransmit, that was reordering: at
 * most the frames SACKed above it overtook it, so wait for that many from
 * now on, and for longer (the reorder window doubles, up to one RTT).
 * After a timeout the frame was late, not lost (a descheduled lcore, a
 * delay spike): the RTO floor rises to twice the RTT this ACK measured,
 * so that the same spike does not fire again; it decays in
 * migdp_tx_on_ack(). (The same for every frame of the ACK: no ratchet.) */
static void
tx_spurious(struct migdp_tx *tx, uint64_t now, uint32_t echo, uint32_t seq,
	    const struct migdp_tx_slot *s)
{
	uint32_t cap = RTE_MAX(tx->p.dupthresh, tx->p.window / 8);
	uint64_t late;

	tx->stats.retx_spurious++;
	if (s->fast) {
		uint32_t reorder = tx->high_sacked - seq;

		if (reorder >= tx->dupthresh && tx->dupthresh < cap) {
			tx->dupthresh = RTE_MIN(reorder + 1, cap);
			tx->stats.dupthresh_raised++;
		}
		if (tx->reo_shift < 2)
			tx->reo_shift++;
		return;
	}
	tx->stats.spurious_rto++;
	late = (uint64_t)(uint32_t)(migdp_tstamp(now) - echo) * NS_PER_US;
	if (2 * late > tx->rto_floor_ns) {
		tx->rto_floor_ns = RTE_MIN(2 * late, tx->p.rto_max_ns);
		tx_set_rto(tx);
	}
	tx->floor_ns = now;
}

/* The ACK of the timeout probe: if it was lost, so probably are the other
 * timed-out frames: let them all go. If it was late, undo the congestion
 * response; the others wait for their own timers (and the raised floor). */
static void
tx_probe_answered(struct migdp_tx *tx, bool spurious)
{
	tx->probing = false;
	if (!spurious)
		tx->rto_open = tx->nxt;
	else if (tx->p.cc)
		migdp_cc_loss_end(&tx->cc, true);
}

/* A frame the receiver has: leaves the retransmission bookkeeping, and
 * its delivery goes to the congestion control. @p echo: the ACK's. */
static void
tx_release(struct migdp_tx *tx, uint64_t now, uint32_t echo, uint32_t seq,
	   struct migdp_tx_slot *s, migdp_tx_release_t release, void *arg)
{
	bool spurious = s->retx != 0 &&
		migdp_seq_lt(echo, migdp_tstamp(s->sent_ns));

	if (s->lost)		/* already out of inflight_bytes */
		tx->nlost--;
	else
		tx->inflight_bytes -= s->bytes;
	if (s->retx)
		tx->nretx--;
	s->lost = 0;
	if (spurious)
		tx_spurious(tx, now, echo, seq, s);
	else if (s->sent_ns > tx->rack_ns)
		tx->rack_ns = s->sent_ns;
	if (tx->probing && seq == tx->probe_seq)
		tx_probe_answered(tx, spurious);
	if (tx->p.cc)
		migdp_cc_on_delivered(&tx->cc, now, &s->snap, s->sent_ns,
				      s->bytes);
	if (release != NULL)
		release(arg, seq, s->cookie);
}

static unsigned
tx_cum_ack(struct migdp_tx *tx, uint64_t now, const struct migdp_ack *ack,
	   migdp_tx_release_t release, void *arg)
{
	struct migdp_tx_slot *s;
	unsigned n = 0;

	for (; tx->una != ack->cum_ack; tx->una++) {
		s = tx_slot(tx, tx->una);
		if (s->state == SLOT_INFLIGHT) {
			tx_release(tx, now, ack->ts_echo, tx->una, s, release,
				   arg);
			n++;
		}
		s->state = SLOT_FREE;
	}
	if (migdp_seq_lt(tx->high_sacked, tx->una))
		tx->high_sacked = tx->una;
	tx->stats.acked += n;
	return n;
}

static unsigned
tx_sack(struct migdp_tx *tx, uint64_t now, uint32_t echo,
	const struct migdp_sack *b, migdp_tx_release_t release, void *arg)
{
	uint32_t seq, start = b->start;
	struct migdp_tx_slot *s;
	unsigned n = 0;

	if (migdp_seq_gt(b->end, tx->nxt) || migdp_seq_ge(start, b->end)) {
		tx->stats.sacks_invalid++;
		return 0;
	}
	if (migdp_seq_lt(start, tx->una))	/* stale part: already acked */
		start = tx->una;
	for (seq = start; migdp_seq_lt(seq, b->end); seq++) {
		s = tx_slot(tx, seq);
		if (s->state != SLOT_INFLIGHT)
			continue;
		s->state = SLOT_SACKED;
		tx_release(tx, now, echo, seq, s, release, arg);
		n++;
	}
	if (migdp_seq_gt(b->end, tx->high_sacked))
		tx->high_sacked = b->end;
	tx->stats.sacked += n;
	return n;
}

/* Reordering tolerated by time: a quarter of the smoothed RTT, widened
 * to a half and a whole RTT by spurious fast retransmits. */
static uint64_t
tx_reorder_ns(const struct migdp_tx *tx)
{
	return (tx->have_rtt ? tx->srtt_ns : tx->rto_ns) >> (2 - tx->reo_shift);
}

/* A frame is lost when a frame sent more than the reorder window after it
 * was delivered (RACK, RFC 8985: time-based, so it also finds lost
 * retransmissions and tails with few frames above), or, a first
 * transmission, when dupthresh SACKed frames lie above it (RFC 6675
 * IsLost(); a count says nothing about a resend, sent after those).
 * @return frames newly marked. */
static unsigned
tx_mark_lost(struct migdp_tx *tx)
{
	uint32_t n = tx->high_sacked - tx->una, seq = tx->high_sacked, above = 0;
	uint64_t reorder_ns = tx_reorder_ns(tx);
	struct migdp_tx_slot *s;
	unsigned marked = 0;

	while (n-- > 0) {
		s = tx_slot(tx, --seq);
		if (s->state == SLOT_SACKED) {
			above++;
		} else if (s->state == SLOT_INFLIGHT && !s->lost &&
			   ((s->retx == 0 && above >= tx->dupthresh) ||
			    s->sent_ns + reorder_ns < tx->rack_ns)) {
			s->lost = 1;
			tx->nlost++;
			tx->inflight_bytes -= s->bytes;	/* left the network */
			marked++;
		}
	}
	return marked;
}

int
migdp_tx_on_ack(struct migdp_tx *tx, uint64_t now,
		const struct migdp_ack *ack, migdp_tx_release_t release,
		void *arg)
{
	unsigned i, n, lost = 0, nsack = RTE_MIN(ack->nsack, MIGDP_MAX_SACK);
	uint64_t rtt = 0;

	if (migdp_seq_lt(ack->cum_ack, tx->una) ||
	    migdp_seq_gt(ack->cum_ack, tx->nxt)) {
		tx->stats.acks_invalid++;
		return -EINVAL;
	}
	tx->stats.acks++;
	n = tx_cum_ack(tx, now, ack, release, arg);
	for (i = 0; i < nsack; i++)
		n += tx_sack(tx, now, ack->ts_echo, &ack->sack[i], release, arg);
	/* Only an ACK with news was triggered by a fresh arrival; a repeated
	 * ACK (receiver stuck on a hole) echoes an ever older stamp. */
	if (n > 0)
		rtt = tx_rtt_sample(tx, now, ack->ts_echo);
	if (tx->high_sacked != tx->una)
		lost = tx_mark_lost(tx);
	if (migdp_seq_lt(tx->rto_open, tx->una))
		tx->rto_open = tx->una;	/* never stale across the wrap */
	if (tx->rto_floor_ns > tx->p.rto_min_ns &&
	    now - tx->floor_ns >= FLOOR_DECAY_NS) {
		tx->rto_floor_ns -= (tx->rto_floor_ns - tx->p.rto_min_ns + 1) / 2;
		tx->floor_ns = now;
	}
	if (tx->p.cc) {
		/* Everything outstanding at the timeout is recovered. */
		if (tx->cc.in_loss && !tx->probing && tx->rto_open == tx->una)
			migdp_cc_loss_end(&tx->cc, false);
		migdp_cc_on_ack(&tx->cc, now, rtt, tx->inflight_bytes, lost);
	}
	return 0;
}

/* May timed-out (not lost) @p seq go now, @p probes timed-out frames
 * already chosen? */
static bool
tx_timeout_may_resend(const struct migdp_tx *tx, uint32_t seq,
		      unsigned probes)
{
	if (migdp_seq_lt(seq, tx->rto_open))
		return true;	/* the probe showed loss: all go */
	if (tx->probing)
		return seq == tx->probe_seq;
	return probes == 0;	/* the oldest goes, as the probe */
}

unsigned
migdp_tx_due(struct migdp_tx *tx, uint64_t now, uint32_t *seqs, unsigned max)
{
	uint32_t seq, lost_seen = 0, retx_seen = 0;
	struct migdp_tx_slot *s;
	unsigned n = 0, probes = 0;

	for (seq = tx->una; seq != tx->nxt && n < max; seq++) {
		s = tx_slot(tx, seq);
		if (s->state != SLOT_INFLIGHT)
			continue;
		lost_seen += s->lost;
		retx_seen += s->retx != 0;
		if (s->lost) {
			seqs[n++] = seq;
			continue;
		}
		if (now >= s->sent_ns + tx_timeout(tx, s->retx) &&
		    tx_timeout_may_resend(tx, seq, probes)) {
			probes += !migdp_seq_lt(seq, tx->rto_open);
			seqs[n++] = seq;
			continue;
		}
		/* First transmissions leave in sequence order: none after
		 * this one has expired, or all that have are held like it;
		 * stop once every lost or resent frame has been looked at. */
		if (s->retx == 0 && lost_seen == tx->nlost &&
		    retx_seen == tx->nretx)
			break;
	}
	return n;
}

/* A timeout resend of @p seq: the first starts a probe and the congestion
 * response; the probe timing out again opens recovery to all. */
static void
tx_timeout_resent(struct migdp_tx *tx, uint32_t seq)
{
	if (migdp_seq_lt(seq, tx->rto_open))
		return;
	if (tx->probing && seq == tx->probe_seq) {
		tx->probing = false;
		tx->rto_open = tx->nxt;
		return;
	}
	tx->probing = true;
	tx->probe_seq = seq;
	if (tx->p.cc)
		migdp_cc_on_rto(&tx->cc);
}

int
migdp_tx_retransmitted(struct migdp_tx *tx, uint32_t seq, uint64_t now)
{
	struct migdp_tx_slot *s = tx_slot(tx, seq);

	if (!tx_inflight(tx, seq))
		return -ENOENT;
	if (tx->p.cc)
		migdp_cc_on_send(&tx->cc, now, tx->inflight_bytes, &s->snap);
	if (s->lost) {
		s->lost = 0;
		s->fast = 1;
		tx->nlost--;
		tx->inflight_bytes += s->bytes;	/* back in the network */
		tx->stats.retx_fast++;
	} else {
		s->fast = 0;
		tx->stats.retx_timeout++;
		tx_timeout_resent(tx, seq);
	}
	if (s->retx == 0)
		tx->nretx++;
	if (s->retx < UINT16_MAX)
		s->retx++;
	s->sent_ns = now;
	return 0;
}

uint64_t
migdp_tx_cookie(const struct migdp_tx *tx, uint32_t seq)
{
	return tx_inflight(tx, seq) ? tx_slot(tx, seq)->cookie : 0;
}

/* ---- pacing ------------------------------------------------------------ */

int
migdp_pacer_init(struct migdp_pacer *pc, uint64_t rate_bps,
		 uint32_t burst_bytes, uint64_t now)
{
	if (burst_bytes == 0 || burst_bytes > PACER_MAX_BURST)
		return -EINVAL;
	pc->rate_bps = rate_bps;
	pc->cap = pc->cap_max = burst_bytes * CREDIT_PER_BYTE;
	pc->credit = pc->cap;
	pc->last_ns = now;
	pc->frame = 0;
	return 0;
}

static void
pacer_refill(struct migdp_pacer *pc, uint64_t now)
{
	uint64_t dt, room;

	if (now <= pc->last_ns)
		return;
	dt = now - pc->last_ns;
	pc->last_ns = now;
	room = pc->cap - pc->credit;
	/* dt * rate <= room exactly when dt <= room / rate: no overflow. */
	if (dt > room / pc->rate_bps)
		pc->credit = pc->cap;
	else
		pc->credit += dt * pc->rate_bps;
}

/* The bucket shrinks with the rate: a frame and PACER_SLACK_NS of credit,
 * so that a paused sender resumes with one frame at line rate, not four. */
void
migdp_pacer_set_rate(struct migdp_pacer *pc, uint64_t rate_bps, uint64_t now)
{
	if (rate_bps != pc->rate_bps) {
		if (pc->rate_bps != 0)
			pacer_refill(pc, now);
		pc->last_ns = RTE_MAX(pc->last_ns, now);
		pc->rate_bps = rate_bps;
	}
	if (rate_bps == 0 || pc->frame == 0) {	/* no rate, or no frame yet */
		pc->cap = pc->cap_max;
		return;
	}
	/* Credit accrues at rate_bps units per ns (see pacer_refill()). */
	pc->cap = RTE_MIN(pc->cap_max, pc->frame * CREDIT_PER_BYTE +
			  rate_bps * PACER_SLACK_NS);
	pc->credit = RTE_MIN(pc->credit, pc->cap);
}

/* Credit needed for @p bytes; a frame larger than the bucket waits for a
 * full bucket instead of forever. */
static uint64_t
pacer_need(const struct migdp_pacer *pc, uint32_t bytes)
{
	return RTE_MIN(bytes * CREDIT_PER_BYTE, pc->cap);
}

bool
migdp_pacer_take(struct migdp_pacer *pc, uint64_t now, uint32_t bytes)
{
	uint64_t need;

	if (pc->rate_bps == 0)
		return true;
	pc->frame = RTE_MAX(pc->frame, RTE_MIN(bytes, PACER_MAX_BURST));
	pacer_refill(pc, now);
	need = pacer_need(pc, bytes);
	if (need > pc->credit)
		return false;
	pc->credit -= need;
	return true;
}

uint64_t
migdp_pacer_next(struct migdp_pacer *pc, uint64_t now, uint32_t bytes)
{
	uint64_t need;

	if (pc->rate_bps == 0)
		return now;
	pc->frame = RTE_MAX(pc->frame, RTE_MIN(bytes, PACER_MAX_BURST));
	pacer_refill(pc, now);
	need = pacer_need(pc, bytes);
	if (need <= pc->credit)
		return now;
	return now + (need - pc->credit + pc->rate_bps - 1) / pc->rate_bps;
}
