/* SPDX-License-Identifier: BSD-3-Clause */
/* Source and destination channels over real (ring) ethdevs, real guest
 * memory from libmigshim and real codec contexts; EAL in the process.
 *
 * This file: frames built by the test and put on the wire towards a
 * destination channel, which is driven one loop iteration at a time
 * (migdp_chan_poll): zero-copy and copy frames decode to the same pages,
 * the frame check, zero runs, misrouted frames, duplicates, damaged
 * records, newest version wins, records outside guest memory.
 * test_chan_flow.c runs both channels together. */
#include <stdlib.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "codec/codec.h"
#include "test_chan.h"

/* ---- helpers ------------------------------------------------------------ */

void
fill_random(uint8_t *page, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
	unsigned i;

	for (i = 0; i < PG; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(page + i, &x, 8);
	}
}

void
fill_compressible(uint8_t *page, uint64_t seed)
{
	unsigned i;

	for (i = 0; i < PG; i++)
		page[i] = (uint8_t)("migdp page "[i % 11] + (i / 512) + seed);
}

void
settle_dst(struct ch_pair *p, unsigned ch)
{
	ch_poll_dst(p, ch);
	ch_advance(p, 1000000); /* past the 200 us ack delay */
	ch_poll_dst(p, ch);
}

static struct migdp_lstats *
dst_st(struct ch_pair *p)
{
	return &ch_dst_chan(p, 0)->st;
}

static struct ch_pair *
pair(uint16_t mtu, unsigned nregions, const struct ch_region *regions)
{
	struct ch_params prm = {.mtu = mtu, .isn = 1000, .nregions = nregions};

	if (nregions > 0)
		memcpy(prm.regions, regions, nregions * sizeof(*regions));
	return ch_pair_create(&prm);
}

/* A copy of the destination's default region (1 MiB at 0), to show that
 * nothing was written. */
static uint8_t *
dst_snapshot(struct ch_pair *p)
{
	uint8_t *s = malloc(CH_MB);

	if (s != NULL)
		memcpy(s, ch_dst_page(p, 0), CH_MB);
	return s;
}

static bool
dst_unchanged(struct ch_pair *p, const uint8_t *snap)
{
	return memcmp(ch_dst_page(p, 0), snap, CH_MB) == 0;
}

/* A single raw page at @p gpa, as a frame of sequence @p seq (by copy). */
static struct rte_mbuf *
raw_frame(struct ch_pair *p, unsigned ch, uint32_t seq, uint64_t gpa)
{
	struct migdp_data d;

	migdp_data_init(&d, p->p.mtu);
	if (migdp_data_add_raw(&d, gpa, ch_src_page(p, gpa)) < 0)
		return NULL;
	return ch_build(p, ch, seq, &d, false);
}

/* ---- 1. zero-copy and copy frames decode to the same pages --------------- */

/* Pages of the source used by the zero-copy cases: 0-2 zero, 3 and 5
 * random, 4 compressible (a zstd record), 6 random (fragmented at 1500). */
static void
zc_source(struct ch_pair *p)
{
	fill_random(ch_src_page(p, GPA(3)), 3);
	fill_compressible(ch_src_page(p, GPA(4)), 4);
	fill_random(ch_src_page(p, GPA(5)), 5);
	fill_random(ch_src_page(p, GPA(6)), 6);
}

static int
add_zstd(struct migdp_data *d, struct migdp_codec_ctx *cc, const uint8_t *page,
	 uint64_t gpa, uint8_t *out)
{
	struct migdp_rec r;

	if (migdp_codec_encode(cc, &migdp_codec_zstd, page, out, PG, &r) < 0 ||
	    r.type != MIGDP_REC_ZSTD)
		return -1;
	r.gpa = gpa;
	return migdp_data_add(d, &r);
}

/* The frames of the case, built fresh each time (the builder writes the
 * CRCs into the record set): at MTU 9000 one frame with a zero run, raw
 * pages and a zstd page; at 1500 a zero run, page 6 in fragments over
 * three frames and the zstd page. @return frames built. */
