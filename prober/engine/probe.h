/*
 * probe.h - one verification attempt on the wire.
 *
 * A probe sends the primary request (a mode 6 READVAR, a keyed mode 3 for
 * the key method, a plain mode 3 for the refid method) from a fresh
 * connected UDP socket (random source port, optionally bound to a
 * published source address); for the setvar and key methods, while the
 * primary goes unanswered, plain mode 3 requests go out in turn with its
 * retransmits, paced (probe_sm.h). It validates every datagram with
 * ntpwire and ends with one outcome. The connected socket means the
 * kernel drops datagrams from any other address or port, and ICMP errors
 * come back as ECONNREFUSED / EHOSTUNREACH.
 *
 * The protocol itself is probe_sm.h (no I/O, unit-tested); this layer owns
 * the socket, the events, the clock and the random values, and feeds it.
 * The request and result types live there too.
 *
 * The struct is embedded by its owner (about 2.7 KiB; the 15 KiB
 * reassembly buffer is allocated only for a fragmented reply and freed
 * when the probe ends): probe_start() arms it on the caller's probe_io,
 * the `done` callback runs exactly once from a fresh loop turn, after
 * which the owner may reuse or free the memory (also from inside the
 * callback). probe_cancel() stops it without a callback.
 */
#ifndef NTPVERIFY_PROBE_H
#define NTPVERIFY_PROBE_H

#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/probe_sm.h"

#define PROBE_ADDRSTRLEN 64   /* "[addr]:port" fits */

struct probe;

/*
 * What the probes of one event loop share: an epoll set of their sockets,
 * watched by the loop as one event. Create it once per event_base, free it
 * after every probe on it has ended or been cancelled.
 *
 * A socket leaves the set when close() drops the last reference to it,
 * so a probe's socket must never be duplicated or inherited: no dup(), no
 * fork() without exec in a process that runs probes (the sockets are
 * SOCK_CLOEXEC). A second reference would keep a closed probe's socket in
 * the set, pointing at memory its owner may have freed.
 */
struct probe_io;
struct probe_io *probe_io_new(struct event_base *base)
	__attribute__((warn_unused_result)); /* NULL: errno */
void probe_io_free(struct probe_io *io); /* NULL is fine */

/* Called exactly once when the probe ends; p->result is final. */
typedef void (*probe_done_fn)(struct probe *p, void *arg);

struct probe {
	struct probe_io *io;          /* not owned */
	struct probe_request req;     /* copy of the request */
	probe_done_fn done;           /* completion callback */
	void *done_arg;               /* passed to it */
	int fd;                       /* connected UDP socket, -1 when closed */
	struct event ev_tick;         /* the state machine's timer, then the
					 hand-over to `done` */
	uint64_t armed_ns;            /* ev_tick pending for this time; 0: not */
	bool running;                 /* armed and `done` not yet called */
	bool finished;                /* result final, callback pending */
	struct probe_sm sm;           /* the protocol */
	struct probe_result result;   /* final once `done` runs */
};

/*
 * Start a probe. Returns 0, or -1 with errno set and p->result.detail
 * saying what failed locally (random numbers, the request, socket, bind
 * to the source address, connect): no callback follows a failed start.
 */
int probe_start(struct probe *p, struct probe_io *io,
		const struct probe_request *req, probe_done_fn done, void *arg)
	__attribute__((warn_unused_result));

/* Stop a running probe without calling `done`. Safe on a finished one. */
void probe_cancel(struct probe *p);

/* "addr" for IPv4/IPv6 sockaddrs; "?" for others. */
const char *probe_addr_str(const struct sockaddr *sa, char *buf, size_t len);

#endif
