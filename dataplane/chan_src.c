/* SPDX-License-Identifier: BSD-3-Clause */
/* Source channel lcore: pop dirty descriptors from this channel's shim
 * ring, read the pages straight from mapped guest memory, pack them into
 * DATA frames (zero runs, raw pages, runs of pages compressed together,
 * fragments and compressed streams below MTU 4200; a frame ends with its
 * round), keep the memory digest of what was sent, send within the window
 * and the pacing of the congestion control, process ACKs, retransmit, and
 * finish with a FIN once the final round's marker has been sent and
 * acknowledged. How a frame is built (copy or zero-copy) and copied for a
 * resend is chan_src_frame.c's. */
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "codec/codec.h"
#include "dp.h"
#include "log.h"
#include "mdigest.h"

/* Next page to send from the ring; false when none is waiting. */
static bool
next_page(struct migdp_chan *c, bool frame_empty)
{
	struct migdp_ctx *ctx = c->ctx;

	while (c->cur_left == 0) {
		if (c->idesc == c->ndescs) {
			c->ndescs = migshim_session_pop(ctx->shim, c->id, c->descs,
							MIGDP_BURST);
			c->idesc = 0;
			if (c->ndescs == 0)
				return false;
		}
		const struct migshim_desc *d = &c->descs[c->idesc];

		if (d->flags & MIGSHIM_DESC_END_OF_ROUND) {
			/* A round ends with its frame: a page occurs once
			 * per round, so never twice in one frame, and both
			 * memory digests see its records in the same order. */
			if (!frame_empty)
				return false;
			c->idesc++;
			if (d->flags & MIGSHIM_DESC_FINAL)
				c->final_seen = true;
			atomic_store_explicit(&c->round_marked, d->gpa,
					      memory_order_release);
			continue;
		}
		c->idesc++;
		c->cur_gpa = d->gpa;
		c->cur_left = d->npages;
	}
	return true;
}

/* Is there something to send? Pops descriptors when none is in hand. */
static bool
pending(struct migdp_chan *c)
{
	if (c->cur_left != 0 || c->frag_active || c->zs_active || c->carry_active ||
	    c->idesc < c->ndescs)
		return true;
	c->ndescs = migshim_session_pop(c->ctx->shim, c->id, c->descs, MIGDP_BURST);
	c->idesc = 0;
	return c->ndescs > 0;
}

/* Digest value slot of page @p i after @p gpa. */
static inline uint64_t *
page_slot(const struct migdp_chan *c, uint64_t gpa, uint32_t i)
{
	return &c->ctx->pval[migdp_page_index(c->ctx, gpa) + i];
}

/* How many pages, from the current one (non-zero), to compress as one
 * record: as many as are expected to fill what is left of the frame at
 * the ratio seen so far, within the current descriptor and the frame's
 * budget of compressed pages (a random-looking page ends it early, see
 * migdp_codec_encode_run()). */
static uint32_t
run_length(struct migdp_chan *c, uint32_t avail)
{
	/* 0.8: a run that overshoots is carried, leaving a hole in this frame. */
	uint32_t want = (uint32_t)(0.8 * avail * c->zratio / MIGDP_PAGE_SIZE);

	want = RTE_MIN(RTE_MAX(want, 1u), MIGDP_ZSTD_MAX_PAGES);
	if (migdp_wire_data_room(c->flow.mtu) < MIGDP_PAGE_SIZE)
		want = 1; /* small frames: a page at a time, streamed if need be */
	want = RTE_MIN(want, c->cur_left);
	want = RTE_MIN(want, MIGDP_DATA_MAX_ZSTD_PAGES - c->frame_zpages);
	/* Zero pages inside the run go with it: zstd makes a few bytes of
	 * each, less than a zero-run record header, and the run stays long
	 * (pages of one zstd frame compress faster and better together). */
	return want;
}

/* A compressed page too large for one small frame becomes a stream
 * (struct migdp_zstream_hdr, then the zstd frame) sent in ZSTD_FRAG
 * fragments, so that compression pays at MTU 1500 too. Two stream buffers
 * alternate: a frame may hold the end of one stream and the start of the
 * next. */
