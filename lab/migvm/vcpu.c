/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vCPU threads: KVM_RUN and its exits, and the park protocol.
 *
 * Pause: the control thread sets pause_req and immediate_exit under the
 * lock and kicks each thread with MIGVM_KICK_SIGNAL, so KVM_RUN returns
 * EINTR whether the thread is in the guest or about to enter it. The
 * thread then re-enters once with immediate_exit set, which completes a
 * pending I/O exit without running guest code (KVM's rule before saving
 * state), counts itself parked and waits for resume. A thread that hit an
 * error or HLT stays parked for good (vm->failed).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "migvm_priv.h"

#define IDLE_MAX_NS 10000000ull /* one sleep at most, whatever the guest asks */

static int
set_cpuid(struct migvm *vm, struct migvm_vcpu *v)
{
	struct kvm_cpuid2 *c;
	int n = 64, rc;

	for (;;) {
		c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (c == NULL)
			return -ENOMEM;
		c->nent = n;
		if (ioctl(vm->kvm, KVM_GET_SUPPORTED_CPUID, c) == 0)
			break;
		rc = -errno;
		free(c);
		if (rc != -E2BIG || n >= 1024)
			return rc;
		n *= 2;
	}
	rc = ioctl(v->fd, KVM_SET_CPUID2, c) < 0 ? -errno : 0;
	free(c);
	return rc;
}

int
migvm_vcpu_init(struct migvm *vm, unsigned id)
{
	struct migvm_vcpu *v = &vm->vcpu[id];
	int sz, khz, rc;

	v->vm = vm;
	v->id = id;
	v->run = NULL;
	v->fd = ioctl(vm->vmfd, KVM_CREATE_VCPU, id);
	if (v->fd < 0)
		return -1;
	sz = ioctl(vm->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sz < (int)sizeof(struct kvm_run))
		return -1;
	v->run_size = (size_t)sz;
	v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		return -1;
	}
	rc = set_cpuid(vm, v);
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	khz = ioctl(v->fd, KVM_GET_TSC_KHZ, 0);
	if (khz <= 0)
		return -1;
	vm->tsc_khz = (uint32_t)khz;
	return 0;
}

void
migvm_vcpu_fini(struct migvm_vcpu *v)
{
	if (v->run != NULL)
		munmap(v->run, v->run_size);
	if (v->fd >= 0)
		close(v->fd);
}

static void
console(struct migvm_vcpu *v, uint8_t c)
{
	if (c != '\n' && v->linelen < sizeof(v->line) - 1) {
		v->line[v->linelen++] = (char)c;
		return;
	}
	v->line[v->linelen] = '\0';
	if (!v->vm->quiet)
		fprintf(stderr, "[vcpu%u] %s\n", v->id, v->line);
	v->linelen = 0;
}

static void
idle(struct migvm_vcpu *v, uint32_t ticks)
{
	uint64_t ns = (uint64_t)ticks * 1000000ull / v->vm->tsc_khz;
	struct timespec ts;

	if (ns > IDLE_MAX_NS)
		ns = IDLE_MAX_NS;
	ts.tv_sec = 0;
	ts.tv_nsec = (long)ns;
	nanosleep(&ts, NULL); /* a kick cuts it short: fine */
	atomic_fetch_add(&v->vm->idle_ns, ns);
}

static void
event(struct migvm_vcpu *v, uint32_t ev)
{
	volatile struct migvm_params *p = migvm_params(v->vm);

	if (ev == MIGVM_EV_MISMATCH && !v->vm->quiet)
		fprintf(stderr, "[vcpu%u] MISMATCH page %u gen %u word %u\n",
			v->id, p->bad_page, p->bad_gen, p->bad_word);
	if (ev == MIGVM_EV_BADPARAM)
		atomic_store(&v->vm->failed, 1);
}

/* @return 0 to go on, -1 when the vCPU cannot run any more. */
static int
handle_io(struct migvm_vcpu *v)
{
	struct kvm_run *r = v->run;
	uint8_t *data = (uint8_t *)r + r->io.data_offset;
	uint32_t val = 0, i;

	if (r->io.direction == KVM_EXIT_IO_IN) {
		memset(data, 0xff, (size_t)r->io.size * r->io.count);
		return 0;
	}
	for (i = 0; i < r->io.count; i++, data += r->io.size) {
		if (r->io.size == 4)
			memcpy(&val, data, 4);
		if (r->io.port == MIGVM_PORT_CONSOLE)
			console(v, data[0]);
		else if (r->io.port == MIGVM_PORT_EVENT && r->io.size == 4)
			event(v, val);
		else if (r->io.port == MIGVM_PORT_IDLE && r->io.size == 4)
			idle(v, val);
	}
	return 0;
}

