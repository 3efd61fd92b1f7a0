/*
 * test_config.c - the configuration module as an admin meets it: defaults,
 * a full file, the shipped example, and the exact "file:line: message" for
 * each kind of mistake. Config files live in tests/data/config/.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

#define CONFIG_DIR NV_TEST_DATA "/config/"
#define DIST_CONF NV_TEST_DATA "/../../dist/ntpverify.conf"
#define MAX_ERRORS 32

/* Messages config_load() reported, in order. */
struct errors {
	char *msg[MAX_ERRORS]; /* strdup()ed copies */
	size_t n;              /* how many were reported (may exceed MAX_ERRORS) */
};

static void collect(void *arg, const char *message)
{
	struct errors *e = arg;

	if (e->n < MAX_ERRORS) {
		e->msg[e->n] = strdup(message);
		assert_non_null(e->msg[e->n]);
	}
	e->n++;
}

static void errors_free(struct errors *e)
{
	for (size_t i = 0; i < e->n && i < MAX_ERRORS; i++)
		free(e->msg[i]);
	e->n = 0;
}

static int load(const char *name, struct nv_config *cfg, struct errors *e)
{
	char path[512];

	snprintf(path, sizeof(path), "%s%s", CONFIG_DIR, name);
	memset(e, 0, sizeof(*e));
	return config_load(cfg, path, collect, e);
}

/* Assert message i is exactly "DIR/name:line: text" (line 0: no line). */
static void expect(const struct errors *e, size_t i, const char *name,
		   int line, const char *text)
{
	char want[1024];

	if (line > 0)
		snprintf(want, sizeof(want), "%s%s:%d: %s", CONFIG_DIR, name,
			 line, text);
	else
		snprintf(want, sizeof(want), "%s%s: %s", CONFIG_DIR, name, text);
	assert_true(i < e->n);
	assert_string_equal(e->msg[i], want);
}

/* Load a file that must fail with exactly one message. */
static void expect_one(const char *name, int line, const char *text)
{
	struct nv_config cfg;
	struct errors e;

	assert_int_equal(load(name, &cfg, &e), -1);
	assert_int_equal(e.n, 1);
	expect(&e, 0, name, line, text);
	/* Failure leaves nothing to free (config.h); this must be harmless. */
	assert_null(cfg.variable);
	config_free(&cfg);
	errors_free(&e);
}

static void assert_defaults(const struct nv_config *cfg)
{
	static const uint64_t schedule[] = {
		60000, 120000, 300000, 600000, 1800000, 3600000, 7200000,
		10800000,
	};

	assert_null(cfg->prober_name);
	assert_string_equal(cfg->database, "");
	assert_int_equal(cfg->n_sources, 0);
	assert_string_equal(cfg->variable, "ntppool_verify");
	assert_int_equal(cfg->ntp_port, 123);
	assert_false(cfg->allow_private_targets);
	assert_string_equal(cfg->status_socket, "/run/ntpverify/status.sock");
	assert_null(cfg->status_listen);
	assert_int_equal(cfg->probe.timeout_ms, 5000);
	assert_int_equal(cfg->probe.retransmit_ms, 2000);
	assert_int_equal(cfg->probe.max_in_flight, 256);
	assert_true(cfg->rate_limit.global_pps == 50.0);
	assert_int_equal(cfg->rate_limit.global_burst, 10);
	assert_int_equal(cfg->rate_limit.per_destination_interval_ms, 30000);
	assert_int_equal(cfg->rate_limit.per_destination_daily_packets, 75);
	assert_int_equal(cfg->rate_limit.kod_holdoff_ms, 3600000);
	assert_int_equal(cfg->rate_limit.max_destinations, 300000);
	assert_int_equal(cfg->rate_limit.ipv6_prefix_length, 64);
	assert_int_equal(cfg->rate_limit.per_prefix_daily_packets, 750);
	assert_int_equal(cfg->rate_limit.per_prefix_interval_ms, 10000);
	assert_int_equal(cfg->retry.n_schedule, 8);
	for (size_t i = 0; i < 8; i++)
		assert_int_equal(cfg->retry.schedule_ms[i], schedule[i]);
	assert_int_equal(cfg->retry.expiry_ms, 72 * 3600000ULL);
	assert_int_equal(cfg->queue.lease_batch, 50);
	assert_int_equal(cfg->queue.lease_time_ms, 120000);
	assert_int_equal(cfg->queue.poll_interval_ms, 10000);
	assert_int_equal(cfg->queue.reconnect_max_ms, 30000);
	assert_int_equal(cfg->queue.max_unwritten, 10000);
}

