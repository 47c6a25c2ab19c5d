/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer harness: the validation of dirty-page descriptors by migdp,
 * the server of libmigshim (shim/server.c), on a real session handed over
 * by a client in this process (tests/shim_fixture.c).
 *
 * Input: descriptors (fuzz_shim.h, which has the session's layout). Each
 * is checked by migshim_session_check() and by a model written from
 * migshim.h, which must agree on the verdict;
 * a valid descriptor must map to guest memory that can be read end to end;
 * migshim_session_gpa_to_hva() must find exactly what the model finds; and
 * through the real rings, migshim_session_pop() hands out exactly the
 * valid ones. The client's own push routes every descriptor it takes to
 * the one ring the server expects. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_check.h"
#include "fuzz_shim.h"
#include "migshim.h"
#include "shim_fixture.h"

static struct fx fx;

/* Region of the layout holding @p gpa, or -1 (a plain scan). */
static int
region_of(uint64_t gpa)
{
	unsigned i;

	for (i = 0; i < FUZZ_SHIM_NREGIONS; i++)
		if (gpa >= fuzz_shim_layout[i].gpa &&
		    gpa - fuzz_shim_layout[i].gpa < fuzz_shim_layout[i].size)
			return (int)i;
	return -1;
}

/* The verdict of migshim.h on @p d for ring @p ring. */
static enum migshim_bad
model(unsigned ring, const struct migshim_desc *d)
{
	uint64_t len, last;
	int i;

	if (d->flags & ~MIGSHIM_DESC_FLAGS_ALL)
		return MIGSHIM_BAD_BAD_FLAGS;
	if (d->flags & MIGSHIM_DESC_END_OF_ROUND)
		return d->npages == 0 ? MIGSHIM_BAD_NONE : MIGSHIM_BAD_BAD_FLAGS;
	if (d->flags & MIGSHIM_DESC_FINAL)
		return MIGSHIM_BAD_BAD_FLAGS;
	if (d->npages == 0)
		return MIGSHIM_BAD_ZERO_COUNT;
	if (d->gpa % MIGSHIM_PAGE_SIZE)
		return MIGSHIM_BAD_UNALIGNED;
	len = (uint64_t)d->npages * MIGSHIM_PAGE_SIZE;
	if ((unsigned __int128)d->gpa + len - 1 > UINT64_MAX)
		return MIGSHIM_BAD_OVERFLOW;
	last = d->gpa + len - 1;
	i = region_of(d->gpa);
	if (i < 0)
		return MIGSHIM_BAD_OUTSIDE;
	if (region_of(last) != i)
		return MIGSHIM_BAD_STRADDLE;
	if (d->gpa >> FUZZ_SHIM_BLOCK_SHIFT != last >> FUZZ_SHIM_BLOCK_SHIFT ||
	    (d->gpa >> FUZZ_SHIM_BLOCK_SHIFT) % FUZZ_SHIM_NRINGS != ring)
		return MIGSHIM_BAD_WRONG_RING;
	return MIGSHIM_BAD_NONE;
}

/* gpa_to_hva() finds @p len bytes at @p gpa exactly when one region holds
 * them all, at the region's mapping plus the offset. */
static void
check_hva(uint64_t gpa, uint64_t len)
{
	const volatile uint8_t *p = migshim_session_gpa_to_hva(fx.ss, gpa, len);
	struct migshim_region_info ri;
	int i = region_of(gpa);
	bool inside = i >= 0 && len != 0 &&
		      len <= fuzz_shim_layout[i].size - (gpa - fuzz_shim_layout[i].gpa);

	FUZZ_CHECK((p != NULL) == inside);
	if (p == NULL)
		return;
	FUZZ_CHECK(migshim_session_region(fx.ss, (unsigned)i, &ri) == 0);
	FUZZ_CHECK(ri.gpa == fuzz_shim_layout[i].gpa && ri.size == fuzz_shim_layout[i].size);
	FUZZ_CHECK(p == (const uint8_t *)ri.hva + (gpa - ri.gpa));
	(void)p[0];
	(void)p[len - 1];
}

/* Through ring @p ring: what pop() hands out, and what it counts. */
static void
check_pop(unsigned ring, const struct migshim_desc *d, enum migshim_bad want)
{
	struct migshim_session_stats st0, st1;
	struct migshim_desc out[4];
	unsigned n;

	migshim_session_stats(fx.ss, &st0);
	n = migshim_session_pop(fx.ss, ring, out, 4);
	migshim_session_stats(fx.ss, &st1);
	FUZZ_CHECK(n == (want == MIGSHIM_BAD_NONE));
	if (n == 1)
		FUZZ_CHECK(memcmp(&out[0], d, sizeof(*d)) == 0);
	else
		FUZZ_CHECK(st1.bad[want] == st0.bad[want] + 1 && st1.last_bad_reason == want);
	FUZZ_CHECK(st1.ring_corrupt == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct migshim_client_params p = {.nrings = FUZZ_SHIM_NRINGS, .ring_size = 8,
					  .block_pages = FUZZ_SHIM_BLOCK_PAGES};
	struct fx_region regs[FUZZ_SHIM_NREGIONS];
	unsigned i;

	(void)argc;
	(void)argv;
	for (i = 0; i < FUZZ_SHIM_NREGIONS; i++) {
		regs[i] = (struct fx_region){.fd = fx_memfd(fuzz_shim_layout[i].size, i),
			.gpa = fuzz_shim_layout[i].gpa, .size = fuzz_shim_layout[i].size,
			.flags = fuzz_shim_layout[i].flags};
		FUZZ_CHECK(regs[i].fd >= 0);
	}
	FUZZ_CHECK(fx_handoff(&fx, MIGSHIM_ROLE_SOURCE, &p, regs, FUZZ_SHIM_NREGIONS, 0) == 0);
	for (i = 0; i < FUZZ_SHIM_NREGIONS; i++)
		close(regs[i].fd);
	FUZZ_CHECK(migshim_session_nregions(fx.ss) == FUZZ_SHIM_NREGIONS);
	FUZZ_CHECK(migshim_session_nrings(fx.ss) == FUZZ_SHIM_NRINGS);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct migshim_desc d;
	enum migshim_bad b, want;
	unsigned ring;
	size_t off;
	int ret;

	for (off = 0; off + FUZZ_DESC_LEN <= size; off += FUZZ_DESC_LEN) {
		ring = data[off];
		memcpy(&d.gpa, data + off + 1, 8);
		memcpy(&d.npages, data + off + 9, 4);
		memcpy(&d.flags, data + off + 13, 4);

		b = migshim_session_check(fx.ss, ring, &d);
		want = model(ring, &d);
		FUZZ_CHECK(b < MIGSHIM_BAD_MAX);
		FUZZ_CHECK(b == want);
		if (b == MIGSHIM_BAD_NONE && !(d.flags & MIGSHIM_DESC_END_OF_ROUND))
			FUZZ_CHECK(migshim_session_gpa_to_hva(
				fx.ss, d.gpa, (uint64_t)d.npages << MIGSHIM_PAGE_SHIFT) != NULL);
		check_hva(d.gpa, (uint64_t)d.npages << MIGSHIM_PAGE_SHIFT);
		check_hva(d.gpa, d.npages);

		/* As the hypervisor pushed it to ring (ring % FUZZ_SHIM_NRINGS). */
		FUZZ_CHECK(migshim_client_push_raw(fx.cl, ring % FUZZ_SHIM_NRINGS, &d) == 0);
		check_pop(ring % FUZZ_SHIM_NRINGS, &d, model(ring % FUZZ_SHIM_NRINGS, &d));

		/* The client's push: what it takes goes to the right ring. */
		ret = migshim_client_push(fx.cl, &d);
		FUZZ_CHECK(ret == 0 || ret == -EINVAL);
		if (ret == 0) {
			ring = migshim_client_ring_of(fx.cl, d.gpa);
			want = model(ring, &d);
			FUZZ_CHECK(want == MIGSHIM_BAD_NONE || want == MIGSHIM_BAD_OUTSIDE ||
				   want == MIGSHIM_BAD_STRADDLE || want == MIGSHIM_BAD_BAD_FLAGS);
			check_pop(ring, &d, want);
		}
	}
	return 0;
}
