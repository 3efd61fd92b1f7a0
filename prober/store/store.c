/*
 * store.c - the connection, the statement pump and the result queue.
 * The statements and their rows are in store_sql.c.
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "core/evtime.h"
#include "core/log.h"
#include "store/store.h"
#include "store/store_sql.h"

#define STORE_CONNECT_TIMEOUT_MS 10000
#define STORE_BACKOFF_MIN_MS 500
#define STORE_WRITE_BATCH 1000
#define STORE_RETRY_PAUSE_MS 1000

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
	struct store_hooks hooks;   /* callbacks into the owner */
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
	struct store_result **tail; /* where the next result is linked */
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

static void store_io_cb(evutil_socket_t fd, short what, void *arg);
static void store_timer_cb(evutil_socket_t fd, short what, void *arg);
static void store_pump(struct store *s);

static void store_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct store *s = arg;

	(void)fd;
	(void)what;
	s->write_pause = false;
	store_pump(s);
}

static void store_expire_cb(evutil_socket_t fd, short what, void *arg)
{
	struct store *s = arg;

	(void)fd;
	(void)what;
	s->expire_due = true;
	store_pump(s);
}

/* (Re)bind the socket event; PQsocket() can change during connect. */
static void watch(struct store *s, short what)
{
	int fd = PQsocket(s->conn);

	event_del(&s->ev_io);
	s->fd = fd;
	if (fd < 0)
		return;
	event_assign(&s->ev_io, s->base, fd, what | EV_PERSIST, store_io_cb, s);
	event_add(&s->ev_io, NULL);
}

static void schedule_reconnect(struct store *s)
{
	uint64_t delay = s->backoff_ms;

	s->backoff_ms = s->backoff_ms * 2 > s->params.reconnect_max_ms
				? s->params.reconnect_max_ms
				: s->backoff_ms * 2;
	evtime_add_ms(&s->ev_timer, delay);
}

static void disconnect(struct store *s, const char *why)
{
	bool was_up = s->connected;

	event_del(&s->ev_io);
	evtimer_del(&s->ev_timer);
	if (s->conn != NULL) {
		/* PQfinish closes the fd: the event is already gone. */
		PQfinish(s->conn);
		s->conn = NULL;
	}
	s->fd = -1;
	s->connected = false;
	s->connecting = false;
	s->flushing = false;
	s->op = STORE_OP_NONE;
	s->writing = 0;
	s->n_errors++;
	log_warn("database: %s; reconnecting in %" PRIu64 " ms", why,
		 s->backoff_ms);
	if (was_up && s->hooks.connection != NULL)
		s->hooks.connection(s->hooks.arg, false);
	schedule_reconnect(s);
}

static const char *conn_error(struct store *s)
{
	static char buf[256];
	const char *msg = s->conn ? PQerrorMessage(s->conn) : "no connection";
	size_t n;

	snprintf(buf, sizeof(buf), "%s", msg);
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return buf[0] ? buf : "connection lost";
}

static void start_connect(struct store *s)
{
	s->conn = PQconnectStart(s->params.conninfo);
	if (s->conn == NULL) {
		log_err("database: out of memory");
		schedule_reconnect(s);
		return;
	}
	if (PQstatus(s->conn) == CONNECTION_BAD) {
		disconnect(s, conn_error(s));
		return;
	}
	s->connecting = true;
	evtime_add_ms(&s->ev_timer, STORE_CONNECT_TIMEOUT_MS);
	/* The first poll is "writing" by libpq's contract. */
	watch(s, EV_WRITE);
}

static void continue_connect(struct store *s)
{
	switch (PQconnectPoll(s->conn)) {
	case PGRES_POLLING_READING:
		watch(s, EV_READ);
		return;
	case PGRES_POLLING_WRITING:
		watch(s, EV_WRITE);
		return;
	case PGRES_POLLING_OK:
		break;
	case PGRES_POLLING_FAILED:
	default:
		disconnect(s, conn_error(s));
		return;
	}

	evtimer_del(&s->ev_timer);
	s->connecting = false;
	if (PQsetnonblocking(s->conn, 1) != 0) {
		disconnect(s, "cannot make the connection non-blocking");
		return;
	}
	watch(s, EV_READ);
	s->backoff_ms = STORE_BACKOFF_MIN_MS;
	s->op = STORE_OP_LISTEN;
	if (!PQsendQuery(s->conn, store_sql_listen)) {
		disconnect(s, conn_error(s));
		return;
	}
	s->flushing = true;
	watch(s, EV_READ | EV_WRITE);
}

static bool send_write(struct store *s)
{
	struct store_write_params wp;
	int ok;

	store_write_params_build(&wp, s->head, s->write_limit,
				 s->params.prober_name);
	ok = PQsendQueryParams(s->conn, store_sql_write, STORE_WRITE_PARAMS,
			       NULL, wp.values, NULL, NULL, 0);
	if (ok)
		s->writing = wp.n;
	store_write_params_free(&wp);
	return ok;
}

