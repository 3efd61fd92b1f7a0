/*
 * test_probe_sm_timing.c - when an attempt sends and when it ends,
 * without sockets: the send schedule (one packet per slot, the plain
 * request only after the primary went unanswered, the pacing gap),
 * retransmits, ICMP errors, the gate. The harness fails any test in which
 * two packets go out closer together than the gap.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hexfile.h"
#include "probe_sm_harness.h"

/*
 * Nothing answers: the primary alone, one gap later the plain request,
 * one gap after that the primary again, then the deadline. Three packets
 * where the old schedule sent six, and never two inside the gap.
 */
static void test_retransmit_timing(void **state)
{
	static const uint64_t want_at[] = { GAP_MS, 2 * GAP_MS };

	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	assert_int_equal(R.res.sent, 1);
	assert_int_equal(R.plains, 0);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(R.out.wake_ns, T0 + want_at[i] * MS);
		/* Early: nothing goes out. */
		R.now = R.out.wake_ns - 1;
		tick();
		assert_int_equal(R.res.sent, i + 1);
		assert_int_equal(R.out.wake_ns, T0 + want_at[i] * MS);
		at(want_at[i]);
		tick();
		assert_int_equal(R.res.sent, i + 2);
		assert_false(R.out.done);
	}
	assert_int_equal(R.plains, 1); /* the one at GAP_MS */
	/* The next slot would be past the deadline: none planned. */
	assert_int_equal(R.out.wake_ns, T0 + TIMEOUT_MS * MS);
	at(TIMEOUT_MS);
	tick();
	assert_outcome(OUTCOME_NO_RESPONSE, "no reply");
	assert_int_equal(R.primaries, 2);
	assert_int_equal(R.plains, 1);
	assert_int_equal(R.min_gap, GAP_MS * MS);
	assert_true(R.res.rtt_ms < 0);
}

/* A server that answers gets exactly one packet, and the result is final
 * at once: no wait for a mode 3 reply. */
static void test_one_packet_when_answered(void **state)
{
	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	at(40);
	feed("m6_sysvars_reply.hex");
	assert_outcome(OUTCOME_VERIFIED, "token matches");
	assert_int_equal(R.res.sent, 1);
	assert_int_equal(R.plains, 0);
	assert_int_equal(R.gate_calls, 1);

	start_key(false);
	at(40);
	feed("ntp3_auth_aes128_reply.hex");
	assert_outcome(OUTCOME_VERIFIED, "MAC verifies");
	assert_int_equal(R.res.sent, 1);
	assert_int_equal(R.gate_calls, 1);
}

/* Once mode 3 has answered, only the primary is retransmitted. */
static void test_retransmit_only_unanswered(void **state)
{
	(void)state;
	setup_common(PROBE_SETVAR, "ntppool_verify", TOKEN, SEQ_V1, XMT, 0,
		     NULL);
	R.req.timeout_ms = 9000; /* room for four slots */
	start();
	at(GAP_MS);
	tick();
	assert_int_equal(R.plains, 1);
	at(GAP_MS + 10);
	feed("ntp3_stratum2.hex");
	run_to_end();
	assert_outcome(OUTCOME_MODE6_SILENT, "NTP answers, mode 6 does not");
	/* 0 primary, 2 s plain, 4 s and 6 s primary, 8 s primary. */
	assert_int_equal(R.primaries, 4);
	assert_int_equal(R.plains, 1);
	assert_int_equal(R.res.sent, 5);
}

/* The plain request waits for the primary to go unanswered one gap. */
static void test_fallback_after_gap(void **state)
{
	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	at(GAP_MS - 1);
	tick();
	assert_int_equal(R.plains, 0);
	at(GAP_MS);
	tick();
	assert_int_equal(R.plains, 1);
	assert_int_equal(R.primaries, 1);
	feed("ntp3_stratum1_gps.hex");
	run_to_end();
	assert_outcome(OUTCOME_MODE6_SILENT, "NTP answers, mode 6 does not");
	assert_string_equal(R.res.refid, "GPS");
	assert_int_equal(R.res.sent, 3);

	start_setvar(TOKEN, SEQ_V1);
	run_to_end();
	assert_outcome(OUTCOME_NO_RESPONSE, "no reply");
	assert_false(R.res.ntp_answered);

	/* A timeout no longer than the gap leaves no room for it. */
	setup_common(PROBE_SETVAR, "ntppool_verify", TOKEN, SEQ_V1, XMT, 0,
		     NULL);
	R.req.timeout_ms = GAP_MS;
	start();
	run_to_end();
	assert_outcome(OUTCOME_NO_RESPONSE, "no reply");
	assert_int_equal(R.res.sent, 1);
}

