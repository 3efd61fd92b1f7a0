/*
 * varlist.h - the variable list carried by a READVAR reply.
 *
 * ntpd answers `name=value` pairs separated by "," and/or CR LF, with
 * optional spaces: `ntppool_verify=tok-3f9a1c2b7d\r\n`, or for two names
 * `a=1, b=2\r\n`. Values usually come back raw (ntp.conf quotes are
 * stripped), but a value may also be quoted, and a quoted value may hold
 * ',' and '='. A bare value runs to the next ',' or CR/LF. A name without
 * '=' is an item with no value.
 *
 * Lookup is by exact, case-sensitive name: a token inside another
 * variable's value, a prefix of a name or a differently cased name never
 * matches. The parser never allocates: items point into the caller's
 * buffer.
 */
#ifndef NTPWIRE_VARLIST_H
#define NTPWIRE_VARLIST_H

#include <stdbool.h>
#include <stddef.h>

struct varlist_item {
	const char *name;   /* not NUL-terminated */
	size_t name_len;    /* > 0 */
	const char *value;  /* NULL when the item had no '=' */
	size_t value_len;   /* quotes and surrounding spaces removed */
	bool quoted;        /* value was in double quotes */
};

/* Iterator over a reply's data; holds pointers into it. */
struct varlist_iter {
	const char *pos; /* next unread octet */
	const char *end; /* one past the data */
};

enum varlist_status {
	VARLIST_ITEM = 0,  /* *item filled */
	VARLIST_END,       /* no more items */
	VARLIST_MALFORMED, /* e.g. unterminated quote, empty name before '=' */
};

void varlist_iter_init(struct varlist_iter *it, const char *data, size_t len);

enum varlist_status varlist_next(struct varlist_iter *it,
				 struct varlist_item *item)
	__attribute__((warn_unused_result));

enum varlist_find_status {
	VARLIST_FOUND = 0,     /* *item is the variable */
	VARLIST_NOT_FOUND,     /* list parsed, name absent */
	VARLIST_DUPLICATE,     /* name present more than once: ambiguous */
	VARLIST_BAD_SYNTAX,    /* the list could not be parsed */
};

/*
 * Find the variable named exactly `name` (NUL-terminated). The whole list
 * is parsed, so a malformed tail or a second occurrence is reported rather
 * than silently ignored.
 */
enum varlist_find_status varlist_find(const char *data, size_t len,
				      const char *name,
				      struct varlist_item *item)
	__attribute__((warn_unused_result));

#endif
