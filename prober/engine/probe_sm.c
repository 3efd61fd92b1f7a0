/*
 * probe_sm.c - the protocol of one attempt: what to send, what replies
 * mean, when it is over. No I/O here: see probe_sm.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/probe_sm.h"
#include "core/textout.h"

#define NS_PER_MS UINT64_C(1000000)

/* The errors by which ICMP reports a connected UDP socket's peer gone. */
static bool is_icmp_errno(int err)
{
	return err == ECONNREFUSED || err == EHOSTUNREACH ||
	       err == ENETUNREACH || err == EHOSTDOWN;
}

static double ms_between(uint64_t from_ns, uint64_t to_ns)
{
	return (double)(int64_t)(to_ns - from_ns) / 1e6;
}

/* The primary request (READVAR, or the keyed mode 3) has its answer. */
static bool primary_finished(const struct probe_sm *sm)
{
	if (sm->obs.key_method)
		return sm->obs.auth != AUTH_NONE;
	if (sm->obs.refid_method)
		return sm->obs.ntp_answered;
	return sm->obs.m6 == M6_STATE_DATA || sm->obs.m6 == M6_STATE_ERROR ||
	       sm->obs.m6 == M6_STATE_FATAL;
}

/* The pacing gap, which is also the retransmit interval. */
static uint64_t gap_ns(const struct probe_sm *sm)
{
	uint64_t ms = sm->req->retransmit_ms > 0 ? sm->req->retransmit_ms : 1;

	return ms * NS_PER_MS;
}

/* When the next tick is due, from the timers. */
static void plan_wake(const struct probe_sm *sm, struct probe_sm_out *out)
{
	uint64_t when = sm->deadline_ns;

	if (sm->next_send_ns != 0 && sm->next_send_ns < when)
		when = sm->next_send_ns;
	if (sm->icmp_until_ns != 0 && sm->icmp_until_ns < when)
		when = sm->icmp_until_ns;
	out->wake_ns = when;
}

static void finish(struct probe_sm *sm, struct probe_sm_out *out)
{
	struct probe_verdict v;
	struct probe_result *r = sm->result;

	if (sm->obs.m6 == M6_STATE_DATA) {
		sm->obs.data = sm->reasm ? sm->reasm->data : sm->single;
		sm->obs.len = sm->reply_len;
		/* Stratum and refid from the READVAR, unless mode 3 said. */
		if (!r->ntp_answered &&
		    probe_sysvars(sm->obs.data, sm->obs.len, &r->stratum,
				  r->refid)) {
			/* Mode 6 shows 16 while unsynchronised (mode 3: 0). */
			r->ntp_kind = r->stratum >= 1 && r->stratum <= 15
					      ? NTP3_SYNCED
					      : NTP3_UNSYNCED;
			r->ntp_answered = true;
		}
	}
	probe_classify(&sm->obs, &v);

	r->outcome = v.outcome;
	r->contrary = v.contrary;
	str_copy(r->detail, sizeof(r->detail), v.detail);
	if (v.value != NULL) {
		size_t n = v.value_len < PROBE_VALUE_MAX ? v.value_len
							  : PROBE_VALUE_MAX;
		r->have_value = true;
		r->value_len = v.value_len;
		memcpy(r->value, v.value, n);
		r->value[n] = '\0';
	}
	probe_sm_cancel(sm); /* the result holds its own copy of the value */
	sm->finished = true;
	out->done = true;
}

/* Ask the gate for one packet; false: hold it back. */
static bool gate_ok(struct probe_sm *sm)
{
	const struct probe_request *req = sm->req;

	if (req->gate != NULL &&
	    !req->gate(req->gate_arg, (const struct sockaddr *)&req->dst)) {
		sm->result->held++;
		return false;
	}
	return true;
}

/* The next slot comes one gap after `now`, if before the deadline. */
static void plan_slot(struct probe_sm *sm, uint64_t now)
{
	uint64_t next = now + gap_ns(sm);

	sm->next_send_ns = next < sm->deadline_ns ? next : 0;
}

