/* SPDX-License-Identifier: BSD-3-Clause */
/* Control lcore: one migration session. The channels move the pages; this
 * file decides when the session starts, whether the peer is alive, and
 * when it is committed. Frames for the control lcore arrive on queue 0 and
 * in ctl_inbox (from channel lcores that received them). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <sys/resource.h>
#include <sys/uio.h>

#include "arp.h"
#include "control.h"
#include "log.h"

extern volatile sig_atomic_t migdp_signalled;

#define HANDSHAKE_PERIOD_NS 200000000ull
#define COMMIT_PERIOD_NS 100000000ull

struct ctl {
	struct migdp_ctx *ctx;
	const struct migdp_run_opts *o;
	struct migdp_report *rep;
	struct migdp_fault ftx, frx;
	struct migdp_lstats st;
	uint8_t *scratch;
	struct rte_ether_addr peer_mac;
	bool peer_mac_known;
	bool launched;
	uint64_t last_keepalive_ns, last_progress_ns, start_ns;
	uint64_t last_pages;
	uint64_t rate_ns, rate_start_ns, rate_acked; /* rate_sample() */
	/* What the handlers saw. */
	bool got_accept, got_reject, got_abort, got_commit, got_hello;
	struct migdp_msg last; /* the last HELLO / COMMIT / REJECT / ABORT */
	struct rte_ether_addr last_src_mac;
	uint64_t last_session;
	/* Dictionary: source, bytes acknowledged; destination, received. */
	struct migdp_codec_dict *dict;
	uint8_t *dict_buf;
	uint32_t dict_done, dict_total, dict_id;
	bool dict_ready;
};

static void ctl_send(struct ctl *k, const struct migdp_msg *m);

/* Every channel's codec uses @p d from now on. */
static void
attach_dict(struct ctl *k, struct migdp_codec_dict *d)
{
	unsigned i;

	for (i = 0; i < k->ctx->nch; i++)
		migdp_codec_ctx_set_dict(k->ctx->chans[i]->codec, d);
	rte_smp_wmb(); /* before the peer can learn that we have it */
}

/* Destination: a piece of the source's dictionary, in order; every piece
 * is acknowledged with the bytes held so far (stop and wait). */
static void
dict_input(struct ctl *k, const struct migdp_dict_msg *m)
{
	struct migdp_msg ack = {.type = MIGDP_T_DICT};

	if (m->len == 0 || k->ctx->cfg->role != MIGDP_ROLE_DESTINATION)
		return;
	if (k->dict_buf == NULL) {
		k->dict_buf = rte_malloc(NULL, m->total, 0);
		k->dict_total = m->total;
		k->dict_id = m->dict_id;
		k->dict_done = 0;
	}
	if (k->dict_buf == NULL || m->total != k->dict_total || m->dict_id != k->dict_id) {
		k->st.drops[MIGDP_DROP_BAD_PAYLOAD]++;
		return;
	}
	if (m->offset == k->dict_done && !k->dict_ready) {
		memcpy(k->dict_buf + m->offset, m->data, m->len);
		k->dict_done += m->len;
		if (k->dict_done == k->dict_total) {
			k->dict = migdp_dict_load(k->dict_buf, k->dict_total);
			if (k->dict == NULL || migdp_dict_id(k->dict) != k->dict_id) {
				MIGDP_LOG(ERR, "the source's dictionary is not valid");
				migdp_dict_free(k->dict);
				k->dict = NULL;
				k->dict_done = 0;
				return;
			}
			attach_dict(k, k->dict);
			k->dict_ready = true;
			MIGDP_LOG(INFO, "dictionary %08x of %u bytes received",
				  k->dict_id, k->dict_total);
		}
	}
	ack.u.dict = (struct migdp_dict_msg){.dict_id = k->dict_id,
		.total = k->dict_total, .offset = k->dict_done};
	ctl_send(k, &ack);
}

