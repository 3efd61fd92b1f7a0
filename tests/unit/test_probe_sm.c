/*
 * test_probe_sm.c - one attempt's protocol, without sockets: real captures
 * and hostile packets fed to the state machine at chosen times, and what
 * the operator would see (outcome, detail, the datagrams sent and when).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "engine/probe_sm.h"
#include "hexfile.h"

#define MS UINT64_C(1000000)
#define T0 (UINT64_C(5000) * 1000 * MS) /* an arbitrary monotonic start */
/* The origin every mode 4 capture echoes. */
#define XMT UINT64_C(0xe00000379ecedf01)
#define OTHER_XMT UINT64_C(0x0123456789abcdef)
#define SEQ_V1 0x0001
#define SEQ_SET 0x2a2a
#define TOKEN "tok-3f9a1c2b7d"

/* One attempt under test, and what it put on the wire. */
struct run {
	struct probe_request req;
	struct probe_sm sm;
	struct probe_result res;
	struct probe_sm_out out;
	struct ntpauth_key key;
	uint64_t now;         /* the test's clock */
	unsigned primaries;   /* primary requests sent */
	unsigned plains;      /* plain requests sent */
	int gate_budget;      /* packets the gate lets through; < 0: all */
	unsigned gate_calls;  /* times the gate was asked */
	int send_err;         /* errno for the next send; 0: all go out */
	uint8_t last_primary[M6_REQUEST_MAX]; /* octets of the last primary */
	size_t last_primary_len;
};

/* ~17 KiB with a packet set: off the stack. */
static struct run R;

static bool test_gate(void *arg, const struct sockaddr *dst)
{
	struct run *r = arg;

	assert_int_equal(dst->sa_family, AF_INET);
	r->gate_calls++;
	if (r->gate_budget < 0)
		return true;
	if (r->gate_budget == 0)
		return false;
	r->gate_budget--;
	return true;
}

/* Hand the flagged requests to a pretend network, as probe.c does. */
static void do_sends(struct run *r)
{
	unsigned asked = 0, n;

	if (!r->out.send_primary && !r->out.send_plain)
		return;
	if (r->out.send_primary) {
		const uint8_t *p = probe_sm_primary(&r->sm, &r->last_primary_len);
		memcpy(r->last_primary, p, r->last_primary_len);
		asked++;
	}
	if (r->out.send_plain)
		asked++;
	n = r->send_err != 0 ? 0 : asked;
	if (n > 0) {
		r->primaries += r->out.send_primary;
		r->plains += r->out.send_plain;
	}
	probe_sm_sent(&r->sm, n, r->send_err, r->now, &r->out);
}

static void setup_common(enum probe_method m, const char *variable,
			 const char *token, uint16_t seq, uint64_t xmt,
			 uint64_t xmt_auth, const struct ntpauth_key *k)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&R.req.dst;
	struct probe_sm_random rnd = { seq, xmt, xmt_auth };

	memset(&R, 0, sizeof(R));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(123);
	sin->sin_addr.s_addr = htonl(0xc0000201); /* 192.0.2.1 */
	R.req.dstlen = sizeof(*sin);
	R.req.method = m;
	R.req.variable = variable;
	R.req.token = token;
	R.req.timeout_ms = 3000;
	R.req.retransmit_ms = 1000;
	R.req.gate = test_gate;
	R.req.gate_arg = &R;
	R.gate_budget = -1;
	if (k != NULL)
		R.key = *k;
	R.req.key = &R.key;
	assert_null(probe_sm_init(&R.sm, &R.req, &rnd, &R.res));
	R.now = T0;
}

static void start(void)
{
	probe_sm_start(&R.sm, R.now, &R.out);
	do_sends(&R);
}

/* Setvar method, sequence and timestamp as in the captures. */
static void start_setvar(const char *token, uint16_t seq)
{
	setup_common(PROBE_SETVAR, "ntppool_verify", token, seq, XMT, 0, NULL);
	start();
}

static void aes_key(struct ntpauth_key *k)
{
	assert_int_equal(ntpauth_key_parse("2b7e151628aed2a6abf7158809cf4f3c",
					   42, NTPAUTH_AES128, k),
			 0);
}

static void sha1_key(struct ntpauth_key *k)
{
	assert_int_equal(ntpauth_key_parse(
				 "00112233445566778899aabbccddeeff00112233", 42,
				 NTPAUTH_SHA1, k),
			 0);
}

