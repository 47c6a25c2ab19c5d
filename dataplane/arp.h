/* SPDX-License-Identifier: BSD-3-Clause */
/* ARP for our one address: answer requests, resolve the peer. */
#ifndef MIGDP_ARP_H
#define MIGDP_ARP_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mbuf.h>

/** Build an ARP request for @p target_ip (host order) into @p m. */
void migdp_arp_request(struct rte_mbuf *m, const struct rte_ether_addr *mac,
		       uint32_t ip, uint32_t target_ip);

/** Handle the ARP frame @p m: if it asks for @p ip, turn it into the reply
 * in place and return 1 (send it); if it comes from @p peer_ip, copy the
 * sender's MAC to @p peer_mac and set *@p learned. Return 0 when @p m is to
 * be freed, -1 when it is not ARP at all. */
int migdp_arp_input(struct rte_mbuf *m, const struct rte_ether_addr *mac,
		    uint32_t ip, uint32_t peer_ip, struct rte_ether_addr *peer_mac,
		    bool *learned);

#endif
