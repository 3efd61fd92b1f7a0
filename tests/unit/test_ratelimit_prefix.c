/*
 * Per-destination budgets that one network cannot multiply: IPv6
 * addresses are charged to their prefix (default /64) as well, and every
 * IPv6 form that reaches one IPv4 host, NAT64 local-use included, counts
 * as that host.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ratelimit_util.h"

/* The limits the daemon runs with by default (dist/ntpverify.conf). */
static struct ratelimit_params defaults(void)
{
	struct ratelimit_params p = {
		.global_pps = 50,
		.global_burst = 10,
		.per_destination_interval_ms = 30 * SEC,
		.per_destination_daily_packets = 100,
		.kod_holdoff_ms = HOUR,
		.max_destinations = 300000,
		.ipv6_prefix_len = 64,
		.per_prefix_daily_packets = 1000,
		.per_prefix_interval_ms = 10 * SEC,
	};
	return p;
}

/* Address i of the /64 2a01:4f8:c17:b8f::/64 (i > 0). */
static struct addr in_64(uint32_t i)
{
	char text[64];

	snprintf(text, sizeof(text), "2a01:4f8:c17:b8f::%x:%x", i >> 16,
		 i & 0xffff);
	return addr_of(text, 123);
}

/*
 * A daemon's loop over 5,000 rows of one /64 for 70 s, the way the pool
 * could be made to submit them: each row starts whenever may_start says
 * yes and sends its first transmit (two packets) and two retransmits.
 * Per address alone this drew 3,503 packets into the /64 in 70 s.
 */
static unsigned flood_64(const struct ratelimit_params *p, uint64_t span_ms)
{
	struct ratelimit *rl = make(p);
	enum { ROWS = 5000 };
	struct addr *rows = calloc(ROWS, sizeof(*rows));
	unsigned packets = 0;

	assert_non_null(rows);
	for (uint32_t i = 0; i < ROWS; i++)
		rows[i] = in_64(i + 1);
	for (uint64_t t = 0; t < span_ms; t += 100) {
		for (uint32_t i = 0; i < ROWS; i++) {
			const struct sockaddr *a = sa(&rows[i]);
			if (!ratelimit_may_start(rl, a, t, NULL, NULL))
				continue;
			assert_true(ratelimit_started(rl, a, t));
			for (int k = 0; k < 4; k++)
				packets += ratelimit_take_packet(rl, a, t);
		}
	}
	free(rows);
	ratelimit_free(rl);
	return packets;
}

static void test_flood_one_64(void **state)
{
	(void)state;
	struct ratelimit_params p = defaults();

	/* One start per 10 s into the /64, four packets each. */
	unsigned n = flood_64(&p, 70 * SEC);
	assert_true(n <= 7 * 4);
	assert_true(n >= 4);

	/* Without the prefix interval the prefix budget still holds a day. */
	p.per_prefix_interval_ms = 0;
	n = flood_64(&p, 70 * SEC);
	assert_int_equal(n, 1000);
}

static void test_prefix_budget(void **state)
{
	(void)state;
	struct ratelimit_params p = loose();
	p.per_destination_daily_packets = 10;
	p.per_prefix_daily_packets = 25;
	struct ratelimit *rl = make(&p);
	uint64_t nb;
	const char *why;
	unsigned sent = 0;

	for (uint32_t i = 1; i <= 10; i++) {
		struct addr a = in_64(i);
		for (int k = 0; k < 10; k++)
			sent += ratelimit_take_packet(rl, sa(&a), 1000 + i);
	}
	assert_int_equal(sent, 25);
	struct addr a = in_64(11);
	assert_false(may(rl, &a, 2000, &nb, &why));
	assert_string_equal(why, "prefix daily budget");
	/* The prefix's window opened at its first packet, at 1001. */
	assert_int_equal(nb, 1001 + RATELIMIT_DAY_MS);
	/* An address that spent its own budget is named by that first. */
	struct addr first = in_64(1);
	assert_false(may(rl, &first, 2000, &nb, &why));
	assert_string_equal(why, "daily budget");
	/* The neighbouring /64 and IPv4 are not affected. */
	struct addr other = addr_of("2a01:4f8:c17:b90::1", 123);
	struct addr v4 = addr_of("193.0.0.1", 123);
	assert_true(may(rl, &other, 2000, &nb, &why));
	assert_true(ratelimit_take_packet(rl, sa(&other), 2000));
	assert_true(ratelimit_take_packet(rl, sa(&v4), 2000));
	assert_int_equal(ratelimit_tracked_prefixes(rl), 2);

	struct ratelimit_stats st;
	ratelimit_stats(rl, &st);
	/* Address 3 sent 5 of its 10, addresses 4 to 10 none. */
	assert_int_equal(st.held_prefix_daily, 75);
	assert_int_equal(st.held_daily, 0);
	assert_int_equal(st.deferred_prefix_daily, 1);
	assert_int_equal(st.deferred_daily, 1);

	/* Fresh a day later; and the table forgets the prefix after that. */
	assert_true(may(rl, &a, 1001 + RATELIMIT_DAY_MS, &nb, &why));
	ratelimit_prune(rl, 3000 + RATELIMIT_DAY_MS);
	assert_int_equal(ratelimit_tracked_prefixes(rl), 0);
	ratelimit_free(rl);
}

