/* SPDX-License-Identifier: BSD-3-Clause */
/* Source and destination channels together: the hypervisor side pushes
 * dirty pages into the source's shim rings, the source channel reads guest
 * memory, encodes and sends, the destination channel verifies and writes,
 * acknowledgements and the FIN come back. Driven from the test thread
 * (ch_run), or on worker lcores (ch_run_lcores). */
#include <stdlib.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "genmem.h"
#include "test_chan.h"

/* ---- helpers ------------------------------------------------------------ */

static uint64_t
total_pages(const struct ch_pair *p)
{
	uint64_t n = 0;
	unsigned i;

	for (i = 0; i < p->p.nregions; i++)
		n += p->p.regions[i].size / PG;
	return n;
}

static int
fill_source(struct ch_pair *p, uint64_t seed)
{
	struct migdp_genmix mix;
	unsigned i;

	if (genmem_parse_mix(GENMEM_DEFAULT_MIX, &mix, NULL, 0) < 0)
		return -1;
	for (i = 0; i < p->p.nregions; i++)
		if (genmem_fill(p->src.mem[i], p->p.regions[i].size, &mix, seed + i) < 0)
			return -1;
	return 0;
}

static int
push_all(struct ch_pair *p)
{
	unsigned i;

	for (i = 0; i < p->p.nregions; i++)
		if (ch_push(p, p->p.regions[i].gpa, p->p.regions[i].size / PG) < 0)
			return -1;
	return 0;
}

static uint64_t
pages_sent(struct ch_pair *p)
{
	uint64_t n = 0;
	unsigned i;

	for (i = 0; i < p->p.nch; i++)
		n += atomic_load(&ch_src_chan(p, i)->pages_done);
	return n;
}

/* Poll both sides until @p pages pages were sent and every frame is
 * acknowledged. @return 0 or -1 (timeout). */
static int
drain(struct ch_pair *p, uint64_t pages, unsigned timeout_ms)
{
	uint64_t deadline = migdp_now_ns() + (uint64_t)timeout_ms * 1000000u;
	unsigned i, inflight;

	do {
		for (inflight = 0, i = 0; i < p->p.nch; i++) {
			ch_poll_src(p, i);
			ch_poll_dst(p, i);
			inflight += migdp_tx_inflight(ch_src_chan(p, i)->tx);
		}
		ch_advance(p, 2000);
		if (migdp_now_ns() > deadline)
			return -1;
	} while (pages_sent(p) < pages || inflight > 0);
	return 0;
}

/* Round 2 of the round trips: some pages rewritten, some compressible,
 * some zeroed (zero runs over written pages); pushed one by one. */
static int
change_some(struct ch_pair *p)
{
	unsigned i;
	uint64_t k;

	for (i = 0; i < p->p.nregions; i++)
		for (k = 0; k < p->p.regions[i].size / PG; k++) {
			uint64_t gpa = p->p.regions[i].gpa + k * PG;
			uint8_t *pg = ch_src_page(p, gpa);

			if (k % 7 == 0)
				fill_random(pg, gpa + 77);
			else if (k % 11 == 0)
				memset(pg, 0, PG);
			else if (k % 13 == 0)
				fill_compressible(pg, k);
			else
				continue;
			if (ch_push(p, gpa, 1) < 0)
				return -1;
		}
	return 0;
}

struct sums {
	uint64_t zero, raw, zstd, frag, stale, skipped, bad;
};

static void
sum_side(struct ch_side *s, unsigned nch, struct sums *o)
{
	unsigned i, d;

	memset(o, 0, sizeof(*o));
	for (i = 0; i < nch; i++) {
		const struct migdp_lstats *st = &s->ctx.chans[i]->st;

		o->zero += st->pages_zero;
		o->raw += st->pages_raw;
		o->zstd += st->pages_zstd;
		o->frag += st->pages_frag;
		o->stale += st->pages_stale;
		o->skipped += st->pages_zero_skipped;
		for (d = MIGDP_DROP_REC_OUTSIDE; d < MIGDP_DROP_MAX; d++)
			o->bad += st->drops[d];
		o->bad += st->drops[MIGDP_DROP_BAD_CHECK];
	}
}

