/*
 * test_ntp3.c - mode 3 request and mode 4 reply: the V6 captures,
 * Kiss-o'-Death codes, unsynchronised servers and hostile replies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hexfile.h"
#include "ntpwire/ntp3.h"

#define XMT UINT64_C(0xe00000379ecedf01)
#define XMT_RATE UINT64_C(0xe000005980ea3540)

static size_t load(const char *name, uint8_t *buf, size_t cap)
{
	size_t len = 0;

	if (hexfile_load(name, buf, cap, &len) != 0)
		fail_msg("cannot load %s", name);
	return len;
}

/* Load, parse OK against xmt, return the reply. */
static struct ntp3_reply parse_ok(const char *file, uint64_t xmt)
{
	uint8_t pkt[256];
	size_t len = load(file, pkt, sizeof(pkt));
	struct ntp3_reply r;
	enum ntp3_check c = ntp3_parse_reply(pkt, len, xmt, &r);

	if (c != NTP3_OK)
		fail_msg("%s: %s", file, ntp3_check_name(c));
	return r;
}

static void assert_refid_str(const struct ntp3_reply *r, const char *want)
{
	char s[NTP3_REFID_STRLEN];

	memset(s, 'X', sizeof(s));
	ntp3_refid_str(r, s);
	assert_string_equal(s, want);
}

static void test_request_capture(void **state)
{
	uint8_t want[64], got[NTP3_PACKET_LEN];
	size_t len = load("ntp3_v6_request.hex", want, sizeof(want));

	(void)state;
	assert_int_equal(len, NTP3_PACKET_LEN);
	memset(got, 0xaa, sizeof(got));
	ntp3_build_request(got, XMT);
	assert_memory_equal(got, want, NTP3_PACKET_LEN);
}

