/*
 * test_probe_sm_replies.c - the replies of issue 12 fed to the state
 * machine: stratum and refid from the READVAR, the fragment shapes of
 * ntp.org ntpd, signed Kiss-o'-Death (AES-CMAC and SHA1, good and bad
 * MAC), an unsynchronised keyed reply; and the pacing gap held whatever
 * the timing of errors and replies.
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

#define SIGNED_KISS_DETAIL \
	"MAC verifies on a signed Kiss-o'-Death RATE (holding off)"

/* Verified with stratum and refid from the one READVAR reply. */
static void test_sysvars_from_readvar(void **state)
{
	(void)state;
	start_setvar(TOKEN, SEQ_V1);
	feed("m6_sysvars_unsynced.hex");
	assert_outcome(OUTCOME_VERIFIED, "token matches");
	assert_true(R.res.ntp_answered);
	assert_int_equal(R.res.stratum, 16);
	assert_string_equal(R.res.refid, "INIT");
	assert_int_equal(R.res.ntp_kind, NTP3_UNSYNCED);
	assert_int_equal(R.res.sent, 1);

	/* A reply without them (an older capture): nothing is made up. */
	start_setvar(TOKEN, SEQ_V1);
	feed("m6_v1_reply.hex");
	assert_outcome(OUTCOME_VERIFIED, "token matches");
	assert_false(R.res.ntp_answered);
	assert_string_equal(R.res.refid, "");

	/* Mode 3 answered first (the primary was lost): its word stands. */
	start_setvar(TOKEN, SEQ_V1);
	at(GAP_MS);
	tick();
	feed("ntp3_stratum1_gps.hex");
	at(2 * GAP_MS);
	tick();
	feed("m6_sysvars_reply.hex");
	assert_outcome(OUTCOME_VERIFIED, "token matches");
	assert_int_equal(R.res.stratum, 1);
	assert_string_equal(R.res.refid, "GPS");
}

/* What a server writes there is checked before it is shown. */
static void test_sysvars_hostile(void **state)
{
	static const struct {
		const char *data;
		bool ok;
		unsigned stratum;
		const char *refid;
	} cases[] = {
		{ "stratum=3, refid=10.1.2.3\r\n", true, 3, "10.1.2.3" },
		{ "refid=\"GPS\",stratum=1", true, 1, "GPS" },
		{ "stratum=0, refid=a\x01" "b", true, 0, "a.b" },
		{ "stratum=255, refid=123456789012345", true, 255,
		  "123456789012345" },
		{ "stratum=256, refid=GPS", false, 0, NULL },
		{ "stratum=-1, refid=GPS", false, 0, NULL },
		{ "stratum=, refid=GPS", false, 0, NULL },
		{ "stratum=2a, refid=GPS", false, 0, NULL },
		{ "stratum=2, refid=1234567890123456", false, 0, NULL },
		{ "stratum=2, refid=", false, 0, NULL },
		{ "stratum=2, refid", false, 0, NULL },
		{ "stratum=2", false, 0, NULL },
		{ "stratum=2, stratum=3, refid=GPS", false, 0, NULL },
		{ "stratum=2, refid=\"GPS", false, 0, NULL },
	};
	char refid[NTP3_REFID_STRLEN];
	uint8_t stratum;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *d = cases[i].data;
		memset(refid, 'x', sizeof(refid));
		stratum = 99;
		bool ok = probe_sysvars((const uint8_t *)d, strlen(d), &stratum,
					refid);
		if (ok != cases[i].ok)
			fail_msg("case %zu: %d", i, ok);
		if (!ok) {
			assert_int_equal(stratum, 99);
			continue;
		}
		assert_int_equal(stratum, cases[i].stratum);
		assert_string_equal(refid, cases[i].refid);
	}
}

/* A fragment set, in the order asked for. */
static uint8_t set_buf[8 * 512];
static struct hexpkt set_pkts[8];

