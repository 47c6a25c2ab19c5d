/* SPDX-License-Identifier: BSD-3-Clause */
/* A stream session's channel (stream.h), both roles: bytes read from the
 * connection go out as DATA frames of one STREAM record (raw, or one zstd
 * frame when the codec says so), kept until acknowledged and resent by the
 * transport; frames from the peer are checked (frame check or tag, then
 * the record's CRC32C of the plain bytes), held by sequence and written to
 * the connection in order, exactly once. ACKs carry the receiver's window
 * edge in the header's seq. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_malloc.h>

#include "dp.h"
#include "log.h"

/* A sender stopped by the receiver's window, nothing in flight, asks for
 * a fresh advertisement this often (the last one may have been lost). */
#define PROBE_NS 20000000ull

static uint32_t
rec_room(const struct migdp_chan *c)
{
	return migdp_wire_data_room(c->flow.mtu) - (uint32_t)sizeof(struct migdp_rec_hdr);
}

int
migdp_stream_chan_init(struct migdp_chan *c)
{
	struct migdp_stream *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return -ENOMEM;
	c->sc = s;
	c->role = &migdp_chan_stream_role;
	atomic_init(&s->fd, -1);
	/* The receiver's window is the transport's: held frames fit it. */
	s->nslots = RTE_MIN(MIGDP_STREAM_RWND, c->rx->p.window);
	s->slot = calloc(s->nslots, sizeof(*s->slot));
	s->mem = aligned_alloc(64, (size_t)s->nslots * MIGDP_STREAM_MAX_PLAIN);
	s->stage = aligned_alloc(64, MIGDP_STREAM_MAX_PLAIN);
	if (s->slot == NULL || s->mem == NULL || s->stage == NULL)
		return -ENOMEM;
	migdp_stream_chan_reset(c, c->ctx->isn);
	return 0;
}

void
migdp_stream_chan_fini(struct migdp_chan *c)
{
	struct migdp_stream *s = c->sc;

	if (s == NULL)
		return;
	free(s->slot);
	free(s->mem);
	free(s->stage);
	free(s);
	c->sc = NULL;
}

void
migdp_stream_chan_reset(struct migdp_chan *c, uint32_t isn)
{
	struct migdp_stream *s = c->sc;
	struct migdp_rx_params rp = c->rx->p;
	struct migdp_tx_params tp = c->tx->p;

	migdp_rx_init(c->rx, &rp, isn);
	migdp_tx_init(c->tx, &tp, isn);
	memset(s->slot, 0, s->nslots * sizeof(*s->slot));
	s->dnext = c->rx->next;
	s->adv_edge = isn;
	s->peer_edge = isn + RTE_MIN(MIGDP_STREAM_FIRST_WINDOW, s->nslots);
	s->zratio = 2.0;
	s->zin = (uint32_t)(0.8 * s->zratio * rec_room(c));
	s->rd_end = s->end_sent = false;
	s->tx_off = s->rx_off = 0;
	s->staged = s->woff = 0;
}

/* ---- sending ------------------------------------------------------------ */

static void
send_ack(struct migdp_chan *c, uint64_t now, uint16_t flags)
{
	struct migdp_stream *s = c->sc;
	struct migdp_msg msg = {.type = MIGDP_T_ACK, .flags = flags,
				.tstamp = migdp_tstamp(now)};

	migdp_rx_make_ack(c->rx, &msg.u.ack, MIGDP_MAX_SACK);
	msg.seq = (uint32_t)s->dnext + s->nslots; /* the window's edge */
	s->adv_edge = msg.seq;
	migdp_send_msg(c->ctx, c->queue, &c->flow, &msg, &c->ftx, &c->st);
}

static void
local_error(struct migdp_chan *c, int err, const char *what)
{
	struct migdp_stream *s = c->sc;

	if (atomic_load_explicit(&s->ends, memory_order_relaxed) & MIGDP_STREAM_LOCAL_ERR)
		return;
	MIGDP_LOG(ERR, "channel %u: %s of the local connection failed: %s", c->id, what,
		  strerror(err));
	atomic_store(&s->err, err);
	atomic_fetch_or(&s->ends, MIGDP_STREAM_LOCAL_ERR);
	s->rd_end = true; /* the peer is told with a RST record */
	s->staged = 0;
}

