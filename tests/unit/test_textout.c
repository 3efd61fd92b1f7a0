/*
 * The text writers every JSON line and address goes through
 * (core/textout.c, probe_addr_str in engine/probe.c): what comes out must
 * be what printf and inet_ntop would have written, and hostile bytes must
 * never break the JSON.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/textout.h"
#include "engine/probe.h"

/* Everything written to a FILE, as one string the caller frees. */
struct capture {
	FILE *f;     /* the stream under test */
	char *text;  /* its contents after capture_end() */
	size_t len;  /* their length */
};

static void capture_begin(struct capture *c)
{
	c->text = NULL;
	c->len = 0;
	c->f = open_memstream(&c->text, &c->len);
	assert_non_null(c->f);
}

static const char *capture_end(struct capture *c)
{
	assert_int_equal(fclose(c->f), 0);
	return c->text;
}

static void test_json_escapes(void **state)
{
	static const char in[] = "a\"b\\c\nd\re\tf\x01g\x7fh\xffi";
	struct capture c;

	(void)state;
	capture_begin(&c);
	json_put_string(c.f, in, sizeof(in) - 1);
	json_put_cstr(c.f, NULL);
	json_put_cstr(c.f, "");
	assert_string_equal(capture_end(&c),
			    "\"a\\\"b\\\\c\\nd\\re\\tf\\u0001g\\u007fh\\u00ffi\""
			    "null\"\"");
	free(c.text);
}

/* A value far larger than any buffer: written whole, escapes intact. */
static void test_json_long_value(void **state)
{
	enum { N = 5000 };
	char *in = malloc(N);
	struct capture c;

	(void)state;
	assert_non_null(in);
	for (size_t i = 0; i < N; i++)
		in[i] = i % 7 == 0 ? '"' : (char)('a' + i % 26);
	capture_begin(&c);
	json_put_string(c.f, in, N);
	const char *out = capture_end(&c);
	size_t quotes = N / 7 + 1; /* i = 0, 7, ..., 4998 */
	assert_int_equal(c.len, N + quotes + 2);
	assert_int_equal(out[0], '"');
	assert_int_equal(out[c.len - 1], '"');
	assert_memory_equal(out + 1, "\\\"bcdefg\\\"", 10);
	free(c.text);
	free(in);
}

static void test_textbuf_numbers(void **state)
{
	/* Halfway points (exact in binary or not), and every range. */
	static const double rtt[] = { 0.0, 0.0004, 0.0005, 0.0006, 0.0045,
				      0.0055, 0.0625, 0.123456, 1.9995,
				      9.9999, 12.3456, 999.9994, 1234567.891,
				      4503599627370.4995, 1e14 + 0.1234,
				      5e-324, 1e16, -2.5 };
	static const unsigned long long uints[] = { 0, 7, 10, 4294967295u,
						    18446744073709551615u };
	char mem[64], want[64];
	struct capture c;
	struct textbuf b;

	(void)state;
	for (size_t i = 0; i < sizeof(rtt) / sizeof(rtt[0]); i++) {
		capture_begin(&c);
		textbuf_init(&b, mem, sizeof(mem), c.f);
		textbuf_fixed3(&b, rtt[i]);
		textbuf_flush(&b);
		snprintf(want, sizeof(want), "%.3f", rtt[i]);
		assert_string_equal(capture_end(&c), want);
		free(c.text);
	}
	/* An RTT is n ns / 1e6: every n ending in 500 is a halfway point. */
	for (uint64_t ns = 0; ns < 3000000; ns += 250) {
		double v = (double)ns / 1e6;
		char got[64];
		capture_begin(&c);
		textbuf_init(&b, mem, sizeof(mem), c.f);
		textbuf_fixed3(&b, v);
		textbuf_flush(&b);
		snprintf(want, sizeof(want), "%.3f", v);
		snprintf(got, sizeof(got), "%s", capture_end(&c));
		free(c.text);
		if (strcmp(got, want) != 0)
			fail_msg("%.9f: %s, printf %s", v, got, want);
	}
	for (size_t i = 0; i < sizeof(uints) / sizeof(uints[0]); i++) {
		capture_begin(&c);
		textbuf_init(&b, mem, sizeof(mem), c.f);
		textbuf_uint(&b, uints[i]);
		textbuf_flush(&b);
		snprintf(want, sizeof(want), "%llu", uints[i]);
		assert_string_equal(capture_end(&c), want);
		free(c.text);
	}
}

/* A buffer of 8 octets still writes every piece, in order. */
static void test_textbuf_small_buffer(void **state)
{
	char mem[8];
	struct capture c;
	struct textbuf b;

	(void)state;
	capture_begin(&c);
	textbuf_init(&b, mem, sizeof(mem), c.f);
	textbuf_lit(&b, "{\"k\":");
	textbuf_json_cstr(&b, "a long value \x02 with an escape");
	textbuf_lit(&b, ",\"n\":");
	textbuf_uint(&b, 1234567890);
	textbuf_lit(&b, "}");
	textbuf_flush(&b);
	assert_string_equal(capture_end(&c),
			    "{\"k\":\"a long value \\u0002 with an escape\","
			    "\"n\":1234567890}");
	free(c.text);
}

static void test_str_copy(void **state)
{
	char b[6];

	(void)state;
	assert_int_equal(str_copy(b, sizeof(b), "abc"), 3);
	assert_string_equal(b, "abc");
	assert_int_equal(str_copy(b, sizeof(b), "abcdefgh"), 8);
	assert_string_equal(b, "abcde");
	assert_int_equal(str_copy(b, 1, "xyz"), 3);
	assert_string_equal(b, "");
	memcpy(b, "qqqqq", 6);
	assert_int_equal(str_copy(b, 0, "xyz"), 3);
	assert_string_equal(b, "qqqqq");
}

static void check_addr(int family, const char *text)
{
	struct sockaddr_storage ss;
	char out[INET6_ADDRSTRLEN];

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)family;
	void *a = family == AF_INET ?
		(void *)&((struct sockaddr_in *)&ss)->sin_addr :
		(void *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
	assert_int_equal(inet_pton(family, text, a), 1);
	assert_string_equal(probe_addr_str((struct sockaddr *)&ss, out,
					   sizeof(out)), text);
}

static void test_addr_str(void **state)
{
	struct sockaddr_in sin;
	char small[8];

	(void)state;
	check_addr(AF_INET, "0.0.0.0");
	check_addr(AF_INET, "255.255.255.255");
	check_addr(AF_INET, "10.0.100.9");
	check_addr(AF_INET, "127.10.39.16");
	check_addr(AF_INET, "192.0.2.199");
	check_addr(AF_INET6, "2001:db8::1");
	check_addr(AF_INET6, "::ffff:192.0.2.1");
	/* Too small a buffer: never overrun, never a cut address. */
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, "192.0.2.199", &sin.sin_addr), 1);
	assert_string_equal(probe_addr_str((struct sockaddr *)&sin, small,
					   sizeof(small)), "?");
	sin.sin_family = AF_UNIX;
	assert_string_equal(probe_addr_str((struct sockaddr *)&sin, small,
					   sizeof(small)), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_escapes),
		cmocka_unit_test(test_json_long_value),
		cmocka_unit_test(test_textbuf_numbers),
		cmocka_unit_test(test_textbuf_small_buffer),
		cmocka_unit_test(test_str_copy),
		cmocka_unit_test(test_addr_str),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
