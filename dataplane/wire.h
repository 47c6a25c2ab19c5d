/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file wire.h
 * The migdp wire format: Ethernet + IPv4 + UDP + migdp header + payload.
 *
 * Everything here works on flat byte buffers and uses DPDK headers only
 * (no EAL, no mbufs), so it is unit-testable and usable by any caller.
 * All multi-byte fields on the wire are big-endian; the host-order views
 * (struct migdp_msg, struct migdp_rec) are what callers build from and
 * what the parser fills. docs/wire-format.md has the byte-level diagrams.
 *
 * Receive rule: nothing from a frame is used before migdp_wire_parse()
 * returned MIGDP_DROP_NONE for it; that call has checked every length,
 * count and offset, including every record of a DATA frame.
 */
#ifndef MIGDP_WIRE_H
#define MIGDP_WIRE_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_ether.h>

#define MIGDP_WIRE_MAGIC 0x4d44u   /**< "MD" */
#define MIGDP_WIRE_VERSION 4       /**< bumped on any incompatible change */
/** Version 1 framing (no frame check, UDP checksum): understood for HELLO
 * and REJECT only, so that a version-1 peer is refused with the reason. */
#define MIGDP_WIRE_VERSION_LEGACY 1
/** Version 2: the framing of version 3 (frame check); understood for HELLO
 * and REJECT only, for the same reason. */
#define MIGDP_WIRE_VERSION_PREV 2
/** Version 3: version 4 without authentication; understood for HELLO and
 * REJECT only, for the same reason. */
#define MIGDP_WIRE_VERSION_V3 3
/** Versions whose HELLO and REJECT are understood (to refuse them). */
#define MIGDP_WIRE_VERSION_OLD(v) ((v) >= MIGDP_WIRE_VERSION_LEGACY && \
				   (v) < MIGDP_WIRE_VERSION)
/** VM name in HELLO, NUL included (= MIGSHIM_NAME_LEN). */
#define MIGDP_VM_NAME_LEN 32
#define MIGDP_PAGE_SIZE 4096u
#define MIGDP_PAGE_SHIFT 12
#define MIGDP_AUTH_TAG_LEN 16
#define MIGDP_DIGEST_LEN 32
#define MIGDP_MAX_REGIONS 64u      /**< guest memory regions in a HELLO */
#define MIGDP_MAX_SACK 16u         /**< SACK blocks in an ACK */
#define MIGDP_DATA_MAX_RECORDS 64u /**< records in one DATA frame */
#define MIGDP_ZSTD_MAX_PAGES 8u    /**< pages in one ZSTD record */
/** Pages all ZSTD records of one DATA frame decode to, at most. */
#define MIGDP_DATA_MAX_ZSTD_PAGES 64u
#define MIGDP_REASON_TEXT_LEN 60   /**< REJECT/ABORT text, NUL included */
#define MIGDP_MTU_MIN 1280         /**< smallest IPv4 MTU we accept */
#define MIGDP_MTU_MAX 9000

/** Header flags. Any other bit is refused by the parser. */
#define MIGDP_F_RETRANSMIT 0x0001u /**< this frame is a retransmission */
#define MIGDP_F_ACK_NOW 0x0002u    /**< receiver: acknowledge immediately */
#define MIGDP_F_ALL (MIGDP_F_RETRANSMIT | MIGDP_F_ACK_NOW)

/** COMMIT flags. The three-message commit (DESIGN decision 9): the source
 * asks (no flag, its digest), the destination answers READY (with VERIFIED
 * when everything arrived and its digest matched), the source says GO and
 * never resumes its VM from then on, the destination resumes it and says
 * CONFIRM. */
#define MIGDP_COMMIT_VERIFIED 0x1u /**< the sender's digest matched its peer's */
#define MIGDP_COMMIT_READY 0x2u    /**< destination: has everything, verdict */
#define MIGDP_COMMIT_GO 0x4u       /**< source: the VM is the destination's */
#define MIGDP_COMMIT_CONFIRM 0x8u  /**< destination: the VM runs here */
#define MIGDP_COMMIT_FLAGS_ALL (MIGDP_COMMIT_VERIFIED | MIGDP_COMMIT_READY | \
				MIGDP_COMMIT_GO | MIGDP_COMMIT_CONFIRM)

