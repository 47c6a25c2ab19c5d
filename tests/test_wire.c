/* SPDX-License-Identifier: BSD-3-Clause */
/* Wire format: every frame type survives build -> parse; every malformed
 * class is dropped with its own reason; records are bounded one by one.
 * Pure: DPDK headers only, no EAL. */
#include <stdlib.h>
#include <string.h>

#include <rte_ip.h>
#include <rte_udp.h>

#include "cu_main.h"
#include "mdigest.h"
#include "wire.h"

#define SESSION 0x1122334455667788ull
#define SRC_IP 0xc6120001u /* 198.18.0.1 */
#define DST_IP 0xc6120002u /* 198.18.0.2 */
#define SRC_PORT 40001
#define DST_PORT 4791

static uint8_t frame[MIGDP_MTU_MAX + 64];
static uint8_t page[MIGDP_PAGE_SIZE];

static struct migdp_flow
flow(uint16_t mtu, bool offload)
{
	struct migdp_flow fl = {
		.src_mac = {{0x02, 0, 0, 0, 0, 1}},
		.dst_mac = {{0x02, 0, 0, 0, 0, 2}},
		.src_ip = SRC_IP, .dst_ip = DST_IP,
		.src_port = SRC_PORT, .dst_port = DST_PORT,
		.channel = 3, .mtu = mtu, .session = SESSION,
		.udp_csum_offload = offload,
	};

	return fl;
}

static const struct migdp_local local = {
	.ip = DST_IP, .port = DST_PORT, .session = SESSION,
};

static struct rte_ipv4_hdr *
ip_of(uint8_t *b)
{
	return (struct rte_ipv4_hdr *)(b + RTE_ETHER_HDR_LEN);
}

static struct rte_udp_hdr *
udp_of(uint8_t *b)
{
	return (struct rte_udp_hdr *)(ip_of(b) + 1);
}

static struct migdp_hdr *
hdr_of(uint8_t *b)
{
	return (struct migdp_hdr *)(b + MIGDP_HDR_OFF);
}

/* Recompute the IPv4 checksum and the frame check after a test edited the
 * frame on purpose, so that the parser reaches the check under test. */
static void
refix(uint8_t *b)
{
	struct rte_ipv4_hdr *ip = ip_of(b);
	struct migdp_hdr *h = hdr_of(b);
	uint32_t have = rte_be_to_cpu_16(udp_of(b)->dgram_len) - 8 - 48;
	uint32_t covered = h->type == MIGDP_T_DATA ?
		rte_be_to_cpu_16(h->nrecords) * 24u : rte_be_to_cpu_16(h->payload_len);

	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	udp_of(b)->dgram_cksum = 0;
	h->check = rte_cpu_to_be_32(migdp_frame_check(h, h + 1, RTE_MIN(covered, have)));
}

static enum migdp_drop
parse(int len, struct migdp_frame *f)
{
	return migdp_wire_parse(frame, len, &local, 0, f);
}

static void
fill_page(uint32_t seed)
{
	unsigned i;

	for (i = 0; i < sizeof(page); i++)
		page[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 8));
}

/* A keepalive and a data frame used by the malformed-frame tests. */
static int
build_keepalive(void)
{
	struct migdp_flow fl = flow(1500, false);
	struct migdp_msg m = { .type = MIGDP_T_KEEPALIVE, .tstamp = 77 };

	return migdp_wire_build_msg(frame, sizeof(frame), &fl, &m);
}

static int
build_data(void)
{
	struct migdp_flow fl = flow(9000, false);
	struct migdp_msg m = { .seq = 1000, .tstamp = 5 };
	struct migdp_data d;

	fill_page(1);
	migdp_data_init(&d, fl.mtu);
	CU_ASSERT_EQUAL(migdp_data_add_zero(&d, 0x200000, 16), 0);
	CU_ASSERT_EQUAL(migdp_data_add_raw(&d, 0x1000, page), 0);
	return migdp_wire_build_data(frame, sizeof(frame), &fl, &m, &d, true);
}

/* ---- round trips ------------------------------------------------------- */

static void
test_crc32c(void)
{
	static uint8_t big[MIGDP_PAGE_SIZE + 8], copy[MIGDP_PAGE_SIZE];
	unsigned k, i;

	/* A whole page (three chains combined) equals one chain over it
	 * (the fused copy), at every alignment, and one flipped bit anywhere
	 * changes it. */
	for (k = 0; k < 64; k++) {
		uint8_t *p = big + (k % 8);
		uint32_t c;

		for (i = 0; i < MIGDP_PAGE_SIZE; i++)
			p[i] = (uint8_t)(k * 2654435761u >> (i % 24) ^ i * 131);
		c = migdp_crc32c(p, MIGDP_PAGE_SIZE);
		CU_ASSERT_EQUAL(c, migdp_crc32c_copy(copy, p, MIGDP_PAGE_SIZE));
		p[(k * 977) % MIGDP_PAGE_SIZE] ^= (uint8_t)(1u << (k % 8));
		CU_ASSERT_NOT_EQUAL(c, migdp_crc32c(p, MIGDP_PAGE_SIZE));
	}
	/* The standard CRC-32C check value. */
	CU_ASSERT_EQUAL(migdp_crc32c("123456789", 9), 0xe3069283u);
	CU_ASSERT_EQUAL(migdp_crc32c("", 0), 0);
	/* Any alignment and length gives the same answer. */
	{
		static uint64_t buf[40];
		uint8_t *b = (uint8_t *)buf;
		unsigned off, len;

		for (off = 0; off < 8; off++) {
			memmove(b + off + 8, "123456789", 9);
			CU_ASSERT_EQUAL(migdp_crc32c(b + off + 8, 9),
					0xe3069283u);
		}
		fill_page(9);
		for (len = 0; len < 200; len += 13)
			for (off = 1; off < 8; off++) {
				memcpy(b + off, page, len);
				CU_ASSERT_EQUAL(migdp_crc32c(b + off, len),
						migdp_crc32c(page, len));
			}
	}
}

static void
test_names(void)
{
	unsigned i;

	CU_ASSERT_STRING_EQUAL(migdp_type_name(MIGDP_T_DATA), "data");
	CU_ASSERT_STRING_EQUAL(migdp_type_name(MIGDP_T_KEEPALIVE), "keepalive");
	CU_ASSERT_STRING_EQUAL(migdp_type_name(0), "unknown");
	CU_ASSERT_STRING_EQUAL(migdp_type_name(MIGDP_T_MAX), "unknown");
	CU_ASSERT_STRING_EQUAL(migdp_reason_name(MIGDP_R_LAYOUT),
			       "guest memory layout mismatch");
	CU_ASSERT_STRING_EQUAL(migdp_reason_name(999), "unknown");
	for (i = 0; i < MIGDP_DROP_MAX; i++)
		CU_ASSERT_PTR_NOT_NULL(migdp_drop_name(i));
	CU_ASSERT_STRING_EQUAL(migdp_drop_name(MIGDP_DROP_NONE), "accepted");
	CU_ASSERT_STRING_EQUAL(migdp_drop_name(MIGDP_DROP_MAX), "unknown");
}

