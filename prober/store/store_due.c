/*
 * store_due.c - the due times of our perspective's rows (store_due.h).
 */
#include <stdbool.h>

#include "core/evtime.h"
#include "store/store_due.h"

/*
 * A little after the row's time, because the database's clock decides.
 * No fixed margin is needed for the clocks' offset: in_s is counted from
 * the database's now() in the WRITE (its transaction's start), and our
 * count starts later, so the row is due by then in real time. Only the
 * clocks' rates may differ: 1 ms plus 1 ms per second covers 1,000 ppm,
 * twice the most an NTP-disciplined clock slews. (A fixed 20 ms here put
 * every second confirmation 20 ms behind confirmation_gap.)
 */
#define STORE_DUE_SLACK_MS 1
#define STORE_DUE_SLACK_PER_S 1.0 /* ms per second of in_s */
/* A WRITE back sooner than this after its send: one wake-up is enough. */
#define STORE_DUE_EARLY_MIN_MS 2

/*
 * Where the count starts. The WRITE's transaction started between our
 * send and the result's arrival. From the arrival the wake-up is never
 * early, but late by the whole WRITE, and a WRITE of one row takes 5-25 ms
 * on an idle bench when two perspectives write the same verification at
 * once (one waits for the other's row locks): every millisecond of it
 * lands on a second confirmation. From the send it is on time whenever
 * the transaction started soon after the send (an idle server: ~0.1 ms),
 * and early on a busy one, where the LEASE finds nothing (bench/results.md,
 * run F: the poll then took the row, 100 ms late). So both: the send's
 * wake-up takes the row when it can, without the fixed millisecond (the
 * LEASE's own transaction starts a round trip after it), and the
 * arrival's makes sure.
 */
unsigned store_due_times(uint64_t sent_ms, uint64_t now_ms, double in_s,
			 uint64_t out[2])
{
	uint64_t delay = (uint64_t)(in_s * (1000.0 + STORE_DUE_SLACK_PER_S));

	out[0] = now_ms + delay + STORE_DUE_SLACK_MS;
	if (sent_ms == 0 || sent_ms > now_ms ||
	    now_ms - sent_ms < STORE_DUE_EARLY_MIN_MS)
		return 1;
	out[1] = sent_ms + delay;
	return 2;
}

static void store_due_arm(struct store_due *d)
{
	uint64_t first = UINT64_MAX, now = evtime_mono_ms();

	evtimer_del(&d->ev);
	for (unsigned i = 0; i < d->n; i++)
		if (d->at_ms[i] < first)
			first = d->at_ms[i];
	if (d->n > 0)
		evtime_add_ms(&d->ev, first > now ? first - now : 0);
}

static void store_due_cb(evutil_socket_t fd, short what, void *arg)
{
	struct store_due *d = arg;
	uint64_t now = evtime_mono_ms();

	(void)fd;
	(void)what;
	for (unsigned i = 0; i < d->n;) {
		if (d->at_ms[i] <= now)
			d->at_ms[i] = d->at_ms[--d->n];
		else
			i++;
	}
	store_due_arm(d);
	d->wake(d->arg);
}

void store_due_init(struct store_due *d, struct event_base *base,
		    void (*wake)(void *arg), void *arg)
{
	d->n = 0;
	d->sent_ms = 0;
	d->wake = wake;
	d->arg = arg;
	evtimer_assign(&d->ev, base, store_due_cb, d);
}

void store_due_sent(struct store_due *d)
{
	d->sent_ms = evtime_mono_ms();
}

/* Keep at; false if it is later than everything kept in a full set. */
static bool store_due_keep(struct store_due *d, uint64_t at)
{
	unsigned latest = 0;

	/* The rows of one WRITE mostly share their times: keep one each. */
	for (unsigned i = 0; i < d->n; i++)
		if (d->at_ms[i] == at)
			return false;
	if (d->n < STORE_DUE_MAX) {
		d->at_ms[d->n++] = at;
		return true;
	}
	for (unsigned i = 1; i < d->n; i++)
		if (d->at_ms[i] > d->at_ms[latest])
			latest = i;
	if (d->at_ms[latest] <= at)
		return false; /* later than all we keep: the poll finds it */
	d->at_ms[latest] = at;
	return true;
}

void store_due_add(struct store_due *d, double in_s)
{
	uint64_t at[2];
	unsigned n = store_due_times(d->sent_ms, evtime_mono_ms(), in_s, at);
	bool changed = false;

	for (unsigned i = 0; i < n; i++)
		changed |= store_due_keep(d, at[i]);
	if (changed)
		store_due_arm(d);
}

void store_due_clear(struct store_due *d)
{
	d->n = 0;
	evtimer_del(&d->ev);
}