/* ------------------------------------------------------------------------ */
/** @name Frame types, reasons, drop reasons (X-macros: one line each) */
/**@{*/

#define MIGDP_FOREACH_TYPE(_) \
	_(HELLO, 1, "hello") \
	_(ACCEPT, 2, "accept") \
	_(REJECT, 3, "reject") \
	_(DATA, 4, "data") \
	_(ACK, 5, "ack") \
	_(FIN, 6, "fin") \
	_(COMMIT, 7, "commit") \
	_(ABORT, 8, "abort") \
	_(KEEPALIVE, 9, "keepalive") \
	_(DICT, 10, "dict")

/** Frame type (migdp header @c type). */
enum migdp_type {
#define _(n, v, s) MIGDP_T_##n = v,
	MIGDP_FOREACH_TYPE(_)
#undef _
	MIGDP_T_MAX
};

/** Name of a frame type for logs; "unknown" when invalid. */
const char *migdp_type_name(unsigned type);

/** Why a session is rejected or aborted (REJECT and ABORT payloads). */
#define MIGDP_FOREACH_REASON(_) \
	_(NONE, "none") \
	_(VERSION, "protocol version mismatch") \
	_(LAYOUT, "guest memory layout mismatch") \
	_(CHANNELS, "channel count mismatch") \
	_(PAGE_SIZE, "page size mismatch") \
	_(BUSY, "peer busy") \
	_(AUTH, "authentication failed") \
	_(PEER_LOST, "peer timed out") \
	_(VERIFY, "memory digest mismatch") \
	_(CANCELLED, "cancelled") \
	_(INTERNAL, "internal error")

enum migdp_reason {
#define _(n, s) MIGDP_R_##n,
	MIGDP_FOREACH_REASON(_)
#undef _
	MIGDP_R_MAX
};

/** Text of a reason code; "unknown" when invalid (peers may be newer). */
const char *migdp_reason_name(unsigned reason);

/** Why a received frame is dropped. The parser returns the first group;
 * the rest are for the code that applies frames (transport, memory map),
 * so that every drop is counted in one table. */
#define MIGDP_FOREACH_DROP(_) \
	_(NONE, "accepted") \
	_(TOO_SHORT, "shorter than its headers") \
	_(NOT_IPV4_UDP, "not IPv4/UDP") \
	_(BAD_IP_HDR, "bad IPv4 header or length") \
	_(IP_FRAGMENT, "IPv4 fragment") \
	_(BAD_IP_CSUM, "bad IPv4 checksum") \
	_(BAD_UDP_LEN, "bad UDP length") \
	_(BAD_UDP_CSUM, "bad UDP checksum") \
	_(BAD_CHECK, "bad frame check (header or record table)") \
	_(WRONG_DST, "wrong destination address or port") \
	_(BAD_MAGIC, "bad magic") \
	_(BAD_VERSION, "unsupported version") \
	_(UNKNOWN_TYPE, "unknown frame type") \
	_(BAD_FLAGS, "unknown flags") \
	_(WRONG_SESSION, "wrong session") \
	_(BAD_LENGTH, "payload length disagrees with frame") \
	_(BAD_PAYLOAD, "malformed control payload") \
	_(REC_COUNT, "record count mismatch") \
	_(REC_TYPE, "unknown record type") \
	_(REC_LEN, "record length out of bounds") \
	_(REC_FIELD, "bad record field") \
	_(REC_GPA, "unaligned or overflowing address") \
	_(BAD_AUTH, "bad authentication tag") \
	_(REPLAY, "replayed (transmit counter seen or too old)") \
	_(WRONG_PEER, "not from the session's peer address") \
	_(SEQ_OLD, "sequence too old") \
	_(SEQ_AHEAD, "sequence beyond window") \
	_(REC_OUTSIDE, "record outside guest memory") \
	_(REC_CHANNEL, "record on another channel than its pages' block") \
	_(REC_CSUM, "record content checksum mismatch")

enum migdp_drop {
#define _(n, s) MIGDP_DROP_##n,
	MIGDP_FOREACH_DROP(_)
#undef _
	MIGDP_DROP_MAX
};

