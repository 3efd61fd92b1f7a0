/*
 * test_m6_reply.c - mode 6 reply validation against the real captures in
 * tests/data/ (data, errors, fragments) and hostile variations of them:
 * each refused for exactly the stated reason, in the documented order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hexfile.h"
#include "ntpwire/m6.h"

#define PKT_MAX 2048

static size_t load(const char *name, uint8_t *buf, size_t cap)
{
	size_t len = 0;

	if (hexfile_load(name, buf, cap, &len) != 0)
		fail_msg("cannot load %s", name);
	return len;
}

static struct m6_expect expect_of(uint16_t sequence)
{
	struct m6_expect e = { M6_VERSION_DEFAULT, M6_OP_READVAR, sequence, 0 };
	return e;
}

static const char v1_data[] = "ntppool_verify=tok-3f9a1c2b7d\r\n";

static void test_v1_reply(void **state)
{
	uint8_t pkt[PKT_MAX];
	size_t len = load("m6_v1_reply.hex", pkt, sizeof(pkt));
	struct m6_expect e = expect_of(1);
	struct m6_header h;
	const uint8_t *data;

	(void)state;
	assert_int_equal(len, 44);
	assert_int_equal(m6_parse_reply(pkt, len, &e, &h, &data), M6_OK);
	assert_int_equal(h.leap, 3);
	assert_int_equal(h.version, 2);
	assert_int_equal(h.mode, 6);
	assert_true(h.response);
	assert_false(h.error);
	assert_false(h.more);
	assert_int_equal(h.opcode, M6_OP_READVAR);
	assert_int_equal(h.sequence, 1);
	assert_int_equal(h.status, 0xc016);
	assert_int_equal(h.associd, 0);
	assert_int_equal(h.offset, 0);
	assert_int_equal(h.count, 31);
	assert_ptr_equal(data, pkt + 12);
	assert_memory_equal(data, v1_data, 31);
}

/* Stale padding, no padding, a trailing MAC: data is count octets only. */
static void test_v1_reply_variants(void **state)
{
	static const char *const files[] = {
		"m6_v1_reply_stale_pad.hex",
		"m6_v1_reply_unpadded.hex",
		"m6_v1_reply_trailing_mac.hex",
	};
	struct m6_expect e = expect_of(1);

	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		uint8_t pkt[PKT_MAX];
		size_t len = load(files[i], pkt, sizeof(pkt));
		struct m6_header h;
		const uint8_t *data;

		assert_int_equal(m6_parse_reply(pkt, len, &e, &h, &data), M6_OK);
		assert_int_equal(h.count, 31);
		assert_memory_equal(data, v1_data, 31);
	}
}

static void test_two_names_reply(void **state)
{
	static const char want[] = "ntppool_verify=tok-3f9a1c2b7d, plainvar=abc\r\n";
	uint8_t pkt[PKT_MAX];
	size_t len = load("m6_v1_reply_two_names.hex", pkt, sizeof(pkt));
	struct m6_expect e = expect_of(1);
	struct m6_header h;
	const uint8_t *data;

	(void)state;
	assert_int_equal(m6_parse_reply(pkt, len, &e, &h, &data), M6_OK);
	assert_int_equal(h.count, sizeof(want) - 1);
	assert_memory_equal(data, want, sizeof(want) - 1);
}

/* The server echoes VN 4; only a VN 4 request may accept it. */
static void test_vn4_reply(void **state)
{
	uint8_t pkt[PKT_MAX];
	size_t len = load("m6_v1_reply_vn4.hex", pkt, sizeof(pkt));
	struct m6_expect e = { 4, M6_OP_READVAR, 2, 0 };
	struct m6_header h;
	const uint8_t *data;

	(void)state;
	assert_int_equal(pkt[0], 0xe6);
	assert_int_equal(m6_parse_reply(pkt, len, &e, &h, &data), M6_OK);
	assert_int_equal(h.version, 4);
	e.version = 2;
	assert_int_equal(m6_parse_reply(pkt, len, &e, &h, &data), M6_BAD_VERSION);
}

struct err_case {
	const char *file;
	struct m6_expect expect;
	unsigned code;
	const char *name;
	uint16_t offset;
	uint16_t associd;
};

