/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The value types of migdp's configuration keys: one parser and one
 * formatter each (integers, enumerations, strings, devices, lcores,
 * bandwidths, addresses, fractions, codec settings). config.c's key table
 * names them; every bad value is refused with why.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <rte_common.h>
#include <rte_log.h>
#include <rte_string_fns.h>
#include <rte_cfgfile.h>

#include "config_priv.h"

int
cfg_bad(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;

	if (buf != NULL && n > 0) {
		va_start(ap, fmt);
		vsnprintf(buf, n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

char *
cfg_strip(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* ------------------------------------------------------------------------------------------ */
/* Value types */

static void
cfg_store_uint(void *dst, size_t size, uint64_t v)
{
	uint16_t v16 = v;
	uint32_t v32 = v;

	memcpy(dst, size == 2 ? (void *)&v16 : size == 4 ? (void *)&v32 : (void *)&v, size);
}

static uint64_t
cfg_load_uint(const void *src, size_t size)
{
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;

	memcpy(size == 2 ? (void *)&v16 : size == 4 ? (void *)&v32 : (void *)&v64, src, size);
	return size == 2 ? v16 : size == 4 ? v32 : v64;
}

/* Decimal, or hex after 0x; within [min, max]. */
static int
cfg_parse_uint(const struct cfg_key *k, const char *v, void *dst, char *why, size_t n)
{
	bool hex = v[0] == '0' && (v[1] == 'x' || v[1] == 'X');
	unsigned long long x;
	char *end;

	errno = 0;
	x = strtoull(v, &end, hex ? 16 : 10);
	if (!isdigit((unsigned char)v[0]) || (hex && !isxdigit((unsigned char)v[2])) ||
	    errno != 0 || *end != '\0')
		return cfg_bad(why, n, "not a whole number");
	if (x < k->min || x > k->max)
		return cfg_bad(why, n, "must be %" PRIu64 "..%" PRIu64, k->min, k->max);
	if ((k->flags & CFG_POW2) && (x & (x - 1)) != 0)
		return cfg_bad(why, n, "must be a power of two in %" PRIu64 "..%" PRIu64,
			       k->min, k->max);
	cfg_store_uint(dst, k->size, x);
	return 0;
}

static void
cfg_format_uint(const struct cfg_key *k, const void *src, char *buf, size_t n)
{
	uint64_t x = cfg_load_uint(src, k->size);

	if (x == 0 && (k->flags & CFG_UNSET0))
		buf[0] = '\0';
	else
		snprintf(buf, n, (k->flags & CFG_HEX) ? "0x%" PRIx64 : "%" PRIu64, x);
}

static int
cfg_parse_enum(const struct cfg_key *k, const char *v, void *dst, char *why, size_t n)
{
	const struct cfg_name *nm;
	size_t len;

	for (nm = k->names; nm->name != NULL; nm++) {
		if (strcasecmp(nm->name, v) == 0) {
			cfg_store_uint(dst, k->size, nm->value);
			return 0;
		}
	}
	len = snprintf(why, n, "must be one of");
	for (nm = k->names; nm->name != NULL && len < n; nm++)
		len += snprintf(why + len, n - len, "%s %s", nm == k->names ? "" : ",", nm->name);
	return -EINVAL;
}

static void
cfg_format_enum(const struct cfg_key *k, const void *src, char *buf, size_t n)
{
	uint64_t x = cfg_load_uint(src, k->size);
	const struct cfg_name *nm;

	for (nm = k->names; nm->name != NULL && nm->value != x; nm++)
		;
	snprintf(buf, n, "%s", nm->name != NULL ? nm->name : "");
}

static int
cfg_parse_string(const struct cfg_key *k, const char *v, void *dst, char *why, size_t n)
{
	size_t len = strlen(v);

	if (len >= k->size)
		return cfg_bad(why, n, "longer than %zu characters", k->size - 1);
	memcpy(dst, v, len + 1);
	return 0;
}

static void
cfg_format_string(const struct cfg_key *k __rte_unused, const void *src, char *buf, size_t n)
{
	snprintf(buf, n, "%s", (const char *)src);
}

/* Length of the prefix of @p s of the form @p shape ('x' a hex digit, '7' an octal digit,
 * anything else itself), 0 when it does not match. */
static size_t
cfg_match_shape(const char *s, const char *shape)
{
	size_t i;

	for (i = 0; shape[i] != '\0'; i++)
		if (shape[i] == 'x' ? !isxdigit((unsigned char)s[i]) :
		    shape[i] == '7' ? s[i] < '0' || s[i] > '7' : s[i] != shape[i])
			return 0;
	return i;
}

/* A PCI address (0000:03:00.0 or 03:00.0) or a vdev (net_*), then optional ",devargs".
 * Target: struct migdp_port_conf. */
static int
cfg_parse_device(const struct cfg_key *k __rte_unused, const char *v, void *dst, char *why,
		 size_t n)
{
	struct migdp_port_conf *port = dst;
	enum migdp_port_kind kind = MIGDP_PORT_PCI;
	size_t len, i;

	len = cfg_match_shape(v, "xxxx:xx:xx.7");
	if (len == 0)
		len = cfg_match_shape(v, "xx:xx.7");
	if (len != 0 && strtoul(v + len - 4, NULL, 16) > 0x1f)
		return cfg_bad(why, n, "PCI device number must be 00..1f");
	if (len == 0 && strncmp(v, "net_", 4) == 0) {
		kind = MIGDP_PORT_VDEV;
		for (len = 4; isalnum((unsigned char)v[len]) || v[len] == '_'; len++)
			;
		if (len == 4)
			len = 0;
	}
	if (len == 0 || (v[len] != '\0' && (v[len] != ',' || v[len + 1] == '\0')))
		return cfg_bad(why, n, "must be a PCI address (0000:03:00.0 or 03:00.0) or a "
			       "vdev (net_<driver><n>), then optional ,devargs");
	for (i = len; v[i] != '\0'; i++)
		if (isspace((unsigned char)v[i]))
			return cfg_bad(why, n, "devargs must not hold spaces");
	if (strlen(v) >= sizeof(port->device))
		return cfg_bad(why, n, "longer than %zu characters", sizeof(port->device) - 1);
	strcpy(port->device, v);
	port->kind = kind;
	return 0;
}

static void
cfg_format_device(const struct cfg_key *k __rte_unused, const void *src, char *buf, size_t n)
{
	snprintf(buf, n, "%s", ((const struct migdp_port_conf *)src)->device);
}

/* "1,2,3": distinct lcore ids. Target: struct migdp_channels_conf. */
static int
cfg_parse_lcores(const struct cfg_key *k __rte_unused, const char *v, void *dst, char *why,
		 size_t n)
{
	static const char form[] = "must be a comma-separated list of lcore ids, e.g. 1,2";
	struct migdp_channels_conf *ch = dst;
	uint32_t ids[MIGDP_MAX_CHANNELS];
	unsigned int nb = 0, i;
	unsigned long id;
	char *end;

	for (;;) {
		while (isblank((unsigned char)*v))
			v++;
		errno = 0;
		id = strtoul(v, &end, 10);
		if (!isdigit((unsigned char)*v) || errno != 0)
			return cfg_bad(why, n, form);
		if (id >= RTE_MAX_LCORE)
			return cfg_bad(why, n, "lcore %lu: must be 0..%d", id, RTE_MAX_LCORE - 1);
		for (i = 0; i < nb; i++)
			if (ids[i] == id)
				return cfg_bad(why, n, "lcore %lu listed twice", id);
		if (nb == MIGDP_MAX_CHANNELS)
			return cfg_bad(why, n, "more than %d lcores", MIGDP_MAX_CHANNELS);
		ids[nb++] = id;
		for (v = end; isblank((unsigned char)*v); v++)
			;
		if (*v == '\0')
			break;
		if (*v++ != ',')
			return cfg_bad(why, n, form);
	}
	memcpy(ch->lcores, ids, nb * sizeof(ids[0]));
	ch->nb_lcores = nb;
	return 0;
}

static void
cfg_format_lcores(const struct cfg_key *k __rte_unused, const void *src, char *buf, size_t n)
{
	const struct migdp_channels_conf *ch = src;
	size_t len = 0;
	unsigned int i;

	buf[0] = '\0';
	for (i = 0; i < ch->nb_lcores && len < n; i++)
		len += snprintf(buf + len, n - len, "%s%u", i ? "," : "", ch->lcores[i]);
}

static const char cfg_units[] = "kMGT";
static const uint64_t cfg_unit_mult[] = {1000, 1000000, 1000000000, 1000000000000ULL};

/* Bits per second: "0", "400k", "2.5G", "10G", "1T" (1000-based). */
static int
cfg_parse_bandwidth(const struct cfg_key *k, const char *v, void *dst, char *why, size_t n)
{
	const char *u;
	uint64_t bps;
	double x;
	char *end;

	errno = 0;
	x = strtod(v, &end);
	if (!isdigit((unsigned char)v[0]) || v[1] == 'x' || v[1] == 'X' || errno != 0)
		return cfg_bad(why, n, "not a rate in bits per second, e.g. 0, 400k, 2500M, 10G");
	if (*end != '\0') {
		u = strchr(cfg_units, *end == 'K' ? 'k' : *end);
		if (u == NULL || end[1] != '\0')
			return cfg_bad(why, n, "unit must be k, M, G or T (bits per second), "
				       "e.g. 10G");
		x *= cfg_unit_mult[u - cfg_units];
	}
	if (x > (double)k->max)
		return cfg_bad(why, n, "must be at most %" PRIu64 "G", k->max / 1000000000);
	bps = (uint64_t)(x + 0.5);
	if (bps != 0 && bps < 1000)
		return cfg_bad(why, n, "must be 0 (line rate) or at least 1k");
	memcpy(dst, &bps, sizeof(bps));
	return 0;
}

static void
cfg_format_bandwidth(const struct cfg_key *k __rte_unused, const void *src, char *buf,
		     size_t n)
{
	uint64_t bps;
	int i;

	memcpy(&bps, src, sizeof(bps));
	for (i = RTE_DIM(cfg_unit_mult) - 1; i >= 0; i--) {
		if (bps != 0 && bps % cfg_unit_mult[i] == 0) {
			snprintf(buf, n, "%" PRIu64 "%c", bps / cfg_unit_mult[i], cfg_units[i]);
			return;
		}
	}
	snprintf(buf, n, "%" PRIu64, bps);
}

/* A unicast IPv4 address as a dotted quad; stored in network order. */
static int
cfg_parse_ipv4(const struct cfg_key *k __rte_unused, const char *v, void *dst, char *why,
	       size_t n)
{
	struct in_addr a;
	uint32_t first;

	if (inet_pton(AF_INET, v, &a) != 1)
		return cfg_bad(why, n, "not an IPv4 address (a dotted quad such as 198.18.0.1)");
	first = ntohl(a.s_addr) >> 24;
	if (first == 0 || first == 127 || first >= 224)
		return cfg_bad(why, n, "must be a unicast address (not 0/8, 127/8, multicast "
			       "or reserved)");
	memcpy(dst, &a.s_addr, sizeof(a.s_addr));
	return 0;
}

static void
cfg_format_ipv4(const struct cfg_key *k __rte_unused, const void *src, char *buf, size_t n)
{
	struct in_addr a;

	memcpy(&a.s_addr, src, sizeof(a.s_addr));
	if (a.s_addr == 0 || inet_ntop(AF_INET, &a, buf, n) == NULL)
		buf[0] = '\0';
}

static int
cfg_parse_mac(const struct cfg_key *k __rte_unused, const char *v, void *dst, char *why,
	      size_t n)
{
	struct rte_ether_addr ea;

	if (rte_ether_unformat_addr(v, &ea) != 0)
		return cfg_bad(why, n, "not a MAC address (aa:bb:cc:dd:ee:ff)");
	if (!rte_is_valid_assigned_ether_addr(&ea))
		return cfg_bad(why, n, "must be a unicast, non-zero MAC");
	memcpy(dst, &ea, sizeof(ea));
	return 0;
}

static void
cfg_format_mac(const struct cfg_key *k __rte_unused, const void *src, char *buf, size_t n)
{
	struct rte_ether_addr ea;

	memcpy(&ea, src, sizeof(ea));
	if (rte_is_zero_ether_addr(&ea))
		buf[0] = '\0';
	else
		rte_ether_format_addr(buf, n, &ea);
}

/* A fraction 0..1, as "0.02" or "2%". */
static int
cfg_parse_fraction(const struct cfg_key *k __rte_unused, const char *v, void *dst, char *why,
		   size_t n)
{
	double x;
	char *end;

	errno = 0;
	x = strtod(v, &end);
	if ((!isdigit((unsigned char)v[0]) && v[0] != '.') || v[1] == 'x' || v[1] == 'X' ||
	    errno != 0 || end == v)
		return cfg_bad(why, n, "not a fraction (0.02) or a percentage (2%%)");
	if (*end == '%') {
		x /= 100;
		end++;
	}
	if (*end != '\0')
		return cfg_bad(why, n, "not a fraction (0.02) or a percentage (2%%)");
	if (!(x >= 0 && x <= 1))
		return cfg_bad(why, n, "must be 0..1 (or 0%%..100%%)");
	memcpy(dst, &x, sizeof(x));
	return 0;
}

static void
cfg_format_fraction(const struct cfg_key *k __rte_unused, const void *src, char *buf,
		    size_t n)
{
	double x;

	memcpy(&x, src, sizeof(x));
	snprintf(buf, n, "%g", x);
}

/* auto | raw | zstd[:LEVEL]. Target: struct migdp_codec_setting. */
static int
cfg_parse_codec(const struct cfg_key *k __rte_unused, const char *v, void *dst,
		char *why, size_t n)
{
	return migdp_codec_setting_parse(v, dst, why, n) < 0 ? -EINVAL : 0;
}

static void
cfg_format_codec(const struct cfg_key *k __rte_unused, const void *src, char *buf,
		 size_t n)
{
	migdp_codec_setting_str(src, buf, n);
}

const struct cfg_type t_uint = {cfg_parse_uint, cfg_format_uint};
const struct cfg_type t_codec = {cfg_parse_codec, cfg_format_codec};
const struct cfg_type t_enum = {cfg_parse_enum, cfg_format_enum};
const struct cfg_type t_string = {cfg_parse_string, cfg_format_string};
const struct cfg_type t_device = {cfg_parse_device, cfg_format_device};
const struct cfg_type t_lcores = {cfg_parse_lcores, cfg_format_lcores};
const struct cfg_type t_bandwidth = {cfg_parse_bandwidth, cfg_format_bandwidth};
const struct cfg_type t_ipv4 = {cfg_parse_ipv4, cfg_format_ipv4};
const struct cfg_type t_mac = {cfg_parse_mac, cfg_format_mac};
const struct cfg_type t_fraction = {cfg_parse_fraction, cfg_format_fraction};

