/*
 * store.h - the PostgreSQL work queue, spoken asynchronously.
 *
 * One libpq connection driven by the daemon's event loop: non-blocking
 * connect, send, flush and consume; never a blocking call. The store runs
 * one statement at a time from a small set of jobs, in priority order:
 *
 *   SCHEMA      right after (re)connecting: every embedded migration
 *               recorded in schema_version, none newer; else refused
 *   LISTEN      then: NOTIFY only wakes us up
 *   REGISTER    then: our perspective, region and source addresses
 *   WRITE       a batch of finished attempts (and released leases)
 *   EXPIRE      pending rows past expires_at become expired, unprobed
 *   LEASE       our perspective's due rows, FOR UPDATE SKIP LOCKED
 *
 * A WRITE is ntpverify_record() (sql/schema.sql): the results are applied
 * to our perspective's rows and the quorum is decided in the same
 * transaction. When a row of ours becomes due sooner than the next poll
 * (a second confirmation after confirmation_gap) the store calls the
 * notified hook at that time.
 *
 * Results stay queued in memory until a WRITE that contained them has
 * committed, so a database restart loses nothing while the process lives;
 * neither does a database that refuses writes (a sequence exhausted, a
 * right revoked, a full disk): writing pauses with backoff and the
 * results wait (store_fault.h). Only a result whose own data the database
 * rejects may be dropped, and never a verified one: that is written
 * again without its attempt row, only the state change;
 * writes are idempotent (a lost lease discards the stale result, a verified
 * result still lands while the row is pending). After a reconnect the store
 * LISTENs again and leases again, because notifications sent while it was
 * away are gone.
 *
 * Ownership: store_new() returns an opaque handle the caller frees with
 * store_free(). Leased rows are handed to the owner through the lease
 * callback; queued results are owned by the store. The owner reads the
 * store's counters only through store_stats(), a copy.
 */
#ifndef NTPVERIFY_STORE_H
#define NTPVERIFY_STORE_H

#include <stdbool.h>
#include <stdint.h>

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
	int proof_version;                 /* verification.proof_version leased */
	bool refid_method;                 /* method = 'refid' */
	char refid_code[8];                /* refid method: the code (4 characters;
					      room to see a longer one is wrong) */
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
	bool contrary;                     /* a definite contrary observation */
	int proof_version;                 /* the lease's proof_version */
	bool lock_waited;                  /* the store's: it said this result
					      waits for another session's lock */
	struct store_result *next;         /* queue link */
};

/* verification.state, as the schema's CHECK allows it. */
enum verification_state {
	VERIFICATION_PENDING = 0, /* still being probed */
	VERIFICATION_VERIFIED,    /* a probe saw the token (or the key worked) */
	VERIFICATION_EXPIRED,     /* ran out of time unverified */
	VERIFICATION_CANCELLED,   /* withdrawn by the web site */
	VERIFICATION_UNKNOWN,     /* anything else: a newer schema */
};

/* "pending", "verified", ...; "unknown" for values out of range. */
const char *verification_state_name(enum verification_state s);
/* The state a column value names; VERIFICATION_UNKNOWN if none. */
enum verification_state verification_state_parse(const char *text);

/* Callbacks into the daemon. Each runs from the event loop. */
struct store_hooks {
	/* A row was leased; the daemon takes a copy. */
	void (*leased)(void *arg, const struct store_lease *lease);
	/*
	 * A LEASE finished with n rows. more: the batch came back full, or
	 * store_want_lease() was called while it was in flight (that wish
	 * was not kept): the daemon should ask again.
	 */
	void (*lease_done)(void *arg, unsigned n, bool more);
	/* A result was written and changed the row's state, e.g. verified. */
	void (*state_changed)(void *arg, int64_t id, const char *server,
			      enum verification_state state, const char *by);
	/* A stale result was discarded (lease lost, row no longer pending). */
	void (*discarded)(void *arg, int64_t id);
	/* NOTIFY arrived: rows became due. */
	void (*notified)(void *arg);
	/* A statement finished and nothing else was started: store_idle()
	 * may now be true. */
	void (*settled)(void *arg);
	/* Connection came up (true) or went down (false). */
	void (*connection)(void *arg, bool up);
	/*
	 * Connected, but the database's schema is not the one this binary
	 * needs (why: one sentence naming the versions and what to run). The
	 * store drops the connection without a log line of its own and checks
	 * again at the next reconnect, after its backoff.
	 */
	void (*schema_refused)(void *arg, const char *why);
	void *arg;
};

struct store_params {
	const char *conninfo;       /* libpq connection string */
	const char *prober_name;    /* lease_owner and probe_attempt.prober */
	const char *perspective;    /* our perspective: whose rows we lease */
	const char *region;         /* registered with the perspective */
	const char *const *sources; /* published source addresses (text) */
	size_t n_sources;           /* entries in sources */
	uint64_t lease_time_ms;     /* lease length */
	uint64_t expiry_ms;         /* rows older than this end expired (retry.expiry) */
	uint64_t reconnect_max_ms;  /* backoff cap */
	unsigned max_unwritten;     /* results kept while the database is away */
	uint64_t poll_interval_ms;  /* queue.poll_interval: the heartbeat's period,
				       clamped to 10..60 s */
	uint64_t lock_timeout_ms;   /* the session's lock_timeout; 0: none */
};

