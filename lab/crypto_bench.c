/* SPDX-License-Identifier: BSD-3-Clause */
/* Frame authentication and encryption on one core, the ways migdp could do
 * them (issue: cryptodev or OpenSSL's EVP, measured): AES-256-GCM over a
 * 48-byte header (AAD) and a payload, and GMAC (header and payload as AAD,
 * nothing encrypted), through
 *   evp           OpenSSL EVP directly, out of place (the cipher is the copy);
 *   cpu:<pmd>     DPDK cryptodev's synchronous CPU crypto API
 *                 (rte_cryptodev_sym_cpu_crypto_process);
 *   enq:<pmd>     cryptodev's queue pair, bursts of 32 operations on mbufs
 *                 (enqueue, dequeue), in place.
 * PMDs: crypto_aesni_gcm (intel-ipsec-mb), crypto_openssl. One JSON object.
 *
 * migdp-crypto-bench [EAL args] -- [--seconds S] [--sizes 1448,8192]
 * EAL args default: --no-huge --no-pci -m 256 --file-prefix migdp-cb<pid>
 *   --vdev crypto_aesni_gcm0 --vdev crypto_openssl0 -l 0 --log-level 1 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#define ALLOW_EXPERIMENTAL_API 1 /* CPU crypto, session pools (22.11) */

#include <rte_cryptodev.h>
#include <rte_eal.h>
#include <rte_mbuf.h>

#define HDR 48
#define TAG 16
#define IVLEN 12
#define BURST 32
#define MAXLEN 9000

static uint8_t key[32], hdr[HDR], src[MAXLEN], dst[MAXLEN + 64];
static double seconds = 1.0;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Run @p one on @p len-byte frames for about `seconds`: bytes per second. */
static double
measure(int (*one)(void *, uint32_t, uint64_t), void *arg, uint32_t len,
	unsigned per_call)
{
	uint64_t n = 0;
	double t0 = now_s(), t;

	do {
		unsigned i;

		for (i = 0; i < 64; i += per_call, n += per_call)
			if (one(arg, len, n) != 0)
				return -1;
		t = now_s();
	} while (t - t0 < seconds);
	return (double)n * len / (t - t0);
}

/* ---- OpenSSL EVP --------------------------------------------------------- */

static void
iv_of(uint8_t *iv, uint64_t n)
{
	memset(iv, 0, IVLEN);
	memcpy(iv + 4, &n, sizeof(n));
}

/* One frame through EVP: GCM (the payload encrypted out of place) or GMAC
 * (the payload authenticated as more AAD). */
static int
evp_one(EVP_CIPHER_CTX *c, uint32_t len, uint64_t n, bool gmac)
{
	uint8_t iv[IVLEN], tag[TAG];
	int out;

	iv_of(iv, n);
	if (!EVP_EncryptInit_ex(c, NULL, NULL, NULL, iv) ||
	    !EVP_EncryptUpdate(c, NULL, &out, hdr, HDR) ||
	    !EVP_EncryptUpdate(c, gmac ? NULL : dst, &out, src, (int)len) ||
	    !EVP_EncryptFinal_ex(c, dst + (gmac ? 0 : out), &out) ||
	    !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG, tag))
		return -1;
	return 0;
}

static int
evp_gcm(void *arg, uint32_t len, uint64_t n)
{
	return evp_one(arg, len, n, false);
}

static int
evp_gmac(void *arg, uint32_t len, uint64_t n)
{
	return evp_one(arg, len, n, true);
}

/* ---- cryptodev ------------------------------------------------------------ */

struct cdev {
	uint8_t id;
	void *sess_gcm, *sess_gmac;
	struct rte_mempool *op_pool, *mb_pool;
	struct rte_mbuf *mb[BURST];
	struct rte_crypto_op *ops[BURST];
	bool gmac;
};

static struct rte_mempool *sess_pool;

