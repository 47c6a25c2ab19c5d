/* SPDX-License-Identifier: BSD-3-Clause */
/* migdp runtime: the context shared by the control lcore and the channel
 * lcores, and the channel object. Discipline of each field group is said
 * in its comment: "set at start" (read-only once lcores run), "owned by"
 * (written by one lcore only), "published" (written by one, read by
 * others with relaxed atomics). */
#ifndef MIGDP_DP_H
#define MIGDP_DP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "codec/codec.h"
#include "codec/adapt.h"
#include "config.h"
#include "fault.h"
#include "mdigest.h"
#include "migshim.h"
#include "port.h"
#include "transport.h"
#include "sec.h"
#include "stream.h"
#include "wire.h"

#define MIGDP_BURST 32
/* Room for a burst after fault injection (duplicates, a held frame). */
#define MIGDP_BURST_ROOM (2 * MIGDP_BURST + 2)

enum migdp_chan_state {
	MIGDP_CHAN_RUNNING = 0,
	MIGDP_CHAN_DONE,   /* source: all acked and FIN echoed; dest: complete */
	MIGDP_CHAN_FAILED,
};

/* Counters of one lcore (channel or control); written by that lcore only. */
struct migdp_lstats {
	uint64_t rx_frames, tx_frames, tx_bytes, tx_dropped;
	uint64_t retransmits;
	uint64_t pages_zero, pages_raw, pages_frag; /* sent (src) / applied (dst) */
	uint64_t pages_zstd, zstd_bytes;  /* compressed pages, their payload bytes */
	uint64_t zstd_records;            /* src: zstd records (runs of pages) */
	uint64_t pages_zstd_frag;         /* of pages_zstd: sent as a stream */
	uint64_t pages_stale;  /* dst: older than what the page already holds */
	uint64_t pages_zero_skipped; /* dst: zero, never written, already zero */
	uint64_t misrouted;    /* handed to the owning lcore */
	uint64_t zc_fallback;  /* src: frames copied, no segment mbuf left */
	uint64_t rx_new, rx_dup; /* dst: DATA frames by class */
	uint64_t drops[MIGDP_DROP_MAX];
	struct migdp_fault_stats ftx, frx;
};

struct migdp_ctx;

/* Destination: one compressed-page stream being reassembled. */
struct migdp_zslot {
	uint64_t ver;       /* extended sequence of its first fragment, 0: free */
	uint32_t got;       /* bytes received */
	uint32_t len;       /* stream length, 0 until its first fragment came */
	uint8_t buf[MIGDP_ZSTREAM_MAX];
};

