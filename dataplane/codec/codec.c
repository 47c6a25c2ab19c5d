/* SPDX-License-Identifier: BSD-3-Clause */
/* The method table, settings, per-lcore contexts, and the record-level
 * encode/decode that apply codec.h's rules on where decoding may write. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

static const struct migdp_codec_ops *const methods[] = {
	[MIGDP_CODEC_RAW] = &migdp_codec_raw,
	[MIGDP_CODEC_ZSTD] = &migdp_codec_zstd,
};

static const char *const reject_names[] = {
#define _(n, s) [MIGDP_CODEC_REJECT_##n] = s,
	MIGDP_CODEC_FOREACH_REJECT(_)
#undef _
};

const char *
migdp_codec_reject_name(unsigned r)
{
	return r < MIGDP_CODEC_REJECT_MAX ? reject_names[r] : "unknown";
}

const struct migdp_codec_ops *
migdp_codec_by_name(const char *name)
{
	unsigned i;

	for (i = 0; i < RTE_DIM(methods); i++)
		if (strcmp(methods[i]->name, name) == 0)
			return methods[i];
	return NULL;
}

const struct migdp_codec_ops *
migdp_codec_by_method(enum migdp_codec_method m)
{
	return (unsigned)m < RTE_DIM(methods) ? methods[m] : NULL;
}

static const struct migdp_codec_ops *
by_rec_type(uint8_t type)
{
	unsigned i;

	for (i = 0; i < RTE_DIM(methods); i++)
		if (methods[i]->rec_type == type)
			return methods[i];
	return NULL;
}

bool
migdp_codec_level_valid(int level)
{
	return level != 0 && level >= ZSTD_minCLevel() &&
	       level <= ZSTD_maxCLevel();
}

int
migdp_codec_setting_parse(const char *s, struct migdp_codec_setting *out,
			  char *err, size_t errlen)
{
	const char *lv;
	char *end;
	long l;

	if (strcmp(s, "auto") == 0 || strcmp(s, "raw") == 0) {
		out->method = s[0] == 'a' ? MIGDP_CODEC_AUTO : MIGDP_CODEC_RAW;
		out->level = 0;
		return 0;
	}
	if (strncmp(s, "zstd", 4) != 0 || (s[4] != '\0' && s[4] != ':')) {
		snprintf(err, errlen, "unknown codec '%s': expected auto, raw or "
			 "zstd[:LEVEL]", s);
		return -EINVAL;
	}
	if (s[4] == '\0') {
		out->method = MIGDP_CODEC_ZSTD;
		out->level = MIGDP_CODEC_DEFAULT_LEVEL;
		return 0;
	}
	lv = s + 5;
	errno = 0;
	l = strtol(lv, &end, 10);
	if ((*lv != '-' && (*lv < '0' || *lv > '9')) || *end != '\0' ||
	    errno != 0 || l < INT_MIN ||
	    l > INT_MAX || !migdp_codec_level_valid((int)l)) {
		snprintf(err, errlen, "zstd level '%s' out of range: must be an "
			 "integer in %d..-1 (fast) or 1..%d", lv, ZSTD_minCLevel(),
			 ZSTD_maxCLevel());
		return -EINVAL;
	}
	out->method = MIGDP_CODEC_ZSTD;
	out->level = (int)l;
	return 0;
}

const char *
migdp_codec_setting_str(const struct migdp_codec_setting *st, char *buf,
			size_t len)
{
	if (st->method == MIGDP_CODEC_ZSTD)
		snprintf(buf, len, "zstd:%d", st->level);
	else
		snprintf(buf, len, "%s", st->method == MIGDP_CODEC_RAW ? "raw" :
			 st->method == MIGDP_CODEC_AUTO ? "auto" : "unknown");
	return buf;
}

void
migdp_codec_ctx_free(struct migdp_codec_ctx *ctx)
{
	unsigned i;

	if (ctx == NULL)
		return;
	for (i = 0; i < RTE_DIM(methods); i++)
		methods[i]->fini(ctx);
	free(ctx->scratch);
	free(ctx);
}

struct migdp_codec_ctx *
migdp_codec_ctx_create(const struct migdp_codec_ctx_params *p)
{
	static const struct migdp_codec_ctx_params defaults;
	struct migdp_codec_ctx *ctx;
	int level;
	uint32_t save;
	unsigned i;

	if (p == NULL)
		p = &defaults;
	level = p->level != 0 ? p->level : MIGDP_CODEC_DEFAULT_LEVEL;
	save = p->min_save != 0 ? p->min_save : MIGDP_CODEC_MIN_SAVE_DEFAULT;

	if (!migdp_codec_level_valid(level) || save >= MIGDP_PAGE_SIZE) {
		errno = EINVAL;
		return NULL;
	}
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL)
		return NULL;
	ctx->max_out = MIGDP_PAGE_SIZE - save;
	ctx->dict = p->dict;
	if (p->dict != NULL) {
		ctx->ddict = migdp_dict_ddict(p->dict);
		ctx->dict_id = migdp_dict_id(p->dict);
	}
	ctx->scratch = aligned_alloc(64, MIGDP_ZSTD_MAX_PAGES * MIGDP_PAGE_SIZE);
	if (ctx->scratch == NULL)
		goto err;
	for (i = 0; i < RTE_DIM(methods); i++)
		if (methods[i]->init(ctx) < 0)
			goto err;
	migdp_codec_ctx_set_level(ctx, level);
	return ctx;
err:
	migdp_codec_ctx_free(ctx);
	errno = ENOMEM;
	return NULL;
}

int
migdp_codec_ctx_set_level(struct migdp_codec_ctx *ctx, int level)
{
	if (!migdp_codec_level_valid(level))
		return -EINVAL;
	ctx->level = level;
	ctx->cdict = ctx->dict != NULL ? migdp_dict_cdict(ctx->dict, level) : NULL;
	return 0;
}

/* Does the page look like random bytes? 512 bytes sampled at a stride of
 * 8 (every cache line): random pages show 208 or more distinct values,
 * pages cut from files under /usr almost never (measured on 112k pages:
 * 0.5% of them, saving 0.2% of what zstd saves overall). About 0.2 us, where
 * a failed level-1 compression of a random page costs 15-20 us. */
