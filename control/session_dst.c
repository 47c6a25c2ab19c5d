/* SPDX-License-Identifier: BSD-3-Clause */
/* Destination session, one step per call: a HELLO that matches our guest
 * memory is accepted and the channels receive; the source's commit
 * request is answered with our verdict once every channel is complete
 * (READY), and only its GO resumes the VM here (then CONFIRM). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "session.h"

#define HANDSHAKE_PERIOD_NS 200000000ull
#define LINGER_NS 300000000ull

/* Does the source's HELLO describe our guest memory? NULL when it does. */
static const char *
check_hello(const struct migdp_session *s, const struct migdp_hello *h,
	    enum migdp_reason *why, char *buf, size_t len)
{
	struct migshim_region_info ri;
	unsigned i;

	*why = MIGDP_R_VERSION;
	if (s->hello.version != MIGDP_WIRE_VERSION || h->proto_version < MIGDP_WIRE_VERSION) {
		snprintf(buf, len, "source speaks wire version %u, this migdp %u",
			 s->hello.version != MIGDP_WIRE_VERSION ? s->hello.version :
			 h->proto_version, MIGDP_WIRE_VERSION);
		return buf;
	}
	if (h->proto_version != MIGDP_WIRE_VERSION)
		return "protocol version mismatch";
	*why = MIGDP_R_AUTH;
	if ((h->sec_flags & MIGDP_SEC_AUTH) && !migdp_sess_authenticated(s))
		return "the source authenticates: this host has no key ([security] key_file)";
	*why = MIGDP_R_PAGE_SIZE;
	if (h->page_size != MIGDP_PAGE_SIZE)
		return "page size mismatch";
	*why = MIGDP_R_LAYOUT;
	if ((h->kind == MIGDP_HELLO_STREAM) != s->stream)
		return s->stream ? "the source sends guest pages; this is a stream session" :
				   "the source sends a stream; this is a guest-page session";
	*why = MIGDP_R_CHANNELS;
	if (s->stream && h->nchannels != s->ctx->nch)
		return "channel count mismatch";
	*why = MIGDP_R_LAYOUT;
	if (s->stream)
		return h->nregions == 0 && h->block_pages == 0 ? NULL :
			"a stream HELLO with guest memory regions";
	*why = MIGDP_R_LAYOUT;
	if (h->block_pages == 0)
		return "no partition block in HELLO";
	*why = MIGDP_R_CHANNELS;
	if (h->nchannels != s->ctx->nch)
		return "channel count mismatch";
	*why = MIGDP_R_LAYOUT;
	if (h->nregions != migshim_session_nregions(s->ctx->shim))
		return "region count differs";
	for (i = 0; i < h->nregions; i++) {
		migshim_session_region(s->ctx->shim, i, &ri);
		if (ri.gpa != h->regions[i].gpa || ri.size != h->regions[i].size)
			return "region address or size differs";
	}
	return NULL;
}

static void
send_accept(struct migdp_session *s)
{
	const struct migdp_config *cfg = s->ctx->cfg;
	struct migdp_msg accept = {.type = MIGDP_T_ACCEPT};

	accept.u.accept.proto_version = MIGDP_WIRE_VERSION;
	accept.u.accept.nchannels = s->ctx->nch;
	accept.u.accept.page_size = MIGDP_PAGE_SIZE;
	accept.u.accept.window = cfg->channels.window;
	accept.u.accept.mtu = (uint16_t)cfg->port.mtu;
	accept.u.accept.sec_flags = s->sec_flags;
	memcpy(accept.u.accept.nonce, s->ctx->nonce_d, MIGDP_NONCE_LEN);
	migdp_sess_send(s, &accept);
}

/* A REJECT, repeated for a while to HELLOs repeated because it was lost;
 * then the session fails with the reason. */
static void
rejecting(struct migdp_session *s, uint64_t now)
{
	if (s->got_hello) {
		s->got_hello = false;
		migdp_sess_send_reason(s, MIGDP_T_REJECT, s->reject_why, s->rep.reason);
	}
	if (now > s->linger_until_ns)
		migdp_sess_fail(s, "rejected the source: %s", s->rep.reason);
}

