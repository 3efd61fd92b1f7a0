#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/evtime.h"
#include "core/random.h"
#include "ntpwire/m6.h"
#include "engine/probe.h"

/* Datagrams read per readable event: a flood cannot monopolise the loop. */
#define PROBE_READ_BURST 64
/* Larger than any valid reply; longer datagrams are rejected, not parsed. */
#define PROBE_RECV_MAX 2048

static void probe_tick_cb(evutil_socket_t fd, short what, void *arg);
static void probe_read_cb(evutil_socket_t fd, short what, void *arg);

static uint64_t elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	int64_t ms = (int64_t)(now.tv_sec - since->tv_sec) * 1000 +
		     (now.tv_nsec - since->tv_nsec) / 1000000;
	return ms < 0 ? 0 : (uint64_t)ms;
}

static double elapsed_ms_f(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - since->tv_sec) * 1e3 +
	       (double)(now.tv_nsec - since->tv_nsec) / 1e6;
}

const char *probe_addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	const void *a;

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
	errno = e;
	return -1;
}

/* The primary request (READVAR, or the keyed mode 3) has its answer. */
static bool m6_finished(const struct probe *p)
{
	if (p->req.method == PROBE_KEY)
		return p->obs.auth != AUTH_NONE;
	return p->obs.m6 == M6_STATE_DATA || p->obs.m6 == M6_STATE_ERROR ||
	       p->obs.m6 == M6_STATE_FATAL;
}

static void arm_tick(struct probe *p)
{
	uint64_t now = elapsed_ms(&p->started);
	uint64_t when = p->deadline_ms;

	if (p->grace_until_ms != 0 && p->grace_until_ms < when)
		when = p->grace_until_ms;
	if (p->next_send_ms != 0 && p->next_send_ms < when)
		when = p->next_send_ms;

	/* A local send error ends the probe on the next loop turn. */
	if (p->obs.net_errno != 0 && !m6_finished(p))
		when = now;

	evtime_add_ms(&p->ev_tick, when > now ? when - now : 0);
}

static void finish(struct probe *p)
{
	struct probe_verdict v;
	struct probe_result *r = &p->result;

	if (p->obs.m6 == M6_STATE_DATA) {
		p->obs.data = p->reasm ? p->reasm->data : p->single;
		p->obs.len = p->reply_len;
	}
	probe_classify(&p->obs, &v);

	r->outcome = v.outcome;
	snprintf(r->detail, sizeof(r->detail), "%s", v.detail);
	if (v.value != NULL) {
		size_t n = v.value_len < PROBE_VALUE_MAX ? v.value_len
							  : PROBE_VALUE_MAX;
		r->have_value = true;
		r->value_len = v.value_len;
		memcpy(r->value, v.value, n);
		r->value[n] = '\0';
	}
	r->ntp_answered = p->obs.ntp_answered;
	r->ntp_kind = p->obs.ntp_kind;

	/*
	 * The callback may free the probe, and we are usually deep inside the
	 * read handler: hand over from a fresh loop turn instead, where
	 * nothing touches the probe after the callback returns.
	 */
	event_del(&p->ev_read);
	evtimer_del(&p->ev_tick);
	close(p->fd);
	p->fd = -1;
	free(p->reasm); /* the result holds its own copy of the value */
	p->reasm = NULL;
	ntpauth_key_wipe(&p->key);
	p->finished = true;
	event_active(&p->ev_tick, EV_TIMEOUT, 1);
}

/* Ask the rate limit for one packet; false: hold it back. */
static bool gate_ok(struct probe *p)
{
	if (p->req.gate != NULL &&
	    !p->req.gate(p->req.gate_arg, (const struct sockaddr *)&p->req.dst)) {
		p->result.held++;
		return false;
	}
	return true;
}

/*
 * Send whatever is still unanswered and plan the next retransmit. Both
 * datagrams go out in one sendmmsg(): on a busy prober the system calls,
 * not the packets, are the cost.
 */
