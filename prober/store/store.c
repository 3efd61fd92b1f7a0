/*
 * store.c - the statement pump: which statement goes next, and what its
 * results mean. The connection is in store_conn.c, the statements and
 * their rows in store_sql.c, the unwritten results in store_queue.c.
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "core/evtime.h"
#include "core/log.h"
#include "store/migrate.h"
#include "store/store.h"
#include "store/store_conn.h"
#include "store/store_int.h"
#include "store/store_queue.h"
#include "store/store_schema.h"
#include "store/store_sql.h"

static void store_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct store *s = arg;

	(void)fd;
	(void)what;
	store_pump(s);
	store_arm_retry(s); /* another statement may still be waiting */
}

static void store_expire_cb(evutil_socket_t fd, short what, void *arg)
{
	struct store *s = arg;

	(void)fd;
	(void)what;
	s->expire_due = true;
	store_pump(s);
}

static void disconnect(struct store *s, const char *why)
{
	store_conn_drop(&s->pg, why);
}

static void hand_over_leased(struct store *s, PGresult *res);

/* store_conn's down(): no statement is in flight any more. */
static void store_down(void *arg)
{
	struct store *s = arg;
	bool was_up = s->connected;
	/* A LEASE's rows not handed over yet (only a LEASE in flight has
	 * them): the daemon still gets them, probed now, their results
	 * written after the reconnect. */
	PGresult *leased = s->lease_res;

	s->lease_res = NULL;
	s->connected = false;
	s->op = STORE_OP_NONE;
	s->writing = 0;
	s->n_errors++;
	hand_over_leased(s, leased);
	if (was_up && s->hooks.connection != NULL)
		s->hooks.connection(s->hooks.arg, false);
}

/*
 * store_conn's up(): the schema check first, then LISTEN, then REGISTER;
 * the store is connected once all three are done.
 */
static void store_up(void *arg)
{
	struct store *s = arg;
	const char *values[1] = { s->schema_versions };

	s->op = STORE_OP_SCHEMA;
	s->schema_ok = false;
	snprintf(s->schema_why, sizeof(s->schema_why),
		 "database: the schema check returned nothing");
	if (!PQsendQueryParams(s->pg.conn, store_schema_sql, 1, NULL, values,
			       NULL, NULL, 0)) {
		disconnect(s, store_conn_error(&s->pg));
		return;
	}
	store_conn_sent(&s->pg);
}

/* The SCHEMA's one result: judge it (no schema_version table: version 0). */
static void handle_schema_result(struct store *s, const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	int found = 0;
	const char *missing = "all";

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
		found = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
		missing = PQgetisnull(res, 0, 1) ? "" : PQgetvalue(res, 0, 1);
	} else if (state == NULL || strcmp(state, STORE_SCHEMA_NO_TABLE) != 0) {
		/* Not a verdict: e.g. no right to read schema_version. */
		char buf[200];
		snprintf(s->schema_why, sizeof(s->schema_why),
			 "cannot read schema_version: %s",
			 store_sql_error_text(PQresultErrorMessage(res), buf,
					      sizeof(buf)));
		return;
	}
	s->schema_ok = store_schema_judge(found, missing, migrate_latest(),
					  s->schema_why,
					  sizeof(s->schema_why)) ==
		       STORE_SCHEMA_OK;
}

/* The SCHEMA finished: LISTEN, or drop the connection and try later. */
static void schema_finished(struct store *s)
{
	if (s->schema_ok) {
		s->op = STORE_OP_LISTEN;
		if (!PQsendQuery(s->pg.conn, s->listen_sql)) {
			disconnect(s, store_conn_error(&s->pg));
			return;
		}
		store_conn_sent(&s->pg);
		return;
	}
	if (strncmp(s->schema_why, "database: ", 10) != 0) {
		/* A failed query: an ordinary connection failure. */
		disconnect(s, s->schema_why);
		return;
	}
	/* The owner says it (once); the store only tries again later. */
	if (s->hooks.schema_refused != NULL)
		s->hooks.schema_refused(s->hooks.arg, s->schema_why);
	if (s->pg.conn != NULL)
		store_conn_drop(&s->pg, NULL);
}

static bool send_write(struct store *s)
{
	struct store_write_params wp;
	/* Minimal: the verified head alone, without its audit row. */
	struct store_write_who who = {
		.perspective = s->params.perspective,
		.prober_name = s->params.prober_name,
		.audit = !s->write_minimal,
	};
	int ok;

	store_write_params_build(&wp, s->q.head,
				 s->write_minimal ? 1 : s->write_limit, &who);
	store_due_sent(&s->due); /* its delays count from after this */
	ok = PQsendQueryParams(s->pg.conn, store_sql_write, STORE_WRITE_PARAMS,
			       NULL, wp.values, NULL, NULL, 0);
	if (ok)
		s->writing = wp.n;
	store_write_params_free(&wp);
	return ok;
}

