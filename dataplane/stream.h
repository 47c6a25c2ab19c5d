/* SPDX-License-Identifier: BSD-3-Clause */
/* Stream sessions (docs/qemu.md): a channel carries one connection of a
 * hypervisor's own migration (QEMU's main stream or one multifd channel)
 * both ways, in order, exactly once, over the channel's reliable
 * transport. Each side of a channel is a sender (its tx, the bytes read
 * from its connection) and a receiver (its rx, the bytes it writes to its
 * connection); the receiver holds at most MIGDP_STREAM_RWND frames that
 * its connection has not taken and advertises how far the sender may go
 * (the ACK header's seq), so a slow reader stops the writer at the other
 * end (back-pressure) and nothing is buffered without bound.
 *
 * The connection is the control lcore's: it accepts or connects it,
 * publishes its descriptor, and closes it once the channel lcore let go
 * (the session ended). The channel lcore reads and writes it, non-blocking,
 * and shuts its write side when the peer's stream ended. */
#ifndef MIGDP_STREAM_H
#define MIGDP_STREAM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/** Frames a stream receiver holds for its connection, at most (the
 * window it advertises; a power of two, >= the first window below). */
#define MIGDP_STREAM_RWND 256u
/** What a sender may send before the receiver's first advertisement. */
#define MIGDP_STREAM_FIRST_WINDOW 64u

/** How a channel's connection ended (published bits). */
#define MIGDP_STREAM_SENT_EOF 0x1u  /**< our connection's end was acknowledged */
#define MIGDP_STREAM_GOT_EOF 0x2u   /**< the peer's end was written: write side shut */
#define MIGDP_STREAM_LOCAL_ERR 0x4u /**< our connection failed (errno in err) */
#define MIGDP_STREAM_PEER_RST 0x8u  /**< the peer's connection failed */
#define MIGDP_STREAM_CLOSED (MIGDP_STREAM_SENT_EOF | MIGDP_STREAM_GOT_EOF)

/** A frame the receiver holds until its connection took it. */
struct migdp_stream_slot {
	uint64_t off;   /* stream offset of its first byte */
	uint32_t len;   /* plain bytes */
	uint8_t flags;  /* MIGDP_STREAM_F_EOF / RST */
	bool full;
};

struct migdp_stream {
	/* Set by the control lcore (release): the connection, -1 until then. */
	_Atomic int fd;
	/* Published by the channel lcore. */
	_Atomic bool peer_opened;      /* a byte (or the end) of the peer's stream came */
	_Atomic unsigned ends;         /* MIGDP_STREAM_* */
	_Atomic int err;               /* errno of our connection's failure */
	_Atomic uint64_t bytes_read;   /* from our connection, sent */
	_Atomic uint64_t bytes_written; /* to our connection */
	_Atomic uint64_t zstd_frames, zstd_plain, zstd_bytes; /* sent compressed */
	_Atomic uint64_t zstd_misses;  /* compressed, did not fit a frame: sent raw */
	/* Owned by the channel lcore: sending. */
	bool rd_end;                   /* read() returned 0 or failed */
	bool end_sent;                 /* the EOF (or RST) record left, at end_seq */
	uint32_t end_seq;
	uint32_t peer_edge;            /* the peer takes sequences below it */
	uint64_t probe_ns;             /* last window probe */
	uint64_t tx_off;               /* stream offset of the next byte sent */
	uint8_t *stage;                /* bytes read, not yet sent (compression) */
	uint32_t staged;
	uint32_t zin;                  /* bytes to compress at once (adapts) */
	double zratio;                 /* recent plain / compressed (EWMA) */
	/* Owned by the channel lcore: receiving. */
	uint32_t nslots;               /* power of two */
	uint64_t dnext;                /* extended sequence to write next */
	uint64_t rx_off;               /* stream offset of the next byte written */
	uint32_t woff;                 /* bytes of the head slot written */
	uint32_t adv_edge;             /* the edge we last advertised */
	struct migdp_stream_slot *slot;
	uint8_t *mem;                  /* nslots x MIGDP_STREAM_MAX_PLAIN */
};

struct migdp_chan;

/** Set up channel @p c of a stream session (both roles): its stream
 * state and a receiver of MIGDP_STREAM_RWND frames. @return 0 or -ENOMEM. */
int migdp_stream_chan_init(struct migdp_chan *c);
/** Free what migdp_stream_chan_init() made (the descriptor is the control
 * lcore's). */
void migdp_stream_chan_fini(struct migdp_chan *c);
/** Both directions start at @p isn (the HELLO's), before the lcore runs. */
void migdp_stream_chan_reset(struct migdp_chan *c, uint32_t isn);

#endif
