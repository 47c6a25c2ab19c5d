/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer harness: record decoding at the destination, compressed
 * records included: what chan_dst.c does with the records of an accepted
 * DATA frame, on a small guest memory between guard pages.
 *
 * Input: a mode byte (FUZZ_REC_*), the record count, then a DATA payload
 * (record table and payloads). Records come from the real iterator; raw
 * and zstd records go through migdp_codec_decode_pages() straight into
 * guest memory at their address, compressed-page streams (ZSTD_FRAG) are
 * gathered as chan_dst.c's put_zstream() does (that one is static there)
 * and decoded the same way into a guarded page. The codec's promises
 * (codec.h): a record never writes outside its pages; a refused header
 * (-EINVAL, -ENOKEY) never writes at all, nor any failure without
 * MIGDP_CODEC_IN_PLACE; a success leaves the pages whose CRC32Cs it
 * reports, and they match the record's.
 *
 * With FUZZ_REC_LOAD_DICT the rest of the input is a dictionary as a peer
 * would send it (DICT frames), loaded and used for one decode. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "fuzz_common.h"
#include "wire.h"

#define GUEST_LEN ((size_t)FUZZ_GUEST_PAGES * MIGDP_PAGE_SIZE)

static struct migdp_codec_ctx *plain_ctx, *dict_ctx;
static uint8_t *guest;   /* guarded */
static uint8_t *before;  /* guest memory before a record */
static uint8_t *zpage;   /* guarded: where a complete stream is decoded */
static struct migdp_rec dict_probe; /* a zstd record of fuzz_page(7) */
static uint8_t dict_probe_buf[MIGDP_PAGE_SIZE];

/* One compressed-page stream in reassembly (chan_dst.c's migdp_zslot). */
static struct {
	uint64_t gpa;  /* of the page, UINT64_MAX: free */
	uint32_t got, len;
	uint8_t buf[MIGDP_ZSTREAM_MAX];
} zs;

static uint64_t
rejects(const struct migdp_codec_ctx *c)
{
	uint64_t n = 0;
	unsigned i;

	for (i = 0; i < MIGDP_CODEC_REJECT_MAX; i++)
		n += c->rejects[i];
	return n;
}

/* Decode @p r into the @p r->npages pages at @p dst (inside guest memory,
 * or zpage) and hold the codec to its word. */
static int
decode(struct migdp_codec_ctx *c, const struct migdp_rec *r, uint8_t *dst,
       unsigned flags)
{
	size_t len = (size_t)r->npages * MIGDP_PAGE_SIZE, off;
	bool in_guest = dst >= guest && dst < guest + GUEST_LEN;
	uint32_t crcs[MIGDP_ZSTD_MAX_PAGES], i;
	uint64_t rej = rejects(c);
	int ret;

	memcpy(before, in_guest ? guest : dst, in_guest ? GUEST_LEN : len);
	ret = migdp_codec_decode_pages(c, r, dst, flags, crcs);
	FUZZ_CHECK(ret == 0 || ret == -ENOTSUP || ret == -EINVAL || ret == -ENOKEY ||
		   ret == -EBADMSG || ret == -EILSEQ);
	FUZZ_CHECK(ret != -ENOTSUP); /* only RAW_PAGE and ZSTD come here */
	/* Every failure is counted once, a success not at all. */
	FUZZ_CHECK(rejects(c) == rej + (ret != 0));
	if (in_guest) {
		off = (size_t)(dst - guest);
		FUZZ_CHECK(memcmp(before, guest, off) == 0);
		FUZZ_CHECK(memcmp(before + off + len, dst + len, GUEST_LEN - off - len) == 0);
	}
	if (ret == -EINVAL || ret == -ENOKEY || (ret != 0 && !(flags & MIGDP_CODEC_IN_PLACE)))
		FUZZ_CHECK(memcmp(before + (in_guest ? dst - guest : 0), dst, len) == 0);
	if (ret != 0)
		return ret;
	for (i = 0; i < r->npages; i++)
		FUZZ_CHECK(crcs[i] == migdp_crc32c(dst + (size_t)i * MIGDP_PAGE_SIZE,
						   MIGDP_PAGE_SIZE));
	FUZZ_CHECK(migdp_crc32c_of_pages(crcs, r->npages) == r->crc);
	if (r->type == MIGDP_REC_RAW_PAGE)
		FUZZ_CHECK(memcmp(dst, r->data, MIGDP_PAGE_SIZE) == 0);
	return 0;
}

/* A piece of a compressed-page stream, as put_zstream() takes it: the
 * stream header in the piece at offset 0, the page decoded once every byte
 * has come. */
static void
stream_piece(struct migdp_codec_ctx *c, const struct migdp_rec *r, uint8_t *dst,
	     unsigned flags)
{
	struct migdp_zstream_hdr h;
	struct migdp_rec zr;

	if (zs.gpa != r->gpa) {
		zs.gpa = r->gpa;
		zs.got = 0;
		zs.len = 0;
	}
	FUZZ_CHECK((uint32_t)r->frag_off + r->len <= sizeof(zs.buf));
	memcpy(zs.buf + r->frag_off, r->data, r->len);
	zs.got += r->len;
	if (r->frag_off == 0) {
		memcpy(&h, zs.buf, sizeof(h));
		zs.len = rte_be_to_cpu_16(h.len);
		if (zs.len <= sizeof(h) || zs.len > MIGDP_ZSTREAM_MAX || h.zero != 0) {
			zs.gpa = UINT64_MAX;
			return;
		}
	}
	if (zs.len == 0 || zs.got < zs.len)
		return;
	zs.gpa = UINT64_MAX;
	if (zs.got != zs.len)
		return;
	memcpy(&h, zs.buf, sizeof(h));
	zr = (struct migdp_rec){.gpa = r->gpa, .type = MIGDP_REC_ZSTD, .npages = 1,
		.len = (uint16_t)(zs.len - sizeof(h)), .data = zs.buf + sizeof(h),
		.crc = rte_be_to_cpu_32(h.crc)};
	if (decode(c, &zr, zpage, flags | MIGDP_CODEC_IN_PLACE) == 0)
		memcpy(dst, zpage, MIGDP_PAGE_SIZE);
}

