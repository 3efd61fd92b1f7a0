/*
 * probe_sm_init.c - building one attempt: the state reset, the copies of
 * the variable, key and refid code, and the requests each method sends.
 * The protocol that drives them is probe_sm.c.
 */
#include <stdio.h>
#include <string.h>

#include "engine/probe_sm.h"
#include "core/textout.h"

static const char *init_failed(struct probe_result *result, const char *why)
{
	str_copy(result->detail, sizeof(result->detail), why);
	return why;
}

/*
 * The READVAR's names: the variable, then stratum and refid, so that a
 * verified result shows what a mode 3 reply would have shown without a
 * second packet. Joined by "," without a space (m6_build_readvar): NTPsec
 * 1.2.3 and later refuse ", ". A variable that is itself one of them is
 * not asked for twice (a duplicate would make the reply ambiguous).
 */
static size_t readvar_names(const struct probe_sm *sm, const char *names[3])
{
	size_t n = 0;

	names[n++] = sm->variable;
	if (strcmp(sm->variable, "stratum") != 0)
		names[n++] = "stratum";
	if (strcmp(sm->variable, "refid") != 0)
		names[n++] = "refid";
	return n;
}

/*
 * PROBE_REFID: the primary is the plain client request (the one question
 * the method asks); the reply is judged in classify.c. Returns its
 * length, or -1 for a code that cannot be a refid.
 */
static int refid_init(struct probe_sm *sm, const struct probe_request *req)
{
	size_t len = req->refid_code ? strlen(req->refid_code) : 0;

	if (len < 1 || len >= sizeof(sm->refid_code))
		return -1;
	memcpy(sm->refid_code, req->refid_code, len + 1);
	sm->obs.refid_method = true;
	sm->obs.refid_code = sm->refid_code;
	ntp3_build_request(sm->primary, sm->xmt);
	return NTP3_PACKET_LEN;
}

static void sm_reset(struct probe_sm *sm, const struct probe_request *req,
		     struct probe_result *result)
{
	memset(result, 0, sizeof(*result));
	result->rtt_ms = -1;
	memset(&sm->obs, 0, sizeof(sm->obs));
	sm->req = req;
	sm->result = result;
	str_copy(sm->variable, sizeof(sm->variable),
		 req->variable != NULL ? req->variable : "");
	sm->obs.variable = sm->variable;
	sm->obs.token = req->token;
	sm->reasm = NULL;
	sm->reply_len = 0;
	sm->finished = false;
	sm->quiet = false;
	sm->asked_primary = sm->asked_plain = false;
	sm->deadline_ns = sm->next_send_ns = 0;
	sm->last_wire_ns = sm->last_primary_ns = 0;
	sm->wire_used = false;
	sm->n_primary = sm->n_plain = 0;
	sm->icmp_errno = 0;
	sm->icmp_until_ns = 0;
	sm->icmp_resent = false;
}

const char *probe_sm_init(struct probe_sm *sm, const struct probe_request *req,
		  const struct probe_sm_random *rnd,
		  struct probe_result *result)
{
	const char *names[3];
	int n;

	sm_reset(sm, req, result);
	sm->sequence = rnd->sequence;
	sm->xmt = rnd->xmt != 0 ? rnd->xmt : 1; /* a zero origin would match
						   a zeroed reply */
	sm->xmt_auth = 0;
	if (req->method == PROBE_KEY) {
		sm->obs.key_method = true;
		sm->key = *req->key;
		sm->xmt_auth = rnd->xmt_auth;
		if (sm->xmt_auth == 0 || sm->xmt_auth == sm->xmt)
			sm->xmt_auth = sm->xmt + 1 != 0 ? sm->xmt + 1 : 2;
		n = ntpauth_build_request(sm->primary, sm->xmt_auth, &sm->key);
		if (n < 0) {
			ntpauth_key_wipe(&sm->key);
			return init_failed(result, "cannot compute the MAC");
		}
	} else if (req->method == PROBE_REFID) {
		memset(&sm->key, 0, sizeof(sm->key));
		n = refid_init(sm, req);
		if (n < 0)
			return init_failed(result, "bad refid code");
	} else {
		memset(&sm->key, 0, sizeof(sm->key));
		n = m6_build_readvar(sm->primary, sizeof(sm->primary),
				     M6_VERSION_DEFAULT, sm->sequence, names,
				     readvar_names(sm, names));
		if (n < 0) {
			return init_failed(result, "bad variable name");
		}
	}
	sm->primary_len = (size_t)n;
	ntp3_build_request(sm->plain, sm->xmt);
	return NULL;
}
