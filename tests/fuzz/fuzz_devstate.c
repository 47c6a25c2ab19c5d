/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer harness: the reader of the lab guest's device-state blob
 * (lab/guest_devstate.c), which the destination's migguest reads from
 * guest memory the source sent. The input is the region, its size the
 * input's. Promises (guest_devstate.h): a blob is refused with a reason,
 * or it is exactly what guest_devstate_write() makes of its header (the
 * reader and the writer agree byte for byte); and what the writer makes of
 * any valid header, the reader takes back unchanged. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "guest_devstate.h"

/* Blobs beyond this are only more filler. */
#define MAX_BLOB (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct guest_devstate h, back;
	char err[256] = "";
	uint8_t *blob;
	int ret;

	if (size > MAX_BLOB)
		return -1;
	ret = guest_devstate_read(data, size, &h, err, sizeof(err));
	FUZZ_CHECK(ret == 0 || ret == -EINVAL);
	if (ret != 0) {
		FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)) != NULL);
	} else {
		FUZZ_CHECK(size >= sizeof(h) && h.length == size);
		FUZZ_CHECK(memcmp(h.magic, GUEST_DEVSTATE_MAGIC, sizeof(h.magic)) == 0);
		FUZZ_CHECK(h.version == GUEST_DEVSTATE_VERSION);
		FUZZ_CHECK(h.nvcpus >= 1 && h.nvcpus <= GUEST_MAX_VCPUS);
		FUZZ_CHECK(memchr(h.digest, '\0', sizeof(h.digest)) != NULL);
		blob = malloc(size);
		FUZZ_CHECK(blob != NULL);
		guest_devstate_write(blob, size, &h);
		FUZZ_CHECK(memcmp(blob, data, size) == 0);
		free(blob);
	}
	if (size < sizeof(h))
		return 0;
	/* The input's header made valid, written and read back. */
	memcpy(&h, data, sizeof(h));
	h.nvcpus = 1 + h.nvcpus % GUEST_MAX_VCPUS;
	h.digest[sizeof(h.digest) - 1] = '\0';
	blob = malloc(size);
	FUZZ_CHECK(blob != NULL);
	guest_devstate_write(blob, size, &h);
	FUZZ_CHECK(guest_devstate_read(blob, size, &back, err, sizeof(err)) == 0);
	FUZZ_CHECK(back.nvcpus == h.nvcpus && back.length == size &&
		   back.pause_ns == h.pause_ns && back.writes == h.writes &&
		   back.seed == h.seed &&
		   memcmp(back.digest, h.digest, sizeof(h.digest)) == 0 &&
		   memcmp(back.vcpu, h.vcpu, sizeof(h.vcpu)) == 0);
	free(blob);
	return 0;
}
