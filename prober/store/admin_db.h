/*
 * admin_db.h - the verification queue as the one-shot admin commands see
 * it (migrate, add, list, show, retry, cancel): one blocking libpq
 * connection (PQconnectdb, PQexecParams), not the daemon's event loop.
 *
 * Every query the admin commands run lives here; callers get plain
 * structs and never see libpq. Every value goes to the server as a
 * parameter. Secrets: admin_db_add() takes the caller's token or key by
 * pointer and copies it nowhere (the caller wipes its buffers), and
 * nothing read back ever holds a token or a key: `show` gets the token's
 * length and the key's ID and type only.
 *
 * Errors: a function that fails returns ADMIN_DB_ERROR (or -1) and
 * admin_db_error() says why: the statement's primary message only, never
 * its DETAIL line, because "Failing row contains (...)" would quote the
 * token or the key.
 */
#ifndef NTPVERIFY_ADMIN_DB_H
#define NTPVERIFY_ADMIN_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* An open connection (opaque); admin_db_close() frees it. */
struct admin_db;

/* What a statement came to. */
enum admin_db_result {
	ADMIN_DB_ERROR = -1, /* database trouble: see admin_db_error() */
	ADMIN_DB_DONE = 0,   /* added, changed, found */
	ADMIN_DB_NONE,       /* nothing matched (no such id, not pending) */
	ADMIN_DB_PENDING,    /* add: the address already has an open row
				(pending or awaiting approval) */
	ADMIN_DB_RACE,       /* add: that pending row kept changing; retry */
};

/* Timestamps are RFC 3339 text in UTC ("2026-12-01T12:00:00.213Z"). */
#define ADMIN_DB_TIME_MAX 32
/* host(server_ip): an IPv6 address with a zone at most. */
#define ADMIN_DB_HOST_MAX 64

/*
 * Connect with `conninfo` (libpq's syntax; "" uses its defaults) and
 * silence NOTICEs. Returns the connection, or NULL with the reason (which
 * names host and user, never a password) in err.
 */
