/* Classification: every combination of observations maps to one outcome. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "engine/classify.h"

#define TOKEN "tok-3f9a1c2b7d"

static struct probe_obs base_obs(void)
{
	struct probe_obs o;

	memset(&o, 0, sizeof(o));
	o.variable = "ntppool_verify";
	o.token = TOKEN;
	return o;
}

static struct probe_verdict run(const struct probe_obs *o)
{
	struct probe_verdict v;

	probe_classify(o, &v);
	return v;
}

static struct probe_verdict with_data(const char *data, const char *token)
{
	struct probe_obs o = base_obs();

	o.m6 = M6_STATE_DATA;
	o.data = (const uint8_t *)data;
	o.len = strlen(data);
	o.token = token;
	return run(&o);
}

static void test_verified(void **state)
{
	(void)state;
	struct probe_verdict v = with_data("ntppool_verify=" TOKEN "\r\n", TOKEN);
	assert_int_equal(v.outcome, OUTCOME_VERIFIED);
	assert_int_equal(v.value_len, strlen(TOKEN));
	assert_memory_equal(v.value, TOKEN, strlen(TOKEN));
	/* Quotes around the value are tolerated. */
	v = with_data("ntppool_verify=\"" TOKEN "\"\r\n", TOKEN);
	assert_int_equal(v.outcome, OUTCOME_VERIFIED);
}

static void test_mismatch_never_leaks_token(void **state)
{
	(void)state;
	struct probe_verdict v = with_data("ntppool_verify=other-value\r\n", TOKEN);
	assert_int_equal(v.outcome, OUTCOME_TOKEN_MISMATCH);
	assert_null(strstr(v.detail, TOKEN));
	assert_null(strstr(v.detail, "other-value"));
}

static void test_hostile_values(void **state)
{
	static const char *const replies[] = {
		"ntppool_verify=" TOKEN "x\r\n",            /* token as prefix */
		"ntppool_verify=x" TOKEN "\r\n",            /* token as suffix */
		"ntppool_verify=TOK-3F9A1C2B7D\r\n",        /* other case */
		"ntppool_verify=tok-3f9a1c2b7\r\n",         /* truncated */
		"ntppool_verify=\r\n",                      /* empty */
		"ntppool_verify\r\n",                       /* no value */
	};
	(void)state;
	for (size_t i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
		struct probe_verdict v = with_data(replies[i], TOKEN);
		if (v.outcome != OUTCOME_TOKEN_MISMATCH)
			fail_msg("reply %zu: outcome %s", i, outcome_name(v.outcome));
	}
	/* The token inside another variable, or a near-miss name. */
	static const char *const missing[] = {
		"other=ntppool_verify=" TOKEN "\r\n",
		"other=\"ntppool_verify=" TOKEN "\"\r\n",
		"ntppool_verify_x=" TOKEN "\r\n",
		"xntppool_verify=" TOKEN "\r\n",
		"NTPPOOL_VERIFY=" TOKEN "\r\n",
		"",
	};
	for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
		struct probe_verdict v = with_data(missing[i], TOKEN);
		if (v.outcome != OUTCOME_VARIABLE_MISSING)
			fail_msg("missing %zu: outcome %s", i, outcome_name(v.outcome));
	}
	/* Twice with different values: ambiguous, so never verified. */
	struct probe_verdict v = with_data(
		"ntppool_verify=" TOKEN ", ntppool_verify=bad\r\n", TOKEN);
	assert_int_equal(v.outcome, OUTCOME_MALFORMED);
	v = with_data("ntppool_verify=\"" TOKEN "\r\n", TOKEN);
	assert_int_equal(v.outcome, OUTCOME_MALFORMED);
}

static void test_read_without_token(void **state)
{
	(void)state;
	struct probe_verdict v = with_data("ntppool_verify=abc\r\n", NULL);
	assert_int_equal(v.outcome, OUTCOME_READ);
	assert_int_equal(v.value_len, 3);
}

static void test_errors(void **state)
{
	struct probe_obs o = base_obs();
	struct probe_verdict v;

	(void)state;
	o.m6 = M6_STATE_ERROR;
	o.error_code = 5;
	v = run(&o);
	assert_int_equal(v.outcome, OUTCOME_VARIABLE_MISSING);
	o.error_code = 1;
	v = run(&o);
	assert_int_equal(v.outcome, OUTCOME_MODE6_ERROR);
	assert_string_equal(v.detail, "mode 6 error: permission");
	o.error_code = 7;
	v = run(&o);
	assert_string_equal(v.detail, "mode 6 error: restrict");
	o.error_code = 42;
	v = run(&o);
	assert_int_equal(v.outcome, OUTCOME_MODE6_ERROR);
	assert_string_equal(v.detail, "mode 6 error code 42");
}

