/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * migdp configuration. One table lists every key with its one value type (a parser and a
 * formatter, config_types.c); the file, the --set overrides and the defaults all go through it. rte_cfgfile
 * reads the file; a small scanner that follows rte_cfgfile's rules supplies what rte_cfgfile
 * does not: line numbers, why a file is refused, and the lines it would skip or cut silently.
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

/* ------------------------------------------------------------------------------------------ */
/* The keys, grouped by section, in the order a dump writes them */

static const struct cfg_name cfg_roles[] = {
	{"source", MIGDP_ROLE_SOURCE}, {"destination", MIGDP_ROLE_DESTINATION}, {NULL, 0},
};

static const struct cfg_name cfg_on_off[] = {
	{"off", 0}, {"on", 1}, {"no", 0}, {"yes", 1}, {NULL, 0},
};

static const struct cfg_name cfg_auto_on_off[] = {
	{"auto", MIGDP_AUTO}, {"off", MIGDP_OFF}, {"on", MIGDP_ON}, {NULL, 0},
};

static const struct cfg_name cfg_log_levels[] = {
	{"emerg", RTE_LOG_EMERG}, {"alert", RTE_LOG_ALERT}, {"crit", RTE_LOG_CRIT},
	{"err", RTE_LOG_ERR}, {"warning", RTE_LOG_WARNING}, {"notice", RTE_LOG_NOTICE},
	{"info", RTE_LOG_INFO}, {"debug", RTE_LOG_DEBUG}, {"emergency", RTE_LOG_EMERG},
	{"critical", RTE_LOG_CRIT}, {"error", RTE_LOG_ERR}, {"warn", RTE_LOG_WARNING},
	{NULL, 0},
};

#define FIELD(f) .off = offsetof(struct migdp_config, f), \
	.size = sizeof(((struct migdp_config *)NULL)->f)
#define KEY(s, k, t, f, d, fl) \
	{.section = s, .name = k, .type = &(t), FIELD(f), .def = d, .flags = fl}
#define UINT(s, k, f, lo, hi, d, fl) \
	{.section = s, .name = k, .type = &t_uint, FIELD(f), .min = lo, .max = hi, .def = d, \
	 .flags = fl}
#define ENUM(s, k, f, nm, d, fl) \
	{.section = s, .name = k, .type = &t_enum, FIELD(f), .names = nm, .def = d, .flags = fl}
#define FRACTION(k) KEY("fault", #k, t_fraction, fault.k, "0", 0)

