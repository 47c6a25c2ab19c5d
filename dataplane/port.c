/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <string.h>

#include <rte_bus.h>
#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_malloc.h>

#include "log.h"
#include "port.h"

/* Name of the device in a devargs string: the part before the first ','. */
static void
dev_name(const char *devargs, char *name, size_t len)
{
	size_t n = strcspn(devargs, ",");

	if (n >= len)
		n = len - 1;
	memcpy(name, devargs, n);
	name[n] = '\0';
}

static int
find_or_probe(struct migdp_port *p, const char *device)
{
	uint16_t id;
	int ret;

	dev_name(device, p->name, sizeof(p->name));
	if (rte_eth_dev_get_port_by_name(p->name, &id) == 0) {
		p->id = id; /* given with --vdev / -a on the EAL command line */
		return 0;
	}
	ret = rte_dev_probe(device);
	if (ret < 0) {
		MIGDP_LOG(ERR, "cannot probe device '%s': %s", device,
			  rte_strerror(-ret));
		return ret;
	}
	p->own_vdev = true;
	if (rte_eth_dev_get_port_by_name(p->name, &id) != 0) {
		MIGDP_LOG(ERR, "device '%s' probed but no ethdev port '%s'",
			  device, p->name);
		return -ENODEV;
	}
	p->id = id;
	return 0;
}

/* Zero-copy transmit (the source's pages as segments over guest memory)
 * when the port takes multi-segment frames, chosen once here: the channels
 * then never branch on it per page. Its segments come from a pool of
 * mbufs without data room, enough for every window full of frames. */
static int
zero_copy_setup(struct migdp_port *p, const struct migdp_config *cfg,
		const struct rte_eth_dev_info *info, int socket)
{
	bool multi = (info->tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) != 0;
	unsigned n;

	if (cfg->role != MIGDP_ROLE_SOURCE || cfg->port.tx_zero_copy == MIGDP_OFF)
		return 0;
	if (!multi) {
		if (cfg->port.tx_zero_copy == MIGDP_ON) {
			MIGDP_LOG(ERR, "[port] tx_zero_copy = on: port %s cannot send "
				  "multi-segment frames", p->name);
			return -ENOTSUP;
		}
		return 0;
	}
	/* At most 3 pages per 9000-byte frame, a fragment per smaller one. */
	n = rte_align32pow2(cfg->sessions * cfg->channels.count *
			    (cfg->channels.window + 2 * cfg->port.burst) *
			    (cfg->port.mtu >= 8192 ? 3 : 2) + cfg->port.tx_desc + 1) - 1;
	char name[RTE_MEMPOOL_NAMESIZE];

	snprintf(name, sizeof(name), "migdp_zc_%u", p->id);
	p->zc_pool = rte_pktmbuf_pool_create(name, n, 256, 0, 0, socket);
	if (p->zc_pool == NULL) {
		MIGDP_LOG(ERR, "cannot create a pool of %u segment mbufs: %s", n,
			  rte_strerror(rte_errno));
		return -rte_errno;
	}
	p->tx_zero_copy = true;
	return 0;
}

