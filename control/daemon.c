/* SPDX-License-Identifier: BSD-3-Clause */
/* migdp [EAL options] -- --config FILE [--role source|destination]
 *       [--set section.key=value]... [--daemon] [--progress] [--wait-ms N]
 *
 * One migdp per host (DESIGN "The daemon and its sessions"): EAL, the
 * configuration, the port, the shim socket where hypervisors connect (one
 * connection = one VM, named by its hypervisor) and the control socket
 * (JSON, control/ctlsock.h). A session moves one VM: started by the
 * control socket's migrate / migrate-incoming with --daemon, which serves
 * migrations until SIGINT/SIGTERM; without it, by the first hypervisor
 * that connects, and migdp exits after that one migration (exit 0 only
 * when committed). Each session's report is one JSON line on stdout. */
#include <arpa/inet.h>
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
#include <rte_random.h>

#include "daemon.h"
#include "log.h"
#include "numa.h"
#include "telemetry.h"

static volatile sig_atomic_t signalled;

static void
on_signal(int sig)
{
	RTE_SET_USED(sig);
	signalled = 1;
}

static void
usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [EAL options] -- --config FILE [--role source|destination]\n"
		"          [--set section.key=value]... [--daemon] [--progress] [--wait-ms N]\n"
		"          [--hello-version N]   (tests: announce another protocol version)\n"
		"          [--hold-ready-ms N]   (tests: a destination holds its READY)\n"
		"--daemon: serve migrations started on the control socket until stopped;\n"
		"otherwise migrate the first VM that connects, then exit.\n",
		prog);
}

struct daemon D;

