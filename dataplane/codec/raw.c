/* SPDX-License-Identifier: BSD-3-Clause */
/* The raw method: the page itself. migdp_codec_encode() never copies it
 * (the record points to guest memory); these hooks exist so that every
 * method looks the same to tests and the benchmark. */
#include <errno.h>
#include <string.h>

#include "codec.h"

static int
raw_init(struct migdp_codec_ctx *ctx)
{
	RTE_SET_USED(ctx);
	return 0;
}

static void
raw_fini(struct migdp_codec_ctx *ctx)
{
	RTE_SET_USED(ctx);
}

static int
raw_compress(struct migdp_codec_ctx *ctx, const void *page, uint32_t npages,
	     void *out, uint32_t cap)
{
	RTE_SET_USED(ctx);
	if (npages != 1)
		return -EINVAL;
	if (cap < MIGDP_PAGE_SIZE)
		return -ENOSPC;
	memcpy(out, page, MIGDP_PAGE_SIZE);
	return MIGDP_PAGE_SIZE;
}

static int
raw_decompress(struct migdp_codec_ctx *ctx, const void *in, uint32_t len,
	       void *page, uint32_t npages)
{
	RTE_SET_USED(ctx);
	if (len != MIGDP_PAGE_SIZE || npages != 1)
		return -EINVAL;
	memcpy(page, in, MIGDP_PAGE_SIZE);
	return 0;
}

const struct migdp_codec_ops migdp_codec_raw = {
	.name = "raw",
	.rec_type = MIGDP_REC_RAW_PAGE,
	.plain = true,
	.init = raw_init,
	.fini = raw_fini,
	.compress = raw_compress,
	.decompress = raw_decompress,
};