/** Text of a drop reason for logs and telemetry. */
const char *migdp_drop_name(unsigned drop);

/**@}*/
/* ------------------------------------------------------------------------ */
/** @name On-wire structures (packed, big-endian) */
/**@{*/

/** migdp header, right after the UDP header. 48 bytes. */
struct migdp_hdr {
	rte_be16_t magic;        /**< MIGDP_WIRE_MAGIC */
	uint8_t version;         /**< MIGDP_WIRE_VERSION */
	uint8_t type;            /**< enum migdp_type */
	rte_be16_t flags;        /**< MIGDP_F_* */
	rte_be16_t channel;      /**< channel index */
	rte_be64_t session;      /**< session id, never 0 */
	rte_be32_t seq;          /**< DATA: channel sequence; others: 0 */
	rte_be16_t payload_len;  /**< bytes after this header */
	rte_be16_t nrecords;     /**< DATA: records; others: 0 */
	rte_be32_t tstamp;       /**< sender's clock, microseconds */
	rte_be32_t check;        /**< frame check, see migdp_frame_check();
				  * authenticated sessions: the flow's
				  * transmit counter (sec.h) */
	uint8_t auth[MIGDP_AUTH_TAG_LEN]; /**< AES-GCM tag, handshake HMAC, or 0 */
} __rte_packed;
static_assert(sizeof(struct migdp_hdr) == 48, "migdp_hdr size");

/** Record types inside a DATA frame. */
enum migdp_rec_type {
	MIGDP_REC_ZERO_RUN = 1, /**< npages zero pages, no payload */
	MIGDP_REC_RAW_PAGE = 2, /**< one page, 4096 bytes */
	MIGDP_REC_FRAGMENT = 3, /**< part of a page: frag_off, len bytes */
	MIGDP_REC_ZSTD = 4,     /**< npages (1..MIGDP_ZSTD_MAX_PAGES) contiguous
				 * pages compressed as one zstd frame */
	MIGDP_REC_ZSTD_FRAG = 5, /**< part of one compressed page's stream:
				  * frag_off, len bytes (below MTU ~4200) */
	MIGDP_REC_STREAM = 6,   /**< stream sessions: bytes of the channel's
				 * byte stream at offset gpa, npages of them
				 * once decoded (len on the wire), flags
				 * MIGDP_STREAM_F_*; crc of the plain bytes */
	MIGDP_REC_MAX
};

/** MIGDP_REC_STREAM flags. */
#define MIGDP_STREAM_F_ZSTD 0x1u /**< the bytes are one zstd frame */
#define MIGDP_STREAM_F_EOF 0x2u  /**< the sender's stream ends after them */
#define MIGDP_STREAM_F_RST 0x4u  /**< the sender's connection failed: the
				  * stream is broken (no bytes) */
#define MIGDP_STREAM_F_ALL (MIGDP_STREAM_F_ZSTD | MIGDP_STREAM_F_EOF | \
			    MIGDP_STREAM_F_RST)
/** Plain bytes one STREAM record decodes to, at most. */
#define MIGDP_STREAM_MAX_PLAIN 32768u

/** A compressed page sent in fragments (MIGDP_REC_ZSTD_FRAG) is a stream:
 * this header, then one zstd frame of the page. Fragments carry the CRC32C
 * of their own bytes; the page's is in the header. */
struct migdp_zstream_hdr {
	rte_be16_t len;   /**< stream bytes, header included */
	rte_be16_t zero;  /**< 0 */
	rte_be32_t crc;   /**< CRC32C of the plain page */
} __rte_packed;
static_assert(sizeof(struct migdp_zstream_hdr) == 8, "migdp_zstream_hdr size");
/** Largest stream: header and a page that did not grow. */
#define MIGDP_ZSTREAM_MAX (8u + MIGDP_PAGE_SIZE)

/** Record header. A DATA payload is a table of nrecords of these followed
 * by the record payloads in the same order. 24 bytes. */