static bool
looks_random(const uint8_t *page)
{
	uint64_t seen[4] = {0};
	unsigned i, n = 0;

	for (i = 0; i < MIGDP_PAGE_SIZE; i += 8)
		seen[page[i] >> 6] |= 1ull << (page[i] & 63);
	for (i = 0; i < 4; i++)
		n += (unsigned)__builtin_popcountll(seen[i]);
	return n >= 208;
}

/* A raw record of @p page: its CRC now (the record is complete), and again
 * as the frame copies it (crc_at_build). */
static void
raw_record(const void *page, struct migdp_rec *r)
{
	*r = (struct migdp_rec){.type = MIGDP_REC_RAW_PAGE, .npages = 1,
		.len = MIGDP_PAGE_SIZE, .data = page, .crc_at_build = true,
		.crc = migdp_crc32c(page, MIGDP_PAGE_SIZE)};
}

int
migdp_codec_encode_run(struct migdp_codec_ctx *ctx, const void *pages,
		       uint32_t npages, void *out, uint32_t cap,
		       struct migdp_rec *r, uint32_t *crcs)
{
	const uint8_t *p = pages;
	uint32_t n;
	int len;

	/* One read of each page: copied with its CRC into the scratch pages
	 * and compressed from there (in cache). The record's checksum is of
	 * exactly what was compressed, even if the guest writes meanwhile. */
	npages = RTE_MIN(npages, MIGDP_ZSTD_MAX_PAGES);
	for (n = 0; n < npages && !looks_random(p + (size_t)n * MIGDP_PAGE_SIZE); n++)
		crcs[n] = migdp_crc32c_copy(ctx->scratch + (size_t)n * MIGDP_PAGE_SIZE,
					    p + (size_t)n * MIGDP_PAGE_SIZE,
					    MIGDP_PAGE_SIZE);
	if (n == 0) {
		ctx->skipped_random++;
		raw_record(pages, r);
		crcs[0] = r->crc;
		return 0;
	}
	len = migdp_codec_zstd.compress(ctx, ctx->scratch, n, out, cap);
	if (len < 0)
		return len;
	if (len == 0) { /* does not save enough: the first page goes raw */
		raw_record(pages, r);
		crcs[0] = r->crc;
		return 0;
	}
	*r = (struct migdp_rec){.type = MIGDP_REC_ZSTD, .npages = n,
		.len = (uint16_t)len, .data = out,
		.crc = migdp_crc32c_of_pages(crcs, n)};
	return 0;
}

