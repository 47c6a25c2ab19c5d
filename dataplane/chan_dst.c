/* SPDX-License-Identifier: BSD-3-Clause */
/* Destination channel lcore: receive DATA, classify its sequence, check
 * every record of a frame (inside guest memory, content checksum) before
 * writing any of it straight into mapped guest memory, apply only versions
 * newer than what the page holds (DESIGN decision 4), keep the memory
 * digest of what was applied (mdigest.h), acknowledge, echo the FIN. */
#include <string.h>

#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "codec/codec.h"
#include "dp.h"
#include "log.h"
#include "mdigest.h"

/* Page number in the version table of the page at @p gpa. */
static inline uint64_t
vt_page(const struct migdp_chan *c, uint64_t gpa)
{
	return migdp_page_index(c->ctx, gpa);
}

/* A record of the frame being applied, verified, with where it goes. */
struct vrec {
	struct migdp_rec r;
	uint8_t *dst;          /* guest memory of the record */
	const uint8_t *plain;  /* content to write: payload or decoded pages */
	uint32_t crcs[MIGDP_ZSTD_MAX_PAGES]; /* zstd: of each decoded page */
};

/* Check every record of a DATA frame before anything of it is written or
 * acknowledged: inside guest memory, content matching its CRC32C (raw pages
 * and fragments on the payload, which also brings it into cache for the
 * copy; zstd pages decoded into this lcore's arena). A record outside guest
 * memory is skipped (the frame check vouches for the table: the source is
 * wrong, not the link); a content mismatch is damage on the link, so the
 * frame is dropped unacknowledged and comes again. @return records kept,
 * or -1 to drop the frame. */
static int
verify(struct migdp_chan *c, const struct migdp_frame *f, struct vrec *v)
{
	struct migdp_rec_iter it;
	unsigned n = 0, nz = 0;

	migdp_rec_iter_init(&it, f->payload, f->payload_len, f->nrecords);
	while (migdp_rec_iter_next(&it, &v[n].r)) {
		const struct migdp_rec *r = &v[n].r;
		uint64_t len = (uint64_t)r->npages << MIGDP_PAGE_SHIFT;

		if (r->type == MIGDP_REC_STREAM) { /* a stream session's */
			c->st.drops[MIGDP_DROP_REC_TYPE]++;
			return -1;
		}
		v[n].dst = migshim_session_gpa_to_hva(c->ctx->shim, r->gpa, len);
		if (v[n].dst == NULL) {
			c->st.drops[MIGDP_DROP_REC_OUTSIDE]++;
			continue;
		}
		/* A page travels on its block's channel only (DESIGN decision
		 * 3): versions are this channel's sequences. */
		if (c->ctx->block_shift != 0 &&
		    (((r->gpa >> c->ctx->block_shift) % c->ctx->nch != c->id) ||
		     (r->gpa >> c->ctx->block_shift) !=
		     ((r->gpa + len - 1) >> c->ctx->block_shift))) {
			c->st.drops[MIGDP_DROP_REC_CHANNEL]++;
			return -1;
		}
		v[n].plain = r->data;
		if (r->type == MIGDP_REC_ZSTD) {
			uint8_t *page = c->arena + (size_t)nz * MIGDP_PAGE_SIZE;

			nz += r->npages;
			if (nz > MIGDP_DATA_MAX_ZSTD_PAGES) { /* more than a frame may */
				c->st.drops[MIGDP_DROP_REC_FIELD]++;
				return -1;
			}
			if (migdp_codec_decode_pages(c->codec, r, page,
						     MIGDP_CODEC_IN_PLACE, v[n].crcs) < 0)
				goto bad;
			v[n].plain = page;
		} else if (r->len > 0 && migdp_crc32c(r->data, r->len) != r->crc) {
			goto bad;
		}
		n++;
	}
	if (it.drop != MIGDP_DROP_NONE) { /* parse checked it: never expected */
		c->st.drops[it.drop]++;
		return -1;
	}
	return (int)n;
bad:
	c->st.drops[MIGDP_DROP_REC_CSUM]++;
	return -1;
}