/* Key method: the keyed request carries the captures' origin. */
static void start_key(bool sha1)
{
	struct ntpauth_key k;

	if (sha1)
		sha1_key(&k);
	else
		aes_key(&k);
	setup_common(PROBE_KEY, "ntppool_verify", NULL, 0, OTHER_XMT, XMT, &k);
	start();
}

static void at(uint64_t ms_after_start)
{
	R.now = T0 + ms_after_start * MS;
}

static void tick(void)
{
	probe_sm_tick(&R.sm, R.now, &R.out);
	do_sends(&R);
}

/* Run the clock from wake-up to wake-up until the attempt ends. */
static void run_to_end(void)
{
	for (int i = 0; i < 100 && !R.out.done; i++) {
		assert_true(R.out.wake_ns >= R.now);
		R.now = R.out.wake_ns;
		tick();
	}
	assert_true(R.out.done);
}

static void feed_raw(const uint8_t *pkt, size_t len)
{
	probe_sm_datagram(&R.sm, pkt, len, R.now, &R.out);
	assert_false(R.out.send_primary || R.out.send_plain);
}

static size_t load(const char *name, uint8_t *buf, size_t cap)
{
	size_t len = 0;

	if (hexfile_load(name, buf, cap, &len) != 0)
		fail_msg("cannot load %s", name);
	return len;
}

static void feed(const char *name)
{
	uint8_t buf[PROBE_RECV_MAX];
	size_t len = load(name, buf, sizeof(buf));

	feed_raw(buf, len);
}

/* A mode 4 capture with its origin (octets 24..31) replaced. */
static void feed_with_origin(const char *name, uint64_t origin)
{
	uint8_t buf[PROBE_RECV_MAX];
	size_t len = load(name, buf, sizeof(buf));

	for (int i = 0; i < 8; i++)
		buf[24 + i] = (uint8_t)(origin >> (56 - 8 * i));
	feed_raw(buf, len);
}

static void assert_outcome(enum outcome o, const char *detail)
{
	assert_true(R.out.done);
	assert_string_equal(outcome_name(R.res.outcome), outcome_name(o));
	assert_string_equal(R.res.detail, detail);
}

/* The requests are the captured ones, byte for byte. */
static void test_requests_as_captured(void **state)
{
	uint8_t want[NTP3_PACKET_LEN + 16];
	size_t len, want_len;
	const uint8_t *p;

	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	want_len = load("m6_v1_request.hex", want, sizeof(want));
	p = probe_sm_primary(&R.sm, &len);
	assert_int_equal(len, want_len);
	assert_memory_equal(p, want, len);
	want_len = load("ntp3_v6_request.hex", want, sizeof(want));
	p = probe_sm_plain(&R.sm, &len);
	assert_int_equal(len, want_len);
	assert_memory_equal(p, want, len);
	assert_int_equal(R.primaries, 1);
	assert_int_equal(R.plains, 1);
	assert_int_equal(R.res.sent, 2);
	assert_false(R.out.done);
	probe_sm_cancel(&R.sm);
}

