#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "core/evtime.h"
#include "core/log.h"
#include "store/store.h"

#define STORE_CONNECT_TIMEOUT_MS 10000
#define STORE_BACKOFF_MIN_MS 500
#define STORE_WRITE_BATCH 1000
#define STORE_RETRY_PAUSE_MS 1000

/*
 * Claim due rows. The CTE locks at most $1 rows and skips rows another
 * prober holds, so several probers share one database safely; the lease
 * token proves ownership when the result is written.
 */
static const char sql_lease[] =
	"WITH due AS ("
	" SELECT id FROM verification"
	" WHERE state = 'pending' AND next_probe_at <= now()"
	"   AND expires_at > now()"
	"   AND created_at > now() - $4::double precision * interval '1 millisecond'"
	"   AND (lease_until IS NULL OR lease_until < now())"
	" ORDER BY next_probe_at"
	" LIMIT $1"
	" FOR UPDATE SKIP LOCKED)"
	" UPDATE verification v"
	" SET lease_owner = $2, lease_token = gen_random_uuid(),"
	"     lease_until = now() + $3::double precision * interval '1 millisecond'"
	" FROM due WHERE v.id = due.id"
	" RETURNING v.id, host(v.server_ip), v.token, v.attempts,"
	"           v.lease_token::text, v.method, v.key_id, v.key_type,"
	"           v.key_secret";

/*
 * Pending rows past their expiry end without another packet: past the web
 * site's expires_at, or older than the prober's own retry.expiry ($1 ms).
 */
static const char sql_expire[] =
	"UPDATE verification"
	" SET state = 'expired', lease_owner = NULL, lease_token = NULL,"
	"     lease_until = NULL"
	" WHERE state = 'pending'"
	"   AND (expires_at <= now()"
	"        OR created_at <= now() - $1::double precision * interval '1 millisecond')"
	"   AND (lease_until IS NULL OR lease_until < now())"
	" RETURNING id, host(server_ip)";

/*
 * Record a batch of attempts in one statement. A row is updated only while
 * it is pending and we still hold its lease; a verified result is applied
 * even after the lease was lost (it is a fact, and writing it twice is a
 * no-op because the row is then no longer pending). Rows with a NULL
 * outcome are leases given back unprobed. The audit row is inserted only
 * for attempts that were applied, so a retried write never duplicates it.
 */
static const char sql_write[] =
	"WITH r AS ("
	" SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::text[],"
	"                      $5::inet[], $6::float8[], $7::float8[], $8::float8[])"
	"   AS r(id, lease_token, outcome, detail, source, rtt_ms, attempted_at,"
	"        retry_after)),"
	" upd AS ("
	" UPDATE verification v SET"
	"  state = CASE WHEN r.outcome = 'verified' THEN 'verified' ELSE v.state END,"
	"  attempts = v.attempts + CASE WHEN r.outcome IS NULL THEN 0 ELSE 1 END,"
	"  last_probe_at = COALESCE(to_timestamp(r.attempted_at), v.last_probe_at),"
	"  last_outcome = COALESCE(r.outcome, v.last_outcome),"
	"  last_detail = CASE WHEN r.outcome IS NULL THEN v.last_detail ELSE r.detail END,"
	"  verified_at = CASE WHEN r.outcome = 'verified' THEN to_timestamp(r.attempted_at)"
	"                ELSE v.verified_at END,"
	"  verified_by = CASE WHEN r.outcome = 'verified'"
	"                THEN $9 || ' ' || host(r.source) ELSE v.verified_by END,"
	"  next_probe_at = now() + r.retry_after * interval '1 second',"
	"  lease_owner = NULL, lease_token = NULL, lease_until = NULL"
	" FROM r"
	" WHERE v.id = r.id AND v.state = 'pending'"
	"   AND (v.lease_token = r.lease_token OR r.outcome = 'verified')"
	" RETURNING v.id, host(v.server_ip) AS server, v.state, v.verified_by,"
	"           r.outcome, r.detail, r.source, r.rtt_ms, r.attempted_at),"
	" ins AS ("
	" INSERT INTO probe_attempt (verification_id, attempted_at, prober,"
	"                            source_address, outcome, detail, rtt_ms)"
	" SELECT id, to_timestamp(attempted_at), $9, source, outcome, detail, rtt_ms"
	" FROM upd WHERE outcome IS NOT NULL)"
	" SELECT id, server, state, verified_by FROM upd";

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
	if (!PQsendQuery(s->conn, "LISTEN ntpverify_due")) {
		disconnect(s, conn_error(s));
		return;
	}
	s->flushing = true;
	watch(s, EV_READ | EV_WRITE);
}

