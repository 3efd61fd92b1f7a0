/*
 * The store's pure half: PostgreSQL array literals for the batched WRITE,
 * the reading of the rows LEASE, WRITE, EXPIRE and COUNT return, and the
 * bounded queue of unwritten results. The rows are hand-made PGresults,
 * so no database is needed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_queue.h"
#include "store/store_sql.h"

/* A result of `ncols` text columns holding rows[nrows][ncols] (NULL: SQL NULL). */
static PGresult *make_result(int ncols, int nrows, const char *const *cells)
{
	PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	PGresAttDesc attrs[16];
	static char colname[] = "c";

	assert_non_null(res);
	assert_true(ncols <= 16);
	memset(attrs, 0, sizeof(attrs));
	for (int i = 0; i < ncols; i++) {
		attrs[i].name = colname;
		attrs[i].typid = 25; /* text */
		attrs[i].typlen = -1;
		attrs[i].atttypmod = -1;
	}
	assert_int_equal(PQsetResultAttrs(res, ncols, attrs), 1);
	for (int r = 0; r < nrows; r++)
		for (int c = 0; c < ncols; c++) {
			const char *v = cells[r * ncols + c];
			assert_int_equal(PQsetvalue(res, r, c, (char *)v,
						    v ? (int)strlen(v) : -1),
					 1);
		}
	return res;
}

static void test_array_plain_and_null(void **state)
{
	struct pg_array a;

	(void)state;
	pg_array_open(&a);
	pg_array_close(&a);
	assert_string_equal(a.buf, "{}");
	pg_array_free(&a);

	pg_array_open(&a);
	pg_array_push(&a, "1", false);
	pg_array_push(&a, NULL, false);
	pg_array_push(&a, "-3.250", false);
	pg_array_close(&a);
	assert_string_equal(a.buf, "{1,NULL,-3.250}");
	assert_int_equal(a.len, strlen(a.buf));
	pg_array_free(&a);
}

static void test_array_quoting(void **state)
{
	struct pg_array a;

	(void)state;
	pg_array_open(&a);
	/* A detail a server chose: quotes, backslashes, commas, braces. */
	pg_array_push(&a, "say \"hi\", {x} \\ y", true);
	pg_array_push(&a, "", true);
	pg_array_push(&a, NULL, true);
	/* The word NULL quoted is a string, not SQL NULL. */
	pg_array_push(&a, "NULL", true);
	pg_array_close(&a);
	assert_string_equal(a.buf,
			    "{\"say \\\"hi\\\", {x} \\\\ y\",\"\",NULL,\"NULL\"}");
	pg_array_free(&a);
}

static void test_array_grows(void **state)
{
	struct pg_array a;
	char big[1000];
	size_t want = 2;

	(void)state;
	memset(big, '"', sizeof(big) - 1); /* every octet doubles */
	big[sizeof(big) - 1] = '\0';
	pg_array_open(&a);
	for (int i = 0; i < 50; i++) {
		pg_array_push(&a, big, true);
		want += (i > 0) + 2 + 2 * strlen(big);
	}
	pg_array_close(&a);
	assert_int_equal(strlen(a.buf), want);
	assert_int_equal(a.len, want);
	assert_true(a.buf[0] == '{' && a.buf[want - 1] == '}');
	pg_array_free(&a);
}

