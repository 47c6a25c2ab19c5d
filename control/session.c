/* SPDX-License-Identifier: BSD-3-Clause */
/* What both roles' sessions share: frames to and from the peer on the
 * control flow, liveness, the dictionary, launching the channels, the
 * transitions of the state machine and the hypervisor's events, the end.
 * The roles' steps are session_src.c and session_dst.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/resource.h>

#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "log.h"
#include "numa.h"
#include "session.h"
#include "worker.h"

void (*migdp_session_event_hook)(const char *name, json_t *data);

static void sample(struct migdp_session *s, uint64_t now);

static void
publish(const char *name, json_t *data)
{
	if (migdp_session_event_hook != NULL)
		migdp_session_event_hook(name, data);
	else
		json_decref(data);
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

double
migdp_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

void
migdp_sess_send(struct migdp_session *s, const struct migdp_msg *m)
{
	struct migdp_msg msg = *m;

	msg.tstamp = migdp_tstamp(migdp_now_ns());
	migdp_send_msg(s->ctx, 0, &s->ctx->ctl_flow, &msg, &s->ftx, &s->st);
}

/* A REJECT goes out in the framing of the HELLO it answers, so that a
 * peer of an older wire version understands why. */
void
migdp_sess_send_reason(struct migdp_session *s, uint8_t type, enum migdp_reason r,
		       const char *text)
{
	struct migdp_msg m = {.type = type};

	if (type == MIGDP_T_REJECT && s->hello.type == MIGDP_T_HELLO)
		m.version = s->hello.version;
	m.u.reason.reason = (uint16_t)r;
	snprintf(m.u.reason.text, sizeof(m.u.reason.text), "%.*s",
		 (int)sizeof(m.u.reason.text) - 1, text);
	migdp_sess_send(s, &m);
}

/* A frame for the control lcore: note what came; the role's step acts. */
static void
on_frame(struct migdp_session *s, const struct migdp_frame *f)
{
	if (migdp_sec_handshake_type(f->msg.type) && !migdp_sess_hs_check(s, f))
		return;
	switch (f->msg.type) {
	case MIGDP_T_HELLO:
		s->got_hello = true;
		s->hello = f->msg;
		s->hello_mac = f->src_mac;
		s->hello_session = f->session;
		s->hello_ip = f->src_ip;
		return;
	case MIGDP_T_ACCEPT:
		s->got_accept = true;
		s->accept = f->msg.u.accept;
		return;
	case MIGDP_T_REJECT:
		s->got_reject = true;
		s->reason = f->msg;
		return;
	case MIGDP_T_ABORT:
		s->got_abort = true;
		s->reason = f->msg;
		return;
	case MIGDP_T_COMMIT:
		s->got_commit = true;
		s->commit = f->msg;
		return;
	case MIGDP_T_KEEPALIVE: /* after the handshake: proof of the keys */
		if (s->ctx->sec != NULL) {
			if (s->source)
				s->peer_confirmed = true;
			else if (s->tentative && f->session == s->tentative_id)
				s->proven = true;
		}
		return;
	case MIGDP_T_DICT:
		if (f->msg.u.dict.len > 0)
			migdp_sess_dict_input(s, &f->msg.u.dict);
		else if (f->msg.u.dict.offset > s->dict.done)
			s->dict.done = f->msg.u.dict.offset;
		return;
	default: /* DATA, ACK, FIN belong to channels: a bad port here */
		s->st.drops[MIGDP_DROP_WRONG_DST]++;
		return;
	}
}

/* A frame for this session's control, routed here by the daemon (its
 * session id, or a HELLO for its VM): parsed and noted. */
void
migdp_session_input(struct migdp_session *s, struct rte_mbuf *m)
{
	struct migdp_frame f;

	if (migdp_rx_parse(s->ctx, m, &s->ctx->ctl_loc, s->scratch, &f, &s->st))
		on_frame(s, &f);
	s->st.rx_frames++;
	rte_pktmbuf_free(m);
}

unsigned (*migdp_session_rx_hook)(void);

/* Frames for the control lcore come through the daemon, which hands each
 * to its session (while a session blocks, it pumps them itself). */
unsigned
migdp_sess_poll(struct migdp_session *s)
{
	RTE_SET_USED(s);
	return migdp_session_rx_hook != NULL ? migdp_session_rx_hook() : 0;
}

