/*
 * test_reasm.c - mode 6 fragment reassembly: the real two-fragment V3
 * reply, synthetic sets fed in every order with duplicates interleaved,
 * and hostile sets that must fail for the stated reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hexfile.h"
#include "ntpwire/m6.h"
#include "ntpwire/m6_reasm.h"
#include "ntpwire/varlist.h"

#define SET_MAX 40
#define SET_BUF (SET_MAX * 512)

/* A packet set from one file, each packet already validated. */
struct frag_set {
	uint8_t buf[SET_BUF];
	struct hexpkt pkts[SET_MAX];
	struct m6_header hdr[SET_MAX];
	const uint8_t *data[SET_MAX];
	size_t n;
};

/* The reassembly state is ~15 KiB: keep it and the sets off the stack. */
static struct m6_reasm reasm;
static struct frag_set set;

static const char set_data[] =
	"ntppool_verify=tok-3f9a1c2b7d, plainvar=abc, spaced=two words, comma\r\n";

static void parse_all(struct frag_set *s, uint16_t sequence)
{
	struct m6_expect e = { M6_VERSION_DEFAULT, M6_OP_READVAR, sequence, 0 };

	for (size_t i = 0; i < s->n; i++) {
		enum m6_check c = m6_parse_reply(s->pkts[i].p, s->pkts[i].len,
						 &e, &s->hdr[i], &s->data[i]);
		if (c != M6_OK)
			fail_msg("packet %zu: %s", i, m6_check_name(c));
	}
}

static void load_set(const char *name, struct frag_set *s, uint16_t sequence)
{
	if (hexfile_load_set(name, s->buf, sizeof(s->buf), s->pkts, SET_MAX,
			     &s->n) != 0)
		fail_msg("cannot load %s", name);
	parse_all(s, sequence);
}

/* Two single-packet files as one set. */
static void load_pair(const char *a, const char *b, struct frag_set *s,
		      uint16_t sequence)
{
	size_t la = 0, lb = 0;

	if (hexfile_load(a, s->buf, 1024, &la) != 0 ||
	    hexfile_load(b, s->buf + 1024, 1024, &lb) != 0)
		fail_msg("cannot load %s or %s", a, b);
	s->pkts[0].p = s->buf;
	s->pkts[0].len = la;
	s->pkts[1].p = s->buf + 1024;
	s->pkts[1].len = lb;
	s->n = 2;
	parse_all(s, sequence);
}

static enum m6_reasm_status add(const struct frag_set *s, size_t i)
{
	return m6_reasm_add(&reasm, &s->hdr[i], s->data[i]);
}

static void expect_status(enum m6_reasm_status got, enum m6_reasm_status want,
			  const char *what)
{
	if (got != want)
		fail_msg("%s: got \"%s\", want \"%s\"", what,
			 m6_reasm_status_name(got), m6_reasm_status_name(want));
}

/*
 * Feed s in the order perm[0..n). After each fragment, re-feed every
 * fragment seen so far: all must be DUPLICATE, and DONE must come exactly
 * with the last new fragment. Then compare the reassembled bytes.
 */
static void feed_order(const struct frag_set *s, const size_t *perm,
		       bool with_dups, const void *want, size_t want_len)
{
	size_t len = 0;

	m6_reasm_init(&reasm);
	for (size_t k = 0; k < s->n; k++) {
		bool final = k + 1 == s->n;

		expect_status(add(s, perm[k]),
			      final ? M6_REASM_DONE : M6_REASM_MORE, "new fragment");
		if (!with_dups || final)
			continue;
		for (size_t j = 0; j <= k; j++)
			expect_status(add(s, perm[j]), M6_REASM_DUPLICATE,
				      "repeat");
		assert_false(m6_reasm_complete(&reasm, &len));
	}
	assert_true(m6_reasm_complete(&reasm, &len));
	assert_int_equal(len, want_len);
	assert_memory_equal(reasm.data, want, want_len);
}