/* A PostgreSQL array literal being built: {a,"b",NULL}. */
struct arr {
	char *buf;  /* NUL-terminated, heap */
	size_t len; /* used, without the NUL */
	size_t cap; /* allocated */
};

static void arr_reserve(struct arr *a, size_t more)
{
	if (a->len + more + 1 <= a->cap)
		return;
	size_t ncap = (a->len + more + 1) * 2;
	char *n = realloc(a->buf, ncap);
	if (n == NULL)
		abort(); /* a few kilobytes; nothing sensible left to do */
	a->buf = n;
	a->cap = ncap;
}

static void arr_open(struct arr *a)
{
	a->buf = NULL;
	a->len = a->cap = 0;
	arr_reserve(a, 256);
	a->buf[a->len++] = '{';
	a->buf[a->len] = '\0';
}

/* Append one element; quoted elements get '"' and '\\' escaped. */
static void arr_push(struct arr *a, const char *val, bool quote)
{
	arr_reserve(a, (val ? strlen(val) * 2 : 4) + 4);
	char *p = a->buf + a->len;
	if (a->len > 1)
		*p++ = ',';
	if (val == NULL) {
		memcpy(p, "NULL", 4);
		p += 4;
	} else {
		if (quote)
			*p++ = '"';
		for (const char *c = val; *c; c++) {
			if (quote && (*c == '"' || *c == '\\'))
				*p++ = '\\';
			*p++ = *c;
		}
		if (quote)
			*p++ = '"';
	}
	*p = '\0';
	a->len = (size_t)(p - a->buf);
}

static void arr_close(struct arr *a)
{
	arr_reserve(a, 1);
	a->buf[a->len++] = '}';
	a->buf[a->len] = '\0';
}

static bool send_write(struct store *s)
{
	struct arr a[8];
	char num[64];
	unsigned n = 0;

	for (int i = 0; i < 8; i++)
		arr_open(&a[i]);
	for (struct store_result *r = s->head; r && n < s->write_limit;
	     r = r->next, n++) {
		snprintf(num, sizeof(num), "%" PRId64, r->id);
		arr_push(&a[0], num, false);
		arr_push(&a[1], r->lease_token[0] ? r->lease_token : NULL, true);
		arr_push(&a[2], r->outcome >= 0 ? outcome_name(r->outcome) : NULL,
			 true);
		arr_push(&a[3], r->outcome >= 0 ? r->detail : NULL, true);
		arr_push(&a[4], r->source[0] ? r->source : NULL, true);
		if (r->rtt_ms >= 0) {
			snprintf(num, sizeof(num), "%.3f", r->rtt_ms);
			arr_push(&a[5], num, false);
		} else {
			arr_push(&a[5], NULL, false);
		}
		if (r->outcome >= 0) {
			snprintf(num, sizeof(num), "%.6f", r->attempted_at);
			arr_push(&a[6], num, false);
		} else {
			arr_push(&a[6], NULL, false);
		}
		snprintf(num, sizeof(num), "%.3f", r->retry_after_s);
		arr_push(&a[7], num, false);
	}
	const char *values[9];
	for (int i = 0; i < 8; i++) {
		arr_close(&a[i]);
		values[i] = a[i].buf;
	}
	values[8] = s->params.prober_name;

	int ok = PQsendQueryParams(s->conn, sql_write, 9, NULL, values, NULL,
				   NULL, 0);
	for (int i = 0; i < 8; i++)
		free(a[i].buf);
	if (ok)
		s->writing = n;
	return ok;
}