static const struct cfg_key cfg_keys[] = {
	ENUM("migdp", "role", role, cfg_roles, NULL, CFG_REQUIRED),
	UINT("migdp", "session_id", session_id, 1, UINT64_MAX, NULL, CFG_HEX | CFG_UNSET0),
	ENUM("migdp", "log_level", log_level, cfg_log_levels, "info", 0),
	UINT("migdp", "idle_backoff_us", idle_backoff_us, 0, 100000, "0", 0),
	UINT("migdp", "idle_polls", idle_polls, 1, 1000000, "64", 0),
	UINT("migdp", "idle_backoff_max_us", idle_backoff_max_us, 0, 100000, "1000", 0),
	UINT("migdp", "peer_timeout_ms", peer_timeout_ms, 100, 600000, "3000", 0),
	UINT("migdp", "keepalive_ms", keepalive_ms, 10, 60000, "200", 0),
	KEY("migdp", "shim_socket", t_string, shim_socket, NULL, 0),
	KEY("migdp", "control_socket", t_string, control_socket, NULL, 0),
	UINT("migdp", "watchdog_ms", watchdog_ms, 100, 3600000, "10000", 0),
	/* At most MIGDP_MAX_SESSIONS (worker.h). */
	UINT("migdp", "sessions", sessions, 1, 8, "4", 0),
	UINT("migration", "downtime_limit_ms", migration.downtime_limit_ms, 1, 600000, "300", 0),
	{.section = "migration", .name = "max_bandwidth", .type = &t_bandwidth,
	 FIELD(migration.max_bandwidth), .max = 10000000000000ULL, .def = "0"},
	UINT("migration", "max_rounds", migration.max_rounds, 1, 10000, "30", 0),
	ENUM("migration", "auto_converge", migration.auto_converge, cfg_on_off, "off", 0),
	UINT("migration", "throttle_initial", migration.throttle_initial, 1, 99, "20", 0),
	UINT("migration", "throttle_step", migration.throttle_step, 1, 99, "10", 0),
	UINT("migration", "throttle_max", migration.throttle_max, 1, 99, "99", 0),
	KEY("port", "device", t_device, port, NULL, CFG_REQUIRED),
	UINT("port", "mtu", port.mtu, 1500, 9000, "9000", 0),
	UINT("port", "mbufs", port.mbufs, 0, (1u << 24) - 1, "0", 0),
	UINT("port", "rx_desc", port.rx_desc, 64, 32768, "1024", CFG_POW2),
	UINT("port", "tx_desc", port.tx_desc, 64, 32768, "1024", CFG_POW2),
	/* At most MIGDP_BURST (dp.h), the size of every burst array. */
	UINT("port", "burst", port.burst, 1, 32, "32", 0),
	ENUM("port", "tx_zero_copy", port.tx_zero_copy, cfg_auto_on_off, "auto", 0),
	UINT("channels", "count", channels.count, 1, MIGDP_MAX_CHANNELS, "1", 0),
	KEY("channels", "lcores", t_lcores, channels, NULL, 0),
	/* At most MIGDP_TX_MAX_WINDOW (transport.h), which the sender holds. */
	UINT("channels", "window", channels.window, 64, 4096, "1024", CFG_POW2),
	{.section = "channels", .name = "max_bandwidth", .type = &t_bandwidth,
	 FIELD(channels.max_bandwidth), .max = 10000000000000ULL, .def = "0"},
	ENUM("channels", "congestion", channels.congestion, cfg_on_off, "on", 0),
	KEY("local", "ip", t_ipv4, local.ip, NULL, CFG_REQUIRED),
	UINT("local", "udp_port", local.udp_port, 1, 65535, "47000", 0),
	KEY("local", "mac", t_mac, local.mac, NULL, 0),
	KEY("peer", "ip", t_ipv4, peer.ip, NULL, CFG_REQUIRED),
	UINT("peer", "udp_port", peer.udp_port, 1, 65535, "47000", 0),
	KEY("peer", "mac", t_mac, peer.mac, NULL, 0),
	FRACTION(tx_drop), FRACTION(tx_dup), FRACTION(tx_reorder), FRACTION(tx_corrupt),
	FRACTION(rx_drop), FRACTION(rx_dup), FRACTION(rx_reorder), FRACTION(rx_corrupt),
	UINT("fault", "seed", fault.seed, 0, UINT64_MAX, "0", 0),
	KEY("codec", "method", t_codec, codec, "auto", 0),
	ENUM("codec", "dict", codec_dict, cfg_on_off, "off", 0),
	UINT("codec", "min_save", codec_min_save, 1, 4095, "512", 0),
	KEY("security", "key_file", t_string, security.key_file, NULL, 0),
	ENUM("security", "encrypt", security.encrypt, cfg_on_off, "off", 0),
};

static_assert(RTE_DIM(cfg_keys) <= MIGDP_CONFIG_MAX_KEYS,
	      "struct migdp_config origin[] and the loader's bit masks are too small");

/* The key @p name of @p section; with @p name NULL, the first key of the section. */
static const struct cfg_key *
cfg_key_find(const char *section, const char *name)
{
	unsigned int i;

	for (i = 0; i < RTE_DIM(cfg_keys); i++)
		if (strcmp(cfg_keys[i].section, section) == 0 &&
		    (name == NULL || strcmp(cfg_keys[i].name, name) == 0))
			return &cfg_keys[i];
	return NULL;
}

/* Why a key of @p section is unknown, listing what is known there (or the sections). */
static void
cfg_why_unknown(const char *section, char *why, size_t n)
{
	bool known = cfg_key_find(section, NULL) != NULL;
	const char *prev = "";
	size_t len;
	unsigned int i;

	if (known)
		len = snprintf(why, n, "unknown key (known in [%s]:", section);
	else
		len = snprintf(why, n, "unknown section (known:");
	for (i = 0; i < RTE_DIM(cfg_keys) && len < n; i++) {
		if (known ? strcmp(cfg_keys[i].section, section) == 0 :
		    strcmp(cfg_keys[i].section, prev) != 0)
			len += snprintf(why + len, n - len, " %s",
					known ? cfg_keys[i].name : cfg_keys[i].section);
		prev = cfg_keys[i].section;
	}
	if (len < n)
		snprintf(why + len, n - len, ")");
}

