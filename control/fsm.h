/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file fsm.h
 * One explicit state machine for a migration session, both roles.
 *
 * The session is data: a state, the pre-copy round, the "go" flag (the
 * point of no return of the commit) and a log of the last transitions.
 * Callers feed it events; it answers 0 (applied, logged, hook called) or
 * -EPERM (refused, nothing changed, f->last_error says why). It never
 * blocks, sends or reads a clock: every time is passed in.
 *
 * Paths:
 *   source:      setup -start-> handshake -accepted-> precopy
 *                (-round-drained-> precopy, round + 1)* -converged->
 *                switchover -round-drained-> device-state -round-drained->
 *                commit -go-> commit (go) -confirmed-> completed
 *   destination: setup -start-> handshake -accepted-> precopy
 *                (-round-drained->)* -commit-request-> commit -go->
 *                commit (go) -confirmed-> completed
 *   stream sessions (both roles: a hypervisor's own migration streams,
 *   docs/qemu.md): setup -start-> handshake -stream-accepted-> streaming
 *                -streams-closed-> completed
 * Before go, cancel and fail end the session from any non-terminal state.
 * After go, cancel is refused and fail ends it "completed": at the source
 * with outcome_unknown (the VM is handed over, unconfirmed), at the
 * destination plainly (its VM runs).
 *
 * Pure C11, no DPDK: unit-tested in tests/test_control_fsm.c.
 */
#ifndef MIGDP_FSM_H
#define MIGDP_FSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Session states (X-macro: one line each). */
#define MIGDP_FOREACH_STATE(_) \
	_(SETUP, "setup") \
	_(HANDSHAKE, "handshake") \
	_(PRECOPY, "precopy") \
	_(SWITCHOVER, "switchover") \
	_(DEVICE_STATE, "device-state") \
	_(STREAMING, "streaming") \
	_(COMMIT, "commit") \
	_(COMPLETED, "completed") \
	_(CANCELLED, "cancelled") \
	_(FAILED, "failed")

enum migdp_state {
#define _(n, s) MIGDP_ST_##n,
	MIGDP_FOREACH_STATE(_)
#undef _
	MIGDP_ST_MAX
};

/** Session events. */
#define MIGDP_FOREACH_EVENT(_) \
	_(START, "start") \
	_(ACCEPTED, "accepted") \
	_(ROUND_DRAINED, "round-drained") \
	_(CONVERGED, "converged") \
	_(COMMIT_REQUEST, "commit-request") \
	_(GO, "go") \
	_(CONFIRMED, "confirmed") \
	_(CANCEL, "cancel") \
	_(FAIL, "fail") \
	_(DISCARDED, "discarded") \
	_(STREAM_ACCEPTED, "stream-accepted") \
	_(STREAMS_CLOSED, "streams-closed")

enum migdp_event {
#define _(n, s) MIGDP_EV_##n,
	MIGDP_FOREACH_EVENT(_)
#undef _
	MIGDP_EV_MAX
};

/** Control commands whose legality depends on the session state. */
#define MIGDP_FOREACH_COMMAND(_) \
	_(MIGRATE, "migrate") \
	_(INCOMING, "migrate-incoming") \
	_(CANCEL, "migrate-cancel") \
	_(SET_PARAMETERS, "migrate-set-parameters") \
	_(QUERY, "query-migrate")

enum migdp_command {
#define _(n, s) MIGDP_CMD_##n,
	MIGDP_FOREACH_COMMAND(_)
#undef _
	MIGDP_CMD_MAX
};

/** One applied transition. @c round is the round after it. */
struct migdp_fsm_transition {
	enum migdp_state from, to;
	enum migdp_event ev;
	unsigned round;
	uint64_t at_ns;
	char reason[96];
};

#define MIGDP_FSM_LOG 64 /**< ring of the last transitions */

/** Called after each legal transition, with the logged entry. */
typedef void (*migdp_fsm_hook_t)(void *arg,
				 const struct migdp_fsm_transition *t);

struct migdp_fsm {
	/* Set at init. */
	bool source;               /**< role */
	migdp_fsm_hook_t hook;     /**< optional, migdp_fsm_set_hook() */
	void *hook_arg;

	/* Written by migdp_fsm_event() only. */
	enum migdp_state state;
	unsigned round;            /**< current pre-copy round, 0 before precopy */
	bool go;                   /**< past the point of no return */
	bool outcome_unknown;      /**< source: GO sent, confirmation never came */
	char reason[128];          /**< why it ended (failed/cancelled/unknown), "" */
	char last_error[128];      /**< why the last refused event was refused */
	uint64_t entered_ns;       /**< when the current state was entered */
	uint64_t state_ns[MIGDP_ST_MAX]; /**< time spent per state (closed states) */
	struct migdp_fsm_transition log[MIGDP_FSM_LOG];
	unsigned nlog;             /**< transitions ever; index = n % MIGDP_FSM_LOG */
};

/** Start a session in SETUP for @p source (true) or the destination. */
void
migdp_fsm_init(struct migdp_fsm *f, bool source, uint64_t now_ns);

/**
 * Apply @p ev; @p reason may be NULL. Legal: updates state, round and go,
 * logs the transition (self-transitions such as a pre-copy round n -> n+1
 * and GO included), calls the hook, returns 0. Illegal: returns -EPERM,
 * nothing changes but f->last_error ("event <ev> not allowed in state
 * <state>"). An event out of range returns -EINVAL the same way.
 */
int
migdp_fsm_event(struct migdp_fsm *f, enum migdp_event ev, const char *reason,
		uint64_t now_ns);

/** Set (or clear, with NULL) the transition hook. */
void
migdp_fsm_set_hook(struct migdp_fsm *f,
		   void (*hook)(void *arg, const struct migdp_fsm_transition *t),
		   void *arg);

/** True in COMPLETED, CANCELLED and FAILED. */
bool
migdp_fsm_terminal(const struct migdp_fsm *f);

/**
 * Whether control command @p c may run now. @p f NULL means "no session
 * yet". Returns NULL when legal, else @p buf filled with why (naming the
 * state), e.g. "migrate-cancel refused in state completed".
 */
const char *
migdp_fsm_check_command(const struct migdp_fsm *f, enum migdp_command c,
			char *buf, size_t len);

/** Names for logs; "unknown" when out of range. */
const char *
migdp_state_name(unsigned state);
const char *
migdp_event_name(unsigned ev);
const char *
migdp_command_name(unsigned cmd);

#endif
