/* SPDX-License-Identifier: BSD-3-Clause */
/* Dirty bitmap -> fewest descriptors, split at the run limit and at channel
 * block boundaries. Whole 64-bit words are skipped at a time. */
#include <errno.h>

#include "migshim.h"
#include "shim_priv.h"

int
migshim_bitmap_iter_init(struct migshim_bitmap_iter *it,
			 const uint64_t *bitmap, uint64_t npages,
			 uint64_t gpa_base, uint32_t max_run,
			 uint32_t block_pages)
{
	if (it == NULL || (bitmap == NULL && npages > 0) || max_run == 0 ||
	    !migshim_is_pow2(block_pages) || gpa_base % MIGSHIM_PAGE_SIZE ||
	    npages > (UINT64_MAX - gpa_base) / MIGSHIM_PAGE_SIZE)
		return -EINVAL;
	it->bitmap = bitmap;
	it->npages = npages;
	it->gpa_base = gpa_base;
	it->pos = 0;
	it->max_run = max_run;
	it->block_pages = block_pages;
	return 0;
}

bool
migshim_bitmap_iter_next(struct migshim_bitmap_iter *it, struct migshim_desc *d)
{
	uint64_t w, bits, start, end, limit, gpn, to_block;

	if (it->pos >= it->npages)
		return false;
	/* First set bit at or after pos. */
	w = it->pos >> 6;
	bits = it->bitmap[w] & (~0ULL << (it->pos & 63));
	while (bits == 0) {
		if (++w >= (it->npages + 63) >> 6) {
			it->pos = it->npages;
			return false;
		}
		bits = it->bitmap[w];
	}
	start = (w << 6) + (uint64_t)__builtin_ctzll(bits);
	if (start >= it->npages) {
		it->pos = it->npages;
		return false;
	}
	/* The run may not pass the bitmap end, the run limit, or the end of
	 * the channel block its first page lies in. */
	gpn = (it->gpa_base >> MIGSHIM_PAGE_SHIFT) + start;
	to_block = it->block_pages - (gpn & (it->block_pages - 1));
	limit = it->npages - start;
	if (limit > it->max_run)
		limit = it->max_run;
	if (limit > to_block)
		limit = to_block;
	limit += start;
	/* First clear bit after start, scanning no further than limit. */
	bits = ~it->bitmap[w] & (~0ULL << (start & 63));
	while (bits == 0 && ((w + 1) << 6) < limit)
		bits = ~it->bitmap[++w];
	end = bits ? (w << 6) + (uint64_t)__builtin_ctzll(bits) : (w + 1) << 6;
	if (end > limit)
		end = limit;

	d->gpa = it->gpa_base + (start << MIGSHIM_PAGE_SHIFT);
	d->npages = (uint32_t)(end - start);
	d->flags = 0;
	it->pos = end;
	return true;
}
