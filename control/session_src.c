/* SPDX-License-Identifier: BSD-3-Clause */
/* Source session, one step per call: ARP and HELLO (handshake), pre-copy
 * rounds closed when the channels drained them and decided on by the
 * policy of converge.h, the switchover (PAUSE, the final dirty pass, the
 * device state), and the three-message commit of commit.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_ethdev.h>

#include "arp.h"
#include "log.h"
#include "session.h"

#define ARP_PERIOD_NS 100000000ull
#define HANDSHAKE_PERIOD_NS 200000000ull
#define COMMIT_PERIOD_NS 20000000ull

/* The peer's MAC, by ARP unless configured; then the flows use it.
 * @return true once known. */
static bool
resolve_peer(struct migdp_session *s, uint64_t now)
{
	struct migdp_ctx *ctx = s->ctx;
	unsigned i;

	if (rte_is_same_ether_addr(&ctx->ctl_flow.dst_mac, &s->peer_mac) &&
	    s->peer_mac_known)
		return true;
	if (s->peer_mac_known) {
		rte_ether_addr_copy(&s->peer_mac, &ctx->ctl_flow.dst_mac);
		for (i = 0; i < ctx->nch; i++)
			rte_ether_addr_copy(&s->peer_mac, &ctx->chans[i]->flow.dst_mac);
		s->sent_ns = 0;
		return true;
	}
	if (now - s->sent_ns > ARP_PERIOD_NS) {
		struct rte_mbuf *pkts[MIGDP_BURST_ROOM];

		pkts[0] = rte_pktmbuf_alloc(ctx->port.pool);
		if (pkts[0] != NULL) {
			migdp_arp_request(pkts[0], &ctx->port.mac, ctx->ctl_flow.src_ip,
					  ctx->ctl_flow.dst_ip);
			migdp_send_frames(ctx, 0, pkts, 1, &s->ftx, &s->st);
		}
		s->sent_ns = now;
	}
	return false;
}

static void
send_hello(struct migdp_session *s)
{
	struct migdp_ctx *ctx = s->ctx;
	struct migdp_msg hello = {.type = MIGDP_T_HELLO};
	struct migshim_region_info ri;
	unsigned i;

	hello.u.hello.proto_version = s->o->hello_version ?
		(uint16_t)s->o->hello_version : MIGDP_WIRE_VERSION;
	if (s->o->hello_version == MIGDP_WIRE_VERSION_LEGACY ||
	    s->o->hello_version == MIGDP_WIRE_VERSION_PREV)
		hello.version = (uint8_t)s->o->hello_version; /* as an old migdp */
	hello.u.hello.nchannels = ctx->nch;
	hello.u.hello.page_size = MIGDP_PAGE_SIZE;
	hello.u.hello.isn = ctx->isn;
	hello.u.hello.kind = s->stream ? MIGDP_HELLO_STREAM : MIGDP_HELLO_PAGES;
	hello.u.hello.block_pages = s->stream ? 0 : migshim_session_block_pages(ctx->shim);
	if (ctx->psk.len != 0 && hello.version == 0) {
		hello.u.hello.sec_flags = MIGDP_SEC_AUTH | (ctx->encrypt ? MIGDP_SEC_ENCRYPT : 0);
		memcpy(hello.u.hello.nonce, ctx->nonce_s, MIGDP_NONCE_LEN);
	}
	snprintf(hello.u.hello.vm, sizeof(hello.u.hello.vm), "%s", s->vm);
	for (i = 0; !s->stream && migshim_session_region(ctx->shim, i, &ri) == 0; i++) {
		hello.u.hello.regions[i].gpa = ri.gpa;
		hello.u.hello.regions[i].size = ri.size;
	}
	hello.u.hello.nregions = (uint16_t)i;
	migdp_sess_send(s, &hello);
}

/* Round @p r starts now: the hypervisor harvested (or is told to). */
static void
round_begin(struct migdp_session *s, unsigned r, uint64_t now)
{
	s->round = r;
	s->round_start_ns = now;
	s->round_pages0 = migdp_sess_pages_done(s);
	s->round_wire0 = migdp_sess_wire_bytes(s);
	/* Round 1 is all of memory; a later one what the policy expects
	 * was dirtied (its size is known only once its marker came). */
	s->round_expect = r == 1 ? s->rep.pages_total : s->conv.remaining_pages;
}

