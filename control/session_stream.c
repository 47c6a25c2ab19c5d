/* SPDX-License-Identifier: BSD-3-Clause */
/* Stream sessions (docs/qemu.md), both roles: a hypervisor's own migration
 * (QEMU's `migrate unix:PATH`, its main stream and each multifd channel a
 * connection) carried over the channels. The source listens on PATH and
 * gives the k-th connection it accepts to channel k; the destination
 * connects to the hypervisor's incoming socket for channel k once the
 * source's stream k came, in channel order (QEMU 7.2 takes the first
 * connection it accepts for its main stream). The session completes once
 * every connection closed both ways with every byte acknowledged; a
 * connection that fails (or the peer's) fails it, and ending closes every
 * connection, so each hypervisor sees an end or an error, never a hang. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "session.h"

/* Every connection closed: the session stays this long to acknowledge the
 * peer's last frames again if our ACK was lost (TCP's TIME_WAIT). */
#define CLOSE_LINGER_NS 300000000ull
/* How long the destination tries the hypervisor's incoming socket before
 * it fails the session ("no such file", "connection refused"). */
#define CONNECT_WAIT_NS 10000000000ull

static int
unix_addr(const char *path, struct sockaddr_un *a)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(a->sun_path))
		return -1;
	memcpy(a->sun_path, path, strlen(path));
	return 0;
}

