/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file migvm.h
 * migvm: a minimal KVM virtual machine monitor (lab). One VM, guest RAM in
 * a sealable memfd at guest-physical 0 with KVM's dirty log on, vCPUs on
 * their own threads. The calls a hypervisor makes around a migration:
 *
 *   source:      migvm_create, migvm_load_guest, migvm_start,
 *                migvm_harvest (each round), migvm_pause,
 *                migvm_capture (device state), then migvm_destroy or,
 *                on failure, migvm_resume
 *   destination: migvm_create (the memfd the memory arrived in, or a new
 *                one filled by the caller), migvm_restore, migvm_start
 *
 * Thread rules: every function is called from one control thread (not a
 * vCPU thread). migvm_capture and migvm_restore only while the vCPUs are
 * parked (before migvm_start or after migvm_pause).
 */
#ifndef MIGVM_H
#define MIGVM_H

#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "guest_abi.h"

/** Most vCPUs (the guest program uses one today). */
#define MIGVM_MAX_VCPUS 1

/** Signal that kicks a vCPU thread out of KVM_RUN (a no-op handler is
 * installed by migvm_create, without SA_RESTART). */
#define MIGVM_KICK_SIGNAL SIGUSR1

/** The guest's workload, turned into the parameter block. */
struct migvm_workload {
	uint64_t rate;        /**< page writes per second (0: unpaced) */
	uint32_t hot_pages;   /**< 0: uniform over the writable pages */
	uint32_t hot_pct;     /**< share of writes in the hot set (100) */
	uint32_t seed;
	uint32_t verify_every; /**< page writes between verification passes */
	uint32_t report_every; /**< page writes between PROGRESS events */
};

/** What the guest reported (its own counters, as of its last event). */
struct migvm_counters {
	uint64_t writes;
	uint64_t verify_passes;
	uint64_t pages_verified;
	uint64_t mismatches;
	uint32_t bad_page; /**< the last wrong page (mismatches > 0) */
	uint32_t state;    /**< 0 not started, 1 running, 2 halted */
	uint64_t exits;    /**< KVM_RUN returns, all vCPUs */
	uint64_t idle_ns;  /**< slept on MIGVM_PORT_IDLE */
	int failed;        /**< a vCPU stopped on an error or HLT */
};

struct migvm;

/**
 * Create a VM of @p mem_bytes (a multiple of 4 KiB, 2 MiB .. 2 GiB) with
 * @p nvcpus parked vCPUs. @p memfd: -1 for a new memfd (MFD_ALLOW_SEALING,
 * sealed F_SEAL_SHRINK), else a memfd of at least @p mem_bytes the VM maps
 * (and closes on destroy). @p quiet: do not echo the guest's console.
 * @return the VM, or NULL with errno.
 */
struct migvm *migvm_create(uint64_t mem_bytes, unsigned nvcpus, int memfd,
			   int quiet);

/** Copy the guest program in, fill the parameter block and set the vCPUs
 * at its entry in protected mode. Before migvm_start. @return 0, -errno. */
int migvm_load_guest(struct migvm *vm, const struct migvm_workload *w);

/** Start the vCPU threads (they run unless paused). @return 0, -errno. */
int migvm_start(struct migvm *vm);

/** Stop every vCPU and wait until each has parked, its pending I/O
 * completed: memory and vCPU state stay unchanged until migvm_resume. */
void migvm_pause(struct migvm *vm);
void migvm_resume(struct migvm *vm);

/**
 * KVM_GET_DIRTY_LOG into @p bm ((npages + 63) / 64 words, bit i of word
 * i / 64 = page i dirtied since the last harvest), clearing KVM's log.
 * Any time after migvm_create. @return pages set, or -errno.
 */
int64_t migvm_harvest(struct migvm *vm, uint64_t *bm);

/** Bytes migvm_capture writes (every vCPU). */
size_t migvm_state_size(const struct migvm *vm);

/**
 * Every vCPU's state into @p buf (@p len >= migvm_state_size()): see
 * vmstate.c for what is in it. Only while parked. @return bytes, -errno.
 */
ssize_t migvm_capture(struct migvm *vm, void *buf, size_t len);

/** Load what migvm_capture wrote (same vCPU count and memory size, checked)
 * into this VM's parked vCPUs. @return 0, -EINVAL (not ours), -errno. */
int migvm_restore(struct migvm *vm, const void *buf, size_t len);

/** The guest's counters from its parameter block (exact while parked). */
void migvm_counters(struct migvm *vm, struct migvm_counters *c);

uint8_t *migvm_mem(struct migvm *vm);
uint64_t migvm_npages(const struct migvm *vm);
int migvm_memfd(const struct migvm *vm);

/** Stop the vCPUs for good, join them, unmap and close everything. */
void migvm_destroy(struct migvm *vm);

#endif /* MIGVM_H */
