/*
 * m6_reasm.h - reassembly of a fragmented mode 6 reply.
 *
 * Fragments are placed by offset into one buffer; a variable may be split
 * mid-value, so callers reassemble bytes first and parse afterwards.
 * Rules follow ntpq: a fragment repeated at the same offset with the same
 * length (and the same M bit and octets) is dropped; any other overlap,
 * including a "repeat" with different octets or M bit, is fatal; at most M6_MAX_FRAGMENTS
 * fragments and M6_MAX_TOTAL octets; complete once the fragment without the
 * M bit has arrived and the data from offset 0 to its end has no hole.
 *
 * The state is a plain struct (about 15 KiB) embedded by its owner:
 * m6_reasm_init() before use, nothing to free.
 */
#ifndef NTPWIRE_M6_REASM_H
#define NTPWIRE_M6_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "m6.h"

struct m6_fragment {
	uint16_t offset; /* first data octet */
	uint16_t count;  /* octets */
};

struct m6_reasm {
	uint8_t data[M6_MAX_TOTAL];                 /* placed by offset */
	struct m6_fragment frags[M6_MAX_FRAGMENTS]; /* accepted, sorted by offset */
	unsigned n_frags;                           /* used entries of frags */
	bool have_last;                             /* the M-clear fragment arrived */
	uint16_t end;                               /* its offset + count */
	size_t received;                            /* distinct octets accepted */
};

enum m6_reasm_status {
	M6_REASM_MORE = 0,     /* accepted; reply not complete yet */
	M6_REASM_DONE,         /* accepted; reply complete */
	M6_REASM_DUPLICATE,    /* same offset and count as before: ignored */
	M6_REASM_OVERLAP,      /* overlaps an earlier fragment: fatal */
	M6_REASM_TOO_MANY,     /* more than M6_MAX_FRAGMENTS: fatal */
	M6_REASM_TOO_LONG,     /* past M6_MAX_TOTAL: fatal */
	M6_REASM_PAST_END,     /* data beyond the last fragment's end: fatal */
	M6_REASM_SECOND_LAST,  /* two different fragments without M: fatal */
	M6_REASM_EMPTY_MIDDLE, /* a zero-length fragment with M set: fatal */
};

/* Stable, human-readable name, e.g. "overlapping fragments". */
const char *m6_reasm_status_name(enum m6_reasm_status status);

/* True for statuses after which the reply must be abandoned. */
bool m6_reasm_fatal(enum m6_reasm_status status);

void m6_reasm_init(struct m6_reasm *r);

/*
 * Add one validated, non-error fragment (hdr and data as returned by
 * m6_parse_reply()). Once a fatal status has been returned, or DONE, the
 * caller stops feeding this state.
 */
enum m6_reasm_status m6_reasm_add(struct m6_reasm *r,
				  const struct m6_header *hdr,
				  const uint8_t *data)
	__attribute__((warn_unused_result));

/* True when complete; then *len is the reply's length (r->end). */
bool m6_reasm_complete(const struct m6_reasm *r, size_t *len);

#endif