static unsigned
zc_frames(struct ch_pair *p, struct migdp_codec_ctx *cc, uint8_t *arena,
	  uint32_t seq, bool zero_copy, struct rte_mbuf **out)
{
	struct migdp_data d;
	uint16_t off = 0;
	unsigned n = 0;

	migdp_data_init(&d, p->p.mtu);
	if (p->p.mtu == 9000) {
		if (migdp_data_add_zero(&d, GPA(0), 3) < 0 ||
		    migdp_data_add_raw(&d, GPA(3), ch_src_page(p, GPA(3))) < 0 ||
		    add_zstd(&d, cc, ch_src_page(p, GPA(4)), GPA(4), arena) < 0 ||
		    migdp_data_add_raw(&d, GPA(5), ch_src_page(p, GPA(5))) < 0)
			return 0;
		out[n++] = ch_build(p, 0, seq, &d, zero_copy);
		return out[0] != NULL;
	}
	/* MTU 1500: as the source channel cuts a page. */
	if (migdp_data_add_zero(&d, GPA(0), 3) < 0)
		return 0;
	while (off < PG) {
		uint16_t len = (uint16_t)RTE_MIN((uint32_t)PG - off,
						 migdp_data_avail(&d));

		if (migdp_data_add_fragment(&d, GPA(6), ch_src_page(p, GPA(6)), off,
					    len, (uint16_t)n) < 0)
			return 0;
		off += len;
		if (off == PG && add_zstd(&d, cc, ch_src_page(p, GPA(4)), GPA(4),
					  arena) == 0)
			break; /* the zstd page fits after the last fragment */
		if (off == PG) { /* it goes in a frame of its own */
			out[n] = ch_build(p, 0, seq + n, &d, zero_copy);
			if (out[n++] == NULL)
				return 0;
			migdp_data_init(&d, p->p.mtu);
			if (add_zstd(&d, cc, ch_src_page(p, GPA(4)), GPA(4), arena) < 0)
				return 0;
			break;
		}
		out[n] = ch_build(p, 0, seq + n, &d, zero_copy);
		if (out[n++] == NULL)
			return 0;
		migdp_data_init(&d, p->p.mtu);
	}
	out[n] = ch_build(p, 0, seq + n, &d, zero_copy);
	return out[n] != NULL ? n + 1 : 0;
}

/* The pages the frames of the case carry. */
static const unsigned pages_9000[] = {0, 1, 2, 3, 4, 5};
static const unsigned pages_1500[] = {0, 1, 2, 4, 6};

static bool
dst_matches_source(struct ch_pair *p, const unsigned *pages, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (memcmp(ch_dst_page(p, GPA(pages[i])), ch_src_page(p, GPA(pages[i])),
			   PG) != 0)
			return false;
	return true;
}

static void
zero_copy_case(uint16_t mtu)
{
	static uint8_t arena_c[PG], arena_z[PG], a[MIGDP_MAX_FRAME], b[MIGDP_MAX_FRAME];
	struct migdp_codec_ctx *cc = migdp_codec_ctx_create(NULL);
	struct ch_pair *p = pair(mtu, 0, NULL);
	struct rte_mbuf *fc[4], *fz[4];
	const unsigned *pages = mtu == 9000 ? pages_9000 : pages_1500;
	unsigned npages = mtu == 9000 ? RTE_DIM(pages_9000) : RTE_DIM(pages_1500);
	struct migdp_mdigest md1;
	unsigned n, nz, i;
	uint32_t isn = 1000;

	CU_ASSERT_FATAL(p != NULL && cc != NULL);
	zc_source(p);
	n = zc_frames(p, cc, arena_c, isn, false, fc);
	nz = zc_frames(p, cc, arena_z, isn + n, true, fz);
	CU_ASSERT_FATAL(n > 0 && nz == n);
	CU_ASSERT(mtu == 9000 ? n == 1 : n >= 3);
	for (i = 0; i < n; i++) {
		uint32_t len = rte_pktmbuf_pkt_len(fc[i]);
		const uint8_t *x = ch_read(fc[i], 0, len, a);
		const uint8_t *y = ch_read(fz[i], 0, len, b);

		/* Zero-copy: headers and table in the first segment, each
		 * payload a segment of its own; same length, and the same
		 * bytes after the migdp header (table with its CRCs, then
		 * the payloads). */
		CU_ASSERT_EQUAL(fc[i]->nb_segs, 1);
		CU_ASSERT(fz[i]->nb_segs > 1);
		CU_ASSERT(rte_pktmbuf_data_len(fz[i]) < rte_pktmbuf_data_len(fc[i]));
		CU_ASSERT_EQUAL(rte_pktmbuf_pkt_len(fz[i]), len);
		CU_ASSERT_FATAL(x != NULL && y != NULL);
		CU_ASSERT(memcmp(x + MIGDP_L2_HDRS_LEN, y + MIGDP_L2_HDRS_LEN,
				 len - MIGDP_L2_HDRS_LEN) == 0);
	}

	/* The copy frames: every page as at the source. */
	for (i = 0; i < n; i++)
		ch_send(p, 1, fc[i]);
	settle_dst(p, 0);
	CU_ASSERT_EQUAL(ch_dst_chan(p, 0)->rx->stats.new_frames, n);
	CU_ASSERT(dst_matches_source(p, pages, npages));
	CU_ASSERT_EQUAL(dst_st(p)->pages_zero, 3);
	CU_ASSERT_EQUAL(dst_st(p)->pages_zstd, 1);
	CU_ASSERT_EQUAL(dst_st(p)->pages_raw, mtu == 9000 ? 2 : 0);
	CU_ASSERT_EQUAL(dst_st(p)->pages_frag, mtu == 9000 ? 0 : 1);
	md1 = ch_dst_chan(p, 0)->md;
	CU_ASSERT_EQUAL(md1.pages, npages);

	/* Spoil the pages, then the zero-copy frames (newer versions of the
	 * same pages) must write them all again, the zero run included. */
	for (i = 0; i < npages; i++)
		memset(ch_dst_page(p, GPA(pages[i])), 0xa5, PG);
	CU_ASSERT(!dst_matches_source(p, pages, npages));
	for (i = 0; i < n; i++)
		ch_send(p, 1, fz[i]);
	settle_dst(p, 0);
	CU_ASSERT_EQUAL(ch_dst_chan(p, 0)->rx->stats.new_frames, 2 * n);
	CU_ASSERT(dst_matches_source(p, pages, npages));
	CU_ASSERT_EQUAL(dst_st(p)->pages_zstd, 2);
	CU_ASSERT_EQUAL(dst_st(p)->drops[MIGDP_DROP_REC_CSUM], 0);
	CU_ASSERT_EQUAL(dst_st(p)->drops[MIGDP_DROP_BAD_CHECK], 0);
	/* Same pages, same CRCs: the digest replaced each page's value by
	 * the same one. */
	CU_ASSERT_EQUAL(ch_dst_chan(p, 0)->md.sum, md1.sum);
	CU_ASSERT_EQUAL(ch_dst_chan(p, 0)->md.pages, md1.pages);
	CU_ASSERT(ch_take_acks(p, 0, NULL) > 0);
	ch_pair_free(p);
	migdp_codec_ctx_free(cc);
}

