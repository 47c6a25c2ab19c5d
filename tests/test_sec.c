/* SPDX-License-Identifier: BSD-3-Clause */
/* sec.h on real cryptodev (crypto_aesni_gcm, EAL --no-huge): key files,
 * handshake MACs, session keys, frames sealed and opened (GMAC, GCM, a
 * chain of segments), tags checked against OpenSSL's EVP as an
 * independent implementation, tampering, replays. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <rte_eal.h>
#include <rte_mbuf.h>

#include "cu_main.h"
#include "sec.h"
#include "dp.h"
#include "wire.h"

#define SRC_IP 0xc6120001u /* 198.18.0.1 */
#define DST_IP 0xc6120002u
#define SESSION 0x1234abcdull

static struct rte_mempool *pool;
static struct migdp_sec_keys keys;
static char dir[64];

static const char *
key_file(const char *name, unsigned len, mode_t mode)
{
	static char path[128];
	uint8_t buf[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	memset(buf, 0x5a, sizeof(buf));
	CU_ASSERT_FATAL(write(fd, buf, len) == (ssize_t)len);
	close(fd);
	chmod(path, mode);
	return path;
}

static void
test_key_file(void)
{
	struct migdp_psk k;
	char err[256], link[160];

	CU_ASSERT_EQUAL(migdp_psk_load(key_file("ok", 32, 0600), &k, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(k.len, 32);
	CU_ASSERT_EQUAL(migdp_psk_load(key_file("ro", 16, 0400), &k, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(migdp_psk_load(key_file("grp", 32, 0640), &k, err, sizeof(err)), -EPERM);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "accessible by group or others (mode 0640)"));
	CU_ASSERT_EQUAL(k.len, 0);
	CU_ASSERT_EQUAL(migdp_psk_load(key_file("oth", 32, 0604), &k, err, sizeof(err)), -EPERM);
	CU_ASSERT_EQUAL(migdp_psk_load(key_file("short", 15, 0600), &k, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "15 bytes"));
	CU_ASSERT_EQUAL(migdp_psk_load(key_file("long", 65, 0600), &k, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(migdp_psk_load("/nonexistent/key", &k, err, sizeof(err)), -ENOENT);
	/* Another user's key, even of the right mode. */
	if (chown(key_file("theirs", 32, 0600), geteuid() + 1, (gid_t)-1) == 0) {
		CU_ASSERT_EQUAL(migdp_psk_load(key_file("theirs", 32, 0600), &k, err, sizeof(err)),
				0); /* key_file() made it ours again */
		CU_ASSERT_EQUAL(chown(key_file("theirs", 32, 0600), geteuid() + 1, (gid_t)-1), 0);
		{
			char p2[128];

			snprintf(p2, sizeof(p2), "%s/theirs", dir);
			CU_ASSERT_EQUAL(migdp_psk_load(p2, &k, err, sizeof(err)), -EPERM);
			CU_ASSERT_PTR_NOT_NULL(strstr(err, "not to this process's"));
		}
	}
	CU_ASSERT_EQUAL(migdp_psk_load(dir, &k, err, sizeof(err)) < 0, 1); /* a directory */
	snprintf(link, sizeof(link), "%s/link", dir);
	unlink(link);
	CU_ASSERT_EQUAL(symlink(key_file("ok", 32, 0600), link), 0);
	CU_ASSERT(migdp_psk_load(link, &k, err, sizeof(err)) < 0); /* not followed */
}

static void
test_derive(void)
{
	struct migdp_psk k = {.len = 32}, k2 = {.len = 32};
	uint8_t ns[16] = {1}, nd[16] = {2};
	struct migdp_sec_keys a, b;

	memset(k.key, 7, 32);
	memset(k2.key, 8, 32);
	CU_ASSERT_EQUAL(migdp_sec_derive(&k, ns, nd, SESSION, &a), 0);
	CU_ASSERT_EQUAL(migdp_sec_derive(&k, ns, nd, SESSION, &b), 0);
	CU_ASSERT_EQUAL(memcmp(&a, &b, sizeof(a)), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(a.key[0], a.key[1], 32), 0);
	nd[0] = 3;
	CU_ASSERT_EQUAL(migdp_sec_derive(&k, ns, nd, SESSION, &b), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(&a, &b, sizeof(a)), 0);
	nd[0] = 2;
	CU_ASSERT_EQUAL(migdp_sec_derive(&k, ns, nd, SESSION + 1, &b), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(&a, &b, sizeof(a)), 0);
	CU_ASSERT_EQUAL(migdp_sec_derive(&k2, ns, nd, SESSION, &b), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(&a, &b, sizeof(a)), 0);
	keys = a;
}

static const struct migdp_flow *
flow(uint16_t channel)
{
	static struct migdp_flow fl;

	fl = (struct migdp_flow){.src_ip = SRC_IP, .dst_ip = DST_IP, .src_port = 47000,
				 .dst_port = 47000 + (channel == 0xffff ? 0 : 1 + channel),
				 .channel = channel == 0xffff ? 0 : channel, .mtu = 9000,
				 .session = SESSION};
	return &fl;
}

static struct migdp_local
local(uint16_t port, struct migdp_sec *sec, unsigned cls)
{
	return (struct migdp_local){.ip = DST_IP, .port = port, .session = SESSION,
				    .peer_ip = SRC_IP, .sec = sec, .sec_class = (uint8_t)cls};
}

/* A COMMIT frame on the control flow (or sent to channel 1's port), in
 * one mbuf. */
static struct rte_mbuf *
commit_frame_to(bool to_channel)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	struct migdp_msg msg = {.type = MIGDP_T_COMMIT};
	int len;

	msg.u.commit.flags = MIGDP_COMMIT_GO;
	msg.u.commit.guest_bytes = 1 << 30;
	memset(msg.u.commit.digest, 0x42, sizeof(msg.u.commit.digest));
	len = migdp_wire_build_msg(rte_pktmbuf_mtod(m, void *), rte_pktmbuf_tailroom(m),
				   to_channel ? flow(1) : flow(0xffff), &msg);
	CU_ASSERT_FATAL(len > 0);
	rte_pktmbuf_append(m, (uint16_t)len);
	return m;
}

static struct rte_mbuf *
commit_frame(void)
{
	return commit_frame_to(false);
}

/* A DATA frame of one raw page on channel 1: headers and the record table
 * in the first mbuf, the page in a second one (as zero-copy sends it). */
static struct rte_mbuf *
data_frame(const uint8_t *page)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool), *seg = rte_pktmbuf_alloc(pool);
	struct migdp_msg msg = {.seq = 77};
	struct migdp_data d;
	int len;

	migdp_data_init(&d, 9000);
	CU_ASSERT_FATAL(migdp_data_add_raw(&d, 0x200000, page) == 0);
	len = migdp_wire_build_data(rte_pktmbuf_mtod(m, void *), rte_pktmbuf_tailroom(m),
				    flow(1), &msg, &d, MIGDP_WIRE_COPY_NONE);
	CU_ASSERT_FATAL(len > 0);
	rte_pktmbuf_append(m, (uint16_t)len);
	memcpy(rte_pktmbuf_append(seg, MIGDP_PAGE_SIZE), page, MIGDP_PAGE_SIZE);
	CU_ASSERT_FATAL(rte_pktmbuf_chain(m, seg) == 0);
	return m;
}

/* Parse @p m (linearised) with @p loc. */
static enum migdp_drop
open_frame(struct rte_mbuf *m, const struct migdp_local *loc, struct migdp_frame *f,
	   uint8_t *buf)
{
	uint32_t len = rte_pktmbuf_pkt_len(m);
	const void *p = rte_pktmbuf_read(m, 0, len, buf);

	/* A copy: opening decrypts in place, and the frame is opened again. */
	CU_ASSERT_FATAL(p != NULL);
	if (p != buf)
		memcpy(buf, p, len);
	return migdp_wire_parse(buf, len, loc, 0, f);
}

/* The tag OpenSSL computes for the frame in @p buf (sealed, contiguous):
 * GMAC over header and payload, or GCM over the header with the payload
 * decrypted into @p plain. */
static bool
evp_check(const uint8_t *buf, uint32_t len, bool encrypt, uint8_t *plain)
{
	const struct migdp_hdr *h = (const struct migdp_hdr *)(buf + MIGDP_HDR_OFF);
	uint8_t hdr[sizeof(*h)], iv[12], tag[16];
	uint32_t plen = len - MIGDP_L2_HDRS_LEN;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int out, ok;

	memcpy(hdr, h, sizeof(hdr));
	memset(((struct migdp_hdr *)hdr)->auth, 0, 16);
	memcpy(iv, keys.salt[0], 4);
	iv[4] = (uint8_t)migdp_sec_class(h->type);
	iv[5] = 0;
	memcpy(iv + 6, &h->channel, 2);
	memcpy(iv + 8, &h->check, 4);
	memcpy(tag, h->auth, 16);
	ok = EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, keys.key[0], iv) &&
	     EVP_DecryptUpdate(c, NULL, &out, hdr, sizeof(hdr)) &&
	     (encrypt ? EVP_DecryptUpdate(c, plain, &out, buf + MIGDP_L2_HDRS_LEN, (int)plen) :
			EVP_DecryptUpdate(c, NULL, &out, buf + MIGDP_L2_HDRS_LEN, (int)plen)) &&
	     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag) &&
	     EVP_DecryptFinal_ex(c, plain + (encrypt ? plen : 0), &out) > 0;
	EVP_CIPHER_CTX_free(c);
	return ok;
}

