/* SPDX-License-Identifier: BSD-3-Clause */
/* migdp wire format: build and validate frames in flat buffers.
 *
 * Parsing is a row of guard clauses, one drop reason each, in the order the
 * header documents. Control payloads are wire_msg.c's. DATA payloads are a
 * record table followed by the record payloads, walked by the record
 * iterator, which the parser runs once over the whole frame so that a frame
 * with one bad record is dropped whole, before anything is applied. */
#include <errno.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "wire.h"
#include "sec.h"
#include "wire_msg.h"

static_assert(MIGDP_HDR_OFF == sizeof(struct rte_ether_hdr) +
	      sizeof(struct rte_ipv4_hdr) + sizeof(struct rte_udp_hdr),
	      "header offsets");

/* ---- names ------------------------------------------------------------- */

const char *
migdp_type_name(unsigned type)
{
	switch (type) {
#define _(n, v, s) case MIGDP_T_##n: return s;
	MIGDP_FOREACH_TYPE(_)
#undef _
	}
	return "unknown";
}

static const char *const reason_names[] = {
#define _(n, s) [MIGDP_R_##n] = s,
	MIGDP_FOREACH_REASON(_)
#undef _
};

const char *
migdp_reason_name(unsigned reason)
{
	return reason < MIGDP_R_MAX ? reason_names[reason] : "unknown";
}

static const char *const drop_names[] = {
#define _(n, s) [MIGDP_DROP_##n] = s,
	MIGDP_FOREACH_DROP(_)
#undef _
};

const char *
migdp_drop_name(unsigned drop)
{
	return drop < MIGDP_DROP_MAX ? drop_names[drop] : "unknown";
}

/* ---- records ----------------------------------------------------------- */

/* Field rules of one record, shared by the builder and the parser. */
static enum migdp_drop
rec_check(const struct migdp_rec *r)
{
	bool whole = r->frag_off == 0 && r->ver_delta == 0;

	if (r->type == MIGDP_REC_STREAM) { /* bytes at a stream offset */
		if (r->flags & ~MIGDP_STREAM_F_ALL)
			return MIGDP_DROP_REC_FIELD;
		if (r->npages > MIGDP_STREAM_MAX_PLAIN ||
		    (!(r->flags & MIGDP_STREAM_F_ZSTD) ? r->len != r->npages :
		     r->len == 0 || r->npages == 0))
			return MIGDP_DROP_REC_LEN;
		if (!whole || ((r->flags & MIGDP_STREAM_F_RST) && r->npages != 0) ||
		    (r->npages == 0 && !(r->flags & (MIGDP_STREAM_F_EOF | MIGDP_STREAM_F_RST))) ||
		    r->gpa + r->npages < r->gpa)
			return MIGDP_DROP_REC_FIELD;
		return MIGDP_DROP_NONE;
	}
	if (r->flags != 0)
		return MIGDP_DROP_REC_FIELD;
	if (r->gpa & (MIGDP_PAGE_SIZE - 1))
		return MIGDP_DROP_REC_GPA;
	switch (r->type) {
	case MIGDP_REC_ZERO_RUN:
		if (r->len != 0)
			return MIGDP_DROP_REC_LEN;
		if (r->npages == 0 || r->crc != 0 || !whole)
			return MIGDP_DROP_REC_FIELD;
		break;
	case MIGDP_REC_RAW_PAGE:
		if (r->len != MIGDP_PAGE_SIZE)
			return MIGDP_DROP_REC_LEN;
		if (r->npages != 1 || !whole)
			return MIGDP_DROP_REC_FIELD;
		break;
	case MIGDP_REC_FRAGMENT:
		if (r->len == 0 ||
		    (uint32_t)r->frag_off + r->len > MIGDP_PAGE_SIZE)
			return MIGDP_DROP_REC_LEN;
		if (r->npages != 1)
			return MIGDP_DROP_REC_FIELD;
		break;
	case MIGDP_REC_ZSTD_FRAG:
		if (r->len == 0 || (uint32_t)r->frag_off + r->len > MIGDP_ZSTREAM_MAX ||
		    (r->frag_off == 0 && r->len < sizeof(struct migdp_zstream_hdr)))
			return MIGDP_DROP_REC_LEN;
		if (r->npages != 1)
			return MIGDP_DROP_REC_FIELD;
		break;
	case MIGDP_REC_ZSTD:
		if (r->npages == 0 || r->npages > MIGDP_ZSTD_MAX_PAGES || !whole)
			return MIGDP_DROP_REC_FIELD;
		if (r->len == 0 || r->len > r->npages * MIGDP_PAGE_SIZE)
			return MIGDP_DROP_REC_LEN;
		break;
	default:
		return MIGDP_DROP_REC_TYPE;
	}
	/* The last byte described must not wrap past 2^64. */
	if (r->gpa + ((uint64_t)r->npages << MIGDP_PAGE_SHIFT) <= r->gpa)
		return MIGDP_DROP_REC_GPA;
	return MIGDP_DROP_NONE;
}