static void *
session(uint8_t id, bool gmac)
{
	struct rte_crypto_sym_xform x = {0};

	if (gmac) {
		x.type = RTE_CRYPTO_SYM_XFORM_AUTH;
		x.auth = (struct rte_crypto_auth_xform){
			.op = RTE_CRYPTO_AUTH_OP_GENERATE,
			.algo = RTE_CRYPTO_AUTH_AES_GMAC,
			.key = {.data = key, .length = 32},
			.iv = {.offset = sizeof(struct rte_crypto_op) +
				sizeof(struct rte_crypto_sym_op), .length = IVLEN},
			.digest_length = TAG};
	} else {
		x.type = RTE_CRYPTO_SYM_XFORM_AEAD;
		x.aead = (struct rte_crypto_aead_xform){
			.op = RTE_CRYPTO_AEAD_OP_ENCRYPT,
			.algo = RTE_CRYPTO_AEAD_AES_GCM,
			.key = {.data = key, .length = 32},
			.iv = {.offset = sizeof(struct rte_crypto_op) +
				sizeof(struct rte_crypto_sym_op), .length = IVLEN},
			.digest_length = TAG, .aad_length = HDR};
	}
	return rte_cryptodev_sym_session_create(id, &x, sess_pool);
}

static int
cdev_open(const char *name, struct cdev *d)
{
	struct rte_cryptodev_config conf = {.socket_id = 0, .nb_queue_pairs = 1};
	struct rte_cryptodev_qp_conf qp = {.nb_descriptors = 512};
	char pname[64];
	int id = rte_cryptodev_get_dev_id(name);
	unsigned i;

	if (id < 0)
		return -ENODEV;
	d->id = (uint8_t)id;
	if (sess_pool == NULL) {
		sess_pool = rte_cryptodev_sym_session_pool_create("cb_sess", 64,
			rte_cryptodev_sym_get_private_session_size(d->id) + 256, 0, 0, 0);
		if (sess_pool == NULL)
			return -ENOMEM;
	}
	qp.mp_session = sess_pool;
	if (rte_cryptodev_configure(d->id, &conf) < 0 ||
	    rte_cryptodev_queue_pair_setup(d->id, 0, &qp, 0) < 0 ||
	    rte_cryptodev_start(d->id) < 0)
		return -EIO;
	d->sess_gcm = session(d->id, false);
	d->sess_gmac = session(d->id, true);
	snprintf(pname, sizeof(pname), "cb_op%u", d->id);
	d->op_pool = rte_crypto_op_pool_create(pname, RTE_CRYPTO_OP_TYPE_SYMMETRIC,
					       256, 0, IVLEN, 0);
	snprintf(pname, sizeof(pname), "cb_mb%u", d->id);
	d->mb_pool = rte_pktmbuf_pool_create(pname, 256, 0, 0,
					     MAXLEN + HDR + TAG + 256, 0);
	if (d->sess_gcm == NULL || d->op_pool == NULL || d->mb_pool == NULL)
		return -ENOMEM;
	for (i = 0; i < BURST; i++) {
		d->mb[i] = rte_pktmbuf_alloc(d->mb_pool);
		if (d->mb[i] == NULL)
			return -ENOMEM;
		rte_pktmbuf_append(d->mb[i], HDR + MAXLEN + TAG);
		memcpy(rte_pktmbuf_mtod(d->mb[i], uint8_t *), hdr, HDR);
	}
	return 0;
}

/* Synchronous CPU crypto: one frame per call, out of place for GCM when
 * the PMD can (else in place), GMAC over header and payload. */