void
migdp_session_digest(const struct migdp_ctx *ctx, uint8_t out[MIGDP_DIGEST_LEN])
{
	struct migdp_mdigest d = {0};
	rte_be64_t be[2];
	unsigned i;

	for (i = 0; i < ctx->nch; i++) {
		d.sum += ctx->chans[i]->digest.sum;
		d.pages += ctx->chans[i]->digest.pages;
	}
	be[0] = rte_cpu_to_be_64(d.sum);
	be[1] = rte_cpu_to_be_64(d.pages);
	memset(out, 0, MIGDP_DIGEST_LEN);
	memcpy(out, be, sizeof(be));
}

static void
ctl_send(struct ctl *k, const struct migdp_msg *m)
{
	struct migdp_msg msg = *m;

	msg.tstamp = migdp_tstamp(migdp_now_ns());
	migdp_send_msg(k->ctx, 0, &k->ctx->ctl_flow, &msg, &k->ftx, &k->st);
}

/* A REJECT goes out in the framing of the HELLO it answers, so that a
 * peer of an older wire version understands why. */
static void
ctl_send_reason(struct ctl *k, uint8_t type, enum migdp_reason r,
		const char *text)
{
	struct migdp_msg m = {.type = type};

	if (type == MIGDP_T_REJECT && k->last.type == MIGDP_T_HELLO)
		m.version = k->last.version;

	m.u.reason.reason = (uint16_t)r;
	snprintf(m.u.reason.text, sizeof(m.u.reason.text), "%.*s",
		 (int)sizeof(m.u.reason.text) - 1, text);
	ctl_send(k, &m);
}

static void
on_frame(struct ctl *k, const struct migdp_frame *f)
{
	switch (f->msg.type) {
	case MIGDP_T_HELLO:
		k->got_hello = true;
		break;
	case MIGDP_T_ACCEPT:
		k->got_accept = true;
		return;
	case MIGDP_T_REJECT:
		k->got_reject = true;
		break;
	case MIGDP_T_ABORT:
		k->got_abort = true;
		break;
	case MIGDP_T_COMMIT:
		k->got_commit = true;
		break;
	case MIGDP_T_KEEPALIVE:
		return;
	case MIGDP_T_DICT:
		if (f->msg.u.dict.len > 0)
			dict_input(k, &f->msg.u.dict);
		else if (f->msg.u.dict.offset > k->dict_done)
			k->dict_done = f->msg.u.dict.offset;
		return;
	default: /* DATA, ACK, FIN belong to channels: a bad port here */
		k->st.drops[MIGDP_DROP_WRONG_DST]++;
		return;
	}
	k->last = f->msg;
	k->last_src_mac = f->src_mac;
	k->last_session = f->session;
}

/* One ARP frame, or one migdp frame for the control lcore. */
static void
ctl_input(struct ctl *k, struct rte_mbuf *m)
{
	struct migdp_ctx *ctx = k->ctx;
	const struct migdp_config *cfg = ctx->cfg;
	struct migdp_frame f;
	int r;

	r = migdp_arp_input(m, &ctx->port.mac, ctx->ctl_flow.src_ip,
			    ctx->ctl_flow.dst_ip, &k->peer_mac, &k->peer_mac_known);
	if (r == 1) {
		struct rte_mbuf *pkts[MIGDP_BURST_ROOM] = {m}; /* faults may add */

		migdp_send_frames(ctx, 0, pkts, 1, &k->ftx, &k->st);
		return;
	}
	if (r == -1 && migdp_rx_parse(ctx, m, &ctx->ctl_loc, k->scratch, &f, &k->st))
		on_frame(k, &f);
	rte_pktmbuf_free(m);
	RTE_SET_USED(cfg);
}

/* Poll queue 0 and the inbox; before the channels run, all queues. */
static unsigned
ctl_poll(struct ctl *k)
{
	struct migdp_ctx *ctx = k->ctx;
	struct rte_mbuf *pkts[MIGDP_BURST_ROOM];
	unsigned total = 0;
	uint16_t q, n, i;

	for (q = 0; q < (k->launched ? 1 : ctx->port.nb_queues); q++) {
		n = migdp_rx_burst(ctx, 0, q, q == 0 ? ctx->ctl_inbox : NULL,
				   &k->frx, &k->st, pkts);
		for (i = 0; i < n; i++)
			ctl_input(k, pkts[i]);
		total += n;
	}
	/* Frames for channels that do not run yet: nothing to do with them. */
	if (!k->launched)
		for (i = 0; i < ctx->nch; i++) {
			struct rte_mbuf *m;

			while (ctx->chans[i] != NULL &&
			       rte_ring_dequeue(ctx->chans[i]->inbox, (void **)&m) == 0)
				rte_pktmbuf_free(m);
		}
	return total;
}

