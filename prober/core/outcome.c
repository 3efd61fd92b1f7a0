#include <stdio.h>
#include <string.h>

#include "core/outcome.h"
#include "core/textout.h"

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

bool outcome_answered(enum outcome o)
{
	switch (o) {
	case OUTCOME_NO_RESPONSE:
	case OUTCOME_UNREACHABLE:
	case OUTCOME_SEND_FAILED:
	case OUTCOME_REFUSED_BY_POLICY:
		return false;
	default:
		return (unsigned)o < OUTCOME_COUNT;
	}
}

bool outcome_mode6_answered(enum outcome o)
{
	return o == OUTCOME_VERIFIED || o == OUTCOME_TOKEN_MISMATCH ||
	       o == OUTCOME_VARIABLE_MISSING || o == OUTCOME_MODE6_ERROR;
}

/* The hints that name neither the prober's address nor the variable. */
static const char *const fixed_hints[OUTCOME_COUNT] = {
	[OUTCOME_UNREACHABLE] =
		"the server or network answered 'unreachable': is ntpd "
		"running and listening on this address?",
	[OUTCOME_MALFORMED] =
		"the replies did not parse as NTP mode 6; a middlebox may be "
		"rewriting NTP traffic",
	/* ntp.org ntpd trusts only its last trustedkey line's IDs, and
	 * each daemon spells the AES type its own way (docs/operators.md). */
	[OUTCOME_KEY_NOT_ACCEPTED] =
		"NTP answers but not to the keyed request: check the key file "
		"line (key ID; type AES128CMAC for ntpd from ntp.org, AES-128 "
		"for NTPsec, AES128 for chrony; hex) and, for ntpd/NTPsec, "
		"that the key ID is on the trustedkey line (ntp.org's ntpd "
		"uses only its last one), then restart ntpd or run 'chronyc "
		"rekey'",
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

/*
 * The setvar line's hints. The token goes in when the caller has it;
 * otherwise a placeholder, said to be the one `add` printed.
 */
static void setvar_hint(const struct outcome_hint_in *in, char *buf,
			size_t len)
{
	const char *var = in->variable ? in->variable : "ntppool_verify";
	const char *tok = in->token ? in->token : "TOKEN";
	const char *which = in->token ? ""
				      : " (TOKEN: the one 'ntpverify add' "
					"printed)";

	if (in->outcome == OUTCOME_TOKEN_MISMATCH)
		snprintf(buf, len,
			 "the server has %s set to another value: make its "
			 "line 'setvar %s = \"%s\"'%s and restart ntpd",
			 var, var, tok, which);
	else
		snprintf(buf, len,
			 "add 'setvar %s = \"%s\"' to ntp.conf%s and restart "
			 "ntpd (setvar is read only at start-up)",
			 var, tok, which);
}

/*
 * Mode 6 dropped while mode 3 answers: a missing restrict line for the
 * prober, or one with 'noquery' (or 'limited', which NTPsec applies to
 * mode 6 too). The replies look the same; only an earlier answer to mode
 * 6 from the same address shows the line is there.
 */
static void silent_hint(const struct outcome_hint_in *in, const char *addr,
			char *buf, size_t len)
{
	if (in->restrict_line == HINT_RESTRICT_PRESENT)
		snprintf(buf, len,
			 "mode 6 queries from %s were answered before and are "
			 "dropped now: no line is missing, a flag drops them; "
			 "remove 'limited' (or a 'noquery' added since) from "
			 "the 'restrict %s' line, or the 'restrict default' "
			 "line if that is the one for this address, and "
			 "restart ntpd",
			 addr, addr);
	else
		snprintf(buf, len,
			 "NTP answers but mode 6 queries from %s are dropped: "
			 "if ntp.conf has no 'restrict %s' line, add one after "
			 "'restrict default ... noquery'; if it has one, remove "
			 "'noquery' (and 'limited') from it; then restart ntpd "
			 "(the replies cannot tell these apart); chrony and "
			 "OpenNTPD cannot answer mode 6 at all",
			 addr, addr);
}

const char *outcome_hint_for(const struct outcome_hint_in *in, char *buf,
			     size_t buflen)
{
	enum outcome o = in->outcome;
	const char *addr = in->prober_addr && *in->prober_addr
				   ? in->prober_addr : "<prober address>";

	if ((unsigned)o < OUTCOME_COUNT && fixed_hints[o] != NULL) {
		str_copy(buf, buflen, fixed_hints[o]);
		return buf;
	}
	switch (o) {
	case OUTCOME_TOKEN_MISMATCH:
	case OUTCOME_VARIABLE_MISSING:
		setvar_hint(in, buf, buflen);
		break;
	case OUTCOME_MODE6_ERROR:
		snprintf(buf, buflen,
			 "the server refused the query; check that the "
			 "'restrict %s' line has no 'noquery' and that ntpd "
			 "was restarted",
			 addr);
		break;
	case OUTCOME_MODE6_SILENT:
		silent_hint(in, addr, buf, buflen);
		break;
	case OUTCOME_NO_RESPONSE:
		if (in->answered_before)
			snprintf(buf, buflen,
				 "nothing answered on UDP port 123, though the "
				 "server answered %s before: ntpd stopped, or "
				 "'limited' (without 'kod') on the restrict "
				 "line for %s drops its packets; remove "
				 "'limited' from it",
				 addr, addr);
		else
			snprintf(buf, buflen,
				 "nothing answered on UDP port 123: check that "
				 "ntpd runs and that a firewall lets %s reach it",
				 addr);
		break;
	case OUTCOME_RATE_LIMITED:
		/* A kiss: 'kod limited' applies to the prober's address. */
		snprintf(buf, buflen,
			 "the server rate-limits the prober: if ntp.conf has a "
			 "'restrict %s' line, remove 'limited' from it, else "
			 "add 'restrict %s' without 'limited'; the prober will "
			 "retry later",
			 addr, addr);
		break;
	default:
		/* verified, read, refused_by_policy: nothing to change. */
		buf[0] = '\0';
		return NULL;
	}
	return buf;
}
