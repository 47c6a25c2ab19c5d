/* SPDX-License-Identifier: BSD-3-Clause */
/* Round trips of every method on zero, text, binary, random and mixed
 * pages, at every level, with and without a dictionary; the "send raw"
 * threshold; dictionary objects. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "test_codec.h"

static const int spread[] = {-7, -5, -3, -1, 1, 3, 9, 19};

/* Encode @p page, decode it by scratch and in place with @p dec, compare.
 * Returns the record type. */
static int
round_trip(struct migdp_codec_ctx *enc, struct migdp_codec_ctx *dec,
	   const struct migdp_codec_ops *ops, const uint8_t *page)
{
	static uint8_t out[PG], dst[PG];
	struct migdp_rec r;
	unsigned mode;

	CU_ASSERT_EQUAL_FATAL(migdp_codec_encode(enc, ops, page, out,
						 sizeof(out), &r), 0);
	CU_ASSERT(r.npages == 1 && r.crc == migdp_crc32c(page, PG));
	if (r.type == MIGDP_REC_RAW_PAGE) {
		CU_ASSERT(r.data == page && r.len == PG);
	} else {
		CU_ASSERT(r.type == MIGDP_REC_ZSTD && r.len > 0 &&
			  r.len <= enc->max_out && r.data == out);
	}
	for (mode = 0; mode <= MIGDP_CODEC_IN_PLACE; mode++) {
		memset(dst, 0xa5, PG);
		CU_ASSERT_EQUAL(migdp_codec_decode(dec, &r, dst, mode), 0);
		if (memcmp(dst, page, PG) != 0)
			CU_FAIL("round trip differs");
	}
	return r.type;
}

/* Every kind at @p level (mixed pages too when @p mixed); @p dict_enc and
 * @p dict_dec NULL for none. Returns zstd payload bytes of the text pages. */
static void
levels_round_trip(int level, struct migdp_codec_dict *de,
		  struct migdp_codec_dict *dd, bool mixed)
{
	struct migdp_codec_ctx *enc, *dec;
	unsigned k, i, nzstd = 0;

	enc = migdp_codec_ctx_create(&(struct migdp_codec_ctx_params){
		.level = level, .dict = de});
	dec = migdp_codec_ctx_create(&(struct migdp_codec_ctx_params){.dict = dd});
	CU_ASSERT_PTR_NOT_NULL_FATAL(enc);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dec);
	CU_ASSERT_EQUAL(enc->level, level);
	CU_ASSERT((de != NULL) == (enc->cdict != NULL));
	for (k = 0; k < GENMEM_NKINDS; k++)
		for (i = 0; i < KIND_PAGES; i++) {
			int t = round_trip(enc, dec, &migdp_codec_zstd,
					   kind_pages[k] + i * PG);

			if (k == GENMEM_RANDOM)
				CU_ASSERT_EQUAL(t, MIGDP_REC_RAW_PAGE);
			if (k == GENMEM_ZERO && level >= -7) /* not the extremes */
				CU_ASSERT_EQUAL(t, MIGDP_REC_ZSTD);
			nzstd += t == MIGDP_REC_ZSTD && k == GENMEM_TEXT;
		}
	CU_ASSERT(level < 1 || nzstd == KIND_PAGES); /* text compresses */
	for (i = 0; mixed && i < MIX_PAGES; i++)
		round_trip(enc, dec, &migdp_codec_zstd, mix_pages + i * PG);
	migdp_codec_ctx_free(enc);
	migdp_codec_ctx_free(dec);
}

void
test_rt_raw(void)
{
	struct migdp_codec_ctx *c = migdp_codec_ctx_create(
		&(struct migdp_codec_ctx_params){0});
	uint8_t out[PG];
	unsigned k, i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	for (k = 0; k < GENMEM_NKINDS; k++)
		for (i = 0; i < KIND_PAGES; i++)
			CU_ASSERT_EQUAL(round_trip(c, c, &migdp_codec_raw,
						   kind_pages[k] + i * PG),
					MIGDP_REC_RAW_PAGE);
	for (i = 0; i < MIX_PAGES; i++)
		round_trip(c, c, &migdp_codec_raw, mix_pages + i * PG);
	/* The raw hooks themselves (copy), for uniformity. */
	CU_ASSERT_EQUAL(migdp_codec_raw.compress(c, mix_pages, 1, out, PG), (int)PG);
	CU_ASSERT_EQUAL(memcmp(out, mix_pages, PG), 0);
	CU_ASSERT_EQUAL(migdp_codec_raw.compress(c, mix_pages, 1, out, PG - 1), -ENOSPC);
	migdp_codec_ctx_free(c);
}

