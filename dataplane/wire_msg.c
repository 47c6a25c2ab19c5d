/* SPDX-License-Identifier: BSD-3-Clause */
/* Control payloads (everything but DATA): fixed big-endian layouts, decoded
 * into the host-order structs of wire.h. Every count is checked against
 * its maximum and against the payload length before an element is read. */
#include <errno.h>
#include <string.h>

#include <rte_byteorder.h>

#include "sec.h"
#include "wire_msg.h"

struct wire_hello {
	rte_be16_t proto_version;
	rte_be16_t nchannels;
	rte_be32_t page_size;
	rte_be16_t nregions;
	rte_be16_t kind;    /* MIGDP_HELLO_*; version 4 (0, reserved, before) */
	rte_be32_t isn;
	rte_be32_t block_pages;
	uint8_t sec_flags;  /* version 4; 0 before */
	uint8_t reserved2[3];
	uint8_t nonce[16];  /* version 4; 0 before */
	uint8_t reserved3[8];
	/* followed by the VM name (version 3 on), then nregions struct wire_region */
} __rte_packed;
static_assert(sizeof(struct wire_hello) == 48, "wire_hello size");

struct wire_region {
	rte_be64_t gpa;
	rte_be64_t size;
} __rte_packed;

struct wire_accept {
	rte_be16_t proto_version;
	rte_be16_t nchannels;
	rte_be32_t page_size;
	rte_be32_t window;
	rte_be16_t mtu;
	rte_be16_t reserved;
	uint8_t sec_flags;
	uint8_t reserved2[3];
	uint8_t nonce[16];
} __rte_packed;
static_assert(sizeof(struct wire_accept) == 36, "wire_accept size");

struct wire_reason {
	rte_be16_t reason;
	rte_be16_t reserved;
	char text[MIGDP_REASON_TEXT_LEN];
} __rte_packed;
static_assert(sizeof(struct wire_reason) == 64, "wire_reason size");

struct wire_ack {
	rte_be32_t cum_ack;
	rte_be32_t ts_echo;
	rte_be16_t nsack;
	rte_be16_t reserved;
	/* followed by nsack struct wire_sack */
} __rte_packed;
static_assert(sizeof(struct wire_ack) == 12, "wire_ack size");

struct wire_sack {
	rte_be32_t start;
	rte_be32_t end;
} __rte_packed;

struct wire_fin {
	rte_be32_t end_seq;
	rte_be32_t reserved;
	rte_be64_t pages;
	rte_be64_t zero_pages;
	rte_be64_t bytes;
} __rte_packed;
static_assert(sizeof(struct wire_fin) == 32, "wire_fin size");

struct wire_commit {
	rte_be32_t flags;
	rte_be32_t reserved;
	rte_be64_t guest_bytes;
	uint8_t digest[MIGDP_DIGEST_LEN];
} __rte_packed;
static_assert(sizeof(struct wire_commit) == 48, "wire_commit size");

struct wire_dict {
	rte_be32_t dict_id;
	rte_be32_t total;
	rte_be32_t offset;
	rte_be16_t len;
	rte_be16_t reserved;
	/* followed by len bytes */
} __rte_packed;
static_assert(sizeof(struct wire_dict) == 16, "wire_dict size");

/* ---- control payload codecs -------------------------------------------- *
 * Reserved fields are sent as zero and refused otherwise: a later version
 * that uses them bumps MIGDP_WIRE_VERSION. */

static bool
region_ok(uint64_t gpa, uint64_t size)
{
	uint64_t mask = MIGDP_PAGE_SIZE - 1;

	return size != 0 && !(gpa & mask) && !(size & mask) && gpa + size > gpa;
}