static bool
handshake(struct migdp_session *s, uint64_t now)
{
	const struct migdp_config *cfg = s->ctx->cfg;

	if (now > s->deadline_ns) {
		if (s->auth_note[0] != '\0')
			migdp_sess_fail(s, "no authenticated answer to HELLO: %s", s->auth_note);
		else
			migdp_sess_fail(s, s->peer_mac_known ?
					"no answer to HELLO from the destination" :
					"no ARP reply from the peer");
		return true;
	}
	if (!resolve_peer(s, now))
		return true;
	if (s->got_reject) {
		migdp_sess_fail(s, "destination rejected the session: %s", s->reason.u.reason.text);
		return true;
	}
	if (!s->got_accept) {
		if (s->start_ns == 0)
			migdp_sess_start_clocks(s);
		if (now - s->sent_ns > HANDSHAKE_PERIOD_NS) {
			send_hello(s);
			s->sent_ns = now;
		}
		return true;
	}
	/* The destination's receive window and MTU bound ours. */
	if (s->accept.mtu < MIGDP_MTU_MIN || s->accept.window == 0 ||
	    s->accept.nchannels != s->ctx->nch) {
		migdp_sess_fail(s, "the destination accepted with MTU %u, window %u, "
				"%u channels: not usable", s->accept.mtu, s->accept.window,
				s->accept.nchannels);
		return true;
	}
	if (migdp_sess_authenticated(s)) {
		if (!(s->accept.sec_flags & MIGDP_SEC_AUTH) ||
		    (s->ctx->encrypt && !(s->accept.sec_flags & MIGDP_SEC_ENCRYPT))) {
			migdp_sess_fail(s, "the destination accepted without %s",
					s->ctx->encrypt ? "encryption" : "authentication");
			return true;
		}
		if (s->ctx->sec != NULL &&
		    memcmp(s->keyed_nonce, s->accept.nonce, MIGDP_NONCE_LEN) != 0) {
			/* The destination keyed anew (or an ACCEPT of ours was
			 * replayed): keys in use are never derived again, so
			 * start over with a fresh nonce and a new HELLO. */
			migdp_sess_sec_stop(s);
			s->got_accept = s->peer_confirmed = false;
			if (migdp_sec_random(s->ctx->nonce_s, MIGDP_NONCE_LEN) != 0) {
				migdp_sess_fail(s, "no random bytes for the handshake");
				return true;
			}
			s->sent_ns = 0;
			return true;
		}
		if (s->ctx->sec == NULL) {
			memcpy(s->ctx->nonce_d, s->accept.nonce, MIGDP_NONCE_LEN);
			memcpy(s->keyed_nonce, s->accept.nonce, MIGDP_NONCE_LEN);
			if (migdp_sess_sec_start(s, s->accept.sec_flags) < 0)
				return true;
			s->sent_ns = 0;
		}
		if (!s->peer_confirmed) { /* our proof, until the destination's comes */
			if (now - s->sent_ns > HANDSHAKE_PERIOD_NS / 4) {
				struct migdp_msg ka = {.type = MIGDP_T_KEEPALIVE};

				send_hello(s);
				migdp_sess_send(s, &ka);
				s->sent_ns = now;
			}
			return true;
		}
	}
	for (unsigned i = 0; i < s->ctx->nch; i++) {
		struct migdp_chan *c = s->ctx->chans[i];

		c->tx->p.window = RTE_MIN(c->tx->p.window, s->accept.window);
		c->flow.mtu = RTE_MIN(c->flow.mtu, s->accept.mtu);
	}
	MIGDP_LOG(INFO, "session %016llx accepted: %u channels, window %u, MTU %u",
		  (unsigned long long)s->ctx->ctl_flow.session, s->ctx->nch,
		  s->ctx->chans[0]->tx->p.window, s->ctx->chans[0]->flow.mtu);
	if (s->stream) {
		migdp_sess_stream_accepted(s);
		return true;
	}
	/* The dictionary, if any, before the first page that uses it. */
	if (cfg->codec_dict && cfg->codec.method != MIGDP_CODEC_RAW &&
	    migdp_sess_send_dict(s) < 0)
		return true;
	atomic_store(&s->ctx->last_heard_ns, migdp_now_ns());
	now = migdp_now_ns();
	s->t_data = s->moved_ns = now;
	migdp_conv_init(&s->conv, &s->params, s->rep.pages_total);
	round_begin(s, 1, now);
	if (migdp_sess_launch(s) < 0)
		return true;
	migdp_sess_event(s, MIGDP_EV_ACCEPTED, "the destination accepted");
	migdp_sess_progress(s, now, true);
	return true;
}