int
migdp_sess_stream_setup(struct migdp_session *s, const char *name, const char *path,
			char *err, size_t errlen)
{
	struct sockaddr_un a;
	struct stat st;
	int fd;

	s->stream = true;
	snprintf(s->vm, sizeof(s->vm), "%s", name);
	if (unix_addr(path, &a) < 0) {
		snprintf(err, errlen, "socket path longer than %zu bytes", sizeof(a.sun_path) - 1);
		return -1;
	}
	snprintf(s->stream_path, sizeof(s->stream_path), "%s", path);
	if (!s->source)
		return 0; /* connected once the streams come */
	/* A socket left by an earlier run (nobody listens) is replaced; a
	 * live one, or anything else, is not ours. */
	if (lstat(path, &st) == 0) {
		int probe = S_ISSOCK(st.st_mode) ?
			socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) : -1;
		bool live = probe >= 0 && (connect(probe, (struct sockaddr *)&a, sizeof(a)) == 0 ||
					   errno == EAGAIN);

		if (probe >= 0)
			close(probe);
		if (!S_ISSOCK(st.st_mode) || live) {
			snprintf(err, errlen, "'%s' exists and is %s", s->stream_path,
				 live ? "a socket in use" : "not a socket");
			return -1;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		snprintf(err, errlen, "cannot listen on '%s': %s", s->stream_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (chmod(path, 0600) < 0 || listen(fd, MIGDP_MAX_CHANNELS) < 0 || lstat(path, &st) < 0) {
		snprintf(err, errlen, "cannot listen on '%s': %s", s->stream_path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	s->listen_fd = fd;
	s->listen_dev = st.st_dev;
	s->listen_ino = st.st_ino;
	MIGDP_LOG(INFO, "stream session %s: listening on %s (%u channels)", name, path,
		  s->ctx->nch);
	return 0;
}

void
migdp_sess_stream_close(struct migdp_session *s)
{
	unsigned i;

	for (i = 0; i < MIGDP_MAX_CHANNELS; i++) {
		if (s->conn_fd[i] >= 0)
			close(s->conn_fd[i]); /* the hypervisor sees the end */
		s->conn_fd[i] = -1;
		if (i < s->ctx->nch && s->ctx->chans[i]->sc != NULL)
			atomic_store(&s->ctx->chans[i]->sc->fd, -1);
	}
	if (s->listen_fd >= 0) {
		struct stat st;

		close(s->listen_fd);
		/* Ours still (nobody bound the path since): removed. */
		if (lstat(s->stream_path, &st) == 0 && st.st_dev == s->listen_dev &&
		    st.st_ino == s->listen_ino)
			unlink(s->stream_path);
		s->listen_fd = -1;
	}
}

/* Channel @p k takes connection @p fd. */
static void
give(struct migdp_session *s, unsigned k, int fd)
{
	s->conn_fd[k] = fd;
	s->nconn = k + 1;
	atomic_store_explicit(&s->ctx->chans[k]->sc->fd, fd, memory_order_release);
	MIGDP_LOG(INFO, "stream session %s: connection %u on channel %u", s->vm, k, k);
}

/* Source: the hypervisor's connections, channel by channel. */
static void
accept_all(struct migdp_session *s)
{
	int fd;

	while ((fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (s->nconn >= s->ctx->nch) {
			close(fd);
			migdp_sess_fail(s, "the hypervisor opened connection %u; this migdp has %u "
					"channels (QEMU: one connection, and one per multifd channel)",
					s->nconn + 1, s->ctx->nch);
			return;
		}
		give(s, s->nconn, fd);
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		migdp_sess_fail(s, "cannot accept on '%s': %s", s->stream_path, strerror(errno));
}

/* Destination: connect channel k's stream once it came, in order. */
static void
connect_all(struct migdp_session *s, uint64_t now)
{
	struct sockaddr_un a;
	unsigned k = s->nconn;
	int fd;

	if (k >= s->ctx->nch || !atomic_load(&s->ctx->chans[k]->sc->peer_opened))
		return;
	unix_addr(s->stream_path, &a);
	/* Non-blocking: a full backlog is EAGAIN (tried again next step),
	 * never a control lcore stuck in connect(). */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		if (e == EAGAIN || e == EINTR) /* its backlog is full: next step */
			return;
		/* Not listening yet (migrate-incoming may come a little after
		 * the source's first bytes): tried again for a while. */
		if ((e == ENOENT || e == ECONNREFUSED) &&
		    (s->connect_since_ns == 0 || now - s->connect_since_ns < CONNECT_WAIT_NS)) {
			if (s->connect_since_ns == 0)
				s->connect_since_ns = now;
			return;
		}
		migdp_sess_fail(s, "cannot connect to the hypervisor's incoming socket '%s': %s",
				s->stream_path, strerror(e));
		return;
	}
	s->connect_since_ns = 0;
	give(s, k, fd);
}

void
migdp_sess_stream_accepted(struct migdp_session *s)
{
	uint64_t now = migdp_now_ns();

	atomic_store(&s->ctx->last_heard_ns, now);
	s->t_data = s->moved_ns = now;
	if (migdp_sess_launch(s) < 0)
		return;
	migdp_sess_event(s, MIGDP_EV_STREAM_ACCEPTED, "the destination accepted");
}

void
migdp_sess_stream_step(struct migdp_session *s, uint64_t now)
{
	unsigned k, closed = 0;

	if (migdp_sess_peer_dead(s, now)) {
		migdp_sess_fail(s, "peer silent for more than peer_timeout_ms");
		return;
	}
	migdp_sess_keepalive(s, now);
	migdp_sess_rate_sample(s, now);
	if (s->source)
		accept_all(s);
	else
		connect_all(s, now);
	for (k = 0; k < s->nconn && !migdp_fsm_terminal(&s->fsm); k++) {
		struct migdp_stream *st = s->ctx->chans[k]->sc;
		unsigned ends = atomic_load(&st->ends);

		if ((ends & MIGDP_STREAM_LOCAL_ERR) && atomic_load(&st->err) == EPROTO)
			migdp_sess_fail(s, "channel %u: the peer's stream is not in order", k);
		else if (ends & MIGDP_STREAM_LOCAL_ERR)
			migdp_sess_fail(s, "channel %u: the hypervisor's connection failed: %s", k,
					strerror(atomic_load(&st->err)));
		else if (ends & MIGDP_STREAM_PEER_RST)
			migdp_sess_fail(s, "channel %u: the peer's hypervisor connection failed", k);
		closed += atomic_load(&s->ctx->chans[k]->state) == MIGDP_CHAN_DONE;
	}
	if (migdp_fsm_terminal(&s->fsm))
		return;
	if (s->nconn == 0 || closed < s->nconn) {
		s->closed_ns = 0;
		return;
	}
	if (s->closed_ns == 0) {
		s->closed_ns = now;
		s->rep.transfer_ns = now - s->t_data;
	}
	/* Linger a few retransmission timeouts of the slowest channel: a
	 * peer whose last ACK from us was lost resends by then. */
	uint64_t linger = CLOSE_LINGER_NS;

	for (k = 0; k < s->ctx->nch; k++)
		linger = RTE_MAX(linger, 3 * migdp_tx_rto(s->ctx->chans[k]->tx));
	if (now - s->closed_ns >= linger) {
		s->rep.total_ns = now - s->start_ns;
		migdp_sess_event(s, MIGDP_EV_STREAMS_CLOSED, "every connection closed both ways");
	}
}

json_t *
migdp_sess_stream_status(const struct migdp_session *s)
{
	json_t *a = json_array();
	uint64_t in = 0, out = 0;
	unsigned k;

	for (k = 0; k < s->ctx->nch; k++) {
		const struct migdp_stream *st = s->ctx->chans[k]->sc;
		unsigned ends = atomic_load(&st->ends);
		uint64_t r = atomic_load(&st->bytes_read), w = atomic_load(&st->bytes_written);
		const char *state = k >= s->nconn ? "idle" :
			(ends & (MIGDP_STREAM_LOCAL_ERR | MIGDP_STREAM_PEER_RST)) ? "failed" :
			(ends & MIGDP_STREAM_CLOSED) == MIGDP_STREAM_CLOSED ? "closed" :
			ends != 0 ? "closing" : "open";

		in += r;
		out += w;
		json_array_append_new(a, json_pack("{s:i, s:s, s:I, s:I, s:I, s:I, s:I, s:I}",
			"channel", (int)k, "state", state,
			"bytes_sent", (json_int_t)r, "bytes_received", (json_int_t)w,
			"zstd_frames", (json_int_t)atomic_load(&st->zstd_frames),
			"zstd_plain", (json_int_t)atomic_load(&st->zstd_plain),
			"zstd_bytes", (json_int_t)atomic_load(&st->zstd_bytes),
			"zstd_misses", (json_int_t)atomic_load(&st->zstd_misses)));
	}
	return json_pack("{s:s, s:i, s:I, s:I, s:o}", "socket", s->stream_path,
			 "connections", (int)s->nconn, "bytes_sent", (json_int_t)in,
			 "bytes_received", (json_int_t)out, "channels", a);
}
