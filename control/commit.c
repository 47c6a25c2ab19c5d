/* SPDX-License-Identifier: BSD-3-Clause */
/* The atomic commit's two sides; commit.h has the protocol and the
 * invariant. Every function is a guard on the phase, then one step. */
#include <stdio.h>
#include <string.h>

#include "commit.h"

/* ---------------------------------------------------------------------- */
/* Source */

void
migdp_commit_src_init(struct migdp_commit_src *s, uint64_t now_ns,
		      uint64_t period_ns, uint64_t confirm_timeout_ns)
{
	memset(s, 0, sizeof(*s));
	s->period_ns = period_ns;
	s->confirm_timeout_ns = confirm_timeout_ns;
	s->phase = MIGDP_CS_INIT;
	s->last_sent_ns = now_ns;
	s->result = MIGDP_CR_PENDING;
}

static unsigned
src_end(struct migdp_commit_src *s, enum migdp_commit_result r,
	const char *why)
{
	s->phase = MIGDP_CS_DONE;
	s->result = r;
	snprintf(s->reason, sizeof(s->reason), "%s", why);
	return MIGDP_CA_DONE;
}

static unsigned
src_send_go(struct migdp_commit_src *s, uint64_t now_ns)
{
	if (!s->go_sent) {
		s->go_sent = true;
		s->go_at_ns = now_ns;
	}
	s->phase = MIGDP_CS_GO;
	s->last_sent_ns = now_ns;
	return MIGDP_CA_SEND_GO;
}

static bool
period_over(const struct migdp_commit_src *s, uint64_t now_ns)
{
	return now_ns - s->last_sent_ns >= s->period_ns;
}

unsigned
migdp_commit_src_tick(struct migdp_commit_src *s, uint64_t now_ns)
{
	switch (s->phase) {
	case MIGDP_CS_INIT:
		s->phase = MIGDP_CS_REQ;
		s->last_sent_ns = now_ns;
		return MIGDP_CA_SEND_COMMIT_REQ;
	case MIGDP_CS_REQ:
		if (!period_over(s, now_ns))
			return 0;
		s->last_sent_ns = now_ns;
		return MIGDP_CA_SEND_COMMIT_REQ;
	case MIGDP_CS_GO:
		if (now_ns - s->go_at_ns >= s->confirm_timeout_ns)
			return src_end(s, MIGDP_CR_UNKNOWN, "no confirmation "
				       "after go: outcome unknown, VM handed over");
		return period_over(s, now_ns) ? src_send_go(s, now_ns) : 0;
	default:
		return 0;
	}
}

unsigned
migdp_commit_src_on_ready(struct migdp_commit_src *s, bool verified,
			  uint64_t now_ns)
{
	switch (s->phase) {
	case MIGDP_CS_REQ:
		if (!verified)
			return src_end(s, MIGDP_CR_FAILED,
				       "destination memory digest differs");
		return src_send_go(s, now_ns);
	case MIGDP_CS_GO:
		/* A duplicate READY: its GO may have been lost. A contradicting
		 * unverified one cannot undo a GO: ignored. */
		return verified ? src_send_go(s, now_ns) : 0;
	default:
		return 0;
	}
}

unsigned
migdp_commit_src_on_confirm(struct migdp_commit_src *s, uint64_t now_ns)
{
	(void)now_ns;
	if (s->phase != MIGDP_CS_GO)
		return 0;
	return src_end(s, MIGDP_CR_COMMITTED, "");
}

bool
migdp_commit_src_past_go(const struct migdp_commit_src *s)
{
	return s->go_sent;
}

enum migdp_commit_result
migdp_commit_src_result(const struct migdp_commit_src *s)
{
	return s->result;
}

/* ---------------------------------------------------------------------- */
/* Destination */

void
migdp_commit_dst_init(struct migdp_commit_dst *d, uint64_t now_ns,
		      uint64_t go_timeout_ns)
{
	memset(d, 0, sizeof(*d));
	d->go_timeout_ns = go_timeout_ns;
	d->phase = MIGDP_CD_WAIT;
	d->ready_at_ns = now_ns;
	d->result = MIGDP_CR_PENDING;
}

unsigned
migdp_commit_dst_on_request(struct migdp_commit_dst *d, bool have_all,
			    bool verified, uint64_t now_ns)
{
	switch (d->phase) {
	case MIGDP_CD_WAIT:
		if (!have_all)
			return 0;
		d->verified = verified;
		d->ready_at_ns = now_ns;
		if (verified) {
			d->phase = MIGDP_CD_READY;
			return MIGDP_CA_SEND_READY;
		}
		d->phase = MIGDP_CD_MISMATCH;
		d->result = MIGDP_CR_FAILED;
		snprintf(d->reason, sizeof(d->reason),
			 "memory digest differs from the source's");
		return MIGDP_CA_SEND_READY | MIGDP_CA_DONE;
	case MIGDP_CD_READY:
	case MIGDP_CD_MISMATCH:
		return MIGDP_CA_SEND_READY;	/* our READY was lost */
	default:
		return 0;	/* running (a late copy) or discarded */
	}
}

unsigned
migdp_commit_dst_on_go(struct migdp_commit_dst *d, uint64_t now_ns)
{
	(void)now_ns;
	switch (d->phase) {
	case MIGDP_CD_READY:
		d->phase = MIGDP_CD_RUNNING;
		d->result = MIGDP_CR_COMMITTED;
		return MIGDP_CA_RESUME_VM | MIGDP_CA_SEND_CONFIRM | MIGDP_CA_DONE;
	case MIGDP_CD_RUNNING:
		return MIGDP_CA_SEND_CONFIRM;	/* our CONFIRM was lost */
	default:
		return 0;	/* no verified READY sent, or discarded */
	}
}

unsigned
migdp_commit_dst_tick(struct migdp_commit_dst *d, uint64_t now_ns)
{
	if (d->phase != MIGDP_CD_READY ||
	    now_ns - d->ready_at_ns < d->go_timeout_ns)
		return 0;
	d->phase = MIGDP_CD_DISCARDED;
	d->result = MIGDP_CR_FAILED;
	snprintf(d->reason, sizeof(d->reason),
		 "no go after ready: discarded, VM not resumed");
	return MIGDP_CA_DONE;
}

enum migdp_commit_result
migdp_commit_dst_result(const struct migdp_commit_dst *d)
{
	return d->result;
}