static void test_defaults(void **state)
{
	struct nv_config cfg;

	(void)state;
	config_defaults(&cfg);
	assert_defaults(&cfg);
	config_free(&cfg);
	config_free(&cfg); /* twice is harmless */
}

/* A file of comments only gives the same values as config_defaults(). */
static void test_empty_file_is_defaults(void **state)
{
	struct nv_config cfg;
	struct errors e;

	(void)state;
	assert_int_equal(load("empty.conf", &cfg, &e), 0);
	assert_int_equal(e.n, 0);
	assert_defaults(&cfg);
	config_free(&cfg);
}

static void test_full_file(void **state)
{
	static const uint64_t schedule[] = { 30000, 120000, 600000, 3600000,
					     86400000 };
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;
	struct in6_addr want6;
	struct nv_config cfg;
	struct errors e;

	(void)state;
	assert_int_equal(load("full.conf", &cfg, &e), 0);
	assert_int_equal(e.n, 0);
	assert_string_equal(cfg.prober_name, "prober-fra1");
	assert_string_equal(cfg.database,
			    "host=/run/postgresql dbname=ntpverify user=ntpverify");
	assert_int_equal(cfg.n_sources, 2);
	assert_string_equal(cfg.sources[0].text, "192.0.2.10");
	assert_int_equal(cfg.sources[0].family, AF_INET);
	assert_int_equal(cfg.sources[0].addrlen, sizeof(struct sockaddr_in));
	sin = (const struct sockaddr_in *)&cfg.sources[0].addr;
	assert_int_equal(sin->sin_addr.s_addr, htonl(0xc000020a));
	assert_int_equal(sin->sin_port, 0);
	assert_string_equal(cfg.sources[1].text, "2001:db8::10");
	assert_int_equal(cfg.sources[1].family, AF_INET6);
	assert_int_equal(cfg.sources[1].addrlen, sizeof(struct sockaddr_in6));
	sin6 = (const struct sockaddr_in6 *)&cfg.sources[1].addr;
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::10", &want6), 1);
	assert_memory_equal(&sin6->sin6_addr, &want6, sizeof(want6));
	assert_string_equal(cfg.variable, "pool.verify-2");
	assert_int_equal(cfg.ntp_port, 10123);
	assert_true(cfg.allow_private_targets);
	assert_string_equal(cfg.status_socket, "/run/ntpverify/test.sock");
	assert_string_equal(cfg.status_listen, "127.0.0.1:8123");
	assert_int_equal(cfg.probe.timeout_ms, 2500);
	assert_int_equal(cfg.probe.retransmit_ms, 500);
	assert_int_equal(cfg.probe.max_in_flight, 64);
	assert_true(cfg.rate_limit.global_pps == 12.5);
	assert_int_equal(cfg.rate_limit.global_burst, 5);
	assert_int_equal(cfg.rate_limit.per_destination_interval_ms, 1000);
	assert_int_equal(cfg.rate_limit.per_destination_daily_packets, 20);
	assert_int_equal(cfg.rate_limit.kod_holdoff_ms, 7200000);
	assert_int_equal(cfg.rate_limit.max_destinations, 5000);
	assert_int_equal(cfg.rate_limit.ipv6_prefix_length, 56);
	assert_int_equal(cfg.rate_limit.per_prefix_daily_packets, 300);
	assert_int_equal(cfg.rate_limit.per_prefix_interval_ms, 0);
	assert_int_equal(cfg.retry.n_schedule, 5);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(cfg.retry.schedule_ms[i], schedule[i]);
	assert_int_equal(cfg.retry.expiry_ms, 86400000);
	assert_int_equal(cfg.queue.lease_batch, 10);
	assert_int_equal(cfg.queue.lease_time_ms, 90000); /* bare 90 = 90s */
	assert_int_equal(cfg.queue.poll_interval_ms, 5000);
	assert_int_equal(cfg.queue.reconnect_max_ms, 60000);
	assert_int_equal(cfg.queue.max_unwritten, 500);
	config_free(&cfg);
}

