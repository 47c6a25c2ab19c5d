/* SPDX-License-Identifier: BSD-3-Clause */
/* Per-channel reliable transport, receiving side: the receiver window and
 * its ACKs, and the per-page version table (DESIGN decision 4). Pure logic;
 * see transport.h. */
#include <errno.h>
#include <string.h>

#include <rte_common.h>

#include "transport.h"

#define NS_PER_US 1000ull

/* ---- receiver ---------------------------------------------------------- */

static bool
rx_params(const struct migdp_rx_params *in, struct migdp_rx_params *p)
{
	*p = *in;
	if (p->window == 0)
		p->window = 1024;
	if (p->ack_every == 0)
		p->ack_every = 16;
	if (p->ack_delay_ns == 0)
		p->ack_delay_ns = 200 * NS_PER_US;
	return p->window <= MIGDP_TX_MAX_WINDOW;
}

static uint32_t
rx_bits(uint32_t window)
{
	return RTE_MAX(rte_align32pow2(window), 64u);
}

size_t
migdp_rx_memsize(const struct migdp_rx_params *in)
{
	struct migdp_rx_params p;

	if (in == NULL || !rx_params(in, &p))
		return 0;
	return sizeof(struct migdp_rx) + rx_bits(p.window) / 8;
}

struct migdp_rx *
migdp_rx_init(void *mem, const struct migdp_rx_params *in, uint32_t isn)
{
	struct migdp_rx *rx = mem;
	size_t sz = migdp_rx_memsize(in);

	if (mem == NULL || sz == 0)
		return NULL;
	memset(rx, 0, sz);
	rx_params(in, &rx->p);
	rx->mask = rx_bits(rx->p.window) - 1;
	/* Extended sequences start at 2^32 + isn: never 0 (the version
	 * table's "unwritten") and never below 2^31 (migdp_seq_extend). */
	rx->next = (1ull << 32) + isn;
	rx->high = rx->next;
	rx->last = rx->next - 1;
	return rx;
}

static bool
rx_bit(const struct migdp_rx *rx, uint64_t e)
{
	uint32_t b = e & rx->mask;

	return (rx->bitmap[b / 64] >> (b % 64)) & 1;
}

static void
rx_bit_set(struct migdp_rx *rx, uint64_t e, bool on)
{
	uint32_t b = e & rx->mask;

	if (on)
		rx->bitmap[b / 64] |= 1ull << (b % 64);
	else
		rx->bitmap[b / 64] &= ~(1ull << (b % 64));
}

enum migdp_rx_class
migdp_rx_receive(struct migdp_rx *rx, uint64_t now, uint32_t seq,
		 uint32_t tstamp, uint16_t flags, uint64_t *ext)
{
	uint64_t e = migdp_seq_extend(rx->next, seq);
	bool in_order;

	*ext = e;
	if (e < rx->next && rx->next - e > rx->p.window) {
		rx->stats.old++;
		return MIGDP_RX_OLD;
	}
	if (e >= rx->next + rx->p.window) {
		rx->stats.ahead++;
		return MIGDP_RX_AHEAD;
	}
	if (e < rx->next || rx_bit(rx, e)) {
		rx->stats.dups++;
		rx->ack_now = true;	/* our ack may have been lost */
		return MIGDP_RX_DUP;
	}
	/* Neither out of order nor filling a hole: the ack may wait. */
	in_order = e == rx->next && rx->high == rx->next;
	rx_bit_set(rx, e, true);
	rx->stats.new_frames++;
	rx->last = e;
	/* The newest stamp since the last ack (see migdp_rx_make_ack()). */
	if (rx->unacked == 0 || (int32_t)(tstamp - rx->last_tstamp) > 0)
		rx->last_tstamp = tstamp;
	if (e >= rx->high)
		rx->high = e + 1;
	if (rx->unacked++ == 0)
		rx->unacked_since = now;
	while (rx_bit(rx, rx->next)) {
		rx_bit_set(rx, rx->next, false);
		rx->next++;
	}
	if (!in_order || (flags & MIGDP_F_ACK_NOW))
		rx->ack_now = true;
	return MIGDP_RX_NEW;
}

bool
migdp_rx_ack_due(const struct migdp_rx *rx, uint64_t now)
{
	return rx->ack_now || rx->unacked >= rx->p.ack_every ||
		(rx->unacked > 0 && now >= rx->unacked_since + rx->p.ack_delay_ns);
}

/* The run of received sequences around @p e: [*start, *end). */
static bool
rx_block_of(const struct migdp_rx *rx, uint64_t e, uint64_t *start,
	    uint64_t *end)
{
	if (e < rx->next || e >= rx->high || !rx_bit(rx, e))
		return false;
	for (*start = e; *start > rx->next && rx_bit(rx, *start - 1); (*start)--)
		;
	for (*end = e + 1; *end < rx->high && rx_bit(rx, *end); (*end)++)
		;
	return true;
}

void
migdp_rx_make_ack(struct migdp_rx *rx, struct migdp_ack *ack,
		  unsigned max_sack)
{
	uint64_t e = rx->high, start, end, first_start = 0, first_end = 0;
	unsigned n = 0;

	max_sack = RTE_MIN(max_sack, MIGDP_MAX_SACK);
	ack->cum_ack = (uint32_t)rx->next;
	ack->ts_echo = rx->last_tstamp;
	if (max_sack > 0 && rx_block_of(rx, rx->last, &first_start, &first_end)) {
		ack->sack[n].start = (uint32_t)first_start;
		ack->sack[n++].end = (uint32_t)first_end;
	}
	/* The rest from the highest down. O(high - next) bit tests, only
	 * while there are holes (otherwise high == next). */
	while (e > rx->next && n < max_sack) {
		while (e > rx->next && !rx_bit(rx, e - 1))
			e--;
		if (e == rx->next)
			break;
		end = e;
		while (e > rx->next && rx_bit(rx, e - 1))
			e--;
		start = e;
		if (start == first_start && end == first_end)
			continue;
		ack->sack[n].start = (uint32_t)start;
		ack->sack[n++].end = (uint32_t)end;
	}
	ack->nsack = n;
	rx->unacked = 0;
	rx->ack_now = false;
	rx->stats.acks++;
}

/* ---- version table ----------------------------------------------------- */

size_t
migdp_vtab_memsize(uint64_t npages)
{
	if (npages > (SIZE_MAX - sizeof(struct migdp_vtab)) / sizeof(uint64_t))
		return 0;
	return sizeof(struct migdp_vtab) + npages * sizeof(uint64_t);
}

struct migdp_vtab *
migdp_vtab_init(void *mem, uint64_t npages)
{
	struct migdp_vtab *vt = mem;
	size_t sz = migdp_vtab_memsize(npages);

	if (mem == NULL || sz == 0)
		return NULL;
	memset(vt, 0, sz);
	vt->npages = npages;
	return vt;
}

bool
migdp_vtab_should_apply(struct migdp_vtab *vt, uint64_t page, uint64_t ver)
{
	if (page >= vt->npages || ver <= vt->ver[page])
		return false;
	vt->ver[page] = ver;
	return true;
}

bool
migdp_vtab_should_apply_frag(struct migdp_vtab *vt, uint64_t page,
			     uint64_t ver)
{
	if (page >= vt->npages || ver == 0 || ver < vt->ver[page])
		return false;
	vt->ver[page] = ver;
	return true;
}
