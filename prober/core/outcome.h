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

/*
 * One or two sentences telling the server's operator what to change, or
 * NULL when there is nothing to do. `prober_addr` is the address the
 * probe came from (for the restrict line), `variable` the setvar name.
 * Writes into buf (always NUL-terminated) and returns it.
 */
const char *outcome_hint(enum outcome o, const char *prober_addr,
			 const char *variable, char *buf, size_t buflen);

#endif