static bool
peer_dead(struct ctl *k, uint64_t now)
{
	uint64_t heard = atomic_load_explicit(&k->ctx->last_heard_ns,
					      memory_order_relaxed);

	return now > heard &&
	       now - heard > (uint64_t)k->ctx->cfg->peer_timeout_ms * 1000000u;
}

static void
keepalive(struct ctl *k, uint64_t now)
{
	struct migdp_msg m = {.type = MIGDP_T_KEEPALIVE};

	if (now - k->last_keepalive_ns < (uint64_t)k->ctx->cfg->keepalive_ms * 1000000u)
		return;
	k->last_keepalive_ns = now;
	ctl_send(k, &m);
}

static void
sum_stats(struct ctl *k)
{
	struct migdp_lstats *s = &k->rep->sum;
	unsigned i, d;

	*s = k->st;
	s->ftx = k->ftx.st;
	s->frx = k->frx.st;
	for (i = 0; i < k->ctx->nch; i++) {
		const struct migdp_lstats *c = &k->ctx->chans[i]->st;

		s->rx_frames += c->rx_frames;
		s->tx_frames += c->tx_frames;
		s->tx_bytes += c->tx_bytes;
		s->tx_dropped += c->tx_dropped;
		s->retransmits += c->retransmits;
		s->pages_zero += c->pages_zero;
		s->pages_raw += c->pages_raw;
		s->pages_frag += c->pages_frag;
		s->pages_zstd += c->pages_zstd;
		s->zstd_bytes += c->zstd_bytes;
		s->zstd_records += c->zstd_records;
		s->pages_zstd_frag += c->pages_zstd_frag;
		s->pages_zero_skipped += c->pages_zero_skipped;
		s->pages_stale += c->pages_stale;
		s->misrouted += c->misrouted;
		s->zc_fallback += c->zc_fallback;
		s->rx_new += c->rx_new;
		s->rx_dup += c->rx_dup;
		for (d = 0; d < MIGDP_DROP_MAX; d++)
			s->drops[d] += c->drops[d];
		s->ftx.dropped += c->ftx.dropped;
		s->ftx.duplicated += c->ftx.duplicated;
		s->ftx.reordered += c->ftx.reordered;
		s->ftx.corrupted += c->ftx.corrupted;
		s->frx.dropped += c->frx.dropped;
		s->frx.duplicated += c->frx.duplicated;
		s->frx.reordered += c->frx.reordered;
		s->frx.corrupted += c->frx.corrupted;
	}
}

/* The rate the session's path delivered: bytes the peer acknowledged, all
 * channels together, per 100 ms window (long against a shaper's usual 1 ms
 * bucket and against ACKs bunched by a descheduled lcore: measured +38%
 * with 10 ms windows on a 500 Mb/s tbf), the best window after the first
 * 100 ms (startup). Reported as the discovered rate; each channel's own
 * model is in cc.h. */
static void
rate_sample(struct ctl *k, uint64_t now)
{
	uint64_t acked = 0, rate;
	unsigned i;

	if (now - k->rate_ns < 100000000ull)
		return;
	for (i = 0; i < k->ctx->nch; i++)
		acked += atomic_load_explicit(&k->ctx->chans[i]->acked_bytes,
					      memory_order_relaxed);
	if (k->rate_ns != 0 && now - k->rate_start_ns > 100000000ull) {
		rate = (uint64_t)((double)(acked - k->rate_acked) * 8e9 /
				  (double)(now - k->rate_ns));
		k->rep->discovered_bps = RTE_MAX(k->rep->discovered_bps, rate);
		atomic_store_explicit(&k->ctx->discovered_bps, k->rep->discovered_bps,
				      memory_order_relaxed);
	}
	if (k->rate_ns == 0)
		k->rate_start_ns = now;
	k->rate_ns = now;
	k->rate_acked = acked;
}