/* Destination memory byte-identical to the source, the digests of every
 * channel equal and covering every page, the page counts of both sides
 * equal. */
static void
check_transfer(struct ch_pair *p)
{
	struct sums s, d;
	uint64_t pages = 0;
	unsigned i;

	for (i = 0; i < p->p.nregions; i++)
		CU_ASSERT(memcmp(ch_dst_page(p, p->p.regions[i].gpa), p->src.mem[i],
				 p->p.regions[i].size) == 0);
	for (i = 0; i < p->p.nch; i++) {
		const struct migdp_mdigest *a = &ch_src_chan(p, i)->digest;
		const struct migdp_mdigest *b = &ch_dst_chan(p, i)->digest;

		CU_ASSERT_EQUAL(atomic_load(&ch_src_chan(p, i)->state), MIGDP_CHAN_DONE);
		CU_ASSERT_EQUAL(atomic_load(&ch_dst_chan(p, i)->state), MIGDP_CHAN_DONE);
		CU_ASSERT_EQUAL(a->sum, b->sum);
		CU_ASSERT_EQUAL(a->pages, b->pages);
		CU_ASSERT(a->pages > 0);
		pages += a->pages;
	}
	CU_ASSERT_EQUAL(pages, total_pages(p));
	sum_side(&p->src, p->p.nch, &s);
	sum_side(&p->dst, p->p.nch, &d);
	CU_ASSERT_EQUAL(s.zero, d.zero);
	CU_ASSERT_EQUAL(s.raw, d.raw);
	CU_ASSERT_EQUAL(s.zstd, d.zstd);
	CU_ASSERT_EQUAL(s.frag, d.frag);
	CU_ASSERT_EQUAL(d.stale, 0);
	CU_ASSERT_EQUAL(d.bad, 0);
	CU_ASSERT(s.zero > 0 && s.raw + s.frag > 0 && s.zstd > 0);
	CU_ASSERT(d.skipped > 0); /* fresh zero pages were not rewritten */
	if (p->p.mtu < 4200) /* pages that compress poorly go in fragments */
		CU_ASSERT(s.frag > 0);
	printf("\n    pages: %llu zero (%llu skipped), %llu raw, %llu zstd, "
	       "%llu in fragments ",
	       (unsigned long long)d.zero, (unsigned long long)d.skipped,
	       (unsigned long long)d.raw, (unsigned long long)d.zstd,
	       (unsigned long long)d.frag);
}

/* ---- 4. compressed round trips ------------------------------------------- */

static void
roundtrip(uint16_t mtu, unsigned nch, const struct ch_region *regions,
	  unsigned nregions)
{
	struct ch_params prm = {.mtu = mtu, .nch = nch, .codec = MIGDP_CODEC_ZSTD,
				.isn = 0xfffffff0u, .nregions = nregions};
	struct ch_pair *p;

	memcpy(prm.regions, regions, nregions * sizeof(*regions));
	p = ch_pair_create(&prm);
	CU_ASSERT_FATAL(p != NULL);
	CU_ASSERT_FATAL(fill_source(p, mtu) == 0);
	/* Round 1: everything. */
	CU_ASSERT_FATAL(push_all(p) == 0);
	CU_ASSERT_FATAL(ch_end_round(p, 1, false) == 0);
	CU_ASSERT_FATAL(drain(p, total_pages(p), 60000) == 0);
	/* Round 2, final: what the guest changed meanwhile. */
	CU_ASSERT_FATAL(change_some(p) == 0);
	CU_ASSERT_FATAL(ch_end_round(p, 2, true) == 0);
	CU_ASSERT_EQUAL_FATAL(ch_run(p, 60000), 0);
	check_transfer(p);
	/* The sequence space wrapped (isn 2^32 - 16). */
	CU_ASSERT(migdp_seq_lt(0xfffffff0u, ch_src_chan(p, 0)->tx->nxt));
	CU_ASSERT(ch_src_chan(p, 0)->tx->nxt < 0xfffffff0u);
	ch_pair_free(p);
}

