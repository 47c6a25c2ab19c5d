/* SPDX-License-Identifier: BSD-3-Clause */
/* The session state machine: a (state, event) table, the few rules that
 * depend on more than the state (role, the go flag), and one function that
 * applies and logs a transition. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fsm.h"

/* Who may send an event: both roles, the source only, the destination only. */
enum role { BOTH, SRC, DST };

/* One cell of the table: ok false means "illegal". */
struct cell {
	bool ok;
	enum role role;
	enum migdp_state next;
};

#define L(st) { .ok = true, .role = BOTH, .next = MIGDP_ST_##st }
#define LS(st) { .ok = true, .role = SRC, .next = MIGDP_ST_##st }
#define LD(st) { .ok = true, .role = DST, .next = MIGDP_ST_##st }
/* Cancel and fail end every non-terminal state (before go: see apply()). */
#define ENDS \
	[MIGDP_EV_CANCEL] = L(CANCELLED), \
	[MIGDP_EV_FAIL] = L(FAILED)

static const struct cell table[MIGDP_ST_MAX][MIGDP_EV_MAX] = {
	[MIGDP_ST_SETUP] = {
		[MIGDP_EV_START] = L(HANDSHAKE),
		ENDS,
	},
	[MIGDP_ST_HANDSHAKE] = {
		[MIGDP_EV_ACCEPTED] = L(PRECOPY),
		[MIGDP_EV_STREAM_ACCEPTED] = L(STREAMING),
		ENDS,
	},
	[MIGDP_ST_STREAMING] = {
		/* Every connection closed both ways, every byte acknowledged. */
		[MIGDP_EV_STREAMS_CLOSED] = L(COMPLETED),
		ENDS,
	},
	[MIGDP_ST_PRECOPY] = {
		[MIGDP_EV_ROUND_DRAINED] = L(PRECOPY),
		[MIGDP_EV_CONVERGED] = LS(SWITCHOVER),
		[MIGDP_EV_COMMIT_REQUEST] = LD(COMMIT),
		ENDS,
	},
	[MIGDP_ST_SWITCHOVER] = {
		/* The final dirty pass drained. */
		[MIGDP_EV_ROUND_DRAINED] = L(DEVICE_STATE),
		[MIGDP_EV_COMMIT_REQUEST] = LD(COMMIT),
		ENDS,
	},
	[MIGDP_ST_DEVICE_STATE] = {
		/* The device state drained. */
		[MIGDP_EV_ROUND_DRAINED] = L(COMMIT),
		[MIGDP_EV_COMMIT_REQUEST] = LD(COMMIT),
		ENDS,
	},
	[MIGDP_ST_COMMIT] = {
		[MIGDP_EV_GO] = L(COMMIT),
		[MIGDP_EV_CONFIRMED] = L(COMPLETED),
		ENDS,
		/* Source past go: the destination said it discarded (it never
		 * resumes after that), so the VM resumes here. */
		[MIGDP_EV_DISCARDED] = LS(FAILED),
	},
	/* COMPLETED, CANCELLED, FAILED: everything refused. */
};

#undef ENDS
#undef LD
#undef LS
#undef L

static const char *const state_names[] = {
#define _(n, s) [MIGDP_ST_##n] = s,
	MIGDP_FOREACH_STATE(_)
#undef _
};

static const char *const event_names[] = {
#define _(n, s) [MIGDP_EV_##n] = s,
	MIGDP_FOREACH_EVENT(_)
#undef _
};

static const char *const command_names[] = {
#define _(n, s) [MIGDP_CMD_##n] = s,
	MIGDP_FOREACH_COMMAND(_)
#undef _
};

const char *
migdp_state_name(unsigned state)
{
	return state < MIGDP_ST_MAX ? state_names[state] : "unknown";
}

const char *
migdp_event_name(unsigned ev)
{
	return ev < MIGDP_EV_MAX ? event_names[ev] : "unknown";
}

const char *
migdp_command_name(unsigned cmd)
{
	return cmd < MIGDP_CMD_MAX ? command_names[cmd] : "unknown";
}

static bool
state_terminal(enum migdp_state st)
{
	return st == MIGDP_ST_COMPLETED || st == MIGDP_ST_CANCELLED ||
		st == MIGDP_ST_FAILED;
}

bool
migdp_fsm_terminal(const struct migdp_fsm *f)
{
	return f != NULL && state_terminal(f->state);
}

void
migdp_fsm_init(struct migdp_fsm *f, bool source, uint64_t now_ns)
{
	memset(f, 0, sizeof(*f));
	f->source = source;
	f->state = MIGDP_ST_SETUP;
	f->entered_ns = now_ns;
}

void
migdp_fsm_set_hook(struct migdp_fsm *f,
		   void (*hook)(void *arg, const struct migdp_fsm_transition *t),
		   void *arg)
{
	f->hook = hook;
	f->hook_arg = arg;
}

