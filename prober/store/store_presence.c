/*
 * store_presence.c - our perspective's and process's sign of life in the
 * database (store_int.h): the registration after each connect and a
 * heartbeat while we run, so that perspective.last_seen and
 * perspective_prober tell a perspective that is down (sql/schema.sql).
 */
#include <event2/event.h>
#include <libpq-fe.h>

#include "core/evtime.h"
#include "store/store_int.h"
#include "store/store_sql.h"

/*
 * The period is queue.poll_interval within these bounds: often enough
 * that a last_seen two minutes old means "down", rarely enough to cost
 * nothing (one one-row statement per process every 10 to 60 s, however
 * busy the prober is).
 */
#define STORE_HEARTBEAT_MIN_MS 10000
#define STORE_HEARTBEAT_MAX_MS 60000

/* Time to say we are alive again; it waits for a free turn. */
static void store_heartbeat_cb(evutil_socket_t fd, short what, void *arg)
{
	struct store *s = arg;

	(void)fd;
	(void)what;
	s->heartbeat_due = true;
	store_pump(s);
}

void store_presence_init(struct store *s)
{
	event_assign(&s->ev_heartbeat, s->base, -1, EV_PERSIST,
		     store_heartbeat_cb, s);
	store_presence_arm(s);
}

void store_presence_arm(struct store *s)
{
	uint64_t ms = s->params.poll_interval_ms;

	if (ms < STORE_HEARTBEAT_MIN_MS)
		ms = STORE_HEARTBEAT_MIN_MS;
	if (ms > STORE_HEARTBEAT_MAX_MS)
		ms = STORE_HEARTBEAT_MAX_MS;
	evtimer_del(&s->ev_heartbeat);
	evtime_add_ms(&s->ev_heartbeat, ms);
}

bool store_presence_send(struct store *s, const char *sql)
{
	const char *values[4] = { s->params.perspective, s->params.region,
				  s->sources_literal, s->params.prober_name };

	return PQsendQueryParams(s->pg.conn, sql, 4, NULL, values, NULL, NULL,
				 0) != 0;
}
