/* SPDX-License-Identifier: BSD-3-Clause */
/* Destination channel lcore: receive DATA, classify its sequence, check
 * every record (inside guest memory, content checksum) before writing it
 * straight into mapped guest memory, apply only versions newer than what
 * the page holds (DESIGN decision 4), acknowledge, echo the FIN. */
#include <string.h>

#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "dp.h"
#include "log.h"

/* Page number in the version table of the page at @p gpa. */
static inline uint64_t
vt_page(const struct migdp_chan *c, uint64_t gpa)
{
	return (gpa >> MIGDP_PAGE_SHIFT) - c->vt_base_page;
}

/* Apply one record of a frame whose extended sequence is @p ext. */
static void
apply(struct migdp_chan *c, const struct migdp_rec *r, uint64_t ext)
{
	const struct migshim_session *shim = c->ctx->shim;
	uint8_t *dst;
	uint32_t i;

	switch (r->type) {
	case MIGDP_REC_ZERO_RUN:
		dst = migshim_session_gpa_to_hva(shim, r->gpa,
						 (uint64_t)r->npages << MIGDP_PAGE_SHIFT);
		if (dst == NULL)
			break;
		for (i = 0; i < r->npages; i++) {
			if (migdp_vtab_should_apply(c->vt, vt_page(c, r->gpa) + i, ext)) {
				memset(dst + ((size_t)i << MIGDP_PAGE_SHIFT), 0,
				       MIGDP_PAGE_SIZE);
				c->st.pages_zero++;
			} else {
				c->st.pages_stale++;
			}
		}
		atomic_fetch_add_explicit(&c->pages_done, r->npages,
					  memory_order_relaxed);
		return;
	case MIGDP_REC_RAW_PAGE:
		dst = migshim_session_gpa_to_hva(shim, r->gpa, MIGDP_PAGE_SIZE);
		if (dst == NULL)
			break;
		if (migdp_crc32c(r->data, r->len) != r->crc) {
			c->st.drops[MIGDP_DROP_REC_CSUM]++;
			return;
		}
		if (migdp_vtab_should_apply(c->vt, vt_page(c, r->gpa), ext)) {
			memcpy(dst, r->data, MIGDP_PAGE_SIZE);
			c->st.pages_raw++;
		} else {
			c->st.pages_stale++;
		}
		atomic_fetch_add_explicit(&c->pages_done, 1, memory_order_relaxed);
		return;
	case MIGDP_REC_FRAGMENT:
		dst = migshim_session_gpa_to_hva(shim, r->gpa, MIGDP_PAGE_SIZE);
		if (dst == NULL)
			break;
		if (migdp_crc32c(r->data, r->len) != r->crc) {
			c->st.drops[MIGDP_DROP_REC_CSUM]++;
			return;
		}
		if (migdp_vtab_should_apply_frag(c->vt, vt_page(c, r->gpa),
						 migdp_rx_frag_version(ext, r->ver_delta))) {
			memcpy(dst + r->frag_off, r->data, r->len);
			if (r->frag_off == 0) {
				c->st.pages_frag++;
				atomic_fetch_add_explicit(&c->pages_done, 1,
							  memory_order_relaxed);
			}
		} else {
			c->st.pages_stale++;
		}
		return;
	default: /* ZSTD arrives with the codec */
		c->st.drops[MIGDP_DROP_REC_TYPE]++;
		return;
	}
	c->st.drops[MIGDP_DROP_REC_OUTSIDE]++;
}

