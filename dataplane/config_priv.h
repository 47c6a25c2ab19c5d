/* SPDX-License-Identifier: BSD-3-Clause */
/* Private to dataplane/config*.c: what a configuration key is (its one
 * value type: a parser and a formatter) and the value types the key table
 * of config.c uses (config_types.c). */
#ifndef MIGDP_CONFIG_PRIV_H
#define MIGDP_CONFIG_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include <rte_cfgfile.h>
#include <rte_common.h>

#include "config.h"

struct cfg_key;

/* Parse @p v into @p dst, or say why not in @p why and return -EINVAL (dst unchanged). */
typedef int (*cfg_parse_t)(const struct cfg_key *k, const char *v, void *dst, char *why,
			   size_t n);
/* Write the value at @p src into @p buf; "" when it is not set. */
typedef void (*cfg_format_t)(const struct cfg_key *k, const void *src, char *buf, size_t n);

struct cfg_type {
	cfg_parse_t parse;
	cfg_format_t format;
};

/* A name an enumerated key accepts; the first one of each value is the one written back. */
struct cfg_name {
	const char *name;
	uint32_t value;
};

#define CFG_REQUIRED 0x1	/* finish() refuses the key left unset */
#define CFG_POW2 0x2		/* integer: a power of two */
#define CFG_HEX 0x4		/* integer: written back in hex */
#define CFG_UNSET0 0x8		/* integer: 0 means not set */

struct cfg_key {
	const char *section;
	const char *name;
	const struct cfg_type *type;
	size_t off, size;		/* target inside struct migdp_config */
	uint64_t min, max;		/* integers, bandwidth */
	const char *def;		/* default, parsed like any value; NULL: none */
	const struct cfg_name *names;	/* enumerations */
	unsigned int flags;
};

/* Longest line rte_cfgfile reads: its buffer, less '\n' and '\0'. */
#define CFG_LINE_MAX (CFG_NAME_LEN + CFG_VALUE_LEN + 2)
#define CFG_WHY_LEN 256
#define CFG_VAL_LEN (MIGDP_DEVICE_LEN + 64)

/* Format a reason into @p buf. @return -EINVAL. */
int __rte_format_printf(3, 4) cfg_bad(char *buf, size_t n, const char *fmt, ...);
/* @p s without leading and trailing white space (trailing ones cut in place). */
char *cfg_strip(char *s);

/* The value types. */
extern const struct cfg_type t_uint, t_codec, t_enum, t_string, t_device, t_lcores,
	t_bandwidth, t_ipv4, t_mac, t_fraction;

#endif
