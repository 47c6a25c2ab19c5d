/* SPDX-License-Identifier: BSD-3-Clause */
/* Reliable transport logic: sequence arithmetic across the 2^32 wrap,
 * window, cumulative and selective acks, fast and timeout retransmission,
 * RTT/RTO, receiver classification and SACK generation, the per-page
 * version rule, pacing, liveness, and a lossy end-to-end loop. Simulated
 * time; no DPDK, no EAL. */
#include <stdlib.h>
#include <string.h>

#include "cu_main.h"
#include "transport.h"

#define MS 1000000ull
#define US 1000ull
#define NEAR_WRAP 0xfffffffau	/* isn: the wrap comes after 6 frames */
#define FRAME 9014u		/* bytes of a full frame */

static struct migdp_tx *
tx_new(uint32_t window, uint32_t isn)
{
	struct migdp_tx_params p = {
		.window = window, .rto_init_ns = 10 * MS, .rto_min_ns = 1 * MS,
		.rto_max_ns = 1000 * MS,
	};
	size_t sz = migdp_tx_memsize(&p);

	CU_ASSERT_FATAL(sz > 0);
	return migdp_tx_init(malloc(sz), &p, isn);
}

/* With congestion control. */
static struct migdp_tx *
tx_new_cc(uint32_t window, uint32_t isn)
{
	struct migdp_tx_params p = {
		.window = window, .rto_init_ns = 10 * MS, .rto_min_ns = 1 * MS,
		.rto_max_ns = 1000 * MS, .cc = true,
		.cc_params = { .frame_bytes = FRAME, .seed = 1 },
	};
	size_t sz = migdp_tx_memsize(&p);

	CU_ASSERT_FATAL(sz > 0);
	return migdp_tx_init(malloc(sz), &p, isn);
}

static struct migdp_rx *
rx_new(uint32_t window, uint32_t ack_every, uint32_t isn)
{
	struct migdp_rx_params p = {
		.window = window, .ack_every = ack_every, .ack_delay_ns = 100 * US,
	};
	size_t sz = migdp_rx_memsize(&p);

	CU_ASSERT_FATAL(sz > 0);
	return migdp_rx_init(malloc(sz), &p, isn);
}

/* Release callback: counts and remembers released sequences. */
struct released {
	unsigned n;
	uint32_t seq[4096];
	uint64_t cookie_sum;
};

static void
on_release(void *arg, uint32_t seq, uint64_t cookie)
{
	struct released *r = arg;

	if (r->n < 4096)
		r->seq[r->n] = seq;
	r->n++;
	r->cookie_sum += cookie;
}

static void
send_n(struct migdp_tx *tx, unsigned n, uint64_t now)
{
	uint32_t seq;
	unsigned i;

	for (i = 0; i < n; i++)
		CU_ASSERT_EQUAL_FATAL(migdp_tx_send(tx, now, 100 + i, FRAME, &seq), 0);
}

static struct migdp_ack
ack_of(uint32_t cum, uint32_t echo)
{
	struct migdp_ack a = { .cum_ack = cum, .ts_echo = echo };

	return a;
}

static void
add_sack(struct migdp_ack *a, uint32_t start, uint32_t end)
{
	a->sack[a->nsack].start = start;
	a->sack[a->nsack++].end = end;
}

/* ---- sequence numbers -------------------------------------------------- */

static void
test_seq_compare(void)
{
	CU_ASSERT(migdp_seq_lt(1, 2));
	CU_ASSERT(migdp_seq_lt(0xffffffffu, 0));
	CU_ASSERT(migdp_seq_gt(0, 0xffffffffu));
	CU_ASSERT(migdp_seq_lt(0xfffffff0u, 0x10));
	CU_ASSERT_FALSE(migdp_seq_lt(5, 5));
	CU_ASSERT(migdp_seq_le(5, 5));
	CU_ASSERT(migdp_seq_ge(5, 5));
	CU_ASSERT_FALSE(migdp_seq_gt(5, 5));
	CU_ASSERT(migdp_seq_le(0xffffffffu, 3));
	CU_ASSERT(migdp_seq_ge(3, 0xffffffffu));
	/* Up to 2^31 - 1 apart the order is right, either side of 0. */
	CU_ASSERT(migdp_seq_lt(0, 0x7fffffffu));
	CU_ASSERT(migdp_seq_lt(0x80000000u, 0xffffffffu));
	CU_ASSERT(migdp_seq_lt(0xc0000000u, 0x3fffffffu));
}

static void
test_seq_extend(void)
{
	uint64_t ref = (1ull << 32) + 0xfffffff0u;

	CU_ASSERT_EQUAL(migdp_seq_extend(ref, 0xfffffff0u), ref);
	CU_ASSERT_EQUAL(migdp_seq_extend(ref, 5), (2ull << 32) + 5);
	CU_ASSERT_EQUAL(migdp_seq_extend(ref, 0xffffff00u),
			(1ull << 32) + 0xffffff00u);
	CU_ASSERT_EQUAL(migdp_seq_extend(2ull << 32, 0xffffffffu),
			(2ull << 32) - 1);
}

/* ---- sender ------------------------------------------------------------ */

static void
test_params(void)
{
	struct migdp_tx_params tp = { .window = MIGDP_TX_MAX_WINDOW + 1 };
	struct migdp_rx_params rp = { .window = MIGDP_TX_MAX_WINDOW + 1 };
	struct migdp_tx *tx;

	CU_ASSERT_EQUAL(migdp_tx_memsize(&tp), 0);
	CU_ASSERT_EQUAL(migdp_rx_memsize(&rp), 0);
	tp.window = 0;
	tp.rto_min_ns = 5 * MS;
	tp.rto_max_ns = 1 * MS;
	CU_ASSERT_EQUAL(migdp_tx_memsize(&tp), 0);
	/* Zero fields take defaults. */
	memset(&tp, 0, sizeof(tp));
	tx = migdp_tx_init(malloc(migdp_tx_memsize(&tp)), &tp, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tx);
	CU_ASSERT_EQUAL(tx->p.window, 1024);
	CU_ASSERT_EQUAL(tx->p.dupthresh, 3);
	CU_ASSERT_EQUAL(migdp_tx_rto(tx), 20 * MS);
	free(tx);
}

static void
test_window(void)
{
	struct migdp_tx *tx = tx_new(8, NEAR_WRAP);
	struct released rel = { 0 };
	struct migdp_ack a;
	uint32_t seq;

	CU_ASSERT_EQUAL(migdp_tx_inflight(tx), 0);
	CU_ASSERT_FALSE(migdp_tx_window_full(tx));
	send_n(tx, 8, 0);
	CU_ASSERT(migdp_tx_window_full(tx));
	CU_ASSERT_EQUAL(migdp_tx_send(tx, 0, 1, FRAME, &seq), -ENOBUFS);
	CU_ASSERT_EQUAL(migdp_tx_inflight(tx), 8);
	CU_ASSERT_EQUAL(migdp_tx_cookie(tx, NEAR_WRAP + 7), 107);
	/* A cumulative ack across the wrap frees part of the window. */
	a = ack_of(NEAR_WRAP + 7, 0);
	CU_ASSERT_EQUAL(migdp_tx_on_ack(tx, 1 * MS, &a, on_release, &rel), 0);
	CU_ASSERT_EQUAL(rel.n, 7);
	CU_ASSERT_EQUAL(rel.seq[6], 0);	/* NEAR_WRAP + 6 wrapped to 0 */
	CU_ASSERT_EQUAL(migdp_tx_inflight(tx), 1);
	CU_ASSERT_EQUAL(migdp_tx_send(tx, 1 * MS, 9, FRAME, &seq), 0);
	CU_ASSERT_EQUAL(seq, 2);
	a = ack_of(3, 0);
	CU_ASSERT_EQUAL(migdp_tx_on_ack(tx, 2 * MS, &a, on_release, &rel), 0);
	CU_ASSERT_EQUAL(migdp_tx_inflight(tx), 0);
	CU_ASSERT_EQUAL(rel.n, 9);
	CU_ASSERT_EQUAL(tx->stats.acked, 9);
	/* Every cookie released exactly once. */
	CU_ASSERT_EQUAL(rel.cookie_sum, 100 + 101 + 102 + 103 + 104 + 105 +
			106 + 107 + 9);
	free(tx);
}

