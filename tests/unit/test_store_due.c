/*
 * When the store wakes the daemon for a row of ours that becomes due: the
 * database counts the delay from its WRITE's transaction start, which lies
 * between our send and the result's arrival.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store/store_due.h"

/* 1 ms plus 1 ms per second of delay, for the clocks' rates. */
static void test_slack(void **state)
{
	uint64_t at[2];

	(void)state;
	assert_int_equal(store_due_times(0, 5000, 1.0, at), 1);
	assert_int_equal(at[0], 5000 + 1000 + 1 + 1);
	assert_int_equal(store_due_times(0, 5000, 0.0, at), 1);
	assert_int_equal(at[0], 5001);
	assert_int_equal(store_due_times(0, 5000, 2.0, at), 1);
	assert_int_equal(at[0], 5000 + 2000 + 2 + 1);
}

/*
 * A WRITE that took 20 ms (one perspective's waits for another's row
 * locks): the send's wake-up is 21 ms sooner (without the fixed 1 ms), and
 * the arrival's stays. Neither is before the row can be due (the send +
 * the delay: the transaction started after the send).
 */
static void test_slow_write_wakes_twice(void **state)
{
	uint64_t at[2];

	(void)state;
	assert_int_equal(store_due_times(5000, 5020, 1.0, at), 2);
	assert_int_equal(at[0], 5020 + 1002);
	assert_int_equal(at[1], 5000 + 1001);
	assert_true(at[1] >= 5000 + 1000);
	assert_int_equal(store_due_times(5000, 5020, 0.0, at), 2);
	assert_int_equal(at[1], 5000);
}

/* A WRITE back within 2 ms needs no second wake-up; nor an unknown send. */
static void test_fast_write_wakes_once(void **state)
{
	uint64_t at[2];

	(void)state;
	assert_int_equal(store_due_times(5000, 5001, 1.0, at), 1);
	assert_int_equal(at[0], 5001 + 1002);
	assert_int_equal(store_due_times(5000, 5002, 1.0, at), 2);
	assert_int_equal(store_due_times(0, 5020, 1.0, at), 1);
	/* A send "after" the arrival (never, but not trusted): the arrival. */
	assert_int_equal(store_due_times(5030, 5020, 1.0, at), 1);
	assert_int_equal(at[0], 5020 + 1002);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slack),
		cmocka_unit_test(test_slow_write_wakes_twice),
		cmocka_unit_test(test_fast_write_wakes_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