/* The next state for @ev, or -EPERM. The table, then the rules it cannot
 * say: the role of an event, and the go flag of the commit. */
static int
next_state(const struct migdp_fsm *f, enum migdp_event ev,
	   enum migdp_state *next)
{
	const struct cell *c = &table[f->state][ev];

	if (!c->ok)
		return -EPERM;
	if ((c->role == SRC && !f->source) || (c->role == DST && f->source))
		return -EPERM;
	*next = c->next;
	if (f->state != MIGDP_ST_COMMIT)
		return 0;
	switch (ev) {
	case MIGDP_EV_GO:		/* once */
	case MIGDP_EV_CANCEL:		/* the VM is handed over */
		return f->go ? -EPERM : 0;
	case MIGDP_EV_CONFIRMED:	/* only what was sent or received */
	case MIGDP_EV_DISCARDED:	/* before go it is a plain failure */
		return f->go ? 0 : -EPERM;
	case MIGDP_EV_FAIL:		/* past go the VM runs at the destination */
		if (f->go)
			*next = MIGDP_ST_COMPLETED;
		return 0;
	default:
		return 0;
	}
}

/* The one place a transition is applied and logged. */
static void
apply(struct migdp_fsm *f, enum migdp_event ev, enum migdp_state next,
      const char *reason, uint64_t now_ns)
{
	struct migdp_fsm_transition *t = &f->log[f->nlog % MIGDP_FSM_LOG];
	enum migdp_state from = f->state;

	if (reason == NULL)
		reason = "";
	if (ev == MIGDP_EV_ACCEPTED)
		f->round = 1;
	else if (ev == MIGDP_EV_ROUND_DRAINED && from == MIGDP_ST_PRECOPY)
		f->round++;
	else if (ev == MIGDP_EV_GO)
		f->go = true;
	if (ev == MIGDP_EV_FAIL || ev == MIGDP_EV_CANCEL || ev == MIGDP_EV_DISCARDED) {
		if (f->go && f->source && ev != MIGDP_EV_DISCARDED)
			f->outcome_unknown = true;
		snprintf(f->reason, sizeof(f->reason), "%s",
			 reason[0] != '\0' ? reason : migdp_event_name(ev));
	}
	if (next != from) {
		if (now_ns > f->entered_ns)
			f->state_ns[from] += now_ns - f->entered_ns;
		f->entered_ns = now_ns;
		f->state = next;
	}

	t->from = from;
	t->to = next;
	t->ev = ev;
	t->round = f->round;
	t->at_ns = now_ns;
	snprintf(t->reason, sizeof(t->reason), "%s", reason);
	f->nlog++;
	if (f->hook != NULL)
		f->hook(f->hook_arg, t);
}

int
migdp_fsm_event(struct migdp_fsm *f, enum migdp_event ev, const char *reason,
		uint64_t now_ns)
{
	enum migdp_state next;

	if ((unsigned)ev >= MIGDP_EV_MAX) {
		snprintf(f->last_error, sizeof(f->last_error),
			 "event %u unknown", (unsigned)ev);
		return -EINVAL;
	}
	if (next_state(f, ev, &next) < 0) {
		snprintf(f->last_error, sizeof(f->last_error),
			 "event %s not allowed in state %s",
			 migdp_event_name(ev), migdp_state_name(f->state));
		return -EPERM;
	}
	apply(f, ev, next, reason, now_ns);
	return 0;
}

static const char *
refuse(char *buf, size_t len, enum migdp_command c, const char *st)
{
	snprintf(buf, len, "%s refused in state %s", migdp_command_name(c), st);
	return buf;
}

const char *
migdp_fsm_check_command(const struct migdp_fsm *f, enum migdp_command c,
			char *buf, size_t len)
{
	bool none = f == NULL;
	bool ended = !none && state_terminal(f->state);
	const char *st = none ? "none (no session)" : migdp_state_name(f->state);

	switch (c) {
	case MIGDP_CMD_MIGRATE:
	case MIGDP_CMD_INCOMING:
		/* A new session replaces one that has not started or ended. */
		if (none || ended || f->state == MIGDP_ST_SETUP)
			return NULL;
		return refuse(buf, len, c, st);
	case MIGDP_CMD_CANCEL:
		if (none || ended)
			return refuse(buf, len, c, st);
		if (f->go) {
			snprintf(buf, len, "%s refused: the VM is handed over "
				 "(commit past go)", migdp_command_name(c));
			return buf;
		}
		return NULL;
	case MIGDP_CMD_SET_PARAMETERS:
		/* Parameters only steer pre-copy; after the end they are
		 * for the next session. */
		if (none || ended || f->state <= MIGDP_ST_PRECOPY ||
		    f->state == MIGDP_ST_STREAMING) /* max-bandwidth */
			return NULL;
		return refuse(buf, len, c, st);
	case MIGDP_CMD_QUERY:
		return NULL;
	default:
		snprintf(buf, len, "command %u unknown", (unsigned)c);
		return buf;
	}
}
