/* SPDX-License-Identifier: BSD-3-Clause */
/* Workers: channel lcores shared by sessions. The loop: take requests
 * (attach, detach), receive a burst on the worker's queue and inbox and
 * hand each frame to the channel of its session, then each channel's tick
 * in turn, the first one rotating so that no session is always first;
 * sleep when idle or paced. */
#include <errno.h>
#include <sys/prctl.h>

#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "log.h"
#include "worker.h"

/* A request: the channel's address, the low bit set to detach. */
#define DETACH 1ul

/* Offset of the UDP header of IPv4/UDP frame @p m, 0 when it is not one. */
static unsigned
udp_offset(const struct rte_mbuf *m)
{
	uint8_t buf[RTE_ETHER_HDR_LEN + sizeof(struct rte_ipv4_hdr)];
	const struct rte_ether_hdr *eh;
	const struct rte_ipv4_hdr *ip;
	unsigned ihl;

	eh = rte_pktmbuf_read(m, 0, sizeof(buf), buf);
	if (eh == NULL || eh->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
		return 0;
	ip = (const struct rte_ipv4_hdr *)(eh + 1);
	ihl = (ip->version_ihl & 0xf) * 4u;
	if (ip->next_proto_id != IPPROTO_UDP || ihl < sizeof(*ip))
		return 0;
	return RTE_ETHER_HDR_LEN + ihl;
}

uint64_t
migdp_frame_session(const struct rte_mbuf *m)
{
	struct migdp_hdr buf;
	const struct migdp_hdr *h;
	unsigned off = udp_offset(m);

	if (off == 0)
		return 0;
	h = rte_pktmbuf_read(m, off + sizeof(struct rte_udp_hdr), sizeof(*h), &buf);
	if (h == NULL || h->magic != rte_cpu_to_be_16(MIGDP_WIRE_MAGIC))
		return 0;
	return rte_be_to_cpu_64(h->session);
}

unsigned
migdp_workers_owner(const struct migdp_workers *ws, const struct rte_mbuf *m)
{
	struct rte_udp_hdr buf;
	const struct rte_udp_hdr *udp;
	unsigned port, base = ws->cfg->local.udp_port, off = udp_offset(m);

	if (off == 0)
		return 0;
	udp = rte_pktmbuf_read(m, off, sizeof(*udp), &buf);
	if (udp == NULL)
		return 0;
	port = rte_be_to_cpu_16(udp->dst_port);
	return port <= base || port > base + ws->n ? 0 : port - base;
}

static void
take_requests(struct migdp_worker *w)
{
	void *reqs[MIGDP_MAX_SESSIONS];
	unsigned k, i, n = rte_ring_dequeue_burst(w->req, reqs, RTE_DIM(reqs), NULL);

	for (k = 0; k < n; k++) {
		uintptr_t r = (uintptr_t)reqs[k];
		struct migdp_chan *c = (struct migdp_chan *)(r & ~DETACH);

		if (!(r & DETACH)) {
			if (w->n < MIGDP_MAX_SESSIONS)
				w->items[w->n++] = c;
			atomic_store_explicit(&c->attached, true, memory_order_release);
			continue;
		}
		for (i = 0; i < w->n && w->items[i] != c; i++)
			;
		if (i < w->n)
			w->items[i] = w->items[--w->n];
		atomic_store_explicit(&c->attached, false, memory_order_release);
	}
}

static struct migdp_chan *
item_of(const struct migdp_worker *w, uint64_t session)
{
	unsigned i;

	for (i = 0; i < w->n; i++)
		if (w->items[i]->loc.session == session)
			return w->items[i];
	return NULL;
}

/* One burst in: each frame to its session's channel, the wrong queue's
 * to their owner, the rest dropped and counted. @return frames. */
static unsigned
receive(struct migdp_worker *w, uint64_t now)
{
	struct migdp_workers *ws = w->all;
	struct rte_mbuf *pkts[MIGDP_BURST_ROOM];
	struct migdp_frame f;
	uint16_t n, i;

	/* Dictionaries the control lcore handed over (before the frames: one
	 * that needs it was sent after the peer learned we have it). */
	for (i = 0; i < w->n; i++) {
		struct migdp_chan *c = w->items[i];
		struct migdp_codec_dict *d = atomic_load_explicit(&c->dict_request,
								  memory_order_acquire);

		if (d != c->dict_in_use) {
			migdp_codec_ctx_set_dict(c->codec, d);
			c->dict_in_use = d;
		}
	}
	n = rte_eth_rx_burst(ws->port->id, (uint16_t)(1 + w->id), pkts,
			     (uint16_t)ws->cfg->port.burst);
	if (n > 0)
		n = migdp_fault_apply(&w->frx, pkts, n);
	if (n < MIGDP_BURST)
		n += (uint16_t)rte_ring_dequeue_burst(w->inbox, (void **)pkts + n,
						      MIGDP_BURST - n, NULL);
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		unsigned o = migdp_workers_owner(ws, m);
		struct migdp_chan *c;

		if (o != 1 + w->id) { /* steered to the wrong queue: hand over */
			struct rte_ring *r = o == 0 ? ws->ctl_inbox : ws->w[o - 1].inbox;

			w->st.misrouted++;
			if (rte_ring_enqueue(r, m) != 0)
				rte_pktmbuf_free(m);
			continue;
		}
		c = item_of(w, migdp_frame_session(m));
		if (c == NULL) {
			w->st.drops[MIGDP_DROP_WRONG_SESSION]++;
			rte_pktmbuf_free(m);
			continue;
		}
		c->st.rx_frames++;
		if (migdp_rx_parse(c->ctx, m, &c->loc, w->scratch, &f, &c->st))
			(c->role != NULL ? c->role : ws->role)->on_frame(c, &f, now);
		rte_pktmbuf_free(m);
	}
	return n;
}