static void
seal_open(bool encrypt)
{
	struct migdp_sec *tx = migdp_sec_create(&keys, true, encrypt, pool);
	struct migdp_sec *rx = migdp_sec_create(&keys, false, encrypt, pool);
	static uint8_t page[MIGDP_PAGE_SIZE], buf[MIGDP_MAX_FRAME + 64],
		copy[MIGDP_MAX_FRAME + 64], plain[MIGDP_MAX_FRAME];
	struct migdp_local cl = local(47000, rx, MIGDP_SEC_CLASS_CONTROL);
	struct migdp_local dl = local(47002, rx, MIGDP_SEC_CLASS_CHANNEL);
	struct migdp_local cl_any = local(47002, rx, MIGDP_SEC_CLASS_CHANNEL);
	struct rte_mbuf *pkts[2];
	struct migdp_frame f;
	uint64_t failed = 0;
	uint32_t len, i;

	CU_ASSERT_FATAL(tx != NULL && rx != NULL);
	dl.check_channel = true;
	dl.channel = 1;
	for (i = 0; i < sizeof(page); i++)
		page[i] = (uint8_t)(i * 31 + 7);
	pkts[0] = commit_frame();
	pkts[1] = data_frame(page);
	CU_ASSERT_EQUAL(pkts[1]->nb_segs, 2);
	CU_ASSERT_EQUAL(migdp_sec_seal(tx, 0, pkts, 2, &failed), 2);
	CU_ASSERT_EQUAL(failed, 0);
	/* Encrypted out of place: one buffer; authenticated: the chain. */
	CU_ASSERT_EQUAL(pkts[1]->nb_segs, encrypt ? 1 : 2);
	/* OpenSSL agrees, on both frames. */
	len = rte_pktmbuf_pkt_len(pkts[0]);
	memcpy(copy, rte_pktmbuf_read(pkts[0], 0, len, buf), len);
	CU_ASSERT(evp_check(copy, len, encrypt, plain));
	len = rte_pktmbuf_pkt_len(pkts[1]);
	memcpy(copy, rte_pktmbuf_read(pkts[1], 0, len, buf), len);
	CU_ASSERT(evp_check(copy, len, encrypt, plain));
	if (encrypt) { /* the page is not on the wire, and EVP gets it back */
		CU_ASSERT(memmem(copy, len, page, 64) == NULL);
		CU_ASSERT(memmem(plain, len, page, sizeof(page)) != NULL);
	}
	CU_ASSERT_EQUAL(open_frame(pkts[0], &cl, &f, buf), MIGDP_DROP_NONE);
	CU_ASSERT_EQUAL(f.msg.type, MIGDP_T_COMMIT);
	CU_ASSERT_EQUAL(f.msg.u.commit.flags, MIGDP_COMMIT_GO);
	CU_ASSERT_EQUAL(f.msg.u.commit.digest[5], 0x42);
	CU_ASSERT_EQUAL(open_frame(pkts[1], &dl, &f, buf), MIGDP_DROP_NONE);
	CU_ASSERT_EQUAL(f.msg.seq, 77);
	CU_ASSERT(memmem(f.payload, f.payload_len, page, sizeof(page)) != NULL);
	/* The same frame again: a replay, after its tag checked out. */
	CU_ASSERT_EQUAL(open_frame(pkts[1], &dl, &f, buf), MIGDP_DROP_REPLAY);
	/* A frame of another channel on this channel's port. */
	dl.channel = 0;
	CU_ASSERT_EQUAL(open_frame(pkts[1], &dl, &f, buf), MIGDP_DROP_WRONG_DST);
	dl.channel = 1;
	/* A control frame sent to a channel's port, past the port check:
	 * the channel lcore refuses its class (and the other way round). */
	{
		struct rte_mbuf *x = commit_frame_to(true);

		CU_ASSERT_EQUAL(migdp_sec_seal(tx, 0, &x, 1, &failed), 1);
		CU_ASSERT_EQUAL(open_frame(x, &cl_any, &f, buf), MIGDP_DROP_WRONG_DST);
		rte_pktmbuf_free(x);
		cl_any = local(47002, rx, MIGDP_SEC_CLASS_CONTROL);
		CU_ASSERT_EQUAL(open_frame(pkts[1], &cl_any, &f, buf), MIGDP_DROP_WRONG_DST);
	}
	/* From another address than the peer's. */
	dl.peer_ip = SRC_IP + 9;
	CU_ASSERT_EQUAL(open_frame(pkts[1], &dl, &f, buf), MIGDP_DROP_WRONG_PEER);
	dl.peer_ip = SRC_IP;
	/* Tampered: a payload byte, a header field (the counter: a forged
	 * frame is counted as forged, not as a replay). */
	memcpy(buf, copy, len);
	buf[len - 100] ^= 1;
	CU_ASSERT_EQUAL(migdp_wire_parse(buf, len, &dl, 0, &f), MIGDP_DROP_BAD_AUTH);
	memcpy(buf, copy, len);
	buf[MIGDP_HDR_OFF + 16] ^= 0x80; /* seq */
	CU_ASSERT_EQUAL(migdp_wire_parse(buf, len, &dl, 0, &f), MIGDP_DROP_BAD_AUTH);
	memcpy(buf, copy, len);
	buf[MIGDP_HDR_OFF + 28] ^= 0x40; /* counter */
	CU_ASSERT_EQUAL(migdp_wire_parse(buf, len, &dl, 0, &f), MIGDP_DROP_BAD_AUTH);
	/* With the other direction's keys: refused. */
	{
		struct migdp_sec *wrong = migdp_sec_create(&keys, true, encrypt, pool);
		struct migdp_local wl = local(47002, wrong, MIGDP_SEC_CLASS_CHANNEL);

		memcpy(buf, copy, len);
		CU_ASSERT_EQUAL(migdp_wire_parse(buf, len, &wl, 0, &f), MIGDP_DROP_BAD_AUTH);
		migdp_sec_free(wrong);
	}
	rte_pktmbuf_free(pkts[0]);
	rte_pktmbuf_free(pkts[1]);
	migdp_sec_free(tx);
	migdp_sec_free(rx);
}

