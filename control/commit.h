/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file commit.h
 * The three-message atomic commit (design decision 9), as two pure state
 * objects. They never send, read a clock or touch a VM: the caller passes
 * the time and what arrived, and performs the actions returned as
 * MIGDP_CA_* bit flags.
 *
 *   source                         destination
 *   COMMIT_REQ (every period) -->
 *                             <--  READY(verified), once it has everything,
 *                                  to each COMMIT_REQ
 *   GO (every period)         -->  first GO: RESUME_VM, CONFIRM
 *                             <--  CONFIRM, to each GO
 *
 * The invariant: exactly one side runs the VM. The source never resumes
 * once it has sent GO (migdp_commit_src_past_go()); the destination
 * resumes only on a GO, which follows its own verified READY.
 * - READY(verified = false): the source fails ("destination memory digest
 *   differs") and resumes its VM; the destination never resumes.
 * - No CONFIRM within confirm_timeout_ns of the first GO: the source ends
 *   MIGDP_CR_UNKNOWN, VM handed over, and does not resume.
 * - No GO within go_timeout_ns of the first READY: the destination
 *   discards (MIGDP_CR_FAILED, VM never resumed). If a GO was sent and all
 *   its copies were lost, nobody runs the VM and the source says UNKNOWN:
 *   the documented hand-over case; go_timeout_ns should exceed the
 *   source's confirm_timeout_ns.
 *
 * After MIGDP_CA_DONE, calls return 0, except that the destination keeps
 * answering: GO with CONFIRM once its VM runs, COMMIT_REQ with
 * READY(unverified) once its digest differed (so the source learns it).
 */
#ifndef MIGDP_COMMIT_H
#define MIGDP_COMMIT_H

#include <stdbool.h>
#include <stdint.h>

/** Actions, as bits of the value the calls return. */
enum {
	MIGDP_CA_SEND_COMMIT_REQ = 1,
	MIGDP_CA_SEND_READY = 2,     /**< with migdp_commit_dst.verified */
	MIGDP_CA_SEND_GO = 4,
	MIGDP_CA_SEND_CONFIRM = 8,
	MIGDP_CA_RESUME_VM = 16,     /**< destination: resume the VM now (once) */
	MIGDP_CA_DONE = 32,          /**< finished: see the result */
};

enum migdp_commit_result {
	MIGDP_CR_PENDING,
	MIGDP_CR_COMMITTED,
	MIGDP_CR_FAILED,             /**< the VM stays at the source */
	MIGDP_CR_UNKNOWN,            /**< source: handed over, not confirmed */
};

/** Source phases. */
enum migdp_commit_src_phase {
	MIGDP_CS_INIT,               /**< nothing sent yet */
	MIGDP_CS_REQ,                /**< COMMIT_REQ sent, waiting for READY */
	MIGDP_CS_GO,                 /**< GO sent: past the point of no return */
	MIGDP_CS_DONE,
};

struct migdp_commit_src {
	uint64_t period_ns;          /**< resend period */
	uint64_t confirm_timeout_ns; /**< after the first GO */
	enum migdp_commit_src_phase phase;
	bool go_sent;                /**< never resume the VM once true */
	uint64_t last_sent_ns;
	uint64_t go_at_ns;           /**< first GO */
	enum migdp_commit_result result;
	char reason[96];             /**< why FAILED or UNKNOWN, "" */
};

void
migdp_commit_src_init(struct migdp_commit_src *s, uint64_t now_ns,
		      uint64_t period_ns, uint64_t confirm_timeout_ns);
/** Resends (COMMIT_REQ, GO) and the confirm timeout. */
unsigned
migdp_commit_src_tick(struct migdp_commit_src *s, uint64_t now_ns);
/** A READY arrived. Before any COMMIT_REQ was sent: ignored. */
unsigned
migdp_commit_src_on_ready(struct migdp_commit_src *s, bool verified,
			  uint64_t now_ns);
/** A CONFIRM arrived. Before GO: ignored. */
unsigned
migdp_commit_src_on_confirm(struct migdp_commit_src *s, uint64_t now_ns);
/** True once GO was sent: the source must never resume its VM then. */
bool
migdp_commit_src_past_go(const struct migdp_commit_src *s);
enum migdp_commit_result
migdp_commit_src_result(const struct migdp_commit_src *s);

/** Destination phases. */
enum migdp_commit_dst_phase {
	MIGDP_CD_WAIT,               /**< no READY sent yet */
	MIGDP_CD_READY,              /**< READY(verified) sent, waiting for GO */
	MIGDP_CD_RUNNING,            /**< VM resumed: answers GO with CONFIRM */
	MIGDP_CD_MISMATCH,           /**< READY(unverified) sent: failed */
	MIGDP_CD_DISCARDED,          /**< no GO in time: failed */
};

struct migdp_commit_dst {
	uint64_t go_timeout_ns;      /**< after the first READY */
	enum migdp_commit_dst_phase phase;
	bool verified;               /**< the digest matched (sent in READY) */
	uint64_t ready_at_ns;        /**< first READY */
	enum migdp_commit_result result;
	char reason[96];
};

void
migdp_commit_dst_init(struct migdp_commit_dst *d, uint64_t now_ns,
		      uint64_t go_timeout_ns);
/** A COMMIT_REQ arrived. @p have_all false: not everything is here yet, no
 * READY. @p verified: the memory digests match (taken from the first
 * READY on). */
unsigned
migdp_commit_dst_on_request(struct migdp_commit_dst *d, bool have_all,
			    bool verified, uint64_t now_ns);
/** A GO arrived. Before a verified READY was sent: ignored (0). */
unsigned
migdp_commit_dst_on_go(struct migdp_commit_dst *d, uint64_t now_ns);
/** The go timeout: DONE, FAILED. */
unsigned
migdp_commit_dst_tick(struct migdp_commit_dst *d, uint64_t now_ns);
/** COMMITTED from the moment the VM is resumed. */
enum migdp_commit_result
migdp_commit_dst_result(const struct migdp_commit_dst *d);

#endif