/* Build @p in, parse it back, check the common header fields. */
static void
round_trip(const struct migdp_msg *in, struct migdp_frame *f)
{
	struct migdp_flow fl = flow(1500, false);
	int len = migdp_wire_build_msg(frame, sizeof(frame), &fl, in);

	CU_ASSERT_FATAL(len > 0);
	CU_ASSERT_EQUAL(rte_ipv4_cksum(ip_of(frame)), 0);
	CU_ASSERT_EQUAL_FATAL(parse(len, f), MIGDP_DROP_NONE);
	CU_ASSERT_EQUAL(f->msg.type, in->type);
	CU_ASSERT_EQUAL(f->msg.flags, in->flags);
	CU_ASSERT_EQUAL(f->msg.seq, in->seq);
	CU_ASSERT_EQUAL(f->msg.tstamp, in->tstamp);
	CU_ASSERT_EQUAL(f->session, SESSION);
	CU_ASSERT_EQUAL(f->channel, 3);
	CU_ASSERT_EQUAL(f->src_ip, SRC_IP);
	CU_ASSERT_EQUAL(f->src_port, SRC_PORT);
	CU_ASSERT_EQUAL(f->src_mac.addr_bytes[5], 1);
	CU_ASSERT_EQUAL(f->nrecords, 0);
	/* Ethernet padding after the IP datagram is ignored. */
	CU_ASSERT_EQUAL(parse(len + 6, f), MIGDP_DROP_NONE);
}

static void
test_rt_hello(void)
{
	static struct migdp_msg m, *o;
	static struct migdp_frame f;
	unsigned i;

	memset(&m, 0, sizeof(m));
	m.type = MIGDP_T_HELLO;
	m.tstamp = 0xdeadbeef;
	m.u.hello.proto_version = 1;
	m.u.hello.nchannels = 4;
	m.u.hello.page_size = 4096;
	m.u.hello.isn = 0xfffffff0u;
	m.u.hello.nregions = MIGDP_MAX_REGIONS;
	for (i = 0; i < MIGDP_MAX_REGIONS; i++) {
		m.u.hello.regions[i].gpa = (uint64_t)i << 32;
		m.u.hello.regions[i].size = (uint64_t)(i + 1) << 20;
	}
	m.u.hello.block_pages = 512;
	round_trip(&m, &f);
	o = &f.msg;
	CU_ASSERT_EQUAL(o->u.hello.proto_version, 1);
	CU_ASSERT_EQUAL(o->u.hello.nchannels, 4);
	CU_ASSERT_EQUAL(o->u.hello.page_size, 4096);
	CU_ASSERT_EQUAL(o->u.hello.isn, 0xfffffff0u);
	CU_ASSERT_EQUAL(o->u.hello.nregions, MIGDP_MAX_REGIONS);
	CU_ASSERT_EQUAL(memcmp(o->u.hello.regions, m.u.hello.regions,
			       sizeof(m.u.hello.regions)), 0);
	CU_ASSERT_EQUAL(o->u.hello.block_pages, 512);
	/* A listening destination (session 0) takes any session. */
	{
		struct migdp_local any = local;
		struct migdp_flow fl = flow(1500, false);
		int len = migdp_wire_build_msg(frame, sizeof(frame), &fl, &m);

		any.session = 0;
		CU_ASSERT_EQUAL(migdp_wire_parse(frame, len, &any, 0, &f),
				MIGDP_DROP_NONE);
	}
}

static void
test_rt_accept_reject_abort(void)
{
	struct migdp_msg m = { .type = MIGDP_T_ACCEPT };
	struct migdp_frame f;

	m.u.accept = (struct migdp_accept){ 1, 2, 4096, 2048, 9000, 0, {0} };
	round_trip(&m, &f);
	CU_ASSERT_EQUAL(f.msg.u.accept.nchannels, 2);
	CU_ASSERT_EQUAL(f.msg.u.accept.page_size, 4096);
	CU_ASSERT_EQUAL(f.msg.u.accept.window, 2048);
	CU_ASSERT_EQUAL(f.msg.u.accept.mtu, 9000);

	memset(&m, 0, sizeof(m));
	m.type = MIGDP_T_REJECT;
	m.u.reason.reason = MIGDP_R_LAYOUT;
	strcpy(m.u.reason.text, "region 1 size 1073741824 != 536870912");
	round_trip(&m, &f);
	CU_ASSERT_EQUAL(f.msg.u.reason.reason, MIGDP_R_LAYOUT);
	CU_ASSERT_STRING_EQUAL(f.msg.u.reason.text, m.u.reason.text);

	m.type = MIGDP_T_ABORT;
	m.u.reason.reason = MIGDP_R_PEER_LOST;
	strcpy(m.u.reason.text, "");
	round_trip(&m, &f);
	CU_ASSERT_EQUAL(f.msg.u.reason.reason, MIGDP_R_PEER_LOST);
	CU_ASSERT_STRING_EQUAL(f.msg.u.reason.text, "");
}

static void
test_rt_ack_fin_commit_keepalive(void)
{
	struct migdp_msg m = { .type = MIGDP_T_ACK, .flags = MIGDP_F_ACK_NOW };
	struct migdp_frame f;
	unsigned i;

	m.u.ack.cum_ack = 0xfffffff0u;
	m.u.ack.ts_echo = 123456;
	m.u.ack.nsack = MIGDP_MAX_SACK;
	for (i = 0; i < MIGDP_MAX_SACK; i++) {
		/* Blocks may straddle the 2^32 wrap. */
		m.u.ack.sack[i].start = 0xfffffff2u + 3 * i;
		m.u.ack.sack[i].end = 0xfffffff2u + 3 * i + 2;
	}
	round_trip(&m, &f);
	CU_ASSERT_EQUAL(f.msg.u.ack.cum_ack, 0xfffffff0u);
	CU_ASSERT_EQUAL(f.msg.u.ack.ts_echo, 123456);
	CU_ASSERT_EQUAL(f.msg.u.ack.nsack, MIGDP_MAX_SACK);
	CU_ASSERT_EQUAL(memcmp(f.msg.u.ack.sack, m.u.ack.sack,
			       sizeof(m.u.ack.sack)), 0);

	memset(&m, 0, sizeof(m));
	m.type = MIGDP_T_FIN;
	m.u.fin = (struct migdp_fin){ 77, 1000, 400, 600ull * 4096 };
	round_trip(&m, &f);
	CU_ASSERT_EQUAL(f.msg.u.fin.end_seq, 77);
	CU_ASSERT_EQUAL(f.msg.u.fin.pages, 1000);
	CU_ASSERT_EQUAL(f.msg.u.fin.zero_pages, 400);
	CU_ASSERT_EQUAL(f.msg.u.fin.bytes, 600ull * 4096);

	memset(&m, 0, sizeof(m));
	m.type = MIGDP_T_COMMIT;
	m.u.commit.flags = MIGDP_COMMIT_VERIFIED;
	m.u.commit.guest_bytes = 1ull << 30;
	memset(m.u.commit.digest, 0x5a, MIGDP_DIGEST_LEN);
	round_trip(&m, &f);
	CU_ASSERT_EQUAL(f.msg.u.commit.flags, MIGDP_COMMIT_VERIFIED);
	CU_ASSERT_EQUAL(f.msg.u.commit.guest_bytes, 1ull << 30);
	CU_ASSERT_EQUAL(f.msg.u.commit.digest[31], 0x5a);

	memset(&m, 0, sizeof(m));
	m.type = MIGDP_T_DICT;
	m.u.dict.dict_id = 0x1234;
	m.u.dict.total = 65536;
	m.u.dict.offset = 64512;
	m.u.dict.len = MIGDP_DICT_CHUNK;
	memset(m.u.dict.data, 0xa5, MIGDP_DICT_CHUNK);
	round_trip(&m, &f);
	CU_ASSERT_EQUAL(f.msg.u.dict.dict_id, 0x1234);
	CU_ASSERT_EQUAL(f.msg.u.dict.total, 65536);
	CU_ASSERT_EQUAL(f.msg.u.dict.offset, 64512);
	CU_ASSERT_EQUAL(f.msg.u.dict.len, MIGDP_DICT_CHUNK);
	CU_ASSERT_EQUAL(f.msg.u.dict.data[MIGDP_DICT_CHUNK - 1], 0xa5);
	m.u.dict.len = 0; /* the acknowledgement form */
	m.u.dict.offset = 65536;
	round_trip(&m, &f);
	CU_ASSERT_EQUAL(f.msg.u.dict.len, 0);
	CU_ASSERT_EQUAL(f.msg.u.dict.offset, 65536);

	memset(&m, 0, sizeof(m));
	m.type = MIGDP_T_KEEPALIVE;
	m.tstamp = 42;
	round_trip(&m, &f);
	CU_ASSERT_EQUAL(f.payload_len, 0);
}

