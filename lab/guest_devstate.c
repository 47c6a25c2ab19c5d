/* SPDX-License-Identifier: BSD-3-Clause */
/* The lab guest's device-state blob: header and deterministic filler. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <xxhash.h>

#include "guest_devstate.h"

/* Filler word at byte offset @p off (a multiple of 8): splitmix64. */
static uint64_t
filler(uint64_t off)
{
	uint64_t z = off + 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void
guest_devstate_write(void *region, uint64_t size,
		     const struct guest_devstate *h)
{
	struct guest_devstate hd = *h;
	uint8_t *p = region;
	uint64_t off, w;

	memcpy(hd.magic, GUEST_DEVSTATE_MAGIC, sizeof(hd.magic));
	hd.version = GUEST_DEVSTATE_VERSION;
	hd.length = size;
	memcpy(p, &hd, sizeof(hd));
	for (off = sizeof(hd); off + 8 <= size; off += 8) {
		w = filler(off);
		memcpy(p + off, &w, 8);
	}
	for (; off < size; off++)
		p[off] = (uint8_t)filler(off & ~7ull);
}

int
guest_devstate_read(const void *region, uint64_t size,
		    struct guest_devstate *out, char *err, size_t errlen)
{
	const uint8_t *p = region;
	uint64_t off, w;

	if (size < sizeof(*out)) {
		snprintf(err, errlen, "device state: region of %llu bytes "
			 "holds no header", (unsigned long long)size);
		return -EINVAL;
	}
	memcpy(out, p, sizeof(*out));
	if (memcmp(out->magic, GUEST_DEVSTATE_MAGIC, sizeof(out->magic)) != 0) {
		snprintf(err, errlen, "device state: bad magic");
		return -EINVAL;
	}
	if (out->version != GUEST_DEVSTATE_VERSION) {
		snprintf(err, errlen, "device state: version %u, expected %u",
			 out->version, GUEST_DEVSTATE_VERSION);
		return -EINVAL;
	}
	if (out->length != size) {
		snprintf(err, errlen, "device state: length %llu, region %llu",
			 (unsigned long long)out->length,
			 (unsigned long long)size);
		return -EINVAL;
	}
	if (out->nvcpus == 0 || out->nvcpus > GUEST_MAX_VCPUS ||
	    memchr(out->digest, '\0', sizeof(out->digest)) == NULL) {
		snprintf(err, errlen, "device state: bad header (%u vCPUs)",
			 out->nvcpus);
		return -EINVAL;
	}
	for (off = sizeof(*out); off + 8 <= size; off += 8) {
		memcpy(&w, p + off, 8);
		if (w != filler(off))
			break;
	}
	for (; off < size && off + 8 > size; off++)
		if (p[off] != (uint8_t)filler(off & ~7ull))
			break;
	if (off < size) {
		snprintf(err, errlen, "device state: differs at byte %llu",
			 (unsigned long long)off);
		return -EINVAL;
	}
	return 0;
}

uint64_t
guest_page_value(const void *page, uint64_t index)
{
	return XXH3_64bits_withSeed(page, GENMEM_PAGE_SIZE, index);
}

void
guest_digest_hex(uint64_t sum, uint64_t npages, char hex[GENMEM_DIGEST_HEX_LEN])
{
	snprintf(hex, GENMEM_DIGEST_HEX_LEN, "%016llx%016llx",
		 (unsigned long long)sum, (unsigned long long)npages);
}

void
guest_mem_digest(const void *mem, uint64_t npages, char hex[GENMEM_DIGEST_HEX_LEN])
{
	const uint8_t *p = mem;
	uint64_t i, sum = 0;

	for (i = 0; i < npages; i++)
		sum += guest_page_value(p + i * GENMEM_PAGE_SIZE, i);
	guest_digest_hex(sum, npages, hex);
}
