/*
 * test_probe_sm_setvar.c - the setvar method's protocol without sockets:
 * real captures and hostile mode 6 replies fed to the state machine, and
 * what the operator would see (outcome, detail, the datagrams sent).
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
 * The READVAR is the captured one but for its names: the variable, then
 * stratum and refid, joined by "," alone (NTPsec 1.2.3 and later refuse
 * ", "). The plain request is the captured one. Only the READVAR goes
 * out at the start.
 */
static void test_requests_as_captured(void **state)
{
	static const char names[] = "ntppool_verify,stratum,refid";
	uint8_t want[NTP3_PACKET_LEN + 16];
	size_t len, want_len;
	const uint8_t *p;

	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	want_len = load("m6_v1_request.hex", want, sizeof(want));
	p = probe_sm_primary(&R.sm, &len);
	assert_int_equal(len, 12 + sizeof(names) - 1);
	assert_memory_equal(p, want, 10); /* header up to the count */
	assert_int_equal(p[10] << 8 | p[11], sizeof(names) - 1);
	assert_memory_equal(p + 12, names, sizeof(names) - 1);
	want_len = load("ntp3_v6_request.hex", want, sizeof(want));
	p = probe_sm_plain(&R.sm, &len);
	assert_int_equal(len, want_len);
	assert_memory_equal(p, want, len);
	assert_int_equal(R.primaries, 1);
	assert_int_equal(R.plains, 0);
	assert_int_equal(R.res.sent, 1);
	assert_false(R.out.done);
	probe_sm_cancel(&R.sm);

	/* A variable named like a system variable is not asked twice. */
	setup_common(PROBE_SETVAR, "refid", NULL, SEQ_V1, XMT, 0, NULL);
	p = probe_sm_primary(&R.sm, &len);
	assert_int_equal(p[10] << 8 | p[11], strlen("refid,stratum"));
	assert_memory_equal(p + 12, "refid,stratum", strlen("refid,stratum"));
	probe_sm_cancel(&R.sm);
}

/* One packet, one reply: verified, with stratum and refid from it. */
static void test_verified_v1(void **state)
{
	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	at(7);
	feed("m6_sysvars_reply.hex");
	assert_outcome(OUTCOME_VERIFIED, "token matches");
	assert_true(R.res.have_value);
	assert_string_equal(R.res.value, TOKEN);
	assert_true(R.res.rtt_ms > 6.999 && R.res.rtt_ms < 7.001);
	assert_true(R.res.ntp_answered);
	assert_int_equal(R.res.stratum, 2);
	assert_string_equal(R.res.refid, "192.0.2.1");
	assert_int_equal(R.res.ntp_kind, NTP3_SYNCED);
	assert_int_equal(R.res.sent, 1);
	assert_int_equal(R.res.received, 1);
	assert_int_equal(R.res.rejected, 0);
	assert_null(R.sm.reasm);
}

/* The RTT keeps sub-millisecond precision. */
static void test_rtt_precision(void **state)
{
	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	R.now = T0 + 1234567; /* 1.234567 ms */
	feed("m6_v1_reply.hex");
	assert_true(R.res.rtt_ms > 1.2345 && R.res.rtt_ms < 1.2346);
	probe_sm_cancel(&R.sm);
}

static void test_read_and_mismatch(void **state)
{
	(void)state;
	start_setvar(NULL, SEQ_V1);
	feed("ntp3_stratum2.hex");
	feed("m6_v1_reply.hex");
	assert_outcome(OUTCOME_READ, "14 octets");
	assert_string_equal(R.res.value, TOKEN);

	start_setvar("tok-other", SEQ_V1);
	feed("ntp3_stratum2.hex");
	feed("m6_v1_reply.hex");
	assert_outcome(OUTCOME_TOKEN_MISMATCH,
		       "ntppool_verify has another value (14 octets)");
}