/*
 * What the next slot carries. The primary first; one gap later the plain
 * request if the primary is still unanswered (only its answer can tell
 * "mode 6 / the key is refused" from "nothing answers"); then the two in
 * turn while unanswered, or only the primary once mode 3 has answered.
 * Nothing after a kiss. PROBE_REFID has no plain request beside its
 * primary, which is one already. The retransmit that checks an ICMP error is
 * whichever comes next: a closed port answers either with another error,
 * and an answer to the plain request proves the port open.
 */
static bool next_is_plain(const struct probe_sm *sm)
{
	return !sm->obs.refid_method && !sm->obs.ntp_answered &&
	       sm->n_plain < sm->n_primary;
}

/* A slot has come: send what it carries (one packet), or plan the next. */
static void transmit(struct probe_sm *sm, uint64_t now,
		     struct probe_sm_out *out)
{
	sm->next_send_ns = 0;
	if (primary_finished(sm) || sm->quiet)
		return;
	bool plain = next_is_plain(sm);
	if (gate_ok(sm)) {
		out->send_primary = !plain;
		out->send_plain = plain;
	}
	sm->asked_primary = out->send_primary;
	sm->asked_plain = out->send_plain;
	if (!out->send_primary && !out->send_plain) {
		plan_slot(sm, now); /* held: try again one gap later */
		/* An ICMP error waits for its retransmit, not for the gate:
		 * without one it is not believed before the deadline. */
		if (sm->icmp_errno != 0 && !sm->icmp_resent)
			sm->icmp_until_ns = sm->next_send_ns != 0
					? sm->next_send_ns + gap_ns(sm)
					: sm->deadline_ns;
		if (sm->icmp_until_ns > sm->deadline_ns)
			sm->icmp_until_ns = sm->deadline_ns;
	}
}

/*
 * ICMP errors. Anyone who guesses the ephemeral port can forge one, so
 * the first is not believed at once: the next packet goes out in its slot
 * (never sooner: a rate-limited server would drop a retransmit inside the
 * gap, and a closed port loses nothing by the wait), and a real reply
 * gets up to one retransmit interval after it to arrive. A second ICMP
 * error after that retransmit, or the wait running out, ends the attempt
 * as unreachable; a valid reply voids the error. The cost: a closed port
 * takes one gap longer and one more datagram (docs/security.md, "Forged
 * ICMP errors").
 */
static bool icmp_void(const struct probe_sm *sm)
{
	return primary_finished(sm) || sm->obs.ntp_answered;
}

static void icmp_conclude(struct probe_sm *sm, int err,
			  struct probe_sm_out *out)
{
	sm->obs.net_errno = err;
	finish(sm, out);
}

static void icmp_seen(struct probe_sm *sm, int err, uint64_t now,
		      struct probe_sm_out *out)
{
	if (icmp_void(sm))
		return;
	if (sm->icmp_errno != 0) {
		/* Before the retransmit it is the same evidence again. */
		if (sm->icmp_resent)
			icmp_conclude(sm, err, out);
		return;
	}
	uint64_t slot = now;
	if (sm->wire_used && sm->last_wire_ns + gap_ns(sm) > now)
		slot = sm->last_wire_ns + gap_ns(sm);
	sm->icmp_errno = err;
	if (slot >= sm->deadline_ns || sm->quiet) {
		/* No slot left for the retransmit: decide at the deadline. */
		sm->next_send_ns = 0;
		sm->icmp_until_ns = sm->deadline_ns;
		return;
	}
	uint64_t until = slot + gap_ns(sm);
	sm->next_send_ns = slot;
	sm->icmp_until_ns = until < sm->deadline_ns ? until : sm->deadline_ns;
}

static void out_reset(struct probe_sm_out *out)
{
	out->send_primary = out->send_plain = out->done = false;
	out->wake_ns = 0;
}