bool
migdp_sess_peer_dead(const struct migdp_session *s, uint64_t now)
{
	uint64_t heard = atomic_load_explicit(&s->ctx->last_heard_ns,
					      memory_order_relaxed);

	return now > heard &&
	       now - heard > (uint64_t)s->ctx->cfg->peer_timeout_ms * 1000000u;
}

void
migdp_sess_keepalive(struct migdp_session *s, uint64_t now)
{
	struct migdp_msg m = {.type = MIGDP_T_KEEPALIVE};

	if (now - s->last_keepalive_ns < (uint64_t)s->ctx->cfg->keepalive_ms * 1000000u)
		return;
	s->last_keepalive_ns = now;
	migdp_sess_send(s, &m);
}

uint64_t
migdp_sess_pages_done(const struct migdp_session *s)
{
	uint64_t pages = 0;
	unsigned i;

	for (i = 0; i < s->ctx->nch; i++)
		pages += atomic_load_explicit(&s->ctx->chans[i]->pages_done,
					      memory_order_relaxed);
	return pages;
}

uint64_t
migdp_sess_wire_bytes(const struct migdp_session *s)
{
	uint64_t bytes = 0;
	unsigned i;

	for (i = 0; i < s->ctx->nch; i++)
		bytes += atomic_load_explicit(&s->ctx->chans[i]->wire_bytes,
					      memory_order_relaxed);
	return bytes;
}

/* The rate the session's path delivered: bytes the peer acknowledged, all
 * channels together, per 100 ms window (long against a shaper's usual 1 ms
 * bucket and against ACKs bunched by a descheduled lcore: measured +38%
 * with 10 ms windows on a 500 Mb/s tbf), the best window after the first
 * 100 ms (startup). Reported as the discovered rate; each channel's own
 * model is in cc.h. */
void
migdp_sess_rate_sample(struct migdp_session *s, uint64_t now)
{
	uint64_t acked = 0, rate;
	unsigned i;

	if (now - s->rate_ns < 100000000ull)
		return;
	for (i = 0; i < s->ctx->nch; i++)
		acked += atomic_load_explicit(&s->ctx->chans[i]->acked_bytes,
					      memory_order_relaxed);
	if (s->rate_ns != 0 && now - s->rate_start_ns > 100000000ull) {
		rate = (uint64_t)((double)(acked - s->rate_acked) * 8e9 /
				  (double)(now - s->rate_ns));
		s->rep.discovered_bps = RTE_MAX(s->rep.discovered_bps, rate);
		atomic_store_explicit(&s->ctx->discovered_bps, s->rep.discovered_bps,
				      memory_order_relaxed);
	}
	if (s->rate_ns == 0)
		s->rate_start_ns = now;
	s->rate_ns = now;
	s->rate_acked = acked;
}

/* A progress line once a second, and at once when @p force. */
void
migdp_sess_progress(struct migdp_session *s, uint64_t now, bool force)
{
	uint64_t pages, retx = 0;
	double dt;
	unsigned i;

	if (!s->o->progress || (!force && now - s->last_progress_ns < 1000000000ull))
		return;
	pages = migdp_sess_pages_done(s);
	for (i = 0; i < s->ctx->nch; i++)
		retx += atomic_load_explicit(&s->ctx->chans[i]->retx, memory_order_relaxed);
	dt = RTE_MAX((double)(now - s->last_progress_ns) * 1e-9, 1e-6);
	fprintf(stderr, "progress: %s %s round %u pages %llu/%llu (%.1f%%) wire %.1f MiB "
		"rate %.2f Gb/s retransmits %llu\n",
		migdp_role_name(s->ctx->cfg->role), migdp_state_name(s->fsm.state),
		s->fsm.round, (unsigned long long)pages,
		(unsigned long long)s->rep.pages_total,
		s->rep.pages_total ? 100.0 * (double)pages / (double)s->rep.pages_total : 0,
		(double)migdp_sess_wire_bytes(s) / (1 << 20),
		dt < 0.01 ? 0.0 :
		(double)(pages - s->last_pages) * MIGDP_PAGE_SIZE * 8 / dt / 1e9,
		(unsigned long long)retx);
	s->last_pages = pages;
	s->last_progress_ns = now;
}