static void transmit(struct probe *p)
{
	struct mmsghdr msgs[2];
	struct iovec iov[2];
	bool is_m6[2];
	unsigned n = 0;

	memset(msgs, 0, sizeof(msgs));
	if (!m6_finished(p) && gate_ok(p)) {
		iov[n] = (struct iovec){ p->m6_pkt, p->m6_len };
		is_m6[n++] = true;
	}
	if (!p->obs.ntp_answered && gate_ok(p)) {
		iov[n] = (struct iovec){ p->m3_pkt, sizeof(p->m3_pkt) };
		is_m6[n++] = false;
	}
	for (unsigned i = 0; i < n; i++) {
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	unsigned done = 0;
	while (done < n) {
		int rc = sendmmsg(p->fd, msgs + done, n - done, 0);
		if (rc < 0) {
			/* An earlier ICMP error surfaces here as well as on recv. */
			if (errno == ECONNREFUSED || errno == EHOSTUNREACH ||
			    errno == ENETUNREACH || errno == EHOSTDOWN)
				p->obs.net_errno = errno;
			break;
		}
		for (int i = 0; i < rc; i++) {
			p->result.sent++;
			if (is_m6[done + (unsigned)i])
				clock_gettime(CLOCK_MONOTONIC, &p->last_m6_send);
		}
		done += (unsigned)rc;
	}

	uint64_t next = elapsed_ms(&p->started) + p->req.retransmit_ms;
	p->next_send_ms = next < p->deadline_ms ? next : 0;
}

static void reject(struct probe *p, const char *why)
{
	p->result.rejected++;
	p->obs.rejected++;
	if (p->obs.reject_reason == NULL)
		p->obs.reject_reason = why;
}

static void mode6_ended(struct probe *p)
{
	if (p->obs.ntp_answered) {
		finish(p);
		return;
	}
	/* Give the mode 3 reply a moment: it tells the operator more. */
	uint64_t grace = elapsed_ms(&p->started) + p->req.retransmit_ms;
	p->grace_until_ms = grace < p->deadline_ms ? grace : p->deadline_ms;
	p->next_send_ms = 0;
	evtimer_del(&p->ev_tick);
	arm_tick(p);
}

static void handle_m6(struct probe *p, const uint8_t *pkt, size_t len)
{
	const struct m6_expect expect = {
		.version = M6_VERSION_DEFAULT,
		.opcode = M6_OP_READVAR,
		.sequence = p->sequence,
		.associd = 0,
	};
	struct m6_header hdr;
	const uint8_t *data;
	enum m6_check check = m6_parse_reply(pkt, len, &expect, &hdr, &data);

	if (check == M6_BAD_SEQUENCE || check == M6_BAD_OFFSET) {
		/*
		 * Fatal rather than ignored. A wrong sequence number on this
		 * fresh socket is never an old reply: only a blind spoofer who
		 * found the port sends one, and ending the probe on it caps a
		 * guesser at 1 in 65,536 per probe whatever its packet rate
		 * (docs/security.md). Data past the reassembly bound can
		 * never complete, so waiting for more is pointless.
		 */
		const char *why = check == M6_BAD_SEQUENCE ? m6_check_name(check)
							   : "reply too long";
		reject(p, why);
		p->obs.m6 = M6_STATE_FATAL;
		p->obs.reject_reason = why;
		mode6_ended(p);
		return;
	}
	if (check != M6_OK) {
		reject(p, m6_check_name(check));
		return;
	}
	if (p->result.rtt_ms < 0)
		p->result.rtt_ms = elapsed_ms_f(&p->last_m6_send);

	if (hdr.error) {
		p->obs.m6 = M6_STATE_ERROR;
		p->obs.error_code = m6_error_code(&hdr);
		mode6_ended(p);
		return;
	}

	/*
	 * Nearly every reply is one datagram: keep it inline and skip the
	 * reassembly buffer. Anything else goes through full reassembly.
	 */
	if (p->reasm == NULL && hdr.offset == 0 && !hdr.more) {
		memcpy(p->single, data, hdr.count);
		p->reply_len = hdr.count;
		p->obs.m6 = M6_STATE_DATA;
		mode6_ended(p);
		return;
	}
	if (p->reasm == NULL) {
		p->reasm = malloc(sizeof(*p->reasm));
		if (p->reasm == NULL) {
			p->obs.m6 = M6_STATE_FATAL;
			p->obs.reject_reason = "out of memory";
			mode6_ended(p);
			return;
		}
		m6_reasm_init(p->reasm);
	}
	enum m6_reasm_status st = m6_reasm_add(p->reasm, &hdr, data);
	if (st == M6_REASM_DUPLICATE)
		return;
	if (m6_reasm_fatal(st)) {
		p->obs.m6 = M6_STATE_FATAL;
		p->obs.reject_reason = m6_reasm_status_name(st);
		mode6_ended(p);
		return;
	}
	if (st == M6_REASM_DONE && m6_reasm_complete(p->reasm, &p->reply_len)) {
		p->obs.m6 = M6_STATE_DATA;
		mode6_ended(p);
		return;
	}
	p->obs.m6 = M6_STATE_PARTIAL;
}

/* A reply whose origin is the keyed request's: check its MAC. */
static void handle_auth(struct probe *p, const uint8_t *pkt, size_t len,
			const struct ntp3_reply *reply)
{
	enum ntpauth_check c;

	/*
	 * A kiss is never authenticated: it speaks for the plain request too.
	 * (Stratum 0 with another code, e.g. chrony's empty refid while
	 * unsynchronised, is an ordinary reply.)
	 */
	if (ntp3_is_kiss(reply->kind) && reply->kind != NTP3_KISS_OTHER) {
		p->obs.ntp_answered = true;
		p->obs.ntp_kind = reply->kind;
		p->result.stratum = reply->stratum;
		ntp3_refid_str(reply, p->result.refid);
		return;
	}
	if (p->result.rtt_ms < 0)
		p->result.rtt_ms = elapsed_ms_f(&p->last_m6_send);
	c = ntpauth_verify_reply(pkt, len, &p->key);
	switch (c) {
	case NTPAUTH_OK:
		p->obs.auth = AUTH_OK;
		p->result.stratum = reply->stratum;
		ntp3_refid_str(reply, p->result.refid);
		break;
	case NTPAUTH_NO_MAC:
	case NTPAUTH_CRYPTO_NAK:
		p->obs.auth = AUTH_REFUSED;
		break;
	default:
		p->obs.auth = AUTH_BAD;
		break;
	}
	p->obs.auth_reason = ntpauth_check_name(c);
	mode6_ended(p);
}

static void handle_m4(struct probe *p, const uint8_t *pkt, size_t len)
{
	struct ntp3_reply reply;

	if (p->req.method == PROBE_KEY && !m6_finished(p) &&
	    ntp3_parse_reply(pkt, len, p->xmt_auth, &reply) == NTP3_OK) {
		handle_auth(p, pkt, len, &reply);
		return;
	}
	if (ntp3_parse_reply(pkt, len, p->xmt, &reply) != NTP3_OK) {
		/* Not an answer to us; it says nothing about mode 6. */
		p->result.rejected++;
		return;
	}
	if (p->obs.ntp_answered)
		return;
	p->obs.ntp_answered = true;
	p->obs.ntp_kind = reply.kind;
	p->result.stratum = reply.stratum;
	ntp3_refid_str(&reply, p->result.refid);
	if (m6_finished(p))
		finish(p);
}

static void probe_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	uint8_t buf[PROBE_RECV_MAX];

	(void)what;
	for (int i = 0; i < PROBE_READ_BURST && !p->finished; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_TRUNC);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR)
				return;
			if (errno == ECONNREFUSED || errno == EHOSTUNREACH ||
			    errno == ENETUNREACH || errno == EHOSTDOWN) {
				p->obs.net_errno = errno;
				if (!m6_finished(p))
					finish(p);
			}
			return;
		}
		p->result.received++;
		if ((size_t)n > sizeof(buf)) {
			reject(p, "oversized datagram");
			continue;
		}
		if (n >= 1 && (buf[0] & 0x07) == NTP3_MODE_SERVER)
			handle_m4(p, buf, (size_t)n);
		else if (!m6_finished(p))
			handle_m6(p, buf, (size_t)n);
	}
}