void
test_zero_copy_9000(void)
{
	zero_copy_case(9000);
}

void
test_zero_copy_1500(void)
{
	zero_copy_case(1500);
}

/* ---- 2. the frame check ----------------------------------------------------- */

/* Overwrite @p len bytes at @p off of a private copy of @p m. */
static struct rte_mbuf *
altered(struct ch_pair *p, const struct rte_mbuf *m, uint32_t off,
	const void *bytes, uint32_t len)
{
	struct rte_mbuf *c = rte_pktmbuf_copy(m, p->src.ctx.port.pool, 0, UINT32_MAX);

	if (c != NULL)
		memcpy(rte_pktmbuf_mtod_offset(c, uint8_t *, off), bytes, len);
	return c;
}

void
test_frame_check(void)
{
	struct ch_pair *p = pair(9000, 0, NULL);
	const uint32_t tab = MIGDP_L2_HDRS_LEN;
	const uint32_t hdr = MIGDP_HDR_OFF;
	rte_be64_t gpa2 = rte_cpu_to_be_64(GPA(9));
	uint8_t type_frag = MIGDP_REC_FRAGMENT;
	rte_be32_t seq2 = rte_cpu_to_be_32(1001);
	rte_be16_t flags = rte_cpu_to_be_16(MIGDP_F_ACK_NOW);
	struct {
		uint32_t off;
		const void *bytes;
		uint32_t len;
	} alter[] = {
		/* the record table: a page's address, a record's type */
		{tab + offsetof(struct migdp_rec_hdr, gpa), &gpa2, sizeof(gpa2)},
		{tab + offsetof(struct migdp_rec_hdr, type), &type_frag, 1},
		/* the migdp header: sequence, flags */
		{hdr + offsetof(struct migdp_hdr, seq), &seq2, sizeof(seq2)},
		{hdr + offsetof(struct migdp_hdr, flags), &flags, sizeof(flags)},
	};
	struct rte_mbuf *good;
	uint8_t *snap;
	unsigned i;

	CU_ASSERT_FATAL(p != NULL);
	fill_random(ch_src_page(p, GPA(8)), 8);
	memset(ch_dst_page(p, GPA(9)), 0x5a, PG);
	good = raw_frame(p, 0, 1000, GPA(8));
	snap = dst_snapshot(p);
	CU_ASSERT_FATAL(good != NULL && snap != NULL);
	for (i = 0; i < RTE_DIM(alter); i++) {
		ch_send(p, 1, altered(p, good, alter[i].off, alter[i].bytes,
				      alter[i].len));
		settle_dst(p, 0);
		CU_ASSERT_EQUAL(dst_st(p)->drops[MIGDP_DROP_BAD_CHECK], i + 1);
	}
	/* Nothing written (pages 8 and 9 included), nothing received,
	 * nothing acknowledged. */
	CU_ASSERT(dst_unchanged(p, snap));
	CU_ASSERT_EQUAL(ch_dst_chan(p, 0)->rx->stats.new_frames, 0);
	CU_ASSERT_EQUAL(dst_st(p)->pages_raw, 0);
	CU_ASSERT_EQUAL(ch_take_acks(p, 0, NULL), 0);

	/* The frame as built is accepted: the alterations were the cause. */
	ch_send(p, 1, good);
	settle_dst(p, 0);
	CU_ASSERT_EQUAL(dst_st(p)->drops[MIGDP_DROP_BAD_CHECK], RTE_DIM(alter));
	CU_ASSERT(memcmp(ch_dst_page(p, GPA(8)), ch_src_page(p, GPA(8)), PG) == 0);
	CU_ASSERT(memcmp(ch_dst_page(p, GPA(9)), snap + GPA(9), PG) == 0);
	CU_ASSERT_EQUAL(ch_take_acks(p, 0, NULL), 1);
	free(snap);
	ch_pair_free(p);
}

