/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file migshim.h
 * libmigshim: hand guest RAM and dirty pages from a hypervisor to migdp.
 *
 * Two sides use this one header and no DPDK:
 *
 * - the **client** (the hypervisor, a VMM, the lab guest) registers its guest
 *   RAM regions (memfd or hugetlbfs file descriptors), connects to migdp's
 *   Unix socket, passes the descriptors with SCM_RIGHTS and then pushes
 *   descriptors of dirty pages into single-producer single-consumer rings
 *   that live in a shared memory area the client created;
 * - the **server** (migdp) accepts the connection, validates and maps the
 *   regions (read-only for a source, read-write for a destination), pops and
 *   validates descriptors, and sends events back (pause, throttle, completed,
 *   failed, resume) on a second ring.
 *
 * Threads: a client or server object is used by one control thread; each
 * dirty ring has exactly one producer thread (client) and one consumer thread
 * (server), which may be different threads than the control thread. The
 * event ring has one producer (server) and one consumer (client).
 *
 * Errors: functions that return int return 0 (or a count) on success and a
 * negative errno value on failure; constructors return NULL and set errno.
 */
#ifndef MIGSHIM_H
#define MIGSHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Guest page size described by the rings (KVM's dirty-log granularity). */
#define MIGSHIM_PAGE_SIZE 4096u
#define MIGSHIM_PAGE_SHIFT 12
/** Hard upper bound on regions in one handoff message. */
#define MIGSHIM_MAX_REGIONS 64
/** Hard upper bound on dirty rings in one session. */
#define MIGSHIM_MAX_RINGS 64
/** Largest ring (entries) accepted by either side. */
#define MIGSHIM_MAX_RING_SIZE (1u << 20)
/** Handoff protocol version; bumped on any incompatible change. */
#define MIGSHIM_PROTO_VERSION 2
/** Longest VM name given at connect, NUL included. */
#define MIGSHIM_NAME_LEN 32
/** Region flag: the region holds the VM's device state (an opaque blob
 * sent in the final round, after the last dirty pages), not guest RAM. At
 * most one per session. */
#define MIGSHIM_REGION_DEVICE_STATE 0x1u

/* ------------------------------------------------------------------------ */
/** @name Descriptors and events */
/**@{*/

/** Descriptor flag: a marker ending pre-copy round number @c gpa on this
 * ring; @c npages is 0 and nothing is described. */
#define MIGSHIM_DESC_END_OF_ROUND 0x1u
/** Descriptor flag (with END_OF_ROUND): the round was the final one, the
 * guest is paused. */
#define MIGSHIM_DESC_FINAL 0x2u
/** Every flag this version knows; any other bit is refused. */
#define MIGSHIM_DESC_FLAGS_ALL (MIGSHIM_DESC_END_OF_ROUND | MIGSHIM_DESC_FINAL)

/** A run of dirty guest pages, as pushed into a dirty ring. 16 bytes. */
struct migshim_desc {
	uint64_t gpa;    /**< guest-physical address of the first page */
	uint32_t npages; /**< number of consecutive 4 KiB pages, > 0 */
	uint32_t flags;  /**< MIGSHIM_DESC_* */
};

/** Events sent by migdp (server) to the hypervisor (client). */
enum migshim_event_type {
	MIGSHIM_EV_NONE = 0,
	/** Source: pause the VM now (switchover); push the final dirty set and
	 * end round @c arg (not final), then the device state's pages and end
	 * round @c arg + 1 as final. */
	MIGSHIM_EV_PAUSE = 1,
	MIGSHIM_EV_THROTTLE = 2,  /**< throttle vCPUs by @c value percent */
	/** Committed. Source: the VM now runs at the destination, stop it
	 * (@c value 1: the destination confirmed; 0: "go" was sent but its
	 * confirmation never came: handed over all the same, never resume).
	 * Destination (one-shot migrations without RESUME): @c value 1 when
	 * the memory was verified. */
	MIGSHIM_EV_COMPLETED = 3,
	/** Failed before the commit; @c reason says why. Source: the VM
	 * runs on (resume it if paused). Destination: discard the VM. */
	MIGSHIM_EV_FAILED = 4,
	/** Destination: everything arrived and was verified, the source let
	 * its VM go: resume the VM now (@c value 1: verified). */
	MIGSHIM_EV_RESUME = 5,
	/** Source, pre-copy: harvest the dirty log now, push what it holds
	 * and end round @c arg (not final). */
	MIGSHIM_EV_ROUND = 6,
	MIGSHIM_EV_MAX
};