static void test_write_params(void **state)
{
	struct store_result r[3];
	struct store_write_params wp;

	(void)state;
	memset(r, 0, sizeof(r));
	r[0].id = 42;
	snprintf(r[0].lease_token, sizeof(r[0].lease_token),
		 "0b7e9a44-3c1f-4a55-9a0e-2f1d6c1e8b11");
	r[0].outcome = OUTCOME_VERIFIED;
	snprintf(r[0].detail, sizeof(r[0].detail), "token \"ok\"");
	snprintf(r[0].source, sizeof(r[0].source), "192.0.2.10");
	r[0].rtt_ms = 12.3456;
	r[0].attempted_at = 1700000000.5;
	r[0].retry_after_s = 60;
	r[0].next = &r[1];
	/* A lease given back unprobed: no outcome, detail, source or time. */
	r[1].id = -7;
	r[1].outcome = -1;
	snprintf(r[1].detail, sizeof(r[1].detail), "ignored");
	r[1].rtt_ms = -1;
	r[1].attempted_at = 99;
	r[1].retry_after_s = 0.25;
	r[1].next = &r[2];
	r[1].contrary = true;
	r[1].proof_version = 3;
	r[0].proof_version = 1;
	r[2].id = 9; /* beyond the limit: not included */

	struct store_write_who who = { "fra1", "prober-a", true };
	store_write_params_build(&wp, r, 2, &who);
	assert_int_equal(wp.n, 2);
	assert_string_equal(wp.values[0], "fra1");
	assert_string_equal(wp.values[1], "prober-a");
	assert_string_equal(wp.values[2], "t");
	assert_string_equal(wp.values[3], "{42,-7}");
	assert_string_equal(wp.values[4],
			    "{\"0b7e9a44-3c1f-4a55-9a0e-2f1d6c1e8b11\",NULL}");
	assert_string_equal(wp.values[5], "{\"verified\",NULL}");
	assert_string_equal(wp.values[6], "{\"token \\\"ok\\\"\",NULL}");
	assert_string_equal(wp.values[7], "{\"192.0.2.10\",NULL}");
	assert_string_equal(wp.values[8], "{12.346,NULL}");
	assert_string_equal(wp.values[9], "{1700000000.500000,NULL}");
	assert_string_equal(wp.values[10], "{60.000,0.250}");
	assert_string_equal(wp.values[11], "{f,t}");
	assert_string_equal(wp.values[12], "{1,3}");
	store_write_params_free(&wp);

	who.audit = false;
	store_write_params_build(&wp, NULL, 1000, &who);
	assert_int_equal(wp.n, 0);
	assert_string_equal(wp.values[2], "f");
	assert_string_equal(wp.values[3], "{}");
	store_write_params_free(&wp);
}

static void test_lease_rows(void **state)
{
	static const char *const cells[] = {
		"12", "192.0.2.5", "tok-abc", "3",
		"11111111-2222-3333-4444-555555555555", "setvar", NULL, NULL,
		NULL, "1",
		"9223372036854775807", "2001:db8::1", "", "0",
		"66666666-2222-3333-4444-555555555555", "key", "65535",
		"AES128", "00112233445566778899aabbccddeeff", "7",
	};
	PGresult *res = make_result(10, 2, cells);
	struct store_lease l;

	(void)state;
	store_sql_lease_row(res, 0, &l);
	assert_int_equal(l.id, 12);
	assert_string_equal(l.server, "192.0.2.5");
	assert_string_equal(l.token, "tok-abc");
	assert_int_equal(l.attempts, 3);
	assert_string_equal(l.lease_token,
			    "11111111-2222-3333-4444-555555555555");
	assert_false(l.key_method);
	assert_int_equal(l.proof_version, 1);
	assert_int_equal(l.key_id, 0);
	assert_string_equal(l.key_type, "");
	assert_string_equal(l.key_secret, "");

	store_sql_lease_row(res, 1, &l);
	assert_int_equal(l.id, INT64_MAX);
	assert_string_equal(l.server, "2001:db8::1");
	assert_true(l.key_method);
	assert_int_equal(l.key_id, 65535);
	assert_string_equal(l.key_type, "AES128");
	assert_string_equal(l.key_secret, "00112233445566778899aabbccddeeff");
	PQclear(res);
}

