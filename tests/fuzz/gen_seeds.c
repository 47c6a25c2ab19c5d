/* SPDX-License-Identifier: BSD-3-Clause */
/* The seed corpora of the fuzz harnesses that depend on the wire format
 * and the codec, made with the real builders (migdp_wire_build_msg(),
 * migdp_wire_build_data(), the codec's compressor): valid frames of every
 * type and record type, their DATA payloads for the record harness, and
 * the binary seeds of the shim, bitmap and device-state harnesses.
 *
 *   gen_seeds DIR          (re)write DIR/{frames,records,...}/
 *   gen_seeds --check DIR  generate into a temporary directory and check
 *                          that DIR holds the same seeds and that every
 *                          committed frame and record seed is still valid
 *                          for today's parser
 *
 * The corpora of the text harnesses (config, ctlsock) are written by hand
 * and not touched here. tests/fuzz/README.md says how to regenerate. */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec/codec.h"
#include "fuzz_common.h"
#include "fuzz_shim.h"
#include "guest_devstate.h"
#include "wire.h"

#define REGEN "ninja -C build-fuzz fuzz-seeds (tests/fuzz/README.md)"
#define PG MIGDP_PAGE_SIZE
#define GPA(i) (FUZZ_GUEST_GPA + (uint64_t)(i) * PG)

/* The directories this program owns. */
static const char *const gen_dirs[] = {"frames", "records", "devstate", "bitmap",
				       "shim_desc"};

static const char *root;
static uint8_t frame[MIGDP_MTU_MAX + 64];
static uint8_t pages[MIGDP_ZSTD_MAX_PAGES * PG];
static uint8_t zbuf[MIGDP_ZSTD_MAX_PAGES * PG];
static uint8_t stream[MIGDP_ZSTREAM_MAX];
static struct migdp_codec_ctx *plain, *with_dict;
static struct migdp_codec_dict *dict;

