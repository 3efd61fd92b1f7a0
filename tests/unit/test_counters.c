/*
 * The daemon's pure helpers: the retry schedule (and its last step), the
 * round-trip histogram's buckets, and the ring of recent outcomes that
 * /status lists newest first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "daemon/counters.h"
#include "daemon/retry.h"

static void schedule(struct nv_config *cfg, const uint64_t *ms, size_t n)
{
	memset(cfg, 0, sizeof(*cfg));
	memcpy(cfg->retry.schedule_ms, ms, n * sizeof(*ms));
	cfg->retry.n_schedule = n;
}

static void test_retry_steps(void **state)
{
	static const uint64_t ms[] = { 60000, 300000, 900000, 3600000 };
	struct nv_config cfg;

	(void)state;
	schedule(&cfg, ms, 4);
	assert_true(retry_delay_s(&cfg, 0) == 60.0);
	assert_true(retry_delay_s(&cfg, 1) == 300.0);
	assert_true(retry_delay_s(&cfg, 3) == 3600.0);
	/* Past the end the last step repeats. */
	assert_true(retry_delay_s(&cfg, 4) == 3600.0);
	assert_true(retry_delay_s(&cfg, 1000) == 3600.0);
	/* A count from a damaged row is treated as the first attempt. */
	assert_true(retry_delay_s(&cfg, -1) == 60.0);
}

static void test_retry_last_step(void **state)
{
	static const uint64_t ms[] = { 1500, 2500, 21600000 };
	static const uint64_t one[] = { 750 };
	struct nv_config cfg;

	(void)state;
	schedule(&cfg, ms, 3);
	assert_true(retry_delay_s(&cfg, RETRY_LAST_STEP) == 21600.0);
	schedule(&cfg, one, 1);
	assert_true(retry_delay_s(&cfg, 0) == 0.75);
	assert_true(retry_delay_s(&cfg, RETRY_LAST_STEP) == 0.75);
}

static void test_rtt_bucket_edges(void **state)
{
	(void)state;
	assert_int_equal(rtt_bucket_index(0), 0);
	/* Bounds are inclusive ("le"), as Prometheus reads them. */
	assert_int_equal(rtt_bucket_index(0.001), 0);
	assert_int_equal(rtt_bucket_index(0.0011), 1);
	assert_int_equal(rtt_bucket_index(0.05), 4);
	assert_int_equal(rtt_bucket_index(1.0), 8);
	assert_int_equal(rtt_bucket_index(5.0), RTT_BUCKETS - 1);
	assert_int_equal(rtt_bucket_index(5.001), -1);
	assert_int_equal(rtt_bucket_index(INFINITY), -1);
	for (int i = 1; i < RTT_BUCKETS; i++)
		assert_true(rtt_bucket_bounds[i - 1] < rtt_bucket_bounds[i]);
}

static void test_count_rtt(void **state)
{
	static struct daemon_counters c;

	(void)state;
	memset(&c, 0, sizeof(c));
	counters_count_attempt(&c, 1, "192.0.2.1", OUTCOME_VERIFIED, 3.0, 1, "");
	counters_count_attempt(&c, 2, "192.0.2.2", OUTCOME_VERIFIED, 6000, 2, "");
	/* No reply: counted as an attempt, not in the histogram. */
	counters_count_attempt(&c, 3, "192.0.2.3", OUTCOME_NO_RESPONSE, -1, 3,
			       "");
	assert_int_equal(c.outcomes[OUTCOME_VERIFIED], 2);
	assert_int_equal(c.outcomes[OUTCOME_NO_RESPONSE], 1);
	assert_int_equal(c.rtt_buckets[1], 1); /* 3 ms <= 5 ms */
	assert_int_equal(c.rtt_count, 2);      /* 6 s only in +Inf */
	uint64_t in_buckets = 0;
	for (int i = 0; i < RTT_BUCKETS; i++)
		in_buckets += c.rtt_buckets[i];
	assert_int_equal(in_buckets, 1);
	assert_true(fabs(c.rtt_sum_s - 6.003) < 1e-9);
}

static void test_recent_ring(void **state)
{
	static struct daemon_counters c;
	const struct recent_outcome *r;
	char server[32];

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_null(counters_recent(&c, 0));
	counters_count_attempt(&c, 7, "192.0.2.7", OUTCOME_MALFORMED, -1, 70,
			       "bad");
	r = counters_recent(&c, 0);
	assert_non_null(r);
	assert_int_equal(r->id, 7);
	assert_string_equal(r->detail, "bad");
	assert_null(counters_recent(&c, 1));

	/* Forty more: the ring keeps the newest RECENT_MAX, newest first. */
	for (int k = 0; k < 40; k++) {
		snprintf(server, sizeof(server), "192.0.2.%d", k);
		counters_count_attempt(&c, 100 + k, server, OUTCOME_VERIFIED,
				       -1, 100 + k, "");
	}
	assert_int_equal(c.recent_n, RECENT_MAX);
	for (unsigned k = 0; k < RECENT_MAX; k++) {
		r = counters_recent(&c, k);
		assert_non_null(r);
		assert_int_equal(r->id, 139 - (int)k);
	}
	assert_null(counters_recent(&c, RECENT_MAX));
	assert_string_equal(counters_recent(&c, 0)->server, "192.0.2.39");
}

static void test_recent_truncates(void **state)
{
	static struct daemon_counters c;
	char longer[OUTCOME_DETAIL_MAX * 2];

	(void)state;
	memset(&c, 0, sizeof(c));
	memset(longer, 'd', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	counters_count_attempt(&c, 1, longer, OUTCOME_MALFORMED, -1, 1, longer);
	assert_int_equal(strlen(counters_recent(&c, 0)->server),
			 STORE_SERVER_LEN - 1);
	assert_int_equal(strlen(counters_recent(&c, 0)->detail),
			 OUTCOME_DETAIL_MAX - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retry_steps),
		cmocka_unit_test(test_retry_last_step),
		cmocka_unit_test(test_rtt_bucket_edges),
		cmocka_unit_test(test_count_rtt),
		cmocka_unit_test(test_recent_ring),
		cmocka_unit_test(test_recent_truncates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