static void
cfg_format(const struct migdp_config *cfg, const struct cfg_key *k, char *buf, size_t n)
{
	k->type->format(k, (const char *)cfg + k->off, buf, n);
}

static int
cfg_apply(struct migdp_config *cfg, const struct cfg_key *k, const char *v, char *why,
	  size_t n)
{
	if (v[0] == '\0')
		return cfg_bad(why, n, "empty value");
	return k->type->parse(k, v, (char *)cfg + k->off, why, n);
}

/* The one error message about a key: where it was set (file and line, --set, or the
 * default), section, key, value and why. */
static int
cfg_fail_at(const struct migdp_config *cfg, const struct cfg_key *k, uint32_t origin,
	    const char *value, const char *why, char *err, size_t errlen)
{
	char at[PATH_MAX + 16] = "";

	if (origin == MIGDP_CONFIG_OVERRIDE)
		return cfg_bad(err, errlen, "--set %s.%s=%s: %s", k->section, k->name, value, why);
	if (origin != 0)
		snprintf(at, sizeof(at), "%s:%u: ", cfg->path, origin);
	else if (cfg->path[0] != '\0')
		snprintf(at, sizeof(at), "%s: ", cfg->path);
	return cfg_bad(err, errlen, "%s[%s] %s%s%s%s: %s", at, k->section, k->name,
		       value[0] ? " = " : "", value, value[0] && origin == 0 ? " (default)" : "",
		       why);
}