static bool send_expire(struct store *s)
{
	struct store_sql_params p;

	store_sql_expire_params(&p, s->params.expiry_ms);
	return PQsendQueryParams(s->pg.conn, store_sql_expire, p.n, NULL,
				 p.values, NULL, NULL, 0);
}

static bool send_lease(struct store *s)
{
	struct store_sql_params p;

	s->lease_batch = s->lease_want;
	s->leased_rows = 0;
	store_sql_lease_params(&p, s->lease_batch, s->params.prober_name,
			       s->params.lease_time_ms, s->params.expiry_ms,
			       s->params.perspective);
	return PQsendQueryParams(s->pg.conn, store_sql_lease, p.n, NULL, p.values,
				 NULL, NULL, 0);
}

/* Whether op has work and is not waiting out a backoff. */
static bool op_ready(const struct store *s, enum store_op op, uint64_t now)
{
	bool wanted = (op == STORE_OP_WRITE && s->q.head != NULL) ||
		      (op == STORE_OP_EXPIRE && s->expire_due) ||
		      (op == STORE_OP_LEASE && s->lease_want > 0) ||
		      (op == STORE_OP_COUNT && s->count_due) ||
		      (op == STORE_OP_HEARTBEAT && s->heartbeat_due);

	return wanted && store_fault_ready(&s->faults[op], now);
}

void store_pump(struct store *s)
{
	uint64_t now = evtime_mono_ms();
	bool ok;

	if (!s->connected || s->op != STORE_OP_NONE)
		return;
	s->op_failed = false;
	bool ready[STORE_OP_N] = { false };
	static const enum store_op ops[] = { STORE_OP_WRITE, STORE_OP_EXPIRE,
					     STORE_OP_HEARTBEAT, STORE_OP_LEASE,
					     STORE_OP_COUNT };
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		ready[ops[i]] = op_ready(s, ops[i], now);
	s->op = store_order_next(&s->order, ready, s->q.head != NULL);
	switch (s->op) {
	case STORE_OP_WRITE:
		ok = send_write(s);
		break;
	case STORE_OP_EXPIRE:
		ok = send_expire(s);
		break;
	case STORE_OP_HEARTBEAT:
		ok = store_presence_send(s, store_sql_heartbeat);
		break;
	case STORE_OP_LEASE:
		ok = send_lease(s);
		break;
	case STORE_OP_COUNT:
		ok = PQsendQuery(s->pg.conn, store_sql_count);
		break;
	default:
		return;
	}
	if (!ok) {
		disconnect(s, store_conn_error(&s->pg));
		return;
	}
	store_conn_sent(&s->pg);
}

/* store_due's wake(): a row of ours is due, as if NOTIFY had said so. */
static void store_due_wake(void *arg)
{
	struct store *s = arg;

	if (s->connected && s->hooks.notified != NULL)
		s->hooks.notified(s->hooks.arg);
}

static void handle_listen_result(struct store *s)
{
	s->connected = true;
	s->n_connects++;
	if (s->n_connects > 1)
		s->n_reconnects++;
	uint64_t quiet = store_conn_settled(&s->pg);

	s->expire_due = true;
	if (quiet > 0)
		log_info("database: connected (after %" PRIu64 " more failed "
			 "tries)",
			 quiet);
	else
		log_info("database: connected");
	if (s->hooks.connection != NULL)
		s->hooks.connection(s->hooks.arg, true);
}

static void handle_expire_result(struct store *s, const PGresult *res)
{
	struct store_written w;

	s->expire_due = false;
	clock_gettime(CLOCK_MONOTONIC, &s->last_expire);
	for (int i = 0; i < PQntuples(res); i++) {
		store_sql_expired_row(res, i, &w);
		if (s->hooks.state_changed)
			s->hooks.state_changed(s->hooks.arg, w.id, w.server,
					       w.state, w.verified_by);
	}
}

/* Hand a LEASE's rows (res, taken from lease_res) to the daemon; frees res. */
static void hand_over_leased(struct store *s, PGresult *res)
{
	struct store_lease l;

	if (res == NULL)
		return;
	for (int i = 0; i < PQntuples(res); i++) {
		store_sql_lease_row(res, i, &l);
		if (s->hooks.leased)
			s->hooks.leased(s->hooks.arg, &l);
		OPENSSL_cleanse(&l, sizeof(l)); /* token and key */
	}
	PQclear(res);
}

