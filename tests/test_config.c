/* SPDX-License-Identifier: BSD-3-Clause */
/* Configuration: every bad file in tests/config/ is refused with a message
 * naming the file, the line, the key and why; the example configs in
 * config/ load to what they say; overrides go through the same parsers;
 * a dump reads back to the same configuration. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_log.h>

#include "config.h"
#include "cu_main.h"

#ifndef TEST_DATA_DIR
#error "TEST_DATA_DIR (tests/config) must be defined by the build"
#endif
#ifndef CONFIG_DIR
#error "CONFIG_DIR (config/) must be defined by the build"
#endif

#define ERRLEN 1024
#define LOAD false	/* migdp_config_load() refuses the file */
#define FINISH true	/* load accepts it, migdp_config_finish() refuses */

/* One file each: name, stage, line (0: none, a key is missing), the
 * "[section] key = value" the message must quote, and the reason. */
#define BAD_FILES(X)							\
	X(bad_mtu, LOAD, 4, "[port] mtu = 12000", "must be 1500..9000")	\
	X(unknown_key, LOAD, 4, "[port] mtux", "unknown key (known in [port]: device mtu") \
	X(unknown_section, LOAD, 5, "[prot]", "unknown section (known: migdp migration port") \
	X(duplicate_key, LOAD, 5, "[port] mtu", "repeated key (first set on line 3)") \
	X(duplicate_section, LOAD, 8, "[port]", "repeated section (first on line 2)") \
	X(bad_ip, LOAD, 3, "[local] ip = 198.18.0.256", "not an IPv4 address") \
	X(multicast_ip, LOAD, 3, "[peer] ip = 224.0.0.1", "must be a unicast address") \
	X(fraction_out_of_range, LOAD, 4, "[fault] tx_dup = 1.5", "must be 0..1") \
	X(percent_out_of_range, LOAD, 3, "[fault] rx_corrupt = 150%", "must be 0..1") \
	X(bad_bandwidth_suffix, LOAD, 4, "[channels] max_bandwidth = 10Gbps", \
	  "unit must be k, M, G or T")					\
	X(bad_device, LOAD, 3, "[port] device = eth0", "must be a PCI address") \
	X(bad_pci_device_number, LOAD, 3, "[port] device = 0000:03:20.0", "00..1f") \
	X(bad_role, LOAD, 3, "[migdp] role = sender", "must be one of source, destination") \
	X(bad_log_level, LOAD, 4, "[migdp] log_level = verbose", "must be one of emerg") \
	X(window_not_power_of_two, LOAD, 4, "[channels] window = 1000", "power of two") \
	X(channels_out_of_range, LOAD, 3, "[channels] count = 65", "must be 1..64") \
	X(udp_port_zero, LOAD, 4, "[local] udp_port = 0", "must be 1..65535") \
	X(bad_mac, LOAD, 4, "[peer] mac = 01:00:5e:00:00:01", "unicast") \
	X(lcores_repeated, LOAD, 4, "[channels] lcores = 1, 1", "lcore 1 listed twice") \
	X(not_a_number, LOAD, 3, "[migdp] peer_timeout_ms = 3s", "not a whole number") \
	X(empty_value, LOAD, 4, "[port] mtu", "empty value")		\
	X(value_too_long, LOAD, 3, "device = net_memif0", "value longer than 255") \
	X(stray_line, LOAD, 4, "mtu 9000", "neither [section] nor key = value") \
	X(hash_comment, LOAD, 3, "# device = net_memif0", "comments start with ';'") \
	X(key_before_section, LOAD, 2, "role = source", "before any [section]") \
	X(unclosed_section, LOAD, 2, "[migdp", "no ']'")		\
	X(lcores_count_mismatch, FINISH, 10, "[channels] lcores = 1,2,3", \
	  "lists 3 lcores but [channels] count = 2")			\
	X(missing_peer, FINISH, 0, "[peer] ip", "missing (required)")	\
	X(same_endpoint, FINISH, 15, "[peer] ip = 198.18.0.1", "same address as [local] ip") \
	X(keepalive_too_long, FINISH, 5, "[migdp] keepalive_ms = 2000", \
	  "at most half of peer_timeout_ms (3000)")			\
	X(udp_port_range, FINISH, 13, "[local] udp_port = 65535", "channel 1 would need port 65536") \
	X(too_few_mbufs, FINISH, 7, "[port] mbufs = 4096", "= 12800 (0 = auto)") \
	X(burst_too_large, LOAD, 8, "[port] burst = 64", "must be 1..32")

