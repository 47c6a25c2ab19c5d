/* SPDX-License-Identifier: BSD-3-Clause */
/* Shared helpers and test list of the channel test executable. */
#ifndef TEST_CHAN_H
#define TEST_CHAN_H

#include <stdint.h>

#include "chan_harness.h"
#include "cu_main.h"

#define PG MIGDP_PAGE_SIZE
/* Address of page @p n of the default region. */
#define GPA(n) ((uint64_t)(n) * PG)

/* Incompressible bytes from @p seed. */
void fill_random(uint8_t *page, uint64_t seed);
/* A page zstd shrinks to a few hundred bytes, different per @p seed. */
void fill_compressible(uint8_t *page, uint64_t seed);

/* Poll destination channel @p ch once, move the clock past the ack delay
 * and poll again, so that whatever acknowledgement is due has been sent. */
void settle_dst(struct ch_pair *p, unsigned ch);

/* Frames built by the test (test_chan.c). */
void test_zero_copy_9000(void);
void test_zero_copy_1500(void);
void test_frame_check(void);
void test_zero_run_fresh(void);
void test_zero_run_written(void);
void test_misrouted(void);
void test_dup_not_reapplied(void);
void test_record_csum(void);
void test_newest_wins(void);
void test_record_outside(void);

/* Source and destination channels together (test_chan_flow.c). */
void test_roundtrip_zstd_9000(void);
void test_roundtrip_zstd_1500(void);
void test_roundtrip_lcores(void);
void test_retransmit_copy(void);
void test_retransmit_zero_copy(void);
void test_ack_after_complete(void);
void test_round_ends_frame(void);

#endif
