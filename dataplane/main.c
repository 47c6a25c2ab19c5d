/* SPDX-License-Identifier: BSD-3-Clause */
/* migdp [EAL options] -- --config FILE [--role source|destination]
 *       [--set section.key=value]... [--progress] [--wait-ms N]
 *
 * Start-up: EAL, configuration, shim socket, port, the hypervisor's guest
 * RAM; then one migration (control.c), a JSON report as the last line of
 * stdout, and an event to the hypervisor. Exit 0 only when committed. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_random.h>

#include "control.h"
#include "log.h"

volatile sig_atomic_t migdp_signalled;

static void
on_signal(int sig)
{
	RTE_SET_USED(sig);
	migdp_signalled = 1;
}

static void
usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [EAL options] -- --config FILE [--role source|destination]\n"
		"          [--set section.key=value]... [--progress] [--wait-ms N]\n"
		"          [--hello-version N]   (tests: announce another protocol version)\n",
		prog);
}

struct args {
	const char *config;
	const char *role;
	const char *sets[64];
	unsigned nsets;
	struct migdp_run_opts run;
};

static int
parse_args(int argc, char **argv, struct args *a)
{
	static const struct option lo[] = {
		{"config", required_argument, NULL, 'c'},
		{"role", required_argument, NULL, 'r'},
		{"set", required_argument, NULL, 's'},
		{"progress", no_argument, NULL, 'p'},
		{"wait-ms", required_argument, NULL, 'w'},
		{"hello-version", required_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	a->run.wait_ms = 60000;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'c': a->config = optarg; break;
		case 'r': a->role = optarg; break;
		case 's':
			if (a->nsets == RTE_DIM(a->sets))
				return -1;
			a->sets[a->nsets++] = optarg;
			break;
		case 'p': a->run.progress = true; break;
		case 'w': a->run.wait_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'V': a->run.hello_version = (unsigned)strtoul(optarg, NULL, 10); break;
		default: return -1;
		}
	}
	return optind == argc && a->config != NULL ? 0 : -1;
}

static int
load_config(const struct args *a, struct migdp_config *cfg)
{
	char err[512], set[128];
	unsigned i;

	if (migdp_config_load(cfg, a->config, err, sizeof(err)) < 0)
		goto bad;
	if (a->role != NULL) {
		snprintf(set, sizeof(set), "migdp.role=%s", a->role);
		if (migdp_config_set(cfg, set, err, sizeof(err)) < 0)
			goto bad;
	}
	for (i = 0; i < a->nsets; i++)
		if (migdp_config_set(cfg, a->sets[i], err, sizeof(err)) < 0)
			goto bad;
	if (migdp_config_finish(cfg, err, sizeof(err)) < 0)
		goto bad;
	return 0;
bad:
	fprintf(stderr, "migdp: %s\n", err);
	return -1;
}

/* Channel i on the configured lcore, or on the i-th worker. */
static int
assign_lcores(struct migdp_ctx *ctx)
{
	const struct migdp_channels_conf *cc = &ctx->cfg->channels;
	unsigned lcore, i = 0;

	if (cc->nb_lcores > 0) {
		for (i = 0; i < ctx->nch; i++) {
			lcore = cc->lcores[i];
			if (!rte_lcore_is_enabled(lcore) ||
			    lcore == rte_get_main_lcore()) {
				MIGDP_LOG(ERR, "[channels] lcores: lcore %u is not an EAL "
					  "worker lcore", lcore);
				return -1;
			}
			ctx->chans[i]->lcore = lcore;
		}
		return 0;
	}
	RTE_LCORE_FOREACH_WORKER(lcore) {
		if (i == ctx->nch)
			break;
		ctx->chans[i++]->lcore = lcore;
	}
	if (i < ctx->nch) {
		MIGDP_LOG(ERR, "%u channels need %u worker lcores, EAL has %u: "
			  "give more with -l or --lcores (several may share a core)",
			  ctx->nch, ctx->nch, i);
		return -1;
	}
	return 0;
}

