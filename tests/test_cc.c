/* SPDX-License-Identifier: BSD-3-Clause */
/* Congestion control: the windowed filters and the state machine on
 * synthetic rate samples. Simulated time; no DPDK, no EAL. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cu_main.h"
#include "cc.h"

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

	if (cu_add_suite("cc_unit", NULL, NULL, unit) < 0)
		return 1;
	return cu_run();
}
