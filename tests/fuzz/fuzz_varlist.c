/*
 * fuzz_varlist.c - the READVAR variable-list parser.
 *
 * Input: the data of a reassembled reply, as is. The list is walked with
 * varlist_next() to the end, every item checked against the grammar in
 * varlist.h, and varlist_find() must agree with that walk for a few names:
 * the prober's variable, a one-letter name and the first item's name.
 */
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "ntpwire/m6.h"
#include "ntpwire/varlist.h"

/* The largest reply the reassembly lets through. */
#define FUZZ_VARLIST_MAX_INPUT M6_MAX_TOTAL
#define FUZZ_VARLIST_NAME_MAX 64

static bool is_sep(char c)
{
	return c == ',' || c == '\r' || c == '\n';
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* One item as varlist.h describes it, inside [text, text + len). */
static void check_item(const struct varlist_item *item, const char *text,
		       size_t len)
{
	FUZZ_CHECK(item->name != NULL && item->name_len > 0);
	FUZZ_CHECK(fuzz_inside(item->name, item->name_len, text, len));
	FUZZ_CHECK(!is_blank(item->name[0]));
	FUZZ_CHECK(!is_blank(item->name[item->name_len - 1]));
	for (size_t i = 0; i < item->name_len; i++) {
		char c = item->name[i];

		FUZZ_CHECK(c != '\0' && c != '=' && !is_sep(c));
	}
	if (item->value == NULL) {
		FUZZ_CHECK(item->value_len == 0 && !item->quoted);
		return;
	}
	FUZZ_CHECK(fuzz_inside(item->value, item->value_len, text, len));
	/* The value comes after its name. */
	FUZZ_CHECK(item->value >= item->name + item->name_len);
	for (size_t i = 0; i < item->value_len; i++) {
		char c = item->value[i];

		FUZZ_CHECK(c != '\0');
		FUZZ_CHECK(item->quoted ? c != '"' : !is_sep(c));
	}
	if (!item->quoted && item->value_len > 0)
		FUZZ_CHECK(!is_blank(item->value[item->value_len - 1]));
}

/* varlist_find() must say what the walk saw for this name. */
static void check_find(const char *text, size_t len, const char *name,
		       bool malformed, const struct varlist_item *items_first,
		       unsigned seen)
{
	struct varlist_item item;
	enum varlist_find_status st = varlist_find(text, len, name, &item);

	if (malformed) {
		FUZZ_CHECK(st == VARLIST_BAD_SYNTAX);
		return;
	}
	if (seen == 0) {
		FUZZ_CHECK(st == VARLIST_NOT_FOUND);
		return;
	}
	if (seen > 1) {
		FUZZ_CHECK(st == VARLIST_DUPLICATE);
		return;
	}
	FUZZ_CHECK(st == VARLIST_FOUND);
	FUZZ_CHECK(item.name == items_first->name &&
		   item.name_len == items_first->name_len &&
		   item.value == items_first->value &&
		   item.value_len == items_first->value_len &&
		   item.quoted == items_first->quoted);
}

static bool same_name(const struct varlist_item *item, const char *name)
{
	size_t n = strlen(name);

	return item->name_len == n && memcmp(item->name, name, n) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	/* libFuzzer's buffer is exactly size octets: overreads are caught. */
	const char *text = in != NULL ? (const char *)in : "";
	static const char *const fixed[] = { "ntppool_verify", "a" };
	char first_name[FUZZ_VARLIST_NAME_MAX + 1] = "";
	struct varlist_item fixed_first[2], first_first, item;
	unsigned fixed_seen[2] = { 0, 0 }, first_seen = 0, n_items = 0;
	struct varlist_iter it;
	enum varlist_status st;

	if (size > FUZZ_VARLIST_MAX_INPUT)
		return 0;

	varlist_iter_init(&it, text, size);
	for (;;) {
		const char *before = it.pos;

		st = varlist_next(&it, &item);
		FUZZ_CHECK(it.pos >= before && it.pos <= text + size);
		if (st != VARLIST_ITEM)
			break;
		/* Progress: every item consumes input, so the walk ends. */
		FUZZ_CHECK(it.pos > before);
		FUZZ_CHECK(++n_items <= size);
		check_item(&item, text, size);
		if (n_items == 1 && item.name_len <= FUZZ_VARLIST_NAME_MAX) {
			memcpy(first_name, item.name, item.name_len);
			first_name[item.name_len] = '\0';
		}
		for (size_t i = 0; i < 2; i++)
			if (same_name(&item, fixed[i]) && fixed_seen[i]++ == 0)
				fixed_first[i] = item;
		if (first_name[0] != '\0' && same_name(&item, first_name) &&
		    first_seen++ == 0)
			first_first = item;
	}
	switch (st) {
	case VARLIST_END:
		FUZZ_CHECK(it.pos == text + size);
		/* The end stays the end. */
		FUZZ_CHECK(varlist_next(&it, &item) == VARLIST_END);
		break;
	case VARLIST_MALFORMED: {
		/* The iterator stays put and says so again. */
		const char *at = it.pos;

		FUZZ_CHECK(varlist_next(&it, &item) == VARLIST_MALFORMED);
		FUZZ_CHECK(it.pos == at);
		break;
	}
	default:
		FUZZ_CHECK(!"varlist_next: unknown status");
	}

	for (size_t i = 0; i < 2; i++)
		check_find(text, size, fixed[i], st == VARLIST_MALFORMED,
			   &fixed_first[i], fixed_seen[i]);
	if (first_name[0] != '\0')
		check_find(text, size, first_name, st == VARLIST_MALFORMED,
			   &first_first, first_seen);
	return 0;
}
