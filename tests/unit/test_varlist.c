/*
 * test_varlist.c - the READVAR variable list: what ntpd sends, the ntpq
 * rules for reading it, and the ways a token could be matched wrongly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hexfile.h"
#include "ntpwire/m6.h"
#include "ntpwire/varlist.h"

#define NAME "ntppool_verify"

/* Length-counted literal: embedded NULs are part of the data. */
#define LIT(s) (s), (sizeof(s) - 1)

static void assert_text(const char *p, size_t n, const char *want)
{
	if (n != strlen(want) || memcmp(p, want, n) != 0)
		fail_msg("got \"%.*s\", want \"%s\"", (int)n, p, want);
}

static enum varlist_find_status find(const char *data, size_t len,
				     struct varlist_item *item)
{
	return varlist_find(data, len, NAME, item);
}

/* Found, with exactly this value. */
static void assert_found(const char *data, size_t len, const char *value,
			 bool quoted)
{
	struct varlist_item item;
	enum varlist_find_status st = find(data, len, &item);

	if (st != VARLIST_FOUND)
		fail_msg("\"%.*s\": status %d", (int)len, data, st);
	assert_text(item.name, item.name_len, NAME);
	assert_non_null(item.value);
	assert_text(item.value, item.value_len, value);
	assert_int_equal(item.quoted, quoted);
}

static void assert_status(const char *data, size_t len,
			  enum varlist_find_status want)
{
	struct varlist_item item;
	enum varlist_find_status st = find(data, len, &item);

	if (st != want)
		fail_msg("\"%.*s\": status %d, want %d", (int)len,
			 data != NULL ? data : "", st, want);
}

/* The exact data of the V1 capture, read from its hex file. */
static void test_capture_v1(void **state)
{
	uint8_t pkt[256];
	size_t len = 0;
	struct m6_expect e = { 2, 2, 1, 0 };
	struct m6_header h;
	const uint8_t *data;

	(void)state;
	assert_int_equal(hexfile_load("m6_v1_reply.hex", pkt, sizeof(pkt), &len),
			 0);
	assert_int_equal(m6_parse_reply(pkt, len, &e, &h, &data), M6_OK);
	assert_found((const char *)data, h.count, "tok-3f9a1c2b7d", false);
}

static void test_capture_two_names(void **state)
{
	static const char data[] = "ntppool_verify=tok-3f9a1c2b7d, plainvar=abc\r\n";
	struct varlist_iter it;
	struct varlist_item item;

	(void)state;
	varlist_iter_init(&it, LIT(data));
	assert_int_equal(varlist_next(&it, &item), VARLIST_ITEM);
	assert_text(item.name, item.name_len, NAME);
	assert_text(item.value, item.value_len, "tok-3f9a1c2b7d");
	assert_int_equal(varlist_next(&it, &item), VARLIST_ITEM);
	assert_text(item.name, item.name_len, "plainvar");
	assert_text(item.value, item.value_len, "abc");
	assert_false(item.quoted);
	assert_int_equal(varlist_next(&it, &item), VARLIST_END);
	assert_int_equal(varlist_next(&it, &item), VARLIST_END);

	assert_found(LIT(data), "tok-3f9a1c2b7d", false);
}

static void test_separators(void **state)
{
	(void)state;
	assert_found(LIT("a=1\r\nntppool_verify=T\r\nb=2\r\n"), "T", false);
	assert_found(LIT("a=1,ntppool_verify=T,b=2"), "T", false);
	assert_found(LIT("a=1, ntppool_verify=T, b=2"), "T", false);
	assert_found(LIT("a=1,\r\nntppool_verify=T"), "T", false);
	assert_found(LIT("a=1\nntppool_verify=T\n"), "T", false);
	assert_found(LIT("a=1\rntppool_verify=T\r"), "T", false);
	assert_found(LIT("\t a=1,\t ntppool_verify=T"), "T", false);
	/* Empty items between separators are skipped. */
	assert_found(LIT(",, ,\r\n\r\nntppool_verify=T,,\r\n\r\n"), "T", false);
}

static void test_blanks_trimmed(void **state)
{
	(void)state;
	assert_found(LIT("ntppool_verify = T \r\n"), "T", false);
	assert_found(LIT("ntppool_verify\t=\tT\t,x=1"), "T", false);
	assert_found(LIT("  ntppool_verify=T"), "T", false);
	/* Inner blanks of a bare value stay. */
	assert_found(LIT("ntppool_verify=two words , x=1"), "two words", false);
}

