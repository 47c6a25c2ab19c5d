/* SPDX-License-Identifier: BSD-3-Clause */
/* Hostile records at the destination: truncated, wrong declared size,
 * garbage, trailing bytes, valid zstd of the wrong page, wrong checksum, a
 * frame that lies about its size, an unknown dictionary, random damage.
 * All rejected and counted; the page unchanged (scratch), and never a
 * byte written outside it (in place). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "test_codec.h"

#define GUARD 64

/* A destination page with guard bytes on both sides. */
struct dest {
	uint8_t before[GUARD];
	uint8_t page[PG];
	uint8_t after[GUARD];
};

static void
dest_fill(struct dest *d)
{
	memset(d, 0x5c, sizeof(*d));
}

static bool
guards_intact(const struct dest *d)
{
	unsigned i;

	for (i = 0; i < GUARD; i++)
		if (d->before[i] != 0x5c || d->after[i] != 0x5c)
			return false;
	return true;
}

static bool
page_intact(const struct dest *d)
{
	unsigned i;

	for (i = 0; i < PG; i++)
		if (d->page[i] != 0x5c)
			return false;
	return guards_intact(d);
}

/* Decode @p r both ways; expect @p want (0: any error) and no damage. */
static void
expect_reject(struct migdp_codec_ctx *c, const struct migdp_rec *r, int want)
{
	static struct dest d;
	int ret;

	dest_fill(&d);
	ret = migdp_codec_decode(c, r, d.page, 0);
	CU_ASSERT(ret < 0 && (want == 0 || ret == want));
	CU_ASSERT_TRUE(page_intact(&d));
	dest_fill(&d);
	ret = migdp_codec_decode(c, r, d.page, MIGDP_CODEC_IN_PLACE);
	CU_ASSERT(ret < 0 && (want == 0 || ret == want));
	CU_ASSERT_TRUE(guards_intact(&d));
	if (ret == -EINVAL || ret == -ENOKEY) /* header checks: never written */
		CU_ASSERT_TRUE(page_intact(&d));
}

/* The same for a ZSTD record of @p len bytes at @p data. */
static void
expect_zreject(struct migdp_codec_ctx *c, const void *data, size_t len,
	       uint32_t crc, int want)
{
	struct migdp_rec r = {.type = MIGDP_REC_ZSTD, .len = (uint16_t)len,
		.crc = crc, .npages = 1, .data = data};

	expect_reject(c, &r, want);
}

