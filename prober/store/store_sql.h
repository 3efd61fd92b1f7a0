/*
 * store_sql.h - the store's statements and the pure code around them:
 * PostgreSQL array literals for the batched WRITE, and reading the rows
 * the statements return. Nothing here touches a connection or the event
 * loop, so the unit tests exercise it with hand-made PGresults.
 *
 * Private to prober/store/: the daemon only sees store.h.
 */
#ifndef NTPVERIFY_STORE_SQL_H
#define NTPVERIFY_STORE_SQL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* "SET lock_timeout = N; LISTEN ntpverify_due": the session's setup. */
void store_sql_listen_text(char *buf, size_t len, uint64_t lock_timeout_ms);
extern const char store_sql_lease[];  /* $1 n, $2 prober, $3 lease ms, $4 expiry ms, $5 perspective */
extern const char store_sql_expire[]; /* $1 expiry ms */
extern const char store_sql_write[];  /* $1 perspective, $2 prober, $3 audit, $4..$13 arrays */
extern const char store_sql_register[]; /* $1 perspective, $2 region, $3 inet[], $4 prober */
extern const char store_sql_heartbeat[]; /* the same parameters */
extern const char store_sql_count[];  /* pending and exception rows */

/* verification.attempts stops here (migration 003's CHECK). */
#define STORE_ATTEMPTS_MAX 1000000
#define STORE_ATTEMPTS_MAX_TEXT "1000000"

/* The text parameters of a LEASE or an EXPIRE. */
struct store_sql_params {
	char buf[5][32];        /* formatted numbers */
	const char *values[5];  /* for PQsendQueryParams */
	int n;                  /* parameters used */
};

void store_sql_lease_params(struct store_sql_params *p, unsigned n,
			    const char *prober_name, uint64_t lease_time_ms,
			    uint64_t expiry_ms, const char *perspective);
void store_sql_expire_params(struct store_sql_params *p, uint64_t expiry_ms);

/*
 * A libpq error message as one log-friendly phrase in buf: trailing
 * newlines and spaces removed; "connection lost" when nothing is left.
 * Returns buf or that constant.
 */
const char *store_sql_error_text(const char *msg, char *buf, size_t len);

/* A PostgreSQL array literal being built: {a,"b",NULL}. */
struct pg_array {
	char *buf;  /* NUL-terminated, heap; freed with pg_array_free() */
	size_t len; /* used, without the NUL */
	size_t cap; /* allocated */
};

/* Start "{"; aborts when out of memory (a few kilobytes at most). */
void pg_array_open(struct pg_array *a);
/* Append one element, NULL for SQL NULL; quoted ones escape '"' and '\\'. */
void pg_array_push(struct pg_array *a, const char *val, bool quote);
/* Append "}"; a->buf is then the literal. */
void pg_array_close(struct pg_array *a);
void pg_array_free(struct pg_array *a);

/* The source addresses as an array literal for REGISTER's $3: heap, the
 * caller frees it. */
char *store_sql_sources_literal(const char *const *sources, size_t n);

#define STORE_WRITE_ARRAYS 10 /* $4..$13 of store_sql_write */
#define STORE_WRITE_PARAMS 13 /* and $1..$3 before them */

/* Who writes, and whether with audit rows ($1..$3 of store_sql_write). */
struct store_write_who {
	const char *perspective; /* verification_probe.perspective */
	const char *prober_name; /* probe_attempt.prober */
	bool audit;              /* false: a verified result alone, no attempt row */
};

/* The parameters of one WRITE; values[] point into arrays[] and prober. */
struct store_write_params {
	struct pg_array arrays[STORE_WRITE_ARRAYS]; /* owned */
	const char *values[STORE_WRITE_PARAMS];     /* for PQsendQueryParams;
						       [0..2] point into who */
	unsigned n;                                 /* results included */
};

/*
 * Encode up to `limit` results from the list at head (linked by ->next).
 * Release-only results (outcome < 0) write NULL outcome, detail and time.
 * Free with store_write_params_free().
 */
void store_write_params_build(struct store_write_params *wp,
			      const struct store_result *head, unsigned limit,
			      const struct store_write_who *who);
void store_write_params_free(struct store_write_params *wp);

/* One row of a WRITE or EXPIRE that reached the database. */
struct store_written {
	int64_t id;                       /* verification.id */
	const char *server;               /* host(server_ip); points into res */
	enum verification_state state;    /* the row's state now */
	const char *verified_by;          /* "" unless verified; into res */
	double next_in_s;                 /* our perspective's next probe in; < 0 none */
	bool corroborated;                /* this result made our perspective corroborate */
	bool decided;                     /* a quorum decision was taken on it */
};

/*
 * Read row i of a LEASE result into *out (zeroed first; the key fields
 * only for the key method). The caller cleanses *out after use.
 */
void store_sql_lease_row(const PGresult *res, int i, struct store_lease *out);
/* Row i of a WRITE result. */
void store_sql_written_row(const PGresult *res, int i,
			   struct store_written *out);
/* Row i of an EXPIRE result: state is always expired. */
void store_sql_expired_row(const PGresult *res, int i,
			   struct store_written *out);
/* The id of row i of a WRITE result (for matching discarded results). */
int64_t store_sql_written_id(const PGresult *res, int i);
/* Whether some row of a WRITE result has this id. */
bool store_sql_written_has(const PGresult *res, int64_t id);
/* The pending rows of a COUNT result. */
int64_t store_sql_count_value(const PGresult *res);
/* Its exception rows: out[0] awaiting approval, out[1] verified by one. */
void store_sql_count_exceptions(const PGresult *res, int64_t out[2]);

#endif
