/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include <rte_arp.h>
#include <rte_byteorder.h>

#include "arp.h"

void
migdp_arp_request(struct rte_mbuf *m, const struct rte_ether_addr *mac,
		  uint32_t ip, uint32_t target_ip)
{
	struct rte_ether_hdr *eh = (struct rte_ether_hdr *)
		rte_pktmbuf_append(m, sizeof(*eh) + sizeof(struct rte_arp_hdr));
	struct rte_arp_hdr *ah = (struct rte_arp_hdr *)(eh + 1);

	memset(&eh->dst_addr, 0xff, RTE_ETHER_ADDR_LEN);
	rte_ether_addr_copy(mac, &eh->src_addr);
	eh->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	ah->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	ah->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ah->arp_hlen = RTE_ETHER_ADDR_LEN;
	ah->arp_plen = 4;
	ah->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
	rte_ether_addr_copy(mac, &ah->arp_data.arp_sha);
	ah->arp_data.arp_sip = rte_cpu_to_be_32(ip);
	memset(&ah->arp_data.arp_tha, 0, RTE_ETHER_ADDR_LEN);
	ah->arp_data.arp_tip = rte_cpu_to_be_32(target_ip);
}

int
migdp_arp_input(struct rte_mbuf *m, const struct rte_ether_addr *mac,
		uint32_t ip, uint32_t peer_ip, struct rte_ether_addr *peer_mac,
		bool *learned)
{
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_arp_hdr *ah = (struct rte_arp_hdr *)(eh + 1);

	if (rte_pktmbuf_data_len(m) < sizeof(*eh) ||
	    eh->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP))
		return -1;
	if (rte_pktmbuf_data_len(m) < sizeof(*eh) + sizeof(*ah) ||
	    ah->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
	    ah->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
	    ah->arp_hlen != RTE_ETHER_ADDR_LEN || ah->arp_plen != 4)
		return 0;
	if (rte_be_to_cpu_32(ah->arp_data.arp_sip) == peer_ip &&
	    rte_is_unicast_ether_addr(&ah->arp_data.arp_sha)) {
		rte_ether_addr_copy(&ah->arp_data.arp_sha, peer_mac);
		*learned = true;
	}
	if (ah->arp_opcode != rte_cpu_to_be_16(RTE_ARP_OP_REQUEST) ||
	    rte_be_to_cpu_32(ah->arp_data.arp_tip) != ip)
		return 0;
	/* Turn the request into our reply. */
	ah->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
	ah->arp_data.arp_tha = ah->arp_data.arp_sha;
	ah->arp_data.arp_tip = ah->arp_data.arp_sip;
	rte_ether_addr_copy(mac, &ah->arp_data.arp_sha);
	ah->arp_data.arp_sip = rte_cpu_to_be_32(ip);
	eh->dst_addr = eh->src_addr;
	rte_ether_addr_copy(mac, &eh->src_addr);
	return 1;
}
