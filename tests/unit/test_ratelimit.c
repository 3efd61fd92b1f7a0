/*
 * Rate limits: the prober must never become a traffic source for abuse.
 * Every test runs on a simulated clock (milliseconds), so "24 hours" and
 * "60 seconds of hammering" take no real time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "engine/ratelimit.h"
#include "ratelimit_util.h"

static void test_bucket_burst_then_steady(void **state)
{
	(void)state;
	struct ratelimit_params p = loose();
	p.global_pps = 10;
	p.global_burst = 5;
	struct ratelimit *rl = make(&p);
	uint64_t nb;
	const char *why;

	/* Full at start: the burst goes out at once, then nothing. */
	for (uint32_t i = 0; i < 5; i++) {
		struct addr a = addr_n(i);
		assert_true(ratelimit_take_packet(rl, sa(&a), 0));
	}
	struct addr x = addr_n(99);
	assert_false(ratelimit_take_packet(rl, sa(&x), 0));
	assert_false(may(rl, &x, 0, &nb, &why));
	assert_string_equal(why, "global rate");
	/* 10 pps: a token every 100 ms; a start needs one (its first
	 * transmit is one packet since issue 12; it was two). */
	assert_int_equal(nb, 100);
	assert_false(ratelimit_take_packet(rl, sa(&x), 99));
	assert_false(ratelimit_may_start(rl, sa(&x), 99, NULL, NULL));
	assert_true(ratelimit_may_start(rl, sa(&x), 100, NULL, NULL));
	assert_true(ratelimit_take_packet(rl, sa(&x), 100));
	assert_false(ratelimit_take_packet(rl, sa(&x), 100));
	assert_false(ratelimit_take_packet(rl, sa(&x), 199));
	assert_true(ratelimit_take_packet(rl, sa(&x), 200));

	/* Steady: hammering every ms for 10 s yields exactly 10 per second. */
	unsigned sent = 0;
	for (uint64_t t = 201; t <= 10200; t++) {
		struct addr a = addr_n((uint32_t)(t % 50));
		if (ratelimit_take_packet(rl, sa(&a), t)) {
			assert_int_equal(t % 100, 0);
			sent++;
		}
	}
	assert_int_equal(sent, 100);

	/* Idle refills up to the burst, never past it. */
	unsigned again = 0;
	while (ratelimit_take_packet(rl, sa(&x), 60 * SEC))
		again++;
	assert_int_equal(again, 5);
	ratelimit_free(rl);
}

/*
 * The promise: whatever the callers do, no 1-second window (closed,
 * [t, t + 1000 ms]) holds more than pps + burst packets.
 */
static void hammer(double pps, unsigned burst)
{
	struct ratelimit_params p = loose();
	p.global_pps = pps;
	p.global_burst = burst;
	struct ratelimit *rl = make(&p);
	enum { NDST = 500, DURATION = 60 * SEC };
	uint64_t *sent = calloc(DURATION * 2, sizeof(*sent));
	size_t nsent = 0;
	uint64_t rng = 0x9e3779b97f4a7c15u;

	assert_non_null(sent);
	for (uint64_t t = 0; t < DURATION; t++) {
		/* Quiet spells let the bucket fill, so bursts really happen. */
		if ((t / 2500) % 3 == 2)
			continue;
		unsigned callers = 1 + (unsigned)(rng_next(&rng) % 40);
		for (unsigned c = 0; c < callers; c++) {
			struct addr a = addr_n((uint32_t)(rng_next(&rng) % NDST));
			bool ok;
			if (rng_next(&rng) % 4 == 0) {
				ok = ratelimit_may_start(rl, sa(&a), t, NULL, NULL);
				if (ok) {
					assert_true(ratelimit_started(rl, sa(&a), t));
					ok = ratelimit_take_packet(rl, sa(&a), t);
				}
			} else {
				ok = ratelimit_take_packet(rl, sa(&a), t);
			}
			if (ok) {
				assert_true(nsent < DURATION * 2);
				sent[nsent++] = t;
			}
		}
	}

	size_t worst = 0;
	for (size_t i = 0, j = 0; i < nsent; i++) {
		while (j < nsent && sent[j] <= sent[i] + SEC)
			j++;
		if (j - i > worst)
			worst = j - i;
	}
	assert_true((double)worst <= pps + burst);
	/* The test means something only if the limit was actually reached. */
	assert_true(worst + 1 >= (size_t)(pps + burst));
	assert_true((double)nsent >= pps * 40 * 0.9);
	free(sent);
	ratelimit_free(rl);
}

