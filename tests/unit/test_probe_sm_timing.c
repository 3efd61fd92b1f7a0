/*
 * test_probe_sm_timing.c - when an attempt sends and when it ends,
 * without sockets: retransmits, the grace wait for mode 3, ICMP errors,
 * the gate.
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

/* Nothing answers: both requests every second, then the deadline. */
static void test_retransmit_timing(void **state)
{
	static const uint64_t want_at[] = { 1000, 2000 };

	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(R.out.wake_ns, T0 + want_at[i] * MS);
		/* Early: nothing goes out. */
		R.now = R.out.wake_ns - 1;
		tick();
		assert_int_equal(R.res.sent, 2 * (i + 1));
		assert_int_equal(R.out.wake_ns, T0 + want_at[i] * MS);
		at(want_at[i]);
		tick();
		assert_int_equal(R.res.sent, 2 * (i + 2));
		assert_false(R.out.done);
	}
	/* The next retransmit would be at the deadline: none planned. */
	assert_int_equal(R.out.wake_ns, T0 + 3000 * MS);
	at(3000);
	tick();
	assert_outcome(OUTCOME_NO_RESPONSE, "no reply");
	assert_int_equal(R.primaries, 3);
	assert_int_equal(R.plains, 3);
	assert_true(R.res.rtt_ms < 0);
}

/* Once mode 3 has answered, only the primary is retransmitted. */
static void test_retransmit_only_unanswered(void **state)
{
	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	at(10);
	feed("ntp3_stratum2.hex");
	at(1000);
	tick();
	assert_true(R.out.wake_ns == T0 + 2000 * MS);
	assert_int_equal(R.primaries, 2);
	assert_int_equal(R.plains, 1);
	run_to_end();
	assert_outcome(OUTCOME_MODE6_SILENT, "NTP answers, mode 6 does not");
	assert_int_equal(R.primaries, 3);
	assert_int_equal(R.res.sent, 4);
}

static void test_mode6_silent_vs_no_response(void **state)
{
	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	feed("ntp3_stratum1_gps.hex");
	run_to_end();
	assert_outcome(OUTCOME_MODE6_SILENT, "NTP answers, mode 6 does not");
	assert_string_equal(R.res.refid, "GPS");

	start_setvar(TOKEN, SEQ_V1);
	run_to_end();
	assert_outcome(OUTCOME_NO_RESPONSE, "no reply");
	assert_false(R.res.ntp_answered);
}

/* Mode 6 answered, mode 3 not: wait one retransmit interval for it. */
static void test_grace_for_mode3(void **state)
{
	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	at(200);
	feed("m6_v1_reply.hex");
	assert_false(R.out.done);
	assert_int_equal(R.out.wake_ns, T0 + 1200 * MS);
	/* The retransmit planned for 1000 ms is cancelled. */
	at(1000);
	tick();
	assert_int_equal(R.res.sent, 2);
	at(1200);
	tick();
	assert_outcome(OUTCOME_VERIFIED, "token matches");
	assert_false(R.res.ntp_answered);

	/* The grace wait never outlasts the deadline. */
	start_setvar(TOKEN, SEQ_V1);
	at(2500);
	tick(); /* the 1000 ms retransmit, late */
	feed("m6_v1_reply.hex");
	assert_int_equal(R.out.wake_ns, T0 + 3000 * MS);
	run_to_end();
	assert_int_equal(R.now, T0 + 3000 * MS);
	assert_outcome(OUTCOME_VERIFIED, "token matches");
}

/* A closed port: ICMP, the one retransmit, ICMP again: unreachable. */
static void test_icmp_unreachable(void **state)
{
	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	at(20);
	net_error(ECONNREFUSED);
	assert_false(R.out.done); /* not believed yet */
	assert_int_equal(R.primaries, 2);
	assert_int_equal(R.plains, 2);
	at(21);
	net_error(ECONNREFUSED);
	assert_outcome(OUTCOME_UNREACHABLE, "port unreachable");
	assert_int_equal(R.res.sent, 4);

	start_setvar(TOKEN, SEQ_V1);
	net_error(EHOSTUNREACH);
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
	feed("ntp3_stratum2.hex");
	feed("m6_v1_reply.hex");
	assert_outcome(OUTCOME_VERIFIED, "token matches");

	/* A second forged error after the reply changes nothing. */
	start_setvar(TOKEN, SEQ_V1);
	net_error(ECONNREFUSED);
	feed("m6_v1_reply.hex");
	net_error(ECONNREFUSED);
	assert_false(R.out.done); /* the grace wait for mode 3 */
	run_to_end();
	assert_outcome(OUTCOME_VERIFIED, "token matches");

	/* Key method: the same. */
	start_key(false);
	net_error(ECONNREFUSED);
	feed("ntp3_auth_aes128_reply.hex");
	feed_with_origin("ntp3_stratum2.hex", OTHER_XMT);
	assert_outcome(OUTCOME_VERIFIED, "MAC verifies");
}