static size_t load_shape(unsigned d)
{
	char name[64];
	size_t n = 0;

	snprintf(name, sizeof(name), "m6_fragshape_%u.hex", d);
	if (hexfile_load_set(name, set_buf, sizeof(set_buf), set_pkts, 8,
			     &n) != 0)
		fail_msg("cannot load %s", name);
	return n;
}

static unsigned count_of(const struct hexpkt *p)
{
	return (unsigned)(p->p[10] << 8 | p->p[11]);
}

static void read_shape(unsigned d, size_t n, bool reversed)
{
	setup_common(PROBE_SETVAR, "longvar", NULL, SEQ_SET, XMT, 0, NULL);
	start();
	for (size_t i = 0; i < n; i++) {
		const struct hexpkt *p = &set_pkts[reversed ? n - 1 - i : i];
		if (R.out.done)
			fail_msg("%u: done after %zu of %zu", d, i, n);
		feed_raw(p->p, p->len);
	}
	char want[32];
	snprintf(want, sizeof(want), "%u octets", d - 8);
	assert_outcome(OUTCOME_READ, want);
	assert_int_equal(R.res.value_len, d - 8); /* "longvar=" is 8 */
	assert_int_equal(R.res.rejected, 0);
	assert_int_equal(R.res.sent, 1);
	assert_null(R.sm.reasm);
}

/*
 * ntp.org ntpd's fragment shapes: non-final fragments of 466 and 467
 * octets (short of the 468 a fragment may hold, and not a multiple of 4),
 * and a final fragment of only CR LF, around one and two fragments' worth
 * of data. Read whole, in order and in reverse.
 */
static void test_fragment_shapes(void **state)
{
	static const unsigned shapes[] = { 466, 467, 468, 469, 470,
					   934, 935, 936, 937, 938 };
	unsigned short_nonfinal = 0, crlf_only = 0;

	(void)state;
	for (size_t k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++) {
		unsigned d = shapes[k];
		size_t n = load_shape(d);
		assert_int_equal(n, d < 900 ? 2 : 3);
		for (size_t i = 0; i + 1 < n; i++) {
			unsigned c = count_of(&set_pkts[i]);
			short_nonfinal += c == 466 || c == 467;
		}
		crlf_only += count_of(&set_pkts[n - 1]) == 2;
		read_shape(d, n, false);
		read_shape(d, n, true);
	}
	/* The fixtures hold the shapes they are named for. */
	assert_int_equal(short_nonfinal, 4);
	assert_int_equal(crlf_only, 6);
}

/* A kiss signed under the key proves the key: verified, still obeyed. */
static void test_signed_kiss(void **state)
{
	(void)state;
	for (int sha1 = 0; sha1 < 2; sha1++) {
		start_key(sha1);
		at(3);
		feed(sha1 ? "ntp3_kiss_rate_signed_sha1.hex"
			  : "ntp3_kiss_rate_signed_aes128.hex");
		assert_outcome(OUTCOME_VERIFIED, SIGNED_KISS_DETAIL);
		assert_true(R.res.kissed); /* the daemon holds the address off */
		assert_false(R.res.contrary);
		assert_int_equal(R.res.stratum, 0);
		assert_string_equal(R.res.refid, "RATE");
		assert_int_equal(R.res.ntp_kind, NTP3_KISS_RATE);
		assert_true(R.res.rtt_ms > 2.999 && R.res.rtt_ms < 3.001);
		assert_int_equal(R.res.sent, 1);
		assert_int_equal(R.sm.key.len, 0);
	}
}