/* ntpd sends `spaced=two words, comma`: the comma ends the value. */
static void test_raw_value_with_comma(void **state)
{
	static const char data[] = "spaced=two words, comma\r\n";
	struct varlist_iter it;
	struct varlist_item item;

	(void)state;
	varlist_iter_init(&it, LIT(data));
	assert_int_equal(varlist_next(&it, &item), VARLIST_ITEM);
	assert_text(item.name, item.name_len, "spaced");
	assert_text(item.value, item.value_len, "two words");
	assert_int_equal(varlist_next(&it, &item), VARLIST_ITEM);
	assert_text(item.name, item.name_len, "comma");
	assert_null(item.value);
	assert_int_equal(varlist_next(&it, &item), VARLIST_END);
}

static void test_quoted_values(void **state)
{
	struct varlist_iter it;
	struct varlist_item item;
	static const char data[] = "eq=\"a=b,c\", " NAME "=\"T\"\r\n";

	(void)state;
	varlist_iter_init(&it, LIT(data));
	assert_int_equal(varlist_next(&it, &item), VARLIST_ITEM);
	assert_text(item.name, item.name_len, "eq");
	assert_text(item.value, item.value_len, "a=b,c");
	assert_true(item.quoted);
	assert_int_equal(varlist_next(&it, &item), VARLIST_ITEM);
	assert_text(item.value, item.value_len, "T");
	assert_int_equal(varlist_next(&it, &item), VARLIST_END);

	assert_found(LIT(data), "T", true);
	assert_found(LIT("ntppool_verify = \"T\"  \r\n"), "T", true);
	/* Inside quotes everything is kept, blanks included. */
	assert_found(LIT("ntppool_verify=\" T, =x \""), " T, =x ", true);
	assert_found(LIT("ntppool_verify=\"\""), "", true);
}

/* A bare value may hold '=' (appendix A: `eq=a=b,c`). */
static void test_bare_values(void **state)
{
	struct varlist_iter it;
	struct varlist_item item;

	(void)state;
	assert_found(LIT("ntppool_verify=a=b,c"), "a=b", false);
	assert_found(LIT("ntppool_verify=tok-3f9a1c2b7d"), "tok-3f9a1c2b7d",
		     false);
	assert_found(LIT("ntppool_verify=, x=1"), "", false);
	assert_found(LIT("ntppool_verify=x\"y"), "x\"y", false);

	varlist_iter_init(&it, LIT("flag, " NAME));
	assert_int_equal(varlist_next(&it, &item), VARLIST_ITEM);
	assert_text(item.name, item.name_len, "flag");
	assert_null(item.value);
	assert_int_equal(item.value_len, 0);
	assert_int_equal(varlist_next(&it, &item), VARLIST_ITEM);
	assert_null(item.value);
	/* A name without value is found, with no value to compare. */
	assert_int_equal(varlist_find(LIT("flag, " NAME), NAME, &item),
			 VARLIST_FOUND);
	assert_null(item.value);
}

/* The token inside another variable never counts. */
static void test_token_inside_other_value(void **state)
{
	(void)state;
	assert_status(LIT("other=ntppool_verify=TOK"), VARLIST_NOT_FOUND);
	assert_status(LIT("other=\"ntppool_verify=TOK\""), VARLIST_NOT_FOUND);
	assert_status(LIT("other=\"x, ntppool_verify=TOK\"\r\n"),
		      VARLIST_NOT_FOUND);
	assert_status(LIT("other=\"a\r\nntppool_verify=TOK\""),
		      VARLIST_NOT_FOUND);
	assert_status(LIT("other=x ntppool_verify=TOK"), VARLIST_NOT_FOUND);
	assert_found(LIT("other=\"ntppool_verify=BAD\", ntppool_verify=GOOD"),
		     "GOOD", false);
}

static void test_name_must_match_exactly(void **state)
{
	(void)state;
	assert_status(LIT("ntppool_verify_x=TOK"), VARLIST_NOT_FOUND);
	assert_status(LIT("xntppool_verify=TOK"), VARLIST_NOT_FOUND);
	assert_status(LIT("ntppool_verif=TOK"), VARLIST_NOT_FOUND);
	assert_status(LIT("NTPPOOL_VERIFY=TOK"), VARLIST_NOT_FOUND);
	assert_status(LIT("Ntppool_verify=TOK"), VARLIST_NOT_FOUND);
	assert_status(LIT("ntppool verify=TOK"), VARLIST_NOT_FOUND);
	assert_status(LIT("\"ntppool_verify\"=TOK"), VARLIST_NOT_FOUND);
	assert_found(LIT("ntppool_verify_x=A, NTPPOOL_VERIFY=B, ntppool_verify=C"),
		     "C", false);
	/* An empty name can never match, even an item without '='. */
	{
		struct varlist_item item;

		assert_int_equal(varlist_find(LIT("a=1"), "", &item),
				 VARLIST_NOT_FOUND);
	}
}