/* A progress line once a second, and at once when @p force. */
static void
progress(struct ctl *k, uint64_t now, bool force)
{
	uint64_t pages = 0, bytes = 0, retx = 0;
	double dt;
	unsigned i;

	if (!k->o->progress || (!force && now - k->last_progress_ns < 1000000000ull))
		return;
	for (i = 0; i < k->ctx->nch; i++) {
		pages += atomic_load_explicit(&k->ctx->chans[i]->pages_done,
					      memory_order_relaxed);
		bytes += atomic_load_explicit(&k->ctx->chans[i]->wire_bytes,
					      memory_order_relaxed);
		retx += atomic_load_explicit(&k->ctx->chans[i]->retx,
					     memory_order_relaxed);
	}
	dt = RTE_MAX((double)(now - k->last_progress_ns) * 1e-9, 1e-6);
	fprintf(stderr, "progress: %s pages %llu/%llu (%.1f%%) wire %.1f MiB "
		"rate %.2f Gb/s retransmits %llu\n",
		migdp_role_name(k->ctx->cfg->role), (unsigned long long)pages,
		(unsigned long long)k->rep->pages_total,
		k->rep->pages_total ? 100.0 * (double)pages / (double)k->rep->pages_total : 0,
		(double)bytes / (1 << 20),
		dt < 0.01 ? 0.0 :
		(double)(pages - k->last_pages) * MIGDP_PAGE_SIZE * 8 / dt / 1e9,
		(unsigned long long)retx);
	k->last_pages = pages;
	k->last_progress_ns = now;
}

/* CPU seconds of the whole process (every thread) so far. */
double
migdp_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

/* The migration starts: the source before its HELLO, the destination on
 * the HELLO it accepts. Time and CPU are counted from here. */
static void
start_clocks(struct ctl *k)
{
	k->start_ns = migdp_now_ns();
	k->rep->cpu_start_s = migdp_cpu_s();
}

static int
fail(struct ctl *k, const char *fmt, const char *detail)
{
	snprintf(k->rep->reason, sizeof(k->rep->reason), fmt, detail);
	MIGDP_LOG(ERR, "migration failed: %s", k->rep->reason);
	return -1;
}

static int
launch(struct ctl *k)
{
	struct migdp_ctx *ctx = k->ctx;
	unsigned i;

	for (i = 0; i < ctx->nch; i++) {
		int (*fn)(void *) = ctx->cfg->role == MIGDP_ROLE_SOURCE ?
			migdp_chan_src_main : migdp_chan_dst_main;

		if (rte_eal_remote_launch(fn, ctx->chans[i], ctx->chans[i]->lcore) < 0)
			return fail(k, "cannot launch channel lcore%s", "");
	}
	k->launched = true;
	return 0;
}

/* Count channels in @p state; a FAILED channel fails the session. */
static unsigned
channels_in(struct ctl *k, int state)
{
	unsigned i, n = 0;

	for (i = 0; i < k->ctx->nch; i++)
		n += atomic_load(&k->ctx->chans[i]->state) == state;
	return n;
}

/* Wait, polling, until @p done says so or a failure; common exits. */
#define WAIT_CHECKS(k, now)                                                    \
	do {                                                                   \
		if (migdp_signalled)                                           \
			return fail(k, "interrupted%s", "");                   \
		if ((k)->got_abort)                                            \
			return fail(k, "peer aborted: %s", (k)->last.u.reason.text); \
		if (channels_in(k, MIGDP_CHAN_FAILED) > 0)                     \
			return fail(k, "a channel failed%s", "");              \
	} while (0)

/* Source: train a dictionary on guest memory, prepare it for the levels
 * the codec may use, send it piece by piece (each acknowledged), and give
 * it to the channels. */
