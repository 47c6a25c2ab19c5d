/* SPDX-License-Identifier: BSD-3-Clause */
/* zstd, one frame per 4 KiB page, with the lcore's reused contexts and the
 * shared prepared dictionary. Frames keep zstd's standard header: magic,
 * content size (checked = 4096 before decoding) and dictionary id (checked
 * = ours); no frame checksum, the record's CRC32C covers the plain page. */
#include <errno.h>

#include <zstd_errors.h>

#include "codec.h"

static void
zstd_fini(struct migdp_codec_ctx *ctx)
{
	ZSTD_freeCCtx(ctx->cctx);
	ZSTD_freeDCtx(ctx->dctx);
	ctx->cctx = NULL;
	ctx->dctx = NULL;
}

static int
zstd_init(struct migdp_codec_ctx *ctx)
{
	ctx->cctx = ZSTD_createCCtx();
	ctx->dctx = ZSTD_createDCtx();
	if (ctx->cctx == NULL || ctx->dctx == NULL) {
		zstd_fini(ctx);
		return -ENOMEM;
	}
	return 0;
}

/* Asking zstd for at most max_out bytes a page makes "does not save
 * enough" a dstSize_tooSmall error: no separate size test, no output to
 * throw away. */
static int
zstd_compress(struct migdp_codec_ctx *ctx, const void *page, uint32_t npages,
	      void *out, uint32_t cap)
{
	size_t max = (size_t)npages * ctx->max_out, room = RTE_MIN(cap, max), n;
	size_t len = (size_t)npages * MIGDP_PAGE_SIZE;

	if (npages == 0 || npages > MIGDP_ZSTD_MAX_PAGES)
		return -EINVAL;
	if (ctx->cdict != NULL)
		n = ZSTD_compress_usingCDict(ctx->cctx, out, room, page, len,
					     ctx->cdict);
	else
		n = ZSTD_compressCCtx(ctx->cctx, out, room, page, len, ctx->level);
	if (!ZSTD_isError(n))
		return (int)n;
	if (ZSTD_getErrorCode(n) != ZSTD_error_dstSize_tooSmall)
		return -EIO;
	return room == max ? 0 : -ENOSPC;
}

/* Header checks (codec.h rule 1) read only @p in; then one decode call,
 * which never writes more than the npages x 4096 bytes of @p page. */
static int
zstd_decompress(struct migdp_codec_ctx *ctx, const void *in, uint32_t len,
		void *page, uint32_t npages)
{
	size_t size = (size_t)npages * MIGDP_PAGE_SIZE, n;
	unsigned dict_id;

	if (len == 0 || npages == 0 || npages > MIGDP_ZSTD_MAX_PAGES || len > size)
		return -EINVAL;
	/* Also refuses skippable frames (size 0), unknown sizes and errors. */
	if (ZSTD_getFrameContentSize(in, len) != size)
		return -EINVAL;
	/* Truncated, trailing bytes or a second frame. */
	if (ZSTD_findFrameCompressedSize(in, len) != len)
		return -EINVAL;
	dict_id = ZSTD_getDictID_fromFrame(in, len);
	if (dict_id != 0 && (ctx->ddict == NULL || dict_id != ctx->dict_id))
		return -ENOKEY;
	if (dict_id != 0)
		n = ZSTD_decompress_usingDDict(ctx->dctx, page, size, in, len,
					       ctx->ddict);
	else
		n = ZSTD_decompressDCtx(ctx->dctx, page, size, in, len);
	if (ZSTD_isError(n) || n != size)
		return -EBADMSG;
	return 0;
}

const struct migdp_codec_ops migdp_codec_zstd = {
	.name = "zstd",
	.rec_type = MIGDP_REC_ZSTD,
	.plain = false,
	.init = zstd_init,
	.fini = zstd_fini,
	.compress = zstd_compress,
	.decompress = zstd_decompress,
};

/* ---- stream sessions: bytes, not pages --------------------------------- */

int
migdp_codec_compress_bytes(struct migdp_codec_ctx *ctx, const void *src,
			   uint32_t len, void *out, uint32_t cap)
{
	size_t n;

	if (len == 0 || len > MIGDP_STREAM_MAX_PLAIN)
		return -EINVAL;
	n = ZSTD_compressCCtx(ctx->cctx, out, cap, src, len, ctx->level != 0 ? ctx->level : 1);
	if (!ZSTD_isError(n))
		return (int)n;
	return ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall ? 0 : -EIO;
}

int
migdp_codec_decompress_bytes(struct migdp_codec_ctx *ctx, const void *in,
			     uint32_t len, void *out, uint32_t size)
{
	size_t n;

	/* Size first (also refuses skippable frames and unknown sizes),
	 * then exactly one frame, no dictionary. */
	if (len == 0 || size == 0 || size > MIGDP_STREAM_MAX_PLAIN ||
	    ZSTD_getFrameContentSize(in, len) != size ||
	    ZSTD_findFrameCompressedSize(in, len) != len ||
	    ZSTD_getDictID_fromFrame(in, len) != 0) {
		ctx->rejects[MIGDP_CODEC_REJECT_HEADER]++;
		return -EBADMSG;
	}
	n = ZSTD_decompressDCtx(ctx->dctx, out, size, in, len);
	if (ZSTD_isError(n) || n != size) {
		ctx->rejects[MIGDP_CODEC_REJECT_BODY]++;
		return -EBADMSG;
	}
	return 0;
}