unsigned
migdp_sess_channels_in(const struct migdp_session *s, int state)
{
	unsigned i, n = 0;

	for (i = 0; i < s->ctx->nch; i++)
		n += atomic_load(&s->ctx->chans[i]->state) == state;
	return n;
}

/* The session's channels join the workers (the channel lcores every
 * session shares). */
int
migdp_sess_launch(struct migdp_session *s)
{
	int ret = migdp_workers_attach(s->ctx->workers, s->ctx);

	s->launched = true; /* those attached must be detached */
	if (ret < 0) {
		migdp_sess_fail(s, "cannot attach the channels to their lcores: %s",
				strerror(-ret));
		return -1;
	}
	return 0;
}

/* The migration starts: the source before its HELLO, the destination on
 * the HELLO it accepts. Time and CPU are counted from here. */
void
migdp_sess_start_clocks(struct migdp_session *s)
{
	s->start_ns = migdp_now_ns();
	s->rep.cpu_start_s = migdp_cpu_s();
}

/* State changes go through here: logged, and published as an event. */
void
migdp_sess_event(struct migdp_session *s, enum migdp_event ev, const char *reason)
{
	enum migdp_state from = s->fsm.state;

	if (migdp_fsm_event(&s->fsm, ev, reason, migdp_now_ns()) < 0) {
		MIGDP_LOG(WARNING, "session: %s", s->fsm.last_error);
		return;
	}
	MIGDP_LOG(INFO, "session %s: %s -> %s (%s)%s%s", s->vm, migdp_state_name(from),
		  migdp_state_name(s->fsm.state), migdp_event_name(ev),
		  reason != NULL && reason[0] != '\0' ? ": " : "",
		  reason != NULL ? reason : "");
	publish("STATE", json_pack("{s:s, s:s, s:s, s:s, s:i, s:s}", "vm", s->vm,
				    "from", migdp_state_name(from),
				    "to", migdp_state_name(s->fsm.state),
				    "event", migdp_event_name(ev), "round", (int)s->fsm.round,
				    "reason", reason != NULL ? reason : ""));
}

void
migdp_sess_hv_event(struct migdp_session *s, uint32_t type, uint32_t value,
		    uint64_t arg, const char *reason)
{
	struct migshim_event ev = {.type = type, .value = value, .arg = arg};

	if (s->ctx->shim == NULL) /* a stream session: the hypervisor has its own */
		return;
	if (reason != NULL)
		snprintf(ev.reason, sizeof(ev.reason), "%.*s", (int)sizeof(ev.reason) - 1,
			 reason);
	if (migshim_session_send_event(s->ctx->shim, &ev) < 0)
		MIGDP_LOG(WARNING, "cannot tell the hypervisor %s: event ring full",
			  migshim_event_name(type));
}

/* Fail the session with a reason: before "go" the VM stays (or resumes) at
 * the source and nothing is committed at the destination; after it, the
 * source reports that the VM was handed over unconfirmed. */
void
migdp_sess_fail(struct migdp_session *s, const char *fmt, ...)
{
	char why[sizeof(s->rep.reason)];
	va_list ap;
	int i;

	if (migdp_fsm_terminal(&s->fsm))
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(s->rep.reason, sizeof(s->rep.reason), "%s", why);
	MIGDP_LOG(ERR, "migration %s: %s", s->fsm.go ? "outcome unknown" : "failed", why);
	migdp_sess_event(s, MIGDP_EV_FAIL, why);
	if (s->fsm.go)
		return; /* the VM is the destination's: nobody resumes it here */
	if (s->throttle_pct > 0) /* the VM runs on at full speed */
		migdp_sess_hv_event(s, MIGSHIM_EV_THROTTLE, 0, 0, "migration failed");
	migdp_sess_hv_event(s, MIGSHIM_EV_FAILED, EPROTO, 0, why);
	if (s->got_abort)
		return;
	for (i = 0; i < 3; i++) /* tell the peer, best effort */
		migdp_sess_send_reason(s, MIGDP_T_ABORT, MIGDP_R_CANCELLED, why);
}