/* A mode 4 reply to someone else is counted, and says nothing of mode 6. */
static void test_foreign_mode4(void **state)
{
	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	feed_with_origin("ntp3_stratum2.hex", OTHER_XMT);
	/* Mode 4 by its first octet, too short for one: the same. */
	feed("m6_bad_mode_4.hex");
	run_to_end();
	assert_outcome(OUTCOME_NO_RESPONSE, "no reply");
	assert_int_equal(R.res.rejected, 2);
	assert_int_equal(R.res.received, 2);
	assert_int_equal(R.plains, 1);
}

/* Every malformed reply, named by the first check it fails. */
static void test_malformed_in_check_order(void **state)
{
	static const struct {
		const char *file;
		uint16_t seq;
		const char *detail;
	} cases[] = {
		{ "m6_short_11.hex", 1, "short packet" },
		{ "m6_all_wrong.hex", 1, "version mismatch" },
		{ "m6_bad_version_vn0.hex", 1, "version mismatch" },
		{ "m6_bad_version_vn3.hex", 1, "version mismatch" },
		{ "m6_v1_reply_vn4.hex", 2, "version mismatch" },
		{ "m6_bad_mode_7.hex", 1, "not mode 6" },
		{ "m6_order_mode_seq.hex", 1, "not mode 6" },
		{ "m6_v1_request.hex", 1, "not a response" },
		{ "m6_bad_response_error_no_r.hex", 5, "not a response" },
		{ "m6_bad_opcode_1.hex", 1, "opcode mismatch" },
		{ "m6_bad_opcode_31.hex", 1, "opcode mismatch" },
		{ "m6_err_badop.hex", 0x12, "opcode mismatch" },
		{ "m6_bad_assoc_data.hex", 1, "association mismatch" },
		{ "m6_err_badassoc.hex", 0x13, "association mismatch" },
		{ "m6_order_assoc_count.hex", 1, "association mismatch" },
		{ "m6_bad_count_by_one.hex", 1, "count exceeds datagram" },
		{ "m6_bad_count_header_only.hex", 1, "count exceeds datagram" },
		{ "m6_bad_count_truncated.hex", 1, "count exceeds datagram" },
		{ "m6_err_count_nonzero.hex", 5, "count exceeds datagram" },
	};
	char want[OUTCOME_DETAIL_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		start_setvar(TOKEN, cases[i].seq);
		feed(cases[i].file);
		/* Not fatal: a real reply may still come. */
		if (R.out.done)
			fail_msg("%s ended the probe", cases[i].file);
		assert_int_equal(R.res.rejected, 1);
		run_to_end();
		snprintf(want, sizeof(want), "%s (1 datagram)", cases[i].detail);
		if (strcmp(R.res.detail, want) != 0)
			fail_msg("%s: '%s'", cases[i].file, R.res.detail);
		assert_int_equal(R.res.outcome, OUTCOME_MALFORMED);
		assert_int_equal(R.res.sent, 3); /* retransmitted throughout */
	}
}

/* A bad datagram, then the real reply: the reply wins. */
static void test_bad_then_good(void **state)
{
	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	feed("m6_bad_opcode_1.hex");
	feed("ntp3_stratum2.hex");
	feed("m6_v1_reply.hex");
	assert_outcome(OUTCOME_VERIFIED, "token matches");
	assert_int_equal(R.res.rejected, 1);
}

/* Several bad datagrams: the first reason is shown, all are counted. */
static void test_first_reason_kept(void **state)
{
	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	feed("m6_bad_version_vn3.hex");
	feed("m6_bad_opcode_1.hex");
	feed("m6_short_11.hex");
	run_to_end();
	assert_outcome(OUTCOME_MALFORMED, "version mismatch (3 datagrams)");
	assert_int_equal(R.res.rejected, 3);
}

