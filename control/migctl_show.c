/* SPDX-License-Identifier: BSD-3-Clause */
/* migctl's rendering of a query-migrate reply: the status text, the plain
 * lines and the live display of watch, the summary. Every field may be
 * missing: only what is there is shown. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "migctl.h"

/* "9.8 Gb/s" and the like into @p buf. */
static const char *
fmt_rate(char *buf, size_t len, double bps)
{
	if (bps >= 1e9)
		snprintf(buf, len, "%.1f Gb/s", bps / 1e9);
	else
		snprintf(buf, len, "%.0f Mb/s", bps / 1e6);
	return buf;
}

/* Rendering a query-migrate reply */

static const char *const phases[] = {"precopy", "switchover", "device-state",
	"commit"};
#define NPHASES 4

bool
is_terminal(const char *state)
{
	return strcmp(state, "completed") == 0 || strcmp(state, "failed") == 0 ||
	       strcmp(state, "cancelled") == 0;
}

bool
is_failure(const char *state)
{
	return strcmp(state, "failed") == 0 || strcmp(state, "cancelled") == 0;
}

const char *
state_of(const json_t *r)
{
	return str_or(r, "state", "unknown");
}

/* Position of @p state among the phases: -1 before them, NPHASES after. */
int
phase_index(const char *state)
{
	int i;

	for (i = 0; i < NPHASES; i++)
		if (strcmp(state, phases[i]) == 0)
			return i;
	return strcmp(state, "completed") == 0 ? NPHASES : -1;
}

/* Pages of the current pass: done and total, from round_done/round_total,
 * else transferred/total. False when neither is there. */
static bool
pass_pages(const json_t *r, double *done, double *total)
{
	const json_t *p = json_object_get(r, "pages");

	if (num(p, "round_done", done) && num(p, "round_total", total) &&
	    *total > 0)
		return true;
	if (num(p, "transferred", done) && num(p, "total", total) && *total > 0) {
		if (*done > *total)
			*done = *total;
		return true;
	}
	return false;
}

/* Pages are being sent: pre-copy or the final pass of the switchover. */
static bool
in_pass(const json_t *r)
{
	return strcmp(state_of(r), "precopy") == 0 ||
	       strcmp(state_of(r), "switchover") == 0;
}

/* Rate, ETA, downtime, dirty rate, throttle: what is present, into @p buf. */
static void
fmt_stats(char *buf, size_t len, const json_t *r, bool plain)
{
	double v, done, total;
	char rate[32];
	size_t n = 0;

	buf[0] = '\0';
#define ADD(...) do { \
		if (n < len) \
			n += snprintf(buf + n, len - n, __VA_ARGS__); \
	} while (0)
	if (num(r, "bandwidth_bps", &v) && v > 0) {
		ADD(" %s", fmt_rate(rate, sizeof(rate), v));
		if (in_pass(r) && pass_pages(r, &done, &total))
			ADD(" eta %.1f s", (total - done) * PAGE_BYTES * 8 / v);
	}
	if (num(r, "expected_downtime_ms", &v))
		ADD(plain ? " expected-downtime %.0f ms" : "  expected downtime %.0f ms", v);
	if (num(r, "dirty_rate_pps", &v))
		ADD(" dirty %.1f kpages/s", v / 1000);
	if (num(r, "throttle_pct", &v) && v > 0)
		ADD(" throttle %.0f%%", v);
#undef ADD
}

/* The plain line of one update, e.g.
 * "precopy round 3: 812/1024 MiB 79% 9.8 Gb/s eta 0.2 s ...". */
void
fmt_plain(char *buf, size_t len, const json_t *r)
{
	const char *state = state_of(r);
	double round, done, total;
	char stats[256];
	int n;

	n = snprintf(buf, len, "%s", state);
	if (num(r, "round", &round) && round > 0 && phase_index(state) >= 0 &&
	    phase_index(state) < NPHASES)
		n += snprintf(buf + n, len - n, " round %.0f", round);
	if (in_pass(r) && pass_pages(r, &done, &total))
		n += snprintf(buf + n, len - n, ": %.0f/%.0f MiB %.0f%%",
			      done * PAGE_BYTES / MIB, total * PAGE_BYTES / MIB,
			      100 * done / total);
	fmt_stats(stats, sizeof(stats), r, true);
	snprintf(buf + n, len - n, "%s", stats);
}

