/*
 * test_config_input.c - what the configuration is read from: the value
 * parsers an admin's text goes through (durations, addresses, listen
 * addresses), and which files config_load() agrees to read at all. A
 * FIFO, device or directory must be refused at once: waiting on a FIFO
 * used to hang `ntpverify check-config` for good.
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
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "config/config_file.h"

#define CONFIG_DIR NV_TEST_DATA "/config/"

/* The one message a refused file gets, and how many there were. */
struct last_error {
	char msg[1024]; /* the last message */
	unsigned n;     /* messages reported */
};

static void keep_last(void *arg, const char *message)
{
	struct last_error *e = arg;

	snprintf(e->msg, sizeof(e->msg), "%s", message);
	e->n++;
}

/* config_load(path) must fail at once with "path: not a regular file". */
static void expect_not_regular(const char *path)
{
	struct nv_config cfg;
	struct last_error e = { .n = 0 };
	char want[1024];

	/* Today's reader waited for a writer: fail (SIGALRM) rather than hang. */
	alarm(10);
	assert_int_equal(config_load(&cfg, path, keep_last, &e), -1);
	alarm(0);
	snprintf(want, sizeof(want), "%s: not a regular file", path);
	assert_int_equal(e.n, 1);
	assert_string_equal(e.msg, want);
	/* Numbers at their defaults, nothing to free (config.h). */
	assert_int_equal(cfg.rate_limit.global_burst, 10);
	assert_null(cfg.prober_name);
}

static void test_not_regular_files(void **state)
{
	char dir[] = "/tmp/ntpverify-config-XXXXXX";
	char fifo[64], lnk[64];
	struct nv_config cfg;
	struct last_error e = { .n = 0 };

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/fifo.conf", dir);
	snprintf(lnk, sizeof(lnk), "%s/link.conf", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);

	expect_not_regular(fifo);
	expect_not_regular(dir);
	expect_not_regular("/dev/null");

	/* A symbolic link to a regular file is read as that file. */
	assert_int_equal(symlink(CONFIG_DIR "full.conf", lnk), 0);
	assert_int_equal(config_load(&cfg, lnk, keep_last, &e), 0);
	assert_int_equal(e.n, 0);
	assert_string_equal(cfg.prober_name, "prober-fra1");
	config_free(&cfg);

	assert_int_equal(unlink(lnk), 0);
	assert_int_equal(unlink(fifo), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* The size limit is checked before reading, not after. */
static void test_too_large(void **state)
{
	char path[] = "/tmp/ntpverify-config-XXXXXX";
	struct nv_config cfg;
	struct last_error e = { .n = 0 };
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 2 * 1024 * 1024), 0);
	close(fd);
	assert_int_equal(config_load(&cfg, path, keep_last, &e), -1);
	assert_int_equal(e.n, 1);
	assert_non_null(strstr(e.msg, ": larger than 1048576 bytes"));
	assert_int_equal(unlink(path), 0);
}

static void test_durations(void **state)
{
	static const struct {
		const char *text; /* as an admin writes it */
		int rc;           /* expected result */
		uint64_t ms;      /* expected value when rc is 0 */
	} cases[] = {
		{ "500ms", 0, 500 },
		{ "2s", 0, 2000 },
		{ "5m", 0, 300000 },
		{ "72h", 0, 259200000 },
		{ "1d", 0, 86400000 },
		{ "10", 0, 10000 },        /* bare number: seconds */
		{ "0", 0, 0 },             /* syntax ok; ranges decide */
		{ "18446744073709551615ms", 0, UINT64_MAX },
		{ "18446744073709551616ms", -1, 0 }, /* overflow in digits */
		{ "18446744073709552s", -1, 0 },     /* overflow in unit */
		{ "213503982335d", -1, 0 },
		{ "", -1, 0 },
		{ "5x", -1, 0 },
		{ "-1s", -1, 0 },
		{ " 5s", -1, 0 },
		{ "5s ", -1, 0 },
		{ "5 s", -1, 0 },
		{ "1.5s", -1, 0 },
		{ "5S", -1, 0 },
		{ "s", -1, 0 },
		{ "1h30m", -1, 0 },
		{ "+5s", -1, 0 },
	};

	(void)state;
	assert_int_equal(config_parse_duration(NULL, &(uint64_t){ 0 }), -1);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t ms = 12345;
		int rc = config_parse_duration(cases[i].text, &ms);

		if (rc != cases[i].rc)
			fail_msg("config_parse_duration(\"%s\") = %d, want %d",
				 cases[i].text, rc, cases[i].rc);
		if (rc == 0 && ms != cases[i].ms)
			fail_msg("config_parse_duration(\"%s\") gave %llu ms",
				 cases[i].text, (unsigned long long)ms);
	}
}