static int
enc_hello(uint8_t *p, const struct migdp_hello *m)
{
	struct wire_hello w = {
		.proto_version = rte_cpu_to_be_16(m->proto_version),
		.nchannels = rte_cpu_to_be_16(m->nchannels),
		.page_size = rte_cpu_to_be_32(m->page_size),
		.nregions = rte_cpu_to_be_16(m->nregions),
		.kind = rte_cpu_to_be_16(m->kind),
		.isn = rte_cpu_to_be_32(m->isn),
		.block_pages = rte_cpu_to_be_32(m->block_pages),
		.sec_flags = m->sec_flags,
	};
	struct wire_region r;
	unsigned i;

	memcpy(w.nonce, m->nonce, sizeof(w.nonce));
	if (m->nregions > MIGDP_MAX_REGIONS || (m->sec_flags & ~MIGDP_SEC_FLAGS_ALL) ||
	    m->kind > MIGDP_HELLO_STREAM ||
	    (m->block_pages != 0 && !rte_is_power_of_2(m->block_pages)))
		return -EINVAL;
	if (memchr(m->vm, '\0', sizeof(m->vm)) == NULL)
		return -EINVAL;
	memcpy(p, &w, sizeof(w));
	p += sizeof(w);
	memcpy(p, m->vm, sizeof(m->vm));
	p += sizeof(m->vm);
	for (i = 0; i < m->nregions; i++, p += sizeof(r)) {
		if (!region_ok(m->regions[i].gpa, m->regions[i].size))
			return -EINVAL;
		r.gpa = rte_cpu_to_be_64(m->regions[i].gpa);
		r.size = rte_cpu_to_be_64(m->regions[i].size);
		memcpy(p, &r, sizeof(r));
	}
	return sizeof(w) + sizeof(m->vm) + m->nregions * sizeof(r);
}

static enum migdp_drop
dec_hello(const uint8_t *p, uint16_t len, uint8_t version, struct migdp_hello *m)
{
	struct wire_hello w;
	struct wire_region r;
	unsigned i;
	bool named;

	if (len < sizeof(w))
		return MIGDP_DROP_BAD_PAYLOAD;
	memcpy(&w, p, sizeof(w));
	m->proto_version = rte_be_to_cpu_16(w.proto_version);
	m->nchannels = rte_be_to_cpu_16(w.nchannels);
	m->page_size = rte_be_to_cpu_32(w.page_size);
	m->nregions = rte_be_to_cpu_16(w.nregions);
	m->kind = rte_be_to_cpu_16(w.kind);
	m->isn = rte_be_to_cpu_32(w.isn);
	m->block_pages = rte_be_to_cpu_32(w.block_pages);
	m->sec_flags = w.sec_flags;
	memcpy(m->nonce, w.nonce, sizeof(m->nonce));
	if (version != 0 && version < MIGDP_WIRE_VERSION &&
	    (w.sec_flags != 0 || memcmp(w.nonce, (uint8_t[sizeof(w.nonce)]){0},
					sizeof(w.nonce)) != 0))
		return MIGDP_DROP_BAD_PAYLOAD; /* reserved before version 4 */
	/* Versions 1 and 2 had no VM name: a HELLO of their length is read
	 * without (the lengths differ by the name, given nregions). */
	named = len == sizeof(w) + sizeof(m->vm) + m->nregions * sizeof(r);
	if (m->kind > MIGDP_HELLO_STREAM ||
	    (version != 0 && version < MIGDP_WIRE_VERSION && m->kind != 0) ||
	    m->nregions > MIGDP_MAX_REGIONS ||
	    (m->block_pages != 0 && !rte_is_power_of_2(m->block_pages)) ||
	    (m->sec_flags & ~MIGDP_SEC_FLAGS_ALL) ||
	    memcmp(w.reserved2, (uint8_t[sizeof(w.reserved2)]){0}, sizeof(w.reserved2)) != 0 ||
	    memcmp(w.reserved3, (uint8_t[sizeof(w.reserved3)]){0}, sizeof(w.reserved3)) != 0 ||
	    (!named && len != sizeof(w) + m->nregions * sizeof(r)))
		return MIGDP_DROP_BAD_PAYLOAD;
	p += sizeof(w);
	memset(m->vm, 0, sizeof(m->vm));
	if (named) {
		memcpy(m->vm, p, sizeof(m->vm));
		p += sizeof(m->vm);
		if (memchr(m->vm, '\0', sizeof(m->vm)) == NULL)
			return MIGDP_DROP_BAD_PAYLOAD;
	}
	for (i = 0; i < m->nregions; i++, p += sizeof(r)) {
		memcpy(&r, p, sizeof(r));
		m->regions[i].gpa = rte_be_to_cpu_64(r.gpa);
		m->regions[i].size = rte_be_to_cpu_64(r.size);
		if (!region_ok(m->regions[i].gpa, m->regions[i].size))
			return MIGDP_DROP_BAD_PAYLOAD;
	}
	return MIGDP_DROP_NONE;
}

