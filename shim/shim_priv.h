/* SPDX-License-Identifier: BSD-3-Clause */
/* Private to libmigshim: the handoff messages and the ring-area layout,
 * shared by the client and the server so that both compute one layout. */
#ifndef MIGSHIM_PRIV_H
#define MIGSHIM_PRIV_H

#include <assert.h>
#include <stdint.h>

#include "migshim.h"

#define MIGSHIM_HELLO_MAGIC 0x4d494748u /* "MIGH" */
#define MIGSHIM_REPLY_MAGIC 0x4d494752u /* "MIGR" */
#define MIGSHIM_KICK_MAGIC 0x4d49474bu  /* "MIGK" */

#define MIGSHIM_DEFAULT_RING_SIZE 4096u
#define MIGSHIM_DEFAULT_EVENT_RING_SIZE 64u
#define MIGSHIM_DEFAULT_MAX_RUN 512u
#define MIGSHIM_DEFAULT_BLOCK_PAGES 512u

/* One region as described in the hello message; its fd travels in the
 * SCM_RIGHTS payload at index 1 + i (index 0 is the ring area). */
struct migshim_wire_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t offset;
	uint32_t flags; /* MIGSHIM_REGION_* */
	uint32_t reserved;
};

/* Client -> server, once, on a SOCK_SEQPACKET connection. */
struct migshim_hello {
	uint32_t magic;
	uint16_t version;
	uint16_t role;
	uint32_t nregions;
	uint32_t nrings;
	uint32_t ring_size;
	uint32_t event_ring_size;
	uint32_t max_run_pages;
	uint32_t block_pages;
	uint64_t ctrl_size;
	char name[MIGSHIM_NAME_LEN];
	struct migshim_wire_region regions[MIGSHIM_MAX_REGIONS];
};
static_assert(sizeof(struct migshim_hello) == 40 + MIGSHIM_NAME_LEN + 32 * MIGSHIM_MAX_REGIONS,
	      "hello layout");

/* Server -> client, once: the verdict. */
struct migshim_reply {
	uint32_t magic;
	int32_t status; /* 0 or -errno */
	char msg[248];
};
static_assert(sizeof(struct migshim_reply) == 256, "reply layout");

/* Server -> client after each event, so that the client can poll() its
 * socket instead of the ring. */
struct migshim_kick {
	uint32_t magic;
};

static_assert(sizeof(struct migshim_desc) == 16, "descriptor is 16 bytes");
static_assert(sizeof(struct migshim_event) == 64, "event is 64 bytes");

/* Layout of the ring area: nrings dirty rings, then the event ring, each
 * starting on a 128-byte boundary. Returns the total size, 0 if invalid. */
static inline size_t
migshim_layout(uint32_t nrings, uint32_t ring_size, uint32_t event_ring_size,
	       size_t *ring_stride, size_t *event_off)
{
	size_t rs = migshim_ring_memsize(ring_size, sizeof(struct migshim_desc));
	size_t es = migshim_ring_memsize(event_ring_size,
					 sizeof(struct migshim_event));

	if (rs == 0 || es == 0 || nrings == 0 || nrings > MIGSHIM_MAX_RINGS)
		return 0;
	rs = (rs + 127) & ~(size_t)127;
	*ring_stride = rs;
	*event_off = rs * nrings;
	return rs * nrings + ((es + 127) & ~(size_t)127);
}

static inline int
migshim_is_pow2(uint64_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

#endif
