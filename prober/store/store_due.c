/*
 * store_due.c - the due times of our perspective's rows (store_due.h).
 */
#include "core/evtime.h"
#include "store/store_due.h"

/*
 * A little after the row's time, because the database's clock decides.
 * No fixed margin is needed for the clocks' offset: in_s is counted from
 * the database's now() in the WRITE (its transaction's start), and our
 * count starts later, when the result arrives, so the row is due by then
 * in real time. Only the clocks' rates may differ: 1 ms plus 1 ms per
 * second covers 1,000 ppm, twice the most an NTP-disciplined clock slews.
 * (A fixed 20 ms here put every second confirmation 20 ms behind
 * confirmation_gap.)
 */
#define STORE_DUE_SLACK_MS 1
#define STORE_DUE_SLACK_PER_S 1.0 /* ms per second of in_s */

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
	d->wake = wake;
	d->arg = arg;
	evtimer_assign(&d->ev, base, store_due_cb, d);
}

void store_due_add(struct store_due *d, double in_s)
{
	uint64_t at = evtime_mono_ms() +
		      (uint64_t)(in_s * (1000.0 + STORE_DUE_SLACK_PER_S)) +
		      STORE_DUE_SLACK_MS;
	unsigned latest = 0;

	if (d->n < STORE_DUE_MAX) {
		d->at_ms[d->n++] = at;
	} else {
		for (unsigned i = 1; i < d->n; i++)
			if (d->at_ms[i] > d->at_ms[latest])
				latest = i;
		if (d->at_ms[latest] <= at)
			return; /* later than all we keep: the poll finds it */
		d->at_ms[latest] = at;
	}
	store_due_arm(d);
}

void store_due_clear(struct store_due *d)
{
	d->n = 0;
	evtimer_del(&d->ev);
}