static int
enc_accept(uint8_t *p, const struct migdp_accept *m)
{
	struct wire_accept w = {
		.proto_version = rte_cpu_to_be_16(m->proto_version),
		.nchannels = rte_cpu_to_be_16(m->nchannels),
		.page_size = rte_cpu_to_be_32(m->page_size),
		.window = rte_cpu_to_be_32(m->window),
		.mtu = rte_cpu_to_be_16(m->mtu),
		.sec_flags = m->sec_flags,
	};

	if (m->sec_flags & ~MIGDP_SEC_FLAGS_ALL)
		return -EINVAL;
	memcpy(w.nonce, m->nonce, sizeof(w.nonce));
	memcpy(p, &w, sizeof(w));
	return sizeof(w);
}

static enum migdp_drop
dec_accept(const uint8_t *p, uint16_t len, struct migdp_accept *m)
{
	struct wire_accept w;

	if (len != sizeof(w))
		return MIGDP_DROP_BAD_PAYLOAD;
	memcpy(&w, p, sizeof(w));
	m->proto_version = rte_be_to_cpu_16(w.proto_version);
	m->nchannels = rte_be_to_cpu_16(w.nchannels);
	m->page_size = rte_be_to_cpu_32(w.page_size);
	m->window = rte_be_to_cpu_32(w.window);
	m->mtu = rte_be_to_cpu_16(w.mtu);
	m->sec_flags = w.sec_flags;
	memcpy(m->nonce, w.nonce, sizeof(m->nonce));
	return w.reserved == 0 && !(w.sec_flags & ~MIGDP_SEC_FLAGS_ALL) &&
	       memcmp(w.reserved2, (uint8_t[sizeof(w.reserved2)]){0}, sizeof(w.reserved2)) == 0 ?
		MIGDP_DROP_NONE : MIGDP_DROP_BAD_PAYLOAD;
}

static int
enc_reason(uint8_t *p, const struct migdp_reason_msg *m)
{
	struct wire_reason w = { .reason = rte_cpu_to_be_16(m->reason) };

	if (memchr(m->text, '\0', sizeof(m->text)) == NULL)
		return -EINVAL;
	strncpy(w.text, m->text, sizeof(w.text)); /* zero-pads the rest */
	memcpy(p, &w, sizeof(w));
	return sizeof(w);
}

static enum migdp_drop
dec_reason(const uint8_t *p, uint16_t len, struct migdp_reason_msg *m)
{
	struct wire_reason w;

	if (len != sizeof(w))
		return MIGDP_DROP_BAD_PAYLOAD;
	memcpy(&w, p, sizeof(w));
	if (w.reserved != 0 || memchr(w.text, '\0', sizeof(w.text)) == NULL)
		return MIGDP_DROP_BAD_PAYLOAD;
	m->reason = rte_be_to_cpu_16(w.reason);
	memcpy(m->text, w.text, sizeof(m->text));
	return MIGDP_DROP_NONE;
}

static bool
sack_ok(uint32_t start, uint32_t end)
{
	return (int32_t)(end - start) > 0;	/* non-empty, wrap-safe */
}

static int
enc_ack(uint8_t *p, const struct migdp_ack *m)
{
	struct wire_ack w = {
		.cum_ack = rte_cpu_to_be_32(m->cum_ack),
		.ts_echo = rte_cpu_to_be_32(m->ts_echo),
		.nsack = rte_cpu_to_be_16(m->nsack),
	};
	struct wire_sack s;
	unsigned i;

	if (m->nsack > MIGDP_MAX_SACK)
		return -EINVAL;
	memcpy(p, &w, sizeof(w));
	p += sizeof(w);
	for (i = 0; i < m->nsack; i++, p += sizeof(s)) {
		if (!sack_ok(m->sack[i].start, m->sack[i].end))
			return -EINVAL;
		s.start = rte_cpu_to_be_32(m->sack[i].start);
		s.end = rte_cpu_to_be_32(m->sack[i].end);
		memcpy(p, &s, sizeof(s));
	}
	return sizeof(w) + m->nsack * sizeof(s);
}

