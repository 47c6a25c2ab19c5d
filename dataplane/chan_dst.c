/* SPDX-License-Identifier: BSD-3-Clause */
/* Destination channel lcore: receive DATA, classify its sequence, check
 * every record (inside guest memory, content checksum) before writing it
 * straight into mapped guest memory, apply only versions newer than what
 * the page holds (DESIGN decision 4), acknowledge, echo the FIN. */
#include <string.h>

#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "codec/codec.h"
#include "dp.h"
#include "log.h"

/* Page number in the version table of the page at @p gpa. */
static inline uint64_t
vt_page(const struct migdp_chan *c, uint64_t gpa)
{
	return (gpa >> MIGDP_PAGE_SHIFT) - c->vt_base_page;
}

/* Write @p len bytes (NULL: zeros) at @p off of page @p page of guest
 * memory at @p dst when version @p ver is newer than what the page holds
 * (fragments: newer or the same version). Returns true when written. */
static bool
write_page(struct migdp_chan *c, uint8_t *dst, uint64_t page, uint64_t ver,
	   bool frag, const uint8_t *src, uint32_t off, uint32_t len)
{
	if (!(frag ? migdp_vtab_should_apply_frag(c->vt, page, ver) :
		     migdp_vtab_should_apply(c->vt, page, ver))) {
		c->st.pages_stale++;
		return false;
	}
	if (src == NULL)
		memset(dst, 0, MIGDP_PAGE_SIZE);
	else
		memcpy(dst + off, src, len);
	return true;
}

/* Apply one record of a frame whose extended sequence is @p ext: nothing
 * is written before the record is known to lie inside guest memory and its
 * content matches its checksum. */
static void
apply(struct migdp_chan *c, const struct migdp_rec *r, uint64_t ext)
{
	uint64_t len = r->type == MIGDP_REC_ZERO_RUN ?
		(uint64_t)r->npages << MIGDP_PAGE_SHIFT : MIGDP_PAGE_SIZE;
	uint8_t *dst = migshim_session_gpa_to_hva(c->ctx->shim, r->gpa, len);
	uint64_t page = vt_page(c, r->gpa), done = 0;
	uint32_t i;

	if (dst == NULL) {
		c->st.drops[MIGDP_DROP_REC_OUTSIDE]++;
		return;
	}
	if (r->type != MIGDP_REC_ZSTD && r->len > 0 &&
	    migdp_crc32c(r->data, r->len) != r->crc) {
		c->st.drops[MIGDP_DROP_REC_CSUM]++;
		return;
	}
	switch (r->type) {
	case MIGDP_REC_ZERO_RUN:
		for (i = 0; i < r->npages; i++)
			c->st.pages_zero += write_page(c, dst + ((size_t)i << MIGDP_PAGE_SHIFT),
						       page + i, ext, false, NULL, 0, 0);
		done = r->npages;
		break;
	case MIGDP_REC_RAW_PAGE:
		c->st.pages_raw += write_page(c, dst, page, ext, false, r->data, 0,
					      MIGDP_PAGE_SIZE);
		done = 1;
		break;
	case MIGDP_REC_FRAGMENT:
		if (write_page(c, dst, page, migdp_rx_frag_version(ext, r->ver_delta),
			       true, r->data, r->frag_off, r->len) && r->frag_off == 0)
			c->st.pages_frag++;
		done = r->frag_off == 0;
		break;
	case MIGDP_REC_ZSTD:
		/* Decoded and checked against the plain page's CRC in this
		 * lcore's private page, then written like a raw page: guest
		 * memory never sees an unverified byte. */
		if (migdp_codec_decode(c->codec, r, c->arena, MIGDP_CODEC_IN_PLACE) < 0) {
			c->st.drops[MIGDP_DROP_REC_CSUM]++;
			return;
		}
		c->st.pages_zstd += write_page(c, dst, page, ext, false, c->arena, 0,
					       MIGDP_PAGE_SIZE);
		done = 1;
		break;
	default:
		c->st.drops[MIGDP_DROP_REC_TYPE]++;
		return;
	}
	atomic_fetch_add_explicit(&c->pages_done, done, memory_order_relaxed);
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

static void
dst_frame(struct migdp_chan *c, const struct migdp_frame *f, uint64_t now)
{
	if (f->msg.type == MIGDP_T_DATA)
		on_data(c, f, now);
	else if (f->msg.type == MIGDP_T_FIN)
		on_fin(c, f, now);
	else
		c->st.drops[MIGDP_DROP_UNKNOWN_TYPE]++;
}

/* Acknowledge when due; complete once everything up to the FIN arrived. */
static unsigned
dst_tick(struct migdp_chan *c, uint64_t now)
{
	if (migdp_rx_ack_due(c->rx, now))
		send_ack(c, now);
	if (c->fin_seen && migdp_rx_cum(c->rx) == c->end_seq &&
	    atomic_load(&c->state) == MIGDP_CHAN_RUNNING) {
		MIGDP_LOG(INFO, "channel %u: complete", c->id);
		atomic_store(&c->state, MIGDP_CHAN_DONE);
	}
	c->st.rx_new = c->rx->stats.new_frames;
	c->st.rx_dup = c->rx->stats.dups;
	return 0;
}

static const struct migdp_chan_role dst_role = {
	.name = "destination",
	.on_frame = dst_frame,
	.tick = dst_tick,
};

int
migdp_chan_dst_main(void *arg)
{
	return migdp_chan_loop(arg, &dst_role);
}