static bool send_expire(struct store *s)
{
	char ms[32];
	const char *values[1] = { ms };

	snprintf(ms, sizeof(ms), "%" PRIu64, s->params.expiry_ms);
	return PQsendQueryParams(s->conn, sql_expire, 1, NULL, values, NULL,
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
	return PQsendQueryParams(s->conn, sql_lease, 4, NULL, values, NULL,
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
		ok = PQsendQuery(s->conn, "SELECT count(*) FROM verification"
					  " WHERE state = 'pending'");
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

	for (int i = 0; i < rows; i++) {
		int64_t id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		const char *state = PQgetvalue(res, i, 2);
		applied++;
		if (strcmp(state, "pending") != 0 && s->hooks.state_changed)
			s->hooks.state_changed(s->hooks.arg, id,
					       PQgetvalue(res, i, 1), state,
					       PQgetvalue(res, i, 3));
	}
	/* Results that were not applied: their lease was lost. */
	if (s->hooks.discarded != NULL && applied < s->writing) {
		struct store_result *r = s->head;
		for (unsigned k = 0; k < s->writing && r; k++, r = r->next) {
			bool found = false;
			for (int i = 0; i < rows && !found; i++)
				found = strtoll(PQgetvalue(res, i, 0), NULL,
						10) == r->id;
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

static void handle_result(struct store *s, PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		const char *msg = PQresultErrorMessage(res);
		s->n_errors++;
		log_err("database: %s statement failed: %.*s",
			s->op == STORE_OP_WRITE	   ? "write"
			: s->op == STORE_OP_LEASE  ? "lease"
			: s->op == STORE_OP_EXPIRE ? "expire"
			: s->op == STORE_OP_COUNT  ? "count"
						   : "listen",
			(int)strcspn(msg, "\n"), msg);
		if (s->op == STORE_OP_WRITE)
			write_failed(s, res);
		else if (s->op == STORE_OP_EXPIRE) {
			/* Not again before a second has passed. */
			s->expire_due = false;
			clock_gettime(CLOCK_MONOTONIC, &s->last_expire);
		}
		else if (s->op == STORE_OP_COUNT)
			s->count_due = false;
		return;
	}
	if (s->op == STORE_OP_WRITE)
		s->write_limit = STORE_WRITE_BATCH;
	switch (s->op) {
	case STORE_OP_LISTEN:
		s->connected = true;
		s->n_connects++;
		if (s->n_connects > 1)
			s->n_reconnects++;
		s->expire_due = true;
		log_info("database: connected");
		if (s->hooks.connection != NULL)
			s->hooks.connection(s->hooks.arg, true);
		break;
	case STORE_OP_WRITE:
		handle_write_result(s, res);
		free_head(s, s->writing);
		s->writing = 0;
		break;
	case STORE_OP_EXPIRE:
		s->expire_due = false;
		clock_gettime(CLOCK_MONOTONIC, &s->last_expire);
		for (int i = 0; i < PQntuples(res); i++)
			if (s->hooks.state_changed)
				s->hooks.state_changed(
					s->hooks.arg,
					strtoll(PQgetvalue(res, i, 0), NULL, 10),
					PQgetvalue(res, i, 1), "expired", "");
		break;
	case STORE_OP_LEASE:
		s->last_lease_at = evtime_wall_s();
		for (int i = 0; i < PQntuples(res); i++) {
			struct store_lease l;
			memset(&l, 0, sizeof(l));
			l.id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
			snprintf(l.server, sizeof(l.server), "%s",
				 PQgetvalue(res, i, 1));
			snprintf(l.token, sizeof(l.token), "%s",
				 PQgetvalue(res, i, 2));
			l.attempts = atoi(PQgetvalue(res, i, 3));
			snprintf(l.lease_token, sizeof(l.lease_token), "%s",
				 PQgetvalue(res, i, 4));
			l.key_method = strcmp(PQgetvalue(res, i, 5), "key") == 0;
			if (l.key_method) {
				l.key_id = (unsigned)atoi(PQgetvalue(res, i, 6));
				snprintf(l.key_type, sizeof(l.key_type), "%s",
					 PQgetvalue(res, i, 7));
				snprintf(l.key_secret, sizeof(l.key_secret),
					 "%s", PQgetvalue(res, i, 8));
			}
			s->leased_rows++;
			if (s->hooks.leased)
				s->hooks.leased(s->hooks.arg, &l);
			OPENSSL_cleanse(&l, sizeof(l)); /* token and key */
		}
		break;
	case STORE_OP_COUNT:
		s->count_due = false;
		s->pending_seen = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
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

int store_init(struct store *s, struct event_base *base,
	       const struct store_params *params,
	       const struct store_hooks *hooks)
{
	memset(s, 0, sizeof(*s));
	s->base = base;
	s->hooks = *hooks;
	s->params = *params;
	s->params.conninfo = strdup(params->conninfo ? params->conninfo : "");
	s->params.prober_name = strdup(params->prober_name);
	if (s->params.conninfo == NULL || s->params.prober_name == NULL) {
		free((char *)s->params.conninfo);
		free((char *)s->params.prober_name);
		errno = ENOMEM;
		return -1;
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
	return 0;
}

void store_reset(struct store *s)
{
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
	s->params.conninfo = NULL;
	s->params.prober_name = NULL;
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