static void
zstream_start(struct migdp_chan *c, const struct migdp_rec *r, uint32_t crc)
{
	uint8_t *b = c->zs_buf[c->zs_cur ^= 1];
	struct migdp_zstream_hdr h = {
		.len = rte_cpu_to_be_16((uint16_t)(sizeof(h) + r->len)),
		.crc = rte_cpu_to_be_32(crc),
	};

	memcpy(b, &h, sizeof(h));
	memcpy(b + sizeof(h), r->data, r->len);
	c->zs_gpa = r->gpa;
	c->zs_len = sizeof(h) + r->len;
	c->zs_off = 0;
	c->zs_active = true;
	migdp_mdigest_set(&c->md, page_slot(c, r->gpa, 0),
			  migdp_mdigest_value(r->gpa, crc, 0));
	c->zratio = 0.9 * c->zratio + 0.1 * (double)MIGDP_PAGE_SIZE / r->len;
	c->batch.pages++;
	c->batch.bytes_out += c->zs_len;
	c->st.pages_zstd++;
	c->st.pages_zstd_frag++;
	c->st.zstd_bytes += c->zs_len;
}

/* The next piece of the stream in progress. @return false when the frame
 * is full (or has too little room to bother). */
static bool
zstream_next(struct migdp_chan *c, struct migdp_data *d, uint32_t seq)
{
	uint32_t avail = migdp_data_avail(d);
	struct migdp_rec r = {
		.gpa = c->zs_gpa, .type = MIGDP_REC_ZSTD_FRAG, .npages = 1,
		.len = (uint16_t)RTE_MIN(c->zs_len - c->zs_off, avail),
		.frag_off = (uint16_t)c->zs_off, .crc_at_build = true,
		.data = c->zs_buf[c->zs_cur] + c->zs_off,
	};

	if (avail < 256)
		return false;
	if (c->zs_off == 0)
		c->zs_first_seq = seq;
	r.ver_delta = (uint16_t)(seq - c->zs_first_seq);
	if (migdp_data_add(d, &r) < 0)
		return false;
	c->zs_off += r.len;
	c->zs_active = c->zs_off < c->zs_len;
	return !c->zs_active;
}

/* Non-zero pages as one zstd record when the codec says so, else one raw
 * page. Pages are compressed once: a record that does not fit this frame
 * is carried to the next one (@return its pages: consumed; the frame is
 * full); a page that went raw is remembered so that the next frame does
 * not compress it again. @return pages added (carried pages negated), or
 * 0 when nothing fits. */