/* Heap's algorithm: every permutation of n <= 6 fragments, both ways. */
static size_t feed_all_orders(const struct frag_set *s, const void *want,
			      size_t want_len)
{
	size_t perm[6] = { 0 }, c[6] = { 0 }, n = s->n, orders = 0, i = 0;

	assert_true(n <= 6);
	for (size_t k = 0; k < n; k++)
		perm[k] = k;
	feed_order(s, perm, false, want, want_len);
	feed_order(s, perm, true, want, want_len);
	orders++;
	while (i < n) {
		if (c[i] < i) {
			size_t a = i % 2 == 0 ? 0 : c[i], t = perm[a];

			perm[a] = perm[i];
			perm[i] = t;
			feed_order(s, perm, false, want, want_len);
			feed_order(s, perm, true, want, want_len);
			orders++;
			c[i]++;
			i = 0;
		} else {
			c[i] = 0;
			i++;
		}
	}
	return orders;
}

/* "longvar=" + the 700-character value from the capture's ntp.conf + CRLF. */
static size_t v3_expected(char *out)
{
	size_t n = 0;

	memcpy(out, "longvar=", 8);
	n = 8;
	for (int i = 0; i < 50; i++)
		n += (size_t)sprintf(out + n, "%03d-abcdefghij", i);
	memcpy(out + n, "\r\n", 2);
	return n + 2;
}

static void test_v3_both_orders(void **state)
{
	static char want[1024];
	size_t want_len = v3_expected(want);
	struct varlist_item item;

	(void)state;
	assert_int_equal(want_len, 710);
	load_pair("m6_v3_frag1.hex", "m6_v3_frag2.hex", &set, 12);
	assert_int_equal(feed_all_orders(&set, want, want_len), 2);

	/* The value was split mid-word across fragments: parse after. */
	assert_int_equal(varlist_find((const char *)reasm.data, 710, "longvar",
				      &item), VARLIST_FOUND);
	assert_int_equal(item.value_len, 700);
	assert_memory_equal(item.value, want + 8, 700);
}

static void test_three_fragments_all_orders(void **state)
{
	(void)state;
	load_set("m6_frags3.hex", &set, 0x2a2a);
	assert_int_equal(set.n, 3);
	assert_int_equal(feed_all_orders(&set, set_data, 70), 6);
}

/* A zero-length final fragment is legal and may arrive first. */
static void test_empty_last_all_orders(void **state)
{
	(void)state;
	load_set("m6_frags4_empty_last.hex", &set, 0x2a2a);
	assert_int_equal(set.n, 4);
	assert_int_equal(set.hdr[3].count, 0);
	assert_false(set.hdr[3].more);
	assert_int_equal(feed_all_orders(&set, set_data, 70), 24);
}

static void test_empty_reply(void **state)
{
	size_t len = 99;

	(void)state;
	load_set("m6_empty_reply.hex", &set, 1);
	m6_reasm_init(&reasm);
	expect_status(add(&set, 0), M6_REASM_DONE, "empty reply");
	assert_true(m6_reasm_complete(&reasm, &len));
	assert_int_equal(len, 0);
}

static void test_single_fragment(void **state)
{
	size_t len = 0;

	(void)state;
	load_set("m6_v1_reply.hex", &set, 1);
	m6_reasm_init(&reasm);
	assert_false(m6_reasm_complete(&reasm, &len));
	expect_status(add(&set, 0), M6_REASM_DONE, "V1");
	assert_true(m6_reasm_complete(&reasm, &len));
	assert_int_equal(len, 31);
	assert_memory_equal(reasm.data, "ntppool_verify=tok-3f9a1c2b7d\r\n", 31);
}

