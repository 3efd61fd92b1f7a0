/*
 * test_probe_sm_key.c - the key method's protocol without sockets: keyed
 * mode 3 requests and their replies (AES128, SHA1, crypto-NAK, kisses).
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

static void test_key_verified(void **state)
{
	uint8_t want[NTPAUTH_PACKET_MAX];
	int n;

	(void)state;
	for (int sha1 = 0; sha1 < 2; sha1++) {
		start_key(sha1);
		/* The keyed request went out, MAC'd, with its own timestamp. */
		n = ntpauth_build_request(want, XMT, &R.key);
		assert_int_equal(R.last_primary_len, (size_t)n);
		assert_memory_equal(R.last_primary, want, (size_t)n);
		at(4);
		feed(sha1 ? "ntp3_auth_sha1_reply.hex"
			  : "ntp3_auth_aes128_reply.hex");
		assert_outcome(OUTCOME_VERIFIED, "MAC verifies");
		assert_true(R.res.rtt_ms > 3.999 && R.res.rtt_ms < 4.001);
		/* Stratum and refid from the keyed reply: one packet. */
		assert_true(R.res.ntp_answered);
		assert_int_equal(R.res.stratum, 2);
		assert_string_equal(R.res.refid, "192.0.2.1");
		assert_int_equal(R.res.sent, 1);
		assert_int_equal(R.plains, 0);
		assert_false(R.res.kissed);
		assert_int_equal(R.sm.key.len, 0); /* wiped */
	}
}

/* The same reply under the plain request's origin is only mode 3. */
static void test_key_pair_by_origin(void **state)
{
	(void)state;
	start_key(false);
	at(GAP_MS);
	tick(); /* the plain request, the keyed one unanswered */
	assert_int_equal(R.plains, 1);
	feed_with_origin("ntp3_auth_aes128_reply.hex", OTHER_XMT);
	assert_false(R.out.done);
	run_to_end();
	assert_outcome(OUTCOME_KEY_NOT_ACCEPTED,
		       "NTP answers, the keyed request does not");
	assert_int_equal(R.primaries, 2); /* at 0 and 4 s */
	assert_int_equal(R.plains, 1);
}

static void test_key_refused(void **state)
{
	(void)state;
	start_key(false);
	feed("ntp3_auth_crypto_nak.hex");
	assert_outcome(OUTCOME_KEY_NOT_ACCEPTED, "crypto-NAK");
	assert_int_equal(R.res.sent, 1);

	/* An unauthenticated answer to the keyed request. */
	start_key(false);
	feed("ntp3_stratum2.hex");
	run_to_end();
	assert_outcome(OUTCOME_KEY_NOT_ACCEPTED, "unauthenticated reply");

	/* The SHA1 reply checked under the AES key. */
	start_key(false);
	feed("ntp3_auth_sha1_reply.hex");
	run_to_end();
	assert_outcome(OUTCOME_MALFORMED, "MAC field of the wrong length");
}

static void test_key_bad_mac(void **state)
{
	uint8_t buf[PROBE_RECV_MAX];
	size_t len;

	(void)state;
	start_key(false);
	len = load("ntp3_auth_aes128_reply.hex", buf, sizeof(buf));
	buf[len - 1] ^= 1;
	feed_raw(buf, len);
	assert_outcome(OUTCOME_MALFORMED, "MAC does not verify");
}

/* An unsigned kiss to the keyed request speaks for both: over at once. */
static void test_key_kiss(void **state)
{
	(void)state;
	start_key(false);
	feed("ntp3_kod_rate_ntpsec.hex");
	assert_outcome(OUTCOME_RATE_LIMITED, "Kiss-o'-Death RATE");
	assert_true(R.res.kissed);
	assert_int_equal(R.res.sent, 1);
	assert_int_equal(R.plains, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_verified),
		cmocka_unit_test(test_key_pair_by_origin),
		cmocka_unit_test(test_key_refused),
		cmocka_unit_test(test_key_bad_mac),
		cmocka_unit_test(test_key_kiss),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