static void test_written_and_expired_rows(void **state)
{
	static const char *const written[] = {
		"5", "192.0.2.1", "verified", "prober-a 192.0.2.10",
		"6", "192.0.2.2", "pending", NULL,
		"7", "192.0.2.3", "cancelled", NULL,
		"8", "192.0.2.4", "archived", NULL,
	};
	static const char *const expired[] = { "31", "2001:db8::9" };
	static const char *const count[] = { "1234" };
	PGresult *res = make_result(4, 4, written);
	struct store_written w;

	(void)state;
	store_sql_written_row(res, 0, &w);
	assert_int_equal(w.id, 5);
	assert_string_equal(w.server, "192.0.2.1");
	assert_int_equal(w.state, VERIFICATION_VERIFIED);
	assert_string_equal(w.verified_by, "prober-a 192.0.2.10");
	store_sql_written_row(res, 1, &w);
	assert_int_equal(w.state, VERIFICATION_PENDING);
	assert_string_equal(w.verified_by, ""); /* NULL reads as "" */
	store_sql_written_row(res, 2, &w);
	assert_int_equal(w.state, VERIFICATION_CANCELLED);
	store_sql_written_row(res, 3, &w);
	assert_int_equal(w.state, VERIFICATION_UNKNOWN);
	assert_int_equal(store_sql_written_id(res, 3), 8);
	PQclear(res);

	res = make_result(2, 1, expired);
	store_sql_expired_row(res, 0, &w);
	assert_int_equal(w.id, 31);
	assert_string_equal(w.server, "2001:db8::9");
	assert_int_equal(w.state, VERIFICATION_EXPIRED);
	assert_string_equal(w.verified_by, "");
	PQclear(res);

	res = make_result(1, 1, count);
	assert_int_equal(store_sql_count_value(res), 1234);
	PQclear(res);
}

static void test_state_names(void **state)
{
	(void)state;
	for (int s = VERIFICATION_PENDING; s <= VERIFICATION_UNKNOWN; s++)
		assert_int_equal(verification_state_parse(
					 verification_state_name(
						 (enum verification_state)s)),
				 s == VERIFICATION_UNKNOWN ? VERIFICATION_UNKNOWN
							   : s);
	assert_string_equal(verification_state_name(VERIFICATION_EXPIRED),
			    "expired");
	assert_string_equal(verification_state_name((enum verification_state)99),
			    "unknown");
	assert_int_equal(verification_state_parse("Verified"),
			 VERIFICATION_UNKNOWN);
	assert_int_equal(verification_state_parse(""), VERIFICATION_UNKNOWN);
}

/* The statements name as many parameters as the senders pass. */
static void test_statement_parameters(void **state)
{
	(void)state;
	assert_non_null(strstr(store_sql_write, "$9"));
	assert_non_null(strstr(store_sql_write, "$13"));
	assert_null(strstr(store_sql_write, "$14"));
	assert_non_null(strstr(store_sql_lease, "$5"));
	assert_null(strstr(store_sql_lease, "$6"));
	assert_non_null(strstr(store_sql_expire, "$1"));
	assert_null(strstr(store_sql_expire, "$2"));
}


static void test_params_and_errors(void **state)
{
	struct store_sql_params p;
	char buf[32];

	(void)state;
	store_sql_lease_params(&p, 250, "prober-a", 60000, 259200000, "fra1");
	assert_int_equal(p.n, 5);
	assert_string_equal(p.values[4], "fra1");
	assert_string_equal(p.values[0], "250");
	assert_string_equal(p.values[1], "prober-a");
	assert_string_equal(p.values[2], "60000");
	assert_string_equal(p.values[3], "259200000");
	store_sql_expire_params(&p, UINT64_MAX);
	assert_int_equal(p.n, 1);
	assert_string_equal(p.values[0], "18446744073709551615");

	assert_string_equal(store_sql_error_text("FATAL: no such role \n \n",
						 buf, sizeof(buf)),
			    "FATAL: no such role");
	assert_string_equal(store_sql_error_text("\n", buf, sizeof(buf)),
			    "connection lost");
	assert_string_equal(store_sql_error_text("", buf, sizeof(buf)),
			    "connection lost");
	/* Longer than the buffer: cut, never overrun. */
	store_sql_error_text("0123456789012345678901234567890123456789", buf,
			     sizeof(buf));
	assert_int_equal(strlen(buf), sizeof(buf) - 1);
}

/*
 * The WRITE is the database's ntpverify_record(): attempts stop at the
 * schema's bound there (tests/integration/quorum_*.sh exercise it); here
 * only that every parameter reaches it, the audit switch included.
 */