/* Read up to @p want bytes into @p buf. @return bytes, 0 when there is
 * nothing now, -1 at the end (or a failure) of the connection. */
static int
read_some(struct migdp_chan *c, int fd, uint8_t *buf, uint32_t want)
{
	ssize_t k;

	do
		k = read(fd, buf, want);
	while (k < 0 && errno == EINTR);
	if (k > 0)
		return (int)k;
	if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (k < 0)
		local_error(c, errno, "reading");
	c->sc->rd_end = true;
	return -1;
}

/* The record of the next frame, its payload written at @p out (room
 * bytes): raw bytes read straight into the frame, or one zstd frame of
 * what was staged, or the end. @return false when there is nothing to send. */
static bool
next_record(struct migdp_chan *c, int fd, uint8_t *out, bool zstd, struct migdp_rec *r,
	    struct migdp_adapt_batch *b)
{
	struct migdp_stream *s = c->sc;
	uint32_t room = rec_room(c), take;
	int k;

	*r = (struct migdp_rec){.type = MIGDP_REC_STREAM, .gpa = s->tx_off, .data = out};
	if (!zstd && s->staged == 0 && !s->rd_end) { /* the common case: one copy */
		k = read_some(c, fd, out, room);
		if (k == 0)
			return false;
		if (k > 0) {
			r->len = (uint16_t)k;
			r->npages = (uint32_t)k;
			r->crc = migdp_crc32c(out, (uint32_t)k);
			b->pages = RTE_MAX(1u, (uint32_t)k / MIGDP_PAGE_SIZE);
			b->bytes_out = (uint32_t)k;
			return true;
		}
	}
	/* Staged: what is read ahead to compress at once. */
	while (!s->rd_end && s->staged < (zstd ? s->zin : room)) {
		uint32_t want = (zstd ? s->zin : room) - s->staged;

		k = read_some(c, fd, s->stage + s->staged, want);
		if (k > 0)
			s->staged += (uint32_t)k;
		if (k != (int)want)
			break;
	}
	if (s->staged == 0) {
		if (!s->rd_end)
			return false;
		r->data = NULL;
		r->flags = (atomic_load_explicit(&s->ends, memory_order_relaxed) &
			    MIGDP_STREAM_LOCAL_ERR) ? MIGDP_STREAM_F_RST : MIGDP_STREAM_F_EOF;
		return true;
	}
	r->crc = migdp_crc32c(s->stage, s->staged);
	if (zstd) {
		int n = migdp_codec_compress_bytes(c->codec, s->stage, s->staged, out, room);

		if (n > 0) {
			/* Next time as much input as should fill a frame at the
			 * ratio seen (EWMA), with a margin: a frame that does not
			 * fit costs a compression for nothing. */
			s->zratio = 0.75 * s->zratio + 0.25 * ((double)s->staged / n);
			s->zin = RTE_MIN((uint32_t)RTE_MAX(0.8 * s->zratio * room, (double)room),
					 MIGDP_STREAM_MAX_PLAIN);
			r->flags = MIGDP_STREAM_F_ZSTD;
			r->len = (uint16_t)n;
			r->npages = s->staged;
			b->pages = RTE_MAX(1u, s->staged / MIGDP_PAGE_SIZE);
			b->bytes_out = (uint32_t)n;
			atomic_fetch_add_explicit(&s->zstd_frames, 1, memory_order_relaxed);
			atomic_fetch_add_explicit(&s->zstd_plain, s->staged, memory_order_relaxed);
			atomic_fetch_add_explicit(&s->zstd_bytes, (uint64_t)n, memory_order_relaxed);
			s->staged = 0;
			goto end;
		}
		/* Did not fit: these bytes go raw, and less at once next time
		 * (bytes that do not compress end up a frame's worth: then a
		 * failure costs what sending them raw saves nothing of). */
		s->zratio = RTE_MAX(1.0, s->zratio * 0.6);
		s->zin = RTE_MIN((uint32_t)RTE_MAX(0.8 * s->zratio * room, (double)room),
				 MIGDP_STREAM_MAX_PLAIN);
		atomic_fetch_add_explicit(&s->zstd_misses, 1, memory_order_relaxed);
		b->pages_fallback = 1;
	}
	take = RTE_MIN(s->staged, room);
	memcpy(out, s->stage, take);
	if (take < s->staged) {
		memmove(s->stage, s->stage + take, s->staged - take);
		r->crc = migdp_crc32c(out, take);
	}
	s->staged -= take;
	r->len = (uint16_t)take;
	r->npages = take;
	b->pages = RTE_MAX(1u, take / MIGDP_PAGE_SIZE);
	b->bytes_out = take;
end:
	/* A clean end rides on the last bytes. */
	if (s->rd_end && s->staged == 0 &&
	    !(atomic_load_explicit(&s->ends, memory_order_relaxed) & MIGDP_STREAM_LOCAL_ERR))
		r->flags |= MIGDP_STREAM_F_EOF;
	return true;
}

