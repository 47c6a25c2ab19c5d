/* SPDX-License-Identifier: BSD-3-Clause */
/* Bitmap helper: the fewest runs, split at the run limit and at channel
 * blocks, never past the bitmap end; and a reference check on random maps. */
#include <stdlib.h>
#include <string.h>

#include "cu_main.h"
#include "migshim.h"

#define PG MIGSHIM_PAGE_SIZE

static unsigned
runs(const uint64_t *bm, uint64_t npages, uint64_t base, uint32_t max_run,
     uint32_t block, struct migshim_desc *out, unsigned cap)
{
	struct migshim_bitmap_iter it;
	unsigned n = 0;

	CU_ASSERT_EQUAL_FATAL(migshim_bitmap_iter_init(&it, bm, npages, base,
						       max_run, block), 0);
	while (n < cap && migshim_bitmap_iter_next(&it, &out[n]))
		n++;
	return n;
}

static void
test_empty_and_full(void)
{
	uint64_t bm[4];
	struct migshim_desc d[16];

	memset(bm, 0, sizeof(bm));
	CU_ASSERT_EQUAL(runs(bm, 256, 0, 1024, 1024, d, 16), 0);
	memset(bm, 0xff, sizeof(bm));
	CU_ASSERT_EQUAL(runs(bm, 256, 0x100000, 1024, 1024, d, 16), 1);
	CU_ASSERT_EQUAL(d[0].gpa, 0x100000);
	CU_ASSERT_EQUAL(d[0].npages, 256);
	CU_ASSERT_EQUAL(d[0].flags, 0);
	/* Zero pages in the bitmap: nothing at all. */
	CU_ASSERT_EQUAL(runs(bm, 0, 0, 1024, 1024, d, 16), 0);
}

static void
test_alternating(void)
{
	uint64_t bm[2] = {0x5555555555555555ull, 0x5555555555555555ull};
	struct migshim_desc d[128];
	unsigned n, i;

	n = runs(bm, 128, 0, 64, 512, d, 128);
	CU_ASSERT_EQUAL(n, 64);
	for (i = 0; i < n; i++) {
		CU_ASSERT_EQUAL(d[i].gpa, (uint64_t)2 * i * PG);
		CU_ASSERT_EQUAL(d[i].npages, 1);
	}
}

static void
test_word_boundary_and_end(void)
{
	uint64_t bm[3] = {0, 0, 0};
	struct migshim_desc d[8];
	unsigned n;

	/* Pages 60..69 cross the first word boundary. */
	bm[0] = 0xfull << 60;
	bm[1] = 0x3f;
	/* Pages 150..191 set, but the bitmap covers only 160 pages: the run
	 * ends at the region end, the stray bits after it are ignored. */
	bm[2] = ~0ull << (150 - 128);
	n = runs(bm, 160, 0, 1024, 1024, d, 8);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_EQUAL(d[0].gpa, 60ull * PG);
	CU_ASSERT_EQUAL(d[0].npages, 10);
	CU_ASSERT_EQUAL(d[1].gpa, 150ull * PG);
	CU_ASSERT_EQUAL(d[1].npages, 10);
	/* A run over three whole words. */
	memset(bm, 0xff, sizeof(bm));
	bm[0] = ~0ull << 1;
	n = runs(bm, 192, 0, 1024, 1024, d, 8);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_EQUAL(d[0].gpa, PG);
	CU_ASSERT_EQUAL(d[0].npages, 191);
}