static void
hex(const uint8_t *b, unsigned n, char *out)
{
	unsigned i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static void
report(const struct migdp_ctx *ctx, const struct migdp_report *r)
{
	const struct migdp_lstats *s = &r->sum;
	json_t *drops = json_object();
	char digest[2 * 16 + 1], session[17];
	double total_s = (double)r->total_ns * 1e-9;
	json_t *o;
	unsigned d;

	for (d = 1; d < MIGDP_DROP_MAX; d++)
		if (s->drops[d] != 0)
			json_object_set_new(drops, migdp_drop_name(d),
					    json_integer((json_int_t)s->drops[d]));
	hex(r->digest, 16, digest);
	snprintf(session, sizeof(session), "%016llx", (unsigned long long)r->session);
	o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:f, s:f,"
		      " s:f, s:i, s:i, s:s}",
		      "role", migdp_role_name(ctx->cfg->role),
		      "status", r->completed ? "completed" : "failed",
		      "reason", r->reason, "session", session,
		      "verified", r->verified,
		      "guest_bytes", (json_int_t)r->guest_bytes,
		      "wire_bytes", (json_int_t)s->tx_bytes,
		      "frames", (json_int_t)s->tx_frames,
		      "rx_frames", (json_int_t)s->rx_frames,
		      "retransmits", (json_int_t)s->retransmits,
		      "total_ms", (double)r->total_ns / 1e6,
		      "transfer_ms", (double)r->transfer_ns / 1e6,
		      "throughput_gbps", total_s > 0 ?
			      (double)r->guest_bytes * 8 / total_s / 1e9 : 0.0,
		      "channels", (int)ctx->nch, "mtu", (int)ctx->cfg->port.mtu,
		      "digest", digest);
	{
		char codec[32];

		migdp_codec_setting_str(&ctx->cfg->codec, codec, sizeof(codec));
		json_object_set_new(o, "codec", json_string(codec));
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
		json_object_set_new(o, "adaptive", json_pack(
			"{s:I, s:f, s:f, s:I, s:I, s:f, s:f, s:f}", "bytes_saved", (json_int_t)saved,
			"raw_ms", (double)ns_raw / 1e6, "zstd_ms", (double)ns_zstd / 1e6,
			"switches", (json_int_t)sw, "probes", (json_int_t)probes,
			/* channel 0's model at the end: L, E(raw), E(current) */
			"link_MBps", ctx->chans[0]->adapt.st.link_rate / 1e6,
			"raw_MBps", ctx->chans[0]->adapt.st.rate_raw / 1e6,
			"current_MBps", ctx->chans[0]->adapt.st.rate_cur / 1e6));
		json_object_set_new(o, "dict", json_pack("{s:b, s:i, s:f}",
			"on", ctx->cfg->codec_dict != 0, "bytes", (int)r->dict_bytes,
			"ms", r->dict_ms));
	}
	json_object_set_new(o, "pages", json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		"zero", (json_int_t)s->pages_zero, "raw", (json_int_t)s->pages_raw,
		"zstd", (json_int_t)s->pages_zstd,
		"zstd_records", (json_int_t)s->zstd_records,
		"zstd_fragmented", (json_int_t)s->pages_zstd_frag,
		"zero_skipped", (json_int_t)s->pages_zero_skipped,
		"fragmented", (json_int_t)s->pages_frag,
		"stale", (json_int_t)s->pages_stale));
	json_object_set_new(o, "drops", drops);
	json_object_set_new(o, "misrouted", json_integer((json_int_t)s->misrouted));
	if (ctx->cfg->role == MIGDP_ROLE_SOURCE) {
		/* Transport and congestion control, summed over channels. */
		json_t *states = json_array();
		uint64_t spurious = 0, spurious_rto = 0, btlbw = 0, btlbw_max = 0;
		uint64_t min_rtt = 0;
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
		json_object_set_new(o, "discovered_rate_bps", json_integer((json_int_t)r->discovered_bps));
		json_object_set_new(o, "congestion", json_pack("{s:b, s:I, s:I, s:f, s:o}",
			"on", ctx->cfg->channels.congestion != 0,
			"btlbw_bps", (json_int_t)btlbw_max, "mean_delivery_bps", (json_int_t)btlbw,
			"min_rtt_us", (double)min_rtt / 1e3, "states", states));
	}
	json_object_set_new(o, "tx_mode", json_string(ctx->port.tx_zero_copy ?
						      "zero-copy" : "copy"));
	json_object_set_new(o, "tx_zero_copy_fallback", json_integer((json_int_t)s->zc_fallback));
	json_object_set_new(o, "data_frames", json_pack("{s:I, s:I}",
		"new", (json_int_t)s->rx_new, "duplicate", (json_int_t)s->rx_dup));
	/* CPU of the migration (handshake to commit, every thread), as QEMU's
	 * is measured; and of the whole process, start-up included. */
	json_object_set_new(o, "cpu_s", json_real(r->cpu_start_s > 0 ?
						  r->cpu_end_s - r->cpu_start_s : 0));
	json_object_set_new(o, "cpu_s_process", json_real(migdp_cpu_s()));
	json_object_set_new(o, "tx_refused", json_integer((json_int_t)s->tx_dropped));
	json_object_set_new(o, "fault", json_pack(
		"{s:{s:I, s:I, s:I, s:I}, s:{s:I, s:I, s:I, s:I}}",
		"tx", "dropped", (json_int_t)s->ftx.dropped,
		"duplicated", (json_int_t)s->ftx.duplicated,
		"reordered", (json_int_t)s->ftx.reordered,
		"corrupted", (json_int_t)s->ftx.corrupted,
		"rx", "dropped", (json_int_t)s->frx.dropped,
		"duplicated", (json_int_t)s->frx.duplicated,
		"reordered", (json_int_t)s->frx.reordered,
		"corrupted", (json_int_t)s->frx.corrupted));
	json_dumpf(o, stdout, JSON_COMPACT);
	putchar('\n');
	fflush(stdout);
	json_decref(o);
}