/* 32 fragments is the limit ntpq allows: still complete, in any order. */
static void test_32_fragments(void **state)
{
	static char want[128];
	size_t perm[32], len = 0;

	(void)state;
	for (int i = 0; i < 32; i++) {
		char tmp[16];

		snprintf(tmp, sizeof(tmp), "v%02d,", i);
		memcpy(want + 4 * i, tmp, 4);
	}
	load_set("m6_frags32.hex", &set, 0x2a2a);
	assert_int_equal(set.n, 32);
	for (size_t i = 0; i < 32; i++)
		perm[i] = i;
	feed_order(&set, perm, true, want, sizeof(want));
	for (size_t i = 0; i < 32; i++)
		perm[i] = 31 - i;
	feed_order(&set, perm, false, want, sizeof(want));
	/* Odd ones first, then even ones. */
	for (size_t i = 0; i < 16; i++) {
		perm[i] = 2 * i + 1;
		perm[16 + i] = 2 * i;
	}
	feed_order(&set, perm, false, want, sizeof(want));
	assert_true(m6_reasm_complete(&reasm, &len));
}

static void test_33_fragments(void **state)
{
	(void)state;
	load_set("m6_reasm_33_frags.hex", &set, 0x2a2a);
	assert_int_equal(set.n, 33);
	m6_reasm_init(&reasm);
	for (size_t i = 0; i < 32; i++)
		expect_status(add(&set, i), M6_REASM_MORE, "fragment");
	/* A repeat is still just a repeat, even when full. */
	expect_status(add(&set, 5), M6_REASM_DUPLICATE, "repeat");
	expect_status(add(&set, 32), M6_REASM_TOO_MANY, "33rd");
	assert_true(m6_reasm_fatal(M6_REASM_TOO_MANY));
}

struct hostile_set {
	const char *file;
	enum m6_reasm_status want; /* for the last packet; earlier ones MORE */
};

static const struct hostile_set hostile_sets[] = {
	{ "m6_reasm_overlap.hex", M6_REASM_OVERLAP },
	{ "m6_reasm_same_offset.hex", M6_REASM_OVERLAP },
	{ "m6_reasm_conflicting_dup.hex", M6_REASM_OVERLAP },
	{ "m6_reasm_dup_m_flip.hex", M6_REASM_OVERLAP },
	{ "m6_reasm_empty_inside.hex", M6_REASM_OVERLAP },
	{ "m6_reasm_empty_at_start.hex", M6_REASM_OVERLAP },
	{ "m6_reasm_start_at_empty.hex", M6_REASM_OVERLAP },
	{ "m6_reasm_gap.hex", M6_REASM_MORE },
	{ "m6_reasm_gap_at_start.hex", M6_REASM_MORE },
	{ "m6_reasm_second_last.hex", M6_REASM_SECOND_LAST },
	{ "m6_reasm_past_end.hex", M6_REASM_PAST_END },
	{ "m6_reasm_last_before_data.hex", M6_REASM_PAST_END },
	{ "m6_reasm_empty_middle.hex", M6_REASM_EMPTY_MIDDLE },
};

static void test_hostile_sets(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(hostile_sets) / sizeof(hostile_sets[0]);
	     i++) {
		const struct hostile_set *c = &hostile_sets[i];
		enum m6_reasm_status st = M6_REASM_MORE;
		size_t len = 0;

		load_set(c->file, &set, 0x2a2a);
		m6_reasm_init(&reasm);
		for (size_t k = 0; k < set.n; k++) {
			st = add(&set, k);
			if (k + 1 < set.n && st != M6_REASM_MORE)
				fail_msg("%s: packet %zu: %s", c->file, k,
					 m6_reasm_status_name(st));
		}
		if (st != c->want)
			fail_msg("%s: got \"%s\", want \"%s\"", c->file,
				 m6_reasm_status_name(st),
				 m6_reasm_status_name(c->want));
		/* Nothing hostile ever completes. */
		assert_false(m6_reasm_complete(&reasm, &len));
	}
	print_message("%zu hostile fragment sets\n",
		      sizeof(hostile_sets) / sizeof(hostile_sets[0]));
}

