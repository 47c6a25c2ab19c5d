/* SPDX-License-Identifier: BSD-3-Clause */
/* The adaptive chooser (model and probing in adapt.h). Options: 0 = raw,
 * 1..nlevels = zstd levels from fastest to strongest. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "codec.h"

static const int default_levels[] = {-7, -5, -3, -1, 1, 3};

int
migdp_adapt_init(struct migdp_adapt *a, const struct migdp_adapt_params *p)
{
	unsigned i, j;

	memset(a, 0, sizeof(*a));
	if (p != NULL)
		a->p = *p;
	if (a->p.nlevels == 0) {
		a->p.nlevels = RTE_DIM(default_levels);
		memcpy(a->p.levels, default_levels, sizeof(default_levels));
	}
	if (a->p.nlevels > MIGDP_ADAPT_MAX_LEVELS)
		return -EINVAL;
	for (i = 0; i < a->p.nlevels; i++) {
		if (!migdp_codec_level_valid(a->p.levels[i]))
			return -EINVAL;
		for (j = 0; j < i; j++)
			if (a->p.levels[j] == a->p.levels[i])
				return -EINVAL;
	}
	if (a->p.probe_every == 0)
		a->p.probe_every = 16;
	if (a->p.probe_pct == 0)
		a->p.probe_pct = 2;
	if (a->p.margin_pct == 0)
		a->p.margin_pct = 5;
	if (a->p.ewma_shift == 0)
		a->p.ewma_shift = 3;
	a->nopt = 1 + a->p.nlevels;
	a->st.cur.method = MIGDP_CODEC_RAW;
	return 0;
}

void
migdp_adapt_set_link(struct migdp_adapt *a, uint64_t bytes_per_s)
{
	a->p.link_bytes_per_s = bytes_per_s;
}

/* L: the configured share, lowered to what was measured; 0 = unknown. */
static double
link_rate(const struct migdp_adapt *a)
{
	double cfg = (double)a->p.link_bytes_per_s;

	if (a->link_meas > 0 && (cfg == 0 || a->link_meas < cfg))
		return a->link_meas;
	return cfg;
}

/* E(o) in guest bytes/s; INFINITY when nothing limits it yet. */
static double
effective(const struct migdp_adapt *a, unsigned o)
{
	const struct migdp_adapt_est *e = &a->est[o];
	double l = link_rate(a);

	if (l == 0)
		return e->cpu;
	return fmin(e->cpu, l * e->ratio);
}

static struct migdp_codec_choice
choice(const struct migdp_adapt *a, unsigned o, bool probe)
{
	struct migdp_codec_choice c = {.method = MIGDP_CODEC_RAW, .probe = probe};

	if (o > 0) {
		c.method = MIGDP_CODEC_ZSTD;
		c.level = a->p.levels[o - 1];
	}
	return c;
}

static unsigned
best_option(const struct migdp_adapt *a)
{
	unsigned o, best = 0;

	for (o = 1; o < a->nopt; o++)
		if (effective(a, o) > effective(a, best))
			best = o;
	return best;
}

struct migdp_codec_choice
migdp_adapt_choose(struct migdp_adapt *a)
{
	double margin = 1 + a->p.margin_pct / 100.0;
	unsigned o, best;

	a->batch++;
	for (o = 0; o < a->nopt; o++) /* never measured: try it once */
		if (a->est[o].n == 0)
			return choice(a, o, true);
	if (a->batch % a->p.probe_every == 0 &&
	    a->ns_probe * 100 <= a->ns_total * a->p.probe_pct) {
		a->probe_side ^= 1;
		o = a->probe_side ? a->cur + 1 : a->cur - 1;
		if (a->cur == 0 || o >= a->nopt) /* at an end: the other side */
			o = a->cur == 0 ? 1 : a->cur - 1;
		return choice(a, o, true);
	}
	best = best_option(a);
	if (best != a->cur &&
	    (effective(a, best) > effective(a, a->cur) * margin ||
	     (a->cur != 0 && effective(a, 0) >= effective(a, a->cur)))) {
		a->cur = best;
		a->st.switches++;
	}
	a->st.cur = choice(a, a->cur, false);
	a->st.link_rate = link_rate(a);
	a->st.rate_raw = effective(a, 0);
	a->st.rate_cur = effective(a, a->cur);
	return a->st.cur;
}

static void
ewma(double *v, double sample, uint64_t n, unsigned shift)
{
	*v = n == 0 ? sample : *v + (sample - *v) / (double)(1u << shift);
}

void
migdp_adapt_account(struct migdp_adapt *a, const struct migdp_codec_choice *c,
		    const struct migdp_adapt_batch *b)
{
	uint64_t in = (uint64_t)b->pages * MIGDP_PAGE_SIZE;
	struct migdp_adapt_est *e = NULL;
	double rate;
	unsigned o;

	a->st.pages_zero += b->pages_zero;
	a->st.bytes_in += in;
	a->st.bytes_out += b->bytes_out;
	if (in > b->bytes_out)
		a->st.bytes_saved += in - b->bytes_out;
	a->st.probes += c->probe;
	a->ns_total += b->ns;
	if (c->method == MIGDP_CODEC_RAW) {
		a->st.pages_raw += b->pages;
		a->st.ns_raw += b->ns;
		a->st.batches_raw++;
		e = &a->est[0];
	} else {
		a->st.pages_zstd += b->pages - b->pages_fallback;
		a->st.pages_fallback += b->pages_fallback;
		a->st.ns_zstd += b->ns;
		a->st.batches_zstd++;
		for (o = 1; o < a->nopt; o++) /* not a candidate: counters only */
			if (a->p.levels[o - 1] == c->level)
				e = &a->est[o];
	}
	if (e == NULL || b->pages == 0 || b->ns == 0 || b->bytes_out == 0)
		return;
	if (c->probe && e->n > 0) /* the first try of each is not budgeted */
		a->ns_probe += b->ns;
	/* Wall time, descheduling included: on a shared machine that is the
	 * rate the method really gets (setting slow samples aside made zstd
	 * look 1.5x faster than it ran over a 1 Gb/s link). */
	rate = (double)in * 1e9 / (double)b->ns;
	ewma(&e->cpu, rate, e->n, a->p.ewma_shift);
	ewma(&e->ratio, (double)in / (double)b->bytes_out, e->n,
	     a->p.ewma_shift);
	e->n++;
}

void
migdp_adapt_link(struct migdp_adapt *a, uint64_t interval_ns,
		 uint64_t wire_bytes, bool saturated)
{
	double rate;

	if (interval_ns == 0)
		return;
	rate = (double)wire_bytes * 1e9 / (double)interval_ns;
	if (saturated)
		ewma(&a->link_meas, rate, a->link_meas == 0 ? 0 : 1,
		     a->p.ewma_shift);
	else if (a->link_meas > 0 && rate > a->link_meas)
		a->link_meas = rate;
}