static void
test_build_refuses(void)
{
	struct migdp_flow fl = flow(1500, false);
	struct migdp_msg m = { .type = MIGDP_T_DATA };

	CU_ASSERT_EQUAL(migdp_wire_build_msg(frame, sizeof(frame), &fl, &m),
			-EINVAL);
	m.type = 0;
	CU_ASSERT_EQUAL(migdp_wire_build_msg(frame, sizeof(frame), &fl, &m),
			-EINVAL);
	m.type = MIGDP_T_ACK;
	m.u.ack.nsack = MIGDP_MAX_SACK + 1;
	CU_ASSERT_EQUAL(migdp_wire_build_msg(frame, sizeof(frame), &fl, &m),
			-EINVAL);
	m.u.ack.nsack = 1;		/* empty block [5, 5) */
	m.u.ack.sack[0].start = m.u.ack.sack[0].end = 5;
	CU_ASSERT_EQUAL(migdp_wire_build_msg(frame, sizeof(frame), &fl, &m),
			-EINVAL);
	m.type = MIGDP_T_REJECT;
	memset(m.u.reason.text, 'x', sizeof(m.u.reason.text));
	CU_ASSERT_EQUAL(migdp_wire_build_msg(frame, sizeof(frame), &fl, &m),
			-EINVAL);
	m.type = MIGDP_T_KEEPALIVE;
	m.flags = 0x8000;
	CU_ASSERT_EQUAL(migdp_wire_build_msg(frame, sizeof(frame), &fl, &m),
			-EINVAL);
	m.flags = 0;
	CU_ASSERT_EQUAL(migdp_wire_build_msg(frame, 60, &fl, &m), -EMSGSIZE);
	fl.session = 0;
	CU_ASSERT_EQUAL(migdp_wire_build_msg(frame, sizeof(frame), &fl, &m),
			-EINVAL);
}

/* ---- DATA and records -------------------------------------------------- */

static void
test_rt_data(void)
{
	static uint8_t zpage[100];
	struct migdp_flow fl = flow(9000, false);
	struct migdp_msg m = { .seq = 0xffffffffu, .tstamp = 9,
			       .flags = MIGDP_F_RETRANSMIT };
	struct migdp_frame f;
	struct migdp_rec_iter it;
	struct migdp_rec r;
	struct migdp_data d;
	int len;

	fill_page(7);
	memset(zpage, 0x33, sizeof(zpage));
	migdp_data_init(&d, fl.mtu);
	CU_ASSERT_EQUAL(migdp_data_add_zero(&d, 0x40000000, 512), 0);
	CU_ASSERT_EQUAL(migdp_data_add_raw(&d, 0x5000, page), 0);
	CU_ASSERT_EQUAL(migdp_data_add_fragment(&d, 0x9000, page, 1000, 333, 2),
			0);
	{
		struct migdp_rec z = { .gpa = 0x7000, .type = MIGDP_REC_ZSTD,
				       .len = sizeof(zpage), .npages = 1,
				       .crc = 0xabcdef01, .data = zpage };
		CU_ASSERT_EQUAL(migdp_data_add(&d, &z), 0);
	}
	len = migdp_wire_build_data(frame, sizeof(frame), &fl, &m, &d, true);
	CU_ASSERT_EQUAL_FATAL(len, (int)(MIGDP_L2_HDRS_LEN + 4 * 24 + 4096 +
					 333 + sizeof(zpage)));
	CU_ASSERT_EQUAL_FATAL(parse(len, &f), MIGDP_DROP_NONE);
	CU_ASSERT_EQUAL(f.msg.type, MIGDP_T_DATA);
	CU_ASSERT_EQUAL(f.msg.seq, 0xffffffffu);
	CU_ASSERT_EQUAL(f.msg.flags, MIGDP_F_RETRANSMIT);
	CU_ASSERT_EQUAL(f.nrecords, 4);

	migdp_rec_iter_init(&it, f.payload, f.payload_len, f.nrecords);
	CU_ASSERT_FATAL(migdp_rec_iter_next(&it, &r));
	CU_ASSERT_EQUAL(r.type, MIGDP_REC_ZERO_RUN);
	CU_ASSERT_EQUAL(r.gpa, 0x40000000);
	CU_ASSERT_EQUAL(r.npages, 512);
	CU_ASSERT_EQUAL(r.len, 0);
	CU_ASSERT_PTR_NULL(r.data);
	CU_ASSERT_FATAL(migdp_rec_iter_next(&it, &r));
	CU_ASSERT_EQUAL(r.type, MIGDP_REC_RAW_PAGE);
	CU_ASSERT_EQUAL(r.gpa, 0x5000);
	CU_ASSERT_EQUAL(memcmp(r.data, page, 4096), 0);
	CU_ASSERT_EQUAL(r.crc, migdp_crc32c(page, 4096));
	CU_ASSERT_FATAL(migdp_rec_iter_next(&it, &r));
	CU_ASSERT_EQUAL(r.type, MIGDP_REC_FRAGMENT);
	CU_ASSERT_EQUAL(r.frag_off, 1000);
	CU_ASSERT_EQUAL(r.len, 333);
	CU_ASSERT_EQUAL(r.ver_delta, 2);
	CU_ASSERT_EQUAL(memcmp(r.data, page + 1000, 333), 0);
	CU_ASSERT_EQUAL(r.crc, migdp_crc32c(page + 1000, 333));
	CU_ASSERT_FATAL(migdp_rec_iter_next(&it, &r));
	CU_ASSERT_EQUAL(r.type, MIGDP_REC_ZSTD);
	CU_ASSERT_EQUAL(r.crc, 0xabcdef01);
	CU_ASSERT_EQUAL(memcmp(r.data, zpage, sizeof(zpage)), 0);
	CU_ASSERT_FALSE(migdp_rec_iter_next(&it, &r));
	CU_ASSERT_EQUAL(it.drop, MIGDP_DROP_NONE);
}

/* MTU 1500: a page split into fragments over several frames, each written
 * in place, rebuilds the page. */
