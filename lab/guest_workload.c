/* SPDX-License-Identifier: BSD-3-Clause */
/* vCPU threads of the lab guest and its dirty log.
 *
 * A vCPU wakes every tick (clock_nanosleep on an absolute deadline, never a
 * busy loop: the machine is shared with migdp), earns credit at its share of
 * the rate, throttled, and spends it on page writes. A write fills 256 bytes
 * at an offset of the page from (seed, page, vCPU, counter), the rest of the
 * page kept, and then sets the page's bit of the dirty log (fetch_or,
 * release). The control thread harvests the log word by word (exchange,
 * acquire): a write whose bit it missed sets the bit again for the next
 * harvest, so no dirty page is lost.
 *
 * Pause is a barrier: the control thread sets the state and waits until
 * every vCPU has acknowledged (under the mutex, which also publishes their
 * last writes and their state). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guest_workload.h"

#define TICK_NS 2000000ull        /* a vCPU's pacing tick: 2 ms */
#define MAX_BURST_NS 50000000ull  /* credit kept at most: 50 ms of writes */

enum run_state { RUN = 0, PAUSE, STOP };

struct vcpu {
	struct guest_workload *w;
	pthread_t thread;
	unsigned id;
	bool started;
	/* Owned by the thread; read by the control thread while paused. */
	uint64_t rng;
	uint64_t first_page; /* stream: where its sweep starts */
	_Atomic uint64_t writes;
};

struct guest_workload {
	/* Set at creation. */
	struct guest_workload_params p;
	uint64_t nwords;
	_Atomic uint64_t *dirty; /* bit i: page i written since the harvest */
	/* The memory digest kept as pages change: page i's value is written
	 * only by the vCPU that owns page i (pick_page()), the sum by all. */
	uint64_t *pval;
	_Atomic uint64_t sum;
	/* Read by the vCPUs each tick. */
	_Atomic int state;       /* enum run_state, changed under @c lock */
	_Atomic unsigned throttle;
	/* Protected by @c lock. */
	pthread_mutex_t lock;
	pthread_cond_t parked_cv, resume_cv;
	unsigned nparked, nthreads;
	uint64_t writes_from;    /* writes of the states started from */
	struct vcpu vcpu[];
};

static uint64_t
mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* xorshift64*: never 0. */
static uint64_t
rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static uint64_t
pick_page(struct vcpu *v, uint64_t count)
{
	const struct guest_workload_params *p = &v->w->p;
	uint64_t x = rng_next(&v->rng), hot = p->hot_pages;

	switch (p->kind) {
	case GUEST_WL_HOT:
		if (hot >= p->npages || (x >> 32) % 100 < 90)
			return (x & 0xffffffffu) % (hot < p->npages ? hot : p->npages);
		return hot + (x & 0xffffffffu) % (p->npages - hot);
	case GUEST_WL_STREAM:
		return (v->first_page + count) % p->npages;
	default:
		return x % p->npages;
	}
}

/* Each vCPU writes its own pages (page % nvcpus == its id), so that one
 * thread alone changes a page and its digest value. */
static uint64_t
own_page(const struct vcpu *v, uint64_t page)
{
	unsigned n = v->w->p.nvcpus;

	/* A sweep is a vCPU's own already: each starts npages / n apart and
	 * they go at one speed. */
	if (v->w->p.kind == GUEST_WL_STREAM)
		return page;
	page = page / n * n + v->id;
	return page < v->w->p.npages ? page : v->id % v->w->p.npages;
}

