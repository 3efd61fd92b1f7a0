/*
 * test_probe_sm_refid.c - the refid method without sockets: one plain
 * mode 3 request, and what its reply's stratum and refid mean.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "probe_sm_harness.h"

#define CODE "K7QX"

/* A mode 4 reply (VN 4) echoing `origin`, at `stratum` with `refid`. */
static void reply(uint8_t buf[NTP3_PACKET_LEN], uint8_t stratum,
		  const char refid[4], uint64_t origin)
{
	memset(buf, 0, NTP3_PACKET_LEN);
	buf[0] = (0 << 6) | (4 << 3) | NTP3_MODE_SERVER;
	buf[1] = stratum;
	buf[2] = 6;
	buf[3] = 0xec; /* precision -20 */
	memcpy(buf + 12, refid, 4);
	for (int i = 0; i < 8; i++) {
		buf[24 + i] = (uint8_t)(origin >> (56 - 8 * i));
		buf[32 + i] = buf[40 + i] = (uint8_t)(0xe9 + i);
	}
}

static void feed_reply(uint8_t stratum, const char refid[4], uint64_t origin)
{
	uint8_t buf[NTP3_PACKET_LEN];

	reply(buf, stratum, refid, origin);
	feed_raw(buf, sizeof(buf));
}

/* Only the plain client request goes out, as the primary. */
static void test_refid_request(void **state)
{
	uint8_t want[NTP3_PACKET_LEN];

	(void)state;
	start_refid(CODE);
	ntp3_build_request(want, XMT);
	assert_int_equal(R.last_primary_len, sizeof(want));
	assert_memory_equal(R.last_primary, want, sizeof(want));
	assert_int_equal(R.primaries, 1);
	assert_int_equal(R.plains, 0);
}

static void test_refid_verified(void **state)
{
	(void)state;
	start_refid(CODE);
	at(7);
	feed_reply(1, CODE, XMT);
	assert_outcome(OUTCOME_VERIFIED, "stratum 1, refid " CODE);
	assert_false(R.res.contrary);
	assert_true(R.res.rtt_ms > 6.999 && R.res.rtt_ms < 7.001);
	assert_int_equal(R.res.stratum, 1);
	assert_string_equal(R.res.refid, CODE);
	assert_int_equal(R.res.sent, 1);
}

/* Another refid at stratum 1: shown, and a contrary observation. */
static void test_refid_mismatch(void **state)
{
	(void)state;
	start_refid(CODE);
	feed_reply(1, "GPS\0", XMT);
	assert_outcome(OUTCOME_REFID_MISMATCH,
		       "stratum 1 with refid 'GPS', not '" CODE "'");
	assert_true(R.res.contrary);
	/* A prefix of the code is not the code. */
	start_refid(CODE);
	feed_reply(1, "K7Q\0", XMT);
	assert_int_equal(R.res.outcome, OUTCOME_REFID_MISMATCH);
}

/* Stratum 2 naming the code's octets as upstream is still not stratum 1. */
static void test_refid_stratum2(void **state)
{
	(void)state;
	start_refid(CODE);
	feed_reply(2, CODE, XMT);
	assert_outcome(OUTCOME_NOT_STRATUM1, "stratum 2, refid 75.55.81.88");
	assert_true(R.res.contrary);
}

/* Unsynchronised (16, or 0 with a non-kiss code): not contrary. */
static void test_refid_unsynchronised(void **state)
{
	(void)state;
	start_refid(CODE);
	feed_reply(16, "\0\0\0\0", XMT);
	assert_outcome(OUTCOME_NOT_STRATUM1,
		       "not synchronised, stratum 16, refid 0.0.0.0");
	assert_false(R.res.contrary);
	start_refid(CODE);
	feed_reply(0, "INIT", XMT);
	assert_outcome(OUTCOME_NOT_STRATUM1,
		       "not synchronised, stratum 0, refid INIT");
	assert_false(R.res.contrary);
}

static void test_refid_kiss(void **state)
{
	(void)state;
	start_refid(CODE);
	feed_reply(0, "RATE", XMT);
	assert_outcome(OUTCOME_RATE_LIMITED, "Kiss-o'-Death RATE");
	assert_false(R.res.contrary);
}

/* A reply to someone else's request proves nothing; the real one wins. */
static void test_refid_wrong_origin(void **state)
{
	(void)state;
	start_refid(CODE);
	feed_reply(1, CODE, OTHER_XMT);
	assert_false(R.out.done);
	assert_int_equal(R.res.rejected, 1);
	feed_reply(1, "GPS\0", XMT);
	assert_outcome(OUTCOME_REFID_MISMATCH,
		       "stratum 1 with refid 'GPS', not '" CODE "'");
}

/* Only forged replies: no_response, never verified. */
static void test_refid_only_forged(void **state)
{
	(void)state;
	start_refid(CODE);
	feed_reply(1, CODE, OTHER_XMT);
	run_to_end();
	assert_outcome(OUTCOME_NO_RESPONSE, "no reply");
	assert_int_equal(R.plains, 0);
	assert_int_equal(R.primaries, 3); /* 0 s, 2 s, 4 s within 5 s */
}

/* No mode 6 was asked: a mode 6 datagram is rejected, not parsed. */
static void test_refid_mode6_rejected(void **state)
{
	uint8_t m6[12] = { 0x16, 0x82, 0x12, 0x34, 0, 0, 0, 0, 0, 0, 0, 0 };

	(void)state;
	start_refid(CODE);
	feed_raw(m6, sizeof(m6));
	assert_false(R.out.done);
	run_to_end();
	assert_outcome(OUTCOME_MALFORMED,
		       "not an NTP server reply (1 datagram)");
}

static void test_refid_unreachable(void **state)
{
	(void)state;
	start_refid(CODE);
	net_error(ECONNREFUSED);
	assert_false(R.out.done); /* the ICMP error is not believed yet */
	assert_int_equal(R.primaries, 1); /* nor resent inside the gap */
	at(GAP_MS);
	tick();
	assert_int_equal(R.primaries, 2); /* the primary again, never plain */
	assert_int_equal(R.plains, 0);
	at(GAP_MS + 1);
	net_error(ECONNREFUSED);
	assert_outcome(OUTCOME_UNREACHABLE, "port unreachable");
}

static void test_refid_bad_code(void **state)
{
	struct probe_sm_random rnd = { 0, XMT, 0 };

	(void)state;
	start_refid(CODE);
	R.req.refid_code = "TOOLONG";
	assert_string_equal(probe_sm_init(&R.sm, &R.req, &rnd, &R.res),
			    "bad refid code");
	R.req.refid_code = "";
	assert_non_null(probe_sm_init(&R.sm, &R.req, &rnd, &R.res));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refid_request),
		cmocka_unit_test(test_refid_verified),
		cmocka_unit_test(test_refid_mismatch),
		cmocka_unit_test(test_refid_stratum2),
		cmocka_unit_test(test_refid_unsynchronised),
		cmocka_unit_test(test_refid_kiss),
		cmocka_unit_test(test_refid_wrong_origin),
		cmocka_unit_test(test_refid_only_forged),
		cmocka_unit_test(test_refid_mode6_rejected),
		cmocka_unit_test(test_refid_unreachable),
		cmocka_unit_test(test_refid_bad_code),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