static void test_format_duration(void **state)
{
	static const struct {
		uint64_t ms;      /* value */
		const char *text; /* largest exact unit */
	} cases[] = {
		{ 0, "0ms" }, { 100, "100ms" }, { 1500, "1500ms" },
		{ 2000, "2s" }, { 90000, "90s" }, { 60000, "1m" },
		{ 7200000, "2h" }, { 86400000, "1d" }, { 90000000, "25h" },
	};
	char buf[32];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		config_format_duration(cases[i].ms, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].text);
	}
}

static void test_addresses(void **state)
{
	static const struct {
		const char *text; /* literal */
		int family;       /* AF_INET, AF_INET6, or 0 for rejected */
	} cases[] = {
		{ "192.0.2.10", AF_INET },
		{ "2001:db8::10", AF_INET6 },
		{ "::1", AF_INET6 },
		{ "::ffff:192.0.2.1", AF_INET6 },
		{ "192.0.2.300", 0 },
		{ "192.0.2", 0 },
		{ "010.0.0.1", 0 },  /* no octal guessing */
		{ "[2001:db8::10]", 0 },
		{ "fe80::1%eth0", 0 },
		{ "192.0.2.10:123", 0 },
		{ " 192.0.2.10", 0 },
		{ "example.org", 0 },
		{ "", 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage ss;
		socklen_t len = 0;
		int rc = config_parse_address(cases[i].text, &ss, &len);

		if (cases[i].family == 0) {
			if (rc != -1)
				fail_msg("accepted \"%s\"", cases[i].text);
			continue;
		}
		if (rc != 0)
			fail_msg("rejected \"%s\"", cases[i].text);
		assert_int_equal(ss.ss_family, cases[i].family);
		assert_int_equal(len, cases[i].family == AF_INET ?
				 sizeof(struct sockaddr_in) :
				 sizeof(struct sockaddr_in6));
	}
}

static void test_listen(void **state)
{
	static const struct {
		const char *text; /* status_listen value */
		int family;       /* 0 = rejected */
		uint16_t port;    /* expected port */
	} cases[] = {
		{ "127.0.0.1:8123", AF_INET, 8123 },
		{ "[::1]:8123", AF_INET6, 8123 },
		{ "[2001:db8::1]:65535", AF_INET6, 65535 },
		{ "127.0.0.1:0", 0, 0 },
		{ "127.0.0.1:65536", 0, 0 },
		{ "127.0.0.1:", 0, 0 },
		{ "127.0.0.1", 0, 0 },
		{ "::1:8123", 0, 0 },
		{ "[127.0.0.1]:80", 0, 0 },
		{ "[::1]8123", 0, 0 },
		{ "localhost:8123", 0, 0 },
		{ "127.0.0.1:80x", 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage ss;
		socklen_t len = 0;
		int rc = config_parse_listen(cases[i].text, &ss, &len);

		if (cases[i].family == 0) {
			if (rc != -1)
				fail_msg("accepted \"%s\"", cases[i].text);
			continue;
		}
		if (rc != 0)
			fail_msg("rejected \"%s\"", cases[i].text);
		assert_int_equal(ss.ss_family, cases[i].family);
		if (ss.ss_family == AF_INET)
			assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port),
					 cases[i].port);
		else
			assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port),
					 cases[i].port);
	}
}

/* The fix offered for an unquoted value, and the line of a key's text. */
static void test_quote_hint(void **state)
{
	static const char text[] = "prober_name = \"p\"\n"
				   "  database = host=/tmp dbname=x # c\n"
				   "variable = \"v=1\"\n"
				   "retry {\n  schedule = {}\n}\n";
	char hint[128];

	(void)state;
	config_quote_hint(text, 2, hint, sizeof(hint));
	assert_string_equal(hint, " (quote the value: database = "
				  "\"host=/tmp dbname=x\")");
	config_quote_hint(text, 3, hint, sizeof(hint));
	assert_string_equal(hint, "");
	config_quote_hint(text, 5, hint, sizeof(hint));
	assert_string_equal(hint, "");
	config_quote_hint(text, 99, hint, sizeof(hint));
	assert_string_equal(hint, "");
	assert_int_equal(config_key_line(text, "schedule"), 5);
	assert_int_equal(config_key_line(text, "database"), 2);
	assert_int_equal(config_key_line(text, "sched"), 0);
}