/* Write one whole page (@p src NULL: zero) of version @p ver if it is newer
 * than what the page holds (DESIGN decision 4), with its digest value. A
 * zero page never written before is left alone when it reads as zero (it
 * is, in fresh guest RAM): a read instead of a write. */
static bool
put_page(struct migdp_chan *c, uint8_t *dst, uint64_t gpa, uint64_t ver,
	 const uint8_t *src, uint32_t crc)
{
	uint64_t page = vt_page(c, gpa);
	bool fresh = migdp_vtab_version(c->vt, page) == 0;

	if (!migdp_vtab_should_apply(c->vt, page, ver)) {
		c->st.pages_stale++;
		return false;
	}
	if (src != NULL)
		memcpy(dst, src, MIGDP_PAGE_SIZE);
	else if (!fresh || !migdp_page_is_zero(dst))
		memset(dst, 0, MIGDP_PAGE_SIZE);
	else
		c->st.pages_zero_skipped++;
	migdp_mdigest_set(&c->md, &c->ctx->pval[page],
			  migdp_mdigest_value(gpa, crc, 0));
	return true;
}

/* A fragment of page version @p ver: written if that version is not older
 * than the page's; a newer version restarts the page's digest value. */
static bool
put_fragment(struct migdp_chan *c, uint8_t *dst, const struct migdp_rec *r,
	     uint64_t ver)
{
	uint64_t page = vt_page(c, r->gpa);
	uint64_t *slot = &c->ctx->pval[page];

	if (migdp_vtab_version(c->vt, page) != ver &&
	    migdp_vtab_should_apply_frag(c->vt, page, ver))
		migdp_mdigest_reset(&c->md, slot);
	else if (migdp_vtab_version(c->vt, page) != ver) {
		c->st.pages_stale++;
		return false;
	}
	memcpy(dst + r->frag_off, r->data, r->len);
	migdp_mdigest_add_frag(&c->md, slot,
			       migdp_mdigest_value(r->gpa, r->crc, r->frag_off));
	return true;
}

/* The arena's last page: where a complete stream is decoded, apart from
 * the pages the frame's zstd records were decoded to. */
static inline uint8_t *
zpage(const struct migdp_chan *c)
{
	return c->arena + (size_t)MIGDP_DATA_MAX_ZSTD_PAGES * MIGDP_PAGE_SIZE;
}

/* A piece of compressed-page stream version @p ver (verified against its
 * own CRC). Pieces gather in the stream's slot; the complete stream is
 * decoded, checked against the page's CRC and written like a zstd page.
 * A frame is applied once (duplicates are not), so bytes add up exactly.
 * @return true when the page was written. */
static bool
put_zstream(struct migdp_chan *c, uint8_t *dst, const struct migdp_rec *r,
	    uint64_t ver)
{
	struct migdp_zslot *z = &c->zslots[ver & (c->nzslots - 1)];
	struct migdp_zstream_hdr h;
	struct migdp_rec zr;
	uint32_t crc;

	if (z->ver != ver) { /* a new stream; what the slot held was done */
		z->ver = ver;
		z->got = 0;
		z->len = 0;
	}
	memcpy(z->buf + r->frag_off, r->data, r->len);
	z->got += r->len;
	if (r->frag_off == 0) {
		memcpy(&h, z->buf, sizeof(h));
		z->len = rte_be_to_cpu_16(h.len);
		if (z->len <= sizeof(h) || z->len > MIGDP_ZSTREAM_MAX || h.zero != 0) {
			c->st.drops[MIGDP_DROP_REC_FIELD]++;
			z->ver = 0;
			return false;
		}
	}
	if (z->len == 0 || z->got < z->len)
		return false;
	z->ver = 0;
	memcpy(&h, z->buf, sizeof(h));
	zr = (struct migdp_rec){.gpa = r->gpa, .type = MIGDP_REC_ZSTD, .npages = 1,
		.len = (uint16_t)(z->len - sizeof(h)), .data = z->buf + sizeof(h),
		.crc = rte_be_to_cpu_32(h.crc)};
	if (z->got != z->len ||
	    migdp_codec_decode_pages(c->codec, &zr, zpage(c), MIGDP_CODEC_IN_PLACE, &crc) < 0) {
		c->st.drops[MIGDP_DROP_REC_CSUM]++;
		return false;
	}
	return put_page(c, dst, r->gpa, ver, zpage(c), crc);
}