static void test_write_calls_record(void **state)
{
	(void)state;
	assert_int_equal(STORE_ATTEMPTS_MAX, 1000000);
	assert_int_equal(atoi(STORE_ATTEMPTS_MAX_TEXT), STORE_ATTEMPTS_MAX);
	assert_non_null(strstr(store_sql_write, "ntpverify_record("));
	assert_non_null(strstr(store_sql_write, "$3::boolean"));
	assert_non_null(strstr(store_sql_register, "ntpverify_register("));
	assert_int_equal(STORE_WRITE_PARAMS, STORE_WRITE_ARRAYS + 3);
}

static void test_written_has(void **state)
{
	static const char *const written[] = {
		"5", "192.0.2.1", "pending", NULL,
		"-9", "192.0.2.2", "verified", "p 192.0.2.10",
	};
	PGresult *res = make_result(4, 2, written);

	(void)state;
	assert_true(store_sql_written_has(res, 5));
	assert_true(store_sql_written_has(res, -9));
	assert_false(store_sql_written_has(res, 6));
	PQclear(res);
}

/* A result for row id with an outcome (< 0: a lease given back). */
static struct store_result result(int64_t id, int outcome)
{
	struct store_result r;

	memset(&r, 0, sizeof(r));
	r.id = id;
	r.outcome = outcome;
	return r;
}

/* The ids in the queue, oldest first, as "1,2,3". */
static const char *queue_ids(const struct store_queue *q)
{
	static char buf[256];
	size_t n = 0;

	buf[0] = '\0';
	for (const struct store_result *r = q->head; r; r = r->next)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%lld",
				      n ? "," : "", (long long)r->id);
	return buf;
}

static void test_queue_bound(void **state)
{
	struct store_queue q;
	struct store_result r;

	(void)state;
	store_queue_init(&q);
	for (int i = 1; i <= 3; i++) {
		r = result(i, i == 1 ? OUTCOME_VERIFIED : OUTCOME_NO_RESPONSE);
		assert_true(store_queue_push(&q, &r, 3, 0));
	}
	assert_string_equal(queue_ids(&q), "1,2,3");
	/* Full: the oldest that is not verified makes room. */
	r = result(4, OUTCOME_UNREACHABLE);
	assert_true(store_queue_push(&q, &r, 3, 0));
	assert_string_equal(queue_ids(&q), "1,3,4");
	assert_int_equal(q.queued, 3);
	assert_int_equal(q.dropped, 1);
	/* Results in the WRITE in flight are not dropped either. */
	r = result(5, -1);
	assert_true(store_queue_push(&q, &r, 3, 2));
	assert_string_equal(queue_ids(&q), "1,3,5");
	assert_int_equal(q.dropped, 2);

	store_queue_pop(&q, 2);
	assert_string_equal(queue_ids(&q), "5");
	r = result(6, OUTCOME_VERIFIED);
	assert_true(store_queue_push(&q, &r, 3, 0));
	assert_string_equal(queue_ids(&q), "5,6");
	store_queue_pop(&q, 10);
	assert_null(q.head);
	assert_int_equal(q.queued, 0);
	/* The tail was reset: pushing after emptying still links. */
	r = result(7, OUTCOME_MALFORMED);
	assert_true(store_queue_push(&q, &r, 3, 0));
	assert_string_equal(queue_ids(&q), "7");
	store_queue_clear(&q);
	assert_null(q.head);
}

static void test_queue_all_verified(void **state)
{
	struct store_queue q;
	struct store_result r;

	(void)state;
	store_queue_init(&q);
	for (int i = 1; i <= 4; i++) {
		r = result(i, OUTCOME_VERIFIED);
		assert_true(store_queue_push(&q, &r, 2, 0));
	}
	/* Verified results are facts: kept past the bound. */
	assert_string_equal(queue_ids(&q), "1,2,3,4");
	assert_int_equal(q.dropped, 0);
	/* Dropping the last one keeps the tail right. */
	r = result(5, OUTCOME_MALFORMED);
	assert_true(store_queue_push(&q, &r, 5, 0));
	r = result(6, OUTCOME_MALFORMED);
	assert_true(store_queue_push(&q, &r, 5, 0));
	assert_string_equal(queue_ids(&q), "1,2,3,4,6");
	r = result(8, OUTCOME_MALFORMED);
	assert_true(store_queue_push(&q, &r, 5, 0));
	assert_string_equal(queue_ids(&q), "1,2,3,4,8");
	store_queue_clear(&q);
}

