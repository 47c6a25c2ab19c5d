/* SPDX-License-Identifier: BSD-3-Clause */
/* Zero-page detection: AVX2 where the CPU has it, chosen once at start-up,
 * 64-bit words elsewhere. A non-zero page almost always ends the scan in
 * its first 128 bytes; a zero page is read once, at memory speed. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <immintrin.h>

#include <rte_common.h>

#include "codec.h"

struct zero_impl {
	const char *name;
	bool (*is_zero)(const void *page);
	uint32_t (*run)(const void *pages, uint32_t max);
};

/* 16 words (128 bytes) per test, like the AVX2 loop. */
static inline bool
page_zero_portable(const uint8_t *p)
{
	uint64_t w[16], acc;
	unsigned off, i;

	for (off = 0; off < MIGDP_PAGE_SIZE; off += sizeof(w)) {
		memcpy(w, p + off, sizeof(w)); /* any alignment, no aliasing */
		acc = 0;
		for (i = 0; i < RTE_DIM(w); i++)
			acc |= w[i];
		if (acc != 0)
			return false;
	}
	return true;
}

static bool
is_zero_portable(const void *page)
{
	return page_zero_portable(page);
}

static uint32_t
run_portable(const void *pages, uint32_t max)
{
	const uint8_t *p = pages;
	uint32_t n = 0;

	while (n < max && page_zero_portable(p + ((size_t)n << MIGDP_PAGE_SHIFT)))
		n++;
	return n;
}

__attribute__((target("avx2"))) static inline bool
page_zero_avx2(const uint8_t *p)
{
	const __m256i *v = (const __m256i *)p;
	__m256i a;
	unsigned i;

	for (i = 0; i < MIGDP_PAGE_SIZE / sizeof(__m256i); i += 4) {
		a = _mm256_or_si256(
			_mm256_or_si256(_mm256_loadu_si256(v + i),
					_mm256_loadu_si256(v + i + 1)),
			_mm256_or_si256(_mm256_loadu_si256(v + i + 2),
					_mm256_loadu_si256(v + i + 3)));
		if (!_mm256_testz_si256(a, a))
			return false;
	}
	return true;
}

__attribute__((target("avx2"))) static bool
is_zero_avx2(const void *page)
{
	return page_zero_avx2(page);
}

__attribute__((target("avx2"))) static uint32_t
run_avx2(const void *pages, uint32_t max)
{
	const uint8_t *p = pages;
	uint32_t n = 0;

	while (n < max && page_zero_avx2(p + ((size_t)n << MIGDP_PAGE_SHIFT)))
		n++;
	return n;
}

static const struct zero_impl impl_portable = {
	"portable", is_zero_portable, run_portable,
};
static const struct zero_impl impl_avx2 = {
	"avx2", is_zero_avx2, run_avx2,
};

/* Portable until the constructor has run (a caller from another
 * constructor still gets a correct answer). */
static const struct zero_impl *zero_cur = &impl_portable;

static const struct zero_impl *
zero_best(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") ? &impl_avx2 : &impl_portable;
}

RTE_INIT(migdp_zero_init)
{
	zero_cur = zero_best();
}

bool
migdp_page_is_zero(const void *page)
{
	return zero_cur->is_zero(page);
}

uint32_t
migdp_zero_run(const void *pages, uint32_t max)
{
	return zero_cur->run(pages, max);
}

const char *
migdp_zero_impl(void)
{
	return zero_cur->name;
}

int
migdp_zero_select(const char *name)
{
	if (name == NULL) {
		zero_cur = zero_best();
		return 0;
	}
	if (strcmp(name, "portable") == 0) {
		zero_cur = &impl_portable;
		return 0;
	}
	if (strcmp(name, "avx2") != 0)
		return -EINVAL;
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx2"))
		return -ENOTSUP;
	zero_cur = &impl_avx2;
	return 0;
}