static void test_window_property(void **state)
{
	(void)state;
	hammer(50, 20);
	hammer(7.5, 3);
	hammer(200, 1);
}

static void test_destination_interval(void **state)
{
	(void)state;
	struct ratelimit_params p = loose();
	p.per_destination_interval_ms = 10 * SEC;
	struct ratelimit *rl = make(&p);
	struct addr a = addr_of("193.0.0.1", 123);
	struct addr a_other_port = addr_of("193.0.0.1", 4460);
	struct addr b = addr_of("193.0.0.2", 123);
	uint64_t nb;
	const char *why;

	assert_true(may(rl, &a, 1000, &nb, &why));
	assert_true(ratelimit_started(rl, sa(&a), 1000));
	assert_false(may(rl, &a, 6000, &nb, &why));
	assert_string_equal(why, "destination interval");
	assert_int_equal(nb, 11000);
	/* The port is not part of the destination. */
	assert_false(may(rl, &a_other_port, 10999, &nb, &why));
	assert_string_equal(why, "destination interval");
	/* Others are not affected. */
	assert_true(may(rl, &b, 6000, &nb, &why));
	assert_true(may(rl, &a, 11000, &nb, &why));
	/* The interval limits starts, not packets within an attempt. */
	for (int i = 0; i < 3; i++)
		assert_true(ratelimit_take_packet(rl, sa(&a), 1000 + (uint64_t)i));
	ratelimit_free(rl);
}

static void test_daily_budget(void **state)
{
	(void)state;
	struct ratelimit_params p = loose();
	p.per_destination_interval_ms = 1 * SEC;
	p.per_destination_daily_packets = 10;
	struct ratelimit *rl = make(&p);
	struct addr a = addr_of("2001:4860::8888", 123);
	uint64_t nb;
	const char *why;
	unsigned packets = 0, attempts = 0;
	const uint64_t t0 = 5 * SEC;

	/* An attempt every second for 30 s, each sending up to 3 packets. */
	for (uint64_t t = t0; t < t0 + 30 * SEC; t += SEC) {
		if (!may(rl, &a, t, &nb, &why)) {
			assert_string_equal(why, "daily budget");
			assert_int_equal(nb, t0 + RATELIMIT_DAY_MS);
			continue;
		}
		attempts++;
		assert_true(ratelimit_started(rl, sa(&a), t));
		for (uint64_t r = 0; r < 3; r++)
			packets += ratelimit_take_packet(rl, sa(&a), t + r * 200);
	}
	assert_int_equal(packets, 10);
	assert_int_equal(attempts, 4); /* 3 + 3 + 3 + the last one cut short */

	/* Still spent just before the window closes, fresh at 24 h. */
	assert_false(may(rl, &a, t0 + RATELIMIT_DAY_MS - 1, &nb, &why));
	assert_false(ratelimit_take_packet(rl, sa(&a), t0 + RATELIMIT_DAY_MS - 1));
	assert_true(may(rl, &a, t0 + RATELIMIT_DAY_MS, &nb, &why));
	packets = 0;
	for (uint64_t i = 0; i < 20; i++)
		packets += ratelimit_take_packet(rl, sa(&a),
						  t0 + RATELIMIT_DAY_MS + i);
	assert_int_equal(packets, 10);
	/* The new window opened at its first packet. */
	assert_false(may(rl, &a, t0 + 2 * RATELIMIT_DAY_MS - 1, &nb, &why));
	assert_int_equal(nb, t0 + 2 * RATELIMIT_DAY_MS);
	ratelimit_free(rl);
}

