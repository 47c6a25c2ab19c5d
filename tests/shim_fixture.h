/* SPDX-License-Identifier: BSD-3-Clause */
/* A server and a client of libmigshim in one process: the server accepts
 * in a thread while the client connects, as two processes would. */
#ifndef SHIM_FIXTURE_H
#define SHIM_FIXTURE_H

#include <stddef.h>

#include "migshim.h"

struct fx_region {
	int fd;
	uint64_t offset, gpa, size;
	uint32_t flags; /* MIGSHIM_REGION_DEVICE_STATE: the device-state region */
};

struct fx {
	char path[108];
	struct migshim_server *srv;
	struct migshim_session *ss;   /* NULL when refused */
	struct migshim_client *cl;
	int connect_ret;              /* what the client was told */
	char err[256];                /* the reason the client got */
	int accept_errno;
};

/* A memfd named "fx-guest" of @p size bytes, each byte = pattern(seed, i). */
int fx_memfd(size_t size, unsigned seed);
unsigned char fx_pattern(unsigned seed, size_t i);

/* Unique socket path for this process. */
void fx_socket_path(char *buf, size_t len);

/* Run one handoff of @p n regions; fills @p f. Returns 0 when the session
 * was accepted. @p max_regions is passed to the server (0: default). */
int fx_handoff(struct fx *f, enum migshim_role role,
	       const struct migshim_client_params *p,
	       const struct fx_region *regions, unsigned n,
	       unsigned max_regions);

/* Free everything of a handoff (session, client, server). */
void fx_done(struct fx *f);

/* Mappings of "fx-guest" memfds in this process right now. */
int fx_count_guest_maps(void);

#endif
