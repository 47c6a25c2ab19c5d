/* SPDX-License-Identifier: BSD-3-Clause */
/* Private to control/daemon*.c: what lives as long as the migdp process
 * (DESIGN "The daemon and its sessions"). */
#ifndef MIGDP_DAEMON_H
#define MIGDP_DAEMON_H

#include <jansson.h>

#include "converge.h"
#include "ctlsock.h"
#include "session.h"
#include "worker.h"

#define MAX_VMS 16
#define MAX_ENDED 16

struct args {
	const char *config;
	const char *role;
	const char *sets[64];
	unsigned nsets;
	bool daemon;
	struct migdp_run_opts run;
};

/* One running migration: its configuration (its peer), its data-plane
 * context and its session. */
struct slot {
	bool active;
	struct migdp_config cfg;
	struct migdp_ctx ctx;
	struct migdp_session sess;
};

struct daemon {
	struct migdp_config cfg;       /* as loaded */
	struct args a;
	struct migshim_server *srv;
	struct migshim_session *vms[MAX_VMS]; /* connected hypervisors */
	struct migdp_port port;
	struct migdp_workers ws;       /* the channel lcores */
	struct migdp_ctlsock *sock;
	struct rte_ether_addr mac;     /* our address on the link */
	uint32_t ip;                   /* host order */
	struct slot slots[MIGDP_MAX_SESSIONS];
	json_t *ended[MAX_ENDED];      /* status of sessions that ended, oldest first */
	unsigned nended;
	int last_rc;                   /* 0: the last session committed */
	unsigned sessions;             /* sessions started */
	struct migdp_conv_params params; /* for the next sessions */
	bool params_set;
	struct migdp_lstats st;        /* control frames of no session */
};

extern struct daemon D;
extern const struct migdp_ctl_command migdp_daemon_commands[];
extern const unsigned migdp_daemon_ncommands;

/* daemon.c */
int migdp_daemon_vm_find(const char *name);
void migdp_daemon_vm_names(char *buf, size_t len);
bool migdp_daemon_vm_busy(int vm);
/* The running session of @p vm, or with @p vm NULL the only one; NULL with
 * the reason in @p err (none, not that VM, several running). */
struct slot *migdp_daemon_slot_of(const char *vm, char *err, size_t errlen);
unsigned migdp_daemon_active(void);
int migdp_daemon_begin(int vm, const char *stream, const char *path, uint32_t peer_ip,
		       const char *key_file, int encrypt, char *err, size_t errlen);
void migdp_daemon_default_params(struct migdp_conv_params *p);

/* daemon_rx.c */
/** Queue 0 and the frames the workers handed over: each to its session.
 * @return frames. */
unsigned migdp_daemon_ctl_rx(void);

#endif
