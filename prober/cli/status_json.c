/*
 * status_json.c - a small, bounded JSON flattener for `ntpverify status`
 * (see status_json.h). Recursive descent; the recursion is bounded by
 * STATUS_JSON_MAX_DEPTH, so hostile nesting cannot exhaust the stack.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/status_json.h"
#include "ntpwire/hex.h"

/* Where the parser is in the text. */
struct status_json_parser {
	const char *p;               /* next octet */
	const char *end;             /* one past the last octet */
	struct status_json_doc *doc; /* what is collected */
};

void status_json_free(struct status_json_doc *doc)
{
	for (size_t i = 0; i < doc->n; i++) {
		free(doc->v[i].path);
		free(doc->v[i].value);
	}
	free(doc->v);
	memset(doc, 0, sizeof(*doc));
}

/* Append (path, value); takes value (freed here on failure). */
static int doc_add(struct status_json_doc *doc, const char *path,
		   char *value, bool string)
{
	struct status_json_value *jv;

	if (doc->n >= STATUS_JSON_MAX_VALUES)
		goto fail;
	if (doc->n == doc->cap) {
		size_t ncap = doc->cap == 0 ? 64 : doc->cap * 2;
		struct status_json_value *nv = realloc(doc->v,
						       ncap * sizeof(*nv));

		if (nv == NULL)
			goto fail;
		doc->v = nv;
		doc->cap = ncap;
	}
	jv = &doc->v[doc->n];
	jv->path = strdup(path);
	if (jv->path == NULL)
		goto fail;
	jv->value = value;
	jv->string = string;
	doc->n++;
	return 0;
fail:
	free(value);
	return -1;
}

static void skip_ws(struct status_json_parser *jp)
{
	while (jp->p < jp->end && (*jp->p == ' ' || *jp->p == '\t' ||
				   *jp->p == '\n' || *jp->p == '\r'))
		jp->p++;
}

/* The octet an escape after the backslash stands for; -1 if invalid. */
static int string_escape(struct status_json_parser *jp)
{
	int u = 0;

	if (jp->p >= jp->end)
		return -1;
	switch (*jp->p++) {
	case 'b': return '\b';
	case 'f': return '\f';
	case 'n': return '\n';
	case 'r': return '\r';
	case 't': return '\t';
	case '"': return '"';
	case '\\': return '\\';
	case '/': return '/';
	case 'u':
		if (jp->end - jp->p < 4)
			return -1;
		for (int k = 0; k < 4; k++) {
			int h = hex_digit((unsigned char)jp->p[k]);

			if (h < 0)
				return -1;
			u = u * 16 + h;
		}
		jp->p += 4;
		return u <= 0xff ? u : '?';
	default:
		return -1;
	}
}

/*
 * A JSON string at jp->p into a new heap string (caller frees); NULL when
 * malformed. Raw control characters are malformed, as in RFC 8259.
 */
static char *parse_string(struct status_json_parser *jp)
{
	size_t cap = 32, n = 0;
	char *s;

	if (jp->p >= jp->end || *jp->p != '"')
		return NULL;
	jp->p++;
	s = malloc(cap);
	if (s == NULL)
		return NULL;
	while (jp->p < jp->end && *jp->p != '"') {
		int c = (unsigned char)*jp->p++;

		if (c < 0x20)
			goto bad;
		if (c == '\\' && (c = string_escape(jp)) < 0)
			goto bad;
		if (n + 2 > cap) {
			char *ns = realloc(s, cap * 2);

			if (ns == NULL)
				goto bad;
			s = ns;
			cap *= 2;
		}
		s[n++] = (char)c;
	}
	if (jp->p >= jp->end)
		goto bad;
	jp->p++; /* closing quote */
	s[n] = '\0';
	return s;
bad:
	free(s);
	return NULL;
}

/* Skip one or more digits; 0 when there was none. */
static int skip_digits(struct status_json_parser *jp)
{
	const char *start = jp->p;

	while (jp->p < jp->end && *jp->p >= '0' && *jp->p <= '9')
		jp->p++;
	return jp->p > start;
}