/* Apply verified record @p v of the frame whose extended sequence is @p ext. */
static void
apply(struct migdp_chan *c, const struct vrec *v, uint64_t ext)
{
	const struct migdp_rec *r = &v->r;
	uint64_t done = 0;
	uint32_t i;

	switch (r->type) {
	case MIGDP_REC_ZERO_RUN:
		for (i = 0; i < r->npages; i++)
			c->st.pages_zero += put_page(c, v->dst + ((size_t)i << MIGDP_PAGE_SHIFT),
						     r->gpa + ((uint64_t)i << MIGDP_PAGE_SHIFT),
						     ext, NULL, MIGDP_CRC32C_ZERO_PAGE);
		done = r->npages;
		break;
	case MIGDP_REC_RAW_PAGE:
		c->st.pages_raw += put_page(c, v->dst, r->gpa, ext, v->plain, r->crc);
		done = 1;
		break;
	case MIGDP_REC_ZSTD:
		for (i = 0; i < r->npages; i++) {
			size_t off = (size_t)i << MIGDP_PAGE_SHIFT;

			c->st.pages_zstd += put_page(c, v->dst + off, r->gpa + off, ext,
						     v->plain + off, v->crcs[i]);
		}
		done = r->npages;
		break;
	case MIGDP_REC_FRAGMENT:
		if (put_fragment(c, v->dst, r, migdp_rx_frag_version(ext, r->ver_delta)) &&
		    r->frag_off == 0)
			c->st.pages_frag++;
		done = r->frag_off == 0;
		break;
	case MIGDP_REC_ZSTD_FRAG:
		c->st.pages_zstd += put_zstream(c, v->dst, r,
						migdp_rx_frag_version(ext, r->ver_delta));
		done = r->frag_off == 0;
		break;
	default: /* the parser let only known types through */
		c->st.drops[MIGDP_DROP_REC_TYPE]++;
		return;
	}
	atomic_fetch_add_explicit(&c->pages_done, done, memory_order_relaxed);
}

static void
send_ack(struct migdp_chan *c, uint64_t now)
{
	struct migdp_msg msg = {.type = MIGDP_T_ACK, .tstamp = migdp_tstamp(now)};

	migdp_rx_make_ack(c->rx, &msg.u.ack, MIGDP_MAX_SACK);
	migdp_send_msg(c->ctx, c->queue, &c->flow, &msg, &c->ftx, &c->st);
}

static void
on_data(struct migdp_chan *c, const struct migdp_frame *f, uint64_t now)
{
	struct vrec v[MIGDP_DATA_MAX_RECORDS];
	uint64_t ext;
	int i, n;

	if (c->fin_done) { /* complete: everything up to the FIN is applied */
		c->st.drops[MIGDP_DROP_SEQ_OLD]++;
		/* Resent: the source lost our last ACK and waits for it (its
		 * FIN was echoed, so it will not ask with a FIN again). */
		send_ack(c, now);
		return;
	}
	n = verify(c, f, v);
	if (n < 0)
		return;
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
	for (i = 0; i < n; i++)
		apply(c, &v[i], ext);
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
	if (c->fin_seen && !migdp_seq_lt(migdp_rx_cum(c->rx), c->end_seq) &&
	    atomic_load(&c->state) == MIGDP_CHAN_RUNNING) {
		MIGDP_LOG(INFO, "channel %u: complete", c->id);
		c->fin_done = true;
		c->digest = c->md; /* published by the state change */
		atomic_store(&c->state, MIGDP_CHAN_DONE);
	}
	c->st.rx_new = c->rx->stats.new_frames;
	c->st.rx_dup = c->rx->stats.dups;
	return 0;
}

const struct migdp_chan_role migdp_chan_dst_role = {
	.name = "destination",
	.on_frame = dst_frame,
	.tick = dst_tick,
};

int
migdp_chan_dst_main(void *arg)
{
	return migdp_chan_loop(arg, &migdp_chan_dst_role);
}
