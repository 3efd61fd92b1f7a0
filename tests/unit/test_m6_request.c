/*
 * test_m6_request.c - the mode 6 READVAR request builder against the
 * captures in tests/data/, the limits it enforces, and the names given to
 * error codes and to failed reply checks.
 */
#include <limits.h>
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

/* Build a request and compare it octet for octet with a capture. */
static void check_request(const char *file, uint16_t seq,
			  const char *const *names, size_t n)
{
	uint8_t want[PKT_MAX], got[M6_REQUEST_MAX];
	size_t want_len = load(file, want, sizeof(want));
	int len = m6_build_readvar(got, sizeof(got), M6_VERSION_DEFAULT, seq,
				   names, n);

	assert_int_equal(len, (int)want_len);
	assert_memory_equal(got, want, want_len);
}

static void test_request_v1(void **state)
{
	const char *names[] = { "ntppool_verify" };

	(void)state;
	check_request("m6_v1_request.hex", 1, names, 1);
}

static void test_request_v2(void **state)
{
	const char *names[] = { "nosuchvar" };

	(void)state;
	check_request("m6_v2_request.hex", 5, names, 1);
}

static void test_request_v3(void **state)
{
	const char *names[] = { "longvar" };

	(void)state;
	check_request("m6_v3_request.hex", 12, names, 1);
}

static void test_request_v5_two_names(void **state)
{
	const char *names[] = { "longvar", "nosuchvar" };

	(void)state;
	check_request("m6_v5_request.hex", 35, names, 2);
}

/* Count excludes padding; padding is zero and stops at the next 4. */
static void test_request_padding(void **state)
{
	static const char letters[] = "abcdefgh";
	uint8_t buf[M6_REQUEST_MAX];

	(void)state;
	for (size_t n = 1; n <= 8; n++) {
		char name[9];
		const char *names[] = { name };
		size_t padded = (n + 3) / 4 * 4;
		int len;

		memcpy(name, letters, n);
		name[n] = '\0';
		memset(buf, 0xaa, sizeof(buf));
		len = m6_build_readvar(buf, sizeof(buf), 2, 0x1234, names, 1);
		assert_int_equal(len, (int)(12 + padded));
		assert_int_equal(buf[10], 0);
		assert_int_equal(buf[11], n);
		assert_memory_equal(buf + 12, letters, n);
		for (size_t i = 12 + n; i < 12 + padded; i++)
			assert_int_equal(buf[i], 0);
		/* Nothing written past the datagram. */
		assert_int_equal(buf[12 + padded], 0xaa);
	}
}

static void test_request_header_fields(void **state)
{
	const char *names[] = { "ntppool_verify", "plainvar" };
	uint8_t buf[M6_REQUEST_MAX];
	int len;

	(void)state;
	len = m6_build_readvar(buf, sizeof(buf), 4, 0xbeef, names, 2);
	assert_int_equal(len, 36); /* 12 + 23 + 1 pad */
	assert_int_equal(buf[0], 0x26); /* LI 0, VN 4, mode 6 */
	assert_int_equal(buf[1], 0x02); /* R, E, M clear, READVAR */
	assert_int_equal(buf[2], 0xbe);
	assert_int_equal(buf[3], 0xef);
	assert_memory_equal(buf + 4, "\0\0\0\0\0\0\0\x17", 8);
	assert_memory_equal(buf + 12, "ntppool_verify,plainvar\0", 24);
}

/* The exact buffer size works; one octet less does not. */
static void test_request_buffer_size(void **state)
{
	const char *names[] = { "ntppool_verify" };
	uint8_t buf[28];

	(void)state;
	assert_int_equal(m6_build_readvar(buf, 28, 2, 1, names, 1), 28);
	assert_int_equal(m6_build_readvar(buf, 27, 2, 1, names, 1), -1);
	assert_int_equal(m6_build_readvar(buf, 0, 2, 1, names, 1), -1);
	assert_int_equal(m6_build_readvar(NULL, 28, 2, 1, names, 1), -1);
}

static void test_request_invalid_names(void **state)
{
	static const char *const bad[] = {
		"",                 /* empty */
		"ntppool_verify ",  /* ntpd: unknown variable */
		" ntppool_verify",
		"ntppool_verify\r\n",
		"ntppool\tverify",
		"a,b",              /* would be two names */
		"a=b",              /* would be a value */
		"\"quoted\"",
		"caf\xc3\xa9",      /* not ASCII */
		"del\x7f",
	};
	uint8_t buf[M6_REQUEST_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *names[] = { "plainvar", bad[i] };

		assert_int_equal(m6_build_readvar(buf, sizeof(buf), 2, 1,
						  &names[1], 1), -1);
		/* One bad name spoils the list. */
		assert_int_equal(m6_build_readvar(buf, sizeof(buf), 2, 1,
						  names, 2), -1);
	}
	{
		const char *names[] = { "a", NULL };

		assert_int_equal(m6_build_readvar(buf, sizeof(buf), 2, 1,
						  names, 2), -1);
		assert_int_equal(m6_build_readvar(buf, sizeof(buf), 2, 1,
						  NULL, 1), -1);
		assert_int_equal(m6_build_readvar(buf, sizeof(buf), 2, 1,
						  names, 0), -1);
	}
}