static void
apply(struct migdp_codec_ctx *c, const struct migdp_rec *r, unsigned flags)
{
	uint64_t len = (uint64_t)r->npages << MIGDP_PAGE_SHIFT;
	uint8_t *dst;

	if (r->type == MIGDP_REC_STREAM) { /* a stream session's (chan_stream.c) */
		static uint8_t sbuf[MIGDP_STREAM_MAX_PLAIN + 64];

		FUZZ_CHECK(r->npages <= MIGDP_STREAM_MAX_PLAIN);
		memset(sbuf + r->npages, 0xa5, 64);
		if (r->flags & MIGDP_STREAM_F_ZSTD) {
			if (migdp_codec_decompress_bytes(c, r->data, r->len, sbuf, r->npages) < 0)
				return;
		} else {
			FUZZ_CHECK(r->len == r->npages);
			if (r->len > 0)
				memcpy(sbuf, r->data, r->len);
		}
		(void)migdp_crc32c(sbuf, r->npages);
		for (unsigned i = 0; i < 64; i++) /* never past the plain size */
			FUZZ_CHECK(sbuf[r->npages + i] == 0xa5);
		return;
	}
	/* migshim_session_gpa_to_hva() of a one-region session. */
	if (r->gpa < FUZZ_GUEST_GPA || r->gpa - FUZZ_GUEST_GPA >= GUEST_LEN ||
	    len > GUEST_LEN - (r->gpa - FUZZ_GUEST_GPA))
		return;
	dst = guest + (r->gpa - FUZZ_GUEST_GPA);
	switch (r->type) {
	case MIGDP_REC_ZERO_RUN:
		memset(dst, 0, len);
		break;
	case MIGDP_REC_RAW_PAGE:
	case MIGDP_REC_ZSTD:
		decode(c, r, dst, flags);
		break;
	case MIGDP_REC_FRAGMENT:
		FUZZ_CHECK((uint32_t)r->frag_off + r->len <= MIGDP_PAGE_SIZE);
		if (migdp_crc32c(r->data, r->len) == r->crc)
			memcpy(dst + r->frag_off, r->data, r->len);
		break;
	case MIGDP_REC_ZSTD_FRAG:
		if (migdp_crc32c(r->data, r->len) == r->crc)
			stream_piece(c, r, dst, flags);
		break;
	default:
		FUZZ_CHECK(!"the iterator let an unknown record type through");
	}
}

/* A dictionary from the peer: loaded or refused, never more. */
static void
peer_dict(const uint8_t *data, size_t size)
{
	struct migdp_codec_dict *d = migdp_dict_load(data, size);
	struct migdp_codec_ctx *c;

	if (d == NULL) {
		FUZZ_CHECK(errno == EINVAL || errno == ENOMEM);
		return;
	}
	FUZZ_CHECK(migdp_dict_id(d) != 0);
	c = migdp_codec_ctx_create(&(struct migdp_codec_ctx_params){.dict = d});
	FUZZ_CHECK(c != NULL);
	/* A record without a dictionary decodes whatever the context has. */
	FUZZ_CHECK(decode(c, &dict_probe, zpage, 0) == 0);
	migdp_codec_ctx_free(c);
	migdp_dict_free(d);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct migdp_codec_dict *d = fuzz_dict();
	uint8_t page[MIGDP_PAGE_SIZE];

	(void)argc;
	(void)argv;
	FUZZ_CHECK(d != NULL);
	plain_ctx = migdp_codec_ctx_create(NULL);
	dict_ctx = migdp_codec_ctx_create(&(struct migdp_codec_ctx_params){.dict = d});
	guest = fuzz_guarded_alloc(GUEST_LEN);
	zpage = fuzz_guarded_alloc(MIGDP_PAGE_SIZE);
	before = malloc(GUEST_LEN);
	FUZZ_CHECK(plain_ctx != NULL && dict_ctx != NULL && guest != NULL &&
		   zpage != NULL && before != NULL);
	fuzz_page(page, 7);
	FUZZ_CHECK(migdp_codec_encode(plain_ctx, &migdp_codec_zstd, page, dict_probe_buf,
				      sizeof(dict_probe_buf), &dict_probe) == 0);
	FUZZ_CHECK(dict_probe.type == MIGDP_REC_ZSTD);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct migdp_codec_ctx *c;
	struct migdp_rec_iter it;
	struct migdp_rec r;
	unsigned mode, flags;

	if (size < 2 || size > 2 + UINT16_MAX)
		return -1;
	mode = data[0];
	if (mode & FUZZ_REC_LOAD_DICT) {
		peer_dict(data + 1, size - 1);
		return 0;
	}
	c = (mode & FUZZ_REC_DICT) ? dict_ctx : plain_ctx;
	flags = (mode & FUZZ_REC_IN_PLACE) ? MIGDP_CODEC_IN_PLACE : 0;
	/* Fresh guest memory: what a page held is not what a record wrote. */
	memset(guest, 0xa5, GUEST_LEN);
	zs.gpa = UINT64_MAX;
	migdp_rec_iter_init(&it, data + 2, (uint16_t)(size - 2), data[1]);
	for (;;) {
		memset(&r, 0, sizeof(r));
		if (!migdp_rec_iter_next(&it, &r))
			break;
		apply(c, &r, flags);
	}
	return 0;
}