static int
add_pages(struct migdp_chan *c, struct migdp_data *d, const uint8_t *page,
	  uint32_t avail)
{
	uint32_t crcs[MIGDP_ZSTD_MAX_PAGES], room = migdp_wire_data_room(c->flow.mtu);
	uint32_t n = 0, i;
	struct migdp_rec r;
	bool tried = false;

	if (c->use_zstd && c->raw_gpa != c->cur_gpa && c->frame_zpages < MIGDP_DATA_MAX_ZSTD_PAGES)
		n = run_length(c, avail);
	if (n > 0 && migdp_codec_encode_run(c->codec, page, n, c->arena + c->arena_used,
					    MIGDP_ZSTD_MAX_PAGES * MIGDP_PAGE_SIZE,
					    &r, crcs) < 0)
		n = 0;
	/* A run that compressed to more than a whole frame holds: its first
	 * page goes raw, and its ratio sizes the next run (measured: trying
	 * again smaller cost more than it saved). */
	if (n > 0 && r.type == MIGDP_REC_ZSTD && r.npages > 1 &&
	    sizeof(struct migdp_rec_hdr) + r.len > room)
		c->zratio = (double)(r.npages * MIGDP_PAGE_SIZE) / r.len;
	if (n > 0) {
		tried = true;
		r.gpa = c->cur_gpa;
		/* Below MTU ~4200 a page that compresses too little for one
		 * frame goes raw, in fragments. */
		if (r.type == MIGDP_REC_ZSTD && sizeof(struct migdp_rec_hdr) + r.len <= room) {
			n = r.npages;
			for (i = 0; i < n; i++) /* the digest follows what is sent */
				migdp_mdigest_set(&c->md, page_slot(c, r.gpa, i),
						  migdp_mdigest_value(r.gpa + ((uint64_t)i << MIGDP_PAGE_SHIFT),
								      crcs[i], 0));
			c->zratio = 0.9 * c->zratio + 0.1 * (double)(n * MIGDP_PAGE_SIZE) / r.len;
			c->batch.pages += n;
			c->batch.bytes_out += r.len;
			c->st.pages_zstd += n;
			c->st.zstd_bytes += r.len;
			c->st.zstd_records++;
			if (migdp_data_add(d, &r) == 0) {
				c->arena_used += r.len;
				c->frame_zpages += n;
				return (int)n;
			}
			memcpy(c->carry_buf, r.data, r.len);
			r.data = c->carry_buf;
			c->carry = r;
			c->carry_active = true;
			return -(int)n;
		}
		if (r.type == MIGDP_REC_ZSTD && r.npages == 1) {
			zstream_start(c, &r, crcs[0]);
			return -1; /* consumed; its fragments follow */
		}
		c->raw_gpa = c->cur_gpa;
	}
	if (migdp_data_add_raw(d, c->cur_gpa, page) < 0)
		return 0;
	c->st.pages_raw++;
	c->batch.pages++;
	c->batch.pages_fallback += tried;
	c->batch.bytes_out += MIGDP_PAGE_SIZE;
	return 1;
}

static inline void
consume(struct migdp_chan *c, uint32_t n)
{
	c->cur_gpa += (uint64_t)n << MIGDP_PAGE_SHIFT;
	c->cur_left -= n;
}

/* Fill @p d with records for the frame of sequence @p seq. */
static void
fill_frame(struct migdp_chan *c, struct migdp_data *d, uint32_t seq)
{
	const struct migshim_session *shim = c->ctx->shim;
	bool fragments = migdp_wire_data_room(c->flow.mtu) <
			 MIGDP_PAGE_SIZE + sizeof(struct migdp_rec_hdr);
	uint64_t pages = 0;

	c->frame_zpages = 0;
	if (c->carry_active) { /* compressed for the previous frame */
		memcpy(c->arena, c->carry_buf, c->carry.len);
		c->carry.data = c->arena;
		c->arena_used = c->carry.len;
		c->frame_zpages = c->carry.npages;
		c->carry_active = false;
		if (migdp_data_add(d, &c->carry) < 0) /* fits an empty frame */
			RTE_VERIFY(0);
	}
	for (;;) {
		uint32_t avail = migdp_data_avail(d), n;
		const uint8_t *page;
		int rc;

		if (c->zs_active) {
			if (!zstream_next(c, d, seq))
				break;
			continue;
		}
		if (c->frag_active) {
			uint32_t len = RTE_MIN(MIGDP_PAGE_SIZE - c->frag_off, avail);

			if (avail < 256)
				break;
			page = migshim_session_gpa_to_hva(shim, c->frag_gpa,
							  MIGDP_PAGE_SIZE);
			if (migdp_data_add_fragment(d, c->frag_gpa, page,
						    (uint16_t)c->frag_off,
						    (uint16_t)len,
						    (uint16_t)(seq - c->frag_first_seq)) < 0)
				break;
			c->frag_off += len;
			if (c->frag_off < MIGDP_PAGE_SIZE)
				break; /* frame full, the rest goes next */
			c->frag_active = false;
			continue;
		}
		if (avail == 0 || !next_page(c, d->nrec == 0))
			break;
		page = migshim_session_gpa_to_hva(shim, c->cur_gpa, MIGDP_PAGE_SIZE);
		n = migdp_zero_run(page, c->cur_left);

		if (n > 0) {
			if (migdp_data_add_zero(d, c->cur_gpa, n) < 0)
				break;
			c->st.pages_zero += n;
			pages += n;
			consume(c, n);
		} else if ((rc = add_pages(c, d, page, avail)) != 0) {
			n = (uint32_t)abs(rc);
			pages += n;
			consume(c, n);
			if (rc < 0 && !c->zs_active) /* carried: this frame is full */
				break;
		} else if (fragments && avail >= 256) {
			/* Below MTU 4200 a page goes in fragments, each written
			 * in place at the destination. */
			c->frag_active = true;
			c->frag_gpa = c->cur_gpa;
			c->frag_off = 0;
			c->frag_first_seq = seq;
			c->st.pages_frag++;
			pages++;
			consume(c, 1);
		} else {
			break;
		}
	}
	atomic_fetch_add_explicit(&c->pages_done, pages, memory_order_relaxed);
}

