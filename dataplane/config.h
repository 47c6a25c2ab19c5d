/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file config.h
 * migdp configuration: one INI file read with rte_cfgfile, then
 * `section.key=value` overrides from the command line, then cross-key
 * checks, into one validated struct.
 *
 * Order of calls: migdp_config_load() (or migdp_config_init() when there is
 * no file), any number of migdp_config_set(), then migdp_config_finish()
 * once. Every key has exactly one parser, used by the file, the overrides
 * and the defaults alike. Errors are written to @p err as one line that
 * names the file, the line, the section, the key, the value and why, e.g.
 * `config/source.ini:12: [port] mtu = 12000: must be 1500..9000`.
 *
 * File syntax is rte_cfgfile's: `[section]`, `key = value`, comments start
 * with ';'. Unknown sections, unknown keys, repeated keys or sections and
 * lines that are neither a section nor a key are errors.
 *
 * No EAL is needed: nothing here calls rte_eal_init() or rte_exit().
 */
#ifndef MIGDP_CONFIG_H
#define MIGDP_CONFIG_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include <rte_byteorder.h>
#include <rte_ether.h>

#include "codec/codec.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Most channels one migdp runs (one lcore and one queue pair each). */
#define MIGDP_MAX_CHANNELS 64
/** Room for a device string (an rte_cfgfile value is at most 255 chars). */
#define MIGDP_DEVICE_LEN 256
/** Room for a Unix socket path (sizeof(sun_path)). */
#define MIGDP_SOCKET_PATH_LEN 108
/** Size of the internal per-key bookkeeping array (keys <= this). */
#define MIGDP_CONFIG_MAX_KEYS 64

/** Which side of a migration this migdp is. */
enum migdp_role {
	MIGDP_ROLE_NONE = 0,	/**< not set yet (load refuses to finish) */
	MIGDP_ROLE_SOURCE,
	MIGDP_ROLE_DESTINATION,
};

/** How [port] device names the NIC. */
enum migdp_port_kind {
	MIGDP_PORT_PCI = 0,	/**< a PCI address, probed with -a */
	MIGDP_PORT_VDEV,	/**< a virtual device (net_*), probed as --vdev */
};

/** [port]: the migration NIC. */
struct migdp_port_conf {
	char device[MIGDP_DEVICE_LEN];	/**< PCI address or vdev, with devargs */
	enum migdp_port_kind kind;	/**< derived from @c device */
	uint32_t mtu;		/**< IP MTU, 1500..9000 */
	uint32_t mbufs;		/**< mbuf pool size asked for, 0 = auto */
	uint32_t pool_size;	/**< mbuf pool size to create: set by finish() */
	uint32_t rx_desc;	/**< RX descriptors per queue */
	uint32_t tx_desc;	/**< TX descriptors per queue */
	uint32_t burst;		/**< RX/TX burst size */
	uint32_t tx_zero_copy;	/**< enum migdp_tristate: pages sent from guest
				 * memory as mbuf segments (auto: if the port
				 * takes multi-segment frames) */
};

/** A setting that is on, off, or chosen from what the machine offers. */
enum migdp_tristate {
	MIGDP_AUTO = 0,
	MIGDP_OFF,
	MIGDP_ON,
};

/** [channels]: the unit of parallelism (DESIGN.md decision 3). */
struct migdp_channels_conf {
	uint32_t count;		/**< 1..MIGDP_MAX_CHANNELS */
	uint32_t nb_lcores;	/**< 0 = worker lcores in order, else count */
	uint32_t lcores[MIGDP_MAX_CHANNELS];	/**< lcore of channel i */
	uint32_t window;	/**< frames in flight per channel, power of 2 */
	uint64_t max_bandwidth;	/**< bits/s for the whole port, 0 = line rate;
				 * with congestion control a ceiling */
	uint32_t congestion;	/**< 1: rate discovery and congestion control
				 * (BBR-style, cc.h); 0: fixed window */
};

/** [local] and [peer]: one UDP/IPv4 endpoint. */
struct migdp_endpoint {
	rte_be32_t ip;		/**< network byte order; 0 = not set */
	uint16_t udp_port;	/**< base port: channel i uses udp_port + i */
	struct rte_ether_addr mac;	/**< all zero = not set: local uses
					 * the port's, peer is found by ARP */
};

/** [fault]: fault injection for tests and labs, fractions of frames. */
struct migdp_fault_conf {
	double tx_drop, tx_dup, tx_reorder, tx_corrupt;
	double rx_drop, rx_dup, rx_reorder, rx_corrupt;
	uint64_t seed;		/**< of the injection PRNG, for repeatability */
};