static void test_error_captures(void **state)
{
	static const struct err_case cases[] = {
		{ "m6_v2_reply_unknownvar.hex", { 2, 2, 5, 0 }, 5,
		  "unknown variable", 0, 0 },
		{ "m6_err_badop.hex", { 2, 20, 0x12, 0 }, 3, "bad opcode", 0, 0 },
		{ "m6_err_badassoc.hex", { 2, 2, 0x13, 12345 }, 4,
		  "bad association", 0, 12345 },
		{ "m6_err_badfmt.hex", { 2, 2, 0x14, 0 }, 2, "bad format", 0, 0 },
		/* Stale offset from the previous reply: still accepted. */
		{ "m6_v4_reply_stale_offset.hex", { 2, 2, 13, 0 }, 2,
		  "bad format", 468, 0 },
		{ "m6_err_stale_offset_ffff.hex", { 2, 2, 5, 0 }, 5,
		  "unknown variable", 0xffff, 0 },
		{ "m6_v5_error.hex", { 2, 2, 35, 0 }, 5, "unknown variable", 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct err_case *c = &cases[i];
		uint8_t pkt[PKT_MAX];
		size_t len = load(c->file, pkt, sizeof(pkt));
		struct m6_header h;
		const uint8_t *data;

		assert_int_equal(len, 12);
		assert_int_equal(m6_parse_reply(pkt, len, &c->expect, &h, &data),
				 M6_OK);
		assert_true(h.error);
		assert_true(h.response);
		assert_false(h.more);
		assert_int_equal(h.count, 0);
		assert_int_equal(h.offset, c->offset);
		assert_int_equal(h.associd, c->associd);
		assert_int_equal(m6_error_code(&h), c->code);
		assert_string_equal(m6_error_name(m6_error_code(&h)), c->name);
	}
}

/* Every code a server can put in the status high byte. */
static void test_each_error_code(void **state)
{
	uint8_t pkt[PKT_MAX];
	size_t len = load("m6_v2_reply_unknownvar.hex", pkt, sizeof(pkt));
	struct m6_expect e = expect_of(5);

	(void)state;
	for (unsigned code = 0; code <= 255; code++) {
		struct m6_header h;
		const uint8_t *data;

		pkt[4] = (uint8_t)code;
		assert_int_equal(m6_parse_reply(pkt, len, &e, &h, &data), M6_OK);
		assert_int_equal(m6_error_code(&h), code);
		if (code < 8)
			assert_non_null(m6_error_name(code));
		else
			assert_null(m6_error_name(code));
	}
}

static void test_v3_fragments(void **state)
{
	uint8_t f1[PKT_MAX], f2[PKT_MAX];
	size_t l1 = load("m6_v3_frag1.hex", f1, sizeof(f1));
	size_t l2 = load("m6_v3_frag2.hex", f2, sizeof(f2));
	struct m6_expect e = expect_of(12);
	struct m6_header h;
	const uint8_t *data;

	(void)state;
	assert_int_equal(l1, 480);
	assert_int_equal(m6_parse_reply(f1, l1, &e, &h, &data), M6_OK);
	assert_true(h.more);
	assert_int_equal(h.offset, 0);
	assert_int_equal(h.count, 468);
	assert_memory_equal(data, "longvar=000-abcdefghij", 22);

	assert_int_equal(l2, 256);
	assert_int_equal(m6_parse_reply(f2, l2, &e, &h, &data), M6_OK);
	assert_false(h.more);
	assert_int_equal(h.offset, 468);
	assert_int_equal(h.count, 242);
	assert_memory_equal(data, "ij033-", 6);
	assert_memory_equal(data + 240, "\r\n", 2);
}

/* NTPsec >= 1.2.3: a data fragment, then an error with the same sequence. */
static void test_v5_fragment_then_error(void **state)
{
	uint8_t f1[PKT_MAX], f2[PKT_MAX];
	size_t l1 = load("m6_v5_frag1.hex", f1, sizeof(f1));
	size_t l2 = load("m6_v5_error.hex", f2, sizeof(f2));
	struct m6_expect e = expect_of(35);
	struct m6_header h;
	const uint8_t *data;

	(void)state;
	assert_int_equal(m6_parse_reply(f1, l1, &e, &h, &data), M6_OK);
	assert_true(h.more);
	assert_false(h.error);
	assert_int_equal(h.count, 468);
	assert_int_equal(m6_parse_reply(f2, l2, &e, &h, &data), M6_OK);
	assert_true(h.error);
	assert_int_equal(m6_error_code(&h), M6_ERR_UNKNOWNVAR);
}

static void test_empty_and_boundary(void **state)
{
	uint8_t pkt[PKT_MAX];
	size_t len;
	struct m6_expect e = expect_of(1);
	struct m6_header h;
	const uint8_t *data;

	(void)state;
	len = load("m6_empty_reply.hex", pkt, sizeof(pkt));
	assert_int_equal(len, 12);
	assert_int_equal(m6_parse_reply(pkt, len, &e, &h, &data), M6_OK);
	assert_int_equal(h.count, 0);
	assert_non_null(data);

	len = load("m6_max_offset.hex", pkt, sizeof(pkt));
	assert_int_equal(m6_parse_reply(pkt, len, &e, &h, &data), M6_OK);
	assert_int_equal(h.offset + h.count, M6_MAX_TOTAL);
}

struct hostile {
	const char *file;
	uint16_t sequence;  /* expected; VN 2, READVAR, assoc 0 */
	enum m6_check want;
};

/* Each vector must be refused for exactly the stated reason. */
static const struct hostile hostile[] = {
	{ "m6_bad_version_vn3.hex", 1, M6_BAD_VERSION },
	{ "m6_bad_version_vn0.hex", 1, M6_BAD_VERSION },
	{ "m6_v1_reply_vn4.hex", 2, M6_BAD_VERSION },
	{ "m6_bad_mode_7.hex", 1, M6_BAD_MODE },
	{ "m6_bad_mode_4.hex", 1, M6_BAD_MODE },
	{ "m6_v1_request.hex", 1, M6_BAD_RESPONSE }, /* our request reflected */
	{ "m6_bad_response_error_no_r.hex", 5, M6_BAD_RESPONSE },
	{ "m6_bad_opcode_1.hex", 1, M6_BAD_OPCODE },
	{ "m6_bad_opcode_31.hex", 1, M6_BAD_OPCODE },
	{ "m6_err_badop.hex", 0x12, M6_BAD_OPCODE }, /* real: op 20 echoed */
	{ "m6_v1_reply.hex", 2, M6_BAD_SEQUENCE },
	{ "m6_v2_reply_unknownvar.hex", 4, M6_BAD_SEQUENCE },
	{ "m6_bad_sequence_swapped.hex", 1, M6_BAD_SEQUENCE },
	{ "m6_err_badassoc.hex", 0x13, M6_BAD_ASSOCIATION }, /* real capture */
	{ "m6_bad_assoc_data.hex", 1, M6_BAD_ASSOCIATION },
	{ "m6_bad_offset_total.hex", 1, M6_BAD_OFFSET },
	{ "m6_bad_offset_ffff.hex", 1, M6_BAD_OFFSET },
	{ "m6_bad_offset_plus1.hex", 1, M6_BAD_OFFSET },
	{ "m6_bad_count_469.hex", 1, M6_BAD_OFFSET },
	{ "m6_bad_count_ffff.hex", 1, M6_BAD_OFFSET },
	{ "m6_err_count_469.hex", 5, M6_BAD_OFFSET },
	{ "m6_bad_count_truncated.hex", 1, M6_BAD_COUNT },
	{ "m6_bad_count_header_only.hex", 1, M6_BAD_COUNT },
	{ "m6_bad_count_by_one.hex", 1, M6_BAD_COUNT },
	{ "m6_err_count_nonzero.hex", 5, M6_BAD_COUNT },
	{ "m6_short_11.hex", 1, M6_BAD_LENGTH },
	{ "m6_all_wrong.hex", 1, M6_BAD_VERSION },
	{ "m6_order_mode_seq.hex", 1, M6_BAD_MODE },
	{ "m6_order_seq_assoc.hex", 1, M6_BAD_SEQUENCE },
	{ "m6_order_assoc_count.hex", 1, M6_BAD_ASSOCIATION },
	{ "m6_order_offset_count.hex", 1, M6_BAD_OFFSET },
};

static void test_hostile_replies(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		const struct hostile *c = &hostile[i];
		uint8_t pkt[PKT_MAX];
		size_t len = load(c->file, pkt, sizeof(pkt));
		struct m6_expect e = expect_of(c->sequence);
		struct m6_header h;
		const uint8_t *data = pkt;
		enum m6_check got = m6_parse_reply(pkt, len, &e, &h, &data);

		if (got != c->want)
			fail_msg("%s: got \"%s\", want \"%s\"", c->file,
				 m6_check_name(got), m6_check_name(c->want));
		assert_null(data);
	}
	print_message("%zu hostile replies from files\n",
		      sizeof(hostile) / sizeof(hostile[0]));
}