/* The memory digest (mdigest.h) follows what this frame carries (zstd
 * records: when compressed, see add_pages()). */
static void
digest_frame(struct migdp_chan *c, const struct migdp_data *d)
{
	unsigned i;
	uint32_t k;

	for (i = 0; i < d->nrec; i++) {
		const struct migdp_rec *r = &d->rec[i];
		uint64_t *slot = page_slot(c, r->gpa, 0);

		switch (r->type) {
		case MIGDP_REC_ZERO_RUN:
			for (k = 0; k < r->npages; k++)
				migdp_mdigest_set(&c->md, slot + k, migdp_mdigest_value(
					r->gpa + ((uint64_t)k << MIGDP_PAGE_SHIFT),
					MIGDP_CRC32C_ZERO_PAGE, 0));
			break;
		case MIGDP_REC_FRAGMENT:
			if (r->frag_off == 0) /* a new version of the page */
				migdp_mdigest_reset(&c->md, slot);
			migdp_mdigest_add_frag(&c->md, slot,
				migdp_mdigest_value(r->gpa, r->crc, r->frag_off));
			break;
		case MIGDP_REC_RAW_PAGE:
			migdp_mdigest_set(&c->md, slot,
					  migdp_mdigest_value(r->gpa, r->crc, 0));
			break;
		default:
			break;
		}
	}
}

void
migdp_chan_release_frame(void *arg, uint32_t seq, uint64_t cookie)
{
	RTE_SET_USED(arg);
	RTE_SET_USED(seq);
	rte_pktmbuf_free((struct rte_mbuf *)(uintptr_t)cookie);
}