struct migdp_rec_hdr {
	rte_be64_t gpa;       /**< guest-physical address, page aligned */
	uint8_t type;         /**< enum migdp_rec_type */
	uint8_t flags;        /**< STREAM: MIGDP_STREAM_F_*; others 0 */
	rte_be16_t len;       /**< payload bytes of this record */
	rte_be32_t crc;       /**< CRC32C, see docs/wire-format.md */
	rte_be32_t npages;    /**< ZERO_RUN: run length; others: 1 */
	rte_be16_t frag_off;  /**< FRAGMENT: offset in the page; others: 0 */
	rte_be16_t ver_delta; /**< FRAGMENT: seq minus the page version's seq */
} __rte_packed;
static_assert(sizeof(struct migdp_rec_hdr) == 24, "migdp_rec_hdr size");

/** Bytes of Ethernet + IPv4 + UDP + migdp headers in every frame. */
#define MIGDP_L2_HDRS_LEN \
	(RTE_ETHER_HDR_LEN + 20 + 8 + (unsigned)sizeof(struct migdp_hdr))
/** Offset of the migdp header in a frame. */
#define MIGDP_HDR_OFF (RTE_ETHER_HDR_LEN + 20 + 8)

/**@}*/
/* ------------------------------------------------------------------------ */
/** @name Host-order messages */
/**@{*/

/** A guest memory region (HELLO). */
struct migdp_region {
	uint64_t gpa;  /**< page aligned */
	uint64_t size; /**< page aligned, > 0 */
};

/** What a session carries (HELLO kind): guest pages from a hypervisor
 * that links libmigshim, or a hypervisor's own migration streams (QEMU
 * through Unix sockets, docs/qemu.md): no regions, no partition. */
#define MIGDP_HELLO_PAGES 0
#define MIGDP_HELLO_STREAM 1

/** HELLO: the source asks for a session (session id in the header). */
struct migdp_hello {
	uint16_t proto_version;
	uint16_t nchannels;
	uint32_t page_size;
	uint16_t nregions; /**< <= MIGDP_MAX_REGIONS */
	uint16_t kind;     /**< MIGDP_HELLO_PAGES or MIGDP_HELLO_STREAM */
	uint32_t isn;      /**< sequence of every channel's first DATA frame */
	/** Pages of a partition block (power of two): the page at gpa travels
	 * on channel (gpa / (block_pages * page)) % nchannels, and only there
	 * (DESIGN decision 3; the destination refuses it on another). */
	uint32_t block_pages;
	/** The VM, as its hypervisors name it: a destination serving several
	 * incoming migrations gives the session to its migrate-incoming. */
	char vm[MIGDP_VM_NAME_LEN];
	uint8_t sec_flags;  /**< MIGDP_SEC_* (sec.h): the source's key, wish */
	uint8_t nonce[16];  /**< the source's handshake nonce */
	struct migdp_region regions[MIGDP_MAX_REGIONS];
};

/** ACCEPT: the destination agrees; echoes what it will use. */
struct migdp_accept {
	uint16_t proto_version;
	uint16_t nchannels;
	uint32_t page_size;
	uint32_t window; /**< receive window, frames per channel */
	uint16_t mtu;
	uint8_t sec_flags; /**< MIGDP_SEC_*: what the session uses */
	uint8_t nonce[16]; /**< the destination's handshake nonce */
};

/** REJECT and ABORT. */
struct migdp_reason_msg {
	uint16_t reason; /**< enum migdp_reason */
	char text[MIGDP_REASON_TEXT_LEN]; /**< NUL-terminated */
};

/** A SACK block: sequences [start, end) received. */
struct migdp_sack {
	uint32_t start;
	uint32_t end;
};

/** ACK: per channel (the header's channel). */
struct migdp_ack {
	uint32_t cum_ack;  /**< next sequence expected: all before arrived */
	uint32_t ts_echo;  /**< tstamp of the frame that triggered this ack */
	uint16_t nsack;    /**< <= MIGDP_MAX_SACK, most recent first */
	struct migdp_sack sack[MIGDP_MAX_SACK];
};

/** FIN: the source has sent everything on this channel. */
struct migdp_fin {
	uint32_t end_seq;     /**< first sequence never used for DATA */
	uint64_t pages;       /**< pages carried (a fragmented page once) */
	uint64_t zero_pages;  /**< of which in zero runs */
	uint64_t bytes;       /**< record payload bytes sent (not resent) */
};

