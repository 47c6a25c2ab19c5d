/* SPDX-License-Identifier: BSD-3-Clause */
/* Congestion control: the windowed filters and the state machine on
 * synthetic rate samples, then the real sender, pacer and receiver over a
 * discrete-event model of a bottleneck (a FIFO of rate R and a buffer of B
 * bytes that drops on overflow, a propagation delay, a 40 Gb/s NIC at the
 * sender): alone, with random loss, with receiver stalls, in pairs and
 * under a ceiling. Simulated time; no DPDK, no EAL. Each model run prints
 * its figures; CC_SWEEP=1 prints a table over rates, RTTs and buffers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cu_main.h"
#include "transport.h"

#define US 1000ull
#define MS 1000000ull
#define S 1000000000ull
#define GBPS 1000000000ull
#define FRAME 9014u

/* ---- synthetic samples ------------------------------------------------- */

static struct migdp_cc
cc_new(uint64_t max_rate_bps)
{
	struct migdp_cc_params p = { .max_rate_bps = max_rate_bps, .seed = 7 };
	struct migdp_cc cc;

	CU_ASSERT_EQUAL_FATAL(migdp_cc_init(&cc, &p), 0);
	return cc;
}

/* One ACK delivering @p bytes over @p interval (ack interval; the frames
 * were sent back to back) at @p now, with RTT sample @p rtt and
 * @p inflight left. The snapshot is taken "now" in delivered terms, so
 * every call starts a round. */
static void
feed(struct migdp_cc *cc, uint64_t now, uint64_t bytes, uint64_t interval,
     uint64_t rtt, uint64_t inflight, bool app_limited)
{
	struct migdp_cc_snap snap = {
		.delivered = cc->delivered, .delivered_ns = now - interval,
		.first_sent_ns = now - interval, .app_limited = app_limited,
	};

	migdp_cc_on_delivered(cc, now, &snap, now - interval, (uint32_t)bytes);
	migdp_cc_on_ack(cc, now, rtt, inflight, 0);
}

/* Bytes per @p interval at @p bps. */
static uint64_t
bytes_at(uint64_t bps, uint64_t interval)
{
	return bps / 8 * interval / S;
}

static void
test_init(void)
{
	struct migdp_cc_params bad = { .init_cwnd_frames = 2,
				       .min_cwnd_frames = 4 };
	struct migdp_cc cc = cc_new(0), capped = cc_new(1 * GBPS);

	CU_ASSERT_EQUAL(migdp_cc_init(&cc, &bad), -EINVAL);
	cc = cc_new(0);
	/* 32 frames over the 1 ms guess, times 2/ln2: ~6.7 Gb/s at once. */
	CU_ASSERT(migdp_cc_pacing_bps(&cc) > 6 * GBPS &&
		  migdp_cc_pacing_bps(&cc) < 7 * GBPS);
	CU_ASSERT_EQUAL(migdp_cc_cwnd_bytes(&cc), 32 * FRAME);
	CU_ASSERT_EQUAL(migdp_cc_btlbw_bps(&cc), 0);
	CU_ASSERT_EQUAL(migdp_cc_min_rtt_ns(&cc), 0);
	CU_ASSERT_STRING_EQUAL(migdp_cc_state_name(&cc), "startup");
	CU_ASSERT_EQUAL(migdp_cc_pacing_bps(&capped), 1 * GBPS);
}

static void
test_btlbw_max_filter(void)
{
	struct migdp_cc cc = cc_new(0);
	uint64_t t = 0, rtt = 1 * MS, i;

	/* 1 Gb/s, then one 5 Gb/s sample: the max for 10 rounds. */
	for (i = 0; i < 5; i++)
		feed(&cc, t += rtt, bytes_at(1 * GBPS, rtt), rtt, rtt, 0, false);
	CU_ASSERT_EQUAL(migdp_cc_btlbw_bps(&cc), 1 * GBPS);
	feed(&cc, t += rtt, bytes_at(5 * GBPS, rtt), rtt, rtt, 0, false);
	CU_ASSERT_EQUAL(migdp_cc_btlbw_bps(&cc), 5 * GBPS);
	for (i = 0; i < 10; i++) {
		feed(&cc, t += rtt, bytes_at(1 * GBPS, rtt), rtt, rtt, 0, false);
		CU_ASSERT_EQUAL(migdp_cc_btlbw_bps(&cc), 5 * GBPS);
	}
	/* Round 11 after it: aged out, the best of the later samples. */
	feed(&cc, t += rtt, bytes_at(1 * GBPS, rtt), rtt, rtt, 0, false);
	CU_ASSERT_EQUAL(migdp_cc_btlbw_bps(&cc), 1 * GBPS);
	/* A second best inside the window takes over when the best ages:
	 * 4 Gb/s five rounds after an 8 Gb/s sample. */
	feed(&cc, t += rtt, bytes_at(8 * GBPS, rtt), rtt, rtt, 0, false);
	for (i = 0; i < 4; i++)
		feed(&cc, t += rtt, bytes_at(1 * GBPS, rtt), rtt, rtt, 0, false);
	feed(&cc, t += rtt, bytes_at(4 * GBPS, rtt), rtt, rtt, 0, false);
	for (i = 0; i < 5; i++)
		feed(&cc, t += rtt, bytes_at(1 * GBPS, rtt), rtt, rtt, 0, false);
	CU_ASSERT_EQUAL(migdp_cc_btlbw_bps(&cc), 8 * GBPS);
	feed(&cc, t += rtt, bytes_at(1 * GBPS, rtt), rtt, rtt, 0, false);
	CU_ASSERT_EQUAL(migdp_cc_btlbw_bps(&cc), 4 * GBPS);
	CU_ASSERT_EQUAL(cc.stats.rounds, 29);
}

