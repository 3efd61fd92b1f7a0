/*
 * probe_sm.h - one verification attempt as a state machine, without I/O.
 *
 * The protocol of a probe: which request goes out when, what each
 * datagram that comes back means, and when the attempt is over. Nothing
 * here opens a socket, reads a clock, draws random numbers or touches an
 * event loop: the caller (probe.c on the wire, the unit tests on a table)
 * passes in the random values once, and the current monotonic time in
 * nanoseconds with every input. So every path can be driven from a test
 * with real captures and hostile packets, and without root.
 *
 * Use:
 *
 *	probe_sm_init(sm, req, rnd, result)        build the requests
 *	probe_sm_start(sm, now, &out)              first transmit
 *	then, for each event, one of
 *	  probe_sm_datagram(sm, pkt, len, now, &out)
 *	  probe_sm_net_error(sm, errno, now, &out)
 *	  probe_sm_tick(sm, now, &out)             at (or after) out.wake_ns
 *
 * After every input, `out` says what to do: send the request flagged in
 * it (at most one), then report with probe_sm_sent(), which completes
 * `out`; sleep until out.wake_ns; or, once out.done, stop: *result is
 * final and the state machine holds nothing (no heap, no key) any more.
 *
 * The send schedule (docs/design.md, "The send schedule"): the primary
 * request alone at the start; one retransmit interval later, if it is
 * still unanswered, the plain mode 3 request, which tells mode6_silent /
 * key_not_accepted from no_response; then the unanswered ones in turn, one
 * packet per interval, until the timeout. The interval is also the pacing
 * gap: no two packets of an attempt are ever closer together than
 * req->retransmit_ms, whatever prompted them (a retransmit, the ICMP
 * confirmation). A server that answers the primary gets one packet.
 *
 * The gate in the request is asked once per packet about to be sent; a
 * packet it holds back is counted in result->held and not flagged.
 */
#ifndef NTPVERIFY_PROBE_SM_H
#define NTPVERIFY_PROBE_SM_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/outcome.h"
#include "engine/classify.h"
#include "ntpwire/m6.h"
#include "ntpwire/m6_reasm.h"
#include "ntpwire/ntp3.h"
#include "ntpwire/ntpauth.h"

#define PROBE_VALUE_MAX 512   /* value bytes kept for display */
#define PROBE_VARIABLE_MAX 64 /* longest READVAR name kept */
/* Larger than any valid reply; longer datagrams are rejected, not parsed. */
#define PROBE_RECV_MAX 2048

/*
 * Called once per packet about to be sent (primary and plain alike).
 * Returns false to hold the packet back (rate limit); the probe then
 * skips it.
 */
typedef bool (*probe_gate_fn)(void *arg, const struct sockaddr *dst);

/* How the server proves control. */
enum probe_method {
	PROBE_SETVAR = 0, /* mode 6 READVAR of a setvar variable */
	PROBE_KEY,        /* mode 3 authenticated with a symmetric key */
};

struct probe_request {
	enum probe_method method;     /* what to send */
	const struct ntpauth_key *key;/* PROBE_KEY: the key (copied) */
	struct sockaddr_storage dst;  /* destination, port set */
	socklen_t dstlen;             /* its length */
	struct sockaddr_storage src;  /* source to bind (port 0) */
	socklen_t srclen;             /* 0: the kernel chooses */
	const char *variable;         /* READVAR name (copied) */
	const char *token;            /* expected value; NULL to only read;
					 must outlive the probe */
	uint64_t timeout_ms;          /* whole attempt */
	uint64_t retransmit_ms;       /* pacing gap: at least this long between
					 two packets; resend interval */
	probe_gate_fn gate;           /* NULL: never held back */
	void *gate_arg;               /* passed to gate */
};

struct probe_result {
	enum outcome outcome;         /* the verdict */
	bool contrary;                /* a definite contrary observation
					 (classify.h): counts against the quorum */
	char detail[OUTCOME_DETAIL_MAX]; /* never the token or the value */
	bool have_value;              /* the variable was present */
	char value[PROBE_VALUE_MAX + 1]; /* NUL-terminated copy, maybe truncated */
	size_t value_len;             /* full length on the wire */
	double rtt_ms;                /* first reply to the primary; < 0 when none */
	bool ntp_answered;            /* stratum, refid and ntp_kind are known:
					 from a mode 4 reply (plain or keyed)
					 or the READVAR's system variables */
	uint8_t stratum;              /* the server's stratum */
	char refid[NTP3_REFID_STRLEN];/* its refid, as ntpq shows it */
	enum ntp3_kind ntp_kind;      /* synced, unsynced or a kiss */
	bool kissed;                  /* a RATE, DENY or RSTR kiss came: hold
					 the address off (kod_holdoff) whatever
					 the outcome, verified included */
	char source[INET6_ADDRSTRLEN];/* local address the packets left from
					 (filled by the socket layer) */
	unsigned sent;                /* datagrams sent */
	unsigned held;                /* datagrams held back by the gate */
	unsigned received;            /* datagrams received */
	unsigned rejected;            /* of those, failed validation */
};

/* The random values of one attempt, drawn by the caller. */
struct probe_sm_random {
	uint16_t sequence;            /* mode 6 sequence number */
	uint64_t xmt;                 /* plain mode 3 transmit timestamp;
					 0 is taken as 1 */
	uint64_t xmt_auth;            /* PROBE_KEY: keyed request's; 0 or
					 equal to xmt is replaced by xmt + 1 */
};

