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
 * Ownership: status_open() returns a handle the caller frees with
 * status_close(); the daemon it points to must outlive it.
 */
#ifndef NTPVERIFY_STATUS_H
#define NTPVERIFY_STATUS_H

#include <stdio.h>

struct daemon;

#define STATUS_MAX_HEADERS 8192 /* request line + headers, bytes */
#define STATUS_MAX_BODY 1024    /* GET/HEAD need none; a little is tolerated */
#define STATUS_TIMEOUT_S 5      /* idle read/write timeout per connection */
#define STATUS_RECENT_SHOWN 10  /* outcomes listed by /status */

/* Opaque: the evhttp server, its listeners and the socket path. */
struct status;

/*
 * Bind d->cfg.status_socket (a unix socket, mode 0660; a stale socket file
 * left by a dead daemon is replaced, a live one or a non-socket file is an
 * error) and, when d->cfg.status_listen is set, that TCP address; serve
 * both on d->base. Raises the soft RLIMIT_NOFILE to the hard limit so that
 * a thousand clients fit. The socket's directory must exist (systemd's
 * RuntimeDirectory= makes it). Returns NULL after logging what failed.
 */
struct status *status_open(struct daemon *d) __attribute__((warn_unused_result));

/*
 * Stop listening, close every client connection, remove the unix socket
 * (only if it is still the one we created) and free. NULL is fine.
 */
void status_close(struct status *st);

/*
 * The documents themselves, written to f (for the handlers and for tests).
 * Return 0, or -1 when f reported a write error.
 */
int status_write_metrics(const struct daemon *d, FILE *f)
	__attribute__((warn_unused_result));
int status_write_json(const struct daemon *d, FILE *f)
	__attribute__((warn_unused_result));

#endif