static bool send_expire(struct store *s)
{
	char ms[32];
	const char *values[1] = { ms };

	snprintf(ms, sizeof(ms), "%" PRIu64, s->params.expiry_ms);
	return PQsendQueryParams(s->conn, store_sql_expire, 1, NULL, values, NULL,
				 NULL, 0);
}

static bool send_lease(struct store *s)
{
	char n[16], ms[32], exp[32];
	const char *values[4] = { n, s->params.prober_name, ms, exp };

	s->lease_batch = s->lease_want;
	s->leased_rows = 0;
	snprintf(n, sizeof(n), "%u", s->lease_batch);
	snprintf(ms, sizeof(ms), "%" PRIu64, s->params.lease_time_ms);
	snprintf(exp, sizeof(exp), "%" PRIu64, s->params.expiry_ms);
	return PQsendQueryParams(s->conn, store_sql_lease, 4, NULL, values, NULL,
				 NULL, 0);
}

/* Start the next statement, if any and if connected and idle. */
static void store_pump(struct store *s)
{
	bool ok;

	if (!s->connected || s->op != STORE_OP_NONE)
		return;
	/*
	 * Writes go first, but a lease the daemon asked for goes out after
	 * each write rather than after the whole queue is written: under load
	 * results arrive all the time, and the next batch should be on the
	 * wire while the last one's results are being written.
	 */
	if (s->head != NULL && !s->write_pause &&
	    !(s->lease_want > 0 && s->lease_turn)) {
		s->op = STORE_OP_WRITE;
		s->lease_turn = true;
		ok = send_write(s);
	} else if (s->expire_due) {
		s->op = STORE_OP_EXPIRE;
		ok = send_expire(s);
	} else if (s->lease_want > 0) {
		s->op = STORE_OP_LEASE;
		s->lease_turn = false;
		ok = send_lease(s);
	} else if (s->count_due) {
		s->op = STORE_OP_COUNT;
		ok = PQsendQuery(s->conn, store_sql_count);
	} else {
		return;
	}
	if (!ok) {
		disconnect(s, conn_error(s));
		return;
	}
	s->flushing = true;
	watch(s, EV_READ | EV_WRITE);
}

static void free_head(struct store *s, unsigned n)
{
	while (n-- > 0 && s->head != NULL) {
		struct store_result *r = s->head;
		s->head = r->next;
		free(r);
		s->queued--;
	}
	if (s->head == NULL)
		s->tail = &s->head;
}

static void handle_write_result(struct store *s, PGresult *res)
{
	int rows = PQntuples(res);
	unsigned applied = 0;
	struct store_written w;

	for (int i = 0; i < rows; i++) {
		store_sql_written_row(res, i, &w);
		applied++;
		if (w.state != VERIFICATION_PENDING && s->hooks.state_changed)
			s->hooks.state_changed(s->hooks.arg, w.id, w.server,
					       w.state, w.verified_by);
	}
	/* Results that were not applied: their lease was lost. */
	if (s->hooks.discarded != NULL && applied < s->writing) {
		struct store_result *r = s->head;
		for (unsigned k = 0; k < s->writing && r; k++, r = r->next) {
			bool found = false;
			for (int i = 0; i < rows && !found; i++)
				found = store_sql_written_id(res, i) == r->id;
			if (!found)
				s->hooks.discarded(s->hooks.arg, r->id);
		}
	}
}

/*
 * A WRITE failed without the connection failing. A batch is retried one
 * result at a time, so that one bad row cannot hold the rest back; a
 * single result the database rejects as data (SQLSTATE class 22 or 23)
 * can never be written and is dropped, loudly. Anything else is retried
 * after a pause, never in a tight loop.
 */
static void write_failed(struct store *s, const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	bool data_error = state != NULL &&
			  (strncmp(state, "22", 2) == 0 ||
			   strncmp(state, "23", 2) == 0);

	if (data_error && s->writing == 1 && s->head != NULL) {
		log_err("database: the result for verification %" PRId64
			" cannot be stored (SQLSTATE %s); dropped",
			s->head->id, state);
		s->dropped++;
		free_head(s, 1);
	} else if (data_error && s->writing > 1) {
		s->write_limit = 1;
	} else {
		s->write_pause = true;
		evtime_add_ms(&s->ev_retry, STORE_RETRY_PAUSE_MS);
	}
	s->writing = 0;
}

static const char *op_name(enum store_op op)
{
	switch (op) {
	case STORE_OP_WRITE:
		return "write";
	case STORE_OP_LEASE:
		return "lease";
	case STORE_OP_EXPIRE:
		return "expire";
	case STORE_OP_COUNT:
		return "count";
	case STORE_OP_LISTEN:
	case STORE_OP_NONE:
	default:
		return "listen";
	}
}