/* cfg_fail_at() about the current value of @p section / @p name (for finish()). */
static int __rte_format_printf(6, 7)
cfg_fail_key(const struct migdp_config *cfg, const char *section, const char *name, char *err,
	     size_t errlen, const char *fmt, ...)
{
	const struct cfg_key *k = cfg_key_find(section, name);
	char why[CFG_WHY_LEN], val[CFG_VAL_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	cfg_format(cfg, k, val, sizeof(val));
	return cfg_fail_at(cfg, k, cfg->origin[k - cfg_keys], val, why, err, errlen);
}

/* ------------------------------------------------------------------------------------------ */
/* The file, line by line, as rte_cfgfile reads it */

/* Split one line (in place): *sec on a section header, *key on a key line. Returns NULL, or
 * why rte_cfgfile would refuse the line, skip it silently or cut it. */
static const char *
cfg_scan_line(char *line, char **sec, char **key)
{
	char *p, *end, *val;

	*sec = NULL;
	*key = NULL;
	line[strcspn(line, "\n")] = '\0';
	if (strlen(line) > CFG_LINE_MAX)
		return "line too long";
	p = strchr(line, ';');
	if (p != NULL && (p == line || p[-1] != '\\'))
		*p = '\0';
	p = cfg_strip(line);
	if (*p == '\0')
		return NULL;
	if (*p == '[') {
		end = strchr(p, ']');
		if (end == NULL)
			return "no ']' closing the section name";
		*end = '\0';
		*sec = cfg_strip(p + 1);
		if (*cfg_strip(end + 1) != '\0')
			return "text after ']'";
		return **sec == '\0' || strlen(*sec) >= CFG_NAME_LEN ?
			"section name empty or too long" : NULL;
	}
	if (*p == '#')
		return "comments start with ';'";
	val = strchr(p, '=');
	if (val == NULL)
		return "neither [section] nor key = value";
	*val = '\0';
	*key = cfg_strip(p);
	if (**key == '\0' || strlen(*key) >= CFG_NAME_LEN)
		return "key name empty or too long";
	if (strlen(cfg_strip(val + 1)) >= CFG_VALUE_LEN)
		return "value longer than 255 characters";
	return NULL;
}

/*
 * With @p key NULL: the first line rte_cfgfile would refuse, skip or cut, with the reason in
 * @p why. Otherwise: the line of the @p nth (from 0) @p key of @p section, or of the section
 * header when @p key is "". Returns the line number, 0 when there is none, or -errno.
 */
static int
cfg_scan(const char *path, const char *section, const char *key, unsigned int nth, char *why,
	 size_t n)
{
	char cur[CFG_NAME_LEN] = "", text[48], *line = NULL, *sec, *k, *t;
	const char *bad;
	size_t cap = 0;
	int lineno = 0, found = 0;
	FILE *f;

	f = fopen(path, "r");
	if (f == NULL)
		return -errno;
	while (found == 0 && getline(&line, &cap, f) >= 0) {
		lineno++;
		snprintf(text, sizeof(text), "%.*s", (int)strcspn(line, "\n"), line);
		bad = cfg_scan_line(line, &sec, &k);
		if (sec != NULL)
			strlcpy(cur, sec, sizeof(cur));
		if (bad == NULL && k != NULL && cur[0] == '\0')
			bad = "key = value before any [section]";
		if (key == NULL) {
			if (bad == NULL)
				continue;
			t = cfg_strip(text);
			if (*t != '[' && cur[0] != '\0')
				snprintf(why, n, "[%s] %s: %s", cur, t, bad);
			else
				snprintf(why, n, "%s: %s", t, bad);
			found = lineno;
			continue;
		}
		if (strcmp(cur, section) == 0 &&
		    ((sec != NULL && key[0] == '\0') ||
		     (k != NULL && key[0] != '\0' && strcmp(k, key) == 0)) && nth-- == 0)
			found = lineno;
	}
	free(line);
	fclose(f);
	return found;
}

struct cfg_loader {
	struct migdp_config *cfg;
	struct rte_cfgfile *file;
	uint64_t sections_seen;	/* bit: index of the section's first key */
	uint64_t keys_seen;	/* bit: index of the key */
	char *err;
	size_t errlen;
};

static int
cfg_load_entry(struct cfg_loader *l, const char *sec, const struct rte_cfgfile_entry *e)
{
	struct migdp_config *cfg = l->cfg;
	const struct cfg_key *k = cfg_key_find(sec, e->name);
	int line = cfg_scan(cfg->path, sec, e->name, 0, NULL, 0);
	char why[CFG_WHY_LEN];
	uint64_t bit;

	if (k == NULL) {
		cfg_why_unknown(sec, why, sizeof(why));
		return cfg_bad(l->err, l->errlen, "%s:%d: [%s] %s: %s", cfg->path, line, sec,
			       e->name, why);
	}
	bit = UINT64_C(1) << (k - cfg_keys);
	if (l->keys_seen & bit)
		return cfg_bad(l->err, l->errlen, "%s:%d: [%s] %s: repeated key (first set on "
			       "line %d)", cfg->path, cfg_scan(cfg->path, sec, e->name, 1, NULL, 0),
			       sec, e->name, line);
	if (cfg_apply(cfg, k, e->value, why, sizeof(why)) < 0)
		return cfg_fail_at(cfg, k, line, e->value, why, l->err, l->errlen);
	l->keys_seen |= bit;
	cfg->origin[k - cfg_keys] = line;
	return 0;
}

static int
cfg_load_section(struct cfg_loader *l, int index)
{
	const char *path = l->cfg->path;
	struct rte_cfgfile_entry *ent;
	const struct cfg_key *first;
	char sec[CFG_NAME_LEN], why[CFG_WHY_LEN];
	int n, i, ret = 0;
	uint64_t bit;

	n = rte_cfgfile_section_num_entries_by_index(l->file, sec, index);
	first = cfg_key_find(sec, NULL);
	if (first == NULL) {
		cfg_why_unknown(sec, why, sizeof(why));
		return cfg_bad(l->err, l->errlen, "%s:%d: [%s]: %s", path,
			       cfg_scan(path, sec, "", 0, NULL, 0), sec, why);
	}
	/* rte_cfgfile keeps both copies but finds keys in the first only. */
	bit = UINT64_C(1) << (first - cfg_keys);
	if (l->sections_seen & bit)
		return cfg_bad(l->err, l->errlen, "%s:%d: [%s]: repeated section (first on line "
			       "%d)", path, cfg_scan(path, sec, "", 1, NULL, 0), sec,
			       cfg_scan(path, sec, "", 0, NULL, 0));
	l->sections_seen |= bit;
	if (n <= 0)
		return 0;
	ent = calloc(n, sizeof(*ent));
	if (ent == NULL)
		return cfg_bad(l->err, l->errlen, "%s: out of memory", path);
	n = rte_cfgfile_section_entries_by_index(l->file, index, sec, ent, n);
	for (i = 0; ret == 0 && i < n; i++)
		ret = cfg_load_entry(l, sec, &ent[i]);
	free(ent);
	return ret;
}

/* ------------------------------------------------------------------------------------------ */
/* API */

const char *
migdp_role_name(enum migdp_role role)
{
	const struct cfg_name *nm;

	for (nm = cfg_roles; nm->name != NULL; nm++)
		if (nm->value == (uint32_t)role)
			return nm->name;
	return "";
}

int
migdp_config_init(struct migdp_config *cfg)
{
	char why[CFG_WHY_LEN];
	unsigned int i;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < RTE_DIM(cfg_keys); i++)
		if (cfg_keys[i].def != NULL &&
		    cfg_apply(cfg, &cfg_keys[i], cfg_keys[i].def, why, sizeof(why)) < 0)
			return -EINVAL;
	return 0;
}