/* Two answers for one name: refuse to pick one. */
static void test_duplicates(void **state)
{
	(void)state;
	assert_status(LIT("ntppool_verify=A, ntppool_verify=B"),
		      VARLIST_DUPLICATE);
	assert_status(LIT("ntppool_verify=A, ntppool_verify=A"),
		      VARLIST_DUPLICATE);
	assert_status(LIT("ntppool_verify=A\r\nx=1\r\nntppool_verify"),
		      VARLIST_DUPLICATE);
	/* Other names may repeat (appendix A: `stratum` twice). */
	assert_found(LIT("stratum=16, stratum=fake, ntppool_verify=T"), "T",
		     false);
}

static void test_malformed(void **state)
{
	static const struct {
		const char *data;
		size_t len;
	} bad[] = {
		{ LIT("ntppool_verify=\"TOK") },         /* unterminated */
		{ LIT("ntppool_verify=\"TOK\r\n") },
		{ LIT("a=1, b=\"") },
		{ LIT("ntppool_verify=\"T\"x") },       /* junk after quote */
		{ LIT("ntppool_verify=\"T\" x, y=1") },
		{ LIT("ntppool_verify=\"T\"\"U\"") },
		{ LIT("=TOK") },                        /* empty name */
		{ LIT(" \t=TOK") },
		{ LIT("ntppool_verify=T, =x") },        /* after a match */
		{ LIT("ntppool_verify=TOK\0evil\r\n") }, /* NULs */
		{ LIT("ntppool_verify\0=TOK") },
		{ LIT("\0ntppool_verify=TOK") },
		{ LIT("ntppool_verify=\"T\0K\"") },
		{ LIT("ntppool_verify=\"T\"\0") },
		{ LIT("ntppool_verify=T, \0") },
		{ LIT("ntppool_verify=T\r\n\0") },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_status(bad[i].data, bad[i].len, VARLIST_BAD_SYNTAX);
}

/* The iterator stays on a broken item instead of resyncing past it. */
static void test_malformed_is_sticky(void **state)
{
	static const char data[] = "a=1, b=\"x, ntppool_verify=T";
	struct varlist_iter it;
	struct varlist_item item;

	(void)state;
	varlist_iter_init(&it, LIT(data));
	assert_int_equal(varlist_next(&it, &item), VARLIST_ITEM);
	assert_int_equal(varlist_next(&it, &item), VARLIST_MALFORMED);
	assert_int_equal(varlist_next(&it, &item), VARLIST_MALFORMED);
	assert_status(LIT(data), VARLIST_BAD_SYNTAX);
}

static void test_empty_lists(void **state)
{
	struct varlist_iter it;
	struct varlist_item item;

	(void)state;
	assert_status("", 0, VARLIST_NOT_FOUND);
	assert_status(NULL, 0, VARLIST_NOT_FOUND);
	assert_status(LIT("\r\n"), VARLIST_NOT_FOUND);
	assert_status(LIT(" ,\t,\r\n"), VARLIST_NOT_FOUND);
	varlist_iter_init(&it, "", 0);
	assert_int_equal(varlist_next(&it, &item), VARLIST_END);
	varlist_iter_init(&it, NULL, 0);
	assert_int_equal(varlist_next(&it, &item), VARLIST_END);
}

/* Only len octets are data: what follows in memory is never read. */
static void test_length_bound(void **state)
{
	static const char buf[] = "ntppool_verify=TOKEN-AND-MORE";
	static const char quoted[] = "ntppool_verify=\"TOK\"";

	(void)state;
	assert_found(buf, 18, "TOK", false);
	assert_status(buf, 14, VARLIST_FOUND);
	assert_status(buf, 13, VARLIST_NOT_FOUND); /* "ntppool_verif" */
	/* The closing quote lies beyond len. */
	assert_status(quoted, sizeof(quoted) - 2, VARLIST_BAD_SYNTAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_capture_v1),
		cmocka_unit_test(test_capture_two_names),
		cmocka_unit_test(test_separators),
		cmocka_unit_test(test_blanks_trimmed),
		cmocka_unit_test(test_raw_value_with_comma),
		cmocka_unit_test(test_quoted_values),
		cmocka_unit_test(test_bare_values),
		cmocka_unit_test(test_token_inside_other_value),
		cmocka_unit_test(test_name_must_match_exactly),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_malformed_is_sticky),
		cmocka_unit_test(test_empty_lists),
		cmocka_unit_test(test_length_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