/** One event. 64 bytes. */
struct migshim_event {
	uint32_t type;   /**< enum migshim_event_type */
	uint32_t value;  /**< THROTTLE: percent 0..99; FAILED: positive errno */
	uint64_t arg;    /**< event-specific (e.g. round number, bytes) */
	char reason[48]; /**< NUL-terminated human text, may be empty */
};

/** Name of an event type for logs ("pause", ...), "unknown" if invalid. */
const char *migshim_event_name(uint32_t type);

/**@}*/
/* ------------------------------------------------------------------------ */
/** @name Rings
 * Lock-free single-producer single-consumer rings of fixed-size elements in
 * memory that may be shared between processes. Each side keeps its own index
 * and its geometry in a private endpoint; the shared memory holds only the
 * published head and tail (on separate cache lines) and the slots. A side
 * never trusts what the other side wrote beyond the published index, which it
 * checks against the ring size.
 */
/**@{*/

/** Shared part of a ring (opaque: it lives in shared memory). */
struct migshim_ring_shm;

/** One side's private view of a ring. Fields are private. */
struct migshim_ring {
	struct migshim_ring_shm *shm;
	uint8_t *slots;
	uint32_t size;      /**< entries, power of two */
	uint32_t mask;
	uint32_t elem_size; /**< bytes, multiple of 8 */
	uint32_t idx;       /**< producer: next head; consumer: next tail */
	uint32_t cached;    /**< last seen index of the other side */
	uint32_t corrupt;   /**< consumer: times the head was out of range */
};

/** Bytes of shared memory for a ring of @p size entries of @p elem_size;
 * 0 when the geometry is invalid (size not a power of two in
 * [2, MIGSHIM_MAX_RING_SIZE], elem_size not a multiple of 8 in [8, 256]). */
size_t migshim_ring_memsize(uint32_t size, uint32_t elem_size);

/** Initialise the shared part of a ring in @p mem (memsize bytes, 64-byte
 * aligned) and attach @p r to it. Called once, by the creator, before the
 * memory is shared. @return 0 or -EINVAL. */
int migshim_ring_init(struct migshim_ring *r, void *mem, uint32_t size,
		      uint32_t elem_size);

/** Attach @p r to a ring initialised elsewhere, as its producer or its
 * consumer, with the geometry the caller expects; refuses (-EPROTO) a shared
 * header that disagrees. The endpoint starts from the currently published
 * indices. @return 0 or -errno. */
int migshim_ring_attach(struct migshim_ring *r, void *mem, uint32_t size,
			uint32_t elem_size, bool producer);

/** Producer: copy up to @p n elements from @p elems into the ring.
 * @return number enqueued (0 when full). */
unsigned migshim_ring_enqueue_burst(struct migshim_ring *r, const void *elems,
				    unsigned n);

/** Producer: enqueue one element. @return 0, or -EAGAIN when full (nothing
 * is lost: the caller still owns the element). */
int migshim_ring_enqueue(struct migshim_ring *r, const void *elem);

/** Consumer: copy up to @p n elements out of the ring into @p elems.
 * A published head that lies outside the ring (a corrupt or hostile
 * producer) is counted in @c corrupt and treated as empty.
 * @return number dequeued (0 when empty). */
unsigned migshim_ring_dequeue_burst(struct migshim_ring *r, void *elems,
				    unsigned n);

/** Producer: entries free now. Consumer: entries waiting now. */
unsigned migshim_ring_free_count(struct migshim_ring *r);
unsigned migshim_ring_count(struct migshim_ring *r);