int
migdp_session_cancel(struct migdp_session *s, const char *why, char *err, size_t errlen)
{
	const char *bad = migdp_fsm_check_command(&s->fsm, MIGDP_CMD_CANCEL, err, errlen);
	int i;

	if (bad != NULL)
		return -EPERM;
	/* A destination that said READY is in doubt: the source may have let
	 * the VM go already. GO or its timeout ends it. */
	if (!s->source && s->fsm.state == MIGDP_ST_COMMIT && s->cdst.phase == MIGDP_CD_READY) {
		snprintf(err, errlen, "migrate-cancel refused: READY was sent, the source may "
			 "have let the VM go (GO or its timeout ends the commit)");
		return -EPERM;
	}
	snprintf(s->rep.reason, sizeof(s->rep.reason), "%s", why);
	migdp_sess_event(s, MIGDP_EV_CANCEL, why);
	if (s->throttle_pct > 0)
		migdp_sess_hv_event(s, MIGSHIM_EV_THROTTLE, 0, 0, "migration cancelled");
	migdp_sess_hv_event(s, MIGSHIM_EV_FAILED, ECANCELED, 0, why);
	for (i = 0; i < 3; i++)
		migdp_sess_send_reason(s, MIGDP_T_ABORT, MIGDP_R_CANCELLED, why);
	return 0;
}

void
migdp_session_init(struct migdp_session *s, struct migdp_ctx *ctx,
		   const struct migdp_run_opts *o)
{
	const struct migdp_config *cfg = ctx->cfg;
	const struct migdp_fault_conf *fc = &cfg->fault;
	const struct migdp_migration_conf *mc = &cfg->migration;
	struct migshim_region_info ri;
	unsigned i;

	memset(s, 0, sizeof(*s));
	s->ctx = ctx;
	s->o = o;
	s->source = cfg->role == MIGDP_ROLE_SOURCE;
	s->listen_fd = -1;
	for (i = 0; i < MIGDP_MAX_CHANNELS; i++)
		s->conn_fd[i] = -1;
	snprintf(s->vm, sizeof(s->vm), "%s", ctx->shim == NULL ? "stream" :
		 migshim_session_name(ctx->shim)[0] ? migshim_session_name(ctx->shim) : "vm");
	for (i = 0; ctx->shim != NULL && migshim_session_region(ctx->shim, i, &ri) == 0; i++) {
		int mixed;

		s->region_node[i] = migdp_numa_node_of(ri.hva, ri.size, &mixed);
		s->region_mixed[i] = mixed != 0;
		s->rep.guest_bytes += ri.size;
		if (ri.flags & MIGSHIM_REGION_DEVICE_STATE) {
			s->device_state = true;
			s->device_state_bytes = ri.size;
		}
	}
	s->rep.pages_total = s->rep.guest_bytes / MIGDP_PAGE_SIZE;
	s->scratch = rte_malloc(NULL, MIGDP_MAX_FRAME + 64, 64);
	migdp_fault_init(&s->ftx, fc->tx_drop, fc->tx_dup, fc->tx_reorder,
			 fc->tx_corrupt, fc->seed * 131 + 1000, ctx->port.pool);
	migdp_fault_init(&s->frx, fc->rx_drop, fc->rx_dup, fc->rx_reorder,
			 fc->rx_corrupt, fc->seed * 131 + 1001, ctx->port.pool);
	if (!rte_is_zero_ether_addr(&cfg->peer.mac)) {
		s->peer_mac = cfg->peer.mac;
		s->peer_mac_known = true;
	}
	migdp_conv_params_default(&s->params);
	s->params.downtime_limit_ms = mc->downtime_limit_ms;
	s->params.max_bandwidth_bps = mc->max_bandwidth;
	s->params.max_rounds = mc->max_rounds;
	s->params.auto_converge = mc->auto_converge != 0;
	s->params.throttle_initial_pct = mc->throttle_initial;
	s->params.throttle_step_pct = mc->throttle_step;
	s->params.throttle_max_pct = mc->throttle_max;
	migdp_session_apply_params(s);
	s->created_ns = s->last_progress_ns = s->moved_ns = migdp_now_ns();
	s->sample_period_ns = 20000000ull;
	atomic_store(&ctx->last_heard_ns, s->created_ns);
	migdp_fsm_init(&s->fsm, s->source, s->created_ns);
}