struct migdp_chan {
	/* Set at start. */
	struct migdp_ctx *ctx;
	const struct migdp_chan_role *role; /* stream channels; NULL: the process's */
	struct migdp_stream *sc;     /* stream sessions (stream.h); NULL */
	uint16_t id;
	uint16_t queue;              /* = 1 + id */
	unsigned lcore;
	struct migdp_flow flow;
	struct migdp_local loc;
	struct rte_ring *inbox;      /* frames another lcore received for us */
	/* Owned by the channel lcore. */
	struct migdp_fault ftx, frx;
	struct migdp_tx *tx;         /* source */
	struct migdp_pacer pacer;    /* source */
	struct migdp_rx *rx;         /* destination */
	struct migdp_vtab *vt;
	/* Destination: the source's partition (HELLO block_pages): the page
	 * at gpa is channel ((gpa >> block_shift) % nch)'s alone. */
	unsigned block_shift;       /* destination */
	struct migdp_codec_ctx *codec; /* zstd context of this lcore */
	uint8_t *arena;              /* source: compressed payloads of a frame;
	                              * destination: the decoded pages of one
	                              * frame (MIGDP_DATA_MAX_RECORDS pages) */
	struct migdp_mdigest md;     /* memory digest of this channel's pages */
	/* Source: how frames are built, chosen once (copy or zero-copy). */
	int (*build)(struct migdp_chan *c, struct rte_mbuf *m,
		     const struct migdp_msg *msg, struct migdp_data *d);
	struct rte_mbuf_ext_shared_info shinfo; /* guest memory segments */
	uint32_t arena_used;
	/* Source codec choice: per frame, fixed or adaptive ([codec] auto). */
	bool use_zstd;
	struct migdp_adapt adapt;
	struct migdp_adapt_batch batch; /* of the frame being filled */
	bool saturated;              /* window or pacing stopped us lately */
	bool full_burst;             /* the last send sent a whole burst */
	struct migdp_rec carry;      /* compressed page for the next frame */
	bool carry_active;
	uint8_t *carry_buf;          /* its bytes (at most a frame's payload) */
	uint64_t raw_gpa;            /* page the codec sent raw: not again */
	uint32_t frame_zpages;       /* compressed pages in the frame so far */
	uint8_t *zs_buf[2];          /* compressed-page streams, alternating */
	unsigned zs_cur;             /* the one in progress */
	bool zs_active;
	uint64_t zs_gpa;
	uint32_t zs_len, zs_off, zs_first_seq;
	double zratio;               /* recent compression ratio (EWMA) */
	uint64_t link_ns, link_bytes; /* last link sample */
	uint64_t path_bound_ns;      /* the path last held the channel back */
	struct migdp_lstats st;
	uint64_t wake_ns;            /* work due then (pacing): sleep no longer */
	uint64_t limit_applied;      /* source: the session's limit in force */
	/* Source: descriptors and where we are in them. */
	struct migshim_desc descs[MIGDP_BURST];
	unsigned ndescs, idesc;
	uint64_t cur_gpa;            /* next page of the current descriptor */
	uint32_t cur_left;           /* pages left in it */
	uint64_t frag_gpa;           /* page being sent in fragments */
	uint32_t frag_off;           /* next byte of it */
	bool frag_active;
	uint32_t frag_first_seq;
	bool final_seen;             /* the final round's marker was popped */
	bool fin_sent, fin_echoed;
	uint32_t end_seq;
	uint64_t fin_sent_ns;
	/* Destination. */
	struct migdp_zslot *zslots;  /* compressed-page streams in reassembly */
	uint32_t nzslots;            /* power of two */
	bool fin_seen;
	bool fin_done;               /* every frame up to the FIN applied */
	/* Published by the change of state to DONE. */
	struct migdp_mdigest digest;
	/* Published. */
	_Atomic int state;
	_Atomic uint64_t pages_done;  /* source: pages sent; dest: applied */
	_Atomic uint64_t wire_bytes;
	_Atomic uint64_t retx;
	_Atomic uint64_t acked_bytes; /* source: bytes the peer acknowledged */
	/* Source, pre-copy rounds (the hypervisor's end-of-round markers):
	 * the round of the last marker taken from the ring, and the last
	 * round every frame of which the peer acknowledged. */
	_Atomic uint64_t round_marked;
	_Atomic uint64_t round_drained;
	/* Written by the control lcore, taken by the channel's own lcore
	 * before it handles frames (never written into its codec from
	 * outside): the dictionary to use from now on. */
	struct migdp_codec_dict *_Atomic dict_request;
	struct migdp_codec_dict *dict_in_use; /* owned by the channel lcore */
	_Atomic bool attached;       /* served by its worker (worker.h) */
} __rte_cache_aligned;

struct migdp_ctx {
	/* Set at start. */
	const struct migdp_config *cfg;
	char tag[16];                 /* names its rings, unique per process */
	struct migdp_workers *workers; /* the lcores that serve its channels */
	struct migdp_port port;
	struct migshim_session *shim; /* NULL: a stream session (stream.h) */
	bool stream;
	uint16_t nch;
	uint16_t base_port;           /* control: base; channel i: base + 1 + i */
	uint16_t peer_base_port;      /* the same numbering at the peer */
	uint32_t isn;
	struct rte_ring *ctl_inbox;   /* frames for the control lcore */
	struct migdp_flow ctl_flow;
	struct migdp_local ctl_loc;
	struct migdp_chan *chans[MIGDP_MAX_CHANNELS];
	uint64_t tsc_hz;
	/* Digest value of every page (mdigest.h), written only by the lcore
	 * of the page's channel. */
	uint64_t *pval;
	uint64_t npages;              /* of guest memory, every region */
	/* Guest pages are numbered densely over the regions (a device-state
	 * region far above RAM costs its own size, not the gap). */
	unsigned nregions;
	struct migdp_page_span {
		uint64_t gpa, end;        /* [gpa, end) of the region */
		uint64_t first;           /* index of its first page */
	} spans[MIGSHIM_MAX_REGIONS];
	/* Destination: the version of every page (newest wins), one table
	 * for the session; each page is written by its channel's lcore. */
	struct migdp_vtab *vt;
	/* Destination: the source's partition (HELLO block_pages): the page
	 * at gpa is channel ((gpa >> block_shift) % nch)'s alone. */
	unsigned block_shift;
	/* Security (sec.h): the key (len 0: none), the handshake's nonces,
	 * and once agreed the session's crypto, set by the control lcore
	 * before the channels send or receive with it. */
	struct migdp_psk psk;
	bool encrypt;                 /* asked for (source) or required (dst) */
	uint8_t nonce_s[MIGDP_NONCE_LEN], nonce_d[MIGDP_NONCE_LEN];
	struct migdp_sec *sec;
	/* Published. */
	_Atomic bool quit;            /* every lcore stops */
	_Atomic uint64_t last_heard_ns; /* any valid frame from the peer */
	_Atomic uint64_t discovered_bps; /* the session's path rate so far */
	_Atomic uint64_t rate_limit_bps; /* the session's max-bandwidth, all
					  * channels together; 0: none */
};