/* Build and send new DATA frames while window and pacing allow. */
static unsigned
send_new(struct migdp_chan *c, uint64_t now)
{
	struct migdp_ctx *ctx = c->ctx;
	struct rte_mbuf *pkts[MIGDP_BURST_ROOM];
	struct migdp_data d;
	struct migdp_msg msg = {.type = MIGDP_T_DATA};
	bool auto_codec = ctx->cfg->codec.method == MIGDP_CODEC_AUTO;
	bool drained = false, link_bound = false;
	struct rte_mbuf *bufs[MIGDP_BURST];
	uint16_t burst = (uint16_t)ctx->cfg->port.burst;
	unsigned nbuf = 0, used = 0;
	uint16_t n = 0;
	uint32_t seq;
	int len;

	/* A burst's buffers at once while bursts go out whole (the last call
	 * sent one); the ones left go back at the end. */
	if (c->full_burst && rte_pktmbuf_alloc_bulk(ctx->port.pool, bufs, burst) == 0)
		nbuf = burst;
	while (n < burst) {
		struct rte_mbuf *m;

		/* Nothing in hand and nothing in the ring: not the pacer's
		 * business (its credit would be spent on no frame, and an
		 * idle channel would wake for the pacer instead of backing
		 * off). */
		if (!pending(c)) {
			drained = true;
			break;
		}
		if (migdp_tx_window_full(c->tx)) {
			link_bound = true;
			break;
		}
		if (!migdp_pacer_take(&c->pacer, now, c->flow.mtu + RTE_ETHER_HDR_LEN)) {
			/* Come back when the pacer has credit, not later. */
			c->wake_ns = migdp_pacer_next(&c->pacer, now,
						      c->flow.mtu + RTE_ETHER_HDR_LEN);
			link_bound = true;
			break;
		}
		/* The buffer first: once fill_frame() took pages from the
		 * ring, they must leave in this frame. */
		m = used < nbuf ? bufs[used++] : rte_pktmbuf_alloc(ctx->port.pool);
		if (m == NULL)
			break;
		struct migdp_codec_choice choice = {0};
		uint64_t t0 = rte_get_tsc_cycles();

		if (auto_codec) { /* the chooser decides per frame */
			choice = migdp_adapt_choose(&c->adapt);
			c->use_zstd = choice.method == MIGDP_CODEC_ZSTD;
			if (c->use_zstd)
				migdp_codec_ctx_set_level(c->codec, choice.level);
		}
		migdp_data_init(&d, c->flow.mtu);
		c->arena_used = 0;
		memset(&c->batch, 0, sizeof(c->batch));
		fill_frame(c, &d, c->tx->nxt);
		if (d.nrec == 0) {
			rte_pktmbuf_free(m);
			drained = true;
			break;
		}
		msg.seq = c->tx->nxt;
		msg.tstamp = migdp_tstamp(now);
		len = c->build(c, m, &msg, &d);
		if (len < 0) {
			MIGDP_LOG(ERR, "channel %u: frame build failed (%d)", c->id, len);
			rte_pktmbuf_free(m);
			atomic_store(&c->state, MIGDP_CHAN_FAILED);
			break;
		}
		digest_frame(c, &d);
		migdp_tx_send(c->tx, now, (uintptr_t)m, rte_pktmbuf_pkt_len(m), &seq);
		rte_pktmbuf_refcnt_update(m, 1); /* ours, for retransmission */
		pkts[n++] = m;
		if (auto_codec && c->batch.pages > 0) {
			c->batch.ns = (rte_get_tsc_cycles() - t0) * 1000000000ull /
				      rte_get_tsc_hz();
			migdp_adapt_account(&c->adapt, &choice, &c->batch);
		}
	}
	/* The link holds us back when the window is full or pacing said no
	 * (stopped short of a burst with pages left); not when the burst
	 * ended or the ring was empty: that is the CPU, or nothing to do. */
	if (migdp_tx_window_full(c->tx) ||
	    (!drained && n < burst && (c->cur_left > 0 || c->idesc < c->ndescs)))
		c->saturated = true;
	if (used < nbuf)
		rte_pktmbuf_free_bulk(bufs + used, nbuf - used);
	c->full_burst = n == burst;
	/* Neither window nor pacing stopped us (nothing to send, the burst
	 * ended, no buffer): rate samples now measure us, not the path. */
	if (!link_bound)
		migdp_tx_app_limited(c->tx);
	if (n > 0)
		migdp_send_frames(ctx, c->queue, pkts, n, &c->ftx, &c->st);
	return n;
}

/* Resend what the transport says is lost or timed out: a private copy
 * with a fresh timestamp, so the kept frame is never modified in flight. */
/* With timeouts doubling up to 2 s, some 30 s of refusals. */
#define MIGDP_MAX_RESENDS 20