void
test_rt_zstd_levels(void)
{
	int l;
	unsigned i;

	for (l = -7; l <= ZSTD_maxCLevel(); l++)
		if (l != 0)
			levels_round_trip(l, NULL, NULL, false);
	levels_round_trip(ZSTD_minCLevel(), NULL, NULL, false);
	for (i = 0; i < RTE_DIM(spread); i++)
		levels_round_trip(spread[i], NULL, NULL, true);
}

void
test_rt_zstd_levels_dict(void)
{
	struct migdp_codec_dict *de, *dd;
	int l;

	/* The destination builds its own from the bytes it received. */
	dd = migdp_dict_load(dict_bytes, dict_len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dd);
	for (l = -7; l <= ZSTD_maxCLevel(); l++) {
		if (l == 0)
			continue;
		de = migdp_dict_load(dict_bytes, dict_len);
		CU_ASSERT_PTR_NOT_NULL_FATAL(de);
		CU_ASSERT_EQUAL(migdp_dict_prepare(de, l), 0);
		levels_round_trip(l, de, dd, l == -7 || l == -1 || l == 1 ||
				  l == 3 || l == 9 || l == 19);
		migdp_dict_free(de);
	}
	migdp_dict_free(dd);
}

void
test_threshold(void)
{
	const uint8_t *text = kind_pages[GENMEM_TEXT];
	struct migdp_codec_ctx *c;
	struct migdp_rec r;
	uint8_t out[PG];

	c = migdp_codec_ctx_create(&(struct migdp_codec_ctx_params){
		.min_save = PG - 64}); /* must fit in 64 bytes */
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->max_out, 64);
	CU_ASSERT_EQUAL(migdp_codec_encode(c, &migdp_codec_zstd, text, out, PG, &r), 0);
	CU_ASSERT(r.type == MIGDP_REC_RAW_PAGE && r.data == text);
	CU_ASSERT_EQUAL(migdp_codec_zstd.compress(c, text, 1, out, PG), 0);
	migdp_codec_ctx_free(c);
	c = migdp_codec_ctx_create(&(struct migdp_codec_ctx_params){.min_save = 1});
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->max_out, PG - 1);
	CU_ASSERT_EQUAL(migdp_codec_encode(c, &migdp_codec_zstd, text, out, PG, &r), 0);
	CU_ASSERT_EQUAL(r.type, MIGDP_REC_ZSTD);
	/* Less room than the threshold: "retry with more room". */
	CU_ASSERT_EQUAL(migdp_codec_encode(c, &migdp_codec_zstd, text, out, 16, &r),
			-ENOSPC);
	migdp_codec_ctx_free(c);
	c = migdp_codec_ctx_create(&(struct migdp_codec_ctx_params){0});
	CU_ASSERT_EQUAL(c->max_out, PG - PG / 8);
	migdp_codec_ctx_free(c);
}

