/* SPDX-License-Identifier: BSD-3-Clause */
/* Pure control logic, no DPDK: the session state machine (every cell of
 * its table, both roles), the convergence policy on synthetic workloads,
 * and the atomic commit under every loss pattern of its first messages. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "commit.h"
#include "converge.h"
#include "cu_main.h"
#include "fsm.h"

/* ======================================================================== */
/* State machine */

/* Situations a session can be in, each reached by a path of events. */
enum sit {
	S_SETUP, S_HANDSHAKE, S_PRECOPY, S_SWITCHOVER, S_DEVICE, S_COMMIT,
	S_COMMIT_GO, S_COMPLETED, S_CANCELLED, S_FAILED, S_STREAMING, S_MAX
};

static const char *const sit_names[S_MAX] = {
	"setup", "handshake", "precopy", "switchover", "device-state",
	"commit", "commit+go", "completed", "cancelled", "failed", "streaming",
};

static const enum migdp_state sit_state[S_MAX] = {
	MIGDP_ST_SETUP, MIGDP_ST_HANDSHAKE, MIGDP_ST_PRECOPY,
	MIGDP_ST_SWITCHOVER, MIGDP_ST_DEVICE_STATE, MIGDP_ST_COMMIT,
	MIGDP_ST_COMMIT, MIGDP_ST_COMPLETED, MIGDP_ST_CANCELLED,
	MIGDP_ST_FAILED, MIGDP_ST_STREAMING,
};

#define END MIGDP_EV_MAX
#define E(x) MIGDP_EV_##x

/* Paths from SETUP, per role ([0] destination, [1] source). The
 * destination cannot reach switchover and device-state: NULL. */
static const enum migdp_event *
path_of(bool source, enum sit s)
{
	static const enum migdp_event p[2][S_MAX][8] = {
		[0] = {
			[S_SETUP] = {END},
			[S_HANDSHAKE] = {E(START), END},
			[S_PRECOPY] = {E(START), E(ACCEPTED), END},
			[S_COMMIT] = {E(START), E(ACCEPTED), E(COMMIT_REQUEST), END},
			[S_COMMIT_GO] = {E(START), E(ACCEPTED), E(COMMIT_REQUEST),
				E(GO), END},
			[S_COMPLETED] = {E(START), E(ACCEPTED), E(COMMIT_REQUEST),
				E(GO), E(CONFIRMED), END},
			[S_CANCELLED] = {E(START), E(CANCEL), END},
			[S_FAILED] = {E(START), E(ACCEPTED), E(FAIL), END},
			[S_STREAMING] = {E(START), E(STREAM_ACCEPTED), END},
		},
		[1] = {
			[S_SETUP] = {END},
			[S_HANDSHAKE] = {E(START), END},
			[S_PRECOPY] = {E(START), E(ACCEPTED), END},
			[S_SWITCHOVER] = {E(START), E(ACCEPTED), E(CONVERGED), END},
			[S_DEVICE] = {E(START), E(ACCEPTED), E(CONVERGED),
				E(ROUND_DRAINED), END},
			[S_COMMIT] = {E(START), E(ACCEPTED), E(CONVERGED),
				E(ROUND_DRAINED), E(ROUND_DRAINED), END},
			[S_COMMIT_GO] = {E(START), E(ACCEPTED), E(CONVERGED),
				E(ROUND_DRAINED), E(ROUND_DRAINED), E(GO), END},
			[S_COMPLETED] = {E(START), E(ACCEPTED), E(CONVERGED),
				E(ROUND_DRAINED), E(ROUND_DRAINED), E(GO),
				E(CONFIRMED), END},
			[S_CANCELLED] = {E(START), E(ACCEPTED), E(CANCEL), END},
			[S_FAILED] = {E(FAIL), END},
			[S_STREAMING] = {E(START), E(STREAM_ACCEPTED), END},
		},
	};

	if (!source && (s == S_SWITCHOVER || s == S_DEVICE))
		return NULL;
	return p[source][s];
}

/* Bring @f to @s; false when the role cannot get there. */
static bool
reach(struct migdp_fsm *f, bool source, enum sit s)
{
	const enum migdp_event *p = path_of(source, s);
	uint64_t t = 1000;

	migdp_fsm_init(f, source, 0);
	if (p == NULL)
		return false;
	for (; *p != END; p++)
		CU_ASSERT_FATAL(migdp_fsm_event(f, *p, NULL, t += 1000) == 0);
	CU_ASSERT_FATAL(f->state == sit_state[s]);
	CU_ASSERT_FATAL(f->go == (s == S_COMMIT_GO || s == S_COMPLETED));
	return true;
}

/* The legal transitions: everything not listed here must be refused. */
struct legal {
	bool source;
	enum sit from;
	enum migdp_event ev;
	enum migdp_state to;
};

#define ST(x) MIGDP_ST_##x
#define BOTH_ROLES(s, ev, to) {false, s, E(ev), ST(to)}, {true, s, E(ev), ST(to)}
#define ENDS(s) BOTH_ROLES(s, CANCEL, CANCELLED), BOTH_ROLES(s, FAIL, FAILED)

static const struct legal legal[] = {
	BOTH_ROLES(S_SETUP, START, HANDSHAKE), ENDS(S_SETUP),
	BOTH_ROLES(S_HANDSHAKE, ACCEPTED, PRECOPY), ENDS(S_HANDSHAKE),
	BOTH_ROLES(S_HANDSHAKE, STREAM_ACCEPTED, STREAMING),
	BOTH_ROLES(S_STREAMING, STREAMS_CLOSED, COMPLETED), ENDS(S_STREAMING),
	BOTH_ROLES(S_PRECOPY, ROUND_DRAINED, PRECOPY), ENDS(S_PRECOPY),
	{true, S_PRECOPY, E(CONVERGED), ST(SWITCHOVER)},
	{false, S_PRECOPY, E(COMMIT_REQUEST), ST(COMMIT)},
	{true, S_SWITCHOVER, E(ROUND_DRAINED), ST(DEVICE_STATE)},
	{true, S_SWITCHOVER, E(CANCEL), ST(CANCELLED)},
	{true, S_SWITCHOVER, E(FAIL), ST(FAILED)},
	{true, S_DEVICE, E(ROUND_DRAINED), ST(COMMIT)},
	{true, S_DEVICE, E(CANCEL), ST(CANCELLED)},
	{true, S_DEVICE, E(FAIL), ST(FAILED)},
	BOTH_ROLES(S_COMMIT, GO, COMMIT), ENDS(S_COMMIT),
	BOTH_ROLES(S_COMMIT_GO, CONFIRMED, COMPLETED),
	BOTH_ROLES(S_COMMIT_GO, FAIL, COMPLETED),
	{true, S_COMMIT_GO, E(DISCARDED), ST(FAILED)},
};

#define NLEGAL (sizeof(legal) / sizeof(legal[0]))

static const struct legal *
find_legal(bool source, enum sit s, enum migdp_event ev)
{
	unsigned i;

	for (i = 0; i < NLEGAL; i++)
		if (legal[i].source == source && legal[i].from == s &&
		    legal[i].ev == ev)
			return &legal[i];
	return NULL;
}