void
test_roundtrip_zstd_9000(void)
{
	static const struct ch_region r[] = {
		{.gpa = 0, .size = 3 * CH_MB}, {.gpa = 4 * CH_MB, .size = 2 * CH_MB},
	};

	roundtrip(9000, 2, r, RTE_DIM(r));
}

void
test_roundtrip_zstd_1500(void)
{
	static const struct ch_region r[] = {
		{.gpa = 0, .size = 2 * CH_MB}, {.gpa = 3 * CH_MB, .size = 1 * CH_MB},
	};

	roundtrip(1500, 1, r, RTE_DIM(r));
}

/* The channels as the daemon runs them: each on its worker lcore, in
 * migdp_chan_loop() with the real clock and idle back-off. */
void
test_roundtrip_lcores(void)
{
	struct ch_params prm = {.mtu = 9000, .nch = 2, .codec = MIGDP_CODEC_ZSTD,
				.isn = 7, .nregions = 1,
				.regions = {{.gpa = 0, .size = 4 * CH_MB}}};
	struct ch_pair *p = ch_pair_create(&prm);
	int ret;

	CU_ASSERT_FATAL(p != NULL);
	CU_ASSERT_FATAL(fill_source(p, 5) == 0);
	CU_ASSERT_FATAL(push_all(p) == 0);
	CU_ASSERT_FATAL(ch_end_round(p, 1, true) == 0);
	ret = ch_run_lcores(p, 60000);
	CU_ASSERT_EQUAL_FATAL(ret, 0);
	check_transfer(p);
	ch_pair_free(p);
}

/* ---- 5. retransmission of a frame whose page changed ----------------------- */

static uint32_t
src_una(struct ch_pair *p)
{
	return ch_src_chan(p, 0)->tx->una;
}

static struct ch_pair *
raw_pair(uint32_t tx_zero_copy)
{
	struct ch_params prm = {.mtu = 9000, .isn = 500, .tx_zero_copy = tx_zero_copy};

	return ch_pair_create(&prm);
}

/* Page @p gpa sent by the source channel, applied and acknowledged. */
static void
send_page(struct ch_pair *p, uint64_t gpa, uint64_t round)
{
	uint32_t nxt = ch_src_chan(p, 0)->tx->nxt;

	CU_ASSERT(ch_push(p, gpa, 1) == 0);
	CU_ASSERT(ch_end_round(p, round, false) == 0);
	ch_poll_src(p, 0);
	CU_ASSERT_EQUAL(ch_src_chan(p, 0)->tx->nxt, nxt + 1);
	settle_dst(p, 0);
	ch_poll_src(p, 0);
	CU_ASSERT_EQUAL(src_una(p), nxt + 1);
	CU_ASSERT(memcmp(ch_dst_page(p, gpa), ch_src_page(p, gpa), PG) == 0);
}

/* Page @p g holds @p a0, sent and acknowledged; then version @p a is
 * pushed as round 2 and the one frame the source built for it taken off
 * the wire (the source keeps it for retransmission). */
static struct rte_mbuf *
second_version(struct ch_pair *p, uint64_t g, uint8_t *a0, uint8_t *a)
{
	struct rte_mbuf *f = NULL;

	fill_random(a0, 1);
	fill_random(a, 2);
	memcpy(ch_src_page(p, g), a0, PG);
	send_page(p, g, 1);
	memcpy(ch_src_page(p, g), a, PG);
	CU_ASSERT(ch_push(p, g, 1) == 0 && ch_end_round(p, 2, false) == 0);
	ch_poll_src(p, 0);
	CU_ASSERT_EQUAL(ch_take(p, true, 1, &f, 1), 1);
	return f;
}