/* ---- 3. zero runs ----------------------------------------------------------- */

/* A zero run of @p npages at @p gpa in frame @p seq, sent and applied
 * while the pages are watched for writes. @return writes seen. */
static unsigned
zero_run_watched(struct ch_pair *p, uint32_t seq, uint64_t gpa, uint32_t npages)
{
	struct migdp_data d;

	migdp_data_init(&d, p->p.mtu);
	if (migdp_data_add_zero(&d, gpa, npages) < 0)
		return UINT32_MAX;
	ch_send(p, 1, ch_build(p, 0, seq, &d, false));
	if (ch_watch_writes(ch_dst_page(p, gpa), (size_t)npages * PG) < 0)
		return UINT32_MAX;
	settle_dst(p, 0);
	return ch_watch_end();
}

static bool
all_zero(const uint8_t *b, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i] != 0)
			return false;
	return true;
}

/* The shim maps guest RAM with MAP_POPULATE, so every page is resident
 * from the start and mincore() cannot tell; instead the pages are made
 * read-only while the frame is applied, and any write would fault (and be
 * counted). Fresh memfd pages read as zero. */
void
test_zero_run_fresh(void)
{
	struct ch_pair *p = pair(9000, 0, NULL);
	uint64_t applied0;

	CU_ASSERT_FATAL(p != NULL);
	/* Never written and reading zero: not one write. */
	CU_ASSERT_EQUAL(zero_run_watched(p, 1000, GPA(16), 4), 0);
	CU_ASSERT_EQUAL(ch_dst_chan(p, 0)->rx->stats.new_frames, 1);
	CU_ASSERT_EQUAL(dst_st(p)->pages_zero_skipped, 4);
	CU_ASSERT_EQUAL(dst_st(p)->pages_zero, 4);
	CU_ASSERT(all_zero(ch_dst_page(p, GPA(16)), 4 * PG));
	/* ... yet applied: the pages have a digest value and a version. */
	CU_ASSERT_EQUAL(ch_dst_chan(p, 0)->md.pages, 4);
	CU_ASSERT_EQUAL(ch_take_acks(p, 0, NULL), 1);

	/* Never written but not zero (destination RAM is not always fresh):
	 * read, found non-zero, zeroed. */
	memset(ch_dst_page(p, GPA(30)), 0x77, PG);
	applied0 = dst_st(p)->pages_zero;
	CU_ASSERT_EQUAL(zero_run_watched(p, 1001, GPA(30), 1), 1);
	CU_ASSERT(all_zero(ch_dst_page(p, GPA(30)), PG));
	CU_ASSERT_EQUAL(dst_st(p)->pages_zero_skipped, 4);
	CU_ASSERT_EQUAL(dst_st(p)->pages_zero, applied0 + 1);
	ch_pair_free(p);
}

/* A zero run into pages written earlier zeroes them; and pages that an
 * earlier zero run skipped are written this time: the skip is for pages
 * never written by migdp only (their version is no longer 0). */
