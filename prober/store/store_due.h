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
	uint64_t at_ms[STORE_DUE_MAX]; /* monotonic due times, unordered */
	unsigned n;                    /* entries used */
	struct event ev;               /* armed for the earliest */
	void (*wake)(void *arg);       /* called when one is reached */
	void *arg;                     /* for wake */
};

/* Set up on base; nothing is armed. */
void store_due_init(struct store_due *d, struct event_base *base,
		    void (*wake)(void *arg), void *arg);
/* Remember that a row becomes due in in_s seconds (>= 0). */
void store_due_add(struct store_due *d, double in_s);
/* Forget everything and disarm. */
void store_due_clear(struct store_due *d);

#endif
