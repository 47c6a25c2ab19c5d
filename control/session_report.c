/* SPDX-License-Identifier: BSD-3-Clause */
/* A session as JSON: query-migrate while it runs (migdp_session_status)
 * and the final report, which is the status plus the totals of every
 * lcore's counters (migdp_session_report). docs/control-socket.md names
 * the fields. */
#include <stdio.h>
#include <string.h>

#include "session.h"

static double
ms_between(uint64_t a, uint64_t b)
{
	return a != 0 && b >= a ? (double)(b - a) / 1e6 : 0.0;
}

static json_t *
params_json(const struct migdp_conv_params *p)
{
	return json_pack("{s:i, s:I, s:i, s:b, s:i, s:i, s:i}",
			 "downtime-limit", (int)p->downtime_limit_ms,
			 "max-bandwidth", (json_int_t)p->max_bandwidth_bps,
			 "max-rounds", (int)p->max_rounds,
			 "auto-converge", p->auto_converge,
			 "throttle-initial", (int)p->throttle_initial_pct,
			 "throttle-step", (int)p->throttle_step_pct,
			 "throttle-max", (int)p->throttle_max_pct);
}

static json_t *
rounds_json(const struct migdp_session *s)
{
	json_t *a = json_array();
	unsigned i = s->nrounds > MIGDP_SESSION_ROUNDS ? s->nrounds - MIGDP_SESSION_ROUNDS : 0;

	for (; i < s->nrounds; i++) {
		const struct migdp_round *r = &s->rounds[i % MIGDP_SESSION_ROUNDS];
		double ms = ms_between(r->s.start_ns, r->s.end_ns);

		json_array_append_new(a, json_pack("{s:i, s:I, s:I, s:f, s:f, s:f, s:I, s:s}",
			"round", (int)r->s.round, "pages", (json_int_t)r->s.pages,
			"wire_bytes", (json_int_t)r->s.wire_bytes, "ms", ms,
			"bandwidth_bps", ms > 0 ? (double)r->s.wire_bytes * 8e3 / ms : 0.0,
			"dirty_rate_pps", r->dirty_rate_pps,
			"remaining_pages", (json_int_t)r->remaining_pages,
			"decision", migdp_conv_decision_name(r->decision)));
	}
	return a;
}

static json_t *
transitions_json(const struct migdp_session *s)
{
	const struct migdp_fsm *f = &s->fsm;
	json_t *a = json_array();
	unsigned i = f->nlog > MIGDP_FSM_LOG ? f->nlog - MIGDP_FSM_LOG : 0;

	for (; i < f->nlog; i++) {
		const struct migdp_fsm_transition *t = &f->log[i % MIGDP_FSM_LOG];

		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:i, s:f, s:s}",
			"from", migdp_state_name(t->from), "to", migdp_state_name(t->to),
			"event", migdp_event_name(t->ev), "round", (int)t->round,
			"ms", ms_between(s->created_ns, t->at_ns), "reason", t->reason));
	}
	return a;
}

static json_t *
channels_json(const struct migdp_session *s)
{
	static const char *const names[] = {"running", "done", "failed"};
	json_t *a = json_array();
	unsigned i;

	for (i = 0; i < s->ctx->nch; i++) {
		const struct migdp_chan *c = s->ctx->chans[i];
		int st = atomic_load(&c->state);

		json_array_append_new(a, json_pack("{s:i, s:I, s:I, s:I, s:I, s:s}",
			"id", (int)i,
			"pages", (json_int_t)atomic_load_explicit(&c->pages_done, memory_order_relaxed),
			"wire_bytes", (json_int_t)atomic_load_explicit(&c->wire_bytes, memory_order_relaxed),
			"retransmits", (json_int_t)atomic_load_explicit(&c->retx, memory_order_relaxed),
			"round_drained", (json_int_t)atomic_load_explicit(&c->round_drained,
									  memory_order_relaxed),
			"state", st >= 0 && st < 3 ? names[st] : "unknown"));
	}
	return a;
}

/* Downtime as the source sees it: PAUSE to GO plus half the GO-CONFIRM
 * round trip (GO's way to the destination, which resumes on it). */
static json_t *
downtime_json(const struct migdp_session *s, double *total)
{
	double half = s->confirm_ns > s->go_ns ? ms_between(s->go_ns, s->confirm_ns) / 2 : 0;

	*total = s->go_ns != 0 ? ms_between(s->pause_ns, s->go_ns) + half : -1;
	return json_pack("{s:f, s:f, s:f}",
			 "final_pass_ms", ms_between(s->pause_ns, s->final_pass_ns),
			 "device_state_ms", ms_between(s->final_pass_ns, s->device_state_ns),
			 "commit_ms", s->go_ns ? ms_between(s->device_state_ns, s->go_ns) + half : 0.0);
}

