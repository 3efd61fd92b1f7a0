/* The status document reader: what `ntpverify status` makes of JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/status_json.h"

/* Parse a C string; the result of status_json_parse(). */
static int parse(const char *text, struct status_json_doc *doc)
{
	return status_json_parse(text, strlen(text), doc);
}

/* Parsing text must fail and leave the document empty. */
static void assert_rejected(const char *text, size_t len)
{
	struct status_json_doc doc;

	if (status_json_parse(text, len, &doc) == 0)
		fail_msg("accepted: '%.*s'", (int)(len > 80 ? 80 : len), text);
	assert_int_equal(doc.n, 0);
	assert_null(doc.v);
}

/* `n` copies of open, then inner, then `n` copies of close. */
static char *nested(size_t n, const char *open, const char *inner,
		    const char *close)
{
	size_t lo = strlen(open), li = strlen(inner), lc = strlen(close);
	char *s = malloc(n * (lo + lc) + li + 1), *p = s;

	assert_non_null(s);
	for (size_t i = 0; i < n; i++, p += lo)
		memcpy(p, open, lo);
	memcpy(p, inner, li);
	p += li;
	for (size_t i = 0; i < n; i++, p += lc)
		memcpy(p, close, lc);
	*p = '\0';
	return s;
}

static const char status_doc[] =
	"{\"version\":\"1.0\",\"prober\":\"p1\",\"uptime_s\":93784,"
	"\"sources\":[\"192.0.2.1\",\"2001:db8::1\"],"
	"\"database\":{\"connected\":true,\"pending_seen\":null,"
	"\"results_waiting\":0,\"last_lease_at\":\"2026-12-01T12:00:00Z\"},"
	"\"counters\":{\"attempts\":{\"verified\":3,\"timeout\":0}},"
	"\"recent\":[{\"at\":\"t\",\"id\":7,\"detail\":\"\"}],"
	"\"rtt\":-1.5e-3}";

static void test_valid_document(void **state)
{
	struct status_json_doc doc;

	(void)state;
	assert_int_equal(parse(status_doc, &doc), 0);
	assert_string_equal(status_json_get(&doc, "version"), "1.0");
	assert_string_equal(status_json_get(&doc, "uptime_s"), "93784");
	assert_string_equal(status_json_get(&doc, "sources.0"), "192.0.2.1");
	assert_string_equal(status_json_get(&doc, "sources.1"), "2001:db8::1");
	assert_null(status_json_get(&doc, "sources.2"));
	assert_string_equal(status_json_get(&doc, "database.connected"), "true");
	assert_string_equal(status_json_get(&doc, "database.pending_seen"),
			    "null");
	assert_string_equal(status_json_get(&doc, "counters.attempts.verified"),
			    "3");
	assert_string_equal(status_json_get(&doc, "recent.0.id"), "7");
	assert_string_equal(status_json_get(&doc, "recent.0.detail"), "");
	assert_string_equal(status_json_get(&doc, "rtt"), "-1.5e-3");
	assert_null(status_json_get(&doc, "database"));
	/* Document order, and strings told from literals. */
	assert_string_equal(doc.v[0].path, "version");
	assert_true(doc.v[0].string);
	assert_string_equal(doc.v[2].path, "uptime_s");
	assert_false(doc.v[2].string);
	assert_int_equal(doc.n, 15);
	status_json_free(&doc);
	assert_int_equal(doc.n, 0);
	status_json_free(&doc); /* twice is fine */
}

static void test_shapes(void **state)
{
	struct status_json_doc doc;

	(void)state;
	assert_int_equal(parse(" {} ", &doc), 0);
	assert_int_equal(doc.n, 0);
	status_json_free(&doc);
	assert_int_equal(parse("[[],{},[[]]]", &doc), 0);
	assert_int_equal(doc.n, 0);
	status_json_free(&doc);
	/* A scalar at the top has the empty path. */
	assert_int_equal(parse("\t\r\n42\n", &doc), 0);
	assert_int_equal(doc.n, 1);
	assert_string_equal(status_json_get(&doc, ""), "42");
	status_json_free(&doc);
	/* Arrays in arrays, objects in arrays. */
	assert_int_equal(parse("[[1,2],[{\"a\":[false]}]]", &doc), 0);
	assert_string_equal(status_json_get(&doc, "0.1"), "2");
	assert_string_equal(status_json_get(&doc, "1.0.a.0"), "false");
	status_json_free(&doc);
	/* A repeated key: the first one wins. */
	assert_int_equal(parse("{\"a\":1,\"a\":2}", &doc), 0);
	assert_int_equal(doc.n, 2);
	assert_string_equal(status_json_get(&doc, "a"), "1");
	status_json_free(&doc);
	/* Only len octets are read: what follows does not matter. */
	assert_int_equal(status_json_parse("[1]garbage", 3, &doc), 0);
	assert_string_equal(status_json_get(&doc, "0"), "1");
	status_json_free(&doc);
}

