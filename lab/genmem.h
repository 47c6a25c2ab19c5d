/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file genmem.h
 * Realistic guest memory, deterministic from a seed.
 *
 * A buffer is filled page by page (4 KiB) with a mix of four kinds of page:
 *
 * - **zero**: all zeros (free guest memory);
 * - **text**: lines of words from a built-in vocabulary (zstd: about 3x), or,
 *   when a directory is given, pages cut from the real files under it (the
 *   page cache of a guest);
 * - **binary**: arrays of structs with small integers, flags, pointer-like
 *   values sharing their high bits and zero padding (heap and kernel data;
 *   zstd: about 2-4x);
 * - **random**: incompressible bytes (encrypted or compressed data).
 *
 * Kinds are dealt in groups of 100 pages: each group holds exactly the
 * percentages of the mix, shuffled by a PRNG seeded from the seed and the
 * group number, so the kinds are spread over the buffer and the proportions
 * of a buffer are exact to within 100 pages. The content of page @c i
 * depends only on the seed, @c i and the mix (and on the files under
 * @c files_dir, read in sorted order): the same call gives the same bytes.
 *
 * The library uses no DPDK; every function is reentrant. genmem_fill()
 * fills a large buffer on several threads, each filling a contiguous range
 * of pages: the bytes do not depend on the number of threads.
 */
#ifndef GENMEM_H
#define GENMEM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Page size of the generator (the guest page of migshim). */
#define GENMEM_PAGE_SIZE 4096u

/** Default mix of the lab tools. */
#define GENMEM_DEFAULT_MIX "zero=30,text=30,binary=25,random=15"

/** Size of the buffer genmem_digest() writes: 32 hex digits and a NUL. */
#define GENMEM_DIGEST_HEX_LEN 33

/** Bytes read at most from one file, and in all, for file-backed text. */
#define GENMEM_FILE_MAX (1u << 20)
#define GENMEM_CORPUS_MAX (64u << 20)

/** Kinds of page. */
enum genmem_kind {
	GENMEM_ZERO = 0,
	GENMEM_TEXT,
	GENMEM_BINARY,
	GENMEM_RANDOM,
	GENMEM_NKINDS
};

/** A mix of page kinds, in percent (summing to 100). */
struct migdp_genmix {
	unsigned zero;         /**< all-zero pages */
	unsigned text;         /**< text-like pages (or pages of real files) */
	unsigned binary;       /**< struct-like binary pages */
	unsigned random;       /**< incompressible pages */
	const char *files_dir; /**< NULL: built-in vocabulary for text pages;
				    else pages cut from the regular files under
				    it (recursively, symlinks not followed) */
};

/**
 * Parse a mix such as "zero=30,text=55,binary=0,random=15".
 *
 * Kinds may come in any order and may be left out (0%); each at most once;
 * the percentages must sum to 100. @c files_dir is set to NULL.
 *
 * @param s      the text to parse
 * @param m      filled on success, untouched on failure
 * @param err    on failure, why (may be NULL)
 * @param errlen size of @p err
 * @return 0, or -EINVAL with the reason in @p err.
 */
int genmem_parse_mix(const char *s, struct migdp_genmix *m, char *err,
		     size_t errlen);

/**
 * Parse a size with an optional binary suffix: K, M, G or T (case
 * insensitive, optionally followed by "iB" or "B"), e.g. "64M" = 64 MiB.
 *
 * @return 0 with @p out set, or -EINVAL (garbage, zero) or -ERANGE
 * (overflow).
 */
int genmem_parse_size(const char *s, uint64_t *out);

/**
 * Fill @p len bytes of @p buf with the mix @p m from @p seed.
 *
 * @p len need not be a page multiple: a partial last page is the start of
 * the page that would stand there. A buffer of 64 MiB or more is filled on
 * one thread per CPU the process may run on (its affinity mask, at most 64
 * threads), a smaller one on the calling thread. The default mix runs at
 * about 1.5 GB/s per thread on memory already faulted in (3 GB/s on a
 * 2-core VM); pages of files at about memcpy speed. The files under
 * @c files_dir are read once, by the calling thread, and shared.
 *
 * @param buf  memory to fill (any alignment)
 * @param len  bytes
 * @param m    the mix (its percentages must sum to 100)
 * @param seed any value
 * @return 0, -EINVAL when the mix does not sum to 100, -ENOENT when
 * @c files_dir holds no readable non-empty file, -ENOMEM.
 */
int genmem_fill(void *buf, size_t len, const struct migdp_genmix *m,
		uint64_t seed);

/**
 * genmem_fill() on @p nthreads threads (the calling one included), whatever
 * the size of the buffer; for tests and benchmarks. The bytes are those of
 * genmem_fill(). A thread that cannot be started leaves its range to the
 * calling thread.
 *
 * @param nthreads 0: as genmem_fill(); else at most 64 and at most one per
 *                 page are used
 * @return as genmem_fill().
 */
int genmem_fill_threads(void *buf, size_t len, const struct migdp_genmix *m,
			uint64_t seed, unsigned nthreads);

/**
 * Kind that genmem_fill() puts at page @p page_index for @p m and @p seed.
 * For tests and for tools that report what they generated.
 */
enum genmem_kind genmem_page_kind(const struct migdp_genmix *m, uint64_t seed,
				  uint64_t page_index);

/** Name of a kind ("zero", "text", "binary", "random"). */
const char *genmem_kind_name(enum genmem_kind k);

/**
 * Digest of @p len bytes of memory: XXH3 128-bit (libxxhash), written to
 * @p hex as 32 lowercase hex digits of its canonical (big-endian) form and a
 * NUL. Several GB/s; not a cryptographic hash.
 *
 * @param buf  memory
 * @param len  bytes (may be 0)
 * @param hex  at least GENMEM_DIGEST_HEX_LEN bytes
 */
void genmem_digest(const void *buf, size_t len,
		   char hex[GENMEM_DIGEST_HEX_LEN]);

#ifdef __cplusplus
}
#endif

#endif /* GENMEM_H */