/*
 * The source channel builds a frame by copy and keeps it; a retransmission
 * is a copy of that frame with a fresh timestamp. What the code does:
 * - the first copy arrives damaged (a payload byte flipped on the link):
 *   the record's content does not match its CRC, the frame is dropped
 *   whole, unacknowledged, the page keeps its previous content, una stays;
 * - the guest changes the page before the retransmission: the retransmitted
 *   frame still carries the bytes read when it was built (consistent with
 *   its CRC), so it is applied and acknowledged with the old content;
 * - the change travels in the next round's frame, a newer version.
 */
void
test_retransmit_copy(void)
{
	static uint8_t a0[PG], a[PG];
	const uint64_t g = GPA(8);
	const uint32_t rec0 = MIGDP_L2_HDRS_LEN + sizeof(struct migdp_rec_hdr);
	struct ch_pair *p = raw_pair(MIGDP_OFF);
	struct rte_mbuf *f, *bad;

	CU_ASSERT_FATAL(p != NULL);
	/* Version A, its first copy damaged on the way. */
	f = second_version(p, g, a0, a);
	CU_ASSERT_FATAL(f != NULL);
	/* The source still holds this mbuf: damage a copy of it. */
	bad = rte_pktmbuf_copy(f, p->src.ctx.port.pool, 0, UINT32_MAX);
	CU_ASSERT_FATAL(bad != NULL);
	rte_pktmbuf_mtod_offset(bad, uint8_t *, rec0 + 100)[0] ^= 0x10;
	rte_pktmbuf_free(f);
	ch_send(p, 1, bad);
	settle_dst(p, 0);
	CU_ASSERT_EQUAL(ch_dst_chan(p, 0)->st.drops[MIGDP_DROP_REC_CSUM], 1);
	CU_ASSERT_EQUAL(ch_dst_chan(p, 0)->rx->stats.new_frames, 1);
	CU_ASSERT(memcmp(ch_dst_page(p, g), a0, PG) == 0);
	CU_ASSERT_EQUAL(rte_ring_count(p->back[1]), 0); /* no ACK */
	ch_poll_src(p, 0);
	CU_ASSERT_EQUAL(src_una(p), 501);
	CU_ASSERT_EQUAL(migdp_tx_inflight(ch_src_chan(p, 0)->tx), 1);

	/* The guest writes B; the frame times out and is resent as built. */
	fill_random(ch_src_page(p, g), 3);
	ch_advance(p, 3000000000ull); /* past any RTO, backed off or not */
	ch_poll_src(p, 0);
	CU_ASSERT_EQUAL(ch_src_chan(p, 0)->st.retransmits, 1);
	settle_dst(p, 0);
	CU_ASSERT_EQUAL(ch_dst_chan(p, 0)->st.drops[MIGDP_DROP_REC_CSUM], 1);
	CU_ASSERT(memcmp(ch_dst_page(p, g), a, PG) == 0); /* A, not B */
	ch_poll_src(p, 0);
	CU_ASSERT_EQUAL(src_una(p), 502);
	CU_ASSERT_EQUAL(migdp_tx_inflight(ch_src_chan(p, 0)->tx), 0);

	/* B in the final round: newest version wins, digests agree. */
	CU_ASSERT(ch_push(p, g, 1) == 0 && ch_end_round(p, 3, true) == 0);
	CU_ASSERT_EQUAL_FATAL(ch_run(p, 10000), 0);
	CU_ASSERT(memcmp(ch_dst_page(p, g), ch_src_page(p, g), PG) == 0);
	CU_ASSERT_EQUAL(ch_src_chan(p, 0)->digest.sum, ch_dst_chan(p, 0)->digest.sum);
	CU_ASSERT_EQUAL(ch_dst_chan(p, 0)->st.pages_raw, 3);
	ch_pair_free(p);
}

/*
 * Zero-copy transmit (the port takes multi-segment frames): the page
 * leaves from guest memory, its CRC read when the frame was built.
 * - The guest writes the page between build and send (a torn page): the
 *   record fails its check at the destination, which writes nothing and
 *   acknowledges nothing.
 * - The resend reads the page again, with a fresh CRC and frame check:
 *   the page's current content arrives whole and is applied.
 */
