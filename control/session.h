/* SPDX-License-Identifier: BSD-3-Clause */
/* One migration session on the control lcore (DESIGN "The daemon and its
 * sessions"): the state machine of fsm.h driven by frames from the peer,
 * facts from the channels and events from the hypervisor; the pre-copy
 * policy of converge.h; the commit of commit.h. A session is data: the
 * daemon calls migdp_session_step() in its loop, which never blocks. */
#ifndef MIGDP_SESSION_H
#define MIGDP_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "commit.h"
#include "converge.h"
#include "dp.h"
#include "fsm.h"

/** Samples of a session's progress kept for its report (halved in
 * resolution when full). */
#define MIGDP_SESSION_SAMPLES 1024

/** One sample of the progress (the report's "series"). */
struct migdp_sample {
	uint64_t t_ns;               /* since the session started */
	uint64_t pages, wire_bytes, remaining;
	double dirty_rate_pps;
	uint16_t state, round;
};

/** Rounds whose figures a session keeps (the last ones). */
#define MIGDP_SESSION_ROUNDS 64

struct migdp_report {
	bool completed;
	bool verified;
	char reason[128];
	uint64_t guest_bytes;
	uint64_t pages_total;
	uint64_t total_ns;        /* handshake to commit */
	uint64_t transfer_ns;     /* first DATA to all channels done */
	struct migdp_lstats sum;  /* all lcores */
	uint64_t session;
	uint8_t digest[MIGDP_DIGEST_LEN];
	uint32_t dict_bytes;      /* source: dictionary sent (0: none) */
	uint64_t discovered_bps;  /* source: see rate_sample() in session.c */
	double cpu_start_s, cpu_end_s; /* process CPU at start and end of the
				  * migration (migdp_cpu_s()) */
	double dict_ms;           /* training and transfer */
};

struct migdp_run_opts {
	bool progress;            /* a progress line per second on stderr */
	unsigned wait_ms;         /* destination: how long to wait for HELLO */
	unsigned hello_version;   /* tests: announce this protocol version */
	unsigned hold_ready_ms;   /* tests: the destination holds its READY */
};

/** Pre-copy round figures, as reported in status. */
struct migdp_round {
	struct migdp_round_stat s;
	double dirty_rate_pps;
	uint64_t remaining_pages;   /* the policy's estimate of what is dirty now */
	enum migdp_conv_decision decision;
};

struct migdp_dict_state {
	struct migdp_codec_dict *dict;
	uint8_t *buf;
	uint32_t done, total, id;
	bool ready;
};

