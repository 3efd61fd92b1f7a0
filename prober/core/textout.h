/*
 * textout.h - writing untrusted bytes safely: JSON strings and terminal text.
 *
 * Values read from a server are arbitrary octets; these helpers never let
 * them break a JSON document or drive a terminal.
 */
#ifndef NTPVERIFY_TEXTOUT_H
#define NTPVERIFY_TEXTOUT_H

#include <stddef.h>
#include <stdio.h>

/* Write s[0..len) as a quoted JSON string; bytes >= 0x7f become \u00XX. */
void json_put_string(FILE *f, const char *s, size_t len);

/* Same for a NUL-terminated string; NULL writes `null`. */
void json_put_cstr(FILE *f, const char *s);

/*
 * Copy the string src into dst[0..size), cut short if it does not fit and
 * always terminated (size > 0): strlcpy, which Debian 12's C library lacks.
 * Returns strlen(src), so a result >= size means it was cut.
 */
size_t str_copy(char *dst, size_t size, const char *src);

/* Write s[0..len) with printable ASCII as is and other bytes as \xHH. */
void text_put_escaped(FILE *f, const char *s, size_t len);

/*
 * Output gathered in memory and written to its FILE with one fwrite when
 * it fits, so no printf parsing per field. Whatever does not fit in the
 * caller's memory is written out first, in order, so any length works;
 * textbuf_flush() writes the rest.
 */
struct textbuf {
	char *buf;   /* caller's memory */
	size_t cap;  /* its size */
	size_t len;  /* octets gathered, not yet written */
	FILE *sink;  /* where they go */
};

void textbuf_init(struct textbuf *b, char *mem, size_t cap, FILE *sink);
void textbuf_put(struct textbuf *b, const char *s, size_t len);
/* A string literal (only a literal compiles), its length known at compile
 * time. */
#define textbuf_lit(b, s) textbuf_put((b), "" s, sizeof("" s) - 1)
void textbuf_uint(struct textbuf *b, unsigned long long v);
/* v with exactly three decimals: what printf's %.3f writes. */
void textbuf_fixed3(struct textbuf *b, double v);
/* As json_put_string / json_put_cstr. */
void textbuf_json(struct textbuf *b, const char *s, size_t len);
void textbuf_json_cstr(struct textbuf *b, const char *s);
void textbuf_flush(struct textbuf *b);

#endif
