/*
 * store_int.h - struct store, shared by the statement pump (store.c) and
 * the handling of failed statements (store_fail.c).
 *
 * Private to prober/store/.
 */
#ifndef NTPVERIFY_STORE_INT_H
#define NTPVERIFY_STORE_INT_H

#include <event2/event.h>
#include <event2/event_struct.h>
#include <libpq-fe.h>
#include <time.h>

#include "store/store.h"
#include "store/store_conn.h"
#include "store/store_due.h"
#include "store/store_fault.h"
#include "store/store_order.h"
#include "store/store_queue.h"

#define STORE_WRITE_BATCH 1000

struct store {
	struct event_base *base;    /* not owned */
	struct store_params params; /* strings owned (copied) */
	struct store_hooks hooks;   /* callbacks into the owner */
	struct store_conn pg;       /* the connection (store_conn.c) */
	bool connected;             /* CONNECTION_OK, schema checked, LISTEN done */
	char schema_versions[512];  /* the embedded versions, "{1,2,3}" */
	bool schema_ok;             /* the SCHEMA in flight found the right schema */
	char schema_why[256];       /* else: why not, one log-ready sentence */
	struct event ev_expire;     /* a skipped EXPIRE, run a second later */
	struct event ev_retry;      /* the next statement out of its backoff */
	struct store_due due;       /* rows of ours due soon: wake the owner */
	struct event ev_heartbeat;  /* persistent: sets heartbeat_due */
	bool heartbeat_due;         /* refresh our last_seen when there is room */
	char *sources_literal;      /* params' source addresses as {..}, owned */
	char listen_sql[96];        /* SET lock_timeout; LISTEN (store_sql.c) */

	enum store_op op;           /* statement in flight */
	unsigned lease_want;        /* rows wanted by the daemon; 0 = none */
	unsigned lease_batch;       /* n of the LEASE in flight */
	bool lease_again;           /* a wish arrived while it was in flight */
	unsigned leased_rows;       /* rows returned by it */
	PGresult *lease_res;        /* its rows, handed over once the next statement is out */
	bool expire_due;            /* run EXPIRE before the next LEASE */
	struct store_order order;   /* WRITE and LEASE under load (store_order.h) */
	struct timespec last_expire;/* monotonic; EXPIRE at most once a second */

	struct store_queue q;       /* unwritten results, oldest first */
	struct store_queue parked;  /* results whose row another session holds locked */
	struct event ev_parked;     /* their next try: back to the front of q */
	uint64_t parked_wait_ms;    /* before that try; doubles up to reconnect_max */
	bool unpark_all;            /* stopping: all of them at the next try */
	unsigned writing;           /* the first `writing` are in the WRITE in flight */
	unsigned write_limit;       /* results per WRITE; 1 while isolating a bad one */
	unsigned isolate_left;      /* results still to write one at a time */
	bool write_minimal;         /* the head (verified) goes without its attempt row */
	bool op_failed;             /* the statement in flight failed */
	struct store_fault faults[STORE_OP_N]; /* per statement: failing, backoff */

	/* Counters for the status socket. */
	uint64_t n_errors;          /* failed statements and connections */
	uint64_t n_reconnects;      /* successful reconnections after the first */
	uint64_t n_connects;        /* successful connections */
	uint64_t n_rejected;        /* unverified results dropped as bad data */
	uint64_t n_corroborations;  /* our results that made our perspective corroborate */
	uint64_t n_decided_verified; /* quorum decisions on our results: verified */
	uint64_t n_decided_pending; /* ... and still pending */
	uint64_t n_refused[STORE_ERR_COUNT]; /* failed WRITEs by class */
	double last_lease_at;       /* wall clock of the last successful LEASE */
	bool count_due;             /* refresh pending_seen when idle */
	int64_t pending_seen;       /* pending rows at the last count; -1 unknown */
	int64_t exceptions_seen[2]; /* awaiting approval, verified by exception */
};

/* Start the next statement, if any and if connected and idle (store.c). */
void store_pump(struct store *s);

/* The statement in flight failed without the connection failing: log once
 * per state change, back off or isolate (store_fail.c). */
void store_statement_failed(struct store *s, const PGresult *res);

/* The statement in flight succeeded: end its failing state, if any, with
 * one log line (store_fail.c). */
void store_statement_ok(struct store *s);

/* A WRITE succeeded with res: apply its rows (store_written.c); the
 * results written are still the first `writing` of the queue. */
void store_write_done(struct store *s, const PGresult *res);

/* ev_parked: the oldest parked result goes first again (store_fail.c). */
void store_unpark(evutil_socket_t fd, short what, void *arg);

/* (Re)arm ev_parked for parked_wait_ms if results are parked. */
void store_park_arm(struct store *s);

/* Arm ev_retry for the earliest statement out of its backoff. */
void store_arm_retry(struct store *s);

/*
 * Our sign of life (store_presence.c): set up ev_heartbeat and arm it;
 * re-arm it for params.poll_interval_ms (clamped to 10..60 s); send sql
 * (store_sql_register or store_sql_heartbeat) with our perspective,
 * region, source addresses and prober name. send: false when libpq could
 * not send.
 */
void store_presence_init(struct store *s);
void store_presence_arm(struct store *s);
bool store_presence_send(struct store *s, const char *sql);

#endif