static void
test_fragments_mtu1500(void)
{
	static uint8_t out[MIGDP_PAGE_SIZE];
	struct migdp_flow fl = flow(1500, false);
	struct migdp_msg m = { 0 };
	struct migdp_frame f;
	struct migdp_rec_iter it;
	struct migdp_rec r;
	struct migdp_data d;
	uint32_t off = 0, avail, nframes = 0;
	int len;

	fill_page(3);
	memset(out, 0, sizeof(out));
	while (off < MIGDP_PAGE_SIZE) {
		migdp_data_init(&d, fl.mtu);
		avail = migdp_data_avail(&d);
		CU_ASSERT_FATAL(avail > 1000 && avail < 1500);
		avail = RTE_MIN(avail, MIGDP_PAGE_SIZE - off);
		CU_ASSERT_EQUAL_FATAL(migdp_data_add_fragment(&d, 0x3000, page,
				      off, avail, nframes), 0);
		m.seq = 50 + nframes;
		len = migdp_wire_build_data(frame, sizeof(frame), &fl, &m, &d,
					    true);
		CU_ASSERT_FATAL(len > 0 && len <= 1514);
		CU_ASSERT_EQUAL_FATAL(parse(len, &f), MIGDP_DROP_NONE);
		migdp_rec_iter_init(&it, f.payload, f.payload_len, f.nrecords);
		CU_ASSERT_FATAL(migdp_rec_iter_next(&it, &r));
		CU_ASSERT_EQUAL(r.crc, migdp_crc32c(r.data, r.len));
		CU_ASSERT_EQUAL(f.msg.seq - r.ver_delta, 50);
		memcpy(out + r.frag_off, r.data, r.len);
		off += avail;
		nframes++;
	}
	CU_ASSERT_EQUAL(nframes, 3);
	CU_ASSERT_EQUAL(memcmp(out, page, sizeof(out)), 0);
}

static void
test_builder_limits(void)
{
	struct migdp_data d;
	struct migdp_rec r = { .gpa = 0, .type = MIGDP_REC_MAX, .npages = 1 };
	unsigned i;

	fill_page(2);
	migdp_data_init(&d, 9000);
	CU_ASSERT_EQUAL(migdp_data_add_raw(&d, 0, page), 0);
	CU_ASSERT_EQUAL(migdp_data_add_raw(&d, 0x1000, page), 0);
	CU_ASSERT_EQUAL(migdp_data_add_raw(&d, 0x2000, page), -ENOSPC);
	CU_ASSERT(migdp_data_avail(&d) < MIGDP_PAGE_SIZE);
	/* Invalid records are refused whatever the room. */
	CU_ASSERT_EQUAL(migdp_data_add_zero(&d, 0x1234, 1), -EINVAL);
	CU_ASSERT_EQUAL(migdp_data_add_zero(&d, 0x1000, 0), -EINVAL);
	CU_ASSERT_EQUAL(migdp_data_add_zero(&d, UINT64_MAX & ~0xfffull, 2),
			-EINVAL);
	CU_ASSERT_EQUAL(migdp_data_add_fragment(&d, 0, page, 4000, 200, 0),
			-EINVAL);
	CU_ASSERT_EQUAL(migdp_data_add(&d, &r), -EINVAL);
	/* The record count is bounded too. */
	migdp_data_init(&d, 9000);
	for (i = 0; i < MIGDP_DATA_MAX_RECORDS; i++)
		CU_ASSERT_EQUAL(migdp_data_add_zero(&d, i * 0x1000ull, 1), 0);
	CU_ASSERT_EQUAL(migdp_data_add_zero(&d, 0x100000, 1), -ENOSPC);
	CU_ASSERT_EQUAL(migdp_data_avail(&d), 0);
	/* An empty record set is not a frame. */
	{
		struct migdp_flow fl = flow(9000, false);
		struct migdp_msg m = { 0 };

		migdp_data_init(&d, 9000);
		CU_ASSERT_EQUAL(migdp_wire_build_data(frame, sizeof(frame), &fl,
						      &m, &d, true), -EINVAL);
		CU_ASSERT_EQUAL(migdp_data_add_raw(&d, 0, page), 0);
		CU_ASSERT_EQUAL(migdp_wire_build_data(frame, 1000, &fl, &m, &d,
						      true), -EMSGSIZE);
		/* Zero-copy needs no checksum offload: the frame check covers
		 * the headers and the table, the record CRCs the payloads. */
		CU_ASSERT_EQUAL(migdp_wire_build_data(frame, sizeof(frame), &fl,
						      &m, &d, false),
				(int)(MIGDP_L2_HDRS_LEN + 24));
	}
}

/* Checksum offload and zero-copy: headers only, pseudo-header sum. */
static void
test_offload_zero_copy(void)
{
	struct migdp_flow fl = flow(9000, true);
	struct migdp_msg m = { .seq = 9 };
	struct migdp_frame f;
	struct migdp_data d;
	int len;

	fill_page(4);
	migdp_data_init(&d, fl.mtu);
	CU_ASSERT_EQUAL(migdp_data_add_raw(&d, 0x8000, page), 0);
	len = migdp_wire_build_data(frame, sizeof(frame), &fl, &m, &d, false);
	CU_ASSERT_EQUAL_FATAL(len, (int)(MIGDP_L2_HDRS_LEN + 24));
	CU_ASSERT_EQUAL(rte_be_to_cpu_16(ip_of(frame)->total_length),
			20 + 8 + 48 + 24 + 4096);
	CU_ASSERT_EQUAL(udp_of(frame)->dgram_cksum,
			rte_ipv4_phdr_cksum(ip_of(frame), 0));
	/* The payload segment appended by the caller; the NIC verified it. */
	memcpy(frame + len, page, sizeof(page));
	CU_ASSERT_EQUAL(migdp_wire_parse(frame, len + 4096, &local,
					 MIGDP_PARSE_UDP_CSUM_OK, &f),
			MIGDP_DROP_NONE);
	CU_ASSERT_EQUAL(migdp_wire_parse(frame, len + 4096, &local, 0, &f),
			MIGDP_DROP_BAD_UDP_CSUM);
}

static void
test_restamp(void)
{
	struct migdp_frame f;
	int len = build_data();
	unsigned i;

	CU_ASSERT_FATAL(len > 0);
	for (i = 0; i < 1000; i++) {
		uint32_t ts = i * 2654435761u;

		migdp_wire_restamp(frame, ts, MIGDP_F_RETRANSMIT);
		CU_ASSERT_EQUAL_FATAL(parse(len, &f), MIGDP_DROP_NONE);
		CU_ASSERT_EQUAL(f.msg.tstamp, ts);
		CU_ASSERT_EQUAL(f.msg.flags, MIGDP_F_RETRANSMIT);
	}
}

/* ---- malformed frames -------------------------------------------------- */

static void
test_truncated(void)
{
	struct migdp_frame f;
	int len = build_data(), cut;

	CU_ASSERT_FATAL(len > 0);
	for (cut = 0; cut < len; cut++)
		CU_ASSERT_EQUAL(parse(cut, &f), MIGDP_DROP_TOO_SHORT);
	/* A datagram too short for our headers, consistent otherwise. */
	len = build_keepalive();
	ip_of(frame)->total_length = rte_cpu_to_be_16(20 + 8 + 40);
	udp_of(frame)->dgram_len = rte_cpu_to_be_16(8 + 40);
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_TOO_SHORT);
}

static void
test_not_ipv4_udp(void)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)frame;
	struct migdp_frame f;
	int len;

	len = build_keepalive();
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_NOT_IPV4_UDP);
	len = build_keepalive();
	ip_of(frame)->next_proto_id = IPPROTO_TCP;
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_NOT_IPV4_UDP);
	len = build_keepalive();
	ip_of(frame)->version_ihl = 0x65;
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_NOT_IPV4_UDP);
	len = build_keepalive();
	ip_of(frame)->version_ihl = 0x44;
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_BAD_IP_HDR);
	len = build_keepalive();
	ip_of(frame)->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_IP_FRAGMENT);
	len = build_keepalive();
	ip_of(frame)->fragment_offset = rte_cpu_to_be_16(185);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_IP_FRAGMENT);
}

