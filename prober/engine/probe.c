/*
 * probe.c - one attempt on the wire: the socket, the events, the clock and
 * the random values around the protocol in probe_sm.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/evtime.h"
#include "core/random.h"
#include "engine/probe.h"

/* Datagrams read per readable socket: a flood cannot monopolise the loop. */
#define PROBE_READ_BURST 64
/* Readable sockets handled per turn of the loop before timers get theirs. */
#define PROBE_IO_BATCH 256

/*
 * The probes' sockets sit in an epoll set of their own, which the event
 * loop watches as one descriptor. A probe's socket is added once and
 * leaves the set when it is closed (never duplicated: probe.h), so a
 * probe costs one epoll_ctl and no libevent I/O event: a check of many
 * targets spent a fifth of its user time in libevent's add and delete.
 */
struct probe_io {
	struct event_base *base; /* not owned */
	int epfd;                /* the probes' epoll set */
	struct event ev;         /* epfd readable */
};

static void probe_tick_cb(evutil_socket_t fd, short what, void *arg);
static void probe_readable(struct probe *p);

static void probe_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct epoll_event evs[PROBE_IO_BATCH];
	int n;

	(void)what;
	(void)arg;
	/*
	 * Level-triggered: what is left for the next turn is reported again.
	 * A probe may end in the batch (finish() closes its socket), but no
	 * probe is started, cancelled or freed in it: its owner's code runs
	 * only from the probe's timer event, after the batch. So every
	 * pointer in it stays valid.
	 */
	n = epoll_wait(fd, evs, PROBE_IO_BATCH, 0);
	for (int i = 0; i < n; i++)
		probe_readable(evs[i].data.ptr);
}

struct probe_io *probe_io_new(struct event_base *base)
{
	struct probe_io *io = calloc(1, sizeof(*io));

	if (io == NULL)
		return NULL;
	io->base = base;
	io->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (io->epfd < 0) {
		int e = errno;
		free(io);
		errno = e;
		return NULL;
	}
	event_assign(&io->ev, base, io->epfd, EV_READ | EV_PERSIST,
		     probe_io_cb, io);
	if (event_add(&io->ev, NULL) < 0) {
		close(io->epfd);
		free(io);
		errno = ENOMEM;
		return NULL;
	}
	return io;
}

void probe_io_free(struct probe_io *io)
{
	if (io == NULL)
		return;
	event_del(&io->ev);
	close(io->epfd);
	free(io);
}

/* A dotted quad without printf: a check formats two per probe. */
static bool ipv4_str(const struct in_addr *in, char *buf, size_t len)
{
	const uint8_t *o = (const uint8_t *)&in->s_addr;
	char t[INET_ADDRSTRLEN];
	size_t n = 0;

	for (int i = 0; i < 4; i++) {
		unsigned v = o[i];
		if (i > 0)
			t[n++] = '.';
		if (v >= 100)
			t[n++] = (char)('0' + v / 100);
		if (v >= 10)
			t[n++] = (char)('0' + v / 10 % 10);
		t[n++] = (char)('0' + v % 10);
	}
	if (n >= len)
		return false;
	memcpy(buf, t, n);
	buf[n] = '\0';
	return true;
}

const char *probe_addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	const void *a;

	if (sa->sa_family == AF_INET &&
	    ipv4_str(&((const struct sockaddr_in *)sa)->sin_addr, buf, len))
		return buf;
	if (sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	else
		a = NULL;
	if (a == NULL || inet_ntop(sa->sa_family, a, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
	return buf;
}

static int start_failed(struct probe *p, const char *what)
{
	int e = errno;

	snprintf(p->result.detail, sizeof(p->result.detail), "%s: %s", what,
		 strerror(e));
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	probe_sm_cancel(&p->sm);
	errno = e;
	return -1;
}

/* The attempt is over: release the socket, hand over from a fresh turn. */
static void finish(struct probe *p)
{
	/*
	 * The callback may free the probe, and we are usually deep inside the
	 * read handler: hand over from a fresh loop turn instead, where
	 * nothing touches the probe after the callback returns.
	 */
	evtimer_del(&p->ev_tick);
	close(p->fd); /* also leaves the epoll set */
	p->fd = -1;
	p->finished = true;
	event_active(&p->ev_tick, EV_TIMEOUT, 1);
}

/*
 * Send what the state machine asks for: one datagram, since it paces its
 * packets one slot apart (probe_sm.h), so a plain send() is all it takes.
 */
static uint64_t transmit(struct probe *p, struct probe_sm_out *out)
{
	const uint8_t *pkt;
	size_t len;
	unsigned done = 0;
	int err = 0;

	/* The state machine's buffer, not a copy: send only reads it. */
	if (out->send_primary)
		pkt = probe_sm_primary(&p->sm, &len);
	else
		pkt = probe_sm_plain(&p->sm, &len);
	for (;;) {
		ssize_t rc = send(p->fd, pkt, len, 0);
		if (rc >= 0) {
			done = 1;
			break;
		}
		if (errno != EINTR) {
			err = errno;
			break;
		}
	}
	uint64_t now = evtime_mono_ns();
	probe_sm_sent(&p->sm, done, err, now, out);
	return now;
}

/* Carry out what the state machine said after an input. */
static void apply(struct probe *p, struct probe_sm_out *out, uint64_t now)
{
	if (out->send_primary || out->send_plain)
		now = transmit(p, out);
	if (out->done) {
		finish(p);
		return;
	}
	if (out->wake_ns == p->armed_ns)
		return; /* the timer already fires then */
	uint64_t d = out->wake_ns > now ? out->wake_ns - now : 0;
	struct timeval tv = {
		.tv_sec = (time_t)(d / 1000000000u),
		.tv_usec = (suseconds_t)((d % 1000000000u + 999) / 1000),
	};
	if (tv.tv_usec >= 1000000) {
		tv.tv_sec++;
		tv.tv_usec -= 1000000;
	}
	evtimer_add(&p->ev_tick, &tv);
	p->armed_ns = out->wake_ns;
}

static void probe_readable(struct probe *p)
{
	struct probe_sm_out out;
	uint8_t buf[PROBE_RECV_MAX];

	for (int i = 0; i < PROBE_READ_BURST && !p->finished; i++) {
		ssize_t n = recv(p->fd, buf, sizeof(buf), MSG_TRUNC);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR)
				return;
			uint64_t now = evtime_mono_ns();
			probe_sm_net_error(&p->sm, errno, now, &out);
			apply(p, &out, now);
			return;
		}
		uint64_t now = evtime_mono_ns();
		probe_sm_datagram(&p->sm, buf, (size_t)n, now, &out);
		apply(p, &out, now);
	}
}