int
migdp_config_load(struct migdp_config *cfg, const char *path, char *err, size_t errlen)
{
	static const struct rte_cfgfile_parameters params = {.comment_character = ';'};
	struct cfg_loader l = {.cfg = cfg, .err = err, .errlen = errlen};
	char why[CFG_WHY_LEN];
	int line, nsec, s, ret = 0;

	if (migdp_config_init(cfg) < 0)
		return cfg_bad(err, errlen, "built-in defaults do not parse");
	if (strlen(path) >= sizeof(cfg->path))
		return cfg_bad(err, errlen, "%s: path too long", path);
	strcpy(cfg->path, path);
	line = cfg_scan(path, NULL, NULL, 0, why, sizeof(why));
	if (line < 0)
		return cfg_bad(err, errlen, "%s: %s", path, strerror(-line));
	if (line > 0)
		return cfg_bad(err, errlen, "%s:%d: %s", path, line, why);
	/* Empty values reach our parsers, which say "empty value" with the line. */
	l.file = rte_cfgfile_load_with_params(path, CFG_FLAG_EMPTY_VALUES, &params);
	if (l.file == NULL)
		return cfg_bad(err, errlen, "%s: rte_cfgfile cannot read it", path);
	nsec = rte_cfgfile_num_sections(l.file, NULL, 0);
	for (s = 0; ret == 0 && s < nsec; s++)
		ret = cfg_load_section(&l, s);
	rte_cfgfile_close(l.file);
	return ret;
}

int
migdp_config_set(struct migdp_config *cfg, const char *assignment, char *err, size_t errlen)
{
	char buf[2 * CFG_NAME_LEN + MIGDP_DEVICE_LEN], why[CFG_WHY_LEN];
	char *eq, *dot, *sec, *name, *val;
	const struct cfg_key *k;

	if (strlen(assignment) >= sizeof(buf))
		return cfg_bad(err, errlen, "--set %.32s...: too long", assignment);
	strcpy(buf, assignment);
	eq = strchr(buf, '=');
	dot = strchr(buf, '.');
	if (eq == NULL || dot == NULL || dot > eq)
		return cfg_bad(err, errlen, "--set %s: expected section.key=value", assignment);
	*eq = '\0';
	*dot = '\0';
	sec = cfg_strip(buf);
	name = cfg_strip(dot + 1);
	val = cfg_strip(eq + 1);
	k = cfg_key_find(sec, name);
	if (k == NULL) {
		cfg_why_unknown(sec, why, sizeof(why));
		return cfg_bad(err, errlen, "--set %s: %s", assignment, why);
	}
	if (cfg_apply(cfg, k, val, why, sizeof(why)) < 0)
		return cfg_fail_at(cfg, k, MIGDP_CONFIG_OVERRIDE, val, why, err, errlen);
	cfg->origin[k - cfg_keys] = MIGDP_CONFIG_OVERRIDE;
	return 0;
}