static void
test_checksums(void)
{
	struct migdp_frame f;
	int len, bit;

	/* Any single bit flipped in the IPv4 header (but the fields checked
	 * before the checksum) breaks the IP checksum. */
	for (bit = 8 * 8; bit < 20 * 8; bit++) {
		len = build_keepalive();
		frame[RTE_ETHER_HDR_LEN + bit / 8] ^= 1u << (bit % 8);
		if (bit / 8 == 9 || bit / 8 == 2 || bit / 8 == 3)
			continue; /* protocol, total length: checked earlier */
		CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_BAD_IP_CSUM);
	}
	/* Any single bit flipped in the migdp header (past the fields checked
	 * before the frame check) or in the record table breaks the frame
	 * check; nrecords may make the table overrun the payload instead. */
	len = build_data();
	CU_ASSERT_EQUAL(udp_of(frame)->dgram_cksum, 0); /* none: the check does */
	for (bit = 4 * 8; bit < (48 + 2 * 24) * 8; bit++) { /* 2 records */
		enum migdp_drop d;

		frame[MIGDP_HDR_OFF + bit / 8] ^= 1u << (bit % 8);
		d = parse(len, &f);
		if (bit / 8 == 22 || bit / 8 == 23) {
			CU_ASSERT(d == MIGDP_DROP_BAD_CHECK || d == MIGDP_DROP_REC_COUNT);
		} else if (bit / 8 == 20 || bit / 8 == 21) {
			CU_ASSERT(d == MIGDP_DROP_BAD_CHECK || d == MIGDP_DROP_BAD_LENGTH);
		} else {
			CU_ASSERT_EQUAL(d, MIGDP_DROP_BAD_CHECK);
		}
		frame[MIGDP_HDR_OFF + bit / 8] ^= 1u << (bit % 8);
	}
	/* A bit flipped in a page passes the frame check and fails the
	 * record's CRC32C, which the receiver checks before writing. */
	for (bit = (48 + 2 * 24) * 8; bit < (len - MIGDP_HDR_OFF) * 8; bit += 97) {
		struct migdp_rec_iter it;
		struct migdp_rec r;
		unsigned bad = 0;

		frame[MIGDP_HDR_OFF + bit / 8] ^= 1u << (bit % 8);
		CU_ASSERT_EQUAL_FATAL(parse(len, &f), MIGDP_DROP_NONE);
		migdp_rec_iter_init(&it, f.payload, f.payload_len, f.nrecords);
		while (migdp_rec_iter_next(&it, &r))
			bad += r.len > 0 && migdp_crc32c(r.data, r.len) != r.crc;
		CU_ASSERT_EQUAL(bad, 1);
		frame[MIGDP_HDR_OFF + bit / 8] ^= 1u << (bit % 8);
	}
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_NONE);
	/* A UDP checksum, when a peer sends one, is checked. */
	udp_of(frame)->dgram_cksum = rte_ipv4_udptcp_cksum(ip_of(frame), udp_of(frame));
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_NONE);
	udp_of(frame)->dgram_cksum ^= 0x0100;
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_BAD_UDP_CSUM);
	/* Trusted when the NIC says so. */
	CU_ASSERT_EQUAL(migdp_wire_parse(frame, len, &local,
					 MIGDP_PARSE_UDP_CSUM_OK, &f),
			MIGDP_DROP_NONE);
	len = build_keepalive();
	ip_of(frame)->time_to_live--;
	CU_ASSERT_EQUAL(migdp_wire_parse(frame, len, &local,
					 MIGDP_PARSE_IP_CSUM_OK, &f),
			MIGDP_DROP_NONE);
	/* UDP length disagreeing with the IP length. */
	len = build_keepalive();
	udp_of(frame)->dgram_len = rte_cpu_to_be_16(8 + 48 + 2);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_BAD_UDP_LEN);
}

static void
test_wrong_dst(void)
{
	struct migdp_flow fl = flow(1500, false);
	struct migdp_msg m = { .type = MIGDP_T_KEEPALIVE };
	struct migdp_frame f;
	int len;

	fl.dst_ip = DST_IP + 1;
	len = migdp_wire_build_msg(frame, sizeof(frame), &fl, &m);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_WRONG_DST);
	fl = flow(1500, false);
	fl.dst_port = DST_PORT + 1;
	len = migdp_wire_build_msg(frame, sizeof(frame), &fl, &m);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_WRONG_DST);
}

static void
test_bad_header_fields(void)
{
	struct migdp_frame f;
	struct migdp_local other = local;
	int len;

	len = build_keepalive();
	hdr_of(frame)->magic ^= 1;
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_BAD_MAGIC);

	len = build_keepalive();
	hdr_of(frame)->version = MIGDP_WIRE_VERSION + 1;
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_BAD_VERSION);

	len = build_keepalive();
	hdr_of(frame)->type = 0;
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_UNKNOWN_TYPE);
	hdr_of(frame)->type = MIGDP_T_MAX;
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_UNKNOWN_TYPE);

	len = build_keepalive();
	hdr_of(frame)->flags = rte_cpu_to_be_16(0x0100);
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_BAD_FLAGS);
	len = build_keepalive();
	hdr_of(frame)->check ^= rte_cpu_to_be_32(1);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_BAD_CHECK);

	len = build_keepalive();
	other.session = SESSION + 1;
	CU_ASSERT_EQUAL(migdp_wire_parse(frame, len, &other, 0, &f),
			MIGDP_DROP_WRONG_SESSION);
	hdr_of(frame)->session = 0;
	refix(frame);
	other.session = 0;	/* even a listener refuses session 0 */
	CU_ASSERT_EQUAL(migdp_wire_parse(frame, len, &other, 0, &f),
			MIGDP_DROP_WRONG_SESSION);

	len = build_keepalive();
	hdr_of(frame)->payload_len = rte_cpu_to_be_16(4);
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_BAD_LENGTH);
	len = build_data();
	hdr_of(frame)->payload_len =
		rte_cpu_to_be_16(rte_be_to_cpu_16(hdr_of(frame)->payload_len) - 1);
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_BAD_LENGTH);
}

/* Grow or shrink the UDP payload by @p delta bytes, fixing lengths. */
static int
resize(int len, int delta)
{
	struct migdp_hdr *h = hdr_of(frame);

	h->payload_len = rte_cpu_to_be_16(rte_be_to_cpu_16(h->payload_len) +
					  delta);
	ip_of(frame)->total_length = rte_cpu_to_be_16(
		rte_be_to_cpu_16(ip_of(frame)->total_length) + delta);
	udp_of(frame)->dgram_len = rte_cpu_to_be_16(
		rte_be_to_cpu_16(udp_of(frame)->dgram_len) + delta);
	refix(frame);
	return len + delta;
}

