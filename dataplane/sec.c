/* SPDX-License-Identifier: BSD-3-Clause */
/* Keys, handshake MACs and frame tags: see sec.h. */
#define ALLOW_EXPERIMENTAL_API 1 /* CPU crypto and session pools (22.11) */

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include <rte_cryptodev.h>
#include <rte_dev.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_udp.h>

#include "log.h"
#include "sec.h"

#define IV_LEN 12
#define IV_OFF (sizeof(struct rte_crypto_op) + sizeof(struct rte_crypto_sym_op))
#define NFLOWS (1 + 64) /* control, then one per channel (MIGDP_MAX_CHANNELS) */
#define SEAL_BURST 32

/* ---- keys ----------------------------------------------------------------- */

int
migdp_psk_load(const char *path, struct migdp_psk *k, char *err, size_t errlen)
{
	struct stat st;
	ssize_t n;
	int fd, e;

	memset(k, 0, sizeof(*k));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		e = errno;
		snprintf(err, errlen, "key file %s: %s", path, strerror(e));
		return -e;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "key file %s: not a regular file", path);
		close(fd);
		return -EINVAL;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen, "key file %s belongs to uid %u, not to this "
			 "process's (%u): refused", path, (unsigned)st.st_uid,
			 (unsigned)geteuid());
		close(fd);
		return -EPERM;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen, "key file %s is accessible by group or others "
			 "(mode %04o): refused; chmod 600 it", path,
			 (unsigned)(st.st_mode & 07777));
		close(fd);
		return -EPERM;
	}
	if (st.st_size < MIGDP_PSK_MIN || st.st_size > MIGDP_PSK_MAX) {
		snprintf(err, errlen, "key file %s: %lld bytes, want %u to %u random "
			 "bytes (head -c 32 /dev/urandom)", path, (long long)st.st_size,
			 MIGDP_PSK_MIN, MIGDP_PSK_MAX);
		close(fd);
		return -EINVAL;
	}
	n = read(fd, k->key, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		snprintf(err, errlen, "key file %s: short read", path);
		memset(k, 0, sizeof(*k));
		return -EIO;
	}
	k->len = (uint32_t)n;
	return 0;
}

static int
hkdf(const struct migdp_psk *k, const uint8_t *salt, size_t salt_len,
     const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
	int ok;

	ok = c != NULL && EVP_PKEY_derive_init(c) > 0 &&
	     EVP_PKEY_CTX_set_hkdf_md(c, EVP_sha256()) > 0 &&
	     (salt_len == 0 || EVP_PKEY_CTX_set1_hkdf_salt(c, salt, (int)salt_len) > 0) &&
	     EVP_PKEY_CTX_set1_hkdf_key(c, k->key, (int)k->len) > 0 &&
	     EVP_PKEY_CTX_add1_hkdf_info(c, info, (int)info_len) > 0 &&
	     EVP_PKEY_derive(c, out, &out_len) > 0;
	EVP_PKEY_CTX_free(c);
	return ok ? 0 : -EIO;
}

int
migdp_sec_random(uint8_t *out, size_t len)
{
	return RAND_bytes(out, (int)len) == 1 ? 0 : -EIO;
}

int
migdp_sec_derive(const struct migdp_psk *k, const uint8_t nonce_s[MIGDP_NONCE_LEN],
		 const uint8_t nonce_d[MIGDP_NONCE_LEN], uint64_t session,
		 struct migdp_sec_keys *out)
{
	static const char label[] = "migdp session v4";
	uint8_t salt[2 * MIGDP_NONCE_LEN], info[sizeof(label) - 1 + 8];
	uint8_t okm[2 * (32 + 4)];
	uint64_t be = rte_cpu_to_be_64(session);
	int rc;