void probe_sm_start(struct probe_sm *sm, uint64_t now_ns,
		    struct probe_sm_out *out)
{
	out_reset(out);
	sm->deadline_ns = now_ns + sm->req->timeout_ms * NS_PER_MS;
	sm->last_primary_ns = now_ns;
	transmit(sm, now_ns, out);
	plan_wake(sm, out);
}

void probe_sm_sent(struct probe_sm *sm, unsigned n_sent, int err,
		   uint64_t now_ns, struct probe_sm_out *out)
{
	bool asked = sm->asked_primary || sm->asked_plain;

	if (asked && n_sent >= 1) {
		sm->result->sent++;
		sm->last_wire_ns = now_ns;
		sm->wire_used = true;
		if (sm->asked_primary) {
			sm->n_primary++;
			sm->last_primary_ns = now_ns;
		} else {
			sm->n_plain++;
		}
		if (sm->icmp_errno != 0 && !sm->icmp_resent) {
			uint64_t until = now_ns + gap_ns(sm);
			sm->icmp_resent = true;
			sm->icmp_until_ns = until < sm->deadline_ns
						    ? until
						    : sm->deadline_ns;
		}
	}
	sm->asked_primary = sm->asked_plain = false;
	out->send_primary = out->send_plain = false;
	plan_slot(sm, now_ns);
	/* An earlier ICMP error surfaces on send as well as on receive. */
	if (asked && n_sent == 0 && is_icmp_errno(err))
		icmp_seen(sm, err, now_ns, out);
	if (!out->done)
		plan_wake(sm, out);
}

static void reject(struct probe_sm *sm, const char *why)
{
	sm->result->rejected++;
	sm->obs.rejected++;
	if (sm->obs.reject_reason == NULL)
		sm->obs.reject_reason = why;
}

static void m6_fatal(struct probe_sm *sm, const char *why,
		     struct probe_sm_out *out)
{
	sm->obs.m6 = M6_STATE_FATAL;
	sm->obs.reject_reason = why;
	finish(sm, out); /* no wait for mode 3 */
}

/* A validated, non-error mode 6 reply datagram: keep or reassemble it. */
static void m6_data(struct probe_sm *sm, const struct m6_header *hdr,
		    const uint8_t *data, struct probe_sm_out *out)
{
	/*
	 * Nearly every reply is one datagram: keep it inline and skip the
	 * reassembly buffer. Anything else goes through full reassembly.
	 */
	if (sm->reasm == NULL && hdr->offset == 0 && !hdr->more) {
		memcpy(sm->single, data, hdr->count);
		sm->reply_len = hdr->count;
		sm->obs.m6 = M6_STATE_DATA;
		finish(sm, out);
		return;
	}
	if (sm->reasm == NULL) {
		sm->reasm = malloc(sizeof(*sm->reasm));
		if (sm->reasm == NULL) {
			m6_fatal(sm, "out of memory", out);
			return;
		}
		m6_reasm_init(sm->reasm);
	}
	enum m6_reasm_status st = m6_reasm_add(sm->reasm, hdr, data);
	if (st == M6_REASM_DUPLICATE)
		return;
	if (m6_reasm_fatal(st)) {
		m6_fatal(sm, m6_reasm_status_name(st), out);
		return;
	}
	if (st == M6_REASM_DONE &&
	    m6_reasm_complete(sm->reasm, &sm->reply_len)) {
		sm->obs.m6 = M6_STATE_DATA;
		finish(sm, out);
		return;
	}
	sm->obs.m6 = M6_STATE_PARTIAL;
}

