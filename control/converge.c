/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Convergence policy. The model:
 *
 * - Round k's dirty set was harvested at start(k). For k >= 2 it holds the
 *   pages dirtied between start(k-1) and start(k), so
 *       dirty_rate = pages(k) / (start(k) - start(k-1)).
 *   Round 1 is all of memory: its dirty rate is unknown.
 * - At the end of round k, the pages dirtied since its harvest are
 *       remaining = dirty_rate * (end(k) - start(k)), capped at guest_pages.
 * - Bandwidth (wire bytes/s) = wire_bytes / (end - start) of a round, but
 *   only rounds of at least 4 MiB on the wire update it (small rounds
 *   measure latency); EWMA 0.5 with the previous measurement. The estimate
 *   used is the measurement, else the link hint, capped at
 *   max_bandwidth_bps / 8 when that is set. With none of these the round's
 *   own rate stands in, as a lower bound (it is never stored).
 * - Ratio = wire_bytes / (pages * 4096) of a round (compression, headers),
 *   at most 1.05, EWMA 0.5.
 * - expected_downtime_ms = remaining * 4096 * ratio / bandwidth * 1000
 *                          + switchover_cost_ms.
 *
 * Decision: round 1 goes on (nothing known). From round 2: expected
 * downtime within the limit -> switch over; else max_rounds reached ->
 * fail; else with auto-converge, after two rounds in a row that did not
 * shrink (pages(k) > 0.9 pages(k-1); QEMU waits for two too) -> throttle
 * (initial, then + step, capped at max; at max: next round); else next
 * round.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "converge.h"

#define PAGE_BYTES 4096.0
#define RATIO_MAX 1.05

static const char *const decision_names[] = {
#define _(n, s) [MIGDP_CONV_##n] = s,
	MIGDP_FOREACH_CONV_DECISION(_)
#undef _
};

const char *
migdp_conv_decision_name(enum migdp_conv_decision d)
{
	return (unsigned)d < MIGDP_CONV_MAX ? decision_names[d] : "unknown";
}

void
migdp_conv_params_default(struct migdp_conv_params *p)
{
	memset(p, 0, sizeof(*p));
	p->downtime_limit_ms = 300;
	p->max_bandwidth_bps = 0;
	p->max_rounds = 30;
	p->auto_converge = false;
	p->throttle_initial_pct = 20;
	p->throttle_step_pct = 10;
	p->throttle_max_pct = 99;
}

/* ---------------------------------------------------------------------- */
/* Parameters from text */

/* A decimal unsigned number, all of @s, with an optional K/M/G suffix
 * when @suffix. */
static int
parse_u64(const char *s, bool suffix, uint64_t *out)
{
	unsigned long long v, mult = 1;
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -EINVAL;
	if (suffix && *end != '\0' && end[1] == '\0') {
		switch (*end) {
		case 'k': case 'K': mult = 1000ull; break;
		case 'm': case 'M': mult = 1000000ull; break;
		case 'g': case 'G': mult = 1000000000ull; break;
		default: return -EINVAL;
		}
		end++;
	}
	if (*end != '\0' || (v != 0 && mult > UINT64_MAX / v))
		return -EINVAL;
	*out = v * mult;
	return 0;
}