static int
send_dict(struct ctl *k)
{
	static const int auto_levels[] = {-7, -5, -3, -1, 1, 3};
	const struct migdp_config *cfg = k->ctx->cfg;
	struct iovec mem[MIGSHIM_MAX_REGIONS];
	struct migshim_region_info ri;
	struct migdp_msg m = {.type = MIGDP_T_DICT};
	uint64_t t0 = migdp_now_ns(), sent = 0, deadline, now;
	const uint8_t *data;
	unsigned i, n;
	struct migdp_idle empty = {0};
	size_t len;

	for (n = 0; migshim_session_region(k->ctx->shim, n, &ri) == 0; n++)
		mem[n] = (struct iovec){ri.hva, ri.size};
	k->dict = migdp_dict_train(mem, n, NULL);
	if (k->dict == NULL) {
		MIGDP_LOG(WARNING, "no dictionary (%s): compressing without",
			  strerror(errno));
		return 0;
	}
	if (cfg->codec.method == MIGDP_CODEC_ZSTD)
		migdp_dict_prepare(k->dict, cfg->codec.level);
	else
		for (i = 0; i < RTE_DIM(auto_levels); i++)
			migdp_dict_prepare(k->dict, auto_levels[i]);
	data = migdp_dict_data(k->dict, &len);
	m.u.dict.dict_id = migdp_dict_id(k->dict);
	m.u.dict.total = (uint32_t)len;
	k->dict_done = 0;
	deadline = migdp_now_ns() + (uint64_t)cfg->peer_timeout_ms * 1000000u;
	while (k->dict_done < len) {
		uint32_t acked = k->dict_done;

		now = migdp_now_ns();
		WAIT_CHECKS(k, now);
		if (now > deadline)
			return fail(k, "the destination did not take the dictionary%s", "");
		if (now - sent > 50000000ull || m.u.dict.offset != acked) {
			/* Progress, not resends, keeps the destination alive. */
			if (m.u.dict.offset != acked || sent == 0)
				deadline = now + (uint64_t)cfg->peer_timeout_ms * 1000000u;
			m.u.dict.offset = acked;
			m.u.dict.len = (uint16_t)RTE_MIN((size_t)MIGDP_DICT_CHUNK, len - acked);
			memcpy(m.u.dict.data, data + acked, m.u.dict.len);
			ctl_send(k, &m);
			sent = now;
		}
		migdp_idle(cfg, &empty, ctl_poll(k) > 0);
	}
	attach_dict(k, k->dict);
	k->rep->dict_bytes = (uint32_t)len;
	k->rep->dict_ms = (double)(migdp_now_ns() - t0) / 1e6;
	MIGDP_LOG(INFO, "dictionary %08x of %zu bytes sent in %.1f ms",
		  m.u.dict.dict_id, len, k->rep->dict_ms);
	return 0;
}