struct migdp_session {
	/* Set at creation. */
	struct migdp_ctx *ctx;
	const struct migdp_run_opts *o;
	bool source;
	char vm[MIGSHIM_NAME_LEN];
	/* Control lcore only. */
	struct migdp_report rep;
	struct migdp_fsm fsm;
	struct migdp_conv_params params;
	struct migdp_conv conv;
	struct migdp_commit_src csrc;
	struct migdp_commit_dst cdst;
	struct migdp_fault ftx, frx;
	struct migdp_lstats st;
	uint8_t *scratch;
	struct rte_ether_addr peer_mac;
	bool peer_mac_known;
	bool launched;
	uint64_t created_ns, start_ns, t_data, sent_ns, deadline_ns;
	uint64_t last_keepalive_ns, last_progress_ns, last_pages;
	uint64_t rate_ns, rate_start_ns, rate_acked;
	/* What the frame handlers saw. */
	bool got_accept, got_reject, got_abort, got_hello, got_commit;
	/* The last of each kind: a burst may bring several kinds at once. */
	struct migdp_msg hello;      /* destination: the last HELLO */
	struct rte_ether_addr hello_mac; /* ... where it came from */
	uint64_t hello_session;
	struct migdp_msg commit;     /* the last COMMIT (request, READY, GO, CONFIRM) */
	struct migdp_msg reason;     /* the last REJECT or ABORT */
	struct migdp_accept accept;  /* source: what the destination took */
	struct migdp_dict_state dict;
	/* Source: rounds. */
	unsigned round;              /* the round the channels send */
	uint64_t round_start_ns, round_pages0, round_wire0;
	uint64_t round_expect;       /* pages the round is expected to hold */
	struct migdp_round rounds[MIGDP_SESSION_ROUNDS];
	unsigned nrounds;            /* rounds closed (index % MIGDP_SESSION_ROUNDS) */
	uint32_t throttle_pct;
	unsigned pause_round;        /* the final dirty pass's round */
	/* Downtime: PAUSE at the source to GO (the source's view) and its parts. */
	uint64_t pause_ns, final_pass_ns, device_state_ns, go_ns, confirm_ns;
	/* Watchdog: the last time anything moved. */
	uint64_t moved_ns, moved_pages, moved_marked;
	/* Destination: after its verdict. */
	uint64_t linger_until_ns;
	enum migdp_reason reject_why;
	bool resumed;
	uint64_t hold_until_ns;      /* tests: READY held until then */
	bool device_state;           /* the hypervisor gave a device-state region */
	uint64_t device_state_bytes;
	int region_node[MIGSHIM_MAX_REGIONS]; /* NUMA node of each region, -1 unknown */
	bool region_mixed[MIGSHIM_MAX_REGIONS];
	struct migdp_sample samples[MIGDP_SESSION_SAMPLES];
	unsigned nsamples;
	uint64_t sample_period_ns, sampled_ns;
	bool ended;                  /* clean-up done, report ready */
	bool leak;                   /* channels not released: never free them */
	unsigned work;               /* frames handled by the last step */
	/* Security (session_sec.c). */
	uint8_t sec_flags;           /* MIGDP_SEC_* in use once agreed */
	/* Key confirmation: an authenticated KEEPALIVE each way after the
	 * ACCEPT. A destination commits to a HELLO (recorded ones verify
	 * too) only once its source proved it has the session keys; until
	 * then a newer HELLO for the VM takes its place. */
	bool tentative, proven;      /* destination */
	uint64_t tentative_id;
	struct migdp_msg tentative_hello; /* ... the HELLO it would commit to */
	struct rte_ether_addr tentative_mac;
	uint32_t tentative_ip;
	bool peer_confirmed;         /* source: the destination keyed too */
	uint8_t keyed_nonce[MIGDP_NONCE_LEN]; /* source: ACCEPT nonce keyed */
	uint32_t hello_ip;           /* destination: where the HELLO came from */
	/* Stream sessions (session_stream.c): the Unix socket the source's
	 * hypervisor connects to, or the destination hypervisor's incoming
	 * one; a connection per channel, in the order they came. */
	bool stream;
	char stream_path[108];
	int listen_fd;               /* source: -1 when none */
	dev_t listen_dev;            /* ... the socket file it bound */
	ino_t listen_ino;
	int conn_fd[MIGDP_MAX_CHANNELS]; /* -1 until accepted / connected */
	unsigned nconn;
	uint64_t connect_since_ns;   /* destination: not listening since */
	uint64_t closed_ns;          /* every connection closed both ways since */
	unsigned auth_refusals;      /* handshake frames refused for their MAC */
	char auth_note[112];         /* the last such refusal */
	uint64_t refused_ns;
};

/** The key and encryption of a session being created (before
 * migdp_session_init): @p key_file NULL or "" for none. @return 0, or -1
 * with the reason in @p err (a key file of the wrong mode, say). */
int migdp_sess_sec_setup(struct migdp_ctx *ctx, const char *key_file, bool encrypt,
			 char *err, size_t errlen);
/** The session keys, from both nonces, in place (@p flags: MIGDP_SEC_*).
 * @return 0, or -1 (the session failed). */
int migdp_sess_sec_start(struct migdp_session *s, uint8_t flags);
/** Destination: the source proved its keys; its HELLO is never taken again. */
void migdp_sess_sec_committed(struct migdp_session *s);
/** Drop the session keys (before the channels ever used them). */
void migdp_sess_sec_stop(struct migdp_session *s);
/** A handshake frame's MAC (and replay) check; false: dropped, counted. */
bool migdp_sess_hs_check(struct migdp_session *s, const struct migdp_frame *f);
bool migdp_sess_authenticated(const struct migdp_session *s);
/** The status's "security" object. */
json_t *migdp_sess_sec_status(const struct migdp_session *s);

/** Create a session for the context (its channels made, not launched)
 * in state setup, with the parameters of [migration]. */
void migdp_session_init(struct migdp_session *s, struct migdp_ctx *ctx,
			const struct migdp_run_opts *o);
/** The parameters in s->params take effect: the policy's, and the
 * session's rate limit (max-bandwidth) on its channels. */
