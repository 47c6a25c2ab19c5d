/* SPDX-License-Identifier: BSD-3-Clause */
/* The migration NIC: probe, queues, mempool, link. */
#ifndef MIGDP_PORT_H
#define MIGDP_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "config.h"
#include "wire.h"

/** Largest Ethernet frame migdp sends (MTU 9000 + Ethernet header). */
#define MIGDP_MAX_FRAME (MIGDP_MTU_MAX + RTE_ETHER_HDR_LEN)
/** mbuf data room: a whole frame, and af_packet's 10 KiB frame slots. */
#define MIGDP_MBUF_ROOM 10240

struct migdp_port {
	uint16_t id;
	uint16_t nb_queues;        /**< queue pairs: 0 = control, 1.. = channels */
	struct rte_mempool *pool;
	struct rte_ether_addr mac;
	bool tx_udp_cksum;         /**< the port computes UDP checksums */
	bool rx_l4_cksum;          /**< the port reports checked L4 sums */
	bool own_vdev;             /**< probed by us: removed at close */
	bool tx_zero_copy;         /**< source: pages leave from guest memory as
				    * segments attached to zc_pool mbufs */
	struct rte_mempool *zc_pool; /**< mbufs without data room, or NULL */
	int socket;                /**< NUMA node of the NIC (or of the main
				    * lcore when the port has none) */
	char name[RTE_ETH_NAME_MAX_LEN];
};

/** Probe the device of @p cfg (a vdev or PCI address), create the mbuf
 * pool and start the port with @p nb_queues queue pairs; wait up to
 * @p link_ms for the link. @return 0 or -errno, with a log line saying why. */
int migdp_port_open(struct migdp_port *p, const struct migdp_config *cfg,
		    uint16_t nb_queues, unsigned link_ms);

/** Stop and close the port, free the pool. */
void migdp_port_close(struct migdp_port *p);

/** Send all of @p pkts on @p queue, retrying a bounded number of times;
 * what the port still refuses is freed and counted. @return sent. */
uint16_t migdp_port_tx(struct migdp_port *p, uint16_t queue,
		       struct rte_mbuf **pkts, uint16_t n, uint64_t *dropped);

#endif
