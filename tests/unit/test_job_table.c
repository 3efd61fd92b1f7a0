/*
 * The jobs held by verification id: what was put is found, what was
 * deleted is gone, whatever the order, the collisions and the growth.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "daemon/job_table.h"

#define N 5000

/* Fake job pointers: distinct, never dereferenced. */
static struct job *fake(size_t k)
{
	static char base[N + 1];

	return (struct job *)(void *)&base[k];
}

static void test_put_get_del(void **state)
{
	struct job_table t;

	(void)state;
	job_table_init(&t);
	assert_null(job_table_get(&t, 1));
	job_table_del(&t, 1); /* empty: nothing happens */
	/* Ids as a sequence hands them out, and spread ones. */
	for (size_t k = 0; k < N; k++)
		assert_true(job_table_put(&t, (int64_t)(k % 2 ? k : k << 40), fake(k)));
	assert_int_equal(t.n, N);
	assert_true(t.cap >= 2 * N);
	for (size_t k = 0; k < N; k++)
		assert_ptr_equal(job_table_get(&t, (int64_t)(k % 2 ? k : k << 40)), fake(k));
	assert_null(job_table_get(&t, -1));
	/* Delete every third, in a scattered order; the rest stay found. */
	for (size_t k = 0; k < N; k += 3)
		job_table_del(&t, (int64_t)(k % 2 ? k : k << 40));
	for (size_t k = 0; k < N; k++) {
		struct job *want = k % 3 == 0 ? NULL : fake(k);
		assert_ptr_equal(job_table_get(&t, (int64_t)(k % 2 ? k : k << 40)), want);
	}
	/* Deleting twice changes nothing; a deleted id can come back. */
	job_table_del(&t, 0);
	assert_true(job_table_put(&t, 0, fake(N)));
	assert_ptr_equal(job_table_get(&t, 0), fake(N));
	job_table_reset(&t);
	assert_null(job_table_get(&t, 1));
	assert_int_equal(t.n, 0);
}

/*
 * A table of 64 slots kept half full: runs of neighbours form, and
 * deletions inside them (every order of a few) keep the rest reachable
 * (the backward shift).
 */
static void test_half_full(void **state)
{
	(void)state;
	for (int start = 0; start < 8; start++) {
		struct job_table t;
		int64_t ids[32];

		job_table_init(&t);
		for (int k = 0; k < 32; k++) {
			ids[k] = 1000 + k * 7 + start;
			assert_true(job_table_put(&t, ids[k], fake((size_t)k)));
		}
		assert_int_equal(t.cap, 64);
		for (int k = start; k < 32; k += 3)
			job_table_del(&t, ids[k]);
		for (int k = 0; k < 32; k++) {
			bool gone = k >= start && (k - start) % 3 == 0;
			assert_ptr_equal(job_table_get(&t, ids[k]),
					 gone ? NULL : fake((size_t)k));
		}
		job_table_reset(&t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get_del),
		cmocka_unit_test(test_half_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