static enum migdp_drop
dec_ack(const uint8_t *p, uint16_t len, struct migdp_ack *m)
{
	struct wire_ack w;
	struct wire_sack s;
	unsigned i;

	if (len < sizeof(w))
		return MIGDP_DROP_BAD_PAYLOAD;
	memcpy(&w, p, sizeof(w));
	m->cum_ack = rte_be_to_cpu_32(w.cum_ack);
	m->ts_echo = rte_be_to_cpu_32(w.ts_echo);
	m->nsack = rte_be_to_cpu_16(w.nsack);
	if (w.reserved != 0 || m->nsack > MIGDP_MAX_SACK ||
	    len != sizeof(w) + m->nsack * sizeof(s))
		return MIGDP_DROP_BAD_PAYLOAD;
	for (i = 0, p += sizeof(w); i < m->nsack; i++, p += sizeof(s)) {
		memcpy(&s, p, sizeof(s));
		m->sack[i].start = rte_be_to_cpu_32(s.start);
		m->sack[i].end = rte_be_to_cpu_32(s.end);
		if (!sack_ok(m->sack[i].start, m->sack[i].end))
			return MIGDP_DROP_BAD_PAYLOAD;
	}
	return MIGDP_DROP_NONE;
}

static int
enc_fin(uint8_t *p, const struct migdp_fin *m)
{
	struct wire_fin w = {
		.end_seq = rte_cpu_to_be_32(m->end_seq),
		.pages = rte_cpu_to_be_64(m->pages),
		.zero_pages = rte_cpu_to_be_64(m->zero_pages),
		.bytes = rte_cpu_to_be_64(m->bytes),
	};

	memcpy(p, &w, sizeof(w));
	return sizeof(w);
}

static enum migdp_drop
dec_fin(const uint8_t *p, uint16_t len, struct migdp_fin *m)
{
	struct wire_fin w;

	if (len != sizeof(w))
		return MIGDP_DROP_BAD_PAYLOAD;
	memcpy(&w, p, sizeof(w));
	m->end_seq = rte_be_to_cpu_32(w.end_seq);
	m->pages = rte_be_to_cpu_64(w.pages);
	m->zero_pages = rte_be_to_cpu_64(w.zero_pages);
	m->bytes = rte_be_to_cpu_64(w.bytes);
	return w.reserved == 0 && m->zero_pages <= m->pages ?
		MIGDP_DROP_NONE : MIGDP_DROP_BAD_PAYLOAD;
}

static int
enc_commit(uint8_t *p, const struct migdp_commit *m)
{
	struct wire_commit w = {
		.flags = rte_cpu_to_be_32(m->flags),
		.guest_bytes = rte_cpu_to_be_64(m->guest_bytes),
	};

	if (m->flags & ~MIGDP_COMMIT_FLAGS_ALL)
		return -EINVAL;
	memcpy(w.digest, m->digest, sizeof(w.digest));
	memcpy(p, &w, sizeof(w));
	return sizeof(w);
}

static enum migdp_drop
dec_commit(const uint8_t *p, uint16_t len, struct migdp_commit *m)
{
	struct wire_commit w;

	if (len != sizeof(w))
		return MIGDP_DROP_BAD_PAYLOAD;
	memcpy(&w, p, sizeof(w));
	m->flags = rte_be_to_cpu_32(w.flags);
	m->guest_bytes = rte_be_to_cpu_64(w.guest_bytes);
	memcpy(m->digest, w.digest, sizeof(m->digest));
	return w.reserved == 0 && !(m->flags & ~MIGDP_COMMIT_FLAGS_ALL) ?
		MIGDP_DROP_NONE : MIGDP_DROP_BAD_PAYLOAD;
}