void
migdp_data_init(struct migdp_data *d, uint16_t mtu)
{
	d->room = migdp_wire_data_room(mtu);
	d->used = 0;
	d->nrec = 0;
}

uint32_t
migdp_data_avail(const struct migdp_data *d)
{
	uint32_t need = d->used + sizeof(struct migdp_rec_hdr);

	if (d->nrec >= MIGDP_DATA_MAX_RECORDS || need >= d->room)
		return 0;
	return d->room - need;
}

int
migdp_data_add(struct migdp_data *d, const struct migdp_rec *r)
{
	if (rec_check(r) != MIGDP_DROP_NONE || (r->len && r->data == NULL))
		return -EINVAL;
	if (d->nrec >= MIGDP_DATA_MAX_RECORDS ||
	    d->used + sizeof(struct migdp_rec_hdr) + r->len > d->room)
		return -ENOSPC;
	d->rec[d->nrec++] = *r;
	d->used += sizeof(struct migdp_rec_hdr) + r->len;
	return 0;
}

int
migdp_data_add_zero(struct migdp_data *d, uint64_t gpa, uint32_t npages)
{
	struct migdp_rec r = {
		.gpa = gpa, .type = MIGDP_REC_ZERO_RUN, .npages = npages,
	};

	return migdp_data_add(d, &r);
}

int
migdp_data_add_raw(struct migdp_data *d, uint64_t gpa, const void *page)
{
	struct migdp_rec r = {
		.gpa = gpa, .type = MIGDP_REC_RAW_PAGE, .len = MIGDP_PAGE_SIZE,
		.npages = 1, .data = page,
	};

	if (page == NULL)
		return -EINVAL;
	r.crc_at_build = true;
	return migdp_data_add(d, &r);
}

int
migdp_data_add_fragment(struct migdp_data *d, uint64_t gpa, const void *page,
			uint16_t off, uint16_t len, uint16_t ver_delta)
{
	struct migdp_rec r = {
		.gpa = gpa, .type = MIGDP_REC_FRAGMENT, .len = len,
		.npages = 1, .frag_off = off, .ver_delta = ver_delta,
	};

	if (page == NULL || (uint32_t)off + len > MIGDP_PAGE_SIZE)
		return -EINVAL;
	r.data = (const uint8_t *)page + off;
	r.crc_at_build = true;
	return migdp_data_add(d, &r);
}

static void
rec_encode(uint8_t *p, const struct migdp_rec *r)
{
	struct migdp_rec_hdr h = {
		.gpa = rte_cpu_to_be_64(r->gpa),
		.type = r->type,
		.flags = r->flags,
		.len = rte_cpu_to_be_16(r->len),
		.crc = rte_cpu_to_be_32(r->crc),
		.npages = rte_cpu_to_be_32(r->npages),
		.frag_off = rte_cpu_to_be_16(r->frag_off),
		.ver_delta = rte_cpu_to_be_16(r->ver_delta),
	};

	memcpy(p, &h, sizeof(h));
}

void
migdp_rec_iter_init(struct migdp_rec_iter *it, const uint8_t *payload,
		    uint16_t payload_len, uint16_t nrecords)
{
	uint32_t tab = (uint32_t)nrecords * sizeof(struct migdp_rec_hdr);

	it->tab = payload;
	it->left = nrecords;
	it->drop = MIGDP_DROP_NONE;
	if (tab > payload_len) {	/* the parser never lets this through */
		it->left = 0;
		it->data_left = 0;
		it->drop = MIGDP_DROP_REC_COUNT;
		return;
	}
	it->data = payload + tab;
	it->data_left = payload_len - tab;
}