static void
test_bad_control_payloads(void)
{
	struct migdp_flow fl = flow(1500, false);
	static struct migdp_msg m;
	struct migdp_frame f;
	uint8_t *pl = frame + MIGDP_L2_HDRS_LEN;
	int len;

	/* Control frames carry no records. */
	len = build_keepalive();
	hdr_of(frame)->nrecords = rte_cpu_to_be_16(1);
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_BAD_PAYLOAD);
	/* A keepalive is empty. */
	len = build_keepalive();
	CU_ASSERT_EQUAL(parse(resize(len, 4), &f), MIGDP_DROP_BAD_PAYLOAD);

	/* ACK: SACK count over the maximum / disagreeing with the length /
	 * an empty block. */
	memset(&m, 0, sizeof(m));
	m.type = MIGDP_T_ACK;
	m.u.ack.nsack = 2;
	m.u.ack.sack[0] = (struct migdp_sack){ 10, 12 };
	m.u.ack.sack[1] = (struct migdp_sack){ 14, 15 };
	len = migdp_wire_build_msg(frame, sizeof(frame), &fl, &m);
	pl[9] = MIGDP_MAX_SACK + 1;
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_BAD_PAYLOAD);
	pl[9] = 3;
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_BAD_PAYLOAD);
	pl[9] = 2;
	pl[12 + 8 + 7] = 14;	/* second block [14, 14) */
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_BAD_PAYLOAD);
	CU_ASSERT_EQUAL(parse(resize(len, -12), &f), MIGDP_DROP_BAD_PAYLOAD);

	/* HELLO: too many regions, an unaligned region. */
	memset(&m, 0, sizeof(m));
	m.type = MIGDP_T_HELLO;
	m.u.hello.nregions = 1;
	m.u.hello.regions[0] = (struct migdp_region){ 0, 1 << 20 };
	m.u.hello.block_pages = 3; /* not a power of two */
	CU_ASSERT(migdp_wire_build_msg(frame, sizeof(frame), &fl, &m) < 0);
	m.u.hello.block_pages = 512;
	len = migdp_wire_build_msg(frame, sizeof(frame), &fl, &m);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_NONE);
	pl[19] = 3;	/* block_pages 512 -> 515 */
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_BAD_PAYLOAD);
	pl[19] = 0;
	pl[41] = 1;	/* a reserved byte */
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_BAD_PAYLOAD);
	pl[41] = 0;
	pl[9] = MIGDP_MAX_REGIONS + 1;
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_BAD_PAYLOAD);
	pl[9] = 1;
	pl[80 + 7] = 0x10;	/* gpa 0x10 */
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_BAD_PAYLOAD);
	/* The VM's name: carried; unterminated, refused both ways. */
	snprintf(m.u.hello.vm, sizeof(m.u.hello.vm), "vm-a");
	len = migdp_wire_build_msg(frame, sizeof(frame), &fl, &m);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_NONE);
	CU_ASSERT_STRING_EQUAL(f.msg.u.hello.vm, "vm-a");
	memset(pl + 48, 'x', MIGDP_VM_NAME_LEN);
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_BAD_PAYLOAD);
	memset(m.u.hello.vm, 'x', sizeof(m.u.hello.vm));
	CU_ASSERT(migdp_wire_build_msg(frame, sizeof(frame), &fl, &m) < 0);

	/* REJECT: text not terminated. */
	memset(&m, 0, sizeof(m));
	m.type = MIGDP_T_REJECT;
	len = migdp_wire_build_msg(frame, sizeof(frame), &fl, &m);
	memset(pl + 4, 'x', MIGDP_REASON_TEXT_LEN);
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_BAD_PAYLOAD);

	/* FIN and COMMIT: wrong sizes, impossible counts, unknown flags. */
	memset(&m, 0, sizeof(m));
	m.type = MIGDP_T_FIN;
	len = migdp_wire_build_msg(frame, sizeof(frame), &fl, &m);
	CU_ASSERT_EQUAL(parse(resize(len, 8), &f), MIGDP_DROP_BAD_PAYLOAD);
	len = migdp_wire_build_msg(frame, sizeof(frame), &fl, &m);
	pl[23] = 1;		/* zero_pages 1 > pages 0 */
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_BAD_PAYLOAD);
	m.type = MIGDP_T_COMMIT;
	len = migdp_wire_build_msg(frame, sizeof(frame), &fl, &m);
	pl[3] = 0x80;
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_BAD_PAYLOAD);
	m.type = MIGDP_T_ACCEPT;
	len = migdp_wire_build_msg(frame, sizeof(frame), &fl, &m);
	CU_ASSERT_EQUAL(parse(resize(len, -1), &f), MIGDP_DROP_BAD_PAYLOAD);

	/* DICT: a piece past the end, an empty id, a length that disagrees. */
	m.type = MIGDP_T_DICT;
	m.u.dict = (struct migdp_dict_msg){.dict_id = 7, .total = 100, .offset = 0,
					   .len = 100};
	CU_ASSERT_EQUAL(migdp_wire_build_msg(frame, sizeof(frame), &fl, &m) > 0, 1);
	m.u.dict.offset = 1;
	CU_ASSERT_EQUAL(migdp_wire_build_msg(frame, sizeof(frame), &fl, &m), -EINVAL);
	m.u.dict.offset = 0;
	m.u.dict.dict_id = 0;
	CU_ASSERT_EQUAL(migdp_wire_build_msg(frame, sizeof(frame), &fl, &m), -EINVAL);
	m.u.dict.dict_id = 7;
	len = migdp_wire_build_msg(frame, sizeof(frame), &fl, &m);
	CU_ASSERT_EQUAL(parse(resize(len, -1), &f), MIGDP_DROP_BAD_PAYLOAD);
	len = migdp_wire_build_msg(frame, sizeof(frame), &fl, &m);
	pl[11] = 50;		/* offset 50 + len 100 > total 100 */
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_BAD_PAYLOAD);
}

/* Edit record @p i of the DATA frame from build_data(). */
static struct migdp_rec_hdr *
rec_of(unsigned i)
{
	return (struct migdp_rec_hdr *)(frame + MIGDP_L2_HDRS_LEN + 24 * i);
}

static void
test_bad_records(void)
{
	struct migdp_frame f;
	int len;

	/* Record count: zero, over the maximum, a table past the payload,
	 * fewer records than the payload holds. */
	len = build_data();
	hdr_of(frame)->nrecords = 0;
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_REC_COUNT);
	hdr_of(frame)->nrecords = rte_cpu_to_be_16(MIGDP_DATA_MAX_RECORDS + 1);
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_REC_COUNT);
	len = build_data();
	CU_ASSERT_EQUAL(parse(resize(len, -4096), &f), MIGDP_DROP_REC_LEN);
	len = build_data();
	hdr_of(frame)->nrecords = rte_cpu_to_be_16(1);
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_REC_COUNT);
	len = build_data();
	CU_ASSERT_EQUAL(parse(resize(len, 10), &f), MIGDP_DROP_REC_COUNT);
	/* A record length past the end of the frame (and one that would
	 * wrap a 16-bit sum). */
	len = build_data();
	rec_of(1)->len = rte_cpu_to_be_16(4097);
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_REC_LEN);
	rec_of(1)->len = rte_cpu_to_be_16(0xffff);
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_REC_LEN);
	/* A zero run claiming payload. */
	len = build_data();
	rec_of(0)->len = rte_cpu_to_be_16(16);
	rec_of(1)->len = rte_cpu_to_be_16(4096 - 16);
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_REC_LEN);
	/* Unknown record type, flags, field values. */
	len = build_data();
	rec_of(1)->type = MIGDP_REC_MAX;
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_REC_TYPE);
	len = build_data();
	rec_of(1)->flags = 1;
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_REC_FIELD);
	len = build_data();
	rec_of(0)->npages = 0;
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_REC_FIELD);
	len = build_data();
	rec_of(1)->npages = rte_cpu_to_be_32(2);
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_REC_FIELD);
	len = build_data();
	rec_of(1)->frag_off = rte_cpu_to_be_16(8);
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_REC_FIELD);
	/* Addresses: unaligned, a run wrapping past 2^64. */
	len = build_data();
	rec_of(1)->gpa = rte_cpu_to_be_64(0x1008);
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_REC_GPA);
	len = build_data();
	rec_of(0)->gpa = rte_cpu_to_be_64(UINT64_MAX & ~0xfffull);
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_REC_GPA);
}