/*
 * What a failed statement's SQLSTATE is about (store_fault.h classifies).
 * Only STORE_ERR_DATA is about one row's own data; every other class is
 * about the database, and no result is dropped for it.
 */
enum store_err_class {
	STORE_ERR_DATA = 0,   /* 22xxx but 2200H, 23xxx: the row's own values */
	STORE_ERR_PRIVILEGE,  /* 42501: the prober's role lacks a right */
	STORE_ERR_SCHEMA,     /* other 42xxx: a table or column is not as expected */
	STORE_ERR_READ_ONLY,  /* 25xxx: read-only or aborted transaction */
	STORE_ERR_RESOURCES,  /* 53xxx, 54xxx, 2200H: disk, memory, a sequence ran out */
	STORE_ERR_CONFLICT,   /* 40xxx, 55xxx: serialization, deadlock, locks */
	STORE_ERR_OPERATOR,   /* 57xxx: shutdown, cancelled */
	STORE_ERR_CONNECTION, /* 08xxx */
	STORE_ERR_INTERNAL,   /* 58xxx, XXxxx: the server's own trouble */
	STORE_ERR_OTHER,      /* anything else, or no SQLSTATE at all */
	STORE_ERR_COUNT
};

/* "data", "privilege", ...: the metric label; "other" when out of range. */
const char *store_err_class_name(enum store_err_class c);

/* The store's counters, copied out for the status socket and logs. */
struct store_stats {
	uint64_t errors;        /* failed statements and connections */
	uint64_t reconnects;    /* successful reconnections after the first */
	uint64_t connects;      /* successful connections */
	uint64_t dropped;       /* results dropped: queue.max_unwritten full, no memory */
	uint64_t rejected;      /* unverified results dropped: the database rejected their data */
	uint64_t refused[STORE_ERR_COUNT]; /* failed WRITEs by class */
	bool writes_blocked;    /* the database refuses writes now; results are kept */
	unsigned queued;        /* results waiting to be written */
	double last_lease_at;   /* wall clock of the last successful LEASE; 0 none */
	int64_t pending_seen;   /* pending rows at the last count; -1 unknown */
	int64_t exceptions_seen[2]; /* rows awaiting approval, rows verified by
				     * an admin's exception; -1 unknown */
	uint64_t corroborations; /* our results that made our perspective corroborate */
	uint64_t decided_verified; /* quorum decisions on our results: verified */
	uint64_t decided_pending;  /* ... not (yet) met: still pending */
};

struct event_base;

/* Opaque: the connection, the statement in flight and the result queue. */
struct store;

/*
 * Copy the parameters and start connecting on base (which must outlive
 * the store). Returns NULL with errno set when out of memory; a database
 * that is away is not an error (the store keeps trying).
 */
struct store *store_new(struct event_base *base,
			const struct store_params *params,
			const struct store_hooks *hooks)
	__attribute__((warn_unused_result));

/* Close the connection and free queued results (unwritten ones are lost).
 * NULL is fine. */
void store_free(struct store *s);

/*
 * Ask for up to n due rows (replaces an earlier wish). hungry: the engine
 * has room for much more than it holds (half a lease batch or more), so
 * while there is a backlog (the last LEASE came back full) this LEASE goes
 * before the results waiting to be written: the probes of the next batch
 * then run while the WRITE does, instead of after it.
 */
void store_want_lease(struct store *s, unsigned n, bool hungry);

/* Queue a result for writing; the store copies it. */
void store_push_result(struct store *s, const struct store_result *r);

/* Refresh the count of pending rows when the connection is idle. */
void store_request_count(struct store *s);

/* True when nothing is queued and no statement is in flight. */
bool store_idle(const struct store *s);

/* Update lease time, backoff cap, queue bound, expiry and the heartbeat's
 * period (live reload). */
void store_set_params(struct store *s, uint64_t lease_time_ms,
		      uint64_t reconnect_max_ms, unsigned max_unwritten,
		      uint64_t expiry_ms, uint64_t poll_interval_ms);

/*
 * Stopping: every result parked behind another session's lock is tried
 * again at once (first, one at a time) instead of after its wait.
 */
void store_unpark_all(struct store *s);

/* A copy of the counters. */
void store_stats(const struct store *s, struct store_stats *out);

/*
 * Call fn(arg, r) for every result not yet written, oldest first (fn must
 * not call into the store); returns how many there were. For the log at
 * an exit that loses them.
 */
unsigned store_foreach_unwritten(const struct store *s,
				 void (*fn)(void *arg,
					    const struct store_result *r),
				 void *arg);

#endif