unsigned
migdp_chan_retransmit(struct migdp_chan *c, uint64_t now)
{
	struct rte_mbuf *pkts[MIGDP_BURST_ROOM];
	uint32_t seqs[MIGDP_BURST];
	unsigned i, n, k = 0;

	n = migdp_tx_due(c->tx, now, seqs, c->ctx->cfg->port.burst);
	for (i = 0; i < n; i++) {
		struct rte_mbuf *orig = (struct rte_mbuf *)(uintptr_t)
			migdp_tx_cookie(c->tx, seqs[i]);
		struct rte_mbuf *m;

		if (orig == NULL)
			continue;
		/* A frame the peer keeps refusing (not damage on the link,
		 * which a resend cures): fail rather than resend forever. */
		if (c->tx->slots[seqs[i] & c->tx->mask].retx >= MIGDP_MAX_RESENDS) {
			MIGDP_LOG(ERR, "channel %u: frame %u resent %u times, never "
				  "acknowledged", c->id, seqs[i], MIGDP_MAX_RESENDS);
			atomic_store(&c->state, MIGDP_CHAN_FAILED);
			break;
		}
		/* Resends are paced too: a burst of them would overflow the
		 * bottleneck that lost the originals. */
		if (!migdp_pacer_take(&c->pacer, now, rte_pktmbuf_pkt_len(orig))) {
			c->wake_ns = migdp_pacer_next(&c->pacer, now,
						      rte_pktmbuf_pkt_len(orig));
			break;
		}
		m = migdp_frame_copy_for_resend(c, orig);
		if (m == NULL)
			break;
		migdp_wire_restamp(rte_pktmbuf_mtod(m, void *), migdp_tstamp(now),
				   MIGDP_F_RETRANSMIT);
		migdp_tx_retransmitted(c->tx, seqs[i], now);
		pkts[k++] = m;
	}
	if (k > 0) {
		c->st.retransmits += k;
		atomic_store_explicit(&c->retx, c->st.retransmits,
				      memory_order_relaxed);
		migdp_send_frames(c->ctx, c->queue, pkts, (uint16_t)k, &c->ftx, &c->st);
	}
	return k;
}

static void
send_fin(struct migdp_chan *c, uint64_t now)
{
	struct migdp_msg msg = {.type = MIGDP_T_FIN, .tstamp = migdp_tstamp(now)};

	msg.u.fin.end_seq = c->end_seq;
	msg.u.fin.pages = c->st.pages_zero + c->st.pages_raw + c->st.pages_frag +
			  c->st.pages_zstd;
	msg.u.fin.zero_pages = c->st.pages_zero;
	c->fin_sent = true;
	c->fin_sent_ns = now;
	migdp_send_msg(c->ctx, c->queue, &c->flow, &msg, &c->ftx, &c->st);
}

static void
handle(struct migdp_chan *c, const struct migdp_frame *f, uint64_t now)
{
	switch (f->msg.type) {
	case MIGDP_T_ACK:
		if (migdp_tx_on_ack(c->tx, now, &f->msg.u.ack, migdp_chan_release_frame, c) < 0)
			c->st.drops[MIGDP_DROP_SEQ_OLD]++;
		break;
	case MIGDP_T_FIN: /* the destination echoes our FIN */
		if (c->fin_sent && f->msg.u.fin.end_seq == c->end_seq)
			c->fin_echoed = true;
		break;
	default:
		c->st.drops[MIGDP_DROP_UNKNOWN_TYPE]++;
	}
}

/* Nothing of the ring in hand: every page popped went into a frame. */
static bool
nothing_in_hand(const struct migdp_chan *c)
{
	return c->cur_left == 0 && !c->frag_active && !c->zs_active &&
	       !c->carry_active && c->idesc == c->ndescs;
}

/* A round is drained when its marker was taken, nothing popped waits for
 * a frame and the peer acknowledged every frame: the control lcore then
 * closes the round (pre-copy policy is its business, not ours). */
static void
publish_drained(struct migdp_chan *c)
{
	uint64_t marked = atomic_load_explicit(&c->round_marked, memory_order_relaxed);

	if (marked > atomic_load_explicit(&c->round_drained, memory_order_relaxed) &&
	    nothing_in_hand(c) && migdp_tx_inflight(c->tx) == 0)
		atomic_store_explicit(&c->round_drained, marked, memory_order_release);
}

/* The pacer's rate for this loop: what the path delivers (congestion
 * control) or the configured rate, under the session's own limit
 * (max-bandwidth), this channel's share. Shared by stream channels. */
