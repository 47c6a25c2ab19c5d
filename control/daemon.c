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

#include "ctlsock.h"
#include "log.h"
#include "numa.h"
#include "session.h"
#include "telemetry.h"

#define MAX_VMS 8

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

struct args {
	const char *config;
	const char *role;
	const char *sets[64];
	unsigned nsets;
	bool daemon;
	struct migdp_run_opts run;
};

/* The daemon: what lives as long as the process. */
struct daemon {
	struct migdp_config cfg;       /* as loaded */
	struct migdp_config scfg;      /* the running session's (its peer) */
	struct args a;
	struct migshim_server *srv;
	struct migshim_session *vms[MAX_VMS]; /* connected hypervisors */
	struct migdp_port port;
	struct migdp_ctx ctx;
	struct migdp_ctlsock *sock;
	struct migdp_session sess;
	bool active;                   /* sess is set up (running or ending) */
	json_t *last_status;           /* of the last session that ended */
	int last_rc;                   /* 0: it committed */
	unsigned sessions;             /* sessions run */
	struct migdp_conv_params params; /* for the next session */
	bool params_set;
};

static struct daemon D;

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

/* Channel i on the configured lcore, or on the i-th worker. */
static int
assign_lcores(struct migdp_ctx *ctx)
{
	const struct migdp_channels_conf *cc = &ctx->cfg->channels;
	unsigned lcore, i = 0;

	if (cc->nb_lcores > 0) {
		for (i = 0; i < ctx->nch; i++) {
			lcore = cc->lcores[i];
			if (!rte_lcore_is_enabled(lcore) || lcore == rte_get_main_lcore()) {
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

/* Channel lcores on another node than the NIC: a warning, once. */
static void
check_numa(const struct migdp_ctx *ctx)
{
	unsigned lcores[MIGDP_MAX_CHANNELS], off[MIGDP_MAX_CHANNELS], i;
	int nodes[MIGDP_MAX_CHANNELS];
	char warn[512];

	for (i = 0; i < ctx->nch; i++) {
		lcores[i] = ctx->chans[i]->lcore;
		nodes[i] = (int)rte_lcore_to_socket_id(lcores[i]);
	}
	if (migdp_numa_off_node(ctx->port.socket, lcores, nodes, ctx->nch, off,
				warn, sizeof(warn)) > 0)
		MIGDP_LOG(WARNING, "%s", warn);
}

/* ---- VMs: hypervisor connections on the shim socket -------------------- */

static int
vm_find(const char *name)
{
	unsigned i;

	for (i = 0; i < MAX_VMS; i++)
		if (D.vms[i] != NULL && (name == NULL ||
					 strcmp(migshim_session_name(D.vms[i]), name) == 0))
			return (int)i;
	return -1;
}

static void
vm_names(char *buf, size_t len)
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

/* A hypervisor that connected, and hypervisors that went away. */
static void
vm_accept(void)
{
	struct migshim_session *ss;
	unsigned i;

	for (i = 0; i < MAX_VMS; i++)
		if (D.vms[i] != NULL && (!D.active || D.ctx.shim != D.vms[i]) &&
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

static void
on_session_event(const char *name, json_t *data)
{
	if (D.sock != NULL)
		migdp_ctlsock_event(D.sock, name, data);
	else
		json_decref(data);
}

/* Start migrating VM @p vm (index in D.vms) to @p peer_ip (0: configured). */
static int
session_begin(int vm, uint32_t peer_ip, char *err, size_t errlen)
{
	struct migdp_ctx *ctx = &D.ctx;

	D.scfg = D.cfg;
	/* Every session its own id (the configured or drawn one: the first). */
	if (D.sessions > 0 && D.scfg.role == MIGDP_ROLE_SOURCE)
		D.scfg.session_id = rte_rand() | 1;
	if (peer_ip != 0)
		D.scfg.peer.ip = peer_ip;
	memset(ctx, 0, sizeof(*ctx));
	ctx->port = D.port;
	ctx->shim = D.vms[vm];
	if (migdp_ctx_init(ctx, &D.scfg, migdp_role_name(D.scfg.role)) < 0 ||
	    migdp_ctx_channels(ctx) < 0 || assign_lcores(ctx) < 0) {
		migdp_ctx_fini(ctx);
		snprintf(err, errlen, "cannot set up the session (memory, lcores)");
		return -1;
	}
	if (D.sessions == 0)
		check_numa(ctx);
	migdp_session_init(&D.sess, ctx, &D.a.run);
	if (D.params_set) {
		D.sess.params = D.params;
		migdp_session_apply_params(&D.sess);
	}
	D.active = true;
	D.sessions++;
	migdp_session_start(&D.sess);
	return 0;
}

/* The session ended: its report on stdout, its VM disconnected. */
static void
session_finish(void)
{
	json_t *rep = migdp_session_report(&D.sess);
	int vm;

	json_dumpf(rep, stdout, JSON_COMPACT);
	putchar('\n');
	fflush(stdout);
	json_decref(D.last_status);
	D.last_status = migdp_session_status(&D.sess);
	D.last_rc = D.sess.rep.completed ? 0 : 1;
	json_decref(rep);
	vm = -1;
	for (unsigned i = 0; i < MAX_VMS; i++)
		if (D.vms[i] == D.ctx.shim)
			vm = (int)i;
	migdp_session_fini(&D.sess);
	migdp_ctx_fini(&D.ctx);
	if (vm >= 0) {
		migshim_session_close(D.vms[vm]);
		D.vms[vm] = NULL;
	}
	D.active = false;
}

/* ---- control socket commands -------------------------------------------- */

static const char *
arg_str(json_t *args, const char *key)
{
	return json_string_value(json_object_get(args, key));
}

static json_t *
cmd_query_migrate(void *arg, json_t *args, char *err, size_t errlen)
{
	const char *vm = arg_str(args, "vm");

	RTE_SET_USED(arg);
	RTE_SET_USED(err);
	RTE_SET_USED(errlen);
	if (D.active && (vm == NULL || strcmp(vm, D.sess.vm) == 0))
		return migdp_session_status(&D.sess);
	if (D.last_status != NULL && (vm == NULL || strcmp(vm, json_string_value(
			json_object_get(D.last_status, "vm"))) == 0))
		return json_deep_copy(D.last_status);
	return json_pack("{s:s}", "state", "none");
}

static json_t *
brief(json_t *st)
{
	return json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:O}", "id", json_object_get(st, "id"),
			 "vm", json_object_get(st, "vm"), "role", json_object_get(st, "role"),
			 "state", json_object_get(st, "state"), "round", json_object_get(st, "round"),
			 "pages_total", json_object_get(json_object_get(st, "pages"), "total"),
			 "pages_transferred",
			 json_object_get(json_object_get(st, "pages"), "transferred"));
}

static json_t *
cmd_query_sessions(void *arg, json_t *args, char *err, size_t errlen)
{
	json_t *a = json_array(), *vms = json_array(), *st;
	unsigned i;

	RTE_SET_USED(arg);
	RTE_SET_USED(args);
	RTE_SET_USED(err);
	RTE_SET_USED(errlen);
	if (D.active) {
		st = migdp_session_status(&D.sess);
		json_array_append_new(a, brief(st));
		json_decref(st);
	}
	if (D.last_status != NULL)
		json_array_append_new(a, brief(D.last_status));
	for (i = 0; i < MAX_VMS; i++)
		if (D.vms[i] != NULL)
			json_array_append_new(vms, json_string(migshim_session_name(D.vms[i])));
	return json_pack("{s:o, s:o, s:i}", "sessions", a, "vms", vms, "served", (int)D.sessions);
}

/* migrate / migrate-incoming: a session for a connected VM. */
static json_t *
start_cmd(json_t *args, enum migdp_role role, enum migdp_command c, char *err, size_t errlen)
{
	const char *vm = arg_str(args, "vm"), *peer = arg_str(args, "peer");
	struct in_addr ip = {0};
	char names[256];
	int i;

	if (D.cfg.role != role) {
		snprintf(err, errlen, "this migdp is a %s: use %s", migdp_role_name(D.cfg.role),
			 D.cfg.role == MIGDP_ROLE_SOURCE ? "migrate" : "migrate-incoming");
		return NULL;
	}
	if (D.active && migdp_fsm_check_command(&D.sess.fsm, c, err, errlen) != NULL)
		return NULL;
	if (D.active) {
		snprintf(err, errlen, "a migration of '%s' is still ending", D.sess.vm);
		return NULL;
	}
	if (json_object_get(args, "vm") != NULL && vm == NULL) {
		snprintf(err, errlen, "'vm' must be a string");
		return NULL;
	}
	if (peer != NULL && inet_pton(AF_INET, peer, &ip) != 1) {
		snprintf(err, errlen, "'peer' is not an IPv4 address: '%s'", peer);
		return NULL;
	}
	i = vm_find(vm);
	if (i < 0) {
		vm_names(names, sizeof(names));
		snprintf(err, errlen, "no VM '%s' connected (connected: %s)",
			 vm != NULL ? vm : "(any)", names);
		return NULL;
	}
	if (session_begin(i, ip.s_addr, err, errlen) < 0)
		return NULL;
	return json_pack("{s:s, s:s}", "vm", D.sess.vm, "state",
			 migdp_state_name(D.sess.fsm.state));
}

static json_t *
cmd_migrate(void *arg, json_t *args, char *err, size_t errlen)
{
	RTE_SET_USED(arg);
	return start_cmd(args, MIGDP_ROLE_SOURCE, MIGDP_CMD_MIGRATE, err, errlen);
}

static json_t *
cmd_incoming(void *arg, json_t *args, char *err, size_t errlen)
{
	RTE_SET_USED(arg);
	return start_cmd(args, MIGDP_ROLE_DESTINATION, MIGDP_CMD_INCOMING, err, errlen);
}

static json_t *
cmd_cancel(void *arg, json_t *args, char *err, size_t errlen)
{
	const char *vm = arg_str(args, "vm");

	RTE_SET_USED(arg);
	if (!D.active || (vm != NULL && strcmp(vm, D.sess.vm) != 0)) {
		snprintf(err, errlen, "no migration%s%s running", vm ? " of " : "", vm ? vm : "");
		return NULL;
	}
	if (migdp_session_cancel(&D.sess, "cancelled by migrate-cancel", err, errlen) < 0)
		return NULL;
	return json_pack("{s:s}", "state", migdp_state_name(D.sess.fsm.state));
}

/* Parameters of the running session (while legal) or of the next ones. */
static json_t *
cmd_set_parameters(void *arg, json_t *args, char *err, size_t errlen)
{
	struct migdp_conv_params p;
	const char *key;
	json_t *v;
	char text[64];

	RTE_SET_USED(arg);
	if (D.active && migdp_fsm_check_command(&D.sess.fsm, MIGDP_CMD_SET_PARAMETERS,
						err, errlen) != NULL)
		return NULL;
	p = D.active ? D.sess.params : D.params_set ? D.params : D.sess.params;
	if (!D.active && !D.params_set) {
		struct migdp_session tmp;

		memset(&tmp, 0, sizeof(tmp));
		migdp_conv_params_default(&p);
		p.downtime_limit_ms = D.cfg.migration.downtime_limit_ms;
		p.max_bandwidth_bps = D.cfg.migration.max_bandwidth;
		p.max_rounds = D.cfg.migration.max_rounds;
		p.auto_converge = D.cfg.migration.auto_converge != 0;
		p.throttle_initial_pct = D.cfg.migration.throttle_initial;
		p.throttle_step_pct = D.cfg.migration.throttle_step;
		p.throttle_max_pct = D.cfg.migration.throttle_max;
	}
	json_object_foreach(args, key, v) {
		if (json_is_string(v))
			snprintf(text, sizeof(text), "%s", json_string_value(v));
		else if (json_is_integer(v))
			snprintf(text, sizeof(text), "%lld", (long long)json_integer_value(v));
		else if (json_is_boolean(v))
			snprintf(text, sizeof(text), "%s", json_is_true(v) ? "on" : "off");
		else
			snprintf(text, sizeof(text), "?");
		if (migdp_conv_param_set(&p, key, text, err, errlen) < 0)
			return NULL;
	}
	if (D.active) {
		D.sess.params = p;
		migdp_session_apply_params(&D.sess);
	} else {
		D.params = p;
		D.params_set = true;
	}
	return json_pack("{s:b}", "applied_to_running", D.active);
}

static const struct migdp_ctl_command commands[] = {
	{"query-migrate", cmd_query_migrate, "the running (or last) migration: state, "
	 "round, pages, rates, expected downtime, rounds, channels, transitions; {vm}"},
	{"query-sessions", cmd_query_sessions, "sessions and connected VMs"},
	{"migrate", cmd_migrate, "source: migrate a connected VM {vm, peer: IPv4}"},
	{"migrate-incoming", cmd_incoming, "destination: receive a connected VM {vm}"},
	{"migrate-cancel", cmd_cancel, "cancel the running migration {vm}"},
	{"migrate-set-parameters", cmd_set_parameters, "{downtime-limit, max-bandwidth, "
	 "max-rounds, auto-converge, throttle-initial, throttle-step, throttle-max}"},
};

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

/* Until stopped (daemon) or until the one migration ended. */
static int
serve(void)
{
	struct migdp_idle idle = {0};
	uint64_t deadline = migdp_now_ns() + (uint64_t)D.a.run.wait_ms * 1000000u;
	bool cancelled = false;
	char err[160];
	int work;

	for (;;) {
		work = D.sock != NULL ? migdp_ctlsock_poll(D.sock, 0) : 0;
		if (signalled && D.active && !cancelled) {
			cancelled = true;
			if (migdp_session_cancel(&D.sess, "interrupted", err, sizeof(err)) < 0)
				MIGDP_LOG(WARNING, "signal: %s; finishing the commit", err);
		}
		if (D.active) {
			if (!migdp_session_step(&D.sess)) {
				session_finish();
				migdp_telemetry_publish(NULL);
				if (!D.a.daemon || signalled) {
					linger();
					return D.last_rc;
				}
				continue;
			}
			migdp_telemetry_publish(&D.sess);
			work += (int)D.sess.work;
			migdp_idle(&D.cfg, &idle, work > 0);
			continue;
		}
		if (signalled)
			return D.a.daemon ? 0 : 1;
		vm_accept();
		if (!D.a.daemon && vm_find(NULL) >= 0 && D.sessions == 0) {
			if (session_begin(vm_find(NULL), 0, err, sizeof(err)) < 0) {
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
	int n, ret = 1;
	unsigned i;

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
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	migdp_clock_init();
	migdp_session_event_hook = on_session_event;

	D.srv = migshim_server_create(D.cfg.shim_socket, D.cfg.role == MIGDP_ROLE_SOURCE ?
				      MIGSHIM_ROLE_SOURCE : MIGSHIM_ROLE_DESTINATION, 0);
	if (D.srv == NULL) {
		MIGDP_LOG(ERR, "shim socket %s: %s", D.cfg.shim_socket, strerror(errno));
		goto out;
	}
	D.sock = migdp_ctlsock_open(D.cfg.control_socket, commands, RTE_DIM(commands), NULL);
	if (D.sock == NULL) {
		MIGDP_LOG(ERR, "control socket %s: %s", D.cfg.control_socket, strerror(errno));
		goto out;
	}
	migdp_telemetry_init();
	if (migdp_port_open(&D.port, &D.cfg, (uint16_t)(D.cfg.channels.count + 1),
			    D.a.run.wait_ms) < 0)
		goto out;
	MIGDP_LOG(INFO, "%s: hypervisors on %s, control on %s", D.a.daemon ? "serving" :
		  "waiting for a hypervisor", D.cfg.shim_socket, D.cfg.control_socket);
	ret = serve();
	migdp_port_close(&D.port);
out:
	for (i = 0; i < MAX_VMS; i++)
		migshim_session_close(D.vms[i]);
	migdp_ctlsock_close(D.sock);
	migshim_server_destroy(D.srv);
	json_decref(D.last_status);
	rte_eal_cleanup();
	return ret;
}
