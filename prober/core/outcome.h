/*
 * outcome.h - what one verification attempt concluded.
 *
 * The names are stable strings: they are stored in the database and shown
 * to operators by the pool's web site (docs/design.md, "Outcomes").
 */
#ifndef NTPVERIFY_OUTCOME_H
#define NTPVERIFY_OUTCOME_H

#include <stdbool.h>
#include <stddef.h>

/* Room for an outcome's detail text (never a token, a value or a key). */
#define OUTCOME_DETAIL_MAX 160

enum outcome {
	OUTCOME_VERIFIED = 0,     /* the token, key or refid code is proven */
	OUTCOME_TOKEN_MISMATCH,   /* the variable exists with another value */
	OUTCOME_VARIABLE_MISSING, /* "unknown variable": no setvar line */
	OUTCOME_MODE6_ERROR,      /* another mode 6 error code */
	OUTCOME_MODE6_SILENT,     /* mode 3 answers, mode 6 does not */
	OUTCOME_NO_RESPONSE,      /* nothing answered */
	OUTCOME_UNREACHABLE,      /* ICMP port/host unreachable */
	OUTCOME_MALFORMED,        /* replies failed validation */
	OUTCOME_RATE_LIMITED,     /* Kiss-o'-Death RATE (or DENY/RSTR) */
	OUTCOME_REFUSED_BY_POLICY,/* the prober will not send there */
	OUTCOME_KEY_NOT_ACCEPTED, /* key method: keyed request unanswered */
	OUTCOME_SEND_FAILED,      /* nothing sent: no route, no such source, no fds */
	OUTCOME_NOT_STRATUM1,     /* refid method: NTP answers, not at stratum 1 */
	OUTCOME_REFID_MISMATCH,   /* refid method: stratum 1 with another refid */
	OUTCOME_READ,             /* check without a token: the value was read */
	OUTCOME_COUNT
};

/* The stable name, e.g. "mode6_silent". */
const char *outcome_name(enum outcome o);

/* Parse a stable name; returns -1 when unknown. */
int outcome_from_name(const char *name);

/* The server answered the probe's source at all (a kiss and a reply that
 * failed validation included). */
bool outcome_answered(enum outcome o);

/* A mode 6 request from the probe's source got through to ntpd. */
bool outcome_mode6_answered(enum outcome o);

/* What is known about the prober's own 'restrict' line on the server. */
enum hint_restrict {
	HINT_RESTRICT_UNKNOWN = 0, /* the evidence cannot tell */
	HINT_RESTRICT_PRESENT,     /* mode 6 from this address was answered
				      before: no line is missing, a flag
				      ('limited', a new 'noquery') drops
				      queries now */
};

/* What a hint can go on; only `outcome` is needed, the rest may be empty. */
struct outcome_hint_in {
	enum outcome outcome;       /* the result to explain */
	const char *prober_addr;    /* the probe's source address, or NULL */
	const char *variable;       /* the setvar name, or NULL */
	const char *token;          /* the token when the caller has it (check
				       --token), else NULL: a placeholder */
	enum hint_restrict restrict_line; /* see above */
	bool answered_before;       /* an earlier attempt from this address
				       got an answer of any kind: silence now
				       may be ntpd's 'limited' dropping it */
};

/*
 * One or two sentences telling the server's operator what to change, or
 * NULL when there is nothing to do. Writes into buf (always
 * NUL-terminated) and returns it. The token, when given, is printed in
 * the setvar line, so only callers that were handed it may pass it.
 */
const char *outcome_hint_for(const struct outcome_hint_in *in, char *buf,
			     size_t buflen);

#endif
