/* SPDX-License-Identifier: BSD-3-Clause */
/* Telemetry endpoints over a snapshot: the control lcore copies what they
 * show under a mutex at most every 100 ms; handlers copy it out. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_telemetry.h>

#include "session.h"
#include "telemetry.h"
#include "worker.h"

struct snap_chan {
	uint64_t pages, wire_bytes, retransmits, round_drained;
	int state;
};

struct snap {
	bool active;
	char id[17], vm[MIGSHIM_NAME_LEN], role[16], state[16], cipher[16];
	unsigned round, nch, rounds;
	uint64_t pages_total, pages_done, wire_bytes, throttle_pct;
	double expected_downtime_ms, dirty_rate_pps;
	uint64_t auth_refused; /* handshake frames refused for their MAC */
	char kind[8];          /* pages or stream */
	uint64_t stream_sent, stream_received; /* stream sessions: bytes */
	struct snap_chan ch[MIGDP_MAX_CHANNELS];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct snap snaps[MIGDP_MAX_SESSIONS];
static unsigned nsnaps, last_n;
static uint64_t published_ns;

static void
take(struct snap *n, const struct migdp_session *s)
{
	unsigned i;

	memset(n, 0, sizeof(*n));
	n->active = true;
	snprintf(n->id, sizeof(n->id), "%016llx", (unsigned long long)s->ctx->ctl_flow.session);
	snprintf(n->vm, sizeof(n->vm), "%s", s->vm);
	snprintf(n->role, sizeof(n->role), "%s", s->source ? "source" : "destination");
	snprintf(n->state, sizeof(n->state), "%s", migdp_state_name(s->fsm.state));
	n->round = s->fsm.round;
	n->rounds = s->nrounds;
	n->nch = s->ctx->nch;
	n->pages_total = s->rep.pages_total;
	n->pages_done = migdp_sess_pages_done(s);
	n->wire_bytes = migdp_sess_wire_bytes(s);
	n->throttle_pct = s->throttle_pct;
	n->expected_downtime_ms = s->conv.expected_downtime_ms;
	n->dirty_rate_pps = s->conv.dirty_rate_pps;
	snprintf(n->cipher, sizeof(n->cipher), "%s", s->ctx->sec == NULL ? "none" :
		 migdp_sec_encrypting(s->ctx->sec) ? "AES-256-GCM" : "AES-256-GMAC");
	n->auth_refused = s->auth_refusals;
	snprintf(n->kind, sizeof(n->kind), "%s", s->stream ? "stream" : "pages");
	for (i = 0; i < n->nch; i++) {
		const struct migdp_chan *c = s->ctx->chans[i];

		if (c->sc != NULL) {
			n->stream_sent += atomic_load(&c->sc->bytes_read);
			n->stream_received += atomic_load(&c->sc->bytes_written);
		}

		n->ch[i] = (struct snap_chan){
			.pages = atomic_load_explicit(&c->pages_done, memory_order_relaxed),
			.wire_bytes = atomic_load_explicit(&c->wire_bytes, memory_order_relaxed),
			.retransmits = atomic_load_explicit(&c->retx, memory_order_relaxed),
			.round_drained = atomic_load_explicit(&c->round_drained, memory_order_relaxed),
			.state = atomic_load(&c->state)};
	}
}

void
migdp_telemetry_publish(const struct migdp_session *const *s, unsigned n)
{
	static struct snap fresh[MIGDP_MAX_SESSIONS];
	uint64_t now = migdp_now_ns();
	unsigned i;

	if (n == last_n && now - published_ns < 100000000ull)
		return;
	published_ns = now;
	last_n = n;
	for (i = 0; i < n && i < MIGDP_MAX_SESSIONS; i++)
		take(&fresh[i], s[i]);
	pthread_mutex_lock(&lock);
	memcpy(snaps, fresh, sizeof(snaps));
	nsnaps = i;
	pthread_mutex_unlock(&lock);
}