/** Everything migdp is told at start. Fill it with the functions below. */
struct migdp_config {
	char path[PATH_MAX];	/**< file loaded ("" if none), for messages */
	/** [security] (sec.h, README "Security"). */
	struct {
		/** key_file: the pre-shared key of this host's migrations (16
		 * to 64 random bytes, mode 0600); "": not authenticated. A
		 * migration's own key-file (control socket) wins. */
		char key_file[MIGDP_SOCKET_PATH_LEN];
		/** encrypt: payloads encrypted too (on/off; needs a key). A
		 * destination with encrypt on refuses a source without. */
		uint32_t encrypt;
	} security;
	/* [migdp] */
	enum migdp_role role;
	uint64_t session_id;	/**< 0 = not set: finish() draws one at the
				 * source; a destination accepts any */
	uint32_t log_level;	/**< RTE_LOG_EMERG..RTE_LOG_DEBUG */
	uint32_t idle_backoff_us;	/**< 0 = spin; else sleep this long ... */
	uint32_t idle_polls;	/**< ... after this many empty polls in a row */
	uint32_t idle_backoff_max_us; /**< doubling while idle, up to this */
	uint32_t peer_timeout_ms;	/**< silent peer ends the session */
	uint32_t keepalive_ms;	/**< keepalive period when idle */
	char shim_socket[MIGDP_SOCKET_PATH_LEN];	/**< "" until finish() */
	/** [migdp] control_socket: the JSON control socket ("" until finish():
	 * /tmp/migdp-ROLE-control.sock). */
	char control_socket[MIGDP_SOCKET_PATH_LEN];
	/** [migdp] sessions: migrations at once, at most (the mbuf pools hold
	 * every session's windows). */
	uint32_t sessions;
	/** [migdp] watchdog_ms: a session that makes no progress this long
	 * (hypervisor silent, descriptors refused) fails, saying why. */
	uint32_t watchdog_ms;
	/** [migration]: pre-copy policy, the defaults of each session's
	 * parameters (migrate-set-parameters changes them per session). */
	struct migdp_migration_conf {
		uint32_t downtime_limit_ms;
		uint64_t max_bandwidth;   /**< bits/s the estimate assumes at most, 0 = line rate */
		uint32_t max_rounds;
		uint32_t auto_converge;   /**< on|off */
		uint32_t throttle_initial; /**< percent */
		uint32_t throttle_step;    /**< percent */
		uint32_t throttle_max;     /**< percent */
	} migration;
	struct migdp_port_conf port;
	struct migdp_channels_conf channels;
	struct migdp_endpoint local;
	struct migdp_endpoint peer;
	struct migdp_fault_conf fault;
	/** [codec] method: auto (default) | raw | zstd[:LEVEL]. */
	struct migdp_codec_setting codec;
	/** [codec] dict: train a zstd dictionary on the source's memory and
	 * send it before the pages (on|off). */
	uint32_t codec_dict;
	/** [codec] min_save: bytes a compressed page must save, else it goes
	 * raw (1..4095, default 512 = 1/8 page). */
	uint32_t codec_min_save;
	/** Private to config.c: where each key was set, for messages
	 * (0 = default, MIGDP_CONFIG_OVERRIDE, else the line in @c path). */
	uint32_t origin[MIGDP_CONFIG_MAX_KEYS];
};

/** @c origin value of a key set by migdp_config_set(). */
#define MIGDP_CONFIG_OVERRIDE UINT32_MAX

/**
 * Set every key to its default; required keys are left unset.
 *
 * @return 0, or -EINVAL if a built-in default does not parse (a bug).
 */
int
migdp_config_init(struct migdp_config *cfg);

/**
 * Initialise @p cfg with migdp_config_init() and read the INI file @p path
 * into it. Stops at the first bad line, unknown section or key, repeated
 * section or key, or bad value.
 *
 * @param cfg
 *   Configuration to fill.
 * @param path
 *   INI file.
 * @param err
 *   Receives a one-line message on failure (may be NULL).
 * @param errlen
 *   Size of @p err.
 * @return
 *   0, or -EINVAL with the reason in @p err.
 */
int
migdp_config_load(struct migdp_config *cfg, const char *path, char *err,
		  size_t errlen);

/**
 * Apply one override, `section.key=value` (as given to `--set`), through
 * the same parser as the file. A later value replaces an earlier one.
 *
 * @return
 *   0, or -EINVAL with the reason in @p err (@p cfg is then unchanged).
 */
int
migdp_config_set(struct migdp_config *cfg, const char *assignment, char *err,
		 size_t errlen);

/**
 * Check what no single key can: required keys present, [channels] lcores
 * count matches, local and peer endpoints differ, UDP port ranges fit,
 * burst fits the rings, enough mbufs, keepalive well under the peer
 * timeout. Then fill the derived values: a random session id at the
 * source, port.pool_size, the shim socket path (/tmp/migdp-<role>.sock)
 * when not set. Calling it again after more overrides is allowed.
 *
 * @return
 *   0, or -EINVAL with the reason in @p err.
 */
int
migdp_config_finish(struct migdp_config *cfg, char *err, size_t errlen);

/**
 * Write @p cfg as an INI file that migdp_config_load() reads back to the
 * same values. Keys not set are written as comments.
 */
void
migdp_config_dump(const struct migdp_config *cfg, FILE *f);

/** Name of @p role ("source", "destination"; "" when not set). */
const char *
migdp_role_name(enum migdp_role role);

/** Pacing rate of one channel in bits/s: [channels] max_bandwidth shared
 * evenly over the channels; 0 = line rate. */
static inline uint64_t
migdp_config_channel_bps(const struct migdp_config *cfg)
{
	return cfg->channels.max_bandwidth / cfg->channels.count;
}

#ifdef __cplusplus
}
#endif

#endif /* MIGDP_CONFIG_H */