static int
cpu_one(void *arg, uint32_t len, uint64_t n)
{
	struct cdev *d = arg;
	uint8_t iv[IVLEN], tag[TAG];
	static uint8_t frame[HDR + MAXLEN];
	struct rte_crypto_vec v = {.base = d->gmac ? frame : src, .len = d->gmac ? HDR + len : len};
	struct rte_crypto_sgl sgl = {.vec = &v, .num = 1};
	struct rte_crypto_va_iova_ptr ivp = {.va = iv}, dg = {.va = tag},
		aad = {.va = hdr};
	int32_t st = 0;
	struct rte_crypto_sym_vec vec = {.num = 1, .src_sgl = &sgl, .iv = &ivp,
					 .digest = &dg, .aad = &aad, .status = &st};
	union rte_crypto_sym_ofs ofs = {.raw = 0};

	iv_of(iv, n);
	if (rte_cryptodev_sym_cpu_crypto_process(d->id, d->gmac ? d->sess_gmac :
						 d->sess_gcm, ofs, &vec) != 1)
		return -1;
	return st;
}

/* A burst of BURST frames through the queue pair, in place. */
static int
enq_burst(void *arg, uint32_t len, uint64_t n)
{
	struct cdev *d = arg;
	unsigned i, done = 0, sent = 0;

	if (rte_crypto_op_bulk_alloc(d->op_pool, RTE_CRYPTO_OP_TYPE_SYMMETRIC,
				     d->ops, BURST) != BURST)
		return -1;
	for (i = 0; i < BURST; i++) {
		struct rte_crypto_op *op = d->ops[i];
		struct rte_crypto_sym_op *s = op->sym;
		uint8_t *iv = rte_crypto_op_ctod_offset(op, uint8_t *,
			sizeof(struct rte_crypto_op) + sizeof(struct rte_crypto_sym_op));
		struct rte_mbuf *m = d->mb[i];

		iv_of(iv, n + i);
		s->m_src = m;
		if (d->gmac) {
			rte_crypto_op_attach_sym_session(op, d->sess_gmac);
			s->auth.data.offset = 0;
			s->auth.data.length = HDR + len;
			s->auth.digest.data = rte_pktmbuf_mtod_offset(m, uint8_t *, HDR + len);
			s->auth.digest.phys_addr = rte_pktmbuf_iova_offset(m, HDR + len);
		} else {
			rte_crypto_op_attach_sym_session(op, d->sess_gcm);
			s->aead.data.offset = HDR;
			s->aead.data.length = len;
			s->aead.aad.data = rte_pktmbuf_mtod(m, uint8_t *);
			s->aead.aad.phys_addr = rte_pktmbuf_iova(m);
			s->aead.digest.data = rte_pktmbuf_mtod_offset(m, uint8_t *, HDR + len);
			s->aead.digest.phys_addr = rte_pktmbuf_iova_offset(m, HDR + len);
		}
	}
	while (sent < BURST)
		sent += rte_cryptodev_enqueue_burst(d->id, 0, d->ops + sent, BURST - sent);
	while (done < BURST) {
		struct rte_crypto_op *out[BURST];
		uint16_t k = rte_cryptodev_dequeue_burst(d->id, 0, out, BURST - done);

		for (i = 0; i < k; i++)
			if (out[i]->status != RTE_CRYPTO_OP_STATUS_SUCCESS)
				return -1;
		done += k;
	}
	for (i = 0; i < BURST; i++)
		rte_crypto_op_free(d->ops[i]);
	return 0;
}