static void test_seal_open_gmac(void) { seal_open(false); }
static void test_seal_open_gcm(void) { seal_open(true); }

/* Every transmission its own counter (so its own nonce); the window
 * takes reordering, refuses what is seen or older than MIGDP_REPLAY_WINDOW. */
static void
test_counters_window(void)
{
	struct migdp_sec *tx = migdp_sec_create(&keys, true, false, pool);
	struct migdp_sec *rx = migdp_sec_create(&keys, false, false, pool);
	struct migdp_local cl = local(47000, rx, MIGDP_SEC_CLASS_CONTROL);
	static uint8_t first[256], buf[MIGDP_MAX_FRAME + 64];
	uint8_t tag0[16];
	struct migdp_frame f;
	uint64_t failed = 0;
	uint32_t flen = 0, i, n = MIGDP_REPLAY_WINDOW + 8;
	static uint8_t kept[8][256];

	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = commit_frame();
		const struct migdp_hdr *h = rte_pktmbuf_mtod_offset(m, const struct migdp_hdr *,
								   MIGDP_HDR_OFF);

		CU_ASSERT_FATAL(migdp_sec_seal(tx, 0, &m, 1, &failed) == 1);
		CU_ASSERT_EQUAL(rte_be_to_cpu_32(h->check), i);
		if (i == 0) {
			flen = rte_pktmbuf_pkt_len(m);
			memcpy(first, rte_pktmbuf_mtod(m, void *), flen);
			memcpy(tag0, h->auth, 16);
		} else if (i == 1) {
			CU_ASSERT_NOT_EQUAL(memcmp(tag0, h->auth, 16), 0); /* same content */
		}
		if (i >= 1 && i <= 8) { /* kept back: delivered late, out of order */
			memcpy(kept[i - 1], rte_pktmbuf_mtod(m, void *), flen);
		} else if (i > 8) {
			CU_ASSERT_EQUAL(open_frame(m, &cl, &f, buf), MIGDP_DROP_NONE);
		}
		if (i == 20) { /* within the window: each late one once */
			for (unsigned k = 8; k-- > 0;) {
				memcpy(buf, kept[k], flen);
				CU_ASSERT_EQUAL(migdp_wire_parse(buf, flen, &cl, 0, &f),
						MIGDP_DROP_NONE);
				memcpy(buf, kept[k], flen);
				CU_ASSERT_EQUAL(migdp_wire_parse(buf, flen, &cl, 0, &f),
						MIGDP_DROP_REPLAY);
			}
		}
		rte_pktmbuf_free(m);
	}
	/* Counter 0, never seen, is now older than the window. */
	memcpy(buf, first, flen);
	CU_ASSERT_EQUAL(migdp_wire_parse(buf, flen, &cl, 0, &f), MIGDP_DROP_REPLAY);
	CU_ASSERT_EQUAL(failed, 0);
	/* A jump of more than a window (frames lost): everything before the
	 * new newest's window is refused, what is inside it taken once. */
	{
		static uint8_t jump[3][256];
		unsigned k;

		for (k = 0; k < 2 * MIGDP_REPLAY_WINDOW + 2; k++) {
			struct rte_mbuf *m = commit_frame();

			CU_ASSERT_FATAL(migdp_sec_seal(tx, 0, &m, 1, &failed) == 1);
			if (k == 0 || k == MIGDP_REPLAY_WINDOW + 3 || k == 2 * MIGDP_REPLAY_WINDOW + 1)
				memcpy(jump[k == 0 ? 0 : k == MIGDP_REPLAY_WINDOW + 3 ? 1 : 2],
				       rte_pktmbuf_mtod(m, void *), flen);
			rte_pktmbuf_free(m);
		}
		memcpy(buf, jump[2], flen);
		CU_ASSERT_EQUAL(migdp_wire_parse(buf, flen, &cl, 0, &f), MIGDP_DROP_NONE);
		memcpy(buf, jump[1], flen); /* 4094 behind: inside */
		CU_ASSERT_EQUAL(migdp_wire_parse(buf, flen, &cl, 0, &f), MIGDP_DROP_NONE);
		memcpy(buf, jump[1], flen);
		CU_ASSERT_EQUAL(migdp_wire_parse(buf, flen, &cl, 0, &f), MIGDP_DROP_REPLAY);
		memcpy(buf, jump[0], flen); /* never seen, far behind */
		CU_ASSERT_EQUAL(migdp_wire_parse(buf, flen, &cl, 0, &f), MIGDP_DROP_REPLAY);
	}
	migdp_sec_free(tx);
	migdp_sec_free(rx);
}

