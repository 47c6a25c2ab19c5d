/* SPDX-License-Identifier: BSD-3-Clause */
/* migguest's private declarations: options, guest memory, the result the
 * JSON line reports, and the parts of the program (memory and the static
 * session in guest_mem.c, vCPUs in guest_workload.c, the live migration in
 * guest_live.c and guest_live_dst.c). */
#ifndef GUEST_H
#define GUEST_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "genmem.h"
#include "migshim.h"

#define GUEST_BLOCK_PAGES 512 /* migshim's default block: 2 MiB */
#define GUEST_MAX_RUN 512
#define GUEST_RING_SIZE 4096

enum guest_workload_kind {
	GUEST_WL_IDLE = 0,
	GUEST_WL_STEADY,
	GUEST_WL_HOT,
	GUEST_WL_STREAM,
};

struct guest_opts {
	enum migshim_role role;
	const char *socket, *image, *mix_text, *name;
	uint64_t mem;          /* 0: the image's size */
	uint64_t device_state; /* bytes (page multiple), 0: none */
	uint64_t dirty_rate;   /* page writes per second, all vCPUs */
	uint64_t hot_pages;    /* 0: 1% of RAM */
	struct migdp_genmix mix;
	enum guest_workload_kind workload;
	unsigned long seed, channels, timeout_s, vcpus, run_after_ms;
	bool hugepages, live, no_verify;
};

struct guest {
	int fd;
	uint8_t *mem;
	uint64_t size;
	int dev_fd;        /* device-state region (live only), -1: none */
	uint8_t *dev_mem;
	uint64_t dev_size;
};

/* A round as pushed: its number, its pages and descriptors. */
struct guest_round {
	uint64_t round, pages, descs;
};

struct guest_result {
	const char *status;
	char reason[320];
	char digest[GENMEM_DIGEST_HEX_LEN];
	char digest_after[GENMEM_DIGEST_HEX_LEN]; /* source: at the end */
	char digest_at_pause[GENMEM_DIGEST_HEX_LEN];
	uint64_t pages, descs, event_arg;
	uint32_t event_value;
	double alloc_ms, fill_ms, push_ms, wait_ms, digest_ms, verify_ms;
	/* Live. */
	struct guest_round *rounds;
	unsigned nrounds;
	uint64_t writes, resumed_writes, pause_ns;
	unsigned throttle_max;
	bool paused, resumed_after_failure, unconfirmed, verified;
	bool have_downtime;
	double downtime_ms;
};

extern volatile sig_atomic_t guest_stop_sig;

double guest_now_ms(void);
uint64_t guest_now_ns(void);
/* Record why we fail in @p r. @return -1. */
int guest_fail(struct guest_result *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
double guest_deadline(unsigned long timeout_s);
bool guest_expired(double deadline);

/* guest_mem.c */
int guest_alloc(struct guest *g, const struct guest_opts *o,
		struct guest_result *r);
int guest_prepare_source(const struct guest_opts *o, struct guest *g,
			 struct guest_result *r);
int guest_connect(struct migshim_client *c, const struct guest_opts *o,
		  struct guest_result *r);
/* The session without --live: every page once, final; wait for the end. */
/* The shim client of this guest (its role, rings, name). */
struct migshim_client *guest_client_create(const struct guest_opts *o);
int guest_static_session(const struct guest_opts *o, struct guest *g,
			 struct guest_result *r);

/* guest_live.c, guest_live_dst.c: the session with --live. */
int guest_live_session(const struct guest_opts *o, struct guest *g,
		       struct guest_result *r);
int guest_live_destination(const struct guest_opts *o, struct guest *g,
			   struct migshim_client *c, struct guest_result *r);
/* Append a round to the report. */
void guest_result_round(struct guest_result *r, uint64_t round,
			uint64_t pages, uint64_t descs);

#endif /* GUEST_H */