static void test_escapes(void **state)
{
	struct status_json_doc doc;
	const char *v;

	(void)state;
	assert_int_equal(parse("[\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"]", &doc), 0);
	assert_string_equal(status_json_get(&doc, "0"), "a\"b\\c/d\b\f\n\r\t");
	status_json_free(&doc);
	/* \u00XX is one octet, whatever it is; above 0xff becomes '?'. */
	assert_int_equal(parse("[\"\\u0041\\u00e9\\u00FF\\u001b\\u1234\"]",
			       &doc), 0);
	v = status_json_get(&doc, "0");
	assert_string_equal(v, "A\xe9\xff\x1b?");
	status_json_free(&doc);
	/* \u0000 ends the C string early, and nothing worse. */
	assert_int_equal(parse("{\"k\":\"ab\\u0000cd\"}", &doc), 0);
	assert_string_equal(status_json_get(&doc, "k"), "ab");
	status_json_free(&doc);
	/* Escapes in keys. */
	assert_int_equal(parse("{\"\\u0061b\":1}", &doc), 0);
	assert_string_equal(status_json_get(&doc, "ab"), "1");
	status_json_free(&doc);
	/* A long string grows its buffer. */
	{
		char *big = malloc(5000 + 5);

		assert_non_null(big);
		memcpy(big, "[\"", 2);
		memset(big + 2, 'x', 5000);
		memcpy(big + 5002, "\"]", 3);
		assert_int_equal(parse(big, &doc), 0);
		assert_int_equal(strlen(status_json_get(&doc, "0")), 5000);
		status_json_free(&doc);
		free(big);
	}
}

static void test_malformed(void **state)
{
	static const char *const bad[] = {
		"", " ", "{", "}", "[", "]", "[1,]", "[,1]", "{\"a\"}",
		"{\"a\":}", "{\"a\" 1}", "{a:1}", "{\"a\":1,}", "[1 2]",
		"[1][2]", "\"abc", "\"a\\\"", "\"\\x\"", "\"\\u12\"",
		"\"\\u12g4\"", "\"\\", "\"tab\there\"", "\"nl\nhere\"",
		"tru", "nul", "falsey", "True", "-", "+1", "01", "1.", ".5",
		"1e", "1e+", "--1", "0x10", "[1{]", "[truefalse]", "{\"a\":1]",
		"[1}", "nan", "'a'",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_rejected(bad[i], strlen(bad[i]));
	/* A NUL inside the text is not whitespace. */
	assert_rejected("[1\0]", 4);
	assert_rejected("{\"a\":1}\0", 8);
}

static void test_truncated(void **state)
{
	size_t len = strlen(status_doc);

	(void)state;
	/* Every proper prefix of an object is incomplete. */
	for (size_t n = 0; n < len; n++)
		assert_rejected(status_doc, n);
}

static void test_depth(void **state)
{
	struct status_json_doc doc;
	char *s;

	(void)state;
	/* STATUS_JSON_MAX_DEPTH containers, one in another, are fine... */
	s = nested(STATUS_JSON_MAX_DEPTH, "[", "1", "]");
	assert_int_equal(parse(s, &doc), 0);
	assert_int_equal(doc.n, 1);
	status_json_free(&doc);
	free(s);
	s = nested(STATUS_JSON_MAX_DEPTH, "{\"a\":", "\"x\"", "}");
	assert_int_equal(parse(s, &doc), 0);
	status_json_free(&doc);
	free(s);
	/* ...one more is not, nor is hostile nesting without an end. */
	s = nested(STATUS_JSON_MAX_DEPTH + 1, "[", "", "]");
	assert_rejected(s, strlen(s));
	free(s);
	s = nested(200000, "[", "", "");
	assert_rejected(s, strlen(s));
	free(s);
	s = nested(200000, "{\"a\":", "1", "}");
	assert_rejected(s, strlen(s));
	free(s);
}

static void test_paths(void **state)
{
	struct status_json_doc doc;
	char key[101], json[700];

	(void)state;
	/* A key longer than STATUS_JSON_KEY_MAX is cut in the path. */
	memset(key, 'k', 100);
	key[100] = '\0';
	snprintf(json, sizeof(json), "{\"%s\":1}", key);
	assert_int_equal(parse(json, &doc), 0);
	assert_int_equal(strlen(doc.v[0].path), STATUS_JSON_KEY_MAX);
	status_json_free(&doc);
	/* A path longer than STATUS_JSON_PATH_MAX fails the document. */
	key[60] = '\0';
	snprintf(json, sizeof(json), "{\"%s\":{\"%s\":{\"%s\":1}}}", key, key,
		 key);
	assert_rejected(json, strlen(json));
	snprintf(json, sizeof(json), "{\"%s\":{\"%s\":1}}", key, key);
	assert_int_equal(parse(json, &doc), 0);
	assert_int_equal(strlen(doc.v[0].path), 121);
	status_json_free(&doc);
}

/* "[0,0,...]" with n elements. */
static char *array_of(size_t n)
{
	char *s = malloc(2 * n + 2);

	assert_non_null(s);
	s[0] = '[';
	for (size_t i = 0; i < n; i++) {
		s[1 + 2 * i] = '0';
		s[2 + 2 * i] = i + 1 < n ? ',' : ']';
	}
	s[2 * n + 1] = '\0';
	return s;
}

static void test_limits(void **state)
{
	struct status_json_doc doc;
	size_t big = STATUS_JSON_MAX_LEN + 1;
	char *s;

	(void)state;
	s = array_of(STATUS_JSON_MAX_VALUES);
	assert_int_equal(parse(s, &doc), 0);
	assert_int_equal(doc.n, STATUS_JSON_MAX_VALUES);
	assert_string_equal(status_json_get(&doc, "65535"), "0");
	status_json_free(&doc);
	free(s);
	s = array_of(STATUS_JSON_MAX_VALUES + 1);
	assert_rejected(s, strlen(s));
	free(s);
	/* Over STATUS_JSON_MAX_LEN octets, even of a valid document. */
	s = malloc(big);
	assert_non_null(s);
	memset(s, ' ', big);
	s[big - 1] = '1';
	assert_rejected(s, big);
	assert_int_equal(status_json_parse(s + 1, big - 1, &doc), 0);
	status_json_free(&doc);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_document),
		cmocka_unit_test(test_shapes),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