	memcpy(salt, nonce_s, MIGDP_NONCE_LEN);
	memcpy(salt + MIGDP_NONCE_LEN, nonce_d, MIGDP_NONCE_LEN);
	memcpy(info, label, sizeof(label) - 1);
	memcpy(info + sizeof(label) - 1, &be, 8);
	rc = hkdf(k, salt, sizeof(salt), info, sizeof(info), okm, sizeof(okm));
	if (rc == 0) {
		memcpy(out->key[0], okm, 32);
		memcpy(out->salt[0], okm + 32, 4);
		memcpy(out->key[1], okm + 36, 32);
		memcpy(out->salt[1], okm + 68, 4);
	}
	memset(okm, 0, sizeof(okm));
	return rc;
}

/* ---- handshake MACs ------------------------------------------------------- */

bool
migdp_hs_mac(const struct migdp_psk *k, const void *hdr, uint32_t len,
	     const uint8_t *bind, uint8_t out[MIGDP_AUTH_TAG_LEN])
{
	static const char label[] = "migdp handshake v4";
	uint8_t hk[32], md[32], buf[2048];
	unsigned mdlen = sizeof(md);
	size_t n = len;

	bool ok = false;

	memset(out, 0, MIGDP_AUTH_TAG_LEN);
	if (k->len == 0 || len < sizeof(struct migdp_hdr) ||
	    len + MIGDP_NONCE_LEN > sizeof(buf) ||
	    hkdf(k, NULL, 0, (const uint8_t *)label, sizeof(label) - 1, hk, sizeof(hk)) != 0)
		return false;
	memcpy(buf, hdr, len);
	/* The frame check is made over the MAC: both taken as zero. */
	memset(buf + offsetof(struct migdp_hdr, check), 0, sizeof(rte_be32_t));
	memset(buf + offsetof(struct migdp_hdr, auth), 0, MIGDP_AUTH_TAG_LEN);
	if (bind != NULL) {
		memcpy(buf + len, bind, MIGDP_NONCE_LEN);
		n += MIGDP_NONCE_LEN;
	}
	if (HMAC(EVP_sha256(), hk, sizeof(hk), buf, n, md, &mdlen) != NULL) {
		memcpy(out, md, MIGDP_AUTH_TAG_LEN);
		ok = true;
	}
	memset(hk, 0, sizeof(hk));
	return ok;
}

void
migdp_hs_seal(const struct migdp_psk *k, void *frame, const uint8_t *bind)
{
	struct migdp_hdr *h = (struct migdp_hdr *)((uint8_t *)frame + MIGDP_HDR_OFF);

	uint16_t plen = rte_be_to_cpu_16(h->payload_len);

	migdp_hs_mac(k, h, sizeof(*h) + plen, bind, h->auth);
	h->check = rte_cpu_to_be_32(migdp_frame_check(h, h + 1, plen));
}

bool
migdp_hs_verify(const struct migdp_psk *k, const struct migdp_frame *f,
		const uint8_t *bind)
{
	uint8_t mac[MIGDP_AUTH_TAG_LEN];
	const struct migdp_hdr *h = (const struct migdp_hdr *)f->hdr;

	if (k->len == 0 || h == NULL ||
	    !migdp_hs_mac(k, h, sizeof(*h) + f->payload_len, bind, mac))
		return false; /* fails closed */
	return CRYPTO_memcmp(mac, h->auth, sizeof(mac)) == 0;
}

/* ---- the crypto device ---------------------------------------------------- */

static struct {
	bool ready;
	uint8_t id;
	uint16_t nqp;
	char name[32];
	struct rte_mempool *sess_pool, *op_pool;
} dev;

void
migdp_sec_dev_fini(void)
{
	if (dev.ready)
		rte_cryptodev_stop(dev.id);
	dev.ready = false;
}

const char *
migdp_sec_dev_name(void)
{
	return dev.ready ? dev.name : NULL;
}

