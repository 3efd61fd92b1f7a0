/* test_refid_code.c - refid codes: shape, the well-known list, drawing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/refid_code.h"

static void test_shape(void **state)
{
	(void)state;
	assert_true(refid_code_valid("K7QX"));
	assert_true(refid_code_valid("0000"));
	assert_false(refid_code_valid("K7Q"));
	assert_false(refid_code_valid("K7QXY"));
	assert_false(refid_code_valid("k7qx"));
	assert_false(refid_code_valid("K7 X"));
	assert_false(refid_code_valid("K7\"X"));
	assert_false(refid_code_valid(""));
}

/* Codes a server may carry without being asked never count. */
static void test_reserved(void **state)
{
	static const char *const taken[] = {
		"WWVB", "NIST", "GOOG", "LOCL", "GPSD", "GPS1", "PPS0",
		"SHM0", "DCF7", "MSFA", "RATE", "DENY", "INIT", "PHC0",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++)
		assert_non_null(refid_code_reserved(taken[i]));
	assert_null(refid_code_reserved("K7QX"));
	assert_null(refid_code_reserved("G2PS"));
}

/* Drawn codes: valid, unreserved, unambiguous letters, not all alike. */
static void test_make(void **state)
{
	char code[REFID_CODE_LEN + 1], first[REFID_CODE_LEN + 1];
	int differ = 0;

	(void)state;
	assert_int_equal(refid_code_make(first), 0);
	for (int i = 0; i < 2000; i++) {
		assert_int_equal(refid_code_make(code), 0);
		assert_true(refid_code_valid(code));
		assert_null(refid_code_reserved(code));
		assert_null(strpbrk(code, "01OIL"));
		differ += strcmp(code, first) != 0;
	}
	assert_true(differ > 1990);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shape),
		cmocka_unit_test(test_reserved),
		cmocka_unit_test(test_make),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