/* One page write, then its dirty bit. */
static void
write_page(struct vcpu *v)
{
	struct guest_workload *w = v->w;
	uint64_t count = atomic_load_explicit(&v->writes, memory_order_relaxed);
	uint64_t page = own_page(v, pick_page(v, count)), buf[GUEST_WRITE_BYTES / 8];
	uint64_t h = mix64(w->p.seed ^ mix64(page ^ mix64(count ^
					       ((uint64_t)v->id << 56))));
	unsigned i, off = (unsigned)(h & 15) * GUEST_WRITE_BYTES;

	for (i = 0; i < GUEST_WRITE_BYTES / 8; i++)
		buf[i] = mix64(h + i);
	memcpy(w->p.mem + page * GENMEM_PAGE_SIZE + off, buf, sizeof(buf));
	if (w->pval != NULL) {
		uint64_t nv = guest_page_value(w->p.mem + page * GENMEM_PAGE_SIZE, page);

		atomic_fetch_add_explicit(&w->sum, nv - w->pval[page], memory_order_relaxed);
		w->pval[page] = nv;
	}
	atomic_fetch_or_explicit(&w->dirty[page / 64], 1ull << (page % 64),
				 memory_order_release);
	atomic_store_explicit(&v->writes, count + 1, memory_order_relaxed);
}

static uint64_t
ts_ns(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * 1000000000ull + (uint64_t)t->tv_nsec;
}

/* Acknowledge the pause and wait for resume or stop. */
static void
park(struct guest_workload *w)
{
	pthread_mutex_lock(&w->lock);
	w->nparked++;
	pthread_cond_broadcast(&w->parked_cv);
	while (atomic_load(&w->state) == PAUSE)
		pthread_cond_wait(&w->resume_cv, &w->lock);
	w->nparked--;
	pthread_mutex_unlock(&w->lock);
}

static void *
vcpu_main(void *arg)
{
	struct vcpu *v = arg;
	struct guest_workload *w = v->w;
	double per_ns = w->p.kind == GUEST_WL_IDLE ? 0 :
			(double)w->p.rate / w->p.nvcpus / 1e9, credit = 0;
	struct timespec next, now;
	uint64_t last, t, dt;
	int st;

	clock_gettime(CLOCK_MONOTONIC, &next);
	last = ts_ns(&next);
	for (;;) {
		t = ts_ns(&next) + TICK_NS;
		next.tv_sec = (time_t)(t / 1000000000ull);
		next.tv_nsec = (long)(t % 1000000000ull);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next,
				       NULL) == EINTR)
			;
		st = atomic_load(&w->state);
		if (st == STOP)
			break;
		if (st == PAUSE) {
			park(w);
			clock_gettime(CLOCK_MONOTONIC, &next);
			last = ts_ns(&next);
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		t = ts_ns(&now);
		dt = t - last;
		last = t;
		if (t > ts_ns(&next) + MAX_BURST_NS)
			next = now; /* descheduled a long time: no catching up */
		credit += per_ns * (double)(dt < MAX_BURST_NS ? dt : MAX_BURST_NS) *
			  (100 - atomic_load(&w->throttle)) / 100.0;
		while (credit >= 1.0) {
			write_page(v);
			credit -= 1.0;
		}
	}
	return NULL;
}

