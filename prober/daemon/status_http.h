/*
 * status_http.h - the status socket's HTTP server: a small HTTP/1.0-style
 * server on the daemon's event loop, written for one property: however
 * its clients behave, it cannot take the descriptors or the loop time the
 * prober needs.
 *
 *   - at most max_clients connections per listener at once; at the cap
 *     the listener stops accepting and new connections wait in the
 *     kernel's backlog (an honest burst is served a moment later, a
 *     flood costs the daemon no descriptor) until a client leaves;
 *   - a whole-request deadline, STATUS_DEADLINE_MS from accept() to the
 *     reply written, that no amount of trickled bytes extends: at the
 *     deadline a client that has not had its reply gets a best-effort 408
 *     and is closed, one that is still reading its reply is closed;
 *   - one request per connection: request line and headers (at most
 *     STATUS_MAX_HEADERS bytes; no body is read), GET and HEAD only (405
 *     with Allow otherwise; 400 for anything unparsable or too long),
 *     every reply says Connection: close;
 *   - on a TCP listener, an allow-list of client prefixes checked at
 *     accept(): a client outside it gets a best-effort 403 and is closed
 *     at once, before it can send anything;
 *   - when accept() runs out of descriptors anyway (EMFILE), accepting
 *     pauses for STATUS_ACCEPT_PAUSE_MS instead of spinning.
 *
 * What to serve comes from a route callback; the server owns only
 * connections. Ownership: status_http_new() returns a handle freed with
 * status_http_free(), which closes every listener and client; the event
 * base and the route argument must outlive it.
 */
#ifndef NTPVERIFY_STATUS_HTTP_H
#define NTPVERIFY_STATUS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "daemon/status_snapshot.h"

struct event_base;

#define STATUS_MAX_HEADERS 8192    /* request line + headers, bytes */
#define STATUS_DEADLINE_MS 5000    /* accept() to reply written, at most */
#define STATUS_ACCEPT_PAUSE_MS 250 /* after accept() found no descriptor */

/* What the route callback answers for GET or HEAD of a path. */
struct status_reply {
	int code;          /* e.g. 200, 404, 500 */
	const char *reason; /* "OK"; static */
	const char *ctype;  /* Content-Type; static */
	char *body;        /* malloc()ed; the server frees it; NULL with len 0 */
	size_t len;        /* bytes in body (HEAD: only the length is sent) */
};

/* Fill *out for path (query string already removed). */
typedef void (*status_route_fn)(void *arg, const char *path,
				struct status_reply *out);

/* Opaque: listeners, clients, limits and counters. */
struct status_http;

/*
 * A server with no listener yet. max_clients (>= 1) bounds each listener;
 * allow[0..n_allow) (copied) is checked for clients of TCP listeners; an
 * empty list refuses every TCP client. NULL (logged) when out of memory.
 */
struct status_http *status_http_new(struct event_base *base,
				    unsigned max_clients,
				    const struct config_prefix *allow,
				    size_t n_allow, status_route_fn route,
				    void *arg) __attribute__((warn_unused_result));

/*
 * Serve the listening socket fd (non-blocking, listen() done); the server
 * owns it from now on, even on failure. tcp: check the allow-list. name
 * appears in log lines. Returns 0, or -1 (logged).
 */
int status_http_listen(struct status_http *h, int fd, bool tcp,
		       const char *name) __attribute__((warn_unused_result));

void status_http_stats(const struct status_http *h,
		       struct status_http_stats *out);

/* Close every listener and client, then free. NULL is fine. */
void status_http_free(struct status_http *h);

#endif
