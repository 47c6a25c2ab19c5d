/* SPDX-License-Identifier: BSD-3-Clause */
/* The page codec: zero detection (AVX2 and portable), settings, and the
 * shared fixture; round trips and dictionaries in test_codec_rt.c, hostile
 * records in test_codec_hostile.c, the chooser in test_codec_adapt.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "test_codec.h"

uint8_t *kind_pages[GENMEM_NKINDS];
uint8_t *mix_pages;
uint8_t *dict_bytes;
size_t dict_len;

int
codec_suite_init(void)
{
	struct migdp_genmix m = {0};
	struct migdp_codec_dict *d;
	struct iovec iov;
	const void *src;
	unsigned k;

	for (k = 0; k < GENMEM_NKINDS; k++) {
		unsigned *pct[GENMEM_NKINDS] = {&m.zero, &m.text, &m.binary,
						&m.random};

		m = (struct migdp_genmix){0};
		*pct[k] = 100;
		kind_pages[k] = aligned_alloc(PG, KIND_PAGES * PG);
		if (kind_pages[k] == NULL ||
		    genmem_fill(kind_pages[k], KIND_PAGES * PG, &m, 42 + k) != 0)
			return -1;
	}
	if (genmem_parse_mix(GENMEM_DEFAULT_MIX, &m, NULL, 0) != 0)
		return -1;
	iov.iov_len = 2048 * PG; /* the dictionary's sample memory */
	iov.iov_base = aligned_alloc(PG, iov.iov_len);
	mix_pages = aligned_alloc(PG, MIX_PAGES * PG);
	if (iov.iov_base == NULL || mix_pages == NULL ||
	    genmem_fill(mix_pages, MIX_PAGES * PG, &m, 7) != 0 ||
	    genmem_fill(iov.iov_base, iov.iov_len, &m, 8) != 0)
		return -1;
	d = migdp_dict_train(&iov, 1, &(struct migdp_dict_params){.samples = 1024});
	free(iov.iov_base);
	if (d == NULL)
		return -1;
	dict_bytes = malloc(MIGDP_DICT_MAX_SIZE);
	src = migdp_dict_data(d, &dict_len);
	if (dict_bytes != NULL)
		memcpy(dict_bytes, src, dict_len);
	migdp_dict_free(d);
	return dict_bytes == NULL ? -1 : 0;
}

int
codec_suite_cleanup(void)
{
	unsigned k;

	for (k = 0; k < GENMEM_NKINDS; k++)
		free(kind_pages[k]);
	free(mix_pages);
	free(dict_bytes);
	return 0;
}

/* ---------------------------------------------------------------- zero */

static void
check_zero_impl(const char *impl)
{
	uint8_t *buf = aligned_alloc(PG, 9 * PG), *p;
	unsigned off, shift;

	CU_ASSERT_EQUAL_FATAL(migdp_zero_select(impl), 0);
	CU_ASSERT_STRING_EQUAL(migdp_zero_impl(), impl);
	memset(buf, 0, 9 * PG);
	for (shift = 0; shift < 2; shift++) { /* aligned, and off by one */
		p = buf + shift;
		CU_ASSERT_TRUE(migdp_page_is_zero(p));
		for (off = 0; off < PG; off++) { /* covers every 64th and the last */
			p[off] = off & 1 ? 0x80 : 0x01;
			if (migdp_page_is_zero(p))
				CU_FAIL("non-zero byte missed");
			p[off] = 0;
		}
		p[PG] = 1; /* just past the page: not part of it */
		CU_ASSERT_TRUE(migdp_page_is_zero(p));
		p[PG] = 0;
	}
	buf[5 * PG + PG - 1] = 1;
	CU_ASSERT_EQUAL(migdp_zero_run(buf, 8), 5);
	CU_ASSERT_EQUAL(migdp_zero_run(buf, 3), 3);
	CU_ASSERT_EQUAL(migdp_zero_run(buf + 5 * PG, 3), 0);
	CU_ASSERT_EQUAL(migdp_zero_run(buf + 6 * PG, 3), 3);
	CU_ASSERT_EQUAL(migdp_zero_run(buf, 0), 0);
	free(buf);
}

static void
test_zero_portable(void)
{
	check_zero_impl("portable");
	CU_ASSERT_EQUAL(migdp_zero_select(NULL), 0);
}

static void
test_zero_avx2(void)
{
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx2")) {
		CU_ASSERT_EQUAL(migdp_zero_select("avx2"), -ENOTSUP);
		return; /* the portable test covered this machine */
	}
	check_zero_impl("avx2");
	CU_ASSERT_EQUAL(migdp_zero_select(NULL), 0);
	CU_ASSERT_STRING_EQUAL(migdp_zero_impl(), "avx2");
	CU_ASSERT_EQUAL(migdp_zero_select("sse9"), -EINVAL);
}

