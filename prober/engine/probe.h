/*
 * probe.h - one verification attempt on the wire.
 *
 * A probe sends a mode 6 READVAR for one variable and, alongside, one mode 3
 * client request, from a fresh connected UDP socket (random source port,
 * optionally bound to a published source address), retransmits inside its
 * timeout, validates every datagram with ntpwire, and ends with one
 * outcome. The connected socket means the kernel drops datagrams from any
 * other address or port, and ICMP errors come back as ECONNREFUSED /
 * EHOSTUNREACH.
 *
 * The struct is embedded by its owner (about 1.5 KiB; the 15 KiB reassembly
 * buffer is allocated only for a fragmented reply and freed when the probe
 * ends): probe_start() arms it on the caller's event_base, the `done`
 * callback runs exactly once from the loop, after which the owner may
 * reuse or free the memory. probe_cancel() stops it without a callback.
 */
#ifndef NTPVERIFY_PROBE_H
#define NTPVERIFY_PROBE_H

#include <event2/event.h>
#include <event2/event_struct.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "engine/classify.h"
#include "ntpwire/m6_reasm.h"
#include "ntpwire/ntpauth.h"
#include "ntpwire/ntp3.h"
#include "core/outcome.h"

#define PROBE_VALUE_MAX 512   /* value bytes kept for display */
#define PROBE_ADDRSTRLEN 64   /* "[addr]:port" fits */

struct probe;

/*
 * Called once per packet about to be sent (mode 6 and mode 3 alike). Returns
 * false to hold the packet back (rate limit); the probe then skips it.
 */
typedef bool (*probe_gate_fn)(void *arg, const struct sockaddr *dst);

/* Called exactly once when the probe ends; p->result is final. */
typedef void (*probe_done_fn)(struct probe *p, void *arg);

/* How the server proves control. */
enum probe_method {
	PROBE_SETVAR = 0, /* mode 6 READVAR of a setvar variable */
	PROBE_KEY,        /* mode 3 authenticated with a symmetric key */
};

struct probe_request {
	enum probe_method method;     /* what to send */
	const struct ntpauth_key *key;/* PROBE_KEY: the key (copied) */
	struct sockaddr_storage dst;  /* destination, port set */
	socklen_t dstlen;
	struct sockaddr_storage src;  /* source to bind (port 0) */
	socklen_t srclen;             /* 0: the kernel chooses */
	const char *variable;         /* READVAR name; must outlive the probe */
	const char *token;            /* expected value; NULL to only read */
	uint64_t timeout_ms;          /* whole attempt */
	uint64_t retransmit_ms;       /* resend interval while unanswered */
	probe_gate_fn gate;           /* NULL: never held back */
	void *gate_arg;
};

struct probe_result {
	enum outcome outcome;
	char detail[OUTCOME_DETAIL_MAX];             /* never the token or the value */
	bool have_value;              /* the variable was present */
	char value[PROBE_VALUE_MAX + 1]; /* NUL-terminated copy, maybe truncated */
	size_t value_len;             /* full length on the wire */
	double rtt_ms;                /* first mode 6 reply; < 0 when none */
	bool ntp_answered;            /* mode 3 got a valid reply */
	uint8_t stratum;              /* from it */
	char refid[NTP3_REFID_STRLEN];/* from it, as ntpq shows it */
	enum ntp3_kind ntp_kind;      /* from it */
	char source[INET6_ADDRSTRLEN];/* local address the packets left from */
	unsigned sent;                /* datagrams sent */
	unsigned held;                /* datagrams held back by the gate */
	unsigned received;            /* datagrams received */
	unsigned rejected;            /* of those, failed validation */
};

struct probe {
	struct event_base *base;      /* not owned */
	struct probe_request req;     /* copy of the request */
	char variable[65];            /* own copy: a reload may free the config's */
	probe_done_fn done;           /* completion callback */
	void *done_arg;
	int fd;                       /* connected UDP socket, -1 when closed */
	struct event ev_read;         /* fd readable */
	struct event ev_tick;         /* retransmit / grace / deadline timer */
	bool running;                 /* armed and `done` not yet called */
	bool finished;                /* result final, callback pending */

	uint8_t m6_pkt[M6_REQUEST_MAX]; /* the primary request: READVAR, or
					   the authenticated mode 3 */
	size_t m6_len;
	struct ntpauth_key key;       /* PROBE_KEY: own copy, wiped at the end */
	uint64_t xmt_auth;            /* PROBE_KEY: the keyed request's timestamp */
	uint16_t sequence;            /* random per probe */
	uint8_t m3_pkt[NTP3_PACKET_LEN]; /* the client request */
	uint64_t xmt;                 /* random transmit timestamp */

	struct timespec started;      /* first send */
	struct timespec last_m6_send; /* for the round-trip time */
	uint64_t deadline_ms;         /* relative to started */
	uint64_t next_send_ms;        /* next retransmit, relative */
	uint64_t grace_until_ms;      /* after mode 6 ended, wait for mode 3 */

	uint8_t single[M6_FRAG_DATA_MAX]; /* a reply that fit one datagram */
	struct m6_reasm *reasm;       /* heap, only once a reply is fragmented */
	struct probe_obs obs;         /* what we saw, for classify */
	size_t reply_len;             /* reassembled length */
	struct probe_result result;
};

/*
 * Start a probe. Returns 0, or -1 with errno set and p->result.detail
 * saying what failed locally (socket, bind to the source address,
 * connect): no callback follows a failed start.
 */
int probe_start(struct probe *p, struct event_base *base,
		const struct probe_request *req, probe_done_fn done, void *arg)
	__attribute__((warn_unused_result));

/* Stop a running probe without calling `done`. Safe on a finished one. */
void probe_cancel(struct probe *p);

/* "addr" for IPv4/IPv6 sockaddrs; "?" for others. */
const char *probe_addr_str(const struct sockaddr *sa, char *buf, size_t len);

#endif