static void test_request_byte_order(void **state)
{
	uint8_t got[NTP3_PACKET_LEN];
	static const uint8_t be[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	(void)state;
	ntp3_build_request(got, UINT64_C(0x0102030405060708));
	assert_int_equal(got[0], 0x23);
	assert_memory_equal(got + 40, be, 8);
	for (size_t i = 1; i < 40; i++)
		assert_int_equal(got[i], 0);
}

static void test_reply_init(void **state)
{
	struct ntp3_reply r = parse_ok("ntp3_v6_reply_init.hex", XMT);

	(void)state;
	assert_int_equal(r.leap, 3);
	assert_int_equal(r.version, 4);
	assert_int_equal(r.stratum, 0);
	assert_int_equal(r.poll, 3);
	assert_int_equal(r.precision, -24);
	assert_memory_equal(r.refid, "INIT", 4);
	assert_true(r.origin == XMT);
	assert_true(r.receive == UINT64_C(0xeeb7dc2790e4c6d2));
	assert_true(r.transmit == UINT64_C(0xeeb7dc27921cfafb));
	/* Stratum 0 with INIT is a server starting up, not a kiss. */
	assert_int_equal(r.kind, NTP3_UNSYNCED);
	assert_false(ntp3_is_kiss(r.kind));
	assert_refid_str(&r, "INIT");
}

static void test_reply_rate(void **state)
{
	struct ntp3_reply r = parse_ok("ntp3_v6_kod_rate.hex", XMT_RATE);

	(void)state;
	assert_int_equal(r.leap, 3);
	assert_int_equal(r.stratum, 0);
	assert_int_equal(r.poll, 3);
	assert_int_equal(r.precision, 0);
	assert_true(r.origin == XMT_RATE);
	assert_true(r.receive == XMT_RATE);
	assert_true(r.transmit == XMT_RATE);
	assert_int_equal(r.kind, NTP3_KISS_RATE);
	assert_true(ntp3_is_kiss(r.kind));
	assert_refid_str(&r, "RATE");

	r = parse_ok("ntp3_kod_rate_ntpsec.hex", XMT);
	assert_int_equal(r.poll, 0);
	assert_int_equal(r.kind, NTP3_KISS_RATE);
}

struct kind_case {
	const char *file;
	enum ntp3_kind kind;
	const char *refid;
	uint8_t stratum;
};

static void test_kinds(void **state)
{
	static const struct kind_case cases[] = {
		{ "ntp3_kod_deny.hex", NTP3_KISS_DENY, "DENY", 0 },
		{ "ntp3_kod_rstr.hex", NTP3_KISS_RSTR, "RSTR", 0 },
		{ "ntp3_kod_other.hex", NTP3_KISS_OTHER, "AUTH", 0 },
		{ "ntp3_step.hex", NTP3_UNSYNCED, "STEP", 0 },
		{ "ntp3_stratum16.hex", NTP3_UNSYNCED, "0.0.0.0", 16 },
		{ "ntp3_stratum1_gps.hex", NTP3_SYNCED, "GPS", 1 },
		{ "ntp3_stratum1_unprintable.hex", NTP3_SYNCED, "G.S.", 1 },
		{ "ntp3_stratum2.hex", NTP3_SYNCED, "192.0.2.1", 2 },
		{ "ntp3_with_mac.hex", NTP3_SYNCED, "10.1.2.3", 2 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ntp3_reply r = parse_ok(cases[i].file, XMT);

		if (r.kind != cases[i].kind)
			fail_msg("%s: kind %d, want %d", cases[i].file, r.kind,
				 cases[i].kind);
		assert_int_equal(r.stratum, cases[i].stratum);
		assert_refid_str(&r, cases[i].refid);
	}
}

/* Patch stratum and refid of a good reply to walk the classification. */
static void test_classification_table(void **state)
{
	static const struct {
		uint8_t stratum;
		const char refid[5];
		enum ntp3_kind kind;
	} cases[] = {
		{ 0, "RATE", NTP3_KISS_RATE },
		{ 0, "DENY", NTP3_KISS_DENY },
		{ 0, "RSTR", NTP3_KISS_RSTR },
		{ 0, "INIT", NTP3_UNSYNCED },
		{ 0, "STEP", NTP3_UNSYNCED },
		{ 0, "rate", NTP3_KISS_OTHER }, /* codes are upper case */
		{ 0, "RAT", NTP3_KISS_OTHER },
		{ 0, "", NTP3_KISS_OTHER },
		{ 1, "RATE", NTP3_SYNCED },     /* only stratum 0 kisses */
		{ 2, "DENY", NTP3_SYNCED },
		{ 15, "", NTP3_SYNCED },
		{ 16, "INIT", NTP3_UNSYNCED },
		{ 17, "", NTP3_UNSYNCED },
		{ 255, "", NTP3_UNSYNCED },
	};
	uint8_t pkt[256];
	size_t len = load("ntp3_stratum2.hex", pkt, sizeof(pkt));

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ntp3_reply r;

		pkt[1] = cases[i].stratum;
		memcpy(pkt + 12, cases[i].refid, 4);
		assert_int_equal(ntp3_parse_reply(pkt, len, XMT, &r), NTP3_OK);
		if (r.kind != cases[i].kind)
			fail_msg("case %zu: kind %d, want %d", i, r.kind,
				 cases[i].kind);
	}
}

static void test_refid_strings(void **state)
{
	struct ntp3_reply r;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.stratum = 1;
	memcpy(r.refid, "PPS\0", 4);
	assert_refid_str(&r, "PPS");
	memcpy(r.refid, "\0\0\0\0", 4);
	assert_refid_str(&r, "");
	/* Only trailing NULs are dropped; an inner one is unprintable. */
	memcpy(r.refid, "A\0B\0", 4);
	assert_refid_str(&r, "A.B");
	memcpy(r.refid, "\x80\x1f\x7f~", 4);
	assert_refid_str(&r, "...~");
	r.stratum = 0;
	memcpy(r.refid, "DENY", 4);
	assert_refid_str(&r, "DENY");
	r.stratum = 2;
	memcpy(r.refid, "\xff\xff\xff\xff", 4);
	assert_refid_str(&r, "255.255.255.255");
	r.stratum = 3;
	memcpy(r.refid, "GPS\0", 4);
	assert_refid_str(&r, "71.80.83.0");
}

struct hostile {
	const char *file;
	uint64_t xmt;
	enum ntp3_check want;
};

static const struct hostile hostile[] = {
	{ "ntp3_bad_origin.hex", XMT, NTP3_BAD_ORIGIN },
	/* A kiss that does not echo our timestamp is spoofed: no backoff. */
	{ "ntp3_v6_kod_rate.hex", XMT, NTP3_BAD_ORIGIN },
	{ "ntp3_v6_reply_init.hex", XMT_RATE, NTP3_BAD_ORIGIN },
	{ "ntp3_short47.hex", XMT, NTP3_BAD_LENGTH },
	{ "ntp3_v6_request.hex", XMT, NTP3_BAD_MODE }, /* ours, reflected */
	{ "ntp3_mode5.hex", XMT, NTP3_BAD_MODE },
	{ "ntp3_vn0.hex", XMT, NTP3_BAD_VERSION },
	{ "ntp3_vn5.hex", XMT, NTP3_BAD_VERSION },
};

static void test_hostile(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		uint8_t pkt[256];
		size_t len = load(hostile[i].file, pkt, sizeof(pkt));
		struct ntp3_reply r;
		enum ntp3_check c = ntp3_parse_reply(pkt, len, hostile[i].xmt, &r);

		if (c != hostile[i].want)
			fail_msg("%s: got \"%s\", want \"%s\"", hostile[i].file,
				 ntp3_check_name(c),
				 ntp3_check_name(hostile[i].want));
	}
	print_message("%zu hostile replies from files\n",
		      sizeof(hostile) / sizeof(hostile[0]));
}