void
test_retransmit_zero_copy(void)
{
	static uint8_t a0[PG], a[PG], b[PG];
	const uint64_t g = GPA(8);
	struct ch_pair *p = raw_pair(MIGDP_ON);
	struct migdp_chan *c;
	struct rte_mbuf *f;

	CU_ASSERT_FATAL(p != NULL);
	c = ch_src_chan(p, 0);
	CU_ASSERT_FATAL(c->ctx->port.tx_zero_copy);
	fill_random(b, 3);
	/* Version A built zero-copy; the guest writes B before it leaves. */
	f = second_version(p, g, a0, a);
	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_EQUAL(f->nb_segs, 2); /* headers + the page, not copied */
	memcpy(ch_src_page(p, g), b, PG);
	ch_send(p, 1, f);
	settle_dst(p, 0);
	CU_ASSERT_EQUAL(ch_dst_chan(p, 0)->st.drops[MIGDP_DROP_REC_CSUM], 1);
	CU_ASSERT(memcmp(ch_dst_page(p, g), a0, PG) == 0);
	CU_ASSERT_EQUAL(rte_ring_count(p->back[1]), 0); /* no ACK */
	ch_poll_src(p, 0);
	CU_ASSERT_EQUAL(src_una(p), 501);

	/* The resend carries B, consistent, and is applied. */
	ch_advance(p, 3000000000ull);
	ch_poll_src(p, 0);
	CU_ASSERT_EQUAL(c->st.retransmits, 1);
	settle_dst(p, 0);
	CU_ASSERT_EQUAL(ch_dst_chan(p, 0)->st.drops[MIGDP_DROP_REC_CSUM], 1);
	CU_ASSERT(memcmp(ch_dst_page(p, g), b, PG) == 0);
	ch_poll_src(p, 0);
	CU_ASSERT_EQUAL(src_una(p), 502);
	CU_ASSERT_EQUAL(migdp_tx_inflight(c->tx), 0);

	/* B again in the final round (it is dirty): the digests agree. */
	CU_ASSERT(ch_push(p, g, 1) == 0 && ch_end_round(p, 3, true) == 0);
	CU_ASSERT_EQUAL_FATAL(ch_run(p, 10000), 0);
	CU_ASSERT(memcmp(ch_dst_page(p, g), b, PG) == 0);
	CU_ASSERT_EQUAL(c->digest.sum, ch_dst_chan(p, 0)->digest.sum);
	ch_pair_free(p);
}

/* ---- completion ------------------------------------------------------------- */

/*
 * The last ACK of a channel is lost after the destination completed (FIN
 * seen, every frame before it applied) while the FIN echo arrives: the
 * source has its echo but a frame still in flight, and resends it. The
 * destination must acknowledge it again (without applying it), or the
 * source never finishes.
 */