/* New frames while the window, the receiver's edge and pacing allow. */
static unsigned
send_new(struct migdp_chan *c, int fd, uint64_t now)
{
	struct migdp_ctx *ctx = c->ctx;
	struct migdp_stream *s = c->sc;
	struct rte_mbuf *pkts[MIGDP_BURST_ROOM];
	uint32_t frame = c->flow.mtu + RTE_ETHER_HDR_LEN, seq;
	bool auto_codec = ctx->cfg->codec.method == MIGDP_CODEC_AUTO, link_bound = false;
	uint16_t n = 0, burst = (uint16_t)ctx->cfg->port.burst;

	while (n < burst && !s->end_sent) {
		struct migdp_msg msg = {.type = MIGDP_T_DATA};
		struct migdp_codec_choice choice = {0};
		struct migdp_adapt_batch b = {0};
		struct migdp_data d;
		struct migdp_rec r;
		struct rte_mbuf *m;
		uint64_t t0;
		int len;

		if (migdp_tx_window_full(c->tx) || !migdp_seq_lt(c->tx->nxt, s->peer_edge)) {
			link_bound = true;
			break;
		}
		if (migdp_pacer_next(&c->pacer, now, frame) > now) {
			c->wake_ns = migdp_pacer_next(&c->pacer, now, frame);
			link_bound = true;
			break;
		}
		m = rte_pktmbuf_alloc(ctx->port.pool);
		if (m == NULL)
			break;
		if (auto_codec) {
			choice = migdp_adapt_choose(&c->adapt);
			c->use_zstd = choice.method == MIGDP_CODEC_ZSTD;
			if (c->use_zstd)
				migdp_codec_ctx_set_level(c->codec, choice.level);
		}
		t0 = rte_get_tsc_cycles();
		if (!next_record(c, fd, rte_pktmbuf_mtod(m, uint8_t *) + MIGDP_L2_HDRS_LEN +
				 sizeof(struct migdp_rec_hdr), c->use_zstd, &r, &b)) {
			rte_pktmbuf_free(m);
			break;
		}
		migdp_data_init(&d, c->flow.mtu);
		msg.seq = c->tx->nxt;
		msg.tstamp = migdp_tstamp(now);
		if (migdp_data_add(&d, &r) < 0 ||
		    (len = migdp_wire_build_data(rte_pktmbuf_mtod(m, void *),
						 rte_pktmbuf_tailroom(m), &c->flow, &msg, &d,
						 MIGDP_WIRE_COPY_NONE)) < 0) {
			MIGDP_LOG(ERR, "channel %u: stream frame build failed", c->id);
			rte_pktmbuf_free(m);
			atomic_store(&c->state, MIGDP_CHAN_FAILED);
			break;
		}
		rte_pktmbuf_append(m, (uint16_t)(len + r.len));
		migdp_pacer_take(&c->pacer, now, rte_pktmbuf_pkt_len(m));
		if (r.flags & (MIGDP_STREAM_F_EOF | MIGDP_STREAM_F_RST)) {
			s->end_sent = true;
			s->end_seq = c->tx->nxt;
		}
		migdp_tx_send(c->tx, now, (uintptr_t)m, rte_pktmbuf_pkt_len(m), &seq);
		rte_pktmbuf_refcnt_update(m, 1); /* ours, for retransmission */
		pkts[n++] = m;
		s->tx_off += r.npages;
		atomic_store_explicit(&s->bytes_read, s->tx_off, memory_order_relaxed);
		if (auto_codec) {
			b.ns = (rte_get_tsc_cycles() - t0) * 1000000000ull / rte_get_tsc_hz();
			migdp_adapt_account(&c->adapt, &choice, &b);
		}
	}
	if (link_bound)
		c->saturated = true;
	else
		migdp_tx_app_limited(c->tx);
	if (n > 0)
		migdp_send_frames(ctx, c->queue, pkts, n, &c->ftx, &c->st);
	return n;
}

