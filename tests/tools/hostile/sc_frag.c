/*
 * sc_frag.c - replies cut into fragments: reordered, repeated, with a gap,
 * overlapping, at and past the prober's fragment limit, and one that
 * never ends.
 */
#include <string.h>

#include "hostile.h"

/* The reply sc_frags cuts, in fragments of *fs octets; 0: none. */
static size_t frag_reply(const struct reply_ctx *c, char *d, size_t *fs)
{
	switch (c->sc->arg) {
	case FR_32:
		*fs = 10;
		return long_reply(c, d, 32 * *fs - 3);
	case FR_33:
		*fs = 10;
		return long_reply(c, d, 32 * *fs + 3);
	default:
		*fs = 50;
		return long_reply(c, d, 7 * *fs + 17); /* 8 fragments */
	}
}

/*
 * Two fragments whose ranges share 10 octets of identical content:
 * harmless-looking, but ntpq's rule rejects it.
 */
static void frags_overlap(struct reply_ctx *c, const char *d, size_t len)
{
	struct m6_out o = m6_default(c);

	o.b1 |= B_M;
	o.count = 60;
	o.data = (const uint8_t *)d;
	o.data_len = 60;
	emit_m6(c, &o);
	o = m6_default(c);
	o.offset = 50;
	o.count = (uint16_t)(len - 50);
	o.data = (const uint8_t *)d + 50;
	o.data_len = len - 50;
	emit_m6(c, &o);
}

/*
 * Fragments 0 and 1, then fragment 1 again at the same offset with one
 * octet changed; frag_order() sends the rest.
 */
static void frags_dup_conflict(struct reply_ctx *c, const char *d,
			       size_t len, size_t fs)
{
	struct m6_out o = m6_default(c);
	char alt[FRAG_MAX];
	unsigned first[] = { 0, 1 };

	emit_frags(c, d, len, fs, first, 2);
	memcpy(alt, d + fs, fs);
	alt[0] ^= 0x20;
	o.b1 |= B_M;
	o.offset = (uint16_t)fs;
	o.count = (uint16_t)fs;
	o.data = (const uint8_t *)alt;
	o.data_len = fs;
	emit_m6(c, &o);
}

/* The order the nf fragments go out in; returns its length. */
static size_t frag_order(const struct reply_ctx *c, unsigned *order,
			 size_t nf)
{
	size_t n = 0;

	switch (c->sc->arg) {
	case FR_REVERSE:
		for (size_t i = 0; i < nf; i++)
			order[n++] = (unsigned)(nf - 1 - i);
		break;
	case FR_SHUFFLE:
		for (size_t i = 0; i < nf; i++)
			order[n++] = (unsigned)i;
		for (size_t i = nf - 1; i > 0; i--) { /* Fisher-Yates */
			size_t j = rnd() % (i + 1);
			unsigned t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
		break;
	case FR_DUP:
		/* every fragment twice, the last one first and three times */
		order[n++] = (unsigned)(nf - 1);
		for (size_t i = 0; i < nf; i++) {
			order[n++] = (unsigned)i;
			order[n++] = (unsigned)i;
		}
		break;
	case FR_GAP:
		for (size_t i = 0; i < nf; i++)
			if (i != 2)
				order[n++] = (unsigned)i;
		break;
	case FR_DUP_CONFLICT: /* 0 and 1 are sent already */
		for (size_t i = 2; i < nf; i++)
			order[n++] = (unsigned)i;
		break;
	case FR_32:
	case FR_33:
	default:
		for (size_t i = 0; i < nf; i++)
			order[n++] = (unsigned)i;
		break;
	}
	return n;
}

/* A long valid reply in fragments, sent as the scenario's arg orders. */
void sc_frags(struct reply_ctx *c)
{
	char d[DATA_MAX];
	unsigned order[2 * MAX_FRAGS];
	size_t fs, len = frag_reply(c, d, &fs), n;

	if (len == 0)
		return;
	if (c->sc->arg == FR_OVERLAP) {
		frags_overlap(c, d, len);
		return;
	}
	if (c->sc->arg == FR_DUP_CONFLICT)
		frags_dup_conflict(c, d, len, fs);
	n = frag_order(c, order, (len + fs - 1) / fs);
	emit_frags(c, d, len, fs, order, n);
}

/*
 * Full fragments, every one with M set, offsets running on until the
 * 16-bit offset field would wrap (140 fragments per request): a reply
 * that never ends and never overlaps itself.
 */
void sc_never_ends(struct reply_ctx *c)
{
	char d[FRAG_MAX];

	memset(d, 'x', sizeof(d));
	for (unsigned i = 0; i < MAX_FRAGS && (i + 1) * FRAG_MAX <= 0xffff; i++) {
		struct m6_out o = m6_default(c);
		o.b1 |= B_M;
		o.offset = (uint16_t)(i * FRAG_MAX);
		o.count = FRAG_MAX;
		o.data = (const uint8_t *)d;
		o.data_len = FRAG_MAX;
		emit_m6(c, &o);
	}
}
