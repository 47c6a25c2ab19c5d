/* SPDX-License-Identifier: BSD-3-Clause */
/* A session's side of sec.h: its key, the handshake MACs checked on the
 * control lcore, and the session keys put in place once both sides
 * proved they hold the key. */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "session.h"

/* HELLO nonces of sessions this process accepted: a HELLO recorded from
 * one of them and replayed is refused (another process, or one started
 * later, answers it with an ACCEPT whose keys the replayer cannot use). */
#define SEEN_NONCES 64
static uint8_t seen[SEEN_NONCES][MIGDP_NONCE_LEN];
static unsigned nseen;

static bool
nonce_seen(const uint8_t *n)
{
	unsigned i;

	for (i = 0; i < RTE_MIN(nseen, (unsigned)SEEN_NONCES); i++)
		if (memcmp(seen[i], n, MIGDP_NONCE_LEN) == 0)
			return true;
	return false;
}

int
migdp_sess_sec_setup(struct migdp_ctx *ctx, const char *key_file, bool encrypt,
		     char *err, size_t errlen)
{
	unsigned i;

	memset(&ctx->psk, 0, sizeof(ctx->psk));
	ctx->encrypt = false;
	if (migdp_sec_random(ctx->nonce_s, sizeof(ctx->nonce_s)) != 0) {
		snprintf(err, errlen, "no random bytes for the handshake");
		return -1;
	}
	if (key_file == NULL || key_file[0] == '\0') {
		if (encrypt) {
			snprintf(err, errlen, "encryption needs a key ([security] key_file "
				 "or key-file)");
			return -1;
		}
		return 0;
	}
	if (migdp_psk_load(key_file, &ctx->psk, err, errlen) < 0)
		return -1;
	if (migdp_sec_dev_name() == NULL) {
		memset(&ctx->psk, 0, sizeof(ctx->psk));
		snprintf(err, errlen, "authenticated migration: no crypto device "
			 "(crypto_aesni_gcm, see the log at start)");
		return -1;
	}
	ctx->encrypt = encrypt;
	/* Until the keys are agreed only handshake frames pass. */
	ctx->ctl_loc.auth_required = true;
	for (i = 0; i < ctx->nch; i++)
		ctx->chans[i]->loc.auth_required = true;
	return 0;
}

bool
migdp_sess_authenticated(const struct migdp_session *s)
{
	return s->ctx->psk.len != 0;
}

/* The session keys from both nonces: the channels and the control flow
 * seal and open with them from now on. */
int
migdp_sess_sec_start(struct migdp_session *s, uint8_t flags)
{
	struct migdp_ctx *ctx = s->ctx;
	struct migdp_sec_keys keys;
	struct migdp_sec *sec;
	bool enc = flags & MIGDP_SEC_ENCRYPT;
	unsigned i;

	if (migdp_sec_derive(&ctx->psk, ctx->nonce_s, ctx->nonce_d, ctx->ctl_flow.session,
			     &keys) != 0 ||
	    (sec = migdp_sec_create(&keys, s->source, enc, ctx->port.pool)) == NULL) {
		memset(&keys, 0, sizeof(keys));
		migdp_sess_fail(s, "cannot set up the session keys");
		return -1;
	}
	memset(&keys, 0, sizeof(keys));
	ctx->sec = sec;
	ctx->ctl_loc.sec = sec;
	ctx->ctl_loc.sec_class = MIGDP_SEC_CLASS_CONTROL;
	for (i = 0; i < ctx->nch; i++) {
		ctx->chans[i]->loc.sec = sec;
		ctx->chans[i]->loc.sec_class = MIGDP_SEC_CLASS_CHANNEL;
	}
	s->sec_flags = flags;
	MIGDP_LOG(INFO, "session %s: authenticated (%s, AES-256-GCM, %s)", s->vm,
		  enc ? "payload encrypted" : "payload in clear, GMAC",
		  migdp_sec_dev_name());
	return 0;
}

void
migdp_sess_sec_committed(struct migdp_session *s)
{
	memcpy(seen[nseen % SEEN_NONCES], s->ctx->nonce_s, MIGDP_NONCE_LEN);
	nseen++;
}

void
migdp_sess_sec_stop(struct migdp_session *s)
{
	struct migdp_ctx *ctx = s->ctx;
	unsigned i;

	if (ctx->sec == NULL)
		return;
	ctx->ctl_loc.sec = NULL;
	for (i = 0; i < ctx->nch; i++)
		ctx->chans[i]->loc.sec = NULL;
	migdp_sec_free(ctx->sec);
	ctx->sec = NULL;
}

/* Unauthenticated REJECT to a HELLO we refuse for its MAC: the source
 * learns why, but cannot trust it (nor can it be made to stop by it). */