/* A number as RFC 8259 spells it: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int skip_number(struct status_json_parser *jp)
{
	if (jp->p < jp->end && *jp->p == '-')
		jp->p++;
	if (jp->p < jp->end && *jp->p == '0')
		jp->p++;
	else if (!skip_digits(jp))
		return -1;
	if (jp->p < jp->end && *jp->p == '.') {
		jp->p++;
		if (!skip_digits(jp))
			return -1;
	}
	if (jp->p < jp->end && (*jp->p == 'e' || *jp->p == 'E')) {
		jp->p++;
		if (jp->p < jp->end && (*jp->p == '+' || *jp->p == '-'))
			jp->p++;
		if (!skip_digits(jp))
			return -1;
	}
	return 0;
}

/* true, false, null or a number: kept as its literal text. */
static int parse_literal(struct status_json_parser *jp, const char *path)
{
	static const char *const words[] = { "true", "false", "null" };
	const char *start = jp->p;
	size_t left = (size_t)(jp->end - jp->p);
	char *v;

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		size_t wl = strlen(words[i]);

		if (left >= wl && memcmp(jp->p, words[i], wl) == 0) {
			jp->p += wl;
			break;
		}
	}
	if (jp->p == start && skip_number(jp) < 0)
		return -1;
	v = strndup(start, (size_t)(jp->p - start));
	if (v == NULL)
		return -1;
	return doc_add(jp->doc, path, v, false);
}

static int parse_value(struct status_json_parser *jp, char *path,
		       size_t plen, int depth);

/* Extend path (of `used` characters) by `part`; -1 when it is too long. */
static int path_push(char *path, size_t plen, size_t used, const char *part)
{
	size_t n = strnlen(part, STATUS_JSON_KEY_MAX);

	if (used + (used ? 1 : 0) + n + 1 > plen)
		return -1;
	if (used)
		path[used++] = '.';
	memcpy(path + used, part, n);
	path[used + n] = '\0';
	return 0;
}

/* One member's key and colon, or one element's index, onto path. */
static int parse_member_name(struct status_json_parser *jp, char *path,
			     size_t plen, size_t used, bool object,
			     unsigned index)
{
	char num[16];
	char *key;
	int rc;

	if (!object) {
		snprintf(num, sizeof(num), "%u", index);
		return path_push(path, plen, used, num);
	}
	key = parse_string(jp);
	if (key == NULL)
		return -1;
	rc = path_push(path, plen, used, key);
	free(key);
	skip_ws(jp);
	if (rc < 0 || jp->p >= jp->end || *jp->p++ != ':')
		return -1;
	return 0;
}

/* Members of an object or elements of an array, path extended in place. */
static int parse_container(struct status_json_parser *jp, char *path,
			   size_t plen, int depth, bool object)
{
	char close_c = object ? '}' : ']';
	size_t used = strlen(path);
	unsigned index = 0;

	jp->p++; /* { or [ */
	skip_ws(jp);
	if (jp->p < jp->end && *jp->p == close_c) {
		jp->p++;
		return 0;
	}
	for (;;) {
		int rc;

		skip_ws(jp);
		if (parse_member_name(jp, path, plen, used, object, index++) < 0)
			return -1;
		rc = parse_value(jp, path, plen, depth + 1);
		path[used] = '\0';
		if (rc < 0)
			return -1;
		skip_ws(jp);
		if (jp->p < jp->end && *jp->p == ',') {
			jp->p++;
			continue;
		}
		if (jp->p < jp->end && *jp->p == close_c) {
			jp->p++;
			return 0;
		}
		return -1;
	}
}

static int parse_value(struct status_json_parser *jp, char *path,
		       size_t plen, int depth)
{
	char *v;

	if (depth > STATUS_JSON_MAX_DEPTH)
		return -1;
	skip_ws(jp);
	if (jp->p >= jp->end)
		return -1;
	if (*jp->p == '{' || *jp->p == '[') {
		/* At most STATUS_JSON_MAX_DEPTH containers, one in another. */
		if (depth >= STATUS_JSON_MAX_DEPTH)
			return -1;
		return parse_container(jp, path, plen, depth, *jp->p == '{');
	}
	if (*jp->p == '"') {
		v = parse_string(jp);
		if (v == NULL)
			return -1;
		return doc_add(jp->doc, path, v, true);
	}
	return parse_literal(jp, path);
}

int status_json_parse(const char *text, size_t len,
		      struct status_json_doc *doc)
{
	struct status_json_parser jp = { text, text + len, doc };
	char path[STATUS_JSON_PATH_MAX] = "";

	memset(doc, 0, sizeof(*doc));
	if (len > STATUS_JSON_MAX_LEN)
		return -1;
	if (parse_value(&jp, path, sizeof(path), 0) < 0)
		goto fail;
	skip_ws(&jp);
	if (jp.p != jp.end)
		goto fail;
	return 0;
fail:
	status_json_free(doc);
	return -1;
}

const char *status_json_get(const struct status_json_doc *doc,
			    const char *path)
{
	for (size_t i = 0; i < doc->n; i++)
		if (strcmp(doc->v[i].path, path) == 0)
			return doc->v[i].value;
	return NULL;
}
