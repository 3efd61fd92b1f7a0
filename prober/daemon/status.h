/*
 * status.h - the daemon's status socket: HTTP on a unix socket (and,
 * optionally, TCP) for `ntpverify status`, humans with curl, and Prometheus.
 *
 *   GET /metrics   Prometheus text exposition format 0.0.4
 *   GET /status    one JSON object: version, uptime, prober, sources,
 *                  database state, counters, the last few outcomes
 *
 * Served by evhttp on the daemon's own event_base: every handler answers
 * from memory at once (no database round trip), so a scrape can never wait
 * for PostgreSQL and PostgreSQL never waits for a scrape. Only GET and HEAD
 * are served (405 otherwise); request headers are capped at
 * STATUS_MAX_HEADERS bytes, bodies at STATUS_MAX_BODY, and a connection
 * that sends or reads nothing for STATUS_TIMEOUT_S seconds is closed, so a
 * slow or half-open client costs one file descriptor for a bounded time and
 * never blocks the loop. Nothing served here ever contains a token.
 *
 * The server never sees the daemon: it asks for a status_snapshot through
 * the callback given to status_open() and renders it (status_render.h).
 *
 * Ownership: status_open() returns a handle the caller frees with
 * status_close(); the event base and the callback's argument must outlive
 * it. The parameters' strings are copied as needed.
 */
#ifndef NTPVERIFY_STATUS_H
#define NTPVERIFY_STATUS_H

#include "daemon/status_snapshot.h"

struct event_base;

#define STATUS_MAX_HEADERS 8192 /* request line + headers, bytes */
#define STATUS_MAX_BODY 1024    /* GET/HEAD need none; a little is tolerated */
#define STATUS_TIMEOUT_S 5      /* idle read/write timeout per connection */

/* Opaque: the evhttp server, its listeners and the socket path. */
struct status;

/* Where to listen (status_socket and status_listen of the configuration). */
struct status_params {
	const char *socket_path; /* the unix socket; required */
	const char *listen;      /* ADDRESS:PORT for TCP; NULL or "" for none */
};

/*
 * Bind params->socket_path (a unix socket, mode 0660; a stale socket file
 * left by a dead daemon is replaced, a live one or a non-socket file is an
 * error) and, when params->listen is set, that TCP address; serve both on
 * base, answering every request from a fresh snapshot(arg). Raises the
 * soft RLIMIT_NOFILE to the hard limit so that a thousand clients fit. The
 * socket's directory must exist (systemd's RuntimeDirectory= makes it).
 * Returns NULL after logging what failed.
 */
struct status *status_open(struct event_base *base,
			   const struct status_params *params,
			   status_snapshot_fn snapshot, void *arg)
	__attribute__((warn_unused_result));

/*
 * Stop listening, close every client connection, remove the unix socket
 * (only if it is still the one we created) and free. NULL is fine.
 */
void status_close(struct status *st);

#endif