static int
source_session(struct ctl *k)
{
	struct migdp_ctx *ctx = k->ctx;
	const struct migdp_config *cfg = ctx->cfg;
	struct migdp_msg hello = {.type = MIGDP_T_HELLO};
	struct migdp_msg commit = {.type = MIGDP_T_COMMIT};
	struct migshim_region_info ri;
	uint64_t now, sent = 0, deadline, t_data;
	unsigned i;
	struct migdp_idle empty = {0};

	/* 1. The peer's MAC, by ARP unless configured. */
	deadline = migdp_now_ns() + RTE_MAX(10000ull, (uint64_t)cfg->peer_timeout_ms) * 1000000u;
	while (!k->peer_mac_known) {
		now = migdp_now_ns();
		WAIT_CHECKS(k, now);
		if (now > deadline)
			return fail(k, "no ARP reply from the peer%s", "");
		if (now - sent > 100000000ull) {
			struct rte_mbuf *pkts[MIGDP_BURST_ROOM];

			pkts[0] = rte_pktmbuf_alloc(ctx->port.pool);
			if (pkts[0] != NULL) {
				migdp_arp_request(pkts[0], &ctx->port.mac,
						  ctx->ctl_flow.src_ip, ctx->ctl_flow.dst_ip);
				migdp_send_frames(ctx, 0, pkts, 1, &k->ftx, &k->st);
			}
			sent = now;
		}
		migdp_idle(cfg, &empty, ctl_poll(k) > 0);
	}
	rte_ether_addr_copy(&k->peer_mac, &ctx->ctl_flow.dst_mac);
	for (i = 0; i < ctx->nch; i++)
		rte_ether_addr_copy(&k->peer_mac, &ctx->chans[i]->flow.dst_mac);

	/* 2. Handshake. */
	hello.u.hello.proto_version = k->o->hello_version ?
		(uint16_t)k->o->hello_version : MIGDP_WIRE_VERSION;
	if (k->o->hello_version == MIGDP_WIRE_VERSION_LEGACY)
		hello.version = MIGDP_WIRE_VERSION_LEGACY; /* as an old migdp */
	hello.u.hello.nchannels = ctx->nch;
	hello.u.hello.page_size = MIGDP_PAGE_SIZE;
	hello.u.hello.isn = ctx->isn;
	for (i = 0; migshim_session_region(ctx->shim, i, &ri) == 0; i++) {
		hello.u.hello.regions[i].gpa = ri.gpa;
		hello.u.hello.regions[i].size = ri.size;
	}
	hello.u.hello.nregions = (uint16_t)i;
	start_clocks(k);
	sent = 0;
	while (!k->got_accept) {
		now = migdp_now_ns();
		WAIT_CHECKS(k, now);
		if (k->got_reject)
			return fail(k, "destination rejected the session: %s",
				    k->last.u.reason.text);
		if (now > deadline)
			return fail(k, "no answer to HELLO from the destination%s", "");
		if (now - sent > HANDSHAKE_PERIOD_NS) {
			ctl_send(k, &hello);
			sent = now;
		}
		migdp_idle(cfg, &empty, ctl_poll(k) > 0);
	}
	MIGDP_LOG(INFO, "session %016llx accepted: %u channels, %u regions",
		  (unsigned long long)ctx->ctl_flow.session, ctx->nch, i);

	/* 3. The dictionary, if any, before the first page that uses it. */
	if (cfg->codec_dict && cfg->codec.method != MIGDP_CODEC_RAW &&
	    send_dict(k) < 0)
		return -1;

	/* 4. Pages move. */
	atomic_store(&ctx->last_heard_ns, migdp_now_ns());
	if (launch(k) < 0)
		return -1;
	t_data = migdp_now_ns();
	k->last_progress_ns = t_data;
	progress(k, t_data, true);
	while (channels_in(k, MIGDP_CHAN_DONE) < ctx->nch) {
		now = migdp_now_ns();
		WAIT_CHECKS(k, now);
		if (peer_dead(k, now))
			return fail(k, "peer silent for more than peer_timeout_ms%s", "");
		keepalive(k, now);
		progress(k, now, false);
		rate_sample(k, now);
		migdp_idle(cfg, &empty, ctl_poll(k) > 0);
	}
	k->rep->transfer_ns = migdp_now_ns() - t_data;
	progress(k, migdp_now_ns(), true);

	/* 5. Commit: the destination confirms it has everything, verified. */
	migdp_session_digest(ctx, k->rep->digest);
	commit.u.commit.guest_bytes = k->rep->guest_bytes;
	memcpy(commit.u.commit.digest, k->rep->digest, MIGDP_DIGEST_LEN);
	sent = 0;
	k->got_commit = false;
	while (!k->got_commit) {
		now = migdp_now_ns();
		WAIT_CHECKS(k, now);
		if (peer_dead(k, now))
			return fail(k, "peer silent during commit%s", "");
		if (now - sent > COMMIT_PERIOD_NS) {
			ctl_send(k, &commit);
			sent = now;
		}
		keepalive(k, now);
		migdp_idle(cfg, &empty, ctl_poll(k) > 0);
	}
	k->rep->total_ns = migdp_now_ns() - k->start_ns;
	k->rep->verified = (k->last.u.commit.flags & MIGDP_COMMIT_VERIFIED) != 0;
	if (!k->rep->verified)
		return fail(k, "destination memory digest differs from the source%s", "");
	return 0;
}