/**@}*/
/* ------------------------------------------------------------------------ */
/** @name Dirty bitmap helper */
/**@{*/

/** Iterator over the runs of set bits in a dirty bitmap (bit i of word i/64
 * is page i, as KVM_GET_DIRTY_LOG returns on little-endian hosts). Runs are
 * split at @c max_run pages and at channel block boundaries (a block is
 * @c block_pages pages, aligned in guest-physical space), so every run maps
 * to exactly one ring. Fields are private. */
struct migshim_bitmap_iter {
	const uint64_t *bitmap;
	uint64_t gpa_base;
	uint64_t npages;
	uint64_t pos;        /**< next page to examine */
	uint32_t max_run;
	uint32_t block_pages;
};

/** Start iterating over @p npages bits of @p bitmap describing the pages
 * from @p gpa_base (page-aligned). Bits past @p npages are ignored.
 * @p block_pages must be a power of two. @return 0 or -EINVAL. */
int migshim_bitmap_iter_init(struct migshim_bitmap_iter *it,
			     const uint64_t *bitmap, uint64_t npages,
			     uint64_t gpa_base, uint32_t max_run,
			     uint32_t block_pages);

/** Produce the next run in @p d (flags 0). @return true, or false when the
 * bitmap is exhausted. */
bool migshim_bitmap_iter_next(struct migshim_bitmap_iter *it,
			      struct migshim_desc *d);

/**@}*/
/* ------------------------------------------------------------------------ */
/** @name Client (hypervisor side) */
/**@{*/

/** Role of migdp in a session. */
enum migshim_role {
	MIGSHIM_ROLE_SOURCE = 1,      /**< migdp reads guest RAM */
	MIGSHIM_ROLE_DESTINATION = 2, /**< migdp writes guest RAM */
};

/** Session parameters chosen by the hypervisor. Zero fields take defaults. */
struct migshim_client_params {
	enum migshim_role role;
	uint32_t nrings;          /**< dirty rings (channels); default 1 */
	uint32_t ring_size;       /**< entries per dirty ring; default 4096 */
	uint32_t event_ring_size; /**< entries of the event ring; default 64 */
	uint32_t max_run_pages;   /**< longest descriptor; default 512 */
	uint32_t block_pages;     /**< ring partition block; default 512 (2 MiB) */
	const char *name;         /**< the VM's name (< MIGSHIM_NAME_LEN), or NULL */
};

struct migshim_client;

/** Create a client: allocates the shared ring area (a memfd) and
 * initialises the rings. @return the client, or NULL with errno set. */
struct migshim_client *
migshim_client_create(const struct migshim_client_params *p);

/** Register a guest RAM region to hand over at connect time. @p fd stays
 * owned by the caller (it is duplicated). A memfd is sealed against
 * shrinking (F_SEAL_SHRINK) when it allows sealing: the server refuses a
 * memfd that could shrink under migdp's mapping (a SIGBUS there). Layout checks are the server's:
 * a bad layout is refused at connect with the server's reason.
 * @return 0, -EBADF, -ENOSPC (MIGSHIM_MAX_REGIONS reached) or -EISCONN. */
int migshim_client_add_region(struct migshim_client *c, int fd,
			      uint64_t offset, uint64_t gpa, uint64_t size);

/** Register the region that holds the VM's device state (see
 * MIGSHIM_REGION_DEVICE_STATE): the hypervisor writes the blob there when
 * paused and pushes its pages in the final round. Same rules as
 * migshim_client_add_region(); -EEXIST if one is registered already. */
int migshim_client_add_device_state(struct migshim_client *c, int fd,
				    uint64_t offset, uint64_t gpa,
				    uint64_t size);

/** Connect to migdp at @p socket_path, hand over the regions and the ring
 * area, and wait up to @p timeout_ms (-1: forever) for the verdict.
 * On refusal the server's reason is copied to @p err (may be NULL).
 * @return 0, or the server's negative errno (-EINVAL, -EEXIST, -ENOSPC, ...),
 * or a local -errno (socket errors, -ETIMEDOUT). */
