/*
 * store_queue.h - the results waiting for the database, oldest first.
 *
 * Bounded: while the database is away, finished attempts accumulate, but
 * never more than the bound; when full, the oldest result that is neither
 * verified nor part of the WRITE in flight is dropped to make room.
 * Verified results are never dropped. Pure (no connection, no loop).
 *
 * Private to prober/store/. Ownership: the queue owns its copies;
 * store_queue_pop() and store_queue_clear() free them.
 */
#ifndef NTPVERIFY_STORE_QUEUE_H
#define NTPVERIFY_STORE_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

struct store_queue {
	struct store_result *head;  /* oldest first; linked by ->next */
	struct store_result **tail; /* where the next result is linked */
	unsigned queued;            /* length of the list */
	uint64_t dropped;           /* results dropped: full, no memory */
};

void store_queue_init(struct store_queue *q);

/*
 * Append a copy of r. With `max` or more queued, first drop the oldest
 * result that is not verified and not among the first `in_flight` (being
 * written). Out of memory drops r itself (logged) and returns false.
 * Counts drops.
 */
bool store_queue_push(struct store_queue *q, const struct store_result *r,
		      unsigned max, unsigned in_flight);

/* Free the n oldest (fewer if the queue is shorter). */
void store_queue_pop(struct store_queue *q, unsigned n);

/* Move from's oldest result to the end of to; nothing if from is empty. */
void store_queue_move_head(struct store_queue *from, struct store_queue *to);

/* Put every result of from, in its order, before q's; from is left empty. */
void store_queue_splice_front(struct store_queue *q, struct store_queue *from);

/* Free everything. */
void store_queue_clear(struct store_queue *q);

/*
 * Call fn(arg, r) for every queued result, oldest first (fn must not
 * change the queue); returns how many there were.
 */
unsigned store_queue_foreach(const struct store_queue *q,
			     void (*fn)(void *arg, const struct store_result *r),
			     void *arg);

#endif
