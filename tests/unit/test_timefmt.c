/* The human time and duration text every command prints (cli/timefmt.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cli/timefmt.h"

static void test_human_time(void **state)
{
	char b[TIMEFMT_MAX];

	(void)state;
	assert_string_equal(timefmt_human("2026-12-01T10:21:09.213Z", b,
					  sizeof(b)), "2026-12-01 10:21:09Z");
	assert_string_equal(timefmt_human("2026-12-01T10:21:09Z", b,
					  sizeof(b)), "2026-12-01 10:21:09Z");
	/* Not a time: shown as it came, NULL as "-". */
	assert_string_equal(timefmt_human("probing now", b, sizeof(b)),
			    "probing now");
	assert_string_equal(timefmt_human("-", b, sizeof(b)), "-");
	assert_string_equal(timefmt_human(NULL, b, sizeof(b)), "-");
	assert_string_equal(timefmt_human("2026-12-01 10:21:09Z", b,
					  sizeof(b)), "2026-12-01 10:21:09Z");
	/* Too small a buffer truncates, never overruns. */
	assert_string_equal(timefmt_human("2026-12-01T10:21:09.213Z", b, 11),
			    "2026-12-01");
}

static void test_is_rfc3339(void **state)
{
	(void)state;
	assert_true(timefmt_is_rfc3339("2026-12-01T10:21:09.213Z"));
	assert_true(timefmt_is_rfc3339("2026-12-01T10:21:09Z"));
	assert_false(timefmt_is_rfc3339("2026-12-01T10:21:09.Z"));
	assert_false(timefmt_is_rfc3339("2026-12-01T10:21:09.213"));
	assert_false(timefmt_is_rfc3339("2026-12-01T10:21:09+00:00"));
	assert_false(timefmt_is_rfc3339("2026-12-01 10:21:09Z"));
	assert_false(timefmt_is_rfc3339("2026-1-01T10:21:09Z"));
	assert_false(timefmt_is_rfc3339(""));
	assert_false(timefmt_is_rfc3339(NULL));
}

static void test_duration(void **state)
{
	char b[TIMEFMT_MAX];

	(void)state;
	assert_string_equal(timefmt_duration(0, b, sizeof(b)), "0s");
	assert_string_equal(timefmt_duration(7, b, sizeof(b)), "7s");
	assert_string_equal(timefmt_duration(187, b, sizeof(b)), "3m 7s");
	assert_string_equal(timefmt_duration(3607, b, sizeof(b)), "1h 0m 7s");
	assert_string_equal(timefmt_duration(93784, b, sizeof(b)),
			    "1d 2h 3m 4s");
	assert_string_equal(timefmt_duration(UINT64_MAX, b, sizeof(b)),
			    "213503982334601d 7h 0m 15s");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_human_time),
		cmocka_unit_test(test_is_rfc3339),
		cmocka_unit_test(test_duration),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