bool
migdp_rec_iter_next(struct migdp_rec_iter *it, struct migdp_rec *r)
{
	struct migdp_rec_hdr h;

	if (it->drop != MIGDP_DROP_NONE)
		return false;
	if (it->left == 0) {
		/* Payload bytes no record claims: count and table disagree. */
		if (it->data_left != 0)
			it->drop = MIGDP_DROP_REC_COUNT;
		return false;
	}
	memcpy(&h, it->tab, sizeof(h));
	r->gpa = rte_be_to_cpu_64(h.gpa);
	r->type = h.type;
	r->flags = h.flags;
	r->len = rte_be_to_cpu_16(h.len);
	r->crc = rte_be_to_cpu_32(h.crc);
	r->npages = rte_be_to_cpu_32(h.npages);
	r->frag_off = rte_be_to_cpu_16(h.frag_off);
	r->ver_delta = rte_be_to_cpu_16(h.ver_delta);
	r->data = r->len ? it->data : NULL;
	if (r->len > it->data_left)
		it->drop = MIGDP_DROP_REC_LEN;
	else
		it->drop = rec_check(r);
	if (it->drop != MIGDP_DROP_NONE)
		return false;
	it->tab += sizeof(h);
	it->data += r->len;
	it->data_left -= r->len;
	it->left--;
	return true;
}

/* ---- building ---------------------------------------------------------- */

/* Write Ethernet, IPv4 (with its checksum), UDP and migdp headers for a
 * frame of version @p version with @p plen payload bytes after the migdp
 * header. The UDP checksum and the frame check are seal()'s. */
static void
put_headers(uint8_t *buf, const struct migdp_flow *fl,
	    const struct migdp_msg *m, uint16_t plen, uint16_t nrecords)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)buf;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
	struct migdp_hdr h = {
		.magic = rte_cpu_to_be_16(MIGDP_WIRE_MAGIC),
		.version = m->version ? m->version : MIGDP_WIRE_VERSION,
		.type = m->type,
		.flags = rte_cpu_to_be_16(m->flags),
		.channel = rte_cpu_to_be_16(fl->channel),
		.session = rte_cpu_to_be_64(fl->session),
		.seq = rte_cpu_to_be_32(m->seq),
		.payload_len = rte_cpu_to_be_16(plen),
		.nrecords = rte_cpu_to_be_16(nrecords),
		.tstamp = rte_cpu_to_be_32(m->tstamp),
	};
	uint16_t udp_len = sizeof(*udp) + sizeof(h) + plen;

	rte_ether_addr_copy(&fl->dst_mac, &eth->dst_addr);
	rte_ether_addr_copy(&fl->src_mac, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	memset(ip, 0, sizeof(*ip));
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16(sizeof(*ip) + udp_len);
	ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = rte_cpu_to_be_32(fl->src_ip);
	ip->dst_addr = rte_cpu_to_be_32(fl->dst_ip);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	udp->src_port = rte_cpu_to_be_16(fl->src_port);
	udp->dst_port = rte_cpu_to_be_16(fl->dst_port);
	udp->dgram_len = rte_cpu_to_be_16(udp_len);
	udp->dgram_cksum = 0;
	memcpy(udp + 1, &h, sizeof(h));
}

/* One's-complement sum of @p len bytes, folded to 16 bits, equal to
 * rte_raw_cksum(): 32-bit words into a 64-bit accumulator (RFC 1071: the
 * sum does not depend on the word size or byte order), which the compiler
 * vectorises; about 4x faster than 16-bit words on jumbo frames. Only
 * version-1 frames (and peers that send a UDP checksum) need it. */