void
test_hostile_headers(void)
{
	struct migdp_codec_ctx *c = migdp_codec_ctx_create(
		&(struct migdp_codec_ctx_params){0});
	const uint8_t *text = kind_pages[GENMEM_TEXT];
	uint8_t frame[2 * PG + 64], junk[PG];
	uint32_t crc = migdp_crc32c(text, PG);
	size_t n, m;
	unsigned i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	n = ZSTD_compress(frame, sizeof(frame), text, PG, 1);
	CU_ASSERT_FATAL(!ZSTD_isError(n) && n < PG);
	expect_reject(c, &(struct migdp_rec){.type = MIGDP_REC_ZSTD, .len = 0, .npages = 1,
		.data = frame}, -EINVAL);
	for (i = 1; i < n; i += (i < 16 ? 1 : 97)) /* truncated */
		expect_zreject(c, frame, i, crc, -EINVAL);
	frame[n] = 0; /* one trailing byte */
	expect_zreject(c, frame, n + 1, crc, -EINVAL);
	m = ZSTD_compress(frame + n, sizeof(frame) - n, text, PG, 1);
	expect_zreject(c, frame, n + m, crc, -EINVAL); /* two frames */
	/* Wrong declared size: half a page, two pages. */
	n = ZSTD_compress(frame, sizeof(frame), text, PG / 2, 1);
	expect_zreject(c, frame, n, migdp_crc32c(text, PG / 2), -EINVAL);
	n = ZSTD_compress(frame, sizeof(frame), (uint8_t[2 * PG]){0}, 2 * PG, 1);
	expect_zreject(c, frame, n, crc, -EINVAL);
	/* No content size in the header. */
	{
		ZSTD_CCtx *z = ZSTD_createCCtx();

		ZSTD_CCtx_setParameter(z, ZSTD_c_contentSizeFlag, 0);
		n = ZSTD_compress2(z, frame, sizeof(frame), text, PG);
		CU_ASSERT(ZSTD_getFrameContentSize(frame, n) ==
			  ZSTD_CONTENTSIZE_UNKNOWN);
		ZSTD_freeCCtx(z);
	}
	expect_zreject(c, frame, n, crc, -EINVAL);
	/* A skippable frame; garbage of every size class. */
	memset(frame, 0, 16);
	frame[0] = 0x50; frame[1] = 0x2a; frame[2] = 0x4d; frame[3] = 0x18;
	frame[4] = 8;
	expect_zreject(c, frame, 16, crc, -EINVAL);
	for (i = 1; i <= PG; i = i * 2 + 1) {
		memcpy(junk, kind_pages[GENMEM_RANDOM], i);
		expect_zreject(c, junk, i, crc, -EINVAL);
	}
	/* Raw records: wrong length, wrong checksum; unknown type. */
	expect_reject(c, &(struct migdp_rec){.type = MIGDP_REC_RAW_PAGE,
		.len = PG - 1, .crc = crc, .npages = 1, .data = text}, -EINVAL);
	expect_reject(c, &(struct migdp_rec){.type = MIGDP_REC_RAW_PAGE,
		.len = PG, .crc = crc ^ 1, .npages = 1, .data = text}, -EILSEQ);
	expect_reject(c, &(struct migdp_rec){.type = MIGDP_REC_FRAGMENT,
		.len = 100, .data = text}, -ENOTSUP);
	CU_ASSERT(c->rejects[MIGDP_CODEC_REJECT_HEADER] > 20);
	CU_ASSERT_EQUAL(c->rejects[MIGDP_CODEC_REJECT_CSUM], 2);
	CU_ASSERT_STRING_EQUAL(migdp_codec_reject_name(MIGDP_CODEC_REJECT_CSUM),
			       "content checksum mismatch");
	migdp_codec_ctx_free(c);
}

void
test_hostile_csum(void)
{
	struct migdp_codec_ctx *c = migdp_codec_ctx_create(
		&(struct migdp_codec_ctx_params){0});
	const uint8_t *a = kind_pages[GENMEM_TEXT], *b = a + PG;
	uint8_t out[PG];
	struct migdp_rec r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(migdp_codec_encode(c, &migdp_codec_zstd, a, out, PG, &r), 0);
	CU_ASSERT_EQUAL_FATAL(r.type, MIGDP_REC_ZSTD);
	r.crc = migdp_crc32c(b, PG); /* valid zstd, but of another page */
	expect_reject(c, &r, -EILSEQ);
	r.crc = migdp_crc32c(a, PG) ^ 0x80000000u; /* wrong checksum */
	expect_reject(c, &r, -EILSEQ);
	CU_ASSERT_EQUAL(c->rejects[MIGDP_CODEC_REJECT_CSUM], 4);
	migdp_codec_ctx_free(c);
}

/* Position of the 2-byte content size of a single-segment frame without
 * dictionary id (what ZSTD_compress writes for 256..65791 bytes). */
static size_t
fcs_offset(const uint8_t *frame)
{
	uint8_t fhd = frame[4];

	CU_ASSERT_EQUAL_FATAL(fhd >> 6, 1);        /* 2-byte size field */
	CU_ASSERT_FATAL((fhd & 0x20) != 0);        /* single segment */
	CU_ASSERT_EQUAL_FATAL(fhd & 3, 0);         /* no dictionary id */
	return 5;
}