static void test_kod_holdoff(void **state)
{
	(void)state;
	struct ratelimit_params p = loose();
	p.kod_holdoff_ms = 60 * SEC;
	p.per_destination_interval_ms = 10 * SEC;
	struct ratelimit *rl = make(&p);
	struct addr a = addr_of("193.0.0.7", 123);
	struct addr b = addr_of("193.0.0.8", 123);
	uint64_t nb;
	const char *why;

	assert_true(ratelimit_started(rl, sa(&a), 0));
	assert_true(ratelimit_take_packet(rl, sa(&a), 0));
	assert_true(ratelimit_kod(rl, sa(&a), 500));
	/* The retransmit of the running attempt is held back too. */
	assert_false(ratelimit_take_packet(rl, sa(&a), 1000));
	/* KoD is named first, and not_before covers every failing check. */
	assert_false(may(rl, &a, 2000, &nb, &why));
	assert_string_equal(why, "kod holdoff");
	assert_int_equal(nb, 60500);
	assert_false(may(rl, &a, 60499, &nb, &why));
	/* A second kiss extends; an earlier-ending one does not shorten. */
	assert_true(ratelimit_kod(rl, sa(&a), 30 * SEC));
	assert_false(may(rl, &a, 60500, &nb, &why));
	assert_int_equal(nb, 90 * SEC);
	assert_true(may(rl, &a, 90 * SEC, &nb, &why));
	assert_true(ratelimit_take_packet(rl, sa(&a), 90 * SEC));
	/* Only the kissing address is left alone. */
	assert_true(may(rl, &b, 2000, &nb, &why));
	ratelimit_free(rl);
}

static void test_address_keys(void **state)
{
	(void)state;
	struct ratelimit_params p = loose();
	p.per_destination_interval_ms = 10 * SEC;
	struct ratelimit *rl = make(&p);
	uint64_t nb;
	const char *why;
	struct addr v4 = addr_of("198.51.100.7", 123);
	const char *same[] = {
		"198.51.100.7", "::ffff:198.51.100.7", "64:ff9b::198.51.100.7",
		"2002:c633:6407::1", "2002:c633:6407:ffff::abcd",
	};
	const char *other[] = {
		"198.51.100.8", "2001:db8::c633:6407", "::198.51.100.7",
		"2001:db8::1", "2002:c633:6409::1",
	};

	assert_true(ratelimit_started(rl, sa(&v4), 0));
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		struct addr a = addr_of(same[i], (uint16_t)(1000 + i));
		assert_false(may(rl, &a, 1, &nb, &why));
		assert_string_equal(why, "destination interval");
		assert_true(ratelimit_started(rl, sa(&a), 1));
	}
	assert_int_equal(ratelimit_tracked(rl), 1);
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		struct addr a = addr_of(other[i], 123);
		assert_true(may(rl, &a, 1, &nb, &why));
		assert_true(ratelimit_started(rl, sa(&a), 1));
	}
	assert_int_equal(ratelimit_tracked(rl), 6);

	/* IPv6 neighbours are distinct destinations. */
	struct addr six1 = addr_of("2001:db8::1", 123);
	struct addr six2 = addr_of("2001:db8::2", 123);
	assert_false(may(rl, &six1, 2, &nb, &why));
	assert_true(may(rl, &six2, 2, &nb, &why));

	/* Anything but IP is refused, never tracked. */
	struct sockaddr_un un;
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	assert_false(ratelimit_may_start(rl, (const struct sockaddr *)&un, 2,
					 &nb, &why));
	assert_string_equal(why, "unsupported address");
	assert_int_equal(nb, UINT64_MAX);
	assert_false(ratelimit_take_packet(rl, (const struct sockaddr *)&un, 2));
	assert_false(ratelimit_started(rl, (const struct sockaddr *)&un, 2));
	assert_false(ratelimit_take_packet(rl, NULL, 2));
	assert_int_equal(ratelimit_tracked(rl), 6);
	ratelimit_free(rl);
}

