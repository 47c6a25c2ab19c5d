/* SPDX-License-Identifier: BSD-3-Clause */
/* Private to the wire module: control-payload codecs (wire_msg.c) used by
 * the frame builder and parser (wire.c). Not included elsewhere. */
#ifndef MIGDP_WIRE_MSG_H
#define MIGDP_WIRE_MSG_H

#include <stdint.h>

#include "wire.h"

/** Largest control payload: a HELLO with every region. */
#define MIGDP_MSG_MAX_PAYLOAD (48 + MIGDP_VM_NAME_LEN + MIGDP_MAX_REGIONS * 16)

/* Encode the payload of non-DATA message @p m into @p p (room for
 * MIGDP_MSG_MAX_PAYLOAD). @return payload bytes or -EINVAL. */
int migdp_msg_encode(uint8_t *p, const struct migdp_msg *m);

/* Decode and validate the @p len payload bytes at @p p of a non-DATA frame
 * whose type is already in m->type. */
enum migdp_drop migdp_msg_decode(const uint8_t *p, uint16_t len,
				 struct migdp_msg *m);

#endif