static void test_silence(void **state)
{
	struct probe_obs o = base_obs();
	struct probe_verdict v;

	(void)state;
	v = run(&o);
	assert_int_equal(v.outcome, OUTCOME_NO_RESPONSE);

	o.ntp_answered = true;
	o.ntp_kind = NTP3_UNSYNCED;
	v = run(&o);
	assert_int_equal(v.outcome, OUTCOME_MODE6_SILENT);

	o.ntp_kind = NTP3_KISS_RATE;
	v = run(&o);
	assert_int_equal(v.outcome, OUTCOME_RATE_LIMITED);
	assert_string_equal(v.detail, "Kiss-o'-Death RATE");
	o.ntp_kind = NTP3_KISS_DENY;
	assert_int_equal(run(&o).outcome, OUTCOME_RATE_LIMITED);
	o.ntp_kind = NTP3_KISS_OTHER;
	assert_int_equal(run(&o).outcome, OUTCOME_MODE6_SILENT);

	o.net_errno = ECONNREFUSED;
	v = run(&o);
	assert_int_equal(v.outcome, OUTCOME_UNREACHABLE);
	assert_string_equal(v.detail, "port unreachable");
}

static void test_malformed(void **state)
{
	struct probe_obs o = base_obs();
	struct probe_verdict v;

	(void)state;
	o.rejected = 3;
	o.reject_reason = "sequence mismatch";
	o.ntp_answered = true;
	v = run(&o);
	assert_int_equal(v.outcome, OUTCOME_MALFORMED);
	assert_string_equal(v.detail, "sequence mismatch (3 datagrams)");

	o = base_obs();
	o.m6 = M6_STATE_PARTIAL;
	assert_int_equal(run(&o).outcome, OUTCOME_MALFORMED);
	o.m6 = M6_STATE_FATAL;
	o.reject_reason = "overlapping fragments";
	v = run(&o);
	assert_int_equal(v.outcome, OUTCOME_MALFORMED);
	assert_string_equal(v.detail, "overlapping fragments");
}

/*
 * What counts against the quorum (docs/security.md, "What counts as
 * contrary"): another value, no such variable, "unknown variable"; never
 * silence, a near miss, another error, or a read without a token.
 */
static void test_contrary_setvar(void **state)
{
	struct probe_obs o = base_obs();

	(void)state;
	assert_true(with_data("ntppool_verify=other-value\r\n", TOKEN).contrary);
	assert_true(with_data("version=\"x\"\r\n", TOKEN).contrary);
	assert_false(with_data("ntppool_verify=" TOKEN "\r\n", TOKEN).contrary);
	assert_false(with_data("ntppool_verify=x, ntppool_verify=y\r\n", TOKEN).contrary);
	assert_false(with_data("ntppool_verify=other\r\n", NULL).contrary);
	o.m6 = M6_STATE_ERROR;
	o.error_code = 5;
	assert_true(run(&o).contrary);
	o.error_code = 1;
	assert_false(run(&o).contrary);
	o.m6 = M6_STATE_PARTIAL;
	assert_false(run(&o).contrary);
	o.m6 = M6_STATE_NONE;
	o.net_errno = ECONNREFUSED;
	assert_false(run(&o).contrary);
}

/* ---- key method: the keyed mode 3 request is the proof ---------------- */

static struct probe_obs key_obs(void)
{
	struct probe_obs o;

	memset(&o, 0, sizeof(o));
	o.key_method = true;
	return o;
}

static void test_key_verified(void **state)
{
	struct probe_obs o = key_obs();
	struct probe_verdict v;

	(void)state;
	o.auth = AUTH_OK;
	o.ntp_answered = true;
	v = run(&o);
	assert_int_equal(v.outcome, OUTCOME_VERIFIED);
	assert_string_equal(v.detail, "MAC verifies");

	/* A kiss signed under the key: verified, and the detail says the
	 * kiss is obeyed. */
	o.auth_kiss = true;
	o.ntp_kind = NTP3_KISS_RATE;
	v = run(&o);
	assert_int_equal(v.outcome, OUTCOME_VERIFIED);
	assert_string_equal(v.detail, "MAC verifies on a signed "
				      "Kiss-o'-Death RATE (holding off)");
	assert_false(v.contrary);
}