void
test_ack_after_complete(void)
{
	struct ch_pair *p = raw_pair(MIGDP_AUTO);
	struct rte_mbuf *pkts[8];
	struct migdp_chan *s, *d;
	unsigned n, i, k, dropped = 0;
	uint8_t buf[256];

	CU_ASSERT_FATAL(p != NULL);
	s = ch_src_chan(p, 0);
	d = ch_dst_chan(p, 0);
	fill_random(ch_src_page(p, GPA(2)), 2);
	CU_ASSERT(ch_push(p, GPA(2), 1) == 0 && ch_end_round(p, 1, true) == 0);
	ch_poll_src(p, 0); /* the page and the FIN */
	CU_ASSERT(s->fin_sent);
	ch_poll_dst(p, 0);
	CU_ASSERT_EQUAL(atomic_load(&d->state), MIGDP_CHAN_DONE);

	/* The FIN echo goes through, the ACK is lost. */
	n = ch_take(p, false, 1, pkts, RTE_DIM(pkts));
	for (i = 0; i < n; i++) {
		const uint8_t *h = ch_read(pkts[i], MIGDP_HDR_OFF, sizeof(struct migdp_hdr),
					   buf);

		if (h != NULL && ((const struct migdp_hdr *)h)->type == MIGDP_T_ACK) {
			rte_pktmbuf_free(pkts[i]);
			dropped++;
		} else {
			ch_send_back(p, 1, pkts[i]);
		}
	}
	CU_ASSERT_EQUAL_FATAL(dropped, 1);
	ch_poll_src(p, 0);
	CU_ASSERT(s->fin_echoed);
	CU_ASSERT_EQUAL(migdp_tx_inflight(s->tx), 1);

	for (k = 0; k < 3 && atomic_load(&s->state) != MIGDP_CHAN_DONE; k++) {
		ch_advance(p, 3000000000ull);
		ch_poll_src(p, 0); /* resend */
		settle_dst(p, 0);
		ch_poll_src(p, 0);
	}
	CU_ASSERT(s->st.retransmits >= 1);
	CU_ASSERT_EQUAL(atomic_load(&s->state), MIGDP_CHAN_DONE);
	CU_ASSERT_EQUAL(migdp_tx_inflight(s->tx), 0);
	CU_ASSERT_EQUAL(d->st.pages_raw, 1); /* not applied again */
	CU_ASSERT(memcmp(ch_dst_page(p, GPA(2)), ch_src_page(p, GPA(2)), PG) == 0);
	ch_pair_free(p);
}

/*
 * A frame ends with its round: the same page dirtied in two rounds, both
 * rounds in the ring before the channel looks, goes out in two frames (a
 * page is never twice in one frame, so the two memory digests follow its
 * records in the same order), and both sides end with equal digests.
 */
void
test_round_ends_frame(void)
{
	const uint64_t g = GPA(8), h = GPA(9);
	struct ch_pair *p = raw_pair(MIGDP_OFF);
	struct rte_mbuf *f[4];
	struct migdp_frame fr;
	uint8_t buf[MIGDP_MAX_FRAME];
	unsigned n, i, ndata = 0;

	CU_ASSERT_FATAL(p != NULL);
	fill_random(ch_src_page(p, g), 1);
	fill_random(ch_src_page(p, h), 2);
	CU_ASSERT(ch_push(p, g, 1) == 0 && ch_end_round(p, 1, false) == 0);
	CU_ASSERT(ch_push(p, g, 1) == 0 && ch_push(p, h, 1) == 0 &&
		  ch_end_round(p, 2, true) == 0);
	ch_poll_src(p, 0);
	n = ch_take(p, true, 1, f, 4);
	for (i = 0; i < n; i++) {
		const uint8_t *b = ch_read(f[i], 0, rte_pktmbuf_pkt_len(f[i]), buf);
		struct migdp_local loc = {.ip = TEST_IP_DST, .port = 47001,
					  .session = CH_SESSION};

		CU_ASSERT_EQUAL_FATAL(migdp_wire_parse(b, rte_pktmbuf_pkt_len(f[i]),
						       &loc, 0, &fr), MIGDP_DROP_NONE);
		/* Round 1: g alone (a frame has room for a page more);
		 * round 2: g and h, in a frame of their own. */
		if (fr.msg.type == MIGDP_T_DATA)
			CU_ASSERT_EQUAL(fr.nrecords, ndata++ == 0 ? 1 : 2);
		ch_send(p, 1, f[i]);
	}
	CU_ASSERT_EQUAL(ndata, 2);
	CU_ASSERT_EQUAL_FATAL(ch_run(p, 10000), 0);
	CU_ASSERT(memcmp(ch_dst_page(p, g), ch_src_page(p, g), PG) == 0);
	CU_ASSERT(memcmp(ch_dst_page(p, h), ch_src_page(p, h), PG) == 0);
	CU_ASSERT_EQUAL(ch_src_chan(p, 0)->digest.sum, ch_dst_chan(p, 0)->digest.sum);
	CU_ASSERT_EQUAL(ch_dst_chan(p, 0)->digest.pages, 2);
	ch_pair_free(p);
}
