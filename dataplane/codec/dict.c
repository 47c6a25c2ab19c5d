/* SPDX-License-Identifier: BSD-3-Clause */
/* zstd dictionaries trained on sample pages of guest memory. The trainer
 * is fast cover with fixed parameters: on 2048 pages of a realistic image
 * it takes ~0.1 s and gives the ratio of ZDICT_trainFromBuffer's
 * parameter search (~0.45 s) within 1% (lab/codec_bench.c measures both).
 * It is zstd's experimental (static) ZDICT API: fine with the libzstd the
 * build found, re-check its parameter struct on a zstd upgrade. */
#define ZDICT_STATIC_LINKING_ONLY
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zdict.h>

#include "codec.h"

#define DICT_SAMPLES_DEFAULT 2048u
#define DICT_SIZE_DEFAULT (64u << 10)
#define DICT_MIN_SAMPLES 64u
#define DICT_PROBE_PAGES 8u /* non-zero page sought this far in a stride */

struct migdp_codec_dict {
	void *data;
	size_t len;
	uint32_t id;
	ZSTD_DDict *ddict;
	unsigned ncdict;
	struct {
		int level;
		ZSTD_CDict *cdict;
	} cdict[MIGDP_DICT_MAX_LEVELS];
};

void
migdp_dict_free(struct migdp_codec_dict *d)
{
	unsigned i;

	if (d == NULL)
		return;
	for (i = 0; i < d->ncdict; i++)
		ZSTD_freeCDict(d->cdict[i].cdict);
	ZSTD_freeDDict(d->ddict);
	free(d->data);
	free(d);
}

/* Takes ownership of @p data (freed on failure). */
static struct migdp_codec_dict *
dict_from(void *data, size_t len)
{
	struct migdp_codec_dict *d = calloc(1, sizeof(*d));

	if (d == NULL) {
		free(data);
		return NULL;
	}
	d->data = data;
	d->len = len;
	d->id = ZDICT_getDictID(data, len);
	if (d->id == 0) { /* raw content, not a zstd dictionary */
		migdp_dict_free(d);
		errno = EINVAL;
		return NULL;
	}
	d->ddict = ZSTD_createDDict(data, len);
	if (d->ddict == NULL) { /* entropy tables do not parse */
		migdp_dict_free(d);
		errno = EINVAL;
		return NULL;
	}
	return d;
}

struct migdp_codec_dict *
migdp_dict_load(const void *buf, size_t len)
{
	void *copy;

	if (len < 8 || len > MIGDP_DICT_MAX_SIZE) {
		errno = EINVAL;
		return NULL;
	}
	copy = malloc(len);
	if (copy == NULL)
		return NULL;
	memcpy(copy, buf, len);
	return dict_from(copy, len);
}

/* Copy up to @p want non-zero pages spread evenly over @p mem into
 * @p out; returns how many. */
static uint32_t
sample_pages(const struct iovec *mem, unsigned nmem, uint32_t want,
	     uint8_t *out)
{
	uint64_t total = 0, stride, pg, k;
	uint32_t got = 0, i;
	unsigned m;

	for (m = 0; m < nmem; m++)
		total += mem[m].iov_len >> MIGDP_PAGE_SHIFT;
	if (total == 0)
		return 0;
	stride = RTE_MAX(total / want, (uint64_t)1);
	for (i = 0; i < want && (uint64_t)i * stride < total; i++) {
		for (k = 0; k < RTE_MIN(stride, (uint64_t)DICT_PROBE_PAGES); k++) {
			const uint8_t *page = NULL;

			pg = (uint64_t)i * stride + k;
			for (m = 0; m < nmem && page == NULL; m++) {
				uint64_t np = mem[m].iov_len >> MIGDP_PAGE_SHIFT;

				if (pg < np)
					page = (const uint8_t *)mem[m].iov_base +
					       (pg << MIGDP_PAGE_SHIFT);
				else
					pg -= np;
			}
			if (page != NULL && !migdp_page_is_zero(page)) {
				memcpy(out + ((size_t)got++ << MIGDP_PAGE_SHIFT),
				       page, MIGDP_PAGE_SIZE);
				break;
			}
		}
	}
	return got;
}

