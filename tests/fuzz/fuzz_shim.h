/* SPDX-License-Identifier: BSD-3-Clause */
/* The shim session of fuzz_shim_desc.c, which gen_seeds.c aims its
 * descriptors at: guest RAM with a hole, two adjacent regions, a
 * device-state region and one at the top of the address space; three
 * rings of 16-page blocks. Input: FUZZ_DESC_LEN bytes per descriptor, a
 * ring byte then gpa, npages and flags (little-endian). */
#ifndef FUZZ_SHIM_H
#define FUZZ_SHIM_H

#include <stdint.h>

#include "migshim.h"

#define FUZZ_DESC_LEN 17
#define FUZZ_SHIM_NRINGS 3u
#define FUZZ_SHIM_BLOCK_PAGES 16u
#define FUZZ_SHIM_BLOCK_SHIFT (4 + MIGSHIM_PAGE_SHIFT)

static const struct {
	uint64_t gpa, size;
	uint32_t flags;
} fuzz_shim_layout[] = {
	{0, 64 << 10, 0},
	{128 << 10, 64 << 10, 0},
	{192 << 10, 256 << 10, 0},
	{1ull << 40, 8 << 10, MIGSHIM_REGION_DEVICE_STATE},
	{UINT64_MAX - (128 << 10) + 1, 64 << 10, 0},
};
#define FUZZ_SHIM_NREGIONS (sizeof(fuzz_shim_layout) / sizeof(fuzz_shim_layout[0]))

#endif