static void handle_result(struct store *s, PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	if (s->op == STORE_OP_SCHEMA) {
		handle_schema_result(s, res);
		return;
	}
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		store_statement_failed(s, res);
		return;
	}
	store_statement_ok(s);
	switch (s->op) {
	case STORE_OP_LISTEN:
		break; /* REGISTER follows when it is done */
	case STORE_OP_REGISTER:
		s->heartbeat_due = false; /* registering said it already */
		handle_listen_result(s);
		break;
	case STORE_OP_HEARTBEAT:
		s->heartbeat_due = false;
		break;
	case STORE_OP_WRITE:
		store_write_done(s, res);
		store_queue_pop(&s->q, s->writing);
		s->writing = 0;
		break;
	case STORE_OP_EXPIRE:
		handle_expire_result(s, res);
		break;
	case STORE_OP_LEASE:
		/*
		 * Kept until the statement is done: the next one goes out
		 * before the daemon takes the rows (op_finished).
		 */
		PQclear(s->lease_res);
		s->lease_res = res;
		s->leased_rows = (unsigned)PQntuples(res);
		s->last_lease_at = evtime_wall_s();
		break;
	case STORE_OP_COUNT:
		s->count_due = false;
		s->pending_seen = store_sql_count_value(res);
		store_sql_count_exceptions(res, s->exceptions_seen);
		break;
	case STORE_OP_NONE:
	default:
		break;
	}
}

/* The statement in flight has returned all its results. */
static void op_finished(struct store *s)
{
	enum store_op op = s->op;
	unsigned n = s->leased_rows;

	s->op = STORE_OP_NONE;
	if (op == STORE_OP_LISTEN && s->pg.conn != NULL) {
		s->op = STORE_OP_REGISTER;
		if (!store_presence_send(s, store_sql_register)) {
			disconnect(s, store_conn_error(&s->pg));
			return;
		}
		store_conn_sent(&s->pg);
		return;
	}
	if (op == STORE_OP_SCHEMA) {
		schema_finished(s);
		return;
	}
	if (op == STORE_OP_LEASE) {
		/* A refused LEASE is tried again after its backoff. */
		bool more = s->lease_again || (n > 0 && n >= s->lease_batch);
		/* Its rows are ours now, whatever the pump below meets. */
		PGresult *leased = s->lease_res;

		s->lease_res = NULL;
		if (!s->op_failed) {
			s->lease_want = 0;
			s->order.lease_full = n > 0 && n >= s->lease_batch;
		}
		s->lease_again = false;
		/*
		 * The next statement (the results waiting) goes out before
		 * the daemon takes the new rows and starts their probes: the
		 * database works on it meanwhile.
		 */
		store_pump(s);
		hand_over_leased(s, leased);
		if (s->hooks.lease_done)
			s->hooks.lease_done(s->hooks.arg, n, more);
	}
	store_pump(s);
	if (s->op == STORE_OP_NONE && s->hooks.settled)
		s->hooks.settled(s->hooks.arg);
}

static void consume(struct store *s)
{
	PGnotify *note;
	bool notified = false;

	if (!PQconsumeInput(s->pg.conn)) {
		disconnect(s, store_conn_error(&s->pg));
		return;
	}
	while ((note = PQnotifies(s->pg.conn)) != NULL) {
		notified = true;
		PQfreemem(note);
	}
	while (s->op != STORE_OP_NONE && !PQisBusy(s->pg.conn)) {
		PGresult *res = PQgetResult(s->pg.conn);
		if (res == NULL) {
			op_finished(s);
			if (s->pg.conn == NULL)
				return;
			break;
		}
		handle_result(s, res);
		if (res != s->lease_res)
			PQclear(res);
	}
	if (s->pg.conn != NULL && PQstatus(s->pg.conn) == CONNECTION_BAD) {
		disconnect(s, store_conn_error(&s->pg));
		return;
	}
	if (notified && s->hooks.notified)
		s->hooks.notified(s->hooks.arg);
}

/* store_conn's readable(). */
static void store_readable(void *arg)
{
	consume(arg);
}

static void store_free_params(struct store *s)
{
	free((char *)s->params.conninfo);
	free((char *)s->params.prober_name);
	free((char *)s->params.perspective);
	free((char *)s->params.region);
	free(s->sources_literal);
}

