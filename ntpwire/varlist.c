/*
 * varlist.c - parser for the `name=value, name="value"\r\n` list of a
 * READVAR reply, following ntpq's reading of it.
 *
 * One item, after leading blanks and empty separators are skipped:
 *
 *     name [blanks] [ '=' [blanks] ( '"' any but '"' '"' [blanks] | bare ) ]
 *
 * followed by ',', CR, LF or the end. A bare value runs to the next ',',
 * CR or LF; trailing blanks are trimmed from names and bare values.
 */
#include "varlist.h"

#include <string.h>

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_sep(char c)
{
	return c == ',' || c == '\r' || c == '\n';
}

void varlist_iter_init(struct varlist_iter *it, const char *data, size_t len)
{
	/* A NULL buffer can only be empty; NULL + 0 is undefined in C. */
	it->pos = data;
	it->end = data != NULL ? data + len : NULL;
}

/* Back up over blanks so [start, end) holds no trailing ones. */
static const char *trim_end(const char *start, const char *end)
{
	while (end > start && is_blank(end[-1]))
		end--;
	return end;
}

/*
 * Parse one item starting at it->pos. On MALFORMED the iterator does not
 * move, so calling again reports the same failure rather than resyncing
 * somewhere in the middle of a broken value.
 */
enum varlist_status varlist_next(struct varlist_iter *it,
				 struct varlist_item *item)
{
	const char *p = it->pos, *end = it->end, *name, *name_end;

	/* Empty items (",,", a trailing "\r\n") carry nothing: skip them. */
	while (p < end && (is_blank(*p) || is_sep(*p)))
		p++;
	if (p == end) {
		it->pos = p;
		return VARLIST_END;
	}

	/*
	 * A NUL would end the value early for any caller that treats it as
	 * a C string, and ntpd never sends one: reject it wherever it is.
	 */
	name = p;
	while (p < end && *p != '=' && !is_sep(*p)) {
		if (*p == '\0')
			return VARLIST_MALFORMED;
		p++;
	}
	name_end = trim_end(name, p);
	if (name_end == name)
		return VARLIST_MALFORMED; /* "=value" */

	item->name = name;
	item->name_len = (size_t)(name_end - name);
	item->value = NULL;
	item->value_len = 0;
	item->quoted = false;
	if (p == end || *p != '=') {
		it->pos = p;
		return VARLIST_ITEM;
	}

	p++; /* '=' */
	while (p < end && is_blank(*p))
		p++;
	if (p < end && *p == '"') {
		const char *v = ++p;

		while (p < end && *p != '"') {
			if (*p == '\0')
				return VARLIST_MALFORMED;
			p++;
		}
		if (p == end)
			return VARLIST_MALFORMED; /* unterminated quote */
		item->value = v;
		item->value_len = (size_t)(p - v);
		item->quoted = true;
		p++; /* closing '"' */
		while (p < end && is_blank(*p))
			p++;
		/* `a="x"y` is not something ntpd writes: do not guess. */
		if (p < end && !is_sep(*p))
			return VARLIST_MALFORMED;
	} else {
		const char *v = p;

		while (p < end && !is_sep(*p)) {
			if (*p == '\0')
				return VARLIST_MALFORMED;
			p++;
		}
		item->value = v;
		item->value_len = (size_t)(trim_end(v, p) - v);
	}
	it->pos = p;
	return VARLIST_ITEM;
}

enum varlist_find_status varlist_find(const char *data, size_t len,
				      const char *name,
				      struct varlist_item *item)
{
	struct varlist_iter it;
	struct varlist_item cur;
	enum varlist_status st;
	size_t want = name != NULL ? strlen(name) : 0;
	unsigned found = 0;

	varlist_iter_init(&it, data, len);
	while ((st = varlist_next(&it, &cur)) == VARLIST_ITEM) {
		if (want == 0 || cur.name_len != want ||
		    memcmp(cur.name, name, want) != 0)
			continue;
		if (found++ == 0)
			*item = cur;
	}
	/* Checked first: a list we cannot read proves nothing either way. */
	if (st == VARLIST_MALFORMED)
		return VARLIST_BAD_SYNTAX;
	if (found > 1)
		return VARLIST_DUPLICATE;
	return found == 1 ? VARLIST_FOUND : VARLIST_NOT_FOUND;
}
