/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file sec.h
 * Authenticated and encrypted sessions (DESIGN decision 10).
 *
 * Keys. Both hosts hold a pre-shared key (a file of 16 to 64 random bytes,
 * readable by its owner alone). The handshake (HELLO, ACCEPT, REJECT)
 * carries an HMAC-SHA256 (first 16 bytes, in the header's auth field) with
 * a key derived from it; HELLO carries the source's nonce, ACCEPT the
 * destination's, and ACCEPT's MAC covers the source's nonce too. Session
 * keys, one per direction, come from HKDF-SHA256 over the key, both nonces
 * and the session id: a new session has new keys, whatever was recorded.
 *
 * Frames. After the handshake every migdp frame carries an AES-256-GCM tag
 * over its migdp header and payload: GMAC (payload authenticated, in
 * clear) or, with encryption, GCM (payload encrypted, header
 * authenticated). The 96-bit nonce is implicit: the direction's salt, the
 * flow (control, or channel n), and a per-flow transmit counter that
 * travels in the header's check field and is never reused under a key
 * (a retransmission is a new transmission). The receiver checks the tag,
 * then refuses a counter it has seen or that is older than its window:
 * replays are dropped before they are parsed, never acknowledged.
 *
 * Work is done by DPDK's cryptodev, the intel-ipsec-mb PMD
 * (crypto_aesni_gcm): sending through a queue pair per lcore (the frame
 * may be a chain of guest pages: GMAC over the segments, or encryption out
 * of place into one buffer, so that zero-copy survives), receiving with
 * the synchronous CPU crypto API in place. lab/crypto_bench.c measures it
 * against OpenSSL EVP (README, Security).
 */
#ifndef MIGDP_SEC_H
#define MIGDP_SEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "wire.h"

#define MIGDP_PSK_MIN 16
#define MIGDP_PSK_MAX 64
#define MIGDP_NONCE_LEN 16
/** Transmit counters a receiver remembers per flow (a power of two). */
#define MIGDP_REPLAY_WINDOW 4096u

/** HELLO and ACCEPT sec_flags. */
#define MIGDP_SEC_AUTH 0x1u    /**< the sender holds a key: frames carry tags */
#define MIGDP_SEC_ENCRYPT 0x2u /**< payloads encrypted (with AUTH only) */
#define MIGDP_SEC_FLAGS_ALL (MIGDP_SEC_AUTH | MIGDP_SEC_ENCRYPT)

/** A pre-shared key as read from its file. */
struct migdp_psk {
	uint8_t key[MIGDP_PSK_MAX];
	uint32_t len; /**< 0: no key */
};

/**
 * Read the key in @p path: a regular file of MIGDP_PSK_MIN..MIGDP_PSK_MAX
 * bytes, owned by this process's user, no permission for group or others.
 * @return 0, or -errno with a message for the operator in @p err.
 */
int migdp_psk_load(const char *path, struct migdp_psk *k, char *err, size_t errlen);

/** Handshake frame MAC: HMAC-SHA256 over the migdp header (its auth field
 * zero) and payload (@p len bytes from @p hdr), then @p bind (the
 * source's nonce; NULL for HELLO), with a key derived from @p k; the
 * first MIGDP_AUTH_TAG_LEN bytes into @p out. @return false (and @p out
 * zero) when it could not be made: no key, a frame too long, OpenSSL. */
bool migdp_hs_mac(const struct migdp_psk *k, const void *hdr, uint32_t len,
		  const uint8_t *bind, uint8_t out[MIGDP_AUTH_TAG_LEN]);
/** Write the handshake MAC into the frame's auth field (the frame is
 * complete: headers and payload in @p frame). */
void migdp_hs_seal(const struct migdp_psk *k, void *frame, const uint8_t *bind);
/** Check the handshake MAC of a parsed frame (@p f from migdp_wire_parse).
 * @return true when it is right. */
bool migdp_hs_verify(const struct migdp_psk *k, const struct migdp_frame *f,
		     const uint8_t *bind);

/** Fresh random bytes (nonces) from OpenSSL. @return 0 or -EIO. */
int migdp_sec_random(uint8_t *out, size_t len);

/** Per-direction session keys. [0]: source to destination, [1]: back. */
struct migdp_sec_keys {
	uint8_t key[2][32];
	uint8_t salt[2][4];
};

/** HKDF-SHA256(key, salt: nonce_s | nonce_d, info: "migdp session v4" |
 * session id). @return 0 or -EIO. */
int migdp_sec_derive(const struct migdp_psk *k, const uint8_t nonce_s[MIGDP_NONCE_LEN],
		     const uint8_t nonce_d[MIGDP_NONCE_LEN], uint64_t session,
		     struct migdp_sec_keys *out);

/** The process's crypto device (crypto_aesni_gcm vdev) with @p nqp queue
 * pairs (queue pair q serves the lcore that sends on port queue q), on
 * NUMA node @p socket. Idempotent. @return 0 or -errno. */
int migdp_sec_dev_init(uint16_t nqp, int socket);
/** Stop the device (at exit, before the EAL closes it). */
void migdp_sec_dev_fini(void);
/** The device's name for logs and reports, NULL before init. */
const char *migdp_sec_dev_name(void);

struct migdp_sec;

/** A session's crypto state: @p source says which direction we send;
 * @p encrypt: GCM, else GMAC. @return NULL (logged) on failure. */
struct migdp_sec *migdp_sec_create(const struct migdp_sec_keys *keys, bool source,
				   bool encrypt, struct rte_mempool *pool);
void migdp_sec_free(struct migdp_sec *s);
bool migdp_sec_encrypting(const struct migdp_sec *s);

/**
 * Seal the migdp frames of @p pkts (others, ARP, and handshake frames pass
 * untouched) on queue pair @p qp: counter and tag written; with
 * encryption each frame is replaced by its ciphertext in a fresh buffer
 * from the pool given at creation (the chain's reference given up).
 * Frames that cannot be sealed are freed and counted in @p failed.
 * @return the frames left in @p pkts, in order.
 */
uint16_t migdp_sec_seal(struct migdp_sec *s, uint16_t qp, struct rte_mbuf **pkts,
			uint16_t n, uint64_t *failed);

/** Flow classes of the nonce and of the replay windows. */
#define MIGDP_SEC_CLASS_CONTROL 0
#define MIGDP_SEC_CLASS_CHANNEL 1

/**
 * Open the frame whose migdp header is @p h (header and payload, @p len
 * bytes, contiguous and writable): replay window, tag, and with encryption
 * the payload decrypted in place. @p cls: the flow class of the receiving
 * lcore (a frame of the other class is refused).
 * @return MIGDP_DROP_NONE, or MIGDP_DROP_BAD_AUTH, MIGDP_DROP_REPLAY,
 *   MIGDP_DROP_WRONG_DST.
 */
enum migdp_drop migdp_sec_open(struct migdp_sec *s, unsigned cls,
			       struct migdp_hdr *h, uint32_t len);

/** The class of a frame type: DATA, ACK and FIN travel on channels. */
static inline unsigned
migdp_sec_class(unsigned type)
{
	return type == MIGDP_T_DATA || type == MIGDP_T_ACK || type == MIGDP_T_FIN ?
		MIGDP_SEC_CLASS_CHANNEL : MIGDP_SEC_CLASS_CONTROL;
}

/** Handshake frames carry an HMAC, not a session tag. */
static inline bool
migdp_sec_handshake_type(unsigned type)
{
	return type == MIGDP_T_HELLO || type == MIGDP_T_ACCEPT || type == MIGDP_T_REJECT;
}

#endif /* MIGDP_SEC_H */