/* A wrong sequence is fatal: with mode 3 in, the probe ends there. */
static void test_wrong_sequence_ends_at_once(void **state)
{
	static const char *const files[] = {
		"m6_bad_sequence_swapped.hex",
		"m6_order_seq_assoc.hex",
	};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		start_setvar(TOKEN, SEQ_V1);
		at(5);
		feed("ntp3_stratum2.hex");
		feed(files[i]);
		assert_outcome(OUTCOME_MALFORMED, "sequence mismatch");
		assert_int_equal(R.res.rejected, 1);
		/* A right reply after it changes nothing. */
		feed("m6_v1_reply.hex");
		assert_int_equal(R.res.outcome, OUTCOME_MALFORMED);
	}
}

/* Without mode 3 in: the same, and no plain request is ever sent. */
static void test_wrong_sequence_grace(void **state)
{
	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	at(100);
	feed("m6_bad_sequence_swapped.hex");
	assert_outcome(OUTCOME_MALFORMED, "sequence mismatch");
	feed("m6_v1_reply.hex"); /* ignored: the attempt is over */
	assert_int_equal(R.res.outcome, OUTCOME_MALFORMED);
	assert_int_equal(R.res.sent, 1);
	assert_int_equal(R.res.received, 1);
}

/* Data past the reassembly bound can never complete: fatal. */
static void test_offset_past_bound(void **state)
{
	static const char *const files[] = {
		"m6_bad_offset_ffff.hex",
		"m6_bad_offset_plus1.hex",
		"m6_bad_offset_total.hex",
		"m6_order_offset_count.hex",
		"m6_bad_count_469.hex",
		"m6_bad_count_ffff.hex",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		start_setvar(TOKEN, SEQ_V1);
		feed("ntp3_stratum2.hex");
		feed(files[i]);
		assert_outcome(OUTCOME_MALFORMED, "reply too long");
	}
}

/* A fragment set, fed in the order given by idx. */
struct set {
	uint8_t buf[40 * 512];
	struct hexpkt pkts[40];
	size_t n;
};

static struct set S;

static void load_set(const char *name)
{
	if (hexfile_load_set(name, S.buf, sizeof(S.buf), S.pkts, 40, &S.n) != 0)
		fail_msg("cannot load %s", name);
}

static void feed_order(const size_t *idx, size_t n, bool ntp_first)
{
	start_setvar(TOKEN, SEQ_SET);
	if (ntp_first)
		feed("ntp3_stratum2.hex");
	for (size_t i = 0; i < n; i++) {
		if (R.out.done)
			fail_msg("done after %zu of %zu fragments", i, n);
		feed_raw(S.pkts[idx[i]].p, S.pkts[idx[i]].len);
	}
	/* Complete: over at once, no wait for mode 3. */
	assert_outcome(OUTCOME_VERIFIED, "token matches");
	assert_string_equal(R.res.value, TOKEN);
	assert_int_equal(R.res.rejected, 0);
	assert_null(R.sm.reasm); /* freed at the end */
}

/* Every permutation of idx[k..n) (recursive swap). */
static unsigned permute(size_t *idx, size_t k, size_t n, bool ntp_first)
{
	unsigned count = 0;

	if (k == n) {
		feed_order(idx, n, ntp_first);
		return 1;
	}
	for (size_t i = k; i < n; i++) {
		size_t t = idx[k];
		idx[k] = idx[i];
		idx[i] = t;
		count += permute(idx, k + 1, n, ntp_first);
		idx[i] = idx[k];
		idx[k] = t;
	}
	return count;
}

static void test_fragments_3_every_order(void **state)
{
	size_t idx[3] = { 0, 1, 2 };

	(void)state;
	load_set("m6_frags3.hex");
	assert_int_equal(S.n, 3);
	assert_int_equal(permute(idx, 0, 3, true), 6);
	assert_int_equal(permute(idx, 0, 3, false), 6);
}