static void test_prefix_interval(void **state)
{
	(void)state;
	struct ratelimit_params p = loose();
	p.per_prefix_interval_ms = 10 * SEC;
	struct ratelimit *rl = make(&p);
	struct addr a = addr_of("2a01:4f8::1", 123);
	struct addr b = addr_of("2a01:4f8::2", 123);
	struct addr c = addr_of("2a01:4f8:0:1::1", 123);
	uint64_t nb;
	const char *why;

	assert_true(ratelimit_started(rl, sa(&a), 0));
	assert_false(may(rl, &b, SEC, &nb, &why));
	assert_string_equal(why, "prefix interval");
	assert_int_equal(nb, 10 * SEC);
	assert_true(may(rl, &c, SEC, &nb, &why));
	assert_true(may(rl, &b, 10 * SEC, &nb, &why));
	/* The interval limits starts, not packets within one. */
	assert_true(ratelimit_take_packet(rl, sa(&b), SEC));

	struct ratelimit_stats st;
	ratelimit_stats(rl, &st);
	assert_int_equal(st.deferred_prefix_interval, 1);
	ratelimit_free(rl);
}

/* 128 turns aggregation off; a shorter prefix joins more addresses. */
static void test_prefix_length(void **state)
{
	(void)state;
	struct ratelimit_params p = loose();
	p.per_destination_daily_packets = 5;
	p.per_prefix_daily_packets = 5;
	p.ipv6_prefix_len = 128;
	struct ratelimit *rl = make(&p);
	unsigned sent = 0;

	for (uint32_t i = 1; i <= 4; i++) {
		struct addr a = in_64(i);
		for (int k = 0; k < 5; k++)
			sent += ratelimit_take_packet(rl, sa(&a), 0);
	}
	assert_int_equal(sent, 20);
	assert_int_equal(ratelimit_tracked_prefixes(rl), 0);
	ratelimit_free(rl);

	p.ipv6_prefix_len = 48;
	rl = make(&p);
	struct addr x = addr_of("2a01:4f8:c17:1::1", 123);
	struct addr y = addr_of("2a01:4f8:c17:2::1", 123);
	struct addr z = addr_of("2a01:4f8:c18::1", 123);
	sent = 0;
	for (int k = 0; k < 5; k++)
		sent += ratelimit_take_packet(rl, sa(&x), 0) +
			ratelimit_take_packet(rl, sa(&y), 0);
	assert_int_equal(sent, 5);
	assert_true(ratelimit_take_packet(rl, sa(&z), 0));
	assert_int_equal(ratelimit_tracked_prefixes(rl), 2);

	p.ipv6_prefix_len = 129;
	assert_false(ratelimit_set_params(rl, &p, 0));
	ratelimit_free(rl);
}

/* IPv4 stays per address: a /24 full of servers has a budget each. */
static void test_ipv4_per_address(void **state)
{
	(void)state;
	struct ratelimit_params p = defaults();
	struct ratelimit *rl = make(&p);
	uint64_t nb;
	const char *why;

	for (uint32_t i = 1; i <= 5; i++) {
		char text[32];
		snprintf(text, sizeof(text), "193.0.0.%u", i);
		struct addr a = addr_of(text, 123);
		assert_true(may(rl, &a, 0, &nb, &why));
		assert_true(ratelimit_started(rl, sa(&a), 0));
	}
	assert_int_equal(ratelimit_tracked_prefixes(rl), 0);
	ratelimit_free(rl);
}

/*
 * Every IPv6 form of one IPv4 host is that host, NAT64 local-use
 * 64:ff9b:1::/48 included; none of them makes a prefix entry but the
 * local-use one, whose /64 is charged as well.
 */
static void test_nat64_folding(void **state)
{
	(void)state;
	struct ratelimit_params p = loose();
	p.per_destination_interval_ms = 10 * SEC;
	p.per_prefix_daily_packets = 3;
	struct ratelimit *rl = make(&p);
	struct addr v4 = addr_of("198.51.100.7", 123);
	const char *same[] = {
		"64:ff9b::198.51.100.7", "::ffff:198.51.100.7",
		"2002:c633:6407::1", "64:ff9b:1::198.51.100.7",
		"64:ff9b:1::c633:6407",
	};
	uint64_t nb;
	const char *why;

	assert_true(ratelimit_started(rl, sa(&v4), 0));
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		struct addr a = addr_of(same[i], 123);
		assert_false(may(rl, &a, 1, &nb, &why));
		assert_string_equal(why, "destination interval");
	}
	assert_int_equal(ratelimit_tracked(rl), 1);

	/* Other hosts behind the local-use prefix share its /64's budget,
	 * whatever RFC 6052 offset the operator's NAT64 uses. */
	const char *local[] = {
		"64:ff9b:1::c633:6408", "64:ff9b:1:0:c6:3364:900::",
		"64:ff9b:1::c633:6409", "64:ff9b:1::c633:640a",
	};
	unsigned sent = 0;
	for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++) {
		struct addr a = addr_of(local[i], 123);
		sent += ratelimit_take_packet(rl, sa(&a), 2);
	}
	assert_int_equal(sent, 3);
	assert_int_equal(ratelimit_tracked_prefixes(rl), 1);
	ratelimit_free(rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flood_one_64),
		cmocka_unit_test(test_prefix_budget),
		cmocka_unit_test(test_prefix_interval),
		cmocka_unit_test(test_prefix_length),
		cmocka_unit_test(test_ipv4_per_address),
		cmocka_unit_test(test_nat64_folding),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