static void
test_max_run_and_blocks(void)
{
	uint64_t bm[16];
	struct migshim_desc d[64];
	unsigned n, i;

	memset(bm, 0xff, sizeof(bm));
	/* 1024 pages, runs of at most 100: 10 of 100 and one of 24. */
	n = runs(bm, 1024, 0, 100, 1024, d, 64);
	CU_ASSERT_EQUAL_FATAL(n, 11);
	for (i = 0; i < 10; i++)
		CU_ASSERT_EQUAL(d[i].npages, 100);
	CU_ASSERT_EQUAL(d[10].npages, 24);
	/* Blocks of 256 pages, base 8 pages before a block boundary: first run
	 * is 8 pages, then whole blocks, then the tail. */
	n = runs(bm, 1024, (256 - 8) * PG, 4096, 256, d, 64);
	CU_ASSERT_EQUAL_FATAL(n, 5);
	CU_ASSERT_EQUAL(d[0].npages, 8);
	CU_ASSERT_EQUAL(d[1].npages, 256);
	CU_ASSERT_EQUAL(d[1].gpa, 256ull * PG);
	CU_ASSERT_EQUAL(d[4].npages, 1024 - 8 - 3 * 256);
	for (i = 0; i < n; i++)
		CU_ASSERT_EQUAL((d[i].gpa / PG) / 256,
				(d[i].gpa / PG + d[i].npages - 1) / 256);
}

static void
test_bad_init(void)
{
	struct migshim_bitmap_iter it;
	uint64_t bm = 0;

	CU_ASSERT_EQUAL(migshim_bitmap_iter_init(&it, &bm, 64, 0, 0, 512), -22);
	CU_ASSERT_EQUAL(migshim_bitmap_iter_init(&it, &bm, 64, 0, 8, 500), -22);
	CU_ASSERT_EQUAL(migshim_bitmap_iter_init(&it, &bm, 64, 123, 8, 512), -22);
	CU_ASSERT_EQUAL(migshim_bitmap_iter_init(&it, &bm, 64,
						 UINT64_MAX - PG + 1, 8, 512), -22);
}

/* Random bitmaps against a page-by-page reference: same pages covered,
 * runs maximal under the limits (no two adjacent runs could be merged). */
static void
test_random_reference(void)
{
	enum { NP = 5000, WORDS = (NP + 63) / 64 };
	static uint64_t bm[WORDS];
	static struct migshim_desc d[NP];
	static unsigned char seen[NP];
	unsigned trial, n, i, p;

	srand(7);
	for (trial = 0; trial < 200; trial++) {
		uint32_t max_run = 1 + (unsigned)rand() % 300;
		uint32_t block = 1u << (rand() % 10);
		uint64_t base = (uint64_t)(rand() % 1000) * PG;
		int density = rand() % 100;

		for (i = 0; i < WORDS; i++) {
			bm[i] = 0;
			for (p = 0; p < 64; p++)
				if (rand() % 100 < density)
					bm[i] |= 1ull << p;
		}
		memset(seen, 0, sizeof(seen));
		n = runs(bm, NP, base, max_run, block, d, NP);
		for (i = 0; i < n; i++) {
			uint64_t first = (d[i].gpa - base) / PG;
			uint64_t gpn = d[i].gpa / PG;

			CU_ASSERT(d[i].npages >= 1 && d[i].npages <= max_run);
			CU_ASSERT(gpn / block == (gpn + d[i].npages - 1) / block);
			for (p = 0; p < d[i].npages; p++)
				seen[first + p]++;
			if (i > 0) {
				const struct migshim_desc *a = &d[i - 1];
				uint64_t agpn = a->gpa / PG;
				/* Adjacent runs exist only where a limit cut. */
				if (agpn + a->npages == gpn)
					CU_ASSERT(a->npages == max_run ||
						  gpn % block == 0);
			}
		}
		for (p = 0; p < NP; p++)
			CU_ASSERT_EQUAL(seen[p], (bm[p / 64] >> (p % 64)) & 1);
	}
}

int
main(void)
{
	static const struct cu_test bitmap[] = {
		{"empty_and_full", test_empty_and_full},
		{"alternating", test_alternating},
		{"word_boundary_and_region_end", test_word_boundary_and_end},
		{"max_run_and_blocks", test_max_run_and_blocks},
		{"bad_init", test_bad_init},
		{"random_vs_reference", test_random_reference},
		{NULL, NULL},
	};

	if (cu_add_suite("bitmap", NULL, NULL, bitmap) < 0)
		return 1;
	return cu_run();
}