/* Each channel's tick, the first rotating. @return work; *@p wake the
 * earliest time a paced channel has credit again (0: none). */
static unsigned
tick_all(struct migdp_worker *w, uint64_t now, uint64_t *wake)
{
	unsigned k, work = 0;

	*wake = 0;
	for (k = 0; k < w->n; k++) {
		struct migdp_chan *c = w->items[(w->next + k) % w->n];

		if (atomic_load_explicit(&c->state, memory_order_relaxed) ==
		    MIGDP_CHAN_FAILED)
			continue;
		work += (c->role != NULL ? c->role : w->all->role)->tick(c, now);
		c->st.ftx = c->ftx.st;
		atomic_store_explicit(&c->wire_bytes, c->st.tx_bytes, memory_order_relaxed);
		if (c->wake_ns > now && (*wake == 0 || c->wake_ns < *wake))
			*wake = c->wake_ns;
	}
	w->next = w->n > 0 ? (w->next + 1) % w->n : 0;
	return work;
}

static int
worker_main(void *arg)
{
	struct migdp_worker *w = arg;
	const struct migdp_config *cfg = w->all->cfg;

	MIGDP_LOG(INFO, "worker %u: channel %u of every session on lcore %u, queue %u",
		  w->id, w->id, rte_lcore_id(), 1 + w->id);
	/* Sleeps end within a few microseconds of when they should. */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	while (!atomic_load_explicit(&w->all->quit, memory_order_relaxed)) {
		uint64_t now = migdp_now_ns(), wake;
		unsigned work;

		take_requests(w);
		work = receive(w, now);
		work += tick_all(w, now, &wake);
		/* Paced: sleep until a pacer has credit again (if the machine
		 * lets us sleep at all), never into the back-off. */
		if (work == 0 && wake > now && cfg->idle_backoff_us != 0) {
			uint64_t us = (wake - now) / 1000;

			if (us >= 5)
				rte_delay_us_sleep((unsigned)RTE_MIN(us, (uint64_t)
					cfg->idle_backoff_us));
			w->idle = (struct migdp_idle){0};
			continue;
		}
		migdp_idle(cfg, &w->idle, work > 0);
	}
	return 0;
}