struct guest_workload *
guest_workload_start(const struct guest_workload_params *p)
{
	struct guest_workload *w;
	unsigned i;
	int ret;

	if (p->nvcpus == 0 || p->nvcpus > GUEST_MAX_VCPUS || p->npages == 0) {
		errno = EINVAL;
		return NULL;
	}
	w = calloc(1, sizeof(*w) + p->nvcpus * sizeof(w->vcpu[0]));
	if (w == NULL)
		return NULL;
	w->p = *p;
	w->p.from = NULL;
	w->nwords = (p->npages + 63) / 64;
	w->dirty = calloc(w->nwords, sizeof(*w->dirty));
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->parked_cv, NULL);
	pthread_cond_init(&w->resume_cv, NULL);
	if (p->track_digest) {
		uint64_t k, sum = 0;

		w->pval = malloc(p->npages * sizeof(*w->pval));
		for (k = 0; w->pval != NULL && k < p->npages; k++) {
			w->pval[k] = guest_page_value(p->mem + k * GENMEM_PAGE_SIZE, k);
			sum += w->pval[k];
		}
		atomic_store(&w->sum, sum);
	}
	if (w->dirty == NULL || (p->track_digest && w->pval == NULL)) {
		guest_workload_destroy(w);
		errno = ENOMEM;
		return NULL;
	}
	for (i = 0; i < p->nvcpus; i++) {
		struct vcpu *v = &w->vcpu[i];

		v->w = w;
		v->id = i;
		v->first_page = p->npages * i / p->nvcpus;
		v->rng = mix64(p->seed + 0x51ed27u * (i + 1)) | 1;
		if (p->from != NULL) {
			v->rng = p->from[i].rng ? p->from[i].rng : v->rng;
			atomic_store(&v->writes, p->from[i].writes);
			w->writes_from += p->from[i].writes;
		}
	}
	for (i = 0; i < p->nvcpus; i++) {
		ret = pthread_create(&w->vcpu[i].thread, NULL, vcpu_main,
				     &w->vcpu[i]);
		if (ret != 0) {
			guest_workload_destroy(w);
			errno = ret;
			return NULL;
		}
		w->vcpu[i].started = true;
		w->nthreads++;
	}
	return w;
}

void
guest_workload_throttle(struct guest_workload *w, unsigned pct)
{
	atomic_store(&w->throttle, pct > 99 ? 99 : pct);
}

void
guest_workload_pause(struct guest_workload *w)
{
	pthread_mutex_lock(&w->lock);
	atomic_store(&w->state, PAUSE);
	while (w->nparked < w->nthreads)
		pthread_cond_wait(&w->parked_cv, &w->lock);
	pthread_mutex_unlock(&w->lock);
}

void
guest_workload_resume(struct guest_workload *w)
{
	pthread_mutex_lock(&w->lock);
	atomic_store(&w->state, RUN);
	pthread_cond_broadcast(&w->resume_cv);
	pthread_mutex_unlock(&w->lock);
}

uint64_t
guest_workload_writes(const struct guest_workload *w)
{
	uint64_t sum = 0;
	unsigned i;

	for (i = 0; i < w->p.nvcpus; i++)
		sum += atomic_load_explicit(&w->vcpu[i].writes,
					    memory_order_relaxed);
	return sum;
}

void
guest_workload_state(struct guest_workload *w, struct guest_vcpu_state *out)
{
	unsigned i;

	pthread_mutex_lock(&w->lock); /* publishes the parked threads' state */
	for (i = 0; i < w->p.nvcpus; i++) {
		out[i].rng = w->vcpu[i].rng;
		out[i].writes = atomic_load(&w->vcpu[i].writes);
	}
	pthread_mutex_unlock(&w->lock);
}

uint64_t
guest_workload_harvest(struct guest_workload *w, uint64_t *bm)
{
	uint64_t i, n = 0;

	for (i = 0; i < w->nwords; i++) {
		bm[i] = atomic_exchange_explicit(&w->dirty[i], 0,
						 memory_order_acquire);
		n += (uint64_t)__builtin_popcountll(bm[i]);
	}
	return n;
}

void
guest_workload_destroy(struct guest_workload *w)
{
	unsigned i;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	atomic_store(&w->state, STOP);
	pthread_cond_broadcast(&w->resume_cv);
	pthread_mutex_unlock(&w->lock);
	for (i = 0; i < w->p.nvcpus; i++)
		if (w->vcpu[i].started)
			pthread_join(w->vcpu[i].thread, NULL);
	pthread_cond_destroy(&w->parked_cv);
	pthread_cond_destroy(&w->resume_cv);
	pthread_mutex_destroy(&w->lock);
	free(w->dirty);
	free(w->pval);
	free(w);
}

void
guest_workload_digest(struct guest_workload *w, char hex[GENMEM_DIGEST_HEX_LEN])
{
	guest_digest_hex(atomic_load(&w->sum), w->p.npages, hex);
}