struct admin_db *admin_db_open(const char *conninfo, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* Close and free db (NULL is fine). */
void admin_db_close(struct admin_db *db);

/* Why the last call failed, one line, no trailing newline; owned by db. */
const char *admin_db_error(const struct admin_db *db);
/*
 * What to do about the last failure, one line, or NULL: 42501 (no
 * privilege) names the owner role and docs/admins.md, 42P01 (no table)
 * `ntpverify migrate`, 3D000 and 28xxx the connection string.
 */
const char *admin_db_hint(const struct admin_db *db);
/* The same for a given SQLSTATE (NULL: none). */
const char *admin_db_hint_for(const char *sqlstate);

/* The schema version this binary needs (the highest migration it has). */
int admin_db_schema_latest(void);
/* The version the database has (0: empty). 0, or -1 (admin_db_error). */
int admin_db_schema_current(struct admin_db *db, int *version)
	__attribute__((warn_unused_result));
/*
 * Apply missing migrations, one line each to log. 0, or -1 with the
 * reason (one line) in admin_db_error() and admin_db_hint().
 */
int admin_db_migrate(struct admin_db *db, FILE *log)
	__attribute__((warn_unused_result));

/* A new pending verification: exactly one of token and key_hex is set. */
struct admin_db_new {
	const char *server;   /* canonical address text */
	const char *token;    /* setvar method; caller's buffer, secret */
	unsigned key_id;      /* key method: 1..65534 */
	const char *key_type; /* key method: "AES128" or "SHA1" */
	const char *key_hex;  /* key method; caller's buffer, secret */
	const char *refid_code; /* refid method: the code (not secret) */
};

/* What admin_db_add() reports. */
struct admin_db_added {
	int64_t id;                      /* the new row, or the pending one */
	char expires[ADMIN_DB_TIME_MAX]; /* when DONE: its expires_at */
};

/*
 * Insert one pending row. DONE (out: its id and expiry), PENDING (the
 * address already has one: out->id names it), RACE or ERROR.
 */
enum admin_db_result admin_db_add(struct admin_db *db,
				  const struct admin_db_new *v,
				  struct admin_db_added *out)
	__attribute__((warn_unused_result));

/* One row of `ntpverify list`. Strings never NULL ("-" for none). */
struct admin_db_row {
	char *id;           /* decimal */
	char *server;       /* address */
	char *method;       /* "setvar", "key ID TYPE" (never the secret) or
			       "refid CODE" */
	char *state;        /* pending, awaiting_approval, verified, ... */
	char *attempts;     /* decimal */
	char *last_outcome; /* outcome name or "-" */
	char *next_probe;   /* time, "probing now" or "-" */
	char *expires;      /* time */
	char *method_name;  /* "setvar", "key" or "refid" */
	char *key_id;       /* key method: decimal; "-" otherwise */
	char *key_type;     /* key method: AES128 or SHA1; "-" otherwise */
	char *next_probe_at; /* time while pending, "-" otherwise */
	char *leased;       /* "t": a prober holds a live lease, else "f" */
	char *quorum;       /* "corroborating/quorum"; "-" while no perspective
			       has registered */
	char *refid_code;   /* refid method: the code; "-" otherwise */
	char *proof;        /* ntp, indirect or manual (migration 8) */
};

/* Rows of list or attempts: heap arrays, freed with their _free(). */
struct admin_db_rows {
	struct admin_db_row *row; /* n rows, ascending id */
	size_t n;                 /* count */
};

/* Every verification, or those in `state` (NULL: all). DONE or ERROR. */
enum admin_db_result admin_db_list(struct admin_db *db, const char *state,
				   struct admin_db_rows *out)
	__attribute__((warn_unused_result));
void admin_db_rows_free(struct admin_db_rows *rows);

/* One verification for `show`; NULL where the column is NULL. */
struct admin_db_verification {
	char *id;           /* decimal */
	char *server;       /* address */
	char *state;        /* pending, ... */
	char *token_len;    /* length of the token, not the token */
	char *created;      /* time */
	char *expires;      /* time */
	char *next_probe;   /* time while pending */
	char *attempts;     /* decimal */
	char *last_probe;   /* time */
	char *last_outcome; /* outcome name */
	char *last_detail;  /* prober's text: escape before printing */
	char *lease_owner;  /* prober holding a lease: escape */
	char *lease_until;  /* time */
	char *verified_at;  /* time */
	char *verified_by;  /* prober name: escape */
	char *method;       /* "setvar", "key" or "refid" */
	char *key_id;       /* key method: decimal */
	char *key_type;     /* key method: AES128 or SHA1 */
	char *refid_code;   /* refid method: the code (not a secret) */
	char *proof;        /* ntp, indirect or manual */
};

/* Fetch verification `id`: DONE, NONE or ERROR. */
enum admin_db_result admin_db_show(struct admin_db *db, int64_t id,
				   struct admin_db_verification *out)
	__attribute__((warn_unused_result));
void admin_db_verification_free(struct admin_db_verification *v);

/* One probe attempt; strings never NULL. */
struct admin_db_attempt {
	char *at;      /* time */
	char *prober;  /* prober name: escape */
	char *source;  /* address or "-" */
	char *outcome; /* outcome name */
	char *rtt;     /* "1.234 ms" or "-" */
	char *detail;  /* prober's text, may be "": escape */
	char *rtt_ms;  /* "1.234" or "-" */
};

/* The attempts of verification `id`, oldest first. */
struct admin_db_attempts {
	struct admin_db_attempt *a; /* n entries */
	size_t n;                   /* count */
};

/* The attempt history of `id`: DONE (maybe none) or ERROR. */
enum admin_db_result admin_db_attempts(struct admin_db *db, int64_t id,
				       struct admin_db_attempts *out)
	__attribute__((warn_unused_result));
void admin_db_attempts_free(struct admin_db_attempts *list);

/* What retry or cancel did to a pending row. */
struct admin_db_change {
	bool leased;                       /* retry: a live lease: probing now */
	bool expired;                      /* retry: past its expiry */
	char expires[ADMIN_DB_TIME_MAX];   /* retry: expires_at */
	char server[ADMIN_DB_HOST_MAX];    /* cancel: its address */
};

/*
 * Make pending verification `id` due now (a lease that ran out is
 * cleared; a live one is left alone). DONE, NONE (not pending or absent:
 * see admin_db_state) or ERROR.
 */
enum admin_db_result admin_db_retry(struct admin_db *db, int64_t id,
				    struct admin_db_change *out)
	__attribute__((warn_unused_result));
/*
 * Cancel pending verification `id`, clearing its lease so a probe in
 * flight loses it. DONE, NONE or ERROR.
 */
enum admin_db_result admin_db_cancel(struct admin_db *db, int64_t id,
				     struct admin_db_change *out)
	__attribute__((warn_unused_result));

/* The state of `id` into state[len]: DONE, NONE (no such id) or ERROR. */
enum admin_db_result admin_db_state(struct admin_db *db, int64_t id,
				    char *state, size_t len)
	__attribute__((warn_unused_result));

#endif