int
main(int argc, char **argv)
{
	static const char *pmds[] = {"crypto_aesni_gcm0", "crypto_openssl0"};
	char prefix[64];
	char *dflt[] = {argv[0], "--no-huge", "--no-pci", "-m", "256", "--file-prefix",
			prefix, "--vdev", "crypto_aesni_gcm0", "--vdev", "crypto_openssl0",
			"-l", "0", "--log-level", "1"};
	uint32_t sizes[8] = {1448, 8192};
	unsigned nsizes = 2, s, p, opt_i;
	json_t *out = json_object(), *res = json_array();
	EVP_CIPHER_CTX *evp = EVP_CIPHER_CTX_new();
	int n, c;

	snprintf(prefix, sizeof(prefix), "migdp-cb%d", getpid());
	for (opt_i = 1; opt_i < (unsigned)argc && strcmp(argv[opt_i], "--") != 0; opt_i++)
		;
	n = opt_i > 1 ? rte_eal_init((int)opt_i, argv) :
			rte_eal_init((int)RTE_DIM(dflt), dflt);
	if (n < 0) {
		fprintf(stderr, "crypto-bench: EAL init failed\n");
		return 1;
	}
	argc -= (int)opt_i;
	argv += opt_i;
	static const struct option lo[] = {{"seconds", 1, 0, 's'}, {"sizes", 1, 0, 'z'}, {0}};
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 's') {
			seconds = atof(optarg);
		} else if (c == 'z') {
			char *t = strtok(optarg, ",");

			for (nsizes = 0; t != NULL && nsizes < 8; t = strtok(NULL, ","))
				sizes[nsizes++] = (uint32_t)atoi(t);
		} else {
			fprintf(stderr, "usage: migdp-crypto-bench [EAL] -- [--seconds S] [--sizes A,B]\n");
			return 2;
		}
	}
	for (s = 0; s < sizeof(key); s++)
		key[s] = (uint8_t)(s * 7 + 1);
	for (s = 0; s < MAXLEN; s++)
		src[s] = (uint8_t)(s * 131);
	EVP_EncryptInit_ex(evp, EVP_aes_256_gcm(), NULL, key, NULL);
	for (s = 0; s < nsizes; s++) {
		uint32_t len = sizes[s];
		json_t *row = json_object();

		if (len == 0 || len > MAXLEN)
			continue;
		json_object_set_new(row, "payload_bytes", json_integer(len));
		json_object_set_new(row, "evp_gcm_gbps", json_real(measure(evp_gcm, evp, len, 1) * 8 / 1e9));
		json_object_set_new(row, "evp_gmac_gbps", json_real(measure(evp_gmac, evp, len, 1) * 8 / 1e9));
		for (p = 0; p < RTE_DIM(pmds); p++) {
			static struct cdev devs[2];
			static bool opened[2];
			struct cdev *d = &devs[p];
			char k[96];
			const char *pn = strncmp(pmds[p], "crypto_aesni_gcm", 16) == 0 ?
					 "aesni_gcm" : "openssl";

			if (!opened[p]) {
				int e = cdev_open(pmds[p], d);

				if (e != 0) {
					fprintf(stderr, "crypto-bench: %s: %s\n", pmds[p], strerror(-e));
					continue;
				}
				opened[p] = true;
			}
			d->gmac = false;
			snprintf(k, sizeof(k), "cpu_%s_gcm_gbps", pn);
			json_object_set_new(row, k, json_real(measure(cpu_one, d, len, 1) * 8 / 1e9));
			d->gmac = true;
			snprintf(k, sizeof(k), "cpu_%s_gmac_gbps", pn);
			json_object_set_new(row, k, json_real(measure(cpu_one, d, len, 1) * 8 / 1e9));
			d->gmac = false;
			snprintf(k, sizeof(k), "enq_%s_gcm_gbps", pn);
			json_object_set_new(row, k, json_real(measure(enq_burst, d, len, BURST) * 8 / 1e9));
			d->gmac = true;
			snprintf(k, sizeof(k), "enq_%s_gmac_gbps", pn);
			json_object_set_new(row, k, json_real(measure(enq_burst, d, len, BURST) * 8 / 1e9));
		}
		json_array_append_new(res, row);
	}
	json_object_set_new(out, "benchmark", json_string("crypto"));
	json_object_set_new(out, "cipher", json_string("AES-256-GCM, 48-byte header as AAD, 16-byte tag"));
	json_object_set_new(out, "seconds_each", json_real(seconds));
	json_object_set_new(out, "openssl", json_string(OpenSSL_version(OPENSSL_VERSION)));
	json_object_set_new(out, "results", res);
	json_dumpf(out, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(out);
	EVP_CIPHER_CTX_free(evp);
	rte_eal_cleanup();
	return 0;
}