int migshim_client_connect(struct migshim_client *c, const char *socket_path,
			   int timeout_ms, char *err, size_t errlen);

/** Ring that carries the page at @p gpa (by block, modulo ring count). */
unsigned migshim_client_ring_of(const struct migshim_client *c, uint64_t gpa);

/** Push one descriptor to the ring that owns its pages. Producer thread of
 * that ring only. @return 0; -EAGAIN when the ring is full (nothing lost,
 * retry); -EINVAL when the run crosses a block boundary or is empty. */
int migshim_client_push(struct migshim_client *c, const struct migshim_desc *d);

/** Push @p d to ring @p ring as it is, without any check. For tools that
 * partition themselves, and for tests of the server's validation.
 * @return 0, -EAGAIN (full) or -EINVAL (no such ring). */
int migshim_client_push_raw(struct migshim_client *c, unsigned ring,
			    const struct migshim_desc *d);

/** Push every run of the bitmap behind @p it. On a full ring returns
 * -EAGAIN with the iterator positioned at the first run not pushed: call
 * again later to continue. One thread produces for all rings here.
 * @return number of descriptors pushed in this call (>= 0) once the bitmap
 * is exhausted, or -EAGAIN. */
int migshim_client_push_bitmap(struct migshim_client *c,
			       struct migshim_bitmap_iter *it);

/** Put an end-of-round marker for round @p round on every ring (with
 * MIGSHIM_DESC_FINAL when @p final). All or nothing: -EAGAIN if any ring is
 * full. @return 0 or -EAGAIN. */
int migshim_client_end_round(struct migshim_client *c, uint64_t round,
			     bool final);

/** Receive the next event from migdp. @return 0 with @p ev filled, -EAGAIN
 * when none is waiting, -EPIPE when migdp closed the session (no more). */
int migshim_client_poll_event(struct migshim_client *c,
			      struct migshim_event *ev);

/** Socket of the session, for poll(): readable when migdp sent an event or
 * went away. -1 before connect. */
int migshim_client_fd(const struct migshim_client *c);

/** Number of rings of this client. */
unsigned migshim_client_nrings(const struct migshim_client *c);

/** Disconnect and free everything the client owns. */
void migshim_client_destroy(struct migshim_client *c);

/**@}*/
/* ------------------------------------------------------------------------ */
/** @name Server (migdp side) */
/**@{*/

/** Reasons a descriptor is refused (X-macro: enum and names). */
#define MIGSHIM_FOREACH_BAD(X)                                                 \
	X(ZERO_COUNT, "zero_count")                                            \
	X(UNALIGNED, "unaligned")                                              \
	X(OVERFLOW, "overflow")                                                \
	X(OUTSIDE, "outside_regions")                                          \
	X(STRADDLE, "straddles_region_end")                                    \
	X(WRONG_RING, "wrong_ring")                                            \
	X(BAD_FLAGS, "bad_flags")

enum migshim_bad {
	MIGSHIM_BAD_NONE = 0,
#define X(n, s) MIGSHIM_BAD_##n,
	MIGSHIM_FOREACH_BAD(X)
#undef X
	MIGSHIM_BAD_MAX
};

/** Name of a refusal reason ("outside_regions", ...). */
const char *migshim_bad_name(enum migshim_bad b);

/** Server counters of one session; read by the owner thread of each ring
 * (per-ring counters are summed by migshim_session_stats()). */
struct migshim_session_stats {
	uint64_t popped;                 /**< valid descriptors handed out */
	uint64_t pages;                  /**< pages they describe */
	uint64_t markers;                /**< end-of-round markers */
	uint64_t bad[MIGSHIM_BAD_MAX];   /**< refused, by reason */
	uint64_t ring_corrupt;           /**< out-of-range heads seen */
	struct migshim_desc last_bad;    /**< the last refused descriptor */
	enum migshim_bad last_bad_reason;
	uint64_t last_bad_ns;            /**< when (CLOCK_MONOTONIC), 0: never */
};