static void
test_rate_sample_rules(void)
{
	struct migdp_cc cc = cc_new(0);
	uint64_t t = 0, rtt = 1 * MS;
	struct migdp_cc_snap snap;

	feed(&cc, t += rtt, bytes_at(2 * GBPS, rtt), rtt, rtt, 0, false);
	CU_ASSERT_EQUAL(migdp_cc_btlbw_bps(&cc), 2 * GBPS);
	/* An interval below min_rtt is noise, whatever rate it claims. */
	feed(&cc, t += rtt, bytes_at(9 * GBPS, rtt / 10), rtt / 10, rtt, 0,
	     false);
	CU_ASSERT_EQUAL(migdp_cc_btlbw_bps(&cc), 2 * GBPS);
	CU_ASSERT_EQUAL(cc.stats.rate_short, 1);
	/* App-limited samples raise the estimate, never lower it. */
	feed(&cc, t += rtt, bytes_at(1 * GBPS, rtt), rtt, rtt, 0, true);
	CU_ASSERT_EQUAL(migdp_cc_btlbw_bps(&cc), 2 * GBPS);
	feed(&cc, t += rtt, bytes_at(3 * GBPS, rtt), rtt, rtt, 0, true);
	CU_ASSERT_EQUAL(migdp_cc_btlbw_bps(&cc), 3 * GBPS);
	CU_ASSERT_EQUAL(cc.stats.rate_app_limited, 2);
	/* The interval is the larger of send and ack intervals: frames sent
	 * over 2 ms and acked in a 1 ms bunch are 2 ms worth of rate. */
	snap = (struct migdp_cc_snap){ .delivered = cc.delivered,
				       .delivered_ns = t, .first_sent_ns = t };
	t += 3 * MS;
	migdp_cc_on_delivered(&cc, t, &snap, t - 1 * MS,
			      (uint32_t)bytes_at(8 * GBPS, 2 * MS));
	migdp_cc_on_ack(&cc, t, rtt, 0, 0);
	CU_ASSERT_EQUAL(migdp_cc_btlbw_bps(&cc), 16 * GBPS / 3);
	/* migdp_cc_app_limited() marks what is sent until the flight in
	 * progress is delivered. */
	migdp_cc_app_limited(&cc, 10 * FRAME);
	migdp_cc_on_send(&cc, t, 10 * FRAME, &snap);
	CU_ASSERT(snap.app_limited);
	feed(&cc, t += rtt, 11 * FRAME, rtt, rtt, 0, false);
	migdp_cc_on_send(&cc, t, 0, &snap);
	CU_ASSERT_FALSE(snap.app_limited);
}

static void
test_min_rtt_window(void)
{
	struct migdp_cc cc = cc_new(0);
	uint64_t t = 0;

	migdp_cc_on_ack(&cc, t += 1 * MS, 300 * US, 0, 0);
	migdp_cc_on_ack(&cc, t += 1 * MS, 900 * US, 0, 0);
	CU_ASSERT_EQUAL(migdp_cc_min_rtt_ns(&cc), 300 * US);
	/* Larger samples for 10 s: the minimum holds for the window... */
	while (t < 9 * S)
		migdp_cc_on_ack(&cc, t += 100 * MS, 5 * MS, 0, 0);
	CU_ASSERT_EQUAL(migdp_cc_min_rtt_ns(&cc), 300 * US);
	/* ... then the path's new minimum takes over. */
	while (t < 11 * S)
		migdp_cc_on_ack(&cc, t += 100 * MS, 5 * MS, 0, 0);
	CU_ASSERT_EQUAL(migdp_cc_min_rtt_ns(&cc), 5 * MS);
	migdp_cc_on_ack(&cc, t += 1 * MS, 2 * MS, 0, 0);
	CU_ASSERT_EQUAL(migdp_cc_min_rtt_ns(&cc), 2 * MS);
}