static void handle_m6(struct probe_sm *sm, const uint8_t *pkt, size_t len,
		      uint64_t now, struct probe_sm_out *out)
{
	const struct m6_expect expect = {
		.version = M6_VERSION_DEFAULT,
		.opcode = M6_OP_READVAR,
		.sequence = sm->sequence,
		.associd = 0,
	};
	struct m6_header hdr;
	const uint8_t *data;
	enum m6_check check = m6_parse_reply(pkt, len, &expect, &hdr, &data);

	if (check == M6_BAD_SEQUENCE || check == M6_BAD_OFFSET) {
		/*
		 * Fatal rather than ignored. A wrong sequence number on this
		 * fresh socket is never an old reply: only a blind spoofer who
		 * found the port sends one, and ending the probe on it caps a
		 * guesser at 1 in 65,536 per probe whatever its packet rate
		 * (docs/security.md). Data past the reassembly bound can
		 * never complete, so waiting for more is pointless.
		 */
		const char *why = check == M6_BAD_SEQUENCE ? m6_check_name(check)
							   : "reply too long";
		reject(sm, why);
		m6_fatal(sm, why, out);
		return;
	}
	if (check != M6_OK) {
		reject(sm, m6_check_name(check));
		return;
	}
	if (sm->result->rtt_ms < 0)
		sm->result->rtt_ms = ms_between(sm->last_primary_ns, now);

	if (hdr.error) {
		sm->obs.m6 = M6_STATE_ERROR;
		sm->obs.error_code = m6_error_code(&hdr);
		finish(sm, out);
		return;
	}
	m6_data(sm, &hdr, data, out);
}

/* A valid mode 4 reply: what it says about the server, for display. */
static void note_ntp(struct probe_sm *sm, const struct ntp3_reply *reply)
{
	struct probe_result *r = sm->result;

	r->ntp_answered = true;
	r->ntp_kind = reply->kind;
	r->stratum = reply->stratum;
	ntp3_refid_str(reply, r->refid);
	if (ntp3_is_kiss(reply->kind) && reply->kind != NTP3_KISS_OTHER)
		r->kissed = true;
}

/*
 * A kiss in answer to the keyed request. ntp.org ntpd signs the RATE
 * kisses it sends to keyed requests: key ID and a MAC under the server's
 * key. One that verifies under ours and echoes the keyed request's origin
 * (ntp3_parse_reply checked that) was made by a holder of the key:
 * verified, and the kiss is still obeyed (result->kissed: the holdoff).
 * Any other kiss (no MAC, a MAC that fails, another key ID) is an
 * unauthenticated kiss and speaks for both requests: rate_limited.
 * Either way nothing more is sent.
 */
static void keyed_kiss(struct probe_sm *sm, const uint8_t *pkt, size_t len,
		       const struct ntp3_reply *reply,
		       struct probe_sm_out *out)
{
	sm->obs.ntp_kind = reply->kind;
	if (len > NTP3_PACKET_LEN &&
	    ntpauth_verify_reply(pkt, len, &sm->key) == NTPAUTH_OK) {
		sm->obs.auth = AUTH_OK;
		sm->obs.auth_kiss = true;
		sm->obs.auth_reason = ntpauth_check_name(NTPAUTH_OK);
	} else {
		sm->obs.ntp_answered = true;
	}
	finish(sm, out);
}

/* A reply whose origin is the keyed request's: check its MAC. */
static void handle_auth(struct probe_sm *sm, const uint8_t *pkt, size_t len,
			const struct ntp3_reply *reply, uint64_t now,
			struct probe_sm_out *out)
{
	struct probe_result *r = sm->result;
	enum ntpauth_check c;

	if (r->rtt_ms < 0)
		r->rtt_ms = ms_between(sm->last_primary_ns, now);
	note_ntp(sm, reply);
	/* Stratum 0 with another code (chrony's empty refid while
	 * unsynchronised) is an ordinary reply, as is INIT/STEP. */
	if (ntp3_is_kiss(reply->kind) && reply->kind != NTP3_KISS_OTHER) {
		keyed_kiss(sm, pkt, len, reply, out);
		return;
	}
	c = ntpauth_verify_reply(pkt, len, &sm->key);
	switch (c) {
	case NTPAUTH_OK:
		sm->obs.auth = AUTH_OK;
		break;
	case NTPAUTH_NO_MAC:
	case NTPAUTH_CRYPTO_NAK:
		sm->obs.auth = AUTH_REFUSED;
		sm->obs.crypto_nak = c == NTPAUTH_CRYPTO_NAK;
		break;
	default:
		sm->obs.auth = AUTH_BAD;
		break;
	}
	sm->obs.auth_reason = ntpauth_check_name(c);
	finish(sm, out);
}