static void test_fragments_4_every_order(void **state)
{
	size_t idx[4] = { 0, 1, 2, 3 };

	(void)state;
	load_set("m6_frags4_empty_last.hex");
	assert_int_equal(S.n, 4);
	assert_int_equal(permute(idx, 0, 4, true), 24);
	assert_int_equal(permute(idx, 0, 4, false), 24);
}

/* A repeated fragment is ignored, not counted as bad. */
static void test_fragment_duplicate(void **state)
{
	(void)state;
	load_set("m6_frags3.hex");
	start_setvar(TOKEN, SEQ_SET);
	feed("ntp3_stratum2.hex");
	feed_raw(S.pkts[1].p, S.pkts[1].len);
	assert_non_null(R.sm.reasm); /* only now: a fragment arrived */
	feed_raw(S.pkts[1].p, S.pkts[1].len);
	feed_raw(S.pkts[0].p, S.pkts[0].len);
	assert_false(R.out.done);
	feed_raw(S.pkts[2].p, S.pkts[2].len);
	assert_outcome(OUTCOME_VERIFIED, "token matches");
	assert_int_equal(R.res.received, 5);
	assert_int_equal(R.res.rejected, 0);
}

/* The real two-fragment reply of ntpd 4.2.8p15, read without a token. */
static void test_fragments_real_capture(void **state)
{
	(void)state;
	setup_common(PROBE_SETVAR, "longvar", NULL, 12, XMT, 0, NULL);
	start();
	feed("m6_v3_frag2.hex");
	feed("m6_v3_frag1.hex");
	assert_outcome(OUTCOME_READ, "700 octets");
	assert_int_equal(R.res.value_len, 700);
	assert_int_equal(strlen(R.res.value), PROBE_VALUE_MAX);
	assert_memory_equal(R.res.value, "000-abcdefghij001-", 18);
}

