/* SPDX-License-Identifier: BSD-3-Clause */
/* The daemon's control frames (queue 0, and what the channel lcores hand
 * over): ARP answered and learned, every other frame to its session, by
 * session id, or for a HELLO of a new session to the incoming migration
 * of its VM; frames of no session dropped and counted. */
#include <string.h>

#include <rte_ethdev.h>

#include "arp.h"
#include "daemon.h"

/* An ARP frame: answered if it asks for us, learned by the sessions whose
 * peer sent it. @return false when @p m is not ARP. */
static bool
arp_input(struct rte_mbuf *m)
{
	struct rte_ether_addr mac;
	bool learned = false;
	unsigned i;
	int r;

	/* First as nobody's: a request for us becomes the reply. */
	r = migdp_arp_input(m, &D.mac, D.ip, 0, &mac, &learned);
	if (r < 0)
		return false;
	if (r == 1) {
		migdp_port_tx(&D.port, 0, &m, 1, &D.st.tx_dropped);
		return true;
	}
	for (i = 0; i < MIGDP_MAX_SESSIONS; i++) {
		struct slot *sl = &D.slots[i];

		if (sl->active && !sl->sess.peer_mac_known)
			migdp_arp_input(m, &D.mac, D.ip, sl->ctx.ctl_flow.dst_ip,
					&sl->sess.peer_mac, &sl->sess.peer_mac_known);
	}
	rte_pktmbuf_free(m);
	return true;
}

/* The session of control frame @p m: by its session id, or for a HELLO
 * of a new session the incoming migration of its VM. */
static struct slot *
slot_of_frame(struct rte_mbuf *m)
{
	uint64_t id = migdp_frame_session(m);
	struct migdp_frame f;
	struct migdp_local any = {.ip = D.ip, .port = D.cfg.local.udp_port};
	static uint8_t scratch[MIGDP_MAX_FRAME + 64];
	static struct migdp_ctx probe; /* belongs to no session */
	unsigned i;

	for (i = 0; i < MIGDP_MAX_SESSIONS; i++)
		if (D.slots[i].active && id != 0 &&
		    (D.slots[i].ctx.ctl_loc.session == id ||
		     (D.slots[i].sess.tentative && D.slots[i].sess.tentative_id == id)))
			return &D.slots[i];
	if (D.cfg.role != MIGDP_ROLE_DESTINATION ||
	    !migdp_rx_parse(&probe, m, &any, scratch, &f, &D.st) ||
	    f.msg.type != MIGDP_T_HELLO)
		return NULL;
	for (i = 0; i < MIGDP_MAX_SESSIONS; i++) {
		struct slot *sl = &D.slots[i];

		/* Waiting for its source; a HELLO without a name (an old
		 * source) goes to the only one waiting. */
		if (sl->active && sl->ctx.ctl_loc.session == 0 &&
		    (strcmp(f.msg.u.hello.vm, sl->sess.vm) == 0 ||
		     (f.msg.u.hello.vm[0] == '\0' && migdp_daemon_active() == 1)))
			return sl;
	}
	return NULL;
}

/* Queue 0 and the frames the workers handed over: each to its session.
 * @return frames. */
unsigned
migdp_daemon_ctl_rx(void)
{
	struct rte_mbuf *pkts[MIGDP_BURST];
	uint16_t n, i;

	n = rte_eth_rx_burst(D.port.id, 0, pkts, (uint16_t)D.cfg.port.burst);
	n += (uint16_t)rte_ring_dequeue_burst(D.ws.ctl_inbox, (void **)pkts + n,
					      MIGDP_BURST - n, NULL);
	for (i = 0; i < n; i++) {
		unsigned o = migdp_workers_owner(&D.ws, pkts[i]);
		struct slot *sl;

		if (o != 0) { /* a channel's, steered to queue 0 */
			D.st.misrouted++;
			if (rte_ring_enqueue(D.ws.w[o - 1].inbox, pkts[i]) != 0)
				rte_pktmbuf_free(pkts[i]);
			continue;
		}
		if (arp_input(pkts[i]))
			continue;
		sl = slot_of_frame(pkts[i]);
		if (sl == NULL) {
			D.st.drops[MIGDP_DROP_WRONG_SESSION]++;
			rte_pktmbuf_free(pkts[i]);
			continue;
		}
		migdp_session_input(&sl->sess, pkts[i]);
	}
	return n;
}