static void test_verified_v1(void **state)
{
	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	at(3);
	feed("ntp3_stratum2.hex");
	assert_false(R.out.done);
	at(7);
	feed("m6_v1_reply.hex");
	assert_outcome(OUTCOME_VERIFIED, "token matches");
	assert_true(R.res.have_value);
	assert_string_equal(R.res.value, TOKEN);
	assert_true(R.res.rtt_ms > 6.999 && R.res.rtt_ms < 7.001);
	assert_true(R.res.ntp_answered);
	assert_int_equal(R.res.stratum, 2);
	assert_string_equal(R.res.refid, "192.0.2.1");
	assert_int_equal(R.res.sent, 2);
	assert_int_equal(R.res.received, 2);
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
	assert_int_equal(R.plains, 3);
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
		assert_int_equal(R.res.sent, 6); /* retransmitted throughout */
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

/* Without mode 3 in: no more primaries, a grace wait, then the end. */
static void test_wrong_sequence_grace(void **state)
{
	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	at(100);
	feed("m6_bad_sequence_swapped.hex");
	assert_false(R.out.done);
	assert_int_equal(R.out.wake_ns, T0 + 1100 * MS);
	feed("m6_v1_reply.hex"); /* ignored: mode 6 is over */
	at(1100);
	tick();
	assert_outcome(OUTCOME_MALFORMED, "sequence mismatch");
	assert_int_equal(R.res.sent, 2);
	assert_int_equal(R.res.received, 2);
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
	if (!ntp_first) {
		assert_false(R.out.done); /* the grace wait for mode 3 */
		feed("ntp3_stratum2.hex");
	}
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
	assert_false(R.out.done);
	feed("ntp3_stratum2.hex");
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

static void test_icmp_unreachable(void **state)
{
	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	at(20);
	probe_sm_net_error(&R.sm, ECONNREFUSED, R.now, &R.out);
	assert_outcome(OUTCOME_UNREACHABLE, "port unreachable");

	start_setvar(TOKEN, SEQ_V1);
	probe_sm_net_error(&R.sm, EHOSTUNREACH, R.now, &R.out);
	assert_outcome(OUTCOME_UNREACHABLE, strerror(EHOSTUNREACH));

	/* Other receive errors say nothing about the server. */
	start_setvar(TOKEN, SEQ_V1);
	probe_sm_net_error(&R.sm, ENOBUFS, R.now, &R.out);
	assert_false(R.out.done);
	run_to_end();
	assert_outcome(OUTCOME_NO_RESPONSE, "no reply");
}

/* An ICMP error surfacing on a retransmit ends the attempt next tick. */
static void test_icmp_on_send(void **state)
{
	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	at(1000);
	R.send_err = ECONNREFUSED;
	tick();
	assert_false(R.out.done);
	assert_int_equal(R.out.wake_ns, R.now);
	tick();
	assert_outcome(OUTCOME_UNREACHABLE, "port unreachable");
	assert_int_equal(R.res.sent, 2);
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

static void test_kod(void **state)
{
	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	feed("ntp3_kod_rate_ntpsec.hex");
	run_to_end();
	assert_outcome(OUTCOME_RATE_LIMITED, "Kiss-o'-Death RATE");
	assert_int_equal(R.res.ntp_kind, NTP3_KISS_RATE);
	assert_int_equal(R.plains, 1); /* the kiss answered mode 3 */

	start_setvar(TOKEN, SEQ_V1);
	feed("ntp3_kod_deny.hex");
	run_to_end();
	assert_outcome(OUTCOME_RATE_LIMITED, "Kiss-o'-Death DENY");
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
		assert_false(R.out.done);
		feed_with_origin("ntp3_stratum2.hex", OTHER_XMT);
		assert_outcome(OUTCOME_VERIFIED, "MAC verifies");
		assert_true(R.res.rtt_ms > 3.999 && R.res.rtt_ms < 4.001);
		assert_true(R.res.ntp_answered);
		assert_int_equal(R.sm.key.len, 0); /* wiped */
	}
}

/* The same reply under the plain request's origin is only mode 3. */
static void test_key_pair_by_origin(void **state)
{
	(void)state;
	start_key(false);
	feed_with_origin("ntp3_auth_aes128_reply.hex", OTHER_XMT);
	assert_false(R.out.done);
	run_to_end();
	assert_outcome(OUTCOME_KEY_NOT_ACCEPTED,
		       "NTP answers, the keyed request does not");
	assert_int_equal(R.primaries, 3);
	assert_int_equal(R.plains, 1);
}

static void test_key_refused(void **state)
{
	(void)state;
	start_key(false);
	feed("ntp3_auth_crypto_nak.hex");
	feed_with_origin("ntp3_stratum2.hex", OTHER_XMT);
	assert_outcome(OUTCOME_KEY_NOT_ACCEPTED, "crypto-NAK");

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
	feed_with_origin("ntp3_stratum2.hex", OTHER_XMT);
	assert_outcome(OUTCOME_MALFORMED, "MAC does not verify");
}

/* A kiss to the keyed request speaks for both. */
static void test_key_kiss(void **state)
{
	(void)state;
	start_key(false);
	feed("ntp3_kod_rate_ntpsec.hex");
	assert_false(R.out.done);
	run_to_end();
	assert_outcome(OUTCOME_RATE_LIMITED, "Kiss-o'-Death RATE");
	assert_int_equal(R.plains, 1); /* answered: not retransmitted */
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
		cmocka_unit_test(test_retransmit_timing),
		cmocka_unit_test(test_retransmit_only_unanswered),
		cmocka_unit_test(test_mode6_silent_vs_no_response),
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
		cmocka_unit_test(test_grace_for_mode3),
		cmocka_unit_test(test_icmp_unreachable),
		cmocka_unit_test(test_icmp_on_send),
		cmocka_unit_test(test_icmp_after_answer),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_kod),
		cmocka_unit_test(test_gate_holds),
		cmocka_unit_test(test_key_verified),
		cmocka_unit_test(test_key_pair_by_origin),
		cmocka_unit_test(test_key_refused),
		cmocka_unit_test(test_key_bad_mac),
		cmocka_unit_test(test_key_kiss),
		cmocka_unit_test(test_random_normalised),
		cmocka_unit_test(test_bad_variable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