static void probe_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	struct probe_sm_out out;

	(void)fd;
	(void)what;
	if (p->finished) {
		p->running = false;
		if (p->done != NULL)
			p->done(p, p->done_arg); /* may free p: nothing after it */
		return;
	}
	p->armed_ns = 0;
	uint64_t now = evtime_mono_ns();
	probe_sm_tick(&p->sm, now, &out);
	apply(p, &out, now);
}

/* Connect the socket and note the source address. */
static int open_socket(struct probe *p)
{
	const struct probe_request *req = &p->req;

	p->fd = socket(req->dst.ss_family,
		       SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
	if (p->fd < 0)
		return start_failed(p, "socket");
	if (req->srclen > 0 &&
	    bind(p->fd, (const struct sockaddr *)&req->src, req->srclen) < 0)
		return start_failed(p, "bind to source address");
	if (connect(p->fd, (const struct sockaddr *)&req->dst, req->dstlen) < 0)
		return start_failed(p, "connect");

	if (req->srclen > 0) {
		/* Bound: the source is known without asking the kernel. */
		probe_addr_str((const struct sockaddr *)&req->src,
			       p->result.source, sizeof(p->result.source));
	} else {
		struct sockaddr_storage local;
		socklen_t llen = sizeof(local);
		if (getsockname(p->fd, (struct sockaddr *)&local, &llen) == 0)
			probe_addr_str((struct sockaddr *)&local,
				       p->result.source,
				       sizeof(p->result.source));
	}
	return 0;
}

int probe_start(struct probe *p, struct probe_io *io,
		const struct probe_request *req, probe_done_fn done, void *arg)
{
	struct probe_sm_random rnd;
	struct probe_sm_out out;
	uint8_t octets[sizeof(rnd.sequence) + 2 * sizeof(rnd.xmt)];

	p->io = io;
	p->req = *req;
	p->done = done;
	p->done_arg = arg;
	p->fd = -1;
	p->running = false;
	p->finished = false;
	p->armed_ns = 0;

	/* One draw for all three: the keyed timestamp is unused for setvar. */
	if (random_bytes(octets, sizeof(octets)) < 0) {
		int e = errno;
		memset(&p->result, 0, sizeof(p->result));
		p->sm.reasm = NULL;
		memset(&p->sm.key, 0, sizeof(p->sm.key));
		errno = e;
		return start_failed(p, "getrandom");
	}
	memcpy(&rnd.sequence, octets, sizeof(rnd.sequence));
	memcpy(&rnd.xmt, octets + sizeof(rnd.sequence), sizeof(rnd.xmt));
	memcpy(&rnd.xmt_auth, octets + sizeof(rnd.sequence) + sizeof(rnd.xmt),
	       sizeof(rnd.xmt_auth));
	const char *bad = probe_sm_init(&p->sm, &p->req, &rnd, &p->result);
	if (bad != NULL) {
		errno = EINVAL;
		return start_failed(p, bad);
	}
	p->req.variable = p->sm.variable;
	p->req.refid_code = p->sm.refid_code;
	if (req->method == PROBE_KEY)
		p->req.key = &p->sm.key;

	if (open_socket(p) < 0)
		return -1;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = p };
	if (epoll_ctl(io->epfd, EPOLL_CTL_ADD, p->fd, &ev) < 0)
		return start_failed(p, "epoll_ctl");
	evtimer_assign(&p->ev_tick, io->base, probe_tick_cb, p);
	p->running = true;

	uint64_t now = evtime_mono_ns();
	probe_sm_start(&p->sm, now, &out);
	apply(p, &out, now);
	return 0;
}

void probe_cancel(struct probe *p)
{
	if (!p->running)
		return;
	evtimer_del(&p->ev_tick);
	if (p->fd >= 0)
		close(p->fd); /* also leaves the epoll set */
	p->fd = -1;
	probe_sm_cancel(&p->sm);
	p->running = false;
}
