/*
 * test_outcome_hint.c - the operator's hints: the token given is printed
 * instead of the placeholder, the mode6_silent hint names both a missing
 * restrict line and a flag on it unless the history shows the line is
 * there, and the rate_limited hint tells the operator to remove 'limited'
 * rather than only to add a line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "core/outcome.h"

static char buf[512];

static const char *hint(enum outcome o, const char *token,
			enum hint_restrict r)
{
	struct outcome_hint_in in = {
		.outcome = o,
		.prober_addr = "192.0.2.10",
		.variable = "ntppool_verify",
		.token = token,
		.restrict_line = r,
	};

	return outcome_hint_for(&in, buf, sizeof(buf));
}

static void test_token_printed(void **state)
{
	(void)state;
	assert_non_null(hint(OUTCOME_VARIABLE_MISSING, "tok-abc12345",
			     HINT_RESTRICT_UNKNOWN));
	assert_non_null(strstr(buf, "'setvar ntppool_verify = \"tok-abc12345\"'"));
	assert_null(strstr(buf, "TOKEN"));
	assert_non_null(hint(OUTCOME_TOKEN_MISMATCH, "tok-abc12345",
			     HINT_RESTRICT_UNKNOWN));
	assert_non_null(strstr(buf, "\"tok-abc12345\""));
}

static void test_token_placeholder(void **state)
{
	(void)state;
	assert_non_null(hint(OUTCOME_VARIABLE_MISSING, NULL,
			     HINT_RESTRICT_UNKNOWN));
	assert_non_null(strstr(buf, "\"TOKEN\""));
	assert_non_null(strstr(buf, "the one 'ntpverify add' printed"));
}

static void test_silent_cannot_tell(void **state)
{
	(void)state;
	assert_non_null(hint(OUTCOME_MODE6_SILENT, NULL, HINT_RESTRICT_UNKNOWN));
	/* both cases, and that it cannot tell them apart */
	assert_non_null(strstr(buf, "no 'restrict 192.0.2.10' line, add one"));
	assert_non_null(strstr(buf, "remove 'noquery'"));
	assert_non_null(strstr(buf, "cannot tell"));
	assert_non_null(strstr(buf, "chrony"));
}

static void test_silent_line_present(void **state)
{
	(void)state;
	assert_non_null(hint(OUTCOME_MODE6_SILENT, NULL, HINT_RESTRICT_PRESENT));
	assert_non_null(strstr(buf, "answered before"));
	assert_non_null(strstr(buf, "remove 'limited'"));
	/* never "add a line" that is already there */
	assert_null(strstr(buf, "add one"));
}

static void test_rate_limited(void **state)
{
	(void)state;
	assert_non_null(hint(OUTCOME_RATE_LIMITED, NULL, HINT_RESTRICT_UNKNOWN));
	assert_non_null(strstr(buf, "remove 'limited' from it"));
	assert_non_null(strstr(buf, "restrict 192.0.2.10"));
}

static void test_no_response_after_answers(void **state)
{
	struct outcome_hint_in in = { .outcome = OUTCOME_NO_RESPONSE,
				      .prober_addr = "192.0.2.10" };

	(void)state;
	assert_non_null(outcome_hint_for(&in, buf, sizeof(buf)));
	assert_non_null(strstr(buf, "firewall"));
	in.answered_before = true;
	assert_non_null(outcome_hint_for(&in, buf, sizeof(buf)));
	assert_non_null(strstr(buf, "answered 192.0.2.10 before"));
	assert_non_null(strstr(buf, "remove 'limited'"));
}

static void test_key_types(void **state)
{
	(void)state;
	assert_non_null(hint(OUTCOME_KEY_NOT_ACCEPTED, NULL,
			     HINT_RESTRICT_UNKNOWN));
	assert_non_null(strstr(buf, "AES128CMAC for ntpd from ntp.org"));
	assert_non_null(strstr(buf, "AES-128 for NTPsec"));
	assert_non_null(strstr(buf, "AES128 for chrony"));
	assert_non_null(strstr(buf, "last one"));
}

static void test_nothing_to_do(void **state)
{
	(void)state;
	assert_null(hint(OUTCOME_VERIFIED, "tok-abc12345", HINT_RESTRICT_UNKNOWN));
	assert_string_equal(buf, "");
}

/* What `show` reads from the history of one source. */
static void test_answered(void **state)
{
	(void)state;
	assert_false(outcome_answered(OUTCOME_NO_RESPONSE));
	assert_false(outcome_answered(OUTCOME_UNREACHABLE));
	assert_false(outcome_answered(OUTCOME_SEND_FAILED));
	assert_false(outcome_answered(OUTCOME_REFUSED_BY_POLICY));
	assert_false(outcome_answered(OUTCOME_COUNT));
	assert_true(outcome_answered(OUTCOME_RATE_LIMITED));
	assert_true(outcome_answered(OUTCOME_MALFORMED));
	assert_true(outcome_answered(OUTCOME_MODE6_SILENT));
	assert_true(outcome_mode6_answered(OUTCOME_VERIFIED));
	assert_true(outcome_mode6_answered(OUTCOME_TOKEN_MISMATCH));
	assert_true(outcome_mode6_answered(OUTCOME_VARIABLE_MISSING));
	assert_true(outcome_mode6_answered(OUTCOME_MODE6_ERROR));
	assert_false(outcome_mode6_answered(OUTCOME_MODE6_SILENT));
	assert_false(outcome_mode6_answered(OUTCOME_RATE_LIMITED));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_printed),
		cmocka_unit_test(test_token_placeholder),
		cmocka_unit_test(test_silent_cannot_tell),
		cmocka_unit_test(test_silent_line_present),
		cmocka_unit_test(test_rate_limited),
		cmocka_unit_test(test_no_response_after_answers),
		cmocka_unit_test(test_key_types),
		cmocka_unit_test(test_nothing_to_do),
		cmocka_unit_test(test_answered),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
