/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer harness: the dirty-bitmap helper of libmigshim (shim/bitmap.c).
 *
 * Input: gpa_base (8 bytes), max_run (4), block_pages (4), npages (4),
 * little-endian, then the bitmap words; npages is cut to the bits given,
 * and the bitmap is exactly its words on the heap (ASan sees a read past
 * it). init() must refuse exactly the parameters migshim.h refuses; the
 * runs must cover every set bit below npages exactly once, in order, none
 * longer than max_run or crossing a block, and be the fewest: two runs
 * touch only where the first had to stop. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "migshim.h"

#define PARAMS_LEN 20

static bool
bit(const uint64_t *bm, uint64_t i)
{
	return (bm[i >> 6] >> (i & 63)) & 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct migshim_bitmap_iter it;
	struct migshim_desc d;
	uint64_t base, npages, words, *bm = NULL, pos = 0, prev_end = 0, start, gpn0, i;
	uint32_t max_run, block, np;
	bool invalid, prev = false, prev_full = false;
	int ret;

	if (size < PARAMS_LEN)
		return -1;
	memcpy(&base, data, 8);
	memcpy(&max_run, data + 8, 4);
	memcpy(&block, data + 12, 4);
	memcpy(&np, data + 16, 4);
	words = (size - PARAMS_LEN) / 8;
	npages = np < words * 64 ? np : words * 64;
	if (npages > 0) {
		bm = malloc(((npages + 63) / 64) * 8);
		FUZZ_CHECK(bm != NULL);
		memcpy(bm, data + PARAMS_LEN, ((npages + 63) / 64) * 8);
	}
	invalid = max_run == 0 || block == 0 || (block & (block - 1)) != 0 ||
		  base % MIGSHIM_PAGE_SIZE != 0 ||
		  npages > (UINT64_MAX - base) / MIGSHIM_PAGE_SIZE;
	ret = migshim_bitmap_iter_init(&it, bm, npages, base, max_run, block);
	FUZZ_CHECK(ret == (invalid ? -EINVAL : 0));
	if (ret != 0)
		goto out;
	gpn0 = base / MIGSHIM_PAGE_SIZE;
	while (migshim_bitmap_iter_next(&it, &d)) {
		FUZZ_CHECK(d.flags == 0 && d.npages >= 1 && d.npages <= max_run);
		FUZZ_CHECK(d.gpa >= base && (d.gpa - base) % MIGSHIM_PAGE_SIZE == 0);
		start = (d.gpa - base) / MIGSHIM_PAGE_SIZE;
		FUZZ_CHECK(start >= pos && start + d.npages <= npages);
		/* No set bit skipped, every bit of the run set. */
		for (i = pos; i < start; i++)
			FUZZ_CHECK(!bit(bm, i));
		for (i = start; i < start + d.npages; i++)
			FUZZ_CHECK(bit(bm, i));
		/* Inside one block of the channel partition. */
		FUZZ_CHECK((gpn0 + start) / block == (gpn0 + start + d.npages - 1) / block);
		/* Fewest runs: one that touches the last, or is followed by
		 * a set bit, stopped at the run limit or a block's end. */
		if (prev && start == prev_end)
			FUZZ_CHECK(prev_full || (gpn0 + start) % block == 0);
		prev = true;
		prev_end = start + d.npages;
		prev_full = d.npages == max_run;
		if (prev_end < npages && bit(bm, prev_end))
			FUZZ_CHECK(prev_full || (gpn0 + prev_end) % block == 0);
		pos = prev_end;
	}
	for (i = pos; i < npages; i++)
		FUZZ_CHECK(!bit(bm, i));
	/* Exhausted stays exhausted. */
	FUZZ_CHECK(!migshim_bitmap_iter_next(&it, &d));
out:
	free(bm);
	return 0;
}