static void test_fragments_hostile(void **state)
{
	static const struct {
		const char *file;
		const char *detail;
		bool fatal;
	} cases[] = {
		{ "m6_reasm_overlap.hex", "overlapping fragments", true },
		{ "m6_reasm_second_last.hex", "second last fragment", true },
		{ "m6_reasm_past_end.hex", "fragment past end", true },
		{ "m6_reasm_empty_middle.hex", "empty middle fragment", true },
		{ "m6_reasm_33_frags.hex", "too many fragments", true },
		{ "m6_reasm_gap.hex", "incomplete reply (missing fragments)",
		  false },
		{ "m6_reasm_gap_at_start.hex",
		  "incomplete reply (missing fragments)", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		load_set(cases[i].file);
		start_setvar(TOKEN, SEQ_SET);
		feed("ntp3_stratum2.hex");
		for (size_t k = 0; k < S.n && !R.out.done; k++)
			feed_raw(S.pkts[k].p, S.pkts[k].len);
		if (R.out.done != cases[i].fatal)
			fail_msg("%s: done=%d", cases[i].file, R.out.done);
		run_to_end();
		assert_int_equal(R.res.outcome, OUTCOME_MALFORMED);
		if (strcmp(R.res.detail, cases[i].detail) != 0)
			fail_msg("%s: '%s'", cases[i].file, R.res.detail);
		assert_null(R.sm.reasm);
	}
}

static void test_mode6_errors(void **state)
{
	(void)state;
	start_setvar(TOKEN, 5);
	feed("ntp3_stratum2.hex");
	feed("m6_v2_reply_unknownvar.hex");
	assert_outcome(OUTCOME_VARIABLE_MISSING, "mode 6 error: unknown variable");
	assert_true(R.res.rtt_ms >= 0);

	/* An error reply with a stale offset is still an error reply. */
	start_setvar(TOKEN, 13);
	feed("ntp3_stratum2.hex");
	feed("m6_v4_reply_stale_offset.hex");
	assert_outcome(OUTCOME_MODE6_ERROR, "mode 6 error: bad format");

	/* NTPsec 1.2.5: a data fragment, then the error: the error decides. */
	setup_common(PROBE_SETVAR, "longvar", TOKEN, 35, XMT, 0, NULL);
	start();
	feed("m6_v5_frag1.hex");
	feed("m6_v5_error.hex");
	feed("ntp3_stratum2.hex");
	assert_outcome(OUTCOME_VARIABLE_MISSING, "mode 6 error: unknown variable");
}

static void test_oversized(void **state)
{
	uint8_t small[4] = { 0xd6, 0x82, 0x00, 0x01 };

	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	/* Only the length is looked at: the octets are not read. */
	feed_raw(small, PROBE_RECV_MAX + 1);
	assert_false(R.out.done);
	run_to_end();
	assert_outcome(OUTCOME_MALFORMED, "oversized datagram (1 datagram)");
	assert_int_equal(R.res.received, 1);
}

/* A kiss to the plain request: nothing more is sent, rate_limited. */
static void test_kod(void **state)
{
	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	at(GAP_MS);
	tick();
	feed("ntp3_kod_rate_ntpsec.hex");
	assert_false(R.out.done); /* the READVAR may still be answered */
	run_to_end();
	assert_outcome(OUTCOME_RATE_LIMITED, "Kiss-o'-Death RATE");
	assert_int_equal(R.res.ntp_kind, NTP3_KISS_RATE);
	assert_true(R.res.kissed);
	assert_int_equal(R.plains, 1);
	assert_int_equal(R.primaries, 1); /* no retransmit after the kiss */

	start_setvar(TOKEN, SEQ_V1);
	feed("ntp3_kod_deny.hex");
	run_to_end();
	assert_outcome(OUTCOME_RATE_LIMITED, "Kiss-o'-Death DENY");
}

/* Random values that would be ambiguous are replaced. */
static void test_random_normalised(void **state)
{
	struct ntpauth_key k;

	(void)state;
	setup_common(PROBE_SETVAR, "ntppool_verify", TOKEN, SEQ_V1, 0, 0, NULL);
	assert_true(R.sm.xmt == 1);
	probe_sm_cancel(&R.sm);

	aes_key(&k);
	setup_common(PROBE_KEY, "ntppool_verify", NULL, 0, XMT, XMT, &k);
	assert_true(R.sm.xmt_auth != 0 && R.sm.xmt_auth != R.sm.xmt);
	probe_sm_cancel(&R.sm);
	assert_int_equal(R.sm.key.len, 0);
}

static void test_bad_variable(void **state)
{
	struct probe_sm_random rnd = { 1, XMT, 0 };

	(void)state;
	memset(&R, 0, sizeof(R));
	R.req.variable = "no spaces";
	assert_string_equal(probe_sm_init(&R.sm, &R.req, &rnd, &R.res),
			    "bad variable name");
	assert_string_equal(R.res.detail, "bad variable name");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requests_as_captured),
		cmocka_unit_test(test_verified_v1),
		cmocka_unit_test(test_rtt_precision),
		cmocka_unit_test(test_read_and_mismatch),
		cmocka_unit_test(test_foreign_mode4),
		cmocka_unit_test(test_malformed_in_check_order),
		cmocka_unit_test(test_bad_then_good),
		cmocka_unit_test(test_first_reason_kept),
		cmocka_unit_test(test_wrong_sequence_ends_at_once),
		cmocka_unit_test(test_wrong_sequence_grace),
		cmocka_unit_test(test_offset_past_bound),
		cmocka_unit_test(test_fragments_3_every_order),
		cmocka_unit_test(test_fragments_4_every_order),
		cmocka_unit_test(test_fragment_duplicate),
		cmocka_unit_test(test_fragments_real_capture),
		cmocka_unit_test(test_fragments_hostile),
		cmocka_unit_test(test_mode6_errors),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_kod),
		cmocka_unit_test(test_random_normalised),
		cmocka_unit_test(test_bad_variable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
