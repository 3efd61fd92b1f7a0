/*
 * store_due.h - when rows of our perspective become due again, so that the
 * daemon is woken then (as a NOTIFY would) rather than at its next poll:
 * a second confirmation comes confirmation_gap after the first, usually
 * long before queue.poll_interval.
 *
 * A small bounded set of due times: when it is full, the latest is
 * forgotten (the poll still finds that row). Private to prober/store/.
 */
#ifndef NTPVERIFY_STORE_DUE_H
#define NTPVERIFY_STORE_DUE_H

#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdint.h>

#define STORE_DUE_MAX 32

struct store_due {
	uint64_t at_ms[STORE_DUE_MAX]; /* monotonic due times, unordered, distinct */
	unsigned n;                    /* entries used */
	uint64_t sent_ms;              /* monotonic; the last WRITE went out then; 0 none yet */
	struct event ev;               /* armed for the earliest */
	void (*wake)(void *arg);       /* called when one is reached */
	void *arg;                     /* for wake */
};

/* Set up on base; nothing is armed. */
void store_due_init(struct store_due *d, struct event_base *base,
		    void (*wake)(void *arg), void *arg);
/* A WRITE was just sent: the delays store_due_add() gets next are its. */
void store_due_sent(struct store_due *d);
/*
 * Remember that a row becomes due in_s seconds (>= 0) after the start of
 * the WRITE last sent, whose result has just arrived.
 */
void store_due_add(struct store_due *d, double in_s);
/* Forget everything and disarm. */
void store_due_clear(struct store_due *d);

/*
 * The wake-ups store_due_add() keeps, for a WRITE sent at sent_ms whose
 * result arrived at now_ms (monotonic ms; sent_ms 0: unknown): out[0] is
 * never before the row is due; out[1], earlier, when it most likely is
 * due already. Returns how many it wrote (1 or 2). Pure, for the tests.
 */
unsigned store_due_times(uint64_t sent_ms, uint64_t now_ms, double in_s,
			 uint64_t out[2]);

#endif
