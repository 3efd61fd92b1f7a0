/*
 * store_fail.c - failed statements: whose fault it is, what happens to the
 * results, and one log line per change of state rather than per try.
 *
 * A failure the database causes (store_fault_classify() says anything but
 * STORE_ERR_DATA) pauses that statement with a doubling backoff capped at
 * queue.reconnect_max; a WRITE keeps every result in memory meanwhile. A
 * failure about one result's data isolates it: a batch is retried one
 * result at a time, an unverified result the database rejects is dropped
 * with a log line, and a verified one is written once more with only its
 * state change (store_sql_write with audit off). If even that is rejected, it
 * is kept and retried like a database fault: a verified result is never
 * dropped while the process lives.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/evtime.h"
#include "core/log.h"
#include "store/store_int.h"
#include "store/store_sql.h"

#define STORE_ERR_TEXT_MAX 200 /* of the server's primary message, logged */

/* The statement in flight, for log lines. */
static const char *const op_names[STORE_OP_N] = {
	[STORE_OP_NONE] = "listen",   [STORE_OP_LISTEN] = "listen",
	[STORE_OP_SCHEMA] = "schema",     [STORE_OP_REGISTER] = "register",
	[STORE_OP_WRITE] = "write",   [STORE_OP_EXPIRE] = "expire",
	[STORE_OP_LEASE] = "lease",   [STORE_OP_COUNT] = "count",
	[STORE_OP_HEARTBEAT] = "heartbeat",
};

/* The server's primary message (or libpq's), as one short phrase. */
static const char *error_text(const PGresult *res, char *buf, size_t len)
{
	const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	if (primary != NULL)
		return store_sql_error_text(primary, buf, len);
	return store_sql_error_text(PQresultErrorMessage(res), buf, len);
}

/* " (hint: ...)" for the log line: ours first, then the server's. */
static void hint_text(const PGresult *res, const char *sqlstate, char *buf,
		      size_t len)
{
	const char *hint = store_fault_hint(sqlstate);

	if (hint == NULL)
		hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
	if (hint != NULL)
		snprintf(buf, len, " (hint: %.*s)", STORE_ERR_TEXT_MAX, hint);
	else
		buf[0] = '\0';
}

void store_arm_retry(struct store *s)
{
	uint64_t now = evtime_mono_ms(), next = 0;

	/*
	 * Only backoffs still running: a statement already out of its backoff
	 * goes with the next pump, which the statement in flight (if any)
	 * triggers when it ends; a timer for it would spin meanwhile.
	 */
	for (int op = 0; op < STORE_OP_N; op++) {
		const struct store_fault *f = &s->faults[op];
		if (f->failures > 0 && f->retry_at_ms > now &&
		    (next == 0 || f->retry_at_ms < next))
			next = f->retry_at_ms;
	}
	if (next == 0)
		return;
	evtimer_del(&s->ev_retry);
	evtime_add_ms(&s->ev_retry, next - now);
}

/* A statement the database refuses: back off; say so when it is news. */
static void back_off(struct store *s, const PGresult *res, const char *state)
{
	struct store_fault *f = &s->faults[s->op];
	char msg[STORE_ERR_TEXT_MAX + 1], hint[STORE_ERR_TEXT_MAX + 16];

	if (!store_fault_fail(f, state, evtime_mono_ms(),
			      s->params.reconnect_max_ms)) {
		store_arm_retry(s);
		return;
	}
	error_text(res, msg, sizeof(msg));
	hint_text(res, state, hint, sizeof(hint));
	if (s->op == STORE_OP_WRITE)
		log_err("database: writes refused (SQLSTATE %s: %s)%s; keeping "
			"%u results in memory, retrying for as long as it "
			"takes",
			state, msg, hint, s->q.queued);
	else
		log_err("database: %s statements refused (SQLSTATE %s: %s)%s; "
			"retrying with backoff up to %" PRIu64 " ms",
			op_names[s->op], state, msg, hint,
			s->params.reconnect_max_ms);
	store_arm_retry(s);
}

/* The one result being written (s->writing == 1) is rejected as data. */
static void result_rejected(struct store *s, const PGresult *res,
			    const char *state)
{
	const struct store_result *r = s->q.head;
	char msg[STORE_ERR_TEXT_MAX + 1];

	error_text(res, msg, sizeof(msg));
	if (r->outcome == OUTCOME_VERIFIED) {
		log_warn("database: the result for verification %" PRId64
			 " cannot be stored in full (SQLSTATE %s: %s); writing "
			 "the verification without its attempt row",
			 r->id, state, msg);
		s->write_minimal = true;
		return;
	}
	log_err("database: the result for verification %" PRId64
		" cannot be stored (SQLSTATE %s: %s); dropped",
		r->id, state, msg);
	s->n_rejected++;
	store_queue_pop(&s->q, 1);
	if (s->isolate_left > 0)
		s->isolate_left--;
}

/*
 * The WRITE waited queue.lock_timeout for a lock another session holds
 * (55P03): a transaction left open on a verification, say, or a table
 * lock. Only the rows it covers must wait: a batch is retried one result
 * at a time, and a single result that still meets the lock is parked, so
 * that the others are written meanwhile. One parked result at a time is
 * tried again, alone and first, after a wait that doubles up to
 * queue.reconnect_max (each try holds the connection for the lock
 * timeout) and starts over once one is written. One log line per result
 * when it starts to wait, one when it is written.
 */