/* A lost primary: the plain answers, the retransmitted primary verifies. */
static void test_lost_primary(void **state)
{
	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	at(GAP_MS);
	tick();
	at(GAP_MS + 5);
	feed("ntp3_stratum2.hex");
	assert_false(R.out.done);
	at(2 * GAP_MS);
	tick();
	assert_int_equal(R.primaries, 2);
	at(2 * GAP_MS + 5);
	feed("m6_v1_reply.hex");
	assert_outcome(OUTCOME_VERIFIED, "token matches");
	assert_true(R.res.rtt_ms > 4.999 && R.res.rtt_ms < 5.001);
	assert_int_equal(R.res.stratum, 2); /* from the plain reply */
}

/*
 * A closed port: ICMP, the one retransmit (the next packet, the plain
 * request here, in its slot: the ICMP confirmation keeps the pacing gap
 * too), ICMP again.
 */
static void test_icmp_unreachable(void **state)
{
	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	at(20);
	net_error(ECONNREFUSED);
	assert_false(R.out.done); /* not believed yet */
	assert_int_equal(R.res.sent, 1); /* not at once: the gap */
	assert_int_equal(R.out.wake_ns, T0 + GAP_MS * MS);
	at(21);
	net_error(ECONNREFUSED); /* before the retransmit: the same evidence */
	assert_false(R.out.done);
	at(GAP_MS);
	tick();
	assert_int_equal(R.primaries, 1);
	assert_int_equal(R.plains, 1);
	at(GAP_MS + 1);
	net_error(ECONNREFUSED);
	assert_outcome(OUTCOME_UNREACHABLE, "port unreachable");
	assert_int_equal(R.res.sent, 2);

	start_setvar(TOKEN, SEQ_V1);
	net_error(EHOSTUNREACH);
	at(GAP_MS);
	tick();
	net_error(EHOSTUNREACH);
	assert_outcome(OUTCOME_UNREACHABLE, strerror(EHOSTUNREACH));

	/* Other receive errors say nothing about the server. */
	start_setvar(TOKEN, SEQ_V1);
	net_error(ENOBUFS);
	assert_false(R.out.done);
	run_to_end();
	assert_outcome(OUTCOME_NO_RESPONSE, "no reply");
}

/* A forged ICMP error, then the server's real reply: the reply wins. */
static void test_icmp_then_reply(void **state)
{
	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	at(2);
	net_error(ECONNREFUSED);
	at(5);
	feed("m6_v1_reply.hex");
	assert_outcome(OUTCOME_VERIFIED, "token matches");

	/* An error after the reply changes nothing. */
	start_setvar(TOKEN, SEQ_V1);
	net_error(ECONNREFUSED);
	feed("m6_v1_reply.hex");
	net_error(ECONNREFUSED);
	assert_outcome(OUTCOME_VERIFIED, "token matches");

	/* Key method: the same. */
	start_key(false);
	net_error(ECONNREFUSED);
	feed("ntp3_auth_aes128_reply.hex");
	assert_outcome(OUTCOME_VERIFIED, "MAC verifies");
	assert_int_equal(R.res.sent, 1);
}

/* A mode 3 answer proves the port open: the ICMP error is void. */
static void test_icmp_then_mode3(void **state)
{
	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	at(GAP_MS);
	tick(); /* the plain request */
	at(GAP_MS + 2);
	net_error(ECONNREFUSED);
	at(GAP_MS + 4);
	feed("ntp3_stratum2.hex");
	net_error(ECONNREFUSED);
	assert_false(R.out.done);
	run_to_end();
	assert_int_equal(R.now, T0 + TIMEOUT_MS * MS);
	assert_outcome(OUTCOME_MODE6_SILENT, "NTP answers, mode 6 does not");
	assert_int_equal(R.res.sent, 3);
}

/* ICMP, then silence: unreachable one gap after the retransmit. */
static void test_icmp_then_silence(void **state)
{
	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	at(500);
	net_error(ECONNREFUSED);
	assert_int_equal(R.out.wake_ns, T0 + GAP_MS * MS);
	at(GAP_MS);
	tick();
	assert_int_equal(R.res.sent, 2);
	assert_int_equal(R.out.wake_ns, T0 + 2 * GAP_MS * MS);
	at(2 * GAP_MS - 1);
	tick();
	assert_false(R.out.done);
	at(2 * GAP_MS);
	tick();
	assert_outcome(OUTCOME_UNREACHABLE, "port unreachable");
	assert_int_equal(R.res.sent, 2); /* no retransmit besides the one */

	/* No slot left before the deadline: still concluded, at it. */
	start_setvar(TOKEN, SEQ_V1);
	at(GAP_MS);
	tick();
	at(2 * GAP_MS);
	tick();
	at(2 * GAP_MS + 500);
	net_error(ECONNREFUSED);
	assert_int_equal(R.out.wake_ns, T0 + TIMEOUT_MS * MS);
	run_to_end();
	assert_int_equal(R.now, T0 + TIMEOUT_MS * MS);
	assert_outcome(OUTCOME_UNREACHABLE, "port unreachable");
	assert_int_equal(R.res.sent, 3);
}