static void
data_path(char *buf, size_t n, const char *dir, const char *name)
{
	snprintf(buf, n, "%s/%s.ini", dir, name);
}

static void
check_bad(const char *name, bool at_finish, int line, const char *key,
	  const char *why)
{
	struct migdp_config cfg;
	char path[512], at[600], err[ERRLEN] = "";
	int ret;

	data_path(path, sizeof(path), TEST_DATA_DIR, name);
	ret = migdp_config_load(&cfg, path, err, sizeof(err));
	if (at_finish) {
		CU_ASSERT_EQUAL(ret, 0);
		if (ret == 0)
			ret = migdp_config_finish(&cfg, err, sizeof(err));
	}
	CU_ASSERT_EQUAL(ret, -EINVAL);
	if (line > 0)
		snprintf(at, sizeof(at), "%s:%d: ", path, line);
	else
		snprintf(at, sizeof(at), "%s: ", path);
	CU_ASSERT_EQUAL(strncmp(err, at, strlen(at)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, key));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, why));
	if (ret != -EINVAL || strncmp(err, at, strlen(at)) != 0 ||
	    strstr(err, key) == NULL || strstr(err, why) == NULL)
		printf("\n    %s: got \"%s\"\n", name, err);
}

#define X(name, stage, line, key, why)				\
	static void test_##name(void)				\
	{							\
		check_bad(#name, stage, line, key, why);	\
	}
BAD_FILES(X)
#undef X

static rte_be32_t
ip(const char *s)
{
	return inet_addr(s);
}

static void
load_ok(struct migdp_config *cfg, const char *dir, const char *name)
{
	char path[512], err[ERRLEN] = "";

	data_path(path, sizeof(path), dir, name);
	CU_ASSERT_EQUAL_FATAL(migdp_config_load(cfg, path, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(migdp_config_finish(cfg, err, sizeof(err)), 0);
	if (err[0] != '\0')
		printf("\n    %s: %s\n", name, err);
}

static void
check_fault_off(const struct migdp_config *cfg)
{
	const struct migdp_fault_conf *f = &cfg->fault;

	CU_ASSERT(f->tx_drop == 0 && f->tx_dup == 0 && f->tx_reorder == 0 &&
		  f->tx_corrupt == 0 && f->rx_drop == 0 && f->rx_dup == 0 &&
		  f->rx_reorder == 0 && f->rx_corrupt == 0);
}

static void
test_source_example(void)
{
	struct migdp_config c;

	load_ok(&c, CONFIG_DIR, "source");
	CU_ASSERT_EQUAL(c.role, MIGDP_ROLE_SOURCE);
	CU_ASSERT_NOT_EQUAL(c.session_id, 0);	/* drawn at random */
	CU_ASSERT_EQUAL(c.log_level, RTE_LOG_INFO);
	CU_ASSERT_EQUAL(c.idle_backoff_us, 50);
	CU_ASSERT_EQUAL(c.idle_polls, 64);
	CU_ASSERT_EQUAL(c.peer_timeout_ms, 3000);
	CU_ASSERT_EQUAL(c.keepalive_ms, 200);
	CU_ASSERT_STRING_EQUAL(c.shim_socket, "/tmp/migdp-source.sock");
	CU_ASSERT_STRING_EQUAL(c.port.device, "net_memif0,role=server,id=0,"
			       "socket=/tmp/migdp-memif.sock");
	CU_ASSERT_EQUAL(c.port.kind, MIGDP_PORT_VDEV);
	CU_ASSERT_EQUAL(c.port.mtu, 9000);
	CU_ASSERT_EQUAL(c.port.rx_desc, 512);
	CU_ASSERT_EQUAL(c.port.tx_desc, 512);
	CU_ASSERT_EQUAL(c.port.burst, 32);
	/* auto: 2 x (512 + 512 + 512 + 2 x 32) = 3200 -> 4095 */
	CU_ASSERT_EQUAL(c.port.mbufs, 0);
	CU_ASSERT_EQUAL(c.port.pool_size, 8191);
	CU_ASSERT_EQUAL(c.channels.count, 2);
	CU_ASSERT_EQUAL(c.channels.nb_lcores, 0);
	CU_ASSERT_EQUAL(c.channels.window, 512);
	CU_ASSERT_EQUAL(c.channels.max_bandwidth, 0);
	CU_ASSERT_EQUAL(c.local.ip, ip("198.18.0.1"));
	CU_ASSERT_EQUAL(c.local.udp_port, 47000);
	CU_ASSERT(rte_is_zero_ether_addr(&c.local.mac));
	CU_ASSERT_EQUAL(c.peer.ip, ip("198.18.0.2"));
	CU_ASSERT_EQUAL(c.peer.udp_port, 47000);
	CU_ASSERT(rte_is_zero_ether_addr(&c.peer.mac));
	check_fault_off(&c);
	CU_ASSERT_EQUAL(c.fault.seed, 1);
}

static void
test_destination_example(void)
{
	struct migdp_config s, d;

	load_ok(&s, CONFIG_DIR, "source");
	load_ok(&d, CONFIG_DIR, "destination");
	CU_ASSERT_EQUAL(d.role, MIGDP_ROLE_DESTINATION);
	CU_ASSERT_EQUAL(d.session_id, 0);	/* accepts the source's */
	CU_ASSERT_STRING_EQUAL(d.shim_socket, "/tmp/migdp-destination.sock");
	CU_ASSERT_STRING_EQUAL(d.port.device, "net_memif0,role=client,id=0,"
			       "socket=/tmp/migdp-memif.sock");
	/* The two files describe the two ends of one link. */
	CU_ASSERT_EQUAL(d.local.ip, s.peer.ip);
	CU_ASSERT_EQUAL(d.peer.ip, s.local.ip);
	CU_ASSERT_EQUAL(d.local.udp_port, s.peer.udp_port);
	CU_ASSERT_EQUAL(d.peer.udp_port, s.local.udp_port);
	CU_ASSERT_EQUAL(d.port.mtu, s.port.mtu);
	CU_ASSERT_EQUAL(d.channels.count, s.channels.count);
	CU_ASSERT_EQUAL(d.channels.window, s.channels.window);
	check_fault_off(&d);
}

static void
test_minimal_defaults(void)
{
	struct rte_ether_addr mac = {{0x02, 0, 0, 0, 0, 0x02}};
	struct migdp_config c;

	load_ok(&c, TEST_DATA_DIR, "minimal");
	CU_ASSERT_EQUAL(c.log_level, RTE_LOG_INFO);
	CU_ASSERT_EQUAL(c.idle_backoff_us, 0);
	CU_ASSERT_EQUAL(c.peer_timeout_ms, 3000);
	CU_ASSERT_EQUAL(c.keepalive_ms, 200);
	CU_ASSERT_EQUAL(c.port.kind, MIGDP_PORT_VDEV);
	CU_ASSERT_EQUAL(c.port.mtu, 9000);
	CU_ASSERT_EQUAL(c.port.rx_desc, 1024);
	CU_ASSERT_EQUAL(c.port.tx_desc, 1024);
	/* auto: 2 x (1024 + 1024 + 1024 + 2 x 32) = 6272 -> 8191 */
	CU_ASSERT_EQUAL(c.port.pool_size, 16383);
	CU_ASSERT_EQUAL(c.channels.window, 1024);
	CU_ASSERT_EQUAL(c.local.udp_port, 47000);
	CU_ASSERT(rte_is_same_ether_addr(&c.peer.mac, &mac));
	CU_ASSERT_STRING_EQUAL(c.shim_socket, "/tmp/migdp-source.sock");
	CU_ASSERT_EQUAL(migdp_config_channel_bps(&c), 0);
	check_fault_off(&c);
}

static void
test_missing_file(void)
{
	struct migdp_config c;
	char err[ERRLEN] = "";

	CU_ASSERT_EQUAL(migdp_config_load(&c, TEST_DATA_DIR "/no-such.ini",
					  err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "no-such.ini: No such file"));
}

/* Apply @p a; on success return 0, else check the message names it. */
static int
set(struct migdp_config *c, const char *a, const char *why)
{
	char err[ERRLEN] = "";
	int ret = migdp_config_set(c, a, err, sizeof(err));

	if (why == NULL) {
		CU_ASSERT_EQUAL(ret, 0);
		if (ret != 0)
			printf("\n    %s: %s\n", a, err);
	} else {
		CU_ASSERT_EQUAL(ret, -EINVAL);
		CU_ASSERT_EQUAL(strncmp(err, "--set ", 6), 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, why));
		if (ret != -EINVAL || strstr(err, why) == NULL)
			printf("\n    %s: got \"%s\"\n", a, err);
	}
	return ret;
}

static void
test_overrides(void)
{
	struct migdp_config c;
	char err[ERRLEN];

	load_ok(&c, CONFIG_DIR, "source");
	set(&c, "channels.count=1", NULL);
	CU_ASSERT_EQUAL(c.channels.count, 1);
	set(&c, " port . mtu = 1500 ", NULL);
	CU_ASSERT_EQUAL(c.port.mtu, 1500);
	set(&c, "port.mtu=12000", "--set port.mtu=12000: must be 1500..9000");
	set(&c, "port.mtu=1499", "must be 1500..9000");
	CU_ASSERT_EQUAL(c.port.mtu, 1500);	/* unchanged by a refusal */
	set(&c, "migdp.idle_backoff_us=0", NULL);
	CU_ASSERT_EQUAL(c.idle_backoff_us, 0);
	set(&c, "fault.tx_drop=2%", NULL);
	CU_ASSERT_DOUBLE_EQUAL(c.fault.tx_drop, 0.02, 1e-12);
	set(&c, "fault.rx_reorder=0.005", NULL);
	CU_ASSERT_DOUBLE_EQUAL(c.fault.rx_reorder, 0.005, 1e-12);
	set(&c, "fault.rx_dup=-0.1", "not a fraction");
	set(&c, "fault.rx_dup=1.01", "must be 0..1");
	set(&c, "fault.seed=42", NULL);
	CU_ASSERT_EQUAL(c.fault.seed, 42);
	set(&c, "peer.mac=02:00:00:00:00:09", NULL);
	CU_ASSERT_EQUAL(c.peer.mac.addr_bytes[5], 9);
	set(&c, "peer.mac=00:00:00:00:00:00", "unicast, non-zero");
	set(&c, "local.ip=198.18.0.300", "not an IPv4 address");
	set(&c, "local.ip=127.0.0.1", "unicast");
	set(&c, "local.ip=198.19.0.1", NULL);
	CU_ASSERT_EQUAL(c.local.ip, ip("198.19.0.1"));
	set(&c, "migdp.role=destination", NULL);
	CU_ASSERT_EQUAL(c.role, MIGDP_ROLE_DESTINATION);
	set(&c, "migdp.log_level=DEBUG", NULL);
	CU_ASSERT_EQUAL(c.log_level, RTE_LOG_DEBUG);
	set(&c, "migdp.log_level=warn", NULL);
	CU_ASSERT_EQUAL(c.log_level, RTE_LOG_WARNING);
	set(&c, "channels.lcores=3", NULL);
	CU_ASSERT_EQUAL(c.channels.nb_lcores, 1);
	CU_ASSERT_EQUAL(c.channels.lcores[0], 3);
	set(&c, "channels.lcores=1,x", "comma-separated list");
	set(&c, "channels.lcores=128", "must be 0..127");
	set(&c, "nosuch.key=1", "unknown section (known: migdp migration port channels "
	    "local peer fault codec security)");
	set(&c, "codec.method=zstd:23", "out of range");
	set(&c, "security.encrypt=maybe", "must be one of off, on");
	set(&c, "security.encrypt=on", NULL);
	CU_ASSERT_EQUAL(c.security.encrypt, 1);
	set(&c, "security.key_file=/etc/migdp.key", NULL);
	CU_ASSERT_STRING_EQUAL(c.security.key_file, "/etc/migdp.key");
	set(&c, "codec.method=gzip", "codec.method=gzip");
	set(&c, "port.nosuch=1", "unknown key (known in [port]: device mtu "
	    "mbufs rx_desc tx_desc burst tx_zero_copy)");
	set(&c, "port.mtu", "expected section.key=value");
	set(&c, "mtu=9000", "expected section.key=value");
	set(&c, "port.mtu=", "empty value");
	CU_ASSERT_EQUAL(migdp_config_finish(&c, err, sizeof(err)), 0);
}

static void
test_bandwidth(void)
{
	static const struct {
		const char *v;
		uint64_t bps;
	} ok[] = {
		{"0", 0}, {"400k", 400000}, {"400K", 400000},
		{"2500M", 2500000000ULL}, {"2.5G", 2500000000ULL},
		{"10G", 10000000000ULL}, {"1T", 1000000000000ULL},
		{"123456", 123456},
	};
	static const char *const bad[] = {
		"10Q", "10GB", "10 G", "-1G", "G", "0x10", "999", "11T",
	};
	struct migdp_config c;
	char a[64];
	unsigned int i;

	load_ok(&c, CONFIG_DIR, "source");
	for (i = 0; i < RTE_DIM(ok); i++) {
		snprintf(a, sizeof(a), "channels.max_bandwidth=%s", ok[i].v);
		set(&c, a, NULL);
		CU_ASSERT_EQUAL(c.channels.max_bandwidth, ok[i].bps);
	}
	for (i = 0; i < RTE_DIM(bad); i++) {
		snprintf(a, sizeof(a), "channels.max_bandwidth=%s", bad[i]);
		set(&c, a, "max_bandwidth");
	}
	set(&c, "channels.max_bandwidth=10G", NULL);
	CU_ASSERT_EQUAL(migdp_config_channel_bps(&c), 5000000000ULL);
}

static void
test_devices(void)
{
	static const char *const pci[] = {
		"0000:03:00.0", "03:00.0", "0000:af:1f.7",
		"0000:03:00.0,txq_inline_max=128",
	};
	static const char *const vdev[] = {
		"net_memif0", "net_af_packet0,iface=veth0,qpairs=2",
		"net_ring0",
	};
	static const char *const bad[] = {
		"0000:03:00", "0000:03:00.8", "3:00.0", "03:00.0,",
		"net_", "net_memif0,", "net_memif0, role=server", "memif0",
		"0000:03:00.0x",
	};
	struct migdp_config c;
	char a[128];
	unsigned int i;

	CU_ASSERT_EQUAL_FATAL(migdp_config_init(&c), 0);
	for (i = 0; i < RTE_DIM(pci); i++) {
		snprintf(a, sizeof(a), "port.device=%s", pci[i]);
		set(&c, a, NULL);
		CU_ASSERT_EQUAL(c.port.kind, MIGDP_PORT_PCI);
		CU_ASSERT_STRING_EQUAL(c.port.device, pci[i]);
	}
	for (i = 0; i < RTE_DIM(vdev); i++) {
		snprintf(a, sizeof(a), "port.device=%s", vdev[i]);
		set(&c, a, NULL);
		CU_ASSERT_EQUAL(c.port.kind, MIGDP_PORT_VDEV);
	}
	for (i = 0; i < RTE_DIM(bad); i++) {
		snprintf(a, sizeof(a), "port.device=%s", bad[i]);
		set(&c, a, "port.device");
	}
}

static void
test_session_id(void)
{
	struct migdp_config c;
	char err[ERRLEN];

	load_ok(&c, CONFIG_DIR, "destination");
	set(&c, "migdp.session_id=0x1234abcd", NULL);
	CU_ASSERT_EQUAL(c.session_id, 0x1234abcd);
	set(&c, "migdp.session_id=18446744073709551615", NULL);
	CU_ASSERT_EQUAL(c.session_id, UINT64_MAX);
	set(&c, "migdp.session_id=0", "must be 1..18446744073709551615");
	set(&c, "migdp.session_id=0x", "not a whole number");
	set(&c, "migdp.session_id=18446744073709551616", "not a whole number");
	set(&c, "migdp.session_id=-1", "not a whole number");
	CU_ASSERT_EQUAL(migdp_config_finish(&c, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c.session_id, UINT64_MAX);	/* kept, not drawn */
}

/* Cross-key checks see overrides too, and say so. */
static void
test_override_then_finish(void)
{
	struct migdp_config c;
	char err[ERRLEN] = "";

	load_ok(&c, CONFIG_DIR, "source");
	set(&c, "channels.lcores=1,2,3", NULL);
	CU_ASSERT_EQUAL(migdp_config_finish(&c, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "--set channels.lcores=1,2,3: lists 3 "
			       "lcores but [channels] count = 2");
	set(&c, "channels.count=3", NULL);
	CU_ASSERT_EQUAL(migdp_config_finish(&c, err, sizeof(err)), 0);
}

/* Without a file, required keys come from overrides or are missing. */
static void
test_no_file(void)
{
	struct migdp_config c;
	char err[ERRLEN] = "";

	CU_ASSERT_EQUAL_FATAL(migdp_config_init(&c), 0);
	CU_ASSERT_EQUAL(migdp_config_finish(&c, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "[migdp] role: missing (required)");
	set(&c, "migdp.role=destination", NULL);
	set(&c, "port.device=03:00.0", NULL);
	set(&c, "local.ip=198.18.0.2", NULL);
	CU_ASSERT_EQUAL(migdp_config_finish(&c, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "[peer] ip: missing (required)");
	set(&c, "peer.ip=198.18.0.1", NULL);
	set(&c, "migdp.keepalive_ms=2000", NULL);
	CU_ASSERT_EQUAL(migdp_config_finish(&c, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "--set migdp.keepalive_ms=2000: must be "
			       "at most half of peer_timeout_ms (3000)");
	set(&c, "migdp.peer_timeout_ms=4000", NULL);
	CU_ASSERT_EQUAL(migdp_config_finish(&c, err, sizeof(err)), 0);
}

/* The dump, loaded again, gives the same dump (comments aside). */
static char *
dump_keys(const struct migdp_config *c)
{
	char *buf = NULL, *line, *out, *save = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	migdp_config_dump(c, f);
	fclose(f);
	out = calloc(1, len + 1);
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save))
		if (line[0] != ';')
			strcat(strcat(out, line), "\n");
	free(buf);
	return out;
}

static void
test_dump_round_trip(void)
{
	char tmp[] = "/tmp/migdp-test-config-XXXXXX", err[ERRLEN] = "";
	struct migdp_config a, b;
	char *da, *db;
	FILE *f;
	int fd;

	load_ok(&a, CONFIG_DIR, "source");
	set(&a, "fault.tx_drop=2%", NULL);
	set(&a, "channels.lcores=4,5", NULL);
	set(&a, "channels.max_bandwidth=2.5G", NULL);
	set(&a, "local.mac=02:00:00:00:00:01", NULL);
	fd = mkstemp(tmp);
	CU_ASSERT_FATAL(fd >= 0);
	f = fdopen(fd, "w");
	migdp_config_dump(&a, f);
	fclose(f);
	CU_ASSERT_EQUAL(migdp_config_load(&b, tmp, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(migdp_config_finish(&b, err, sizeof(err)), 0);
	if (err[0] != '\0')
		printf("\n    %s\n", err);
	unlink(tmp);
	da = dump_keys(&a);
	db = dump_keys(&b);
	CU_ASSERT_STRING_EQUAL(da, db);
	CU_ASSERT_EQUAL(a.session_id, b.session_id);
	CU_ASSERT_PTR_NOT_NULL(strstr(da, "[channels]\ncount = 2\nlcores = "
				      "4,5\nwindow = 512\nmax_bandwidth = "
				      "2500M\n"));
	free(da);
	free(db);
}

int
main(void)
{
	static const struct cu_test bad_files[] = {
#define X(name, stage, line, key, why) {#name, test_##name},
		BAD_FILES(X)
#undef X
		{"missing_file", test_missing_file},
		{NULL, NULL},
	};
	static const struct cu_test good_files[] = {
		{"source_example", test_source_example},
		{"destination_example", test_destination_example},
		{"minimal_defaults", test_minimal_defaults},
		{"dump_round_trip", test_dump_round_trip},
		{NULL, NULL},
	};
	static const struct cu_test overrides[] = {
		{"overrides", test_overrides},
		{"bandwidth", test_bandwidth},
		{"devices", test_devices},
		{"session_id", test_session_id},
		{"override_then_finish", test_override_then_finish},
		{"no_file", test_no_file},
		{NULL, NULL},
	};

	if (cu_add_suite("bad_files", NULL, NULL, bad_files) < 0 ||
	    cu_add_suite("good_files", NULL, NULL, good_files) < 0 ||
	    cu_add_suite("overrides", NULL, NULL, overrides) < 0)
		return 1;
	return cu_run();
}