/* Servers drop VN 0 and 5-7 silently: refusing is kinder than a timeout. */
static void test_request_versions(void **state)
{
	const char *names[] = { "ntppool_verify" };
	uint8_t buf[M6_REQUEST_MAX];

	(void)state;
	for (unsigned v = 0; v <= 8; v++) {
		int len = m6_build_readvar(buf, sizeof(buf), (uint8_t)v, 1,
					   names, 1);

		if (v >= 1 && v <= 4) {
			assert_int_equal(len, 28);
			assert_int_equal(buf[0], v << 3 | 6);
		} else {
			assert_int_equal(len, -1);
		}
	}
}

/* The name list must fit one datagram: 468 octets of data at most. */
static void test_request_too_long(void **state)
{
	static char big[M6_FRAG_DATA_MAX + 2];
	static char half[235];
	const char *one[] = { big };
	const char *two[] = { half, half };
	uint8_t buf[M6_REQUEST_MAX + 8];

	(void)state;
	memset(big, 'a', M6_FRAG_DATA_MAX);
	big[M6_FRAG_DATA_MAX] = '\0';
	assert_int_equal(m6_build_readvar(buf, sizeof(buf), 2, 1, one, 1),
			 M6_REQUEST_MAX);
	big[M6_FRAG_DATA_MAX] = 'a';
	big[M6_FRAG_DATA_MAX + 1] = '\0';
	assert_int_equal(m6_build_readvar(buf, sizeof(buf), 2, 1, one, 1), -1);

	/* 234 + ',' + 234 = 469 */
	memset(half, 'b', 234);
	half[234] = '\0';
	assert_int_equal(m6_build_readvar(buf, sizeof(buf), 2, 1, two, 2), -1);
	half[233] = '\0'; /* 233 + 1 + 233 = 467 */
	assert_int_equal(m6_build_readvar(buf, sizeof(buf), 2, 1, two, 2),
			 12 + 468);
}

static void test_error_names(void **state)
{
	static const char *const want[] = {
		"unspecified", "permission", "bad format", "bad opcode",
		"bad association", "unknown variable", "bad value", "restrict",
	};

	(void)state;
	for (unsigned code = 0; code < 8; code++)
		assert_string_equal(m6_error_name(code), want[code]);
	assert_null(m6_error_name(8));
	assert_null(m6_error_name(255));
	assert_null(m6_error_name(UINT_MAX));
}

static void test_check_names(void **state)
{
	(void)state;
	assert_string_equal(m6_check_name(M6_OK), "ok");
	assert_string_equal(m6_check_name(M6_BAD_LENGTH), "short packet");
	assert_string_equal(m6_check_name(M6_BAD_VERSION), "version mismatch");
	assert_string_equal(m6_check_name(M6_BAD_MODE), "not mode 6");
	assert_string_equal(m6_check_name(M6_BAD_RESPONSE), "not a response");
	assert_string_equal(m6_check_name(M6_BAD_OPCODE), "opcode mismatch");
	assert_string_equal(m6_check_name(M6_BAD_SEQUENCE), "sequence mismatch");
	assert_string_equal(m6_check_name(M6_BAD_ASSOCIATION),
			    "association mismatch");
	assert_string_equal(m6_check_name(M6_BAD_OFFSET), "offset out of range");
	assert_string_equal(m6_check_name(M6_BAD_COUNT), "count exceeds datagram");
	assert_string_equal(m6_check_name((enum m6_check)99), "unknown check");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_v1),
		cmocka_unit_test(test_request_v2),
		cmocka_unit_test(test_request_v3),
		cmocka_unit_test(test_request_v5_two_names),
		cmocka_unit_test(test_request_padding),
		cmocka_unit_test(test_request_header_fields),
		cmocka_unit_test(test_request_buffer_size),
		cmocka_unit_test(test_request_invalid_names),
		cmocka_unit_test(test_request_versions),
		cmocka_unit_test(test_request_too_long),
		cmocka_unit_test(test_error_names),
		cmocka_unit_test(test_check_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