static size_t
train(void *dict, size_t cap, const uint8_t *samples, uint32_t n,
      enum migdp_dict_trainer trainer)
{
	size_t *sizes = malloc(n * sizeof(*sizes)), len;
	ZDICT_fastCover_params_t fp = {
		.k = 50, .d = 8, .f = 20, .accel = 1, .splitPoint = 1.0,
		.zParams.compressionLevel = MIGDP_CODEC_DEFAULT_LEVEL,
	};
	uint32_t i;

	if (sizes == NULL)
		return 0;
	for (i = 0; i < n; i++)
		sizes[i] = MIGDP_PAGE_SIZE;
	if (trainer == MIGDP_DICT_OPTIMIZE)
		len = ZDICT_trainFromBuffer(dict, cap, samples, sizes, n);
	else
		len = ZDICT_trainFromBuffer_fastCover(dict, cap, samples, sizes,
						      n, fp);
	free(sizes);
	return ZDICT_isError(len) ? 0 : len;
}

struct migdp_codec_dict *
migdp_dict_train(const struct iovec *mem, unsigned nmem,
		 const struct migdp_dict_params *p)
{
	uint32_t want = p != NULL && p->samples ? p->samples : DICT_SAMPLES_DEFAULT;
	size_t cap = p != NULL && p->dict_size ? p->dict_size : DICT_SIZE_DEFAULT;
	uint8_t *samples;
	void *dict;
	size_t len = 0;
	uint32_t n;

	if (cap > MIGDP_DICT_MAX_SIZE || cap < 1024) {
		errno = EINVAL;
		return NULL;
	}
	samples = malloc((size_t)want << MIGDP_PAGE_SHIFT);
	dict = malloc(cap);
	if (samples == NULL || dict == NULL) {
		free(samples);
		free(dict);
		errno = ENOMEM;
		return NULL;
	}
	n = sample_pages(mem, nmem, want, samples);
	if (n >= DICT_MIN_SAMPLES)
		len = train(dict, cap, samples, n,
			    p != NULL ? p->trainer : MIGDP_DICT_FASTCOVER);
	free(samples);
	if (len == 0) {
		free(dict);
		errno = n < DICT_MIN_SAMPLES ? ENODATA : EIO;
		return NULL;
	}
	return dict_from(dict, len);
}

int
migdp_dict_prepare(struct migdp_codec_dict *d, int level)
{
	ZSTD_CDict *cd;

	if (!migdp_codec_level_valid(level))
		return -EINVAL;
	if (migdp_dict_cdict(d, level) != NULL)
		return 0;
	if (d->ncdict == MIGDP_DICT_MAX_LEVELS)
		return -ENOSPC;
	cd = ZSTD_createCDict(d->data, d->len, level);
	if (cd == NULL)
		return -ENOMEM;
	d->cdict[d->ncdict].level = level;
	d->cdict[d->ncdict++].cdict = cd;
	return 0;
}

const ZSTD_CDict *
migdp_dict_cdict(const struct migdp_codec_dict *d, int level)
{
	unsigned i;

	for (i = 0; i < d->ncdict; i++)
		if (d->cdict[i].level == level)
			return d->cdict[i].cdict;
	return NULL;
}

const ZSTD_DDict *
migdp_dict_ddict(const struct migdp_codec_dict *d)
{
	return d->ddict;
}

uint32_t
migdp_dict_id(const struct migdp_codec_dict *d)
{
	return d->id;
}

const void *
migdp_dict_data(const struct migdp_codec_dict *d, size_t *len)
{
	*len = d->len;
	return d->data;
}