int
migdp_sec_dev_init(uint16_t nqp, int socket)
{
	struct rte_cryptodev_config conf = {.socket_id = socket, .nb_queue_pairs = nqp};
	struct rte_cryptodev_qp_conf qp = {.nb_descriptors = 512};
	char args[64];
	uint16_t q;
	int id;

	if (dev.ready)
		return nqp <= dev.nqp ? 0 : -ENOSPC;
	if (socket < 0)
		socket = 0;
	conf.socket_id = socket;
	snprintf(dev.name, sizeof(dev.name), "crypto_aesni_gcm_migdp");
	snprintf(args, sizeof(args), "max_nb_queue_pairs=%u,socket_id=%d", nqp, socket);
	if (rte_eal_hotplug_add("vdev", dev.name, args) != 0) {
		MIGDP_LOG(ERR, "crypto: cannot create %s (DPDK's crypto_ipsec_mb PMD, "
			  "package librte-crypto-ipsec-mb23)", dev.name);
		return -ENODEV;
	}
	id = rte_cryptodev_get_dev_id(dev.name);
	if (id < 0)
		return -ENODEV;
	dev.id = (uint8_t)id;
	dev.sess_pool = rte_cryptodev_sym_session_pool_create("migdp_csess", 64,
		rte_cryptodev_sym_get_private_session_size(dev.id), 0, 0, socket);
	dev.op_pool = rte_crypto_op_pool_create("migdp_cop", RTE_CRYPTO_OP_TYPE_SYMMETRIC,
						4095, 64, IV_LEN, socket);
	if (dev.sess_pool == NULL || dev.op_pool == NULL)
		return -ENOMEM;
	qp.mp_session = dev.sess_pool;
	if (rte_cryptodev_configure(dev.id, &conf) < 0)
		return -EIO;
	for (q = 0; q < nqp; q++)
		if (rte_cryptodev_queue_pair_setup(dev.id, q, &qp, socket) < 0)
			return -EIO;
	if (rte_cryptodev_start(dev.id) < 0)
		return -EIO;
	dev.nqp = nqp;
	dev.ready = true;
	MIGDP_LOG(INFO, "crypto: %s, %u queue pairs, AES-256-GCM", dev.name, nqp);
	return 0;
}

/* ---- sessions ------------------------------------------------------------- */

/* What a receiver remembers of one flow's transmit counters. */
struct window {
	uint32_t top;
	bool any;
	uint64_t bits[MIGDP_REPLAY_WINDOW / 64];
};

struct migdp_sec {
	bool encrypt;
	uint8_t tx_salt[4], rx_salt[4];
	void *tx_sess, *rx_sess;
	struct rte_mempool *pool;
	_Atomic uint64_t tx_ctr[NFLOWS];
	struct window win[NFLOWS];
};

static void *
session(const uint8_t key[32], bool encrypt, bool tx)
{
	struct rte_crypto_sym_xform x = {0};

	if (encrypt) {
		x.type = RTE_CRYPTO_SYM_XFORM_AEAD;
		x.aead = (struct rte_crypto_aead_xform){
			.op = tx ? RTE_CRYPTO_AEAD_OP_ENCRYPT : RTE_CRYPTO_AEAD_OP_DECRYPT,
			.algo = RTE_CRYPTO_AEAD_AES_GCM,
			.key = {.data = key, .length = 32},
			.iv = {.offset = IV_OFF, .length = IV_LEN},
			.digest_length = MIGDP_AUTH_TAG_LEN,
			.aad_length = sizeof(struct migdp_hdr)};
	} else {
		x.type = RTE_CRYPTO_SYM_XFORM_AUTH;
		x.auth = (struct rte_crypto_auth_xform){
			.op = tx ? RTE_CRYPTO_AUTH_OP_GENERATE : RTE_CRYPTO_AUTH_OP_VERIFY,
			.algo = RTE_CRYPTO_AUTH_AES_GMAC,
			.key = {.data = key, .length = 32},
			.iv = {.offset = IV_OFF, .length = IV_LEN},
			.digest_length = MIGDP_AUTH_TAG_LEN};
	}
	return rte_cryptodev_sym_session_create(dev.id, &x, dev.sess_pool);
}

struct migdp_sec *
migdp_sec_create(const struct migdp_sec_keys *keys, bool source, bool encrypt,
		 struct rte_mempool *pool)
{
	struct migdp_sec *s;
	unsigned t = source ? 0 : 1;

