/*
 * store_lease.c - the LEASE: its rows handed to the daemon once the next
 * statement is out, and its own connection (struct store_lease_conn in
 * store_int.h), so that the next batch is leased while the last one's
 * results are written on the first connection (bench/results.md,
 * "Schema 11").
 */
#include <openssl/crypto.h>

#include "core/evtime.h"
#include "core/log.h"
#include "store/store_int.h"
#include "store/store_sql.h"

bool store_lease_send(struct store *s, PGconn *conn)
{
	struct store_sql_params p;

	s->lease_batch = s->lease_want;
	s->leased_rows = 0;
	store_sql_lease_params(&p, s->lease_batch, s->params.prober_name,
			       s->params.lease_time_ms, s->params.expiry_ms,
			       s->params.perspective);
	return PQsendQueryParams(conn, store_sql_lease, p.n, NULL, p.values,
				 NULL, NULL, 0);
}

void store_lease_stash(struct store *s, PGresult *res)
{
	PQclear(s->lease_res);
	s->lease_res = res;
	s->leased_rows = (unsigned)PQntuples(res);
	s->last_lease_at = evtime_wall_s();
}

/* Hand the rows kept in lease_res to the daemon. */
static void hand_over(struct store *s)
{
	PGresult *res = s->lease_res;
	struct store_lease l;

	if (res == NULL)
		return;
	s->lease_res = NULL;
	for (int i = 0; i < PQntuples(res); i++) {
		store_sql_lease_row(res, i, &l);
		if (s->hooks.leased)
			s->hooks.leased(s->hooks.arg, &l);
		OPENSSL_cleanse(&l, sizeof(l)); /* token and key */
	}
	PQclear(res);
}

void store_lease_finished(struct store *s, bool failed)
{
	unsigned n = s->leased_rows;
	/* A refused LEASE is tried again (after its backoff, on the first). */
	bool more = s->lease_again || (n > 0 && n >= s->lease_batch);

	if (!failed) {
		s->lease_want = 0;
		s->order.lease_full = n > 0 && n >= s->lease_batch;
	}
	s->lease_again = false;
	/*
	 * The next statement (the results waiting) goes out before the daemon
	 * takes the new rows and starts their probes: the database works on
	 * it meanwhile.
	 */
	store_pump(s);
	hand_over(s);
	if (s->hooks.lease_done)
		s->hooks.lease_done(s->hooks.arg, n, more);
}

/* --- the second connection ----------------------------------------- */

bool store_lease_conn_usable(const struct store *s)
{
	return s->lc.up && !s->lc.off;
}

void store_lease_conn_pump(struct store *s, bool ready)
{
	struct store_lease_conn *lc = &s->lc;

	/* After an EXPIRE that is due (on the first): it goes before leases. */
	if (!ready || !s->connected || !store_lease_conn_usable(s) || lc->busy ||
	    s->op == STORE_OP_LEASE || s->expire_due)
		return;
	if (!store_lease_send(s, lc->pg.conn)) {
		/* Down now (lease_down): the first connection leases. */
		store_conn_drop(&lc->pg, store_conn_error(&lc->pg));
		return;
	}
	lc->busy = true;
	lc->failed = false;
	store_conn_sent(&lc->pg);
}

static void lease_up(void *arg)
{
	struct store *s = arg;

	s->lc.up = true;
	store_pump(s);
}

static void lease_down(void *arg)
{
	struct store *s = arg;

	s->lc.up = false;
	if (s->lc.busy) {
		s->lc.busy = false;
		/* Rows that came before the loss: their leases run out. */
		PQclear(s->lease_res);
		s->lease_res = NULL;
	}
}

static void lease_readable(void *arg)
{
	struct store *s = arg;
	struct store_lease_conn *lc = &s->lc;
	PGconn *c = lc->pg.conn;

	if (!PQconsumeInput(c)) {
		store_conn_drop(&lc->pg, store_conn_error(&lc->pg));
		store_pump(s);
		return;
	}
	while (lc->busy && !PQisBusy(c)) {
		PGresult *res = PQgetResult(c);
		if (res == NULL) {
			lc->busy = false;
			if (!s->connected) {
				/* The first connection went down meanwhile: the
				 * daemon holds nothing now; these leases run out. */
				PQclear(s->lease_res);
				s->lease_res = NULL;
				return;
			}
			store_lease_finished(s, lc->failed);
			if (s->op == STORE_OP_NONE && !lc->busy && s->hooks.settled)
				s->hooks.settled(s->hooks.arg);
			return;
		}
		if (PQresultStatus(res) == PGRES_TUPLES_OK) {
			store_lease_stash(s, res);
			continue;
		}
		/* The first connection leases from now on, with its fault
		 * handling (one log line per state change). */
		log_debug("database (second connection): LEASE failed: %s",
			  PQresultErrorMessage(res));
		lc->off = true;
		lc->failed = true;
		PQclear(res);
	}
	if (PQstatus(c) == CONNECTION_BAD) {
		store_conn_drop(&lc->pg, store_conn_error(&lc->pg));
		store_pump(s);
	}
}

void store_lease_start(struct store *s, struct event_base *base)
{
	struct store_lease_conn *lc = &s->lc;

	lc->pg.up = lease_up;
	lc->pg.readable = lease_readable;
	lc->pg.down = lease_down;
	lc->pg.arg = s;
	lc->pg.silent = true;
	store_conn_start(&lc->pg, base, s->params.conninfo,
			 s->params.reconnect_max_ms);
}

void store_lease_stop(struct store *s)
{
	store_conn_close(&s->lc.pg);
	PQclear(s->lease_res);
	s->lease_res = NULL;
}