/* Load text as a configuration file; returns config_load()'s result. */
static int load_text(const char *text, struct nv_config *cfg,
		     struct last_error *e)
{
	char path[] = "/tmp/ntpverify-config-XXXXXX";
	int fd = mkstemp(path);
	int rc;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	rc = config_load(cfg, path, keep_last, e);
	unlink(path);
	return rc;
}

static void test_status_keys(void **state)
{
	struct nv_config cfg;
	struct last_error e = { .n = 0 };
	static const unsigned char v6[16] = { 0x20, 0x01, 0x0d, 0xb8 };

	(void)state;
	/* Defaults: a cap well below any descriptor limit; loopback only. */
	config_defaults(&cfg);
	assert_int_equal(cfg.status_max_clients, 256);
	assert_int_equal(cfg.n_status_allow, 2);
	assert_string_equal(cfg.status_allow[0].text, "127.0.0.0/8");
	assert_int_equal(cfg.status_allow[0].family, AF_INET);
	assert_int_equal(cfg.status_allow[0].bits, 8);
	assert_int_equal(cfg.status_allow[0].addr[0], 127);
	assert_string_equal(cfg.status_allow[1].text, "::1");
	assert_int_equal(cfg.status_allow[1].family, AF_INET6);
	assert_int_equal(cfg.status_allow[1].bits, 128);
	config_free(&cfg);

	assert_int_equal(load_text("status_max_clients = 64\n"
				   "status_allow = { \"10.0.0.0/8\", "
				   "192.0.2.7, \"2001:db8::/32\", "
				   "\"0.0.0.0/0\" }\n",
				   &cfg, &e), 0);
	assert_int_equal(e.n, 0);
	assert_int_equal(cfg.status_max_clients, 64);
	assert_int_equal(cfg.n_status_allow, 4);
	assert_int_equal(cfg.status_allow[0].bits, 8);
	assert_int_equal(cfg.status_allow[1].bits, 32);
	assert_int_equal(cfg.status_allow[1].addr[3], 7);
	assert_int_equal(cfg.status_allow[2].family, AF_INET6);
	assert_int_equal(cfg.status_allow[2].bits, 32);
	assert_memory_equal(cfg.status_allow[2].addr, v6, 16);
	assert_int_equal(cfg.status_allow[3].bits, 0);
	config_free(&cfg);

	/* An empty list: no TCP client at all. */
	assert_int_equal(load_text("status_allow = {}\n", &cfg, &e), 0);
	assert_int_equal(cfg.n_status_allow, 0);
	config_free(&cfg);
}

static void test_status_key_errors(void **state)
{
	static const struct {
		const char *text; /* the file */
		const char *msg;  /* the end of the one error */
	} cases[] = {
		{ "status_allow = { \"10.1.2.3/8\" }",
		  "status_allow: '10.1.2.3/8' has bits set past the prefix "
		  "length" },
		{ "status_allow = { \"10.0.0.0/33\" }",
		  "status_allow: '10.0.0.0/33': the prefix length must be 0..32" },
		{ "status_allow = { \"::/129\" }",
		  "status_allow: '::/129': the prefix length must be 0..128" },
		{ "status_allow = { localhost }",
		  "status_allow: 'localhost' is not an address or "
		  "ADDRESS/LENGTH" },
		{ "status_allow = { \"10.0.0.0/\" }",
		  "status_allow: '10.0.0.0/' is not an address or "
		  "ADDRESS/LENGTH" },
		{ "status_max_clients = 7",
		  "status_max_clients: '7' is out of range (8..65536)" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nv_config cfg;
		struct last_error e = { .n = 0 };
		const char *colon;

		assert_int_equal(load_text(cases[i].text, &cfg, &e), -1);
		assert_int_equal(e.n, 1);
		/* "path:1: message" */
		colon = strstr(e.msg, ":1: ");
		assert_non_null(colon);
		assert_string_equal(colon + 4, cases[i].msg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_not_regular_files),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_format_duration),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_listen),
		cmocka_unit_test(test_quote_hint),
		cmocka_unit_test(test_status_keys),
		cmocka_unit_test(test_status_key_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
