/*
 * m6_reasm.c - reassembly of a fragmented mode 6 reply.
 *
 * Fragments are kept sorted by offset and never overlap, so the reply is
 * complete exactly when the last fragment has arrived and the accepted
 * octets add up to its end: every accepted fragment lies inside [0, end).
 */
#include "m6_reasm.h"

#include <string.h>

const char *m6_reasm_status_name(enum m6_reasm_status status)
{
	switch (status) {
	case M6_REASM_MORE:
		return "more fragments expected";
	case M6_REASM_DONE:
		return "complete";
	case M6_REASM_DUPLICATE:
		return "duplicate fragment";
	case M6_REASM_OVERLAP:
		return "overlapping fragments";
	case M6_REASM_TOO_MANY:
		return "too many fragments";
	case M6_REASM_TOO_LONG:
		return "reply too long";
	case M6_REASM_PAST_END:
		return "fragment past end";
	case M6_REASM_SECOND_LAST:
		return "second last fragment";
	case M6_REASM_EMPTY_MIDDLE:
		return "empty middle fragment";
	}
	return "unknown status";
}

bool m6_reasm_fatal(enum m6_reasm_status status)
{
	switch (status) {
	case M6_REASM_MORE:
	case M6_REASM_DONE:
	case M6_REASM_DUPLICATE:
		return false;
	case M6_REASM_OVERLAP:
	case M6_REASM_TOO_MANY:
	case M6_REASM_TOO_LONG:
	case M6_REASM_PAST_END:
	case M6_REASM_SECOND_LAST:
	case M6_REASM_EMPTY_MIDDLE:
		break;
	}
	return true;
}

void m6_reasm_init(struct m6_reasm *r)
{
	memset(r, 0, sizeof(*r));
}

static size_t frag_end(const struct m6_fragment *f)
{
	return (size_t)f->offset + f->count;
}

/*
 * Same start, or the ranges share an octet. The first clause catches a
 * zero-length final fragment placed where another fragment starts.
 */
static bool frags_overlap(size_t off, size_t end, const struct m6_fragment *f)
{
	return off == f->offset || (off < frag_end(f) && f->offset < end);
}

/*
 * While the last fragment is known, it is the one with the highest
 * offset: anything after it would lie past its end or overlap it.
 */
static bool is_last_frag(const struct m6_reasm *r, unsigned i)
{
	return r->have_last && i + 1 == r->n_frags;
}

enum m6_reasm_status m6_reasm_add(struct m6_reasm *r,
				  const struct m6_header *hdr,
				  const uint8_t *data)
{
	size_t off = hdr->offset, count = hdr->count, end = off + count;
	bool last = !hdr->more;
	unsigned pos;

	/* ntpd never sends one; accepting it would let a reply never end. */
	if (count == 0 && !last)
		return M6_REASM_EMPTY_MIDDLE;
	/* Also keeps the copy below inside r->data, whatever the caller did. */
	if (end > M6_MAX_TOTAL)
		return M6_REASM_TOO_LONG;

	for (unsigned i = 0; i < r->n_frags; i++) {
		const struct m6_fragment *f = &r->frags[i];

		if (f->offset != off || f->count != count)
			continue;
		/*
		 * A datagram duplicated by the network is harmless. The same
		 * range with other octets or another M bit is not a copy of
		 * the fragment we hold: treat it as the overlap it is.
		 */
		if (last == is_last_frag(r, i) &&
		    (count == 0 || memcmp(r->data + off, data, count) == 0))
			return M6_REASM_DUPLICATE;
		return M6_REASM_OVERLAP;
	}
	for (unsigned i = 0; i < r->n_frags; i++) {
		if (frags_overlap(off, end, &r->frags[i]))
			return M6_REASM_OVERLAP;
	}
	if (last && r->have_last)
		return M6_REASM_SECOND_LAST;
	if (!last && r->have_last && end > r->end)
		return M6_REASM_PAST_END;
	if (last && r->n_frags > 0 && frag_end(&r->frags[r->n_frags - 1]) > end)
		return M6_REASM_PAST_END;
	if (r->n_frags >= M6_MAX_FRAGMENTS)
		return M6_REASM_TOO_MANY;

	pos = r->n_frags;
	while (pos > 0 && r->frags[pos - 1].offset > off)
		pos--;
	memmove(&r->frags[pos + 1], &r->frags[pos],
		(r->n_frags - pos) * sizeof(r->frags[0]));
	r->frags[pos].offset = (uint16_t)off;
	r->frags[pos].count = (uint16_t)count;
	r->n_frags++;
	if (count > 0)
		memcpy(r->data + off, data, count);
	r->received += count;
	if (last) {
		r->have_last = true;
		r->end = (uint16_t)end;
	}
	return m6_reasm_complete(r, NULL) ? M6_REASM_DONE : M6_REASM_MORE;
}

bool m6_reasm_complete(const struct m6_reasm *r, size_t *len)
{
	if (!r->have_last || r->received != r->end)
		return false;
	if (len != NULL)
		*len = r->end;
	return true;
}
