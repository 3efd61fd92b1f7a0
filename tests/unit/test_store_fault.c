/*
 * Failed statements: which SQLSTATEs are a row's own fault (and may cost
 * that row's result) and which are the database's (nothing is dropped,
 * writing waits), and the backoff that keeps one fault to one log line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "store/store_fault.h"

static void test_row_data_classes(void **state)
{
	(void)state;
	assert_int_equal(store_fault_classify("22P02"), STORE_ERR_DATA); /* bad text */
	assert_int_equal(store_fault_classify("22003"), STORE_ERR_DATA); /* out of range */
	assert_int_equal(store_fault_classify("22001"), STORE_ERR_DATA); /* too long */
	assert_int_equal(store_fault_classify("23505"), STORE_ERR_DATA); /* unique */
	assert_int_equal(store_fault_classify("23514"), STORE_ERR_DATA); /* CHECK */
}

/* Everything that says nothing about the row keeps the row's result. */
static void test_database_classes(void **state)
{
	static const struct {
		const char *sqlstate;
		enum store_err_class want;
	} cases[] = {
		{ "2200H", STORE_ERR_RESOURCES },  /* sequence exhausted */
		{ "53100", STORE_ERR_RESOURCES },  /* disk full */
		{ "53200", STORE_ERR_RESOURCES },  /* out of memory */
		{ "53300", STORE_ERR_RESOURCES },  /* too many connections */
		{ "54000", STORE_ERR_RESOURCES },  /* program limit */
		{ "42501", STORE_ERR_PRIVILEGE },  /* insufficient privilege */
		{ "42P01", STORE_ERR_SCHEMA },     /* undefined table */
		{ "42703", STORE_ERR_SCHEMA },     /* undefined column */
		{ "25006", STORE_ERR_READ_ONLY },  /* read-only transaction */
		{ "25P02", STORE_ERR_READ_ONLY },  /* in failed transaction */
		{ "40001", STORE_ERR_CONFLICT },   /* serialization failure */
		{ "40P01", STORE_ERR_CONFLICT },   /* deadlock */
		{ "55P03", STORE_ERR_CONFLICT },   /* lock not available */
		{ "57P01", STORE_ERR_OPERATOR },   /* admin shutdown */
		{ "57014", STORE_ERR_OPERATOR },   /* query cancelled */
		{ "08006", STORE_ERR_CONNECTION }, /* connection failure */
		{ "58030", STORE_ERR_INTERNAL },   /* I/O error */
		{ "XX000", STORE_ERR_INTERNAL },   /* internal error */
		{ "P0001", STORE_ERR_OTHER },      /* RAISE EXCEPTION */
		{ "HV000", STORE_ERR_OTHER },      /* unknown class */
		{ "", STORE_ERR_OTHER },           /* libpq gave none */
		{ "2200", STORE_ERR_OTHER },       /* not five characters */
		{ "22P02x", STORE_ERR_OTHER },
		{ NULL, STORE_ERR_OTHER },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum store_err_class got = store_fault_classify(cases[i].sqlstate);
		if (got != cases[i].want)
			fail_msg("%s: %s, want %s",
				 cases[i].sqlstate ? cases[i].sqlstate : "NULL",
				 store_err_class_name(got),
				 store_err_class_name(cases[i].want));
	}
}

static void test_names_and_hints(void **state)
{
	(void)state;
	assert_string_equal(store_err_class_name(STORE_ERR_DATA), "data");
	assert_string_equal(store_err_class_name(STORE_ERR_RESOURCES), "resources");
	assert_string_equal(store_err_class_name(STORE_ERR_COUNT), "other");
	for (int c = 0; c < STORE_ERR_COUNT; c++)
		assert_non_null(store_err_class_name((enum store_err_class)c));
	assert_non_null(strstr(store_fault_hint("42501"), "docs/admins.md"));
	assert_non_null(strstr(store_fault_hint("2200H"), "sequence"));
	assert_non_null(store_fault_hint("25006"));
	assert_null(store_fault_hint("23505"));
	assert_null(store_fault_hint(NULL));
}

/* Doubling from STORE_FAULT_MIN_MS up to the cap; news only on changes. */
static void test_backoff(void **state)
{
	struct store_fault f;
	uint64_t now = 1000;

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_true(store_fault_ready(&f, now));
	assert_true(store_fault_fail(&f, "2200H", now, 2000));
	assert_int_equal(f.backoff_ms, STORE_FAULT_MIN_MS);
	assert_false(store_fault_ready(&f, now + STORE_FAULT_MIN_MS - 1));
	assert_true(store_fault_ready(&f, now + STORE_FAULT_MIN_MS));
	assert_false(store_fault_fail(&f, "2200H", now, 2000));
	assert_int_equal(f.backoff_ms, 2 * STORE_FAULT_MIN_MS);
	assert_false(store_fault_fail(&f, "2200H", now, 2000));
	assert_int_equal(f.backoff_ms, 2000);
	for (int i = 0; i < 100; i++)
		assert_false(store_fault_fail(&f, "2200H", now, 2000));
	assert_int_equal(f.backoff_ms, 2000);
	assert_int_equal(f.retry_at_ms, now + 2000);
	/* Another SQLSTATE is news; the backoff goes on. */
	assert_true(store_fault_fail(&f, "42501", now, 2000));
	assert_int_equal(f.backoff_ms, 2000);
	assert_int_equal(store_fault_clear(&f), 104);
	assert_true(store_fault_ready(&f, 0));
	assert_int_equal(store_fault_clear(&f), 0);
	/* After a success the next failure is news again and starts low. */
	assert_true(store_fault_fail(&f, NULL, now, 2000));
	assert_int_equal(f.backoff_ms, STORE_FAULT_MIN_MS);
	/* A cap below the minimum wins. */
	store_fault_clear(&f);
	store_fault_fail(&f, "53100", now, 100);
	assert_int_equal(f.backoff_ms, 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_row_data_classes),
		cmocka_unit_test(test_database_classes),
		cmocka_unit_test(test_names_and_hints),
		cmocka_unit_test(test_backoff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