/* The lowest round every channel drained (or, @p marked, took the
 * marker of: every page of it is in a frame). */
static uint64_t
rounds_done(const struct migdp_session *s, bool marked)
{
	uint64_t r = UINT64_MAX;
	unsigned i;

	for (i = 0; i < s->ctx->nch; i++)
		r = RTE_MIN(r, atomic_load_explicit(marked ? &s->ctx->chans[i]->round_marked :
						    &s->ctx->chans[i]->round_drained,
						    memory_order_acquire));
	return r;
}

/* What a switchover costs besides the final pages, as measured: the
 * PAUSE event and the harvest (a control-loop period, ~1 ms here), and
 * the commit's three messages and its FIN (four one-way trips: two round
 * trips of the slowest channel's minimum RTT). */
static double
switchover_cost_ms(const struct migdp_session *s)
{
	uint64_t rtt = 0;
	unsigned i;

	for (i = 0; i < s->ctx->nch; i++) {
		const struct migdp_cc *cc = migdp_tx_cc(s->ctx->chans[i]->tx);

		if (cc != NULL) /* read while its lcore writes: an estimate */
			rtt = RTE_MAX(rtt, migdp_cc_min_rtt_ns(cc));
	}
	return 1.0 + 2.0 * (double)rtt / 1e6;
}

/* Round s->round drained: its figures, the policy's decision, and what
 * the hypervisor is told. */
static void
close_round(struct migdp_session *s, uint64_t now)
{
	struct migdp_round *r = &s->rounds[s->nrounds % MIGDP_SESSION_ROUNDS];
	enum migdp_conv_decision d;

	r->s = (struct migdp_round_stat){.round = s->round,
		.pages = migdp_sess_pages_done(s) - s->round_pages0,
		.wire_bytes = migdp_sess_wire_bytes(s) - s->round_wire0,
		.start_ns = s->round_start_ns, .end_ns = now};
	migdp_conv_set_link_hint(&s->conv, (double)atomic_load_explicit(
		&s->ctx->discovered_bps, memory_order_relaxed) / 8);
	migdp_conv_set_switchover_cost(&s->conv, switchover_cost_ms(s));
	d = migdp_conv_round_end(&s->conv, &r->s);
	r->dirty_rate_pps = s->conv.dirty_rate_pps;
	r->remaining_pages = s->conv.remaining_pages;
	r->decision = d;
	s->nrounds++;
	MIGDP_LOG(INFO, "%s", s->conv.why);
	if (migdp_session_event_hook != NULL)
		migdp_session_event_hook("ROUND", json_pack(
			"{s:s, s:i, s:I, s:I, s:f, s:f, s:s, s:s}", "vm", s->vm,
			"round", (int)r->s.round, "pages", (json_int_t)r->s.pages,
			"wire_bytes", (json_int_t)r->s.wire_bytes,
			"ms", (double)(now - r->s.start_ns) / 1e6,
			"expected_downtime_ms", s->conv.expected_downtime_ms,
			"decision", migdp_conv_decision_name(d), "why", s->conv.why));
	migdp_sess_event(s, MIGDP_EV_ROUND_DRAINED, s->conv.why);
	switch (d) {
	case MIGDP_CONV_THROTTLE:
		s->throttle_pct = s->conv.throttle_pct;
		migdp_sess_hv_event(s, MIGSHIM_EV_THROTTLE, s->throttle_pct, s->round + 1,
				    "auto-converge");
		__attribute__((fallthrough)); /* and the next round */
	case MIGDP_CONV_NEXT_ROUND:
		round_begin(s, s->round + 1, now);
		migdp_sess_hv_event(s, MIGSHIM_EV_ROUND, 0, s->round, NULL);
		break;
	case MIGDP_CONV_SWITCHOVER:
		migdp_sess_event(s, MIGDP_EV_CONVERGED, s->conv.why);
		s->pause_round = s->round + 1;
		s->pause_ns = now;
		round_begin(s, s->pause_round, now);
		migdp_sess_hv_event(s, MIGSHIM_EV_PAUSE, 0, s->pause_round, NULL);
		break;
	case MIGDP_CONV_FAIL:
	default:
		migdp_sess_fail(s, "%s", s->conv.why);
		break;
	}
}