/* Tell the hypervisor how it ended. */
static void
notify(struct migshim_session *shim, const struct migdp_report *r)
{
	struct migshim_event ev = {0};

	if (r->completed) {
		ev.type = MIGSHIM_EV_COMPLETED;
		ev.value = r->verified;
		ev.arg = r->guest_bytes;
	} else {
		ev.type = MIGSHIM_EV_FAILED;
		ev.value = EPROTO;
		snprintf(ev.reason, sizeof(ev.reason), "%.*s", (int)sizeof(ev.reason) - 1, r->reason);
	}
	if (migshim_session_send_event(shim, &ev) < 0)
		MIGDP_LOG(WARNING, "cannot tell the hypervisor: event ring full");
}

static int
setup_ctx(struct migdp_ctx *ctx, const struct migdp_config *cfg)
{
	if (migdp_ctx_init(ctx, cfg, migdp_role_name(cfg->role)) < 0 ||
	    migdp_ctx_channels(ctx) < 0)
		return -1;
	return assign_lcores(ctx);
}

int
main(int argc, char **argv)
{
	static struct migdp_config cfg;
	static struct migdp_ctx ctx;
	struct migdp_report rep;
	struct migshim_server *srv = NULL;
	struct args a = {0};
	int n, ret = 1;
	unsigned i;

	n = rte_eal_init(argc, argv);
	if (n < 0)
		rte_exit(EXIT_FAILURE, "EAL initialisation failed: %s\n",
			 rte_strerror(rte_errno));
	if (parse_args(argc - n, argv + n, &a) < 0) {
		usage(argv[0]);
		rte_eal_cleanup();
		return 2;
	}
	if (load_config(&a, &cfg) < 0) {
		rte_eal_cleanup();
		return 2;
	}
	rte_log_set_level(migdp_logtype, cfg.log_level);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	migdp_clock_init();

	srv = migshim_server_create(cfg.shim_socket,
				    cfg.role == MIGDP_ROLE_SOURCE ? MIGSHIM_ROLE_SOURCE :
								    MIGSHIM_ROLE_DESTINATION, 0);
	if (srv == NULL) {
		MIGDP_LOG(ERR, "shim socket %s: %s", cfg.shim_socket, strerror(errno));
		goto out;
	}
	MIGDP_LOG(INFO, "waiting for the hypervisor on %s", cfg.shim_socket);
	for (i = 0; ctx.shim == NULL && i < a.run.wait_ms / 100 && !migdp_signalled; i++) {
		ctx.shim = migshim_server_accept(srv, 100);
		if (ctx.shim == NULL && errno != ETIMEDOUT)
			MIGDP_LOG(ERR, "hypervisor refused: %s",
				  migshim_server_last_error(srv));
	}
	if (ctx.shim == NULL) {
		MIGDP_LOG(ERR, "no hypervisor handed over guest RAM");
		goto out;
	}
	if (migshim_session_nrings(ctx.shim) != cfg.channels.count &&
	    cfg.role == MIGDP_ROLE_SOURCE) {
		MIGDP_LOG(ERR, "hypervisor has %u dirty rings, migdp %u channels",
			  migshim_session_nrings(ctx.shim), cfg.channels.count);
		goto out;
	}
	if (migdp_port_open(&ctx.port, &cfg, (uint16_t)(cfg.channels.count + 1),
			    a.run.wait_ms) < 0)
		goto out;
	if (setup_ctx(&ctx, &cfg) < 0)
		goto out;
	ret = migdp_run(&ctx, &a.run, &rep) == 0 ? 0 : 1;
	report(&ctx, &rep);
	notify(ctx.shim, &rep);
out:
	migdp_ctx_fini(&ctx);
	migdp_port_close(&ctx.port);
	migshim_session_close(ctx.shim);
	migshim_server_destroy(srv);
	rte_eal_cleanup();
	return ret;
}