static void
test_fsm_legal(void)
{
	struct migdp_fsm f;
	const struct migdp_fsm_transition *t;
	unsigned i, round;

	for (i = 0; i < NLEGAL; i++) {
		const struct legal *l = &legal[i];

		CU_ASSERT_FATAL(reach(&f, l->source, l->from));
		round = f.round;
		CU_ASSERT_EQUAL(migdp_fsm_event(&f, l->ev, "why", 99000), 0);
		if (f.state != l->to)
			printf("\n  %s %s + %s: %s, expected %s\n",
			       l->source ? "source" : "destination",
			       sit_names[l->from], migdp_event_name(l->ev),
			       migdp_state_name(f.state),
			       migdp_state_name(l->to));
		CU_ASSERT_EQUAL(f.state, l->to);
		t = &f.log[(f.nlog - 1) % MIGDP_FSM_LOG];
		CU_ASSERT_EQUAL(t->from, sit_state[l->from]);
		CU_ASSERT_EQUAL(t->to, l->to);
		CU_ASSERT_EQUAL(t->ev, l->ev);
		CU_ASSERT_EQUAL(t->at_ns, 99000);
		CU_ASSERT_STRING_EQUAL(t->reason, "why");
		if (l->ev == E(GO))
			CU_ASSERT_TRUE(f.go);
		if (l->ev == E(ACCEPTED))
			round = 0;
		if (l->ev == E(ACCEPTED) ||
		    (l->ev == E(ROUND_DRAINED) && l->from == S_PRECOPY))
			round++;
		CU_ASSERT_EQUAL(f.round, round);
		CU_ASSERT_EQUAL(t->round, f.round);
	}
}

/* Every (situation, event) not in legal[] is refused and changes nothing. */
static void
test_fsm_illegal(void)
{
	struct migdp_fsm f, before;
	char want[128];
	unsigned role, s, ev, nlegal = 0, nrefused = 0;
	int rc;

	for (role = 0; role < 2; role++) {
		for (s = 0; s < S_MAX; s++) {
			for (ev = 0; ev < MIGDP_EV_MAX; ev++) {
				if (!reach(&f, role, s))
					continue;
				if (find_legal(role, s, ev) != NULL) {
					nlegal++;
					continue;
				}
				before = f;
				rc = migdp_fsm_event(&f, ev, "x", 50000);
				CU_ASSERT_EQUAL(rc, -EPERM);
				if (rc != -EPERM)
					printf("\n  %s %s + %s accepted\n",
					       role ? "source" : "destination",
					       sit_names[s], migdp_event_name(ev));
				snprintf(want, sizeof(want),
					 "event %s not allowed in state %s",
					 migdp_event_name(ev),
					 migdp_state_name(sit_state[s]));
				CU_ASSERT_STRING_EQUAL(f.last_error, want);
				memcpy(before.last_error, f.last_error,
				       sizeof(f.last_error));
				CU_ASSERT(memcmp(&before, &f, sizeof(f)) == 0);
				nrefused++;
			}
		}
	}
	/* Every listed transition starts from a reachable situation. */
	CU_ASSERT_EQUAL(nlegal, NLEGAL);
	CU_ASSERT_EQUAL(nlegal + nrefused, (2 * S_MAX - 2) * MIGDP_EV_MAX);

	migdp_fsm_init(&f, true, 0);
	CU_ASSERT_EQUAL(migdp_fsm_event(&f, MIGDP_EV_MAX, NULL, 1), -EINVAL);
	CU_ASSERT_EQUAL(f.state, MIGDP_ST_SETUP);
	CU_ASSERT_EQUAL(f.nlog, 0);
}

/* The destination's table row for the states it never reaches: forced. */
static void
test_fsm_dst_forced(void)
{
	static const enum migdp_state st[] = {
		MIGDP_ST_SWITCHOVER, MIGDP_ST_DEVICE_STATE
	};
	struct migdp_fsm f;
	unsigned i;

	for (i = 0; i < 2; i++) {
		reach(&f, false, S_PRECOPY);
		f.state = st[i];
		CU_ASSERT_EQUAL(migdp_fsm_event(&f, E(CONVERGED), NULL, 1), -EPERM);
		CU_ASSERT_EQUAL(migdp_fsm_event(&f, E(COMMIT_REQUEST), NULL, 1), 0);
		CU_ASSERT_EQUAL(f.state, MIGDP_ST_COMMIT);
	}
}

static void
test_fsm_terminal(void)
{
	static const enum sit term[] = {S_COMPLETED, S_CANCELLED, S_FAILED};
	struct migdp_fsm f;
	unsigned role, i, ev, n;

	for (role = 0; role < 2; role++) {
		for (i = 0; i < 3; i++) {
			reach(&f, role, term[i]);
			CU_ASSERT_TRUE(migdp_fsm_terminal(&f));
			n = f.nlog;
			for (ev = 0; ev < MIGDP_EV_MAX; ev++) {
				CU_ASSERT_EQUAL(migdp_fsm_event(&f, ev, NULL, 1),
						-EPERM);
				CU_ASSERT_EQUAL(f.state, sit_state[term[i]]);
			}
			CU_ASSERT_EQUAL(f.nlog, n);
		}
	}
	CU_ASSERT_FALSE(migdp_fsm_terminal(NULL));
	reach(&f, true, S_COMMIT_GO);
	CU_ASSERT_FALSE(migdp_fsm_terminal(&f));
}

/* Cancel and fail end every non-terminal situation before go. */
static void
test_fsm_end_before_go(void)
{
	struct migdp_fsm f;
	unsigned role, s;

	for (role = 0; role < 2; role++) {
		for (s = S_SETUP; s <= S_COMMIT; s++) {
			if (!reach(&f, role, s))
				continue;
			CU_ASSERT_EQUAL(migdp_fsm_event(&f, E(CANCEL), "operator", 1), 0);
			CU_ASSERT_EQUAL(f.state, MIGDP_ST_CANCELLED);
			CU_ASSERT_STRING_EQUAL(f.reason, "operator");
			CU_ASSERT_FALSE(f.outcome_unknown);

			reach(&f, role, s);
			CU_ASSERT_EQUAL(migdp_fsm_event(&f, E(FAIL), NULL, 1), 0);
			CU_ASSERT_EQUAL(f.state, MIGDP_ST_FAILED);
			CU_ASSERT_STRING_EQUAL(f.reason, "fail");
			CU_ASSERT_FALSE(f.outcome_unknown);
		}
	}
}

static void
test_fsm_after_go(void)
{
	struct migdp_fsm f;
	unsigned role;

	for (role = 0; role < 2; role++) {
		reach(&f, role, S_COMMIT);
		CU_ASSERT_EQUAL(migdp_fsm_event(&f, E(CONFIRMED), NULL, 1), -EPERM);
		CU_ASSERT_EQUAL(migdp_fsm_event(&f, E(GO), NULL, 1), 0);
		CU_ASSERT_EQUAL(migdp_fsm_event(&f, E(GO), NULL, 1), -EPERM);
		CU_ASSERT_EQUAL(migdp_fsm_event(&f, E(CANCEL), NULL, 1), -EPERM);
		CU_ASSERT_EQUAL(f.state, MIGDP_ST_COMMIT);
		CU_ASSERT_TRUE(f.go);
		CU_ASSERT_EQUAL(migdp_fsm_event(&f, E(FAIL), "peer lost", 1), 0);
		CU_ASSERT_EQUAL(f.state, MIGDP_ST_COMPLETED);
		CU_ASSERT_EQUAL(f.outcome_unknown, role == 1);
		CU_ASSERT_STRING_EQUAL(f.reason, "peer lost");
	}
	reach(&f, true, S_COMPLETED);
	CU_ASSERT_FALSE(f.outcome_unknown);
	CU_ASSERT_STRING_EQUAL(f.reason, "");
}