static void probe_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	uint64_t now = elapsed_ms(&p->started);

	(void)fd;
	(void)what;
	if (p->finished) {
		p->running = false;
		if (p->done != NULL)
			p->done(p, p->done_arg); /* may free p: nothing after it */
		return;
	}
	if ((p->obs.net_errno != 0 && !m6_finished(p)) ||
	    now >= p->deadline_ms ||
	    (p->grace_until_ms != 0 && now >= p->grace_until_ms)) {
		finish(p);
		return;
	}
	if (p->next_send_ms != 0 && now >= p->next_send_ms)
		transmit(p);
	arm_tick(p);
}

int probe_start(struct probe *p, struct event_base *base,
		const struct probe_request *req, probe_done_fn done, void *arg)
{
	const char *names[1] = { p->variable };
	int n;

	memset(&p->result, 0, sizeof(p->result));
	memset(&p->obs, 0, sizeof(p->obs));
	memset(&p->key, 0, sizeof(p->key));
	p->base = base;
	p->req = *req;
	snprintf(p->variable, sizeof(p->variable), "%s", req->variable);
	p->req.variable = p->variable;
	p->done = done;
	p->done_arg = arg;
	p->fd = -1;
	p->running = false;
	p->finished = false;
	p->grace_until_ms = 0;
	p->reply_len = 0;
	p->result.rtt_ms = -1;
	p->obs.variable = p->variable;
	p->obs.token = req->token;
	p->reasm = NULL;

	uint8_t rnd[sizeof(p->sequence) + sizeof(p->xmt)];
	if (random_bytes(rnd, sizeof(rnd)) < 0)
		return start_failed(p, "getrandom");
	memcpy(&p->sequence, rnd, sizeof(p->sequence));
	memcpy(&p->xmt, rnd + sizeof(p->sequence), sizeof(p->xmt));
	if (p->xmt == 0)
		p->xmt = 1; /* a zero origin would match a zeroed reply */

	if (req->method == PROBE_KEY) {
		p->obs.key_method = true;
		p->key = *req->key;
		p->req.key = &p->key;
		do {
			if (random_bytes(&p->xmt_auth, sizeof(p->xmt_auth)) < 0)
				return start_failed(p, "getrandom");
		} while (p->xmt_auth == 0 || p->xmt_auth == p->xmt);
		n = ntpauth_build_request(p->m6_pkt, p->xmt_auth, &p->key);
		if (n < 0) {
			errno = EINVAL;
			return start_failed(p, "cannot compute the MAC");
		}
	} else {
		n = m6_build_readvar(p->m6_pkt, sizeof(p->m6_pkt),
				     M6_VERSION_DEFAULT, p->sequence, names, 1);
		if (n < 0) {
			errno = EINVAL;
			return start_failed(p, "bad variable name");
		}
	}
	p->m6_len = (size_t)n;
	ntp3_build_request(p->m3_pkt, p->xmt);

	p->fd = socket(req->dst.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       IPPROTO_UDP);
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

	event_assign(&p->ev_read, base, p->fd, EV_READ | EV_PERSIST,
		     probe_read_cb, p);
	evtimer_assign(&p->ev_tick, base, probe_tick_cb, p);
	if (event_add(&p->ev_read, NULL) < 0) {
		errno = ENOMEM;
		return start_failed(p, "event_add");
	}
	p->running = true;

	clock_gettime(CLOCK_MONOTONIC, &p->started);
	p->last_m6_send = p->started;
	p->deadline_ms = req->timeout_ms;
	transmit(p);
	arm_tick(p);
	return 0;
}

void probe_cancel(struct probe *p)
{
	if (!p->running)
		return;
	event_del(&p->ev_read);
	evtimer_del(&p->ev_tick);
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	free(p->reasm);
	p->reasm = NULL;
	ntpauth_key_wipe(&p->key);
	p->running = false;
}
