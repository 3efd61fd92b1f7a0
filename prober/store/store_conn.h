/*
 * store_conn.h - the store's one libpq connection on the event loop:
 * non-blocking connect with a timeout, reconnect with doubling backoff,
 * socket readiness, flushing what was sent. It knows nothing of
 * statements; the store (store.c) is told when the connection is up, when
 * a reply can be read and when the connection was lost.
 *
 * Private to prober/store/. Embedded in struct store.
 */
#ifndef NTPVERIFY_STORE_CONN_H
#define NTPVERIFY_STORE_CONN_H

#include <event2/event.h>
#include <event2/event_struct.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

struct store_conn {
	struct event_base *base;   /* not owned */
	const char *conninfo;      /* libpq connection string; not owned */
	uint64_t reconnect_max_ms; /* backoff cap */
	PGconn *conn;              /* NULL while disconnected */
	int fd;                    /* PQsocket() the events are bound to */
	bool connecting;           /* PQconnectPoll in progress */
	bool flushing;             /* waiting to flush the send buffer */
	struct event ev_io;        /* socket readiness */
	struct event ev_timer;     /* connect timeout / reconnect backoff */
	uint64_t backoff_ms;       /* next reconnect delay */
	bool failing;              /* dropped since the last settled() */
	char last_why[256];        /* the failure last logged as a warning */
	uint64_t quiet;            /* repeats of it not logged as warnings */

	/* Connected and non-blocking: the owner sends its first statement. */
	void (*up)(void *arg);
	/* Input arrived: the owner consumes it (and may drop the connection). */
	void (*readable)(void *arg);
	/* The connection was dropped (already closed); a reconnect is due. */
	void (*down)(void *arg);
	void *arg;                 /* for the three callbacks */
};

/* Set up the events and start connecting. conninfo must outlive c. */
void store_conn_start(struct store_conn *c, struct event_base *base,
		      const char *conninfo, uint64_t reconnect_max_ms);

/* Close the connection and remove the events; no callback runs. */
void store_conn_close(struct store_conn *c);

/*
 * Drop the connection: log "database: <why>; reconnecting in N ms" (a
 * warning the first time, debug while the same failure repeats; nothing
 * when why is NULL: the owner logged it), call down() and arm the
 * reconnect.
 */
void store_conn_drop(struct store_conn *c, const char *why);

/*
 * The store is fully connected again: end the failing state. Returns how
 * many failures were only counted since the last warning.
 */
uint64_t store_conn_settled(struct store_conn *c);

/* Something was sent: watch for the flush and for the reply. */
void store_conn_sent(struct store_conn *c);

/*
 * libpq's notice receiver, installed on every connection (store_fail.c):
 * a server NOTICE or WARNING becomes one log line with its level, never
 * libpq's raw text on stderr.
 */
void store_notice(void *arg, const PGresult *res);

/* libpq's last error as one phrase (a static buffer). */
const char *store_conn_error(const struct store_conn *c);

#endif