static void
test_fsm_log(void)
{
	static const struct {
		enum migdp_event ev;
		const char *reason;
		enum migdp_state from, to;
		unsigned round;
	} want[] = {
		{E(START), "migrate", ST(SETUP), ST(HANDSHAKE), 0},
		{E(ACCEPTED), NULL, ST(HANDSHAKE), ST(PRECOPY), 1},
		{E(ROUND_DRAINED), "r1", ST(PRECOPY), ST(PRECOPY), 2},
		{E(ROUND_DRAINED), "r2", ST(PRECOPY), ST(PRECOPY), 3},
		{E(CONVERGED), "4.1 ms", ST(PRECOPY), ST(SWITCHOVER), 3},
		{E(ROUND_DRAINED), NULL, ST(SWITCHOVER), ST(DEVICE_STATE), 3},
		{E(ROUND_DRAINED), NULL, ST(DEVICE_STATE), ST(COMMIT), 3},
		{E(GO), NULL, ST(COMMIT), ST(COMMIT), 3},
		{E(CONFIRMED), NULL, ST(COMMIT), ST(COMPLETED), 3},
	};
	struct migdp_fsm f;
	const struct migdp_fsm_transition *t;
	unsigned i, n = sizeof(want) / sizeof(want[0]);

	migdp_fsm_init(&f, true, 0);
	for (i = 0; i < n; i++)
		CU_ASSERT_EQUAL_FATAL(migdp_fsm_event(&f, want[i].ev,
						      want[i].reason, 10 * (i + 1)), 0);
	/* A refused event is not logged. */
	CU_ASSERT_EQUAL(migdp_fsm_event(&f, E(START), "no", 500), -EPERM);
	CU_ASSERT_EQUAL(f.nlog, n);
	for (i = 0; i < n; i++) {
		t = &f.log[i];
		CU_ASSERT_EQUAL(t->ev, want[i].ev);
		CU_ASSERT_EQUAL(t->from, want[i].from);
		CU_ASSERT_EQUAL(t->to, want[i].to);
		CU_ASSERT_EQUAL(t->round, want[i].round);
		CU_ASSERT_EQUAL(t->at_ns, 10 * (i + 1));
		CU_ASSERT_STRING_EQUAL(t->reason, want[i].reason != NULL ?
				       want[i].reason : "");
	}

	/* A reason longer than the log's field is cut, NUL-terminated. */
	reach(&f, true, S_PRECOPY);
	CU_ASSERT_EQUAL(migdp_fsm_event(&f, E(FAIL),
		"0123456789012345678901234567890123456789012345678901234567890123456789"
		"0123456789012345678901234567890123456789", 1), 0);
	t = &f.log[(f.nlog - 1) % MIGDP_FSM_LOG];
	CU_ASSERT_EQUAL(strlen(t->reason), sizeof(t->reason) - 1);
	CU_ASSERT_EQUAL(strlen(f.reason), 110);
}

static void
test_fsm_log_wrap(void)
{
	struct migdp_fsm f;
	unsigned i, n, oldest;

	reach(&f, false, S_PRECOPY);	/* 2 transitions, round 1 */
	for (i = 0; i < 100; i++)
		CU_ASSERT_EQUAL_FATAL(migdp_fsm_event(&f, E(ROUND_DRAINED), NULL,
						      100000 + i), 0);
	n = f.nlog;
	CU_ASSERT_EQUAL(n, 102);
	CU_ASSERT_EQUAL(f.round, 101);
	/* The newest is at (n-1) % 64, the oldest kept is transition n-64. */
	CU_ASSERT_EQUAL(f.log[(n - 1) % MIGDP_FSM_LOG].round, 101);
	CU_ASSERT_EQUAL(f.log[(n - 1) % MIGDP_FSM_LOG].at_ns, 100099);
	oldest = n - MIGDP_FSM_LOG;	/* transition 38: round-drained #36 */
	CU_ASSERT_EQUAL(f.log[oldest % MIGDP_FSM_LOG].round, oldest);
	CU_ASSERT_EQUAL(f.log[oldest % MIGDP_FSM_LOG].at_ns, 100000 + oldest - 2);
	for (i = 0; i < MIGDP_FSM_LOG; i++)
		CU_ASSERT_EQUAL(f.log[(oldest + i) % MIGDP_FSM_LOG].round,
				oldest + i);
}

struct hook_count {
	unsigned calls;
	const struct migdp_fsm *f;
	bool pointed_at_log;
};

static void
count_hook(void *arg, const struct migdp_fsm_transition *t)
{
	struct hook_count *h = arg;

	h->calls++;
	h->pointed_at_log = t == &h->f->log[(h->f->nlog - 1) % MIGDP_FSM_LOG];
}

static void
test_fsm_hook(void)
{
	struct hook_count h = {0};
	struct migdp_fsm f;
	const enum migdp_event *p = path_of(true, S_COMPLETED);

	migdp_fsm_init(&f, true, 0);
	h.f = &f;
	migdp_fsm_set_hook(&f, count_hook, &h);
	for (; *p != END; p++) {
		CU_ASSERT_EQUAL(migdp_fsm_event(&f, *p, NULL, 1), 0);
		CU_ASSERT_EQUAL(h.calls, f.nlog);
		CU_ASSERT_TRUE(h.pointed_at_log);
		/* Refused (START is only legal in setup): no call. */
		CU_ASSERT_EQUAL(migdp_fsm_event(&f, E(START), NULL, 1), -EPERM);
		CU_ASSERT_EQUAL(h.calls, f.nlog);
	}
	CU_ASSERT_EQUAL(h.calls, 7);
	migdp_fsm_set_hook(&f, NULL, NULL);
	reach(&f, true, S_PRECOPY);
	CU_ASSERT_EQUAL(h.calls, 7);
}

static void
test_fsm_state_ns(void)
{
	struct migdp_fsm f;

	migdp_fsm_init(&f, true, 1000);
	CU_ASSERT_EQUAL(f.entered_ns, 1000);
	migdp_fsm_event(&f, E(START), NULL, 1500);
	migdp_fsm_event(&f, E(ACCEPTED), NULL, 2500);
	migdp_fsm_event(&f, E(ROUND_DRAINED), NULL, 3000); /* stays: open */
	CU_ASSERT_EQUAL(f.entered_ns, 2500);
	CU_ASSERT_EQUAL(f.state_ns[MIGDP_ST_PRECOPY], 0);
	migdp_fsm_event(&f, E(CONVERGED), NULL, 4000);
	migdp_fsm_event(&f, E(ROUND_DRAINED), NULL, 4100);
	migdp_fsm_event(&f, E(ROUND_DRAINED), NULL, 4300);
	migdp_fsm_event(&f, E(GO), NULL, 4400);		  /* stays */
	migdp_fsm_event(&f, E(START), NULL, 9999);	  /* refused */
	migdp_fsm_event(&f, E(CONFIRMED), NULL, 5000);
	CU_ASSERT_EQUAL(f.state_ns[MIGDP_ST_SETUP], 500);
	CU_ASSERT_EQUAL(f.state_ns[MIGDP_ST_HANDSHAKE], 1000);
	CU_ASSERT_EQUAL(f.state_ns[MIGDP_ST_PRECOPY], 1500);
	CU_ASSERT_EQUAL(f.state_ns[MIGDP_ST_SWITCHOVER], 100);
	CU_ASSERT_EQUAL(f.state_ns[MIGDP_ST_DEVICE_STATE], 200);
	CU_ASSERT_EQUAL(f.state_ns[MIGDP_ST_COMMIT], 700);
	CU_ASSERT_EQUAL(f.state_ns[MIGDP_ST_COMPLETED], 0);
	CU_ASSERT_EQUAL(f.entered_ns, 5000);
	/* A clock that went back adds nothing. */
	migdp_fsm_init(&f, true, 1000);
	migdp_fsm_event(&f, E(START), NULL, 500);
	CU_ASSERT_EQUAL(f.state_ns[MIGDP_ST_SETUP], 0);
}

/* Expected legality of each command per situation (index S_MAX: no
 * session): 1 legal, 0 refused naming the state, 2 refused "handed over". */