static int
parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"on", "true", "1"};
	static const char *const no[] = {"off", "false", "0"};
	unsigned i;

	if (s == NULL)
		return -EINVAL;
	for (i = 0; i < 3; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* Integer keys: name, field, range, unit. */
static const struct {
	const char *key;
	size_t off;
	uint32_t lo, hi;
	const char *unit;
} uint_keys[] = {
#define K(name, field, lo, hi, unit) \
	{name, offsetof(struct migdp_conv_params, field), lo, hi, unit}
	K("downtime-limit", downtime_limit_ms, 1, 600000, " ms"),
	K("max-rounds", max_rounds, 1, 10000, ""),
	K("throttle-initial", throttle_initial_pct, 1, 99, " %"),
	K("throttle-step", throttle_step_pct, 1, 99, " %"),
	K("throttle-max", throttle_max_pct, 1, 99, " %"),
#undef K
};

static int
bad(char *err, size_t errlen, const char *key, const char *value,
    const char *accepted)
{
	snprintf(err, errlen, "%s: '%s' refused (accepted: %s)", key,
		 value != NULL ? value : "", accepted);
	return -EINVAL;
}

int
migdp_conv_param_set(struct migdp_conv_params *p, const char *key,
		     const char *value, char *err, size_t errlen)
{
	struct migdp_conv_params n = *p;
	char range[64];
	unsigned i;
	uint64_t v;

	if (key == NULL)
		return bad(err, errlen, "(null)", value, "a parameter name");
	if (strcmp(key, "max-bandwidth") == 0) {
		if (parse_u64(value, true, &v) < 0)
			return bad(err, errlen, key, value, "bits/s, 0 for "
				   "line rate, optional suffix K, M or G");
		p->max_bandwidth_bps = v;
		return 0;
	}
	if (strcmp(key, "auto-converge") == 0) {
		if (parse_bool(value, &n.auto_converge) < 0)
			return bad(err, errlen, key, value,
				   "on, off, true, false, 1, 0");
		*p = n;
		return 0;
	}
	for (i = 0; i < sizeof(uint_keys) / sizeof(uint_keys[0]); i++) {
		if (strcmp(key, uint_keys[i].key) == 0)
			break;
	}
	if (i == sizeof(uint_keys) / sizeof(uint_keys[0])) {
		snprintf(err, errlen, "unknown parameter '%s' (accepted: "
			 "downtime-limit, max-bandwidth, max-rounds, "
			 "auto-converge, throttle-initial, throttle-step, "
			 "throttle-max)", key);
		return -EINVAL;
	}
	if (parse_u64(value, false, &v) < 0 || v < uint_keys[i].lo ||
	    v > uint_keys[i].hi) {
		snprintf(range, sizeof(range), "%u..%u%s", uint_keys[i].lo,
			 uint_keys[i].hi, uint_keys[i].unit);
		return bad(err, errlen, key, value, range);
	}
	*(uint32_t *)((char *)&n + uint_keys[i].off) = (uint32_t)v;
	if (n.throttle_initial_pct > n.throttle_max_pct) {
		snprintf(err, errlen, "%s: '%s' refused: throttle-initial (%u) "
			 "must not exceed throttle-max (%u)", key, value,
			 n.throttle_initial_pct, n.throttle_max_pct);
		return -EINVAL;
	}
	*p = n;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Estimates and decision */

void
migdp_conv_init(struct migdp_conv *c, const struct migdp_conv_params *p,
		uint64_t guest_pages)
{
	memset(c, 0, sizeof(*c));
	if (p != NULL)
		c->p = *p;
	else
		migdp_conv_params_default(&c->p);
	c->guest_pages = guest_pages;
	c->ratio = 1.0;
	c->switchover_cost_ms = 2.0;
}

void
migdp_conv_set_switchover_cost(struct migdp_conv *c, double ms)
{
	c->switchover_cost_ms = ms > 0 ? ms : 0;
}

void
migdp_conv_set_link_hint(struct migdp_conv *c, double bytes_per_s)
{
	c->link_hint_Bps = bytes_per_s > 0 ? bytes_per_s : 0;
}

static double
ewma(double old, double sample, bool known)
{
	return known ? 0.5 * old + 0.5 * sample : sample;
}

/* The bandwidth to plan with; @round_Bps is this round's own rate. */
static double
bandwidth_estimate(const struct migdp_conv *c, double round_Bps)
{
	double b = c->measured_Bps > 0 ? c->measured_Bps : c->link_hint_Bps;
	double cap = c->p.max_bandwidth_bps / 8.0;

	if (b <= 0)
		b = round_Bps;
	if (cap > 0 && b > cap)
		b = cap;
	return b;
}

static void
update_estimates(struct migdp_conv *c, const struct migdp_round_stat *r)
{
	double dt = r->end_ns > r->start_ns ?
		(double)(r->end_ns - r->start_ns) / 1e9 : 0;
	double round_Bps = dt > 0 ? (double)r->wire_bytes / dt : 0;
	double since, rem;

	if (r->wire_bytes >= MIGDP_CONV_MIN_MEASURE_BYTES && round_Bps > 0)
		c->measured_Bps = ewma(c->measured_Bps, round_Bps,
				       c->measured_Bps > 0);
	c->bandwidth_Bps = bandwidth_estimate(c, round_Bps);

	if (r->pages > 0 && r->wire_bytes > 0) {
		double ratio = (double)r->wire_bytes / (r->pages * PAGE_BYTES);

		if (ratio > RATIO_MAX)
			ratio = RATIO_MAX;
		c->ratio = ewma(c->ratio, ratio, c->ratio_known);
		c->ratio_known = true;
	}

	if (c->rounds >= 2 && r->start_ns > c->prev.start_ns) {
		since = (double)(r->start_ns - c->prev.start_ns) / 1e9;
		c->dirty_rate_pps = (double)r->pages / since;
	}
	rem = c->dirty_rate_pps * dt;
	if (c->guest_pages > 0 && rem > (double)c->guest_pages)
		rem = (double)c->guest_pages;
	c->remaining_pages = (uint64_t)(rem + 0.5);

	if (c->remaining_pages == 0)
		c->expected_downtime_ms = c->switchover_cost_ms;
	else if (c->bandwidth_Bps > 0)
		c->expected_downtime_ms = c->remaining_pages * PAGE_BYTES *
			c->ratio / c->bandwidth_Bps * 1000.0 +
			c->switchover_cost_ms;
	else
		c->expected_downtime_ms = INFINITY;	/* nothing measured */
}

enum migdp_conv_decision
migdp_conv_round_end(struct migdp_conv *c, const struct migdp_round_stat *r)
{
	int n;

	c->rounds++;
	c->prev = c->last;
	c->last = *r;
	update_estimates(c, r);

	n = snprintf(c->why, sizeof(c->why), "round %u: %llu pages, ",
		     c->rounds, (unsigned long long)r->pages);
	if (n < 0 || (size_t)n >= sizeof(c->why))
		n = 0;
	if (c->rounds == 1) {
		snprintf(c->why + n, sizeof(c->why) - n,
			 "dirty rate unknown yet: next round");
		return MIGDP_CONV_NEXT_ROUND;
	}
	if ((double)r->pages > 0.9 * (double)c->prev.pages)
		c->not_shrinking++;
	else
		c->not_shrinking = 0;
	n += snprintf(c->why + n, sizeof(c->why) - n,
		      "dirty %.0f p/s, remaining ~%llu pages, expected downtime "
		      "%.1f ms ", c->dirty_rate_pps,
		      (unsigned long long)c->remaining_pages,
		      c->expected_downtime_ms);
	if ((size_t)n >= sizeof(c->why))
		n = sizeof(c->why) - 1;

	if (c->expected_downtime_ms <= c->p.downtime_limit_ms) {
		snprintf(c->why + n, sizeof(c->why) - n, "<= %u ms: switch over",
			 c->p.downtime_limit_ms);
		return MIGDP_CONV_SWITCHOVER;
	}
	if (c->rounds >= c->p.max_rounds) {
		snprintf(c->why, sizeof(c->why), "did not converge in %u rounds: "
			 "expected downtime %.1f ms > limit %u ms", c->rounds,
			 c->expected_downtime_ms, c->p.downtime_limit_ms);
		return MIGDP_CONV_FAIL;
	}
	if (c->p.auto_converge && c->not_shrinking >= 2 &&
	    c->throttle_pct < c->p.throttle_max_pct) {
		c->throttle_pct = c->throttle_pct == 0 ?
			c->p.throttle_initial_pct :
			c->throttle_pct + c->p.throttle_step_pct;
		if (c->throttle_pct > c->p.throttle_max_pct)
			c->throttle_pct = c->p.throttle_max_pct;
		c->not_shrinking = 0;
		snprintf(c->why + n, sizeof(c->why) - n,
			 "> %u ms, not shrinking: throttle %u%%",
			 c->p.downtime_limit_ms, c->throttle_pct);
		return MIGDP_CONV_THROTTLE;
	}
	snprintf(c->why + n, sizeof(c->why) - n, "> %u ms: next round",
		 c->p.downtime_limit_ms);
	return MIGDP_CONV_NEXT_ROUND;
}