/* ---- receiving ---------------------------------------------------------- */

static void
on_data(struct migdp_chan *c, const struct migdp_frame *f, uint64_t now)
{
	struct migdp_stream *s = c->sc;
	struct migdp_stream_slot *sl = NULL;
	struct migdp_rec_iter it;
	struct migdp_rec r;
	uint32_t d = f->msg.seq - (uint32_t)s->dnext, idx = f->msg.seq & (s->nslots - 1);
	uint64_t ext;

	migdp_rec_iter_init(&it, f->payload, f->payload_len, f->nrecords);
	if (f->nrecords != 1 || !migdp_rec_iter_next(&it, &r) || r.type != MIGDP_REC_STREAM) {
		c->st.drops[it.drop != MIGDP_DROP_NONE ? it.drop : f->nrecords != 1 ?
			    MIGDP_DROP_REC_COUNT : MIGDP_DROP_REC_TYPE]++;
		return;
	}
	if ((int32_t)d >= 0) { /* not behind what was written */
		if (d >= s->nslots) { /* beyond what we advertised */
			c->st.drops[MIGDP_DROP_SEQ_AHEAD]++;
			return;
		}
		sl = &s->slot[idx];
		if (!sl->full) { /* its bytes, checked before it counts as received */
			uint8_t *dst = s->mem + (size_t)idx * MIGDP_STREAM_MAX_PLAIN;

			if (r.flags & MIGDP_STREAM_F_ZSTD) {
				if (migdp_codec_decompress_bytes(c->codec, r.data, r.len, dst,
								 r.npages) < 0)
					goto bad;
			} else if (r.len > 0) {
				memcpy(dst, r.data, r.len);
			}
			if (r.npages > 0 && migdp_crc32c(dst, r.npages) != r.crc)
				goto bad;
		}
	}
	switch (migdp_rx_receive(c->rx, now, f->msg.seq, f->msg.tstamp, f->msg.flags, &ext)) {
	case MIGDP_RX_NEW:
		break;
	case MIGDP_RX_DUP:
		return;
	case MIGDP_RX_OLD:
		c->st.drops[MIGDP_DROP_SEQ_OLD]++;
		return;
	case MIGDP_RX_AHEAD:
		c->st.drops[MIGDP_DROP_SEQ_AHEAD]++;
		return;
	}
	if (sl == NULL || ext != s->dnext + d) { /* never: classified against the same window */
		c->st.drops[MIGDP_DROP_SEQ_AHEAD]++;
		return;
	}
	/* Where it belongs in the stream is checked when it is written. */
	sl->full = true;
	sl->len = r.npages;
	sl->flags = r.flags & (MIGDP_STREAM_F_EOF | MIGDP_STREAM_F_RST);
	sl->off = r.gpa;
	c->st.rx_new++;
	atomic_store_explicit(&s->peer_opened, true, memory_order_relaxed);
	return;
bad:
	c->st.drops[MIGDP_DROP_REC_CSUM]++;
}