static void
test_fsm_commands(void)
{
	static const unsigned char want[MIGDP_CMD_MAX][S_MAX + 1] = {
		/*                     setup hs pre sw dev com go cpl can fail str none */
		[MIGDP_CMD_MIGRATE] =        {1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 1},
		[MIGDP_CMD_INCOMING] =       {1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 1},
		[MIGDP_CMD_CANCEL] =         {1, 1, 1, 1, 1, 1, 2, 0, 0, 0, 1, 0},
		[MIGDP_CMD_SET_PARAMETERS] = {1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1},
		[MIGDP_CMD_QUERY] =          {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
	};
	struct migdp_fsm f;
	char buf[128], sub[64];
	const char *msg;
	unsigned role, s, c;

	for (role = 0; role < 2; role++) {
		for (s = 0; s <= S_MAX; s++) {
			if (s < S_MAX && !reach(&f, role, s))
				continue;
			for (c = 0; c < MIGDP_CMD_MAX; c++) {
				buf[0] = '\0';
				msg = migdp_fsm_check_command(s < S_MAX ? &f : NULL,
							      c, buf, sizeof(buf));
				if (want[c][s] == 1) {
					CU_ASSERT_PTR_NULL(msg);
					if (msg != NULL)
						printf("\n  %s\n", msg);
					continue;
				}
				CU_ASSERT_PTR_EQUAL_FATAL(msg, buf);
				CU_ASSERT_PTR_NOT_NULL(strstr(msg,
					migdp_command_name(c)));
				if (want[c][s] == 2)
					snprintf(sub, sizeof(sub), "handed over");
				else if (s == S_MAX)
					snprintf(sub, sizeof(sub), "no session");
				else
					snprintf(sub, sizeof(sub), "in state %s",
						 migdp_state_name(sit_state[s]));
				CU_ASSERT_PTR_NOT_NULL(strstr(msg, sub));
			}
		}
	}
	reach(&f, true, S_COMPLETED);
	CU_ASSERT_STRING_EQUAL(migdp_fsm_check_command(&f, MIGDP_CMD_CANCEL, buf,
		sizeof(buf)), "migrate-cancel refused in state completed");
	reach(&f, true, S_COMMIT_GO);
	CU_ASSERT_STRING_EQUAL(migdp_fsm_check_command(&f, MIGDP_CMD_CANCEL, buf,
		sizeof(buf)), "migrate-cancel refused: the VM is handed over "
		"(commit past go)");
	CU_ASSERT_PTR_NOT_NULL(migdp_fsm_check_command(&f, MIGDP_CMD_MAX, buf,
						       sizeof(buf)));
}

static void
test_fsm_names(void)
{
	CU_ASSERT_STRING_EQUAL(migdp_state_name(MIGDP_ST_SETUP), "setup");
	CU_ASSERT_STRING_EQUAL(migdp_state_name(MIGDP_ST_DEVICE_STATE),
			       "device-state");
	CU_ASSERT_STRING_EQUAL(migdp_state_name(MIGDP_ST_FAILED), "failed");
	CU_ASSERT_STRING_EQUAL(migdp_state_name(MIGDP_ST_MAX), "unknown");
	CU_ASSERT_STRING_EQUAL(migdp_event_name(E(ROUND_DRAINED)),
			       "round-drained");
	CU_ASSERT_STRING_EQUAL(migdp_event_name(E(COMMIT_REQUEST)),
			       "commit-request");
	CU_ASSERT_STRING_EQUAL(migdp_event_name(E(FAIL)), "fail");
	CU_ASSERT_STRING_EQUAL(migdp_event_name(1000), "unknown");
	CU_ASSERT_STRING_EQUAL(migdp_command_name(MIGDP_CMD_INCOMING),
			       "migrate-incoming");
	CU_ASSERT_STRING_EQUAL(migdp_command_name(MIGDP_CMD_QUERY),
			       "query-migrate");
	CU_ASSERT_STRING_EQUAL(migdp_command_name(MIGDP_CMD_MAX), "unknown");
}

/* ======================================================================== */
/* Convergence */

#define GIB_PAGES 262144ull	/* 1 GiB of 4 KiB pages */
#define MS 1000000ull
#define S 1000000000ull

/* A synthetic guest: dirties @dirty_pps pages/s (capped at its size), link
 * at @bw bytes/s, every page costs @ratio on the wire. The next round is
 * asked for when the previous one drained. */
struct workload {
	double bw, dirty_pps, ratio;
	uint64_t t;	/* now */
	uint64_t last_start;
	unsigned round;
};

static struct migdp_round_stat
next_round(struct workload *w, double throttle_pct)
{
	struct migdp_round_stat r = {0};
	double d;

	r.round = ++w->round;
	r.start_ns = w->t;
	if (w->round == 1) {
		r.pages = GIB_PAGES;
	} else {
		d = w->dirty_pps * (1 - throttle_pct / 100) *
			(double)(w->t - w->last_start) / S;
		r.pages = d > GIB_PAGES ? GIB_PAGES : (uint64_t)d;
	}
	r.wire_bytes = (uint64_t)(r.pages * 4096.0 * w->ratio);
	r.end_ns = r.start_ns + (uint64_t)(r.wire_bytes / w->bw * S) + 1;
	w->last_start = r.start_ns;
	w->t = r.end_ns;
	return r;
}

static void
test_conv_converges(void)
{
	struct workload w = {.bw = 1e9, .dirty_pps = 1e8 / 4096, .ratio = 1};
	struct migdp_round_stat r;
	struct migdp_conv c;
	enum migdp_conv_decision d;

	migdp_conv_init(&c, NULL, GIB_PAGES);
	do {
		r = next_round(&w, 0);
		d = migdp_conv_round_end(&c, &r);
	} while (d == MIGDP_CONV_NEXT_ROUND && w.round < 10);
	CU_ASSERT_EQUAL(d, MIGDP_CONV_SWITCHOVER);
	CU_ASSERT(w.round >= 2 && w.round <= 4);
	CU_ASSERT(c.expected_downtime_ms <= 300);
	CU_ASSERT(c.expected_downtime_ms >= c.switchover_cost_ms);
	CU_ASSERT_DOUBLE_EQUAL(c.bandwidth_Bps, 1e9, 1e7);
	CU_ASSERT_DOUBLE_EQUAL(c.dirty_rate_pps, 1e8 / 4096, 1e8 / 4096 / 100);
	CU_ASSERT_DOUBLE_EQUAL(c.ratio, 1.0, 0.01);
	CU_ASSERT(c.remaining_pages > 0 && c.remaining_pages < r.pages);
	CU_ASSERT_PTR_NOT_NULL(strstr(c.why, "switch over"));
	CU_ASSERT_PTR_NOT_NULL(strstr(c.why, "round 2:"));
	CU_ASSERT_PTR_NOT_NULL(strstr(c.why, "<= 300 ms"));
	CU_ASSERT_EQUAL(c.throttle_pct, 0);
}

/* Round 1 never switches over, however small; a round with nothing dirty
 * costs only the fixed part. */
static void
test_conv_round1(void)
{
	struct migdp_round_stat r1 = {1, 10, 40960, 0, 1 * MS};
	struct migdp_round_stat r2 = {2, 0, 0, 1 * MS, 1 * MS + 1000};
	struct migdp_conv c;

	migdp_conv_init(&c, NULL, 10);
	migdp_conv_set_switchover_cost(&c, 7.5);
	CU_ASSERT_EQUAL(migdp_conv_round_end(&c, &r1), MIGDP_CONV_NEXT_ROUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(c.why, "round 1"));
	CU_ASSERT_EQUAL(migdp_conv_round_end(&c, &r2), MIGDP_CONV_SWITCHOVER);
	CU_ASSERT_EQUAL(c.remaining_pages, 0);
	CU_ASSERT_DOUBLE_EQUAL(c.expected_downtime_ms, 7.5, 1e-9);
}

static void
test_conv_no_converge(void)
{
	struct workload w = {.bw = 1e9, .dirty_pps = 2e9 / 4096, .ratio = 1};
	struct migdp_conv_params p;
	struct migdp_round_stat r;
	struct migdp_conv c;
	enum migdp_conv_decision d;
	unsigned i;

	migdp_conv_params_default(&p);
	p.max_rounds = 10;
	migdp_conv_init(&c, &p, GIB_PAGES);
	for (i = 1; i <= 10; i++) {
		r = next_round(&w, 0);
		d = migdp_conv_round_end(&c, &r);
		CU_ASSERT_EQUAL(d, i < 10 ? MIGDP_CONV_NEXT_ROUND : MIGDP_CONV_FAIL);
	}
	CU_ASSERT_PTR_NOT_NULL(strstr(c.why, "did not converge in 10 rounds"));
	CU_ASSERT(c.expected_downtime_ms > 300);
	CU_ASSERT_EQUAL(c.remaining_pages, GIB_PAGES);	/* capped */
	CU_ASSERT_EQUAL(c.throttle_pct, 0);
}

/* Throttling that does not help: 20, 30, ... at every second non-shrinking
 * round, capped at max, then next rounds until max_rounds. */
static void
throttle_run(uint32_t max_pct, const uint32_t *steps, unsigned nsteps)
{
	struct workload w = {.bw = 1e9, .dirty_pps = 2e9 / 4096, .ratio = 1};
	struct migdp_conv_params p;
	struct migdp_round_stat r;
	struct migdp_conv c;
	enum migdp_conv_decision d;
	unsigned i, nthrottle = 0;

	migdp_conv_params_default(&p);
	p.auto_converge = true;
	p.throttle_max_pct = max_pct;
	migdp_conv_init(&c, &p, GIB_PAGES);
	for (i = 1; i <= 30; i++) {
		r = next_round(&w, 0);
		d = migdp_conv_round_end(&c, &r);
		CU_ASSERT_NOT_EQUAL(d, MIGDP_CONV_SWITCHOVER);
		if (d == MIGDP_CONV_THROTTLE) {
			/* Rounds 3, 5, 7...: two non-shrinking each. */
			CU_ASSERT_EQUAL(i, 3 + 2 * nthrottle);
			CU_ASSERT_FATAL(nthrottle < nsteps);
			CU_ASSERT_EQUAL(c.throttle_pct, steps[nthrottle]);
			CU_ASSERT_EQUAL(c.not_shrinking, 0);
			CU_ASSERT_PTR_NOT_NULL(strstr(c.why, "throttle"));
			nthrottle++;
		} else if (i < 30) {
			CU_ASSERT_EQUAL(d, MIGDP_CONV_NEXT_ROUND);
		} else {
			CU_ASSERT_EQUAL(d, MIGDP_CONV_FAIL);
		}
	}
	CU_ASSERT_EQUAL(nthrottle, nsteps);
	CU_ASSERT_EQUAL(c.throttle_pct, max_pct);
}

static void
test_conv_throttle(void)
{
	static const uint32_t full[] = {20, 30, 40, 50, 60, 70, 80, 90, 99};
	static const uint32_t capped[] = {20, 30, 40, 45};

	throttle_run(99, full, 9);
	throttle_run(45, capped, 4);
}

/* A round that shrinks resets the count: no throttle. */
static void
test_conv_shrinking(void)
{
	static const uint64_t pages[] = {GIB_PAGES, 200000, 190000, 150000,
		140000, 100000};
	struct migdp_conv_params p;
	struct migdp_round_stat r = {0};
	struct migdp_conv c;
	unsigned i;

	migdp_conv_params_default(&p);
	p.auto_converge = true;
	migdp_conv_init(&c, &p, GIB_PAGES);
	for (i = 0; i < 6; i++) {
		r.round = i + 1;
		r.pages = pages[i];
		r.wire_bytes = pages[i] * 4096;
		r.start_ns = r.end_ns;
		r.end_ns = r.start_ns + S;
		CU_ASSERT_EQUAL(migdp_conv_round_end(&c, &r),
				MIGDP_CONV_NEXT_ROUND);
		/* 200000 vs 262144 shrinks; 190000 vs 200000 does not. */
		CU_ASSERT(c.not_shrinking <= 1);
	}
	CU_ASSERT_EQUAL(c.throttle_pct, 0);
}

static void
test_conv_bandwidth(void)
{
	struct migdp_round_stat big = {1, 262144, 1ull << 30, 0, S};
	struct migdp_round_stat small = {2, 256, 1 << 20, S, S + 100 * MS};
	struct migdp_round_stat big2 = {3, 262144, 1ull << 30, 2 * S,
		2 * S + S / 3};
	struct migdp_conv_params p;
	struct migdp_conv c;
	double one = (double)(1ull << 30);

	/* Only the link hint: used until a large round is measured. */
	migdp_conv_init(&c, NULL, GIB_PAGES);
	migdp_conv_set_link_hint(&c, 5e8);
	migdp_conv_round_end(&c, &small);
	CU_ASSERT_DOUBLE_EQUAL(c.bandwidth_Bps, 5e8, 1);
	CU_ASSERT_DOUBLE_EQUAL(c.measured_Bps, 0, 1e-9);
	migdp_conv_round_end(&c, &big);
	CU_ASSERT_DOUBLE_EQUAL(c.bandwidth_Bps, one, 1);

	/* A small round does not move a measured bandwidth; a large one
	 * averages with it (EWMA 0.5). */
	migdp_conv_init(&c, NULL, GIB_PAGES);
	migdp_conv_round_end(&c, &big);
	CU_ASSERT_DOUBLE_EQUAL(c.bandwidth_Bps, one, 1);
	migdp_conv_round_end(&c, &small);
	CU_ASSERT_DOUBLE_EQUAL(c.bandwidth_Bps, one, 1);
	migdp_conv_round_end(&c, &big2);
	CU_ASSERT_DOUBLE_EQUAL(c.bandwidth_Bps, (one + 3 * one) / 2, 10);

	/* max-bandwidth caps the estimate (bits/s). */
	migdp_conv_params_default(&p);
	p.max_bandwidth_bps = 800000000ull;
	migdp_conv_init(&c, &p, GIB_PAGES);
	migdp_conv_round_end(&c, &big);
	CU_ASSERT_DOUBLE_EQUAL(c.bandwidth_Bps, 1e8, 1);
	CU_ASSERT_DOUBLE_EQUAL(c.measured_Bps, one, 1);

	/* Nothing known: the round's own rate, a lower bound, stands in. */
	migdp_conv_init(&c, NULL, GIB_PAGES);
	migdp_conv_round_end(&c, &small);
	CU_ASSERT_DOUBLE_EQUAL(c.bandwidth_Bps, (1 << 20) / 0.1, 1);
	CU_ASSERT_DOUBLE_EQUAL(c.measured_Bps, 0, 1e-9);
}

/* The wire ratio: measured per round, EWMA, capped at 1.05. */
static void
test_conv_ratio(void)
{
	struct migdp_round_stat r1 = {1, 1000, 1000 * 4096 / 4, 0, S};
	struct migdp_round_stat r2 = {2, 1000, 1000 * 4096 * 2, S, 2 * S};
	struct migdp_conv c;

	migdp_conv_init(&c, NULL, GIB_PAGES);
	CU_ASSERT_DOUBLE_EQUAL(c.ratio, 1.0, 1e-9);
	migdp_conv_round_end(&c, &r1);
	CU_ASSERT_DOUBLE_EQUAL(c.ratio, 0.25, 1e-9);
	migdp_conv_round_end(&c, &r2);
	CU_ASSERT_DOUBLE_EQUAL(c.ratio, (0.25 + 1.05) / 2, 1e-9);
}

static void
test_conv_params(void)
{
	static const struct {
		const char *key, *value, *in_err;
	} bad[] = {
		{"downtime-limit", "0", "1..600000"},
		{"downtime-limit", "600001", "1..600000"},
		{"downtime-limit", "abc", "1..600000"},
		{"downtime-limit", "-5", "1..600000"},
		{"downtime-limit", "12x", "1..600000"},
		{"downtime-limit", "", "1..600000"},
		{"downtime-limit", NULL, "1..600000"},
		{"max-rounds", "0", "1..10000"},
		{"max-rounds", "10001", "1..10000"},
		{"max-bandwidth", "10T", "K, M or G"},
		{"max-bandwidth", "1.5G", "K, M or G"},
		{"max-bandwidth", "", "K, M or G"},
		{"max-bandwidth", "99999999999999999999", "K, M or G"},
		{"max-bandwidth", "99999999999G", "K, M or G"},
		{"auto-converge", "yes", "on, off"},
		{"throttle-initial", "100", "1..99"},
		{"throttle-initial", "0", "1..99"},
		{"throttle-step", "0", "1..99"},
		{"throttle-max", "100", "1..99"},
		{"throttle-max", "10", "must not exceed throttle-max"},
		{"frobnicate", "1", "downtime-limit"},
	};
	struct migdp_conv_params p, d;
	char err[160];
	unsigned i;

	migdp_conv_params_default(&d);
	CU_ASSERT_EQUAL(d.downtime_limit_ms, 300);
	CU_ASSERT_EQUAL(d.max_bandwidth_bps, 0);
	CU_ASSERT_EQUAL(d.max_rounds, 30);
	CU_ASSERT_FALSE(d.auto_converge);
	CU_ASSERT_EQUAL(d.throttle_initial_pct, 20);
	CU_ASSERT_EQUAL(d.throttle_step_pct, 10);
	CU_ASSERT_EQUAL(d.throttle_max_pct, 99);

	p = d;
	CU_ASSERT_EQUAL(migdp_conv_param_set(&p, "downtime-limit", "500", err,
					     sizeof(err)), 0);
	CU_ASSERT_EQUAL(p.downtime_limit_ms, 500);
	CU_ASSERT_EQUAL(migdp_conv_param_set(&p, "downtime-limit", "600000",
					     err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(migdp_conv_param_set(&p, "max-bandwidth", "10G", err,
					     sizeof(err)), 0);
	CU_ASSERT_EQUAL(p.max_bandwidth_bps, 10000000000ull);
	CU_ASSERT_EQUAL(migdp_conv_param_set(&p, "max-bandwidth", "1500k", err,
					     sizeof(err)), 0);
	CU_ASSERT_EQUAL(p.max_bandwidth_bps, 1500000);
	CU_ASSERT_EQUAL(migdp_conv_param_set(&p, "max-bandwidth", "250M", err,
					     sizeof(err)), 0);
	CU_ASSERT_EQUAL(p.max_bandwidth_bps, 250000000);
	CU_ASSERT_EQUAL(migdp_conv_param_set(&p, "max-bandwidth", "0", err,
					     sizeof(err)), 0);
	CU_ASSERT_EQUAL(p.max_bandwidth_bps, 0);
	CU_ASSERT_EQUAL(migdp_conv_param_set(&p, "auto-converge", "on", err,
					     sizeof(err)), 0);
	CU_ASSERT_TRUE(p.auto_converge);
	CU_ASSERT_EQUAL(migdp_conv_param_set(&p, "auto-converge", "FALSE", err,
					     sizeof(err)), 0);
	CU_ASSERT_FALSE(p.auto_converge);
	CU_ASSERT_EQUAL(migdp_conv_param_set(&p, "auto-converge", "1", err,
					     sizeof(err)), 0);
	CU_ASSERT_TRUE(p.auto_converge);
	CU_ASSERT_EQUAL(migdp_conv_param_set(&p, "max-rounds", "10000", err,
					     sizeof(err)), 0);
	CU_ASSERT_EQUAL(p.max_rounds, 10000);
	CU_ASSERT_EQUAL(migdp_conv_param_set(&p, "throttle-max", "50", err,
					     sizeof(err)), 0);
	CU_ASSERT_EQUAL(migdp_conv_param_set(&p, "throttle-initial", "50", err,
					     sizeof(err)), 0);
	CU_ASSERT_EQUAL(migdp_conv_param_set(&p, "throttle-initial", "51", err,
					     sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "throttle-initial"));
	CU_ASSERT_EQUAL(p.throttle_initial_pct, 50);
	CU_ASSERT_EQUAL(migdp_conv_param_set(&p, "throttle-step", "5", err,
					     sizeof(err)), 0);
	CU_ASSERT_EQUAL(p.throttle_step_pct, 5);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = d;
		err[0] = '\0';
		CU_ASSERT_EQUAL(migdp_conv_param_set(&p, bad[i].key, bad[i].value,
						     err, sizeof(err)), -EINVAL);
		CU_ASSERT(memcmp(&p, &d, sizeof(p)) == 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i].key));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i].in_err));
		if (strstr(err, bad[i].in_err) == NULL)
			printf("\n  %s=%s: %s\n", bad[i].key,
			       bad[i].value != NULL ? bad[i].value : "(null)", err);
	}
	CU_ASSERT_STRING_EQUAL(migdp_conv_decision_name(MIGDP_CONV_THROTTLE),
			       "throttle");
	CU_ASSERT_STRING_EQUAL(migdp_conv_decision_name(MIGDP_CONV_MAX),
			       "unknown");
}