/* Handshake MACs: the key, the frame and the nonce it is bound to. */
static void
test_handshake_mac(void)
{
	struct migdp_psk k = {.len = 32}, other = {.len = 32};
	struct migdp_msg msg = {.type = MIGDP_T_ACCEPT};
	static uint8_t frame[2048];
	uint8_t nonce[16] = {9}, nonce2[16] = {10};
	struct migdp_local any = {.ip = DST_IP, .port = 47000};
	struct migdp_frame f;
	int len;

	memset(k.key, 1, 32);
	memset(other.key, 2, 32);
	msg.u.accept = (struct migdp_accept){4, 2, 4096, 2048, 9000, MIGDP_SEC_AUTH, {3}};
	len = migdp_wire_build_msg(frame, sizeof(frame), flow(0xffff), &msg);
	CU_ASSERT_FATAL(len > 0);
	migdp_hs_seal(&k, frame, nonce);
	/* The frame check is made over the MAC: still a valid frame. */
	CU_ASSERT_EQUAL_FATAL(migdp_wire_parse(frame, (uint32_t)len, &any, 0, &f), MIGDP_DROP_NONE);
	CU_ASSERT_EQUAL(f.msg.u.accept.sec_flags, MIGDP_SEC_AUTH);
	CU_ASSERT_EQUAL(f.msg.u.accept.nonce[0], 3);
	CU_ASSERT(migdp_hs_verify(&k, &f, nonce));
	CU_ASSERT(!migdp_hs_verify(&other, &f, nonce));
	CU_ASSERT(!migdp_hs_verify(&k, &f, nonce2));
	CU_ASSERT(!migdp_hs_verify(&k, &f, NULL));
	CU_ASSERT(!migdp_hs_verify(&(struct migdp_psk){0}, &f, nonce));
	frame[MIGDP_L2_HDRS_LEN + 16] ^= 1; /* sec_flags: then the check again */
	{
		struct migdp_hdr *h = (struct migdp_hdr *)(frame + MIGDP_HDR_OFF);

		h->check = rte_cpu_to_be_32(migdp_frame_check(h, h + 1,
							      rte_be_to_cpu_16(h->payload_len)));
	}
	CU_ASSERT_EQUAL_FATAL(migdp_wire_parse(frame, (uint32_t)len, &any, 0, &f), MIGDP_DROP_NONE);
	CU_ASSERT(!migdp_hs_verify(&k, &f, nonce));
}