/* Does the source's HELLO describe our guest memory? NULL when it does. */
static const char *
check_hello(struct ctl *k, const struct migdp_hello *h, enum migdp_reason *why)
{
	struct migshim_region_info ri;
	unsigned i;

	*why = MIGDP_R_VERSION;
	if (k->last.version == MIGDP_WIRE_VERSION_LEGACY)
		return "source speaks wire version 1, this migdp 2";
	if (h->proto_version != MIGDP_WIRE_VERSION)
		return "protocol version mismatch";
	*why = MIGDP_R_PAGE_SIZE;
	if (h->page_size != MIGDP_PAGE_SIZE)
		return "page size mismatch";
	*why = MIGDP_R_CHANNELS;
	if (h->nchannels != k->ctx->nch)
		return "channel count mismatch";
	*why = MIGDP_R_LAYOUT;
	if (h->nregions != migshim_session_nregions(k->ctx->shim))
		return "region count differs";
	for (i = 0; i < h->nregions; i++) {
		migshim_session_region(k->ctx->shim, i, &ri);
		if (ri.gpa != h->regions[i].gpa || ri.size != h->regions[i].size)
			return "region address or size differs";
	}
	return NULL;
}

static int
destination_session(struct ctl *k)
{
	struct migdp_ctx *ctx = k->ctx;
	const struct migdp_config *cfg = ctx->cfg;
	struct migdp_msg accept = {.type = MIGDP_T_ACCEPT};
	struct migdp_msg reply = {.type = MIGDP_T_COMMIT};
	uint64_t now, deadline, committed_at = 0, t_data = 0;
	enum migdp_reason why;
	const char *bad;
	unsigned i;
	struct migdp_idle empty = {0};

	/* 1. Wait for a HELLO that matches our memory. */
	deadline = migdp_now_ns() + (uint64_t)k->o->wait_ms * 1000000u;
	for (;;) {
		now = migdp_now_ns();
		WAIT_CHECKS(k, now);
		if (now > deadline)
			return fail(k, "no source came%s", "");
		migdp_idle(cfg, &empty, ctl_poll(k) > 0);
		if (!k->got_hello)
			continue;
		k->got_hello = false;
		bad = check_hello(k, &k->last.u.hello, &why);
		/* Answer to where it came from. */
		rte_ether_addr_copy(&k->last_src_mac, &ctx->ctl_flow.dst_mac);
		ctx->ctl_flow.session = ctx->ctl_loc.session == 0 ?
			k->last_session : ctx->ctl_loc.session;
		if (bad != NULL) {
			MIGDP_LOG(ERR, "rejecting session: %s", bad);
			/* Stay a little to answer a HELLO repeated because
			 * our REJECT was lost. */
			ctl_send_reason(k, MIGDP_T_REJECT, why, bad);
			deadline = migdp_now_ns() + 3 * HANDSHAKE_PERIOD_NS;
			while (migdp_now_ns() < deadline && !migdp_signalled) {
				migdp_idle(cfg, &empty, ctl_poll(k) > 0);
				if (k->got_hello) {
					k->got_hello = false;
					ctl_send_reason(k, MIGDP_T_REJECT, why, bad);
				}
			}
			return fail(k, "rejected the source: %s", bad);
		}
		break;
	}
	ctx->isn = k->last.u.hello.isn;
	ctx->ctl_loc.session = ctx->ctl_flow.session;
	for (i = 0; i < ctx->nch; i++) {
		struct migdp_chan *c = ctx->chans[i];

		c->flow.session = c->loc.session = ctx->ctl_flow.session;
		rte_ether_addr_copy(&k->last_src_mac, &c->flow.dst_mac);
		struct migdp_rx_params rp = c->rx->p; /* init clears the struct */

		migdp_rx_init(c->rx, &rp, ctx->isn);
	}
	k->rep->reason[0] = '\0';
	start_clocks(k);
	atomic_store(&ctx->last_heard_ns, k->start_ns);
	if (launch(k) < 0)
		return -1;
	accept.u.accept.proto_version = MIGDP_WIRE_VERSION;
	accept.u.accept.nchannels = ctx->nch;
	accept.u.accept.page_size = MIGDP_PAGE_SIZE;
	accept.u.accept.window = cfg->channels.window;
	accept.u.accept.mtu = (uint16_t)cfg->port.mtu;
	ctl_send(k, &accept);
	MIGDP_LOG(INFO, "session %016llx accepted", (unsigned long long)ctx->ctl_flow.session);
	t_data = migdp_now_ns();

	/* 2. Until committed (and a little after, to answer a lost reply). */
	for (;;) {
		now = migdp_now_ns();
		WAIT_CHECKS(k, now);
		if (committed_at != 0 && now - committed_at > 300000000ull)
			break;
		if (committed_at == 0 && peer_dead(k, now))
			return fail(k, "source silent for more than peer_timeout_ms%s", "");
		if (k->got_hello) { /* our ACCEPT was lost */
			k->got_hello = false;
			ctl_send(k, &accept);
		}
		if (k->got_commit) {
			k->got_commit = false;
			if (channels_in(k, MIGDP_CHAN_DONE) == ctx->nch) {
				if (committed_at == 0) {
					k->rep->transfer_ns = now - t_data;
					migdp_session_digest(ctx, k->rep->digest);
					k->rep->verified = memcmp(k->rep->digest,
						k->last.u.commit.digest, MIGDP_DIGEST_LEN) == 0;
					committed_at = now;
					k->rep->total_ns = now - k->start_ns;
				}
				reply.u.commit.flags = k->rep->verified ?
					MIGDP_COMMIT_VERIFIED : 0;
				reply.u.commit.guest_bytes = k->rep->guest_bytes;
				memcpy(reply.u.commit.digest, k->rep->digest,
				       MIGDP_DIGEST_LEN);
				ctl_send(k, &reply);
			}
		}
		keepalive(k, now);
		progress(k, now, false);
		migdp_idle(cfg, &empty, ctl_poll(k) > 0);
	}
	if (!k->rep->verified)
		return fail(k, "memory digest differs from the source's%s", "");
	return 0;
}