/* Where the NIC and guest memory are (NUMA nodes, -1: unknown). */
static json_t *
numa_json(const struct migdp_session *s)
{
	struct migshim_region_info ri;
	json_t *regions = json_array();
	unsigned i;

	for (i = 0; s->ctx->shim != NULL && migshim_session_region(s->ctx->shim, i, &ri) == 0; i++)
		json_array_append_new(regions, json_pack("{s:I, s:I, s:i, s:b, s:b}",
			"gpa", (json_int_t)ri.gpa, "size", (json_int_t)ri.size,
			"node", s->region_node[i], "spans_nodes", s->region_mixed[i],
			"device_state", (ri.flags & MIGSHIM_REGION_DEVICE_STATE) != 0));
	return json_pack("{s:i, s:o}", "nic_node", s->ctx->port.socket, "regions", regions);
}

json_t *
migdp_session_status(const struct migdp_session *s)
{
	uint64_t pages = migdp_sess_pages_done(s), wire = migdp_sess_wire_bytes(s);
	uint64_t now = migdp_now_ns(), round_pages = pages - s->round_pages0;
	double elapsed = ms_between(s->start_ns, s->rep.total_ns ? s->start_ns + s->rep.total_ns : now);
	double downtime;
	char id[17];
	json_t *o, *parts;

	snprintf(id, sizeof(id), "%016llx", (unsigned long long)s->ctx->ctl_flow.session);
	parts = downtime_json(s, &downtime);
	o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:b, s:b}",
		      "id", id, "vm", s->vm, "role", s->source ? "source" : "destination",
		      "state", migdp_state_name(s->fsm.state), "round", (int)s->fsm.round,
		      "reason", s->rep.reason, "verified", s->rep.verified,
		      "outcome_unknown", s->fsm.outcome_unknown);
	json_object_set_new(o, "pages", json_pack("{s:I, s:I, s:I, s:I, s:I}",
		"total", (json_int_t)s->rep.pages_total, "transferred", (json_int_t)pages,
		"remaining", (json_int_t)(s->fsm.state == MIGDP_ST_PRECOPY && s->fsm.round > 1 ?
					  s->conv.remaining_pages :
					  s->fsm.round <= 1 && pages < s->rep.pages_total ?
					  s->rep.pages_total - pages : 0),
		"round_done", (json_int_t)round_pages,
		"round_total", (json_int_t)RTE_MAX(round_pages, s->round_expect)));
	json_object_set_new(o, "bytes", json_pack("{s:I, s:I, s:I}",
		"guest", (json_int_t)s->rep.guest_bytes, "wire", (json_int_t)wire,
		"device_state", (json_int_t)s->device_state_bytes));
	json_object_set_new(o, "dirty_rate_pps", json_real(s->conv.dirty_rate_pps));
	json_object_set_new(o, "bandwidth_bps", json_real(elapsed > 0 ?
		(double)wire * 8e3 / elapsed : 0));
	json_object_set_new(o, "expected_downtime_ms", json_real(s->conv.expected_downtime_ms));
	json_object_set_new(o, "compression_ratio", json_real(wire > 0 ?
		(double)pages * MIGDP_PAGE_SIZE / (double)wire : 0));
	json_object_set_new(o, "throttle_pct", json_integer(s->throttle_pct));
	json_object_set_new(o, "total_ms", json_real(elapsed));
	json_object_set_new(o, "downtime_ms", downtime >= 0 ? json_real(downtime) : json_null());
	json_object_set_new(o, "downtime", parts);
	json_object_set_new(o, "parameters", params_json(&s->params));
	json_object_set_new(o, "kind", json_string(s->stream ? "stream" : "pages"));
	if (s->stream)
		json_object_set_new(o, "stream", migdp_sess_stream_status(s));
	json_object_set_new(o, "security", migdp_sess_sec_status(s));
	json_object_set_new(o, "numa", numa_json(s));
	json_object_set_new(o, "rounds", rounds_json(s));
	json_object_set_new(o, "channels", channels_json(s));
	json_object_set_new(o, "transitions", transitions_json(s));
	return o;
}

