/* SPDX-License-Identifier: BSD-3-Clause */
/* Hostile descriptors at the consumer: each refused with its reason, counted,
 * never handed out; valid ones pass; full rings lose nothing. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "cu_main.h"
#include "shim_fixture.h"

#define MB (1024ull * 1024)
#define PG MIGSHIM_PAGE_SIZE

static struct fx f;
static struct fx_region regs[4];

/* Regions: [0,2M) [4M,6M) [6M,8M) [8M,16M); 2 rings, 2 MiB blocks. */
static int
setup(void)
{
	static const uint64_t gpa[4] = {0, 4 * MB, 6 * MB, 8 * MB};
	static const uint64_t size[4] = {2 * MB, 2 * MB, 2 * MB, 8 * MB};
	struct migshim_client_params p = {.nrings = 2, .ring_size = 8};
	unsigned i;

	for (i = 0; i < 4; i++) {
		regs[i] = (struct fx_region){.fd = fx_memfd(size[i], i),
					     .gpa = gpa[i], .size = size[i]};
		if (regs[i].fd < 0)
			return -1;
	}
	return fx_handoff(&f, MIGSHIM_ROLE_SOURCE, &p, regs, 4, 0);
}

static int
teardown(void)
{
	unsigned i;

	fx_done(&f);
	for (i = 0; i < 4; i++)
		close(regs[i].fd);
	return 0;
}

struct case_ {
	const char *what;
	unsigned ring;
	struct migshim_desc d;
	enum migshim_bad expect;
};