static void test_queue_park(void **state)
{
	struct store_queue q, parked;
	struct store_result r;
	char sql[96];

	(void)state;
	store_queue_init(&q);
	store_queue_init(&parked);
	store_queue_move_head(&q, &parked); /* empty: nothing */
	store_queue_splice_front(&q, &parked);
	assert_null(q.head);
	for (int i = 1; i <= 3; i++) {
		r = result(i, i == 1 ? OUTCOME_VERIFIED : OUTCOME_NO_RESPONSE);
		assert_true(store_queue_push(&q, &r, 5, 0));
	}
	/* The result that waits for a lock leaves the queue... */
	store_queue_move_head(&q, &parked);
	assert_string_equal(queue_ids(&q), "2,3");
	assert_string_equal(queue_ids(&parked), "1");
	assert_int_equal(q.queued, 2);
	assert_int_equal(parked.queued, 1);
	store_queue_move_head(&q, &parked);
	assert_string_equal(queue_ids(&parked), "1,2");
	/* ... new ones queue behind the rest ... */
	r = result(4, OUTCOME_MALFORMED);
	assert_true(store_queue_push(&q, &r, 5, 0));
	assert_string_equal(queue_ids(&q), "3,4");
	/* ... and the parked go first again, in their order. */
	store_queue_splice_front(&q, &parked);
	assert_string_equal(queue_ids(&q), "1,2,3,4");
	assert_int_equal(q.queued, 4);
	assert_null(parked.head);
	assert_int_equal(parked.queued, 0);
	r = result(5, OUTCOME_MALFORMED);
	assert_true(store_queue_push(&q, &r, 9, 0));
	assert_string_equal(queue_ids(&q), "1,2,3,4,5");
	/* Into an empty queue, the tail follows. */
	store_queue_move_head(&q, &parked);
	store_queue_pop(&q, 10);
	store_queue_splice_front(&q, &parked);
	r = result(6, OUTCOME_MALFORMED);
	assert_true(store_queue_push(&q, &r, 9, 0));
	assert_string_equal(queue_ids(&q), "1,6");
	store_queue_clear(&q);
	/* A parked queue emptied by moving its only result links again. */
	r = result(7, OUTCOME_MALFORMED);
	assert_true(store_queue_push(&parked, &r, 9, 0));
	store_queue_move_head(&parked, &q);
	r = result(8, OUTCOME_MALFORMED);
	assert_true(store_queue_push(&parked, &r, 9, 0));
	assert_string_equal(queue_ids(&parked), "8");
	store_queue_clear(&parked);
	store_queue_clear(&q);

	/* The session's setup: the lock timeout in ms, then LISTEN. */
	store_sql_listen_text(sql, sizeof(sql), 10000);
	assert_string_equal(sql, "SET lock_timeout = 10000; LISTEN ntpverify_due");
	store_sql_listen_text(sql, sizeof(sql), 0);
	assert_string_equal(sql, "SET lock_timeout = 0; LISTEN ntpverify_due");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_array_plain_and_null),
		cmocka_unit_test(test_array_quoting),
		cmocka_unit_test(test_array_grows),
		cmocka_unit_test(test_write_params),
		cmocka_unit_test(test_lease_rows),
		cmocka_unit_test(test_written_and_expired_rows),
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_statement_parameters),
		cmocka_unit_test(test_params_and_errors),
		cmocka_unit_test(test_write_calls_record),
		cmocka_unit_test(test_written_has),
		cmocka_unit_test(test_queue_bound),
		cmocka_unit_test(test_queue_all_verified),
		cmocka_unit_test(test_queue_park),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
