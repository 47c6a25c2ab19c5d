/* SPDX-License-Identifier: BSD-3-Clause */
/* Shared fixture and test list of the codec test executable. */
#ifndef TEST_CODEC_H
#define TEST_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"
#include "cu_main.h"
#include "genmem.h"

#define PG MIGDP_PAGE_SIZE
#define KIND_PAGES 4
#define MIX_PAGES 256

extern uint8_t *kind_pages[GENMEM_NKINDS]; /* KIND_PAGES pages of each kind */
extern uint8_t *mix_pages;                 /* MIX_PAGES of the default mix */
extern uint8_t *dict_bytes;                /* a dictionary trained on it */
extern size_t dict_len;

int codec_suite_init(void);
int codec_suite_cleanup(void);

void test_rt_raw(void);
void test_rt_zstd_levels(void);
void test_rt_zstd_levels_dict(void);
void test_threshold(void);
void test_rt_runs(void);
void test_rt_stream_bytes(void);
void test_dict_objects(void);

void test_hostile_headers(void);
void test_hostile_csum(void);
void test_hostile_oversized(void);
void test_hostile_dict(void);
void test_hostile_fuzz(void);

void test_adapt_params(void);
void test_adapt_paced(void);
void test_adapt_fast_link(void);
void test_adapt_measured_link(void);

#endif
