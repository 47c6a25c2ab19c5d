/* SPDX-License-Identifier: BSD-3-Clause */
/* migdp's rte_log types. */
#ifndef MIGDP_LOG_H
#define MIGDP_LOG_H

#include <rte_log.h>

extern int migdp_logtype;

#define MIGDP_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, migdp_logtype, "migdp: " fmt "\n", ##__VA_ARGS__)

#endif