/* ======================================================================== */
/* Atomic commit: a source and a destination object over a simulated
 * network. Time in ticks; the network loses, delivers after LATENCY, or
 * delivers late (after several later resends). */

enum msg { M_REQ, M_READY, M_GO, M_CONFIRM, M_MAX };
enum fate { DELIVER, LOSE, LATE };

#define PERIOD 10
#define LATENCY 1
#define LATE_BY 35		/* after three resends */
#define CONFIRM_TIMEOUT 1000
#define GO_TIMEOUT 2000		/* > CONFIRM_TIMEOUT, see commit.h */
#define SIM_END 5000
#define NET_MAX 2048

struct net_msg {
	enum msg type;
	bool verified;
	uint64_t at;
};

struct sim {
	/* The scenario. */
	enum fate first[M_MAX][2];	/* fate of copies 0 and 1 */
	enum fate rest[M_MAX];		/* fate of every later copy */
	bool verified;			/* the destination's digest matches */
	unsigned need_requests;		/* COMMIT_REQs before it has all */
	/* What happened. */
	struct migdp_commit_src s;
	struct migdp_commit_dst d;
	struct net_msg net[NET_MAX];
	unsigned nnet;
	unsigned sent[M_MAX];
	unsigned requests;
	unsigned resumed;
	bool resumed_before_go;		/* the invariant broken */
	uint64_t now, dst_done_at;
};