/* The example we ship must load as it is, documentation addresses and all. */
static void test_dist_example(void **state)
{
	struct nv_config cfg;
	struct errors e = { .n = 0 };

	(void)state;
	assert_int_equal(config_load(&cfg, DIST_CONF, collect, &e), 0);
	assert_int_equal(e.n, 0);
	assert_non_null(cfg.prober_name);
	assert_int_equal(cfg.n_sources, 2);
	assert_string_equal(cfg.sources[0].text, "192.0.2.10");
	assert_string_equal(cfg.sources[1].text, "2001:db8::10");
	assert_string_equal(cfg.variable, "ntppool_verify");
	config_free(&cfg);
}

static void test_ipv6_ok(void **state)
{
	struct nv_config cfg;
	struct errors e;

	(void)state;
	assert_int_equal(load("ipv6.conf", &cfg, &e), 0);
	assert_int_equal(e.n, 0);
	assert_int_equal(cfg.n_sources, 3);
	assert_string_equal(cfg.sources[0].text, "2001:db8::10");
	assert_int_equal(cfg.sources[0].family, AF_INET6);
	assert_string_equal(cfg.sources[1].text, "2001:db8:0:1::20");
	assert_int_equal(cfg.sources[2].family, AF_INET);
	assert_string_equal(cfg.status_listen, "[::1]:8123");
	config_free(&cfg);
}

static void test_unknown_key(void **state)
{
	(void)state;
	expect_one("unknown_key.conf", 4, "probe.timout: unknown key");
}

static void test_bad_address(void **state)
{
	(void)state;
	expect_one("bad_address.conf", 4,
		   "source_addresses: '192.0.2.300' is not an IPv4 or IPv6 "
		   "address");
}

static void test_not_unicast(void **state)
{
	struct nv_config cfg;
	struct errors e;

	(void)state;
	assert_int_equal(load("not_unicast.conf", &cfg, &e), -1);
	assert_int_equal(e.n, 2);
	expect(&e, 0, "not_unicast.conf", 1,
	       "source_addresses: '0.0.0.0' is not a unicast address");
	expect(&e, 1, "not_unicast.conf", 1,
	       "source_addresses: 'ff02::1' is not a unicast address");
	errors_free(&e);
}

static void test_out_of_range(void **state)
{
	(void)state;
	expect_one("out_of_range.conf", 3,
		   "probe.timeout: '90s' is out of range (100ms..1m)");
}

/* The table bound and the IPv6 prefix limits have ranges too. */
static void test_rate_limit_ranges(void **state)
{
	static const char *const want[] = {
		"rate_limit.max_destinations: '999' is out of range (1000..16777216)",
		"rate_limit.ipv6_prefix_length: '129' is out of range (32..128)",
		"rate_limit.per_prefix_daily_packets: '0' is out of range (1..1000000)",
		"rate_limit.per_prefix_interval: '2d' is out of range (0ms..1d)",
	};
	struct nv_config cfg;
	struct errors e;

	(void)state;
	assert_int_equal(load("rate_limit_ranges.conf", &cfg, &e), -1);
	assert_int_equal(e.n, 4);
	for (size_t i = 0; i < 4; i++)
		expect(&e, i, "rate_limit_ranges.conf", (int)i + 3, want[i]);
	errors_free(&e);
}

