/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer harness: frame parsing and validation, migdp_wire_parse() and
 * the record iterator (dataplane/wire.c, wire_msg.c).
 *
 * Each input is parsed three times: as received; as a NIC that verified
 * the checksums hands it over; and with its IP checksum, frame check and
 * UDP checksum recomputed, so that mutations get past the checksums to
 * every check behind them. A frame that passes must keep the promises of
 * wire.h: fields in range, payload and records inside the frame, records
 * that tile the payload exactly, and the builders must rebuild it into a
 * frame that parses to the same message (a frame we accept is one we could
 * have sent). */
#include <stdbool.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "fuzz_common.h"
#include "wire.h"

#define FRAME_CAP (UINT16_MAX + RTE_ETHER_HDR_LEN)
#define HDR_LEN ((uint32_t)sizeof(struct migdp_hdr))

static uint8_t fixed[FRAME_CAP];
static uint8_t rebuilt[FRAME_CAP];

static bool
is_pow2(uint32_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

/* Offset of the migdp header (after IPv4 options), 0 when it does not fit. */
static uint32_t
hdr_off(const uint8_t *b, uint32_t len)
{
	const struct rte_ipv4_hdr *ip = (const void *)(b + RTE_ETHER_HDR_LEN);
	uint32_t ihl;

	if (len < RTE_ETHER_HDR_LEN + sizeof(*ip))
		return 0;
	ihl = (ip->version_ihl & 0xf) * 4u;
	if (ihl < sizeof(*ip) ||
	    RTE_ETHER_HDR_LEN + ihl + sizeof(struct rte_udp_hdr) + HDR_LEN > len)
		return 0;
	return RTE_ETHER_HDR_LEN + ihl + sizeof(struct rte_udp_hdr);
}

/* Recompute what a mutation broke: the IPv4 header checksum, the frame
 * check (when its bytes are in the buffer) and a UDP checksum the frame
 * has or needs (version 1), in that order since each covers the last. */
static void
refix(uint8_t *b, uint32_t len)
{
	struct rte_ipv4_hdr *ip = (void *)(b + RTE_ETHER_HDR_LEN);
	uint32_t off = hdr_off(b, len), covered, ihl;
	struct rte_udp_hdr *udp;
	struct migdp_hdr *h;

	if (off == 0)
		return;
	ihl = (ip->version_ihl & 0xf) * 4u;
	udp = (void *)(b + RTE_ETHER_HDR_LEN + ihl);
	h = (void *)(b + off);
	if (h->version != MIGDP_WIRE_VERSION_LEGACY) {
		covered = h->type == MIGDP_T_DATA ?
			  rte_be_to_cpu_16(h->nrecords) * (uint32_t)sizeof(struct migdp_rec_hdr) :
			  rte_be_to_cpu_16(h->payload_len);
		if (covered <= len - off - HDR_LEN)
			h->check = rte_cpu_to_be_32(migdp_frame_check(h, h + 1, covered));
	}
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	if ((udp->dgram_cksum != 0 || h->version == MIGDP_WIRE_VERSION_LEGACY) &&
	    rte_be_to_cpu_16(ip->total_length) >= ihl &&
	    rte_be_to_cpu_16(udp->dgram_len) == rte_be_to_cpu_16(ip->total_length) - ihl &&
	    RTE_ETHER_HDR_LEN + rte_be_to_cpu_16(ip->total_length) <= len) {
		udp->dgram_cksum = 0;
		udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
	}
}

/* The field rules of docs/wire-format.md, written again from the spec. */
static void
check_rec(const struct migdp_rec *r)
{
	bool whole = r->frag_off == 0 && r->ver_delta == 0;

	if (r->type == MIGDP_REC_STREAM) { /* bytes at any stream offset */
		FUZZ_CHECK(!(r->flags & ~MIGDP_STREAM_F_ALL) && whole);
		FUZZ_CHECK(r->npages <= MIGDP_STREAM_MAX_PLAIN);
		FUZZ_CHECK((r->flags & MIGDP_STREAM_F_ZSTD) ? r->len >= 1 && r->npages >= 1 :
			   r->len == r->npages);
		FUZZ_CHECK(r->npages > 0 || (r->flags & (MIGDP_STREAM_F_EOF | MIGDP_STREAM_F_RST)));
		FUZZ_CHECK(!(r->flags & MIGDP_STREAM_F_RST) || r->npages == 0);
		FUZZ_CHECK(r->gpa + r->npages >= r->gpa);
		return;
	}
	FUZZ_CHECK(r->flags == 0);
	FUZZ_CHECK((r->gpa & (MIGDP_PAGE_SIZE - 1)) == 0);
	FUZZ_CHECK((unsigned __int128)r->gpa +
		   ((unsigned __int128)r->npages << MIGDP_PAGE_SHIFT) <= UINT64_MAX);
	switch (r->type) {
	case MIGDP_REC_ZERO_RUN:
		FUZZ_CHECK(r->len == 0 && r->npages >= 1 && r->crc == 0 && whole);
		break;
	case MIGDP_REC_RAW_PAGE:
		FUZZ_CHECK(r->len == MIGDP_PAGE_SIZE && r->npages == 1 && whole);
		break;
	case MIGDP_REC_FRAGMENT:
		FUZZ_CHECK(r->len >= 1 && r->frag_off + r->len <= MIGDP_PAGE_SIZE);
		FUZZ_CHECK(r->npages == 1);
		break;
	case MIGDP_REC_ZSTD:
		FUZZ_CHECK(r->npages >= 1 && r->npages <= MIGDP_ZSTD_MAX_PAGES && whole);
		FUZZ_CHECK(r->len >= 1 && r->len <= r->npages * MIGDP_PAGE_SIZE);
		break;
	case MIGDP_REC_ZSTD_FRAG:
		FUZZ_CHECK(r->len >= 1 && r->frag_off + r->len <= MIGDP_ZSTREAM_MAX);
		FUZZ_CHECK(r->frag_off != 0 || r->len >= sizeof(struct migdp_zstream_hdr));
		FUZZ_CHECK(r->npages == 1);
		break;
	default:
		FUZZ_CHECK(!"record of an unknown type accepted");
	}
}

/* Walk the records of accepted DATA frame @p f: all of them, in order,
 * payloads back to back after the table, exactly to the payload's end.
 * Copies them to @p out (at least MIGDP_DATA_MAX_RECORDS). */
static unsigned
check_records(const struct migdp_frame *f, struct migdp_rec *out)
{
	const uint8_t *next, *end = f->payload + f->payload_len;
	struct migdp_rec_iter it;
	struct migdp_rec r;
	unsigned n = 0;

	FUZZ_CHECK(f->nrecords >= 1 && f->nrecords <= MIGDP_DATA_MAX_RECORDS);
	FUZZ_CHECK(f->nrecords * sizeof(struct migdp_rec_hdr) <= f->payload_len);
	next = f->payload + f->nrecords * sizeof(struct migdp_rec_hdr);
	migdp_rec_iter_init(&it, f->payload, f->payload_len, f->nrecords);
	for (;;) {
		memset(&r, 0, sizeof(r));
		if (!migdp_rec_iter_next(&it, &r))
			break;
		FUZZ_CHECK(n < f->nrecords);
		check_rec(&r);
		FUZZ_CHECK(r.len == 0 ? r.data == NULL : r.data == next);
		FUZZ_CHECK(r.len <= end - next);
		next += r.len;
		out[n++] = r;
	}
	FUZZ_CHECK(it.drop == MIGDP_DROP_NONE);
	FUZZ_CHECK(n == f->nrecords);
	FUZZ_CHECK(next == end);
	/* Exhausted stays exhausted. */
	FUZZ_CHECK(!migdp_rec_iter_next(&it, &r) && it.drop == MIGDP_DROP_NONE);
	return n;
}

static void
check_msg(const struct migdp_frame *f)
{
	const struct migdp_msg *m = &f->msg;
	unsigned i;

	FUZZ_CHECK(f->nrecords == 0);
	switch (m->type) {
	case MIGDP_T_HELLO: {
		const struct migdp_hello *h = &m->u.hello;

		FUZZ_CHECK(h->nregions <= MIGDP_MAX_REGIONS);
		FUZZ_CHECK(h->block_pages == 0 || is_pow2(h->block_pages));
		FUZZ_CHECK(memchr(h->vm, '\0', sizeof(h->vm)) != NULL);
		FUZZ_CHECK(f->payload_len == 48 + 16u * h->nregions ||
			   f->payload_len == 48 + MIGDP_VM_NAME_LEN + 16u * h->nregions);
		for (i = 0; i < h->nregions; i++) {
			FUZZ_CHECK(h->regions[i].size != 0);
			FUZZ_CHECK(((h->regions[i].gpa | h->regions[i].size) &
				    (MIGDP_PAGE_SIZE - 1)) == 0);
			FUZZ_CHECK(h->regions[i].gpa + h->regions[i].size > h->regions[i].gpa);
		}
		break;
	}
	case MIGDP_T_ACCEPT:
		FUZZ_CHECK(f->payload_len == 36);
		break;
	case MIGDP_T_REJECT:
	case MIGDP_T_ABORT:
		FUZZ_CHECK(f->payload_len == 64);
		FUZZ_CHECK(memchr(m->u.reason.text, '\0', sizeof(m->u.reason.text)) != NULL);
		break;
	case MIGDP_T_ACK:
		FUZZ_CHECK(m->u.ack.nsack <= MIGDP_MAX_SACK);
		FUZZ_CHECK(f->payload_len == 12 + 8u * m->u.ack.nsack);
		for (i = 0; i < m->u.ack.nsack; i++)
			FUZZ_CHECK((int32_t)(m->u.ack.sack[i].end - m->u.ack.sack[i].start) > 0);
		break;
	case MIGDP_T_FIN:
		FUZZ_CHECK(f->payload_len == 32);
		FUZZ_CHECK(m->u.fin.zero_pages <= m->u.fin.pages);
		break;
	case MIGDP_T_COMMIT:
		FUZZ_CHECK(f->payload_len == 48);
		FUZZ_CHECK(!(m->u.commit.flags & ~MIGDP_COMMIT_FLAGS_ALL));
		break;
	case MIGDP_T_KEEPALIVE:
		FUZZ_CHECK(f->payload_len == 0);
		break;
	case MIGDP_T_DICT: {
		const struct migdp_dict_msg *d = &m->u.dict;

		FUZZ_CHECK(d->dict_id != 0 && d->total >= 1 && d->total <= MIGDP_DICT_MAX_LEN);
		FUZZ_CHECK(d->len <= MIGDP_DICT_CHUNK && d->offset <= d->total &&
			   d->len <= d->total - d->offset);
		FUZZ_CHECK(f->payload_len == 16 + d->len);
		FUZZ_CHECK(memcmp(d->data, f->payload + 16, d->len) == 0);
		break;
	}
	default:
		FUZZ_CHECK(!"control frame of an unknown type accepted");
	}
}

/* Promises of any accepted frame @p f of @p buf. */
static void
check_frame(const uint8_t *buf, uint32_t len, const struct migdp_frame *f,
	    struct migdp_rec *recs, unsigned *nrecs)
{
	const struct rte_ipv4_hdr *ip = (const void *)(buf + RTE_ETHER_HDR_LEN);
	uint32_t off = hdr_off(buf, len);
	const uint8_t v = f->msg.version;

	FUZZ_CHECK(off != 0);
	FUZZ_CHECK(f->msg.type >= MIGDP_T_HELLO && f->msg.type < MIGDP_T_MAX);
	FUZZ_CHECK(v == MIGDP_WIRE_VERSION ||
		   (MIGDP_WIRE_VERSION_OLD(v) &&
		    (f->msg.type == MIGDP_T_HELLO || f->msg.type == MIGDP_T_REJECT)));
	FUZZ_CHECK(!(f->msg.flags & ~MIGDP_F_ALL));
	FUZZ_CHECK(f->session != 0);
	FUZZ_CHECK(f->payload == buf + off + HDR_LEN);
	/* The payload ends where the IP datagram ends, inside the buffer. */
	FUZZ_CHECK(f->payload + f->payload_len ==
		   (const uint8_t *)ip + rte_be_to_cpu_16(ip->total_length));
	FUZZ_CHECK(f->payload + f->payload_len <= buf + len);
	FUZZ_CHECK(f->src_ip == rte_be_to_cpu_32(ip->src_addr));
	*nrecs = 0;
	if (f->msg.type == MIGDP_T_DATA)
		*nrecs = check_records(f, recs);
	else
		check_msg(f);
}

static bool
msg_equal(const struct migdp_msg *a, const struct migdp_msg *b)
{
	unsigned i;

	if (a->type != b->type || a->flags != b->flags || a->seq != b->seq ||
	    a->tstamp != b->tstamp)
		return false;
	switch (a->type) {
	case MIGDP_T_HELLO:
		if (a->u.hello.proto_version != b->u.hello.proto_version ||
		    a->u.hello.nchannels != b->u.hello.nchannels ||
		    a->u.hello.page_size != b->u.hello.page_size ||
		    a->u.hello.nregions != b->u.hello.nregions ||
		    a->u.hello.isn != b->u.hello.isn ||
		    a->u.hello.block_pages != b->u.hello.block_pages ||
		    memcmp(a->u.hello.vm, b->u.hello.vm, sizeof(a->u.hello.vm)) != 0)
			return false;
		for (i = 0; i < a->u.hello.nregions; i++)
			if (a->u.hello.regions[i].gpa != b->u.hello.regions[i].gpa ||
			    a->u.hello.regions[i].size != b->u.hello.regions[i].size)
				return false;
		return true;
	case MIGDP_T_ACCEPT:
		return a->u.accept.proto_version == b->u.accept.proto_version &&
		       a->u.accept.nchannels == b->u.accept.nchannels &&
		       a->u.accept.page_size == b->u.accept.page_size &&
		       a->u.accept.window == b->u.accept.window &&
		       a->u.accept.mtu == b->u.accept.mtu;
	case MIGDP_T_REJECT:
	case MIGDP_T_ABORT:
		/* Bytes after the NUL are not part of the text. */
		return a->u.reason.reason == b->u.reason.reason &&
		       strcmp(a->u.reason.text, b->u.reason.text) == 0;
	case MIGDP_T_ACK:
		if (a->u.ack.cum_ack != b->u.ack.cum_ack ||
		    a->u.ack.ts_echo != b->u.ack.ts_echo || a->u.ack.nsack != b->u.ack.nsack)
			return false;
		for (i = 0; i < a->u.ack.nsack; i++)
			if (a->u.ack.sack[i].start != b->u.ack.sack[i].start ||
			    a->u.ack.sack[i].end != b->u.ack.sack[i].end)
				return false;
		return true;
	case MIGDP_T_FIN:
		return a->u.fin.end_seq == b->u.fin.end_seq && a->u.fin.pages == b->u.fin.pages &&
		       a->u.fin.zero_pages == b->u.fin.zero_pages &&
		       a->u.fin.bytes == b->u.fin.bytes;
	case MIGDP_T_COMMIT:
		return a->u.commit.flags == b->u.commit.flags &&
		       a->u.commit.guest_bytes == b->u.commit.guest_bytes &&
		       memcmp(a->u.commit.digest, b->u.commit.digest,
			      sizeof(a->u.commit.digest)) == 0;
	case MIGDP_T_DICT:
		return a->u.dict.dict_id == b->u.dict.dict_id &&
		       a->u.dict.total == b->u.dict.total &&
		       a->u.dict.offset == b->u.dict.offset && a->u.dict.len == b->u.dict.len &&
		       memcmp(a->u.dict.data, b->u.dict.data, a->u.dict.len) == 0;
	default:
		return true;
	}
}

static bool
rec_equal(const struct migdp_rec *a, const struct migdp_rec *b)
{
	return a->gpa == b->gpa && a->type == b->type && a->len == b->len &&
	       a->crc == b->crc && a->npages == b->npages && a->frag_off == b->frag_off &&
	       a->ver_delta == b->ver_delta &&
	       (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* A frame we accept is one the builders can make: rebuild @p f (records
 * @p recs) for the same flow and parse it back to the same message. */
static void
check_rebuild(const uint8_t *buf, const struct migdp_frame *f,
	      const struct migdp_rec *recs, unsigned nrecs)
{
	struct migdp_flow fl = fuzz_flow(MIGDP_MTU_MAX);
	struct migdp_local loc = fuzz_local();
	struct migdp_rec again[MIGDP_DATA_MAX_RECORDS];
	static struct migdp_data d;
	struct migdp_frame g;
	struct migdp_msg m = f->msg;
	unsigned i, n;
	int len;

	fl.src_mac = f->src_mac;
	memcpy(&fl.dst_mac, buf, sizeof(fl.dst_mac));
	fl.src_ip = f->src_ip;
	fl.src_port = f->src_port;
	fl.channel = f->channel;
	fl.session = f->session;
	if (m.type == MIGDP_T_DATA) {
		/* The parser takes any datagram; the builder a frame of the MTU. */
		if (f->payload_len > migdp_wire_data_room(MIGDP_MTU_MAX))
			return;
		migdp_data_init(&d, MIGDP_MTU_MAX);
		for (i = 0; i < nrecs; i++)
			FUZZ_CHECK(migdp_data_add(&d, &recs[i]) == 0);
		len = migdp_wire_build_data(rebuilt, sizeof(rebuilt), &fl, &m, &d,
					    MIGDP_WIRE_COPY_ALL);
	} else {
		len = migdp_wire_build_msg(rebuilt, sizeof(rebuilt), &fl, &m);
	}
	FUZZ_CHECK(len > 0);
	FUZZ_CHECK(migdp_wire_parse(rebuilt, (uint32_t)len, &loc, 0, &g) == MIGDP_DROP_NONE);
	FUZZ_CHECK(g.session == f->session && g.channel == f->channel);
	FUZZ_CHECK(g.msg.version == f->msg.version);
	FUZZ_CHECK(msg_equal(&f->msg, &g.msg));
	if (m.type == MIGDP_T_DATA) {
		n = check_records(&g, again);
		FUZZ_CHECK(n == nrecs);
		for (i = 0; i < n; i++)
			FUZZ_CHECK(rec_equal(&recs[i], &again[i]));
	}
}

/* A retransmission of an accepted frame (new tstamp, more flags) is as
 * valid as the frame. Only for our framing: ihl 5, version 3. */
static void
check_restamp(const uint8_t *buf, uint32_t len, const struct migdp_frame *f)
{
	struct migdp_local loc = fuzz_local();
	struct migdp_frame g;

	if (hdr_off(buf, len) != MIGDP_HDR_OFF || f->msg.version != MIGDP_WIRE_VERSION)
		return;
	memcpy(rebuilt, buf, len);
	migdp_wire_restamp(rebuilt, f->msg.tstamp + 1, MIGDP_F_RETRANSMIT);
	/* The UDP checksum, if any, no longer matches: the NIC's word. */
	FUZZ_CHECK(migdp_wire_parse(rebuilt, len, &loc, MIGDP_PARSE_UDP_CSUM_OK, &g) ==
		   MIGDP_DROP_NONE);
	FUZZ_CHECK(g.msg.tstamp == f->msg.tstamp + 1);
	FUZZ_CHECK(g.msg.flags == (f->msg.flags | MIGDP_F_RETRANSMIT));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct migdp_rec recs[MIGDP_DATA_MAX_RECORDS];
	struct migdp_local loc = fuzz_local(), mine = fuzz_local();
	const unsigned nic = MIGDP_PARSE_IP_CSUM_OK | MIGDP_PARSE_UDP_CSUM_OK;
	enum migdp_drop raw, offl, fix;
	struct migdp_frame f;
	uint32_t len;
	unsigned nrecs;

	if (size > FRAME_CAP)
		return -1;
	len = (uint32_t)size;

	raw = migdp_wire_parse(data, len, &loc, 0, &f);
	FUZZ_CHECK(raw < MIGDP_DROP_MAX);
	if (raw == MIGDP_DROP_NONE)
		check_frame(data, len, &f, recs, &nrecs);
	offl = migdp_wire_parse(data, len, &loc, nic, &f);
	FUZZ_CHECK(offl < MIGDP_DROP_MAX);
	/* The NIC's word on checksums only ever lets more through. */
	FUZZ_CHECK(raw != MIGDP_DROP_NONE || offl == MIGDP_DROP_NONE);
	if (offl == MIGDP_DROP_NONE)
		check_frame(data, len, &f, recs, &nrecs);

	memcpy(fixed, data, len);
	refix(fixed, len);
	fix = migdp_wire_parse(fixed, len, &loc, 0, &f);
	FUZZ_CHECK(fix < MIGDP_DROP_MAX);
	FUZZ_CHECK(raw != MIGDP_DROP_NONE || fix == MIGDP_DROP_NONE);
	if (fix != MIGDP_DROP_NONE)
		return 0;
	check_frame(fixed, len, &f, recs, &nrecs);
	/* A receiver bound to the frame's session takes it, another refuses. */
	mine.session = f.session;
	FUZZ_CHECK(migdp_wire_parse(fixed, len, &mine, 0, &f) == MIGDP_DROP_NONE);
	mine.session = f.session + 1 != 0 ? f.session + 1 : 1;
	FUZZ_CHECK(migdp_wire_parse(fixed, len, &mine, 0, &f) == MIGDP_DROP_WRONG_SESSION);
	FUZZ_CHECK(migdp_wire_parse(fixed, len, &loc, 0, &f) == MIGDP_DROP_NONE);
	check_rebuild(fixed, &f, recs, nrecs);
	check_restamp(fixed, len, &f);
	return 0;
}