/** Dense index (pval, version table) of the guest page at @p gpa, which
 * lies in a region (checked by the caller: migshim_session_gpa_to_hva()). */
static inline uint64_t
migdp_page_index(const struct migdp_ctx *ctx, uint64_t gpa)
{
	unsigned i;

	RTE_ASSERT(ctx->nregions >= 1); /* sorted by gpa: the shim's order */
	for (i = 0; i < ctx->nregions - 1; i++)
		if (gpa < ctx->spans[i].end)
			break;
	return ctx->spans[i].first + ((gpa - ctx->spans[i].gpa) >> MIGDP_PAGE_SHIFT);
}

/** Nanoseconds from the TSC. */
uint64_t migdp_now_ns(void);
void migdp_clock_init(void);

/** Lcore that should handle frame @p m: 0 = control, 1 + i = channel i,
 * from the UDP destination port (ARP and anything else: control). */
unsigned migdp_frame_owner(const struct migdp_ctx *ctx, const struct rte_mbuf *m);

/** Receive up to a burst on @p queue and from @p inbox, apply rx faults,
 * hand frames that belong to another lcore to it, and return the ones for
 * the caller in @p mine. */
uint16_t migdp_rx_burst(struct migdp_ctx *ctx, unsigned self, uint16_t queue,
			struct rte_ring *inbox, struct migdp_fault *frx,
			struct migdp_lstats *st, struct rte_mbuf **mine);

/** Parse @p m (any segmentation) for @p loc into @p f, counting drops.
 * @p scratch holds MIGDP_MAX_FRAME bytes when the frame is segmented.
 * @return true when the frame is valid. */
bool migdp_rx_parse(struct migdp_ctx *ctx, struct rte_mbuf *m,
		    const struct migdp_local *loc, uint8_t *scratch,
		    struct migdp_frame *f, struct migdp_lstats *st);

/** Build a control message into a new mbuf and send it on @p queue,
 * through @p ftx. @return 0 or -errno. */
int migdp_send_msg(struct migdp_ctx *ctx, uint16_t queue,
		   const struct migdp_flow *fl, const struct migdp_msg *m,
		   struct migdp_fault *ftx, struct migdp_lstats *st);
/** The same without the handshake MAC: a refusal of a HELLO that is not
 * authentic, which must not be made one the source could trust. */
int migdp_send_msg_unsigned(struct migdp_ctx *ctx, uint16_t queue,
			    const struct migdp_flow *fl, const struct migdp_msg *m,
			    struct migdp_fault *ftx, struct migdp_lstats *st);

/** Send @p n frames on @p queue through @p ftx, counting bytes. */
void migdp_send_frames(struct migdp_ctx *ctx, uint16_t queue,
		       struct rte_mbuf **pkts, uint16_t n,
		       struct migdp_fault *ftx, struct migdp_lstats *st);

/** Idle state of one poll loop. */
struct migdp_idle {
	unsigned empty;     /* empty polls in a row */
	uint32_t sleep_us;  /* next back-off */
};

/** Sleep after idle_polls empty polls (DESIGN decision 13): idle_backoff_us
 * first, doubling while the loop stays idle, up to idle_backoff_max_us;
 * any work resets it. A loop that is idle for long costs little CPU, one
 * that is busy never sleeps. */
static inline void
migdp_idle(const struct migdp_config *cfg, struct migdp_idle *s, bool busy)
{
	if (busy) {
		s->empty = 0;
		s->sleep_us = 0;
		return;
	}
	if (cfg->idle_backoff_us == 0 || ++s->empty < cfg->idle_polls)
		return;
	s->sleep_us = s->sleep_us == 0 ? cfg->idle_backoff_us :
		RTE_MIN(2 * s->sleep_us, RTE_MAX(cfg->idle_backoff_max_us,
						 cfg->idle_backoff_us));
	rte_delay_us_sleep(s->sleep_us);
	s->empty = 0;
}

