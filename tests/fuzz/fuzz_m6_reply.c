/*
 * fuzz_m6_reply.c - mode 6 reply validation, reassembly and the variable
 * lookup that follows, driven the way the prober drives them.
 *
 * Input: a 6-octet expectation, then datagrams, each with a 2-octet
 * big-endian length prefix (a length past the end of the input is cut to
 * what is left):
 *
 *     VN | opcode | sequence (2) | association (2) | len (2) | datagram ...
 *
 * Every datagram is checked against two requests: the fixed one the
 * prober sends (VN 2, READVAR, association 0, sequence 0x2a2a like the
 * synthetic packets in tests/data) and the one named by the first six
 * octets, so that real captures with any sequence pass validation. Each
 * request gets its own reassembly, fed the valid non-error fragments until
 * DONE or a fatal status, next to a shadow copy that knows which octets
 * the accepted fragments placed. When complete, the reply is looked up
 * with varlist_find() like classify.c does.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "ntpwire/m6.h"
#include "ntpwire/m6_reasm.h"
#include "ntpwire/varlist.h"

/* 32 full fragments with their framing fit; more input adds nothing. */
#define FUZZ_M6_MAX_INPUT 16384
/* Enough to go past M6_MAX_FRAGMENTS with duplicates and rejects. */
#define FUZZ_M6_MAX_DGRAMS 48
#define FUZZ_M6_PREFIX 6
/* The default of `variable`, what classify.c looks up. */
#define FUZZ_M6_VARIABLE "ntppool_verify"

/* One reassembly under test and its shadow model. */
struct fuzz_pass {
	struct m6_expect expect;        /* the request the replies answer */
	struct m6_reasm reasm;          /* the state under test */
	uint8_t shadow[M6_MAX_TOTAL];   /* octets the accepted fragments carried */
	uint8_t covered[M6_MAX_TOTAL];  /* 1 where an accepted fragment lies */
	size_t n_covered;               /* octets set in covered[] */
	size_t max_end;                 /* highest end of an accepted fragment */
	unsigned n_accepted;            /* fragments accepted (MORE or DONE) */
	bool have_last;                 /* the M-clear fragment was accepted */
	size_t end;                     /* its offset + count */
	bool stopped;                   /* DONE or fatal: fed nothing more */
};

/* Static: two passes are about 90 KiB, too much for a fuzzer's stack. */
static struct fuzz_pass passes[2];

static void pass_init(struct fuzz_pass *ps, const struct m6_expect *expect)
{
	ps->expect = *expect;
	m6_reasm_init(&ps->reasm);
	memset(ps->covered, 0, sizeof(ps->covered));
	ps->n_covered = 0;
	ps->max_end = 0;
	ps->n_accepted = 0;
	ps->have_last = false;
	ps->end = 0;
	ps->stopped = false;
}

/* The reply is complete: look our variable up in it, as classify.c does. */
static void lookup(const struct fuzz_pass *ps, size_t len)
{
	/* An exact-size copy, so a read past the reply is caught by ASan. */
	char *text = malloc(len > 0 ? len : 1);
	struct varlist_item item;

	FUZZ_CHECK(text != NULL);
	memcpy(text, ps->reasm.data, len);
	switch (varlist_find(text, len, FUZZ_M6_VARIABLE, &item)) {
	case VARLIST_FOUND:
		FUZZ_CHECK(item.name_len == strlen(FUZZ_M6_VARIABLE));
		FUZZ_CHECK(fuzz_inside(item.name, item.name_len, text, len));
		FUZZ_CHECK(memcmp(item.name, FUZZ_M6_VARIABLE,
				  item.name_len) == 0);
		if (item.value != NULL)
			FUZZ_CHECK(fuzz_inside(item.value, item.value_len,
					       text, len));
		else
			FUZZ_CHECK(item.value_len == 0);
		break;
	case VARLIST_NOT_FOUND:
	case VARLIST_DUPLICATE:
	case VARLIST_BAD_SYNTAX:
		break;
	default:
		FUZZ_CHECK(!"varlist_find: unknown status");
	}
	free(text);
}