static void
on_data(struct migdp_chan *c, const struct migdp_frame *f, uint64_t now)
{
	struct migdp_rec_iter it;
	struct migdp_rec r;
	uint64_t ext;

	switch (migdp_rx_receive(c->rx, now, f->msg.seq, f->msg.tstamp,
				 f->msg.flags, &ext)) {
	case MIGDP_RX_NEW:
		break;
	case MIGDP_RX_DUP:
		return; /* acked again, never re-applied */
	case MIGDP_RX_OLD:
		c->st.drops[MIGDP_DROP_SEQ_OLD]++;
		return;
	case MIGDP_RX_AHEAD:
		c->st.drops[MIGDP_DROP_SEQ_AHEAD]++;
		return;
	}
	migdp_rec_iter_init(&it, f->payload, f->payload_len, f->nrecords);
	while (migdp_rec_iter_next(&it, &r))
		apply(c, &r, ext);
	if (it.drop != MIGDP_DROP_NONE) /* parse checked it: never expected */
		c->st.drops[it.drop]++;
}

static void
send_ack(struct migdp_chan *c, uint64_t now)
{
	struct migdp_msg msg = {.type = MIGDP_T_ACK, .tstamp = migdp_tstamp(now)};

	migdp_rx_make_ack(c->rx, &msg.u.ack, MIGDP_MAX_SACK);
	migdp_send_msg(c->ctx, c->queue, &c->flow, &msg, &c->ftx, &c->st);
}

static void
on_fin(struct migdp_chan *c, const struct migdp_frame *f, uint64_t now)
{
	struct migdp_msg echo = {.type = MIGDP_T_FIN, .tstamp = migdp_tstamp(now)};

	if (!c->fin_seen)
		MIGDP_LOG(INFO, "channel %u: FIN at sequence %u (%llu pages)",
			  c->id, f->msg.u.fin.end_seq,
			  (unsigned long long)f->msg.u.fin.pages);
	c->fin_seen = true;
	c->end_seq = f->msg.u.fin.end_seq;
	echo.u.fin = f->msg.u.fin;
	migdp_send_msg(c->ctx, c->queue, &c->flow, &echo, &c->ftx, &c->st);
	send_ack(c, now); /* the source may be waiting for the last frames */
}

int
migdp_chan_dst_main(void *arg)
{
	struct migdp_chan *c = arg;
	struct migdp_ctx *ctx = c->ctx;
	uint8_t *scratch = rte_malloc(NULL, MIGDP_MAX_FRAME + 64, 64);
	struct rte_mbuf *pkts[MIGDP_BURST_ROOM];
	struct migdp_frame f;
	unsigned empty = 0;

	MIGDP_LOG(INFO, "channel %u: destination on lcore %u, queue %u", c->id,
		  rte_lcore_id(), c->queue);
	while (!atomic_load_explicit(&ctx->quit, memory_order_relaxed)) {
		uint64_t now = migdp_now_ns();
		uint16_t n, i;

		n = migdp_rx_burst(ctx, 1u + c->id, c->queue, c->inbox, &c->frx,
				   &c->st, pkts);
		for (i = 0; i < n; i++) {
			if (migdp_rx_parse(ctx, pkts[i], &c->loc, scratch, &f,
					   &c->st)) {
				if (f.msg.type == MIGDP_T_DATA)
					on_data(c, &f, now);
				else if (f.msg.type == MIGDP_T_FIN)
					on_fin(c, &f, now);
				else
					c->st.drops[MIGDP_DROP_UNKNOWN_TYPE]++;
			}
			rte_pktmbuf_free(pkts[i]);
		}
		if (migdp_rx_ack_due(c->rx, now))
			send_ack(c, now);
		if (c->fin_seen && migdp_rx_cum(c->rx) == c->end_seq &&
		    atomic_load(&c->state) == MIGDP_CHAN_RUNNING) {
			MIGDP_LOG(INFO, "channel %u: complete", c->id);
			atomic_store(&c->state, MIGDP_CHAN_DONE);
		}
		c->st.rx_new = c->rx->stats.new_frames;
		c->st.rx_dup = c->rx->stats.dups;
		c->st.ftx = c->ftx.st;
		c->st.frx = c->frx.st;
		atomic_store_explicit(&c->wire_bytes, c->st.tx_bytes,
				      memory_order_relaxed);
		migdp_idle(ctx->cfg, &empty, n > 0);
	}
	rte_free(scratch);
	return 0;
}