static void
test_invalid_acks(void)
{
	struct migdp_tx *tx = tx_new(64, NEAR_WRAP);
	struct released rel = { 0 };
	struct migdp_ack a;

	send_n(tx, 10, 0);
	a = ack_of(NEAR_WRAP + 11, 0);		/* beyond what was sent */
	CU_ASSERT_EQUAL(migdp_tx_on_ack(tx, 0, &a, on_release, &rel), -EINVAL);
	a = ack_of(NEAR_WRAP + 4, 0);
	CU_ASSERT_EQUAL(migdp_tx_on_ack(tx, 0, &a, on_release, &rel), 0);
	a = ack_of(NEAR_WRAP + 3, 0);		/* behind: stale */
	CU_ASSERT_EQUAL(migdp_tx_on_ack(tx, 0, &a, on_release, &rel), -EINVAL);
	CU_ASSERT_EQUAL(tx->stats.acks_invalid, 2);
	/* A SACK block past nxt is ignored and counted. */
	a = ack_of(NEAR_WRAP + 4, 0);
	add_sack(&a, NEAR_WRAP + 8, NEAR_WRAP + 12);
	CU_ASSERT_EQUAL(migdp_tx_on_ack(tx, 0, &a, on_release, &rel), 0);
	CU_ASSERT_EQUAL(tx->stats.sacks_invalid, 1);
	CU_ASSERT_EQUAL(rel.n, 4);
	free(tx);
}

static void
test_sack_marks(void)
{
	struct migdp_tx *tx = tx_new(64, NEAR_WRAP);
	struct released rel = { 0 };
	struct migdp_ack a = ack_of(NEAR_WRAP, 0);
	uint32_t s0 = NEAR_WRAP;

	send_n(tx, 12, 0);
	add_sack(&a, s0 + 2, s0 + 4);
	add_sack(&a, s0 + 6, s0 + 7);	/* s0 + 6 == 0 */
	CU_ASSERT_EQUAL(migdp_tx_on_ack(tx, 0, &a, on_release, &rel), 0);
	CU_ASSERT_EQUAL(rel.n, 3);
	CU_ASSERT_EQUAL(rel.seq[0], s0 + 2);
	CU_ASSERT_EQUAL(rel.seq[1], s0 + 3);
	CU_ASSERT_EQUAL(rel.seq[2], 0);
	CU_ASSERT_EQUAL(migdp_tx_cookie(tx, s0 + 2), 0);
	CU_ASSERT_EQUAL(migdp_tx_cookie(tx, s0 + 1), 101);
	CU_ASSERT_EQUAL(migdp_tx_cookie(tx, s0 + 4), 104);
	CU_ASSERT_EQUAL(migdp_tx_inflight(tx), 12);	/* una has not moved */
	/* The same blocks again release nothing twice; a block reaching
	 * below una is clipped to it. */
	a.cum_ack = s0 + 1;
	add_sack(&a, s0, s0 + 5);
	CU_ASSERT_EQUAL(migdp_tx_on_ack(tx, 0, &a, on_release, &rel), 0);
	CU_ASSERT_EQUAL(rel.n, 6);	/* + s0 (cum), s0 + 1, s0 + 4 */
	CU_ASSERT_EQUAL(rel.seq[3], s0);
	CU_ASSERT_EQUAL(rel.seq[4], s0 + 1);
	CU_ASSERT_EQUAL(rel.seq[5], s0 + 4);
	CU_ASSERT_EQUAL(tx->stats.sacked, 5);
	CU_ASSERT_EQUAL(tx->stats.acked, 1);
	/* The cumulative ack passing SACKed frames releases only the rest. */
	a = ack_of(s0 + 7, 0);
	CU_ASSERT_EQUAL(migdp_tx_on_ack(tx, 0, &a, on_release, &rel), 0);
	CU_ASSERT_EQUAL(rel.n, 7);	/* + s0 + 5 */
	CU_ASSERT_EQUAL(rel.seq[6], s0 + 5);
	CU_ASSERT_EQUAL(migdp_tx_inflight(tx), 5);
	free(tx);
}