static void
net_send(struct sim *m, enum msg type, bool verified)
{
	unsigned copy = m->sent[type]++;
	enum fate f = copy < 2 ? m->first[type][copy] : m->rest[type];

	if (f == LOSE)
		return;
	CU_ASSERT_FATAL(m->nnet < NET_MAX);
	m->net[m->nnet].type = type;
	m->net[m->nnet].verified = verified;
	m->net[m->nnet].at = m->now + (f == LATE ? LATE_BY : LATENCY);
	m->nnet++;
}

static void
act_src(struct sim *m, unsigned a)
{
	CU_ASSERT_EQUAL(a & (MIGDP_CA_SEND_READY | MIGDP_CA_SEND_CONFIRM |
			     MIGDP_CA_RESUME_VM), 0);
	if (a & MIGDP_CA_SEND_COMMIT_REQ)
		net_send(m, M_REQ, false);
	if (a & MIGDP_CA_SEND_GO)
		net_send(m, M_GO, false);
}

static void
act_dst(struct sim *m, unsigned a)
{
	CU_ASSERT_EQUAL(a & (MIGDP_CA_SEND_COMMIT_REQ | MIGDP_CA_SEND_GO), 0);
	if (a & MIGDP_CA_RESUME_VM) {
		m->resumed++;
		if (!migdp_commit_src_past_go(&m->s))
			m->resumed_before_go = true;
	}
	if (a & MIGDP_CA_SEND_READY)
		net_send(m, M_READY, m->d.verified);
	if (a & MIGDP_CA_SEND_CONFIRM)
		net_send(m, M_CONFIRM, false);
	if ((a & MIGDP_CA_DONE) && m->dst_done_at == 0)
		m->dst_done_at = m->now;
}

