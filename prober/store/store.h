/*
 * store.h - the PostgreSQL work queue, spoken asynchronously.
 *
 * One libpq connection driven by the daemon's event loop: non-blocking
 * connect, send, flush and consume; never a blocking call. The store runs
 * one statement at a time from a small set of jobs, in priority order:
 *
 *   LISTEN      right after (re)connecting: NOTIFY only wakes us up
 *   WRITE       a batch of finished attempts (and released leases)
 *   EXPIRE      pending rows past expires_at become expired, unprobed
 *   LEASE       due rows, FOR UPDATE SKIP LOCKED inside a CTE
 *
 * Results stay queued in memory until a WRITE that contained them has
 * committed, so a database restart loses nothing while the process lives;
 * writes are idempotent (a lost lease discards the stale result, a verified
 * result still lands while the row is pending). After a reconnect the store
 * LISTENs again and leases again, because notifications sent while it was
 * away are gone.
 *
 * Ownership: store_init() on an embedded struct, store_reset() to tear
 * down. Leased rows are handed to the owner through the lease callback;
 * queued results are owned by the store.
 */
#ifndef NTPVERIFY_STORE_H
#define NTPVERIFY_STORE_H

#include <event2/event.h>
#include <event2/event_struct.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "core/outcome.h"
#include "core/token.h"

#define STORE_LEASE_TOKEN_LEN 36 /* a uuid as text */
#define STORE_SERVER_LEN 64      /* host(inet) */

/* One leased row, as handed to the owner. */
struct store_lease {
	int64_t id;                        /* verification.id */
	char server[STORE_SERVER_LEN];     /* host(server_ip) */
	char token[TOKEN_MAX_LEN + 1];      /* secret: never log */
	int attempts;                      /* attempts before this one */
	char lease_token[STORE_LEASE_TOKEN_LEN + 1]; /* proves the lease */
	bool key_method;                   /* method = 'key' */
	unsigned key_id;                   /* key method: 1..65535 */
	char key_type[8];                  /* key method: "AES128" / "SHA1" */
	char key_secret[41];               /* key method: hex; secret, never log */
};

/* One finished attempt, or a lease given back unprobed (outcome < 0). */
struct store_result {
	int64_t id;                        /* verification.id */
	char lease_token[STORE_LEASE_TOKEN_LEN + 1];
	int outcome;                       /* enum outcome, or -1: release only */
	char detail[OUTCOME_DETAIL_MAX];                  /* no secrets */
	char source[64];                   /* address the probe left from, or "" */
	double rtt_ms;                     /* < 0: none */
	double attempted_at;               /* wall clock, seconds since the epoch */
	double retry_after_s;              /* next_probe_at = now() + this */
	struct store_result *next;         /* queue link */
};

/* Callbacks into the daemon. Each runs from the event loop. */
struct store_hooks {
	/* A row was leased; the daemon takes a copy. */
	void (*leased)(void *arg, const struct store_lease *lease);
	/* A LEASE finished (n rows); the daemon may ask for more. */
	void (*lease_done)(void *arg, unsigned n);
	/* A result was written and changed the row's state, e.g. verified. */
	void (*state_changed)(void *arg, int64_t id, const char *server,
			      const char *state, const char *by);
	/* A stale result was discarded (lease lost, row no longer pending). */
	void (*discarded)(void *arg, int64_t id);
	/* NOTIFY arrived: rows became due. */
	void (*notified)(void *arg);
	/* A statement finished and nothing else was started: store_idle()
	 * may now be true. */
	void (*settled)(void *arg);
	/* Connection came up (true) or went down (false). */
	void (*connection)(void *arg, bool up);
	void *arg;
};

struct store_params {
	const char *conninfo;       /* libpq connection string */
	const char *prober_name;    /* lease_owner and probe_attempt.prober */
	uint64_t lease_time_ms;     /* lease length */
	uint64_t expiry_ms;         /* rows older than this end expired (retry.expiry) */
	uint64_t reconnect_max_ms;  /* backoff cap */
	unsigned max_unwritten;     /* results kept while the database is away */
};

enum store_op {
	STORE_OP_NONE = 0,
	STORE_OP_LISTEN,
	STORE_OP_WRITE,
	STORE_OP_EXPIRE,
	STORE_OP_LEASE,
	STORE_OP_COUNT,
};

struct store {
	struct event_base *base;    /* not owned */
	struct store_params params; /* strings owned (copied) */
	struct store_hooks hooks;
	PGconn *conn;               /* NULL while disconnected */
	int fd;                     /* PQsocket() the events are bound to */
	bool connected;             /* CONNECTION_OK and LISTEN done */
	bool connecting;            /* PQconnectPoll in progress */
	bool flushing;              /* waiting to flush the send buffer */
	struct event ev_io;         /* socket readiness */
	struct event ev_timer;      /* connect timeout / reconnect backoff */
	struct event ev_expire;     /* a skipped EXPIRE, run a second later */
	struct event ev_retry;      /* ends write_pause */
	uint64_t backoff_ms;        /* next reconnect delay */

	enum store_op op;           /* statement in flight */
	unsigned lease_want;        /* rows wanted by the daemon; 0 = none */
	unsigned lease_batch;       /* n of the LEASE in flight */
	unsigned leased_rows;       /* rows returned by it */
	bool expire_due;            /* run EXPIRE before the next LEASE */
	bool lease_turn;            /* a WRITE just went: a wanted LEASE goes next */
	struct timespec last_expire;/* monotonic; EXPIRE at most once a second */

	struct store_result *head;  /* unwritten results, oldest first */
	struct store_result **tail;
	unsigned queued;            /* length of that queue */
	unsigned writing;           /* the first `writing` are in the WRITE in flight */
	unsigned write_limit;       /* results per WRITE; 1 while isolating a bad one */
	bool write_pause;           /* a WRITE failed: wait for ev_retry */
	uint64_t dropped;           /* results dropped because the queue was full */

	/* Counters for the status socket. */
	uint64_t n_errors;          /* failed statements and connections */
	uint64_t n_reconnects;      /* successful reconnections after the first */
	uint64_t n_connects;        /* successful connections */
	double last_lease_at;       /* wall clock of the last successful LEASE */
	bool count_due;             /* refresh pending_seen when idle */
	int64_t pending_seen;       /* pending rows at the last count; -1 unknown */
};

int store_init(struct store *s, struct event_base *base,
	       const struct store_params *params,
	       const struct store_hooks *hooks) __attribute__((warn_unused_result));

/* Close the connection and free queued results (unwritten ones are lost). */
void store_reset(struct store *s);

/* Ask for up to n due rows (replaces an earlier wish). */
void store_want_lease(struct store *s, unsigned n);

/* Queue a result for writing; the store copies it. */
void store_push_result(struct store *s, const struct store_result *r);

/* Refresh the count of pending rows when the connection is idle. */
void store_request_count(struct store *s);

/* True when nothing is queued and no statement is in flight. */
bool store_idle(const struct store *s);

/* Update lease time, backoff cap, queue bound and expiry (live reload). */
void store_set_params(struct store *s, uint64_t lease_time_ms,
		      uint64_t reconnect_max_ms, unsigned max_unwritten,
		      uint64_t expiry_ms);

#endif
