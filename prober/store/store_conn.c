/*
 * store_conn.c - connecting, reconnecting and socket readiness for the
 * store's libpq connection. Never a blocking libpq call.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/evtime.h"
#include "core/log.h"
#include "store/store_conn.h"
#include "store/store_sql.h"

#define STORE_CONNECT_TIMEOUT_MS 10000
#define STORE_BACKOFF_MIN_MS 500

static void store_io_cb(evutil_socket_t fd, short what, void *arg);

/* (Re)bind the socket event; PQsocket() can change during connect. */
static void watch(struct store_conn *c, short what)
{
	int fd = PQsocket(c->conn);

	event_del(&c->ev_io);
	c->fd = fd;
	if (fd < 0)
		return;
	event_assign(&c->ev_io, c->base, fd, what | EV_PERSIST, store_io_cb, c);
	event_add(&c->ev_io, NULL);
}

static void schedule_reconnect(struct store_conn *c)
{
	uint64_t delay = c->backoff_ms;

	c->backoff_ms = c->backoff_ms * 2 > c->reconnect_max_ms
				? c->reconnect_max_ms
				: c->backoff_ms * 2;
	evtime_add_ms(&c->ev_timer, delay);
}

/*
 * One warning when connecting starts failing or fails differently; the
 * same failure again is counted (and logged at debug) until the store is
 * connected again (store_conn_settled()).
 */
static void log_failure(struct store_conn *c, const char *why)
{
	if (why == NULL)
		return; /* the owner said it */
	if (c->failing && strcmp(c->last_why, why) == 0) {
		c->quiet++;
		log_debug("database: %s; reconnecting in %" PRIu64 " ms", why,
			  c->backoff_ms);
		return;
	}
	if (c->quiet > 0)
		log_warn("database: %s; reconnecting in %" PRIu64 " ms (the "
			 "previous failure repeated %" PRIu64 " more times; "
			 "the same failure again is logged at debug)",
			 why, c->backoff_ms, c->quiet);
	else
		log_warn("database: %s; reconnecting in %" PRIu64 " ms (the "
			 "same failure again is logged at debug)",
			 why, c->backoff_ms);
	c->failing = true;
	c->quiet = 0;
	snprintf(c->last_why, sizeof(c->last_why), "%s", why);
}

uint64_t store_conn_settled(struct store_conn *c)
{
	uint64_t quiet = c->quiet;

	c->failing = false;
	c->quiet = 0;
	c->last_why[0] = '\0';
	return quiet;
}

void store_conn_drop(struct store_conn *c, const char *why)
{
	event_del(&c->ev_io);
	evtimer_del(&c->ev_timer);
	if (c->conn != NULL) {
		/* PQfinish closes the fd: the event is already gone. */
		PQfinish(c->conn);
		c->conn = NULL;
	}
	c->fd = -1;
	c->connecting = false;
	c->flushing = false;
	log_failure(c, why);
	c->down(c->arg);
	schedule_reconnect(c);
}

const char *store_conn_error(const struct store_conn *c)
{
	static char buf[256];

	return store_sql_error_text(c->conn ? PQerrorMessage(c->conn)
					    : "no connection",
				    buf, sizeof(buf));
}

static void start_connect(struct store_conn *c)
{
	c->conn = PQconnectStart(c->conninfo);
	if (c->conn == NULL) {
		log_err("database: out of memory");
		schedule_reconnect(c);
		return;
	}
	if (PQstatus(c->conn) == CONNECTION_BAD) {
		store_conn_drop(c, store_conn_error(c));
		return;
	}
	PQsetNoticeReceiver(c->conn, store_notice, c);
	c->connecting = true;
	evtime_add_ms(&c->ev_timer, STORE_CONNECT_TIMEOUT_MS);
	/* The first poll is "writing" by libpq's contract. */
	watch(c, EV_WRITE);
}

static void continue_connect(struct store_conn *c)
{
	switch (PQconnectPoll(c->conn)) {
	case PGRES_POLLING_READING:
		watch(c, EV_READ);
		return;
	case PGRES_POLLING_WRITING:
		watch(c, EV_WRITE);
		return;
	case PGRES_POLLING_OK:
		break;
	case PGRES_POLLING_FAILED:
	default:
		store_conn_drop(c, store_conn_error(c));
		return;
	}

	evtimer_del(&c->ev_timer);
	c->connecting = false;
	if (PQsetnonblocking(c->conn, 1) != 0) {
		store_conn_drop(c, "cannot make the connection non-blocking");
		return;
	}
	watch(c, EV_READ);
	c->backoff_ms = STORE_BACKOFF_MIN_MS;
	c->up(c->arg);
}

void store_conn_sent(struct store_conn *c)
{
	c->flushing = true;
	watch(c, EV_READ | EV_WRITE);
}

static void store_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct store_conn *c = arg;

	(void)fd;
	if (c->connecting) {
		continue_connect(c);
		return;
	}
	if (what & EV_READ) {
		c->readable(c->arg);
		if (c->conn == NULL)
			return;
	}
	if (c->flushing) {
		int rc = PQflush(c->conn);
		if (rc < 0) {
			store_conn_drop(c, store_conn_error(c));
			return;
		}
		if (rc == 0) {
			c->flushing = false;
			watch(c, EV_READ);
		}
		/* rc == 1: keep waiting for read or write readiness. */
	}
}

static void store_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct store_conn *c = arg;

	(void)fd;
	(void)what;
	if (c->connecting) {
		store_conn_drop(c, "connection timed out");
		return;
	}
	if (c->conn == NULL)
		start_connect(c);
}

void store_conn_start(struct store_conn *c, struct event_base *base,
		      const char *conninfo, uint64_t reconnect_max_ms)
{
	c->base = base;
	c->conninfo = conninfo;
	c->reconnect_max_ms = reconnect_max_ms;
	c->conn = NULL;
	c->fd = -1;
	c->connecting = c->flushing = false;
	c->failing = false;
	c->quiet = 0;
	c->last_why[0] = '\0';
	c->backoff_ms = STORE_BACKOFF_MIN_MS;
	event_assign(&c->ev_io, base, -1, 0, store_io_cb, c);
	evtimer_assign(&c->ev_timer, base, store_timer_cb, c);
	start_connect(c);
}

void store_conn_close(struct store_conn *c)
{
	event_del(&c->ev_io);
	evtimer_del(&c->ev_timer);
	if (c->conn != NULL)
		PQfinish(c->conn);
	c->conn = NULL;
}