/** A guest RAM region as mapped by the server. */
struct migshim_region_info {
	uint64_t gpa;
	uint64_t size;
	void *hva; /**< start of the mapping in this process */
	uint32_t flags; /**< MIGSHIM_REGION_* */
};

struct migshim_server;
struct migshim_session;

/** Listen on @p socket_path (a stale socket file is replaced) for
 * hypervisors handing over guest RAM for @p role. At most @p max_regions
 * regions are accepted in one session (0: MIGSHIM_MAX_REGIONS).
 * @return the server, or NULL with errno set. */
struct migshim_server *migshim_server_create(const char *socket_path,
					     enum migshim_role role,
					     unsigned max_regions);

/** Listening file descriptor, for poll(). */
int migshim_server_fd(const struct migshim_server *s);

/** Accept one hypervisor, waiting up to @p timeout_ms (-1: forever, 0: only
 * if one is pending). Receives the handoff, validates the layout, maps the
 * regions and the ring area and answers the client: on a bad layout the
 * client gets the reason and nothing stays mapped.
 * @return the session, or NULL with errno (ETIMEDOUT: nobody came; EINVAL,
 * EEXIST, ENOSPC, ...: refused, reason in migshim_server_last_error()). */
struct migshim_session *migshim_server_accept(struct migshim_server *s,
					      int timeout_ms);

/** Text of the last refusal or failure of migshim_server_accept(). */
const char *migshim_server_last_error(const struct migshim_server *s);

/** Close the socket, remove its file and free the server. Sessions already
 * accepted live on. */
void migshim_server_destroy(struct migshim_server *s);

/** Number of dirty rings / regions of a session. */
unsigned migshim_session_nrings(const struct migshim_session *ss);
unsigned migshim_session_nregions(const struct migshim_session *ss);
/** Role this session was accepted for. */
enum migshim_role migshim_session_role(const struct migshim_session *ss);
/** The VM's name given by the hypervisor ("" if none). */
const char *migshim_session_name(const struct migshim_session *ss);
/** Pages per partition block (power of two) chosen by the client. */
uint32_t migshim_session_block_pages(const struct migshim_session *ss);

/** Region @p i (sorted by gpa). @return 0 or -ERANGE. */
int migshim_session_region(const struct migshim_session *ss, unsigned i,
			   struct migshim_region_info *out);

/** Check @p d as if popped from ring @p ring. Pure, thread-safe.
 * @return MIGSHIM_BAD_NONE or the refusal reason. */
enum migshim_bad migshim_session_check(const struct migshim_session *ss,
				       unsigned ring,
				       const struct migshim_desc *d);

/** Pointer to @p len bytes of guest memory at @p gpa, or NULL when any byte
 * of it is outside a single region. Thread-safe. */
void *migshim_session_gpa_to_hva(const struct migshim_session *ss,
				 uint64_t gpa, uint64_t len);

/** Consumer of ring @p ring: pop up to @p n descriptors, hand out only the
 * valid ones (markers included) and count the others by reason.
 * @return number written to @p out, 0 when the ring is empty or only held
 * refused descriptors. */
unsigned migshim_session_pop(struct migshim_session *ss, unsigned ring,
			     struct migshim_desc *out, unsigned n);

/** Sum of the counters of every ring, into @p st. */
void migshim_session_stats(const struct migshim_session *ss,
			   struct migshim_session_stats *st);

/** Send @p ev to the hypervisor. Control thread only.
 * @return 0, -EAGAIN (event ring full), -EINVAL (unknown type). */
int migshim_session_send_event(struct migshim_session *ss,
			       const struct migshim_event *ev);

/** Socket of the session, for poll(): readable with EOF when the hypervisor
 * has gone away. */
int migshim_session_fd(const struct migshim_session *ss);

/** true once the hypervisor has closed its end of the session. */
bool migshim_session_peer_gone(struct migshim_session *ss);

/** Unmap the regions and the ring area, close the session socket. */
void migshim_session_close(struct migshim_session *ss);

/**@}*/

#ifdef __cplusplus
}
#endif

#endif /* MIGSHIM_H */