/* The snapshot of session @p id ("" or NULL: the first). */
static bool
get(const char *id, struct snap *out)
{
	bool found = false;
	unsigned i;

	pthread_mutex_lock(&lock);
	for (i = 0; i < nsnaps && !found; i++)
		if (id == NULL || id[0] == '\0' || strcmp(id, snaps[i].id) == 0) {
			*out = snaps[i];
			found = true;
		}
	pthread_mutex_unlock(&lock);
	return found;
}

static int
tel_sessions(const char *cmd, const char *params, struct rte_tel_data *d)
{
	unsigned i;

	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
	pthread_mutex_lock(&lock);
	for (i = 0; i < nsnaps; i++)
		rte_tel_data_add_array_string(d, snaps[i].id);
	pthread_mutex_unlock(&lock);
	return 0;
}

static int
tel_session(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct snap s;

	RTE_SET_USED(cmd);
	if (!get(params, &s))
		return -EINVAL; /* no such session */
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "id", s.id);
	rte_tel_data_add_dict_string(d, "vm", s.vm);
	rte_tel_data_add_dict_string(d, "role", s.role);
	rte_tel_data_add_dict_string(d, "state", s.state);
	rte_tel_data_add_dict_u64(d, "round", s.round);
	rte_tel_data_add_dict_u64(d, "rounds_closed", s.rounds);
	rte_tel_data_add_dict_u64(d, "pages_total", s.pages_total);
	rte_tel_data_add_dict_u64(d, "pages_transferred", s.pages_done);
	rte_tel_data_add_dict_u64(d, "wire_bytes", s.wire_bytes);
	rte_tel_data_add_dict_u64(d, "throttle_pct", s.throttle_pct);
	rte_tel_data_add_dict_u64(d, "expected_downtime_us",
				  (uint64_t)(s.expected_downtime_ms * 1e3));
	rte_tel_data_add_dict_u64(d, "dirty_rate_pps", (uint64_t)s.dirty_rate_pps);
	rte_tel_data_add_dict_string(d, "cipher", s.cipher);
	rte_tel_data_add_dict_u64(d, "auth_refused", s.auth_refused);
	rte_tel_data_add_dict_string(d, "kind", s.kind);
	rte_tel_data_add_dict_u64(d, "stream_bytes_sent", s.stream_sent);
	rte_tel_data_add_dict_u64(d, "stream_bytes_received", s.stream_received);
	return 0;
}

static int
tel_channels(const char *cmd, const char *params, struct rte_tel_data *d)
{
	static const char *const states[] = {"running", "done", "failed"};
	struct snap s = {0};
	unsigned i;

	RTE_SET_USED(cmd);
	if (!get(params, &s) && params != NULL && params[0] != '\0')
		return -EINVAL;
	rte_tel_data_start_dict(d);
	for (i = 0; s.active && i < s.nch; i++) {
		struct rte_tel_data *c = rte_tel_data_alloc();
		char name[16];

		if (c == NULL)
			return -ENOMEM;
		rte_tel_data_start_dict(c);
		rte_tel_data_add_dict_u64(c, "pages", s.ch[i].pages);
		rte_tel_data_add_dict_u64(c, "wire_bytes", s.ch[i].wire_bytes);
		rte_tel_data_add_dict_u64(c, "retransmits", s.ch[i].retransmits);
		rte_tel_data_add_dict_u64(c, "round_drained", s.ch[i].round_drained);
		rte_tel_data_add_dict_string(c, "state", s.ch[i].state >= 0 &&
					     s.ch[i].state < 3 ? states[s.ch[i].state] : "unknown");
		snprintf(name, sizeof(name), "%u", i);
		rte_tel_data_add_dict_container(d, name, c, 0);
	}
	return 0;
}

void
migdp_telemetry_init(void)
{
	rte_telemetry_register_cmd("/migdp/sessions", tel_sessions,
				   "Ids of the running migration sessions. No parameters");
	rte_telemetry_register_cmd("/migdp/session", tel_session,
				   "One session: state, round, pages, rates. Parameter: session id");
	rte_telemetry_register_cmd("/migdp/channels", tel_channels,
				   "Per-channel counters of a session. Parameter: session id (default: the first)");
}