/* Every length short of a header, including none at all. */
static void test_short_packets(void **state)
{
	uint8_t pkt[PKT_MAX];
	size_t len = load("m6_v1_reply.hex", pkt, sizeof(pkt));
	struct m6_expect e = expect_of(1);
	struct m6_header h;
	const uint8_t *data;

	(void)state;
	assert_true(len > 12);
	for (size_t n = 0; n < M6_HEADER_LEN; n++) {
		data = pkt;
		assert_int_equal(m6_parse_reply(pkt, n, &e, &h, &data),
				 M6_BAD_LENGTH);
		assert_null(data);
	}
	assert_int_equal(m6_parse_reply(NULL, 0, &e, &h, &data), M6_BAD_LENGTH);
}

/*
 * Start from a reply wrong in every respect and repair one field at a
 * time: each step must report the next check in the documented order.
 */
static void test_check_order(void **state)
{
	uint8_t good[PKT_MAX], pkt[PKT_MAX];
	size_t len = load("m6_v1_reply.hex", good, sizeof(good));
	struct m6_expect e = expect_of(1);
	struct m6_header h;
	const uint8_t *data;
	size_t plen;

	(void)state;
	memcpy(pkt, good, len);
	pkt[0] = 0xc0 | 3 << 3 | 7; /* VN 3, mode 7 */
	pkt[1] = 0x01;              /* R clear, opcode 1 */
	pkt[3] = 0x09;              /* sequence 9 */
	pkt[7] = 0x03;              /* association 3 */
	pkt[8] = 0x3a;              /* offset 14976 = M6_MAX_TOTAL */
	pkt[9] = 0x80;
	plen = 40;                  /* count 31 needs 43 */

	assert_int_equal(m6_parse_reply(pkt, plen, &e, &h, &data), M6_BAD_VERSION);
	pkt[0] = (pkt[0] & 0xc7) | 2 << 3;
	assert_int_equal(m6_parse_reply(pkt, plen, &e, &h, &data), M6_BAD_MODE);
	pkt[0] = good[0];
	assert_int_equal(m6_parse_reply(pkt, plen, &e, &h, &data), M6_BAD_RESPONSE);
	pkt[1] |= 0x80;
	assert_int_equal(m6_parse_reply(pkt, plen, &e, &h, &data), M6_BAD_OPCODE);
	pkt[1] = good[1];
	assert_int_equal(m6_parse_reply(pkt, plen, &e, &h, &data), M6_BAD_SEQUENCE);
	/* The header is decoded even when rejected, for the log line. */
	assert_int_equal(h.sequence, 9);
	pkt[3] = good[3];
	assert_int_equal(m6_parse_reply(pkt, plen, &e, &h, &data),
			 M6_BAD_ASSOCIATION);
	pkt[7] = good[7];
	assert_int_equal(m6_parse_reply(pkt, plen, &e, &h, &data), M6_BAD_OFFSET);
	pkt[8] = good[8];
	pkt[9] = good[9];
	assert_int_equal(m6_parse_reply(pkt, plen, &e, &h, &data), M6_BAD_COUNT);
	assert_int_equal(m6_parse_reply(pkt, 43, &e, &h, &data), M6_OK);
}