/* Every channel sent its final round and had it acknowledged: the
 * commit begins. */
static void
begin_commit(struct migdp_session *s, uint64_t now)
{
	s->rep.transfer_ns = now - s->t_data;
	migdp_sess_progress(s, now, true);
	migdp_session_digest(s->ctx, s->rep.digest);
	migdp_commit_src_init(&s->csrc, now, COMMIT_PERIOD_NS,
			      (uint64_t)s->ctx->cfg->peer_timeout_ms * 1000000u);
	migdp_sess_event(s, MIGDP_EV_ROUND_DRAINED, "every channel's final frame acknowledged");
}

/* Anything moved lately? Pages sent or markers taken; else the watchdog
 * fails the session, saying what it saw. */
static bool
watchdog(struct migdp_session *s, uint64_t now)
{
	struct migshim_session_stats st;
	uint64_t pages = migdp_sess_pages_done(s), marked = 0, refused = 0;
	unsigned i;

	for (i = 0; i < s->ctx->nch; i++) /* taken, sent or acknowledged */
		marked += atomic_load_explicit(&s->ctx->chans[i]->round_marked,
					       memory_order_relaxed) +
			  atomic_load_explicit(&s->ctx->chans[i]->acked_bytes,
					       memory_order_relaxed);
	if (pages != s->moved_pages || marked != s->moved_marked) {
		s->moved_pages = pages;
		s->moved_marked = marked;
		s->moved_ns = now;
		return true;
	}
	if (now - s->moved_ns < (uint64_t)s->ctx->cfg->watchdog_ms * 1000000u)
		return true;
	/* A silent peer holds the pages back: its timeout says so, not us. */
	if (now - atomic_load_explicit(&s->ctx->last_heard_ns, memory_order_relaxed) >
	    2ull * s->ctx->cfg->keepalive_ms * 1000000u)
		return true;
	migshim_session_stats(s->ctx->shim, &st);
	for (i = 0; i < MIGSHIM_BAD_MAX; i++)
		refused += st.bad[i];
	migdp_sess_fail(s, "no progress for %u ms in %s round %u: the hypervisor sent "
			"nothing (%llu descriptors refused, %llu corrupt ring heads)",
			s->ctx->cfg->watchdog_ms, migdp_state_name(s->fsm.state), s->round,
			(unsigned long long)refused, (unsigned long long)st.ring_corrupt);
	return false;
}

/* Pre-copy, switchover, device state: the pages move. */
static void
transfer(struct migdp_session *s, uint64_t now)
{
	bool all_done = migdp_sess_channels_in(s, MIGDP_CHAN_DONE) == s->ctx->nch;

	if (migdp_sess_peer_dead(s, now)) {
		migdp_sess_fail(s, "peer silent for more than peer_timeout_ms");
		return;
	}
	if (migshim_session_peer_gone(s->ctx->shim)) {
		migdp_sess_fail(s, "the hypervisor went away");
		return;
	}
	migdp_sess_keepalive(s, now);
	migdp_sess_progress(s, now, false);
	migdp_sess_rate_sample(s, now);
	if (!all_done && !watchdog(s, now))
		return;
	switch (s->fsm.state) {
	case MIGDP_ST_PRECOPY:
		if (all_done) {
			/* The hypervisor marked a round final by itself: a guest
			 * that does not run (a memory image) needs no pre-copy. */
			s->pause_ns = now;
			migdp_sess_event(s, MIGDP_EV_CONVERGED,
					 "the hypervisor marked the round final");
			migdp_sess_event(s, MIGDP_EV_ROUND_DRAINED, "final round");
			s->final_pass_ns = s->device_state_ns = now;
			begin_commit(s, now);
		} else if (rounds_done(s, false) >= s->round) {
			close_round(s, now);
		}
		break;
	case MIGDP_ST_SWITCHOVER:
		/* The device state follows the final dirty pass in the same
		 * rings: the pass ends when its last page is in a frame. */
		if (all_done || rounds_done(s, true) >= s->pause_round) {
			s->final_pass_ns = now;
			migdp_sess_event(s, MIGDP_EV_ROUND_DRAINED, "final dirty pass sent");
		}
		if (!all_done)
			break;
		__attribute__((fallthrough));
	case MIGDP_ST_DEVICE_STATE:
		if (all_done) {
			s->device_state_ns = now;
			begin_commit(s, now);
		}
		break;
	default:
		break;
	}
}