static void
deliver(struct sim *m, const struct net_msg *n)
{
	switch (n->type) {
	case M_REQ:
		m->requests++;
		act_dst(m, migdp_commit_dst_on_request(&m->d,
			m->requests > m->need_requests, m->verified, m->now));
		break;
	case M_READY:
		act_src(m, migdp_commit_src_on_ready(&m->s, n->verified, m->now));
		break;
	case M_GO:
		act_dst(m, migdp_commit_dst_on_go(&m->d, m->now));
		break;
	default:
		act_src(m, migdp_commit_src_on_confirm(&m->s, m->now));
		break;
	}
}

static void
sim_run(struct sim *m)
{
	unsigned i, j;
	struct net_msg n;

	migdp_commit_src_init(&m->s, 0, PERIOD, CONFIRM_TIMEOUT);
	migdp_commit_dst_init(&m->d, 0, GO_TIMEOUT);
	for (m->now = 0; m->now < SIM_END; m->now++) {
		/* Deliver what is due, in the order it was sent. */
		for (i = 0; i < m->nnet;) {
			if (m->net[i].at != m->now) {
				i++;
				continue;
			}
			n = m->net[i];
			for (j = i + 1; j < m->nnet; j++)
				m->net[j - 1] = m->net[j];
			m->nnet--;
			deliver(m, &n);
		}
		act_src(m, migdp_commit_src_tick(&m->s, m->now));
		act_dst(m, migdp_commit_dst_tick(&m->d, m->now));
		if (m->nnet == 0 && m->s.result != MIGDP_CR_PENDING &&
		    m->d.result != MIGDP_CR_PENDING)
			break;
	}
}

/* Exactly one side runs the VM, whatever happened. */
static void
check_invariant(const struct sim *m)
{
	enum migdp_commit_result sr = migdp_commit_src_result(&m->s);
	bool src_runs = sr == MIGDP_CR_FAILED;	/* it resumes its VM */
	bool dst_runs = m->resumed > 0;

	CU_ASSERT(m->resumed <= 1);
	CU_ASSERT_FALSE(m->resumed_before_go);
	CU_ASSERT_NOT_EQUAL(sr, MIGDP_CR_PENDING);
	CU_ASSERT_FALSE(src_runs && dst_runs);
	CU_ASSERT_EQUAL(src_runs, migdp_commit_src_past_go(&m->s) == false);
	/* Resumed <=> handed over, except the documented case: every GO lost,
	 * the destination discarded, the source says UNKNOWN. */
	if (sr == MIGDP_CR_COMMITTED)
		CU_ASSERT_TRUE(dst_runs);
	if (sr == MIGDP_CR_FAILED)
		CU_ASSERT_FALSE(dst_runs);
	if (sr == MIGDP_CR_UNKNOWN && !dst_runs)
		CU_ASSERT_EQUAL(migdp_commit_dst_result(&m->d), MIGDP_CR_FAILED);
	if (!src_runs && !dst_runs) {
		CU_ASSERT_EQUAL(sr, MIGDP_CR_UNKNOWN);
	}
	CU_ASSERT_EQUAL(migdp_commit_dst_result(&m->d) == MIGDP_CR_COMMITTED,
			dst_runs);
}

static void
sim_init(struct sim *m)
{
	memset(m, 0, sizeof(*m));
	m->verified = true;
}

/* Every fate (deliver, lose, late) of the first two copies of each of the
 * four messages: 3^8 runs. The network then delivers: always committed. */