/* What to do after an input. */
struct probe_sm_out {
	bool send_primary;            /* send probe_sm_primary() now */
	bool send_plain;              /* send probe_sm_plain() now (never
					 both: one packet per slot) */
	bool done;                    /* the attempt is over; result is final */
	uint64_t wake_ns;             /* call probe_sm_tick() at this time */
};

/* One attempt. Embedded by its owner; about 1.3 KiB. */
struct probe_sm {
	const struct probe_request *req; /* the caller's; outlives the sm */
	struct probe_result *result;  /* the caller's; written here */
	char variable[PROBE_VARIABLE_MAX + 1]; /* own copy of the name */
	struct ntpauth_key key;       /* PROBE_KEY: own copy, wiped at the end */
	uint16_t sequence;            /* mode 6 sequence number */
	uint64_t xmt;                 /* plain request's transmit timestamp */
	uint64_t xmt_auth;            /* PROBE_KEY: the keyed request's */
	uint8_t primary[M6_REQUEST_MAX]; /* READVAR, or the keyed mode 3 */
	size_t primary_len;           /* its length */
	uint8_t plain[NTP3_PACKET_LEN]; /* the plain client request */

	uint64_t deadline_ns;         /* the attempt ends here */
	uint64_t next_send_ns;        /* next packet's slot; 0: none planned */
	uint64_t last_wire_ns;        /* last packet handed to the network */
	bool wire_used;               /* a packet went out: last_wire_ns holds */
	unsigned n_primary;           /* primaries sent */
	unsigned n_plain;             /* plain requests sent */
	uint64_t last_primary_ns;     /* last send of the primary, for the RTT */
	int icmp_errno;               /* ICMP error not yet believed; 0: none */
	uint64_t icmp_until_ns;       /* then unreachable at this time, unless
					 a valid reply comes; 0: no wait */
	bool icmp_resent;             /* the retransmit after it went out */
	bool asked_primary;           /* out.send_primary pending a report */
	bool asked_plain;             /* out.send_plain pending a report */
	bool quiet;                   /* a kiss came: send nothing more */
	bool finished;                /* result final */

	uint8_t single[M6_FRAG_DATA_MAX]; /* a reply that fit one datagram */
	struct m6_reasm *reasm;       /* heap, only once a reply is fragmented */
	size_t reply_len;             /* length of the complete reply */
	struct probe_obs obs;         /* what we saw, for classify */
};

/*
 * Prepare an attempt: copy the variable and key, build both requests. The
 * READVAR asks for the variable and the system variables stratum and
 * refid, so a verified setvar result shows them without a mode 3 packet.
 * `req` and `result` must stay where they are until the attempt is done
 * or probe_sm_cancel() ran; *result is reset here (source excepted).
 * Returns NULL, or a static string saying why not ("bad variable name",
 * "cannot compute the MAC"), also in result->detail; nothing needs
 * freeing then.
 */
const char *probe_sm_init(struct probe_sm *sm, const struct probe_request *req,
		  const struct probe_sm_random *rnd,
		  struct probe_result *result)
	__attribute__((warn_unused_result));

/* The attempt starts now: the first transmit. */
void probe_sm_start(struct probe_sm *sm, uint64_t now_ns,
		    struct probe_sm_out *out);

/*
 * The flagged request was handed to the network (`n_sent` 1), or its send
 * failed with `err` (an errno; `n_sent` 0). `now_ns` is read after
 * sending. Completes `out` from the input that asked for the send.
 */
void probe_sm_sent(struct probe_sm *sm, unsigned n_sent, int err,
		   uint64_t now_ns, struct probe_sm_out *out);

/*
 * A datagram from the server. `len` is its length on the wire (as
 * recv(MSG_TRUNC) reports it): one longer than PROBE_RECV_MAX is rejected
 * unread, so the caller's buffer need only hold PROBE_RECV_MAX octets.
 */
void probe_sm_datagram(struct probe_sm *sm, const uint8_t *pkt, size_t len,
		       uint64_t now_ns, struct probe_sm_out *out);

/*
 * A receive error. An ICMP error (ECONNREFUSED, EHOSTUNREACH,
 * ENETUNREACH, EHOSTDOWN) is not believed at once, since anyone who
 * guesses the ephemeral port can forge one: the next packet of the
 * schedule goes out in its slot (one pacing gap after the last packet,
 * never sooner), and the attempt ends as unreachable at a second ICMP error
 * after that retransmit, or one retransmit interval after it (never past
 * the deadline) when nothing else came. A valid reply meanwhile wins.
 * Once the primary or mode 3 has a valid answer, ICMP errors are ignored;
 * so are other errors. An ICMP error that surfaces on a send
 * (probe_sm_sent) counts the same.
 */
void probe_sm_net_error(struct probe_sm *sm, int err, uint64_t now_ns,
			struct probe_sm_out *out);

/* The time in out.wake_ns has come (early calls are harmless). */
void probe_sm_tick(struct probe_sm *sm, uint64_t now_ns,
		   struct probe_sm_out *out);

/* The primary request's octets, and the plain one's. */
static inline const uint8_t *probe_sm_primary(const struct probe_sm *sm,
					      size_t *len)
{
	*len = sm->primary_len;
	return sm->primary;
}

static inline const uint8_t *probe_sm_plain(const struct probe_sm *sm,
					    size_t *len)
{
	*len = sizeof(sm->plain);
	return sm->plain;
}

/* Abandon an attempt: free the buffer, wipe the key. Safe when done. */
void probe_sm_cancel(struct probe_sm *sm);

#endif