static bool
dict_ok(const struct migdp_dict_msg *m)
{
	return m->dict_id != 0 && m->total > 0 && m->total <= MIGDP_DICT_MAX_LEN &&
	       m->len <= MIGDP_DICT_CHUNK && m->offset <= m->total &&
	       m->len <= m->total - m->offset;
}

static int
enc_dict(uint8_t *p, const struct migdp_dict_msg *m)
{
	struct wire_dict w = {
		.dict_id = rte_cpu_to_be_32(m->dict_id),
		.total = rte_cpu_to_be_32(m->total),
		.offset = rte_cpu_to_be_32(m->offset),
		.len = rte_cpu_to_be_16(m->len),
	};

	if (!dict_ok(m))
		return -EINVAL;
	memcpy(p, &w, sizeof(w));
	memcpy(p + sizeof(w), m->data, m->len);
	return (int)(sizeof(w) + m->len);
}

static enum migdp_drop
dec_dict(const uint8_t *p, uint16_t len, struct migdp_dict_msg *m)
{
	struct wire_dict w;

	if (len < sizeof(w))
		return MIGDP_DROP_BAD_PAYLOAD;
	memcpy(&w, p, sizeof(w));
	m->dict_id = rte_be_to_cpu_32(w.dict_id);
	m->total = rte_be_to_cpu_32(w.total);
	m->offset = rte_be_to_cpu_32(w.offset);
	m->len = rte_be_to_cpu_16(w.len);
	if (w.reserved != 0 || !dict_ok(m) || len != sizeof(w) + m->len)
		return MIGDP_DROP_BAD_PAYLOAD;
	memcpy(m->data, p + sizeof(w), m->len);
	return MIGDP_DROP_NONE;
}

static_assert(sizeof(struct wire_dict) + MIGDP_DICT_CHUNK <= MIGDP_MSG_MAX_PAYLOAD,
	      "a DICT piece fits the control payload");
static_assert(MIGDP_MSG_MAX_PAYLOAD == sizeof(struct wire_hello) + MIGDP_VM_NAME_LEN +
	      MIGDP_MAX_REGIONS * sizeof(struct wire_region), "max payload");

int
migdp_msg_encode(uint8_t *p, const struct migdp_msg *m)
{
	switch (m->type) {
	case MIGDP_T_HELLO: return enc_hello(p, &m->u.hello);
	case MIGDP_T_ACCEPT: return enc_accept(p, &m->u.accept);
	case MIGDP_T_REJECT: /* fall through */
	case MIGDP_T_ABORT: return enc_reason(p, &m->u.reason);
	case MIGDP_T_ACK: return enc_ack(p, &m->u.ack);
	case MIGDP_T_FIN: return enc_fin(p, &m->u.fin);
	case MIGDP_T_COMMIT: return enc_commit(p, &m->u.commit);
	case MIGDP_T_KEEPALIVE: return 0;
	case MIGDP_T_DICT: return enc_dict(p, &m->u.dict);
	}
	return -EINVAL;		/* DATA has its own builder */
}

enum migdp_drop
migdp_msg_decode(const uint8_t *p, uint16_t len, struct migdp_msg *m)
{
	switch (m->type) {
	case MIGDP_T_HELLO: return dec_hello(p, len, m->version, &m->u.hello);
	case MIGDP_T_ACCEPT: return dec_accept(p, len, &m->u.accept);
	case MIGDP_T_REJECT: /* fall through */
	case MIGDP_T_ABORT: return dec_reason(p, len, &m->u.reason);
	case MIGDP_T_ACK: return dec_ack(p, len, &m->u.ack);
	case MIGDP_T_FIN: return dec_fin(p, len, &m->u.fin);
	case MIGDP_T_COMMIT: return dec_commit(p, len, &m->u.commit);
	case MIGDP_T_KEEPALIVE:
		return len == 0 ? MIGDP_DROP_NONE : MIGDP_DROP_BAD_PAYLOAD;
	case MIGDP_T_DICT: return dec_dict(p, len, &m->u.dict);
	}
	return MIGDP_DROP_UNKNOWN_TYPE;
}