void
test_zero_run_written(void)
{
	struct ch_pair *p = pair(9000, 0, NULL);

	CU_ASSERT_FATAL(p != NULL);
	CU_ASSERT_EQUAL(zero_run_watched(p, 1000, GPA(16), 4), 0);
	fill_random(ch_src_page(p, GPA(17)), 17);
	ch_send(p, 1, raw_frame(p, 0, 1001, GPA(17)));
	settle_dst(p, 0);
	CU_ASSERT(memcmp(ch_dst_page(p, GPA(17)), ch_src_page(p, GPA(17)), PG) == 0);
	/* Each of the four pages is written once (one fault per page). */
	CU_ASSERT_EQUAL(zero_run_watched(p, 1002, GPA(16), 4), 4);
	CU_ASSERT(all_zero(ch_dst_page(p, GPA(16)), 4 * PG));
	CU_ASSERT_EQUAL(dst_st(p)->pages_zero_skipped, 4);
	CU_ASSERT_EQUAL(dst_st(p)->pages_zero, 8);
	CU_ASSERT_EQUAL(ch_dst_chan(p, 0)->rx->stats.new_frames, 3);
	ch_pair_free(p);
}

/* ---- misrouted, duplicate, outside ---------------------------------------- */

/* A frame for channel 1 arriving on channel 0's queue is handed to
 * channel 1, applied and acknowledged there; one for the control port
 * goes to the control inbox. */