/* Offset and count at and just past their bounds, data all present. */
static void test_offset_count_bounds(void **state)
{
	static uint8_t pkt[M6_HEADER_LEN + M6_FRAG_DATA_MAX + 4];
	struct m6_expect e = expect_of(7);
	struct m6_header h;
	const uint8_t *data;
	static const struct {
		uint16_t offset, count;
		bool error;
		enum m6_check want;
	} cases[] = {
		{ 0, 468, false, M6_OK },
		{ 0, 469, false, M6_BAD_OFFSET },
		{ 14508, 468, false, M6_OK },
		{ 14509, 468, false, M6_BAD_OFFSET },
		{ 14976, 0, false, M6_OK },
		{ 14977, 0, false, M6_BAD_OFFSET },
		{ 65535, 0, false, M6_BAD_OFFSET },
		{ 65535, 0, true, M6_OK },   /* stale offset in an error */
		{ 65535, 468, true, M6_OK },
		{ 0, 469, true, M6_BAD_OFFSET },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pkt[0] = 0xd6;
		pkt[1] = cases[i].error ? 0xc2 : 0x82;
		pkt[2] = 0;
		pkt[3] = 7;
		pkt[8] = (uint8_t)(cases[i].offset >> 8);
		pkt[9] = (uint8_t)cases[i].offset;
		pkt[10] = (uint8_t)(cases[i].count >> 8);
		pkt[11] = (uint8_t)cases[i].count;
		if (m6_parse_reply(pkt, sizeof(pkt), &e, &h, &data) !=
		    cases[i].want)
			fail_msg("case %zu: offset %u count %u", i,
				 cases[i].offset, cases[i].count);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_reply),
		cmocka_unit_test(test_v1_reply_variants),
		cmocka_unit_test(test_two_names_reply),
		cmocka_unit_test(test_vn4_reply),
		cmocka_unit_test(test_error_captures),
		cmocka_unit_test(test_each_error_code),
		cmocka_unit_test(test_v3_fragments),
		cmocka_unit_test(test_v5_fragment_then_error),
		cmocka_unit_test(test_empty_and_boundary),
		cmocka_unit_test(test_hostile_replies),
		cmocka_unit_test(test_short_packets),
		cmocka_unit_test(test_check_order),
		cmocka_unit_test(test_offset_count_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