static void test_set_params_live(void **state)
{
	(void)state;
	struct ratelimit_params p = loose();
	p.global_pps = 100;
	p.global_burst = 100;
	p.per_destination_interval_ms = 10 * SEC;
	p.per_destination_daily_packets = 10;
	struct ratelimit *rl = make(&p);
	struct addr a = addr_of("193.0.0.9", 123);
	struct addr b = addr_of("193.0.0.10", 123);
	uint64_t nb;
	const char *why;

	assert_true(ratelimit_started(rl, sa(&a), 0));
	for (int i = 0; i < 5; i++)
		assert_true(ratelimit_take_packet(rl, sa(&a), 0));

	/* Lower everything at 1 s. */
	struct ratelimit_params q = p;
	q.global_pps = 1;
	q.global_burst = 2;
	q.per_destination_interval_ms = 20 * SEC;
	q.per_destination_daily_packets = 6;
	assert_true(ratelimit_set_params(rl, &q, SEC));

	/* Bucket clamped to the new burst, then 1 per second. */
	assert_true(ratelimit_take_packet(rl, sa(&b), SEC));
	assert_true(ratelimit_take_packet(rl, sa(&b), SEC));
	assert_false(ratelimit_take_packet(rl, sa(&b), SEC));
	assert_false(ratelimit_take_packet(rl, sa(&b), 2 * SEC - 1));
	assert_true(ratelimit_take_packet(rl, sa(&b), 2 * SEC));

	/* a's state survived: its 5 packets count against the new budget of 6 */
	assert_true(ratelimit_take_packet(rl, sa(&a), 3 * SEC));
	assert_false(ratelimit_take_packet(rl, sa(&a), 5 * SEC));
	/*
	 * ... and its start is judged by the new 20 s interval; not_before
	 * is when the spent budget comes back, the later of the two.
	 */
	assert_false(may(rl, &a, 15 * SEC, &nb, &why));
	assert_string_equal(why, "destination interval");
	assert_int_equal(nb, RATELIMIT_DAY_MS);
	assert_false(may(rl, &a, 20 * SEC, &nb, &why));
	assert_string_equal(why, "daily budget");

	/* Bad params are refused and change nothing. */
	struct ratelimit_params bad = q;
	bad.global_pps = NAN;
	assert_false(ratelimit_set_params(rl, &bad, 30 * SEC));
	bad.global_pps = -1;
	assert_false(ratelimit_set_params(rl, &bad, 30 * SEC));
	bad.global_pps = INFINITY;
	assert_false(ratelimit_set_params(rl, &bad, 30 * SEC));
	assert_true(ratelimit_take_packet(rl, sa(&b), 30 * SEC));
	assert_true(ratelimit_take_packet(rl, sa(&b), 30 * SEC));
	assert_false(ratelimit_take_packet(rl, sa(&b), 30 * SEC));

	/* Raising the rate later works from then on. */
	q.global_pps = 1000;
	q.global_burst = 10;
	assert_true(ratelimit_set_params(rl, &q, 30 * SEC));
	assert_false(ratelimit_take_packet(rl, sa(&b), 30 * SEC));
	assert_true(ratelimit_take_packet(rl, sa(&b), 30 * SEC + 1));
	ratelimit_free(rl);
}

/*
 * The packet gap holds across attempts: no packet to an address within
 * packet_gap_ms of the last one, and no new attempt before it has passed
 * (reported as the destination interval), while other addresses go on.
 */
