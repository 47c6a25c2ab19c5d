/* SPDX-License-Identifier: BSD-3-Clause */
/* DPDK telemetry of migdp (dpdk-telemetry.py): /migdp/sessions,
 * /migdp/session,<id> and /migdp/channels. The telemetry thread reads a
 * snapshot the control lcore publishes, never the session itself. */
#ifndef MIGDP_TELEMETRY_H
#define MIGDP_TELEMETRY_H

struct migdp_session;

/** Register the endpoints (once, after rte_eal_init()). */
void migdp_telemetry_init(void);
/** Control lcore: publish the @p n running sessions, at most every
 * 100 ms. */
void migdp_telemetry_publish(const struct migdp_session *const *s, unsigned n);

#endif