static void
test_states_and_gains(void)
{
	struct migdp_cc cc = cc_new(0);
	uint64_t t = 0, rtt = 1 * MS, bdp = bytes_at(1 * GBPS, rtt), bw = 0;
	unsigned i, r = 1, phases[16], nphases = 0;

	/* Startup doubles the delivery rate per round; pacing 2/ln2 x. */
	for (i = 0; i < 4; i++, r *= 2)
		feed(&cc, t += rtt, bytes_at(r * 100000000ull, rtt), rtt, rtt,
		     0, false);
	CU_ASSERT_STRING_EQUAL(migdp_cc_state_name(&cc), "startup");
	CU_ASSERT_EQUAL(migdp_cc_btlbw_bps(&cc), 800000000ull);
	CU_ASSERT(migdp_cc_pacing_bps(&cc) >= 2885 * 800000ull);
	/* 1 Gb/s is still 25 % growth; then three rounds without it end
	 * startup. With 2 BDP in flight, drain; probe-bw once down to one
	 * BDP. */
	for (i = 0; i < 4; i++) {
		feed(&cc, t += rtt, bdp, rtt, rtt, 2 * bdp, false);
		CU_ASSERT_STRING_EQUAL(migdp_cc_state_name(&cc),
				       i < 3 ? "startup" : "drain");
	}
	CU_ASSERT_EQUAL(migdp_cc_pacing_bps(&cc), 1 * GBPS * 347 / 1000);
	feed(&cc, t += rtt, bdp, rtt, rtt, bdp, false);
	CU_ASSERT_STRING_EQUAL(migdp_cc_state_name(&cc), "probe_bw");
	/* cwnd: 2 BDP (+ 3 frames for bursts and delayed acks). */
	CU_ASSERT_EQUAL(migdp_cc_cwnd_bytes(&cc), 2 * bdp + 3 * FRAME);
	/* The gain cycle, one phase per min_rtt: 1.25 once, 0.75 right
	 * after, 1 six times. */
	for (i = 0; i < 16; i++) {
		feed(&cc, t += rtt + 1, bdp, rtt, rtt, 3 * bdp / 2, false);
		bw = migdp_cc_btlbw_bps(&cc);
		phases[nphases++] = (unsigned)(migdp_cc_pacing_bps(&cc) * 100 / bw);
	}
	for (i = 0; i < 16; i++) {
		unsigned next = phases[(i + 1) % 16];

		CU_ASSERT(phases[i] == 125 || phases[i] == 75 || phases[i] == 100);
		if (phases[i] == 125)
			CU_ASSERT_EQUAL(next, 75);
		if (phases[i] == 75 && i + 6 < 16) {
			unsigned k;

			for (k = 1; k <= 6; k++)
				CU_ASSERT_EQUAL(phases[i + k], 100);
		}
	}
	/* A 1.25 phase lasts until 1.25 BDP (+ quanta) is in flight. */
	while (migdp_cc_pacing_bps(&cc) != bw * 1250 / 1000)
		feed(&cc, t += rtt + 1, bdp, rtt, rtt, bdp, false);
	feed(&cc, t += rtt + 1, bdp, rtt, rtt, bdp, false);
	CU_ASSERT_EQUAL(migdp_cc_pacing_bps(&cc), bw * 1250 / 1000);
	feed(&cc, t += rtt + 1, bdp, rtt, rtt, 5 * bdp / 4 + 3 * FRAME, false);
	CU_ASSERT_EQUAL(migdp_cc_pacing_bps(&cc), bw * 750 / 1000);
	/* A 0.75 phase ends as soon as in-flight is down to one BDP. */
	feed(&cc, t += 1, bdp, rtt, rtt, bdp, false);
	CU_ASSERT_EQUAL(migdp_cc_pacing_bps(&cc), bw);
}

static void
test_ceiling_and_rto(void)
{
	struct migdp_cc cc = cc_new(500000000ull);
	uint64_t t = 0, rtt = 1 * MS, cwnd;
	unsigned i;

	for (i = 0; i < 20; i++) {
		feed(&cc, t += rtt, bytes_at(GBPS / 2, rtt), rtt, rtt, 0, false);
		CU_ASSERT(migdp_cc_pacing_bps(&cc) <= 500000000ull);
	}
	CU_ASSERT_STRING_EQUAL(migdp_cc_state_name(&cc), "probe_bw");
	/* An RTO drops the window to min_cwnd; it grows with deliveries;
	 * the end of the episode, or its undo, restores at least the old. */
	cwnd = migdp_cc_cwnd_bytes(&cc);
	migdp_cc_on_rto(&cc);
	migdp_cc_on_rto(&cc);
	CU_ASSERT_EQUAL(cc.stats.rto_losses, 1);
	CU_ASSERT_EQUAL(migdp_cc_cwnd_bytes(&cc), 4 * FRAME);
	feed(&cc, t += rtt, FRAME, rtt, rtt, 0, false);
	CU_ASSERT_EQUAL(migdp_cc_cwnd_bytes(&cc), 5 * FRAME);
	migdp_cc_loss_end(&cc, true);
	CU_ASSERT_EQUAL(migdp_cc_cwnd_bytes(&cc), cwnd);
	CU_ASSERT_EQUAL(cc.stats.rto_undone, 1);
	migdp_cc_loss_end(&cc, true);
	CU_ASSERT_EQUAL(cc.stats.rto_undone, 1);
}