void
test_misrouted(void)
{
	struct ch_params prm = {.mtu = 9000, .nch = 2, .isn = 1000};
	struct ch_pair *p = ch_pair_create(&prm);
	struct migdp_msg ka = {.type = MIGDP_T_KEEPALIVE};
	struct migdp_chan *c0, *c1;
	struct migdp_ack ack;
	struct rte_mbuf *m;
	int len;

	CU_ASSERT_FATAL(p != NULL);
	c0 = ch_dst_chan(p, 0);
	c1 = ch_dst_chan(p, 1);
	fill_random(ch_src_page(p, GPA(40)), 40);
	ch_send(p, c0->queue, raw_frame(p, 1, 1000, GPA(40)));
	m = rte_pktmbuf_alloc(p->src.ctx.port.pool);
	CU_ASSERT_FATAL(m != NULL);
	len = migdp_wire_build_msg(rte_pktmbuf_mtod(m, void *), rte_pktmbuf_tailroom(m),
				   &p->src.ctx.ctl_flow, &ka);
	CU_ASSERT_FATAL(len > 0);
	rte_pktmbuf_append(m, (uint16_t)len);
	ch_send(p, c0->queue, m);

	ch_poll_dst(p, 0);
	CU_ASSERT_EQUAL(c0->st.misrouted, 2);
	CU_ASSERT_EQUAL(c0->st.rx_frames, 0);
	CU_ASSERT_EQUAL(rte_ring_count(c1->inbox), 1);
	CU_ASSERT_EQUAL(rte_ring_count(p->dst.ctx.ctl_inbox), 1);
	CU_ASSERT(all_zero(ch_dst_page(p, GPA(40)), PG));

	settle_dst(p, 1);
	CU_ASSERT_EQUAL(c1->st.rx_frames, 1);
	CU_ASSERT_EQUAL(c1->st.misrouted, 0);
	CU_ASSERT_EQUAL(c1->rx->stats.new_frames, 1);
	CU_ASSERT_EQUAL(c0->rx->stats.new_frames, 0);
	CU_ASSERT(memcmp(ch_dst_page(p, GPA(40)), ch_src_page(p, GPA(40)), PG) == 0);
	/* Acknowledged on channel 1's queue, for channel 1's sequence. */
	CU_ASSERT_EQUAL(ch_take_acks(p, 0, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(ch_take_acks(p, 1, &ack), 1);
	CU_ASSERT_EQUAL(ack.cum_ack, 1001);
	ch_pair_free(p);
}

/* A frame received twice: applied once, acknowledged both times, the
 * second time at once. The frame holds a raw page and the first half of
 * another page as a fragment: the version rule alone would refuse the raw
 * page again (same version) but let the fragment through (the other
 * fragments of a version must land), so only the duplicate check keeps
 * the fragment from being written again. */
void
test_dup_not_reapplied(void)
{
	struct ch_pair *p = pair(9000, 0, NULL);
	struct rte_mbuf *m, *dup;
	struct migdp_ack ack;
	struct migdp_data d;

	CU_ASSERT_FATAL(p != NULL);
	fill_random(ch_src_page(p, GPA(3)), 3);
	fill_random(ch_src_page(p, GPA(4)), 4);
	migdp_data_init(&d, 9000);
	CU_ASSERT_FATAL(migdp_data_add_raw(&d, GPA(3), ch_src_page(p, GPA(3))) == 0);
	CU_ASSERT_FATAL(migdp_data_add_fragment(&d, GPA(4), ch_src_page(p, GPA(4)),
						0, PG / 2, 0) == 0);
	m = ch_build(p, 0, 1000, &d, false);
	CU_ASSERT_FATAL(m != NULL);
	dup = rte_pktmbuf_copy(m, p->src.ctx.port.pool, 0, UINT32_MAX);
	CU_ASSERT_FATAL(dup != NULL);
	ch_send(p, 1, m);
	settle_dst(p, 0);
	CU_ASSERT_EQUAL(ch_take_acks(p, 0, NULL), 1);
	CU_ASSERT(memcmp(ch_dst_page(p, GPA(3)), ch_src_page(p, GPA(3)), PG) == 0);
	CU_ASSERT(memcmp(ch_dst_page(p, GPA(4)), ch_src_page(p, GPA(4)), PG / 2) == 0);

	/* Changed since (as later versions would): applying the duplicate
	 * would undo it. */
	memset(ch_dst_page(p, GPA(3)), 0xee, PG);
	memset(ch_dst_page(p, GPA(4)), 0xee, PG);
	ch_send(p, 1, dup);
	ch_poll_dst(p, 0); /* no time passes: the ack is immediate */
	CU_ASSERT_EQUAL(dst_st(p)->rx_dup, 1);
	CU_ASSERT_EQUAL(dst_st(p)->rx_new, 1);
	CU_ASSERT_EQUAL(dst_st(p)->pages_raw, 1);
	CU_ASSERT_EQUAL(dst_st(p)->pages_frag, 1);
	CU_ASSERT_EQUAL(dst_st(p)->pages_stale, 0); /* not even offered */
	CU_ASSERT_EQUAL(ch_dst_page(p, GPA(3))[0], 0xee);
	CU_ASSERT_EQUAL(ch_dst_page(p, GPA(3))[PG - 1], 0xee);
	CU_ASSERT_EQUAL(ch_dst_page(p, GPA(4))[0], 0xee);
	CU_ASSERT_EQUAL_FATAL(ch_take_acks(p, 0, &ack), 1);
	CU_ASSERT_EQUAL(ack.cum_ack, 1001);
	ch_pair_free(p);
}

/* A frame with one damaged record (raw, fragment or zstd; a payload byte
 * flipped, which the frame check does not cover) after an intact one:
 * dropped whole before anything of it is written, not acknowledged. */
void
test_record_csum(void)
{
	static uint8_t zout[PG];
	struct migdp_codec_ctx *cc = migdp_codec_ctx_create(NULL);
	struct ch_pair *p = pair(9000, 0, NULL);
	const uint32_t payload = MIGDP_L2_HDRS_LEN + 2 * sizeof(struct migdp_rec_hdr);
	struct migdp_data d;
	uint8_t *snap;
	unsigned kind;

	CU_ASSERT_FATAL(p != NULL && cc != NULL);
	fill_random(ch_src_page(p, GPA(1)), 1);
	fill_random(ch_src_page(p, GPA(2)), 2);
	fill_compressible(ch_src_page(p, GPA(3)), 3);
	snap = dst_snapshot(p);
	CU_ASSERT_FATAL(snap != NULL);
	for (kind = 0; kind < 3; kind++) {
		struct rte_mbuf *m;

		migdp_data_init(&d, 9000);
		CU_ASSERT_FATAL(migdp_data_add_raw(&d, GPA(1), ch_src_page(p, GPA(1))) == 0);
		if (kind == 0)
			CU_ASSERT_FATAL(migdp_data_add_raw(&d, GPA(2),
							   ch_src_page(p, GPA(2))) == 0);
		if (kind == 1)
			CU_ASSERT_FATAL(migdp_data_add_fragment(&d, GPA(2),
					ch_src_page(p, GPA(2)), 1024, 2048, 0) == 0);
		if (kind == 2)
			CU_ASSERT_FATAL(add_zstd(&d, cc, ch_src_page(p, GPA(3)), GPA(3),
						 zout) == 0);
		m = ch_build(p, 0, 1000, &d, false);
		CU_ASSERT_FATAL(m != NULL);
		/* A byte inside the second record's payload. */
		rte_pktmbuf_mtod_offset(m, uint8_t *, payload + PG + d.rec[1].len / 2)[0] ^= 1;
		ch_send(p, 1, m);
		settle_dst(p, 0);
		CU_ASSERT_EQUAL(dst_st(p)->drops[MIGDP_DROP_REC_CSUM], kind + 1);
	}
	CU_ASSERT(dst_unchanged(p, snap));
	CU_ASSERT_EQUAL(ch_dst_chan(p, 0)->rx->stats.new_frames, 0);
	CU_ASSERT_EQUAL(ch_dst_chan(p, 0)->md.pages, 0);
	CU_ASSERT_EQUAL(ch_take_acks(p, 0, NULL), 0);
	free(snap);
	ch_pair_free(p);
	migdp_codec_ctx_free(cc);
}

/* Newest version wins: a frame overtaken by a later one with the same page
 * is refused for that page (stale), whatever order they arrive in. */
void
test_newest_wins(void)
{
	struct ch_pair *p = pair(9000, 0, NULL);
	struct rte_mbuf *older, *newer;
	struct migdp_data d;

	CU_ASSERT_FATAL(p != NULL);
	fill_random(ch_src_page(p, GPA(5)), 5);
	older = raw_frame(p, 0, 1000, GPA(5));
	migdp_data_init(&d, 9000);
	CU_ASSERT_FATAL(migdp_data_add_zero(&d, GPA(5), 1) == 0);
	newer = ch_build(p, 0, 1001, &d, false); /* the guest zeroed it */
	CU_ASSERT_FATAL(older != NULL && newer != NULL);
	ch_send(p, 1, newer);
	ch_send(p, 1, older);
	settle_dst(p, 0);
	CU_ASSERT_EQUAL(ch_dst_chan(p, 0)->rx->stats.new_frames, 2);
	CU_ASSERT_EQUAL(dst_st(p)->pages_stale, 1);
	CU_ASSERT_EQUAL(dst_st(p)->pages_raw, 0);
	CU_ASSERT(all_zero(ch_dst_page(p, GPA(5)), PG));
	/* Its digest value is the zero page's. */
	CU_ASSERT_EQUAL(ch_dst_chan(p, 0)->md.sum,
			migdp_mdigest_value(GPA(5), MIGDP_CRC32C_ZERO_PAGE, 0));
	ch_pair_free(p);
}

/* Records outside guest memory (in a hole, past the end, straddling a
 * region's end) are skipped and counted; the rest of the frame is applied
 * and acknowledged. */
void
test_record_outside(void)
{
	static const struct ch_region regions[] = {
		{.gpa = 0, .size = CH_MB}, {.gpa = 2 * CH_MB, .size = CH_MB},
	};
	struct ch_pair *p = pair(9000, 2, regions);
	uint64_t good = 2 * CH_MB + 2 * PG, last = CH_MB - PG;
	static uint8_t junk[PG];
	struct migdp_data d;

	CU_ASSERT_FATAL(p != NULL);
	fill_random(junk, 99);
	fill_random(ch_src_page(p, good), 7);
	memset(ch_dst_page(p, last), 0x33, PG);
	migdp_data_init(&d, 9000);
	CU_ASSERT_FATAL(migdp_data_add_raw(&d, CH_MB + CH_MB / 2, junk) == 0);
	CU_ASSERT_FATAL(migdp_data_add_zero(&d, last, 2) == 0);
	CU_ASSERT_FATAL(migdp_data_add_zero(&d, 8 * CH_MB, 1) == 0);
	CU_ASSERT_FATAL(migdp_data_add_raw(&d, good, ch_src_page(p, good)) == 0);
	ch_send(p, 1, ch_build(p, 0, 1000, &d, false));
	settle_dst(p, 0);
	CU_ASSERT_EQUAL(dst_st(p)->drops[MIGDP_DROP_REC_OUTSIDE], 3);
	CU_ASSERT_EQUAL(dst_st(p)->pages_raw, 1);
	CU_ASSERT_EQUAL(dst_st(p)->pages_zero, 0);
	CU_ASSERT(memcmp(ch_dst_page(p, good), ch_src_page(p, good), PG) == 0);
	/* The straddling run was not applied in part. */
	CU_ASSERT_EQUAL(ch_dst_page(p, last)[0], 0x33);
	CU_ASSERT_EQUAL(ch_dst_chan(p, 0)->md.pages, 1);
	CU_ASSERT_EQUAL(ch_take_acks(p, 0, NULL), 1);
	ch_pair_free(p);
}

/* A page on another channel than its block's (DESIGN decision 3, the
 * source's partition from HELLO): the frame is refused whole, nothing of
 * it written or acknowledged; its own pages are applied. */
static void
test_partition_enforced(void)
{
	static const struct ch_region regions[] = {{.gpa = 0, .size = 4 * CH_MB}};
	struct ch_params prm = {.mtu = 9000, .isn = 1000, .nregions = 1, .nch = 2};
	uint64_t mine = PG, theirs = 2 * CH_MB + PG; /* blocks 0 and 1 */
	struct ch_pair *p;
	struct migdp_data d;

	memcpy(prm.regions, regions, sizeof(regions));
	p = ch_pair_create(&prm);
	CU_ASSERT_FATAL(p != NULL);
	ch_dst_chan(p, 0)->ctx->block_shift = 9 + MIGDP_PAGE_SHIFT; /* 2 MiB */
	fill_random(ch_src_page(p, mine), 3);
	fill_random(ch_src_page(p, theirs), 4);
	migdp_data_init(&d, 9000);
	CU_ASSERT_FATAL(migdp_data_add_raw(&d, mine, ch_src_page(p, mine)) == 0);
	CU_ASSERT_FATAL(migdp_data_add_raw(&d, theirs, ch_src_page(p, theirs)) == 0);
	ch_send(p, 1, ch_build(p, 0, 1000, &d, false));
	settle_dst(p, 0);
	CU_ASSERT_EQUAL(dst_st(p)->drops[MIGDP_DROP_REC_CHANNEL], 1);
	CU_ASSERT_EQUAL(dst_st(p)->pages_raw, 0);
	CU_ASSERT(all_zero(ch_dst_page(p, mine), PG));
	CU_ASSERT(all_zero(ch_dst_page(p, theirs), PG));
	CU_ASSERT_EQUAL(ch_take_acks(p, 0, NULL), 0);
	/* A zero run across the end of block 0 is refused too. */
	migdp_data_init(&d, 9000);
	CU_ASSERT_FATAL(migdp_data_add_zero(&d, 2 * CH_MB - PG, 2) == 0);
	ch_send(p, 1, ch_build(p, 0, 1000, &d, false));
	settle_dst(p, 0);
	CU_ASSERT_EQUAL(dst_st(p)->drops[MIGDP_DROP_REC_CHANNEL], 2);
	/* Its own page alone is applied. */
	migdp_data_init(&d, 9000);
	CU_ASSERT_FATAL(migdp_data_add_raw(&d, mine, ch_src_page(p, mine)) == 0);
	ch_send(p, 1, ch_build(p, 0, 1000, &d, false));
	settle_dst(p, 0);
	CU_ASSERT_EQUAL(dst_st(p)->pages_raw, 1);
	CU_ASSERT(memcmp(ch_dst_page(p, mine), ch_src_page(p, mine), PG) == 0);
	CU_ASSERT_EQUAL(ch_take_acks(p, 0, NULL), 1);
	ch_pair_free(p);
}

/* ---- registration ------------------------------------------------------- */

int
main(int argc, char **argv)
{
	static const struct cu_test frames[] = {
		{"zero-copy and copy frames decode alike, MTU 9000", test_zero_copy_9000},
		{"zero-copy and copy frames decode alike, MTU 1500 (fragments)",
		 test_zero_copy_1500},
		{"altered header or record table: bad frame check, nothing written",
		 test_frame_check},
		{"zero run into never-written memory writes nothing", test_zero_run_fresh},
		{"zero run into written memory zeroes it", test_zero_run_written},
		{"misrouted frames go to the owner", test_misrouted},
		{"duplicate acknowledged, not re-applied", test_dup_not_reapplied},
		{"one damaged record: frame dropped whole, nothing written",
		 test_record_csum},
		{"newest version wins", test_newest_wins},
		{"records outside guest memory skipped and counted", test_record_outside},
		{"a page on another channel than its block's: frame refused",
		 test_partition_enforced},
		{NULL, NULL},
	};
	static const struct cu_test flow[] = {
		{"zstd round trip, MTU 9000, two rounds", test_roundtrip_zstd_9000},
		{"zstd round trip, MTU 1500 (fragments), two rounds",
		 test_roundtrip_zstd_1500},
		{"round trip on worker lcores, two channels", test_roundtrip_lcores},
		{"retransmission of a frame whose page changed (copy)", test_retransmit_copy},
		{"zero-copy page torn before it left: refused, the resend carries it whole",
		 test_retransmit_zero_copy},
		{"a frame resent after the destination completed is acknowledged",
		 test_ack_after_complete},
		{"a frame ends with its round", test_round_ends_frame},
		{NULL, NULL},
	};

	RTE_SET_USED(argc);
	ch_eal_init(argv[0]);
	if (cu_add_suite("chan_frames", NULL, NULL, frames) < 0 ||
	    cu_add_suite("chan_flow", NULL, NULL, flow) < 0)
		return 1;
	return cu_run();
}
