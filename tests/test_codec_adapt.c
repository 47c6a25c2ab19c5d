/* SPDX-License-Identifier: BSD-3-Clause */
/* The adaptive chooser against a simulated channel: per option a CPU rate
 * and a ratio; each batch takes max(CPU time, wire time) and saturates the
 * link when the wire time is the longer. Checked from its counters. */
#include <errno.h>
#include <string.h>

#include "test_codec.h"

#define BATCH_PAGES 32

/* Rates in MB/s and ratios of -7, -5, -3, -1, 1, 3 (a slow core). */
static const double zcpu[] = {700, 600, 500, 400, 280, 200};
static const double zratio[] = {1.3, 1.4, 1.5, 1.6, 1.75, 1.8};
static const double raw_cpu = 4000;

struct sim {
	double link;      /* true link rate, MB/s */
	double cpu_scale; /* zstd speed factor */
	double guest_mb;  /* moved */
	double secs;
};

static unsigned
level_index(int level)
{
	static const int lv[] = {-7, -5, -3, -1, 1, 3};
	unsigned i;

	for (i = 0; i < RTE_DIM(lv); i++)
		if (lv[i] == level)
			return i;
	CU_FAIL("unexpected level");
	return 0;
}

static void
run(struct migdp_adapt *a, struct sim *s, unsigned batches)
{
	struct migdp_codec_choice c;
	struct migdp_adapt_batch b;
	double in = BATCH_PAGES * (double)PG, cpu, ratio, tcpu, twire;
	unsigned i;

	for (i = 0; i < batches; i++) {
		c = migdp_adapt_choose(a);
		cpu = raw_cpu;
		ratio = 1;
		if (c.method == MIGDP_CODEC_ZSTD) {
			cpu = zcpu[level_index(c.level)] * s->cpu_scale;
			ratio = zratio[level_index(c.level)];
		}
		tcpu = in / (cpu * 1e6);
		twire = in / ratio / (s->link * 1e6);
		b = (struct migdp_adapt_batch){.pages = BATCH_PAGES,
			.pages_zero = 3, .bytes_out = (uint64_t)(in / ratio),
			.ns = (uint64_t)(tcpu * 1e9)};
		migdp_adapt_account(a, &c, &b);
		migdp_adapt_link(a, (uint64_t)(RTE_MAX(tcpu, twire) * 1e9),
				 b.bytes_out, twire > tcpu);
		s->guest_mb += in / 1e6;
		s->secs += RTE_MAX(tcpu, twire);
	}
}

void
test_adapt_params(void)
{
	struct migdp_adapt a;
	struct migdp_adapt_params p = {.nlevels = 2, .levels = {1, 0}};

	CU_ASSERT_EQUAL(migdp_adapt_init(&a, &p), -EINVAL);
	p.levels[1] = 1;
	CU_ASSERT_EQUAL(migdp_adapt_init(&a, &p), -EINVAL); /* repeated */
	p.nlevels = MIGDP_ADAPT_MAX_LEVELS + 1;
	CU_ASSERT_EQUAL(migdp_adapt_init(&a, &p), -EINVAL);
	CU_ASSERT_EQUAL(migdp_adapt_init(&a, NULL), 0);
	CU_ASSERT_EQUAL(a.nopt, 7);
	/* First batch is raw, then each level once. */
	CU_ASSERT_EQUAL(migdp_adapt_choose(&a).method, MIGDP_CODEC_RAW);
}

/* Pacing at 100 MB/s, configured: compressing moves more guest bytes. */
void
test_adapt_paced(void)
{
	struct sim s = {.link = 100, .cpu_scale = 1}, raw = s;
	struct migdp_adapt a;

	CU_ASSERT_EQUAL(migdp_adapt_init(&a, &(struct migdp_adapt_params){
		.link_bytes_per_s = 100000000}), 0);
	run(&a, &s, 4000);
	CU_ASSERT_EQUAL(a.st.cur.method, MIGDP_CODEC_ZSTD);
	CU_ASSERT_EQUAL(a.st.cur.level, 3); /* min(200, 180) is the best E */
	CU_ASSERT(a.st.batches_zstd > 0.9 * 4000);
	CU_ASSERT(a.st.pages_zstd > 10 * a.st.pages_raw);
	CU_ASSERT(a.st.bytes_saved > a.st.bytes_in / 3);
	CU_ASSERT_EQUAL(a.st.pages_zero, 3 * 4000);
	CU_ASSERT(a.st.probes > 0);
	raw.guest_mb = 4000 * BATCH_PAGES * (double)PG / 1e6;
	raw.secs = raw.guest_mb / 100; /* raw at link speed */
	CU_ASSERT(s.guest_mb / s.secs > 1.5 * raw.guest_mb / raw.secs);
}

/* No pacing, 10 Gb/s link, compression slower than the link: raw, and
 * never slower than raw by more than the probes' budget. */
void
test_adapt_fast_link(void)
{
	struct sim s = {.link = 1250, .cpu_scale = 0.5};
	struct migdp_adapt a;
	double raw_rate = 1250; /* min(raw_cpu, link) */

	CU_ASSERT_EQUAL(migdp_adapt_init(&a, NULL), 0);
	run(&a, &s, 20000);
	CU_ASSERT_EQUAL(a.st.cur.method, MIGDP_CODEC_RAW);
	CU_ASSERT(a.st.batches_raw > 0.95 * 20000);
	CU_ASSERT(a.st.probes > 0);
	CU_ASSERT(a.st.ns_zstd < 0.05 * (a.st.ns_raw + a.st.ns_zstd));
	CU_ASSERT(s.guest_mb / s.secs > 0.95 * raw_rate);
	CU_ASSERT(a.st.link_rate > 1000e6 && a.st.link_rate < 1300e6);
}

/* Link not configured: raw saturates it, the measured rate makes zstd
 * win; when the link speeds up, raw comes back. */
void
test_adapt_measured_link(void)
{
	struct sim s = {.link = 100, .cpu_scale = 1};
	struct migdp_adapt a;

	CU_ASSERT_EQUAL(migdp_adapt_init(&a, NULL), 0);
	run(&a, &s, 2000);
	CU_ASSERT_EQUAL(a.st.cur.method, MIGDP_CODEC_ZSTD);
	CU_ASSERT(a.st.link_rate > 90e6 && a.st.link_rate < 110e6);
	CU_ASSERT(a.st.rate_cur > 1.5 * a.st.rate_raw);
	s.link = 5000; /* a 40 Gb/s link appears */
	run(&a, &s, 4000);
	CU_ASSERT_EQUAL(a.st.cur.method, MIGDP_CODEC_RAW);
	CU_ASSERT(a.st.switches >= 2);
}
