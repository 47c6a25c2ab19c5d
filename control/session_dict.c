/* SPDX-License-Identifier: BSD-3-Clause */
/* The zstd dictionary of a session (DESIGN decision 6): trained on the
 * source's memory, sent piece by piece on the control flow (each piece
 * acknowledged) before any page that uses it. */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include <rte_malloc.h>

#include "log.h"
#include "session.h"

/* Every channel's codec uses @p d from now on: set directly while the
 * channels do not run (the source, before they start), else handed to
 * each channel lcore, which takes it before its next frames. */
static void
attach_dict(struct migdp_session *s, struct migdp_codec_dict *d)
{
	unsigned i;

	for (i = 0; i < s->ctx->nch; i++) {
		struct migdp_chan *c = s->ctx->chans[i];

		if (!s->launched) {
			migdp_codec_ctx_set_dict(c->codec, d);
			c->dict_in_use = d;
		}
		atomic_store_explicit(&c->dict_request, d, memory_order_release);
	}
}

/* Destination: a piece of the source's dictionary, in order; every piece
 * is acknowledged with the bytes held so far (stop and wait). */
void
migdp_sess_dict_input(struct migdp_session *s, const struct migdp_dict_msg *m)
{
	struct migdp_dict_state *k = &s->dict;
	struct migdp_msg ack = {.type = MIGDP_T_DICT};

	if (m->len == 0 || s->source)
		return;
	if (k->buf == NULL) {
		k->buf = rte_malloc(NULL, m->total, 0);
		k->total = m->total;
		k->id = m->dict_id;
		k->done = 0;
	}
	if (k->buf == NULL || m->total != k->total || m->dict_id != k->id) {
		s->st.drops[MIGDP_DROP_BAD_PAYLOAD]++;
		return;
	}
	if (m->offset == k->done && !k->ready) {
		memcpy(k->buf + m->offset, m->data, m->len);
		k->done += m->len;
		if (k->done == k->total) {
			k->dict = migdp_dict_load(k->buf, k->total);
			if (k->dict == NULL || migdp_dict_id(k->dict) != k->id) {
				MIGDP_LOG(ERR, "the source's dictionary is not valid");
				migdp_dict_free(k->dict);
				k->dict = NULL;
				k->done = 0;
				return;
			}
			attach_dict(s, k->dict);
			k->ready = true;
			MIGDP_LOG(INFO, "dictionary %08x of %u bytes received", k->id, k->total);
		}
	}
	ack.u.dict = (struct migdp_dict_msg){.dict_id = k->id, .total = k->total,
					     .offset = k->done};
	migdp_sess_send(s, &ack);
}

/* Source: train, prepare for the levels the codec may use, send (each
 * piece acknowledged), give it to the channels. Blocks for the transfer
 * (a few milliseconds), watching the peer. @return 0 or -1 (failed). */
int
migdp_sess_send_dict(struct migdp_session *s)
{
	static const int auto_levels[] = {-7, -5, -3, -1, 1, 3};
	const struct migdp_config *cfg = s->ctx->cfg;
	struct migdp_dict_state *k = &s->dict;
	struct iovec mem[MIGSHIM_MAX_REGIONS];
	struct migshim_region_info ri;
	struct migdp_msg m = {.type = MIGDP_T_DICT};
	uint64_t t0 = migdp_now_ns(), sent = 0, deadline, now;
	struct migdp_idle idle = {0};
	const uint8_t *data;
	unsigned i, n = 0;
	size_t len;

	for (i = 0; migshim_session_region(s->ctx->shim, i, &ri) == 0; i++)
		if (!(ri.flags & MIGSHIM_REGION_DEVICE_STATE))
			mem[n++] = (struct iovec){ri.hva, ri.size};
	k->dict = migdp_dict_train(mem, n, NULL);
	if (k->dict == NULL) {
		MIGDP_LOG(WARNING, "no dictionary (%s): compressing without", strerror(errno));
		return 0;
	}
	if (cfg->codec.method == MIGDP_CODEC_ZSTD)
		migdp_dict_prepare(k->dict, cfg->codec.level);
	else
		for (i = 0; i < RTE_DIM(auto_levels); i++)
			migdp_dict_prepare(k->dict, auto_levels[i]);
	data = migdp_dict_data(k->dict, &len);
	m.u.dict.dict_id = migdp_dict_id(k->dict);
	m.u.dict.total = (uint32_t)len;
	k->done = 0;
	deadline = migdp_now_ns() + (uint64_t)cfg->peer_timeout_ms * 1000000u;
	while (k->done < len) {
		uint32_t acked = k->done;

		now = migdp_now_ns();
		if (s->got_abort || migdp_fsm_terminal(&s->fsm)) {
			migdp_sess_fail(s, "peer aborted while the dictionary was sent");
			return -1;
		}
		if (now > deadline) {
			migdp_sess_fail(s, "the destination did not take the dictionary");
			return -1;
		}
		if (now - sent > 50000000ull || m.u.dict.offset != acked) {
			/* Progress, not resends, keeps the destination alive. */
			if (m.u.dict.offset != acked || sent == 0)
				deadline = now + (uint64_t)cfg->peer_timeout_ms * 1000000u;
			m.u.dict.offset = acked;
			m.u.dict.len = (uint16_t)RTE_MIN((size_t)MIGDP_DICT_CHUNK, len - acked);
			memcpy(m.u.dict.data, data + acked, m.u.dict.len);
			migdp_sess_send(s, &m);
			sent = now;
		}
		migdp_idle(cfg, &idle, migdp_sess_poll(s) > 0);
	}
	attach_dict(s, k->dict);
	s->rep.dict_bytes = (uint32_t)len;
	s->rep.dict_ms = (double)(migdp_now_ns() - t0) / 1e6;
	MIGDP_LOG(INFO, "dictionary %08x of %zu bytes sent in %.1f ms",
		  m.u.dict.dict_id, len, s->rep.dict_ms);
	return 0;
}