static void test_bad_duration(void **state)
{
	(void)state;
	/* The comment above the value must not shift the line. */
	expect_one("bad_duration.conf", 3,
		   "rate_limit.kod_holdoff: 'soon' is not a duration (a whole "
		   "number with unit ms, s, m, h or d, e.g. 3s)");
}

static void test_bad_unit(void **state)
{
	(void)state;
	expect_one("bad_unit.conf", 2,
		   "retry.expiry: '3w' is not a duration (a whole number with "
		   "unit ms, s, m, h or d, e.g. 3s)");
}

static void test_duplicate_source(void **state)
{
	(void)state;
	/* Compared as addresses, not as text. */
	expect_one("duplicate_source.conf", 2,
		   "source_addresses: '2001:DB8:0::10' is listed twice");
}

static void test_too_many_sources(void **state)
{
	(void)state;
	expect_one("too_many_sources.conf", 6,
		   "source_addresses: more than 16 entries");
}

static void test_retransmit_above_timeout(void **state)
{
	(void)state;
	expect_one("retransmit_timeout.conf", 3,
		   "probe.retransmit (5s) must not exceed probe.timeout (2s)");
}

static void test_lease_time_not_above_timeout(void **state)
{
	(void)state;
	expect_one("lease_time.conf", 5,
		   "queue.lease_time (20s) must be longer than probe.timeout "
		   "(30s)");
}

static void test_empty_schedule(void **state)
{
	(void)state;
	/* The empty list sets no line of its own: its text's line. */
	expect_one("empty_schedule.conf", 2,
		   "retry.schedule: needs at least one entry (e.g. schedule "
		   "= { 1m, 5m, 30m })");
}

static void test_long_socket_path(void **state)
{
	(void)state;
	expect_one("long_socket.conf", 1,
		   "status_socket: path is 122 bytes long; a unix socket path "
		   "holds at most 107");
}

static void test_unclosed_comment(void **state)
{
	(void)state;
	expect_one("unclosed_comment.conf", 2, "comment is not closed (no */)");
}

static void test_missing_file(void **state)
{
	(void)state;
	expect_one("no-such-file.conf", 0,
		   "cannot open: No such file or directory");
}

