/* SPDX-License-Identifier: BSD-3-Clause */
/* Channel lcores shared by sessions (DESIGN "The daemon and its
 * sessions"): worker i polls queue 1 + i and serves channel i of every
 * running session, frames demultiplexed by session id, each channel's
 * tick in turn (round-robin per burst). The control lcore attaches and
 * detaches channels through a request ring, never by writing a worker's
 * state. */
#ifndef MIGDP_WORKER_H
#define MIGDP_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>

#include "dp.h"

/** Sessions a worker serves at once, at most. */
#define MIGDP_MAX_SESSIONS 8

struct migdp_worker {
	/* Set at start. */
	struct migdp_workers *all;
	unsigned id;                 /* channel index: queue 1 + id */
	unsigned lcore;
	struct rte_ring *req;        /* control -> worker: attach / detach */
	struct rte_ring *inbox;      /* frames other lcores received for us */
	/* Owned by the worker lcore. */
	struct migdp_chan *items[MIGDP_MAX_SESSIONS];
	unsigned n, next;            /* items, the first to tick next time */
	struct migdp_fault frx;
	struct migdp_lstats st;      /* frames of no session, misrouted */
	uint8_t *scratch;
	struct migdp_idle idle;
} __rte_cache_aligned;

/** Every worker of the process, and where control frames go. */
struct migdp_workers {
	const struct migdp_config *cfg;
	const struct migdp_port *port;
	const struct migdp_chan_role *role;
	unsigned n;
	struct rte_ring *ctl_inbox;  /* frames for the control lcore */
	_Atomic bool quit;
	struct migdp_worker w[MIGDP_MAX_CHANNELS];
};

/** Create @p cfg's workers (one per channel, on the channel lcores of
 * @p lcores) for @p port, and launch them. @return 0 or -errno. */
int migdp_workers_start(struct migdp_workers *ws, const struct migdp_config *cfg,
			const struct migdp_port *port, const unsigned *lcores);
/** Stop the workers and free them. */
void migdp_workers_stop(struct migdp_workers *ws);

/** Control lcore: channels of @p ctx join their workers / leave them.
 * Detach waits (bounded) until every worker let go of them. @return 0,
 * or -EAGAIN (a request ring full) / -ETIMEDOUT. */
int migdp_workers_attach(struct migdp_workers *ws, struct migdp_ctx *ctx);
int migdp_workers_detach(struct migdp_workers *ws, struct migdp_ctx *ctx);

/** Who handles @p m, by its UDP port: 0 the control lcore, 1 + i
 * worker i. */
unsigned migdp_workers_owner(const struct migdp_workers *ws, const struct rte_mbuf *m);

/** Session id of migdp frame @p m (0 when it is not one). */
uint64_t migdp_frame_session(const struct rte_mbuf *m);

#endif