void
migdp_session_apply_params(struct migdp_session *s)
{
	s->conv.p = s->params;
	atomic_store_explicit(&s->ctx->rate_limit_bps, s->params.max_bandwidth_bps,
			      memory_order_relaxed);
}

void
migdp_session_start(struct migdp_session *s)
{
	migdp_sess_event(s, MIGDP_EV_START, s->source ? "migrate" : "migrate-incoming");
	s->deadline_ns = migdp_now_ns() + (s->source ?
		RTE_MAX(10000ull, (uint64_t)s->ctx->cfg->peer_timeout_ms) :
		(uint64_t)s->o->wait_ms) * 1000000u;
}

/* Sum the counters of every lcore into the report. */
static void
sum_stats(struct migdp_session *s)
{
	struct migdp_lstats *t = &s->rep.sum;
	unsigned i, d;

	*t = s->st;
	t->ftx = s->ftx.st;
	t->frx = s->frx.st;
	for (i = 0; i < s->ctx->nch; i++) {
		const struct migdp_lstats *c = &s->ctx->chans[i]->st;

		t->rx_frames += c->rx_frames;
		t->tx_frames += c->tx_frames;
		t->tx_bytes += c->tx_bytes;
		t->tx_dropped += c->tx_dropped;
		t->retransmits += c->retransmits;
		t->pages_zero += c->pages_zero;
		t->pages_raw += c->pages_raw;
		t->pages_frag += c->pages_frag;
		t->pages_zstd += c->pages_zstd;
		t->zstd_bytes += c->zstd_bytes;
		t->zstd_records += c->zstd_records;
		t->pages_zstd_frag += c->pages_zstd_frag;
		t->pages_zero_skipped += c->pages_zero_skipped;
		t->pages_stale += c->pages_stale;
		t->misrouted += c->misrouted;
		t->zc_fallback += c->zc_fallback;
		t->rx_new += c->rx_new;
		t->rx_dup += c->rx_dup;
		for (d = 0; d < MIGDP_DROP_MAX; d++)
			t->drops[d] += c->drops[d];
		t->ftx.dropped += c->ftx.dropped;
		t->ftx.duplicated += c->ftx.duplicated;
		t->ftx.reordered += c->ftx.reordered;
		t->ftx.corrupted += c->ftx.corrupted;
		t->frx.dropped += c->frx.dropped;
		t->frx.duplicated += c->frx.duplicated;
		t->frx.reordered += c->frx.reordered;
		t->frx.corrupted += c->frx.corrupted;
	}
}

/* Zero-copy frames the NIC has not freed yet reference guest memory and
 * each channel's shared info: ask the port to clean up its transmit rings
 * and wait (a second at most) until no segment is left. */
static bool
zero_copy_released(const struct migdp_session *s)
{
	uint64_t until = migdp_now_ns() + 1000000000ull;
	unsigned i;

	for (i = 0; i < s->ctx->nch; i++) /* no lcore runs them now */
		migdp_chan_release_kept(s->ctx->chans[i]);
	for (;;) {
		bool held = false;

		for (i = 0; i < s->ctx->nch; i++) {
			struct migdp_chan *c = s->ctx->chans[i];

			if (rte_mbuf_ext_refcnt_read(&c->shinfo) > 1) {
				held = true;
				rte_eth_tx_done_cleanup(s->ctx->port.id, c->queue, 0);
			}
		}
		if (!held)
			return true;
		if (migdp_now_ns() > until)
			return false;
		rte_delay_us_sleep(1000);
	}
}