int
migdp_codec_encode(struct migdp_codec_ctx *ctx,
		   const struct migdp_codec_ops *ops, const void *page,
		   void *out, uint32_t cap, struct migdp_rec *r)
{
	uint32_t crc;

	if (ops->plain) {
		raw_record(page, r);
		return 0;
	}
	return migdp_codec_encode_run(ctx, page, 1, out, cap, r, &crc);
}

static int
reject(struct migdp_codec_ctx *ctx, int err)
{
	enum migdp_codec_reject why;

	switch (err) {
	case -ENOKEY: why = MIGDP_CODEC_REJECT_DICT; break;
	case -EBADMSG: why = MIGDP_CODEC_REJECT_BODY; break;
	case -EILSEQ: why = MIGDP_CODEC_REJECT_CSUM; break;
	default: why = MIGDP_CODEC_REJECT_HEADER; err = -EINVAL; break;
	}
	ctx->rejects[why]++;
	return err;
}

int
migdp_codec_decode_pages(struct migdp_codec_ctx *ctx, const struct migdp_rec *r,
			 void *page, unsigned flags, uint32_t *crcs)
{
	const struct migdp_codec_ops *ops = by_rec_type(r->type);
	uint32_t mine[MIGDP_ZSTD_MAX_PAGES], i, n = r->npages;
	uint8_t *dst;
	int ret;

	if (ops == NULL)
		return -ENOTSUP;
	if (crcs == NULL)
		crcs = mine;
	if (n == 0 || n > (ops->plain ? 1 : MIGDP_ZSTD_MAX_PAGES))
		return reject(ctx, -EINVAL);
	if (ops->plain) { /* check the payload, then write it */
		if (r->len != MIGDP_PAGE_SIZE)
			return reject(ctx, -EINVAL);
		crcs[0] = migdp_crc32c(r->data, r->len);
		if (crcs[0] != r->crc)
			return reject(ctx, -EILSEQ);
		return ops->decompress(ctx, r->data, r->len, page, 1);
	}
	dst = (flags & MIGDP_CODEC_IN_PLACE) ? page : ctx->scratch;
	ret = ops->decompress(ctx, r->data, r->len, dst, n);
	if (ret < 0)
		return reject(ctx, ret);
	for (i = 0; i < n; i++)
		crcs[i] = migdp_crc32c(dst + (size_t)i * MIGDP_PAGE_SIZE, MIGDP_PAGE_SIZE);
	if (migdp_crc32c_of_pages(crcs, n) != r->crc)
		return reject(ctx, -EILSEQ);
	if (dst != page)
		memcpy(page, dst, (size_t)n * MIGDP_PAGE_SIZE);
	return 0;
}

int
migdp_codec_decode(struct migdp_codec_ctx *ctx, const struct migdp_rec *r,
		   void *page, unsigned flags)
{
	return migdp_codec_decode_pages(ctx, r, page, flags, NULL);
}

void
migdp_codec_ctx_set_dict(struct migdp_codec_ctx *ctx,
			 const struct migdp_codec_dict *d)
{
	ctx->dict = d;
	ctx->ddict = d != NULL ? migdp_dict_ddict(d) : NULL;
	ctx->dict_id = d != NULL ? migdp_dict_id(d) : 0;
	ctx->cdict = d != NULL ? migdp_dict_cdict(d, ctx->level) : NULL;
}