/** COMMIT: source asks to commit / destination confirms. */
struct migdp_commit {
	uint32_t flags;        /**< MIGDP_COMMIT_* */
	uint64_t guest_bytes;
	uint8_t digest[MIGDP_DIGEST_LEN];
};

/** Bytes of a compression dictionary in one DICT frame. */
#define MIGDP_DICT_CHUNK 1024u
/** Largest dictionary a peer accepts. */
#define MIGDP_DICT_MAX_LEN (1u << 20)

/** DICT: a piece of the source's zstd dictionary (source -> destination),
 * or, with @c len 0, the destination's acknowledgement of every byte
 * before @c offset. Sent on the control flow before any page uses it. */
struct migdp_dict_msg {
	uint32_t dict_id;  /**< zstd dictionary id, not 0 */
	uint32_t total;    /**< dictionary bytes, <= MIGDP_DICT_MAX_LEN */
	uint32_t offset;   /**< of this piece; ack: bytes received */
	uint16_t len;      /**< <= MIGDP_DICT_CHUNK */
	uint8_t data[MIGDP_DICT_CHUNK];
};

/** One frame in host order, minus DATA records (see migdp_data). */
struct migdp_msg {
	uint8_t version; /**< wire version of the frame; 0 = current */
	uint8_t type;    /**< enum migdp_type */
	uint16_t flags;  /**< MIGDP_F_* */
	uint32_t seq;
	uint32_t tstamp; /**< microseconds, see migdp_tstamp() */
	union {
		struct migdp_hello hello;
		struct migdp_accept accept;
		struct migdp_reason_msg reason; /**< REJECT, ABORT */
		struct migdp_ack ack;
		struct migdp_fin fin;
		struct migdp_commit commit;
		struct migdp_dict_msg dict;
	} u;
};

/** One record in host order. */
struct migdp_rec {
	uint64_t gpa;
	uint8_t type;       /**< enum migdp_rec_type */
	uint8_t flags;      /**< STREAM: MIGDP_STREAM_F_* */
	uint16_t len;       /**< payload bytes */
	uint32_t crc;
	uint32_t npages;
	uint16_t frag_off;
	uint16_t ver_delta;
	bool crc_at_build;   /**< builder only: CRC32C of data computed while
			      * the frame is built (fused with the copy) */
	const uint8_t *data; /**< len bytes; NULL when len is 0 */
};

/** CRC32C (Castagnoli, standard: init and final xor 0xffffffff) as used in
 * record headers; rte_hash_crc() underneath. */
uint32_t migdp_crc32c(const void *data, uint32_t len);

/** The CRC of a ZSTD record of @p n pages whose plain pages have CRC32Cs
 * @p crcs: the page's own for one page, else the CRC32C of the n CRCs
 * (big-endian), so that each page's CRC is at hand for the memory digest
 * at both ends without another pass. */
uint32_t migdp_crc32c_of_pages(const uint32_t *crcs, uint32_t n);

/** Copy @p len bytes (a multiple of 8) from @p src to @p dst and return
 * their CRC32C, in one pass: each word is loaded once. */
uint32_t migdp_crc32c_copy(void *dst, const void *src, uint32_t len);

/**
 * The frame check: CRC32C over the migdp header (with its @c check field
 * taken as zero) followed by @p covered_len bytes of payload: the record
 * table of a DATA frame (record payloads carry their own checksum of the
 * plain content), the whole payload of any other frame. The one hook that
 * authentication (DESIGN decision 10) replaces with a MAC over the same
 * bytes. The UDP checksum is 0 ("none", legal for UDP over IPv4) unless
 * the port offloads it.
 */
uint32_t migdp_frame_check(const struct migdp_hdr *h, const void *payload,
			   uint32_t covered_len);

/** Sender clock for the header's tstamp: microseconds, wrapping. */
static inline uint32_t
migdp_tstamp(uint64_t now_ns)
{
	return (uint32_t)(now_ns / 1000);
}

/**@}*/
/* ------------------------------------------------------------------------ */
/** @name Building frames */
/**@{*/

/** Addresses and constants of one flow (a channel, or the control flow).
 * Set at creation; IPs and ports in host byte order. */