void
test_hostile_oversized(void)
{
	struct migdp_codec_ctx *c = migdp_codec_ctx_create(
		&(struct migdp_codec_ctx_params){0});
	uint8_t src[2 * PG], frame[2 * PG + 64];
	size_t n, off;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	memcpy(src, kind_pages[GENMEM_TEXT], 2 * PG);
	/* Decompresses to 8 KiB but its header says 4096. */
	n = ZSTD_compress(frame, sizeof(frame), src, 2 * PG, 1);
	CU_ASSERT_FATAL(!ZSTD_isError(n));
	off = fcs_offset(frame);
	frame[off] = (PG - 256) & 0xff;
	frame[off + 1] = (PG - 256) >> 8;
	CU_ASSERT_EQUAL(ZSTD_getFrameContentSize(frame, n), PG);
	expect_zreject(c, frame, n, migdp_crc32c(src, PG), -EBADMSG);
	/* Says 4096 but holds 2048. */
	n = ZSTD_compress(frame, sizeof(frame), src, PG / 2, 1);
	off = fcs_offset(frame);
	frame[off] = (PG - 256) & 0xff;
	frame[off + 1] = (PG - 256) >> 8;
	expect_zreject(c, frame, n, migdp_crc32c(src, PG), -EBADMSG);
	CU_ASSERT_EQUAL(c->rejects[MIGDP_CODEC_REJECT_BODY], 4);
	migdp_codec_ctx_free(c);
}

void
test_hostile_dict(void)
{
	struct migdp_codec_dict *d = migdp_dict_load(dict_bytes, dict_len);
	struct migdp_codec_ctx *enc, *plain;
	const uint8_t *text = kind_pages[GENMEM_TEXT];
	uint8_t out[PG];
	struct migdp_rec r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_EQUAL(migdp_dict_prepare(d, 1), 0);
	enc = migdp_codec_ctx_create(&(struct migdp_codec_ctx_params){.dict = d});
	plain = migdp_codec_ctx_create(&(struct migdp_codec_ctx_params){0});
	CU_ASSERT_EQUAL(migdp_codec_encode(enc, &migdp_codec_zstd, text, out, PG, &r), 0);
	CU_ASSERT_EQUAL_FATAL(r.type, MIGDP_REC_ZSTD);
	CU_ASSERT_EQUAL(ZSTD_getDictID_fromFrame(r.data, r.len), migdp_dict_id(d));
	expect_reject(plain, &r, -ENOKEY); /* no dictionary here */
	CU_ASSERT_EQUAL(plain->rejects[MIGDP_CODEC_REJECT_DICT], 2);
	memcpy(out + 5, (uint32_t[]){migdp_dict_id(d) ^ 1}, 4); /* another id */
	expect_reject(enc, &r, 0);
	migdp_codec_ctx_free(enc);
	migdp_codec_ctx_free(plain);
	migdp_dict_free(d);
}

/* Random damage to valid frames of every kind: rejected or, if a damaged
 * frame still decodes to the right page, accepted; never anything else. */
void
test_hostile_fuzz(void)
{
	struct migdp_codec_ctx *c = migdp_codec_ctx_create(
		&(struct migdp_codec_ctx_params){0});
	static struct dest d;
	uint8_t out[PG], bad[PG];
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	unsigned i, j, flips, mode;
	struct migdp_rec r;
	const uint8_t *page;
	int ret;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	for (i = 0; i < 3000; i++) {
		page = mix_pages + (i % MIX_PAGES) * PG;
		if (migdp_codec_encode(c, &migdp_codec_zstd, page, out, PG, &r) != 0 ||
		    r.type != MIGDP_REC_ZSTD)
			continue;
		memcpy(bad, out, r.len);
		flips = 1 + (unsigned)(rng % 4);
		for (j = 0; j < flips; j++) {
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			bad[(rng >> 33) % r.len] ^= (uint8_t)(1u << ((rng >> 20) & 7));
		}
		r.data = bad;
		mode = i & 1 ? MIGDP_CODEC_IN_PLACE : 0;
		dest_fill(&d);
		ret = migdp_codec_decode(c, &r, d.page, mode);
		CU_ASSERT_TRUE(guards_intact(&d));
		if (ret == 0) {
			CU_ASSERT_EQUAL(memcmp(d.page, page, PG), 0);
		} else if (mode == 0 || ret == -EINVAL) {
			CU_ASSERT_TRUE(page_intact(&d));
		}
	}
	migdp_codec_ctx_free(c);
}