static int
handle_exit(struct migvm_vcpu *v)
{
	struct kvm_run *r = v->run;

	switch (r->exit_reason) {
	case KVM_EXIT_IO:
		return handle_io(v);
	case KVM_EXIT_HLT:
		if (!v->vm->quiet)
			fprintf(stderr, "[vcpu%u] guest halted\n", v->id);
		return -1;
	case KVM_EXIT_FAIL_ENTRY:
		fprintf(stderr, "[vcpu%u] entry failed: reason 0x%llx\n", v->id,
			(unsigned long long)r->fail_entry.hardware_entry_failure_reason);
		return -1;
	case KVM_EXIT_INTERNAL_ERROR:
		fprintf(stderr, "[vcpu%u] KVM internal error %u\n", v->id,
			r->internal.suberror);
		return -1;
	default:
		fprintf(stderr, "[vcpu%u] unexpected exit %u\n", v->id,
			r->exit_reason);
		return -1;
	}
}

/* Park until resumed (or for good when @p dead). Called with the lock. */
static void
park(struct migvm_vcpu *v, bool dead)
{
	struct migvm *vm = v->vm;

	/* Complete a pending exit (I/O) without running the guest. */
	v->run->immediate_exit = 1;
	pthread_mutex_unlock(&vm->lock);
	(void)ioctl(v->fd, KVM_RUN, 0);
	pthread_mutex_lock(&vm->lock);
	vm->parked++;
	pthread_cond_broadcast(&vm->cond);
	while ((vm->pause_req || dead) && !vm->quit)
		pthread_cond_wait(&vm->cond, &vm->lock);
	vm->parked--;
	v->run->immediate_exit = 0;
}

static void *
vcpu_thread(void *arg)
{
	struct migvm_vcpu *v = arg;
	struct migvm *vm = v->vm;
	bool dead = false;

	pthread_mutex_lock(&vm->lock);
	for (;;) {
		if (vm->quit)
			break;
		if (vm->pause_req || dead) {
			park(v, dead);
			continue;
		}
		pthread_mutex_unlock(&vm->lock);
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno != EINTR && errno != EAGAIN) {
				perror("migvm: KVM_RUN");
				dead = true;
			}
		} else {
			atomic_fetch_add(&vm->exits, 1);
			if (handle_exit(v) < 0)
				dead = true;
		}
		if (dead)
			atomic_store(&vm->failed, 1);
		pthread_mutex_lock(&vm->lock);
	}
	pthread_mutex_unlock(&vm->lock);
	return NULL;
}

/* Kick every vCPU out of KVM_RUN. Called with the lock. */
static void
kick_all(struct migvm *vm)
{
	unsigned i;

	for (i = 0; i < vm->nvcpus; i++) {
		vm->vcpu[i].run->immediate_exit = 1;
		pthread_kill(vm->vcpu[i].thread, MIGVM_KICK_SIGNAL);
	}
}

int
migvm_start(struct migvm *vm)
{
	unsigned i;
	int rc;

	pthread_mutex_lock(&vm->lock);
	if (vm->started) {
		pthread_mutex_unlock(&vm->lock);
		return -EALREADY;
	}
	for (i = 0; i < vm->nvcpus; i++) {
		rc = pthread_create(&vm->vcpu[i].thread, NULL, vcpu_thread,
				    &vm->vcpu[i]);
		if (rc != 0) {
			/* The ones started already stop with the VM. */
			vm->nvcpus = i;
			vm->started = i > 0;
			pthread_mutex_unlock(&vm->lock);
			return -rc;
		}
	}
	vm->started = true;
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

void
migvm_pause(struct migvm *vm)
{
	pthread_mutex_lock(&vm->lock);
	vm->pause_req = true;
	if (vm->started) {
		kick_all(vm);
		while (vm->parked < vm->nvcpus)
			pthread_cond_wait(&vm->cond, &vm->lock);
	}
	pthread_mutex_unlock(&vm->lock);
}

void
migvm_resume(struct migvm *vm)
{
	pthread_mutex_lock(&vm->lock);
	vm->pause_req = false;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
}

void
migvm_vcpus_stop(struct migvm *vm)
{
	unsigned i;

	pthread_mutex_lock(&vm->lock);
	if (!vm->started) {
		pthread_mutex_unlock(&vm->lock);
		return;
	}
	vm->quit = true;
	kick_all(vm);
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	for (i = 0; i < vm->nvcpus; i++)
		pthread_join(vm->vcpu[i].thread, NULL);
	vm->started = false;
}
