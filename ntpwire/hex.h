/*
 * hex.h - the value of one hexadecimal digit, for every parser in the
 * program (keys, JSON \u escapes).
 */
#ifndef NTPWIRE_HEX_H
#define NTPWIRE_HEX_H

/* 0..15 for [0-9a-fA-F], -1 for anything else. */
static inline int hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