/* Errors before the retransmit went out are the same evidence again. */
static void test_icmp_before_resend(void **state)
{
	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	R.gate_budget = 0; /* the rate limit holds the retransmit */
	at(10);
	net_error(ECONNREFUSED);
	net_error(ECONNREFUSED);
	assert_false(R.out.done);
	assert_int_equal(R.res.sent, 1);
	assert_int_equal(R.out.wake_ns, T0 + GAP_MS * MS);
	run_to_end();
	assert_int_equal(R.now, T0 + 2 * GAP_MS * MS);
	assert_outcome(OUTCOME_UNREACHABLE, "port unreachable");
	assert_int_equal(R.res.held, 1);
}

/* An ICMP error surfacing on a send counts as one on receive. */
static void test_icmp_on_send(void **state)
{
	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	at(GAP_MS);
	R.send_err = ECONNREFUSED;
	tick(); /* the plain request fails */
	assert_false(R.out.done);
	/* Nothing went out: the retransmit may go at once. */
	assert_int_equal(R.out.wake_ns, R.now);
	R.send_err = 0;
	tick(); /* the plain request again, and out */
	assert_int_equal(R.res.sent, 2);
	assert_int_equal(R.plains, 1);
	assert_int_equal(R.out.wake_ns, T0 + 2 * GAP_MS * MS);
	net_error(ECONNREFUSED);
	assert_outcome(OUTCOME_UNREACHABLE, "port unreachable");
}

/* After the primary's answer, an ICMP error changes nothing. */
static void test_icmp_after_answer(void **state)
{
	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	feed("m6_v1_reply.hex");
	assert_outcome(OUTCOME_VERIFIED, "token matches");
	probe_sm_net_error(&R.sm, ECONNREFUSED, R.now, &R.out);
	assert_outcome(OUTCOME_VERIFIED, "token matches");
}

/* The gate is asked for every packet; what it holds is not sent. */
static void test_gate_holds(void **state)
{
	(void)state;
	setup_common(PROBE_SETVAR, "ntppool_verify", TOKEN, SEQ_V1, XMT, 0,
		     NULL);
	R.gate_budget = 0;
	start();
	assert_int_equal(R.res.sent, 0);
	assert_int_equal(R.res.held, 1);
	assert_int_equal(R.out.wake_ns, T0 + GAP_MS * MS);
	run_to_end();
	assert_outcome(OUTCOME_NO_RESPONSE, "no reply");
	assert_int_equal(R.res.held, 3); /* at 0, 2 s and 4 s */
	assert_int_equal(R.gate_calls, 3);
	assert_int_equal(R.res.sent, 0);

	/* One token: the primary goes, the plain request is held. */
	setup_common(PROBE_SETVAR, "ntppool_verify", TOKEN, SEQ_V1, XMT, 0,
		     NULL);
	R.gate_budget = 1;
	start();
	at(GAP_MS);
	tick();
	assert_int_equal(R.primaries, 1);
	assert_int_equal(R.plains, 0);
	assert_int_equal(R.res.held, 1);
	/* Answered packets are not even asked about. */
	feed("m6_v1_reply.hex");
	assert_outcome(OUTCOME_VERIFIED, "token matches");
	assert_int_equal(R.gate_calls, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retransmit_timing),
		cmocka_unit_test(test_one_packet_when_answered),
		cmocka_unit_test(test_retransmit_only_unanswered),
		cmocka_unit_test(test_fallback_after_gap),
		cmocka_unit_test(test_lost_primary),
		cmocka_unit_test(test_icmp_unreachable),
		cmocka_unit_test(test_icmp_then_reply),
		cmocka_unit_test(test_icmp_then_mode3),
		cmocka_unit_test(test_icmp_then_silence),
		cmocka_unit_test(test_icmp_before_resend),
		cmocka_unit_test(test_icmp_on_send),
		cmocka_unit_test(test_icmp_after_answer),
		cmocka_unit_test(test_gate_holds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