/* Stream sessions: a HELLO of kind stream, and STREAM records (bytes at
 * any offset, raw or one zstd frame, the end or a reset of a stream). */
static void
test_stream_records(void)
{
	static struct migdp_msg h;
	struct migdp_flow fl = flow(9000, false);
	struct migdp_msg m = { .seq = 7, .tstamp = 5 };
	struct migdp_rec r, o;
	struct migdp_rec_iter it;
	struct migdp_frame f;
	struct migdp_data d;
	int len;

	memset(&h, 0, sizeof(h));
	h.type = MIGDP_T_HELLO;
	h.u.hello.proto_version = MIGDP_WIRE_VERSION;
	h.u.hello.nchannels = 3;
	h.u.hello.page_size = 4096;
	h.u.hello.kind = MIGDP_HELLO_STREAM;
	len = migdp_wire_build_msg(frame, sizeof(frame), &fl, &h);
	CU_ASSERT_FATAL(len > 0);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_NONE);
	CU_ASSERT_EQUAL(f.msg.u.hello.kind, MIGDP_HELLO_STREAM);
	h.u.hello.kind = MIGDP_HELLO_STREAM + 1; /* unknown kind */
	CU_ASSERT(migdp_wire_build_msg(frame, sizeof(frame), &fl, &h) < 0);
	/* Raw bytes at an odd offset, with the end of the stream. */
	fill_page(3);
	r = (struct migdp_rec){.type = MIGDP_REC_STREAM, .gpa = 12345, .len = 1000,
			       .npages = 1000, .flags = MIGDP_STREAM_F_EOF, .data = page,
			       .crc_at_build = true};
	migdp_data_init(&d, fl.mtu);
	CU_ASSERT_EQUAL_FATAL(migdp_data_add(&d, &r), 0);
	len = migdp_wire_build_data(frame, sizeof(frame), &fl, &m, &d, MIGDP_WIRE_COPY_ALL);
	CU_ASSERT_FATAL(len > 0);
	CU_ASSERT_EQUAL_FATAL(parse(len, &f), MIGDP_DROP_NONE);
	migdp_rec_iter_init(&it, f.payload, f.payload_len, f.nrecords);
	CU_ASSERT_FATAL(migdp_rec_iter_next(&it, &o));
	CU_ASSERT_EQUAL(o.type, MIGDP_REC_STREAM);
	CU_ASSERT_EQUAL(o.gpa, 12345);
	CU_ASSERT_EQUAL(o.flags, MIGDP_STREAM_F_EOF);
	CU_ASSERT_EQUAL(o.npages, 1000);
	CU_ASSERT_EQUAL(o.crc, migdp_crc32c(page, 1000));
	CU_ASSERT_EQUAL(memcmp(o.data, page, 1000), 0);
	/* Refused: unknown flags, raw with plain != wire length, a reset
	 * carrying bytes, nothing and no end, more than a record decodes to,
	 * an offset wrapping 2^64; page records with flags. */
	rec_of(0)->flags = 0x80;
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_REC_FIELD);
	rec_of(0)->flags = 0;
	rec_of(0)->npages = rte_cpu_to_be_32(999);
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_REC_LEN);
	rec_of(0)->npages = rte_cpu_to_be_32(1000);
	rec_of(0)->flags = MIGDP_STREAM_F_RST;
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_REC_FIELD);
	rec_of(0)->flags = MIGDP_STREAM_F_ZSTD;
	rec_of(0)->npages = rte_cpu_to_be_32(MIGDP_STREAM_MAX_PLAIN + 1);
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_REC_LEN);
	rec_of(0)->npages = rte_cpu_to_be_32(1000);
	rec_of(0)->gpa = rte_cpu_to_be_64(UINT64_MAX - 10);
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_REC_FIELD);
	r = (struct migdp_rec){.type = MIGDP_REC_STREAM, .gpa = 0};
	migdp_data_init(&d, fl.mtu);
	CU_ASSERT_EQUAL(migdp_data_add(&d, &r), -EINVAL); /* no bytes, no end */
	r.flags = MIGDP_STREAM_F_RST;
	CU_ASSERT_EQUAL(migdp_data_add(&d, &r), 0);
	len = build_data();
	rec_of(0)->flags = MIGDP_STREAM_F_EOF; /* a zero run with a stream flag */
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_REC_FIELD);
}

/* The new record kinds of version 2: ZSTD records of 1..8 pages, and
 * ZSTD_FRAG pieces of a compressed-page stream. */
static void
test_v2_records(void)
{
	struct migdp_frame f;
	int len;

	/* Record 1 of build_data() (4096 bytes) as a zstd record of n pages. */
	len = build_data();
	rec_of(1)->type = MIGDP_REC_ZSTD;
	rec_of(1)->npages = rte_cpu_to_be_32(8);
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_NONE);
	rec_of(1)->npages = rte_cpu_to_be_32(9);
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_REC_FIELD);
	rec_of(1)->npages = 0;
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_REC_FIELD);
	/* As a stream piece: inside the 4104-byte stream, one page. */
	len = build_data();
	rec_of(1)->type = MIGDP_REC_ZSTD_FRAG;
	rec_of(1)->frag_off = rte_cpu_to_be_16(8);
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_NONE);
	rec_of(1)->frag_off = rte_cpu_to_be_16(9);
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_REC_LEN);
	rec_of(1)->frag_off = 0;
	rec_of(1)->npages = rte_cpu_to_be_32(2);
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_REC_FIELD);
	/* A stream's first piece holds at least the stream header. */
	{
		struct migdp_data d;
		struct migdp_rec r = {.type = MIGDP_REC_ZSTD_FRAG, .npages = 1,
				      .len = 7, .data = page};

		migdp_data_init(&d, 1500);
		CU_ASSERT_EQUAL(migdp_data_add(&d, &r), -EINVAL);
		r.len = 8;
		CU_ASSERT_EQUAL(migdp_data_add(&d, &r), 0);
		r.len = 7;
		r.frag_off = 100;
		CU_ASSERT_EQUAL(migdp_data_add(&d, &r), 0);
	}
}

/* Version-1 framing: a HELLO (so that an old source can be refused with
 * the reason) and a REJECT (the answer) parse, with a UDP checksum and no
 * frame check; any other version-1 frame is dropped. */
static void
test_legacy_frames(void)
{
	struct migdp_flow fl = flow(1500, false);
	struct migdp_msg m = {.version = MIGDP_WIRE_VERSION_LEGACY, .type = MIGDP_T_HELLO};
	struct migdp_frame f;
	int len;

	m.u.hello.nregions = 1;
	m.u.hello.regions[0] = (struct migdp_region){0, 1 << 20};
	len = migdp_wire_build_msg(frame, sizeof(frame), &fl, &m);
	CU_ASSERT_FATAL(len > 0);
	CU_ASSERT_EQUAL(hdr_of(frame)->version, 1);
	CU_ASSERT_EQUAL(hdr_of(frame)->check, 0);
	CU_ASSERT_NOT_EQUAL(udp_of(frame)->dgram_cksum, 0);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_NONE);
	CU_ASSERT_EQUAL(f.msg.version, 1);
	/* Version 2: HELLO and REJECT in its framing (frame check), nothing else. */
	m.version = MIGDP_WIRE_VERSION_PREV;
	len = migdp_wire_build_msg(frame, sizeof(frame), &fl, &m);
	CU_ASSERT_FATAL(len > 0);
	CU_ASSERT_EQUAL(hdr_of(frame)->version, 2);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_NONE);
	CU_ASSERT_EQUAL(f.msg.version, 2);
	hdr_of(frame)->type = MIGDP_T_KEEPALIVE;
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_BAD_VERSION);
	m.version = MIGDP_WIRE_VERSION_LEGACY;
	len = migdp_wire_build_msg(frame, sizeof(frame), &fl, &m);
	udp_of(frame)->dgram_cksum = 0; /* version 1 always had one */
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_BAD_UDP_CSUM);
	m.type = MIGDP_T_REJECT;
	len = migdp_wire_build_msg(frame, sizeof(frame), &fl, &m);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_NONE);
	CU_ASSERT_EQUAL(f.msg.type, MIGDP_T_REJECT);
	/* Nothing else is built or accepted in version 1. */
	m.type = MIGDP_T_KEEPALIVE;
	CU_ASSERT_EQUAL(migdp_wire_build_msg(frame, sizeof(frame), &fl, &m), -EINVAL);
	len = build_keepalive();
	hdr_of(frame)->version = 1;
	hdr_of(frame)->check = 0;
	udp_of(frame)->dgram_cksum = rte_ipv4_udptcp_cksum(ip_of(frame), udp_of(frame));
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_BAD_VERSION);
}