/* A mode 3 answer proves the port open: the ICMP error is void. */
static void test_icmp_then_mode3(void **state)
{
	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	at(2);
	net_error(ECONNREFUSED);
	at(4);
	feed("ntp3_stratum2.hex");
	net_error(ECONNREFUSED);
	assert_false(R.out.done);
	run_to_end();
	assert_int_equal(R.now, T0 + 3000 * MS);
	assert_outcome(OUTCOME_MODE6_SILENT, "NTP answers, mode 6 does not");
}

/* ICMP, then silence: unreachable one retransmit interval later. */
static void test_icmp_then_silence(void **state)
{
	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	at(500);
	net_error(ECONNREFUSED);
	assert_int_equal(R.res.sent, 4);
	assert_int_equal(R.out.wake_ns, T0 + 1500 * MS);
	at(1499);
	tick();
	assert_false(R.out.done);
	at(1500);
	tick();
	assert_outcome(OUTCOME_UNREACHABLE, "port unreachable");
	assert_int_equal(R.res.sent, 4); /* no retransmit besides the one */

	/* The wait never outlasts the deadline, and still concludes. */
	start_setvar(TOKEN, SEQ_V1);
	at(2500);
	tick(); /* the 1000 ms retransmit, late */
	net_error(ECONNREFUSED);
	assert_int_equal(R.out.wake_ns, T0 + 3000 * MS);
	run_to_end();
	assert_int_equal(R.now, T0 + 3000 * MS);
	assert_outcome(OUTCOME_UNREACHABLE, "port unreachable");
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
	assert_int_equal(R.res.sent, 2);
	assert_int_equal(R.out.wake_ns, T0 + 1010 * MS);
	run_to_end();
	assert_int_equal(R.now, T0 + 1010 * MS);
	assert_outcome(OUTCOME_UNREACHABLE, "port unreachable");
}

/* An ICMP error surfacing on a retransmit counts as one on receive. */
static void test_icmp_on_send(void **state)
{
	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	at(1000);
	R.send_err = ECONNREFUSED;
	tick();
	assert_false(R.out.done);
	assert_int_equal(R.out.wake_ns, R.now); /* the retransmit, at once */
	R.send_err = 0;
	tick();
	assert_int_equal(R.res.sent, 4);
	assert_int_equal(R.out.wake_ns, T0 + 2000 * MS);
	net_error(ECONNREFUSED);
	assert_outcome(OUTCOME_UNREACHABLE, "port unreachable");
}

/* After the primary's answer, an ICMP error does not end the wait. */
static void test_icmp_after_answer(void **state)
{
	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	feed("m6_v1_reply.hex");
	probe_sm_net_error(&R.sm, ECONNREFUSED, R.now, &R.out);
	assert_false(R.out.done);
	run_to_end();
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
	assert_int_equal(R.res.held, 2);
	assert_int_equal(R.out.wake_ns, T0 + 1000 * MS);
	run_to_end();
	assert_outcome(OUTCOME_NO_RESPONSE, "no reply");
	assert_int_equal(R.res.held, 6);
	assert_int_equal(R.gate_calls, 6);
	assert_int_equal(R.res.sent, 0);

	/* One token: the primary goes, the plain request is held. */
	setup_common(PROBE_SETVAR, "ntppool_verify", TOKEN, SEQ_V1, XMT, 0,
		     NULL);
	R.gate_budget = 1;
	start();
	assert_int_equal(R.primaries, 1);
	assert_int_equal(R.plains, 0);
	assert_int_equal(R.res.held, 1);
	/* Answered packets are not even asked about. */
	feed("m6_v1_reply.hex");
	R.gate_budget = -1;
	run_to_end();
	assert_outcome(OUTCOME_VERIFIED, "token matches");
	assert_int_equal(R.gate_calls, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retransmit_timing),
		cmocka_unit_test(test_retransmit_only_unanswered),
		cmocka_unit_test(test_mode6_silent_vs_no_response),
		cmocka_unit_test(test_grace_for_mode3),
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