void
test_dict_objects(void)
{
	struct migdp_codec_dict *d, *e;
	uint8_t junk[4096];
	struct iovec iov;
	size_t len;
	int l;

	d = migdp_dict_load(dict_bytes, dict_len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_NOT_EQUAL(migdp_dict_id(d), 0);
	CU_ASSERT(migdp_dict_data(d, &len) != NULL && len == dict_len);
	CU_ASSERT_PTR_NOT_NULL(migdp_dict_ddict(d));
	CU_ASSERT_PTR_NULL(migdp_dict_cdict(d, 1));
	CU_ASSERT_EQUAL(migdp_dict_prepare(d, 0), -EINVAL);
	for (l = 1; l <= MIGDP_DICT_MAX_LEVELS; l++)
		CU_ASSERT_EQUAL(migdp_dict_prepare(d, l), 0);
	CU_ASSERT_EQUAL(migdp_dict_prepare(d, 1), 0); /* already there */
	CU_ASSERT_EQUAL(migdp_dict_prepare(d, -1), -ENOSPC);
	CU_ASSERT_PTR_NOT_NULL(migdp_dict_cdict(d, MIGDP_DICT_MAX_LEVELS));
	migdp_dict_free(d);
	/* Not dictionaries. */
	memset(junk, 0x3c, sizeof(junk));
	errno = 0;
	CU_ASSERT_PTR_NULL(migdp_dict_load(junk, sizeof(junk)));
	CU_ASSERT_EQUAL(errno, EINVAL);
	memcpy(junk, dict_bytes, 8); /* right magic and id, garbage tables */
	CU_ASSERT_PTR_NULL(migdp_dict_load(junk, sizeof(junk)));
	CU_ASSERT_PTR_NULL(migdp_dict_load(dict_bytes, MIGDP_DICT_MAX_SIZE + 1));
	CU_ASSERT_PTR_NULL(migdp_dict_load(dict_bytes, 4));
	/* Training: nothing but zeros; the other trainer; a small sample. */
	iov.iov_len = 512 * PG;
	iov.iov_base = calloc(1, iov.iov_len);
	errno = 0;
	CU_ASSERT_PTR_NULL(migdp_dict_train(&iov, 1, NULL));
	CU_ASSERT_EQUAL(errno, ENODATA);
	free(iov.iov_base);
	iov.iov_base = mix_pages;
	iov.iov_len = MIX_PAGES * PG;
	e = migdp_dict_train(&iov, 1, &(struct migdp_dict_params){
		.samples = 128, .dict_size = 16384, .trainer = MIGDP_DICT_OPTIMIZE});
	CU_ASSERT_PTR_NOT_NULL(e);
	CU_ASSERT(e == NULL || migdp_dict_data(e, &len) == NULL || len <= 16384);
	migdp_dict_free(e);
	CU_ASSERT_PTR_NULL(migdp_dict_train(&iov, 1, &(struct migdp_dict_params){
		.dict_size = MIGDP_DICT_MAX_SIZE + 1}));
}

/* Runs of pages as one zstd record: text pages compress together and come
 * back identical, with each page's CRC; a random page ends a run, and a
 * run that starts with one goes raw without trying zstd. */
void
test_rt_runs(void)
{
	static uint8_t out[8 * PG], dst[8 * PG], run[8 * PG];
	struct migdp_codec_ctx *enc = migdp_codec_ctx_create(NULL);
	struct migdp_codec_ctx *dec = migdp_codec_ctx_create(NULL);
	uint32_t crcs[8], dcrcs[8];
	struct migdp_rec r;
	unsigned i, n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(enc);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dec);
	for (i = 0; i < 8; i++) /* text pages, four different ones */
		memcpy(run + (size_t)i * PG, kind_pages[GENMEM_TEXT] + (i % KIND_PAGES) * PG, PG);
	for (n = 1; n <= 8; n++) {
		CU_ASSERT_EQUAL_FATAL(migdp_codec_encode_run(enc, run, n, out,
							     sizeof(out), &r, crcs), 0);
		CU_ASSERT_EQUAL(r.type, MIGDP_REC_ZSTD);
		CU_ASSERT_EQUAL(r.npages, n);
		for (i = 0; i < n; i++)
			CU_ASSERT_EQUAL(crcs[i], migdp_crc32c(run + (size_t)i * PG, PG));
		CU_ASSERT_EQUAL(r.crc, migdp_crc32c_of_pages(crcs, n));
		memset(dst, 0xa5, sizeof(dst));
		CU_ASSERT_EQUAL(migdp_codec_decode_pages(dec, &r, dst, MIGDP_CODEC_IN_PLACE,
							 dcrcs), 0);
		CU_ASSERT(memcmp(dst, run, (size_t)n * PG) == 0);
		CU_ASSERT(memcmp(dcrcs, crcs, n * sizeof(crcs[0])) == 0);
		/* A damaged page CRC in the record: refused, counted. */
		r.crc ^= 1;
		CU_ASSERT_EQUAL(migdp_codec_decode_pages(dec, &r, dst, 0, NULL), -EILSEQ);
	}
	/* Text, text, random, text: the run stops before the random page. */
	memcpy(run, kind_pages[GENMEM_TEXT], 2 * PG);
	memcpy(run + 2 * PG, kind_pages[GENMEM_RANDOM], PG);
	memcpy(run + 3 * PG, kind_pages[GENMEM_TEXT] + 2 * PG, PG);
	CU_ASSERT_EQUAL(migdp_codec_encode_run(enc, run, 4, out, sizeof(out), &r, crcs), 0);
	CU_ASSERT(r.type == MIGDP_REC_ZSTD && r.npages == 2);
	/* A random page first: raw, zstd not tried. */
	n = (unsigned)enc->skipped_random;
	CU_ASSERT_EQUAL(migdp_codec_encode_run(enc, run + 2 * PG, 2, out, sizeof(out),
					       &r, crcs), 0);
	CU_ASSERT(r.type == MIGDP_REC_RAW_PAGE && r.npages == 1 && r.data == run + 2 * PG);
	CU_ASSERT_EQUAL(r.crc, migdp_crc32c(run + 2 * PG, PG));
	CU_ASSERT_EQUAL(enc->skipped_random, n + 1);
	/* A record claiming more pages than it decodes to. */
	memcpy(run, kind_pages[GENMEM_TEXT], 2 * PG);
	CU_ASSERT_EQUAL(migdp_codec_encode_run(enc, run, 2, out, sizeof(out), &r, crcs), 0);
	r.npages = 3;
	CU_ASSERT_EQUAL(migdp_codec_decode_pages(dec, &r, dst, 0, NULL), -EINVAL);
	r.npages = 9;
	CU_ASSERT_EQUAL(migdp_codec_decode_pages(dec, &r, dst, 0, NULL), -EINVAL);
	migdp_codec_ctx_free(enc);
	migdp_codec_ctx_free(dec);
}

