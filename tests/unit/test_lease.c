/*
 * What the daemon may lease (daemon/lease.h): the usable part of a lease,
 * the attempts the global limit lets start in it, our count of the
 * bucket; and the walk over unwritten results that the shutdown log uses
 * (store/store_queue.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "daemon/lease.h"
#include "store/store_queue.h"

/* The defaults that matter here, with the given rate, lease and timeout. */
static void config(struct nv_config *cfg, double pps, unsigned burst,
		   uint64_t lease_ms, uint64_t timeout_ms)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->rate_limit.global_pps = pps;
	cfg->rate_limit.global_burst = burst;
	cfg->queue.lease_time_ms = lease_ms;
	cfg->probe.timeout_ms = timeout_ms;
	cfg->probe.max_in_flight = 256;
}

static void test_usable(void **state)
{
	struct nv_config cfg;

	(void)state;
	/* 10 s lease, 3 s timeout: 2 s margin, 5 s to start in. */
	config(&cfg, 2, 10, 10000, 3000);
	assert_int_equal(lease_usable_ms(&cfg), 5000);
	/* Defaults: 2 min, 3 s. */
	config(&cfg, 50, 10, 120000, 3000);
	assert_int_equal(lease_usable_ms(&cfg), 115000);
	/* Barely longer than the timeout: half the slack, never negative,
	 * and a probe started in it still ends before the lease. */
	config(&cfg, 2, 10, 10000, 9000);
	assert_int_equal(lease_usable_ms(&cfg), 500);
	config(&cfg, 2, 10, 10000, 8999);
	assert_int_equal(lease_usable_ms(&cfg), 500);
	config(&cfg, 2, 10, 10000, 9999);
	assert_int_equal(lease_usable_ms(&cfg), 0);
	assert_true(lease_usable_ms(&cfg) + cfg.probe.timeout_ms <
		    cfg.queue.lease_time_ms);
}

static void test_capacity(void **state)
{
	struct nv_config cfg;

	(void)state;
	/* 2 pps, full bucket of 10, 5 s: 20 tokens, 2 per start. */
	config(&cfg, 2, 10, 10000, 3000);
	assert_int_equal(lease_start_capacity(&cfg, 10), 10);
	/* Empty bucket: only the refill. */
	assert_int_equal(lease_start_capacity(&cfg, 0), 5);
	/* A burst of 1: one token per start. */
	config(&cfg, 2, 1, 10000, 3000);
	assert_int_equal(lease_start_capacity(&cfg, 1), 11);
	/* Rate 0: nothing after the burst, but always at least one. */
	config(&cfg, 0, 10, 10000, 3000);
	assert_int_equal(lease_start_capacity(&cfg, 0), 1);
	assert_int_equal(lease_start_capacity(&cfg, 10), 5);
	/* Never more than max_in_flight (defaults: 50 pps over 115 s). */
	config(&cfg, 50, 10, 120000, 3000);
	assert_int_equal(lease_start_capacity(&cfg, 10), 256);
}

static void test_bucket(void **state)
{
	struct nv_config cfg;
	struct lease_bucket b;

	(void)state;
	config(&cfg, 2, 10, 10000, 3000);
	lease_bucket_init(&b, &cfg, 1000);
	assert_true(b.level == 10.0);
	for (int i = 0; i < 12; i++)
		lease_bucket_take(&b, &cfg, 1000);
	assert_true(b.level == 0.0); /* never below empty */
	lease_bucket_refill(&b, &cfg, 2500);
	assert_true(b.level == 3.0);
	/* Backwards: no refill, and the later time is kept. */
	lease_bucket_refill(&b, &cfg, 2000);
	assert_true(b.level == 3.0);
	assert_int_equal(b.at_ms, 2500);
	lease_bucket_refill(&b, &cfg, 60000);
	assert_true(b.level == 10.0); /* clamped to the burst */
	/* A reload to a smaller burst clamps at the next refill. */
	cfg.rate_limit.global_burst = 4;
	lease_bucket_refill(&b, &cfg, 60000);
	assert_true(b.level == 4.0);
}

/* Collects the ids the walk sees, as "1,2,3". */
static void collect(void *arg, const struct store_result *r)
{
	char *buf = arg;
	size_t n = strlen(buf);

	snprintf(buf + n, 64 - n, "%s%lld", n ? "," : "", (long long)r->id);
}

static void test_queue_foreach(void **state)
{
	struct store_queue q;
	struct store_result r;
	char ids[64] = "";

	(void)state;
	store_queue_init(&q);
	assert_int_equal(store_queue_foreach(&q, collect, ids), 0);
	assert_string_equal(ids, "");
	memset(&r, 0, sizeof(r));
	for (int i = 1; i <= 3; i++) {
		r.id = i;
		r.outcome = i == 2 ? -1 : OUTCOME_VERIFIED;
		assert_true(store_queue_push(&q, &r, 10, 0));
	}
	assert_int_equal(store_queue_foreach(&q, collect, ids), 3);
	assert_string_equal(ids, "1,2,3"); /* oldest first, releases too */
	assert_int_equal(q.queued, 3);     /* and nothing taken away */
	store_queue_clear(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usable),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_bucket),
		cmocka_unit_test(test_queue_foreach),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