struct migdp_flow {
	struct rte_ether_addr src_mac;
	struct rte_ether_addr dst_mac;
	uint32_t src_ip;
	uint32_t dst_ip;
	uint16_t src_port;
	uint16_t dst_port;
	uint16_t channel;
	uint16_t mtu;           /**< largest IPv4 datagram, MTU_MIN..MTU_MAX */
	uint64_t session;
	bool udp_csum_offload;  /**< write the pseudo-header sum, NIC does rest;
				 * otherwise the UDP checksum is 0 */
};

/** Largest DATA payload (record table + record payloads) at @p mtu. */
static inline uint32_t
migdp_wire_data_room(uint16_t mtu)
{
	return (uint32_t)mtu - 20 - 8 - sizeof(struct migdp_hdr);
}

/**
 * Build a non-DATA frame from @p m into @p buf.
 *
 * @return frame length in bytes, -EINVAL for a bad message (type DATA or
 *   unknown, counts over their maximum, text not terminated), -EMSGSIZE when
 *   the frame exceeds the flow MTU or @p cap.
 */
int migdp_wire_build_msg(void *buf, uint32_t cap, const struct migdp_flow *fl,
			 const struct migdp_msg *m);

/** Records gathered for one DATA frame; payloads are referenced, not copied,
 * until the frame is built. Fields are private. */
struct migdp_data {
	uint32_t room;   /**< bytes available for table + payloads */
	uint32_t used;   /**< bytes taken so far */
	uint16_t nrec;
	struct migdp_rec rec[MIGDP_DATA_MAX_RECORDS];
};

/** Start an empty record set for a frame at @p mtu. */
void migdp_data_init(struct migdp_data *d, uint16_t mtu);

/** Payload bytes a further record could carry (after its header); 0 when
 * the frame is full. Use it to size fragments. */
uint32_t migdp_data_avail(const struct migdp_data *d);

/** Add a record described by @p r (payload at r->data, caller keeps it
 * alive until the frame is built). The record is validated as the parser
 * would. @return 0, -ENOSPC when it does not fit, -EINVAL when invalid. */
int migdp_data_add(struct migdp_data *d, const struct migdp_rec *r);

/** Add a run of @p npages zero pages at @p gpa. @return as migdp_data_add. */
int migdp_data_add_zero(struct migdp_data *d, uint64_t gpa, uint32_t npages);

/** Add the raw page @p page (4096 bytes) at @p gpa; its CRC32C is
 * computed when the frame is built, in the same pass as the copy. */
int migdp_data_add_raw(struct migdp_data *d, uint64_t gpa, const void *page);

/** Add bytes [@p off, @p off + @p len) of the page @p page at @p gpa as a
 * fragment; the CRC32C of those bytes is computed when the frame is built.
 * @p ver_delta is the frame's
 * sequence minus the sequence of the frame carrying this page version's
 * first fragment (0 in that frame). */
int migdp_data_add_fragment(struct migdp_data *d, uint64_t gpa,
			    const void *page, uint16_t off, uint16_t len,
			    uint16_t ver_delta);

/**
 * Build a DATA frame (header fields from @p m: seq, flags, tstamp) holding
 * the records of @p d.
 *
 * With MIGDP_WIRE_COPY_ALL, record payloads are copied after the record
 * table (raw pages and fragments with their CRC32C computed in the same
 * pass) and the frame is complete. Otherwise (zero-copy) the payloads not
 * copied are only read for their CRCs; the caller appends them, in record
 * order, as further segments.
 * Lengths and the frame check always describe the whole frame. The CRCs
 * computed are left in @p d's records (crc_at_build cleared).
 *
 * @return bytes written to @p buf, -EINVAL (no records; COPY_COMPRESSED with
 *   a compressed record after a raw one), -EMSGSIZE (@p cap too small).
 */
int migdp_wire_build_data(void *buf, uint32_t cap, const struct migdp_flow *fl,
			  const struct migdp_msg *m, struct migdp_data *d,
			  unsigned copy);

/** migdp_wire_build_data() @p copy: which record payloads are copied. */
#define MIGDP_WIRE_COPY_NONE 0u       /**< none: headers and table only */
#define MIGDP_WIRE_COPY_ALL 1u        /**< all: the frame is complete */
/** Compressed payloads only: raw pages and fragments, which must come
 * after every other record, are left to the caller (zero-copy segments). */
