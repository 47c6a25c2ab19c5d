/* SPDX-License-Identifier: BSD-3-Clause */
/* What the fuzz harnesses and the seed generator (gen_seeds.c) agree on:
 * the flow the frame seeds are built for and the harness parses for, the
 * guest memory layout of the record harness, the dictionary both build the
 * same way. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "fuzz_check.h"
#include "wire.h"

/* The flow of every frame seed (test_wire.c's addresses). */
#define FUZZ_SESSION 0x1122334455667788ull
#define FUZZ_SRC_IP 0xc6120001u /* 198.18.0.1 */
#define FUZZ_DST_IP 0xc6120002u /* 198.18.0.2 */
#define FUZZ_SRC_PORT 47001
#define FUZZ_DST_PORT 47001

/* The record harness's guest memory: one region of FUZZ_GUEST_PAGES pages
 * at FUZZ_GUEST_GPA (gpa 0 is outside it). */
#define FUZZ_GUEST_GPA 0x100000ull
#define FUZZ_GUEST_PAGES 16u

/* Record harness input: mode byte, record count, then a DATA payload. */
#define FUZZ_REC_IN_PLACE 0x01u /* MIGDP_CODEC_IN_PLACE */
#define FUZZ_REC_DICT 0x02u     /* the context has fuzz_dict() */
#define FUZZ_REC_LOAD_DICT 0x80u /* the rest is a peer's dictionary */

/* The flow of a frame seed at @p mtu. */
struct migdp_flow fuzz_flow(uint16_t mtu);

/* What the receiver of the frame seeds expects (any session). */
struct migdp_local fuzz_local(void);

/* A compressible 4 KiB page (text-like, deterministic from @p seed). */
void fuzz_page(uint8_t *page, uint32_t seed);

/* The dictionary of the record seeds: trained with the codec's own trainer
 * on fuzz_page() pages, the same bytes every time. NULL on failure. */
struct migdp_codec_dict *fuzz_dict(void);

/* @p len bytes (rounded up to pages) between two inaccessible pages: a
 * write past either end faults at once, where ASan would not look (its
 * shadow does not cover mmap). */
void *fuzz_guarded_alloc(size_t len);

#endif