static void
hex(const uint8_t *b, unsigned n, char *out)
{
	unsigned i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static json_t *
adaptive_json(const struct migdp_session *s)
{
	const struct migdp_ctx *ctx = s->ctx;
	uint64_t saved = 0, ns_raw = 0, ns_zstd = 0, sw = 0, probes = 0;
	unsigned i;

	for (i = 0; i < ctx->nch; i++) {
		const struct migdp_adapt_stats *a = &ctx->chans[i]->adapt.st;

		saved += a->bytes_saved;
		ns_raw += a->ns_raw;
		ns_zstd += a->ns_zstd;
		sw += a->switches;
		probes += a->probes;
	}
	return json_pack("{s:I, s:f, s:f, s:I, s:I, s:f, s:f, s:f}",
		"bytes_saved", (json_int_t)saved,
		"raw_ms", (double)ns_raw / 1e6, "zstd_ms", (double)ns_zstd / 1e6,
		"switches", (json_int_t)sw, "probes", (json_int_t)probes,
		/* channel 0's model at the end: L, E(raw), E(current) */
		"link_MBps", ctx->chans[0]->adapt.st.link_rate / 1e6,
		"raw_MBps", ctx->chans[0]->adapt.st.rate_raw / 1e6,
		"current_MBps", ctx->chans[0]->adapt.st.rate_cur / 1e6);
}

/* Transport and congestion control of the source, summed over channels. */
static void
transport_json(const struct migdp_session *s, json_t *o)
{
	const struct migdp_ctx *ctx = s->ctx;
	json_t *states = json_array();
	uint64_t spurious = 0, spurious_rto = 0, btlbw = 0, btlbw_max = 0, min_rtt = 0;
	unsigned i;

	for (i = 0; i < ctx->nch; i++) {
		const struct migdp_tx *tx = ctx->chans[i]->tx;
		const struct migdp_cc *cc = migdp_tx_cc(tx);

		spurious += tx->stats.retx_spurious;
		spurious_rto += tx->stats.spurious_rto;
		if (cc == NULL)
			continue;
		btlbw += migdp_cc_delivery_bps(cc);
		btlbw_max += migdp_cc_btlbw_bps(cc);
		min_rtt = RTE_MAX(min_rtt, migdp_cc_min_rtt_ns(cc));
		json_array_append_new(states, json_string(migdp_cc_state_name(cc)));
	}
	json_object_set_new(o, "spurious_retransmits", json_integer((json_int_t)spurious));
	json_object_set_new(o, "spurious_rto", json_integer((json_int_t)spurious_rto));
	json_object_set_new(o, "discovered_rate_bps", json_integer((json_int_t)s->rep.discovered_bps));
	json_object_set_new(o, "congestion", json_pack("{s:b, s:I, s:I, s:f, s:o}",
		"on", ctx->cfg->channels.congestion != 0,
		"btlbw_bps", (json_int_t)btlbw_max, "mean_delivery_bps", (json_int_t)btlbw,
		"min_rtt_us", (double)min_rtt / 1e3, "states", states));
}

/* The progress over time, and when the switchover began. */
static void
series_json(const struct migdp_session *s, json_t *o)
{
	const struct migdp_fsm *f = &s->fsm;
	json_t *a = json_array(), *sw = json_null();
	unsigned i;

	for (i = 0; i < s->nsamples; i++) {
		const struct migdp_sample *x = &s->samples[i];

		json_array_append_new(a, json_pack("{s:f, s:s, s:i, s:I, s:I, s:I, s:f}",
			"t_ms", (double)x->t_ns / 1e6, "state", migdp_state_name(x->state),
			"round", (int)x->round, "pages", (json_int_t)x->pages,
			"wire_bytes", (json_int_t)x->wire_bytes,
			"remaining_pages", (json_int_t)x->remaining,
			"dirty_rate_pps", x->dirty_rate_pps));
	}
	for (i = f->nlog > MIGDP_FSM_LOG ? f->nlog - MIGDP_FSM_LOG : 0; i < f->nlog; i++) {
		const struct migdp_fsm_transition *t = &f->log[i % MIGDP_FSM_LOG];

		if (t->to == MIGDP_ST_SWITCHOVER && s->start_ns != 0 && t->at_ns >= s->start_ns) {
			json_decref(sw);
			sw = json_real((double)(t->at_ns - s->start_ns) / 1e6);
		}
	}
	json_object_set_new(o, "series", a);
	json_object_set_new(o, "series_period_ms", json_real((double)s->sample_period_ns / 1e6));
	json_object_set_new(o, "switchover_ms", sw);
}

json_t *
migdp_session_report(const struct migdp_session *s)
{
	const struct migdp_ctx *ctx = s->ctx;
	const struct migdp_report *r = &s->rep;
	const struct migdp_lstats *t = &r->sum;
	json_t *o = migdp_session_status(s), *drops = json_object();
	char digest[2 * 16 + 1], codec[32];
	double total_s = (double)r->total_ns * 1e-9;
	unsigned d;

	for (d = 1; d < MIGDP_DROP_MAX; d++)
		if (t->drops[d] != 0)
			json_object_set_new(drops, migdp_drop_name(d),
					    json_integer((json_int_t)t->drops[d]));
	hex(r->digest, 16, digest);
	migdp_codec_setting_str(&ctx->cfg->codec, codec, sizeof(codec));
	json_object_set_new(o, "status", json_string(r->completed ? "completed" : "failed"));
	json_object_set_new(o, "session", json_string(json_string_value(json_object_get(o, "id"))));
	json_object_set_new(o, "guest_bytes", json_integer((json_int_t)r->guest_bytes));
	json_object_set_new(o, "wire_bytes", json_integer((json_int_t)t->tx_bytes));
	json_object_set_new(o, "frames", json_integer((json_int_t)t->tx_frames));
	json_object_set_new(o, "rx_frames", json_integer((json_int_t)t->rx_frames));
	json_object_set_new(o, "retransmits", json_integer((json_int_t)t->retransmits));
	json_object_set_new(o, "total_ms", json_real((double)r->total_ns / 1e6));
	json_object_set_new(o, "transfer_ms", json_real((double)r->transfer_ns / 1e6));
	json_object_set_new(o, "throughput_gbps", json_real(total_s > 0 ?
		(double)r->guest_bytes * 8 / total_s / 1e9 : 0.0));
	json_object_set_new(o, "nchannels", json_integer(ctx->nch));
	json_object_set_new(o, "mtu", json_integer(ctx->cfg->port.mtu));
	json_object_set_new(o, "digest", json_string(digest));
	json_object_set_new(o, "codec", json_string(codec));
	json_object_set_new(o, "adaptive", adaptive_json(s));
	json_object_set_new(o, "dict", json_pack("{s:b, s:i, s:f}",
		"on", ctx->cfg->codec_dict != 0, "bytes", (int)r->dict_bytes, "ms", r->dict_ms));
	json_object_set_new(o, "pages", json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		"total", (json_int_t)r->pages_total,
		"zero", (json_int_t)t->pages_zero, "raw", (json_int_t)t->pages_raw,
		"zstd", (json_int_t)t->pages_zstd,
		"zstd_records", (json_int_t)t->zstd_records,
		"zstd_fragmented", (json_int_t)t->pages_zstd_frag,
		"zero_skipped", (json_int_t)t->pages_zero_skipped,
		"fragmented", (json_int_t)t->pages_frag,
		"stale", (json_int_t)t->pages_stale));
	json_object_set_new(o, "drops", drops);
	json_object_set_new(o, "misrouted", json_integer((json_int_t)t->misrouted));
	if (s->source)
		transport_json(s, o);
	series_json(s, o);
	json_object_set_new(o, "tx_mode", json_string(ctx->port.tx_zero_copy ? "zero-copy" : "copy"));
	json_object_set_new(o, "tx_zero_copy_fallback", json_integer((json_int_t)t->zc_fallback));
	json_object_set_new(o, "data_frames", json_pack("{s:I, s:I}",
		"new", (json_int_t)t->rx_new, "duplicate", (json_int_t)t->rx_dup));
	/* CPU of the migration (handshake to commit, every thread), as QEMU's
	 * is measured; and of the whole process, start-up included. */
	json_object_set_new(o, "cpu_s", json_real(r->cpu_start_s > 0 ?
						  r->cpu_end_s - r->cpu_start_s : 0));
	json_object_set_new(o, "cpu_s_process", json_real(migdp_cpu_s()));
	json_object_set_new(o, "tx_refused", json_integer((json_int_t)t->tx_dropped));
	json_object_set_new(o, "fault", json_pack(
		"{s:{s:I, s:I, s:I, s:I}, s:{s:I, s:I, s:I, s:I}}",
		"tx", "dropped", (json_int_t)t->ftx.dropped,
		"duplicated", (json_int_t)t->ftx.duplicated,
		"reordered", (json_int_t)t->ftx.reordered,
		"corrupted", (json_int_t)t->ftx.corrupted,
		"rx", "dropped", (json_int_t)t->frx.dropped,
		"duplicated", (json_int_t)t->frx.duplicated,
		"reordered", (json_int_t)t->frx.reordered,
		"corrupted", (json_int_t)t->frx.corrupted));
	return o;
}