/* Write held frames to the connection, in order, as far as it takes them. */
static unsigned
deliver(struct migdp_chan *c, int fd, uint64_t now)
{
	struct migdp_stream *s = c->sc;
	unsigned work = 0;

	while (!(atomic_load_explicit(&s->ends, memory_order_relaxed) & MIGDP_STREAM_LOCAL_ERR)) {
		uint32_t idx = (uint32_t)s->dnext & (s->nslots - 1);
		struct migdp_stream_slot *sl = &s->slot[idx];
		const uint8_t *p = s->mem + (size_t)idx * MIGDP_STREAM_MAX_PLAIN;

		if (!sl->full)
			break;
		if (sl->off != s->rx_off) {
			/* Authentic (or checked) yet not where the stream is:
			 * the peer is broken, nothing more of it is written. */
			MIGDP_LOG(ERR, "channel %u: stream bytes at offset %llu, expected %llu",
				  c->id, (unsigned long long)sl->off,
				  (unsigned long long)s->rx_off);
			local_error(c, EPROTO, "ordering");
			break;
		}
		while (s->woff < sl->len) {
			ssize_t k = send(fd, p + s->woff, sl->len - s->woff,
					 MSG_NOSIGNAL | MSG_DONTWAIT);

			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				goto out; /* the reader is slow: back-pressure */
			if (k < 0) {
				local_error(c, errno, "writing");
				goto out;
			}
			s->woff += (uint32_t)k;
			s->rx_off += (uint64_t)k;
			atomic_store_explicit(&s->bytes_written, s->rx_off, memory_order_relaxed);
		}
		if (sl->flags & MIGDP_STREAM_F_EOF) {
			shutdown(fd, SHUT_WR);
			atomic_fetch_or(&s->ends, MIGDP_STREAM_GOT_EOF);
		}
		if (sl->flags & MIGDP_STREAM_F_RST) {
			MIGDP_LOG(ERR, "channel %u: the peer's connection failed", c->id);
			atomic_fetch_or(&s->ends, MIGDP_STREAM_PEER_RST);
		}
		sl->full = false;
		s->woff = 0;
		s->dnext++;
		work++;
	}
out:
	/* The window opened by a quarter: say so now, not at the next ACK. */
	if ((uint32_t)s->dnext + s->nslots - s->adv_edge >= s->nslots / 4)
		send_ack(c, now, 0);
	return work;
}

static void
stream_frame(struct migdp_chan *c, const struct migdp_frame *f, uint64_t now)
{
	struct migdp_stream *s = c->sc;

	switch (f->msg.type) {
	case MIGDP_T_DATA:
		on_data(c, f, now);
		break;
	case MIGDP_T_ACK:
		if (migdp_tx_on_ack(c->tx, now, &f->msg.u.ack, migdp_chan_release_frame, c) < 0) {
			c->st.drops[MIGDP_DROP_SEQ_OLD]++;
			break;
		}
		if (migdp_seq_gt(f->msg.seq, s->peer_edge))
			s->peer_edge = f->msg.seq;
		if (f->msg.flags & MIGDP_F_ACK_NOW) /* a window probe */
			send_ack(c, now, 0);
		break;
	default:
		c->st.drops[MIGDP_DROP_UNKNOWN_TYPE]++;
	}
}

static unsigned
stream_tick(struct migdp_chan *c, uint64_t now)
{
	struct migdp_stream *s = c->sc;
	int fd = atomic_load_explicit(&s->fd, memory_order_acquire);
	unsigned ends, work = 0;

	migdp_chan_src_pace(c, now);
	work += migdp_chan_retransmit(c, now);
	if (fd >= 0) {
		work += send_new(c, fd, now);
		work += deliver(c, fd, now);
	}
	migdp_chan_src_link(c, now);
	if (migdp_rx_ack_due(c->rx, now))
		send_ack(c, now, 0);
	/* Stopped by the receiver's window with nothing in flight: ask. */
	if (fd >= 0 && !s->end_sent && migdp_tx_inflight(c->tx) == 0 &&
	    !migdp_seq_lt(c->tx->nxt, s->peer_edge) && now - s->probe_ns > PROBE_NS) {
		send_ack(c, now, MIGDP_F_ACK_NOW);
		s->probe_ns = now;
	}
	ends = atomic_load_explicit(&s->ends, memory_order_relaxed);
	if (s->end_sent && !(ends & MIGDP_STREAM_SENT_EOF) &&
	    migdp_seq_gt(c->tx->una, s->end_seq) &&
	    !(ends & MIGDP_STREAM_LOCAL_ERR))
		ends = atomic_fetch_or(&s->ends, MIGDP_STREAM_SENT_EOF) | MIGDP_STREAM_SENT_EOF;
	if ((ends & MIGDP_STREAM_CLOSED) == MIGDP_STREAM_CLOSED &&
	    atomic_load(&c->state) == MIGDP_CHAN_RUNNING) {
		MIGDP_LOG(INFO, "channel %u: stream closed both ways (%llu bytes out, %llu in)",
			  c->id, (unsigned long long)s->tx_off, (unsigned long long)s->rx_off);
		atomic_store(&c->state, MIGDP_CHAN_DONE);
	}
	c->st.rx_dup = c->rx->stats.dups;
	return work;
}

const struct migdp_chan_role migdp_chan_stream_role = {
	.name = "stream",
	.on_frame = stream_frame,
	.tick = stream_tick,
};
