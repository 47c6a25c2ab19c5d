/* SPDX-License-Identifier: BSD-3-Clause */
/* What the control and channel lcores share: clock, receive dispatch,
 * parsing with drop counters, sending, channel set-up. */
#include <errno.h>
#include <string.h>
#include <sys/prctl.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_random.h>
#include <rte_udp.h>

#include "dp.h"

/* config.c bounds [channels] window and [port] burst by these. */
static_assert(MIGDP_TX_MAX_WINDOW == 4096, "[channels] window maximum in config.c");
static_assert(MIGDP_BURST == 32, "[port] burst maximum in config.c");
#include "log.h"

static uint64_t ns_mult; /* ns per cycle, 32.32 fixed point */

void
migdp_clock_init(void)
{
	ns_mult = (uint64_t)(((__uint128_t)1000000000u << 32) / rte_get_tsc_hz());
}

uint64_t
migdp_now_ns(void)
{
	return (uint64_t)(((__uint128_t)rte_get_tsc_cycles() * ns_mult) >> 32);
}

unsigned
migdp_frame_owner(const struct migdp_ctx *ctx, const struct rte_mbuf *m)
{
	const struct rte_ether_hdr *eh;
	const struct rte_ipv4_hdr *ip;
	const struct rte_udp_hdr *udp;
	unsigned ihl, port;

	if (rte_pktmbuf_data_len(m) < sizeof(*eh) + sizeof(*ip) + sizeof(*udp))
		return 0;
	eh = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	if (eh->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
		return 0;
	ip = (const struct rte_ipv4_hdr *)(eh + 1);
	ihl = (ip->version_ihl & 0xf) * 4u;
	if (ip->next_proto_id != IPPROTO_UDP || ihl < 20 ||
	    rte_pktmbuf_data_len(m) < sizeof(*eh) + ihl + sizeof(*udp))
		return 0;
	udp = (const struct rte_udp_hdr *)((const uint8_t *)ip + ihl);
	port = rte_be_to_cpu_16(udp->dst_port);
	if (port <= ctx->base_port || port > ctx->base_port + ctx->nch)
		return 0; /* control parses it and counts the drop */
	return port - ctx->base_port;
}

uint16_t
migdp_rx_burst(struct migdp_ctx *ctx, unsigned self, uint16_t queue,
	       struct rte_ring *inbox, struct migdp_fault *frx,
	       struct migdp_lstats *st, struct rte_mbuf **mine)
{
	struct rte_mbuf *pkts[MIGDP_BURST_ROOM];
	uint16_t n, i, kept = 0;

	n = rte_eth_rx_burst(ctx->port.id, queue, pkts, (uint16_t)ctx->cfg->port.burst);
	if (n > 0)
		n = migdp_fault_apply(frx, pkts, n);
	if (inbox != NULL && n < MIGDP_BURST)
		n += (uint16_t)rte_ring_dequeue_burst(inbox, (void **)pkts + n,
						      MIGDP_BURST - n, NULL);
	for (i = 0; i < n; i++) {
		unsigned owner = migdp_frame_owner(ctx, pkts[i]);
		struct rte_ring *r;

		if (owner == self) {
			mine[kept++] = pkts[i];
			continue;
		}
		/* Steered to the wrong queue (RSS, fanout): hand it over. */
		r = owner == 0 ? ctx->ctl_inbox : ctx->chans[owner - 1] != NULL ?
			ctx->chans[owner - 1]->inbox : NULL;
		st->misrouted++;
		if (r == NULL || rte_ring_enqueue(r, pkts[i]) != 0)
			rte_pktmbuf_free(pkts[i]);
	}
	st->rx_frames += kept;
	return kept;
}

bool
migdp_rx_parse(struct migdp_ctx *ctx, struct rte_mbuf *m,
	       const struct migdp_local *loc, uint8_t *scratch,
	       struct migdp_frame *f, struct migdp_lstats *st)
{
	uint32_t len = rte_pktmbuf_pkt_len(m);
	const void *buf;
	enum migdp_drop d;

	if (len > MIGDP_MAX_FRAME + 64) {
		st->drops[MIGDP_DROP_BAD_LENGTH]++;
		return false;
	}
	buf = rte_pktmbuf_read(m, 0, len, scratch);
	if (buf == NULL) {
		st->drops[MIGDP_DROP_TOO_SHORT]++;
		return false;
	}
	d = migdp_wire_parse(buf, len, loc, 0, f);
	if (d != MIGDP_DROP_NONE) {
		MIGDP_LOG(DEBUG, "drop %s: %u bytes in %u segments",
			  migdp_drop_name(d), len, m->nb_segs);
		st->drops[d]++;
		return false;
	}
	atomic_store_explicit(&ctx->last_heard_ns, migdp_now_ns(),
			      memory_order_relaxed);
	return true;
}

void
migdp_send_frames(struct migdp_ctx *ctx, uint16_t queue, struct rte_mbuf **pkts,
		  uint16_t n, struct migdp_fault *ftx, struct migdp_lstats *st)
{
	uint16_t i;

	if (ctx->sec != NULL)
		n = migdp_sec_seal(ctx->sec, queue, pkts, n, &st->tx_dropped);
	for (i = 0; i < n; i++)
		st->tx_bytes += rte_pktmbuf_pkt_len(pkts[i]);
	st->tx_frames += n;
	n = migdp_fault_apply(ftx, pkts, n);
	migdp_port_tx(&ctx->port, queue, pkts, n, &st->tx_dropped);
}

static int
send_msg(struct migdp_ctx *ctx, uint16_t queue, const struct migdp_flow *fl,
	 const struct migdp_msg *msg, struct migdp_fault *ftx, struct migdp_lstats *st,
	 bool sign)
{
	struct rte_mbuf *pkts[4];
	struct rte_mbuf *m = rte_pktmbuf_alloc(ctx->port.pool);
	int len;

	if (m == NULL)
		return -ENOMEM;
	len = migdp_wire_build_msg(rte_pktmbuf_mtod(m, void *),
				   rte_pktmbuf_tailroom(m), fl, msg);
	if (len < 0) {
		rte_pktmbuf_free(m);
		return len;
	}
	rte_pktmbuf_append(m, (uint16_t)len);
	/* The handshake's MAC (ACCEPT and REJECT bound to the source's nonce). */
	if (sign && ctx->psk.len != 0 && migdp_sec_handshake_type(msg->type))
		migdp_hs_seal(&ctx->psk, rte_pktmbuf_mtod(m, void *),
			      msg->type == MIGDP_T_HELLO ? NULL : ctx->nonce_s);
	pkts[0] = m;
	migdp_send_frames(ctx, queue, pkts, 1, ftx, st);
	return 0;
}

int
migdp_send_msg(struct migdp_ctx *ctx, uint16_t queue,
	       const struct migdp_flow *fl, const struct migdp_msg *msg,
	       struct migdp_fault *ftx, struct migdp_lstats *st)
{
	return send_msg(ctx, queue, fl, msg, ftx, st, true);
}

int
migdp_send_msg_unsigned(struct migdp_ctx *ctx, uint16_t queue,
			const struct migdp_flow *fl, const struct migdp_msg *msg,
			struct migdp_fault *ftx, struct migdp_lstats *st)
{
	return send_msg(ctx, queue, fl, msg, ftx, st, false);
}

int
migdp_ctx_init(struct migdp_ctx *ctx, const struct migdp_config *cfg,
	       const char *tag)
{
	struct migdp_flow *fl = &ctx->ctl_flow;
	struct migshim_region_info ri;
	char name[RTE_RING_NAMESIZE];
	unsigned i;

	ctx->cfg = cfg;
	ctx->nch = (uint16_t)cfg->channels.count;
	ctx->base_port = cfg->local.udp_port;
	ctx->peer_base_port = cfg->peer.udp_port;
	ctx->isn = (uint32_t)rte_rand();
	fl->src_mac = rte_is_zero_ether_addr(&cfg->local.mac) ? ctx->port.mac :
								cfg->local.mac;
	ctx->port.mac = fl->src_mac;
	fl->dst_mac = cfg->peer.mac;
	fl->src_ip = rte_be_to_cpu_32(cfg->local.ip);
	fl->dst_ip = rte_be_to_cpu_32(cfg->peer.ip);
	fl->src_port = cfg->local.udp_port;
	fl->dst_port = cfg->peer.udp_port;
	fl->mtu = (uint16_t)cfg->port.mtu;
	fl->session = cfg->session_id;
	fl->udp_csum_offload = false;
	ctx->ctl_loc.ip = fl->src_ip;
	ctx->ctl_loc.port = fl->src_port;
	ctx->ctl_loc.session = cfg->role == MIGDP_ROLE_SOURCE ? cfg->session_id : 0;
	/* One digest value (and at a destination one version) per page. */
	ctx->npages = 0;
	for (i = 0; ctx->shim != NULL && migshim_session_region(ctx->shim, i, &ri) == 0; i++) {
		ctx->spans[i] = (struct migdp_page_span){.gpa = ri.gpa,
			.end = ri.gpa + ri.size, .first = ctx->npages};
		ctx->npages += ri.size >> MIGDP_PAGE_SHIFT;
	}
	ctx->nregions = i;
	ctx->stream = ctx->shim == NULL; /* bytes, no pages */
	ctx->pval = rte_zmalloc("migdp_pval", RTE_MAX(ctx->npages, (uint64_t)1) * sizeof(uint64_t),
				RTE_CACHE_LINE_SIZE);
	if (cfg->role == MIGDP_ROLE_DESTINATION && !ctx->stream) {
		ctx->vt = rte_zmalloc("migdp_vt", migdp_vtab_memsize(ctx->npages),
				      RTE_CACHE_LINE_SIZE);
		if (ctx->vt == NULL || migdp_vtab_init(ctx->vt, ctx->npages) == NULL)
			return -ENOMEM;
	}
	snprintf(ctx->tag, sizeof(ctx->tag), "%s", tag);
	snprintf(name, sizeof(name), "migdp_ctl_%s", tag);
	ctx->ctl_inbox = rte_ring_create(name, 1024, ctx->port.socket,
					 RING_F_SC_DEQ);
	return ctx->pval == NULL || ctx->ctl_inbox == NULL ? -ENOMEM : 0;
}

int
migdp_ctx_channels(struct migdp_ctx *ctx)
{
	unsigned i;

	for (i = 0; i < ctx->nch; i++) {
		ctx->chans[i] = migdp_chan_create(ctx, (uint16_t)i, &ctx->cfg->peer.mac,
						  ctx->cfg->channels.window);
		if (ctx->chans[i] == NULL)
			return -ENOMEM;
	}
	return 0;
}

void
migdp_ctx_fini(struct migdp_ctx *ctx)
{
	unsigned i;

	for (i = 0; i < MIGDP_MAX_CHANNELS; i++) {
		migdp_chan_free(ctx->chans[i]);
		ctx->chans[i] = NULL;
	}
	migdp_sec_free(ctx->sec);
	ctx->sec = NULL;
	memset(&ctx->psk, 0, sizeof(ctx->psk));
	if (ctx->ctl_inbox != NULL) {
		struct rte_mbuf *m;

		while (rte_ring_dequeue(ctx->ctl_inbox, (void **)&m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(ctx->ctl_inbox);
	}
	rte_free(ctx->pval);
	rte_free(ctx->vt);
	ctx->ctl_inbox = NULL;
	ctx->pval = NULL;
	ctx->vt = NULL;
}

struct migdp_chan *
migdp_chan_create(struct migdp_ctx *ctx, uint16_t id,
		  const struct rte_ether_addr *peer_mac, uint32_t window)
{
	const struct migdp_config *cfg = ctx->cfg;
	const struct migdp_fault_conf *fc = &cfg->fault;
	/* On the NIC's node, as the pool: the lcore that runs the channel
	 * should be there too (daemon.c warns when it is not). */
	int socket = ctx->port.socket;
	struct migdp_chan *c;
	char name[32];

	c = rte_zmalloc_socket("migdp_chan", sizeof(*c), RTE_CACHE_LINE_SIZE,
			       socket);
	if (c == NULL)
		return NULL;
	c->ctx = ctx;
	c->id = id;
	c->queue = (uint16_t)(1 + id);
	c->flow = ctx->ctl_flow;
	c->flow.channel = id;
	c->flow.src_port = (uint16_t)(ctx->base_port + 1 + id);
	c->flow.dst_port = (uint16_t)(ctx->peer_base_port + 1 + id);
	rte_ether_addr_copy(peer_mac, &c->flow.dst_mac);
	c->loc = ctx->ctl_loc;
	c->loc.port = c->flow.src_port;
	c->loc.check_channel = true;
	c->loc.channel = c->flow.channel;
	/* Named by role too: a source and a destination may share a
	 * process (tests/test_chan.c). */
	snprintf(name, sizeof(name), "migdp_in_%s_%u", ctx->tag, id);
	c->inbox = rte_ring_create(name, 1024, socket, RING_F_SC_DEQ);
	if (c->inbox == NULL)
		goto err;
	migdp_fault_init(&c->ftx, fc->tx_drop, fc->tx_dup, fc->tx_reorder,
			 fc->tx_corrupt, fc->seed * 131 + 2 * id + 1, ctx->port.pool);
	migdp_fault_init(&c->frx, fc->rx_drop, fc->rx_dup, fc->rx_reorder,
			 fc->rx_corrupt, fc->seed * 131 + 2 * id + 2, ctx->port.pool);
	/* Source: a frame's payloads and one run of pages being compressed past it. */
	c->arena = rte_malloc_socket("migdp_arena", cfg->role == MIGDP_ROLE_SOURCE ?
				     MIGDP_MAX_FRAME + MIGDP_ZSTD_MAX_PAGES * MIGDP_PAGE_SIZE :
				     (MIGDP_DATA_MAX_ZSTD_PAGES + 1) * MIGDP_PAGE_SIZE, 64, socket);
	c->codec = migdp_codec_ctx_create(&(struct migdp_codec_ctx_params){
		.level = cfg->codec.method == MIGDP_CODEC_ZSTD ? cfg->codec.level : 0,
		.min_save = cfg->codec_min_save});
	c->carry_buf = rte_malloc_socket("migdp_carry", MIGDP_MAX_FRAME, 64, socket);
	c->zs_buf[0] = rte_malloc_socket("migdp_zs", 2 * MIGDP_ZSTREAM_MAX, 64, socket);
	c->zs_buf[1] = c->zs_buf[0] == NULL ? NULL : c->zs_buf[0] + MIGDP_ZSTREAM_MAX;
	c->raw_gpa = UINT64_MAX;
	c->zratio = 2.0;
	if (c->arena == NULL || c->codec == NULL || c->carry_buf == NULL ||
	    c->zs_buf[0] == NULL)
		goto err;
	if (cfg->role == MIGDP_ROLE_SOURCE || ctx->stream) {
		/* RTO floor of 10 ms: on a shared machine an lcore may be
		 * descheduled for milliseconds, and every early timeout is a
		 * spurious resend (measured: thousands per GiB at 1 ms). */
		struct migdp_tx_params tp = {.window = window,
			.rto_min_ns = 10000000,
			.cc = cfg->channels.congestion != 0,
			.cc_params = {.max_rate_bps = migdp_config_channel_bps(cfg),
				      .frame_bytes = cfg->port.mtu + RTE_ETHER_HDR_LEN,
				      /* The receiver acknowledges every 16
				       * frames (or 200 us): a window below a
				       * few of those starves on its delayed
				       * ACKs whatever the path. */
				      .min_cwnd_frames = 64,
				      .init_cwnd_frames = 64,
				      .seed = 1u + id}};

		c->tx = rte_zmalloc_socket("migdp_tx", migdp_tx_memsize(&tp),
					   RTE_CACHE_LINE_SIZE, socket);
		if (c->tx == NULL || migdp_tx_init(c->tx, &tp, ctx->isn) == NULL)
			goto err;
		migdp_pacer_init(&c->pacer, migdp_config_channel_bps(cfg),
				 4 * MIGDP_MAX_FRAME, migdp_now_ns());
		c->use_zstd = cfg->codec.method == MIGDP_CODEC_ZSTD;
		migdp_chan_src_init_zero_copy(c);
		if (migdp_adapt_init(&c->adapt, &(struct migdp_adapt_params){
			.link_bytes_per_s = migdp_config_channel_bps(cfg) / 8}) < 0)
			goto err;
	}
	if (cfg->role == MIGDP_ROLE_DESTINATION || ctx->stream) {
		struct migdp_rx_params rp = {.window = window};
		/* Streams of compressed pages being reassembled: one slot per
		 * first-fragment sequence in reach (window + the fragments of
		 * a page), so a slot is reused only once its page is done. */
		c->nzslots = rte_align32pow2(window + 8);
		c->zslots = rte_zmalloc_socket("migdp_zslots",
					       c->nzslots * sizeof(*c->zslots),
					       RTE_CACHE_LINE_SIZE, socket);
		if (c->zslots == NULL)
			goto err;
		c->rx = rte_zmalloc_socket("migdp_rx", migdp_rx_memsize(&rp),
					   RTE_CACHE_LINE_SIZE, socket);
		c->vt = ctx->vt;
		if (c->rx == NULL || (c->vt == NULL && !ctx->stream) ||
		    migdp_rx_init(c->rx, &rp, ctx->isn) == NULL)
			goto err;
	}
	if (ctx->stream && migdp_stream_chan_init(c) < 0)
		goto err;
	return c;
err:
	MIGDP_LOG(ERR, "cannot set up channel %u", id);
	migdp_chan_free(c);
	return NULL;
}

void
migdp_chan_release_kept(struct migdp_chan *c)
{
	struct rte_mbuf *m;

	if (c->tx != NULL) /* frames still held for retransmission */
		while (migdp_tx_inflight(c->tx) > 0) {
			m = (struct rte_mbuf *)(uintptr_t)migdp_tx_cookie(c->tx,
									  c->tx->una);
			rte_pktmbuf_free(m);
			c->tx->una++;
		}
}

void
migdp_chan_free(struct migdp_chan *c)
{
	struct rte_mbuf *m;

	if (c == NULL)
		return;
	migdp_chan_release_kept(c);
	migdp_stream_chan_fini(c);
	if (c->inbox != NULL) {
		while (rte_ring_dequeue(c->inbox, (void **)&m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(c->inbox);
	}
	migdp_codec_ctx_free(c->codec);
	rte_free(c->arena);
	rte_free(c->carry_buf);
	rte_free(c->zs_buf[0]);
	rte_free(c->zslots);
	rte_free(c->tx);
	rte_free(c->rx);
	rte_free(c);
}

unsigned
migdp_chan_poll(struct migdp_chan *c, const struct migdp_chan_role *role,
		uint8_t *scratch, uint64_t now)
{
	struct migdp_ctx *ctx = c->ctx;
	struct rte_mbuf *pkts[MIGDP_BURST_ROOM];
	struct migdp_frame f;
	uint16_t n, i;
	unsigned work;

	n = migdp_rx_burst(ctx, 1u + c->id, c->queue, c->inbox, &c->frx,
			   &c->st, pkts);
	/* A dictionary the control lcore handed over (after the burst: a
	 * frame that needs it was sent after the peer learned we have it). */
	struct migdp_codec_dict *d = atomic_load_explicit(&c->dict_request,
							  memory_order_acquire);
	if (d != c->dict_in_use) {
		migdp_codec_ctx_set_dict(c->codec, d);
		c->dict_in_use = d;
	}
	for (i = 0; i < n; i++) {
		if (migdp_rx_parse(ctx, pkts[i], &c->loc, scratch, &f, &c->st))
			role->on_frame(c, &f, now);
		rte_pktmbuf_free(pkts[i]);
	}
	work = n + role->tick(c, now);
	c->st.ftx = c->ftx.st;
	c->st.frx = c->frx.st;
	atomic_store_explicit(&c->wire_bytes, c->st.tx_bytes,
			      memory_order_relaxed);
	return work;
}

int
migdp_chan_loop(struct migdp_chan *c, const struct migdp_chan_role *role)
{
	struct migdp_ctx *ctx = c->ctx;
	uint8_t *scratch = rte_malloc(NULL, MIGDP_MAX_FRAME + 64, 64);
	struct migdp_idle empty = {0};

	if (scratch == NULL) {
		atomic_store(&c->state, MIGDP_CHAN_FAILED);
		return -ENOMEM;
	}
	MIGDP_LOG(INFO, "channel %u: %s on lcore %u, queue %u", c->id,
		  role->name, rte_lcore_id(), c->queue);
	/* Sleeps end within a few microseconds of when they should. */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	while (!atomic_load_explicit(&ctx->quit, memory_order_relaxed) &&
	       atomic_load_explicit(&c->state, memory_order_relaxed) !=
		       MIGDP_CHAN_FAILED) {
		uint64_t now = migdp_now_ns();
		unsigned work = migdp_chan_poll(c, role, scratch, now);

		/* Paced: sleep until the pacer has credit again (if the
		 * machine lets us sleep at all), never into the back-off. */
		if (work == 0 && c->wake_ns > now && ctx->cfg->idle_backoff_us != 0) {
			uint64_t us = (c->wake_ns - now) / 1000;

			if (us >= 5)
				rte_delay_us_sleep((unsigned)RTE_MIN(us, (uint64_t)
					ctx->cfg->idle_backoff_us));
			empty = (struct migdp_idle){0};
			continue;
		}
		migdp_idle(ctx->cfg, &empty, work > 0);
	}
	rte_free(scratch);
	return 0;
}