/* ------------------------------------------------------------- settings */

static void
test_settings(void)
{
	static const char *const bad[] = {"zstd:0", "zstd:23", "zstd:-200000",
		"zstd:", "zstd:abc", "zstd:1x", "zstd: 1", "zstd1", "lz4", "",
		"Zstd", "raw:1", "zstd:99999999999999999999"};
	struct migdp_codec_setting st;
	char err[128], txt[32], lv[32];
	unsigned i;

	CU_ASSERT_EQUAL(migdp_codec_setting_parse("auto", &st, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(st.method, MIGDP_CODEC_AUTO);
	CU_ASSERT_EQUAL(migdp_codec_setting_parse("raw", &st, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(st.method, MIGDP_CODEC_RAW);
	CU_ASSERT_EQUAL(migdp_codec_setting_parse("zstd", &st, err, sizeof(err)), 0);
	CU_ASSERT(st.method == MIGDP_CODEC_ZSTD && st.level == 1);
	CU_ASSERT_EQUAL(migdp_codec_setting_parse("zstd:-7", &st, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(st.level, -7);
	CU_ASSERT_STRING_EQUAL(migdp_codec_setting_str(&st, txt, sizeof(txt)),
			       "zstd:-7");
	snprintf(lv, sizeof(lv), "zstd:%d", ZSTD_maxCLevel());
	CU_ASSERT_EQUAL(migdp_codec_setting_parse(lv, &st, err, sizeof(err)), 0);
	snprintf(lv, sizeof(lv), "zstd:%d", ZSTD_minCLevel());
	CU_ASSERT_EQUAL(migdp_codec_setting_parse(lv, &st, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(st.level, ZSTD_minCLevel());
	for (i = 0; i < RTE_DIM(bad); i++) {
		err[0] = '\0';
		CU_ASSERT_EQUAL(migdp_codec_setting_parse(bad[i], &st, err,
							  sizeof(err)), -EINVAL);
		CU_ASSERT(strlen(err) > 10);
	}
	migdp_codec_setting_parse("zstd:23", &st, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "out of range"));
	CU_ASSERT_PTR_NULL(migdp_codec_ctx_create(
		&(struct migdp_codec_ctx_params){.level = 99}));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NULL(migdp_codec_ctx_create(
		&(struct migdp_codec_ctx_params){.min_save = PG}));
	CU_ASSERT_PTR_EQUAL(migdp_codec_by_name("zstd"), &migdp_codec_zstd);
	CU_ASSERT_PTR_EQUAL(migdp_codec_by_name("raw"), &migdp_codec_raw);
	CU_ASSERT_PTR_NULL(migdp_codec_by_name("lz4"));
	CU_ASSERT_PTR_EQUAL(migdp_codec_by_method(MIGDP_CODEC_ZSTD), &migdp_codec_zstd);
	CU_ASSERT_PTR_NULL(migdp_codec_by_method(MIGDP_CODEC_AUTO));
}

int
main(void)
{
	static const struct cu_test zero[] = {
		{"portable", test_zero_portable},
		{"avx2", test_zero_avx2},
		{NULL, NULL},
	};
	static const struct cu_test settings[] = {
		{"parse", test_settings},
		{NULL, NULL},
	};
	static const struct cu_test rt[] = {
		{"raw", test_rt_raw},
		{"zstd_levels", test_rt_zstd_levels},
		{"zstd_levels_dict", test_rt_zstd_levels_dict},
		{"threshold", test_threshold},
		{"runs_of_pages", test_rt_runs},
		{"stream_bytes", test_rt_stream_bytes},
		{"dict_objects", test_dict_objects},
		{NULL, NULL},
	};
	static const struct cu_test hostile[] = {
		{"header_checks", test_hostile_headers},
		{"wrong_page_and_csum", test_hostile_csum},
		{"oversized_frame", test_hostile_oversized},
		{"dictionary", test_hostile_dict},
		{"fuzz_body", test_hostile_fuzz},
		{NULL, NULL},
	};
	static const struct cu_test adapt[] = {
		{"params", test_adapt_params},
		{"paced_link_compresses", test_adapt_paced},
		{"fast_link_slow_cpu_raw", test_adapt_fast_link},
		{"measured_link", test_adapt_measured_link},
		{NULL, NULL},
	};

	if (cu_add_suite("codec_zero", NULL, NULL, zero) < 0 ||
	    cu_add_suite("codec_settings", NULL, NULL, settings) < 0 ||
	    cu_add_suite("codec_round_trip", codec_suite_init, codec_suite_cleanup, rt) < 0 ||
	    cu_add_suite("codec_hostile", codec_suite_init, codec_suite_cleanup, hostile) < 0 ||
	    cu_add_suite("codec_adapt", NULL, NULL, adapt) < 0)
		return 1;
	return cu_run();
}
