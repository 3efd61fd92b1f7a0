/*
 * The rate limiter's destination table: memory follows the destinations
 * that still have state to enforce, and has a hard bound. At the bound a
 * new destination waits; no budget is forgotten to make room for it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ratelimit_util.h"

/* IPv4 destination number i (no prefix entries), all distinct. */
static struct addr v4_n(uint32_t i)
{
	struct addr a;
	struct sockaddr_in *sin = (struct sockaddr_in *)&a.ss;

	memset(&a, 0, sizeof(a));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(0x0c000000u + i);
	sin->sin_port = htons(123);
	return a;
}

static void test_prune_100k(void **state)
{
	(void)state;
	struct ratelimit_params p = loose();
	p.per_destination_interval_ms = 30 * SEC;
	p.kod_holdoff_ms = 2 * HOUR;
	struct ratelimit *rl = make(&p);
	enum { N = 100000 };
	size_t empty = ratelimit_memory(rl);

	/* Spread over the first hour: packets, starts and a few kisses. */
	for (uint32_t i = 0; i < N; i++) {
		struct addr a = addr_n(i);
		uint64_t t = (uint64_t)i * HOUR / N;
		assert_true(ratelimit_take_packet(rl, sa(&a), t));
		if (i % 3 == 0)
			assert_true(ratelimit_started(rl, sa(&a), t));
		if (i % 1000 == 0)
			assert_true(ratelimit_kod(rl, sa(&a), t));
	}
	assert_int_equal(ratelimit_tracked(rl), N);
	assert_true(ratelimit_memory(rl) > empty);

	/* Windows still open: nothing may go. */
	ratelimit_prune(rl, 2 * HOUR);
	assert_int_equal(ratelimit_tracked(rl), N);
	/* Every entry is still reachable and kept its count. */
	for (uint32_t i = 0; i < N; i += 97) {
		struct addr a = addr_n(i);
		uint64_t nb;
		const char *why;
		if (i % 1000 == 0 && i > 0) {
			assert_false(may(rl, &a, 2 * HOUR, &nb, &why));
			assert_string_equal(why, "kod holdoff");
		} else {
			assert_true(may(rl, &a, 2 * HOUR, &nb, &why));
		}
	}

	ratelimit_prune(rl, 25 * HOUR);
	assert_int_equal(ratelimit_tracked(rl), 0);
	assert_int_equal(ratelimit_memory(rl), empty);
	ratelimit_free(rl);
}

/*
 * Heavy insert/prune cycles against a model: after each prune exactly the
 * live destinations remain, and each is still found with its own state.
 */
static void test_prune_cycles(void **state)
{
	(void)state;
	struct ratelimit_params p = loose();
	p.per_destination_interval_ms = 15 * SEC;
	struct ratelimit *rl = make(&p);
	enum { N = 20000, ROUNDS = 40 };
	uint64_t *last = calloc(N, sizeof(*last)); /* last start + 1; 0 = none */
	uint64_t rng = 12345;

	assert_non_null(last);
	for (uint64_t r = 1; r <= ROUNDS; r++) {
		uint64_t t = r * 10 * SEC;
		/* Starts at varied times within the round. */
		unsigned n = (unsigned)(rng_next(&rng) % (N / 2));
		for (unsigned k = 0; k < n; k++) {
			uint32_t i = (uint32_t)(rng_next(&rng) % N);
			uint64_t ts = t + rng_next(&rng) % (5 * SEC);
			struct addr a = addr_n(i);
			if (last[i] != 0 && ts < last[i] - 1 + 15 * SEC)
				continue; /* the caller would have asked first */
			assert_true(ratelimit_started(rl, sa(&a), ts));
			last[i] = ts + 1;
		}
		uint64_t now = t + 5 * SEC;
		ratelimit_prune(rl, now);

		size_t live = 0;
		for (uint32_t i = 0; i < N; i++) {
			struct addr a = addr_n(i);
			uint64_t nb;
			const char *why;
			bool is_live = last[i] != 0 && now < last[i] - 1 + 15 * SEC;
			live += is_live;
			if (is_live) {
				assert_false(may(rl, &a, now, &nb, &why));
				assert_int_equal(nb, last[i] - 1 + 15 * SEC);
			} else {
				assert_true(may(rl, &a, now, &nb, &why));
			}
		}
		assert_int_equal(ratelimit_tracked(rl), live);
	}
	ratelimit_prune(rl, (ROUNDS + 10) * 10 * SEC);
	assert_int_equal(ratelimit_tracked(rl), 0);
	free(last);
	ratelimit_free(rl);
}