static void statement_failed(struct store *s, const PGresult *res)
{
	const char *msg = PQresultErrorMessage(res);

	s->n_errors++;
	log_err("database: %s statement failed: %.*s", op_name(s->op),
		(int)strcspn(msg, "\n"), msg);
	if (s->op == STORE_OP_WRITE) {
		write_failed(s, res);
	} else if (s->op == STORE_OP_EXPIRE) {
		/* Not again before a second has passed. */
		s->expire_due = false;
		clock_gettime(CLOCK_MONOTONIC, &s->last_expire);
	} else if (s->op == STORE_OP_COUNT) {
		s->count_due = false;
	}
}

static void handle_listen_result(struct store *s)
{
	s->connected = true;
	s->n_connects++;
	if (s->n_connects > 1)
		s->n_reconnects++;
	s->expire_due = true;
	log_info("database: connected");
	if (s->hooks.connection != NULL)
		s->hooks.connection(s->hooks.arg, true);
}

static void handle_expire_result(struct store *s, const PGresult *res)
{
	struct store_written w;

	s->expire_due = false;
	clock_gettime(CLOCK_MONOTONIC, &s->last_expire);
	for (int i = 0; i < PQntuples(res); i++) {
		store_sql_expired_row(res, i, &w);
		if (s->hooks.state_changed)
			s->hooks.state_changed(s->hooks.arg, w.id, w.server,
					       w.state, w.verified_by);
	}
}

static void handle_lease_result(struct store *s, const PGresult *res)
{
	struct store_lease l;

	s->last_lease_at = evtime_wall_s();
	for (int i = 0; i < PQntuples(res); i++) {
		store_sql_lease_row(res, i, &l);
		s->leased_rows++;
		if (s->hooks.leased)
			s->hooks.leased(s->hooks.arg, &l);
		OPENSSL_cleanse(&l, sizeof(l)); /* token and key */
	}
}

static void handle_result(struct store *s, PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		statement_failed(s, res);
		return;
	}
	switch (s->op) {
	case STORE_OP_LISTEN:
		handle_listen_result(s);
		break;
	case STORE_OP_WRITE:
		s->write_limit = STORE_WRITE_BATCH;
		handle_write_result(s, res);
		free_head(s, s->writing);
		s->writing = 0;
		break;
	case STORE_OP_EXPIRE:
		handle_expire_result(s, res);
		break;
	case STORE_OP_LEASE:
		handle_lease_result(s, res);
		break;
	case STORE_OP_COUNT:
		s->count_due = false;
		s->pending_seen = store_sql_count_value(res);
		break;
	case STORE_OP_NONE:
	default:
		break;
	}
}

/* The statement in flight has returned all its results. */
static void op_finished(struct store *s)
{
	enum store_op op = s->op;
	unsigned n = s->leased_rows;

	s->op = STORE_OP_NONE;
	if (op == STORE_OP_LEASE) {
		s->lease_want = 0;
		if (s->hooks.lease_done)
			s->hooks.lease_done(s->hooks.arg, n);
	}
	store_pump(s);
	if (s->op == STORE_OP_NONE && s->hooks.settled)
		s->hooks.settled(s->hooks.arg);
}

static void consume(struct store *s)
{
	PGnotify *note;
	bool notified = false;

	if (!PQconsumeInput(s->conn)) {
		disconnect(s, conn_error(s));
		return;
	}
	while ((note = PQnotifies(s->conn)) != NULL) {
		notified = true;
		PQfreemem(note);
	}
	while (s->op != STORE_OP_NONE && !PQisBusy(s->conn)) {
		PGresult *res = PQgetResult(s->conn);
		if (res == NULL) {
			op_finished(s);
			if (s->conn == NULL)
				return;
			break;
		}
		handle_result(s, res);
		PQclear(res);
	}
	if (s->conn != NULL && PQstatus(s->conn) == CONNECTION_BAD) {
		disconnect(s, conn_error(s));
		return;
	}
	if (notified && s->hooks.notified)
		s->hooks.notified(s->hooks.arg);
}

static void store_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct store *s = arg;

	(void)fd;
	if (s->connecting) {
		continue_connect(s);
		return;
	}
	if (what & EV_READ) {
		consume(s);
		if (s->conn == NULL)
			return;
	}
	if (s->flushing) {
		int rc = PQflush(s->conn);
		if (rc < 0) {
			disconnect(s, conn_error(s));
			return;
		}
		if (rc == 0) {
			s->flushing = false;
			watch(s, EV_READ);
		}
		/* rc == 1: keep waiting for read or write readiness. */
	}
}

static void store_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct store *s = arg;

	(void)fd;
	(void)what;
	if (s->connecting) {
		disconnect(s, "connection timed out");
		return;
	}
	if (s->conn == NULL)
		start_connect(s);
}