int
migdp_config_finish(struct migdp_config *cfg, char *err, size_t errlen)
{
	struct migdp_channels_conf *ch = &cfg->channels;
	struct migdp_port_conf *port = &cfg->port;
	char val[CFG_VAL_LEN];
	unsigned int i;
	uint64_t need;

	for (i = 0; i < RTE_DIM(cfg_keys); i++) {
		cfg_format(cfg, &cfg_keys[i], val, sizeof(val));
		if ((cfg_keys[i].flags & CFG_REQUIRED) && val[0] == '\0')
			return cfg_fail_key(cfg, cfg_keys[i].section, cfg_keys[i].name, err, errlen,
					    "missing (required)");
	}
	if (ch->nb_lcores != 0 && ch->nb_lcores != ch->count)
		return cfg_fail_key(cfg, "channels", "lcores", err, errlen,
				    "lists %u lcores but [channels] count = %u", ch->nb_lcores,
				    ch->count);
	if (port->burst > RTE_MIN(port->rx_desc, port->tx_desc))
		return cfg_fail_key(cfg, "port", "burst", err, errlen,
				    "larger than rx_desc or tx_desc");
	/* Same address: ARP for it would answer ourselves. */
	if (cfg->local.ip == cfg->peer.ip)
		return cfg_fail_key(cfg, "peer", "ip", err, errlen, "same address as [local] ip");
	if (!rte_is_zero_ether_addr(&cfg->local.mac) &&
	    rte_is_same_ether_addr(&cfg->local.mac, &cfg->peer.mac))
		return cfg_fail_key(cfg, "peer", "mac", err, errlen, "same address as [local] mac");
	/* Channel i uses udp_port + i on both sides. */
	if (cfg->local.udp_port + ch->count - 1 > UINT16_MAX)
		return cfg_fail_key(cfg, "local", "udp_port", err, errlen,
				    "channel %u would need port %u", ch->count - 1,
				    cfg->local.udp_port + ch->count - 1);
	if (cfg->peer.udp_port + ch->count - 1 > UINT16_MAX)
		return cfg_fail_key(cfg, "peer", "udp_port", err, errlen,
				    "channel %u would need port %u", ch->count - 1,
				    cfg->peer.udp_port + ch->count - 1);
	/* One lost keepalive must not end the session. */
	if (cfg->keepalive_ms * 2 > cfg->peer_timeout_ms)
		return cfg_fail_key(cfg, "migdp", "keepalive_ms", err, errlen,
				    "must be at most half of peer_timeout_ms (%u)",
				    cfg->peer_timeout_ms);
	/* Every ring full, every window full, a burst in hand each way. */
	need = (uint64_t)ch->count * (port->rx_desc + port->tx_desc +
				      cfg->sessions * (ch->window + 2 * port->burst));
	if (port->mbufs != 0 && port->mbufs < need)
		return cfg_fail_key(cfg, "port", "mbufs", err, errlen, "fewer than count x (rx_desc "
				    "+ tx_desc + sessions x (window + 2 x burst)) = %" PRIu64
				    " (0 = auto)", need);
	/* 2^n - 1 is the most efficient mempool size. */
	port->pool_size = port->mbufs != 0 ? port->mbufs : rte_align32pow2(need + 1) - 1;
	if (cfg->shim_socket[0] == '\0')
		snprintf(cfg->shim_socket, sizeof(cfg->shim_socket), "/tmp/migdp-%s.sock",
			 migdp_role_name(cfg->role));
	if (cfg->control_socket[0] == '\0')
		snprintf(cfg->control_socket, sizeof(cfg->control_socket),
			 "/tmp/migdp-%s-control.sock", migdp_role_name(cfg->role));
	if (cfg->migration.throttle_initial > cfg->migration.throttle_max)
		return cfg_fail_key(cfg, "migration", "throttle_initial", err, errlen,
				    "above throttle_max (%u)", cfg->migration.throttle_max);
	while (cfg->role == MIGDP_ROLE_SOURCE && cfg->session_id == 0)
		if (getrandom(&cfg->session_id, sizeof(cfg->session_id), 0) !=
		    sizeof(cfg->session_id))
			return cfg_fail_key(cfg, "migdp", "session_id", err, errlen,
					    "no random id: %s", strerror(errno));
	return 0;
}

void
migdp_config_dump(const struct migdp_config *cfg, FILE *f)
{
	const char *sec = "";
	char val[CFG_VAL_LEN];
	unsigned int i;

	fprintf(f, "; migdp configuration%s%s\n", cfg->path[0] ? " from " : "", cfg->path);
	for (i = 0; i < RTE_DIM(cfg_keys); i++) {
		if (strcmp(sec, cfg_keys[i].section) != 0) {
			sec = cfg_keys[i].section;
			fprintf(f, "\n[%s]\n", sec);
		}
		cfg_format(cfg, &cfg_keys[i], val, sizeof(val));
		if (val[0] == '\0')
			fprintf(f, "; %s = (not set)\n", cfg_keys[i].name);
		else
			fprintf(f, "%s = %s\n", cfg_keys[i].name, val);
	}
}