int
migdp_run(struct migdp_ctx *ctx, const struct migdp_run_opts *o,
	  struct migdp_report *rep)
{
	struct ctl k = {.ctx = ctx, .o = o, .rep = rep};
	const struct migdp_fault_conf *fc = &ctx->cfg->fault;
	struct migshim_region_info ri;
	unsigned i;
	int ret;

	memset(rep, 0, sizeof(*rep));
	for (i = 0; migshim_session_region(ctx->shim, i, &ri) == 0; i++)
		rep->guest_bytes += ri.size;
	rep->pages_total = rep->guest_bytes / MIGDP_PAGE_SIZE;
	k.scratch = rte_malloc(NULL, MIGDP_MAX_FRAME + 64, 64);
	migdp_fault_init(&k.ftx, fc->tx_drop, fc->tx_dup, fc->tx_reorder,
			 fc->tx_corrupt, fc->seed * 131 + 1000, ctx->port.pool);
	migdp_fault_init(&k.frx, fc->rx_drop, fc->rx_dup, fc->rx_reorder,
			 fc->rx_corrupt, fc->seed * 131 + 1001, ctx->port.pool);
	if (!rte_is_zero_ether_addr(&ctx->cfg->peer.mac)) {
		k.peer_mac = ctx->cfg->peer.mac;
		k.peer_mac_known = true;
	}
	k.last_progress_ns = migdp_now_ns();
	atomic_store(&ctx->last_heard_ns, migdp_now_ns());
	ret = ctx->cfg->role == MIGDP_ROLE_SOURCE ? source_session(&k) :
						    destination_session(&k);
	if (ret < 0 && k.launched)
		for (i = 0; i < 3; i++) /* tell the peer, best effort */
			ctl_send_reason(&k, MIGDP_T_ABORT, MIGDP_R_CANCELLED,
					rep->reason);
	atomic_store(&ctx->quit, true);
	if (k.launched)
		rte_eal_mp_wait_lcore();
	for (i = 0; i < ctx->nch; i++)
		migdp_codec_ctx_set_dict(ctx->chans[i]->codec, NULL);
	migdp_dict_free(k.dict);
	rte_free(k.dict_buf);
	rep->completed = ret == 0;
	rep->cpu_end_s = migdp_cpu_s();
	rep->session = ctx->ctl_flow.session;
	sum_stats(&k);
	rte_free(k.scratch);
	return ret;
}
