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

/* Write s[0..len) with printable ASCII as is and other bytes as \xHH. */
void text_put_escaped(FILE *f, const char *s, size_t len);

#endif