struct store *store_new(struct event_base *base,
			const struct store_params *params,
			const struct store_hooks *hooks)
{
	struct store *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->base = base;
	s->hooks = *hooks;
	s->params = *params;
	s->params.conninfo = strdup(params->conninfo ? params->conninfo : "");
	s->params.prober_name = strdup(params->prober_name);
	s->params.perspective = strdup(params->perspective ? params->perspective
							    : "default");
	s->params.region = strdup(params->region ? params->region : "default");
	s->sources_literal = store_sql_sources_literal(params->sources,
						       params->n_sources);
	s->params.sources = NULL;
	s->params.n_sources = 0;
	if (s->params.conninfo == NULL || s->params.prober_name == NULL ||
	    s->params.perspective == NULL || s->params.region == NULL ||
	    s->sources_literal == NULL) {
		store_free_params(s);
		free(s);
		errno = ENOMEM;
		return NULL;
	}
	if (!store_schema_versions(s->schema_versions,
				   sizeof(s->schema_versions))) {
		store_free_params(s);
		free(s);
		errno = EOVERFLOW;
		return NULL;
	}
	store_sql_listen_text(s->listen_sql, sizeof(s->listen_sql),
			      s->params.lock_timeout_ms);
	store_queue_init(&s->q);
	store_queue_init(&s->parked);
	evtimer_assign(&s->ev_parked, base, store_unpark, s);
	s->pending_seen = s->exceptions_seen[0] = s->exceptions_seen[1] = -1;
	evtimer_assign(&s->ev_expire, base, store_expire_cb, s);
	evtimer_assign(&s->ev_retry, base, store_retry_cb, s);
	store_presence_init(s);
	store_due_init(&s->due, base, store_due_wake, s);
	s->write_limit = STORE_WRITE_BATCH;
	s->pg.up = store_up;
	s->pg.readable = store_readable;
	s->pg.down = store_down;
	s->pg.arg = s;
	store_conn_start(&s->pg, base, s->params.conninfo,
			 s->params.reconnect_max_ms);
	return s;
}

void store_free(struct store *s)
{
	if (s == NULL)
		return;
	store_conn_close(&s->pg);
	PQclear(s->lease_res);
	evtimer_del(&s->ev_expire);
	evtimer_del(&s->ev_retry);
	evtimer_del(&s->ev_parked);
	evtimer_del(&s->ev_heartbeat);
	store_due_clear(&s->due);
	store_queue_clear(&s->q);
	store_queue_clear(&s->parked);
	store_free_params(s);
	free(s);
}

void store_want_lease(struct store *s, unsigned n, bool hungry)
{
	if (s->op == STORE_OP_LEASE) {
		/* One at a time; lease_done tells the daemon to ask again. */
		s->lease_again = true;
		return;
	}
	s->lease_want = n;
	s->order.lease_hungry = hungry;
	/*
	 * Expire first, but at most once a second: the LEASE itself skips rows
	 * past expires_at, so no expired row gets a packet in between.
	 */
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	int64_t since_ms = (int64_t)(now.tv_sec - s->last_expire.tv_sec) * 1000 +
			   (now.tv_nsec - s->last_expire.tv_nsec) / 1000000;
	if (since_ms >= 1000 || s->last_expire.tv_sec == 0)
		s->expire_due = true;
	else if (!evtimer_pending(&s->ev_expire, NULL))
		/* Catch up later: a due row past expiry still ends expired. */
		evtime_add_ms(&s->ev_expire, (uint64_t)(1000 - since_ms));
	store_pump(s);
}

void store_push_result(struct store *s, const struct store_result *r)
{
	/*
	 * Bounded: while the database is away only the finished attempts of
	 * rows already leased accumulate, but never keep more than the bound.
	 */
	if (store_queue_push(&s->q, r, s->params.max_unwritten, s->writing))
		store_pump(s);
}

void store_request_count(struct store *s)
{
	s->count_due = true;
	store_pump(s);
}

void store_set_params(struct store *s, uint64_t lease_time_ms,
		      uint64_t reconnect_max_ms, unsigned max_unwritten,
		      uint64_t expiry_ms, uint64_t poll_interval_ms)
{
	if (poll_interval_ms != s->params.poll_interval_ms) {
		s->params.poll_interval_ms = poll_interval_ms;
		store_presence_arm(s);
	}
	s->params.expiry_ms = expiry_ms;
	s->params.lease_time_ms = lease_time_ms;
	s->params.reconnect_max_ms = reconnect_max_ms;
	s->pg.reconnect_max_ms = reconnect_max_ms;
	s->params.max_unwritten = max_unwritten;
}