static void test_packet_gap(void **state)
{
	(void)state;
	struct ratelimit_params p = loose();
	p.per_destination_interval_ms = 1 * SEC;
	p.packet_gap_ms = 2 * SEC;
	struct ratelimit *rl = make(&p);
	struct addr a = addr_of("193.0.0.30", 123);
	struct addr b = addr_of("193.0.0.31", 123);
	struct ratelimit_stats st;
	uint64_t nb;
	const char *why;

	assert_true(ratelimit_started(rl, sa(&a), 10 * SEC));
	assert_true(ratelimit_take_packet(rl, sa(&a), 10 * SEC));
	assert_false(ratelimit_take_packet(rl, sa(&a), 12 * SEC - 1));
	assert_true(ratelimit_take_packet(rl, sa(&b), 10 * SEC));
	assert_true(ratelimit_take_packet(rl, sa(&a), 12 * SEC));
	/* The interval since the start has passed, the gap has not. */
	assert_false(may(rl, &a, 13 * SEC, &nb, &why));
	assert_string_equal(why, "destination interval");
	assert_int_equal(nb, 14 * SEC);
	assert_true(may(rl, &a, 14 * SEC, &nb, &why));
	/* A start alone (nothing sent) leaves only the interval. */
	assert_true(ratelimit_started(rl, sa(&b), 20 * SEC));
	assert_true(may(rl, &b, 21 * SEC, &nb, &why));
	ratelimit_stats(rl, &st);
	assert_int_equal(st.held_gap, 1);
	assert_int_equal(st.deferred_interval, 1);

	/* Without a gap configured, back to back as before. */
	p.packet_gap_ms = 0;
	assert_true(ratelimit_set_params(rl, &p, 30 * SEC));
	assert_true(ratelimit_take_packet(rl, sa(&a), 30 * SEC));
	assert_true(ratelimit_take_packet(rl, sa(&a), 30 * SEC));
	ratelimit_free(rl);

	/* A budget an entry cannot count is refused, not wrapped. */
	p.per_destination_daily_packets = 1u << 20;
	assert_false(ratelimit_params_valid(&p));
}

static void test_stats(void **state)
{
	(void)state;
	struct ratelimit_params p = {
		.global_pps = 1,
		.global_burst = 3,
		.per_destination_interval_ms = 10 * SEC,
		.per_destination_daily_packets = 2,
		.kod_holdoff_ms = 100 * SEC,
	};
	struct ratelimit *rl = make(&p);
	struct ratelimit_stats st;
	struct addr a = addr_of("193.0.0.20", 123);
	struct addr b = addr_of("193.0.0.21", 123);
	struct addr c = addr_of("193.0.0.22", 123);
	uint64_t nb;
	const char *why;

	ratelimit_stats(rl, &st);
	assert_int_equal(st.held_global + st.held_daily + st.held_kod +
			 st.deferred_interval + st.deferred_kod +
			 st.deferred_global + st.deferred_daily + st.no_memory, 0);

	assert_true(ratelimit_started(rl, sa(&a), 0));
	assert_true(ratelimit_take_packet(rl, sa(&a), 0));
	assert_true(ratelimit_take_packet(rl, sa(&a), 0));
	assert_false(ratelimit_take_packet(rl, sa(&a), 0));     /* held_daily */
	assert_false(may(rl, &a, 1, &nb, &why));                  /* deferred_interval */
	assert_string_equal(why, "destination interval");
	assert_true(ratelimit_take_packet(rl, sa(&b), 1));
	assert_false(ratelimit_take_packet(rl, sa(&c), 1));     /* held_global */
	assert_false(may(rl, &c, 1, &nb, &why));                  /* deferred_global */
	assert_string_equal(why, "global rate");
	assert_int_equal(nb, SEC);                                /* 0.001 there, 1 needed at 1 pps */
	assert_true(ratelimit_kod(rl, sa(&b), 1));
	assert_false(may(rl, &b, 5 * SEC, &nb, &why));            /* deferred_kod */
	assert_string_equal(why, "kod holdoff");
	assert_false(ratelimit_take_packet(rl, sa(&b), 5 * SEC)); /* held_kod */
	assert_false(may(rl, &a, 20 * SEC, &nb, &why));           /* deferred_daily */
	assert_string_equal(why, "daily budget");

	ratelimit_stats(rl, &st);
	assert_int_equal(st.held_daily, 1);
	assert_int_equal(st.held_global, 1);
	assert_int_equal(st.held_kod, 1);
	assert_int_equal(st.deferred_interval, 1);
	assert_int_equal(st.deferred_daily, 1);
	assert_int_equal(st.deferred_global, 1);
	assert_int_equal(st.deferred_kod, 1);
	assert_int_equal(st.no_memory, 0);
	ratelimit_free(rl);
}