/* ---- a bottleneck model with the real sender and receiver -------------- */

/* A FIFO of time-stamped items, time-ordered by construction. */
#define RING_SZ 16384u

struct sim_pkt {
	uint64_t at;            /* ns: when it reaches the next stage */
	uint32_t seq;
	uint32_t tstamp;
	struct migdp_ack ack;   /* on the ack path */
};

struct sim_ring {
	struct sim_pkt q[RING_SZ];
	uint32_t head, tail;
};

static bool
ring_empty(const struct sim_ring *r)
{
	return r->head == r->tail;
}

static uint64_t
ring_next(const struct sim_ring *r)
{
	return ring_empty(r) ? UINT64_MAX : r->q[r->head % RING_SZ].at;
}

static void
ring_put(struct sim_ring *r, const struct sim_pkt *p)
{
	CU_ASSERT_FATAL(r->tail - r->head < RING_SZ);
	r->q[r->tail++ % RING_SZ] = *p;
}

static struct sim_pkt *
ring_get(struct sim_ring *r, uint64_t now)
{
	if (ring_empty(r) || r->q[r->head % RING_SZ].at > now)
		return NULL;
	return &r->q[r->head++ % RING_SZ];
}

struct sim_flow {
	struct migdp_tx *tx;
	struct migdp_rx *rx;
	struct migdp_pacer pc;
	uint64_t start_ns;
	uint64_t frames;         /* to send */
	uint64_t nic_free_ns;    /* the sender's NIC is busy until */
	uint64_t wake_ns;        /* next sender poll */
	uint64_t rx_bytes;       /* new frames at the receiver */
	uint64_t done_ns;        /* last new frame received */
	uint64_t max_pacing;
	struct sim_ring nic;     /* leaving the NIC, to the bottleneck */
	struct sim_ring wire;    /* through the bottleneck, to the receiver */
	struct sim_ring acks;    /* to the sender */
};

struct sim {
	uint64_t rate_bps;       /* bottleneck */
	uint64_t buf_bytes;
	uint64_t prop_ns;        /* one way, each direction */
	uint64_t nic_bps;
	uint64_t q_bytes;
	uint64_t last_dep_ps;    /* bottleneck busy until (picoseconds) */
	uint64_t drops;
	uint32_t loss_pm;        /* random loss, per mille */
	uint64_t stall[2];       /* the receivers stall 15 ms from these */
	uint32_t lcg;
	struct sim_ring bq;      /* departures, for the occupancy */
	unsigned nflows;
	struct sim_flow f[2];
};

static struct sim simv;

static void
sim_flow_init(struct sim_flow *f, uint64_t start, uint64_t frames,
	      uint64_t max_rate_bps, uint32_t isn)
{
	struct migdp_tx_params tp = {
		.window = 512, .rto_min_ns = 10 * MS, .cc = true,
		.cc_params = { .max_rate_bps = max_rate_bps, .frame_bytes = FRAME,
			       .seed = isn * 2654435761u | 1 },	/* repeatable */
	};
	struct migdp_rx_params rp = { .window = 512 };

	memset(f, 0, sizeof(*f));
	f->tx = migdp_tx_init(malloc(migdp_tx_memsize(&tp)), &tp, isn);
	f->rx = migdp_rx_init(malloc(migdp_rx_memsize(&rp)), &rp, isn);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f->tx);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f->rx);
	migdp_pacer_init(&f->pc, migdp_cc_pacing_bps(migdp_tx_cc(f->tx)),
			 4 * FRAME, start);
	f->start_ns = f->wake_ns = start;
	f->frames = frames;
}

static void
sim_init(uint64_t rate, uint64_t buf, uint64_t prop)
{
	memset(&simv, 0, sizeof(simv));
	simv.rate_bps = rate;
	simv.buf_bytes = buf;
	simv.prop_ns = prop;
	simv.nic_bps = 40 * GBPS;
}

static void
sim_nic_put(struct sim_flow *f, uint64_t now, uint32_t seq)
{
	struct sim_pkt p = { .seq = seq, .tstamp = migdp_tstamp(now) };

	f->nic_free_ns = RTE_MAX(f->nic_free_ns, now) +
			 FRAME * 8ull * S / simv.nic_bps;
	p.at = f->nic_free_ns;
	ring_put(&f->nic, &p);
}

/* The channel loop: pacing rate from the cc, then resends and new frames,
 * all paced. */
