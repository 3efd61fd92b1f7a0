/*
 * rd.h - bounded big-endian reader and writer shared by the ntpwire
 * decoders. Private to ntpwire/: not installed, not included by callers.
 *
 * Every getter checks the remaining length first and fails without moving
 * or writing its output, so a decoder that stops at the first failure can
 * never read past the datagram, whatever the header claims.
 */
#ifndef NTPWIRE_RD_H
#define NTPWIRE_RD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rd {
	const uint8_t *p; /* next unread octet */
	size_t left;      /* octets from p to the end of the datagram */
};

static inline struct rd rd_init(const uint8_t *p, size_t len)
{
	struct rd r = { p, len };
	return r;
}

static inline bool rd_u8(struct rd *r, uint8_t *out)
{
	if (r->left < 1)
		return false;
	*out = r->p[0];
	r->p += 1;
	r->left -= 1;
	return true;
}

static inline bool rd_u16(struct rd *r, uint16_t *out)
{
	if (r->left < 2)
		return false;
	*out = (uint16_t)((unsigned)r->p[0] << 8 | r->p[1]);
	r->p += 2;
	r->left -= 2;
	return true;
}

static inline bool rd_u32(struct rd *r, uint32_t *out)
{
	if (r->left < 4)
		return false;
	*out = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 |
	       (uint32_t)r->p[2] << 8 | (uint32_t)r->p[3];
	r->p += 4;
	r->left -= 4;
	return true;
}

static inline bool rd_u64(struct rd *r, uint64_t *out)
{
	uint32_t hi, lo;

	if (r->left < 8)
		return false;
	(void)rd_u32(r, &hi);
	(void)rd_u32(r, &lo);
	*out = (uint64_t)hi << 32 | lo;
	return true;
}

/* Point *out at the next n octets without copying them. */
static inline bool rd_bytes(struct rd *r, size_t n, const uint8_t **out)
{
	if (r->left < n)
		return false;
	*out = r->p;
	r->p += n;
	r->left -= n;
	return true;
}

static inline bool rd_skip(struct rd *r, size_t n)
{
	const uint8_t *ignored;

	return rd_bytes(r, n, &ignored);
}

/* The writer side: the caller checks the total size up front. */
static inline uint8_t *wr_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

static inline uint8_t *wr_u32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

static inline uint8_t *wr_u64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

#endif