/* A hole never closes by repetition, whatever arrives again. */
static void test_gap_never_done(void **state)
{
	size_t len = 0;

	(void)state;
	load_set("m6_reasm_gap.hex", &set, 0x2a2a);
	m6_reasm_init(&reasm);
	for (int round = 0; round < 3; round++) {
		for (size_t k = 0; k < set.n; k++) {
			enum m6_reasm_status st = add(&set, k);

			assert_true(st == M6_REASM_MORE ||
				    st == M6_REASM_DUPLICATE);
			assert_false(m6_reasm_complete(&reasm, &len));
		}
	}
	assert_int_equal(reasm.received, 46);
}

/* Only reachable by a caller that skipped m6_parse_reply(): still safe. */
static void test_too_long(void **state)
{
	static const uint8_t four[4] = "ab\r\n";
	struct m6_header h = { .version = 2, .mode = 6, .response = true,
			       .opcode = 2, .offset = 14973, .count = 4 };

	(void)state;
	m6_reasm_init(&reasm);
	expect_status(m6_reasm_add(&reasm, &h, four), M6_REASM_TOO_LONG,
		      "one past the end");
	h.offset = 65535;
	h.count = 468;
	expect_status(m6_reasm_add(&reasm, &h, four), M6_REASM_TOO_LONG,
		      "far past the end");
	h.offset = 14972;
	h.count = 4;
	expect_status(m6_reasm_add(&reasm, &h, four), M6_REASM_MORE,
		      "last octets of the largest reply");
	assert_memory_equal(reasm.data + 14972, four, 4);
}

/* NTPsec >= 1.2.3: fragment, then an error packet ends the exchange. */
static void test_v5_fragment_then_error(void **state)
{
	struct m6_header h;
	const uint8_t *data;
	struct m6_expect e = { 2, 2, 35, 0 };
	size_t len = 0;

	(void)state;
	load_pair("m6_v5_frag1.hex", "m6_v5_error.hex", &set, 35);
	m6_reasm_init(&reasm);
	expect_status(add(&set, 0), M6_REASM_MORE, "V5 fragment");
	assert_true(set.hdr[1].error);
	assert_int_equal(m6_error_code(&set.hdr[1]), M6_ERR_UNKNOWNVAR);
	assert_string_equal(m6_error_name(m6_error_code(&set.hdr[1])),
			    "unknown variable");
	assert_false(m6_reasm_complete(&reasm, &len));
	assert_int_equal(m6_parse_reply(set.pkts[1].p, set.pkts[1].len, &e, &h,
					&data), M6_OK);
}

static void test_status_names(void **state)
{
	static const struct {
		enum m6_reasm_status st;
		const char *name;
		bool fatal;
	} names[] = {
		{ M6_REASM_MORE, "more fragments expected", false },
		{ M6_REASM_DONE, "complete", false },
		{ M6_REASM_DUPLICATE, "duplicate fragment", false },
		{ M6_REASM_OVERLAP, "overlapping fragments", true },
		{ M6_REASM_TOO_MANY, "too many fragments", true },
		{ M6_REASM_TOO_LONG, "reply too long", true },
		{ M6_REASM_PAST_END, "fragment past end", true },
		{ M6_REASM_SECOND_LAST, "second last fragment", true },
		{ M6_REASM_EMPTY_MIDDLE, "empty middle fragment", true },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_string_equal(m6_reasm_status_name(names[i].st),
				    names[i].name);
		assert_int_equal(m6_reasm_fatal(names[i].st), names[i].fatal);
	}
	assert_string_equal(m6_reasm_status_name((enum m6_reasm_status)77),
			    "unknown status");
	assert_true(m6_reasm_fatal((enum m6_reasm_status)77));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v3_both_orders),
		cmocka_unit_test(test_three_fragments_all_orders),
		cmocka_unit_test(test_empty_last_all_orders),
		cmocka_unit_test(test_empty_reply),
		cmocka_unit_test(test_single_fragment),
		cmocka_unit_test(test_32_fragments),
		cmocka_unit_test(test_33_fragments),
		cmocka_unit_test(test_hostile_sets),
		cmocka_unit_test(test_gap_never_done),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_v5_fragment_then_error),
		cmocka_unit_test(test_status_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