/* The last line of watch (and of a finished status). */
void
print_summary(const json_t *r)
{
	const char *state = state_of(r), *reason = str(r, "reason");
	const json_t *b = json_object_get(r, "bytes");
	double v, g, w;

	printf("%s", state);
	if (num(r, "total_ms", &v))
		printf(" after %.1f s", v / 1000);
	if (is_failure(state)) {
		if (reason == NULL || reason[0] == '\0')
			reason = "no reason given";
		printf(": %s\n", reason);
		return;
	}
	if (num(r, "downtime_ms", &v))
		printf(", downtime %.1f ms", v);
	if (num(r, "round", &v))
		printf(", %.0f rounds", v);
	if (num(b, "guest", &g))
		printf(", %.0f MiB guest", g / MIB);
	if (num(b, "wire", &w))
		printf(", %.0f MiB on the wire", w / MIB);
	if (num(r, "compression_ratio", &v))
		printf(" (ratio %.2f)", v);
	putchar('\n');
}

/* @p key of @p e scaled by @p div in a column of @p width, or "-". */
void
print_col(const json_t *e, const char *key, int width, int prec, double div)
{
	double v;

	if (num(e, key, &v))
		printf(" %*.*f", width, prec, v / div);
	else
		printf(" %*s", width, "-");
}

static void
print_rounds(const json_t *rounds)
{
	const json_t *e;
	size_t i;

	if (json_array_size(rounds) == 0)
		return;
	printf("rounds:\n %5s %10s %10s %9s %9s %12s\n", "round", "pages",
	       "wire MiB", "ms", "Gb/s", "dirty kp/s");
	json_array_foreach(rounds, i, e) {
		print_col(e, "round", 5, 0, 1);
		print_col(e, "pages", 10, 0, 1);
		print_col(e, "wire_bytes", 10, 1, MIB);
		print_col(e, "ms", 9, 1, 1);
		print_col(e, "bandwidth_bps", 9, 2, 1e9);
		print_col(e, "dirty_rate_pps", 12, 1, 1000);
		putchar('\n');
	}
}

static void
print_channels(const json_t *chans)
{
	const json_t *e;
	size_t i;

	if (json_array_size(chans) == 0)
		return;
	printf("channels:\n %3s %-10s %12s %11s %10s\n", "id", "state", "frames",
	       "retransmits", "wire MiB");
	json_array_foreach(chans, i, e) {
		print_col(e, "id", 3, 0, 1);
		printf(" %-10s", str_or(e, "state", "-"));
		print_col(e, "frames", 12, 0, 1);
		print_col(e, "retransmits", 11, 0, 1);
		print_col(e, "wire_bytes", 10, 1, MIB);
		putchar('\n');
	}
}

static void
print_parameters(const json_t *params)
{
	const char *key;
	json_t *v;
	char *s;

	if (json_object_size(params) == 0)
		return;
	printf("parameters:");
	json_object_foreach((json_t *)params, key, v) {
		s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		printf(" %s=%s", key, s != NULL ? s : "?");
		free(s);
	}
	putchar('\n');
}

/* A stream session's connections (docs/qemu.md). */
static void
print_stream(const json_t *st)
{
	const json_t *chans = json_object_get(st, "channels"), *c;
	double n = 0, out = 0, in = 0, v;
	size_t i;

	num(st, "connections", &n);
	num(st, "bytes_sent", &out);
	num(st, "bytes_received", &in);
	printf("stream: %s, %.0f connections, %.1f MiB sent, %.1f MiB received\n",
	       str_or(st, "socket", "-"), n, out / MIB, in / MIB);
	printf("  channel state        MiB sent  MiB received  zstd ratio\n");
	json_array_foreach(chans, i, c) {
		double z = 0, zp = 0;

		num(c, "zstd_bytes", &z);
		num(c, "zstd_plain", &zp);
		printf("  %7.0f %-10s", num(c, "channel", &v) ? v : -1.0, str_or(c, "state", "-"));
		print_col(c, "bytes_sent", 10, 1, MIB);
		print_col(c, "bytes_received", 14, 1, MIB);
		if (z > 0)
			printf("  %10.2f\n", zp / z);
		else
			printf("  %10s\n", "-");
	}
}

