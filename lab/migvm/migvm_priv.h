/* SPDX-License-Identifier: BSD-3-Clause */
/* migvm's insides, shared by vm.c, vcpu.c and vmstate.c only. */
#ifndef MIGVM_PRIV_H
#define MIGVM_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <linux/kvm.h>

#include "migvm.h"

struct migvm_vcpu {
	/* Set at creation. */
	struct migvm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run; /* mmap of the vCPU fd */
	size_t run_size;
	pthread_t thread;
	/* Owned by the vCPU thread. */
	char line[160]; /* console text until its newline */
	size_t linelen;
};

struct migvm {
	/* Set at creation. */
	int kvm, vmfd, memfd;
	uint8_t *mem;
	uint64_t mem_bytes, npages;
	unsigned nvcpus;
	bool quiet;
	uint32_t tsc_khz;
	struct migvm_vcpu vcpu[MIGVM_MAX_VCPUS];
	/* Protected by lock: the park protocol (vcpu.c). */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool started, pause_req, quit;
	unsigned parked; /* vCPU threads parked (or dead) */
	/* Bumped by the vCPU threads. */
	atomic_uint_fast64_t exits, idle_ns;
	atomic_int failed;
};

/* The guest program (generated from guest.bin by bin2c.py). */
extern const unsigned char migvm_guest_image[];
extern const size_t migvm_guest_image_size;

static inline volatile struct migvm_params *
migvm_params(struct migvm *vm)
{
	return (volatile struct migvm_params *)(vm->mem + MIGVM_PARAMS_GPA);
}

/* vcpu.c */
int migvm_vcpu_init(struct migvm *vm, unsigned id);
void migvm_vcpu_fini(struct migvm_vcpu *v);
void migvm_vcpus_stop(struct migvm *vm);

#endif /* MIGVM_PRIV_H */