/* Zero limits, bad params, a clock that steps back: all fail closed. */
static void test_fail_closed(void **state)
{
	(void)state;
	struct ratelimit_params p = loose();
	uint64_t nb;
	const char *why;
	struct addr a = addr_of("193.0.0.30", 123);

	p.global_pps = NAN;
	errno = 0;
	assert_null(ratelimit_new(&p));
	assert_int_equal(errno, EINVAL);
	assert_null(ratelimit_new(NULL));
	ratelimit_free(NULL);

	/* No burst: nothing ever. */
	p = loose();
	p.global_burst = 0;
	struct ratelimit *rl = make(&p);
	assert_false(ratelimit_take_packet(rl, sa(&a), 0));
	assert_false(may(rl, &a, 10 * HOUR, &nb, &why));
	assert_string_equal(why, "global rate");
	assert_int_equal(nb, UINT64_MAX);
	ratelimit_free(rl);

	/* No rate: the burst, then nothing. */
	p = loose();
	p.global_pps = 0;
	p.global_burst = 2;
	rl = make(&p);
	assert_true(ratelimit_take_packet(rl, sa(&a), 0));
	assert_true(ratelimit_take_packet(rl, sa(&a), 0));
	assert_false(ratelimit_take_packet(rl, sa(&a), 100 * HOUR));
	assert_false(may(rl, &a, 100 * HOUR, &nb, &why));
	assert_int_equal(nb, UINT64_MAX);
	ratelimit_free(rl);

	/* No daily budget: nothing, never. */
	p = loose();
	p.per_destination_daily_packets = 0;
	rl = make(&p);
	assert_false(ratelimit_take_packet(rl, sa(&a), 0));
	assert_false(may(rl, &a, 0, &nb, &why));
	assert_string_equal(why, "daily budget");
	assert_int_equal(nb, UINT64_MAX);
	assert_int_equal(ratelimit_tracked(rl), 0);
	ratelimit_free(rl);

	/* A clock stepping back refills nothing and shortens nothing. */
	p = loose();
	p.global_pps = 1;
	p.global_burst = 1;
	p.per_destination_interval_ms = 10 * SEC;
	rl = make(&p);
	assert_true(ratelimit_started(rl, sa(&a), 50 * SEC));
	assert_true(ratelimit_take_packet(rl, sa(&a), 50 * SEC));
	assert_false(ratelimit_take_packet(rl, sa(&a), 10 * SEC));
	assert_false(ratelimit_take_packet(rl, sa(&a), 50 * SEC + 999));
	assert_true(ratelimit_started(rl, sa(&a), 45 * SEC));
	assert_false(may(rl, &a, 59 * SEC, &nb, &why));
	assert_string_equal(why, "destination interval");
	assert_true(ratelimit_take_packet(rl, sa(&a), 51 * SEC));
	ratelimit_free(rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_burst_then_steady),
		cmocka_unit_test(test_window_property),
		cmocka_unit_test(test_destination_interval),
		cmocka_unit_test(test_daily_budget),
		cmocka_unit_test(test_kod_holdoff),
		cmocka_unit_test(test_address_keys),
		cmocka_unit_test(test_set_params_live),
		cmocka_unit_test(test_packet_gap),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_fail_closed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
