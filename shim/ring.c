/* SPDX-License-Identifier: BSD-3-Clause */
/* Single-producer single-consumer rings in shared memory.
 *
 * Indices are free-running 32-bit counters; slot = index & mask. The
 * producer publishes head with a release store after writing the slots, the
 * consumer reads head with an acquire load before reading them (and the
 * mirror image for tail). Each side caches the other's index and reloads it
 * only when the cache says the ring is full (empty), so a burst costs one
 * shared cache-line transfer at most. */
#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <string.h>

#include "migshim.h"

#define RING_MAGIC 0x52494e47u /* "RING" */
#define CL 128 /* two cache lines: keeps the adjacent-line prefetcher out */

struct migshim_ring_shm {
	alignas(CL) uint32_t magic;
	uint32_t size;
	uint32_t elem_size;
	alignas(CL) _Atomic uint32_t head; /* written by the producer only */
	alignas(CL) _Atomic uint32_t tail; /* written by the consumer only */
	alignas(CL) uint8_t slots[];
};

size_t
migshim_ring_memsize(uint32_t size, uint32_t elem_size)
{
	if (size < 2 || size > MIGSHIM_MAX_RING_SIZE || (size & (size - 1)))
		return 0;
	if (elem_size < 8 || elem_size > 256 || elem_size % 8)
		return 0;
	return sizeof(struct migshim_ring_shm) + (size_t)size * elem_size;
}

static void
ring_bind(struct migshim_ring *r, struct migshim_ring_shm *shm, uint32_t size,
	  uint32_t elem_size)
{
	memset(r, 0, sizeof(*r));
	r->shm = shm;
	r->slots = shm->slots;
	r->size = size;
	r->mask = size - 1;
	r->elem_size = elem_size;
}

int
migshim_ring_init(struct migshim_ring *r, void *mem, uint32_t size,
		  uint32_t elem_size)
{
	struct migshim_ring_shm *shm = mem;

	if (mem == NULL || ((uintptr_t)mem % 64) != 0 ||
	    migshim_ring_memsize(size, elem_size) == 0)
		return -EINVAL;
	shm->magic = RING_MAGIC;
	shm->size = size;
	shm->elem_size = elem_size;
	atomic_store_explicit(&shm->head, 0, memory_order_relaxed);
	atomic_store_explicit(&shm->tail, 0, memory_order_relaxed);
	ring_bind(r, shm, size, elem_size);
	return 0;
}

int
migshim_ring_attach(struct migshim_ring *r, void *mem, uint32_t size,
		    uint32_t elem_size, bool producer)
{
	struct migshim_ring_shm *shm = mem;

	if (mem == NULL || ((uintptr_t)mem % 64) != 0 ||
	    migshim_ring_memsize(size, elem_size) == 0)
		return -EINVAL;
	if (shm->magic != RING_MAGIC || shm->size != size ||
	    shm->elem_size != elem_size)
		return -EPROTO;
	ring_bind(r, shm, size, elem_size);
	if (producer) {
		r->idx = atomic_load_explicit(&shm->head, memory_order_relaxed);
		r->cached = atomic_load_explicit(&shm->tail,
						 memory_order_acquire);
	} else {
		r->idx = atomic_load_explicit(&shm->tail, memory_order_relaxed);
		r->cached = r->idx;
	}
	return 0;
}

/* Copy n elements between the slots starting at index idx and buf, in two
 * pieces when the run wraps around the end of the ring. */
static inline void
ring_copy(struct migshim_ring *r, uint32_t idx, void *buf, unsigned n,
	  int to_ring)
{
	uint32_t first = idx & r->mask;
	size_t es = r->elem_size;
	unsigned n1 = r->size - first < n ? r->size - first : n;
	uint8_t *slot = r->slots + first * es;
	uint8_t *b = buf;

	if (to_ring) {
		memcpy(slot, b, n1 * es);
		memcpy(r->slots, b + n1 * es, (n - n1) * es);
	} else {
		memcpy(b, slot, n1 * es);
		memcpy(b + n1 * es, r->slots, (n - n1) * es);
	}
}

unsigned
migshim_ring_free_count(struct migshim_ring *r)
{
	uint32_t used;

	r->cached = atomic_load_explicit(&r->shm->tail, memory_order_acquire);
	used = r->idx - r->cached;
	return used > r->size ? 0 : r->size - used;
}

unsigned
migshim_ring_enqueue_burst(struct migshim_ring *r, const void *elems,
			   unsigned n)
{
	uint32_t used = r->idx - r->cached;
	unsigned space = used > r->size ? 0 : r->size - used;

	if (space < n)
		space = migshim_ring_free_count(r);
	if (n > space)
		n = space;
	if (n == 0)
		return 0;
	ring_copy(r, r->idx, (void *)(uintptr_t)elems, n, 1);
	r->idx += n;
	atomic_store_explicit(&r->shm->head, r->idx, memory_order_release);
	return n;
}

int
migshim_ring_enqueue(struct migshim_ring *r, const void *elem)
{
	return migshim_ring_enqueue_burst(r, elem, 1) == 1 ? 0 : -EAGAIN;
}

unsigned
migshim_ring_count(struct migshim_ring *r)
{
	uint32_t avail;

	r->cached = atomic_load_explicit(&r->shm->head, memory_order_acquire);
	avail = r->cached - r->idx;
	if (avail > r->size) {
		/* A head beyond what the ring can hold: never follow it. */
		r->corrupt++;
		r->cached = r->idx;
		return 0;
	}
	return avail;
}

unsigned
migshim_ring_dequeue_burst(struct migshim_ring *r, void *elems, unsigned n)
{
	uint32_t avail = r->cached - r->idx;

	if (avail < n)
		avail = migshim_ring_count(r);
	if (n > avail)
		n = avail;
	if (n == 0)
		return 0;
	ring_copy(r, r->idx, elems, n, 0);
	r->idx += n;
	atomic_store_explicit(&r->shm->tail, r->idx, memory_order_release);
	return n;
}
