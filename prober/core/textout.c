#include <string.h>

#include "core/textout.h"

size_t str_copy(char *dst, size_t size, const char *src)
{
	size_t len = strlen(src);

	if (size > 0) {
		size_t n = len < size ? len : size - 1;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

void json_put_string(FILE *f, const char *s, size_t len)
{
	char mem[512];
	struct textbuf b;

	textbuf_init(&b, mem, sizeof(mem), f);
	textbuf_json(&b, s, len);
	textbuf_flush(&b);
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

void textbuf_init(struct textbuf *b, char *mem, size_t cap, FILE *sink)
{
	b->buf = mem;
	b->cap = cap;
	b->len = 0;
	b->sink = sink;
}

void textbuf_flush(struct textbuf *b)
{
	if (b->len > 0)
		fwrite(b->buf, 1, b->len, b->sink);
	b->len = 0;
}

void textbuf_put(struct textbuf *b, const char *s, size_t len)
{
	if (len > b->cap - b->len) {
		textbuf_flush(b);
		if (len > b->cap) { /* larger than the whole buffer */
			fwrite(s, 1, len, b->sink);
			return;
		}
	}
	memcpy(b->buf + b->len, s, len);
	b->len += len;
}

void textbuf_uint(struct textbuf *b, unsigned long long v)
{
	char d[20]; /* 2^64 - 1 has 20 digits */
	size_t n = sizeof(d);

	do {
		d[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	textbuf_put(b, d + n, sizeof(d) - n);
}

void textbuf_fixed3(struct textbuf *b, double v)
{
	/*
	 * The fast way: below 1e9 the product v * 1000 is within ~1.2e-4 of
	 * the exact value, so when its fraction is not near .5 rounding it
	 * gives what %.3f gives (which rounds the exact binary value). Near
	 * a halfway point, and for NaN, negative or huge values, printf
	 * itself decides: an RTT of n ns with n ending in 500 is one.
	 */
	double t = v * 1000.0;
	double f = v >= 0.0 && v < 1e9 ? t - (double)(unsigned long long)t
				       : 0.5;
	if (f > 0.499 && f < 0.501) {
		char s[64];
		int n = snprintf(s, sizeof(s), "%.3f", v);
		if (n > 0)
			textbuf_put(b, s, (size_t)n < sizeof(s) ? (size_t)n
							      : sizeof(s) - 1);
		return;
	}
	unsigned long long m = (unsigned long long)(t + 0.5);
	char frac[3] = {
		(char)('0' + m / 100 % 10),
		(char)('0' + m / 10 % 10),
		(char)('0' + m % 10),
	};

	textbuf_uint(b, m / 1000);
	textbuf_lit(b, ".");
	textbuf_put(b, frac, 3);
}

/* JSON string escaping without the quotes; bytes >= 0x7f as \u00XX. */
static void textbuf_json_body(struct textbuf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0; /* start of the pending run of plain characters */

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			continue;
		textbuf_put(b, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"':
			textbuf_lit(b, "\\\"");
			break;
		case '\\':
			textbuf_lit(b, "\\\\");
			break;
		case '\n':
			textbuf_lit(b, "\\n");
			break;
		case '\r':
			textbuf_lit(b, "\\r");
			break;
		case '\t':
			textbuf_lit(b, "\\t");
			break;
		default: {
			char u[6] = { '\\', 'u', '0', '0', hex[c >> 4],
				       hex[c & 15] };
			textbuf_put(b, u, sizeof(u));
		}
		}
	}
	textbuf_put(b, s + run, len - run);
}

void textbuf_json(struct textbuf *b, const char *s, size_t len)
{
	textbuf_lit(b, "\"");
	textbuf_json_body(b, s, len);
	textbuf_lit(b, "\"");
}

void textbuf_json_cstr(struct textbuf *b, const char *s)
{
	if (s == NULL)
		textbuf_lit(b, "null");
	else
		textbuf_json(b, s, strlen(s));
}
