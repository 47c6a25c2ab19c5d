/* SPDX-License-Identifier: BSD-3-Clause */
/* Shared by the two roles of migguest --live. */
#ifndef GUEST_LIVE_H
#define GUEST_LIVE_H

#include "guest.h"
#include "guest_devstate.h"
#include "guest_workload.h"

/* Start the vCPUs of the options on the guest's RAM; from the state in
 * @p from (a destination resuming) or fresh (NULL). NULL with errno. */
struct guest_workload *guest_live_workload(const struct guest_opts *o,
					   const struct guest *g,
					   const struct guest_devstate *from);

#endif /* GUEST_LIVE_H */