void
print_status(const json_t *r)
{
	const json_t *p = json_object_get(r, "pages"), *b = json_object_get(r, "bytes");
	const json_t *d = json_object_get(r, "downtime");
	const char *reason = str(r, "reason");
	char line[512];
	double v, w;

	printf("session %s  vm %s  role %s\n", str_or(r, "id", "-"),
	       str_or(r, "vm", "-"), str_or(r, "role", "-"));
	fmt_plain(line, sizeof(line), r);
	printf("state: %s\n", line);
	if (reason != NULL && reason[0] != '\0')
		printf("reason: %s\n", reason);
	if (json_object_get(r, "stream") != NULL) {
		print_stream(json_object_get(r, "stream"));
		if (num(b, "wire", &w))
			printf("bytes on the wire: %.1f MiB\n", w / MIB);
		if (num(r, "total_ms", &v))
			printf("elapsed: %.1f s\n", v / 1000);
		return;
	}
	if (num(p, "total", &v) && num(p, "transferred", &w)) {
		printf("pages: %.0f transferred of %.0f", w, v);
		if (num(p, "remaining", &v))
			printf(", %.0f remaining", v);
		putchar('\n');
	}
	if (num(b, "guest", &v) && num(b, "wire", &w))
		printf("bytes: %.1f MiB guest, %.1f MiB on the wire\n", v / MIB, w / MIB);
	if (num(r, "compression_ratio", &v))
		printf("compression ratio: %.2f\n", v);
	if (num(r, "total_ms", &v))
		printf("elapsed: %.1f s\n", v / 1000);
	if (num(r, "downtime_ms", &v)) {
		printf("downtime: %.1f ms", v);
		if (num(d, "final_pass_ms", &v))
			printf(", final pass %.1f ms", v);
		if (num(d, "device_state_ms", &v))
			printf(", device state %.1f ms", v);
		if (num(d, "commit_ms", &v))
			printf(", commit %.1f ms", v);
		putchar('\n');
	}
	print_parameters(json_object_get(r, "parameters"));
	print_rounds(json_object_get(r, "rounds"));
	print_channels(json_object_get(r, "channels"));
}

/* Live display on a terminal: a header, one bar per phase, a stats line.
 * @p lines: how many lines the previous drawing took (0 the first time). */
unsigned
draw_live(const json_t *r, const char *last_phase, unsigned lines)
{
	const char *state = state_of(r);
	int cur = phase_index(last_phase), i, j, fill;
	double round, done, total, pct;
	char stats[256], bar[41];

	if (lines > 0)
		printf("\033[%uA", lines);
	printf("\r\033[Kmigration %s  vm %s  %s: %s\n",
	       str_or(r, "id", "-"), str_or(r, "vm", "-"),
	       str_or(r, "role", "-"), state);
	for (i = 0; i < NPHASES; i++) {
		pct = i < cur ? 100 : -1;
		if (i == cur && i < 2 && pass_pages(r, &done, &total))
			pct = 100 * done / total;
		fill = pct < 0 ? 0 : (int)(pct * 40 / 100);
		for (j = 0; j < 40; j++)
			bar[j] = j < fill ? '#' : '.';
		bar[40] = '\0';
		printf("\r\033[K  %-13s [%s] ", phases[i], bar);
		if (pct >= 0)
			printf("%3.0f%%", pct);
		else
			printf(i == cur ? " ..." : "   -");
		if (i == 0 && cur == 0 && num(r, "round", &round))
			printf("  round %.0f", round);
		if (i == cur && i < 2 && pass_pages(r, &done, &total))
			printf("  %.0f/%.0f MiB", done * PAGE_BYTES / MIB,
			       total * PAGE_BYTES / MIB);
		putchar('\n');
	}
	fmt_stats(stats, sizeof(stats), r, false);
	printf("\r\033[K %s\n", stats);
	fflush(stdout);
	return NPHASES + 2;
}

