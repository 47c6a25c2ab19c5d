/* SPDX-License-Identifier: BSD-3-Clause */
#include "fault.h"

static inline uint32_t
rnd(struct migdp_fault *f)
{
	/* splitmix64: fast, seedable, good enough to pick frames */
	uint64_t z = (f->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (uint32_t)((z ^ (z >> 31)) >> 32);
}

static uint64_t
threshold(double frac)
{
	if (frac <= 0)
		return 0;
	if (frac >= 1)
		return 1ull << 32;
	return (uint64_t)(frac * 4294967296.0);
}

void
migdp_fault_init(struct migdp_fault *f, double drop, double dup,
		 double reorder, double corrupt, uint64_t seed,
		 struct rte_mempool *pool)
{
	*f = (struct migdp_fault){
		.drop = threshold(drop), .dup = threshold(dup),
		.reorder = threshold(reorder), .corrupt = threshold(corrupt),
		.rng = seed, .pool = pool,
	};
	f->active = f->drop || f->dup || f->reorder || f->corrupt;
}

/* Flip one bit somewhere after the Ethernet header, in a private copy. */
static struct rte_mbuf *
corrupt_copy(struct migdp_fault *f, struct rte_mbuf *m)
{
	struct rte_mbuf *c = rte_pktmbuf_copy(m, f->pool, 0, UINT32_MAX);
	uint32_t off;
	uint8_t *b;

	rte_pktmbuf_free(m);
	if (c == NULL || rte_pktmbuf_pkt_len(c) <= 14 ||
	    rte_pktmbuf_linearize(c) < 0)
		return c;
	off = 14 + rnd(f) % (rte_pktmbuf_pkt_len(c) - 14);
	b = rte_pktmbuf_mtod_offset(c, uint8_t *, off);
	*b ^= (uint8_t)(1u << (rnd(f) & 7));
	return c;
}

uint16_t
migdp_fault_apply(struct migdp_fault *f, struct rte_mbuf **pkts, uint16_t n)
{
	struct rte_mbuf *in[MIGDP_FAULT_MAX_BURST];
	uint16_t i, out = 0;

	if (!f->active || n == 0)
		return n;
	if (n > MIGDP_FAULT_MAX_BURST)
		n = MIGDP_FAULT_MAX_BURST;
	for (i = 0; i < n; i++)
		in[i] = pkts[i];
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = in[i];

		if (rnd(f) < f->drop) {
			rte_pktmbuf_free(m);
			f->st.dropped++;
			continue;
		}
		if (rnd(f) < f->corrupt) {
			m = corrupt_copy(f, m);
			if (m == NULL)
				continue;
			f->st.corrupted++;
		}
		if (rnd(f) < f->dup) {
			struct rte_mbuf *d = rte_pktmbuf_copy(m, f->pool, 0, UINT32_MAX);

			if (d != NULL) {
				pkts[out++] = d;
				f->st.duplicated++;
			}
		}
		if (f->held == NULL && rnd(f) < f->reorder) {
			f->held = m; /* goes out after a later frame */
			f->st.reordered++;
			continue;
		}
		pkts[out++] = m;
		if (f->held != NULL) {
			pkts[out++] = f->held;
			f->held = NULL;
		}
	}
	return out;
}

uint16_t
migdp_fault_flush(struct migdp_fault *f, struct rte_mbuf **pkts)
{
	if (f->held == NULL)
		return 0;
	pkts[0] = f->held;
	f->held = NULL;
	return 1;
}
