/*
 * Which statement the store sends next: results are written before new
 * work is leased, a wanted lease still goes after each write, and with a
 * backlog an engine that has run dry is fed before the write, once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store/store_order.h"

/* ready[] with the given statements ready. */
static void set_ready(bool ready[STORE_OP_N], bool write, bool lease)
{
	for (int i = 0; i < STORE_OP_N; i++)
		ready[i] = false;
	ready[STORE_OP_WRITE] = write;
	ready[STORE_OP_LEASE] = lease;
}

/* No backlog: the result goes before a lease, then the lease. */
static void test_write_first(void **state)
{
	struct store_order o = { 0 };
	bool ready[STORE_OP_N];

	(void)state;
	set_ready(ready, true, true);
	assert_int_equal(store_order_next(&o, ready, true), STORE_OP_WRITE);
	/* Results keep coming: the wanted lease goes after that write. */
	assert_int_equal(store_order_next(&o, ready, true), STORE_OP_LEASE);
	assert_int_equal(store_order_next(&o, ready, true), STORE_OP_WRITE);
	set_ready(ready, false, false);
	assert_int_equal(store_order_next(&o, ready, false), STORE_OP_NONE);
}

/* A hungry wish alone, without a backlog, does not pass the results. */
static void test_hungry_without_backlog(void **state)
{
	struct store_order o = { .lease_hungry = true };
	bool ready[STORE_OP_N];

	(void)state;
	set_ready(ready, true, true);
	assert_int_equal(store_order_next(&o, ready, true), STORE_OP_WRITE);
}

/*
 * A backlog and a dry engine: its lease goes first, then the results,
 * even if another hungry lease is wanted by then; then a lease again.
 */
static void test_backlog_feeds_once(void **state)
{
	struct store_order o = { .lease_full = true, .lease_hungry = true };
	bool ready[STORE_OP_N];

	(void)state;
	set_ready(ready, true, true);
	assert_int_equal(store_order_next(&o, ready, true), STORE_OP_LEASE);
	assert_int_equal(store_order_next(&o, ready, true), STORE_OP_WRITE);
	assert_int_equal(store_order_next(&o, ready, true), STORE_OP_LEASE);
	assert_int_equal(store_order_next(&o, ready, true), STORE_OP_WRITE);
	/* A lease with nothing queued leaves no write owed. */
	set_ready(ready, false, true);
	assert_int_equal(store_order_next(&o, ready, false), STORE_OP_LEASE);
	set_ready(ready, true, true);
	assert_int_equal(store_order_next(&o, ready, true), STORE_OP_LEASE);
}

/* Expiry and the heartbeat go before a lease, a count after it. */
static void test_the_rest(void **state)
{
	struct store_order o = { 0 };
	bool ready[STORE_OP_N];

	(void)state;
	set_ready(ready, false, true);
	ready[STORE_OP_EXPIRE] = true;
	ready[STORE_OP_HEARTBEAT] = true;
	ready[STORE_OP_COUNT] = true;
	assert_int_equal(store_order_next(&o, ready, false), STORE_OP_EXPIRE);
	ready[STORE_OP_EXPIRE] = false;
	assert_int_equal(store_order_next(&o, ready, false), STORE_OP_HEARTBEAT);
	ready[STORE_OP_HEARTBEAT] = false;
	assert_int_equal(store_order_next(&o, ready, false), STORE_OP_LEASE);
	ready[STORE_OP_LEASE] = false;
	assert_int_equal(store_order_next(&o, ready, false), STORE_OP_COUNT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_first),
		cmocka_unit_test(test_hungry_without_backlog),
		cmocka_unit_test(test_backlog_feeds_once),
		cmocka_unit_test(test_the_rest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