static void
handshake(struct migdp_session *s, uint64_t now)
{
	struct migdp_ctx *ctx = s->ctx;
	enum migdp_reason why;
	char buf[96];
	const char *bad;
	unsigned i;

	if (s->linger_until_ns != 0) {
		rejecting(s, now);
		return;
	}
	if (now > s->deadline_ns) {
		if (s->auth_note[0] != '\0')
			migdp_sess_fail(s, "no authenticated source came (%u refused; %s)",
					s->auth_refusals, s->auth_note);
		else
			migdp_sess_fail(s, "no source came");
		return;
	}
	if (!s->got_hello) {
		if (s->tentative && s->proven)
			goto commit;
		return;
	}
	s->got_hello = false;
	bad = check_hello(s, &s->hello.u.hello, &why, buf, sizeof(buf));
	/* Answer to where it came from. */
	rte_ether_addr_copy(&s->hello_mac, &ctx->ctl_flow.dst_mac);
	ctx->ctl_flow.session = ctx->ctl_loc.session == 0 ? s->hello_session :
							     ctx->ctl_loc.session;
	if (bad != NULL) {
		MIGDP_LOG(ERR, "rejecting session: %s", bad);
		snprintf(s->rep.reason, sizeof(s->rep.reason), "%s", bad);
		s->reject_why = why;
		migdp_sess_send_reason(s, MIGDP_T_REJECT, why, bad);
		s->linger_until_ns = now + 3 * HANDSHAKE_PERIOD_NS;
		return;
	}
	if (migdp_sess_authenticated(s)) {
		/* Encryption if either side asks for it. */
		uint8_t flags = MIGDP_SEC_AUTH | (s->hello.u.hello.sec_flags & MIGDP_SEC_ENCRYPT) |
				(ctx->encrypt ? MIGDP_SEC_ENCRYPT : 0);

		if (!s->tentative || s->tentative_id != s->hello_session ||
		    memcmp(s->tentative_hello.u.hello.nonce, s->hello.u.hello.nonce,
			   MIGDP_NONCE_LEN) != 0) {
			/* A new HELLO (or a newer one while the last was not
			 * proven): fresh keys, nothing committed yet. */
			migdp_sess_sec_stop(s);
			if (migdp_sec_random(ctx->nonce_d, sizeof(ctx->nonce_d)) != 0) {
				migdp_sess_fail(s, "no random bytes for the handshake");
				return;
			}
			if (migdp_sess_sec_start(s, flags) < 0)
				return;
			s->tentative = true;
			s->proven = false;
			s->tentative_id = s->hello_session;
			s->tentative_hello = s->hello;
			s->tentative_mac = s->hello_mac;
			s->tentative_ip = s->hello_ip;
		}
		if (!s->proven) {
			send_accept(s);
			return; /* committed once the source proves its keys */
		}
	}
commit:
	if (s->tentative) {
		struct migdp_msg ka = {.type = MIGDP_T_KEEPALIVE};

		s->tentative = false;
		/* The HELLO that was proven, whatever came since. */
		s->hello = s->tentative_hello;
		s->hello_mac = s->tentative_mac;
		s->hello_ip = s->tentative_ip;
		memcpy(ctx->nonce_s, s->hello.u.hello.nonce, MIGDP_NONCE_LEN);
		rte_ether_addr_copy(&s->hello_mac, &ctx->ctl_flow.dst_mac);
		ctx->ctl_flow.session = s->hello_session = s->tentative_id;
		migdp_sess_sec_committed(s);
		migdp_sess_send(s, &ka); /* the source's proof that we keyed too */
	}
	/* From now on only the source that said HELLO is heard. */
	ctx->ctl_loc.peer_ip = s->hello_ip;
	for (i = 0; i < ctx->nch; i++)
		ctx->chans[i]->loc.peer_ip = s->hello_ip;
	ctx->isn = s->hello.u.hello.isn;
	ctx->block_shift = s->stream ? 0 :
		(unsigned)__builtin_ctz(s->hello.u.hello.block_pages) + MIGDP_PAGE_SHIFT;
	ctx->ctl_loc.session = ctx->ctl_flow.session;
	for (i = 0; i < ctx->nch; i++) {
		struct migdp_chan *c = ctx->chans[i];
		struct migdp_rx_params rp = c->rx->p; /* init clears the struct */

		c->flow.session = c->loc.session = ctx->ctl_flow.session;
		rte_ether_addr_copy(&s->hello_mac, &c->flow.dst_mac);
		if (s->stream) /* both ways start at the HELLO's sequence */
			migdp_stream_chan_reset(c, ctx->isn);
		else
			migdp_rx_init(c->rx, &rp, ctx->isn);
	}
	/* What came before the HELLO we take is nobody's. */
	s->got_abort = s->got_commit = s->got_reject = false;
	migdp_sess_start_clocks(s);
	atomic_store(&ctx->last_heard_ns, s->start_ns);
	if (migdp_sess_launch(s) < 0)
		return;
	send_accept(s);
	s->t_data = migdp_now_ns();
	if (s->stream)
		migdp_sess_event(s, MIGDP_EV_STREAM_ACCEPTED, "the source's streams come");
	else
		migdp_sess_event(s, MIGDP_EV_ACCEPTED, "the source's memory layout matches");
}

