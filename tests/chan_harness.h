/* SPDX-License-Identifier: BSD-3-Clause */
/* Harness of the channel tests (test_chan*.c): EAL in the test process,
 * two ring ethdevs (rte_eth_from_rings) whose rings are crossed, so that
 * what the source port sends on queue q the destination port receives on
 * queue q and the other way round; guest memory in memfds handed over
 * through libmigshim to a source and a destination context, each with its
 * own shim session, port, page-value table and channels, set up as the
 * daemon's setup_ctx() and session start do.
 *
 * Channels are driven from the test thread with migdp_chan_poll() and the
 * test's clock, which moves only when the test says so (ch_advance(), and
 * 2 us per round of polls in ch_run()): timers (ack delay, retransmission
 * timeouts) fire when the test decides, never because the machine was slow.
 * Or they run on worker lcores, with their real entry points and the real
 * clock (ch_run_lcores()). */
#ifndef CHAN_HARNESS_H
#define CHAN_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dp.h"
#include "shim_fixture.h"

/* 198.18.0.1 and .2 (RTE_IPV4() of DPDK 22.11 shifts an int into its sign
 * bit for these: undefined, and UBSan says so). */
#define TEST_IP_SRC 0xc6120001u
#define TEST_IP_DST 0xc6120002u

#define CH_MAX_REGIONS 4
#define CH_MAX_CHANNELS 2
#define CH_SESSION 0x5e55102a7e57c0deull
#define CH_MB (1024ull * 1024)

struct ch_region {
	uint64_t gpa, size;
};

/* What a pair is made of; zero fields take the defaults in brackets. */
struct ch_params {
	uint16_t mtu;                  /* [9000] */
	unsigned nch;                  /* channels [1] */
	enum migdp_codec_method codec; /* RAW [default] or ZSTD (level 1) */
	uint32_t isn;                  /* first sequence of every channel [0] */
	uint32_t window;               /* frames in flight per channel [256] */
	uint32_t tx_zero_copy;         /* [port] tx_zero_copy [MIGDP_AUTO] */
	unsigned nregions;             /* [one region of 1 MiB at gpa 0] */
	struct ch_region regions[CH_MAX_REGIONS];
};

/* One side: a migdp context as the daemon builds it. */
struct ch_side {
	struct migdp_config cfg;
	struct migdp_ctx ctx;
	struct fx fx;                  /* the shim handoff of its guest RAM */
	int fd[CH_MAX_REGIONS];        /* the memfds */
	uint8_t *mem[CH_MAX_REGIONS];  /* the test's own read-write mappings */
	uint8_t *scratch;              /* for migdp_chan_poll() */
	char port_name[RTE_ETH_NAME_MAX_LEN];
};

struct ch_pair {
	struct ch_params p;
	struct ch_side src, dst;
	struct rte_ring *fwd[1 + CH_MAX_CHANNELS];  /* source -> destination */
	struct rte_ring *back[1 + CH_MAX_CHANNELS]; /* destination -> source */
	uint64_t t0, elapsed;          /* the test's clock: t0 + elapsed */
};

/* Start EAL with a few lcores mapped onto the CPUs we may use; exits 77
 * (skipped) saying why when the machine does not let EAL start. */
void ch_eal_init(const char *prog);

/* Two contexts over crossed ring ports and fresh, zero guest memory; NULL
 * (with the reason printed) on failure. */
struct ch_pair *ch_pair_create(const struct ch_params *p);
void ch_pair_free(struct ch_pair *p);

/* The clock the channels see when driven by the test, and moving it. */
uint64_t ch_now(const struct ch_pair *p);
void ch_advance(struct ch_pair *p, uint64_t ns);

/* The page at @p gpa: at the source, the test's own read-write mapping
 * (the shim maps source memory read-only); at the destination, the shim
 * session's mapping, the one the destination channel writes through. */
uint8_t *ch_src_page(struct ch_pair *p, uint64_t gpa);
uint8_t *ch_dst_page(struct ch_pair *p, uint64_t gpa);

/* Channel @p i of either side. */
struct migdp_chan *ch_src_chan(struct ch_pair *p, unsigned i);
struct migdp_chan *ch_dst_chan(struct ch_pair *p, unsigned i);

/* One iteration of a channel's loop. @return work done. */
unsigned ch_poll_src(struct ch_pair *p, unsigned i);
unsigned ch_poll_dst(struct ch_pair *p, unsigned i);

/* Poll every channel of both sides in turn, the clock moving 2 us a round,
 * until all are DONE, for at most @p timeout_ms of real time. @return 0, or
 * -ETIMEDOUT / -EIO (a channel failed). */
int ch_run(struct ch_pair *p, unsigned timeout_ms);

/* The same with each channel on its own worker lcore, as the daemon runs
 * them (migdp_chan_src_main / migdp_chan_dst_main); stops them after. */
int ch_run_lcores(struct ch_pair *p, unsigned timeout_ms);

/* Hypervisor side of the source: dirty pages [gpa, gpa + npages pages)
 * into the rings that own them, and an end-of-round marker. @return 0. */
int ch_push(struct ch_pair *p, uint64_t gpa, uint64_t npages);
int ch_end_round(struct ch_pair *p, uint64_t round, bool final);

/* A DATA frame of sequence @p seq holding the records of @p d, as source
 * channel @p ch would address it: by copy (migdp_wire_build_data with
 * copy_payload), or zero-copy (headers and record table in the first
 * segment, each record payload a further segment attached over the memory
 * it lives in, guest memory included). NULL on failure. */
struct rte_mbuf *ch_build(struct ch_pair *p, unsigned ch, uint32_t seq,
			  struct migdp_data *d, bool zero_copy);

/* Put @p m on the wire from the source port, queue @p queue (the
 * destination port receives it on the same queue). Consumes @p m. */
void ch_send(struct ch_pair *p, uint16_t queue, struct rte_mbuf *m);
/* The same from the destination port to the source port. */
void ch_send_back(struct ch_pair *p, uint16_t queue, struct rte_mbuf *m);

/* Take what waits on the wire before a channel sees it: frames sent by the
 * source (@p to_dst) or by the destination, on @p queue. @return count. */
unsigned ch_take(struct ch_pair *p, bool to_dst, uint16_t queue,
		 struct rte_mbuf **pkts, unsigned max);

/* Take the frames waiting for source channel @p ch and count the ACKs among
 * them (all are freed); the last ACK into @p last when not NULL. */
unsigned ch_take_acks(struct ch_pair *p, unsigned ch, struct migdp_ack *last);

/* Linear bytes of @p m from @p off (@p len bytes) into @p buf. */
const uint8_t *ch_read(const struct rte_mbuf *m, uint32_t off, uint32_t len,
		       void *buf);

/* Make [@p addr, + @p len) read-only and count writes to it: a write
 * faults, is counted, and goes ahead (the range becomes writable again).
 * ch_watch_end() restores the protection and returns the count. One watch
 * at a time; page-aligned ranges. */
int ch_watch_writes(void *addr, size_t len);
unsigned ch_watch_end(void);

#endif