struct store *store_new(struct event_base *base,
			const struct store_params *params,
			const struct store_hooks *hooks)
{
	struct store *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->base = base;
	s->hooks = *hooks;
	s->params = *params;
	s->params.conninfo = strdup(params->conninfo ? params->conninfo : "");
	s->params.prober_name = strdup(params->prober_name);
	if (s->params.conninfo == NULL || s->params.prober_name == NULL) {
		free((char *)s->params.conninfo);
		free((char *)s->params.prober_name);
		free(s);
		errno = ENOMEM;
		return NULL;
	}
	s->fd = -1;
	s->tail = &s->head;
	s->backoff_ms = STORE_BACKOFF_MIN_MS;
	s->pending_seen = -1;
	event_assign(&s->ev_io, base, -1, 0, store_io_cb, s);
	evtimer_assign(&s->ev_timer, base, store_timer_cb, s);
	evtimer_assign(&s->ev_expire, base, store_expire_cb, s);
	evtimer_assign(&s->ev_retry, base, store_retry_cb, s);
	s->write_limit = STORE_WRITE_BATCH;
	start_connect(s);
	return s;
}

void store_free(struct store *s)
{
	if (s == NULL)
		return;
	event_del(&s->ev_io);
	evtimer_del(&s->ev_timer);
	evtimer_del(&s->ev_expire);
	evtimer_del(&s->ev_retry);
	if (s->conn != NULL)
		PQfinish(s->conn);
	s->conn = NULL;
	free_head(s, s->queued);
	free((char *)s->params.conninfo);
	free((char *)s->params.prober_name);
	free(s);
}

void store_want_lease(struct store *s, unsigned n)
{
	if (s->op == STORE_OP_LEASE)
		return; /* one at a time; lease_done asks again */
	s->lease_want = n;
	/*
	 * Expire first, but at most once a second: the LEASE itself skips rows
	 * past expires_at, so no expired row gets a packet in between.
	 */
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	int64_t since_ms = (int64_t)(now.tv_sec - s->last_expire.tv_sec) * 1000 +
			   (now.tv_nsec - s->last_expire.tv_nsec) / 1000000;
	if (since_ms >= 1000 || s->last_expire.tv_sec == 0)
		s->expire_due = true;
	else if (!evtimer_pending(&s->ev_expire, NULL))
		/* Catch up later: a due row past expiry still ends expired. */
		evtime_add_ms(&s->ev_expire, (uint64_t)(1000 - since_ms));
	store_pump(s);
}

void store_push_result(struct store *s, const struct store_result *r)
{
	struct store_result *copy;

	/*
	 * Bounded: while the database is away only the finished attempts of
	 * rows already leased accumulate, but never keep more than the bound.
	 * Verified results are never dropped; the oldest other one goes.
	 */
	if (s->queued >= s->params.max_unwritten) {
		struct store_result **pp = &s->head;
		unsigned skip = s->writing;
		while (*pp != NULL &&
		       (skip > 0 || (*pp)->outcome == OUTCOME_VERIFIED)) {
			if (skip > 0)
				skip--;
			pp = &(*pp)->next;
		}
		if (*pp != NULL) {
			struct store_result *victim = *pp;
			*pp = victim->next;
			if (s->tail == &victim->next)
				s->tail = pp;
			free(victim);
			s->queued--;
			s->dropped++;
		}
	}
	copy = malloc(sizeof(*copy));
	if (copy == NULL) {
		log_err("database: out of memory, result for row %" PRId64
			" lost",
			r->id);
		s->dropped++;
		return;
	}
	*copy = *r;
	copy->next = NULL;
	*s->tail = copy;
	s->tail = &copy->next;
	s->queued++;
	store_pump(s);
}

void store_request_count(struct store *s)
{
	s->count_due = true;
	store_pump(s);
}

bool store_idle(const struct store *s)
{
	/* A LEASE in flight may still hand us rows to give back. */
	return s->head == NULL && s->op == STORE_OP_NONE;
}

void store_set_params(struct store *s, uint64_t lease_time_ms,
		      uint64_t reconnect_max_ms, unsigned max_unwritten,
		      uint64_t expiry_ms)
{
	s->params.expiry_ms = expiry_ms;
	s->params.lease_time_ms = lease_time_ms;
	s->params.reconnect_max_ms = reconnect_max_ms;
	s->params.max_unwritten = max_unwritten;
}

void store_stats(const struct store *s, struct store_stats *out)
{
	out->errors = s->n_errors;
	out->reconnects = s->n_reconnects;
	out->connects = s->n_connects;
	out->dropped = s->dropped;
	out->queued = s->queued;
	out->last_lease_at = s->last_lease_at;
	out->pending_seen = s->pending_seen;
}