int
migdp_workers_start(struct migdp_workers *ws, const struct migdp_config *cfg,
		    const struct migdp_port *port, const unsigned *lcores)
{
	const struct migdp_fault_conf *fc = &cfg->fault;
	char name[RTE_RING_NAMESIZE];
	unsigned i;

	ws->cfg = cfg;
	ws->port = port;
	ws->role = cfg->role == MIGDP_ROLE_SOURCE ? &migdp_chan_src_role : &migdp_chan_dst_role;
	ws->n = cfg->channels.count;
	atomic_store(&ws->quit, false);
	ws->ctl_inbox = rte_ring_create("migdp_ctl_rx", 1024, port->socket, RING_F_SC_DEQ);
	if (ws->ctl_inbox == NULL)
		return -ENOMEM;
	for (i = 0; i < ws->n; i++) {
		struct migdp_worker *w = &ws->w[i];

		w->all = ws;
		w->id = i;
		w->lcore = lcores[i];
		snprintf(name, sizeof(name), "migdp_wreq_%u", i);
		w->req = rte_ring_create(name, 64, port->socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "migdp_win_%u", i);
		w->inbox = rte_ring_create(name, 1024, port->socket, RING_F_SC_DEQ);
		w->scratch = rte_malloc_socket(NULL, MIGDP_MAX_FRAME + 64, 64, port->socket);
		migdp_fault_init(&w->frx, fc->rx_drop, fc->rx_dup, fc->rx_reorder,
				 fc->rx_corrupt, fc->seed * 131 + 2 * i + 1, port->pool);
		if (w->req == NULL || w->inbox == NULL || w->scratch == NULL)
			return -ENOMEM;
	}
	for (i = 0; i < ws->n; i++)
		if (rte_eal_remote_launch(worker_main, &ws->w[i], ws->w[i].lcore) < 0)
			return -EBUSY;
	return 0;
}

void
migdp_workers_stop(struct migdp_workers *ws)
{
	struct rte_mbuf *m;
	unsigned i;

	atomic_store(&ws->quit, true);
	rte_eal_mp_wait_lcore();
	for (i = 0; i < ws->n; i++) {
		struct migdp_worker *w = &ws->w[i];

		while (w->inbox != NULL && rte_ring_dequeue(w->inbox, (void **)&m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(w->req);
		rte_ring_free(w->inbox);
		rte_free(w->scratch);
		w->req = w->inbox = NULL;
		w->scratch = NULL;
	}
	while (ws->ctl_inbox != NULL && rte_ring_dequeue(ws->ctl_inbox, (void **)&m) == 0)
		rte_pktmbuf_free(m);
	rte_ring_free(ws->ctl_inbox);
	ws->ctl_inbox = NULL;
}

/* Every channel of @p ctx attached (@p want true) or detached, within a
 * second. */
static int
wait_attached(struct migdp_ctx *ctx, bool want)
{
	uint64_t until = migdp_now_ns() + 1000000000ull;
	unsigned i;

	for (;;) {
		for (i = 0; i < ctx->nch; i++)
			if (atomic_load_explicit(&ctx->chans[i]->attached,
						 memory_order_acquire) != want)
				break;
		if (i == ctx->nch)
			return 0;
		if (migdp_now_ns() > until)
			return -ETIMEDOUT;
		rte_delay_us_sleep(100);
	}
}

int
migdp_workers_attach(struct migdp_workers *ws, struct migdp_ctx *ctx)
{
	unsigned i;

	for (i = 0; i < ctx->nch; i++)
		if (rte_ring_enqueue(ws->w[i].req, ctx->chans[i]) != 0)
			return -EAGAIN;
	return wait_attached(ctx, true);
}

int
migdp_workers_detach(struct migdp_workers *ws, struct migdp_ctx *ctx)
{
	unsigned i;

	for (i = 0; i < ctx->nch; i++)
		if (ctx->chans[i] != NULL &&
		    rte_ring_enqueue(ws->w[i].req, (void *)((uintptr_t)ctx->chans[i] | DETACH)) != 0)
			return -EAGAIN;
	return wait_attached(ctx, false);
}