/* Without prune, growth drops dead entries: memory follows live state. */
static void test_growth_drops_dead(void **state)
{
	(void)state;
	struct ratelimit_params p = loose();
	p.per_destination_interval_ms = 15 * SEC;
	struct ratelimit *rl = make(&p);

	for (uint32_t r = 0; r < 200; r++)
		for (uint32_t k = 0; k < 1000; k++) {
			struct addr a = addr_n(r * 1000 + k);
			assert_true(ratelimit_started(rl, sa(&a), (uint64_t)r * 10 * SEC));
		}
	/* At most 2000 live at once; 200000 were seen. */
	assert_true(ratelimit_tracked(rl) <= 8192);
	assert_true(ratelimit_memory(rl) < 8192 * 64 + 4096);
	ratelimit_free(rl);
}

/*
 * At the bound: the next new destination is deferred with a reason and the
 * time the first entry can go, its packets are held, and every tracked
 * destination keeps its spent budget until its own window closes.
 */
static void test_cap_defers_new(void **state)
{
	(void)state;
	struct ratelimit_params p = loose();
	p.per_destination_daily_packets = 1;
	p.max_destinations = 1000;
	struct ratelimit *rl = make(&p);
	struct ratelimit_stats st;
	uint64_t nb;
	const char *why;

	for (uint32_t i = 0; i < 1000; i++) {
		struct addr a = v4_n(i);
		assert_true(ratelimit_take_packet(rl, sa(&a), (uint64_t)i * SEC));
	}
	assert_int_equal(ratelimit_tracked(rl), 1000);

	struct addr fresh = v4_n(5000);
	assert_false(may(rl, &fresh, 2000 * SEC, &nb, &why));
	assert_string_equal(why, "destination table full");
	/* Destination 0's window, opened at 0, is the first to close. */
	assert_int_equal(nb, RATELIMIT_DAY_MS);
	assert_false(ratelimit_take_packet(rl, sa(&fresh), 2000 * SEC));
	assert_false(ratelimit_started(rl, sa(&fresh), 2000 * SEC));

	/* Hammer with new destinations for most of the day: none gets in,
	 * and no tracked one is handed a fresh budget. */
	for (uint64_t t = 2000 * SEC; t < RATELIMIT_DAY_MS; t += 60 * SEC) {
		struct addr a = v4_n(100000 + (uint32_t)(t / SEC));
		assert_false(ratelimit_take_packet(rl, sa(&a), t));
		assert_false(ratelimit_may_start(rl, sa(&a), t, NULL, NULL));
		ratelimit_prune(rl, t);
	}
	assert_int_equal(ratelimit_tracked(rl), 1000);
	for (uint32_t i = 0; i < 1000; i++) {
		struct addr a = v4_n(i);
		assert_false(ratelimit_take_packet(rl, sa(&a), RATELIMIT_DAY_MS - 1));
	}

	/* Destination 0's window closed: room for one, found without prune. */
	assert_true(may(rl, &fresh, RATELIMIT_DAY_MS, &nb, &why));
	assert_true(ratelimit_started(rl, sa(&fresh), RATELIMIT_DAY_MS));
	assert_true(ratelimit_take_packet(rl, sa(&fresh), RATELIMIT_DAY_MS));
	struct addr next = v4_n(5001);
	assert_false(may(rl, &next, RATELIMIT_DAY_MS, &nb, &why));
	assert_string_equal(why, "destination table full");
	assert_true(nb > RATELIMIT_DAY_MS);
	assert_int_equal(ratelimit_tracked(rl), 1000);

	ratelimit_stats(rl, &st);
	assert_true(st.deferred_table_full >= 2);
	assert_true(st.held_table_full >= 2);
	assert_int_equal(st.no_memory, 0);
	ratelimit_free(rl);
}

