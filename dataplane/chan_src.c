/* SPDX-License-Identifier: BSD-3-Clause */
/* Source channel lcore: pop dirty descriptors from this channel's shim
 * ring, read the pages straight from mapped guest memory, pack them into
 * DATA frames (zero runs, raw pages, fragments below MTU 4200), send within
 * the window and the pacing budget, process ACKs, retransmit, and finish
 * with a FIN once the final round's marker has been sent and acknowledged. */
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "codec/codec.h"
#include "dp.h"
#include "log.h"

/* Next page to send from the ring; false when none is waiting. */
static bool
next_page(struct migdp_chan *c)
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
		const struct migshim_desc *d = &c->descs[c->idesc++];

		if (d->flags & MIGSHIM_DESC_END_OF_ROUND) {
			if (d->flags & MIGSHIM_DESC_FINAL)
				c->final_seen = true;
			continue;
		}
		c->cur_gpa = d->gpa;
		c->cur_left = d->npages;
	}
	return true;
}

/* One non-zero page as a zstd record when the codec says so and it fits,
 * else raw. @return 0, or -ENOSPC when it does not fit in this frame. */
static int
add_page(struct migdp_chan *c, struct migdp_data *d, const uint8_t *page,
	 uint32_t avail)
{
	uint32_t cap = RTE_MIN(avail, MIGDP_MAX_FRAME - c->arena_used);
	struct migdp_rec r;
	bool tried = false;

	if (c->use_zstd && cap > 0 &&
	    migdp_codec_encode(c->codec, &migdp_codec_zstd, page,
			       c->arena + c->arena_used, cap, &r) == 0) {
		tried = true;
		if (r.type == MIGDP_REC_ZSTD) {
			r.gpa = c->cur_gpa;
			if (migdp_data_add(d, &r) < 0)
				return -ENOSPC;
			c->arena_used += r.len;
			c->st.pages_zstd++;
			c->st.zstd_bytes += r.len;
			c->batch.pages++;
			c->batch.bytes_out += r.len;
			return 0;
		}
	}
	if (migdp_data_add_raw(d, c->cur_gpa, page) < 0)
		return -ENOSPC;
	c->st.pages_raw++;
	c->batch.pages++;
	c->batch.pages_fallback += tried;
	c->batch.bytes_out += MIGDP_PAGE_SIZE;
	return 0;
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

	for (;;) {
		uint32_t avail = migdp_data_avail(d);
		const uint8_t *page;

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
		if (avail == 0 || !next_page(c))
			break;
		page = migshim_session_gpa_to_hva(shim, c->cur_gpa, MIGDP_PAGE_SIZE);
		uint32_t n = migdp_zero_run(page, c->cur_left);

		if (n > 0) {
			if (migdp_data_add_zero(d, c->cur_gpa, n) < 0)
				break;
			c->st.pages_zero += n;
			pages += n;
			consume(c, n);
		} else if (add_page(c, d, page, avail) == 0) {
			pages++;
			consume(c, 1);
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

static void
release(void *arg, uint32_t seq, uint64_t cookie)
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
	bool drained = false;
	uint16_t n = 0;
	uint32_t seq;
	int len;

	while (n < MIGDP_BURST && !migdp_tx_window_full(c->tx) &&
	       migdp_pacer_take(&c->pacer, now, c->flow.mtu + RTE_ETHER_HDR_LEN)) {
		/* The buffer first: once fill_frame() took pages from the
		 * ring, they must leave in this frame. */
		struct rte_mbuf *m = rte_pktmbuf_alloc(ctx->port.pool);

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
		len = migdp_wire_build_data(rte_pktmbuf_mtod(m, void *),
					    rte_pktmbuf_tailroom(m), &c->flow,
					    &msg, &d, true);
		if (len < 0 || rte_pktmbuf_append(m, (uint16_t)len) == NULL) {
			MIGDP_LOG(ERR, "channel %u: frame build failed (%d)", c->id, len);
			rte_pktmbuf_free(m);
			atomic_store(&c->state, MIGDP_CHAN_FAILED);
			break;
		}
		migdp_tx_send(c->tx, now, (uintptr_t)m, rte_pktmbuf_pkt_len(m), &seq);
		rte_mbuf_refcnt_update(m, 1); /* ours, for retransmission */
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
	    (!drained && n < MIGDP_BURST && (c->cur_left > 0 || c->idesc < c->ndescs)))
		c->saturated = true;
	if (n > 0)
		migdp_send_frames(ctx, c->queue, pkts, n, &c->ftx, &c->st);
	return n;
}

/* Resend what the transport says is lost or timed out: a private copy
 * with a fresh timestamp, so the kept frame is never modified in flight. */
static unsigned
retransmit(struct migdp_chan *c, uint64_t now)
{
	struct rte_mbuf *pkts[MIGDP_BURST_ROOM];
	uint32_t seqs[MIGDP_BURST];
	unsigned i, n, k = 0;

	n = migdp_tx_due(c->tx, now, seqs, MIGDP_BURST);
	for (i = 0; i < n; i++) {
		struct rte_mbuf *orig = (struct rte_mbuf *)(uintptr_t)
			migdp_tx_cookie(c->tx, seqs[i]);
		struct rte_mbuf *m;

		if (orig == NULL)
			continue;
		m = rte_pktmbuf_copy(orig, c->ctx->port.pool, 0, UINT32_MAX);
		if (m == NULL)
			break;
		migdp_wire_restamp(rte_pktmbuf_mtod(m, void *), migdp_tstamp(now),
				   MIGDP_F_RETRANSMIT, false);
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
	msg.u.fin.pages = c->st.pages_zero + c->st.pages_raw + c->st.pages_frag;
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
		if (migdp_tx_on_ack(c->tx, now, &f->msg.u.ack, release, c) < 0)
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

/* Losses first, then new pages; after the final round, FIN until echoed
 * and everything acknowledged. */
static unsigned
src_tick(struct migdp_chan *c, uint64_t now)
{
	unsigned work = retransmit(c, now) + send_new(c, now);

	if (now - c->link_ns >= 1000000) { /* the chooser's view of the link */
		migdp_adapt_link(&c->adapt, now - c->link_ns,
				 c->st.tx_bytes - c->link_bytes, c->saturated);
		c->link_ns = now;
		c->link_bytes = c->st.tx_bytes;
		c->saturated = false;
	}

	if (!c->final_seen || c->cur_left != 0 || c->frag_active ||
	    c->idesc != c->ndescs)
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
		atomic_store(&c->state, MIGDP_CHAN_DONE);
	}
	return work;
}

static const struct migdp_chan_role src_role = {
	.name = "source",
	.on_frame = handle,
	.tick = src_tick,
};

int
migdp_chan_src_main(void *arg)
{
	return migdp_chan_loop(arg, &src_role);
}
