/*
 * classify.h - turn what a probe observed into one outcome.
 *
 * Pure: the probe engine collects observations from the wire, this file
 * decides. Kept apart so every combination can be unit-tested without
 * sockets.
 */
#ifndef NTPVERIFY_CLASSIFY_H
#define NTPVERIFY_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ntpwire/ntp3.h"
#include "core/outcome.h"

enum m6_state {
	M6_STATE_NONE = 0,  /* no valid mode 6 datagram arrived */
	M6_STATE_PARTIAL,   /* fragments arrived, reply never completed */
	M6_STATE_DATA,      /* complete reply: data/len hold it */
	M6_STATE_ERROR,     /* error reply: error_code holds the code */
	M6_STATE_FATAL,     /* reassembly gave up: reject_reason says why */
};

/* The keyed request's fate (key method). */
enum auth_state {
	AUTH_NONE = 0, /* no reply to the keyed request */
	AUTH_OK,       /* a reply with a MAC that verifies under the key */
	AUTH_REFUSED,  /* crypto-NAK or an unauthenticated reply */
	AUTH_BAD,      /* a MAC that does not check out */
};

/* Everything one attempt saw. */
struct probe_obs {
	enum m6_state m6;          /* how far mode 6 got */
	const uint8_t *data;       /* M6_STATE_DATA: reassembled reply */
	size_t len;                /* its length */
	unsigned error_code;       /* M6_STATE_ERROR: code 0..255 */
	const char *reject_reason; /* first reason a datagram was rejected, or NULL */
	unsigned rejected;         /* datagrams that failed validation */
	bool ntp_answered;         /* a valid mode 4 reply arrived */
	enum ntp3_kind ntp_kind;   /* its classification */
	int net_errno;             /* ICMP error seen (ECONNREFUSED...), or 0 */
	bool key_method;           /* key method: auth below, not m6 */
	enum auth_state auth;      /* key method: the keyed request */
	const char *auth_reason;   /* ntpauth_check_name() of the reply */
	bool crypto_nak;           /* key method: the refusal was a crypto-NAK */
	bool auth_kiss;            /* key method: AUTH_OK came on a kiss signed
				      under the key (ntp_kind says which) */
	const char *variable;      /* the name asked for */
	const char *token;         /* expected value, or NULL to only read it */
};

/* The decision and what to show with it. */
struct probe_verdict {
	enum outcome outcome;
	char detail[OUTCOME_DETAIL_MAX];          /* never contains the token or the value */
	const char *value;         /* the variable's value when present (points into obs->data) */
	size_t value_len;
	bool contrary;             /* a definite observation against the proof:
				      another value, unknown variable, crypto-NAK */
};

void probe_classify(const struct probe_obs *obs, struct probe_verdict *v);

/*
 * The system variables stratum and refid in a READVAR reply's data (the
 * probe asks for them with the variable): true and both filled when both
 * are there and well formed (stratum decimal 0..255, refid 1..15 octets,
 * anything but printable ASCII shown as '.'), else false and nothing
 * written.
 */
bool probe_sysvars(const uint8_t *data, size_t len, uint8_t *stratum,
		   char refid[NTP3_REFID_STRLEN])
	__attribute__((warn_unused_result));

#endif
