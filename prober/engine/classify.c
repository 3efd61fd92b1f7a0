#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "engine/classify.h"
#include "ntpwire/m6.h"
#include "ntpwire/varlist.h"

static enum outcome verdict(struct probe_verdict *v, enum outcome o,
			    const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum outcome verdict(struct probe_verdict *v, enum outcome o,
			    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
	va_end(ap);
	v->outcome = o;
	return o;
}

/* A complete data reply: find our variable and compare. */
static void classify_data(const struct probe_obs *obs, struct probe_verdict *v)
{
	struct varlist_item item;

	switch (varlist_find((const char *)obs->data, obs->len, obs->variable,
			     &item)) {
	case VARLIST_FOUND:
		break;
	case VARLIST_NOT_FOUND:
		verdict(v, OUTCOME_VARIABLE_MISSING,
			"reply does not contain %s", obs->variable);
		v->contrary = true;
		return;
	case VARLIST_DUPLICATE:
		verdict(v, OUTCOME_MALFORMED, "variable appears twice");
		return;
	case VARLIST_BAD_SYNTAX:
	default:
		verdict(v, OUTCOME_MALFORMED, "variable list syntax");
		return;
	}

	if (item.value == NULL) {
		v->value = "";
		v->value_len = 0;
	} else {
		v->value = item.value;
		v->value_len = item.value_len;
	}

	if (obs->token == NULL) {
		verdict(v, OUTCOME_READ, "%zu octets", v->value_len);
		return;
	}
	size_t tlen = strlen(obs->token);
	if (v->value_len == tlen && memcmp(v->value, obs->token, tlen) == 0)
		verdict(v, OUTCOME_VERIFIED, "token matches");
	else
		verdict(v, OUTCOME_TOKEN_MISMATCH,
			"%s has another value (%zu octets)", obs->variable,
			v->value_len);
	/* A read-only check (no token) proves nothing either way. */
	v->contrary = v->outcome == OUTCOME_TOKEN_MISMATCH;
}

static const char *kiss_name(enum ntp3_kind k)
{
	switch (k) {
	case NTP3_KISS_RATE:
		return "RATE";
	case NTP3_KISS_DENY:
		return "DENY";
	case NTP3_KISS_RSTR:
		return "RSTR";
	default:
		return "kiss";
	}
}

/*
 * The primary request (READVAR, or the keyed mode 3) got no usable answer:
 * ICMP, rejected datagrams, a kiss, or plain mode 3 answering alone (then
 * `answered` with its detail), or nothing at all.
 */
static void classify_silence(const struct probe_obs *obs,
			     struct probe_verdict *v, enum outcome answered,
			     const char *answered_detail)
{
	if (obs->net_errno != 0)
		verdict(v, OUTCOME_UNREACHABLE, "%s",
			obs->net_errno == ECONNREFUSED ? "port unreachable"
						       : strerror(obs->net_errno));
	else if (obs->rejected > 0)
		verdict(v, OUTCOME_MALFORMED, "%s (%u datagram%s)",
			obs->reject_reason ? obs->reject_reason : "invalid reply",
			obs->rejected, obs->rejected == 1 ? "" : "s");
	else if (obs->ntp_answered && ntp3_is_kiss(obs->ntp_kind) &&
		 obs->ntp_kind != NTP3_KISS_OTHER)
		verdict(v, OUTCOME_RATE_LIMITED, "Kiss-o'-Death %s",
			kiss_name(obs->ntp_kind));
	else if (obs->ntp_answered)
		verdict(v, answered, "%s", answered_detail);
	else
		verdict(v, OUTCOME_NO_RESPONSE, "no reply");
}

/* Key method: the keyed mode 3 request is the proof. */
static void classify_key(const struct probe_obs *obs, struct probe_verdict *v)
{
	switch (obs->auth) {
	case AUTH_OK:
		/*
		 * A kiss whose MAC verifies under the key and that echoes the
		 * keyed request's origin could only be made by a holder of
		 * the key: proof enough. The kiss is still obeyed (the
		 * result's `kissed` sets the holdoff); the detail says so.
		 */
		if (obs->auth_kiss)
			verdict(v, OUTCOME_VERIFIED,
				"MAC verifies on a signed Kiss-o'-Death %s "
				"(holding off)", kiss_name(obs->ntp_kind));
		else
			verdict(v, OUTCOME_VERIFIED, "MAC verifies");
		return;
	case AUTH_REFUSED:
		verdict(v, OUTCOME_KEY_NOT_ACCEPTED, "%s", obs->auth_reason);
		/* A reply without a MAC may be a server that ignores keys
		 * altogether; only a crypto-NAK says "not this key". */
		v->contrary = obs->crypto_nak;
		return;
	case AUTH_BAD:
		verdict(v, OUTCOME_MALFORMED, "%s", obs->auth_reason);
		return;
	case AUTH_NONE:
		break;
	}
	classify_silence(obs, v, OUTCOME_KEY_NOT_ACCEPTED,
			 "NTP answers, the keyed request does not");
}

void probe_classify(const struct probe_obs *obs, struct probe_verdict *v)
{
	memset(v, 0, sizeof(*v));
	if (obs->key_method) {
		classify_key(obs, v);
		return;
	}

	switch (obs->m6) {
	case M6_STATE_DATA:
		classify_data(obs, v);
		return;
	case M6_STATE_ERROR: {
		const char *name = m6_error_name(obs->error_code);
		if (obs->error_code == M6_ERR_UNKNOWNVAR) {
			verdict(v, OUTCOME_VARIABLE_MISSING,
				"mode 6 error: unknown variable");
			v->contrary = obs->token != NULL;
		} else if (name != NULL)
			verdict(v, OUTCOME_MODE6_ERROR, "mode 6 error: %s",
				name);
		else
			verdict(v, OUTCOME_MODE6_ERROR, "mode 6 error code %u",
				obs->error_code);
		return;
	}
	case M6_STATE_FATAL:
		verdict(v, OUTCOME_MALFORMED, "%s",
			obs->reject_reason ? obs->reject_reason : "bad fragments");
		return;
	case M6_STATE_PARTIAL:
		verdict(v, OUTCOME_MALFORMED, "incomplete reply (missing fragments)");
		return;
	case M6_STATE_NONE:
		break;
	}

	/* Mode 6 gave us nothing usable: explain why. */
	classify_silence(obs, v, OUTCOME_MODE6_SILENT,
			 "NTP answers, mode 6 does not");
}

/* A decimal stratum, 0..255, as ntpd prints it; false if it is not one. */
static bool parse_stratum(const struct varlist_item *it, uint8_t *out)
{
	unsigned v = 0;

	if (it->value == NULL || it->value_len == 0 || it->value_len > 3)
		return false;
	for (size_t i = 0; i < it->value_len; i++) {
		if (it->value[i] < '0' || it->value[i] > '9')
			return false;
		v = v * 10 + (unsigned)(it->value[i] - '0');
	}
	if (v > 255)
		return false;
	*out = (uint8_t)v;
	return true;
}

bool probe_sysvars(const uint8_t *data, size_t len, uint8_t *stratum,
		   char refid[NTP3_REFID_STRLEN])
{
	const char *text = (const char *)data;
	struct varlist_item st, rf;
	uint8_t s;

	if (varlist_find(text, len, "stratum", &st) != VARLIST_FOUND ||
	    varlist_find(text, len, "refid", &rf) != VARLIST_FOUND ||
	    !parse_stratum(&st, &s) || rf.value == NULL ||
	    rf.value_len == 0 || rf.value_len >= NTP3_REFID_STRLEN)
		return false;
	/* Server text, shown to the operator: printable, no quoting marks. */
	for (size_t i = 0; i < rf.value_len; i++) {
		char c = rf.value[i];
		refid[i] = c > ' ' && c < 0x7f && c != '"' && c != '\\' ? c : '.';
	}
	refid[rf.value_len] = '\0';
	*stratum = s;
	return true;
}