static void handle_m4(struct probe_sm *sm, const uint8_t *pkt, size_t len,
		      uint64_t now, struct probe_sm_out *out)
{
	struct ntp3_reply reply;

	if (sm->obs.key_method && !primary_finished(sm) &&
	    ntp3_parse_reply(pkt, len, sm->xmt_auth, &reply) == NTP3_OK) {
		handle_auth(sm, pkt, len, &reply, now, out);
		return;
	}
	if (ntp3_parse_reply(pkt, len, sm->xmt, &reply) != NTP3_OK) {
		/* Not an answer to us; it says nothing about mode 6. */
		sm->result->rejected++;
		return;
	}
	if (sm->obs.ntp_answered)
		return;
	sm->obs.ntp_answered = true;
	sm->obs.ntp_kind = reply.kind;
	sm->obs.ntp_stratum = reply.stratum;
	memcpy(sm->obs.ntp_refid, reply.refid, sizeof(sm->obs.ntp_refid));
	note_ntp(sm, &reply);
	if (sm->obs.refid_method) {
		/* The reply to the primary: classify_refid() judges it. */
		if (sm->result->rtt_ms < 0)
			sm->result->rtt_ms = ms_between(sm->last_primary_ns, now);
		finish(sm, out);
		return;
	}
	/* A kiss says "slow down": wait for the primary, send nothing. */
	if (sm->result->kissed) {
		sm->quiet = true;
		sm->next_send_ns = 0;
	}
}

void probe_sm_datagram(struct probe_sm *sm, const uint8_t *pkt, size_t len,
		       uint64_t now_ns, struct probe_sm_out *out)
{
	out_reset(out);
	if (sm->finished) {
		out->done = true;
		return;
	}
	sm->result->received++;
	if (len > PROBE_RECV_MAX)
		reject(sm, "oversized datagram");
	else if (len >= 1 && (pkt[0] & 0x07) == NTP3_MODE_SERVER)
		handle_m4(sm, pkt, len, now_ns, out);
	else if (sm->obs.refid_method || sm->obs.key_method)
		/* No mode 6 was asked: a mode 6 datagram (a wrong sequence
		 * number included) says nothing and cannot end the attempt. */
		reject(sm, "not an NTP server reply");
	else if (!primary_finished(sm))
		handle_m6(sm, pkt, len, now_ns, out);
	if (!out->done && icmp_void(sm)) {
		/* A valid reply: the ICMP error was not. */
		sm->icmp_until_ns = 0;
		sm->icmp_errno = 0;
	}
	if (!out->done)
		plan_wake(sm, out);
}

void probe_sm_net_error(struct probe_sm *sm, int err, uint64_t now_ns,
			struct probe_sm_out *out)
{
	out_reset(out);
	if (sm->finished) {
		out->done = true;
		return;
	}
	if (is_icmp_errno(err))
		icmp_seen(sm, err, now_ns, out);
	if (!out->done)
		plan_wake(sm, out);
}

void probe_sm_tick(struct probe_sm *sm, uint64_t now_ns,
		   struct probe_sm_out *out)
{
	out_reset(out);
	if (sm->finished) {
		out->done = true;
		return;
	}
	if (sm->icmp_until_ns != 0 && now_ns >= sm->icmp_until_ns) {
		icmp_conclude(sm, sm->icmp_errno, out);
		return;
	}
	if (now_ns >= sm->deadline_ns) {
		finish(sm, out);
		return;
	}
	if (sm->next_send_ns != 0 && now_ns >= sm->next_send_ns)
		transmit(sm, now_ns, out);
	plan_wake(sm, out);
}

void probe_sm_cancel(struct probe_sm *sm)
{
	free(sm->reasm);
	sm->reasm = NULL;
	ntpauth_key_wipe(&sm->key);
}