static void
sim_sender(struct sim_flow *f, uint64_t now)
{
	uint32_t seqs[32], seq;
	bool paced = false;
	unsigned i, n;

	if (now < f->start_ns)
		return;
	migdp_pacer_set_rate(&f->pc, migdp_cc_pacing_bps(migdp_tx_cc(f->tx)),
			     now);
	f->max_pacing = RTE_MAX(f->max_pacing, f->pc.rate_bps);
	n = migdp_tx_due(f->tx, now, seqs, RTE_DIM(seqs));
	for (i = 0; i < n; i++) {
		if (!migdp_pacer_take(&f->pc, now, FRAME)) {
			paced = true;
			break;
		}
		sim_nic_put(f, now, seqs[i]);
		migdp_tx_retransmitted(f->tx, seqs[i], now);
	}
	while (!paced && f->tx->stats.sent < f->frames &&
	       !migdp_tx_window_full(f->tx)) {
		if (!migdp_pacer_take(&f->pc, now, FRAME)) {
			paced = true;
			break;
		}
		migdp_tx_send(f->tx, now, 1, FRAME, &seq);
		sim_nic_put(f, now, seq);
	}
	if (f->tx->stats.sent == f->frames)
		migdp_tx_app_limited(f->tx);	/* nothing left to send */
	if (paced)
		f->wake_ns = migdp_pacer_next(&f->pc, now, FRAME);
	else
		f->wake_ns = now + 500 * US;	/* timeouts */
}

/* A frame leaves a NIC into the bottleneck at p->at: lost at random
 * (simv.loss_pm), dropped when the buffer is full, or queued. */
static void
sim_bottleneck(struct sim_flow *f, const struct sim_pkt *p)
{
	uint64_t t_ps = p->at * 1000;
	struct sim_pkt d = *p, *old;

	while ((old = ring_get(&simv.bq, p->at)) != NULL)
		simv.q_bytes -= FRAME;
	simv.lcg = simv.lcg * 1103515245u + 12345u;
	if ((simv.lcg >> 8) % 1000 < simv.loss_pm)
		return;			/* corrupted on the way */
	if (simv.q_bytes + FRAME > simv.buf_bytes) {
		simv.drops++;
		return;
	}
	simv.last_dep_ps = RTE_MAX(simv.last_dep_ps, t_ps) +
			   FRAME * 8ull * S * 1000 / simv.rate_bps;
	d.at = (simv.last_dep_ps + 999) / 1000;
	ring_put(&simv.bq, &d);
	simv.q_bytes += FRAME;
	d.at += simv.prop_ns;
	ring_put(&f->wire, &d);
}

#define STALL_NS (15 * MS)

/* End of the receiver stall @p t falls in, or @p t. */
static uint64_t
sim_unstalled(uint64_t t)
{
	unsigned i;

	for (i = 0; i < RTE_DIM(simv.stall); i++)
		if (simv.stall[i] != 0 && t >= simv.stall[i] &&
		    t < simv.stall[i] + STALL_NS)
			return simv.stall[i] + STALL_NS;
	return t;
}

static void
sim_receiver(struct sim_flow *f, uint64_t now)
{
	struct sim_pkt *p, a;
	uint64_t ext;

	if (sim_unstalled(now) != now)
		return;		/* descheduled: frames wait in the queue */
	while ((p = ring_get(&f->wire, now)) != NULL) {
		if (migdp_rx_receive(f->rx, now, p->seq, p->tstamp, 0, &ext) ==
		    MIGDP_RX_NEW) {
			f->rx_bytes += FRAME;
			f->done_ns = now;
		}
	}
	if (migdp_rx_ack_due(f->rx, now)) {
		memset(&a, 0, sizeof(a));
		migdp_rx_make_ack(f->rx, &a.ack, MIGDP_MAX_SACK);
		a.at = now + simv.prop_ns;
		ring_put(&f->acks, &a);
	}
}

static bool
sim_flow_done(const struct sim_flow *f)
{
	return f->tx->stats.sent == f->frames && migdp_tx_inflight(f->tx) == 0;
}

/* The next event of any kind. */
static uint64_t
sim_next(void)
{
	uint64_t t = UINT64_MAX;
	unsigned i;

	for (i = 0; i < simv.nflows; i++) {
		const struct sim_flow *f = &simv.f[i];

		if (sim_flow_done(f))
			continue;
		t = RTE_MIN(t, ring_next(&f->nic));
		if (!ring_empty(&f->wire))
			t = RTE_MIN(t, sim_unstalled(ring_next(&f->wire)));
		t = RTE_MIN(t, ring_next(&f->acks));
		t = RTE_MIN(t, f->wake_ns);
		if (f->rx->unacked > 0)
			t = RTE_MIN(t, sim_unstalled(f->rx->unacked_since +
						     f->rx->p.ack_delay_ns));
	}
	return t;
}