/* The incremental memory digest: its zero-page constant, replacement of a
 * page's value, fragments of a version, order independence. */
static void
test_mdigest(void)
{
	static const uint8_t zero[MIGDP_PAGE_SIZE];
	struct migdp_mdigest a = {0}, b = {0};
	uint64_t ta[4] = {0}, tb[4] = {0};

	CU_ASSERT_EQUAL(migdp_crc32c(zero, sizeof(zero)), MIGDP_CRC32C_ZERO_PAGE);
	CU_ASSERT_NOT_EQUAL(migdp_mdigest_value(0x1000, 7, 0), migdp_mdigest_value(0x2000, 7, 0));
	CU_ASSERT_NOT_EQUAL(migdp_mdigest_value(0x1000, 7, 0), migdp_mdigest_value(0x1000, 8, 0));
	CU_ASSERT_NOT_EQUAL(migdp_mdigest_value(0x1000, 7, 0), migdp_mdigest_value(0x1000, 7, 1400));
	/* a: page 0 twice (the second replaces), page 1 in two fragments. */
	migdp_mdigest_set(&a, &ta[0], migdp_mdigest_value(0, 1, 0));
	migdp_mdigest_set(&a, &ta[0], migdp_mdigest_value(0, 2, 0));
	migdp_mdigest_reset(&a, &ta[1]);
	migdp_mdigest_add_frag(&a, &ta[1], migdp_mdigest_value(0x1000, 3, 0));
	migdp_mdigest_add_frag(&a, &ta[1], migdp_mdigest_value(0x1000, 4, 1400));
	/* b: the same final state, other order, an older fragment version
	 * replaced by the newer one. */
	migdp_mdigest_add_frag(&b, &tb[1], migdp_mdigest_value(0x1000, 9, 0));
	migdp_mdigest_reset(&b, &tb[1]);
	migdp_mdigest_add_frag(&b, &tb[1], migdp_mdigest_value(0x1000, 4, 1400));
	migdp_mdigest_add_frag(&b, &tb[1], migdp_mdigest_value(0x1000, 3, 0));
	migdp_mdigest_set(&b, &tb[0], migdp_mdigest_value(0, 2, 0));
	CU_ASSERT_EQUAL(a.sum, b.sum);
	CU_ASSERT_EQUAL(a.pages, 2);
	CU_ASSERT_EQUAL(b.pages, 2);
	/* One page with other content: the sums differ. */
	migdp_mdigest_set(&b, &tb[0], migdp_mdigest_value(0, 5, 0));
	CU_ASSERT_NOT_EQUAL(a.sum, b.sum);
	/* A page the other side never had: the counts differ. */
	migdp_mdigest_set(&b, &tb[2], migdp_mdigest_value(0x2000, 5, 0));
	CU_ASSERT_EQUAL(b.pages, 3);
}

/* A fragment that runs past its page is refused. */
static void
test_bad_fragment(void)
{
	struct migdp_flow fl = flow(1500, false);
	struct migdp_msg m = { .seq = 1 };
	struct migdp_frame f;
	struct migdp_data d;
	int len;

	fill_page(5);
	migdp_data_init(&d, fl.mtu);
	CU_ASSERT_EQUAL(migdp_data_add_fragment(&d, 0, page, 3096, 1000, 0), 0);
	len = migdp_wire_build_data(frame, sizeof(frame), &fl, &m, &d, true);
	CU_ASSERT_EQUAL_FATAL(parse(len, &f), MIGDP_DROP_NONE);
	rec_of(0)->frag_off = rte_cpu_to_be_16(3097);
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_REC_LEN);
	rec_of(0)->frag_off = rte_cpu_to_be_16(3096);
	rec_of(0)->len = 0;
	refix(frame);
	CU_ASSERT_EQUAL(parse(len, &f), MIGDP_DROP_REC_LEN);
}

/* Garbage never crashes the parser and never passes it. */
static void
test_fuzz(void)
{
	struct migdp_frame f;
	unsigned i, j, seed = 12345;
	int len;

	for (i = 0; i < 20000; i++) {
		len = (i & 1) ? build_data() : build_keepalive();
		for (j = 0; j < 1 + i % 4; j++) {
			seed = seed * 1103515245 + 12345;
			frame[MIGDP_HDR_OFF + (seed >> 8) % (len - MIGDP_HDR_OFF)] ^=
				(uint8_t)(1 + (seed >> 24) % 255);
		}
		if (i & 2)
			refix(frame);	/* reach the migdp checks */
		/* One corrupted byte always breaks the UDP checksum. */
		if (parse(len, &f) == MIGDP_DROP_NONE && i % 4 == 0)
			CU_FAIL("corrupted frame accepted");
	}
}

int
main(void)
{
	static const struct cu_test round_trips[] = {
		{"crc32c", test_crc32c},
		{"names", test_names},
		{"hello", test_rt_hello},
		{"accept_reject_abort", test_rt_accept_reject_abort},
		{"ack_fin_commit_keepalive", test_rt_ack_fin_commit_keepalive},
		{"build_refuses", test_build_refuses},
		{NULL, NULL},
	};
	static const struct cu_test data[] = {
		{"records_round_trip", test_rt_data},
		{"fragments_mtu1500", test_fragments_mtu1500},
		{"builder_limits", test_builder_limits},
		{"offload_zero_copy", test_offload_zero_copy},
		{"restamp", test_restamp},
		{NULL, NULL},
	};
	static const struct cu_test malformed[] = {
		{"truncated", test_truncated},
		{"not_ipv4_udp", test_not_ipv4_udp},
		{"checksums", test_checksums},
		{"wrong_dst", test_wrong_dst},
		{"header_fields", test_bad_header_fields},
		{"control_payloads", test_bad_control_payloads},
		{"records", test_bad_records},
		{"stream_records", test_stream_records},
		{"fragment", test_bad_fragment},
		{"v2_records", test_v2_records},
		{"legacy_frames", test_legacy_frames},
		{"memory_digest", test_mdigest},
		{"fuzz", test_fuzz},
		{NULL, NULL},
	};

	if (cu_add_suite("wire_round_trip", NULL, NULL, round_trips) < 0 ||
	    cu_add_suite("wire_data", NULL, NULL, data) < 0 ||
	    cu_add_suite("wire_malformed", NULL, NULL, malformed) < 0)
		return 1;
	return cu_run();
}