/* Stream sessions: bytes of any length as one zstd frame; "does not fit"
 * is 0 (send raw); a frame of the wrong size, a truncated or trailing one,
 * one with a dictionary id, are refused before anything is written. */
void
test_rt_stream_bytes(void)
{
	static uint8_t in[MIGDP_STREAM_MAX_PLAIN], z[MIGDP_STREAM_MAX_PLAIN + 512],
		out[MIGDP_STREAM_MAX_PLAIN];
	struct migdp_codec_ctx *c = migdp_codec_ctx_create(
		&(struct migdp_codec_ctx_params){.level = 1});
	uint32_t lens[] = {1, 777, 4096, 9000, MIGDP_STREAM_MAX_PLAIN};
	unsigned i;
	int n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	for (i = 0; i < sizeof(in); i++) /* text-like: compresses */
		in[i] = (uint8_t)("migration streams "[i % 18] + (i / 4096) % 3);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		n = migdp_codec_compress_bytes(c, in, lens[i], z, sizeof(z));
		CU_ASSERT_FATAL(n > 0);
		memset(out, 0xa5, sizeof(out));
		CU_ASSERT_EQUAL(migdp_codec_decompress_bytes(c, z, (uint32_t)n, out, lens[i]), 0);
		CU_ASSERT_EQUAL(memcmp(out, in, lens[i]), 0);
		if (lens[i] > 1) /* claimed size wrong: refused, nothing written */
			CU_ASSERT_EQUAL(migdp_codec_decompress_bytes(c, z, (uint32_t)n, out,
								     lens[i] - 1), -EBADMSG);
		CU_ASSERT_EQUAL(migdp_codec_decompress_bytes(c, z, (uint32_t)n - 1, out, lens[i]),
				-EBADMSG);
	}
	/* Too little room: 0, the caller sends the bytes raw. */
	CU_ASSERT_EQUAL(migdp_codec_compress_bytes(c, in, sizeof(in), z, 8), 0);
	CU_ASSERT_EQUAL(migdp_codec_compress_bytes(c, in, 0, z, sizeof(z)), -EINVAL);
	CU_ASSERT_EQUAL(migdp_codec_compress_bytes(c, in, MIGDP_STREAM_MAX_PLAIN + 1, z,
						   sizeof(z)), -EINVAL);
	/* Trailing garbage after the frame. */
	n = migdp_codec_compress_bytes(c, in, 1000, z, sizeof(z));
	CU_ASSERT_FATAL(n > 0);
	z[n] = 0x42;
	CU_ASSERT_EQUAL(migdp_codec_decompress_bytes(c, z, (uint32_t)n + 1, out, 1000), -EBADMSG);
	/* Random bytes are no zstd frame. */
	for (i = 0; i < 64; i++)
		z[i] = (uint8_t)(i * 37 + 11);
	CU_ASSERT_EQUAL(migdp_codec_decompress_bytes(c, z, 64, out, 1000), -EBADMSG);
	CU_ASSERT(c->rejects[MIGDP_CODEC_REJECT_HEADER] > 0);
	migdp_codec_ctx_free(c);
}