	if (!dev.ready) {
		MIGDP_LOG(ERR, "crypto: no device (see the log at start)");
		return NULL;
	}
	s = rte_zmalloc("migdp_sec", sizeof(*s), RTE_CACHE_LINE_SIZE);
	if (s == NULL)
		return NULL;
	s->encrypt = encrypt;
	s->pool = pool;
	memcpy(s->tx_salt, keys->salt[t], 4);
	memcpy(s->rx_salt, keys->salt[1 - t], 4);
	s->tx_sess = session(keys->key[t], encrypt, true);
	s->rx_sess = session(keys->key[1 - t], encrypt, false);
	if (s->tx_sess == NULL || s->rx_sess == NULL) {
		MIGDP_LOG(ERR, "crypto: cannot create the session's keys");
		migdp_sec_free(s);
		return NULL;
	}
	return s;
}

void
migdp_sec_free(struct migdp_sec *s)
{
	if (s == NULL)
		return;
	if (s->tx_sess != NULL)
		rte_cryptodev_sym_session_free(dev.id, s->tx_sess);
	if (s->rx_sess != NULL)
		rte_cryptodev_sym_session_free(dev.id, s->rx_sess);
	memset(s, 0, sizeof(*s));
	rte_free(s);
}

bool
migdp_sec_encrypting(const struct migdp_sec *s)
{
	return s != NULL && s->encrypt;
}

/* Flow index of a header: 0 control, 1 + n channel n; -1 out of range. */
static int
flow_of(const struct migdp_hdr *h)
{
	unsigned ch = rte_be_to_cpu_16(h->channel);

	if (migdp_sec_class(h->type) == MIGDP_SEC_CLASS_CONTROL)
		return 0;
	return ch + 1 < NFLOWS ? (int)ch + 1 : -1;
}

static void
make_iv(uint8_t iv[IV_LEN], const uint8_t salt[4], const struct migdp_hdr *h)
{
	memcpy(iv, salt, 4);
	iv[4] = (uint8_t)migdp_sec_class(h->type);
	iv[5] = 0;
	memcpy(iv + 6, &h->channel, 2);
	memcpy(iv + 8, &h->check, 4);
}

/* The migdp header of a frame we built, NULL for anything else. */
static struct migdp_hdr *
hdr_of(struct rte_mbuf *m)
{
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(eth + 1);
	struct migdp_hdr *h;

	if (rte_pktmbuf_data_len(m) < MIGDP_L2_HDRS_LEN ||
	    eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
	    ip->version_ihl != 0x45 || ip->next_proto_id != IPPROTO_UDP)
		return NULL;
	h = rte_pktmbuf_mtod_offset(m, struct migdp_hdr *, MIGDP_HDR_OFF);
	return h->magic == rte_cpu_to_be_16(MIGDP_WIRE_MAGIC) ? h : NULL;
}

/* Prepare @p op for frame @p m; @return the buffer that will be sent, or
 * NULL when the frame cannot be sealed. */
static struct rte_mbuf *
prepare(struct migdp_sec *s, struct rte_crypto_op *op, struct rte_mbuf *m,
	struct migdp_hdr *h)
{
	struct rte_crypto_sym_op *so = op->sym;
	uint32_t plen = rte_be_to_cpu_16(h->payload_len);
	uint32_t len = rte_pktmbuf_pkt_len(m);
	int fl = flow_of(h);
	uint64_t ctr;
	struct rte_mbuf *d;
	struct migdp_hdr *dh;

