/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file guest_abi.h
 * What migvm and its guest program agree on: the guest-physical layout,
 * the parameter block and the I/O ports. Included by the host (x86-64) and
 * by the freestanding guest (x86-64 too; the block keeps 64-bit fields at
 * 8-byte multiples so a 32-bit guest would read the same layout).
 *
 * The guest runs in 64-bit long mode at CPL 3 with IOPL 3 (OUT allowed),
 * flat segments, an identity map of the first 2 GiB in 2 MiB user pages,
 * interrupts off, entered by migvm directly (no real-mode start, no
 * kernel): guest-physical = virtual address. Why CPL 3: this machine's KVM
 * is kvm_pvm (no VMX), which emulates CPL 0 guest code instruction by
 * instruction (~60 page writes/s) but runs CPL 3 code natively (~60,000).
 */
#ifndef MIGVM_GUEST_ABI_H
#define MIGVM_GUEST_ABI_H

#ifndef __ASSEMBLER__
#include <stdint.h>
#endif

/* Guest-physical layout (bytes). */
#define MIGVM_PARAMS_GPA 0x1000u   /**< struct migvm_params (one page) */
#define MIGVM_GDT_GPA 0x2000u      /**< flat GDT migvm writes */
#define MIGVM_PT_GPA 0x3000u       /**< identity page tables: PML4, PDPT, 2 PDs */
#define MIGVM_IMAGE_GPA 0x10000u   /**< guest program, entry at its start */
#define MIGVM_IMAGE_MAX 0x20000u   /**< code, data and bss, at most */
#define MIGVM_STACK_TOP 0x40000u   /**< stack grows down from here */
#define MIGVM_GENTAB_GPA 0x100000u /**< uint32_t generation per page */
#define MIGVM_PAGE_SIZE 4096u

/* Segment selectors of the flat GDT: null, code, data. */
#define MIGVM_SEL_CODE 0x08u
#define MIGVM_SEL_DATA 0x10u

/* Ports the guest writes (OUT). */
#define MIGVM_PORT_CONSOLE 0xE9u /**< 8-bit: a byte of text */
#define MIGVM_PORT_EVENT 0xEAu   /**< 32-bit: an event (below); the status
				      fields of the block are up to date */
#define MIGVM_PORT_IDLE 0xEBu    /**< 32-bit: ahead of its rate by this
				      many TSC ticks: migvm may sleep that
				      long before running it again */

/* Events on MIGVM_PORT_EVENT. */
#define MIGVM_EV_START 1u    /**< parameters accepted, workload starts */
#define MIGVM_EV_PROGRESS 2u /**< report_every more page writes */
#define MIGVM_EV_VERIFY 3u   /**< a verification pass ended; mismatches
				  counts every wrong page found so far */
#define MIGVM_EV_MISMATCH 4u /**< a wrong page: bad_page, bad_gen, bad_word */
#define MIGVM_EV_BADPARAM 5u /**< parameters refused; the guest halts */

#define MIGVM_PARAMS_MAGIC 0x504d564du /* "MVMP" */
#define MIGVM_PARAMS_VERSION 1u

#ifndef __ASSEMBLER__
/**
 * The parameter block at MIGVM_PARAMS_GPA. migvm fills the first part
 * before the first run and never writes guest memory afterwards (host
 * writes are not in KVM's dirty log); the guest writes the second part
 * before each event.
 *
 * Page p (first_page <= p < npages) written for the g-th time (g >= 1,
 * kept in the generation table) holds: word 0 = p, word 1 = g, words
 * 2..1023 a xorshift32 stream seeded from (p, g, seed). Generation 0: never
 * written, not verified. A verification pass recomputes every written page
 * and compares all its words.
 */
struct migvm_params {
	/* Set by migvm. */
	uint32_t magic;        /**< MIGVM_PARAMS_MAGIC */
	uint32_t version;      /**< MIGVM_PARAMS_VERSION */
	uint32_t npages;       /**< pages of guest RAM */
	uint32_t first_page;   /**< first page the workload writes */
	uint32_t gentab_gpa;   /**< the generation table, npages words */
	uint32_t hot_pages;    /**< 0: uniform over [first_page, npages);
				    else the hot set [first_page, +hot_pages) */
	uint32_t hot_pct;      /**< share of writes in the hot set, 0..100 */
	uint32_t seed;         /**< any value */
	uint32_t verify_every; /**< page writes between passes (0: never) */
	uint32_t report_every; /**< page writes between PROGRESS (0: never) */
	uint64_t tsc_per_write; /**< TSC ticks per page write (0: unpaced) */
	uint64_t tsc_slack;    /**< most it catches up after a stop, ticks */
	uint64_t tsc_min_idle; /**< ahead by less: spin, not MIGVM_PORT_IDLE */
	/* Written by the guest. */
	uint64_t writes;         /**< page writes done */
	uint64_t verify_passes;  /**< verification passes done */
	uint64_t pages_verified; /**< pages compared, all passes */
	uint64_t mismatches;     /**< wrong pages found, all passes */
	uint32_t bad_page;       /**< the last wrong page */
	uint32_t bad_gen;        /**< its generation in the table */
	uint32_t bad_word;       /**< its first wrong word */
	uint32_t state;          /**< 0 before START, 1 running, 2 halted */
};

_Static_assert(__builtin_offsetof(struct migvm_params, tsc_per_write) == 40,
	       "64-bit fields must sit at the same offsets in -m32");
_Static_assert(sizeof(struct migvm_params) == 112,
	       "parameter block layout changed: bump its version");

#endif /* !__ASSEMBLER__ */

#endif /* MIGVM_GUEST_ABI_H */
