#include <string.h>

#include "core/textout.h"

void json_put_string(FILE *f, const char *s, size_t len)
{
	size_t run = 0; /* start of the pending run of plain characters */

	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			continue;
		fwrite(s + run, 1, i - run, f);
		run = i + 1;
		switch (c) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			fprintf(f, "\\u%04x", c);
		}
	}
	fwrite(s + run, 1, len - run, f);
	fputc('"', f);
}

void json_put_cstr(FILE *f, const char *s)
{
	if (s == NULL)
		fputs("null", f);
	else
		json_put_string(f, s, strlen(s));
}

void text_put_escaped(FILE *f, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			fputc(c, f);
		else
			fprintf(f, "\\x%02x", c);
	}
}