static int
parse_args(int argc, char **argv, struct args *a)
{
	static const struct option lo[] = {
		{"config", required_argument, NULL, 'c'},
		{"role", required_argument, NULL, 'r'},
		{"set", required_argument, NULL, 's'},
		{"daemon", no_argument, NULL, 'd'},
		{"progress", no_argument, NULL, 'p'},
		{"wait-ms", required_argument, NULL, 'w'},
		{"hello-version", required_argument, NULL, 'V'},
		{"hold-ready-ms", required_argument, NULL, 'R'},
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
		case 'd': a->daemon = true; break;
		case 'p': a->run.progress = true; break;
		case 'w': a->run.wait_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'V': a->run.hello_version = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'R': a->run.hold_ready_ms = (unsigned)strtoul(optarg, NULL, 10); break;
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


/* ---- lcores ------------------------------------------------------------- */

/* Channel i's lcore: configured, or the i-th worker lcore. */
static int
channel_lcores(unsigned *lcores)
{
	const struct migdp_channels_conf *cc = &D.cfg.channels;
	unsigned lcore, i = 0;

	if (cc->nb_lcores > 0) {
		for (i = 0; i < cc->count; i++) {
			lcore = cc->lcores[i];
			if (!rte_lcore_is_enabled(lcore) || lcore == rte_get_main_lcore()) {
				MIGDP_LOG(ERR, "[channels] lcores: lcore %u is not an EAL "
					  "worker lcore", lcore);
				return -1;
			}
			lcores[i] = lcore;
		}
		return 0;
	}
	RTE_LCORE_FOREACH_WORKER(lcore) {
		if (i == cc->count)
			break;
		lcores[i++] = lcore;
	}
	if (i < cc->count) {
		MIGDP_LOG(ERR, "%u channels need %u worker lcores, EAL has %u: "
			  "give more with -l or --lcores (several may share a core)",
			  cc->count, cc->count, i);
		return -1;
	}
	return 0;
}

/* Channel lcores on another node than the NIC: a warning. */
static void
check_numa(const unsigned *lcores, unsigned n)
{
	unsigned off[MIGDP_MAX_CHANNELS], i;
	int nodes[MIGDP_MAX_CHANNELS];
	char warn[512];

	for (i = 0; i < n; i++)
		nodes[i] = (int)rte_lcore_to_socket_id(lcores[i]);
	if (migdp_numa_off_node(D.port.socket, lcores, nodes, n, off, warn, sizeof(warn)) > 0)
		MIGDP_LOG(WARNING, "%s", warn);
}

/* ---- VMs: hypervisor connections on the shim socket -------------------- */

int
migdp_daemon_vm_find(const char *name)
{
	unsigned i;

	for (i = 0; i < MAX_VMS; i++)
		if (D.vms[i] != NULL && (name == NULL ||
					 strcmp(migshim_session_name(D.vms[i]), name) == 0))
			return (int)i;
	return -1;
}

void
migdp_daemon_vm_names(char *buf, size_t len)
{
	size_t n = 0;
	unsigned i;

	buf[0] = '\0';
	for (i = 0; i < MAX_VMS && n < len; i++)
		if (D.vms[i] != NULL)
			n += (size_t)snprintf(buf + n, len - n, "%s'%s'", n ? ", " : "",
					      migshim_session_name(D.vms[i]));
	if (n == 0)
		snprintf(buf, len, "none");
}

bool
migdp_daemon_vm_busy(int vm)
{
	unsigned i;

	for (i = 0; i < MIGDP_MAX_SESSIONS; i++)
		if (D.slots[i].active && D.slots[i].ctx.shim == D.vms[vm])
			return true;
	return false;
}

/* A hypervisor that connected, and hypervisors that went away (not
 * those of a running session: it sees it and fails). */
static void
vm_accept(void)
{
	struct migshim_session *ss;
	unsigned i;

	for (i = 0; i < MAX_VMS; i++)
		if (D.vms[i] != NULL && !migdp_daemon_vm_busy((int)i) &&
		    migshim_session_peer_gone(D.vms[i])) {
			MIGDP_LOG(INFO, "VM '%s' disconnected", migshim_session_name(D.vms[i]));
			migshim_session_close(D.vms[i]);
			D.vms[i] = NULL;
		}
	ss = migshim_server_accept(D.srv, 0);
	if (ss == NULL) {
		if (errno != ETIMEDOUT)
			MIGDP_LOG(ERR, "hypervisor refused: %s", migshim_server_last_error(D.srv));
		return;
	}
	if (D.cfg.role == MIGDP_ROLE_SOURCE &&
	    migshim_session_nrings(ss) != D.cfg.channels.count) {
		MIGDP_LOG(ERR, "hypervisor of '%s' has %u dirty rings, migdp %u channels",
			  migshim_session_name(ss), migshim_session_nrings(ss),
			  D.cfg.channels.count);
		migshim_session_close(ss);
		return;
	}
	if (migdp_daemon_vm_find(migshim_session_name(ss)) >= 0) {
		MIGDP_LOG(ERR, "VM '%s' refused: a VM of that name is connected",
			  migshim_session_name(ss));
		migshim_session_close(ss);
		return;
	}
	for (i = 0; i < MIGDP_MAX_SESSIONS; i++)
		if (D.slots[i].active && D.slots[i].sess.stream &&
		    strcmp(D.slots[i].sess.vm, migshim_session_name(ss)) == 0) {
			MIGDP_LOG(ERR, "VM '%s' refused: a stream session has that name",
				  migshim_session_name(ss));
			migshim_session_close(ss);
			return;
		}
	for (i = 0; i < MAX_VMS && D.vms[i] != NULL; i++)
		;
	if (i == MAX_VMS) {
		MIGDP_LOG(ERR, "VM '%s' refused: %u VMs connected already",
			  migshim_session_name(ss), MAX_VMS);
		migshim_session_close(ss);
		return;
	}
	D.vms[i] = ss;
	MIGDP_LOG(INFO, "VM '%s' connected: %u regions", migshim_session_name(ss),
		  migshim_session_nregions(ss));
}

/* ---- sessions ----------------------------------------------------------- */

unsigned
migdp_daemon_active(void)
{
	unsigned i, n = 0;

	for (i = 0; i < MIGDP_MAX_SESSIONS; i++)
		n += D.slots[i].active;
	return n;
}

struct slot *
migdp_daemon_slot_of(const char *vm, char *err, size_t errlen)
{
	struct slot *found = NULL;
	size_t used = 0;
	unsigned i, n = 0;

	for (i = 0; i < MIGDP_MAX_SESSIONS; i++) {
		struct slot *sl = &D.slots[i];

		if (!sl->active || (vm != NULL && strcmp(vm, sl->sess.vm) != 0))
			continue;
		found = sl;
		n++;
	}
	if (n == 1)
		return found;
	if (n == 0) {
		snprintf(err, errlen, "no migration%s%s%s running", vm ? " of '" : "",
			 vm ? vm : "", vm ? "'" : "");
		return NULL;
	}
	used = (size_t)snprintf(err, errlen, "several migrations run (");
	for (i = 0; i < MIGDP_MAX_SESSIONS && used < errlen; i++)
		if (D.slots[i].active)
			used += (size_t)snprintf(err + used, errlen - used, "%s'%s'",
						 err[used - 1] == '(' ? "" : ", ",
						 D.slots[i].sess.vm);
	if (used < errlen)
		snprintf(err + used, errlen - used, "): name one with \"vm\"");
	return NULL;
}

void
migdp_daemon_default_params(struct migdp_conv_params *p)
{
	const struct migdp_migration_conf *mc = &D.cfg.migration;

	migdp_conv_params_default(p);
	p->downtime_limit_ms = mc->downtime_limit_ms;
	p->max_bandwidth_bps = mc->max_bandwidth;
	p->max_rounds = mc->max_rounds;
	p->auto_converge = mc->auto_converge != 0;
	p->throttle_initial_pct = mc->throttle_initial;
	p->throttle_step_pct = mc->throttle_step;
	p->throttle_max_pct = mc->throttle_max;
}

static void
on_session_event(const char *name, json_t *data)
{
	if (D.sock != NULL)
		migdp_ctlsock_event(D.sock, name, data);
	else
		json_decref(data);
}

/* Start migrating VM @p vm (index in D.vms; -1: a stream session named
 * @p stream, its socket @p path) with @p peer_ip (0: the configured peer),
 * its key in @p key_file (NULL: [security] key_file), @p encrypt 0 or 1
 * (-1: [security] encrypt). */
int
migdp_daemon_begin(int vm, const char *stream, const char *path, uint32_t peer_ip,
		   const char *key_file, int encrypt, char *err, size_t errlen)
{
	struct slot *sl = NULL;
	struct migdp_ctx *ctx;
	char tag[16];
	unsigned i;

	for (i = 0; i < D.cfg.sessions && sl == NULL; i++)
		if (!D.slots[i].active)
			sl = &D.slots[i];
	if (sl == NULL) {
		snprintf(err, errlen, "%u migrations run already ([migdp] sessions)",
			 D.cfg.sessions);
		return -1;
	}
	sl->cfg = D.cfg;
	/* Every session its own id (the configured or drawn one: the first). */
	if (D.sessions > 0 && sl->cfg.role == MIGDP_ROLE_SOURCE)
		sl->cfg.session_id = rte_rand() | 1;
	if (peer_ip != 0 && peer_ip != sl->cfg.peer.ip) {
		sl->cfg.peer.ip = peer_ip;
		memset(&sl->cfg.peer.mac, 0, sizeof(sl->cfg.peer.mac)); /* by ARP */
	}
	ctx = &sl->ctx;
	memset(ctx, 0, sizeof(*ctx));
	ctx->port = D.port;
	ctx->shim = vm >= 0 ? D.vms[vm] : NULL; /* none: a stream session */
	ctx->workers = &D.ws;
	snprintf(tag, sizeof(tag), "%c%u", D.cfg.role == MIGDP_ROLE_SOURCE ? 's' : 'd',
		 (unsigned)(sl - D.slots));
	if (migdp_ctx_init(ctx, &sl->cfg, tag) < 0 || migdp_ctx_channels(ctx) < 0) {
		migdp_ctx_fini(ctx);
		snprintf(err, errlen, "cannot set up the session (memory)");
		return -1;
	}
	for (i = 0; i < ctx->nch; i++)
		ctx->chans[i]->lcore = D.ws.w[i].lcore;
	if (migdp_sess_sec_setup(ctx, key_file != NULL ? key_file : sl->cfg.security.key_file,
				 encrypt >= 0 ? encrypt != 0 : sl->cfg.security.encrypt != 0,
				 err, errlen) < 0) {
		migdp_ctx_fini(ctx);
		return -1;
	}
	if (sl->cfg.role == MIGDP_ROLE_SOURCE) { /* only the peer is heard */
		ctx->ctl_loc.peer_ip = ctx->ctl_flow.dst_ip;
		for (i = 0; i < ctx->nch; i++)
			ctx->chans[i]->loc.peer_ip = ctx->ctl_flow.dst_ip;
	}
	migdp_session_init(&sl->sess, ctx, &D.a.run);
	if (vm < 0 && migdp_sess_stream_setup(&sl->sess, stream, path, err, errlen) < 0) {
		migdp_session_fini(&sl->sess);
		migdp_ctx_fini(ctx);
		return -1;
	}
	if (D.params_set) {
		sl->sess.params = D.params;
		migdp_session_apply_params(&sl->sess);
	}
	sl->active = true;
	D.sessions++;
	migdp_session_start(&sl->sess);
	return 0;
}

/* A session ended: its report on stdout, its VM disconnected. */
static void
session_finish(struct slot *sl)
{
	json_t *rep = migdp_session_report(&sl->sess), *unrouted = json_object();
	int vm = -1;
	unsigned i, d;

	/* Frames no session took (unknown session id, a HELLO for no one),
	 * dropped by the daemon and the channel lcores: so far, by reason. */
	for (d = 1; d < MIGDP_DROP_MAX; d++) {
		uint64_t n = D.st.drops[d];

		for (i = 0; i < D.cfg.channels.count; i++)
			n += D.ws.w[i].st.drops[d];
		if (n != 0)
			json_object_set_new(unrouted, migdp_drop_name(d), json_integer((json_int_t)n));
	}
	json_object_set_new(rep, "unrouted_drops", unrouted);
	json_dumpf(rep, stdout, JSON_COMPACT);
	putchar('\n');
	fflush(stdout);
	json_decref(rep);
	if (D.nended == MAX_ENDED) {
		json_decref(D.ended[0]);
		memmove(D.ended, D.ended + 1, (MAX_ENDED - 1) * sizeof(D.ended[0]));
		D.nended--;
	}
	D.ended[D.nended++] = migdp_session_status(&sl->sess);
	D.last_rc = sl->sess.fsm.outcome_unknown ? 3 : sl->sess.rep.completed ? 0 : 1;
	for (i = 0; i < MAX_VMS; i++)
		if (sl->ctx.shim != NULL && D.vms[i] == sl->ctx.shim)
			vm = (int)i;
	if (!sl->sess.leak) {
		migdp_session_fini(&sl->sess);
		migdp_ctx_fini(&sl->ctx);
	}
	if (vm >= 0) {
		migshim_session_close(D.vms[vm]);
		D.vms[vm] = NULL;
	}
	sl->active = false;
}

/* ---- the loop ----------------------------------------------------------- */

/* The one migration ended: a watcher (migctl watch) still gets its end,
 * for up to a second while clients stay connected. */
static void
linger(void)
{
	uint64_t until = migdp_now_ns() + 1000000000ull;

	while (D.sock != NULL && migdp_ctlsock_clients(D.sock) > 0 && migdp_now_ns() < until)
		migdp_ctlsock_poll(D.sock, 10);
}

static void
publish_telemetry(void)
{
	const struct migdp_session *ss[MIGDP_MAX_SESSIONS];
	unsigned i, n = 0;

	for (i = 0; i < MIGDP_MAX_SESSIONS; i++)
		if (D.slots[i].active)
			ss[n++] = &D.slots[i].sess;
	migdp_telemetry_publish(ss, n);
}

/* Until stopped (daemon) or until the one migration ended. */
static int
serve(void)
{
	struct migdp_idle idle = {0};
	uint64_t deadline = migdp_now_ns() + (uint64_t)D.a.run.wait_ms * 1000000u;
	bool cancelled = false;
	char err[160];
	unsigned i;
	int work;

	for (;;) {
		work = D.sock != NULL ? migdp_ctlsock_poll(D.sock, 0) : 0;
		work += (int)migdp_daemon_ctl_rx();
		if (signalled && !cancelled) {
			cancelled = true;
			for (i = 0; i < MIGDP_MAX_SESSIONS; i++)
				if (D.slots[i].active &&
				    migdp_session_cancel(&D.slots[i].sess, "interrupted", err,
							 sizeof(err)) < 0)
					MIGDP_LOG(WARNING, "signal: %s; finishing the commit", err);
		}
		for (i = 0; i < MIGDP_MAX_SESSIONS; i++) {
			struct slot *sl = &D.slots[i];

			if (!sl->active)
				continue;
			if (migdp_session_step(&sl->sess)) {
				work += (int)sl->sess.work;
				continue;
			}
			session_finish(sl);
			if (!D.a.daemon) {
				linger();
				return D.last_rc;
			}
		}
		publish_telemetry();
		vm_accept();
		if (migdp_daemon_active() > 0) {
			migdp_idle(&D.cfg, &idle, work > 0);
			continue;
		}
		if (signalled)
			return D.a.daemon ? 0 : 1;
		if (!D.a.daemon && migdp_daemon_vm_find(NULL) >= 0 && D.sessions == 0) {
			if (migdp_daemon_begin(migdp_daemon_vm_find(NULL), NULL, NULL, 0, NULL, -1,
					       err, sizeof(err)) < 0) {
				MIGDP_LOG(ERR, "%s", err);
				return 1;
			}
			continue;
		}
		if (!D.a.daemon && migdp_now_ns() > deadline) {
			MIGDP_LOG(ERR, "no hypervisor handed over guest RAM");
			return 1;
		}
		/* Nothing runs: wait on the control socket a little. */
		if (D.sock != NULL)
			migdp_ctlsock_poll(D.sock, 10);
		else
			rte_delay_us_sleep(10000);
	}
}

int
main(int argc, char **argv)
{
	unsigned lcores[MIGDP_MAX_CHANNELS], i;
	bool workers = false;
	int n, ret = 1;

	n = rte_eal_init(argc, argv);
	if (n < 0)
		rte_exit(EXIT_FAILURE, "EAL initialisation failed: %s\n", rte_strerror(rte_errno));
	if (parse_args(argc - n, argv + n, &D.a) < 0) {
		usage(argv[0]);
		rte_eal_cleanup();
		return 2;
	}
	if (load_config(&D.a, &D.cfg) < 0) {
		rte_eal_cleanup();
		return 2;
	}
	rte_log_set_level(migdp_logtype, D.cfg.log_level);
	if (D.cfg.security.key_file[0] != '\0') { /* refused now, not at the first migration */
		struct migdp_psk k;
		char why[256];

		if (migdp_psk_load(D.cfg.security.key_file, &k, why, sizeof(why)) < 0) {
			MIGDP_LOG(ERR, "[security] key_file: %s", why);
			fprintf(stderr, "migdp: %s\n", why);
			rte_eal_cleanup();
			return 2;
		}
		memset(&k, 0, sizeof(k));
	} else if (D.cfg.security.encrypt) {
		fprintf(stderr, "migdp: [security] encrypt = on needs key_file\n");
		rte_eal_cleanup();
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	migdp_clock_init();
	migdp_session_event_hook = on_session_event;
	migdp_session_rx_hook = migdp_daemon_ctl_rx;

	D.srv = migshim_server_create(D.cfg.shim_socket, D.cfg.role == MIGDP_ROLE_SOURCE ?
				      MIGSHIM_ROLE_SOURCE : MIGSHIM_ROLE_DESTINATION, 0);
	if (D.srv == NULL) {
		MIGDP_LOG(ERR, "shim socket %s: %s", D.cfg.shim_socket, strerror(errno));
		goto out;
	}
	D.sock = migdp_ctlsock_open(D.cfg.control_socket, migdp_daemon_commands,
				    migdp_daemon_ncommands, NULL);
	if (D.sock == NULL) {
		MIGDP_LOG(ERR, "control socket %s: %s", D.cfg.control_socket, strerror(errno));
		goto out;
	}
	migdp_telemetry_init();
	if (channel_lcores(lcores) < 0 ||
	    migdp_port_open(&D.port, &D.cfg, (uint16_t)(D.cfg.channels.count + 1),
			    D.a.run.wait_ms) < 0)
		goto out;
	D.mac = rte_is_zero_ether_addr(&D.cfg.local.mac) ? D.port.mac : D.cfg.local.mac;
	D.ip = rte_be_to_cpu_32(D.cfg.local.ip);
	check_numa(lcores, D.cfg.channels.count);
	/* Frame tags and encryption: a queue pair per port queue. */
	if (migdp_sec_dev_init((uint16_t)(D.cfg.channels.count + 1),
			       rte_eth_dev_socket_id(D.port.id)) < 0)
		MIGDP_LOG(WARNING, "no crypto device: only unauthenticated migrations");
	workers = true;
	if (migdp_workers_start(&D.ws, &D.cfg, &D.port, lcores) < 0) {
		MIGDP_LOG(ERR, "cannot start the channel lcores");
		goto stop;
	}
	MIGDP_LOG(INFO, "%s: hypervisors on %s, control on %s, up to %u sessions",
		  D.a.daemon ? "serving" : "waiting for a hypervisor", D.cfg.shim_socket,
		  D.cfg.control_socket, D.cfg.sessions);
	ret = serve();
stop:
	if (workers)
		migdp_workers_stop(&D.ws);
	migdp_sec_dev_fini();
	migdp_port_close(&D.port);
out:
	for (i = 0; i < MAX_VMS; i++)
		migshim_session_close(D.vms[i]);
	migdp_ctlsock_close(D.sock);
	migshim_server_destroy(D.srv);
	for (i = 0; i < D.nended; i++)
		json_decref(D.ended[i]);
	rte_eal_cleanup();
	return ret;
}