/* Run until every flow is done or @p until; call @p probe every ms. */
static void
sim_run(uint64_t until, void (*probe)(uint64_t now))
{
	uint64_t now = 0, next_probe = 0, t;
	struct sim_pkt *p;
	unsigned i, k;

	while ((t = sim_next()) != UINT64_MAX && t <= until) {
		now = RTE_MAX(now, t);
		for (i = 0; i < simv.nflows; i++)
			while ((p = ring_get(&simv.f[i].acks, now)) != NULL)
				migdp_tx_on_ack(simv.f[i].tx, now, &p->ack,
						NULL, NULL);
		/* Into the bottleneck in time order across flows. */
		for (;;) {
			uint64_t best = UINT64_MAX;

			for (i = 0, k = 0; i < simv.nflows; i++)
				if (ring_next(&simv.f[i].nic) < best) {
					best = ring_next(&simv.f[i].nic);
					k = i;
				}
			if (best > now)
				break;
			sim_bottleneck(&simv.f[k], ring_get(&simv.f[k].nic, now));
		}
		for (i = 0; i < simv.nflows; i++) {
			sim_receiver(&simv.f[i], now);
			sim_sender(&simv.f[i], now);
		}
		while (probe != NULL && now >= next_probe) {
			probe(next_probe);
			next_probe += 1 * MS;
		}
	}
}

static void
sim_free(void)
{
	unsigned i;

	for (i = 0; i < simv.nflows; i++) {
		free(simv.f[i].tx);
		free(simv.f[i].rx);
	}
}

/* ---- model runs --------------------------------------------------------- */

#define GIB_FRAMES ((1ull << 30) / FRAME)

/* Buffer of @p bdps bandwidth-delay products, at least 64 KB. */
static uint64_t
buf_of(uint64_t rate, uint64_t rtt, double bdps)
{
	return RTE_MAX((uint64_t)(bdps * (rate / 8) * rtt / S), 64000ull);
}

static double bw_err_max;   /* |btlbw / R - 1| after the first 100 ms */

static void
probe_btlbw(uint64_t now)
{
	const struct migdp_cc *cc = migdp_tx_cc(simv.f[0].tx);
	double err;

	if (now < 100 * MS || sim_flow_done(&simv.f[0]))
		return;
	err = (double)migdp_cc_btlbw_bps(cc) / simv.rate_bps - 1.0;
	if (err < 0)
		err = -err;
	if (err > bw_err_max)
		bw_err_max = err;
}

struct model_result {
	double bw_err;      /* max |btlbw / R - 1| after warm-up */
	double retx_pct;    /* resends per frame sent, % */
	double tput;        /* of R, from the start to the last frame */
};

static uint64_t
resends(const struct migdp_tx *tx)
{
	return tx->stats.retx_timeout + tx->stats.retx_fast;
}

/* 1 GiB of frames from one sender through a bottleneck of @p rate with
 * @p rtt (propagation, both ways) and @p buf bytes of buffer, losing
 * @p loss_pm per mille at random on top. */
static struct model_result
model_one(uint64_t rate, uint64_t rtt, uint64_t buf, uint32_t loss_pm)
{
	struct model_result r = { 0 };
	const struct migdp_cc *cc;
	struct sim_flow *f;

	sim_init(rate, buf, rtt / 2);
	simv.loss_pm = loss_pm;
	simv.nflows = 1;
	f = &simv.f[0];
	sim_flow_init(f, 0, GIB_FRAMES, 0, 1000);
	bw_err_max = 0;
	sim_run(60 * S, probe_btlbw);
	cc = migdp_tx_cc(f->tx);
	r.bw_err = bw_err_max;
	r.retx_pct = 100.0 * resends(f->tx) / f->tx->stats.sent;
	r.tput = sim_flow_done(f) ? 8.0 * f->rx_bytes * S / f->done_ns / rate : 0;
	printf("\n    R %2.0f Gb/s, RTT %4llu us, buffer %5llu KB, loss %2u pm: "
	       "btlbw error %4.1f %%, resent %.3f %% (%llu timeout, "
	       "%llu fast, %llu spurious), throughput %5.1f %% of R, "
	       "min_rtt %llu us, probe-rtt %llu ",
	       rate / 1e9, (unsigned long long)(rtt / US),
	       (unsigned long long)(buf / 1000), loss_pm, 100 * r.bw_err,
	       r.retx_pct, (unsigned long long)f->tx->stats.retx_timeout,
	       (unsigned long long)f->tx->stats.retx_fast,
	       (unsigned long long)f->tx->stats.retx_spurious, 100 * r.tput,
	       (unsigned long long)(migdp_cc_min_rtt_ns(cc) / US),
	       (unsigned long long)cc->stats.probe_rtt);
	sim_free();
	return r;
}