int
main(void)
{
	char prefix[64];
	char *argv[] = {"test_sec", "--no-huge", "--no-pci", "-m", "256", "--file-prefix",
			prefix, "-l", "0", "--log-level", "1"};
	static const struct cu_test tests[] = {
		{"key_file", test_key_file},
		{"derive", test_derive},
		{"handshake_mac", test_handshake_mac},
		{"seal_open_gmac", test_seal_open_gmac},
		{"seal_open_gcm", test_seal_open_gcm},
		{"counters_window", test_counters_window},
		{NULL, NULL},
	};
	int rc;

	snprintf(prefix, sizeof(prefix), "test-sec%d", getpid());
	snprintf(dir, sizeof(dir), "/tmp/test-sec.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	if (rte_eal_init((int)RTE_DIM(argv), argv) < 0)
		cu_skip("EAL does not start here (--no-huge)");
	pool = rte_pktmbuf_pool_create("test_sec", 256, 0, 0, 10240, 0);
	if (pool == NULL || migdp_sec_dev_init(2, 0) < 0)
		cu_skip("no crypto_aesni_gcm device (librte-crypto-ipsec-mb23)");
	if (cu_add_suite("sec", NULL, NULL, tests) < 0)
		return 1;
	rc = cu_run();
	migdp_sec_dev_fini();
	rte_eal_cleanup();
	return rc;
}
