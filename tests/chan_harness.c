/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_bus_vdev.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "chan_harness.h"
#include "cu_main.h"
#include "log.h"

#define CH_POOL_MBUFS 4095
#define CH_RING_SIZE 1024

static unsigned pairs_made; /* unique names for ports and rings */
/* The pair in use: a test stopped by a fatal assertion leaves it behind,
 * and the next ch_pair_create() frees it. */
static struct ch_pair *live;

/* ---- EAL ---------------------------------------------------------------- */

static char runtime_dir[PATH_MAX];

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	RTE_SET_USED(st);
	RTE_SET_USED(flag);
	RTE_SET_USED(ftw);
	return remove(path);
}

/* EAL leaves its runtime directory behind: the test removes its own. */
static void
remove_runtime_dir(void)
{
	if (runtime_dir[0] != '\0')
		nftw(runtime_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

void
ch_eal_init(const char *prog)
{
	char prefix[64], lcores[64];
	char *argv[] = {
		(char *)prog, "--no-huge", "--no-pci", "--no-shconf",
		"-m", "512", "--file-prefix", prefix, "--lcores", lcores,
		"--log-level", "lib.eal:warning", NULL,
	};
	int argc = (int)RTE_DIM(argv) - 1;
	cpu_set_t set;
	int cpu[2] = {-1, -1}, i, n = 0;

	/* Five lcores (the main one and four workers, one per channel of
	 * each role) on the first two CPUs we may run on. */
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		cu_skip("sched_getaffinity failed");
	for (i = 0; i < CPU_SETSIZE && n < 2; i++)
		if (CPU_ISSET(i, &set))
			cpu[n++] = i;
	if (n == 0)
		cu_skip("no CPU to run on");
	if (n == 1)
		cpu[1] = cpu[0];
	snprintf(lcores, sizeof(lcores), "0@%d,1@%d,2@%d,3@%d,4@%d", cpu[0],
		 cpu[0], cpu[1], cpu[0], cpu[1]);
	snprintf(prefix, sizeof(prefix), "test_chan_%d", (int)getpid());
	if (rte_eal_init(argc, argv) < 0) {
		char why[160];

		/* Bad arguments are ours; anything else is the machine's
		 * (memory, permissions, CPUs). */
		if (rte_errno == EINVAL) {
			fprintf(stderr, "EAL refused our arguments: %s\n",
				rte_strerror(rte_errno));
			exit(1);
		}
		snprintf(why, sizeof(why), "EAL cannot start here: %s",
			 rte_strerror(rte_errno));
		cu_skip(why);
	}
	snprintf(runtime_dir, sizeof(runtime_dir), "%s", rte_eal_get_runtime_dir());
	atexit(remove_runtime_dir);
	migdp_clock_init();
	rte_log_set_level(migdp_logtype, RTE_LOG_WARNING);
}

/* ---- guest memory ------------------------------------------------------- */

static int
side_memory(struct ch_pair *p, struct ch_side *s, enum migshim_role role)
{
	struct migshim_client_params cp = {
		.nrings = role == MIGSHIM_ROLE_SOURCE ? p->p.nch : 1,
	};
	struct fx_region fr[CH_MAX_REGIONS];
	unsigned i;

	for (i = 0; i < p->p.nregions; i++) {
		const struct ch_region *r = &p->p.regions[i];

		s->fd[i] = memfd_create("ch-guest", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (s->fd[i] < 0 || ftruncate(s->fd[i], (off_t)r->size) < 0)
			return -errno;
		s->mem[i] = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED,
				 s->fd[i], 0);
		if (s->mem[i] == MAP_FAILED) {
			s->mem[i] = NULL;
			return -errno;
		}
		fr[i] = (struct fx_region){.fd = s->fd[i], .gpa = r->gpa,
					   .size = r->size};
	}
	if (fx_handoff(&s->fx, role, &cp, fr, p->p.nregions, 0) < 0) {
		fprintf(stderr, "shim handoff refused: %s\n", s->fx.err);
		return -EPROTO;
	}
	return 0;
}

/* ---- ports -------------------------------------------------------------- */

/* The source port sends on fwd and receives on back; the destination port
 * the other way round. */
static int
make_ports(struct ch_pair *p)
{
	unsigned q, nq = p->p.nch + 1u, id = pairs_made;
	char name[RTE_RING_NAMESIZE];
	int port;

	for (q = 0; q < nq; q++) {
		snprintf(name, sizeof(name), "ch_fwd%u_%u", id, q);
		p->fwd[q] = rte_ring_create(name, CH_RING_SIZE, (int)rte_socket_id(), 0);
		snprintf(name, sizeof(name), "ch_back%u_%u", id, q);
		p->back[q] = rte_ring_create(name, CH_RING_SIZE, (int)rte_socket_id(), 0);
		if (p->fwd[q] == NULL || p->back[q] == NULL)
			return -rte_errno;
	}
	snprintf(name, sizeof(name), "chs%u", id);
	port = rte_eth_from_rings(name, p->back, nq, p->fwd, nq, rte_socket_id());
	if (port < 0)
		return -rte_errno;
	snprintf(p->src.port_name, sizeof(p->src.port_name), "net_ring_%s", name);
	snprintf(name, sizeof(name), "chd%u", id);
	port = rte_eth_from_rings(name, p->fwd, nq, p->back, nq, rte_socket_id());
	if (port < 0)
		return -rte_errno;
	snprintf(p->dst.port_name, sizeof(p->dst.port_name), "net_ring_%s", name);
	return 0;
}

/* ---- contexts ----------------------------------------------------------- */

static void
side_config(struct ch_pair *p, struct ch_side *s, enum migdp_role role)
{
	static const struct rte_ether_addr mac_s = {{0x02, 0, 0, 0, 0, 0x01}};
	static const struct rte_ether_addr mac_d = {{0x02, 0, 0, 0, 0, 0x02}};
	struct migdp_config *cfg = &s->cfg;
	bool src = role == MIGDP_ROLE_SOURCE;

	migdp_config_init(cfg);
	cfg->role = role;
	cfg->session_id = CH_SESSION;
	cfg->idle_backoff_us = 20;
	cfg->idle_polls = 32;
	snprintf(cfg->port.device, sizeof(cfg->port.device), "%s", s->port_name);
	cfg->port.kind = MIGDP_PORT_VDEV;
	cfg->port.mtu = p->p.mtu;
	cfg->port.pool_size = CH_POOL_MBUFS;
	cfg->port.rx_desc = cfg->port.tx_desc = CH_RING_SIZE;
	cfg->port.tx_zero_copy = p->p.tx_zero_copy;
	cfg->channels.count = p->p.nch;
	cfg->channels.window = p->p.window;
	cfg->local.ip = rte_cpu_to_be_32(src ? TEST_IP_SRC :
					 TEST_IP_DST);
	cfg->peer.ip = rte_cpu_to_be_32(src ? TEST_IP_DST :
					TEST_IP_SRC);
	cfg->local.udp_port = cfg->peer.udp_port = 47000;
	cfg->local.mac = src ? mac_s : mac_d;
	cfg->peer.mac = src ? mac_d : mac_s;
	cfg->codec.method = p->p.codec;
	cfg->codec.level = p->p.codec == MIGDP_CODEC_ZSTD ? 1 : 0;
}

/* The daemon's context set-up (migdp_ctx_init()), with the test's own
 * first sequence and session, as the session start of control.c fixes them. */
static int
side_ctx(struct ch_pair *p, struct ch_side *s)
{
	const struct migdp_config *cfg = &s->cfg;
	struct migdp_ctx *ctx = &s->ctx;
	char name[RTE_RING_NAMESIZE];

	ctx->shim = s->fx.ss;
	snprintf(name, sizeof(name), "%u%c", pairs_made,
		 cfg->role == MIGDP_ROLE_SOURCE ? 's' : 'd');
	if (migdp_ctx_init(ctx, cfg, name) < 0)
		return -ENOMEM;
	/* The test's own first sequence; a destination listening to the
	 * test's one session. */
	ctx->isn = p->p.isn;
	ctx->ctl_loc.session = cfg->session_id;
	s->scratch = rte_malloc("ch_scratch", MIGDP_MAX_FRAME + 64, 64);
	if (s->scratch == NULL)
		return -ENOMEM;
	return migdp_ctx_channels(ctx);
}

static int
side_init(struct ch_pair *p, struct ch_side *s, enum migdp_role role)
{
	int ret;

	side_config(p, s, role);
	ret = side_memory(p, s, role == MIGDP_ROLE_SOURCE ? MIGSHIM_ROLE_SOURCE :
				MIGSHIM_ROLE_DESTINATION);
	if (ret < 0)
		return ret;
	ret = migdp_port_open(&s->ctx.port, &s->cfg, (uint16_t)(p->p.nch + 1), 2000);
	if (ret < 0)
		return ret;
	return side_ctx(p, s);
}

/* Everything that may hold mbufs, before any pool goes. */
static void
side_release(struct ch_side *s)
{
	migdp_ctx_fini(&s->ctx);
	rte_free(s->scratch);
}

static void
side_close(struct ch_pair *p, struct ch_side *s)
{
	unsigned i;

	migdp_port_close(&s->ctx.port);
	if (s->port_name[0] != '\0')
		rte_vdev_uninit(s->port_name);
	fx_done(&s->fx);
	for (i = 0; i < p->p.nregions; i++) {
		if (s->mem[i] != NULL)
			munmap(s->mem[i], p->p.regions[i].size);
		if (s->fd[i] > 0)
			close(s->fd[i]);
	}
}

struct ch_pair *
ch_pair_create(const struct ch_params *params)
{
	struct ch_pair *p;
	int ret;

	ch_pair_free(live);
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->p = *params;
	if (p->p.mtu == 0)
		p->p.mtu = 9000;
	if (p->p.nch == 0)
		p->p.nch = 1;
	if (p->p.window == 0)
		p->p.window = 256;
	if (p->p.nregions == 0) {
		p->p.nregions = 1;
		p->p.regions[0] = (struct ch_region){.gpa = 0, .size = CH_MB};
	}
	ret = make_ports(p);
	if (ret == 0)
		ret = side_init(p, &p->src, MIGDP_ROLE_SOURCE);
	if (ret == 0)
		ret = side_init(p, &p->dst, MIGDP_ROLE_DESTINATION);
	pairs_made++;
	if (ret < 0) {
		fprintf(stderr, "channel pair: %s\n", strerror(-ret));
		ch_pair_free(p);
		return NULL;
	}
	/* Channels created before: their pacers started at real time. */
	p->t0 = migdp_now_ns();
	live = p;
	return p;
}

void
ch_pair_free(struct ch_pair *p)
{
	unsigned q;

	if (p == NULL)
		return;
	if (p == live)
		live = NULL;
	side_release(&p->dst);
	side_release(&p->src);
	for (q = 0; q <= p->p.nch; q++) {
		struct rte_mbuf *m;

		while (p->fwd[q] != NULL && rte_ring_dequeue(p->fwd[q], (void **)&m) == 0)
			rte_pktmbuf_free(m);
		while (p->back[q] != NULL && rte_ring_dequeue(p->back[q], (void **)&m) == 0)
			rte_pktmbuf_free(m);
	}
	side_close(p, &p->dst);
	side_close(p, &p->src);
	for (q = 0; q <= p->p.nch; q++) {
		rte_ring_free(p->fwd[q]);
		rte_ring_free(p->back[q]);
	}
	free(p);
}

/* ---- driving ------------------------------------------------------------ */

uint64_t
ch_now(const struct ch_pair *p)
{
	return p->t0 + p->elapsed;
}

void
ch_advance(struct ch_pair *p, uint64_t ns)
{
	p->elapsed += ns;
}

static uint8_t *
own_page(struct ch_pair *p, struct ch_side *s, uint64_t gpa)
{
	unsigned i;

	for (i = 0; i < p->p.nregions; i++) {
		const struct ch_region *r = &p->p.regions[i];

		if (gpa >= r->gpa && gpa + MIGDP_PAGE_SIZE <= r->gpa + r->size)
			return s->mem[i] + (gpa - r->gpa);
	}
	return NULL;
}

uint8_t *
ch_src_page(struct ch_pair *p, uint64_t gpa)
{
	return own_page(p, &p->src, gpa);
}

uint8_t *
ch_dst_page(struct ch_pair *p, uint64_t gpa)
{
	return migshim_session_gpa_to_hva(p->dst.fx.ss, gpa, MIGDP_PAGE_SIZE);
}

struct migdp_chan *
ch_src_chan(struct ch_pair *p, unsigned i)
{
	return p->src.ctx.chans[i];
}

struct migdp_chan *
ch_dst_chan(struct ch_pair *p, unsigned i)
{
	return p->dst.ctx.chans[i];
}

unsigned
ch_poll_src(struct ch_pair *p, unsigned i)
{
	return migdp_chan_poll(p->src.ctx.chans[i], &migdp_chan_src_role,
			       p->src.scratch, ch_now(p));
}

unsigned
ch_poll_dst(struct ch_pair *p, unsigned i)
{
	return migdp_chan_poll(p->dst.ctx.chans[i], &migdp_chan_dst_role,
			       p->dst.scratch, ch_now(p));
}

/* DONE count of both sides, or -1 when a channel failed. */
static int
chans_done(struct ch_pair *p)
{
	unsigned i, n = 0;

	for (i = 0; i < p->p.nch; i++) {
		int s = atomic_load(&p->src.ctx.chans[i]->state);
		int d = atomic_load(&p->dst.ctx.chans[i]->state);

		if (s == MIGDP_CHAN_FAILED || d == MIGDP_CHAN_FAILED)
			return -1;
		n += (s == MIGDP_CHAN_DONE) + (d == MIGDP_CHAN_DONE);
	}
	return (int)n;
}

int
ch_run(struct ch_pair *p, unsigned timeout_ms)
{
	uint64_t deadline = migdp_now_ns() + (uint64_t)timeout_ms * 1000000u;
	unsigned i, work, idle = 0;
	int done;

	while ((done = chans_done(p)) >= 0 && done < (int)(2 * p->p.nch)) {
		if (migdp_now_ns() > deadline)
			return -ETIMEDOUT;
		for (work = 0, i = 0; i < p->p.nch; i++)
			work += ch_poll_src(p, i) + ch_poll_dst(p, i);
		ch_advance(p, 2000);
		/* Nothing to do this round: let the rest of the machine run. */
		if (work == 0 && ++idle >= 64) {
			rte_delay_us_sleep(20);
			idle = 0;
		}
	}
	return done < 0 ? -EIO : 0;
}

int
ch_run_lcores(struct ch_pair *p, unsigned timeout_ms)
{
	uint64_t deadline = migdp_now_ns() + (uint64_t)timeout_ms * 1000000u;
	unsigned lcores[2 * CH_MAX_CHANNELS], n = 0, lcore, i;
	int done, ret = 0;

	RTE_LCORE_FOREACH_WORKER(lcore)
		if (n < 2 * p->p.nch)
			lcores[n++] = lcore;
	if (n < 2 * p->p.nch)
		return -ENODEV;
	for (i = 0; i < p->p.nch; i++) {
		p->src.ctx.chans[i]->lcore = lcores[i];
		p->dst.ctx.chans[i]->lcore = lcores[p->p.nch + i];
		if (rte_eal_remote_launch(migdp_chan_dst_main, p->dst.ctx.chans[i],
					  lcores[p->p.nch + i]) < 0 ||
		    rte_eal_remote_launch(migdp_chan_src_main, p->src.ctx.chans[i],
					  lcores[i]) < 0)
			ret = -EBUSY;
	}
	while (ret == 0 && (done = chans_done(p)) < (int)(2 * p->p.nch)) {
		if (done < 0)
			ret = -EIO;
		else if (migdp_now_ns() > deadline)
			ret = -ETIMEDOUT;
		else
			rte_delay_us_sleep(1000);
	}
	atomic_store(&p->src.ctx.quit, true);
	atomic_store(&p->dst.ctx.quit, true);
	rte_eal_mp_wait_lcore();
	atomic_store(&p->src.ctx.quit, false);
	atomic_store(&p->dst.ctx.quit, false);
	return ret;
}

int
ch_push(struct ch_pair *p, uint64_t gpa, uint64_t npages)
{
	uint32_t block = migshim_session_block_pages(p->src.fx.ss);

	while (npages > 0) {
		uint64_t page = gpa >> MIGDP_PAGE_SHIFT;
		uint64_t n = RTE_MIN(npages, block - (page & (block - 1)));
		struct migshim_desc d = {.gpa = gpa, .npages = (uint32_t)n};
		int ret = migshim_client_push(p->src.fx.cl, &d);

		if (ret < 0)
			return ret;
		gpa += n << MIGDP_PAGE_SHIFT;
		npages -= n;
	}
	return 0;
}

int
ch_end_round(struct ch_pair *p, uint64_t round, bool final)
{
	return migshim_client_end_round(p->src.fx.cl, round, final);
}

/* ---- frames ------------------------------------------------------------- */

static void
ext_free(void *addr, void *opaque)
{
	RTE_SET_USED(addr);
	rte_free(opaque);
}

/* A segment whose data is @p len bytes at @p data (not copied). */
static struct rte_mbuf *
ext_segment(struct rte_mempool *mp, const uint8_t *data, uint16_t len)
{
	struct rte_mbuf_ext_shared_info *sh;
	struct rte_mbuf *seg = rte_pktmbuf_alloc(mp);

	sh = rte_zmalloc("ch_shinfo", sizeof(*sh), 0);
	if (seg == NULL || sh == NULL) {
		rte_pktmbuf_free(seg);
		rte_free(sh);
		return NULL;
	}
	sh->free_cb = ext_free;
	sh->fcb_opaque = sh;
	rte_mbuf_ext_refcnt_set(sh, 1);
	rte_pktmbuf_attach_extbuf(seg, (void *)(uintptr_t)data,
				  (rte_iova_t)(uintptr_t)data, len, sh);
	seg->data_len = len;
	seg->pkt_len = len;
	return seg;
}

struct rte_mbuf *
ch_build(struct ch_pair *p, unsigned ch, uint32_t seq, struct migdp_data *d,
	 bool zero_copy)
{
	struct rte_mempool *mp = p->src.ctx.port.pool;
	struct migdp_msg msg = {.type = MIGDP_T_DATA, .seq = seq,
				.tstamp = migdp_tstamp(ch_now(p))};
	struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
	unsigned i;
	int len;

	if (m == NULL)
		return NULL;
	len = migdp_wire_build_data(rte_pktmbuf_mtod(m, void *),
				    rte_pktmbuf_tailroom(m),
				    &p->src.ctx.chans[ch]->flow, &msg, d, !zero_copy);
	if (len < 0 || rte_pktmbuf_append(m, (uint16_t)len) == NULL)
		goto err;
	for (i = 0; zero_copy && i < d->nrec; i++) {
		struct rte_mbuf *seg;

		if (d->rec[i].len == 0)
			continue;
		seg = ext_segment(mp, d->rec[i].data, d->rec[i].len);
		if (seg == NULL || rte_pktmbuf_chain(m, seg) < 0) {
			rte_pktmbuf_free(seg);
			goto err;
		}
	}
	return m;
err:
	rte_pktmbuf_free(m);
	return NULL;
}

static void
tx_one(uint16_t port, uint16_t queue, struct rte_mbuf *m)
{
	if (rte_eth_tx_burst(port, queue, &m, 1) != 1)
		rte_pktmbuf_free(m);
}

void
ch_send(struct ch_pair *p, uint16_t queue, struct rte_mbuf *m)
{
	tx_one(p->src.ctx.port.id, queue, m);
}

void
ch_send_back(struct ch_pair *p, uint16_t queue, struct rte_mbuf *m)
{
	tx_one(p->dst.ctx.port.id, queue, m);
}

unsigned
ch_take(struct ch_pair *p, bool to_dst, uint16_t queue, struct rte_mbuf **pkts,
	unsigned max)
{
	uint16_t port = to_dst ? p->dst.ctx.port.id : p->src.ctx.port.id;

	return rte_eth_rx_burst(port, queue, pkts, (uint16_t)max);
}

const uint8_t *
ch_read(const struct rte_mbuf *m, uint32_t off, uint32_t len, void *buf)
{
	return rte_pktmbuf_read(m, off, len, buf);
}

unsigned
ch_take_acks(struct ch_pair *p, unsigned ch, struct migdp_ack *last)
{
	static uint8_t buf[MIGDP_MAX_FRAME + 64];
	const struct migdp_chan *c = p->src.ctx.chans[ch];
	struct rte_mbuf *pkts[MIGDP_BURST];
	struct migdp_frame f;
	unsigned n, i, acks = 0;

	while ((n = ch_take(p, false, c->queue, pkts, RTE_DIM(pkts))) > 0)
		for (i = 0; i < n; i++) {
			uint32_t len = rte_pktmbuf_pkt_len(pkts[i]);
			const uint8_t *b = ch_read(pkts[i], 0, len, buf);

			if (b != NULL && migdp_wire_parse(b, len, &c->loc, 0, &f) ==
			    MIGDP_DROP_NONE && f.msg.type == MIGDP_T_ACK) {
				acks++;
				if (last != NULL)
					*last = f.msg.u.ack;
			}
			rte_pktmbuf_free(pkts[i]);
		}
	return acks;
}

/* ---- watching writes ------------------------------------------------------ */

static struct {
	uint8_t *addr;
	size_t len;
	volatile unsigned writes;
	struct sigaction old;
} watch;

static void
on_segv(int sig, siginfo_t *si, void *uc)
{
	uint8_t *a = si->si_addr;

	RTE_SET_USED(uc);
	if (a >= watch.addr && a < watch.addr + watch.len) {
		watch.writes++;
		mprotect((void *)((uintptr_t)a & ~(uintptr_t)(MIGDP_PAGE_SIZE - 1)),
			 MIGDP_PAGE_SIZE, PROT_READ | PROT_WRITE);
		return; /* the write goes ahead */
	}
	sigaction(sig, &watch.old, NULL); /* a real fault: crash as usual */
}

int
ch_watch_writes(void *addr, size_t len)
{
	struct sigaction sa = {.sa_sigaction = on_segv, .sa_flags = SA_SIGINFO};

	watch.addr = addr;
	watch.len = len;
	watch.writes = 0;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &watch.old) < 0)
		return -errno;
	return mprotect(addr, len, PROT_READ) < 0 ? -errno : 0;
}

unsigned
ch_watch_end(void)
{
	mprotect(watch.addr, watch.len, PROT_READ | PROT_WRITE);
	sigaction(SIGSEGV, &watch.old, NULL);
	watch.addr = NULL;
	return watch.writes;
}