static void write_locked(struct store *s, const PGresult *res,
			 const char *state)
{
	struct store_result *r = s->q.head;
	char msg[STORE_ERR_TEXT_MAX + 1];

	if (s->writing > 1) {
		s->isolate_left = s->writing;
		s->write_limit = 1;
		return;
	}
	if (r == NULL)
		return;
	if (!r->lock_waited) {
		r->lock_waited = true;
		log_warn("database: the result for verification %" PRId64
			 " waits for a lock another session holds (SQLSTATE "
			 "%s: %s); the other results are written (hint: a "
			 "transaction left open on that verification, or a "
			 "table lock: see pg_stat_activity; docs/admins.md, "
			 "\"Database errors\")",
			 r->id, state, error_text(res, msg, sizeof(msg)));
	}
	if (s->isolate_left > 0)
		s->isolate_left--;
	if (s->isolate_left == 0)
		s->write_limit = STORE_WRITE_BATCH;
	store_queue_move_head(&s->q, &s->parked);
	if (!evtimer_pending(&s->ev_parked, NULL)) {
		s->parked_wait_ms = store_fault_next_wait(
			s->parked_wait_ms, s->params.reconnect_max_ms);
		store_park_arm(s);
	}
}

void store_park_arm(struct store *s)
{
	evtimer_del(&s->ev_parked);
	if (s->parked.head != NULL)
		evtime_add_ms(&s->ev_parked, s->parked_wait_ms);
}

/* The first `n` parked results (all if n is 0) go first in the queue. */
static void unpark(struct store *s, unsigned n)
{
	struct store_queue back;

	store_queue_init(&back);
	while (s->parked.head != NULL && (n == 0 || back.queued < n))
		store_queue_move_head(&s->parked, &back);
	s->isolate_left += back.queued;
	s->write_limit = 1;
	store_queue_splice_front(&s->q, &back);
}

void store_unpark(evutil_socket_t fd, short what, void *arg)
{
	struct store *s = arg;

	(void)fd;
	(void)what;
	/*
	 * Not while the first `writing` of the queue are in flight, nor in
	 * front of a head being written without its attempt row
	 * (write_minimal belongs to that head).
	 */
	if (s->writing > 0 || s->write_minimal) {
		evtime_add_ms(&s->ev_parked, 50);
		return;
	}
	unpark(s, s->unpark_all ? 0 : 1);
	s->unpark_all = false;
	if (s->parked.head != NULL) {
		/* The next one's turn, should this one not end the wait:
		 * written, parked again or failed otherwise. */
		s->parked_wait_ms = store_fault_next_wait(
			s->parked_wait_ms, s->params.reconnect_max_ms);
		store_park_arm(s);
	}
	store_pump(s);
}

void store_unpark_all(struct store *s)
{
	if (s->parked.head == NULL)
		return;
	s->unpark_all = true;
	evtimer_del(&s->ev_parked);
	store_unpark(-1, 0, s);
}

static void write_failed(struct store *s, const PGresult *res,
			 const char *state)
{
	enum store_err_class cls = store_fault_classify(state);

	s->n_refused[cls]++;
	if (strcmp(state, "55P03") == 0 && !s->write_minimal) {
		write_locked(s, res, state);
	} else if (cls == STORE_ERR_DATA && !s->write_minimal && s->q.head != NULL) {
		if (s->writing > 1) {
			/* Find the bad one: this batch, one at a time. */
			s->isolate_left = s->writing;
			s->write_limit = 1;
		} else {
			result_rejected(s, res, state);
		}
	} else {
		back_off(s, res, state);
	}
	s->writing = 0;
}

void store_statement_failed(struct store *s, const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	if (state == NULL)
		state = "";
	s->n_errors++;
	s->op_failed = true;
	if (s->op == STORE_OP_LISTEN || s->op == STORE_OP_REGISTER) {
		char msg[STORE_ERR_TEXT_MAX + 1], why[STORE_ERR_TEXT_MAX + 48];
		/* Not connected without it: try a new connection, with backoff. */
		snprintf(why, sizeof(why), "%s refused (SQLSTATE %s: %s)",
			 s->op == STORE_OP_LISTEN ? "LISTEN" : "registering the perspective",
			 state, error_text(res, msg, sizeof(msg)));
		store_conn_drop(&s->pg, why);
	} else if (s->op == STORE_OP_WRITE)
		write_failed(s, res, state);
	else
		back_off(s, res, state);
}

void store_statement_ok(struct store *s)
{
	unsigned failures = store_fault_clear(&s->faults[s->op]);

	if (s->op == STORE_OP_WRITE) {
		s->write_minimal = false;
		if (s->isolate_left > 0)
			s->isolate_left -= s->writing < s->isolate_left
						   ? s->writing
						   : s->isolate_left;
		s->write_limit = s->isolate_left > 0 ? 1 : STORE_WRITE_BATCH;
	}
	if (failures == 0)
		return;
	if (s->op == STORE_OP_WRITE)
		log_info("database: writes accepted again after %u refused "
			 "tries; %u results written, %u waiting",
			 failures, s->writing, s->q.queued - s->writing);
	else
		log_info("database: %s statements accepted again after %u "
			 "refused tries",
			 op_names[s->op], failures);
}

void store_notice(void *arg, const PGresult *res)
{
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	char msg[STORE_ERR_TEXT_MAX + 1];
	enum log_level level = LOG_LVL_INFO;

	(void)arg;
	if (sev == NULL)
		sev = PQresultErrorField(res, PG_DIAG_SEVERITY);
	if (sev == NULL)
		sev = "NOTICE";
	if (strcmp(sev, "WARNING") == 0)
		level = LOG_LVL_WARNING;
	else if (strncmp(sev, "DEBUG", 5) == 0)
		level = LOG_LVL_DEBUG;
	error_text(res, msg, sizeof(msg));
	/* log_msg() makes one line of it: the server's newlines become spaces. */
	log_msg(level, "database: server %s (SQLSTATE %s): %s", sev,
		state != NULL ? state : "none", msg);
}
