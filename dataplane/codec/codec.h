/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file codec.h
 * The page codec: zero-page detection, raw and zstd records, dictionaries
 * and the adaptive chooser of `codec = auto` (DESIGN decisions 5 and 6).
 *
 * Every 4 KiB page is encoded on its own, so any record decodes alone.
 * Nothing here needs EAL: plain C, libzstd and DPDK inline helpers.
 *
 * Threads: a struct migdp_codec_ctx belongs to one lcore (its zstd contexts
 * and scratch page are reused for every page). A struct migdp_codec_dict is
 * built and prepared by one thread before the lcores start, then shared
 * read-only by every context (zstd allows CDict/DDict to be shared).
 *
 * **Where decoding may write (the line we draw, issue #4):**
 *
 * 1. Everything that can be checked without decoding is checked before any
 *    byte is written, whatever the mode: a known record type, its length
 *    (RAW: exactly 4096; ZSTD: 1..4096), one zstd frame of exactly @c len
 *    bytes, a declared content size of exactly 4096, a dictionary id that is
 *    0 or ours. Such a record never touches the page (-EINVAL, -ENOKEY).
 *    A raw record's CRC32C is checked on the payload before it is copied.
 * 2. Scratch (the default, flags 0): a zstd body is decoded into the
 *    context's scratch page, checked (exactly 4096 bytes, CRC32C of the
 *    plain page), then copied to the page. On any failure the page is
 *    unchanged. Cost: one copy of a page that sits in L1 (the benchmark
 *    prints decompression MB/s both ways).
 * 3. In place (#MIGDP_CODEC_IN_PLACE): the body is decoded straight into the
 *    page (zstd never writes past the 4096 bytes it is given), then checked.
 *    On -EBADMSG or -EILSEQ the page holds unspecified bytes (only inside
 *    the page). Use it only when all three hold: (a) the destination guest
 *    is not running (true until commit); (b) the record passed the version
 *    rule (it is newer than what the page holds, so nothing still needed is
 *    lost); (c) a failure is retried: the caller leaves the version table
 *    unchanged and does not acknowledge the frame, so the page is sent again
 *    and overwritten before commit (and if not, the memory digest at commit
 *    fails the migration rather than resuming a corrupt guest). When (c)
 *    does not hold, e.g. while docs/wire-format.md acknowledges frames with
 *    bad records, use scratch.
 */
#ifndef MIGDP_CODEC_H
#define MIGDP_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <zstd.h>

#include "wire.h"

/** zstd level of `zstd` without a level. */
#define MIGDP_CODEC_DEFAULT_LEVEL 1
/** Default: a compressed page must save at least 1/8 of the page. */
#define MIGDP_CODEC_MIN_SAVE_DEFAULT (MIGDP_PAGE_SIZE / 8)

/* ------------------------------------------------------------------------ */
/** @name Zero pages (zero.c) */
/**@{*/

/** True when the 4096 bytes at @p page (any alignment) are all zero.
 * AVX2 where the CPU has it (chosen once at start-up), else 64-bit words;
 * stops at the first non-zero 128 bytes. */
bool migdp_page_is_zero(const void *page);

/** Number of zero pages at the start of the @p max contiguous pages at
 * @p pages (0 when the first is not zero). One indirect call per run. */
uint32_t migdp_zero_run(const void *pages, uint32_t max);

/** Name of the implementation in use: "avx2" or "portable". */
const char *migdp_zero_impl(void);

/** Test and benchmark hook: use @p name ("avx2", "portable", or NULL for
 * the start-up choice). Not thread-safe: call before the lcores start.
 * @return 0, -ENOTSUP (CPU without AVX2), -EINVAL (unknown name). */
int migdp_zero_select(const char *name);

/**@}*/
/* ------------------------------------------------------------------------ */
/** @name Settings: "auto", "raw", "zstd[:LEVEL]" */
/**@{*/

enum migdp_codec_method {
	MIGDP_CODEC_RAW = 0,
	MIGDP_CODEC_ZSTD,
	MIGDP_CODEC_AUTO, /**< a setting only: the chooser picks per batch */
	MIGDP_CODEC_NMETHODS
};

/** A parsed codec setting. */
struct migdp_codec_setting {
	enum migdp_codec_method method;
	int level; /**< zstd level (ZSTD only; AUTO: 0, the chooser decides) */
};

/**
 * Parse @p s: "auto", "raw", "zstd" (level 1) or "zstd:LEVEL" with LEVEL an
 * integer in ZSTD_minCLevel()..-1 (zstd's "fast" levels) or
 * 1..ZSTD_maxCLevel(). @return 0, or -EINVAL with why in @p err.
 */
int migdp_codec_setting_parse(const char *s, struct migdp_codec_setting *out,
			      char *err, size_t errlen);

/** Write @p st as text ("auto", "raw", "zstd:-3") to @p buf; returns buf. */
const char *migdp_codec_setting_str(const struct migdp_codec_setting *st,
				    char *buf, size_t len);

/** True when @p level is a level migdp accepts (see the parser). */
bool migdp_codec_level_valid(int level);

/**@}*/
/* ------------------------------------------------------------------------ */
/** @name Per-lcore context and the method ops */
/**@{*/

/** Why a record was refused at decode (counted per context). */
#define MIGDP_CODEC_FOREACH_REJECT(_) \
	_(HEADER, "bad record length or frame header") \
	_(DICT, "unknown dictionary") \
	_(BODY, "does not decode to exactly one page") \
	_(CSUM, "content checksum mismatch")

enum migdp_codec_reject {
#define _(n, s) MIGDP_CODEC_REJECT_##n,
	MIGDP_CODEC_FOREACH_REJECT(_)
#undef _
	MIGDP_CODEC_REJECT_MAX
};

/** Text of a reject reason. */
const char *migdp_codec_reject_name(unsigned r);

struct migdp_codec_dict;

/** One lcore's codec state. Create with migdp_codec_ctx_create(). */
struct migdp_codec_ctx {
	/* Changed only by migdp_codec_ctx_set_level(), on the owner lcore. */
	int level;                /**< zstd level for compression */
	const ZSTD_CDict *cdict;  /**< dict prepared for @c level, or NULL */
	/* Set at creation. */
	uint32_t max_out;         /**< larger compressed pages are sent raw */
	const struct migdp_codec_dict *dict; /**< shared, not owned; or NULL */
	const ZSTD_DDict *ddict;  /**< the dict's, or NULL */
	uint32_t dict_id;         /**< the dict's id, 0 without */
	/* Owned by this context (one lcore). */
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
	uint8_t *scratch;         /**< MIGDP_ZSTD_MAX_PAGES pages, 64-byte aligned */
	uint64_t rejects[MIGDP_CODEC_REJECT_MAX];
	uint64_t skipped_random;  /**< pages sent raw without trying zstd */
};

/**
 * A method. Hooks are called on the context's lcore only.
 */
struct migdp_codec_ops {
	const char *name;          /**< "raw", "zstd" */
	uint8_t rec_type;          /**< enum migdp_rec_type it produces */
	/** The payload is the page itself: its CRC is checked before it is
	 * written, so it is always decoded in place. */
	bool plain;
	/** Called once by migdp_codec_ctx_create(): allocate the method's
	 * part of @p ctx (owned by the context). @return 0 or -ENOMEM. */
	int (*init)(struct migdp_codec_ctx *ctx);
	/** Called by migdp_codec_ctx_free() (also after a failed init):
	 * free what init allocated; must accept a partly built context. */
	void (*fini)(struct migdp_codec_ctx *ctx);
	/** Encode the @p npages contiguous pages at @p page (1 for plain
	 * methods, up to MIGDP_ZSTD_MAX_PAGES for zstd) into @p out (@p cap
	 * bytes, owned by the caller; @p page is only read). @return payload
	 * length > 0; 0 when the result would exceed npages x ctx->max_out
	 * (send the pages raw); -ENOSPC when it exceeds @p cap but not that
	 * (retry with more room); -EIO on a library error. */
	int (*compress)(struct migdp_codec_ctx *ctx, const void *page,
			uint32_t npages, void *out, uint32_t cap);
	/** Decode @p len bytes at @p in into the @p npages pages at @p page,
	 * after the header checks of rule 1 (see the file comment; the
	 * declared content size must be npages x 4096). Does not check the
	 * CRC. @return 0, -EINVAL or -ENOKEY (pages untouched), -EBADMSG
	 * (content unspecified). */
	int (*decompress)(struct migdp_codec_ctx *ctx, const void *in,
			  uint32_t len, void *page, uint32_t npages);
};

extern const struct migdp_codec_ops migdp_codec_raw;
extern const struct migdp_codec_ops migdp_codec_zstd;

/** The method called @p name ("raw", "zstd"), or NULL. */
const struct migdp_codec_ops *migdp_codec_by_name(const char *name);
/** The method of @p m (RAW or ZSTD), or NULL. */
const struct migdp_codec_ops *migdp_codec_by_method(enum migdp_codec_method m);

/** Context parameters; zero fields take defaults. */
struct migdp_codec_ctx_params {
	int level;          /**< 0: MIGDP_CODEC_DEFAULT_LEVEL */
	uint32_t min_save;  /**< bytes a zstd page must save, 0: default,
				 at most MIGDP_PAGE_SIZE - 1 */
	const struct migdp_codec_dict *dict; /**< NULL: none; must outlive
						  the context */
};

/** Create a context (plain heap memory, no EAL) from @p p (NULL: all
 * defaults). @return it, or NULL with errno EINVAL (bad level or min_save)
 * or ENOMEM. */
struct migdp_codec_ctx *
migdp_codec_ctx_create(const struct migdp_codec_ctx_params *p);

/** Free @p ctx (NULL allowed). The dictionary is not freed. */
void migdp_codec_ctx_free(struct migdp_codec_ctx *ctx);

/** Use dictionary @p d (NULL: none) from now on, for both directions; the
 * level's CDict when prepared. The owner lcore must not be coding at the
 * same time. */
void migdp_codec_ctx_set_dict(struct migdp_codec_ctx *ctx,
			      const struct migdp_codec_dict *d);

/** Compress with @p level from now on, with the context's dictionary when
 * it was prepared for that level (migdp_dict_prepare()), else without.
 * @return 0 or -EINVAL. */
int migdp_codec_ctx_set_level(struct migdp_codec_ctx *ctx, int level);

/**
 * Encode one page for the wire: fills @p r (type, len, crc, data, npages
 * = 1; the caller sets gpa). A raw record (method RAW, or zstd that did not
 * save enough) points to @p page itself (zero-copy: keep it alive until
 * the frame is built; its CRC is computed again as the frame copies it); a
 * zstd record points to @p out and is compressed from a copy of the page
 * taken in the same pass as its CRC, so record and checksum always agree.
 * A page whose sampled bytes look random is sent raw without trying zstd
 * (counted in skipped_random).
 * @return 0, or the compress hook's -ENOSPC / -EIO.
 */
int migdp_codec_encode(struct migdp_codec_ctx *ctx,
		       const struct migdp_codec_ops *ops, const void *page,
		       void *out, uint32_t cap, struct migdp_rec *r);

/**
 * Encode up to @p npages contiguous non-zero pages at @p pages as one
 * zstd record (fewer when a page that looks random ends the run early: it
 * and what follows are left for the next call). Pages are copied with their
 * CRC32Cs into the context's scratch and compressed from there; @p crcs
 * receives the CRC of each page taken, r->crc their combination
 * (migdp_crc32c_of_pages()). When the run does not save enough, or its
 * first page looks random, @p r is a raw record of the first page (npages
 * 1, data = @p pages, crc_at_build).
 * @return 0, or the compress hook's -ENOSPC / -EIO.
 */
int migdp_codec_encode_run(struct migdp_codec_ctx *ctx, const void *pages,
			   uint32_t npages, void *out, uint32_t cap,
			   struct migdp_rec *r, uint32_t *crcs);

/** Stream sessions: compress @p len bytes at @p src (any length up to
 * MIGDP_STREAM_MAX_PLAIN) as one zstd frame into @p out, at the context's
 * level, no dictionary. @return compressed bytes, 0 when they would not
 * fit in @p cap (send raw), -EIO on a zstd failure. */
int migdp_codec_compress_bytes(struct migdp_codec_ctx *ctx, const void *src,
			       uint32_t len, void *out, uint32_t cap);
/** Decode one zstd frame of @p len bytes that must hold exactly @p size
 * bytes (its header says so before anything is decoded) into @p out.
 * @return 0, or -EBADMSG (counted in ctx->rejects). */
int migdp_codec_decompress_bytes(struct migdp_codec_ctx *ctx, const void *in,
				 uint32_t len, void *out, uint32_t size);

/** migdp_codec_decode() flag: decode zstd straight into the page (rule 3). */
#define MIGDP_CODEC_IN_PLACE 0x1u

/**
 * Decode the RAW_PAGE or ZSTD record @p r into the 4096-byte @p page,
 * following the rules of the file comment, and check its CRC32C.
 * @return 0; -ENOTSUP (other record type); -EINVAL / -ENOKEY (header or
 *   dictionary: page untouched); -EBADMSG (body) or -EILSEQ (checksum):
 *   page untouched unless #MIGDP_CODEC_IN_PLACE. Failures are counted in
 *   ctx->rejects.
 */
int migdp_codec_decode(struct migdp_codec_ctx *ctx, const struct migdp_rec *r,
		       void *page, unsigned flags);

/** migdp_codec_decode() for records of any page count: @p page holds
 * r->npages pages; @p crcs (NULL: not wanted) receives the CRC32C of each
 * decoded page, checked against r->crc through migdp_crc32c_of_pages(). */
int migdp_codec_decode_pages(struct migdp_codec_ctx *ctx,
			     const struct migdp_rec *r, void *page,
			     unsigned flags, uint32_t *crcs);

/**@}*/
/* ------------------------------------------------------------------------ */
/** @name Dictionaries (dict.c) */
/**@{*/

/** Largest dictionary accepted from a peer. */
#define MIGDP_DICT_MAX_SIZE (1u << 20)
/** Levels a dictionary can be prepared for. */
#define MIGDP_DICT_MAX_LEVELS 8

enum migdp_dict_trainer {
	MIGDP_DICT_FASTCOVER = 0, /**< fixed fast cover parameters (default) */
	MIGDP_DICT_OPTIMIZE,      /**< ZDICT_trainFromBuffer (searches k) */
};

/** Training parameters; zero fields take defaults. */
struct migdp_dict_params {
	uint32_t samples;   /**< pages to sample, default 2048 (8 MiB) */
	uint32_t dict_size; /**< bytes, default 64 KiB */
	enum migdp_dict_trainer trainer;
};

/**
 * Train a dictionary from guest memory: @p samples pages spread evenly over
 * the @p nmem areas (page multiples), skipping zero pages (the next
 * non-zero page of the same stride is taken). Memory is only read; racing
 * writers only make the dictionary worse. Takes ~0.1 s for 2048 samples.
 * @return the dictionary, or NULL with errno ENODATA (fewer than 64
 *   non-zero pages), EIO (training failed), ENOMEM.
 */
struct migdp_codec_dict *
migdp_dict_train(const struct iovec *mem, unsigned nmem,
		 const struct migdp_dict_params *p);

/** A dictionary from @p len bytes received from the peer (copied).
 * @return it, or NULL with errno EINVAL (not a zstd dictionary, too big) or
 * ENOMEM. */
struct migdp_codec_dict *migdp_dict_load(const void *buf, size_t len);

/** Prepare the compression side for @p level (a ZSTD_CDict), once per level
 * before contexts use it. @return 0, -EINVAL, -ENOSPC (too many levels),
 * -ENOMEM. */
int migdp_dict_prepare(struct migdp_codec_dict *d, int level);

/** The CDict prepared for @p level, or NULL. */
const ZSTD_CDict *migdp_dict_cdict(const struct migdp_codec_dict *d,
				   int level);
/** The decompression side (always prepared). */
const ZSTD_DDict *migdp_dict_ddict(const struct migdp_codec_dict *d);
/** Its id as written in frames (never 0). */
uint32_t migdp_dict_id(const struct migdp_codec_dict *d);
/** Its bytes, to send to the peer; valid while @p d lives. */
const void *migdp_dict_data(const struct migdp_codec_dict *d, size_t *len);
/** Free @p d (NULL allowed), after every context using it. */
void migdp_dict_free(struct migdp_codec_dict *d);

/**@}*/

#include "adapt.h"

#endif /* MIGDP_CODEC_H */