static void test_short_lengths(void **state)
{
	uint8_t pkt[256];
	size_t len = load("ntp3_v6_reply_init.hex", pkt, sizeof(pkt));
	struct ntp3_reply r;

	(void)state;
	assert_int_equal(len, 48);
	for (size_t n = 0; n < NTP3_PACKET_LEN; n++)
		assert_int_equal(ntp3_parse_reply(pkt, n, XMT, &r),
				 NTP3_BAD_LENGTH);
	assert_int_equal(ntp3_parse_reply(NULL, 0, XMT, &r), NTP3_BAD_LENGTH);
	assert_int_equal(ntp3_parse_reply(pkt, 48, XMT, &r), NTP3_OK);
}

/* Every VN and mode: only VN 1..4 with mode 4 pass, version first. */
static void test_version_mode_order(void **state)
{
	uint8_t pkt[256];
	size_t len = load("ntp3_stratum2.hex", pkt, sizeof(pkt));
	struct ntp3_reply r;

	(void)state;
	for (unsigned vn = 0; vn < 8; vn++) {
		for (unsigned mode = 0; mode < 8; mode++) {
			enum ntp3_check want =
				vn < 1 || vn > 4 ? NTP3_BAD_VERSION :
				mode != 4 ? NTP3_BAD_MODE : NTP3_OK;

			pkt[0] = (uint8_t)(vn << 3 | mode);
			/* A wrong origin never hides an earlier failure. */
			assert_int_equal(ntp3_parse_reply(pkt, len, XMT + 1, &r),
					 want == NTP3_OK ? NTP3_BAD_ORIGIN : want);
			assert_int_equal(ntp3_parse_reply(pkt, len, XMT, &r), want);
		}
	}
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(ntp3_check_name(NTP3_OK), "ok");
	assert_string_equal(ntp3_check_name(NTP3_BAD_LENGTH), "short packet");
	assert_string_equal(ntp3_check_name(NTP3_BAD_VERSION), "bad version");
	assert_string_equal(ntp3_check_name(NTP3_BAD_MODE), "not mode 4");
	assert_string_equal(ntp3_check_name(NTP3_BAD_ORIGIN),
			    "origin timestamp mismatch");
	assert_string_equal(ntp3_check_name((enum ntp3_check)42),
			    "unknown check");
	assert_false(ntp3_is_kiss(NTP3_SYNCED));
	assert_false(ntp3_is_kiss(NTP3_UNSYNCED));
	assert_true(ntp3_is_kiss(NTP3_KISS_RATE));
	assert_true(ntp3_is_kiss(NTP3_KISS_DENY));
	assert_true(ntp3_is_kiss(NTP3_KISS_RSTR));
	assert_true(ntp3_is_kiss(NTP3_KISS_OTHER));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_capture),
		cmocka_unit_test(test_request_byte_order),
		cmocka_unit_test(test_reply_init),
		cmocka_unit_test(test_reply_rate),
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_classification_table),
		cmocka_unit_test(test_refid_strings),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_short_lengths),
		cmocka_unit_test(test_version_mode_order),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
