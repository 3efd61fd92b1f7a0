/*
 * status_json.h - the reader `ntpverify status` uses for the daemon's
 * /status document: JSON flattened into "path = value" pairs
 * (database.connected, counters.attempts.verified, recent.0.server, ...).
 *
 * The document comes over a socket, so the reader takes it as hostile: it
 * is bounded in input size, nesting depth, path length and number of
 * values, reads nothing outside [text, text + len), and fails cleanly
 * (never aborts) on anything that is not one complete JSON value. Strings
 * are decoded; \u escapes above 0xff become '?' (the daemon writes \u00XX
 * only, for single bytes), so a value may contain any byte, NUL included
 * (it then ends the C string early). Callers escape values before
 * printing them.
 */
#ifndef NTPVERIFY_STATUS_JSON_H
#define NTPVERIFY_STATUS_JSON_H

#include <stdbool.h>
#include <stddef.h>

/* Limits: far above any real /status document. */
#define STATUS_JSON_MAX_LEN (4u << 20) /* input octets */
#define STATUS_JSON_MAX_DEPTH 16       /* containers one in another */
#define STATUS_JSON_PATH_MAX 160       /* a path, with its NUL */
#define STATUS_JSON_KEY_MAX 63         /* a key in a path; longer ones cut */
#define STATUS_JSON_MAX_VALUES 65536   /* scalars in one document */

/* One scalar of the document. */
struct status_json_value {
	char *path;  /* "database.connected", "recent.0.server"; "" at the top */
	char *value; /* decoded string, or the literal (12, true, null) */
	bool string; /* value was a JSON string */
};

/* The flattened document, in document order; embedded by the caller. */
struct status_json_doc {
	struct status_json_value *v; /* n values, heap */
	size_t n;                    /* values in v */
	size_t cap;                  /* allocated entries of v */
};

/*
 * Flatten text[0..len) (need not be NUL-terminated) into *doc. Returns 0;
 * or -1 when it is not one JSON value (with whitespace around it at
 * most), breaks a limit or memory runs out, with *doc left empty. Free a
 * parsed doc with status_json_free().
 */
int status_json_parse(const char *text, size_t len,
		      struct status_json_doc *doc)
	__attribute__((warn_unused_result));

/* Free what doc holds and zero it (a zeroed doc is fine). */
void status_json_free(struct status_json_doc *doc);

/* The value at `path`, the first one if repeated; NULL when absent. */
const char *status_json_get(const struct status_json_doc *doc,
			    const char *path);

#endif