/* Every mistake in one pass, each on its own line, in file order. */
static void test_several_errors(void **state)
{
	static const struct {
		int line;         /* where the mistake is */
		const char *text; /* what the admin reads */
	} want[] = {
		{ 2, "variable: 'ntp pool' must be 1 to 64 characters from "
		     "A-Z a-z 0-9 _ . -" },
		{ 3, "ntp_port: '0' is out of range (1..65535)" },
		{ 4, "source_addresses: 'bogus' is not an IPv4 or IPv6 "
		     "address" },
		{ 7, "probe.timeout: '5x' is not a duration (a whole number "
		     "with unit ms, s, m, h or d, e.g. 3s)" },
		{ 8, "probe.max_in_flight: '100000' is out of range "
		     "(1..65536)" },
		{ 11, "rate_limit.global_pps: '0' is out of range (above 0, "
		      "at most 100000)" },
		{ 12, "rate_limit.per_destination_interval: '500ms' is out of "
		      "range (1s..1d)" },
		{ 15, "retry.schedule: '8d' is out of range (1s..7d)" },
		{ 18, "queue.lease_batch: 'ten' is not a whole number" },
	};
	struct nv_config cfg;
	struct errors e;

	(void)state;
	assert_int_equal(load("several.conf", &cfg, &e), -1);
	assert_int_equal(e.n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		expect(&e, i, "several.conf", want[i].line, want[i].text);
	errors_free(&e);
}

static void test_misc_errors(void **state)
{
	struct nv_config cfg;
	struct errors e;

	(void)state;
	assert_int_equal(load("misc_errors.conf", &cfg, &e), -1);
	assert_int_equal(e.n, 7);
	expect(&e, 0, "misc_errors.conf", 1,
	       "prober_name: 'prober fra1' must be 1 to 64 characters from "
	       "A-Z a-z 0-9 _ . -");
	expect(&e, 1, "misc_errors.conf", 2,
	       "status_socket: 'run/ntpverify/status.sock' is not an absolute "
	       "path");
	expect(&e, 2, "misc_errors.conf", 3,
	       "status_listen: '2001:db8::1:8080' is not ADDRESS:PORT or "
	       "[IPV6-ADDRESS]:PORT");
	expect(&e, 3, "misc_errors.conf", 4,
	       "allow_private_targets: 'maybe' is not true or false");
	expect(&e, 4, "misc_errors.conf", 6,
	       "rate_limit.global_pps: '-5' is not a number (e.g. 50 or 0.5)");
	/* Hex is not silently accepted. */
	expect(&e, 5, "misc_errors.conf", 7,
	       "rate_limit.global_burst: '0x10' is not a whole number");
	/* A second assignment would silently undo the first. */
	expect(&e, 6, "misc_errors.conf", 13,
	       "probe.timeout: set again (first set on line 10)");
	errors_free(&e);
}

/* libconfuse accepts a section left open at the end of the file. */
static void test_unclosed_section(void **state)
{
	struct nv_config cfg;
	struct errors e;

	(void)state;
	assert_int_equal(load("syntax_error.conf", &cfg, &e), -1);
	assert_int_equal(e.n, 2);
	expect(&e, 0, "syntax_error.conf", 2, "'{' is not closed (no '}')");
	expect(&e, 1, "syntax_error.conf", 1,
	       "ntp_port: '0' is out of range (1..65535)");
	errors_free(&e);
}

/* Load and free repeatedly, good and bad files: ASan's leak check runs at
 * exit and would name anything left behind by config.c or libconfuse. */
static void test_no_leaks(void **state)
{
	static const char *const files[] = {
		"full.conf", "several.conf", "unknown_key.conf",
		"syntax_error.conf", "misc_errors.conf", "ipv6.conf",
	};

	(void)state;
	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
			struct nv_config cfg;
			struct errors e;

			if (load(files[i], &cfg, &e) == 0)
				config_free(&cfg);
			errors_free(&e);
		}
	}
}

/*
 * Found by fuzz_config: a key, value or token holding a newline must not
 * split its error over several lines (nor reach the terminal raw).
 */
static void test_one_line_errors(void **state)
{
	static const char *const files[] = {
		"fuzz_newline_in_token.conf",
		"fuzz_newline_in_key.conf",
		"fuzz_newline_in_value.conf",
	};
	(void)state;
	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		struct nv_config cfg;
		struct errors e;
		assert_int_equal(load(files[f], &cfg, &e), -1);
		assert_true(e.n >= 1);
		for (size_t i = 0; i < e.n && i < MAX_ERRORS; i++) {
			for (const char *c = e.msg[i]; *c; c++)
				if ((unsigned char)*c < 0x20)
					fail_msg("%s: control character in '%s'",
						 files[f], e.msg[i]);
			assert_non_null(strstr(e.msg[i], "\\x0a"));
		}
		errors_free(&e);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_empty_file_is_defaults),
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_dist_example),
		cmocka_unit_test(test_ipv6_ok),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_bad_address),
		cmocka_unit_test(test_not_unicast),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_rate_limit_ranges),
		cmocka_unit_test(test_bad_duration),
		cmocka_unit_test(test_bad_unit),
		cmocka_unit_test(test_duplicate_source),
		cmocka_unit_test(test_too_many_sources),
		cmocka_unit_test(test_retransmit_above_timeout),
		cmocka_unit_test(test_lease_time_not_above_timeout),
		cmocka_unit_test(test_empty_schedule),
		cmocka_unit_test(test_long_socket_path),
		cmocka_unit_test(test_unclosed_comment),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_several_errors),
		cmocka_unit_test(test_misc_errors),
		cmocka_unit_test(test_unclosed_section),
		cmocka_unit_test(test_no_leaks),
		cmocka_unit_test(test_one_line_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