/* The session ended: stop the channels, sum, report once. */
static void
end(struct migdp_session *s)
{
	unsigned i;

	if (s->launched && migdp_workers_detach(s->ctx->workers, s->ctx) < 0) {
		/* A channel still in a worker's hands must not be freed. */
		MIGDP_LOG(CRIT, "session %s: channels not released by their lcores", s->vm);
		s->leak = true;
	}
	if (!s->leak && s->launched && s->source && s->ctx->port.tx_zero_copy &&
	    !zero_copy_released(s)) {
		/* Frames still in the NIC's hands point into guest memory and
		 * at the channel's shared info: keep both. */
		MIGDP_LOG(CRIT, "session %s: the NIC holds zero-copy frames", s->vm);
		s->leak = true;
	}
	if (s->stream && !s->leak)
		migdp_sess_stream_close(s);
	else if (s->stream) /* an lcore may hold them: ended, not freed */
		for (i = 0; i < MIGDP_MAX_CHANNELS; i++)
			if (s->conn_fd[i] >= 0)
				shutdown(s->conn_fd[i], SHUT_RDWR);
	for (i = 0; i < s->ctx->nch; i++) { /* the lcores have stopped */
		migdp_codec_ctx_set_dict(s->ctx->chans[i]->codec, NULL);
		s->ctx->chans[i]->dict_in_use = NULL;
		atomic_store(&s->ctx->chans[i]->dict_request, NULL);
	}
	s->rep.completed = s->fsm.state == MIGDP_ST_COMPLETED;
	s->rep.cpu_end_s = migdp_cpu_s();
	s->rep.session = s->ctx->ctl_flow.session;
	if (s->rep.total_ns == 0 && s->start_ns != 0)
		s->rep.total_ns = migdp_now_ns() - s->start_ns;
	sum_stats(s);
	s->sampled_ns = 0;
	sample(s, migdp_now_ns());
	s->ended = true;
	publish("MIGRATION", json_pack("{s:s, s:s, s:s, s:b}", "vm", s->vm,
				       "state", migdp_state_name(s->fsm.state),
				       "reason", s->rep.reason, "verified", s->rep.verified));
}

/* A sample of the progress every period (20 ms at first); when the
 * table is full every other sample goes and the period doubles, so a
 * long migration keeps its whole shape. */
static void
sample(struct migdp_session *s, uint64_t now)
{
	struct migdp_sample *x;
	unsigned i;

	if (s->start_ns == 0 || now - s->sampled_ns < s->sample_period_ns)
		return;
	if (s->nsamples == MIGDP_SESSION_SAMPLES) {
		for (i = 0; i < MIGDP_SESSION_SAMPLES / 2; i++)
			s->samples[i] = s->samples[2 * i];
		s->nsamples = MIGDP_SESSION_SAMPLES / 2;
		s->sample_period_ns *= 2;
	}
	s->sampled_ns = now;
	x = &s->samples[s->nsamples++];
	x->t_ns = now - s->start_ns;
	x->pages = migdp_sess_pages_done(s);
	x->wire_bytes = migdp_sess_wire_bytes(s);
	x->remaining = s->fsm.round <= 1 ? (s->rep.pages_total > x->pages ?
					    s->rep.pages_total - x->pages : 0) :
		       s->conv.remaining_pages;
	x->dirty_rate_pps = s->conv.dirty_rate_pps;
	x->state = (uint16_t)s->fsm.state;
	x->round = (uint16_t)s->fsm.round;
}

bool
migdp_session_step(struct migdp_session *s)
{
	uint64_t now = migdp_now_ns();
	bool running;

	if (s->ended)
		return false;
	s->work = migdp_sess_poll(s);
	if (!migdp_fsm_terminal(&s->fsm)) {
		if (s->got_abort && !s->fsm.go) {
			migdp_sess_fail(s, "peer aborted: %s", s->reason.u.reason.text);
		} else if (s->got_abort && s->source) {
			/* Past go, yet the destination discarded: it never
			 * resumes after that, so the VM resumes here. */
			snprintf(s->rep.reason, sizeof(s->rep.reason),
				 "the destination discarded after go (%s): the VM runs on here",
				 s->reason.u.reason.text);
			migdp_sess_event(s, MIGDP_EV_DISCARDED, s->rep.reason);
			migdp_sess_hv_event(s, MIGSHIM_EV_FAILED, EPROTO, 0, s->rep.reason);
		} else if (migdp_sess_channels_in(s, MIGDP_CHAN_FAILED) > 0) {
			migdp_sess_fail(s, "a channel failed");
		}
	}
	sample(s, now);
	running = s->source ? migdp_sess_src_step(s, now) : migdp_sess_dst_step(s, now);
	if (!running)
		end(s);
	return running;
}

void
migdp_session_fini(struct migdp_session *s)
{
	migdp_dict_free(s->dict.dict);
	rte_free(s->dict.buf);
	rte_free(s->scratch);
	s->dict.dict = NULL;
	s->dict.buf = NULL;
	s->scratch = NULL;
}