/* A kiss whose MAC fails is an unauthenticated kiss: rate_limited. */
static void test_signed_kiss_bad_mac(void **state)
{
	uint8_t buf[PROBE_RECV_MAX];
	size_t len;

	(void)state;
	for (int sha1 = 0; sha1 < 2; sha1++) {
		start_key(sha1);
		len = load(sha1 ? "ntp3_kiss_rate_signed_sha1.hex"
				: "ntp3_kiss_rate_signed_aes128.hex",
			   buf, sizeof(buf));
		buf[len - 1] ^= 0x80;
		feed_raw(buf, len);
		assert_outcome(OUTCOME_RATE_LIMITED, "Kiss-o'-Death RATE");
		assert_true(R.res.kissed);
		assert_int_equal(R.res.sent, 1);
	}

	/* Signed under the other key type (wrong length), or another key
	 * ID: no proof either. */
	start_key(false);
	feed("ntp3_kiss_rate_signed_sha1.hex");
	assert_outcome(OUTCOME_RATE_LIMITED, "Kiss-o'-Death RATE");
	start_key(false);
	len = load("ntp3_kiss_rate_signed_aes128.hex", buf, sizeof(buf));
	buf[NTP3_PACKET_LEN + 3] ^= 1; /* key ID 43 */
	feed_raw(buf, len);
	assert_outcome(OUTCOME_RATE_LIMITED, "Kiss-o'-Death RATE");

	/* The signed kiss under the plain request's origin proves nothing:
	 * it answers mode 3 only, and nothing more is sent after it. */
	start_key(false);
	at(GAP_MS);
	tick();
	feed_with_origin("ntp3_kiss_rate_signed_aes128.hex", OTHER_XMT);
	assert_false(R.out.done);
	run_to_end();
	assert_outcome(OUTCOME_RATE_LIMITED, "Kiss-o'-Death RATE");
	assert_int_equal(R.res.sent, 2);
}

/* An unsynchronised server that holds the key: verified, shown as such. */
static void test_unsynced_keyed_reply(void **state)
{
	(void)state;
	start_key(false);
	feed("ntp3_auth_unsynced_aes128.hex");
	assert_outcome(OUTCOME_VERIFIED, "MAC verifies");
	assert_false(R.res.kissed); /* stratum 0 INIT is not a kiss */
	assert_int_equal(R.res.stratum, 0);
	assert_string_equal(R.res.refid, "INIT");
	assert_int_equal(R.res.ntp_kind, NTP3_UNSYNCED);
	assert_int_equal(R.res.sent, 1);
}

/*
 * Run to the end with an event `offset_ms` after every wake-up that comes
 * before the next one: ICMP errors, and every third time the plain
 * request's answer.
 */
static void drive_with_events(uint64_t offset_ms)
{
	for (int i = 0; i < 200 && !R.out.done; i++) {
		uint64_t e = R.now + offset_ms * MS;
		if (e < R.out.wake_ns) {
			R.now = e;
			if (i % 3 == 2)
				feed("ntp3_stratum2.hex");
			else
				net_error(ECONNREFUSED);
			if (R.out.done)
				break;
		}
		R.now = R.out.wake_ns;
		tick();
	}
	assert_true(R.out.done);
}

/*
 * Whatever the timing of ICMP errors and replies to the plain request,
 * and whatever the timeout and gap, no two packets are closer than the
 * gap (the harness checks every send) and an attempt sends at most one
 * packet per gap of its timeout.
 */
static void test_pacing_everywhere(void **state)
{
	static const uint64_t gaps[] = { 96, 704, 2000 }; /* multiples of 8 */
	static const uint64_t timeouts[] = { 100, 1500, 5000, 9000 };
	unsigned runs = 0;

	(void)state;
	for (size_t g = 0; g < 3; g++) {
		for (size_t t = 0; t < 4; t++) {
			for (uint64_t off = 0; off < gaps[g];
			     off += gaps[g] / 8) {
				setup_common(PROBE_SETVAR, "ntppool_verify",
					     TOKEN, SEQ_V1, XMT, 0, NULL);
				R.req.timeout_ms = timeouts[t];
				R.req.retransmit_ms = gaps[g];
				start();
				drive_with_events(off);
				assert_true(R.res.sent <=
					    timeouts[t] / gaps[g] + 1);
				runs++;
			}
		}
	}
	assert_int_equal(runs, 12 * 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sysvars_from_readvar),
		cmocka_unit_test(test_sysvars_hostile),
		cmocka_unit_test(test_fragment_shapes),
		cmocka_unit_test(test_signed_kiss),
		cmocka_unit_test(test_signed_kiss_bad_mac),
		cmocka_unit_test(test_unsynced_keyed_reply),
		cmocka_unit_test(test_pacing_everywhere),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