#define MIGDP_WIRE_COPY_COMPRESSED 2u

/** Before retransmitting a built frame: set a fresh @p tstamp and OR
 * @p set_flags into the header flags, then recompute the frame check (the
 * header and the record table must be in @p frame; payloads may live in
 * other segments). */
void migdp_wire_restamp(void *frame, uint32_t tstamp, uint16_t set_flags);

/**@}*/
/* ------------------------------------------------------------------------ */
/** @name Parsing frames */
/**@{*/

/** What the receiver expects. Set at creation; host byte order. */
struct migdp_sec;

struct migdp_local {
	uint32_t ip;
	uint16_t port;
	uint64_t session; /**< 0: any non-zero session (waiting for HELLO) */
	uint32_t peer_ip; /**< 0: any; else frames from elsewhere are dropped */
	/** Authenticated session (sec.h): frames other than HELLO, ACCEPT and
	 * REJECT are opened (tag, replay window, decryption) by it. */
	struct migdp_sec *sec;
	uint8_t sec_class;  /**< MIGDP_SEC_CLASS_* of the receiving lcore */
	bool check_channel; /**< a channel's: frames must carry @c channel */
	uint16_t channel;
	bool auth_required; /**< with no sec yet: only handshake frames pass */
};

/** migdp_wire_parse() flags: the NIC already verified a checksum. */
#define MIGDP_PARSE_IP_CSUM_OK 0x1u
#define MIGDP_PARSE_UDP_CSUM_OK 0x2u

/** A validated frame. Points into the parsed buffer. */
struct migdp_frame {
	struct migdp_msg msg;      /**< header + decoded control payload */
	uint64_t session;
	uint16_t channel;
	uint16_t nrecords;         /**< DATA */
	uint16_t payload_len;
	uint16_t src_port;         /**< peer, host order */
	uint32_t src_ip;           /**< peer, host order */
	struct rte_ether_addr src_mac;
	const uint8_t *hdr;        /**< the migdp header (handshake MACs) */
	const uint8_t *payload;    /**< DATA: record table, then payloads */
};

/**
 * Validate the frame in @p buf (@p len bytes, Ethernet padding allowed) and
 * fill @p f. With @p loc->sec the payload is authenticated (and decrypted
 * in place) before it is decoded: @p buf must then be writable. Checks, in order: lengths of each header, IPv4/UDP, checksums
 * (unless @p flags says the NIC did), destination, magic, version, type,
 * flags, session, payload length, then the type's payload: fixed sizes and
 * counts, and for DATA every record (see migdp_rec_iter_next()).
 * @p f need not be initialised; on a drop its content is unspecified.
 *
 * @return MIGDP_DROP_NONE, or why the frame must be dropped.
 */
enum migdp_drop migdp_wire_parse(const void *buf, uint32_t len,
				 const struct migdp_local *loc, unsigned flags,
				 struct migdp_frame *f);

/** Iterator over the records of a parsed DATA frame. Fields are private. */
struct migdp_rec_iter {
	const uint8_t *tab;     /**< next record header */
	const uint8_t *data;    /**< next record payload */
	uint32_t data_left;     /**< payload bytes not yet consumed */
	uint16_t left;          /**< records not yet returned */
	uint8_t drop;           /**< enum migdp_drop after the last next() */
};

/** Start iterating over the records of @p payload_len bytes holding
 * @p nrecords records (as in a struct migdp_frame). */
void migdp_rec_iter_init(struct migdp_rec_iter *it, const uint8_t *payload,
			 uint16_t payload_len, uint16_t nrecords);

/**
 * Decode and validate the next record into @p r (its data points into the
 * frame). Checks the record's bounds against what is left of the frame, its
 * type, its fields and its address before returning it.
 *
 * @return true with @p r filled; false at the end (it->drop is
 *   MIGDP_DROP_NONE when the table and payloads matched exactly) or on an
 *   invalid record (it->drop says why; stop there).
 */
bool migdp_rec_iter_next(struct migdp_rec_iter *it, struct migdp_rec *r);

/**@}*/

#endif /* MIGDP_WIRE_H */