static void
refuse(struct migdp_session *s, const struct migdp_frame *f, enum migdp_reason r,
       const char *why)
{
	struct migdp_flow fl = s->ctx->ctl_flow;
	struct migdp_msg m = {.type = MIGDP_T_REJECT, .tstamp = migdp_tstamp(migdp_now_ns()),
			      .version = f->msg.version}; /* in the HELLO's framing */
	uint64_t now = migdp_now_ns();

	s->auth_refusals++;
	snprintf(s->auth_note, sizeof(s->auth_note), "HELLO from %u.%u.%u.%u refused: %s",
		 f->src_ip >> 24, (f->src_ip >> 16) & 0xff, (f->src_ip >> 8) & 0xff,
		 f->src_ip & 0xff, why);
	if (now - s->refused_ns < 100000000ull)
		return;
	s->refused_ns = now;
	MIGDP_LOG(WARNING, "session %s: %s", s->vm, s->auth_note);
	fl.session = f->session;
	rte_ether_addr_copy(&f->src_mac, &fl.dst_mac);
	m.u.reason.reason = (uint16_t)r;
	snprintf(m.u.reason.text, sizeof(m.u.reason.text), "%.*s",
		 (int)sizeof(m.u.reason.text) - 1, why);
	migdp_send_msg_unsigned(s->ctx, 0, &fl, &m, &s->ftx, &s->st);
}

bool
migdp_sess_hs_check(struct migdp_session *s, const struct migdp_frame *f)
{
	struct migdp_ctx *ctx = s->ctx;
	const uint8_t *bind = f->msg.type == MIGDP_T_HELLO ? NULL : ctx->nonce_s;

	if (ctx->psk.len == 0)
		return true; /* a plain session (check_hello refuses a keyed source) */
	if (f->msg.type == MIGDP_T_HELLO && !s->source) {
		const struct migdp_hello *h = &f->msg.u.hello;

		if (f->msg.version != MIGDP_WIRE_VERSION) {
			/* Told why, never taken: an old HELLO cannot be
			 * authentic, so it must not end the wait either. */
			char why[MIGDP_REASON_TEXT_LEN];

			snprintf(why, sizeof(why), "source speaks wire version %u, this migdp %u",
				 f->msg.version, MIGDP_WIRE_VERSION);
			s->st.drops[MIGDP_DROP_BAD_AUTH]++;
			refuse(s, f, MIGDP_R_VERSION, why);
			return false;
		}
		if (!(h->sec_flags & MIGDP_SEC_AUTH)) {
			s->st.drops[MIGDP_DROP_BAD_AUTH]++;
			refuse(s, f, MIGDP_R_AUTH, "authentication required: the source has no key");
			return false;
		}
		if (!migdp_hs_verify(&ctx->psk, f, NULL)) {
			s->st.drops[MIGDP_DROP_BAD_AUTH]++;
			refuse(s, f, MIGDP_R_AUTH, "authentication failed: wrong key");
			return false;
		}
		if (nonce_seen(h->nonce) && f->session != ctx->ctl_loc.session) {
			s->st.drops[MIGDP_DROP_REPLAY]++;
			return false;
		}
		if (ctx->ctl_loc.session != 0 &&
		    memcmp(h->nonce, ctx->nonce_s, MIGDP_NONCE_LEN) != 0) {
			s->st.drops[MIGDP_DROP_REPLAY]++;
			return false;
		}
		memcpy(ctx->nonce_s, h->nonce, MIGDP_NONCE_LEN);
		return true;
	}
	if (!s->source || f->msg.type == MIGDP_T_HELLO) { /* not ours to get */
		s->st.drops[MIGDP_DROP_WRONG_DST]++;
		return false;
	}
	if (migdp_hs_verify(&ctx->psk, f, bind))
		return true;
	s->st.drops[MIGDP_DROP_BAD_AUTH]++;
	if (f->msg.type == MIGDP_T_REJECT) {
		s->auth_refusals++;
		snprintf(s->auth_note, sizeof(s->auth_note),
			 "the destination said, unauthenticated: %s", f->msg.u.reason.text);
	}
	return false;
}

json_t *
migdp_sess_sec_status(const struct migdp_session *s)
{
	const struct migdp_ctx *ctx = s->ctx;

	return json_pack("{s:b, s:b, s:s, s:s?, s:i, s:s?}",
			 "authenticated", ctx->psk.len != 0 && ctx->sec != NULL,
			 "encrypted", migdp_sec_encrypting(ctx->sec),
			 "cipher", ctx->psk.len == 0 ? "none" :
				   migdp_sec_encrypting(ctx->sec) || ctx->encrypt ?
				   "AES-256-GCM" : "AES-256-GMAC",
			 "device", ctx->psk.len != 0 ? migdp_sec_dev_name() : NULL,
			 "refused", (int)s->auth_refusals,
			 "note", s->auth_note[0] ? s->auth_note : NULL);
}