/* An IPv6 destination needs its prefix's entry too; both fit or neither. */
static void test_cap_counts_prefixes(void **state)
{
	(void)state;
	struct ratelimit_params p = loose();
	p.max_destinations = 1000;
	struct ratelimit *rl = make(&p);

	for (uint32_t i = 0; i < 999; i++) {
		struct addr a = v4_n(i);
		assert_true(ratelimit_take_packet(rl, sa(&a), 0));
	}
	struct addr six = addr_of("2a01:4f8::1", 123);
	uint64_t nb;
	const char *why;
	assert_false(may(rl, &six, 0, &nb, &why));
	assert_string_equal(why, "destination table full");
	assert_false(ratelimit_take_packet(rl, sa(&six), 0));
	assert_int_equal(ratelimit_tracked(rl), 999);
	assert_int_equal(ratelimit_tracked_prefixes(rl), 0);
	struct addr last = v4_n(999);
	assert_true(ratelimit_take_packet(rl, sa(&last), 0));
	ratelimit_free(rl);
}

/* Memory never passes the bound ratelimit_memory_max() states. */
static void test_cap_memory(void **state)
{
	(void)state;
	struct ratelimit_params p = loose();
	size_t peak;

	p.max_destinations = 3000;
	size_t bound = ratelimit_memory_max(&p, &peak);
	struct ratelimit *rl = make(&p);
	uint32_t n = 0;
	for (;; n++) {
		struct addr a = addr_n(n);
		assert_true(ratelimit_memory(rl) <= bound);
		if (!ratelimit_take_packet(rl, sa(&a), 0))
			break;
	}
	/* 2999 addresses and the one /64 that addr_n's IPv6 ones share. */
	assert_int_equal(n, 2999);
	assert_int_equal(ratelimit_tracked_prefixes(rl), 1);
	assert_int_equal(ratelimit_memory(rl), bound);
	assert_true(peak < bound + bound / 2 + 1);
	ratelimit_free(rl);

	/* The default bound, filled: what an operator should plan for. */
	struct ratelimit_params d = loose();
	bound = ratelimit_memory_max(&d, &peak);
	rl = make(&d);
	for (n = 0;; n++) {
		struct addr a = v4_n(n);
		if (!ratelimit_take_packet(rl, sa(&a), 0))
			break;
	}
	assert_int_equal(n, RATELIMIT_DEFAULT_MAX_DESTINATIONS);
	assert_int_equal(ratelimit_memory(rl), bound);
	assert_true(bound <= 25u * 1024 * 1024);
	assert_true(peak <= 37u * 1024 * 1024);
	print_message("default cap %zu entries: %zu bytes (%.1f per entry), "
		      "growth peak %zu bytes\n", (size_t)n, bound,
		      (double)bound / (double)n, peak);
	ratelimit_free(rl);
}

/* Lowering the bound on reload drops nothing; new destinations wait. */
static void test_cap_reload(void **state)
{
	(void)state;
	struct ratelimit_params p = loose();
	p.per_destination_daily_packets = 1;
	struct ratelimit *rl = make(&p);
	uint64_t nb;
	const char *why;

	for (uint32_t i = 0; i < 5000; i++) {
		struct addr a = v4_n(i);
		assert_true(ratelimit_take_packet(rl, sa(&a), 0));
	}
	p.max_destinations = 1000;
	assert_true(ratelimit_set_params(rl, &p, 1));
	ratelimit_prune(rl, 2);
	assert_int_equal(ratelimit_tracked(rl), 5000);
	struct addr fresh = v4_n(9999);
	assert_false(may(rl, &fresh, 3, &nb, &why));
	assert_string_equal(why, "destination table full");
	assert_int_equal(nb, RATELIMIT_DAY_MS);
	for (uint32_t i = 0; i < 5000; i += 7) {
		struct addr a = v4_n(i);
		assert_false(ratelimit_take_packet(rl, sa(&a), 4));
	}
	/* Once the windows close the table shrinks back under the bound. */
	ratelimit_prune(rl, RATELIMIT_DAY_MS);
	assert_int_equal(ratelimit_tracked(rl), 0);
	assert_true(ratelimit_memory(rl) <= ratelimit_memory_max(&p, NULL));
	assert_true(may(rl, &fresh, RATELIMIT_DAY_MS, &nb, &why));
	p.max_destinations = RATELIMIT_MAX_DESTINATIONS + 1;
	assert_false(ratelimit_set_params(rl, &p, RATELIMIT_DAY_MS));
	ratelimit_free(rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prune_100k),
		cmocka_unit_test(test_prune_cycles),
		cmocka_unit_test(test_growth_drops_dead),
		cmocka_unit_test(test_cap_defers_new),
		cmocka_unit_test(test_cap_counts_prefixes),
		cmocka_unit_test(test_cap_memory),
		cmocka_unit_test(test_cap_reload),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