/* Required: btlbw within 20 % of R after warm-up, resends < 1 %,
 * throughput >= 85 % of R; at 200 us and at 1 ms, a buffer of 1 BDP. */
static void
model_check(uint64_t rate, uint64_t rtt)
{
	struct model_result r = model_one(rate, rtt, buf_of(rate, rtt, 1), 0);

	CU_ASSERT(r.bw_err < 0.20);
	CU_ASSERT(r.retx_pct < 1.0);
	CU_ASSERT(r.tput >= 0.85);
}

static void
test_model_1g(void)
{
	model_check(1 * GBPS, 200 * US);
	model_check(1 * GBPS, 1 * MS);
}

static void
test_model_10g(void)
{
	model_check(10 * GBPS, 200 * US);
	model_check(10 * GBPS, 1 * MS);
}

/* Random loss (corruption, fault injection) is not congestion: 2 % of it
 * costs little more than the 2 % resent. */
static void
test_model_random_loss(void)
{
	struct model_result r = model_one(10 * GBPS, 1 * MS,
					  buf_of(10 * GBPS, 1 * MS, 2), 20);

	CU_ASSERT(r.tput >= 0.90);
	CU_ASSERT(r.bw_err < 0.20);
}

/* The receiving lcore is descheduled for 15 ms, twice, 500 ms apart: every
 * frame in flight times out (floor 10 ms), but only one is resent, found
 * spurious when the originals' ACK comes, and the raised floor lets the
 * second stall pass without a timeout. */
static void
test_model_stall(void)
{
	const struct migdp_tx *tx;
	struct sim_flow *f;

	sim_init(1 * GBPS, buf_of(1 * GBPS, 1 * MS, 2), 500 * US);
	simv.stall[0] = 2 * S;
	simv.stall[1] = 2500 * MS;
	simv.nflows = 1;
	f = &simv.f[0];
	sim_flow_init(f, 0, GIB_FRAMES / 2, 0, 1000);
	sim_run(60 * S, NULL);
	tx = f->tx;
	CU_ASSERT_FATAL(sim_flow_done(f));
	printf("\n    R 1 Gb/s, RTT 1000 us, two 15 ms receiver stalls: %llu "
	       "timeouts, %llu spurious (undone %llu), RTO floor at the end %llu ms, "
	       "throughput %.1f %% of R ",
	       (unsigned long long)tx->stats.retx_timeout,
	       (unsigned long long)tx->stats.retx_spurious,
	       (unsigned long long)tx->cc.stats.rto_undone,
	       (unsigned long long)(tx->rto_floor_ns / MS),
	       800.0 * f->rx_bytes * S / f->done_ns / simv.rate_bps);
	CU_ASSERT_EQUAL(tx->stats.retx_timeout, 1);
	CU_ASSERT_EQUAL(tx->stats.spurious_rto, 1);
	CU_ASSERT_EQUAL(tx->cc.stats.rto_undone, 1);
	sim_free();
}

/* Two senders through one bottleneck, the second 50 ms later; shares
 * from a quarter to three quarters of the expected time (both run). */
static uint64_t share_t0, share_t1, share_b0[2], share_b1[2];

static void
probe_share(uint64_t now)
{
	unsigned i;

	for (i = 0; i < 2; i++) {
		if (now <= share_t0)
			share_b0[i] = simv.f[i].rx_bytes;
		if (now <= share_t1)
			share_b1[i] = simv.f[i].rx_bytes;
	}
}

static double
model_pair(uint64_t rate, uint64_t rtt, uint64_t buf)
{
	double a, b, retx;

	sim_init(rate, buf, rtt / 2);
	simv.nflows = 2;
	sim_flow_init(&simv.f[0], 0, GIB_FRAMES / 2, 0, 1000);
	sim_flow_init(&simv.f[1], 50 * MS, GIB_FRAMES / 2, 0, 77777);
	share_t0 = (uint64_t)(8.0 * GIB_FRAMES * FRAME / rate * S) / 4;
	share_t1 = share_t0 * 3;
	sim_run(60 * S, probe_share);
	CU_ASSERT(sim_flow_done(&simv.f[0]) && sim_flow_done(&simv.f[1]));
	CU_ASSERT(simv.f[0].done_ns > share_t1 && simv.f[1].done_ns > share_t1);
	a = share_b1[0] - share_b0[0];
	b = share_b1[1] - share_b0[1];
	retx = 100.0 * (resends(simv.f[0].tx) + resends(simv.f[1].tx)) /
	       (simv.f[0].tx->stats.sent + simv.f[1].tx->stats.sent);
	printf("\n    R %2.0f Gb/s, RTT %4llu us, buffer %5llu KB, two senders: "
	       "shares %.1f %% / %.1f %%, together %.1f %% of R, resent %.3f %% ",
	       rate / 1e9, (unsigned long long)(rtt / US),
	       (unsigned long long)(buf / 1000), 100 * a / (a + b),
	       100 * b / (a + b),
	       100 * 8 * (a + b) / rate / ((share_t1 - share_t0) / 1e9), retx);
	sim_free();
	return a / (a + b);
}

