/* SPDX-License-Identifier: BSD-3-Clause */
/* migctl's private header: the rendering of query-migrate (migctl_show.c)
 * used by the commands (migctl.c). */
#ifndef MIGCTL_H
#define MIGCTL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define PAGE_BYTES 4096.0	/* guest pages */
#define MIB (1024.0 * 1024.0)

/* A number at @p key of @p o: true and *@p v if present. */
static inline bool
num(const json_t *o, const char *key, double *v)
{
	json_t *j = json_object_get(o, key);

	if (!json_is_number(j))
		return false;
	*v = json_number_value(j);
	return true;
}

static inline const char *
str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* The string at @p key, or @p dflt. */
static inline const char *
str_or(const json_t *o, const char *key, const char *dflt)
{
	const char *s = str(o, key);

	return s != NULL ? s : dflt;
}

/** The "state" of a reply, "unknown" without one. */
const char *
state_of(const json_t *r);

/** completed, failed or cancelled. */
bool
is_terminal(const char *state);

/** failed or cancelled. */
bool
is_failure(const char *state);

/** Position among precopy, switchover, device-state, commit: -1 before
 * them (or unknown), 4 for completed. */
int
phase_index(const char *state);

/** One plain line, e.g. "precopy round 3: 812/1024 MiB 79% 9.8 Gb/s ...". */
void
fmt_plain(char *buf, size_t len, const json_t *r);

/** @p key of @p e divided by @p div in a column of @p width, or "-". */
void
print_col(const json_t *e, const char *key, int width, int prec, double div);

/** The last line of watch: how it ended. */
void
print_summary(const json_t *r);

/** Everything in the reply, for status. */
void
print_status(const json_t *r);

/**
 * Draw the live display of watch on a terminal, over the previous one.
 * @param last_phase the last phase seen (the current one while running).
 * @param lines what the previous call returned (0 the first time).
 * @return the lines drawn.
 */
unsigned
draw_live(const json_t *r, const char *last_phase, unsigned lines);

#endif