/* Check what m6_reasm_add() said about one fragment against the model. */
static void check_add(struct fuzz_pass *ps, const struct m6_header *hdr,
		      const uint8_t *data, enum m6_reasm_status st,
		      unsigned n_frags_before, size_t received_before)
{
	size_t off = hdr->offset, count = hdr->count, end = off + count;
	size_t len;
	bool complete;

	FUZZ_CHECK(m6_reasm_status_name(st) != NULL);
	FUZZ_CHECK(ps->reasm.n_frags <= M6_MAX_FRAGMENTS);
	FUZZ_CHECK(ps->reasm.received <= M6_MAX_TOTAL);

	switch (st) {
	case M6_REASM_MORE:
	case M6_REASM_DONE:
		FUZZ_CHECK(!m6_reasm_fatal(st));
		FUZZ_CHECK(end <= M6_MAX_TOTAL);
		FUZZ_CHECK(ps->reasm.n_frags == n_frags_before + 1);
		FUZZ_CHECK(ps->reasm.received == received_before + count);
		FUZZ_CHECK(++ps->n_accepted <= M6_MAX_FRAGMENTS);
		/* Accepted fragments never overlap. */
		for (size_t i = off; i < end; i++) {
			FUZZ_CHECK(!ps->covered[i]);
			ps->covered[i] = 1;
		}
		memcpy(ps->shadow + off, data, count);
		ps->n_covered += count;
		if (end > ps->max_end)
			ps->max_end = end;
		if (!hdr->more) {
			FUZZ_CHECK(!ps->have_last);
			ps->have_last = true;
			ps->end = end;
		}
		/* Once the end is known, nothing accepted lies past it. */
		FUZZ_CHECK(!ps->have_last || ps->max_end <= ps->end);
		break;
	case M6_REASM_DUPLICATE:
		/* A true copy of an accepted fragment, and nothing changed. */
		FUZZ_CHECK(!m6_reasm_fatal(st));
		FUZZ_CHECK(ps->reasm.n_frags == n_frags_before);
		FUZZ_CHECK(ps->reasm.received == received_before);
		FUZZ_CHECK(end <= M6_MAX_TOTAL);
		for (size_t i = off; i < end; i++)
			FUZZ_CHECK(ps->covered[i]);
		FUZZ_CHECK(count == 0 ||
			   memcmp(ps->shadow + off, data, count) == 0);
		break;
	case M6_REASM_OVERLAP:
	case M6_REASM_TOO_MANY:
	case M6_REASM_TOO_LONG:
	case M6_REASM_PAST_END:
	case M6_REASM_SECOND_LAST:
	case M6_REASM_EMPTY_MIDDLE:
		FUZZ_CHECK(m6_reasm_fatal(st));
		FUZZ_CHECK(ps->reasm.n_frags == n_frags_before);
		FUZZ_CHECK(ps->reasm.received == received_before);
		ps->stopped = true;
		break;
	default:
		FUZZ_CHECK(!"m6_reasm_add: unknown status");
	}

	/*
	 * Complete exactly when the last fragment is in and the accepted
	 * octets, none past its end and none overlapping, fill [0, end).
	 */
	complete = m6_reasm_complete(&ps->reasm, &len);
	FUZZ_CHECK(complete == (st == M6_REASM_DONE));
	FUZZ_CHECK(complete == (ps->have_last && ps->max_end <= ps->end &&
				ps->n_covered == ps->end));
	if (!complete)
		return;
	FUZZ_CHECK(len == ps->end);
	FUZZ_CHECK(len <= M6_MAX_TOTAL);
	FUZZ_CHECK(memcmp(ps->reasm.data, ps->shadow, len) == 0);
	ps->stopped = true;
	lookup(ps, len);
}

/* One datagram (an exact-size heap copy) against one request. */
static void feed(struct fuzz_pass *ps, const uint8_t *pkt, size_t len)
{
	const struct m6_expect *x = &ps->expect;
	struct m6_header hdr;
	const uint8_t *data = (const uint8_t *)&hdr; /* must become NULL */
	enum m6_check check = m6_parse_reply(pkt, len, x, &hdr, &data);
	unsigned n_frags;
	size_t received;

	FUZZ_CHECK(m6_check_name(check) != NULL);
	if (check != M6_OK) {
		FUZZ_CHECK(data == NULL);
		FUZZ_CHECK(check != M6_BAD_LENGTH || len < M6_HEADER_LEN);
		return;
	}
	/* Everything the header promised was checked, in bounds. */
	FUZZ_CHECK(len >= M6_HEADER_LEN);
	FUZZ_CHECK(data == pkt + M6_HEADER_LEN);
	FUZZ_CHECK(fuzz_inside(data, hdr.count, pkt, len));
	FUZZ_CHECK(hdr.version == x->version && hdr.mode == M6_MODE &&
		   hdr.response && hdr.opcode == x->opcode &&
		   hdr.sequence == x->sequence && hdr.associd == x->associd);
	FUZZ_CHECK(hdr.count <= M6_FRAG_DATA_MAX);
	if (hdr.error) {
		/* The prober ends the probe here; names must exist for 0..7. */
		unsigned code = m6_error_code(&hdr);

		FUZZ_CHECK(code <= 255);
		FUZZ_CHECK((m6_error_name(code) != NULL) == (code <= 7));
		return;
	}
	FUZZ_CHECK((size_t)hdr.offset + hdr.count <= M6_MAX_TOTAL);
	if (ps->stopped)
		return;

	n_frags = ps->reasm.n_frags;
	received = ps->reasm.received;
	check_add(ps, &hdr, data, m6_reasm_add(&ps->reasm, &hdr, data),
		  n_frags, received);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	const struct m6_expect fixed = {
		.version = M6_VERSION_DEFAULT,
		.opcode = M6_OP_READVAR,
		.sequence = 0x2a2a,
		.associd = 0,
	};
	struct m6_expect from_input;
	size_t pos = FUZZ_M6_PREFIX;

	if (size < FUZZ_M6_PREFIX || size > FUZZ_M6_MAX_INPUT)
		return 0;
	/* Masked to the header's field widths so no value is wasted. */
	from_input.version = in[0] & 7;
	from_input.opcode = in[1] & M6_OPCODE_MASK;
	from_input.sequence = (uint16_t)(in[2] << 8 | in[3]);
	from_input.associd = (uint16_t)(in[4] << 8 | in[5]);
	pass_init(&passes[0], &fixed);
	pass_init(&passes[1], &from_input);

	for (unsigned n = 0; n < FUZZ_M6_MAX_DGRAMS && size - pos >= 2; n++) {
		size_t len = (size_t)in[pos] << 8 | in[pos + 1];
		uint8_t *pkt;

		pos += 2;
		if (len > size - pos)
			len = size - pos;
		/* Its own allocation: a read past the datagram is caught. */
		pkt = malloc(len > 0 ? len : 1);
		FUZZ_CHECK(pkt != NULL);
		memcpy(pkt, in + pos, len);
		pos += len;
		feed(&passes[0], pkt, len);
		feed(&passes[1], pkt, len);
		free(pkt);
	}
	return 0;
}