static const struct case_ cases[] = {
	{"valid, one page", 0, {0, 1, 0}, MIGSHIM_BAD_NONE},
	{"valid, whole block", 0, {4 * MB, 512, 0}, MIGSHIM_BAD_NONE},
	{"valid, ring 1", 1, {6 * MB + 8 * PG, 3, 0}, MIGSHIM_BAD_NONE},
	{"marker", 1, {7, 0, MIGSHIM_DESC_END_OF_ROUND}, MIGSHIM_BAD_NONE},
	{"final marker", 0,
	 {8, 0, MIGSHIM_DESC_END_OF_ROUND | MIGSHIM_DESC_FINAL}, MIGSHIM_BAD_NONE},
	{"zero count", 0, {0, 0, 0}, MIGSHIM_BAD_ZERO_COUNT},
	{"unaligned", 0, {0x1001, 1, 0}, MIGSHIM_BAD_UNALIGNED},
	{"in the hole", 1, {3 * MB, 1, 0}, MIGSHIM_BAD_OUTSIDE},
	{"far outside", 0, {100ull << 30, 1, 0}, MIGSHIM_BAD_OUTSIDE},
	{"below first", 0, {0, 1, 0}, MIGSHIM_BAD_NONE},
	{"past region end into hole", 0, {2 * MB - PG, 2, 0}, MIGSHIM_BAD_STRADDLE},
	{"straddles two regions", 0, {6 * MB - PG, 2, 0}, MIGSHIM_BAD_STRADDLE},
	{"huge count", 0, {0, UINT32_MAX, 0}, MIGSHIM_BAD_STRADDLE},
	{"64-bit overflow", 0, {UINT64_MAX - PG + 1, 2, 0}, MIGSHIM_BAD_OVERFLOW},
	{"overflow, max count", 0, {UINT64_MAX & ~(uint64_t)(PG - 1), UINT32_MAX, 0},
	 MIGSHIM_BAD_OVERFLOW},
	{"wrong ring", 1, {0, 1, 0}, MIGSHIM_BAD_WRONG_RING},
	{"crosses a block", 1, {10 * MB - PG, 2, 0}, MIGSHIM_BAD_WRONG_RING},
	{"unknown flag", 0, {0, 1, 0x80}, MIGSHIM_BAD_BAD_FLAGS},
	{"marker with pages", 0, {0, 3, MIGSHIM_DESC_END_OF_ROUND},
	 MIGSHIM_BAD_BAD_FLAGS},
	{"final without marker", 0, {0, 1, MIGSHIM_DESC_FINAL},
	 MIGSHIM_BAD_BAD_FLAGS},
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

static void
test_check(void)
{
	unsigned i;

	for (i = 0; i < NCASES; i++) {
		enum migshim_bad b = migshim_session_check(f.ss, cases[i].ring,
							   &cases[i].d);
		if (b != cases[i].expect)
			printf("\n  case '%s': got %s\n", cases[i].what,
			       migshim_bad_name(b));
		CU_ASSERT_EQUAL(b, cases[i].expect);
	}
	CU_ASSERT_STRING_EQUAL(migshim_bad_name(MIGSHIM_BAD_OUTSIDE),
			       "outside_regions");
	CU_ASSERT_STRING_EQUAL(migshim_bad_name(MIGSHIM_BAD_MAX), "unknown");
}

/* Through the real rings: the consumer hands out only the valid ones, in
 * order, and counts the rest by reason. */
static void
test_pop_filters(void)
{
	struct migshim_session_stats st;
	struct migshim_desc out[8];
	uint64_t expect_bad[MIGSHIM_BAD_MAX] = {0};
	unsigned i, n, valid = 0, ok_seen = 0;

	for (i = 0; i < NCASES; i++) {
		const struct case_ *c = &cases[i];

		CU_ASSERT_EQUAL_FATAL(migshim_client_push_raw(f.cl, c->ring, &c->d), 0);
		n = migshim_session_pop(f.ss, c->ring, out, 8);
		if (c->expect == MIGSHIM_BAD_NONE) {
			valid++;
			CU_ASSERT_EQUAL(n, 1);
			if (n == 1 && memcmp(&out[0], &c->d, sizeof(c->d)) == 0)
				ok_seen++;
		} else {
			expect_bad[c->expect]++;
			CU_ASSERT_EQUAL(n, 0);
		}
	}
	CU_ASSERT_EQUAL(ok_seen, valid);
	migshim_session_stats(f.ss, &st);
	for (i = 1; i < MIGSHIM_BAD_MAX; i++)
		CU_ASSERT_EQUAL(st.bad[i], expect_bad[i]);
	CU_ASSERT_EQUAL(st.markers, 2);
	CU_ASSERT_EQUAL(st.popped, valid - 2);
	CU_ASSERT_EQUAL(st.pages, 1 + 512 + 3 + 1);
	CU_ASSERT_EQUAL(st.last_bad_reason, cases[NCASES - 1].expect);
	CU_ASSERT_EQUAL(st.last_bad.flags, MIGSHIM_DESC_FINAL);
	CU_ASSERT_EQUAL(st.ring_corrupt, 0);
	CU_ASSERT_EQUAL(migshim_client_push_raw(f.cl, 2, &cases[0].d), -EINVAL);
}

static void
test_gpa_to_hva(void)
{
	struct migshim_region_info ri;
	unsigned char *p;

	CU_ASSERT_EQUAL_FATAL(migshim_session_region(f.ss, 1, &ri), 0);
	p = migshim_session_gpa_to_hva(f.ss, 4 * MB + 10, 100);
	CU_ASSERT_PTR_EQUAL(p, (unsigned char *)ri.hva + 10);
	/* Bytes as the hypervisor wrote them (region 1, seed 1). */
	CU_ASSERT_EQUAL(p[0], fx_pattern(1, 10));
	CU_ASSERT_PTR_NOT_NULL(migshim_session_gpa_to_hva(f.ss, 6 * MB - 1, 1));
	CU_ASSERT_PTR_NULL(migshim_session_gpa_to_hva(f.ss, 6 * MB - 1, 2));
	CU_ASSERT_PTR_NULL(migshim_session_gpa_to_hva(f.ss, 3 * MB, 1));
	CU_ASSERT_PTR_NULL(migshim_session_gpa_to_hva(f.ss, 0, 0));
	CU_ASSERT_PTR_NULL(migshim_session_gpa_to_hva(f.ss, 8 * MB, UINT64_MAX));
	CU_ASSERT_PTR_NULL(migshim_session_gpa_to_hva(f.ss, UINT64_MAX, 2));
}

/* A full ring refuses with -EAGAIN and loses nothing; client-side checks
 * refuse runs that would land on the wrong ring. */
static void
test_full_ring_loses_nothing(void)
{
	struct migshim_desc d = {.npages = 1}, out[16];
	struct migshim_bitmap_iter it;
	uint64_t bm[8];
	unsigned i, n, total = 0;
	int r;

	for (i = 0; i < 8; i++) {
		d.gpa = (uint64_t)i * PG;
		CU_ASSERT_EQUAL(migshim_client_push(f.cl, &d), 0);
	}
	d.gpa = 8 * PG;
	CU_ASSERT_EQUAL(migshim_client_push(f.cl, &d), -EAGAIN);
	CU_ASSERT_EQUAL(migshim_client_end_round(f.cl, 1, false), -EAGAIN);
	n = migshim_session_pop(f.ss, 0, out, 16);
	CU_ASSERT_EQUAL(n, 8);
	for (i = 0; i < n; i++)
		CU_ASSERT_EQUAL(out[i].gpa, (uint64_t)i * PG);
	/* The marker went nowhere while ring 0 was full: ring 1 is empty. */
	CU_ASSERT_EQUAL(migshim_session_pop(f.ss, 1, out, 16), 0);

	d = (struct migshim_desc){.gpa = 2 * MB - PG, .npages = 2};
	CU_ASSERT_EQUAL(migshim_client_push(f.cl, &d), -EINVAL);
	d.npages = 0;
	CU_ASSERT_EQUAL(migshim_client_push(f.cl, &d), -EINVAL);

	/* 20 single pages on ring 0 (alternate bits): the bitmap push stops
	 * at -EAGAIN and resumes where it stopped. */
	memset(bm, 0, sizeof(bm));
	bm[0] = 0x5555555555ull; /* 20 runs in block 0 */
	CU_ASSERT_EQUAL_FATAL(migshim_bitmap_iter_init(&it, bm, 512, 8 * MB,
						       512, 512), 0);
	for (i = 0; i < 10; i++) {
		r = migshim_client_push_bitmap(f.cl, &it);
		n = migshim_session_pop(f.ss, 0, out, 16);
		total += n;
		if (r >= 0)
			break;
		CU_ASSERT_EQUAL(r, -EAGAIN);
	}
	CU_ASSERT_EQUAL(total + migshim_session_pop(f.ss, 0, out, 16), 20);
	CU_ASSERT_EQUAL(migshim_client_end_round(f.cl, 2, false), 0);
	CU_ASSERT_EQUAL(migshim_session_pop(f.ss, 0, out, 16), 1);
	CU_ASSERT_EQUAL(migshim_session_pop(f.ss, 1, out, 16), 1);
	CU_ASSERT_EQUAL(out[0].gpa, 2);
}

int
main(void)
{
	static const struct cu_test validate[] = {
		{"check_reasons", test_check},
		{"pop_filters_and_counts", test_pop_filters},
		{"gpa_to_hva", test_gpa_to_hva},
		{"full_ring_loses_nothing", test_full_ring_loses_nothing},
		{NULL, NULL},
	};

	if (cu_add_suite("validate", setup, teardown, validate) < 0)
		return 1;
	return cu_run();
}
