/* SPDX-License-Identifier: BSD-3-Clause */
/* Source frames: how a DATA frame is built (every payload copied, or raw
 * pages and fragments attached from guest memory as mbuf segments, chosen
 * once per channel from the port), and the private copy a resend sends. */
#include <errno.h>
#include <string.h>

#include <rte_mbuf.h>

#include "dp.h"

/* The frame of records @p d in @p m, every payload copied (the CRCs of
 * raw pages and fragments in the same pass). @return 0 or -errno. */
int
migdp_frame_copy(struct migdp_chan *c, struct rte_mbuf *m,
		 const struct migdp_msg *msg, struct migdp_data *d)
{
	int len = migdp_wire_build_data(rte_pktmbuf_mtod(m, void *),
					rte_pktmbuf_tailroom(m), &c->flow, msg, d,
					MIGDP_WIRE_COPY_ALL);

	if (len < 0)
		return len;
	return rte_pktmbuf_append(m, (uint16_t)len) == NULL ? -ENOSPC : 0;
}

static inline bool
plain(const struct migdp_rec *r)
{
	return r->type == MIGDP_REC_RAW_PAGE || r->type == MIGDP_REC_FRAGMENT;
}

/* The frame of records @p d with raw pages and fragments left in guest
 * memory: @p m holds the headers, the record table and the compressed
 * payloads; each raw page or fragment follows as a segment attached to
 * guest memory (read by the port when it sends). Raw pages and fragments
 * go last in the table, so that payloads stay in record order. Without
 * segment mbufs, the frame is copied. @return 0 or -errno. */
int
migdp_frame_zero_copy(struct migdp_chan *c, struct rte_mbuf *m,
		      const struct migdp_msg *msg, struct migdp_data *d)
{
	struct rte_mbuf *segs[MIGDP_DATA_MAX_RECORDS];
	struct migdp_rec tail[MIGDP_DATA_MAX_RECORDS];
	unsigned i, k = 0, nseg = 0;
	int len;

	for (i = 0; i < d->nrec; i++) /* stable: plain records last */
		if (plain(&d->rec[i]))
			tail[nseg++] = d->rec[i];
		else
			d->rec[k++] = d->rec[i];
	memcpy(&d->rec[k], tail, nseg * sizeof(tail[0]));
	if (nseg == 0)
		return migdp_frame_copy(c, m, msg, d);
	if (rte_pktmbuf_alloc_bulk(c->ctx->port.zc_pool, segs, nseg) != 0) {
		c->st.zc_fallback++;
		return migdp_frame_copy(c, m, msg, d);
	}
	len = migdp_wire_build_data(rte_pktmbuf_mtod(m, void *),
				    rte_pktmbuf_tailroom(m), &c->flow, msg, d,
				    MIGDP_WIRE_COPY_COMPRESSED);
	if (len < 0 || rte_pktmbuf_append(m, (uint16_t)len) == NULL) {
		rte_pktmbuf_free_bulk(segs, nseg);
		return len < 0 ? len : -ENOSPC;
	}
	for (i = 0; i < nseg; i++) {
		const struct migdp_rec *r = &d->rec[k + i];
		struct rte_mbuf *s = segs[i];

		rte_mbuf_ext_refcnt_update(&c->shinfo, 1);
		rte_pktmbuf_attach_extbuf(s, (void *)(uintptr_t)r->data, RTE_BAD_IOVA,
					  r->len, &c->shinfo);
		s->data_off = 0;
		s->data_len = r->len;
		s->pkt_len = r->len;
		rte_pktmbuf_chain(m, s);
	}
	return 0;
}

/* Guest memory is not ours to free. */
static void
extbuf_keep(void *addr, void *opaque)
{
	RTE_SET_USED(addr);
	RTE_SET_USED(opaque);
}

void
migdp_chan_src_init_zero_copy(struct migdp_chan *c)
{
	c->shinfo.free_cb = extbuf_keep;
	c->shinfo.fcb_opaque = NULL;
	rte_mbuf_ext_refcnt_set(&c->shinfo, 1);
	c->build = c->ctx->port.tx_zero_copy ? migdp_frame_zero_copy : migdp_frame_copy;
}

/* A private copy of kept frame @p orig to resend: one segment. Pages that
 * left from guest memory are read again, with fresh CRCs in the record
 * table (the frame check is redone by the restamp), so a page the guest
 * changed since is sent whole and consistent, never looping on a checksum
 * that no longer matches. */
struct rte_mbuf *
migdp_frame_copy_for_resend(struct migdp_chan *c, const struct rte_mbuf *orig)
{
	const struct rte_mbuf *s = orig->next;
	struct rte_mbuf *m;
	struct migdp_rec_hdr *tab;
	uint8_t *b;
	uint32_t off = orig->data_len;
	unsigned i, nrec;

	if (orig->nb_segs == 1)
		return rte_pktmbuf_copy(orig, c->ctx->port.pool, 0, UINT32_MAX);
	m = rte_pktmbuf_alloc(c->ctx->port.pool);
	if (m == NULL || rte_pktmbuf_tailroom(m) < orig->pkt_len) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	b = rte_pktmbuf_mtod(m, uint8_t *);
	memcpy(b, rte_pktmbuf_mtod(orig, const void *), orig->data_len);
	nrec = rte_be_to_cpu_16(((struct migdp_hdr *)(b + MIGDP_HDR_OFF))->nrecords);
	tab = (struct migdp_rec_hdr *)(b + MIGDP_L2_HDRS_LEN);
	for (i = 0; i < nrec && s != NULL; i++) {
		if (tab[i].type != MIGDP_REC_RAW_PAGE && tab[i].type != MIGDP_REC_FRAGMENT)
			continue;
		tab[i].crc = rte_cpu_to_be_32(migdp_crc32c_copy(b + off,
				rte_pktmbuf_mtod(s, const void *), s->data_len));
		off += s->data_len;
		s = s->next;
	}
	rte_pktmbuf_append(m, (uint16_t)off);
	return m;
}