void migdp_session_apply_params(struct migdp_session *s);
/** Start it (event "start"): the source asks, the destination listens. */
void migdp_session_start(struct migdp_session *s);
/** One step: frames, peer liveness, channels, the hypervisor, timers.
 * @return true while the session runs, false once it has ended (then
 * s->rep is complete and the channels are stopped). */
bool migdp_session_step(struct migdp_session *s);
/** Cancel it (migrate-cancel or a signal): -EPERM past the point of no
 * return, with the reason in @p err. */
int migdp_session_cancel(struct migdp_session *s, const char *why, char *err,
			 size_t errlen);
/** Free what the session holds (not the context). */
void migdp_session_fini(struct migdp_session *s);

/** A frame for this session's control lcore (the daemon routes them:
 * by session id, a HELLO by VM name); consumed. */
void migdp_session_input(struct migdp_session *s, struct rte_mbuf *m);
/** The daemon's receive path for control frames: migdp_sess_poll() calls
 * it, so that a session waiting on the network (the dictionary) still
 * gets its frames. @return frames handled. */
extern unsigned (*migdp_session_rx_hook)(void);

/** Make @p s (initialised on a context without a shim) a stream session
 * named @p name: at the source, listen on @p path for the hypervisor's
 * connections; at the destination, connect to @p path once the source's
 * streams come. @return 0, or -1 with the reason in @p err. */
int migdp_sess_stream_setup(struct migdp_session *s, const char *name, const char *path,
			    char *err, size_t errlen);
/** The stream session's connections closed and its socket removed (its
 * channels no longer run). */
void migdp_sess_stream_close(struct migdp_session *s);

/** query-migrate: the session as JSON (new reference). */
json_t *migdp_session_status(const struct migdp_session *s);
/** The final report (one JSON object, the last line of migdp's stdout). */
json_t *migdp_session_report(const struct migdp_session *s);

/** Hook for state changes and round ends (the control socket's events);
 * @p data is stolen. */
extern void (*migdp_session_event_hook)(const char *name, json_t *data);

/** The session's memory digest (mdigest.h) from the digests its channels
 * published when they reached DONE: sum then page count, big-endian,
 * zero-padded to MIGDP_DIGEST_LEN. O(channels). */
void migdp_session_digest(const struct migdp_ctx *ctx,
			  uint8_t out[MIGDP_DIGEST_LEN]);

/** CPU seconds used so far by the whole process, every thread. */
double migdp_cpu_s(void);

/* Internal to control/session*.c. */
void migdp_sess_send(struct migdp_session *s, const struct migdp_msg *m);
void migdp_sess_send_reason(struct migdp_session *s, uint8_t type,
			    enum migdp_reason r, const char *text);
unsigned migdp_sess_poll(struct migdp_session *s);
bool migdp_sess_peer_dead(const struct migdp_session *s, uint64_t now);
void migdp_sess_keepalive(struct migdp_session *s, uint64_t now);
void migdp_sess_progress(struct migdp_session *s, uint64_t now, bool force);
void migdp_sess_rate_sample(struct migdp_session *s, uint64_t now);
unsigned migdp_sess_channels_in(const struct migdp_session *s, int state);
int migdp_sess_launch(struct migdp_session *s);
void migdp_sess_start_clocks(struct migdp_session *s);
void migdp_sess_fail(struct migdp_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void migdp_sess_event(struct migdp_session *s, enum migdp_event ev,
		      const char *reason);
void migdp_sess_hv_event(struct migdp_session *s, uint32_t type, uint32_t value,
			 uint64_t arg, const char *reason);
uint64_t migdp_sess_pages_done(const struct migdp_session *s);
uint64_t migdp_sess_wire_bytes(const struct migdp_session *s);
int migdp_sess_send_dict(struct migdp_session *s);
void migdp_sess_dict_input(struct migdp_session *s, const struct migdp_dict_msg *m);
bool migdp_sess_src_step(struct migdp_session *s, uint64_t now);
bool migdp_sess_dst_step(struct migdp_session *s, uint64_t now);
/* session_stream.c */
void migdp_sess_stream_accepted(struct migdp_session *s);
void migdp_sess_stream_step(struct migdp_session *s, uint64_t now);
json_t *migdp_sess_stream_status(const struct migdp_session *s);

#endif