static void
test_fast_retransmit(void)
{
	struct migdp_tx *tx = tx_new(64, NEAR_WRAP);
	struct migdp_ack a;
	uint32_t s0 = NEAR_WRAP, due[16];

	send_n(tx, 10, 0);
	/* Two frames above a hole: reordering, not loss. */
	a = ack_of(s0, 0);
	add_sack(&a, s0 + 1, s0 + 3);
	CU_ASSERT_EQUAL(migdp_tx_on_ack(tx, 1 * MS, &a, NULL, NULL), 0);
	CU_ASSERT_EQUAL(migdp_tx_due(tx, 1 * MS, due, 16), 0);
	/* The third: s0 is lost, s0 + 4 (above every SACK) is not. */
	a = ack_of(s0, 0);
	add_sack(&a, s0 + 3, s0 + 4);
	CU_ASSERT_EQUAL(migdp_tx_on_ack(tx, 1 * MS, &a, NULL, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(migdp_tx_due(tx, 1 * MS, due, 16), 1);
	CU_ASSERT_EQUAL(due[0], s0);
	/* Due until resent; once resent, not again on further SACKs. */
	CU_ASSERT_EQUAL(migdp_tx_due(tx, 1 * MS, due, 16), 1);
	CU_ASSERT_EQUAL(migdp_tx_retransmitted(tx, s0, 1 * MS), 0);
	CU_ASSERT_EQUAL(tx->stats.retx_fast, 1);
	a = ack_of(s0, 0);
	add_sack(&a, s0 + 4, s0 + 7);
	CU_ASSERT_EQUAL(migdp_tx_on_ack(tx, 2 * MS, &a, NULL, NULL), 0);
	CU_ASSERT_EQUAL(migdp_tx_due(tx, 2 * MS, due, 16), 0);
	/* Several holes under enough SACKs: all lost, oldest first. The
	 * cumulative ack echoes the resend of s0 (it was needed). */
	a = ack_of(s0 + 7, migdp_tstamp(1 * MS));
	CU_ASSERT_EQUAL(migdp_tx_on_ack(tx, 2 * MS, &a, NULL, NULL), 0);
	send_n(tx, 10, 2 * MS);		/* s0 + 10 .. s0 + 19 */
	a = ack_of(s0 + 7, 0);
	add_sack(&a, s0 + 10, s0 + 11);
	add_sack(&a, s0 + 13, s0 + 16);
	CU_ASSERT_EQUAL(migdp_tx_on_ack(tx, 3 * MS, &a, NULL, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(migdp_tx_due(tx, 3 * MS, due, 16), 5);
	CU_ASSERT_EQUAL(due[0], s0 + 7);
	CU_ASSERT_EQUAL(due[1], s0 + 8);
	CU_ASSERT_EQUAL(due[2], s0 + 9);
	CU_ASSERT_EQUAL(due[3], s0 + 11);
	CU_ASSERT_EQUAL(due[4], s0 + 12);
	/* max bounds the answer. */
	CU_ASSERT_EQUAL(migdp_tx_due(tx, 3 * MS, due, 2), 2);
	CU_ASSERT_EQUAL(migdp_tx_retransmitted(tx, s0 + 13, 3 * MS), -ENOENT);
	free(tx);
}

static void
test_rto_backoff(void)
{
	struct migdp_tx *tx = tx_new(16, NEAR_WRAP);
	uint32_t due[4];
	uint64_t t = 0, to = 10 * MS;
	unsigned i;

	send_n(tx, 1, 0);
	CU_ASSERT_EQUAL(migdp_tx_due(tx, to - 1, due, 4), 0);
	/* Each retransmission doubles the timeout, up to rto_max. */
	for (i = 0; i < 10; i++) {
		t += to;
		CU_ASSERT_EQUAL(migdp_tx_due(tx, t - 1, due, 4), 0);
		CU_ASSERT_EQUAL_FATAL(migdp_tx_due(tx, t, due, 4), 1);
		CU_ASSERT_EQUAL(due[0], NEAR_WRAP);
		CU_ASSERT_EQUAL(migdp_tx_retransmitted(tx, NEAR_WRAP, t), 0);
		to = RTE_MIN(2 * to, 1000 * MS);
	}
	CU_ASSERT_EQUAL(tx->stats.retx_timeout, 10);
	CU_ASSERT_EQUAL(tx->stats.retx_fast, 0);
	/* A later, never-resent frame times out on its own clock; the scan
	 * still finds the resent one before it. */
	send_n(tx, 1, t);
	CU_ASSERT_EQUAL(migdp_tx_due(tx, t + 10 * MS, due, 4), 1);
	CU_ASSERT_EQUAL(due[0], NEAR_WRAP + 1);
	CU_ASSERT_EQUAL(migdp_tx_due(tx, t + 1000 * MS, due, 4), 2);
	free(tx);
}

static void
test_rtt(void)
{
	struct migdp_tx *tx = tx_new(16, 0);
	struct migdp_ack a;
	uint64_t t0 = 1000 * MS;
	uint32_t seq;

	CU_ASSERT_EQUAL(migdp_tx_rto(tx), 10 * MS);
	CU_ASSERT_EQUAL(migdp_tx_send(tx, t0, 0, FRAME, &seq), 0);
	a = ack_of(1, migdp_tstamp(t0));
	CU_ASSERT_EQUAL(migdp_tx_on_ack(tx, t0 + 5 * MS, &a, NULL, NULL), 0);
	/* First sample R: SRTT = R, RTTVAR = R/2, RTO = SRTT + 4 RTTVAR. */
	CU_ASSERT_EQUAL(tx->srtt_ns, 5 * MS);
	CU_ASSERT_EQUAL(migdp_tx_rto(tx), 15 * MS);
	CU_ASSERT_EQUAL(migdp_tx_send(tx, t0, 0, FRAME, &seq), 0);
	a = ack_of(2, migdp_tstamp(t0));
	CU_ASSERT_EQUAL(migdp_tx_on_ack(tx, t0 + 5 * MS, &a, NULL, NULL), 0);
	/* RTTVAR = 3/4 * 2.5 ms, SRTT stays: 5 + 4 * 1.875 = 12.5 ms. */
	CU_ASSERT_EQUAL(migdp_tx_rto(tx), 12500 * US);
	/* Tiny RTTs are held at rto_min. */
	while (tx->stats.rtt_samples < 40) {
		CU_ASSERT_EQUAL_FATAL(migdp_tx_send(tx, t0, 0, FRAME, &seq), 0);
		a = ack_of(seq + 1, migdp_tstamp(t0));
		CU_ASSERT_EQUAL(migdp_tx_on_ack(tx, t0 + 10 * US, &a, NULL,
						NULL), 0);
	}
	CU_ASSERT_EQUAL(migdp_tx_rto(tx), 1 * MS);
	/* An echo from the future is not a sample; neither is an ack that
	 * releases nothing. */
	CU_ASSERT_EQUAL(migdp_tx_send(tx, t0, 0, FRAME, &seq), 0);
	a = ack_of(seq + 1, migdp_tstamp(t0 + 50 * MS));
	CU_ASSERT_EQUAL(migdp_tx_on_ack(tx, t0, &a, NULL, NULL), 0);
	CU_ASSERT_EQUAL(tx->stats.rtt_bogus, 1);
	CU_ASSERT_EQUAL(migdp_tx_on_ack(tx, t0, &a, NULL, NULL), 0);
	CU_ASSERT_EQUAL(tx->stats.rtt_samples, 40);
	/* The microsecond clock wraps every 71 minutes: samples still right. */
	t0 = (1ull << 32) * US - 2 * MS;
	CU_ASSERT_EQUAL(migdp_tx_send(tx, t0, 0, FRAME, &seq), 0);
	a = ack_of(seq + 1, migdp_tstamp(t0));
	CU_ASSERT_EQUAL(migdp_tx_on_ack(tx, t0 + 4 * MS, &a, NULL, NULL), 0);
	CU_ASSERT_EQUAL(tx->stats.rtt_samples, 41);
	CU_ASSERT(tx->srtt_ns > 10 * US && tx->srtt_ns < 4 * MS);
	free(tx);
}

static void
test_bytes_and_cwnd(void)
{
	struct migdp_tx *off = tx_new(64, 0), *on = tx_new_cc(1024, 0);
	struct migdp_ack a;
	uint32_t seq;
	unsigned n = 0;

	/* Without cc: the frame window alone; bytes are counted all the
	 * same, and a frame marked lost leaves the bytes in flight. */
	CU_ASSERT_PTR_NULL(migdp_tx_cc(off));
	send_n(off, 10, 0);
	CU_ASSERT_EQUAL(migdp_tx_inflight_bytes(off), 10 * FRAME);
	a = ack_of(0, 0);
	add_sack(&a, 1, 5);
	CU_ASSERT_EQUAL(migdp_tx_on_ack(off, 1 * MS, &a, NULL, NULL), 0);
	CU_ASSERT_EQUAL(off->nlost, 1);
	CU_ASSERT_EQUAL(migdp_tx_inflight_bytes(off), 5 * FRAME);
	CU_ASSERT_EQUAL(migdp_tx_retransmitted(off, 0, 1 * MS), 0);
	CU_ASSERT_EQUAL(migdp_tx_inflight_bytes(off), 6 * FRAME);
	a = ack_of(10, migdp_tstamp(1 * MS));
	CU_ASSERT_EQUAL(migdp_tx_on_ack(off, 2 * MS, &a, NULL, NULL), 0);
	CU_ASSERT_EQUAL(migdp_tx_inflight_bytes(off), 0);
	migdp_tx_app_limited(off);	/* no-op */
	/* With cc: the initial window, 32 frames, bounds the bytes first. */
	CU_ASSERT_PTR_NOT_NULL_FATAL(migdp_tx_cc(on));
	while (!migdp_tx_window_full(on))
		CU_ASSERT_EQUAL_FATAL(migdp_tx_send(on, 0, n++, FRAME, &seq), 0);
	CU_ASSERT_EQUAL(n, 32);
	CU_ASSERT_EQUAL(migdp_tx_send(on, 0, 0, FRAME, &seq), -ENOBUFS);
	/* Every release feeds the cc: one ACK, one rate sample; the window
	 * grows by what was delivered (startup). */
	a = ack_of(16, 0);
	CU_ASSERT_EQUAL(migdp_tx_on_ack(on, 1 * MS, &a, NULL, NULL), 0);
	CU_ASSERT_EQUAL(on->cc.delivered, 16 * FRAME);
	CU_ASSERT_EQUAL(on->cc.stats.rate_samples, 1);
	CU_ASSERT_EQUAL(migdp_cc_min_rtt_ns(migdp_tx_cc(on)), 1 * MS);
	CU_ASSERT_EQUAL(migdp_cc_cwnd_bytes(migdp_tx_cc(on)), 48 * FRAME);
	CU_ASSERT_FALSE(migdp_tx_window_full(on));
	/* App-limited: frames sent now carry the mark in their snapshot. */
	migdp_tx_app_limited(on);
	CU_ASSERT_EQUAL(migdp_tx_send(on, 1 * MS, 0, FRAME, &seq), 0);
	CU_ASSERT(on->slots[seq & on->mask].snap.app_limited);
	CU_ASSERT_EQUAL(on->cc.stats.app_limited, 1);
	free(off);
	free(on);
}

/* RTT of 200 us established on @p tx (four frames sent at @p t, acked). */
static void
establish_rtt(struct migdp_tx *tx, uint64_t t)
{
	struct migdp_ack a;

	send_n(tx, 4, t);
	a = ack_of(tx->nxt, migdp_tstamp(t));
	CU_ASSERT_EQUAL_FATAL(migdp_tx_on_ack(tx, t + 200 * US, &a, NULL,
					      NULL), 0);
}

static void
test_spurious_rto(void)
{
	struct migdp_tx *tx = tx_new_cc(64, NEAR_WRAP);
	const uint64_t t0 = 1 * MS, spike = 5 * MS;
	uint64_t cwnd, t1;
	uint32_t due[16], s0;
	struct migdp_ack a;

	establish_rtt(tx, 0);
	CU_ASSERT_EQUAL(migdp_tx_rto(tx), 1 * MS);	/* the floor */
	s0 = tx->nxt;
	send_n(tx, 8, t0);
	cwnd = migdp_cc_cwnd_bytes(migdp_tx_cc(tx));
	/* A delay spike: no ACK for 5 ms. All 8 time out after 1 ms, but only
	 * the oldest goes, as a probe; its resend enters the loss response. */
	CU_ASSERT_EQUAL_FATAL(migdp_tx_due(tx, t0 + 1 * MS, due, 16), 1);
	CU_ASSERT_EQUAL(due[0], s0);
	CU_ASSERT_EQUAL(migdp_tx_retransmitted(tx, s0, t0 + 1 * MS), 0);
	CU_ASSERT(tx->probing);
	CU_ASSERT_EQUAL(migdp_cc_cwnd_bytes(migdp_tx_cc(tx)), 4 * FRAME);
	CU_ASSERT_EQUAL(migdp_tx_due(tx, t0 + 2 * MS, due, 16), 0);
	/* The originals' ACK: its echo predates the resend. */
	a = ack_of(s0 + 8, migdp_tstamp(t0));
	CU_ASSERT_EQUAL(migdp_tx_on_ack(tx, t0 + spike, &a, NULL, NULL), 0);
	CU_ASSERT_EQUAL(tx->stats.retx_timeout, 1);
	CU_ASSERT_EQUAL(tx->stats.retx_spurious, 1);
	CU_ASSERT_EQUAL(tx->stats.spurious_rto, 1);
	/* Response: the window is back (undo), nothing else was resent, and
	 * the floor is twice the late frame's age, so the same spike does not
	 * fire again. */
	CU_ASSERT_FALSE(tx->probing);
	CU_ASSERT_EQUAL(tx->cc.stats.rto_undone, 1);
	CU_ASSERT(migdp_cc_cwnd_bytes(migdp_tx_cc(tx)) >= cwnd);
	CU_ASSERT_EQUAL(tx->rto_floor_ns, 2 * spike);
	CU_ASSERT_EQUAL(migdp_tx_rto(tx), 2 * spike);
	t1 = t0 + spike + 1 * MS;
	s0 = tx->nxt;
	send_n(tx, 8, t1);
	CU_ASSERT_EQUAL(migdp_tx_due(tx, t1 + spike, due, 16), 0);
	a = ack_of(s0 + 8, migdp_tstamp(t1));
	CU_ASSERT_EQUAL(migdp_tx_on_ack(tx, t1 + spike, &a, NULL, NULL), 0);
	CU_ASSERT_EQUAL(tx->stats.retx_timeout, 1);
	CU_ASSERT_EQUAL(tx->stats.retx_spurious, 1);
	/* Without further spurious timeouts the floor decays, halving its
	 * excess over rto_min each second. */
	t1 += 1100 * MS;
	send_n(tx, 1, t1);
	a = ack_of(tx->nxt, migdp_tstamp(t1));
	CU_ASSERT_EQUAL(migdp_tx_on_ack(tx, t1 + 200 * US, &a, NULL, NULL), 0);
	CU_ASSERT_EQUAL(tx->rto_floor_ns, 1 * MS + (2 * spike - 1 * MS) / 2);
	free(tx);
}

static void
test_rto_probe_lost(void)
{
	struct migdp_tx *tx = tx_new_cc(64, 0);
	uint32_t due[16], s0, i;
	struct migdp_ack a;
	uint64_t t0 = 1 * MS, cwnd;

	establish_rtt(tx, 0);
	s0 = tx->nxt;
	send_n(tx, 8, t0);
	cwnd = migdp_cc_cwnd_bytes(migdp_tx_cc(tx));
	CU_ASSERT_EQUAL_FATAL(migdp_tx_due(tx, t0 + 1 * MS, due, 16), 1);
	CU_ASSERT_EQUAL(migdp_tx_retransmitted(tx, s0, t0 + 1 * MS), 0);
	/* The ACK echoes the resend: the probe was needed, the path loses:
	 * every timed-out frame goes now. */
	a = ack_of(s0 + 1, migdp_tstamp(t0 + 1 * MS));
	CU_ASSERT_EQUAL(migdp_tx_on_ack(tx, t0 + 1200 * US, &a, NULL, NULL), 0);
	CU_ASSERT_EQUAL(tx->stats.retx_spurious, 0);
	CU_ASSERT_EQUAL_FATAL(migdp_tx_due(tx, t0 + 1200 * US, due, 16), 7);
	for (i = 0; i < 7; i++) {
		CU_ASSERT_EQUAL(due[i], s0 + 1 + i);
		migdp_tx_retransmitted(tx, due[i], t0 + 1200 * US);
	}
	/* Loss response until all that was out at the time is recovered. */
	CU_ASSERT(tx->cc.in_loss);
	a = ack_of(s0 + 8, migdp_tstamp(t0 + 1200 * US));
	CU_ASSERT_EQUAL(migdp_tx_on_ack(tx, t0 + 1400 * US, &a, NULL, NULL), 0);
	CU_ASSERT_FALSE(tx->cc.in_loss);
	CU_ASSERT_EQUAL(tx->cc.stats.rto_undone, 0);
	CU_ASSERT(migdp_cc_cwnd_bytes(migdp_tx_cc(tx)) >= cwnd);
	CU_ASSERT_EQUAL(tx->rto_floor_ns, 1 * MS);
	free(tx);
}

static void
test_spurious_fast(void)
{
	struct migdp_tx *tx = tx_new(64, NEAR_WRAP);
	uint32_t s0 = NEAR_WRAP, due[16];
	struct migdp_ack a;

	send_n(tx, 10, 0);
	a = ack_of(s0, 0);
	add_sack(&a, s0 + 1, s0 + 4);
	CU_ASSERT_EQUAL(migdp_tx_on_ack(tx, 1 * MS, &a, NULL, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(migdp_tx_due(tx, 1 * MS, due, 16), 1);
	CU_ASSERT_EQUAL(migdp_tx_retransmitted(tx, s0, 1 * MS), 0);
	/* s0 was only late: the cumulative ack echoes a stamp older than
	 * its resend. Four frames overtook it: wait for five from now on,
	 * and for longer by time. */
	a = ack_of(s0 + 10, migdp_tstamp(0));
	CU_ASSERT_EQUAL(migdp_tx_on_ack(tx, 2 * MS, &a, NULL, NULL), 0);
	CU_ASSERT_EQUAL(tx->stats.retx_spurious, 1);
	CU_ASSERT_EQUAL(tx->stats.spurious_rto, 0);
	CU_ASSERT_EQUAL(tx->stats.dupthresh_raised, 1);
	CU_ASSERT_EQUAL(tx->dupthresh, 5);
	CU_ASSERT_EQUAL(tx->reo_shift, 1);
	send_n(tx, 10, 2 * MS);		/* s0 + 10 .. s0 + 19 */
	a = ack_of(s0 + 10, migdp_tstamp(2 * MS));
	add_sack(&a, s0 + 11, s0 + 15);
	CU_ASSERT_EQUAL(migdp_tx_on_ack(tx, 3 * MS, &a, NULL, NULL), 0);
	CU_ASSERT_EQUAL(migdp_tx_due(tx, 3 * MS, due, 16), 0);
	add_sack(&a, s0 + 15, s0 + 16);
	CU_ASSERT_EQUAL(migdp_tx_on_ack(tx, 3 * MS, &a, NULL, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(migdp_tx_due(tx, 3 * MS, due, 16), 1);
	CU_ASSERT_EQUAL(due[0], s0 + 10);
	free(tx);
}

static void
test_lost_retransmission(void)
{
	struct migdp_tx *tx = tx_new(64, 0);
	uint32_t due[16];
	struct migdp_ack a;
	unsigned n, i;
	bool found = false;

	send_n(tx, 10, 0);
	a = ack_of(0, migdp_tstamp(0));
	add_sack(&a, 1, 5);
	CU_ASSERT_EQUAL(migdp_tx_on_ack(tx, 200 * US, &a, NULL, NULL), 0);
	CU_ASSERT_EQUAL(tx->srtt_ns, 200 * US);
	CU_ASSERT_EQUAL_FATAL(migdp_tx_due(tx, 200 * US, due, 16), 1);
	CU_ASSERT_EQUAL(migdp_tx_retransmitted(tx, 0, 200 * US), 0);
	/* The resend is lost too; frames sent 100 us after it arrive. By
	 * time (RACK), it is lost: resent again long before its RTO. */
	send_n(tx, 2, 300 * US);	/* 10, 11 */
	a = ack_of(0, migdp_tstamp(300 * US));
	add_sack(&a, 10, 12);
	CU_ASSERT_EQUAL(migdp_tx_on_ack(tx, 500 * US, &a, NULL, NULL), 0);
	n = migdp_tx_due(tx, 500 * US, due, 16);
	for (i = 0; i < n; i++)
		found |= due[i] == 0;
	CU_ASSERT(found);
	CU_ASSERT(500 * US < 200 * US + migdp_tx_rto(tx));
	CU_ASSERT_EQUAL(migdp_tx_retransmitted(tx, 0, 500 * US), 0);
	CU_ASSERT_EQUAL(tx->stats.retx_fast, 2);
	free(tx);
}

/* ---- receiver ---------------------------------------------------------- */

static enum migdp_rx_class
rcv(struct migdp_rx *rx, uint32_t seq)
{
	uint64_t ext;

	return migdp_rx_receive(rx, 0, seq, seq * 10, 0, &ext);
}

static void
test_rx_classify(void)
{
	struct migdp_rx *rx = rx_new(64, 16, NEAR_WRAP);
	uint64_t e1, e2;
	unsigned i;

	CU_ASSERT_EQUAL(rcv(rx, NEAR_WRAP), MIGDP_RX_NEW);
	CU_ASSERT_EQUAL(rcv(rx, NEAR_WRAP), MIGDP_RX_DUP);
	CU_ASSERT_EQUAL(migdp_rx_cum(rx), NEAR_WRAP + 1);
	/* Window edge: next + 63 is in, next + 64 is ahead. */
	CU_ASSERT_EQUAL(rcv(rx, NEAR_WRAP + 1 + 64), MIGDP_RX_AHEAD);
	CU_ASSERT_EQUAL(rcv(rx, NEAR_WRAP + 1 + 63), MIGDP_RX_NEW);
	CU_ASSERT_EQUAL(rcv(rx, NEAR_WRAP + 1 + 63), MIGDP_RX_DUP);
	CU_ASSERT_EQUAL(migdp_rx_cum(rx), NEAR_WRAP + 1);
	/* Fill up to it across the wrap: cum jumps past it. */
	for (i = 1; i < 64; i++)
		CU_ASSERT_EQUAL(rcv(rx, NEAR_WRAP + i), MIGDP_RX_NEW);
	CU_ASSERT_EQUAL(migdp_rx_cum(rx), NEAR_WRAP + 65);
	/* Behind: within a window = duplicate, further = too old. */
	CU_ASSERT_EQUAL(rcv(rx, NEAR_WRAP + 1), MIGDP_RX_DUP);
	CU_ASSERT_EQUAL(rcv(rx, NEAR_WRAP), MIGDP_RX_OLD);
	CU_ASSERT_EQUAL(rcv(rx, NEAR_WRAP + 65 + 0x80000000u), MIGDP_RX_OLD);
	CU_ASSERT_EQUAL(rx->stats.new_frames, 65);
	CU_ASSERT_EQUAL(rx->stats.dups, 3);
	CU_ASSERT_EQUAL(rx->stats.old, 2);
	CU_ASSERT_EQUAL(rx->stats.ahead, 1);
	/* Extended sequences grow across the wrap. */
	migdp_rx_receive(rx, 0, NEAR_WRAP + 66, 0, 0, &e2);
	migdp_rx_receive(rx, 0, NEAR_WRAP + 1, 0, 0, &e1);
	CU_ASSERT(e2 > e1);
	CU_ASSERT_EQUAL(e2 - e1, 65);
	free(rx);
}

static void
test_rx_sack(void)
{
	struct migdp_rx *rx = rx_new(256, 16, NEAR_WRAP);
	static const unsigned got[] = { 0, 1, 3, 4, 6, 9, 8 };
	struct migdp_ack a;
	unsigned i;

	for (i = 0; i < RTE_DIM(got); i++)
		CU_ASSERT_EQUAL(rcv(rx, NEAR_WRAP + got[i]), MIGDP_RX_NEW);
	migdp_rx_make_ack(rx, &a, MIGDP_MAX_SACK);
	CU_ASSERT_EQUAL(a.cum_ack, NEAR_WRAP + 2);
	/* The newest stamp since the last ack (9's), not the last arrival's. */
	CU_ASSERT_EQUAL(a.ts_echo, (NEAR_WRAP + 9) * 10);
	CU_ASSERT_EQUAL_FATAL(a.nsack, 3);
	/* The block of the latest arrival first, then from the top down. */
	CU_ASSERT_EQUAL(a.sack[0].start, NEAR_WRAP + 8);
	CU_ASSERT_EQUAL(a.sack[0].end, NEAR_WRAP + 10);
	CU_ASSERT_EQUAL(a.sack[1].start, NEAR_WRAP + 6);
	CU_ASSERT_EQUAL(a.sack[1].end, NEAR_WRAP + 7);
	CU_ASSERT_EQUAL(a.sack[2].start, NEAR_WRAP + 3);
	CU_ASSERT_EQUAL(a.sack[2].end, NEAR_WRAP + 5);
	/* Latest arrival in a middle block; and max_sack respected. */
	CU_ASSERT_EQUAL(rcv(rx, NEAR_WRAP + 7), MIGDP_RX_NEW);
	migdp_rx_make_ack(rx, &a, 1);
	CU_ASSERT_EQUAL_FATAL(a.nsack, 1);
	CU_ASSERT_EQUAL(a.sack[0].start, NEAR_WRAP + 6);
	CU_ASSERT_EQUAL(a.sack[0].end, NEAR_WRAP + 10);
	migdp_rx_make_ack(rx, &a, MIGDP_MAX_SACK);
	CU_ASSERT_EQUAL(a.nsack, 2);
	/* Holes filled: no blocks. */
	CU_ASSERT_EQUAL(rcv(rx, NEAR_WRAP + 2), MIGDP_RX_NEW);
	CU_ASSERT_EQUAL(rcv(rx, NEAR_WRAP + 5), MIGDP_RX_NEW);
	migdp_rx_make_ack(rx, &a, MIGDP_MAX_SACK);
	CU_ASSERT_EQUAL(a.cum_ack, NEAR_WRAP + 10);
	CU_ASSERT_EQUAL(a.nsack, 0);
	/* Many holes: the first MIGDP_MAX_SACK blocks reported. */
	for (i = 0; i < 40; i++)
		rcv(rx, NEAR_WRAP + 11 + 2 * i);
	migdp_rx_make_ack(rx, &a, MIGDP_MAX_SACK);
	CU_ASSERT_EQUAL(a.nsack, MIGDP_MAX_SACK);
	CU_ASSERT_EQUAL(a.sack[0].start, NEAR_WRAP + 11 + 2 * 39);
	CU_ASSERT_EQUAL(a.sack[1].start, NEAR_WRAP + 11 + 2 * 38);
	free(rx);
}

static void
test_rx_ack_due(void)
{
	struct migdp_rx *rx = rx_new(64, 4, 100);
	struct migdp_ack a;
	uint64_t ext;

	CU_ASSERT_FALSE(migdp_rx_ack_due(rx, 0));
	migdp_rx_receive(rx, 10 * US, 100, 0, 0, &ext);
	migdp_rx_receive(rx, 10 * US, 101, 0, 0, &ext);
	migdp_rx_receive(rx, 10 * US, 102, 0, 0, &ext);
	CU_ASSERT_FALSE(migdp_rx_ack_due(rx, 10 * US));
	/* ... until the delay since the first unacked frame expires. */
	CU_ASSERT(migdp_rx_ack_due(rx, 110 * US));
	migdp_rx_receive(rx, 20 * US, 103, 0, 0, &ext);
	CU_ASSERT(migdp_rx_ack_due(rx, 20 * US));	/* every 4th */
	migdp_rx_make_ack(rx, &a, 4);
	CU_ASSERT_FALSE(migdp_rx_ack_due(rx, 1000 * US));
	/* Out of order: at once. */
	migdp_rx_receive(rx, 1000 * US, 105, 0, 0, &ext);
	CU_ASSERT(migdp_rx_ack_due(rx, 1000 * US));
	migdp_rx_make_ack(rx, &a, 4);
	/* Filling the hole: at once. */
	migdp_rx_receive(rx, 1000 * US, 104, 0, 0, &ext);
	CU_ASSERT(migdp_rx_ack_due(rx, 1000 * US));
	migdp_rx_make_ack(rx, &a, 4);
	/* A duplicate: at once (our ack may have been lost). */
	CU_ASSERT_EQUAL(migdp_rx_receive(rx, 1000 * US, 104, 0, 0, &ext),
			MIGDP_RX_DUP);
	CU_ASSERT(migdp_rx_ack_due(rx, 1000 * US));
	migdp_rx_make_ack(rx, &a, 4);
	/* The sender asks for it. */
	migdp_rx_receive(rx, 1000 * US, 106, 0, MIGDP_F_ACK_NOW, &ext);
	CU_ASSERT(migdp_rx_ack_due(rx, 1000 * US));
	CU_ASSERT_EQUAL(rx->stats.acks, 4);
	free(rx);
}

static void
test_rx_echo(void)
{
	struct migdp_rx *rx = rx_new(64, 16, 0xfffffff0u);
	struct migdp_ack a;
	uint64_t ext;

	/* The newest stamp of the frames new since the last ack, wrap-aware
	 * (the microsecond clock wraps too). */
	migdp_rx_receive(rx, 0, 0xfffffff0u, 0xfffffff0u, 0, &ext);
	migdp_rx_receive(rx, 0, 0xfffffff2u, 5, 0, &ext);
	migdp_rx_receive(rx, 0, 0xfffffff1u, 0xfffffff8u, 0, &ext);
	migdp_rx_make_ack(rx, &a, MIGDP_MAX_SACK);
	CU_ASSERT_EQUAL(a.ts_echo, 5);
	/* A new batch starts from its own first frame, even older... */
	migdp_rx_receive(rx, 0, 0xfffffff4u, 3, 0, &ext);
	/* ... and a duplicate (a resend whose original arrived) does not
	 * count: the echo must show the original's stamp. */
	CU_ASSERT_EQUAL(migdp_rx_receive(rx, 0, 0xfffffff2u, 900, 0, &ext),
			MIGDP_RX_DUP);
	migdp_rx_make_ack(rx, &a, MIGDP_MAX_SACK);
	CU_ASSERT_EQUAL(a.ts_echo, 3);
	/* A resend that fills a hole is new: its fresh stamp is echoed even
	 * if an older original arrives after it in the same batch. */
	migdp_rx_receive(rx, 0, 0xfffffff3u, 1000, MIGDP_F_RETRANSMIT, &ext);
	migdp_rx_receive(rx, 0, 0xfffffff6u, 10, 0, &ext);
	migdp_rx_make_ack(rx, &a, MIGDP_MAX_SACK);
	CU_ASSERT_EQUAL(a.ts_echo, 1000);
	/* Nothing new: the previous echo again. */
	migdp_rx_receive(rx, 0, 0xfffffff6u, 2000, 0, &ext);
	migdp_rx_make_ack(rx, &a, MIGDP_MAX_SACK);
	CU_ASSERT_EQUAL(a.ts_echo, 1000);
	free(rx);
}

/* ---- version table ----------------------------------------------------- */

static void
test_vtab(void)
{
	struct migdp_vtab *vt = migdp_vtab_init(malloc(migdp_vtab_memsize(8)),
						 8);
	struct migdp_rx *rx = rx_new(64, 16, 0xfffffff0u);
	uint64_t before, after, frag;

	CU_ASSERT_PTR_NOT_NULL_FATAL(vt);
	/* Frames on both sides of the 32-bit wrap, extended by the rx. */
	migdp_rx_receive(rx, 0, 0xfffffff5u, 0, 0, &before);
	migdp_rx_receive(rx, 0, 0x00000003u, 0, 0, &after);
	CU_ASSERT(after > before);
	CU_ASSERT(migdp_vtab_should_apply(vt, 2, before));
	CU_ASSERT_FALSE(migdp_vtab_should_apply(vt, 2, before)); /* equal */
	CU_ASSERT(migdp_vtab_should_apply(vt, 2, after));
	CU_ASSERT_FALSE(migdp_vtab_should_apply(vt, 2, before)); /* older */
	CU_ASSERT_FALSE(migdp_vtab_should_apply(vt, 2, after));
	/* Other pages are independent; out of range is refused. */
	CU_ASSERT(migdp_vtab_should_apply(vt, 3, before));
	CU_ASSERT_FALSE(migdp_vtab_should_apply(vt, 8, after + 1));
	/* Fragments of one version all land, in any order; a fragment of an
	 * older version does not; a whole page of the same frame as a
	 * fragment's version is not newer. */
	frag = migdp_rx_frag_version(after + 2, 2);
	CU_ASSERT_EQUAL(frag, after);
	CU_ASSERT(migdp_vtab_should_apply_frag(vt, 5, after + 0));
	CU_ASSERT(migdp_vtab_should_apply_frag(vt, 5, frag));
	CU_ASSERT(migdp_vtab_should_apply_frag(vt, 5, frag));
	CU_ASSERT_FALSE(migdp_vtab_should_apply_frag(vt, 5, before));
	CU_ASSERT_FALSE(migdp_vtab_should_apply(vt, 5, after));
	CU_ASSERT(migdp_vtab_should_apply(vt, 5, after + 1));
	CU_ASSERT_FALSE(migdp_vtab_should_apply_frag(vt, 5, after));
	CU_ASSERT_FALSE(migdp_vtab_should_apply_frag(vt, 9, after + 5));
	/* A page untouched for more than 2^31 frames still compares right
	 * (64-bit extended versions). */
	CU_ASSERT(migdp_vtab_should_apply(vt, 6, before + (1ull << 31) + 7));
	free(vt);
	free(rx);
}

/* ---- pacing ------------------------------------------------------------ */

/* Send @p frame bytes whenever allowed, polling every @p step ns, for one
 * simulated second; return bits sent. */
static uint64_t
pace_one_second(uint64_t rate, uint32_t frame, uint64_t step)
{
	struct migdp_pacer pc;
	uint64_t t, bits = 0;

	CU_ASSERT_EQUAL(migdp_pacer_init(&pc, rate, 4 * frame, 0), 0);
	for (t = 0; t < 1000 * MS; t += step)
		while (migdp_pacer_take(&pc, t, frame))
			bits += 8ull * frame;
	return bits;
}

static void
test_pacer_rate(void)
{
	static const struct { uint64_t rate; uint32_t frame; uint64_t step; }
	cases[] = {
		{ 1000000000ull, 9014, 1 * US },
		{ 10000000000ull, 1514, 200 },
		{ 40000000000ull, 9014, 500 },
		{ 100000000ull, 1514, 50 * US },
		{ 3333333333ull, 777, 3 * US },
	};
	unsigned i;

	for (i = 0; i < RTE_DIM(cases); i++) {
		double bits = pace_one_second(cases[i].rate, cases[i].frame,
					      cases[i].step);
		double err = bits / cases[i].rate - 1.0;

		CU_ASSERT(err > -0.01 && err < 0.01);
	}
}

static void
test_pacer_next(void)
{
	struct migdp_pacer pc;
	uint64_t t;

	/* Unlimited. */
	CU_ASSERT_EQUAL(migdp_pacer_init(&pc, 0, 1, 0), 0);
	CU_ASSERT(migdp_pacer_take(&pc, 0, 1u << 30));
	CU_ASSERT_EQUAL(migdp_pacer_next(&pc, 5, 1000), 5);
	/* 8 Mbit/s = 1 byte per microsecond; bucket of 1000 bytes. */
	CU_ASSERT_EQUAL(migdp_pacer_init(&pc, 8000000, 1000, 0), 0);
	CU_ASSERT(migdp_pacer_take(&pc, 0, 1000));
	CU_ASSERT_FALSE(migdp_pacer_take(&pc, 0, 1));
	t = migdp_pacer_next(&pc, 0, 500);
	CU_ASSERT_EQUAL(t, 500 * US);
	CU_ASSERT_FALSE(migdp_pacer_take(&pc, t - 1, 500));
	CU_ASSERT(migdp_pacer_take(&pc, t, 500));
	/* Idle time fills the bucket only up to its size. */
	CU_ASSERT(migdp_pacer_take(&pc, 10000 * MS, 1000));
	CU_ASSERT_FALSE(migdp_pacer_take(&pc, 10000 * MS, 1));
	/* A frame larger than the bucket waits for a full bucket. */
	CU_ASSERT(migdp_pacer_take(&pc, 10001 * MS, 5000));
	/* Refused sizes. */
	CU_ASSERT_EQUAL(migdp_pacer_init(&pc, 1, 0, 0), -EINVAL);
	CU_ASSERT_EQUAL(migdp_pacer_init(&pc, 1, 4000000000u, 0), -EINVAL);
}

static void
test_pacer_set_rate(void)
{
	struct migdp_pacer pc;
	uint64_t t, bits = 0;

	/* 8 Mbit/s = 1 byte/us, bucket 4000 bytes. */
	CU_ASSERT_EQUAL(migdp_pacer_init(&pc, 8000000, 4000, 0), 0);
	CU_ASSERT(migdp_pacer_take(&pc, 0, 1000));
	/* 16 Mbit/s from 100 us: the 100 bytes earned count at the old rate;
	 * the bucket shrinks to a frame + 20 us at the new rate. */
	migdp_pacer_set_rate(&pc, 16000000, 100 * US);
	CU_ASSERT_EQUAL(pc.cap, (1000 + 40) * 8000000000ull);
	CU_ASSERT_EQUAL(pc.credit, pc.cap);
	CU_ASSERT(migdp_pacer_take(&pc, 100 * US, 1000));
	CU_ASSERT_FALSE(migdp_pacer_take(&pc, 100 * US, 1000));
	CU_ASSERT_EQUAL(migdp_pacer_next(&pc, 100 * US, 1000), 580 * US);
	migdp_pacer_set_rate(&pc, 16000000, 200 * US);	/* unchanged */
	CU_ASSERT(migdp_pacer_take(&pc, 580 * US, 1000));
	/* Unlimited, and back. */
	migdp_pacer_set_rate(&pc, 0, 600 * US);
	CU_ASSERT(migdp_pacer_take(&pc, 600 * US, 1u << 30));
	/* A second at 1 Gb/s then one at 2 Gb/s: 3 Gbit, within 1 %. */
	CU_ASSERT_EQUAL(migdp_pacer_init(&pc, 1000000000ull, 4 * FRAME, 0), 0);
	for (t = 0; t < 2000 * MS; t += 1 * US) {
		migdp_pacer_set_rate(&pc, t < 1000 * MS ? 1000000000ull :
				     2000000000ull, t);
		while (migdp_pacer_take(&pc, t, FRAME))
			bits += 8ull * FRAME;
	}
	CU_ASSERT(bits > 2970000000ull && bits < 3030000000ull);
}

/* ---- liveness ---------------------------------------------------------- */

static void
test_liveness(void)
{
	struct migdp_live l;

	migdp_live_init(&l, 100 * MS);
	CU_ASSERT_FALSE(migdp_live_peer_dead(&l, 100 * MS, 50 * MS));
	CU_ASSERT_FALSE(migdp_live_peer_dead(&l, 149 * MS, 50 * MS));
	CU_ASSERT(migdp_live_peer_dead(&l, 150 * MS, 50 * MS));
	migdp_live_heard(&l, 140 * MS);
	CU_ASSERT_FALSE(migdp_live_peer_dead(&l, 150 * MS, 50 * MS));
	CU_ASSERT_FALSE(migdp_live_peer_dead(&l, 1 * MS, 50 * MS));
	CU_ASSERT_FALSE(migdp_live_keepalive_due(&l, 109 * MS, 10 * MS));
	CU_ASSERT(migdp_live_keepalive_due(&l, 110 * MS, 10 * MS));
	migdp_live_sent(&l, 110 * MS);
	CU_ASSERT_FALSE(migdp_live_keepalive_due(&l, 115 * MS, 10 * MS));
}

/* ---- sender and receiver over a lossy, reordering link ----------------- */

struct pkt {
	uint64_t at;		/* delivery time */
	uint32_t seq;
	uint32_t tstamp;
	struct migdp_ack ack;
	bool is_ack;
};

#define LINK_MAX 20000
static struct pkt link_q[LINK_MAX];
static unsigned link_n;
static uint32_t lcg = 1;

static unsigned
rnd(unsigned n)
{
	lcg = lcg * 1103515245u + 12345u;
	return (lcg >> 8) % n;
}

/* 100 us one-way; 3% lost, 2% duplicated, 2% delayed by up to 50 us more
 * (reordered behind a few hundred frames at most). */
static void
link_put(const struct pkt *p, uint64_t now)
{
	unsigned copies = rnd(100) < 2 ? 2 : 1;

	if (rnd(100) < 3)
		return;
	while (copies-- > 0 && link_n < LINK_MAX) {
		link_q[link_n] = *p;
		link_q[link_n++].at = now + 100 * US +
			(rnd(100) < 2 ? rnd(50) * US : 0);
	}
}

/* The earliest packet due by @p now; FIFO among equals. */
static bool
link_get(uint64_t now, struct pkt *out)
{
	unsigned i, best = 0;

	if (link_n == 0)
		return false;
	for (i = 1; i < link_n; i++)
		if (link_q[i].at < link_q[best].at)
			best = i;
	if (link_q[best].at > now)
		return false;
	*out = link_q[best];
	memmove(&link_q[best], &link_q[best + 1],
		(link_n - best - 1) * sizeof(link_q[0]));
	link_n--;
	return true;
}

static void
test_lossy_link(void)
{
	const uint32_t isn = 0xffffff00u, total = 20000;
	struct migdp_tx *tx = tx_new(256, isn);
	struct migdp_rx *rx = rx_new(256, 8, isn);
	static uint8_t delivered[20000];
	struct released rel = { 0 };
	uint32_t seq, due[64];
	uint64_t now, ext, dups = 0;
	unsigned sent = 0, i, n;
	struct pkt p;

	for (now = 0; now < 10000 * MS; now += 10 * US) {
		while (sent < total && !migdp_tx_window_full(tx)) {
			CU_ASSERT_EQUAL_FATAL(migdp_tx_send(tx, now, sent + 1,
							    FRAME, &seq), 0);
			p = (struct pkt){ .seq = seq, .tstamp = migdp_tstamp(now) };
			link_put(&p, now);
			sent++;
		}
		n = migdp_tx_due(tx, now, due, RTE_DIM(due));
		for (i = 0; i < n; i++) {
			p = (struct pkt){ .seq = due[i],
					  .tstamp = migdp_tstamp(now) };
			link_put(&p, now);
			migdp_tx_retransmitted(tx, due[i], now);
		}
		while (link_get(now, &p)) {
			if (p.is_ack) {
				migdp_tx_on_ack(tx, now, &p.ack, on_release,
						&rel);
				continue;
			}
			if (migdp_rx_receive(rx, now, p.seq, p.tstamp, 0, &ext) ==
			    MIGDP_RX_NEW)
				delivered[(uint32_t)(p.seq - isn)]++;
			else
				dups++;
		}
		if (migdp_rx_ack_due(rx, now)) {
			p = (struct pkt){ .is_ack = true };
			migdp_rx_make_ack(rx, &p.ack, MIGDP_MAX_SACK);
			link_put(&p, now);
		}
		if (sent == total && migdp_tx_inflight(tx) == 0)
			break;
	}
	CU_ASSERT_EQUAL(migdp_tx_inflight(tx), 0);
	CU_ASSERT_EQUAL(migdp_rx_cum(rx), isn + total);
	for (i = 0; i < total; i++)
		CU_ASSERT_EQUAL_FATAL(delivered[i], 1);
	CU_ASSERT_EQUAL(rel.n, total);
	CU_ASSERT(tx->stats.retx_fast > 0);
	CU_ASSERT(tx->stats.retx_timeout > 0);
	CU_ASSERT(dups > 0);
	/* Fast retransmit does most of the work; RTT near the 200 us RTT. */
	CU_ASSERT(tx->stats.retx_fast > tx->stats.retx_timeout);
	CU_ASSERT(tx->srtt_ns > 100 * US && tx->srtt_ns < 1 * MS);
	free(tx);
	free(rx);
}

int
main(void)
{
	static const struct cu_test seq[] = {
		{"compare_across_wrap", test_seq_compare},
		{"extend", test_seq_extend},
		{NULL, NULL},
	};
	static const struct cu_test sender[] = {
		{"params", test_params},
		{"window_full_empty", test_window},
		{"invalid_acks", test_invalid_acks},
		{"sack_marks", test_sack_marks},
		{"fast_retransmit", test_fast_retransmit},
		{"rto_backoff", test_rto_backoff},
		{"rtt_rfc6298", test_rtt},
		{"bytes_and_cwnd", test_bytes_and_cwnd},
		{"spurious_rto", test_spurious_rto},
		{"rto_probe_lost", test_rto_probe_lost},
		{"spurious_fast", test_spurious_fast},
		{"lost_retransmission", test_lost_retransmission},
		{NULL, NULL},
	};
	static const struct cu_test receiver[] = {
		{"classify", test_rx_classify},
		{"sack_blocks", test_rx_sack},
		{"ack_due", test_rx_ack_due},
		{"echo", test_rx_echo},
		{NULL, NULL},
	};
	static const struct cu_test misc[] = {
		{"version_table", test_vtab},
		{"pacer_rate", test_pacer_rate},
		{"pacer_next", test_pacer_next},
		{"pacer_set_rate", test_pacer_set_rate},
		{"liveness", test_liveness},
		{"lossy_link", test_lossy_link},
		{NULL, NULL},
	};

	if (cu_add_suite("seq", NULL, NULL, seq) < 0 ||
	    cu_add_suite("sender", NULL, NULL, sender) < 0 ||
	    cu_add_suite("receiver", NULL, NULL, receiver) < 0 ||
	    cu_add_suite("transport_misc", NULL, NULL, misc) < 0)
		return 1;
	return cu_run();
}
