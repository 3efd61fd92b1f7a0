/*
 * status.h - the daemon's status socket: HTTP on a unix socket (and,
 * optionally, TCP) for `ntpverify status`, humans with curl, and Prometheus.
 *
 *   GET /metrics   Prometheus text exposition format 0.0.4
 *   GET /status    one JSON object: version, uptime, prober, sources,
 *                  database state, counters, the last few outcomes
 *
 * Served by status_http.c on the daemon's own event_base: every handler
 * answers from memory at once (no database round trip), so a scrape can
 * never wait for PostgreSQL and PostgreSQL never waits for a scrape. Only
 * GET and HEAD are served (405 otherwise), one request per connection;
 * request headers are capped at STATUS_MAX_HEADERS bytes, and every
 * connection is closed STATUS_DEADLINE_MS after it was accepted, however
 * slowly it trickles bytes. Each listener holds at most max_clients
 * connections (more wait in the kernel's backlog), and that cap is sized
 * so that the probes and the database always have their descriptors.
 * TCP clients are checked against an allow-list. Nothing served here ever
 * contains a token.
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

#include "config/config.h"
#include "daemon/status_snapshot.h"

struct event_base;

/* Descriptors kept for everything but probes and status clients:
 * stdio, log, event loop, signals, database, notify, listeners. */
#define STATUS_FD_RESERVE 64
/* Fewer status clients per listener than this: refuse to start. */
#define STATUS_MIN_CLIENTS 8
/* status_max_clients when params.max_clients is 0. */
#define STATUS_DEFAULT_MAX_CLIENTS 256

/* Opaque: the HTTP server, its listeners and the socket path. */
struct status;

/* The status_* settings of the configuration, and what they must share. */
struct status_params {
	const char *socket_path; /* the unix socket; required */
	const char *listen;      /* ADDRESS:PORT for TCP; NULL or "" for none */
	unsigned max_clients;    /* per listener; 0 = STATUS_DEFAULT_MAX_CLIENTS */
	unsigned max_in_flight;  /* probe.max_in_flight: a descriptor each */
	const struct config_prefix *allow; /* TCP clients served; copied */
	size_t n_allow;          /* entries in allow; 0 = no TCP client */
};

/*
 * Bind params->socket_path (a unix socket, mode 0660; a stale socket file
 * left by a dead daemon is replaced, a live one or a non-socket file is an
 * error) and, when params->listen is set, that TCP address; serve both on
 * base, answering every request from a fresh snapshot(arg). Raises the
 * soft RLIMIT_NOFILE to the hard limit, then sizes the client cap: when
 * the limit cannot hold max_in_flight probes, STATUS_FD_RESERVE and
 * STATUS_MIN_CLIENTS clients per listener it refuses (NULL, with a
 * message naming the numbers); when it cannot hold max_clients per
 * listener it lowers the cap to what fits and warns. The socket's
 * directory must exist (systemd's RuntimeDirectory= makes it). Returns
 * NULL after logging what failed.
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