static void
test_commit_loss_patterns(void)
{
	static struct sim m;
	unsigned pattern, k, v, bad = 0, late_ready_go = 0;

	for (pattern = 0; pattern < 6561; pattern++) {
		sim_init(&m);
		for (k = 0, v = pattern; k < 8; k++, v /= 3)
			m.first[k / 2][k % 2] = (enum fate)(v % 3);
		sim_run(&m);
		check_invariant(&m);
		if (m.s.result != MIGDP_CR_COMMITTED ||
		    m.d.result != MIGDP_CR_COMMITTED || m.resumed != 1) {
			if (bad++ < 5)
				printf("\n  pattern %u: src %d dst %d resumed %u\n",
				       pattern, m.s.result, m.d.result, m.resumed);
		}
		/* A late READY made the source send GO again. */
		if (m.sent[M_GO] > 1 && m.first[M_READY][0] == LATE)
			late_ready_go++;
		CU_ASSERT(m.now < 200);
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(late_ready_go > 0);
}

/* The destination has everything only after the third COMMIT_REQ. */
static void
test_commit_not_ready_yet(void)
{
	static struct sim m;

	sim_init(&m);
	m.need_requests = 3;
	sim_run(&m);
	check_invariant(&m);
	CU_ASSERT_EQUAL(m.s.result, MIGDP_CR_COMMITTED);
	CU_ASSERT(m.sent[M_REQ] >= 4);
	CU_ASSERT_EQUAL(m.sent[M_READY], m.sent[M_REQ] - 3);
}

static void
test_commit_unverified(void)
{
	static struct sim m;

	sim_init(&m);
	m.verified = false;
	m.first[M_READY][0] = LOSE;	/* it must say it again */
	sim_run(&m);
	check_invariant(&m);
	CU_ASSERT_EQUAL(m.s.result, MIGDP_CR_FAILED);
	CU_ASSERT_STRING_EQUAL(m.s.reason, "destination memory digest differs");
	CU_ASSERT_FALSE(migdp_commit_src_past_go(&m.s));
	CU_ASSERT_EQUAL(m.d.result, MIGDP_CR_FAILED);
	CU_ASSERT_EQUAL(m.resumed, 0);
	CU_ASSERT_EQUAL(m.sent[M_GO], 0);
	CU_ASSERT_EQUAL(m.sent[M_READY], 2);
	/* A GO cannot make it resume either. */
	CU_ASSERT_EQUAL(migdp_commit_dst_on_go(&m.d, m.now), 0);
}

static void
test_commit_go_lost(void)
{
	static struct sim m;

	sim_init(&m);
	m.first[M_GO][0] = m.first[M_GO][1] = m.rest[M_GO] = LOSE;
	sim_run(&m);
	check_invariant(&m);
	/* Handed over, unconfirmed: the source must not resume. */
	CU_ASSERT_EQUAL(m.s.result, MIGDP_CR_UNKNOWN);
	CU_ASSERT_TRUE(migdp_commit_src_past_go(&m.s));
	CU_ASSERT_PTR_NOT_NULL(strstr(m.s.reason, "unknown"));
	CU_ASSERT_EQUAL(m.d.result, MIGDP_CR_FAILED);
	CU_ASSERT_EQUAL(m.resumed, 0);
	CU_ASSERT(m.dst_done_at >= m.d.ready_at_ns + GO_TIMEOUT);
	CU_ASSERT(m.sent[M_GO] >= CONFIRM_TIMEOUT / PERIOD);
	/* A GO after the discard is ignored. */
	CU_ASSERT_EQUAL(migdp_commit_dst_on_go(&m.d, m.now), 0);
}

static void
test_commit_confirm_lost(void)
{
	static struct sim m;

	sim_init(&m);
	m.first[M_CONFIRM][0] = m.first[M_CONFIRM][1] = m.rest[M_CONFIRM] = LOSE;
	sim_run(&m);
	check_invariant(&m);
	CU_ASSERT_EQUAL(m.d.result, MIGDP_CR_COMMITTED);
	CU_ASSERT_EQUAL(m.resumed, 1);
	CU_ASSERT_EQUAL(m.s.result, MIGDP_CR_UNKNOWN);
	CU_ASSERT_TRUE(migdp_commit_src_past_go(&m.s));
	/* Every GO got its CONFIRM. */
	CU_ASSERT_EQUAL(m.sent[M_CONFIRM], m.sent[M_GO]);
}

/* The calls one by one: resends, ignored messages, nothing after DONE. */
static void
test_commit_steps(void)
{
	struct migdp_commit_src s;
	struct migdp_commit_dst d;

	migdp_commit_src_init(&s, 100, 10, 50);
	CU_ASSERT_EQUAL(migdp_commit_src_on_ready(&s, true, 100), 0);
	CU_ASSERT_EQUAL(migdp_commit_src_tick(&s, 100), MIGDP_CA_SEND_COMMIT_REQ);
	CU_ASSERT_EQUAL(migdp_commit_src_tick(&s, 105), 0);
	CU_ASSERT_EQUAL(migdp_commit_src_tick(&s, 110), MIGDP_CA_SEND_COMMIT_REQ);
	CU_ASSERT_EQUAL(migdp_commit_src_on_confirm(&s, 111), 0);
	CU_ASSERT_FALSE(migdp_commit_src_past_go(&s));
	CU_ASSERT_EQUAL(migdp_commit_src_on_ready(&s, true, 112), MIGDP_CA_SEND_GO);
	CU_ASSERT_TRUE(migdp_commit_src_past_go(&s));
	CU_ASSERT_EQUAL(migdp_commit_src_tick(&s, 113), 0);
	CU_ASSERT_EQUAL(migdp_commit_src_on_ready(&s, true, 114), MIGDP_CA_SEND_GO);
	CU_ASSERT_EQUAL(migdp_commit_src_on_ready(&s, false, 115), 0);
	CU_ASSERT_EQUAL(migdp_commit_src_tick(&s, 124), MIGDP_CA_SEND_GO);
	CU_ASSERT_EQUAL(migdp_commit_src_result(&s), MIGDP_CR_PENDING);
	/* The timeout counts from the first GO (112), not the last. */
	CU_ASSERT_EQUAL(migdp_commit_src_tick(&s, 162), MIGDP_CA_DONE);
	CU_ASSERT_EQUAL(migdp_commit_src_result(&s), MIGDP_CR_UNKNOWN);
	CU_ASSERT_EQUAL(migdp_commit_src_tick(&s, 500), 0);
	CU_ASSERT_EQUAL(migdp_commit_src_on_ready(&s, true, 500), 0);
	CU_ASSERT_EQUAL(migdp_commit_src_on_confirm(&s, 500), 0);
	CU_ASSERT_EQUAL(migdp_commit_src_result(&s), MIGDP_CR_UNKNOWN);

	migdp_commit_dst_init(&d, 0, 100);
	CU_ASSERT_EQUAL(migdp_commit_dst_on_go(&d, 1), 0);
	CU_ASSERT_EQUAL(migdp_commit_dst_tick(&d, 1000), 0);	/* no READY yet */
	CU_ASSERT_EQUAL(migdp_commit_dst_on_request(&d, false, true, 2), 0);
	CU_ASSERT_EQUAL(migdp_commit_dst_on_request(&d, true, true, 3),
			MIGDP_CA_SEND_READY);
	CU_ASSERT_EQUAL(migdp_commit_dst_on_request(&d, true, true, 4),
			MIGDP_CA_SEND_READY);
	CU_ASSERT_EQUAL(migdp_commit_dst_tick(&d, 102), 0);
	CU_ASSERT_EQUAL(migdp_commit_dst_result(&d), MIGDP_CR_PENDING);
	CU_ASSERT_EQUAL(migdp_commit_dst_on_go(&d, 50), MIGDP_CA_RESUME_VM |
			MIGDP_CA_SEND_CONFIRM | MIGDP_CA_DONE);
	CU_ASSERT_EQUAL(migdp_commit_dst_result(&d), MIGDP_CR_COMMITTED);
	CU_ASSERT_EQUAL(migdp_commit_dst_on_go(&d, 60), MIGDP_CA_SEND_CONFIRM);
	CU_ASSERT_EQUAL(migdp_commit_dst_on_request(&d, true, true, 61), 0);
	CU_ASSERT_EQUAL(migdp_commit_dst_tick(&d, 1000), 0);
	CU_ASSERT_EQUAL(migdp_commit_dst_result(&d), MIGDP_CR_COMMITTED);

	/* Go timeout from the first READY (3). */
	migdp_commit_dst_init(&d, 0, 100);
	migdp_commit_dst_on_request(&d, true, true, 3);
	migdp_commit_dst_on_request(&d, true, true, 50);
	CU_ASSERT_EQUAL(migdp_commit_dst_tick(&d, 102), 0);
	CU_ASSERT_EQUAL(migdp_commit_dst_tick(&d, 103), MIGDP_CA_DONE);
	CU_ASSERT_EQUAL(migdp_commit_dst_result(&d), MIGDP_CR_FAILED);
	CU_ASSERT_EQUAL(migdp_commit_dst_on_go(&d, 104), 0);
	CU_ASSERT_EQUAL(migdp_commit_dst_on_request(&d, true, true, 105), 0);
	CU_ASSERT_EQUAL(migdp_commit_dst_tick(&d, 106), 0);
}

int
main(void)
{
	static const struct cu_test fsm[] = {
		{"legal_transitions", test_fsm_legal},
		{"illegal_refused", test_fsm_illegal},
		{"dst_forced_rows", test_fsm_dst_forced},
		{"terminal_refuse_all", test_fsm_terminal},
		{"cancel_fail_before_go", test_fsm_end_before_go},
		{"after_go", test_fsm_after_go},
		{"log", test_fsm_log},
		{"log_wrap", test_fsm_log_wrap},
		{"hook", test_fsm_hook},
		{"state_ns", test_fsm_state_ns},
		{"commands", test_fsm_commands},
		{"names", test_fsm_names},
		{NULL, NULL},
	};
	static const struct cu_test conv[] = {
		{"converges", test_conv_converges},
		{"round1", test_conv_round1},
		{"no_converge_fail", test_conv_no_converge},
		{"throttle_steps", test_conv_throttle},
		{"shrinking_no_throttle", test_conv_shrinking},
		{"bandwidth", test_conv_bandwidth},
		{"ratio", test_conv_ratio},
		{"params", test_conv_params},
		{NULL, NULL},
	};
	static const struct cu_test commit[] = {
		{"loss_patterns", test_commit_loss_patterns},
		{"not_ready_yet", test_commit_not_ready_yet},
		{"ready_unverified", test_commit_unverified},
		{"go_lost_forever", test_commit_go_lost},
		{"confirm_lost_forever", test_commit_confirm_lost},
		{"steps", test_commit_steps},
		{NULL, NULL},
	};

	if (cu_add_suite("control_fsm", NULL, NULL, fsm) < 0 ||
	    cu_add_suite("control_converge", NULL, NULL, conv) < 0 ||
	    cu_add_suite("control_commit", NULL, NULL, commit) < 0)
		return 1;
	return cu_run();
}