static uint16_t
fast_sum(const void *buf, uint32_t len)
{
	const uint8_t *p = buf;
	uint64_t s = 0;
	uint32_t w;
	uint16_t h = 0;

	for (; len >= 4; len -= 4, p += 4) {
		memcpy(&w, p, 4);
		s += w;
	}
	if (len >= 2) {
		memcpy(&h, p, 2);
		s += h;
		p += 2;
		len -= 2;
	}
	if (len == 1) {
		h = 0;
		*(uint8_t *)&h = *p;
		s += h;
	}
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* Sum of the UDP datagram and its pseudo-header, folded. */
static uint16_t
udp_sum(const struct rte_ipv4_hdr *ip, const struct rte_udp_hdr *udp,
	uint16_t udp_len)
{
	uint32_t s = fast_sum(udp, udp_len) + rte_ipv4_phdr_cksum(ip, 0);

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* Bytes of the payload the frame check covers. */
static uint32_t
check_covered(const struct migdp_hdr *h)
{
	return h->type == MIGDP_T_DATA ?
		(uint32_t)rte_be_to_cpu_16(h->nrecords) * sizeof(struct migdp_rec_hdr) :
		rte_be_to_cpu_16(h->payload_len);
}

/* Seal a frame whose headers and covered payload are in @p buf: the frame
 * check (version 2), or the UDP checksum over the whole (complete) frame
 * (version 1); the pseudo-header sum when the NIC completes it. */
static void
seal(uint8_t *buf, bool offload)
{
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(buf + RTE_ETHER_HDR_LEN);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
	struct migdp_hdr *h = (struct migdp_hdr *)(udp + 1);
	uint16_t c;

	if (h->version != MIGDP_WIRE_VERSION_LEGACY) {
		h->check = rte_cpu_to_be_32(migdp_frame_check(h, h + 1,
							      check_covered(h)));
		udp->dgram_cksum = offload ? rte_ipv4_phdr_cksum(ip, 0) : 0;
		return;
	}
	h->check = 0;
	udp->dgram_cksum = 0;
	c = (uint16_t)~udp_sum(ip, udp, rte_be_to_cpu_16(udp->dgram_len));
	udp->dgram_cksum = c == 0 ? 0xffff : c;
}

static bool
flow_ok(const struct migdp_flow *fl)
{
	return fl != NULL && fl->mtu >= MIGDP_MTU_MIN &&
		fl->mtu <= MIGDP_MTU_MAX && fl->session != 0;
}

int
migdp_wire_build_msg(void *buf, uint32_t cap, const struct migdp_flow *fl,
		     const struct migdp_msg *m)
{
	uint8_t pl[MIGDP_MSG_MAX_PAYLOAD];
	int n;

	if (!flow_ok(fl) || m == NULL)
		return -EINVAL;
	if (m->version != 0 && m->version != MIGDP_WIRE_VERSION &&
	    !(MIGDP_WIRE_VERSION_OLD(m->version) &&
	      (m->type == MIGDP_T_HELLO || m->type == MIGDP_T_REJECT)))
		return -EINVAL;
	n = migdp_msg_encode(pl, m);
	if (n < 0 || (m->flags & ~MIGDP_F_ALL))
		return -EINVAL;
	if (sizeof(struct rte_ipv4_hdr) + sizeof(struct rte_udp_hdr) +
	    sizeof(struct migdp_hdr) + n > fl->mtu ||
	    MIGDP_L2_HDRS_LEN + (uint32_t)n > cap)
		return -EMSGSIZE;
	put_headers(buf, fl, m, n, 0);
	memcpy((uint8_t *)buf + MIGDP_L2_HDRS_LEN, pl, n);
	seal(buf, fl->udp_csum_offload);
	return MIGDP_L2_HDRS_LEN + n;
}

int
migdp_wire_build_data(void *buf, uint32_t cap, const struct migdp_flow *fl,
		      const struct migdp_msg *m, struct migdp_data *d,
		      unsigned copy)
{
	struct migdp_msg h = *m;
	uint32_t tab = d->nrec * sizeof(struct migdp_rec_hdr), out = tab;
	uint8_t *p = (uint8_t *)buf + MIGDP_L2_HDRS_LEN;
	uint8_t *data = p + tab;
	bool left = false;
	unsigned i;

	if (!flow_ok(fl) || d->nrec == 0 || (m->flags & ~MIGDP_F_ALL) ||
	    copy > MIGDP_WIRE_COPY_COMPRESSED)
		return -EINVAL;
	for (i = 0; i < d->nrec; i++) {
		bool plain = d->rec[i].type == MIGDP_REC_RAW_PAGE ||
			     d->rec[i].type == MIGDP_REC_FRAGMENT;
		bool copied = copy == MIGDP_WIRE_COPY_ALL ||
			      (copy == MIGDP_WIRE_COPY_COMPRESSED && !plain);

		if (copied && left && d->rec[i].len)
			return -EINVAL; /* would not be in record order */
		left |= !copied && d->rec[i].len;
		out += copied ? d->rec[i].len : 0;
	}
	out += MIGDP_L2_HDRS_LEN;
	if (d->used > migdp_wire_data_room(fl->mtu))
		return -EMSGSIZE;
	if (out > cap)
		return -EMSGSIZE;
	h.type = MIGDP_T_DATA;
	h.version = 0;
	put_headers(buf, fl, &h, d->used, d->nrec);
	for (i = 0; i < d->nrec; i++, p += sizeof(struct migdp_rec_hdr)) {
		struct migdp_rec *r = &d->rec[i];

		bool plain = r->type == MIGDP_REC_RAW_PAGE || r->type == MIGDP_REC_FRAGMENT;

		if (r->len && (copy == MIGDP_WIRE_COPY_ALL ||
			       (copy == MIGDP_WIRE_COPY_COMPRESSED && !plain))) {
			if (r->crc_at_build)
				r->crc = migdp_crc32c_copy(data, r->data, r->len);
			else
				memcpy(data, r->data, r->len);
			data += r->len;
		} else if (r->crc_at_build) {
			r->crc = migdp_crc32c(r->data, r->len);
		}
		r->crc_at_build = false;
		rec_encode(p, r);
	}
	seal(buf, fl->udp_csum_offload);
	return out;
}

void
migdp_wire_restamp(void *frame, uint32_t tstamp, uint16_t set_flags)
{
	struct migdp_hdr *h = (struct migdp_hdr *)((uint8_t *)frame + MIGDP_HDR_OFF);

	h->flags |= rte_cpu_to_be_16(set_flags);
	h->tstamp = rte_cpu_to_be_32(tstamp);
	h->check = rte_cpu_to_be_32(migdp_frame_check(h, h + 1, check_covered(h)));
}

/* ---- parsing ----------------------------------------------------------- */

/* A UDP checksum, when there is one: 0 means none (version 2 frames rely
 * on the frame check); a version-1 frame must have one. */
static bool
udp_csum_ok(const struct rte_ipv4_hdr *ip, const struct rte_udp_hdr *udp,
	    uint16_t udp_len, bool required)
{
	if (udp->dgram_cksum == 0)
		return !required;
	return udp_sum(ip, udp, udp_len) == 0xffff;
}

static enum migdp_drop
parse_data(struct migdp_frame *f)
{
	struct migdp_rec_iter it;
	struct migdp_rec r;

	if (f->nrecords == 0 || f->nrecords > MIGDP_DATA_MAX_RECORDS ||
	    f->nrecords * sizeof(struct migdp_rec_hdr) > f->payload_len)
		return MIGDP_DROP_REC_COUNT;
	migdp_rec_iter_init(&it, f->payload, f->payload_len, f->nrecords);
	while (migdp_rec_iter_next(&it, &r))
		;
	return it.drop;
}

static enum migdp_drop
parse_migdp(struct migdp_hdr *h, uint16_t udp_len, const struct migdp_local *loc,
	    struct migdp_frame *f)
{
	uint16_t flags = rte_be_to_cpu_16(h->flags);
	uint64_t session = rte_be_to_cpu_64(h->session);
	bool legacy = h->version == MIGDP_WIRE_VERSION_LEGACY;
	/* An authenticated session's frames carry a tag, not a frame check;
	 * its handshake frames both (and a MAC the session checks). */
	bool handshake = migdp_sec_handshake_type(h->type);
	bool sealed = loc->sec != NULL && !handshake;

	if (h->magic != rte_cpu_to_be_16(MIGDP_WIRE_MAGIC))
		return MIGDP_DROP_BAD_MAGIC;
	if (h->version != MIGDP_WIRE_VERSION &&
	    !(MIGDP_WIRE_VERSION_OLD(h->version) &&
	      (h->type == MIGDP_T_HELLO || h->type == MIGDP_T_REJECT)))
		return MIGDP_DROP_BAD_VERSION;
	if (h->type == 0 || h->type >= MIGDP_T_MAX)
		return MIGDP_DROP_UNKNOWN_TYPE;
	if (legacy && h->check != 0)
		return MIGDP_DROP_BAD_CHECK;
	if (!legacy && !sealed) {
		uint32_t covered = check_covered(h);

		if (covered > udp_len - sizeof(struct rte_udp_hdr) - sizeof(*h))
			return h->type == MIGDP_T_DATA ? MIGDP_DROP_REC_COUNT :
							 MIGDP_DROP_BAD_LENGTH;
		if (rte_be_to_cpu_32(h->check) != migdp_frame_check(h, h + 1, covered))
			return MIGDP_DROP_BAD_CHECK;
	}
	if (flags & ~MIGDP_F_ALL)
		return MIGDP_DROP_BAD_FLAGS;
	if (session == 0 || (loc->session != 0 && session != loc->session))
		return MIGDP_DROP_WRONG_SESSION;
	f->payload_len = rte_be_to_cpu_16(h->payload_len);
	if (f->payload_len != udp_len - sizeof(struct rte_udp_hdr) - sizeof(*h))
		return MIGDP_DROP_BAD_LENGTH;
	/* A channel's port takes its own channel's frames only (the nonce
	 * and the replay window are the header's channel's). */
	if (loc->check_channel && rte_be_to_cpu_16(h->channel) != loc->channel)
		return MIGDP_DROP_WRONG_DST;
	if (loc->auth_required && loc->sec == NULL && !handshake)
		return MIGDP_DROP_BAD_AUTH; /* keys not agreed yet */
	if (sealed) {
		enum migdp_drop d = migdp_sec_open(loc->sec, loc->sec_class, h,
						   sizeof(*h) + f->payload_len);

		if (d != MIGDP_DROP_NONE)
			return d;
	}
	f->msg.version = h->version;
	f->msg.type = h->type;
	f->msg.flags = flags;
	f->msg.seq = rte_be_to_cpu_32(h->seq);
	f->msg.tstamp = rte_be_to_cpu_32(h->tstamp);
	f->session = session;
	f->channel = rte_be_to_cpu_16(h->channel);
	f->nrecords = rte_be_to_cpu_16(h->nrecords);
	f->hdr = (const uint8_t *)h;
	f->payload = (const uint8_t *)(h + 1);
	if (h->type == MIGDP_T_DATA)
		return parse_data(f);
	if (f->nrecords != 0)
		return MIGDP_DROP_BAD_PAYLOAD;
	return migdp_msg_decode(f->payload, f->payload_len, &f->msg);
}

enum migdp_drop
migdp_wire_parse(const void *buf, uint32_t len, const struct migdp_local *loc,
		 unsigned flags, struct migdp_frame *f)
{
	const struct rte_ether_hdr *eth = buf;
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(eth + 1);
	const struct rte_udp_hdr *udp;
	uint32_t ihl, ip_len, udp_len;

	if (len < RTE_ETHER_HDR_LEN + sizeof(*ip))
		return MIGDP_DROP_TOO_SHORT;
	if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
	    (ip->version_ihl >> 4) != 4 || ip->next_proto_id != IPPROTO_UDP)
		return MIGDP_DROP_NOT_IPV4_UDP;
	ihl = rte_ipv4_hdr_len(ip);
	ip_len = rte_be_to_cpu_16(ip->total_length);
	if (ihl < sizeof(*ip) || ip_len < ihl)
		return MIGDP_DROP_BAD_IP_HDR;
	if (ip_len > len - RTE_ETHER_HDR_LEN ||
	    ip_len < ihl + sizeof(*udp) + sizeof(struct migdp_hdr))
		return MIGDP_DROP_TOO_SHORT;
	if (ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG |
						   RTE_IPV4_HDR_OFFSET_MASK))
		return MIGDP_DROP_IP_FRAGMENT;
	if (!(flags & MIGDP_PARSE_IP_CSUM_OK) && rte_raw_cksum(ip, ihl) != 0xffff)
		return MIGDP_DROP_BAD_IP_CSUM;
	udp = (const struct rte_udp_hdr *)((const uint8_t *)ip + ihl);
	udp_len = rte_be_to_cpu_16(udp->dgram_len);
	if (udp_len != ip_len - ihl)
		return MIGDP_DROP_BAD_UDP_LEN;
	if (!(flags & MIGDP_PARSE_UDP_CSUM_OK) &&
	    !udp_csum_ok(ip, udp, udp_len, ((const struct migdp_hdr *)(udp + 1))->version ==
			 MIGDP_WIRE_VERSION_LEGACY))
		return MIGDP_DROP_BAD_UDP_CSUM;
	if (ip->dst_addr != rte_cpu_to_be_32(loc->ip) ||
	    udp->dst_port != rte_cpu_to_be_16(loc->port))
		return MIGDP_DROP_WRONG_DST;
	f->src_ip = rte_be_to_cpu_32(ip->src_addr);
	f->src_port = rte_be_to_cpu_16(udp->src_port);
	rte_ether_addr_copy(&eth->src_addr, &f->src_mac);
	if (loc->peer_ip != 0 && f->src_ip != loc->peer_ip)
		return MIGDP_DROP_WRONG_PEER;
	/* Writable when loc->sec decrypts in place (see wire.h). */
	return parse_migdp((struct migdp_hdr *)(uintptr_t)(udp + 1), udp_len, loc, f);
}