static void
test_model_fair(void)
{
	double share;

	share = model_pair(1 * GBPS, 1 * MS, buf_of(1 * GBPS, 1 * MS, 1));
	CU_ASSERT(share >= 0.30 && share <= 0.70);
	share = model_pair(10 * GBPS, 1 * MS, buf_of(10 * GBPS, 1 * MS, 1));
	CU_ASSERT(share >= 0.30 && share <= 0.70);
	/* Deep buffer: BBR v1 alone would let the later flow take 3/4 */
	share = model_pair(10 * GBPS, 1 * MS, buf_of(10 * GBPS, 1 * MS, 4));
	CU_ASSERT(share >= 0.30 && share <= 0.70);
}

/* A ceiling below the bottleneck: the rate stays at the ceiling. */
static void
test_model_ceiling(void)
{
	const uint64_t ceiling = 2 * GBPS;
	const struct migdp_cc *cc;
	struct sim_flow *f;
	double tput, bw;

	sim_init(10 * GBPS, buf_of(10 * GBPS, 1 * MS, 1), 500 * US);
	simv.nflows = 1;
	f = &simv.f[0];
	sim_flow_init(f, 0, GIB_FRAMES / 4, ceiling, 1000);
	sim_run(60 * S, NULL);
	cc = migdp_tx_cc(f->tx);
	CU_ASSERT_FATAL(sim_flow_done(f));
	tput = 8.0 * f->rx_bytes * S / f->done_ns;
	bw = (double)migdp_cc_btlbw_bps(cc);
	printf("\n    R 10 Gb/s, ceiling 2 Gb/s: highest pacing %.3f Gb/s, "
	       "throughput %.3f Gb/s, btlbw %.3f Gb/s, resent %llu ",
	       f->max_pacing / 1e9, tput / 1e9, bw / 1e9,
	       (unsigned long long)resends(f->tx));
	CU_ASSERT(f->max_pacing <= ceiling);
	CU_ASSERT(tput >= 0.9 * ceiling && tput <= ceiling);
	CU_ASSERT(bw >= 0.8 * ceiling && bw <= 1.2 * ceiling);
	CU_ASSERT_EQUAL(resends(f->tx), 0);
	sim_free();
}

/* CC_SWEEP=1 tests/test_cc: the model over rates, RTTs, buffers, random
 * loss (CC_LOSS per mille) and pairs, as a table; asserts nothing. */
static void
test_sweep(void)
{
	static const uint64_t rates[] = { 1 * GBPS, 10 * GBPS };
	static const uint64_t rtts[] = { 100 * US, 200 * US, 1 * MS, 5 * MS };
	static const double bdps[] = { 0.5, 1, 2, 4 };
	uint32_t loss = getenv("CC_LOSS") ? atoi(getenv("CC_LOSS")) : 0;
	unsigned a, b, c;

	for (a = 0; a < RTE_DIM(rates); a++)
		for (b = 0; b < RTE_DIM(rtts); b++)
			for (c = 0; c < RTE_DIM(bdps); c++)
				model_one(rates[a], rtts[b],
					  buf_of(rates[a], rtts[b], bdps[c]), loss);
	for (a = 0; a < RTE_DIM(rates); a++)
		for (c = 0; c < RTE_DIM(bdps); c++)
			model_pair(rates[a], 1 * MS, buf_of(rates[a], 1 * MS, bdps[c]));
	printf("\n");
}

int
main(void)
{
	static const struct cu_test unit[] = {
		{"init", test_init},
		{"btlbw_max_filter", test_btlbw_max_filter},
		{"rate_sample_rules", test_rate_sample_rules},
		{"min_rtt_window", test_min_rtt_window},
		{"states_and_gains", test_states_and_gains},
		{"ceiling_and_rto", test_ceiling_and_rto},
		{NULL, NULL},
	};
	static const struct cu_test model[] = {
		{"bottleneck_1g", test_model_1g},
		{"bottleneck_10g", test_model_10g},
		{"random_loss", test_model_random_loss},
		{"receiver_stalls", test_model_stall},
		{"two_senders_share", test_model_fair},
		{"ceiling", test_model_ceiling},
		{NULL, NULL},
	};
	static const struct cu_test sweep[] = {
		{"sweep", test_sweep},
		{NULL, NULL},
	};

	if (getenv("CC_SWEEP") != NULL)
		return cu_add_suite("cc_sweep", NULL, NULL, sweep) < 0 ? 1 :
			cu_run();
	if (cu_add_suite("cc_unit", NULL, NULL, unit) < 0 ||
	    cu_add_suite("cc_model", NULL, NULL, model) < 0)
		return 1;
	return cu_run();
}
