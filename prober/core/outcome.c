#include <stdio.h>
#include <string.h>

#include "core/outcome.h"

static const char *const outcome_names[OUTCOME_COUNT] = {
	[OUTCOME_VERIFIED] = "verified",
	[OUTCOME_TOKEN_MISMATCH] = "token_mismatch",
	[OUTCOME_VARIABLE_MISSING] = "variable_missing",
	[OUTCOME_MODE6_ERROR] = "mode6_error",
	[OUTCOME_MODE6_SILENT] = "mode6_silent",
	[OUTCOME_NO_RESPONSE] = "no_response",
	[OUTCOME_UNREACHABLE] = "unreachable",
	[OUTCOME_MALFORMED] = "malformed",
	[OUTCOME_RATE_LIMITED] = "rate_limited",
	[OUTCOME_REFUSED_BY_POLICY] = "refused_by_policy",
	[OUTCOME_KEY_NOT_ACCEPTED] = "key_not_accepted",
	[OUTCOME_SEND_FAILED] = "send_failed",
	[OUTCOME_NOT_STRATUM1] = "not_stratum1",
	[OUTCOME_REFID_MISMATCH] = "refid_mismatch",
	[OUTCOME_READ] = "read",
};

const char *outcome_name(enum outcome o)
{
	if ((unsigned)o >= OUTCOME_COUNT)
		return "unknown";
	return outcome_names[o];
}

int outcome_from_name(const char *name)
{
	for (int i = 0; i < OUTCOME_COUNT; i++)
		if (strcmp(outcome_names[i], name) == 0)
			return i;
	return -1;
}

/* The hints that name neither the prober's address nor the variable. */
static const char *const fixed_hints[OUTCOME_COUNT] = {
	[OUTCOME_UNREACHABLE] =
		"the server or network answered 'unreachable': is ntpd "
		"running and listening on this address?",
	[OUTCOME_MALFORMED] =
		"the replies did not parse as NTP mode 6; a middlebox may be "
		"rewriting NTP traffic",
	[OUTCOME_KEY_NOT_ACCEPTED] =
		"NTP answers but not to the keyed request: check the key file "
		"line (key ID, type, hex) and, for ntpd/NTPsec, the trustedkey "
		"line, then restart ntpd or run 'chronyc rekey'",
	[OUTCOME_NOT_STRATUM1] =
		"the server answers NTP but not at stratum 1, so the refid "
		"method cannot apply: check that its reference clock is "
		"selected ('ntpq -p', 'chronyc sources'), or verify with the "
		"setvar or key method instead",
	[OUTCOME_REFID_MISMATCH] =
		"the server is at stratum 1 with another reference ID (shown "
		"in the detail): set 'refid CODE' on the reference clock's "
		"line (ntpd: fudge 127.127.T.U refid CODE; NTPsec and chrony: "
		"refclock ... refid CODE) and restart the daemon",
	/* The prober's own problem: nothing for the server's operator. */
	[OUTCOME_SEND_FAILED] =
		"the prober could not send the request (its own network or "
		"source address); nothing to change on the server, the prober "
		"will retry",
};

const char *outcome_hint(enum outcome o, const char *prober_addr,
			 const char *variable, char *buf, size_t buflen)
{
	const char *addr = prober_addr && *prober_addr ? prober_addr
						       : "<prober address>";

	if ((unsigned)o < OUTCOME_COUNT && fixed_hints[o] != NULL) {
		snprintf(buf, buflen, "%s", fixed_hints[o]);
		return buf;
	}
	switch (o) {
	case OUTCOME_VERIFIED:
	case OUTCOME_READ:
	case OUTCOME_REFUSED_BY_POLICY:
		/* Nothing the operator can change; the caller explains. */
		buf[0] = '\0';
		return NULL;
	case OUTCOME_TOKEN_MISMATCH:
		snprintf(buf, buflen,
			 "the server has %s set to another value: copy the "
			 "token again into 'setvar %s = \"TOKEN\"' and restart "
			 "ntpd",
			 variable, variable);
		break;
	case OUTCOME_VARIABLE_MISSING:
		snprintf(buf, buflen,
			 "add 'setvar %s = \"TOKEN\"' to ntp.conf and restart "
			 "ntpd (setvar is read only at start-up)",
			 variable);
		break;
	case OUTCOME_MODE6_ERROR:
		snprintf(buf, buflen,
			 "the server refused the query; check that the "
			 "'restrict %s' line has no 'noquery' and that ntpd "
			 "was restarted",
			 addr);
		break;
	case OUTCOME_MODE6_SILENT:
		snprintf(buf, buflen,
			 "NTP answers but mode 6 queries are dropped: add "
			 "'restrict %s' to ntp.conf (after 'restrict default "
			 "... noquery') and restart ntpd; chrony and OpenNTPD "
			 "cannot answer mode 6 at all",
			 addr);
		break;
	case OUTCOME_NO_RESPONSE:
		snprintf(buf, buflen,
			 "nothing answered on UDP port 123: check that ntpd "
			 "runs and that a firewall lets %s reach it",
			 addr);
		break;
	case OUTCOME_RATE_LIMITED:
		snprintf(buf, buflen,
			 "the server rate-limits the prober: add 'restrict %s' "
			 "without 'limited' to ntp.conf; the prober will retry "
			 "later",
			 addr);
		break;
	case OUTCOME_COUNT:
	default:
		buf[0] = '\0';
		return NULL;
	}
	return buf;
}
