/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mdigest.h
 * The memory digest compared at commit, kept incrementally: the commit is
 * not a second pass over guest memory.
 *
 * Each page (each fragment of a fragmented page) contributes a 64-bit value
 * derived from its address and the CRC32C of its plain content, which both
 * sides compute anyway (the source while copying or compressing the page,
 * the destination while verifying the record). A digest is the sum of the
 * current values of the pages it covers: a page sent again replaces its
 * earlier value, so the source's digest describes what it last sent of each
 * page and the destination's what it applied. Sums commute: channels keep
 * their own and the totals are added at commit, in O(1).
 *
 * Catches a record never applied, applied at the wrong address, or a page
 * the source never sent (forged or misrouted frames). Not a MAC: an
 * attacker who can forge frames can forge CRCs; authentication is DESIGN
 * decision 10's. Pure, no DPDK, no threads: one channel writes a digest.
 */
#ifndef MIGDP_MDIGEST_H
#define MIGDP_MDIGEST_H

#include <stdint.h>

/** A digest: sum of page values, and how many pages have one. */
struct migdp_mdigest {
	uint64_t sum;
	uint64_t pages;
};

/** CRC32C of a 4096-byte zero page (migdp_crc32c()). */
#define MIGDP_CRC32C_ZERO_PAGE 0x98f94189u

/** Value of the page (@p frag_off 0) or fragment at @p gpa whose content
 * has CRC32C @p crc. Never 0 (0 marks "no value" in a page table). */
static inline uint64_t
migdp_mdigest_value(uint64_t gpa, uint32_t crc, uint16_t frag_off)
{
	uint64_t x = (gpa | frag_off) * 0x9e3779b97f4a7c15ull ^
		     ((uint64_t)crc << 17 | crc);

	/* splitmix64's finaliser: every input bit moves every output bit. */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x | 1;
}

/** Page @p slot of a table of page values (one per page, 0 = none) now
 * holds @p v: replace its earlier value in @p d. */
static inline void
migdp_mdigest_set(struct migdp_mdigest *d, uint64_t *slot, uint64_t v)
{
	d->pages += *slot == 0;
	d->sum += v - *slot;
	*slot = v;
}

/** A new version of a fragmented page starts: drop its earlier value. */
static inline void
migdp_mdigest_reset(struct migdp_mdigest *d, uint64_t *slot)
{
	d->pages -= *slot != 0;
	d->sum -= *slot;
	*slot = 0;
}

/** One more fragment @p v of the page version in @p slot. */
static inline void
migdp_mdigest_add_frag(struct migdp_mdigest *d, uint64_t *slot, uint64_t v)
{
	d->pages += *slot == 0;
	d->sum += v;
	*slot += v;
	if (*slot == 0) /* keep "has a value" true; mirrored on both sides */
		*slot = 1, d->sum += 1;
}

#endif