int
migdp_port_open(struct migdp_port *p, const struct migdp_config *cfg,
		uint16_t nb_queues, unsigned link_ms)
{
	struct rte_eth_conf conf = {0};
	struct rte_eth_dev_info info;
	struct rte_eth_link link;
	char pool_name[RTE_MEMPOOL_NAMESIZE];
	unsigned waited = 0;
	bool restart;

	uint16_t q, nrx, ntx;
	int ret, socket;

	memset(p, 0, sizeof(*p));
	ret = find_or_probe(p, cfg->port.device);
	if (ret < 0)
		return ret;
	ret = rte_eth_dev_info_get(p->id, &info);
	if (ret < 0)
		return ret;
	if (info.max_rx_queues < nb_queues || info.max_tx_queues < nb_queues) {
		MIGDP_LOG(ERR, "port %s has %u rx / %u tx queues; %u channels need %u "
			  "(one control queue + one per channel)", p->name,
			  info.max_rx_queues, info.max_tx_queues, nb_queues - 1u,
			  nb_queues);
		return -ENOTSUP;
	}
	socket = rte_eth_dev_socket_id(p->id);
	if (socket < 0)
		socket = (int)rte_socket_id();
	p->socket = socket;
	/* One mbuf holds a whole jumbo frame (headroom + 9014 bytes). Named
	 * after the port: two ports may share a process (tests/test_chan.c). */
	snprintf(pool_name, sizeof(pool_name), "migdp_pool_%u", p->id);
	p->pool = rte_pktmbuf_pool_create(pool_name, cfg->port.pool_size, 256,
					  0, RTE_PKTMBUF_HEADROOM + MIGDP_MBUF_ROOM,
					  socket);
	if (p->pool == NULL) {
		MIGDP_LOG(ERR, "cannot create a pool of %u mbufs: %s",
			  cfg->port.pool_size, rte_strerror(rte_errno));
		return -rte_errno;
	}
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	ret = zero_copy_setup(p, cfg, &info, socket);
	if (ret < 0)
		return ret;
	p->tx_udp_cksum = (info.tx_offload_capa & (RTE_ETH_TX_OFFLOAD_UDP_CKSUM |
			   RTE_ETH_TX_OFFLOAD_IPV4_CKSUM)) ==
			  (RTE_ETH_TX_OFFLOAD_UDP_CKSUM | RTE_ETH_TX_OFFLOAD_IPV4_CKSUM);
	if (p->tx_udp_cksum)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_UDP_CKSUM |
					RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
	p->rx_l4_cksum = (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_CHECKSUM) ==
			 RTE_ETH_RX_OFFLOAD_CHECKSUM;
	if (p->rx_l4_cksum)
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_CHECKSUM;
	nrx = ntx = nb_queues;
	ret = rte_eth_dev_configure(p->id, nrx, ntx, &conf);
	if (ret < 0) {
		MIGDP_LOG(ERR, "configure port %s: %s", p->name, rte_strerror(-ret));
		return ret;
	}
	/* memif and af_packet refuse an MTU above 1500 yet carry jumbo frames
	 * (they chain or copy buffers): say so and go on. */
	ret = rte_eth_dev_set_mtu(p->id, (uint16_t)cfg->port.mtu);
	if (ret < 0)
		MIGDP_LOG(NOTICE, "port %s refuses MTU %u (%s); sending %u-byte "
			  "frames anyway, as virtual ports carry them", p->name,
			  cfg->port.mtu, rte_strerror(-ret), cfg->port.mtu);
	for (q = 0; q < nb_queues; q++) {
		ret = rte_eth_rx_queue_setup(p->id, q, (uint16_t)cfg->port.rx_desc,
					     (unsigned)socket, NULL, p->pool);
		if (ret == 0)
			ret = rte_eth_tx_queue_setup(p->id, q,
						     (uint16_t)cfg->port.tx_desc,
						     (unsigned)socket, NULL);
		if (ret < 0) {
			MIGDP_LOG(ERR, "queue %u of port %s: %s", q, p->name,
				  rte_strerror(-ret));
			return ret;
		}
	}
	/* A memif client cannot connect before its server listens, and a
	 * failed attempt may leave it idle: start, wait a little for the
	 * link, otherwise stop and try again, until link_ms. Only a client
	 * restarts: a server that restarts drops a client that has just
	 * connected and, seeing its link up, stopped trying (seen here: the
	 * server's link still down after 60 s). */
	restart = strstr(cfg->port.device, "role=client") != NULL;
	for (;;) {
		unsigned t;

		ret = rte_eth_dev_start(p->id);
		for (t = 0; ret == 0 && (t < 2000 || !restart) && waited + t < link_ms;
		     t += 10) {
			memset(&link, 0, sizeof(link));
			rte_eth_link_get_nowait(p->id, &link);
			if (link.link_status == RTE_ETH_LINK_UP)
				break;
			rte_delay_us_sleep(10000);
		}
		waited += t;
		if (ret == 0 && link.link_status == RTE_ETH_LINK_UP)
			break;
		if (ret == 0)
			rte_eth_dev_stop(p->id);
		if (waited >= link_ms) {
			MIGDP_LOG(ERR, "port %s: %s after %u ms", p->name,
				  ret < 0 ? rte_strerror(-ret) : "link still down",
				  waited);
			return ret < 0 ? ret : -ENETDOWN;
		}
		rte_delay_us_sleep(100000);
		waited += 100;
	}
	p->nb_queues = nb_queues;
	rte_eth_macaddr_get(p->id, &p->mac);
	MIGDP_LOG(INFO, "port %s up: %u queue pairs, MTU %u, tx csum offload %s, "
		  "transmit by %s", p->name, nb_queues, cfg->port.mtu,
		  p->tx_udp_cksum ? "yes" : "no",
		  p->tx_zero_copy ? "zero-copy segments" : "copy");
	return 0;
}

void
migdp_port_close(struct migdp_port *p)
{
	if (p->nb_queues > 0) {
		rte_eth_dev_stop(p->id);
		rte_eth_dev_close(p->id);
		p->nb_queues = 0;
	}
	rte_mempool_free(p->pool);
	rte_mempool_free(p->zc_pool);
	p->pool = NULL;
	p->zc_pool = NULL;
}

uint16_t
migdp_port_tx(struct migdp_port *p, uint16_t queue, struct rte_mbuf **pkts,
	      uint16_t n, uint64_t *dropped)
{
	uint16_t sent = 0;
	unsigned tries = 0;

	while (sent < n && tries++ < 64)
		sent += rte_eth_tx_burst(p->id, queue, pkts + sent, n - sent);
	if (sent < n) {
		*dropped += n - sent;
		rte_pktmbuf_free_bulk(pkts + sent, n - sent);
	}
	return sent;
}