static void __attribute__((noreturn))
die(const char *what)
{
	fprintf(stderr, "gen_seeds: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* A record the builder refuses is a generator bug. */
#define ADD(call) \
	do { \
		int ret_ = (call); \
		if (ret_ < 0) { \
			errno = -ret_; \
			die(#call); \
		} \
	} while (0)

static void
emit(const char *dir, const char *name, const void *p, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s", root, dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(p, 1, len, f) != len || fclose(f) != 0)
		die(path);
}

/* The record harness's input for DATA frame @p len bytes at frame[]. */
static void
emit_records(const char *name, unsigned mode)
{
	const struct migdp_hdr *h = (const void *)(frame + MIGDP_HDR_OFF);
	static uint8_t in[2 + MIGDP_MTU_MAX];
	uint16_t plen = rte_be_to_cpu_16(h->payload_len);

	in[0] = (uint8_t)mode;
	in[1] = (uint8_t)rte_be_to_cpu_16(h->nrecords);
	memcpy(in + 2, frame + MIGDP_L2_HDRS_LEN, plen);
	emit("records", name, in, 2u + plen);
}

static void
msg_seed(const char *name, uint16_t mtu, const struct migdp_msg *m)
{
	struct migdp_flow fl = fuzz_flow(mtu);
	int len = migdp_wire_build_msg(frame, sizeof(frame), &fl, m);

	if (len < 0) {
		errno = -len;
		die(name);
	}
	emit("frames", name, frame, (size_t)len);
}

/* A DATA frame of @p d; its payload also goes to the record harness with
 * each of the @p nmodes modes (suffixed by the mode). */
static void
data_seed(const char *name, uint16_t mtu, uint16_t flags, uint32_t seq,
	  struct migdp_data *d, const unsigned *modes, unsigned nmodes)
{
	struct migdp_flow fl = fuzz_flow(mtu);
	struct migdp_msg m = {.type = MIGDP_T_DATA, .flags = flags, .seq = seq,
			      .tstamp = 1000 + seq};
	char rname[128];
	unsigned i;
	int len;

	fl.channel = 1;
	len = migdp_wire_build_data(frame, sizeof(frame), &fl, &m, d, MIGDP_WIRE_COPY_ALL);
	if (len < 0) {
		errno = -len;
		die(name);
	}
	emit("frames", name, frame, (size_t)len);
	for (i = 0; i < nmodes; i++) {
		snprintf(rname, sizeof(rname), "%s-m%u", name, modes[i]);
		emit_records(rname, modes[i]);
	}
}

static void
control_seeds(void)
{
	struct migdp_msg m;
	size_t dlen;
	const uint8_t *dbytes = migdp_dict_data(dict, &dlen);
	unsigned i;

	m = (struct migdp_msg){.type = MIGDP_T_HELLO, .tstamp = 1,
		.u.hello = {.proto_version = MIGDP_WIRE_VERSION, .nchannels = 2,
			    .page_size = PG, .nregions = 3, .isn = 1000,
			    .block_pages = 512, .vm = "fuzz-vm",
			    .regions = {{0, 1ull << 30}, {1ull << 32, 1ull << 30},
					{1ull << 40, 2 * PG}}}};
	msg_seed("hello", MIGDP_MTU_MAX, &m);
	m.u.hello.nregions = 0;
	m.u.hello.block_pages = 0;
	msg_seed("hello_noregions", MIGDP_MTU_MIN, &m);
	m.u.hello.nregions = 1;
	m.version = MIGDP_WIRE_VERSION_PREV;
	m.u.hello.proto_version = MIGDP_WIRE_VERSION_PREV;
	msg_seed("hello_v2", MIGDP_MTU_MAX, &m);
	m.version = MIGDP_WIRE_VERSION_LEGACY;
	m.u.hello.proto_version = MIGDP_WIRE_VERSION_LEGACY;
	msg_seed("hello_v1", MIGDP_MTU_MAX, &m);

	m = (struct migdp_msg){.type = MIGDP_T_ACCEPT, .tstamp = 2,
		.u.accept = {.proto_version = MIGDP_WIRE_VERSION, .nchannels = 2,
			     .page_size = PG, .window = 1024, .mtu = MIGDP_MTU_MAX}};
	msg_seed("accept", MIGDP_MTU_MAX, &m);

	m = (struct migdp_msg){.type = MIGDP_T_REJECT, .tstamp = 3,
		.u.reason = {.reason = MIGDP_R_VERSION, .text = "protocol version mismatch"}};
	msg_seed("reject", MIGDP_MTU_MAX, &m);
	m.version = MIGDP_WIRE_VERSION_LEGACY;
	msg_seed("reject_v1", MIGDP_MTU_MAX, &m);
	m = (struct migdp_msg){.type = MIGDP_T_ABORT, .tstamp = 4,
		.u.reason = {.reason = MIGDP_R_CANCELLED, .text = "cancelled"}};
	msg_seed("abort", MIGDP_MTU_MAX, &m);

	m = (struct migdp_msg){.type = MIGDP_T_ACK, .tstamp = 5,
		.u.ack = {.cum_ack = 100, .ts_echo = 12345, .nsack = 3,
			  .sack = {{130, 140}, {120, 121}, {105, 110}}}};
	msg_seed("ack_sack", MIGDP_MTU_MAX, &m);
	m.u.ack.nsack = MIGDP_MAX_SACK;
	for (i = 0; i < MIGDP_MAX_SACK; i++)
		m.u.ack.sack[i] = (struct migdp_sack){UINT32_MAX - 100 + 10 * i,
						      UINT32_MAX - 95 + 10 * i};
	msg_seed("ack_sack_max_wrap", MIGDP_MTU_MIN, &m);
	m = (struct migdp_msg){.type = MIGDP_T_ACK, .flags = MIGDP_F_ACK_NOW, .tstamp = 6,
		.u.ack = {.cum_ack = 7, .ts_echo = 6}};
	msg_seed("ack", MIGDP_MTU_MAX, &m);

	m = (struct migdp_msg){.type = MIGDP_T_FIN, .tstamp = 7,
		.u.fin = {.end_seq = 200, .pages = 1000, .zero_pages = 600,
			  .bytes = 1638400}};
	msg_seed("fin", MIGDP_MTU_MAX, &m);

	m = (struct migdp_msg){.type = MIGDP_T_COMMIT, .tstamp = 8,
		.u.commit = {.guest_bytes = 1ull << 30}};
	for (i = 0; i < MIGDP_DIGEST_LEN; i++)
		m.u.commit.digest[i] = (uint8_t)i;
	msg_seed("commit", MIGDP_MTU_MAX, &m);
	m.u.commit.flags = MIGDP_COMMIT_READY | MIGDP_COMMIT_VERIFIED;
	msg_seed("commit_ready", MIGDP_MTU_MAX, &m);
	m.u.commit.flags = MIGDP_COMMIT_GO;
	msg_seed("commit_go", MIGDP_MTU_MAX, &m);
	m.u.commit.flags = MIGDP_COMMIT_CONFIRM | MIGDP_COMMIT_VERIFIED;
	msg_seed("commit_confirm", MIGDP_MTU_MAX, &m);

	m = (struct migdp_msg){.type = MIGDP_T_KEEPALIVE, .tstamp = 9};
	msg_seed("keepalive", MIGDP_MTU_MAX, &m);
	m.flags = MIGDP_F_RETRANSMIT | MIGDP_F_ACK_NOW;
	msg_seed("keepalive_flags", MIGDP_MTU_MIN, &m);

	m = (struct migdp_msg){.type = MIGDP_T_DICT, .tstamp = 10,
		.u.dict = {.dict_id = migdp_dict_id(dict), .total = (uint32_t)dlen,
			   .offset = 0, .len = MIGDP_DICT_CHUNK}};
	memcpy(m.u.dict.data, dbytes, MIGDP_DICT_CHUNK);
	msg_seed("dict", MIGDP_MTU_MAX, &m);
	m.u.dict.offset = (uint32_t)(dlen - dlen % MIGDP_DICT_CHUNK);
	m.u.dict.len = (uint16_t)(dlen % MIGDP_DICT_CHUNK);
	memcpy(m.u.dict.data, dbytes + m.u.dict.offset, m.u.dict.len);
	msg_seed("dict_last", MIGDP_MTU_MAX, &m);
	m.u.dict.offset = (uint32_t)dlen;
	m.u.dict.len = 0;
	msg_seed("dict_ack", MIGDP_MTU_MAX, &m);
}

/* The zstd record of @p n pages from pages[] (codec's compressor). */
static void
zstd_record(struct migdp_codec_ctx *c, uint32_t n, uint64_t gpa, uint8_t *out,
	    struct migdp_rec *r)
{
	uint32_t crcs[MIGDP_ZSTD_MAX_PAGES];

	if (migdp_codec_encode_run(c, pages, n, out, MIGDP_ZSTD_MAX_PAGES * PG, r, crcs) < 0 ||
	    r->type != MIGDP_REC_ZSTD || r->npages != n) {
		errno = EINVAL;
		die("zstd record");
	}
	r->gpa = gpa;
}

static void
data_seeds(void)
{
	static const unsigned plain_mode[] = {0}, both[] = {0, FUZZ_REC_IN_PLACE},
		dict_modes[] = {FUZZ_REC_DICT, FUZZ_REC_DICT | FUZZ_REC_IN_PLACE, 0};
	struct migdp_zstream_hdr zh;
	static struct migdp_data d;
	struct migdp_rec r, z;
	uint32_t half, i;

	for (i = 0; i < MIGDP_ZSTD_MAX_PAGES; i++)
		fuzz_page(pages + (size_t)i * PG, i);

	migdp_data_init(&d, MIGDP_MTU_MAX);
	ADD(migdp_data_add_zero(&d, GPA(0), 4));
	data_seed("data_zero", MIGDP_MTU_MAX, 0, 1, &d, plain_mode, 1);

	migdp_data_init(&d, MIGDP_MTU_MAX);
	ADD(migdp_data_add_raw(&d, GPA(1), pages));
	ADD(migdp_data_add_raw(&d, GPA(15), pages + PG));
	data_seed("data_raw", MIGDP_MTU_MAX, 0, 2, &d, both, 2);
	migdp_data_init(&d, MIGDP_MTU_MAX);
	ADD(migdp_data_add_raw(&d, GPA(2), pages));
	data_seed("data_raw_retransmit", MIGDP_MTU_MAX, MIGDP_F_RETRANSMIT | MIGDP_F_ACK_NOW,
		  3, &d, plain_mode, 1);

	/* Fragments of one page at MTU 1500, the last one two frames on. */
	migdp_data_init(&d, 1500);
	ADD(migdp_data_add_fragment(&d, GPA(3), pages, 0, (uint16_t)migdp_data_avail(&d), 0));
	data_seed("data_fragment", 1500, 0, 4, &d, plain_mode, 1);
	migdp_data_init(&d, 1500);
	ADD(migdp_data_add_fragment(&d, GPA(3), pages, 2800, PG - 2800, 2));
	data_seed("data_fragment_last", 1500, 0, 6, &d, plain_mode, 1);

	migdp_data_init(&d, MIGDP_MTU_MAX);
	zstd_record(plain, 1, GPA(4), zbuf, &r);
	ADD(migdp_data_add(&d, &r));
	data_seed("data_zstd", MIGDP_MTU_MAX, 0, 7, &d, both, 2);

	migdp_data_init(&d, MIGDP_MTU_MAX);
	zstd_record(plain, MIGDP_ZSTD_MAX_PAGES, GPA(8), zbuf, &r);
	ADD(migdp_data_add(&d, &r));
	data_seed("data_zstd_run", MIGDP_MTU_MAX, 0, 8, &d, both, 2);

	migdp_data_init(&d, MIGDP_MTU_MAX);
	zstd_record(with_dict, 2, GPA(5), zbuf, &r);
	ADD(migdp_data_add(&d, &r));
	data_seed("data_zstd_dict", MIGDP_MTU_MAX, 0, 9, &d, dict_modes, 3);

	/* A compressed page as a stream (chan_src.c's zstream_start()):
	 * header then zstd frame, in two ZSTD_FRAG pieces. */
	zstd_record(plain, 1, GPA(6), zbuf, &z);
	zh = (struct migdp_zstream_hdr){
		.len = rte_cpu_to_be_16((uint16_t)(sizeof(zh) + z.len)),
		.crc = rte_cpu_to_be_32(z.crc)};
	memcpy(stream, &zh, sizeof(zh));
	memcpy(stream + sizeof(zh), z.data, z.len);
	half = (sizeof(zh) + z.len) / 2;
	r = (struct migdp_rec){.gpa = GPA(6), .type = MIGDP_REC_ZSTD_FRAG, .npages = 1,
		.len = (uint16_t)half, .data = stream, .crc_at_build = true};
	migdp_data_init(&d, 1500);
	ADD(migdp_data_add(&d, &r));
	data_seed("data_zstd_frag", 1500, 0, 10, &d, plain_mode, 1);
	z = (struct migdp_rec){.gpa = GPA(6), .type = MIGDP_REC_ZSTD_FRAG, .npages = 1,
		.len = (uint16_t)(sizeof(zh) + z.len - half), .frag_off = (uint16_t)half,
		.ver_delta = 1, .data = stream + half, .crc_at_build = true};
	migdp_data_init(&d, 1500);
	ADD(migdp_data_add(&d, &z));
	data_seed("data_zstd_frag_last", 1500, 0, 11, &d, plain_mode, 1);
	/* Both pieces in one payload: the record harness decodes the page. */
	migdp_data_init(&d, MIGDP_MTU_MAX);
	ADD(migdp_data_add(&d, &r));
	ADD(migdp_data_add(&d, &z));
	data_seed("data_zstd_stream", MIGDP_MTU_MAX, 0, 12, &d, both, 2);

	/* Every record type in one frame. */
	migdp_data_init(&d, MIGDP_MTU_MAX);
	ADD(migdp_data_add_zero(&d, GPA(0), 1));
	zstd_record(plain, 2, GPA(10), zbuf, &r);
	ADD(migdp_data_add(&d, &r));
	ADD(migdp_data_add_raw(&d, GPA(12), pages + 2 * PG));
	ADD(migdp_data_add_fragment(&d, GPA(13), pages, 100, 1000, 0));
	z.ver_delta = 0;
	ADD(migdp_data_add(&d, &z));
	data_seed("data_mixed", MIGDP_MTU_MAX, 0, 13, &d, both, 2);

	/* Stream sessions: bytes at an offset, raw with the stream's end, and
	 * one zstd frame of them. */
	migdp_data_init(&d, MIGDP_MTU_MAX);
	r = (struct migdp_rec){.gpa = 123457, .type = MIGDP_REC_STREAM, .len = 3000,
		.npages = 3000, .flags = MIGDP_STREAM_F_EOF, .data = pages, .crc_at_build = true};
	ADD(migdp_data_add(&d, &r));
	data_seed("data_stream", MIGDP_MTU_MAX, 0, 14, &d, plain_mode, 1);
	{
		int n = migdp_codec_compress_bytes(plain, pages, 4 * PG, zbuf, MIGDP_MTU_MAX - 200);

		if (n <= 0) {
			errno = EINVAL;
			die("stream zstd");
		}
		migdp_data_init(&d, MIGDP_MTU_MAX);
		r = (struct migdp_rec){.gpa = 4 * PG, .type = MIGDP_REC_STREAM, .len = (uint16_t)n,
			.npages = 4 * PG, .flags = MIGDP_STREAM_F_ZSTD, .data = zbuf,
			.crc = migdp_crc32c(pages, 4 * PG)};
		ADD(migdp_data_add(&d, &r));
		data_seed("data_stream_zstd", MIGDP_MTU_MAX, 0, 15, &d, plain_mode, 1);
	}

	/* A dictionary as the peer sends it, for the dictionary loader. */
	{
		size_t len;
		const uint8_t *p = migdp_dict_data(dict, &len);
		uint8_t *in = malloc(1 + len);

		if (in == NULL)
			die("malloc");
		in[0] = FUZZ_REC_LOAD_DICT;
		memcpy(in + 1, p, len);
		emit("records", "peer_dict", in, 1 + len);
		free(in);
	}
}

static void
devstate_seed(const char *name, uint64_t size, uint32_t nvcpus, const char *digest)
{
	struct guest_devstate h = {.nvcpus = nvcpus, .pause_ns = 123456789,
				   .writes = 4242, .seed = 7};
	uint8_t *p = malloc(size);
	uint32_t i;

	if (p == NULL)
		die("malloc");
	snprintf(h.digest, sizeof(h.digest), "%s", digest);
	for (i = 0; i < nvcpus; i++)
		h.vcpu[i] = (struct guest_vcpu_state){.rng = 0x9e3779b97f4a7c15ull * (i + 1),
						      .writes = 100 + i};
	guest_devstate_write(p, size, &h);
	emit("devstate", name, p, size);
	free(p);
}

static void
bitmap_seed(const char *name, uint64_t base, uint32_t max_run, uint32_t block,
	    uint32_t npages, const uint64_t *words, unsigned nwords)
{
	uint8_t buf[20 + 64 * 8];

	memcpy(buf, &base, 8);
	memcpy(buf + 8, &max_run, 4);
	memcpy(buf + 12, &block, 4);
	memcpy(buf + 16, &npages, 4);
	memcpy(buf + 20, words, nwords * 8);
	emit("bitmap", name, buf, 20 + nwords * 8u);
}

static void
bitmap_seeds(void)
{
	static const uint64_t w[] = {
		0xff00ff00ff00ff00ull, ~0ull, 0x1ull, 0x8000000000000001ull,
		0, 0x0123456789abcdefull, ~0ull, 0xf0f0f0f0f0f0f0f0ull,
	};

	bitmap_seed("runs", 0, 512, 512, 512, w, 8);
	bitmap_seed("small_limits", 16 * PG, 3, 4, 500, w, 8);
	bitmap_seed("odd_npages", 3 * PG, 64, 8, 77, w, 2);
	/* The last pages below 2^64: 127 fit, 128 would not. */
	bitmap_seed("top", (uint64_t)0 - 128 * PG, 512, 512, 127, w + 1, 2);
	bitmap_seed("empty", 0, 1, 1, 0, w, 0);
}

static void
put_desc(uint8_t *b, unsigned *n, unsigned ring, uint64_t gpa, uint32_t npages,
	 uint32_t flags)
{
	uint8_t *p = b + (size_t)*n * FUZZ_DESC_LEN;

	p[0] = (uint8_t)ring;
	memcpy(p + 1, &gpa, 8);
	memcpy(p + 9, &npages, 4);
	memcpy(p + 13, &flags, 4);
	(*n)++;
}

/* Ring of the block of @p gpa. */
static unsigned
ring_of(uint64_t gpa)
{
	return (unsigned)((gpa >> FUZZ_SHIM_BLOCK_SHIFT) % FUZZ_SHIM_NRINGS);
}

static void
shim_seeds(void)
{
	uint8_t b[32 * FUZZ_DESC_LEN];
	unsigned i, n = 0;
	uint64_t g, blk = (uint64_t)FUZZ_SHIM_BLOCK_PAGES * PG;

	/* A whole block, the first and the last page of every region. */
	for (i = 0; i < FUZZ_SHIM_NREGIONS; i++) {
		uint64_t size = fuzz_shim_layout[i].size;

		g = fuzz_shim_layout[i].gpa;
		put_desc(b, &n, ring_of(g), g, (uint32_t)(RTE_MIN(blk, size) / PG), 0);
		g += size - PG;
		put_desc(b, &n, ring_of(g), g, 1, 0);
	}
	emit("shim_desc", "valid", b, n * FUZZ_DESC_LEN);
	n = 0;
	put_desc(b, &n, 0, 5, 0, MIGSHIM_DESC_END_OF_ROUND);
	put_desc(b, &n, 2, 6, 0, MIGSHIM_DESC_END_OF_ROUND | MIGSHIM_DESC_FINAL);
	put_desc(b, &n, 1, 0, 3, MIGSHIM_DESC_END_OF_ROUND);
	put_desc(b, &n, 1, 0, 1, MIGSHIM_DESC_FINAL);
	put_desc(b, &n, 0, 0, 1, 0x80);
	emit("shim_desc", "markers", b, n * FUZZ_DESC_LEN);
	n = 0;
	put_desc(b, &n, ring_of(0), 0, 0, 0);                   /* zero count */
	put_desc(b, &n, ring_of(0), 0x1001, 1, 0);              /* unaligned */
	put_desc(b, &n, 0, 64 << 10, 1, 0);                     /* in the hole */
	put_desc(b, &n, ring_of(192 << 10), (192 << 10) - PG, 2, 0); /* adjacent regions */
	put_desc(b, &n, ring_of(0), 0, UINT32_MAX, 0);          /* huge count */
	put_desc(b, &n, 0, UINT64_MAX - PG + 1, 2, 0);          /* overflow */
	put_desc(b, &n, ring_of(0) + 1, 0, 1, 0);               /* wrong ring */
	put_desc(b, &n, ring_of(blk - PG), blk - PG, 2, 0);     /* crosses a block */
	put_desc(b, &n, 0, (uint64_t)0 - 64 * 1024, 1, 0);      /* above the top region */
	emit("shim_desc", "refused", b, n * FUZZ_DESC_LEN);
}

/* Write every seed under @p dir (its generated directories emptied). */
static void
generate(const char *dir)
{
	char path[4096];
	struct dirent *e;
	unsigned i;
	DIR *dp;

	root = dir;
	for (i = 0; i < RTE_DIM(gen_dirs); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, gen_dirs[i]);
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			die(path);
		dp = opendir(path);
		if (dp == NULL)
			die(path);
		while ((e = readdir(dp)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s/%s", dir, gen_dirs[i], e->d_name);
			if (unlink(path) < 0)
				die(path);
		}
		closedir(dp);
	}
	control_seeds();
	data_seeds();
	devstate_seed("minimal", sizeof(struct guest_devstate), 1, "");
	devstate_seed("page", PG, 4, "0123456789abcdef0123456789abcdef");
	devstate_seed("tail", PG + 4, GUEST_MAX_VCPUS, "x");
	bitmap_seeds();
	shim_seeds();
}

/* ---- --check ------------------------------------------------------------ */

static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p = NULL;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (p = malloc((size_t)n + 1)) == NULL ||
	    fread(p, 1, (size_t)n, f) != (size_t)n)
		die(path);
	fclose(f);
	*len = (size_t)n;
	return p;
}

/* Why today's code refuses seed @p p of harness @p dir, or NULL. */
static const char *
invalid(const char *dir, const uint8_t *p, size_t len)
{
	static char why[128];
	struct migdp_local loc = fuzz_local();
	struct guest_devstate h;
	struct migdp_rec_iter it;
	struct migdp_frame f;
	struct migdp_rec r;
	enum migdp_drop drop;
	unsigned n = 0;

	if (strcmp(dir, "frames") == 0) {
		drop = migdp_wire_parse(p, (uint32_t)len, &loc, 0, &f);
		if (drop == MIGDP_DROP_NONE)
			return NULL;
		snprintf(why, sizeof(why), "dropped: %s", migdp_drop_name(drop));
		return why;
	}
	if (strcmp(dir, "records") == 0) {
		if (len < 2)
			return "shorter than its two mode bytes";
		if (p[0] & FUZZ_REC_LOAD_DICT)
			return NULL;
		migdp_rec_iter_init(&it, p + 2, (uint16_t)(len - 2), p[1]);
		while (migdp_rec_iter_next(&it, &r))
			n++;
		if (it.drop == MIGDP_DROP_NONE && n == p[1])
			return NULL;
		snprintf(why, sizeof(why), "record %u: %s", n, migdp_drop_name(it.drop));
		return why;
	}
	if (strcmp(dir, "devstate") == 0)
		return guest_devstate_read(p, len, &h, why, sizeof(why)) == 0 ? NULL : why;
	return NULL;
}

/* Compare directory @p dir of @p mine (committed) with @p fresh; returns
 * the number of problems. */
static unsigned
check_dir(const char *mine, const char *fresh, const char *dir)
{
	char a[4096], b[4096];
	unsigned bad = 0, differ = 0, pass;
	struct dirent *e;
	const char *why;
	uint8_t *pa, *pb;
	size_t la, lb;
	struct stat st;
	DIR *dp;

	/* Pass 0: every committed seed; pass 1: none missing. */
	for (pass = 0; pass < 2; pass++) {
		snprintf(a, sizeof(a), "%s/%s", pass == 0 ? mine : fresh, dir);
		dp = opendir(a);
		if (dp == NULL) {
			fprintf(stderr, "FAIL %s: %s\n", a, strerror(errno));
			return 1;
		}
		while ((e = readdir(dp)) != NULL) {
			/* found-*: inputs a fuzzer found, kept by hand as
			 * regression seeds (not made by the generator). */
			if (e->d_name[0] == '.' || strncmp(e->d_name, "found-", 6) == 0)
				continue;
			snprintf(a, sizeof(a), "%s/%s/%s", mine, dir, e->d_name);
			snprintf(b, sizeof(b), "%s/%s/%s", fresh, dir, e->d_name);
			if (pass == 1) {
				if (stat(a, &st) < 0) {
					fprintf(stderr, "FAIL %s/%s: the generator makes it, "
						"the corpus lacks it\n", dir, e->d_name);
					bad++;
				}
				continue;
			}
			pa = slurp(a, &la);
			why = invalid(dir, pa, la);
			if (why != NULL) {
				fprintf(stderr, "FAIL %s/%s: %s\n", dir, e->d_name, why);
				bad++;
			}
			if (stat(b, &st) < 0) {
				fprintf(stderr, "FAIL %s/%s: no longer generated\n", dir,
					e->d_name);
				bad++;
			} else {
				pb = slurp(b, &lb);
				differ += la != lb || memcmp(pa, pb, la) != 0;
				free(pb);
			}
			free(pa);
		}
		closedir(dp);
	}
	/* Bytes may move with libzstd or a builder's choices while the seeds
	 * stay valid: worth a refresh, not a failure. */
	if (differ > 0)
		printf("note: %u seeds of %s/ differ from the generator's output; "
		       "refresh them with %s\n", differ, dir, REGEN);
	return bad;
}

static int
check(const char *corpus)
{
	char tmp[] = "/tmp/migdp-fuzz-seeds-XXXXXX", cmd[128];
	unsigned i, bad = 0;

	if (mkdtemp(tmp) == NULL)
		die("mkdtemp");
	generate(tmp);
	for (i = 0; i < RTE_DIM(gen_dirs); i++)
		bad += check_dir(corpus, tmp, gen_dirs[i]);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "note: could not remove %s\n", tmp);
	if (bad > 0) {
		fprintf(stderr, "%u seed problems: the wire format or the generator "
			"changed; regenerate with %s and commit the result\n", bad, REGEN);
		return 1;
	}
	printf("seeds of %s: all valid, all present\n", corpus);
	return 0;
}

int
main(int argc, char **argv)
{
	bool checking = argc == 3 && strcmp(argv[1], "--check") == 0;
	int ret;

	if (argc != 2 && !checking) {
		fprintf(stderr, "usage: gen_seeds DIR | gen_seeds --check DIR\n");
		return 2;
	}
	dict = fuzz_dict();
	plain = migdp_codec_ctx_create(NULL);
	with_dict = migdp_codec_ctx_create(&(struct migdp_codec_ctx_params){.dict = dict});
	if (dict == NULL || plain == NULL || with_dict == NULL)
		die("codec");
	ret = checking ? check(argv[2]) : (generate(argv[1]), 0);
	migdp_codec_ctx_free(with_dict);
	migdp_codec_ctx_free(plain);
	migdp_dict_free(dict);
	return ret;
}