void
migdp_chan_src_pace(struct migdp_chan *c, uint64_t now)
{
	const struct migdp_cc *cc = migdp_tx_cc(c->tx);
	uint64_t total = atomic_load_explicit(&c->ctx->rate_limit_bps, memory_order_relaxed);
	uint64_t limit = total == 0 ? 0 : RTE_MAX(total / c->ctx->nch, (uint64_t)1);

	c->wake_ns = 0;
	if (cc != NULL) { /* pace to what the path delivers */
		uint64_t rate = migdp_cc_pacing_bps(cc);

		migdp_pacer_set_rate(&c->pacer, limit != 0 && rate > limit ? limit : rate, now);
		atomic_store_explicit(&c->acked_bytes, cc->delivered, memory_order_relaxed);
	} else if (limit != c->limit_applied) {
		uint64_t base = migdp_config_channel_bps(c->ctx->cfg);

		migdp_pacer_set_rate(&c->pacer, limit == 0 ? base : base == 0 ? limit :
				     RTE_MIN(base, limit), now);
		c->limit_applied = limit;
	}
}

/* Every millisecond, the codec chooser's view of the link. Shared by
 * stream channels. */
void
migdp_chan_src_link(struct migdp_chan *c, uint64_t now)
{
	const struct migdp_cc *cc = migdp_tx_cc(c->tx);

	if (now - c->link_ns < 1000000)
		return;
	if (cc != NULL) {
		/* The session's discovered rate (what the peer
		 * acknowledged per 100 ms, all channels: see
		 * migdp_sess_rate_sample() in control/session.c), this channel's share;
		 * unknown (raw, which lets the rate show) until the
		 * first window. Not the channel's own btlbw: a max over
		 * its own samples, it caught the bursts a shaper lets
		 * through and, with channels sharing a path, their
		 * moments alone on it (3x a 1 Gb/s tbf seen). */
		uint64_t bps = atomic_load_explicit(&c->ctx->discovered_bps,
						    memory_order_relaxed);

		/* ...and only while the path holds this channel back
		 * (window or pacing, within the last 500 ms): a channel
		 * busy compressing measures itself, so the path then
		 * counts as unknown and the chooser tries raw again
		 * (which shows a fast path for what it is). */
		if (c->saturated)
			c->path_bound_ns = now;
		migdp_adapt_set_link(&c->adapt, now - c->path_bound_ns < 500000000ull ?
				     bps / 8 / c->ctx->nch : 0);
	} else {
		migdp_adapt_link(&c->adapt, now - c->link_ns,
				 c->st.tx_bytes - c->link_bytes, c->saturated);
	}
	c->link_ns = now;
	c->link_bytes = c->st.tx_bytes;
	c->saturated = false;
}

/* Losses first, then new pages; after the final round, FIN until echoed
 * and everything acknowledged. */
static unsigned
src_tick(struct migdp_chan *c, uint64_t now)
{
	unsigned work;

	migdp_chan_src_pace(c, now);
	work = migdp_chan_retransmit(c, now) + send_new(c, now);
	migdp_chan_src_link(c, now);

	publish_drained(c);
	if (!c->final_seen || !nothing_in_hand(c))
		return work;
	if (!c->fin_sent) {
		c->end_seq = c->tx->nxt;
		send_fin(c, now);
	} else if (!c->fin_echoed &&
		   now - c->fin_sent_ns > RTE_MAX(migdp_tx_rto(c->tx),
						  (uint64_t)20000000)) {
		send_fin(c, now);
	}
	if (c->fin_echoed && migdp_tx_inflight(c->tx) == 0 &&
	    atomic_load(&c->state) == MIGDP_CHAN_RUNNING) {
		MIGDP_LOG(INFO, "channel %u: all %u frames acknowledged", c->id,
			  c->end_seq - c->ctx->isn);
		c->digest = c->md; /* published by the state change */
		atomic_store(&c->state, MIGDP_CHAN_DONE);
	}
	return work;
}

const struct migdp_chan_role migdp_chan_src_role = {
	.name = "source",
	.on_frame = handle,
	.tick = src_tick,
};

int
migdp_chan_src_main(void *arg)
{
	return migdp_chan_loop(arg, &migdp_chan_src_role);
}