static void
commit_actions(struct migdp_session *s, unsigned acts, uint64_t now)
{
	struct migdp_msg m = {.type = MIGDP_T_COMMIT};

	m.u.commit.guest_bytes = s->rep.guest_bytes;
	memcpy(m.u.commit.digest, s->rep.digest, MIGDP_DIGEST_LEN);
	if (acts & MIGDP_CA_SEND_READY) {
		m.u.commit.flags = MIGDP_COMMIT_READY |
				   (s->rep.verified ? MIGDP_COMMIT_VERIFIED : 0);
		migdp_sess_send(s, &m);
	}
	if ((acts & MIGDP_CA_RESUME_VM) && !s->resumed) {
		s->resumed = true;
		s->rep.total_ns = now - s->start_ns;
		migdp_sess_event(s, MIGDP_EV_GO, "the source let the VM go");
		migdp_sess_hv_event(s, MIGSHIM_EV_RESUME, s->rep.verified,
				    s->rep.guest_bytes, NULL);
	}
	if (acts & MIGDP_CA_SEND_CONFIRM) {
		m.u.commit.flags = MIGDP_COMMIT_CONFIRM |
				   (s->rep.verified ? MIGDP_COMMIT_VERIFIED : 0);
		migdp_sess_send(s, &m);
		s->linger_until_ns = now + LINGER_NS; /* for a GO whose CONFIRM is lost */
		if (s->fsm.state == MIGDP_ST_COMMIT)
			migdp_sess_event(s, MIGDP_EV_CONFIRMED, "the VM runs here");
	}
	if ((acts & MIGDP_CA_DONE) &&
	    migdp_commit_dst_result(&s->cdst) == MIGDP_CR_FAILED)
		migdp_sess_fail(s, "%s", s->rep.verified ?
				"the source never said go: the VM stays there" :
				"memory digest differs from the source's: discarded");
}

/* The source's COMMIT: a request, or GO. */
static unsigned
on_commit(struct migdp_session *s, uint64_t now)
{
	uint32_t fl = s->commit.u.commit.flags;
	bool have_all;

	s->got_commit = false;
	if (fl & MIGDP_COMMIT_GO)
		return s->fsm.state == MIGDP_ST_COMMIT || s->resumed ?
			migdp_commit_dst_on_go(&s->cdst, now) : 0;
	if (fl != 0)
		return 0;
	have_all = migdp_sess_channels_in(s, MIGDP_CHAN_DONE) == s->ctx->nch;
	if (s->fsm.state != MIGDP_ST_COMMIT) {
		if (!have_all)
			return 0; /* asked again until we have it all */
		s->rep.transfer_ns = now - s->t_data;
		migdp_session_digest(s->ctx, s->rep.digest);
		s->rep.verified = memcmp(s->rep.digest, s->commit.u.commit.digest,
					 MIGDP_DIGEST_LEN) == 0;
		migdp_commit_dst_init(&s->cdst, now,
				      (uint64_t)s->ctx->cfg->peer_timeout_ms * 1000000u);
		migdp_sess_event(s, MIGDP_EV_COMMIT_REQUEST, s->rep.verified ?
				 "every channel complete, digests equal" :
				 "every channel complete, digests differ");
	}
	if (s->o->hold_ready_ms != 0) { /* tests: a destination slow to answer */
		if (s->hold_until_ns == 0)
			s->hold_until_ns = now + (uint64_t)s->o->hold_ready_ms * 1000000u;
		if (now < s->hold_until_ns)
			return 0;
	}
	return migdp_commit_dst_on_request(&s->cdst, true, s->rep.verified, now);
}

bool
migdp_sess_dst_step(struct migdp_session *s, uint64_t now)
{
	unsigned acts = 0;

	switch (s->fsm.state) {
	case MIGDP_ST_SETUP:
		return true;
	case MIGDP_ST_HANDSHAKE:
		handshake(s, now);
		return true;
	case MIGDP_ST_COMPLETED:
		/* Answer a GO whose CONFIRM was lost, for a while. */
		if (s->got_commit)
			acts = on_commit(s, now);
		commit_actions(s, acts, now);
		return now < s->linger_until_ns;
	case MIGDP_ST_CANCELLED:
	case MIGDP_ST_FAILED:
		return false;
	default:
		break;
	}
	if (s->got_hello) { /* our ACCEPT was lost */
		s->got_hello = false;
		send_accept(s);
	}
	if (s->fsm.state == MIGDP_ST_STREAMING) {
		migdp_sess_stream_step(s, now);
		return true;
	}
	if (!s->resumed && migdp_sess_peer_dead(s, now)) {
		migdp_sess_fail(s, "source silent for more than peer_timeout_ms");
		return true;
	}
	if (migshim_session_peer_gone(s->ctx->shim)) {
		migdp_sess_fail(s, "the hypervisor went away");
		return true;
	}
	migdp_sess_keepalive(s, now);
	migdp_sess_progress(s, now, false);
	if (s->got_commit)
		acts |= on_commit(s, now);
	if (s->fsm.state == MIGDP_ST_COMMIT)
		acts |= migdp_commit_dst_tick(&s->cdst, now);
	commit_actions(s, acts, now);
	return true;
}