static void test_key_refused(void **state)
{
	struct probe_obs o = key_obs();
	struct probe_verdict v;

	(void)state;
	/* A crypto-NAK, or an unauthenticated reply to the keyed request. */
	o.auth = AUTH_REFUSED;
	o.auth_reason = "crypto-NAK";
	o.ntp_answered = true;
	v = run(&o);
	assert_int_equal(v.outcome, OUTCOME_KEY_NOT_ACCEPTED);
	assert_string_equal(v.detail, "crypto-NAK");
	o.auth_reason = "unauthenticated reply";
	v = run(&o);
	assert_int_equal(v.outcome, OUTCOME_KEY_NOT_ACCEPTED);
	assert_string_equal(v.detail, "unauthenticated reply");
	/* The refusal wins over an ICMP error seen on the way. */
	o.net_errno = ECONNREFUSED;
	assert_int_equal(run(&o).outcome, OUTCOME_KEY_NOT_ACCEPTED);
}

/* Only a crypto-NAK says "not this key": a reply without a MAC does not. */
static void test_contrary_key(void **state)
{
	struct probe_obs o = key_obs();

	(void)state;
	o.auth = AUTH_REFUSED;
	o.ntp_answered = true;
	o.auth_reason = "crypto-NAK";
	o.crypto_nak = true;
	assert_true(run(&o).contrary);
	o.crypto_nak = false;
	o.auth_reason = "unauthenticated reply";
	assert_false(run(&o).contrary);
	o.auth = AUTH_NONE;
	assert_false(run(&o).contrary);
	o.auth = AUTH_OK;
	assert_false(run(&o).contrary);
}

static void test_key_bad_mac(void **state)
{
	struct probe_obs o = key_obs();
	struct probe_verdict v;

	(void)state;
	o.auth = AUTH_BAD;
	o.auth_reason = "MAC does not verify";
	o.ntp_answered = true;
	v = run(&o);
	assert_int_equal(v.outcome, OUTCOME_MALFORMED);
	assert_string_equal(v.detail, "MAC does not verify");
}

static void test_key_no_auth_reply(void **state)
{
	struct probe_obs o = key_obs();
	struct probe_verdict v;

	(void)state;
	/* Nothing at all. */
	v = run(&o);
	assert_int_equal(v.outcome, OUTCOME_NO_RESPONSE);
	assert_string_equal(v.detail, "no reply");

	/* Plain mode 3 answers, the keyed request does not: key missing,
	 * untrusted or wrong (servers stay silent for those). */
	o.ntp_answered = true;
	o.ntp_kind = NTP3_SYNCED;
	v = run(&o);
	assert_int_equal(v.outcome, OUTCOME_KEY_NOT_ACCEPTED);
	assert_string_equal(v.detail, "NTP answers, the keyed request does not");
	o.ntp_kind = NTP3_UNSYNCED;
	assert_int_equal(run(&o).outcome, OUTCOME_KEY_NOT_ACCEPTED);

	/* ...unless the plain answer is a rate-limit kiss. */
	o.ntp_kind = NTP3_KISS_RATE;
	v = run(&o);
	assert_int_equal(v.outcome, OUTCOME_RATE_LIMITED);
	assert_string_equal(v.detail, "Kiss-o'-Death RATE");
	o.ntp_kind = NTP3_KISS_RSTR;
	assert_int_equal(run(&o).outcome, OUTCOME_RATE_LIMITED);
	o.ntp_kind = NTP3_KISS_OTHER;
	assert_int_equal(run(&o).outcome, OUTCOME_KEY_NOT_ACCEPTED);

	/* ICMP port unreachable. */
	o = key_obs();
	o.net_errno = ECONNREFUSED;
	v = run(&o);
	assert_int_equal(v.outcome, OUTCOME_UNREACHABLE);
	assert_string_equal(v.detail, "port unreachable");
	o.net_errno = EHOSTUNREACH;
	assert_int_equal(run(&o).outcome, OUTCOME_UNREACHABLE);
}

/* Mode 6 observations mean nothing to a key-method probe. */
static void test_key_ignores_mode6(void **state)
{
	struct probe_obs o = key_obs();

	(void)state;
	o.m6 = M6_STATE_DATA;
	o.variable = "ntppool_verify";
	o.token = TOKEN;
	o.data = (const uint8_t *)"ntppool_verify=" TOKEN "\r\n";
	o.len = strlen((const char *)o.data);
	assert_int_equal(run(&o).outcome, OUTCOME_NO_RESPONSE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verified),
		cmocka_unit_test(test_mismatch_never_leaks_token),
		cmocka_unit_test(test_hostile_values),
		cmocka_unit_test(test_read_without_token),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_silence),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_key_verified),
		cmocka_unit_test(test_key_refused),
		cmocka_unit_test(test_contrary_setvar),
		cmocka_unit_test(test_contrary_key),
		cmocka_unit_test(test_key_bad_mac),
		cmocka_unit_test(test_key_no_auth_reply),
		cmocka_unit_test(test_key_ignores_mode6),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
