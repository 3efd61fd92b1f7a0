/*
 * The daemon's schema check: what it asks the database for, and the one
 * line an admin reads when the database is not at the schema the binary
 * needs (which version was found, which is needed, what to run).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/outcome.h"
#include "store/migrate.h"
#include "store/store_schema.h"

/* The embedded versions, as the statement's integer[] parameter. */
static void test_versions_literal(void **state)
{
	char buf[512], want[512];
	size_t used = 0;

	(void)state;
	assert_true(store_schema_versions(buf, sizeof(buf)));
	want[used++] = '{';
	for (size_t i = 0; i < migration_count; i++)
		used += (size_t)snprintf(want + used, sizeof(want) - used,
					 "%s%d", i ? "," : "",
					 migration_table[i].version);
	snprintf(want + used, sizeof(want) - used, "}");
	assert_string_equal(buf, want);
	assert_int_equal(migration_table[0].version, 1);
	assert_int_equal(migrate_latest(),
			 migration_table[migration_count - 1].version);
	/* Too small: refused, never a truncated list. */
	assert_false(store_schema_versions(buf, 4));
	assert_false(store_schema_versions(buf, 2));
}

static void test_judge_ok(void **state)
{
	char buf[256] = "x";

	(void)state;
	assert_int_equal(store_schema_judge(5, NULL, 5, buf, sizeof(buf)),
			 STORE_SCHEMA_OK);
	assert_string_equal(buf, "");
	assert_int_equal(store_schema_judge(5, "", 5, buf, sizeof(buf)),
			 STORE_SCHEMA_OK);
}

static void test_judge_unmigrated(void **state)
{
	char buf[256];

	(void)state;
	assert_int_equal(store_schema_judge(0, "all", 5, buf, sizeof(buf)),
			 STORE_SCHEMA_OLD);
	assert_non_null(strstr(buf, "version 0"));
	assert_non_null(strstr(buf, "needs schema version 5"));
	assert_non_null(strstr(buf, "run 'ntpverify migrate'"));
}

static void test_judge_older(void **state)
{
	char buf[256];

	(void)state;
	assert_int_equal(store_schema_judge(1, "002, 003", 3, buf, sizeof(buf)),
			 STORE_SCHEMA_OLD);
	assert_string_equal(buf, "database: schema version 1, this ntpverify "
				 "needs schema version 3: run 'ntpverify migrate'");
}

/* 005 applied by a build that had no 004 yet: the gap is named. */
static void test_judge_gap(void **state)
{
	char buf[256];

	(void)state;
	assert_int_equal(store_schema_judge(5, "004", 5, buf, sizeof(buf)),
			 STORE_SCHEMA_OLD);
	assert_non_null(strstr(buf, "lacks migration 004"));
	assert_non_null(strstr(buf, "run 'ntpverify migrate'"));
}

static void test_judge_newer(void **state)
{
	char buf[256];

	(void)state;
	assert_int_equal(store_schema_judge(7, NULL, 5, buf, sizeof(buf)),
			 STORE_SCHEMA_NEW);
	assert_string_equal(buf, "database: schema version 7 is newer than this "
				 "ntpverify knows (5): upgrade ntpverify");
}

/* send_failed is the prober's problem: the hint says so. */
static void test_send_failed_outcome(void **state)
{
	struct outcome_hint_in in = { .outcome = OUTCOME_SEND_FAILED,
				      .prober_addr = "192.0.2.1",
				      .variable = "v" };
	char buf[256];

	(void)state;
	assert_string_equal(outcome_name(OUTCOME_SEND_FAILED), "send_failed");
	assert_int_equal(outcome_from_name("send_failed"), OUTCOME_SEND_FAILED);
	assert_non_null(outcome_hint_for(&in, buf, sizeof(buf)));
	assert_non_null(strstr(buf, "nothing to change on the server"));
	/* The fixed hints still come out whole. */
	in.outcome = OUTCOME_MALFORMED;
	in.prober_addr = NULL;
	assert_non_null(outcome_hint_for(&in, buf, sizeof(buf)));
	assert_non_null(strstr(buf, "middlebox"));
	in.outcome = OUTCOME_VERIFIED;
	assert_null(outcome_hint_for(&in, buf, sizeof(buf)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_versions_literal),
		cmocka_unit_test(test_judge_ok),
		cmocka_unit_test(test_judge_unmigrated),
		cmocka_unit_test(test_judge_older),
		cmocka_unit_test(test_judge_gap),
		cmocka_unit_test(test_judge_newer),
		cmocka_unit_test(test_send_failed_outcome),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