	if (fl < 0 || len != MIGDP_L2_HDRS_LEN + plen)
		return NULL;
	ctr = atomic_fetch_add_explicit(&s->tx_ctr[fl], 1, memory_order_relaxed);
	if (ctr > UINT32_MAX) {
		MIGDP_LOG(ERR, "crypto: flow %d used up its 2^32 nonces: new session", fl);
		return NULL;
	}
	h->check = rte_cpu_to_be_32((uint32_t)ctr);
	memset(h->auth, 0, sizeof(h->auth));
	make_iv(rte_crypto_op_ctod_offset(op, uint8_t *, IV_OFF), s->tx_salt, h);
	so->m_src = m;
	if (!s->encrypt) {
		rte_crypto_op_attach_sym_session(op, s->tx_sess);
		so->auth.data.offset = MIGDP_HDR_OFF;
		so->auth.data.length = (uint32_t)sizeof(*h) + plen;
		so->auth.digest.data = h->auth;
		so->auth.digest.phys_addr = rte_pktmbuf_iova_offset(m,
			MIGDP_HDR_OFF + offsetof(struct migdp_hdr, auth));
		return m;
	}
	/* Out of place: the chain (guest pages in zero-copy) is read once,
	 * the ciphertext lands in one buffer. */
	d = rte_pktmbuf_alloc(s->pool);
	if (d == NULL || rte_pktmbuf_tailroom(d) < len) {
		rte_pktmbuf_free(d);
		return NULL;
	}
	rte_memcpy(rte_pktmbuf_mtod(d, void *), rte_pktmbuf_mtod(m, void *), MIGDP_L2_HDRS_LEN);
	rte_pktmbuf_append(d, (uint16_t)len);
	d->ol_flags = m->ol_flags;
	d->tx_offload = m->tx_offload;
	dh = rte_pktmbuf_mtod_offset(d, struct migdp_hdr *, MIGDP_HDR_OFF);
	rte_crypto_op_attach_sym_session(op, s->tx_sess);
	so->m_dst = d;
	so->aead.data.offset = MIGDP_L2_HDRS_LEN;
	so->aead.data.length = plen;
	so->aead.aad.data = (uint8_t *)dh;
	so->aead.aad.phys_addr = rte_pktmbuf_iova_offset(d, MIGDP_HDR_OFF);
	so->aead.digest.data = dh->auth;
	so->aead.digest.phys_addr = rte_pktmbuf_iova_offset(d,
		MIGDP_HDR_OFF + offsetof(struct migdp_hdr, auth));
	return d;
}

static uint16_t
seal_chunk(struct migdp_sec *s, uint16_t qp, struct rte_mbuf **pkts, uint16_t n,
	   uint64_t *failed)
{
	struct rte_crypto_op *ops[SEAL_BURST], *done[SEAL_BURST];
	struct rte_mbuf *out[SEAL_BURST];
	int8_t slot[SEAL_BURST]; /* pkts[i]'s op; -1: passes as it is, -2: failed */
	uint16_t i, nops = 0, sent = 0, got = 0, kept = 0;

	if (rte_crypto_op_bulk_alloc(dev.op_pool, RTE_CRYPTO_OP_TYPE_SYMMETRIC,
				     ops, n) != n) {
		for (i = 0; i < n; i++)
			rte_pktmbuf_free(pkts[i]);
		*failed += n;
		return 0;
	}
	for (i = 0; i < n; i++) {
		struct migdp_hdr *h = hdr_of(pkts[i]);

		slot[i] = -1;
		out[i] = pkts[i];
		if (h == NULL || migdp_sec_handshake_type(h->type))
			continue;
		out[i] = prepare(s, ops[nops], pkts[i], h);
		slot[i] = out[i] == NULL ? -2 : (int8_t)nops++;
	}
	while (sent < nops)
		sent += rte_cryptodev_enqueue_burst(dev.id, qp, ops + sent, nops - sent);
	while (got < nops)
		got += rte_cryptodev_dequeue_burst(dev.id, qp, done + got, nops - got);
	for (i = 0; i < n; i++) {
		struct rte_crypto_op *op = slot[i] < 0 ? NULL : ops[slot[i]];

		if (slot[i] == -2 ||
		    (op != NULL && op->status != RTE_CRYPTO_OP_STATUS_SUCCESS)) {
			if (out[i] != NULL && out[i] != pkts[i])
				rte_pktmbuf_free(out[i]);
			rte_pktmbuf_free(pkts[i]);
			(*failed)++;
			continue;
		}
		if (out[i] != pkts[i])
			rte_pktmbuf_free(pkts[i]); /* the chain stays with its keeper */
		pkts[kept++] = out[i];
	}
	for (i = 0; i < n; i++)
		rte_crypto_op_free(ops[i]);
	return kept;
}