/** What a channel lcore does for its role; migdp_chan_loop() does the
 * rest (receive, parse, publish counters, idle back-off). */
struct migdp_chan_role {
	const char *name;
	/** A valid frame for this channel. */
	void (*on_frame)(struct migdp_chan *c, const struct migdp_frame *f,
			 uint64_t now);
	/** Once per loop: send, retransmit, acknowledge. Returns work done. */
	unsigned (*tick)(struct migdp_chan *c, uint64_t now);
};

/** The channel lcore loop, until quit or the channel failed: calls
 * migdp_chan_poll() with the clock, and idles when it found nothing. */
int migdp_chan_loop(struct migdp_chan *c, const struct migdp_chan_role *role);

/** One iteration of the channel loop at time @p now: receive a burst and
 * handle it, then the role's tick, then publish the counters. @p scratch
 * holds MIGDP_MAX_FRAME + 64 bytes. Only the channel's lcore calls it; tests
 * call it from their own thread (the channel not launched) to drive a
 * channel step by step, with a clock of their choosing.
 * @return work done (frames received plus the tick's). */
unsigned migdp_chan_poll(struct migdp_chan *c, const struct migdp_chan_role *role,
			 uint8_t *scratch, uint64_t now);

/** What each role does, for migdp_chan_loop() and migdp_chan_poll(). */
extern const struct migdp_chan_role migdp_chan_src_role;
extern const struct migdp_chan_role migdp_chan_dst_role;
/** Both roles of a stream session (chan_stream.c). */
extern const struct migdp_chan_role migdp_chan_stream_role;

/** Sending channels (chan_src.c, also for stream channels): the pacer's
 * rate for this loop; resends of what the transport says is lost (a
 * private copy with a fresh timestamp), returning frames sent; the codec
 * chooser's view of the link, every millisecond. */
void migdp_chan_src_pace(struct migdp_chan *c, uint64_t now);
unsigned migdp_chan_retransmit(struct migdp_chan *c, uint64_t now);
void migdp_chan_src_link(struct migdp_chan *c, uint64_t now);
/** The transport released a kept frame (its cookie, the mbuf): freed. */
void migdp_chan_release_frame(void *arg, uint32_t seq, uint64_t cookie);

/** Channel lcore entry points (rte_eal_remote_launch). */
int migdp_chan_src_main(void *chan);
int migdp_chan_dst_main(void *chan);

/** Source frame builders (chan_src.c): every payload copied, or raw pages
 * and fragments as segments over guest memory. @return 0 or -errno. */
int migdp_frame_copy(struct migdp_chan *c, struct rte_mbuf *m,
		     const struct migdp_msg *msg, struct migdp_data *d);
int migdp_frame_zero_copy(struct migdp_chan *c, struct rte_mbuf *m,
			  const struct migdp_msg *msg, struct migdp_data *d);
/** Choose the source channel's builder from the port (once, at creation). */
void migdp_chan_src_init_zero_copy(struct migdp_chan *c);
/** A private one-segment copy of kept frame @p orig to resend, its raw
 * pages and fragments read again with fresh CRCs (zero-copy frames point
 * into guest memory); NULL without a buffer. */
struct rte_mbuf *migdp_frame_copy_for_resend(struct migdp_chan *c,
					     const struct rte_mbuf *orig);

/** Set up @p ctx for @p cfg, its port open and its shim session in
 * ctx->shim: flows, a random first sequence, the page-value table, the
 * control inbox (named after @p tag, unique per process). @return 0 or
 * -ENOMEM. */
int migdp_ctx_init(struct migdp_ctx *ctx, const struct migdp_config *cfg,
		   const char *tag);
/** Create the context's channels (after migdp_ctx_init(); a caller that
 * fixes ctx->isn does so before). @return 0 or -ENOMEM. */
int migdp_ctx_channels(struct migdp_ctx *ctx);
/** Free what the two above made (the port and shim are the caller's). */
void migdp_ctx_fini(struct migdp_ctx *ctx);

/** Allocate and set up channel @p id for the context's role. */
struct migdp_chan *migdp_chan_create(struct migdp_ctx *ctx, uint16_t id,
				     const struct rte_ether_addr *peer_mac,
				     uint32_t window);
void migdp_chan_free(struct migdp_chan *c);
/** Free the frames @p c keeps for retransmission (its lcore no longer
 * runs it). */
void migdp_chan_release_kept(struct migdp_chan *c);

#endif