/* Carry out what the commit object asks for. */
static void
commit_actions(struct migdp_session *s, unsigned acts, uint64_t now)
{
	struct migdp_msg m = {.type = MIGDP_T_COMMIT};

	m.u.commit.guest_bytes = s->rep.guest_bytes;
	memcpy(m.u.commit.digest, s->rep.digest, MIGDP_DIGEST_LEN);
	if (acts & MIGDP_CA_SEND_COMMIT_REQ)
		migdp_sess_send(s, &m);
	if (acts & MIGDP_CA_SEND_GO) {
		m.u.commit.flags = MIGDP_COMMIT_GO;
		migdp_sess_send(s, &m);
		if (!s->fsm.go) {
			s->go_ns = now;
			migdp_sess_event(s, MIGDP_EV_GO, "the VM is the destination's now");
		}
	}
	if (!(acts & MIGDP_CA_DONE))
		return;
	switch (migdp_commit_src_result(&s->csrc)) {
	case MIGDP_CR_COMMITTED:
		s->confirm_ns = now;
		s->rep.total_ns = now - s->start_ns;
		migdp_sess_event(s, MIGDP_EV_CONFIRMED, "the destination runs the VM");
		migdp_sess_hv_event(s, MIGSHIM_EV_COMPLETED, 1, s->rep.guest_bytes, NULL);
		break;
	case MIGDP_CR_UNKNOWN:
		s->rep.total_ns = now - s->start_ns;
		migdp_sess_fail(s, "outcome unknown, VM handed over: no confirmation after go");
		migdp_sess_hv_event(s, MIGSHIM_EV_COMPLETED, 0, s->rep.guest_bytes,
				    "outcome unknown, VM handed over");
		break;
	case MIGDP_CR_FAILED:
		migdp_sess_fail(s, "destination memory digest differs from the source");
		break;
	default:
		break;
	}
}

static void
commit(struct migdp_session *s, uint64_t now)
{
	unsigned acts;

	if (!s->fsm.go && migdp_sess_peer_dead(s, now)) {
		migdp_sess_fail(s, "peer silent during commit");
		return;
	}
	migdp_sess_keepalive(s, now);
	acts = migdp_commit_src_tick(&s->csrc, now);
	if (s->got_commit) {
		uint32_t fl = s->commit.u.commit.flags;

		s->got_commit = false;
		if (fl & MIGDP_COMMIT_READY) {
			s->rep.verified = (fl & MIGDP_COMMIT_VERIFIED) != 0;
			acts |= migdp_commit_src_on_ready(&s->csrc, s->rep.verified, now);
		}
		if (fl & MIGDP_COMMIT_CONFIRM)
			acts |= migdp_commit_src_on_confirm(&s->csrc, now);
	}
	commit_actions(s, acts, now);
}

bool
migdp_sess_src_step(struct migdp_session *s, uint64_t now)
{
	switch (s->fsm.state) {
	case MIGDP_ST_SETUP:
		break;
	case MIGDP_ST_HANDSHAKE:
		handshake(s, now);
		break;
	case MIGDP_ST_PRECOPY:
	case MIGDP_ST_SWITCHOVER:
	case MIGDP_ST_DEVICE_STATE:
		transfer(s, now);
		break;
	case MIGDP_ST_COMMIT:
		commit(s, now);
		break;
	case MIGDP_ST_STREAMING:
		migdp_sess_stream_step(s, now);
		break;
	default:
		return false;
	}
	return !migdp_fsm_terminal(&s->fsm);
}