uint16_t
migdp_sec_seal(struct migdp_sec *s, uint16_t qp, struct rte_mbuf **pkts,
	       uint16_t n, uint64_t *failed)
{
	uint16_t done = 0, kept = 0;

	while (done < n) {
		uint16_t k = (uint16_t)RTE_MIN(n - done, SEAL_BURST);
		uint16_t got = seal_chunk(s, qp, pkts + done, k, failed);

		memmove(pkts + kept, pkts + done, got * sizeof(*pkts));
		kept += got;
		done += k;
	}
	return kept;
}

/* ---- receiving ------------------------------------------------------------ */

static bool
seen(const struct window *w, uint32_t x)
{
	uint32_t back = w->top - x; /* how far behind the newest, mod 2^32 */

	if (!w->any || (int32_t)(x - w->top) > 0)
		return false;
	if (back >= MIGDP_REPLAY_WINDOW)
		return true;
	return w->bits[(x / 64) % RTE_DIM(w->bits)] >> (x % 64) & 1;
}

static void
mark(struct window *w, uint32_t x)
{
	int32_t d = (int32_t)(x - w->top);

	if (!w->any || d >= (int32_t)MIGDP_REPLAY_WINDOW) {
		memset(w->bits, 0, sizeof(w->bits));
		w->top = x;
		w->any = true;
	} else if (d > 0) {
		uint32_t k;

		for (k = 1; k <= (uint32_t)d; k++) {
			uint32_t y = w->top + k;

			w->bits[(y / 64) % RTE_DIM(w->bits)] &= ~(1ull << (y % 64));
		}
		w->top = x;
	}
	w->bits[(x / 64) % RTE_DIM(w->bits)] |= 1ull << (x % 64);
}

enum migdp_drop
migdp_sec_open(struct migdp_sec *s, unsigned cls, struct migdp_hdr *h, uint32_t len)
{
	uint8_t iv[IV_LEN], tag[MIGDP_AUTH_TAG_LEN];
	uint32_t x = rte_be_to_cpu_32(h->check);
	int fl = flow_of(h);
	struct rte_crypto_vec v;
	struct rte_crypto_sgl sgl = {.vec = &v, .num = 1};
	struct rte_crypto_va_iova_ptr ivp = {.va = iv}, dg = {.va = tag}, aad = {.va = h};
	int32_t st = 0;
	struct rte_crypto_sym_vec vec = {.num = 1, .src_sgl = &sgl, .iv = &ivp,
					 .digest = &dg, .aad = &aad, .status = &st};
	union rte_crypto_sym_ofs ofs = {.raw = 0};

	if (migdp_sec_class(h->type) != cls || fl < 0)
		return MIGDP_DROP_WRONG_DST;
	if (len < sizeof(*h))
		return MIGDP_DROP_TOO_SHORT;
	/* The tag first: a forged frame is counted as forged, whatever its
	 * counter; one the peer did send, if seen before, as a replay. */
	memcpy(tag, h->auth, sizeof(tag));
	memset(h->auth, 0, sizeof(h->auth));
	make_iv(iv, s->rx_salt, h);
	if (s->encrypt) {
		v = (struct rte_crypto_vec){.base = h + 1, .len = len - (uint32_t)sizeof(*h)};
	} else {
		v = (struct rte_crypto_vec){.base = h, .len = len};
	}
	if (rte_cryptodev_sym_cpu_crypto_process(dev.id, s->rx_sess, ofs, &vec) != 1 ||
	    st != 0)
		return MIGDP_DROP_BAD_AUTH;
	if (seen(&s->win[fl], x))
		return MIGDP_DROP_REPLAY;
	mark(&s->win[fl], x);
	return MIGDP_DROP_NONE;
}
